/*
 * The login form and logout, as Jupyter Server has them: GET /login asks
 * for the token, POST /login (fields `password` or `token`, `_xsrf`,
 * `next`) checks it, sets the login cookie and redirects to `next`;
 * GET /logout expires the cookie.
 *
 * `next` may only lead inside this server (Jupyter Server has had several
 * open-redirect advisories here): login_next_sanitise keeps a same-origin
 * path under the base URL and turns anything else into the base URL.
 */
#ifndef CELLGATE_LOGIN_H
#define CELLGATE_LOGIN_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"

#define LOGIN_NEXT_MAX 4096

/*
 * Writes where to go after the login into out (n bytes): next when it is a
 * path under base_url -- no scheme or host, no "//", no backslash, no
 * control characters, no ".." segment, in any layer of percent-encoding --
 * with bytes unsafe in a Location header percent-encoded; else base_url.
 * Returns true when next was kept.
 */
bool login_next_sanitise(const char *base_url, const char *next, char *out, size_t n);

void login_page(http_req_t *req);
void login_submit(http_req_t *req);
void logout_page(http_req_t *req);

#endif
