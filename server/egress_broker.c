/* The egress broker. See egress_broker.h. */
#include "egress_broker.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../sandbox/egress_policy.h"
#include "egress_conn.h"

#define DECISIONS_MAX 256       /* kept per kernel, newest last */
#define WRITE_HIGH (1u << 20)   /* pause the reading side past this much queued */

static void ekernel_unref(ekernel_t *ek);
static ekernel_t *find(egress_broker_t *b, const char *id);

/* --- decisions ------------------------------------------------------------- */

void econn_record(econn_t *c, const char *verdict, const char *rule, const char *why)
{
	ekernel_t *ek = c->ek;
	char when[ISO_TIME_LEN], effect[320];
	json_t *d;

	util_iso_time_now(when);
	econn_effect_of(c, effect, sizeof effect);
	if (c->secret[0])
		log_info("egress", "%.8s %s %s %s: %s", ek->id, c->method, effect, verdict, why);
	else
		log_info("egress", "%.8s %s %s:%u %s: %s%s%s", ek->id,
			 c->method[0] ? c->method : "?", c->host[0] ? c->host : "?", c->port, verdict,
			 why, rule ? " by " : "", rule ? rule : "");
	d = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:s?, s:s}", "time", when, "method",
		      c->method, "host", c->host, "port", (int)c->port, "effect", effect,
		      "decision", verdict, "rule", rule, "reason", why);
	if (!d)
		return;
	if (ek->b->on_decision)
		ek->b->on_decision(ek->b->on_decision_ctx, ek->id, d);
	if (json_array_size(ek->decisions) >= DECISIONS_MAX)
		json_array_remove(ek->decisions, 0);
	json_array_append_new(ek->decisions, d);
}

void egress_broker_set_observer(egress_broker_t *b, egress_decision_fn fn, void *ctx)
{
	b->on_decision = fn;
	b->on_decision_ctx = ctx;
}

/* --- plumbing ----------------------------------------------------------------- */

static void on_conn_closed(uv_handle_t *h)
{
	econn_t *c = h->data;

	if (--c->pending > 0)
		return;
	for (econn_t **p = &c->ek->conns; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	if (c->ai)
		uv_freeaddrinfo(c->ai);
	c->ek->open--;
	ekernel_unref(c->ek);
	free(c);
}

void econn_close(econn_t *c)
{
	if (c->is_closing)
		return;
	c->is_closing = true;
	if (c->is_relaying)
		log_info("egress", "%.8s %s:%u closed: %llu bytes out, %llu in", c->ek->id, c->host,
			 c->port, (unsigned long long)c->up, (unsigned long long)c->down);
	uv_close((uv_handle_t *)&c->client, on_conn_closed);
	if (c->has_upstream)
		uv_close((uv_handle_t *)&c->upstream, on_conn_closed);
}

void econn_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	const econn_t *c = h->data;
	/* a held connection's bytes are kept beside its head, in what is left */
	size_t n = c->is_held ? HEAD_MAX - c->head_len : 65536;

	(void)suggested;
	buf->base = n ? malloc(n) : NULL;
	buf->len = buf->base ? n : 0;
}

void econn_on_written(uv_write_t *w, int status)
{
	wreq_t *r = (wreq_t *)w;
	econn_t *c = r->c;

	free(r->buf.base);
	free(r);
	if (status < 0) {
		econn_close(c);
		return;
	}
	if (c->is_closing || !c->is_relaying)
		return;
	/* the slow side caught up: read from the other again */
	if (c->client_paused &&
	    uv_stream_get_write_queue_size((uv_stream_t *)&c->upstream) < WRITE_HIGH / 2) {
		c->client_paused = false;
		uv_read_start((uv_stream_t *)&c->client, econn_on_alloc, econn_on_client_read);
	}
}

static void on_upstream_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void on_written_down(uv_write_t *w, int status)
{
	econn_t *c = ((wreq_t *)w)->c;
	bool resume;

	resume = status >= 0 && !c->is_closing && c->upstream_paused &&
		 uv_stream_get_write_queue_size((uv_stream_t *)&c->client) < WRITE_HIGH / 2;
	econn_on_written(w, status);
	if (resume) {
		c->upstream_paused = false;
		uv_read_start((uv_stream_t *)&c->upstream, econn_on_alloc, on_upstream_read);
	}
}

