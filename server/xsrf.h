/*
 * XSRF protection, as Jupyter Server (Tornado) does it: a double submit.
 * The server sets an `_xsrf` cookie holding a random value, readable by
 * the page's scripts (JupyterLab reads it by that name); a request that a
 * cookie authenticates must repeat that value in an `X-XSRFToken` header,
 * an `_xsrf` query parameter or an `_xsrf` form field. A page of another
 * origin can make the browser send the cookie but cannot read it.
 */
#ifndef CELLGATE_XSRF_H
#define CELLGATE_XSRF_H

#include <stdbool.h>

#include "http.h"

#define XSRF_MAX 200
#define XSRF_COOKIE "_xsrf"

/* The request's _xsrf cookie, copied into out; NULL when it has none. */
const char *xsrf_cookie(const http_req_t *req, char out[XSRF_MAX]);
/* True when the request submits (header, query or form field) the value
 * of its _xsrf cookie; compared in constant time. */
bool xsrf_is_valid(const http_req_t *req);
/* The _xsrf value in effect for req: its cookie, or a new random value
 * that the response sets as the cookie (scoped to the base URL). */
const char *xsrf_ensure_cookie(http_req_t *req, char out[XSRF_MAX]);

#endif
