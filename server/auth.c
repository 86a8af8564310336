/* Token and login-cookie authentication, and the gate in front of every
 * handler. See auth.h. */
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/util.h"
#include "../policy/policy.h"
#include "app.h"
#include "authz.h"
#include "cookie.h"
#include "form.h"
#include "origin.h"
#include "xsrf.h"

#define NEXT_MAX 4096

int auth_init(app_t *app, err_t *err)
{
	uint8_t secret[COOKIE_KEY_LEN];
	int rc = cookie_secret_load(app->cfg.state, secret, err);

	if (rc == 0)
		cookie_key_derive(secret, app->cfg.token, app->login_key);
	explicit_bzero(secret, sizeof secret);
	return rc;
}

bool auth_is_server_token(const app_t *app, const char *token, size_t len)
{
	const char *expect = app->cfg.token;

	return token && util_secret_equal(token, len, expect, strlen(expect));
}

policy_cap_t *auth_token_verify(app_t *app, const char *token, size_t len)
{
	policy_cap_t *cap;
	err_t err = { 0 };

	if (!token)
		return NULL;
	/* the server's own token: everything, as Jupyter's token is */
	if (auth_is_server_token(app, token, len))
		return policy_cap_root();
	if (!app->policy || len < 4 || strncmp(token, "cg1.", 4) != 0)
		return NULL;
	cap = policy_verify(app->policy, token, len, &err);
	/* a capability token that does not verify is worth a record: forged,
	 * tampered with, or its principal was removed */
	if (!cap)
		authz_audit(app, "?", "authenticate", "token", "deny", err.msg);
	return cap;
}

bool auth_token_is_valid(const app_t *app, const char *token, size_t len)
{
	policy_cap_t *cap;
	bool ok;

	if (!token)
		return false;
	if (auth_is_server_token(app, token, len))
		return true;
	cap = app->policy ? policy_verify(app->policy, token, len, NULL) : NULL;
	ok = cap != NULL;
	policy_cap_unref(&cap);
	return ok;
}

bool auth_token_is_live(app_t *app, const char *token, size_t len)
{
	policy_cap_t *cap = auth_token_verify(app, token, len);
	bool live = cap && policy_cap_is_live(cap, util_unix_time(), NULL, 0);

	policy_cap_unref(&cap);
	return live;
}

/* Verifies a presented token and gives the request its capability. */
static bool accept_token(http_req_t *r, const char *token, size_t len)
{
	policy_cap_t *cap = auth_token_verify(http_app(r), token, len);

	if (!cap)
		return false;
	http_set_cap(r, cap);
	return true;
}

const char *auth_token_from_header(const char *value, size_t *len)
{
	const char *p;

	if (!value)
		return NULL;
	if (strncasecmp(value, "token ", 6) == 0)
		p = value + 6;
	else if (strncasecmp(value, "bearer ", 7) == 0)
		p = value + 7;
	else
		return NULL;
	while (*p == ' ')
		p++;
	*len = strlen(p);
	while (*len && p[*len - 1] == ' ')
		(*len)--;
	return p;
}

/* A token in the header or the query that verifies; the request gets its
 * capability (the server's token: root). */
static bool has_token(http_req_t *r)
{
	const char *t;
	size_t len = 0;

	if (http_cap(r))
		return !http_cap_is_by_cookie(r);
	t = auth_token_from_header(http_header(r, "authorization"), &len);
	if (t && accept_token(r, t, len))
		return true;
	t = http_query(r, "token");
	return t && accept_token(r, t, strlen(t));
}

typedef enum login_cookie {
	LOGIN_NONE,
	LOGIN_ROOT, /* stands for the server's token */
	LOGIN_CAP,  /* carries a capability token */
} login_cookie_t;

/* What the request's login cookie stands for; a capability cookie's token
 * is copied to token (n bytes). Signature and age only: the token inside
 * is verified by the caller. */
static login_cookie_t read_login_cookie(const http_req_t *r, char *token, size_t n)
{
	char name[COOKIE_NAME_MAX], value[COOKIE_VALUE_MAX];
	const uint8_t *key = http_app(r)->login_key;
	long long now = (long long)util_unix_time();
	login_cookie_t kind = LOGIN_NONE;

	cookie_login_name(http_header(r, "host"), name);
	if (!cookie_get(http_header(r, "cookie"), name, value, sizeof value))
		return LOGIN_NONE;
	if (cookie_login_verify(key, value, now, COOKIE_LOGIN_MAX_AGE))
		kind = LOGIN_ROOT;
	else if (cookie_cap_verify(key, value, now, COOKIE_LOGIN_MAX_AGE, token, n))
		kind = LOGIN_CAP;
	explicit_bzero(value, sizeof value);
	return kind;
}