/* Writes data (taken over: freed after the write) to dst. */
int econn_send_owned(econn_t *c, uv_stream_t *dst, char *data, size_t len, uv_write_cb cb)
{
	wreq_t *r = calloc(1, sizeof *r);

	if (!r) {
		free(data);
		return -1;
	}
	r->c = c;
	r->buf = uv_buf_init(data, (unsigned)len);
	if (uv_write(&r->w, dst, &r->buf, 1, cb) != 0) {
		free(data);
		free(r);
		return -1;
	}
	return 0;
}

int econn_send_copy(econn_t *c, uv_stream_t *dst, const char *data, size_t len)
{
	char *copy = malloc(len ? len : 1);

	if (!copy)
		return -1;
	memcpy(copy, data, len);
	return econn_send_owned(c, dst, copy, len, econn_on_written);
}

static void on_shutdown_close(uv_shutdown_t *req, int status)
{
	econn_t *c = req->data;

	(void)status;
	free(req);
	econn_close(c);
}

/* Ends the connection once what is queued to the client is written. */
void econn_end_after_writes(econn_t *c)
{
	uv_shutdown_t *sd = calloc(1, sizeof *sd);

	if (!sd) {
		econn_close(c);
		return;
	}
	sd->data = c;
	if (uv_shutdown(sd, (uv_stream_t *)&c->client, on_shutdown_close) != 0) {
		free(sd);
		econn_close(c);
	}
}

/* Answers the client with an HTTP error and ends the connection. */
void econn_answer(econn_t *c, int status, const char *title, const char *body)
{
	char head[512];
	int n = snprintf(head, sizeof head,
			 "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
			 "Content-Length: %zu\r\nX-Cellgate-Egress: %s\r\nConnection: close\r\n\r\n",
			 status, title, strlen(body), status == 403 ? "denied" : "error");

	uv_read_stop((uv_stream_t *)&c->client);
	if (n < 0 || econn_send_copy(c, (uv_stream_t *)&c->client, head, (size_t)n) ||
	    econn_send_copy(c, (uv_stream_t *)&c->client, body, strlen(body))) {
		econn_close(c);
		return;
	}
	econn_end_after_writes(c);
}

/* --- relaying ------------------------------------------------------------------ */

static bool count(econn_t *c, size_t n, bool is_up)
{
	uint64_t max = c->ek->b->cfg->egress_max_bytes;

	if (is_up)
		c->up += n;
	else
		c->down += n;
	c->ek->bytes += n;
	if (max && c->ek->bytes > max) {
		log_warn("egress", "%.8s %s:%u cut: the kernel's %llu egress bytes are used up",
			 c->ek->id, c->host, c->port, (unsigned long long)max);
		econn_close(c);
		return false;
	}
	return true;
}

static void on_half_closed(uv_shutdown_t *req, int status)
{
	(void)status;
	free(req);
}

static void half_close(econn_t *c, uv_stream_t *dst)
{
	uv_shutdown_t *sd = calloc(1, sizeof *sd);

	if (++c->eofs >= 2 || !sd) {
		free(sd);
		econn_close(c);
		return;
	}
	sd->data = c;
	if (uv_shutdown(sd, dst, on_half_closed) != 0)
		free(sd);
}

static void relay(econn_t *c, uv_stream_t *from, uv_stream_t *to, ssize_t n, const uv_buf_t *buf,
		  bool is_up)
{
	if (c->is_closing) {
		free(buf->base);
		return;
	}
	if (n < 0) {
		free(buf->base);
		uv_read_stop(from);
		if (n == UV_EOF)
			half_close(c, to);
		else
			econn_close(c);
		return;
	}
	if (n == 0) {
		free(buf->base);
		return;
	}
	if (!count(c, (size_t)n, is_up)) {
		free(buf->base);
		return;
	}
	if (econn_send_owned(c, to, buf->base, (size_t)n, is_up ? econn_on_written : on_written_down) != 0) {
		econn_close(c);
		return;
	}
	if (uv_stream_get_write_queue_size(to) > WRITE_HIGH) {
		uv_read_stop(from);
		if (is_up)
			c->client_paused = true;
		else
			c->upstream_paused = true;
	}
}

static void on_upstream_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	econn_t *c = s->data;

	relay(c, s, (uv_stream_t *)&c->client, n, buf, false);
}

/* The first bytes upstream: for CONNECT whatever followed the head; for
 * plain HTTP the head rewritten for the origin, then the body so far. */
