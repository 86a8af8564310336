/*
 * Cookies: reading one from a Cookie header, and the signed login cookie.
 *
 * The login cookie's value is "1.<issued>.<nonce>.<mac>": version, Unix
 * seconds it was issued, 32 random hex digits, and the HMAC-SHA256 (hex)
 * of "1.<issued>.<nonce>" under the login key. The login key is derived
 * from the cookie secret (STATE/cookie_secret, 0600, outside the
 * workspace) and the token, so a new token makes every cookie signed under
 * the old one worthless, and deleting the file does the same. That cookie
 * stands for the server's token (root).
 *
 * A capability token (policy/) earns a cookie of its own instead:
 * "2.<issued>.<token>.<mac>", the HMAC over "2.<issued>.<token>" under the
 * same key. It carries the token itself, so the browser's requests are
 * exactly as narrow as the token, and the server verifies the token again
 * on every request (expiry, a removed principal). The MAC only says this
 * server issued it, so a cookie planted by another site is refused.
 */
#ifndef CELLGATE_COOKIE_H
#define CELLGATE_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

#define COOKIE_KEY_LEN 32
/* "1." + 20 digits + "." + 32 + "." + 64 + NUL, with room */
#define COOKIE_LOGIN_MAX 128
/* A login cookie is good for 30 days, as Tornado's secure cookies. */
#define COOKIE_LOGIN_MAX_AGE (30 * 24 * 3600)
#define COOKIE_NAME_MAX 96

/*
 * Copies the value of the first cookie called name in a Cookie header into
 * out (n bytes); returns out, or NULL when absent or too long.
 */
const char *cookie_get(const char *header, const char *name, char *out, size_t n);

/* A Set-Cookie header value: "name=value; Path=path" and attrs ("; ..."
 * each). Caller owns the returned string; NULL when out of memory. */
char *cookie_set_value(const char *name, const char *value, const char *path, const char *attrs);

/* Reads STATE/cookie_secret, creating it (0600, random) when absent; a file
 * that is not a regular file of ours, or is readable by others, is refused. */
int cookie_secret_load(const char *state_dir, uint8_t secret[COOKIE_KEY_LEN], err_t *err);
/* The key login cookies are signed with: HMAC(secret, label || SHA-256(token)). */
void cookie_key_derive(const uint8_t secret[COOKIE_KEY_LEN], const char *token,
		       uint8_t key[COOKIE_KEY_LEN]);

/* A login cookie value issued at `issued` (Unix seconds) with a fresh nonce. */
int cookie_login_sign(const uint8_t key[COOKIE_KEY_LEN], long long issued,
		      char out[COOKIE_LOGIN_MAX]);
/* True when value was signed under key and is not older than max_age at now
 * (nor issued in the future); the MAC is compared in constant time. */
bool cookie_login_verify(const uint8_t key[COOKIE_KEY_LEN], const char *value, long long now,
			 long long max_age);

/* A capability token longer than this earns no cookie: browsers keep
 * 4096 bytes of name and value at most. The page still holds the token. */
#define COOKIE_CAP_TOKEN_MAX 3000
#define COOKIE_VALUE_MAX (COOKIE_CAP_TOKEN_MAX + 128)

/* A capability cookie value for token (printable, no ';' ',' or space),
 * issued at `issued`; CG_EINVAL when the token cannot be one. */
int cookie_cap_sign(const uint8_t key[COOKIE_KEY_LEN], long long issued, const char *token,
		    char out[COOKIE_VALUE_MAX]);
/* The token in a capability cookie value signed under key and not older
 * than max_age at now, copied to token (size n); NULL otherwise. */
const char *cookie_cap_verify(const uint8_t key[COOKIE_KEY_LEN], const char *value, long long now,
			      long long max_age, char *token, size_t n);

/*
 * The login cookie's name for the Host a request came to: "cellgate-" and
 * the host with every character but letters and digits made '-'. Browsers
 * share cookies between the ports of one host; the port in the name keeps
 * two servers on one machine from logging each other out.
 */
void cookie_login_name(const char *host, char out[COOKIE_NAME_MAX]);

#endif
