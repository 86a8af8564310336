/* /api/sessions: notebooks, consoles and files bound to kernels. */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "authz.h"
#include "handlers.h"
#include "kernel_start.h"
#include "sessions.h"

/* What a create or a change asks for, kept across the kernel's start. */
typedef struct session_op {
	char *session_id; /* NULL when creating */
	char *path, *name, *type;
} session_op_t;

static void op_free(session_op_t *op)
{
	free(op->session_id);
	free(op->path);
	free(op->name);
	free(op->type);
	free(op);
}

static char *dup_opt(const char *s)
{
	return s ? strdup(s) : NULL;
}

static session_op_t *op_new(const char *session_id, const char *path, const char *name,
			    const char *type)
{
	session_op_t *op = calloc(1, sizeof *op);

	if (!op)
		return NULL;
	op->session_id = dup_opt(session_id);
	op->path = dup_opt(path);
	op->name = dup_opt(name);
	op->type = dup_opt(type);
	return op;
}

/* The kernel's working directory: the notebook's directory. */
static void dir_of(const char *path, char *out, size_t size)
{
	char copy[PATH_MAX];

	snprintf(copy, sizeof copy, "%s", path ? path : "");
	snprintf(out, size, "%s", strchr(copy, '/') ? dirname(copy) : "");
}

static void respond_session(http_req_t *req, int status, const session_t *s)
{
	app_t *app = http_app(req);
	char location[160];

	if (status == 201) {
		snprintf(location, sizeof location, "%sapi/sessions/%s", app->cfg.base_url,
			 session_id(s));
		http_add_header(req, "location", location);
	}
	http_respond_json(req, status, session_model(app->sessions, s));
}

/* The session the route names, or NULL after answering 404. */
static session_t *named_session(http_req_t *req)
{
	session_t *s = sessions_find(http_app(req)->sessions, http_param(req, 0));

	if (!s)
		http_respond_error(req, 404, "no such session: %s", http_param(req, 0));
	return s;
}

void api_sessions_list(http_req_t *req)
{
	sessions_t *all = http_app(req)->sessions;
	json_t *list = json_array();

	for (session_t *s = sessions_next(all, NULL); s; s = sessions_next(all, s)) {
		policy_resource_t res = { .path = session_path(s) };

		/* a narrowed token sees the sessions of the notebooks it may read */
		if (authz_may(req, POLICY_READ, &res))
			json_array_append_new(list, session_model(all, s));
	}
	http_respond_json(req, 200, list);
}

static void on_created(http_req_t *req, kernel_t *k, void *arg)
{
	session_op_t *op = arg;
	session_t *s;

	if (k) {
		s = sessions_add(http_app(req)->sessions, op->path, op->name, op->type, kernel_id(k));
		if (s)
			respond_session(req, 201, s);
		else
			http_respond_error(req, 500, "out of memory");
	}
	op_free(op);
}

/* Every field a session body may carry must be a string when present. */
static bool body_is_valid(json_t *body)
{
	json_t *kernel = json_object_get(body, "kernel");

	return json_is_optional_string(json_object_get(body, "path")) &&
	       json_is_optional_string(json_object_get(body, "name")) &&
	       json_is_optional_string(json_object_get(body, "type")) &&
	       (!kernel || json_is_null(kernel) ||
		(json_is_object(kernel) && json_is_optional_string(json_object_get(kernel, "id")) &&
		 json_is_optional_string(json_object_get(kernel, "name"))));
}

/* The path a request names: "path", or the older "notebook": {"path"}. */
static const char *body_path(json_t *body)
{
	const char *path = json_string_value(json_object_get(body, "path"));

	if (!path)
		path = json_string_value(json_object_get(json_object_get(body, "notebook"), "path"));
	return path;
}

/* Binding a session to a running kernel is executing in it. */
static bool may_use_kernel(http_req_t *req, const char *kid)
{
	app_t *app = http_app(req);
	policy_resource_t res;
	char path[PATH_MAX];

	authz_kernel_resource(app, kmgr_find(app->kernels, kid), &res, path, sizeof path);
	return authz_require(req, POLICY_EXECUTE, &res);
}