static int first_bytes(econn_t *c)
{
	const char *rest = c->head + c->body_at;
	size_t rest_len = c->head_len - c->body_at, cap, n = 0;
	const char *line, *end, *headers_end = c->head + c->body_at - 2;
	const char *path;
	char *out;

	c->up += rest_len;
	c->ek->bytes += rest_len;
	if (c->is_connect)
		return rest_len ? econn_send_copy(c, (uv_stream_t *)&c->upstream, rest, rest_len) : 0;
	/* origin-form: the path of the absolute URI */
	path = strchr(c->target + 7, '/');
	cap = c->body_at + strlen(c->target) + 64;
	out = malloc(cap);
	if (!out)
		return -1;
	n += (size_t)snprintf(out, cap, "%s %s HTTP/1.1\r\n", c->method, path ? path : "/");
	line = strstr(c->head, "\r\n") + 2;
	for (; line < headers_end; line = end + 2) {
		end = strstr(line, "\r\n");
		if (!end || end > headers_end)
			break;
		/* hop-by-hop and proxy headers stay here; one request per connection */
		if (!strncasecmp(line, "proxy-", 6) || !strncasecmp(line, "connection:", 11) ||
		    !strncasecmp(line, "keep-alive:", 11))
			continue;
		memcpy(out + n, line, (size_t)(end - line) + 2);
		n += (size_t)(end - line) + 2;
	}
	n += (size_t)snprintf(out + n, cap - n, "Connection: close\r\n\r\n");
	c->up += n;
	c->ek->bytes += n;
	if (econn_send_owned(c, (uv_stream_t *)&c->upstream, out, n, econn_on_written) != 0)
		return -1;
	return rest_len ? econn_send_copy(c, (uv_stream_t *)&c->upstream, rest, rest_len) : 0;
}

static void start_relaying(econn_t *c)
{
	static const char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";

	c->is_relaying = true;
	if ((c->is_connect &&
	     econn_send_copy(c, (uv_stream_t *)&c->client, established, sizeof established - 1)) ||
	    first_bytes(c) != 0) {
		econn_close(c);
		return;
	}
	uv_read_start((uv_stream_t *)&c->client, econn_on_alloc, econn_on_client_read);
	uv_read_start((uv_stream_t *)&c->upstream, econn_on_alloc, on_upstream_read);
}

/* --- connecting ------------------------------------------------------------------ */

static void try_connect(econn_t *c);

static void on_connected(uv_connect_t *req, int status)
{
	econn_t *c = req->data;
	char why[400];

	if (c->is_closing)
		return;
	if (status == 0) {
		start_relaying(c);
		return;
	}
	snprintf(why, sizeof why, "cellgate egress: cannot connect to %s:%u: %s\n", c->host, c->port,
		 uv_strerror(status));
	econn_answer(c, 502, "Bad Gateway", why);
}

/* The first address the resolver gave (one try: a handle cannot be
 * reused before it is closed, and a second try is rarely worth it). */
static void try_connect(econn_t *c)
{
	struct addrinfo *a = c->next_ai;

	c->next_ai = NULL;
	if (!a || uv_tcp_init(c->ek->b->loop, &c->upstream) != 0) {
		econn_answer(c, 502, "Bad Gateway", "cellgate egress: no address to connect to\n");
		return;
	}
	c->upstream.data = c;
	c->has_upstream = true;
	c->pending++;
	c->creq.data = c;
	if (uv_tcp_connect(&c->creq, &c->upstream, a->ai_addr, on_connected) != 0)
		on_connected(&c->creq, UV_ECONNREFUSED);
}

/* Loopback, link-local or unspecified: the host's own services and cloud
 * metadata endpoints. */
static bool is_internal(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);

		return (a >> 24) == 127 || (a >> 16) == 0xa9fe || a == 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_LINKLOCAL(a) ||
		       IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_V4MAPPED(a);
	}
	return true;
}

/* True when the host was written as an address, not a name. */
static bool is_literal(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	econn_t *c = req->data;
	char why[400];

	c->ai = res;
	if (c->is_closing) {
		/* the handles are already closing; this was the last thing pending */
		on_conn_closed((uv_handle_t *)&c->client);
		return;
	}
	c->pending--;
	if (status != 0 || !res) {
		snprintf(why, sizeof why, "cellgate egress: cannot resolve %s: %s\n", c->host,
			 uv_strerror(status));
		econn_answer(c, 502, "Bad Gateway", why);
		return;
	}
	/* an allowed name must not lead to the host's own loopback or to a
	 * link-local service (DNS rebinding); an address rule names them itself */
	if (!is_literal(c->host) && is_internal(res->ai_addr)) {
		econn_record(c, "deny", NULL, "the name resolves to a loopback or link-local address");
		snprintf(why, sizeof why, "cellgate egress: %s resolves to a loopback or link-local "
			 "address; allow the address itself to reach it\n", c->host);
		econn_answer(c, 403, "Forbidden", why);
		return;
	}
	c->next_ai = res;
	try_connect(c);
}

