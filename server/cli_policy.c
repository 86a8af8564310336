/*
 * Tokens and the audit log from the command line.
 *
 *   cellgate token mint --principal NAME [--caveat C]... [--expires DUR]
 *                       [--policy FILE] [--state DIR]
 *   cellgate token attenuate TOKEN --caveat C... [--expires DUR]
 *   cellgate token inspect TOKEN [--verify] [--policy FILE] [--state DIR]
 *   cellgate audit verify [--state DIR]
 *   cellgate audit log [--since SEQ] [--limit N] [--json] [--state DIR]
 *
 * TOKEN "-" reads the token from stdin, so it need not appear in a process
 * listing. Minting needs the root key (the state directory); attenuating
 * needs nothing but the token: that is the point of the chain. DUR is a
 * number of seconds with an optional s, m, h or d; it becomes an absolute
 * expires= caveat. The state directory and policy file default as for
 * `cellgate serve` ($CELLGATE_STATE, $CELLGATE_POLICY).
 */
#include "cli_policy.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/util.h"
#include "../policy/audit.h"
#include "../policy/caveat.h"
#include "../policy/policy.h"
#include "../policy/token.h"
#include "config.h"

#define MAX_CAVEATS TOKEN_MAX_CAVEATS

typedef struct cli {
	const char *state, *policy, *principal, *expires, *since, *limit;
	const char *caveats[MAX_CAVEATS];
	size_t n_caveats;
	bool verify, json;
	const char *args[2];
	int n_args;
	char state_buf[4096];
	char expires_caveat[64];
} cli_t;

bool cli_policy_is_command(const char *name)
{
	return strcmp(name, "token") == 0 || strcmp(name, "audit") == 0;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: cellgate token mint --principal NAME [--caveat C]... [--expires DUR]\n"
		"                           [--policy FILE] [--state DIR]\n"
		"       cellgate token attenuate TOKEN --caveat C... [--expires DUR]\n"
		"       cellgate token inspect TOKEN [--verify] [--policy FILE] [--state DIR]\n"
		"       cellgate audit verify [--state DIR]\n"
		"       cellgate audit log [--since SEQ] [--limit N] [--json] [--state DIR]\n"
		"caveats: action=read,write,execute,replay,approve,publish,admin  path=P[,P]\n"
		"         branch=B  kernelspec=K  trust=trusted|untrusted|replay  effect=E\n"
		"         expires=UNIX_SECONDS  max-executions=N\n"
		"TOKEN '-' reads it from stdin.\n");
	return 2;
}

static int parse(cli_t *c, int argc, char **argv)
{
	for (int i = 2; i < argc; i++) {
		const char **opt = NULL;

		if (strcmp(argv[i], "--state") == 0)
			opt = &c->state;
		else if (strcmp(argv[i], "--policy") == 0)
			opt = &c->policy;
		else if (strcmp(argv[i], "--principal") == 0)
			opt = &c->principal;
		else if (strcmp(argv[i], "--expires") == 0)
			opt = &c->expires;
		else if (strcmp(argv[i], "--since") == 0)
			opt = &c->since;
		else if (strcmp(argv[i], "--limit") == 0)
			opt = &c->limit;
		else if (strcmp(argv[i], "--caveat") == 0) {
			if (c->n_caveats == MAX_CAVEATS || i + 1 >= argc)
				return -1;
			c->caveats[c->n_caveats++] = argv[++i];
			continue;
		} else if (strcmp(argv[i], "--verify") == 0) {
			c->verify = true;
			continue;
		} else if (strcmp(argv[i], "--json") == 0) {
			c->json = true;
			continue;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "cellgate %s: unknown option %s\n", argv[0], argv[i]);
			return -1;
		} else {
			if (c->n_args == 2)
				return -1;
			c->args[c->n_args++] = argv[i];
			continue;
		}
		if (i + 1 >= argc)
			return -1;
		*opt = argv[++i];
	}
	if (!c->policy)
		c->policy = getenv("CELLGATE_POLICY");
	/* as `cellgate serve` finds it */
	if (config_state_dir(c->state, c->state_buf, sizeof c->state_buf)) {
		fprintf(stderr, "cellgate: the state directory's path is too long\n");
		return -1;
	}
	c->state = c->state_buf;
	return 0;
}

