/* The _xsrf double submit. See xsrf.h. */
#include "xsrf.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/util.h"
#include "app.h"
#include "cookie.h"
#include "form.h"

const char *xsrf_cookie(const http_req_t *r, char out[XSRF_MAX])
{
	const char *v = cookie_get(http_header(r, "cookie"), XSRF_COOKIE, out, XSRF_MAX);

	return v && *v ? v : NULL;
}

/* What the request submits: the header, else the query, else a form field. */
static const char *submitted(const http_req_t *r, char out[XSRF_MAX])
{
	const char *v = http_header(r, "x-xsrftoken"), *ctype;
	const char *body;
	size_t len;

	if (v)
		return v;
	v = http_query(r, "_xsrf");
	if (v)
		return v;
	ctype = http_header(r, "content-type");
	if (!ctype || strncasecmp(ctype, "application/x-www-form-urlencoded", 33) != 0)
		return NULL;
	body = http_body(r, &len);
	return form_field(body, len, "_xsrf", out, XSRF_MAX);
}

bool xsrf_is_valid(const http_req_t *r)
{
	char cookie[XSRF_MAX], field[XSRF_MAX];
	const char *c = xsrf_cookie(r, cookie), *s = submitted(r, field);

	return c && s && util_secret_equal(c, strlen(c), s, strlen(s));
}

const char *xsrf_ensure_cookie(http_req_t *r, char out[XSRF_MAX])
{
	char *header;

	if (xsrf_cookie(r, out))
		return out;
	if (util_random_hex(out, 16))
		return NULL;
	/* not HttpOnly: JupyterLab's scripts read it to send it back */
	header = cookie_set_value(XSRF_COOKIE, out, http_app(r)->cfg.base_url, "; SameSite=Lax");
	if (!header)
		return NULL;
	http_add_header(r, "set-cookie", header);
	free(header);
	return out;
}
