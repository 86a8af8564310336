/*
 * A kernel's read of a named secret, through the egress broker's proxy
 * (egress_conn.h): GET http://SBX_SECRETS_HOST/NAME.
 *
 * First the capability that started the kernel must allow secret:NAME, so
 * a kernel that may not read a name does not learn whether it exists;
 * then an unknown name is 404 without troubling anyone; then a prompt,
 * every time, unless this kernel session already has an allow for the
 * name. Nothing is resolved or connected; the value goes out in the
 * answer only, and its buffers are wiped once written. Decisions and
 * audit entries name the secret, never its value.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sandbox/sandbox.h"
#include "egress_conn.h"

static void on_secret_written(uv_write_t *w, int status)
{
	wreq_t *r = (wreq_t *)w;

	OPENSSL_cleanse(r->buf.base, r->buf.len);
	econn_on_written(w, status);
}

/* Why a secret cannot be read, as the kernel is told (404, 403, 503). */
static void refuse_secret(econn_t *c, int status, const char *title, const char *why)
{
	char body[1400], detail[1000];

	snprintf(detail, sizeof detail, "%s %.300s: %s", c->method, c->target, why);
	econn_audit(c, "deny", detail);
	econn_record(c, "deny", NULL, why);
	snprintf(body, sizeof body, "cellgate secrets: secret %s is denied: %s\n", c->secret, why);
	if (status == 404)
		snprintf(body, sizeof body, "cellgate secrets: %s\n", why);
	econn_answer(c, status, title, body);
}

/* The value, or its absence: 0, CG_ENOTFOUND, or another error. */
static int secret_value(econn_t *c, char **value, size_t *len)
{
	const egress_prompter_t *pr = &c->ek->b->prompter;

	*value = NULL;
	*len = 0;
	return pr->secret ? pr->secret(pr->arg, c->secret, value, len) : CG_ESTATE;
}

/* 200 text/plain with the value, then the end of the connection. */
static void deliver(econn_t *c, const char *why)
{
	char head[400], detail[1000], why404[200], *value, *copy;
	size_t len;
	int n, rc = secret_value(c, &value, &len);

	if (rc) {
		/* deleted while its prompt waited */
		snprintf(why404, sizeof why404, "there is no secret %s", c->secret);
		refuse_secret(c, rc == CG_ENOTFOUND ? 404 : 503, rc == CG_ENOTFOUND ?
			      "Not Found" : "Service Unavailable", rc == CG_ENOTFOUND ? why404 :
			      "the secrets cannot be read now");
		return;
	}
	econn_record(c, "allow", NULL, why);
	snprintf(detail, sizeof detail, "%s %.300s: given to the kernel, %s", c->method, c->target,
		 why);
	econn_audit(c, "allow", detail);
	n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; "
		     "charset=utf-8\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
		     "X-Cellgate-Secret: %s\r\nConnection: close\r\n\r\n", len, c->secret);
	copy = malloc(len);
	uv_read_stop((uv_stream_t *)&c->client);
	if (copy)
		memcpy(copy, value, len);
	policy_secret_free(value, len);
	if (!copy || econn_send_copy(c, (uv_stream_t *)&c->client, head, (size_t)n) ||
	    econn_send_owned(c, (uv_stream_t *)&c->client, copy, len, on_secret_written)) {
		econn_close(c);
		return;
	}
	econn_end_after_writes(c);
}

void egress_secret_settle(econn_t *c, policy_prompt_t *p, const char *who)
{
	char why[600], key[300];

	if (p && (p->state == PROMPT_ALLOWED_ONCE || p->state == PROMPT_ALLOWED_SESSION)) {
		if (p->state == PROMPT_ALLOWED_SESSION) {
			snprintf(key, sizeof key, "secret:%s", c->secret);
			json_object_set_new(c->ek->session_allows, key, json_string(p->id));
			snprintf(why, sizeof why, "allowed for this kernel session by %s (prompt %s)",
				 who, p->id);
		} else {
			p->state = PROMPT_USED;
			snprintf(why, sizeof why, "allowed once by %s (prompt %s)", who, p->id);
		}
		deliver(c, why);
		return;
	}
	econn_refusal(c, p, who, why, sizeof why);
	refuse_secret(c, 403, "Forbidden", why);
}