/* A capability cookie's token, verified as a presented one is, and live:
 * an expired token's cookie is no credential (a page leads to the login
 * form rather than to a 403). */
static policy_cap_t *cookie_cap(const http_req_t *r)
{
	char token[COOKIE_CAP_TOKEN_MAX + 1];
	policy_cap_t *cap = NULL;

	if (read_login_cookie(r, token, sizeof token) == LOGIN_CAP) {
		cap = auth_token_verify(http_app(r), token, strlen(token));
		if (cap && !policy_cap_is_live(cap, util_unix_time(), NULL, 0))
			policy_cap_unref(&cap);
	}
	explicit_bzero(token, sizeof token);
	return cap;
}

bool auth_has_login_cookie(const http_req_t *r)
{
	char token[COOKIE_CAP_TOKEN_MAX + 1];
	login_cookie_t kind = read_login_cookie(r, token, sizeof token);

	explicit_bzero(token, sizeof token);
	return kind != LOGIN_NONE;
}

/* Does the login cookie already stand for this token? Then a page loaded
 * with it in the URL need not set the cookie again. */
bool auth_login_cookie_is_for(const http_req_t *r, const char *t)
{
	char token[COOKIE_CAP_TOKEN_MAX + 1];
	bool same = false;

	switch (read_login_cookie(r, token, sizeof token)) {
	case LOGIN_ROOT:
		same = auth_is_server_token(http_app(r), t, strlen(t));
		break;
	case LOGIN_CAP:
		same = util_secret_equal(token, strlen(token), t, strlen(t));
		break;
	case LOGIN_NONE:
		break;
	}
	explicit_bzero(token, sizeof token);
	return same;
}

auth_kind_t auth_identify(http_req_t *r)
{
	policy_cap_t *cap;
	char token[COOKIE_CAP_TOKEN_MAX + 1];
	login_cookie_t kind;

	if (has_token(r))
		return AUTH_TOKEN;
	if (http_cap_is_by_cookie(r))
		return AUTH_COOKIE;
	kind = read_login_cookie(r, token, sizeof token);
	explicit_bzero(token, sizeof token);
	if (kind == LOGIN_ROOT)
		return AUTH_COOKIE;
	if (kind == LOGIN_CAP && (cap = cookie_cap(r))) {
		http_set_cap_by_cookie(r, cap);
		return AUTH_COOKIE;
	}
	return AUTH_NONE;
}

bool auth_request_is_allowed(http_req_t *r)
{
	return auth_identify(r) != AUTH_NONE;
}

bool auth_host_is_allowed(const http_req_t *r)
{
	const config_t *cfg = &http_app(r)->cfg;

	return !origin_is_loopback_bind(cfg->ip) ||
	       origin_host_is_allowed(http_header(r, "host"), cfg->ip, cfg->allow_host);
}

bool auth_origin_is_allowed(const http_req_t *r)
{
	return origin_is_allowed(http_header(r, "origin"), http_header(r, "host"),
				 http_app(r)->cfg.allow_origin);
}

/* --- paths ----------------------------------------------------------------- */

/* True when path is prefix or lies below it ("/lab" and "/lab/x", not "/labx"). */
static bool under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

bool auth_is_page_path(const char *path)
{
	static const char *const pages[] = { "/lab", "/tree", "/notebooks", "/edit", "/doc",
					     "/consoles" };

	if (strcmp(path, "/") == 0)
		return true;
	if (under(path, "/lab/api"))
		return false;
	for (size_t i = 0; i < sizeof pages / sizeof *pages; i++)
		if (under(path, pages[i]))
			return true;
	return false;
}

bool auth_is_xsrf_get_path(const char *path)
{
	return under(path, "/files");
}

/* --- cookies ----------------------------------------------------------------- */

void auth_issue_login(http_req_t *r, const char *token)
{
	const app_t *app = http_app(r);
	char name[COOKIE_NAME_MAX], value[COOKIE_VALUE_MAX], attrs[64], xsrf[XSRF_MAX], *header;
	long long now = (long long)util_unix_time();
	bool is_root = auth_is_server_token(app, token, strlen(token));

	cookie_login_name(http_header(r, "host"), name);
	if (is_root ? cookie_login_sign(app->login_key, now, value) :
		      cookie_cap_sign(app->login_key, now, token, value))
		return;
	snprintf(attrs, sizeof attrs, "; Max-Age=%d; HttpOnly; SameSite=Lax", COOKIE_LOGIN_MAX_AGE);
	header = cookie_set_value(name, value, app->cfg.base_url, attrs);
	if (!header)
		return;
	http_add_header(r, "set-cookie", header);
	explicit_bzero(header, strlen(header));
	explicit_bzero(value, sizeof value);
	free(header);
	xsrf_ensure_cookie(r, xsrf);
}

