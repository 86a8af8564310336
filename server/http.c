/*
 * HTTP on libwebsockets: the request object, body accumulation, dispatch
 * through the route table with the token check, and response writing from
 * LWS_CALLBACK_HTTP_WRITEABLE (headers first, then the body in chunks, one
 * lws_write per writable callback as lws requires).
 */
#include "http_private.h"

#include <libwebsockets.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/buf.h"
#include "../common/jparse.h"
#include "../common/log.h"
#include "../notebook-store/pyjson.h"
#include "../common/util.h"
#include "../policy/policy.h"
#include "app.h"
#include "auth.h"
#include "authz.h"
#include "routes.h"

#define CHUNK (64u << 10)
#define HEADER_VALUE_MAX 8192

typedef struct kv {
	char *name, *value;
} kv_t;

struct http_req {
	struct lws *wsi;
	app_t *app;
	int refs;
	http_method_t method;
	char *path;
	kv_t *query;
	size_t n_query;
	kv_t *headers;
	size_t n_headers;
	buf_t body;
	size_t expected_body;
	const char *params[HTTP_MAX_PARAMS];
	char *scratch;
	bool is_answered, is_dispatched, must_close, headers_sent;
	bool is_stream, is_stream_ended; /* http_stream_start: written over time */
	int status;
	char *content_type;
	buf_t out;
	size_t out_sent;
	kv_t *out_headers;
	size_t n_out_headers;
	policy_cap_t *cap;
	bool cap_by_cookie; /* the capability came with the login cookie, not a token */
};

/* --- accessors ---------------------------------------------------------- */

http_method_t http_method(const http_req_t *r)
{
	return r->method;
}

const char *http_method_name(http_method_t m)
{
	switch (m) {
	case HTTP_GET: return "GET";
	case HTTP_POST: return "POST";
	case HTTP_PUT: return "PUT";
	case HTTP_PATCH: return "PATCH";
	case HTTP_DELETE: return "DELETE";
	case HTTP_HEAD: return "HEAD";
	case HTTP_OPTIONS: return "OPTIONS";
	}
	return "?";
}

const char *http_path(const http_req_t *r)
{
	return r->path;
}

const char *http_param(const http_req_t *r, size_t i)
{
	return i < HTTP_MAX_PARAMS ? r->params[i] : NULL;
}

static const char *kv_find(const kv_t *kv, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(kv[i].name, name) == 0)
			return kv[i].value;
	return NULL;
}

const char *http_query(const http_req_t *r, const char *name)
{
	for (size_t i = 0; i < r->n_query; i++)
		if (strcmp(r->query[i].name, name) == 0)
			return r->query[i].value;
	return NULL;
}

const char *http_header(const http_req_t *r, const char *name)
{
	return kv_find(r->headers, r->n_headers, name);
}

const char *http_body(const http_req_t *r, size_t *len)
{
	if (len)
		*len = r->body.len;
	return r->body.data ? r->body.data : "";
}

app_t *http_app(const http_req_t *r)
{
	return r->app;
}

policy_cap_t *http_cap(const http_req_t *r)
{
	return r->cap;
}

void http_set_cap(http_req_t *r, policy_cap_t *cap)
{
	policy_cap_unref(&r->cap);
	r->cap = cap;
	r->cap_by_cookie = false;
}

void http_set_cap_by_cookie(http_req_t *r, policy_cap_t *cap)
{
	http_set_cap(r, cap);
	r->cap_by_cookie = true;
}

bool http_cap_is_by_cookie(const http_req_t *r)
{
	return r->cap && r->cap_by_cookie;
}

json_t *http_body_json(http_req_t *r)
{
	json_error_t jerr;
	json_t *v;

	if (!r->body.len) {
		http_respond_error(r, 400, "a JSON body is required");
		return NULL;
	}
	v = jparse(r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!v) {
		http_respond_error(r, 400, "invalid JSON body at line %d: %s", jerr.line, jerr.text);
		return NULL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		http_respond_error(r, 400, "the JSON body must be an object");
		return NULL;
	}
	return v;
}

bool json_is_optional_string(const json_t *v)
{
	return !v || json_is_null(v) || json_is_string(v);
}

bool http_is_open(const http_req_t *r)
{
	return r->wsi != NULL;
}

/* --- lifetime ------------------------------------------------------------ */

static void kv_free(kv_t *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].name);
		free(kv[i].value);
	}
	free(kv);
}

