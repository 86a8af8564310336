/*
 * Who may ask: the token check, as Jupyter Server does it. A request is
 * allowed when it carries the server's token in an `Authorization: token
 * ...` (or `Bearer ...`) header, or in a `token` query parameter. Tokens
 * are compared in constant time.
 *
 * Two kinds of token: the server's own (root: every action), and
 * capability tokens that policy/ verifies into a narrower capability. An
 * allowed request carries its capability (http_cap) for authz.c.
 */
#ifndef CELLGATE_AUTH_H
#define CELLGATE_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"

/* The capability a token carries; NULL when it is neither the server's
 * token nor a capability token that verifies. Caller owns a reference. */
policy_cap_t *auth_token_verify(app_t *app, const char *token, size_t len);
/* Either kind of token verifies (nothing attached, nothing audited). */
bool auth_token_is_valid(const app_t *app, const char *token, size_t len);
/* The token an Authorization header value carries, or NULL; *len set. */
const char *auth_token_from_header(const char *value, size_t *len);
/* Checks the request's token and, when allowed, attaches its capability. */
bool auth_request_is_allowed(http_req_t *req);

#endif