/* --- the request ------------------------------------------------------------------ */

static bool host_ok(const char *h)
{
	if (!*h)
		return false;
	for (; *h; h++) {
		if (!isalnum((unsigned char)*h) && !strchr(".-_:", *h))
			return false;
	}
	return true;
}

/* "host:port" or "[v6]:port" into c->host and c->port; default_port when
 * there is none (0: a port is required). */
static int parse_authority(econn_t *c, const char *a, size_t len, unsigned default_port)
{
	char buf[300];
	const char *host = buf, *port = NULL;
	char *end;
	unsigned long p;

	if (len == 0 || len >= sizeof buf || memchr(a, '@', len))
		return -1;
	memcpy(buf, a, len);
	buf[len] = '\0';
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');

		if (!close || (close[1] && close[1] != ':'))
			return -1;
		*close = '\0';
		host = buf + 1;
		port = close[1] ? close + 2 : NULL;
	} else {
		char *colon = strrchr(buf, ':');

		if (colon) {
			*colon = '\0';
			port = colon + 1;
		}
	}
	if (port) {
		p = strtoul(port, &end, 10);
		if (!*port || *end || p < 1 || p > 65535)
			return -1;
		c->port = (unsigned)p;
	} else if (default_port) {
		c->port = default_port;
	} else {
		return -1;
	}
	if (strlen(host) >= sizeof c->host || !host_ok(host))
		return -1;
	memcpy(c->host, host, strlen(host) + 1);
	return 0;
}

/* The request line: method, target, version. */
static const char *parse_request(econn_t *c)
{
	char version[16];
	const char *auth, *slash;

	if (sscanf(c->head, "%15s %2047s %15s", c->method, c->target, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7) != 0)
		return "not an HTTP proxy request";
	if (strcmp(c->method, "CONNECT") == 0) {
		c->is_connect = true;
		return parse_authority(c, c->target, strlen(c->target), 0) ? "bad CONNECT target" : NULL;
	}
	if (strncasecmp(c->target, "https://", 8) == 0)
		return "an https:// URL goes through CONNECT";
	if (strncasecmp(c->target, "http://", 7) != 0)
		return "a proxy request needs an absolute http:// URL or CONNECT";
	auth = c->target + 7;
	slash = auth + strcspn(auth, "/?#");
	if (*slash == '?' || *slash == '#')
		return "bad URL";
	return parse_authority(c, auth, (size_t)(slash - auth), 80) ? "bad URL authority" : NULL;
}

/* A replay kernel reaches exactly what its replay granted. */
static egress_verdict_t replay_grant(const econn_t *c, egress_rule_t *grant, const egress_rule_t **rule)
{
	char dest[300];
	const json_t *g;
	size_t i;

	*rule = NULL;
	snprintf(dest, sizeof dest, strchr(c->host, ':') ? "[%s]:%u" : "%s:%u", c->host, c->port);
	json_array_foreach(c->ek->grants, i, g)
		if (strcasecmp(json_string_value(g), dest) == 0) {
			memset(grant, 0, sizeof *grant);
			snprintf(grant->text, sizeof grant->text, "grant network:%s", dest);
			grant->verdict = EGRESS_ALLOW;
			*rule = grant;
			return EGRESS_ALLOW;
		}
	return EGRESS_DENY;
}

int egress_broker_grant(egress_broker_t *b, const char *kernel_id_, char *const *dests, size_t n)
{
	ekernel_t *ek = b ? find(b, kernel_id_) : NULL;

	if (!ek)
		return CG_ENOTFOUND;
	json_decref(ek->grants);
	ek->grants = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(ek->grants, json_string(dests[i]));
	return 0;
}

