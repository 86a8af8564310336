/*
 * Who may ask, as Jupyter Server decides it.
 *
 * A request is authenticated by the token -- in an `Authorization: token
 * ...` (or `Bearer ...`) header, or a `token` query parameter, compared in
 * constant time -- or by the signed login cookie (cookie.h) that a token
 * in a page's URL, or the login form, gave the browser: the server's
 * token earns a cookie that stands for it, a capability token one that
 * carries the token itself.
 *
 * auth_admit is the gate every HTTP request passes before its handler:
 *   - the Host check when bound to loopback (origin.h): 403;
 *   - no credentials: a page (auth_is_page_path) redirects to the login
 *     form, anything else is 403 JSON;
 *   - cookie credentials on a state-changing method (POST, PUT, PATCH,
 *     DELETE) or a /files/ download: a foreign Origin, or no XSRF double
 *     submit (xsrf.h), is 403 JSON. The token needs neither: a page of
 *     another origin cannot know it.
 *   - a GET with ?token= gets the login cookie (and _xsrf) set, so the
 *     browser's WebSockets, images and downloads need no token after it.
 * WebSocket upgrades go through auth_ws_status instead.
 *
 * Two kinds of token: the server's own (root: every action), and
 * capability tokens that policy/ verifies into a narrower capability. A
 * request authenticated by a token carries its capability (http_cap) for
 * authz.c, and so does one whose cookie carries a capability token
 * (verified again on every request: an expired one is no credential); one
 * authenticated by the server token's cookie carries none and counts as
 * root.
 */
#ifndef CELLGATE_AUTH_H
#define CELLGATE_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/err.h"
#include "http.h"

typedef enum auth_kind {
	AUTH_NONE,
	AUTH_TOKEN,   /* the token, in a header or the query */
	AUTH_COOKIE,  /* the login cookie, without the token */
} auth_kind_t;

/* Loads (or makes) the cookie secret from the state directory and derives
 * the login key from it and the token. */
int auth_init(app_t *app, err_t *err);

/* True for the server's own token (--token), compared in constant time. */
bool auth_is_server_token(const app_t *app, const char *token, size_t len);
/* The capability a token carries; NULL when it is neither the server's
 * token nor a capability token that verifies. Caller owns a reference. */
policy_cap_t *auth_token_verify(app_t *app, const char *token, size_t len);
/* Either kind of token verifies (nothing attached, nothing audited). */
bool auth_token_is_valid(const app_t *app, const char *token, size_t len);
/* The token an Authorization header value carries, or NULL; *len set. */
const char *auth_token_from_header(const char *value, size_t *len);
/* How the request is authenticated; the token wins over the cookie. A
 * verified token's capability is attached to the request. */
auth_kind_t auth_identify(http_req_t *req);
/* True when the request carries a valid login cookie (either kind). */
bool auth_has_login_cookie(const http_req_t *req);
bool auth_request_is_allowed(http_req_t *req);

/* The gate (see above). False when it has answered the request itself. */
bool auth_admit(http_req_t *req, bool is_public);
/* For a WebSocket upgrade: 0 when allowed, else the status to refuse with
 * (403) and *why a message. */
int auth_ws_status(http_req_t *req, const char **why);
/* The Host check alone: true when allowed (origin.h). */
bool auth_host_is_allowed(const http_req_t *req);
bool auth_origin_is_allowed(const http_req_t *req);

/* True for the paths a browser loads as pages ("/", "/lab...", "/tree...",
 * but not "/lab/api/..."): without credentials they lead to the login form. */
bool auth_is_page_path(const char *path);
/* True for the paths that need the XSRF double submit even on GET when a
 * cookie authenticates them (user content: /files/...). */
bool auth_is_xsrf_get_path(const char *path);

/* Sets the login cookie for token, a valid one (and _xsrf when the request
 * has none) on the response: the server token's cookie, or a capability
 * token's (none when the token is too long for a cookie: the page still
 * holds it). auth_clear_login expires it. */
void auth_issue_login(http_req_t *req, const char *token);
/* Does the request's login cookie already stand for token? */
bool auth_login_cookie_is_for(const http_req_t *req, const char *token);
/* A token that verifies and has not expired: one worth a login cookie. */
bool auth_token_is_live(app_t *app, const char *token, size_t len);
void auth_clear_login(http_req_t *req);

#endif
