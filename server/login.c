/* The login form, its submission, and logout. */
#include "login.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../common/buf.h"
#include "app.h"
#include "auth.h"
#include "cookie.h"
#include "form.h"
#include "xsrf.h"

#define FIELD_MAX (COOKIE_CAP_TOKEN_MAX + 1)

/* The page may style itself and post its form; nothing else. */
#define LOGIN_CSP                                                                   \
	"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; " \
	"frame-ancestors 'none'; base-uri 'none'"

/* --- the page --------------------------------------------------------------- */

static void html_escape(buf_t *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': buf_append_str(b, "&amp;"); break;
		case '<': buf_append_str(b, "&lt;"); break;
		case '>': buf_append_str(b, "&gt;"); break;
		case '"': buf_append_str(b, "&quot;"); break;
		case '\'': buf_append_str(b, "&#39;"); break;
		default: buf_append(b, s, 1); break;
		}
	}
}

static void respond_html(http_req_t *r, int status, buf_t *b)
{
	http_add_header(r, "content-security-policy", LOGIN_CSP);
	http_respond(r, status, "text/html; charset=utf-8", b->data, b->len);
	buf_free(b);
}

static void render_form(http_req_t *r, int status, const char *next, const char *xsrf,
			const char *message)
{
	const char *base = http_app(r)->cfg.base_url;
	buf_t b;

	buf_init(&b, 0);
	buf_append_str(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			   "<meta name=\"viewport\" content=\"width=device-width\">"
			   "<title>cellgate: log in</title><style>"
			   "body{font-family:sans-serif;max-width:28em;margin:4em auto;padding:0 1em}"
			   "input{font-size:1em;padding:.3em}input[type=password]{width:100%}"
			   ".error{color:#a00}</style></head><body>\n<h1>cellgate</h1>\n");
	if (message) {
		buf_append_str(&b, "<p class=\"error\" role=\"alert\">");
		html_escape(&b, message);
		buf_append_str(&b, "</p>\n");
	}
	buf_append_str(&b, "<form method=\"post\" action=\"");
	html_escape(&b, base);
	buf_append_str(&b, "login\">\n<p><label for=\"password\">Token</label><br>"
			   "<input type=\"password\" id=\"password\" name=\"password\" "
			   "autocomplete=\"current-password\" autofocus required></p>\n"
			   "<input type=\"hidden\" name=\"_xsrf\" value=\"");
	html_escape(&b, xsrf ? xsrf : "");
	buf_append_str(&b, "\">\n<input type=\"hidden\" name=\"next\" value=\"");
	html_escape(&b, next);
	buf_append_str(&b, "\">\n<p><input type=\"submit\" value=\"Log in\"></p>\n</form>\n"
			   "<p>The token is in the URL the server printed when it started "
			   "(<code>?token=...</code>).</p>\n</body></html>\n");
	respond_html(r, status, &b);
}

static void redirect(http_req_t *r, const char *location)
{
	http_add_header(r, "location", location);
	http_respond(r, 302, "text/plain; charset=utf-8", "", 0);
}

void login_page(http_req_t *r)
{
	const char *base = http_app(r)->cfg.base_url, *t = http_query(r, "token");
	char next[LOGIN_NEXT_MAX], xsrf[XSRF_MAX];

	login_next_sanitise(base, http_query(r, "next"), next, sizeof next);
	switch (auth_identify(r)) {
	case AUTH_TOKEN:
		if (t && auth_token_is_live(http_app(r), t, strlen(t)) &&
		    !auth_login_cookie_is_for(r, t))
			auth_issue_login(r, t);
		redirect(r, next);
		return;
	case AUTH_COOKIE:
		redirect(r, next);
		return;
	case AUTH_NONE:
		break;
	}
	render_form(r, 200, next, xsrf_ensure_cookie(r, xsrf), NULL);
}

/* A field of the form body (application/x-www-form-urlencoded), or NULL. */
static const char *field(const http_req_t *r, const char *name, char *out, size_t n)
{
	const char *ctype = http_header(r, "content-type"), *body, *v;
	size_t len;

	if (ctype && strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0) {
		body = http_body(r, &len);
		v = form_field(body, len, name, out, n);
		if (v)
			return v;
	}
	return NULL;
}

void login_submit(http_req_t *r)
{
	const char *base = http_app(r)->cfg.base_url, *token, *n;
	char next[LOGIN_NEXT_MAX], xsrf[XSRF_MAX], pw[FIELD_MAX], nbuf[LOGIN_NEXT_MAX];

	if (!auth_origin_is_allowed(r)) {
		http_respond_error(r, 403, "cross-origin request refused; see --allow-origin");
		return;
	}
	if (!xsrf_is_valid(r)) {
		http_respond_error(r, 403, "'_xsrf' argument missing or not matching the _xsrf cookie");
		return;
	}
	n = field(r, "next", nbuf, sizeof nbuf);
	login_next_sanitise(base, n ? n : http_query(r, "next"), next, sizeof next);
	token = field(r, "password", pw, sizeof pw);
	if (!token || !*token)
		token = field(r, "token", pw, sizeof pw);
	/* the server's token, or a capability token: each earns its own cookie */
	if (!token || !auth_token_is_live(http_app(r), token, strlen(token))) {
		explicit_bzero(pw, sizeof pw);
		render_form(r, 403, next, xsrf_cookie(r, xsrf), "Invalid token.");
		return;
	}
	auth_issue_login(r, token);
	explicit_bzero(pw, sizeof pw);
	redirect(r, next);
}

void logout_page(http_req_t *r)
{
	const char *base = http_app(r)->cfg.base_url;
	buf_t b;

	auth_clear_login(r);
	buf_init(&b, 0);
	buf_append_str(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			   "<title>cellgate: logged out</title></head><body>\n"
			   "<h1>cellgate</h1>\n<p>You are logged out. <a href=\"");
	html_escape(&b, base);
	buf_append_str(&b, "login\">Log in again</a>.</p>\n</body></html>\n");
	respond_html(r, 200, &b);
}
