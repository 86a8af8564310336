/*
 * HTTP requests and responses on libwebsockets.
 *
 * A handler gets an http_req_t whose headers, query and body have been
 * copied out of libwebsockets (so the request outlives lws's header table),
 * and answers with one of the http_respond* calls, now or later: a handler
 * that must wait (a restart, a shutdown) calls http_defer, and answers from
 * its callback. If the client has gone by then, the answer is dropped.
 *
 * Error bodies are always JSON {"message", "reason"}: never a trace, never
 * a path of the server's machine.
 */
#ifndef CELLGATE_HTTP_H
#define CELLGATE_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "../common/err.h"

typedef enum http_method {
	HTTP_GET = 1,
	HTTP_POST = 2,
	HTTP_PUT = 4,
	HTTP_PATCH = 8,
	HTTP_DELETE = 16,
	HTTP_HEAD = 32,
	HTTP_OPTIONS = 64,
} http_method_t;

#define HTTP_MAX_PARAMS 4

typedef struct app app_t;
typedef struct http_req http_req_t;
typedef struct policy_cap policy_cap_t;
typedef void (*http_handler_fn)(http_req_t *req);

http_method_t http_method(const http_req_t *req);
const char *http_method_name(http_method_t m);
/* The decoded path below the base URL, starting with "/". */
const char *http_path(const http_req_t *req);
/* The i-th {parameter} the route matched, or NULL. */
const char *http_param(const http_req_t *req, size_t i);
/* A query parameter's decoded value, or NULL. */
const char *http_query(const http_req_t *req, const char *name);
/* A request header (case-insensitive name), or NULL. Only the headers the
 * server uses are kept: see http.c. */
const char *http_header(const http_req_t *req, const char *name);
const char *http_body(const http_req_t *req, size_t *len);
/* The body as a JSON object; on failure answers 400 itself and returns NULL. */
json_t *http_body_json(http_req_t *req);
app_t *http_app(const http_req_t *req);
/* The capability the request's credentials carry (auth.c sets it), or
 * NULL before authentication. */
policy_cap_t *http_cap(const http_req_t *req);
/* Gives req the capability (steals the reference; replaces any before). */
void http_set_cap(http_req_t *req, policy_cap_t *cap);
/* The same for a capability a login cookie carried (auth.c): the request
 * still counts as cookie-authenticated (XSRF, Origin). */
void http_set_cap_by_cookie(http_req_t *req, policy_cap_t *cap);
bool http_cap_is_by_cookie(const http_req_t *req);
/* True for NULL (absent), JSON null and strings: what an optional string
 * field of a request body may be. */
bool json_is_optional_string(const json_t *v);

void http_add_header(http_req_t *req, const char *name, const char *value);
/* Answers with body (copied). */
void http_respond(http_req_t *req, int status, const char *content_type, const void *body,
		  size_t len);
/* Answers with body as JSON; steals the reference. */
void http_respond_json(http_req_t *req, int status, json_t *body);
void http_respond_empty(http_req_t *req, int status);
/* {"message": <formatted>, "reason": <status phrase>} */
void http_respond_error(http_req_t *req, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Answers with the error an err_t describes (404, 409, 413, 400, 500...). */
void http_respond_err(http_req_t *req, const err_t *err);

/*
 * A response written over time (Server-Sent Events): status 200 and the
 * headers at once, then what http_stream_write queues, until
 * http_stream_end or the client goes; the connection closes after it (the
 * body has no length). The request must be deferred.
 */
void http_stream_start(http_req_t *req, const char *content_type);
/* Queues data; -1 when the client has gone, or when more than max bytes
 * would wait unsent (a client that does not keep up is dropped). */
int http_stream_write(http_req_t *req, const char *data, size_t len, size_t max);
void http_stream_end(http_req_t *req);

/* Keeps the request alive past the handler's return; pair with http_release
 * once answered (http_respond* on a deferred request does not release). */
void http_defer(http_req_t *req);
void http_release(http_req_t *req);
/* False once the client has closed the connection. */
bool http_is_open(const http_req_t *req);

const char *http_status_phrase(int status);

#endif