/* --expires DUR as an absolute expires= caveat, appended to the others. */
static int add_expiry(cli_t *c)
{
	char *end;
	double secs, mult = 1;

	if (!c->expires)
		return 0;
	errno = 0;
	secs = strtod(c->expires, &end);
	if (*end == 'm')
		mult = 60;
	else if (*end == 'h')
		mult = 3600;
	else if (*end == 'd')
		mult = 86400;
	if (*end && *end != 's' && mult == 1)
		return -1;
	if (*end && end[1])
		return -1;
	if (errno || end == c->expires || secs < 0 || secs * mult > 10 * 365 * 86400.0 ||
	    c->n_caveats == MAX_CAVEATS)
		return -1;
	snprintf(c->expires_caveat, sizeof c->expires_caveat, "expires=%lld",
		 (long long)time(NULL) + (long long)(secs * mult));
	c->caveats[c->n_caveats++] = c->expires_caveat;
	return 0;
}

/* The token argument, or stdin's first line for "-". Caller frees. */
static char *token_arg(const char *arg)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!arg)
		return NULL;
	if (strcmp(arg, "-") != 0)
		return strdup(arg);
	n = getline(&line, &cap, stdin);
	if (n <= 0) {
		free(line);
		return NULL;
	}
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
		line[--n] = '\0';
	return line;
}

/* Who ran the command, for the audit log: the local user. */
static void local_user(char *out, size_t size)
{
	struct passwd *pw = getpwuid(getuid());

	snprintf(out, size, "local:%s", pw ? pw->pw_name : "?");
}

static int mint(cli_t *c)
{
	err_t err = { 0 };
	policy_t *p = NULL;
	policy_audit_t *a = NULL;
	char *text = NULL, who[128], detail[256];
	policy_token_t t;
	int rc = 1;

	if (!c->principal || c->n_args)
		return usage();
	if (!c->policy) {
		fprintf(stderr, "cellgate token mint: tokens are for principals declared in a policy "
			"file: give --policy FILE (or CELLGATE_POLICY)\n");
		return 2;
	}
	p = policy_open(c->state, c->policy, &err);
	if (!p)
		goto out;
	text = policy_mint(p, c->principal, c->caveats, c->n_caveats, &err);
	if (!text)
		goto out;
	/* the identifier, never the token itself, goes to the log */
	if (policy_token_decode(&t, text, strlen(text), &err))
		goto out;
	snprintf(detail, sizeof detail, "minted token %s with %zu caveat(s)", t.id, t.n_caveats);
	policy_token_clear(&t);
	local_user(who, sizeof who);
	a = policy_audit_open(c->state, &err);
	if (!a || policy_audit_append(a, who, "admin", c->principal, "allow", detail, &err))
		goto out;
	puts(text);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "cellgate token mint: %s\n", err.msg);
	free(text);
	policy_audit_close(&a);
	policy_close(&p);
	return rc;
}

static int attenuate(cli_t *c)
{
	char *text = token_arg(c->args[0]), *out = NULL;
	policy_token_t t;
	err_t err = { 0 };
	int rc = 1;

	if (!text || !c->n_caveats) {
		free(text);
		return usage();
	}
	if (policy_token_decode(&t, text, strlen(text), &err))
		goto out;
	for (size_t i = 0; i < c->n_caveats; i++)
		if (policy_caveat_check(c->caveats[i], &err) ||
		    policy_token_add_caveat(&t, c->caveats[i], &err))
			goto clear;
	out = policy_token_encode(&t);
	if (out) {
		puts(out);
		rc = 0;
	}
clear:
	policy_token_clear(&t);
out:
	if (rc)
		fprintf(stderr, "cellgate token attenuate: %s\n", err.msg[0] ? err.msg : "failed");
	free(out);
	free(text);
	return rc;
}

static int inspect(cli_t *c)
{
	char *text = token_arg(c->args[0]), *s;
	policy_token_t t;
	err_t err = { 0 };
	json_t *out, *caveats;
	int rc = 1;

	if (!text)
		return usage();
	if (policy_token_decode(&t, text, strlen(text), &err)) {
		fprintf(stderr, "cellgate token inspect: %s\n", err.msg);
		free(text);
		return 1;
	}
	caveats = json_array();
	for (size_t i = 0; i < t.n_caveats; i++)
		json_array_append_new(caveats, json_string(t.caveats[i]));
	out = json_pack("{s:s, s:s#, s:o}", "id", t.id, "principal", t.id,
			strchr(t.id, ':') ? (size_t)(strchr(t.id, ':') - t.id) : strlen(t.id),
			"caveats", caveats);
	rc = 0;
	if (c->verify) {
		policy_t *p = policy_open(c->state, c->policy, &err);
		policy_cap_t *cap = p ? policy_verify(p, text, strlen(text), &err) : NULL;

		json_object_set_new(out, "valid", json_boolean(cap != NULL));
		if (!cap) {
			json_object_set_new(out, "why", json_string(err.msg));
			rc = 1;
		}
		policy_cap_unref(&cap);
		policy_close(&p);
	}
	s = json_dumps(out, JSON_INDENT(1));
	if (s)
		puts(s);
	free(s);
	json_decref(out);
	policy_token_clear(&t);
	free(text);
	return rc;
}