void api_sessions_create(http_req_t *req)
{
	app_t *app = http_app(req);
	json_t *body = http_body_json(req), *kernel;
	const char *path, *type, *name, *kid, *spec, *trust = NULL;
	char cwd[PATH_MAX], *def = NULL, msg[256];
	session_t *existing;
	session_op_t *op;

	if (!body)
		return;
	if (!body_is_valid(body)) {
		http_respond_error(req, 400, "session fields must be strings");
		goto out;
	}
	path = body_path(body);
	type = json_string_value(json_object_get(body, "type"));
	name = json_string_value(json_object_get(body, "name"));
	kernel = json_object_get(body, "kernel");
	kid = json_string_value(json_object_get(kernel, "id"));
	spec = json_string_value(json_object_get(kernel, "name"));
	if (kernel_trust_parse(json_object_get(kernel, "cellgate"), &trust, msg, sizeof msg)) {
		http_respond_error(req, 400, "%s", msg);
		goto out;
	}
	if (!path) {
		http_respond_error(req, 400, "a session needs a \"path\"");
		goto out;
	}
	/* a session is for running code in that notebook: checked here for a
	 * session that exists or a kernel that runs, by kernel_start_for for a
	 * new kernel (one check, so at most one prompt, per request) */
	existing = sessions_find_path(app->sessions, path);
	if (existing) {
		if (authz_require_path(req, POLICY_EXECUTE, path, NULL))
			respond_session(req, 201, existing);
		goto out;
	}
	if (!type)
		type = "notebook";
	if (kid) {
		session_t *s;

		if (!kmgr_find(app->kernels, kid)) {
			http_respond_error(req, 404, "no such kernel: %s", kid);
			goto out;
		}
		if (!authz_require_path(req, POLICY_EXECUTE, path, NULL) || !may_use_kernel(req, kid))
			goto out;
		s = sessions_add(app->sessions, path, name, type, kid);
		if (s)
			respond_session(req, 201, s);
		else
			http_respond_error(req, 500, "out of memory");
		goto out;
	}
	if (!spec || !*spec)
		spec = def = kernel_default_spec(app->kernels);
	op = op_new(NULL, path, name, type);
	if (!op || !spec) {
		http_respond_error(req, !spec ? 501 : 500, "%s",
				   !spec ? "there is no kernelspec to start" : "out of memory");
		if (op)
			op_free(op);
		goto out;
	}
	dir_of(path, cwd, sizeof cwd);
	kernel_start_for(req, spec, cwd, path, trust, 501, on_created, op);
out:
	free(def);
	json_decref(body);
}

void api_session_get(http_req_t *req)
{
	session_t *s = named_session(req);

	if (s)
		respond_session(req, 200, s);
}

/* Once the replacement kernel is ready: point the session at it and shut
 * the old one down. */
static void on_kernel_changed(http_req_t *req, kernel_t *k, void *arg)
{
	session_op_t *op = arg;
	app_t *app = http_app(req);
	session_t *s = sessions_find(app->sessions, op->session_id);
	kernel_t *old;

	if (k && !s) {
		http_respond_error(req, 404, "the session was deleted meanwhile");
		kernel_shutdown(k, NULL, NULL);
	} else if (k) {
		old = kmgr_find(app->kernels, session_kernel_id(s));
		session_update(s, op->path, op->name, op->type, kernel_id(k));
		if (old && old != k)
			kernel_shutdown(old, NULL, NULL);
		respond_session(req, 200, s);
	}
	op_free(op);
}

void api_session_patch(http_req_t *req)
{
	app_t *app = http_app(req);
	session_t *s = named_session(req);
	json_t *body, *kernel;
	const char *path, *name, *type, *kid, *spec, *trust = NULL;
	char cwd[PATH_MAX], msg[256];
	session_op_t *op;

	if (!s || !(body = http_body_json(req)))
		return;
	if (!body_is_valid(body)) {
		http_respond_error(req, 400, "session fields must be strings");
		json_decref(body);
		return;
	}
	path = body_path(body);
	name = json_string_value(json_object_get(body, "name"));
	type = json_string_value(json_object_get(body, "type"));
	kernel = json_object_get(body, "kernel");
	kid = json_string_value(json_object_get(kernel, "id"));
	spec = json_string_value(json_object_get(kernel, "name"));
	if (kernel_trust_parse(json_object_get(kernel, "cellgate"), &trust, msg, sizeof msg)) {
		http_respond_error(req, 400, "%s", msg);
	} else if ((path && !authz_require_path(req, POLICY_EXECUTE, path, NULL)) ||
	    (kid && kmgr_find(app->kernels, kid) && !may_use_kernel(req, kid))) {
		/* answered */
	} else if (kid && !kmgr_find(app->kernels, kid)) {
		http_respond_error(req, 404, "no such kernel: %s", kid);
	} else if (kid || !spec) {
		kernel_t *old = kmgr_find(app->kernels, session_kernel_id(s));

		if (session_update(s, path, name, type, kid)) {
			http_respond_error(req, 500, "out of memory");
		} else {
			/* moved to another kernel: the old one goes, as in Jupyter Server */
			if (kid && old && strcmp(kernel_id(old), kid) != 0)
				kernel_shutdown(old, NULL, NULL);
			respond_session(req, 200, s);
		}
	} else if (!(op = op_new(session_id(s), path, name, type))) {
		http_respond_error(req, 500, "out of memory");
	} else {
		dir_of(path ? path : session_path(s), cwd, sizeof cwd);
		kernel_start_for(req, spec, cwd, path ? path : session_path(s), trust, 501,
				 on_kernel_changed, op);
	}
	json_decref(body);
}

static void respond_deleted(void *arg, int status, const char *message)
{
	http_req_t *req = arg;

	(void)status;
	(void)message;
	http_respond_empty(req, 204);
	http_release(req);
}

void api_session_delete(http_req_t *req)
{
	app_t *app = http_app(req);
	session_t *s = named_session(req);
	kernel_t *k;

	if (!s)
		return;
	k = kmgr_find(app->kernels, session_kernel_id(s));
	sessions_remove(app->sessions, s);
	if (!k) {
		http_respond_empty(req, 204);
		return;
	}
	http_defer(req);
	kernel_shutdown(k, respond_deleted, req);
}