void auth_clear_login(http_req_t *r)
{
	char name[COOKIE_NAME_MAX], *header;

	cookie_login_name(http_header(r, "host"), name);
	header = cookie_set_value(name, "", http_app(r)->cfg.base_url,
				  "; Max-Age=0; HttpOnly; SameSite=Lax");
	if (header)
		http_add_header(r, "set-cookie", header);
	free(header);
}

/* --- the gate ------------------------------------------------------------------ */

static bool is_state_changing(http_method_t m)
{
	return m == HTTP_POST || m == HTTP_PUT || m == HTTP_PATCH || m == HTTP_DELETE;
}

/* Appends "&name=value" (encoded) to next; false when it does not fit. */
static bool append_param(char *next, size_t n, const char *name, const char *value, bool first)
{
	char ename[256], evalue[NEXT_MAX];
	size_t len = strlen(next);

	if (!form_encode(name, ename, sizeof ename) || !form_encode(value, evalue, sizeof evalue))
		return false;
	if ((size_t)snprintf(next + len, n - len, "%s%s=%s", first ? "?" : "&", ename, evalue) <
	    n - len)
		return true;
	next[len] = '\0'; /* no half a parameter */
	return false;
}

/* 302 to the login form, with the page (and those of its query parameters
 * that JupyterLab reads) as next. */
static void redirect_to_login(http_req_t *r)
{
	const char *base = http_app(r)->cfg.base_url;
	char next[NEXT_MAX], enext[3 * NEXT_MAX], location[3 * NEXT_MAX + 256];
	static const char *const keep[] = { "reset", "path", "clone", "kernel_name", "factory" };
	bool first = true;

	snprintf(next, sizeof next, "%s", base);
	if (!form_encode(http_path(r) + 1, next + strlen(next), sizeof next - strlen(next)))
		snprintf(next, sizeof next, "%s", base);
	/* only query parameters JupyterLab's pages are known to read: no
	 * credentials (token, _xsrf) end up in a URL that may be logged */
	for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
		const char *v = http_query(r, keep[i]);

		if (v && append_param(next, sizeof next, keep[i], v, first))
			first = false;
	}
	if (!form_encode(next, enext, sizeof enext))
		snprintf(enext, sizeof enext, "%s", base);
	snprintf(location, sizeof location, "%slogin?next=%s", base, enext);
	http_add_header(r, "location", location);
	http_respond(r, 302, "text/plain; charset=utf-8", "", 0);
}

static bool refuse(http_req_t *r, const char *message)
{
	http_respond_error(r, 403, "%s", message);
	return false;
}

bool auth_admit(http_req_t *r, bool is_public)
{
	http_method_t m = http_method(r);
	auth_kind_t kind;
	char xsrf[XSRF_MAX];
	const char *t;

	if (!auth_host_is_allowed(r))
		return refuse(r, "this Host is not allowed; see --allow-host");
	if (is_public)
		return true;
	kind = auth_identify(r);
	if (kind == AUTH_NONE) {
		if ((m == HTTP_GET || m == HTTP_HEAD) && auth_is_page_path(http_path(r))) {
			redirect_to_login(r);
			return false;
		}
		return refuse(r, "a valid token is required");
	}
	if (kind == AUTH_COOKIE && is_state_changing(m)) {
		if (!auth_origin_is_allowed(r))
			return refuse(r, "cross-origin request refused; see --allow-origin");
		if (!xsrf_is_valid(r))
			return refuse(r, "'_xsrf' argument missing or not matching the _xsrf cookie");
	}
	if (kind == AUTH_COOKIE && auth_is_xsrf_get_path(http_path(r)) && !xsrf_is_valid(r))
		return refuse(r, "'_xsrf' argument missing or not matching the _xsrf cookie");
	if (m == HTTP_GET && kind == AUTH_TOKEN && (t = http_query(r, "token")) &&
	    auth_token_is_valid(http_app(r), t, strlen(t)) && !auth_login_cookie_is_for(r, t))
		auth_issue_login(r, t);
	else if (m == HTTP_GET && auth_is_page_path(http_path(r)))
		xsrf_ensure_cookie(r, xsrf);
	return true;
}

int auth_ws_status(http_req_t *r, const char **why)
{
	auth_kind_t kind;

	if (!auth_host_is_allowed(r)) {
		*why = "this Host is not allowed; see --allow-host";
		return 403;
	}
	kind = auth_identify(r);
	if (kind == AUTH_NONE) {
		*why = "a valid token is required";
		return 403;
	}
	if (kind == AUTH_COOKIE && !auth_origin_is_allowed(r)) {
		*why = "cross-origin WebSocket refused; see --allow-origin";
		return 403;
	}
	return 0;
}