/* The way is open: within the byte limit, resolve and connect. */
static void go_on(econn_t *c, const char *rule, const char *why)
{
	const config_t *cfg = c->ek->b->cfg;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	char port[8];

	if (cfg->egress_max_bytes && c->ek->bytes >= cfg->egress_max_bytes) {
		econn_record(c, "deny", "egress-max-bytes", "the kernel's egress bytes are used up");
		econn_answer(c, 403, "Forbidden", "cellgate egress: this kernel's egress bytes are used up "
			   "(egress-max-bytes)\n");
		return;
	}
	econn_record(c, "allow", rule, why);
	/* only now, for an allowed destination, is the name looked up */
	snprintf(port, sizeof port, "%u", c->port);
	c->gai.data = c;
	c->pending++;
	if (uv_getaddrinfo(c->ek->b->loop, &c->gai, on_resolved, c->host, port, &hints) != 0) {
		c->pending--;
		econn_answer(c, 502, "Bad Gateway", "cellgate egress: cannot resolve the host\n");
	}
}

void econn_effect_of(const econn_t *c, char *out, size_t size)
{
	if (c->secret[0])
		snprintf(out, size, "secret %s", c->secret);
	else
		snprintf(out, size, "network %s:%u", c->host, c->port);
}

void econn_audit(econn_t *c, const char *decision, const char *detail)
{
	const egress_prompter_t *pr = &c->ek->b->prompter;
	char effect[320];

	econn_effect_of(c, effect, sizeof effect);
	if (pr->audit)
		pr->audit(pr->arg, c->ek->id, effect, decision, detail);
}

/*
 * An ask rule matched: through at once when this kernel's session already
 * has an allow for host:port; otherwise held (nothing resolved, nothing
 * sent on) until the prompt is settled (egress_broker_on_prompts). The end
 * of what the kernel sends, while held, is taken as the kernel giving up:
 * the relay passes a close on as a half-close, and an HTTP client does not
 * half-close before its answer.
 */
static void hold(econn_t *c, const egress_rule_t *rule)
{
	const egress_prompter_t *pr = &c->ek->b->prompter;
	char key[300], effect[320], request[1000], why[600], body[1400];
	const char *by;

	snprintf(key, sizeof key, "%s:%u", c->host, c->port);
	by = json_string_value(json_object_get(c->ek->session_allows, key));
	if (by) {
		snprintf(why, sizeof why, "allowed for this kernel session by prompt %s", by);
		snprintf(request, sizeof request, "%s %.300s: %s", c->method, c->target, why);
		econn_audit(c, "allow", request);
		go_on(c, rule->text, why);
		return;
	}
	econn_effect_of(c, effect, sizeof effect);
	snprintf(request, sizeof request, "%s %.300s", c->method, c->target);
	snprintf(why, sizeof why, "no prompts can be made here");
	if (!pr->ask ||
	    pr->ask(pr->arg, c->ek->id, effect, request, c->prompt, sizeof c->prompt, why,
		    sizeof why) != 0) {
		econn_record(c, "deny", rule->text, why);
		snprintf(body, sizeof body, "cellgate egress: %s %s:%u needs a person's approval "
			 "(%s), and none can be asked: %s\n", c->method, c->host, c->port, rule->text,
			 why);
		econn_answer(c, 403, "Forbidden", body);
		return;
	}
	c->is_held = true;
	c->rule = rule;
	snprintf(why, sizeof why, "waiting for an answer to prompt %s", c->prompt);
	econn_record(c, "prompt", rule->text, why);
	/* read on, to hear if the kernel gives up: what comes is kept with the
	 * head while there is room (then reading waits for the answer) */
	uv_read_start((uv_stream_t *)&c->client, econn_on_alloc, econn_on_client_read);
}

/* A held connection that ends before its answer: the prompt is withdrawn. */
static void give_up(econn_t *c, const char *why)
{
	const egress_prompter_t *pr = &c->ek->b->prompter;
	char detail[1000];

	c->is_held = false;
	snprintf(detail, sizeof detail, "prompt %s withdrawn: %s", c->prompt, why);
	econn_record(c, "deny", c->rule ? c->rule->text : NULL, detail);
	if (pr->withdraw)
		pr->withdraw(pr->arg, c->ek->id, c->prompt, why);
	econn_close(c);
}

/* Bytes, or the end, from a held connection's kernel side. econn_on_alloc gives
 * it no more than the room left beside the head. */
static void on_held_read(econn_t *c, ssize_t n, const uv_buf_t *buf)
{
	if (n == UV_ENOBUFS) {
		/* full: the rest waits in the socket for the answer */
		uv_read_stop((uv_stream_t *)&c->client);
		return;
	}
	if (n < 0) {
		free(buf->base);
		give_up(c, "the kernel closed the connection while it waited");
		return;
	}
	memcpy(c->head + c->head_len, buf->base, (size_t)n);
	c->head_len += (size_t)n;
	c->head[c->head_len] = '\0';
	free(buf->base);
}

