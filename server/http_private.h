/*
 * The parts of http.c that the libwebsockets glue (lws.c) and the
 * WebSocket handshake use. Handlers include http.h only.
 */
#ifndef CELLGATE_HTTP_PRIVATE_H
#define CELLGATE_HTTP_PRIVATE_H

#include "../common/buf.h"
#include "http.h"

struct lws;

http_req_t *http_req_new(struct lws *wsi, app_t *app, http_method_t method, const char *path);
void http_req_detach(http_req_t *req);
/* Gives req the route's parameters, pointing into scratch (req frees it). */
void http_req_adopt_params(http_req_t *req, char *scratch, const char **params, size_t n);
/* The path below the base URL; NULL when uri is outside it. */
const char *http_strip_base(const app_t *app, const char *uri);
void http_copy_request_headers(http_req_t *req, struct lws *wsi);
void http_copy_query(http_req_t *req, struct lws *wsi);
void http_dispatch(http_req_t *req);

/* The request lifecycle, driven by libwebsockets callbacks. *slot is the
 * connection's current request. Each returns -1 to close the connection. */
int http_on_request(struct lws *wsi, app_t *app, http_req_t **slot, const char *uri);
int http_on_body(http_req_t *req, const void *data, size_t len);
int http_on_body_complete(http_req_t *req);
int http_on_writable(struct lws *wsi, http_req_t **slot);
void http_on_closed(http_req_t **slot);

#endif