static int audit_verify(cli_t *c)
{
	err_t err = { 0 };
	policy_audit_t *a = policy_audit_open(c->state, &err);
	int64_t n = 0, bad = 0;
	int rc;

	if (!a) {
		fprintf(stderr, "cellgate audit verify: %s\n", err.msg);
		return 2;
	}
	rc = policy_audit_verify(a, &n, &bad, &err);
	policy_audit_close(&a);
	if (rc == 0) {
		printf("the audit log is intact: %lld entries\n", (long long)n);
		return 0;
	}
	if (bad)
		fprintf(stderr, "cellgate audit verify: the audit log is broken at entry %lld: %s\n",
			(long long)bad, err.msg);
	else
		fprintf(stderr, "cellgate audit verify: %s\n", err.msg);
	return 1;
}

static int audit_log(cli_t *c)
{
	err_t err = { 0 };
	policy_audit_t *a = policy_audit_open(c->state, &err);
	json_t *list = NULL, *e;
	long long since = c->since ? atoll(c->since) : 0;
	long limit = c->limit ? atol(c->limit) : 0;
	size_t i;

	if (!a || since < 0 || limit < 0 ||
	    policy_audit_list(a, since, (size_t)limit, &list, &err)) {
		fprintf(stderr, "cellgate audit log: %s\n", err.msg[0] ? err.msg : "bad arguments");
		policy_audit_close(&a);
		return 2;
	}
	json_array_foreach(list, i, e) {
		if (c->json) {
			char *s = json_dumps(e, JSON_COMPACT);

			if (s)
				puts(s);
			free(s);
			continue;
		}
		printf("%6lld %s %-5s %-16s %-8s %s  %s\n",
		       (long long)json_integer_value(json_object_get(e, "seq")),
		       json_string_value(json_object_get(e, "time")),
		       json_string_value(json_object_get(e, "decision")),
		       json_string_value(json_object_get(e, "principal")),
		       json_string_value(json_object_get(e, "action")),
		       json_string_value(json_object_get(e, "resource")),
		       json_string_value(json_object_get(e, "detail")));
	}
	json_decref(list);
	policy_audit_close(&a);
	return 0;
}

bool cli_policy_authorize(const char *state, const char *policy_file, const char *token,
			  const char *command, policy_action_t action, const policy_resource_t *res)
{
	char *text = token_arg(token), why[POLICY_WHY_MAX] = "", desc[1024], detail[1200];
	err_t err = { 0 };
	policy_t *p = policy_open(state, policy_file, &err);
	policy_cap_t *cap = p && text ? policy_verify(p, text, strlen(text), &err) : NULL;
	policy_audit_t *a = NULL;
	bool ok = cap && policy_allows(cap, action, res, (double)time(NULL), why, sizeof why);

	snprintf(desc, sizeof desc, "%s%s%s%s", res->path ? "/" : "", res->path ? res->path : "",
		 res->branch ? " branch " : "", res->branch ? res->branch : "");
	if (!cap)
		fprintf(stderr, "cellgate %s: %s\n", command,
			err.msg[0] ? err.msg : "a valid token is required");
	else if (!ok)
		fprintf(stderr, "cellgate %s: %s needs %s on %s: %s\n", command,
			policy_cap_principal(cap), policy_action_name(action), desc, why);
	if (cap && (!ok || action != POLICY_READ)) {
		snprintf(detail, sizeof detail, "cellgate %s%s%s", command, ok ? "" : ": ",
			 ok ? "" : why);
		a = policy_audit_open(state, &err);
		if (a)
			policy_audit_append(a, policy_cap_principal(cap), policy_action_name(action), desc,
					    ok ? "allow" : "deny", detail, &err);
		policy_audit_close(&a);
	}
	policy_cap_unref(&cap);
	policy_close(&p);
	free(text);
	return ok;
}

int cli_policy_main(int argc, char **argv)
{
	cli_t c = { 0 };
	const char *sub = argc > 1 ? argv[1] : "";

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage();
			return 0;
		}
	if (argc < 2 || parse(&c, argc, argv) || add_expiry(&c))
		return usage();
	if (strcmp(argv[0], "token") == 0) {
		if (strcmp(sub, "mint") == 0)
			return mint(&c);
		if (strcmp(sub, "attenuate") == 0)
			return attenuate(&c);
		if (strcmp(sub, "inspect") == 0)
			return inspect(&c);
	} else {
		if (strcmp(sub, "verify") == 0)
			return audit_verify(&c);
		if (strcmp(sub, "log") == 0)
			return audit_log(&c);
	}
	return usage();
}
