/*
 * Who may ask: the token check, as Jupyter Server does it. A request is
 * allowed when it carries the server's token in an `Authorization: token
 * ...` (or `Bearer ...`) header, or in a `token` query parameter. Tokens
 * are compared in constant time.
 */
#ifndef CELLGATE_AUTH_H
#define CELLGATE_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"

bool auth_token_is_valid(const app_t *app, const char *token, size_t len);
/* The token an Authorization header value carries, or NULL; *len set. */
const char *auth_token_from_header(const char *value, size_t *len);
bool auth_request_is_allowed(const http_req_t *req);

#endif
