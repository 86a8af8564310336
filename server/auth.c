/* Token authentication for HTTP requests and WebSocket upgrades. */
#include "auth.h"

#include <string.h>
#include <strings.h>

#include "../common/util.h"
#include "app.h"

bool auth_token_is_valid(const app_t *app, const char *token, size_t len)
{
	const char *expect = app->cfg.token;

	return token && util_secret_equal(token, len, expect, strlen(expect));
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

bool auth_request_is_allowed(const http_req_t *r)
{
	const app_t *app = http_app(r);
	const char *t;
	size_t len = 0;

	t = auth_token_from_header(http_header(r, "authorization"), &len);
	if (t && auth_token_is_valid(app, t, len))
		return true;
	t = http_query(r, "token");
	return t && auth_token_is_valid(app, t, strlen(t));
}