static void req_free(http_req_t *r)
{
	free(r->path);
	kv_free(r->query, r->n_query);
	kv_free(r->headers, r->n_headers);
	kv_free(r->out_headers, r->n_out_headers);
	buf_free(&r->body);
	buf_free(&r->out);
	free(r->scratch);
	free(r->content_type);
	policy_cap_unref(&r->cap);
	free(r);
}

void http_defer(http_req_t *r)
{
	r->refs++;
	if (r->wsi)
		lws_set_timeout(r->wsi, NO_PENDING_TIMEOUT, 0);
}

void http_release(http_req_t *r)
{
	if (--r->refs == 0)
		req_free(r);
}

/* --- responses ------------------------------------------------------------ */

const char *http_status_phrase(int s)
{
	switch (s) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	}
	return "Error";
}

static int kv_add(kv_t **kv, size_t *n, const char *name, const char *value)
{
	kv_t *grown = realloc(*kv, (*n + 1) * sizeof *grown);

	if (!grown)
		return CG_ESYS;
	*kv = grown;
	grown[*n].name = strdup(name);
	grown[*n].value = strdup(value);
	if (!grown[*n].name || !grown[*n].value) {
		free(grown[*n].name);
		free(grown[*n].value);
		return CG_ESYS;
	}
	(*n)++;
	return 0;
}

void http_add_header(http_req_t *r, const char *name, const char *value)
{
	kv_add(&r->out_headers, &r->n_out_headers, name, value);
}

void http_respond(http_req_t *r, int status, const char *content_type, const void *body,
		  size_t len)
{
	if (r->is_answered)
		return;
	r->is_answered = true;
	r->status = status;
	r->content_type = strdup(content_type ? content_type : "application/json");
	buf_init(&r->out, 0);
	if (len && buf_append(&r->out, body, len)) {
		buf_free(&r->out);
		r->status = 500;
	}
	if (r->wsi)
		lws_callback_on_writable(r->wsi);
}

void http_stream_start(http_req_t *r, const char *content_type)
{
	if (r->is_answered)
		return;
	r->is_answered = true;
	r->is_stream = true;
	/* the body ends when the connection does */
	r->must_close = true;
	r->status = 200;
	r->content_type = strdup(content_type);
	buf_init(&r->out, 0);
	if (r->wsi)
		lws_callback_on_writable(r->wsi);
}

int http_stream_write(http_req_t *r, const char *data, size_t len, size_t max)
{
	if (!r->is_stream || r->is_stream_ended || !r->wsi)
		return -1;
	if (r->out.len - r->out_sent + len > max)
		return -1;
	if (buf_append(&r->out, data, len))
		return -1;
	lws_callback_on_writable(r->wsi);
	return 0;
}

void http_stream_end(http_req_t *r)
{
	if (!r->is_stream || r->is_stream_ended)
		return;
	r->is_stream_ended = true;
	if (r->wsi)
		lws_callback_on_writable(r->wsi);
}

/* pyjson's compact form (keys sorted, UTF-8 as is) rather than jansson's
 * json_dumps: it writes a 2 MB notebook model about five times faster. */
void http_respond_json(http_req_t *r, int status, json_t *body)
{
	buf_t text;

	buf_init(&text, 0);
	if (!body || pyjson_dump(body, -1, &text) != 0) {
		json_decref(body);
		buf_free(&text);
		http_respond(r, 500, "application/json",
			     "{\"message\":\"cannot encode the response\",\"reason\":\"Internal Server Error\"}",
			     71);
		return;
	}
	json_decref(body);
	http_respond(r, status, "application/json", text.data, text.len);
	buf_free(&text);
}

void http_respond_empty(http_req_t *r, int status)
{
	http_respond(r, status, NULL, NULL, 0);
}

void http_respond_error(http_req_t *r, int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	if (status >= 500)
		log_warn("http", "%s %s -> %d: %s", http_method_name(r->method),
			 r->path ? r->path : "?", status, msg);
	http_respond_json(r, status, json_pack("{s:s, s:s}", "message", msg,
						"reason", http_status_phrase(status)));
}