/* The name from "http://host/NAME", or NULL after answering 400/405. */
static const char *secret_name(econn_t *c)
{
	const char *path = c->is_connect ? NULL : strchr(c->target + 7, '/');
	char why[200], body[600];

	if (!path) {
		econn_record(c, "deny", NULL, "not a secret's URL");
		econn_answer(c, 400, "Bad Request", "cellgate secrets: read a secret with GET "
		       SBX_SECRETS_URL "NAME (plain http through the proxy), not through CONNECT\n");
		return NULL;
	}
	if (!policy_secret_name_ok(path + 1, why, sizeof why)) {
		econn_record(c, "deny", NULL, why);
		snprintf(body, sizeof body, "cellgate secrets: %s: GET " SBX_SECRETS_URL "NAME\n",
			 why);
		econn_answer(c, 400, "Bad Request", body);
		return NULL;
	}
	if (strcmp(c->method, "GET") != 0) {
		econn_record(c, "deny", NULL, "a secret is read with GET");
		econn_answer(c, 405, "Method Not Allowed", "cellgate secrets: a secret is read with GET\n");
		return NULL;
	}
	return path + 1;
}

void egress_secret_request(econn_t *c)
{
	const egress_prompter_t *pr = &c->ek->b->prompter;
	const char *name = secret_name(c), *by;
	char why[600], key[300], effect[320], request[400], *value;
	size_t len;
	int rc;

	if (!name)
		return;
	snprintf(c->secret, sizeof c->secret, "%s", name);
	/* a replay runs on what its replay granted: no secret is among that */
	if (strcmp(c->ek->trust, "replay") == 0) {
		refuse_secret(c, 403, "Forbidden", "a replay's kernel reads no secrets");
		return;
	}
	if (!econn_token_allows(c))
		return;
	rc = secret_value(c, &value, &len);
	policy_secret_free(value, len);
	if (rc) {
		snprintf(why, sizeof why, "there is no secret %s", c->secret);
		refuse_secret(c, rc == CG_ENOTFOUND ? 404 : 503, rc == CG_ENOTFOUND ? "Not Found"
			      : "Service Unavailable", rc == CG_ENOTFOUND ? why
			      : "the secrets cannot be read now");
		return;
	}
	snprintf(key, sizeof key, "secret:%s", c->secret);
	by = json_string_value(json_object_get(c->ek->session_allows, key));
	if (by) {
		snprintf(why, sizeof why, "allowed for this kernel session by prompt %s", by);
		deliver(c, why);
		return;
	}
	econn_effect_of(c, effect, sizeof effect);
	snprintf(request, sizeof request, "%s %.300s", c->method, c->target);
	snprintf(why, sizeof why, "no prompts can be made here");
	if (!pr->ask || pr->ask(pr->arg, c->ek->id, effect, request, c->prompt, sizeof c->prompt,
				why, sizeof why) != 0) {
		char none[700], body[900];

		snprintf(none, sizeof none, "it needs a person's approval, and none can be asked: %s",
			 why);
		econn_record(c, "deny", NULL, none);
		snprintf(body, sizeof body, "cellgate secrets: secret %s is denied: %s\n", c->secret,
			 none);
		econn_answer(c, 403, "Forbidden", body);
		return;
	}
	c->is_held = true;
	c->rule = NULL;
	snprintf(why, sizeof why, "waiting for an answer to prompt %s", c->prompt);
	econn_record(c, "prompt", NULL, why);
	uv_read_start((uv_stream_t *)&c->client, econn_on_alloc, econn_on_client_read);
}
