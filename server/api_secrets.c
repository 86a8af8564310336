/*
 * Named secrets over the API, for a token with admin (routes.c):
 *
 *   GET    /api/cellgate/secrets          [{"name", "created", "created_by",
 *                                           "updated", "updated_by"}]
 *   PUT    /api/cellgate/secrets/{name}   {"value": "..."}  -> 201 new, 200 replaced
 *   DELETE /api/cellgate/secrets/{name}   -> 204
 *
 * A value goes in and never comes out here: kernels read secrets through
 * the egress broker, one person's approval at a time (egress_broker.c).
 * The body is parsed here rather than with http_body_json, whose error
 * quotes the JSON near the fault, which may be the value, and the body is
 * wiped once used. Setting and deleting are audited by name.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "../common/jparse.h"
#include "../policy/secrets.h"
#include "app.h"
#include "authz.h"
#include "handlers.h"

policy_secrets_t *app_secrets(app_t *app, err_t *err)
{
	if (!app->secrets)
		app->secrets = policy_secrets_open(app->cfg.state, err);
	return app->secrets;
}

static const char *who(http_req_t *req)
{
	policy_cap_t *cap = http_cap(req);

	return cap ? policy_cap_principal(cap) : "server-token";
}

/* The route's name, or a 400. */
static const char *named(http_req_t *req)
{
	const char *name = http_param(req, 0);
	char why[160];

	if (!policy_secret_name_ok(name, why, sizeof why)) {
		http_respond_error(req, 400, "%s", why);
		return NULL;
	}
	return name;
}

static policy_secrets_t *store(http_req_t *req)
{
	err_t err = { 0 };
	policy_secrets_t *s = app_secrets(http_app(req), &err);

	if (!s)
		http_respond_error(req, 500, "the secrets are unavailable: %s", err.msg);
	return s;
}

/* {"value": "..."}: its bytes (UTF-8), or NULL after a 400/413. The
 * caller decrefs *body. */
static const char *body_value(http_req_t *req, json_t **body, size_t *len)
{
	size_t n = 0;
	const char *data = http_body(req, &n);
	const json_t *v;

	*body = n ? jparse(data, n, JSON_REJECT_DUPLICATES, NULL) : NULL;
	if (!*body || !json_is_object(*body)) {
		http_respond_error(req, 400, "the body is a JSON object {\"value\": \"...\"}");
		return NULL;
	}
	v = json_object_get(*body, "value");
	if (!json_is_string(v) || json_object_size(*body) != 1) {
		http_respond_error(req, 400, "the body is {\"value\": \"...\"}, a string and "
				   "nothing else");
		return NULL;
	}
	*len = json_string_length(v);
	if (*len == 0) {
		http_respond_error(req, 400, "a secret's value is not empty");
		return NULL;
	}
	if (*len > SECRET_VALUE_MAX) {
		http_respond_error(req, 413, "a secret's value is at most %d bytes (this one has "
				   "%zu)", SECRET_VALUE_MAX, *len);
		return NULL;
	}
	return json_string_value(v);
}

/* The request carried a value: its bytes, as received and as parsed, are
 * wiped before they are freed with the request. The buffers are the
 * request's own (malloc'd), handed out const only to keep handlers from
 * changing them by mistake. */
static void wipe(http_req_t *req, json_t *body)
{
	size_t n = 0;
	char *data = (char *)http_body(req, &n);
	json_t *v = json_object_get(body, "value");

	if (n)
		OPENSSL_cleanse(data, n);
	if (json_is_string(v))
		OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
	json_decref(body);
}

static void put(http_req_t *req, const char *name)
{
	app_t *app = http_app(req);
	policy_secrets_t *s = store(req);
	json_t *body = NULL;
	const char *value;
	size_t len = 0;
	bool replaced = false;
	char res[100];
	err_t err = { 0 };

	if (!s || !(value = body_value(req, &body, &len))) {
		wipe(req, body);
		return;
	}
	if (policy_secrets_set(s, name, value, len, who(req), &replaced, &err)) {
		wipe(req, body);
		http_respond_err(req, &err);
		return;
	}
	wipe(req, body);
	snprintf(res, sizeof res, "secret %s", name);
	authz_audit(app, who(req), "admin", res, "allow", replaced ? "replaced its value"
								   : "set a new secret");
	http_respond_json(req, replaced ? 200 : 201, json_pack("{s:s, s:b}", "name", name,
							       "replaced", replaced));
}

static void delete(http_req_t *req, const char *name)
{
	app_t *app = http_app(req);
	policy_secrets_t *s = store(req);
	char res[100];
	err_t err = { 0 };

	if (!s)
		return;
	if (policy_secrets_delete(s, name, &err)) {
		http_respond_err(req, &err);
		return;
	}
	snprintf(res, sizeof res, "secret %s", name);
	authz_audit(app, who(req), "admin", res, "allow", "deleted the secret");
	http_respond_empty(req, 204);
}

void api_secrets(http_req_t *req)
{
	policy_secrets_t *s;
	const char *name;
	json_t *list = NULL;
	err_t err = { 0 };

	if (http_method(req) == HTTP_GET || http_method(req) == HTTP_HEAD) {
		if (!(s = store(req)))
			return;
		if (policy_secrets_list(s, &list, &err)) {
			http_respond_err(req, &err);
			return;
		}
		http_respond_json(req, 200, list);
		return;
	}
	if (!(name = named(req)))
		return;
	if (http_method(req) == HTTP_PUT)
		put(req, name);
	else
		delete(req, name);
}