void http_respond_err(http_req_t *r, const err_t *err)
{
	int status;

	switch (err->code) {
	case CG_EINVAL: status = 400; break;
	case CG_ENOTFOUND: status = 404; break;
	case CG_ETOOBIG: status = 413; break;
	case CG_EDENIED: status = 403; break;
	case CG_ECONFLICT: status = 409; break;
	case CG_ESTATE: status = 409; break;
	default: status = 500; break;
	}
	http_respond_error(r, status, "%s", err->msg[0] ? err->msg : http_status_phrase(status));
}

/* Headers every response carries. */
static int add_common_headers(struct lws *wsi, http_req_t *r, unsigned char **p,
			      unsigned char *end)
{
	static const char *fixed[][2] = {
		{ "x-content-type-options:", "nosniff" },
		{ "cache-control:", "no-store" },
		{ "content-security-policy:", "frame-ancestors 'self'; default-src 'none'" },
		{ "referrer-policy:", "same-origin" },
	};
	lws_filepos_t len = r->status == 204 || r->status == 304 || r->is_stream
				    ? LWS_ILLEGAL_HTTP_CONTENT_LEN
				    : (lws_filepos_t)r->out.len;
	const char *ctype = r->status == 204 ? NULL : r->content_type;

	if (lws_add_http_common_headers(wsi, (unsigned)r->status, ctype, len, p, end))
		return -1;
	for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
		char name[64];

		snprintf(name, sizeof name, "%s", fixed[i][0]);
		/* a handler's own header of the same name wins */
		name[strlen(name) - 1] = '\0';
		if (kv_find(r->out_headers, r->n_out_headers, name))
			continue;
		if (lws_add_http_header_by_name(wsi, (const unsigned char *)fixed[i][0],
						(const unsigned char *)fixed[i][1],
						(int)strlen(fixed[i][1]), p, end))
			return -1;
	}
	for (size_t i = 0; i < r->n_out_headers; i++) {
		char name[128];

		snprintf(name, sizeof name, "%s:", r->out_headers[i].name);
		for (char *c = name; *c; c++)
			*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
		if (lws_add_http_header_by_name(wsi, (const unsigned char *)name,
						(const unsigned char *)r->out_headers[i].value,
						(int)strlen(r->out_headers[i].value), p, end))
			return -1;
	}
	/* lws says close itself for a body without a length */
	if (r->must_close && !r->is_stream &&
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close",
					 5, p, end))
		return -1;
	return 0;
}

/* One step of a stream: what is queued, in chunks; 1 once it has ended
 * and all is out, 0 to wait for more, -1 to close. */
static int stream_step(struct lws *wsi, http_req_t *r)
{
	size_t n = r->out.len - r->out_sent;
	unsigned char *buf;
	int rc;

	if (n == 0) {
		buf_reset(&r->out);
		r->out_sent = 0;
		return r->is_stream_ended ? 1 : 0;
	}
	if (n > CHUNK)
		n = CHUNK;
	buf = malloc(LWS_PRE + n);
	if (!buf)
		return -1;
	memcpy(buf + LWS_PRE, r->out.data + r->out_sent, n);
	r->out_sent += n;
	rc = lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP);
	free(buf);
	if (rc < (int)n)
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

/* One step of writing the answer; returns -1 to close the connection. */
static int write_step(struct lws *wsi, http_req_t *r)
{
	unsigned char *buf, *start, *p, *end;
	size_t header_room = 8192 + r->n_out_headers * HEADER_VALUE_MAX / 4;
	size_t n;
	int rc;

	if (!r->headers_sent) {
		buf = malloc(LWS_PRE + header_room);
		if (!buf)
			return -1;
		start = p = buf + LWS_PRE;
		end = start + header_room - 1;
		rc = add_common_headers(wsi, r, &p, end) ||
		     lws_finalize_write_http_header(wsi, start, &p, end);
		free(buf);
		if (rc)
			return -1;
		r->headers_sent = true;
		if (r->is_stream) {
			lws_callback_on_writable(wsi);
			return 0;
		}
		if (r->out.len && r->method != HTTP_HEAD) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	} else if (r->is_stream) {
		return stream_step(wsi, r);
	} else {
		n = r->out.len - r->out_sent;
		if (n > CHUNK)
			n = CHUNK;
		buf = malloc(LWS_PRE + n);
		if (!buf)
			return -1;
		memcpy(buf + LWS_PRE, r->out.data + r->out_sent, n);
		r->out_sent += n;
		rc = lws_write(wsi, buf + LWS_PRE, n,
			       r->out_sent < r->out.len ? LWS_WRITE_HTTP : LWS_WRITE_HTTP_FINAL);
		free(buf);
		if (rc < (int)n)
			return -1;
		if (r->out_sent < r->out.len) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	}
	/* the whole answer is out */
	return 1;
}