void econn_refusal(const econn_t *c, const policy_prompt_t *p, const char *who, char *why,
		   size_t size)
{
	if (p && p->state == PROMPT_TIMED_OUT)
		snprintf(why, size, "prompt %s timed out: nobody answered it in time, which is a "
			 "denial", c->prompt);
	else if (p && p->state == PROMPT_DENIED)
		snprintf(why, size, "%s answered prompt %s: deny", who, c->prompt);
	else
		snprintf(why, size, "prompt %s is gone", c->prompt);
}

/* The held connection's prompt is settled: through, or refused. */
static void settle(econn_t *c, policy_prompt_t *p)
{
	char why[600], detail[1000], body[1400], key[300];
	const char *who = p && p->answered_by[0] ? p->answered_by : "nobody";

	c->is_held = false;
	uv_read_stop((uv_stream_t *)&c->client);
	if (c->secret[0]) {
		egress_secret_settle(c, p, who);
		return;
	}
	if (p && (p->state == PROMPT_ALLOWED_ONCE || p->state == PROMPT_ALLOWED_SESSION)) {
		if (p->state == PROMPT_ALLOWED_SESSION) {
			snprintf(key, sizeof key, "%s:%u", c->host, c->port);
			json_object_set_new(c->ek->session_allows, key, json_string(p->id));
			snprintf(why, sizeof why, "allowed for this kernel session by %s (prompt %s)",
				 who, p->id);
		} else {
			/* taken: an allow once is this connection's alone */
			p->state = PROMPT_USED;
			snprintf(why, sizeof why, "allowed once by %s (prompt %s)", who, p->id);
		}
		snprintf(detail, sizeof detail, "%s %.300s: %s", c->method, c->target, why);
		econn_audit(c, "allow", detail);
		go_on(c, c->rule->text, why);
		return;
	}
	econn_refusal(c, p, who, why, sizeof why);
	snprintf(detail, sizeof detail, "%s %.300s: %s", c->method, c->target, why);
	econn_audit(c, "deny", detail);
	econn_record(c, "deny", c->rule->text, why);
	snprintf(body, sizeof body, "cellgate egress: %s %s:%u is denied: %s\n", c->method, c->host,
		 c->port, why);
	econn_answer(c, 403, "Forbidden", body);
}

void egress_broker_on_prompts(egress_broker_t *b, policy_prompts_t *prompts)
{
	if (!b)
		return;
	/* settling only starts handles and writes: the lists change when
	 * handles close, later, on the loop */
	for (ekernel_t *ek = b->kernels; ek; ek = ek->next) {
		for (econn_t *c = ek->conns; c; c = c->next) {
			policy_prompt_t *p;

			if (!c->is_held || c->is_closing)
				continue;
			p = policy_prompts_find(prompts, c->prompt);
			if (!p || p->state != PROMPT_PENDING)
				settle(c, p);
		}
	}
}

void egress_broker_set_prompter(egress_broker_t *b, const egress_prompter_t *p)
{
	if (b)
		b->prompter = *p;
}

/* The capability that started the kernel narrows the rules: false after
 * answering 403 when it does not allow net:host:port. */
bool econn_token_allows(econn_t *c)
{
	const egress_prompter_t *pr = &c->ek->b->prompter;
	char effect[300], why[512] = "", body[1400], detail[700], what[400];

	if (c->secret[0]) {
		snprintf(effect, sizeof effect, "secret:%s", c->secret);
		snprintf(what, sizeof what, "cellgate secrets: secret %s", c->secret);
	} else {
		snprintf(effect, sizeof effect, "net:%s:%u", c->host, c->port);
		for (char *e = effect; *e; e++)
			*e = (char)tolower((unsigned char)*e);
		snprintf(what, sizeof what, "cellgate egress: %s %s:%u", c->method, c->host, c->port);
	}
	if (!pr->check || pr->check(pr->arg, c->ek->id, effect, why, sizeof why) == 0)
		return true;
	snprintf(detail, sizeof detail, "the token that started the kernel: %s", why);
	econn_record(c, "deny", NULL, detail);
	snprintf(body, sizeof body, "%s is denied: the token that started this kernel does not "
		 "allow %s: %s\n", what, effect, why);
	econn_answer(c, 403, "Forbidden", body);
	return false;
}


