/* Token authentication for HTTP requests and WebSocket upgrades. */
#include "auth.h"

#include <string.h>
#include <strings.h>

#include "../common/util.h"
#include "../policy/policy.h"
#include "app.h"
#include "authz.h"

policy_cap_t *auth_token_verify(app_t *app, const char *token, size_t len)
{
	const char *expect = app->cfg.token;
	policy_cap_t *cap;
	err_t err = { 0 };

	if (!token)
		return NULL;
	/* the server's own token: everything, as Jupyter's token is */
	if (util_secret_equal(token, len, expect, strlen(expect)))
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
	const char *expect = app->cfg.token;
	policy_cap_t *cap;
	bool ok;

	if (!token)
		return false;
	if (util_secret_equal(token, len, expect, strlen(expect)))
		return true;
	cap = app->policy ? policy_verify(app->policy, token, len, NULL) : NULL;
	ok = cap != NULL;
	policy_cap_unref(&cap);
	return ok;
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

bool auth_request_is_allowed(http_req_t *r)
{
	const char *t;
	size_t len = 0;

	t = auth_token_from_header(http_header(r, "authorization"), &len);
	if (t && accept_token(r, t, len))
		return true;
	t = http_query(r, "token");
	return t && accept_token(r, t, strlen(t));
}