/* --- requests ------------------------------------------------------------- */

static void copy_header(http_req_t *r, struct lws *wsi, enum lws_token_indexes tok,
			const char *name)
{
	char buf[HEADER_VALUE_MAX];
	int n = lws_hdr_total_length(wsi, tok);

	if (n <= 0 || n >= (int)sizeof buf)
		return;
	if (lws_hdr_copy(wsi, buf, sizeof buf, tok) > 0)
		kv_add(&r->headers, &r->n_headers, name, buf);
}

static void copy_custom_header(http_req_t *r, struct lws *wsi, const char *lws_name,
			       const char *name)
{
	char buf[HEADER_VALUE_MAX];
	int nlen = (int)strlen(lws_name), n = lws_hdr_custom_length(wsi, lws_name, nlen);

	if (n <= 0 || n >= (int)sizeof buf)
		return;
	if (lws_hdr_custom_copy(wsi, buf, sizeof buf, lws_name, nlen) > 0)
		kv_add(&r->headers, &r->n_headers, name, buf);
}

void http_copy_request_headers(http_req_t *r, struct lws *wsi)
{
	copy_header(r, wsi, WSI_TOKEN_HTTP_AUTHORIZATION, "authorization");
	copy_header(r, wsi, WSI_TOKEN_HTTP_COOKIE, "cookie");
	copy_header(r, wsi, WSI_TOKEN_HOST, "host");
	copy_header(r, wsi, WSI_TOKEN_ORIGIN, "origin");
	copy_header(r, wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, "content-type");
	copy_header(r, wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, "content-length");
	copy_header(r, wsi, WSI_TOKEN_HTTP_IF_NONE_MATCH, "if-none-match");
	copy_header(r, wsi, WSI_TOKEN_HTTP_ACCEPT_ENCODING, "accept-encoding");
	copy_header(r, wsi, WSI_TOKEN_PROTOCOL, "sec-websocket-protocol");
	copy_custom_header(r, wsi, "x-xsrftoken:", "x-xsrftoken");
	copy_custom_header(r, wsi, "x-cellgate-parent:", "x-cellgate-parent");
	copy_custom_header(r, wsi, "last-event-id:", "last-event-id");
	copy_header(r, wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING, "transfer-encoding");
}

void http_copy_query(http_req_t *r, struct lws *wsi)
{
	char frag[4096];

	for (int i = 0; i < 64; i++) {
		int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
		char *eq;

		if (n < 0)
			break;
		eq = strchr(frag, '=');
		if (eq)
			*eq = '\0';
		/* repeated names: the first one counts, as in Jupyter Server */
		if (!http_query(r, frag))
			kv_add(&r->query, &r->n_query, frag, eq ? eq + 1 : "");
	}
}

http_req_t *http_req_new(struct lws *wsi, app_t *app, http_method_t method, const char *path)
{
	http_req_t *r = calloc(1, sizeof *r);

	if (!r)
		return NULL;
	r->wsi = wsi;
	r->app = app;
	r->refs = 1;
	r->method = method;
	r->path = strdup(path);
	buf_init(&r->body, app->cfg.max_body_bytes);
	if (!r->path) {
		free(r);
		return NULL;
	}
	return r;
}

void http_req_adopt_params(http_req_t *r, char *scratch, const char **params, size_t n)
{
	free(r->scratch);
	r->scratch = scratch;
	for (size_t i = 0; i < HTTP_MAX_PARAMS; i++)
		r->params[i] = i < n ? params[i] : NULL;
}

void http_req_detach(http_req_t *r)
{
	r->wsi = NULL;
}

const char *http_strip_base(const app_t *app, const char *uri)
{
	size_t n = strlen(app->cfg.base_url) - 1; /* keep the slash */

	if (n == 0)
		return uri;
	if (strncmp(uri, app->cfg.base_url, n) != 0 || (uri[n] != '/' && uri[n] != '\0'))
		return NULL;
	return uri[n] ? uri + n : "/";
}