static void decide(econn_t *c)
{
	const config_t *cfg = c->ek->b->cfg;
	const egress_rule_t *rule = NULL;
	egress_rule_t grant;
	egress_verdict_t v;
	char body[1400];
	const char *bad = parse_request(c);

	if (bad) {
		econn_record(c, "deny", NULL, bad);
		snprintf(body, sizeof body, "cellgate egress: %s\n", bad);
		econn_answer(c, 400, "Bad Request", body);
		return;
	}
	/* the server's own name for secrets: never looked up, never left */
	if (strcasecmp(c->host, SBX_SECRETS_HOST) == 0) {
		egress_secret_request(c);
		return;
	}
	/* a replay's kernel: what its replay granted, and no configured rule */
	if (strcmp(c->ek->trust, "replay") == 0)
		v = replay_grant(c, &grant, &rule);
	else
		v = egress_decide(cfg->egress_rules, cfg->n_egress_rules, c->ek->spec, c->ek->trust,
				  c->host, c->port, &rule);
	if (v == EGRESS_DENY) {
		econn_record(c, "deny", rule ? rule->text : NULL, rule ? "a deny rule matches"
							     : "no rule allows it");
		snprintf(body, sizeof body,
			 "cellgate egress: %s %s:%u is denied: %s%s (kernelspec %s, trust class %s)\n",
			 c->method, c->host, c->port, rule ? "by the rule " : "no egress-allow rule matches",
			 rule ? rule->text : "", c->ek->spec, c->ek->trust);
		econn_answer(c, 403, "Forbidden", body);
		return;
	}
	if (!econn_token_allows(c))
		return;
	if (v == EGRESS_PROMPT) {
		hold(c, rule);
		return;
	}
	go_on(c, rule->text, "an allow rule matches");
}

void econn_on_client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	econn_t *c = s->data;
	const char *end;

	if (c->is_relaying) {
		relay(c, s, (uv_stream_t *)&c->upstream, n, buf, true);
		return;
	}
	if (c->is_held) {
		on_held_read(c, n, buf);
		return;
	}
	if (n < 0) {
		free(buf->base);
		econn_close(c);
		return;
	}
	if (c->head_len + (size_t)n > HEAD_MAX) {
		free(buf->base);
		econn_record(c, "deny", NULL, "the request head is too large");
		econn_answer(c, 431, "Request Header Fields Too Large",
		       "cellgate egress: the request head is too large\n");
		return;
	}
	memcpy(c->head + c->head_len, buf->base, (size_t)n);
	c->head_len += (size_t)n;
	c->head[c->head_len] = '\0';
	free(buf->base);
	end = strstr(c->head, "\r\n\r\n");
	if (!end)
		return;
	/* the head is whole: stop reading until the way is decided */
	uv_read_stop(s);
	c->body_at = (size_t)(end - c->head) + 4;
	decide(c);
}

static void on_connection(uv_stream_t *server, int status)
{
	ekernel_t *ek = server->data;
	econn_t *c;

	if (status < 0)
		return;
	c = calloc(1, sizeof *c);
	if (!c)
		return;
	c->ek = ek;
	uv_pipe_init(ek->b->loop, &c->client, 0);
	c->client.data = c;
	c->pending = 1;
	ek->refs++;
	ek->open++;
	c->next = ek->conns;
	ek->conns = c;
	if (uv_accept(server, (uv_stream_t *)&c->client) != 0) {
		econn_close(c);
		return;
	}
	if (ek->b->cfg->egress_max_connections && ek->open > ek->b->cfg->egress_max_connections) {
		econn_record(c, "deny", "egress-max-connections", "too many connections open");
		econn_answer(c, 429, "Too Many Requests",
		       "cellgate egress: this kernel has too many connections open "
		       "(egress-max-connections)\n");
		return;
	}
	uv_read_start((uv_stream_t *)&c->client, econn_on_alloc, econn_on_client_read);
}

/* --- kernels -------------------------------------------------------------------- */

static void ekernel_unref(ekernel_t *ek)
{
	egress_broker_t *b = ek->b;

	if (--ek->refs > 0)
		return;
	for (ekernel_t **p = &b->kernels; *p; p = &(*p)->next) {
		if (*p == ek) {
			*p = ek->next;
			break;
		}
	}
	json_decref(ek->decisions);
	json_decref(ek->session_allows);
	json_decref(ek->grants);
	free(ek);
	if (b->is_freed && !b->kernels)
		free(b);
}

static void on_listener_closed(uv_handle_t *h)
{
	ekernel_unref(h->data);
}

static ekernel_t *find(egress_broker_t *b, const char *id)
{
	for (ekernel_t *ek = b->kernels; ek; ek = ek->next) {
		if (!ek->is_gone && strcmp(ek->id, id) == 0)
			return ek;
	}
	return NULL;
}

static void listen_for(egress_broker_t *b, kernel_t *k)
{
	ekernel_t *ek = find(b, kernel_id(k));
	mode_t mask;
	int rc;

	/* a restart is a new kernel session: its allows for the session end */
	if (ek)
		json_object_clear(ek->session_allows);
	if (ek && ek->is_listening)
		return;
	if (!ek) {
		ek = calloc(1, sizeof *ek);
		if (!ek)
			return;
		ek->b = b;
		ek->decisions = json_array();
		ek->session_allows = json_object();
		snprintf(ek->id, sizeof ek->id, "%s", kernel_id(k));
		ek->refs = 1; /* the kernel's, until it is gone */
		ek->next = b->kernels;
		b->kernels = ek;
	}
	snprintf(ek->spec, sizeof ek->spec, "%s", kernel_spec_name(k));
	snprintf(ek->trust, sizeof ek->trust, "%s", kernel_trust_class(k));
	snprintf(ek->path, sizeof ek->path, "%s/%s", kernel_dir(k), SBX_EGRESS_SOCKET_NAME);
	unlink(ek->path);
	uv_pipe_init(b->loop, &ek->listener, 0);
	ek->listener.data = ek;
	ek->refs++;
	/* The kernel's user must be able to connect. No chown or chmod by path
	 * afterwards: the directory is the kernel's, and a root server must not
	 * follow whatever a kernel could put at that name. The socket is made
	 * open to all instead; only the kernel's user (and root) can pass
	 * through its 0700 directory. The loop is the only thread creating files. */
	mask = umask(0);
	rc = uv_pipe_bind(&ek->listener, ek->path);
	umask(mask);
	if (!rc)
		rc = uv_listen((uv_stream_t *)&ek->listener, 64, on_connection);
	if (rc) {
		log_warn("egress", "%.8s: no egress broker: %s", ek->id, uv_strerror(rc));
		uv_close((uv_handle_t *)&ek->listener, on_listener_closed);
		return;
	}
	ek->is_listening = true;
}

void egress_broker_on_sandbox(void *arg, kernel_t *k, bool up)
{
	egress_broker_t *b = arg;
	ekernel_t *ek;

	if (up) {
		listen_for(b, k);
		return;
	}
	ek = find(b, kernel_id(k));
	if (!ek)
		return;
	ek->is_gone = true;
	/* the kernel is gone: so is every way out it had open */
	for (econn_t *c = ek->conns; c; c = c->next) {
		if (c->is_held && !c->is_closing)
			give_up(c, "the kernel is gone");
		econn_close(c);
	}
	if (ek->is_listening) {
		ek->is_listening = false;
		unlink(ek->path);
		uv_close((uv_handle_t *)&ek->listener, on_listener_closed);
	}
	ekernel_unref(ek);
}

egress_broker_t *egress_broker_new(uv_loop_t *loop, const config_t *cfg)
{
	egress_broker_t *b = calloc(1, sizeof *b);

	if (b) {
		b->loop = loop;
		b->cfg = cfg;
	}
	return b;
}

json_t *egress_broker_report(egress_broker_t *b, const char *kernel_id_)
{
	ekernel_t *ek = b ? find(b, kernel_id_) : NULL;

	if (!ek)
		return NULL;
	return json_pack("{s:s, s:O, s:I, s:I}", "kernel", ek->id, "decisions", ek->decisions,
			 "open_connections", (json_int_t)ek->open, "bytes", (json_int_t)ek->bytes);
}

void egress_broker_free(egress_broker_t **self_p)
{
	egress_broker_t *b = *self_p;

	if (!b)
		return;
	*self_p = NULL;
	b->is_freed = true;
	if (!b->kernels) {
		free(b);
		return;
	}
	/* the kernel manager's teardown has sent every !up, which closed the
	 * listeners and connections; the rest is freed as their handles close */
	for (ekernel_t *ek = b->kernels; ek; ek = ek->next) {
		for (econn_t *c = ek->conns; c; c = c->next)
			econn_close(c);
	}
}