void http_dispatch(http_req_t *r)
{
	const route_t *route;
	size_t n_params = 0;

	if (r->is_dispatched)
		return;
	r->is_dispatched = true;
	r->app->last_activity = util_unix_time();
	r->scratch = malloc(strlen(r->path) + 1);
	if (!r->scratch) {
		http_respond_error(r, 500, "out of memory");
		return;
	}
	route = route_match(r->path, r->method, r->scratch, r->params, &n_params);
	/* before the 404: without credentials, which paths exist is not told */
	if (!auth_admit(r, route && route->is_public))
		return;
	if (!route) {
		http_respond_error(r, 404, "not found");
		return;
	}
	if (!(route->methods & r->method)) {
		http_add_header(r, "allow", "GET, POST, PUT, PATCH, DELETE");
		http_respond_error(r, 405, "%s is not allowed here", http_method_name(r->method));
		return;
	}
	if (!route->is_public && !authz_route(r, route))
		return;
	route->handler(r);
}

static http_method_t method_of(struct lws *wsi)
{
	char *uri;
	int len;

	switch (lws_http_get_uri_and_method(wsi, &uri, &len)) {
	case LWSHUMETH_GET: return HTTP_GET;
	case LWSHUMETH_POST: return HTTP_POST;
	case LWSHUMETH_PUT: return HTTP_PUT;
	case LWSHUMETH_PATCH: return HTTP_PATCH;
	case LWSHUMETH_DELETE: return HTTP_DELETE;
	case LWSHUMETH_HEAD: return HTTP_HEAD;
	case LWSHUMETH_OPTIONS: return HTTP_OPTIONS;
	default: return 0;
	}
}

/* LWS_CALLBACK_HTTP: a request's headers are in. */
int http_on_request(struct lws *wsi, app_t *app, http_req_t **slot, const char *uri)
{
	http_method_t method = method_of(wsi);
	const char *path = http_strip_base(app, uri), *cl;
	http_req_t *r;

	if (*slot) {
		http_req_detach(*slot);
		http_release(*slot);
	}
	*slot = r = http_req_new(wsi, app, method ? method : HTTP_GET, path ? path : uri);
	if (!r)
		return -1;
	http_copy_request_headers(r, wsi);
	http_copy_query(r, wsi);
	if (!method) {
		r->must_close = true;
		http_respond_error(r, 405, "unsupported method");
		return 0;
	}
	if (!path) {
		http_respond_error(r, 404, "not found");
		return 0;
	}
	if (method != HTTP_POST && method != HTTP_PUT && method != HTTP_PATCH) {
		http_dispatch(r);
		return 0;
	}
	cl = http_header(r, "content-length");
	if (!cl) {
		r->must_close = true;
		http_respond_error(r, 411, "a Content-Length is required");
		return 0;
	}
	r->expected_body = (size_t)strtoull(cl, NULL, 10);
	if (r->expected_body > app->cfg.max_body_bytes) {
		r->must_close = true;
		http_respond_error(r, 413, "the body is larger than %zu bytes",
				   app->cfg.max_body_bytes);
		return 0;
	}
	/* lws calls BODY_COMPLETION itself for POST, even with an empty body */
	if (r->expected_body == 0 && method != HTTP_POST)
		http_dispatch(r);
	return 0;
}

int http_on_body(http_req_t *r, const void *data, size_t len)
{
	if (!r || r->is_answered)
		return 0;
	if (buf_append(&r->body, data, len)) {
		r->must_close = true;
		http_respond_error(r, 413, "the body is larger than %zu bytes",
				   r->app->cfg.max_body_bytes);
	}
	return 0;
}

int http_on_body_complete(http_req_t *r)
{
	if (r && !r->is_answered)
		http_dispatch(r);
	return 0;
}

/* LWS_CALLBACK_HTTP_WRITEABLE */
int http_on_writable(struct lws *wsi, http_req_t **slot)
{
	http_req_t *r = *slot;
	int rc;

	if (!r || !r->is_answered)
		return 0;
	bool must_close;

	rc = write_step(wsi, r);
	if (rc == 0)
		return 0;
	/* done with this request */
	must_close = r->must_close;
	*slot = NULL;
	http_req_detach(r);
	http_release(r);
	if (rc < 0 || must_close)
		return -1;
	/* next request on this connection; lws may free the slot's memory here,
	 * so nothing of it is touched after */
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

void http_on_closed(http_req_t **slot)
{
	http_req_t *r = *slot;

	if (!r)
		return;
	*slot = NULL;
	http_req_detach(r);
	http_release(r);
}
