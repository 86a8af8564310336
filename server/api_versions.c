/*
 * /api/cellgate/: cellgate's own API over the notebook store.
 *
 *   GET    versions/{path}     a notebook's log on a branch (?branch= ?limit=)
 *   GET    version/{id}        one version and its notebook (?format=ipynb: the file's bytes)
 *   GET    branches/{path}     the branches, and which one the file shows
 *   POST   branches/{path}     {"name", "from"}: a branch at a version or a branch's head
 *   DELETE branches/{path}     ?name=: the pointer only; versions stay readable
 *   POST   checkout/{path}     {"branch"}: the working copy shows that branch
 *   GET    diff                ?from=&to=: cell-level diff of two versions
 *
 * Paths are contents paths (cpath_check) and the working copy is touched
 * only through contents_store.c, so the contents API's confinement holds.
 * Errors are JSON {"message", "reason"}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/buf.h"
#include "../common/log.h"
#include "../notebook-store/nbdiff.h"
#include "../notebook-store/nbformat.h"
#include "app.h"
#include "contents.h"
#include "app_store.h"
#include "authz.h"
#include "handlers.h"

typedef struct vop {
	http_req_t *req;
	app_t *app;
	cpath_root_t root;
	char rel[CPATH_MAX];
} vop_t;

/* Checks the {path*} parameter and opens the workspace; answers on failure. */
static int vop_open(vop_t *op, http_req_t *req)
{
	const char *api = http_param(req, 0);
	err_t err = { 0 };

	op->req = req;
	op->app = http_app(req);
	op->root.fd = -1;
	if (!api || !*api) {
		http_respond_error(req, 400, "a notebook path is required");
		return -1;
	}
	if (cpath_check(api, strlen(api), op->app->cfg.allow_hidden, op->rel, &err) ||
	    cpath_root_open(&op->root, op->app->cfg.root, op->app->cfg.allow_hidden, &err)) {
		http_respond_err(req, &err);
		return -1;
	}
	if (!*op->rel) {
		http_respond_error(req, 400, "a notebook path is required");
		return -1;
	}
	return 0;
}

static void vop_close(vop_t *op)
{
	cpath_root_close(&op->root);
}

/* Brings the store up to date with the working copy before answering: an
 * edit on disk is a version the caller should see. A missing file is fine
 * (its versions stay readable). */
static void sync_quietly(vop_t *op)
{
	char id[STORE_ID_LEN];
	err_t err = { 0 };

	if (contents_sync_notebook(op->app, &op->root, op->rel, id, &err) != 0 &&
	    err.code != CG_ENOTFOUND)
		log_msg(LOG_WARN, "versions", "%s: not reconciled with the store: %s", op->rel, err.msg);
}

static bool query_branch(http_req_t *req, const char *name, const char **out)
{
	const char *b = http_query(req, name);
	err_t err = { 0 };

	*out = b;
	if (b && store_check_branch(b, &err) != 0) {
		http_respond_err(req, &err);
		return false;
	}
	return true;
}

/* A 404 for a branch; when the notebook was deleted, the answer names the
 * branch its history was kept under (the newest). */
static void not_found_hint(vop_t *op, const char *branch)
{
	json_t *list = NULL, *b;
	const char *kept = NULL;
	size_t i;

	if (store_branch_list(op->app->store, op->rel, &list, NULL) == 0)
		json_array_foreach(list, i, b) {
			const char *name = json_string_value(json_object_get(b, "name"));

			if (name && strncmp(name, "deleted/", 8) == 0)
				kept = name;
		}
	if (kept)
		http_respond_error(op->req, 404, "no branch '%s' for '%s'; it was deleted and its history "
				   "kept on branch '%s'", branch, op->rel, kept);
	else
		http_respond_error(op->req, 404, "no branch '%s' for '%s'", branch, op->rel);
	json_decref(list);
}

void api_versions_log(http_req_t *req)
{
	char checked_out[STORE_MAX_BRANCH + 1];
	const char *branch, *limit_s;
	unsigned long limit = 0;
	json_t *log = NULL;
	err_t err = { 0 };
	vop_t op;

	if (!app_store_ready(req))
		return;
	if (vop_open(&op, req))
		goto out;
	if (!query_branch(req, "branch", &branch))
		goto out;
	limit_s = http_query(req, "limit");
	if (limit_s) {
		char *end;

		limit = strtoul(limit_s, &end, 10);
		if (!*limit_s || *end || limit > 1000000) {
			http_respond_error(req, 400, "\"limit\" must be a number from 0 to 1000000");
			goto out;
		}
	}
	sync_quietly(&op);
	contents_store_branch(op.app, op.rel, checked_out);
	if (!branch)
		branch = checked_out;
	if (store_log(op.app->store, op.rel, branch, limit, &log, &err)) {
		if (err.code == CG_ENOTFOUND)
			not_found_hint(&op, branch);
		else
			http_respond_err(req, &err);
		goto out;
	}
	http_respond_json(req, 200, json_pack("{s:s, s:s, s:o}", "path", op.rel, "branch", branch,
					      "versions", log));
out:
	vop_close(&op);
}

static bool version_param(http_req_t *req, const char *v, const char *what)
{
	if (!v || store_check_version_id(v, NULL) != 0) {
		http_respond_error(req, 400, "%s must be a version id (32 lowercase hex digits)",
				   what);
		return false;
	}
	return true;
}

void api_version_get(http_req_t *req)
{
	const char *id = http_param(req, 0), *format = http_query(req, "format");
	app_t *app = http_app(req);
	json_t *info = NULL, *nb = NULL;
	err_t err = { 0 };

	if (!app_store_ready(req))
		return;
	if (!version_param(req, id, "the version"))
		return;
	if (format && strcmp(format, "ipynb") && strcmp(format, "json")) {
		http_respond_error(req, 400, "\"format\" is ipynb or json");
		return;
	}
	if (store_version_info(app->store, id, &info, &err) ||
	    store_load(app->store, id, &nb, &err)) {
		http_respond_err(req, &err);
		goto out;
	}
	if (format && strcmp(format, "ipynb") == 0) {
		buf_t b;

		buf_init(&b, NBFORMAT_MAX_BYTES);
		if (nbformat_write(nb, &b) != 0)
			http_respond_error(req, 500, "the notebook cannot be written");
		else
			http_respond(req, 200, "application/x-ipynb+json", b.data, b.len);
		buf_free(&b);
		goto out;
	}
	json_object_set(info, "content", nb);
	http_respond_json(req, 200, json_incref(info));
out:
	json_decref(info);
	json_decref(nb);
}

static void branches_list(vop_t *op)
{
	char checked_out[STORE_MAX_BRANCH + 1];
	json_t *list = NULL;
	err_t err = { 0 };

	sync_quietly(op);
	if (store_branch_list(op->app->store, op->rel, &list, &err)) {
		http_respond_err(op->req, &err);
		return;
	}
	if (json_array_size(list) == 0) {
		json_decref(list);
		http_respond_error(op->req, 404, "the store has no versions of '%s'", op->rel);
		return;
	}
	contents_store_branch(op->app, op->rel, checked_out);
	http_respond_json(op->req, 200,
			  json_pack("{s:s, s:s, s:o}", "path", op->rel, "checked_out",
				    checked_out, "branches", list));
}

static void branches_create(vop_t *op)
{
	json_t *body = http_body_json(op->req), *name_v, *from_v;
	char checked_out[STORE_MAX_BRANCH + 1], at[STORE_ID_LEN];
	const char *name, *from;
	err_t err = { 0 };

	if (!body)
		return;
	name_v = json_object_get(body, "name");
	from_v = json_object_get(body, "from");
	if (!json_is_string(name_v) || !json_is_optional_string(from_v)) {
		http_respond_error(op->req, 400, "the body is {\"name\": branch, \"from\": version or branch}");
		goto out;
	}
	name = json_string_value(name_v);
	from = json_string_value(from_v);
	if (store_check_branch(name, &err)) {
		http_respond_err(op->req, &err);
		goto out;
	}
	if (!authz_require(op->req, POLICY_WRITE,
			   &(policy_resource_t){ .path = op->rel, .branch = name }))
		goto out;
	sync_quietly(op);
	contents_store_branch(op->app, op->rel, checked_out);
	if (!from || !*from)
		from = checked_out;
	if (store_check_version_id(from, NULL) == 0) {
		json_t *info = NULL;

		/* a version of another notebook is not a starting point here */
		if (store_version_info(op->app->store, from, &info, &err)) {
			http_respond_err(op->req, &err);
			goto out;
		}
		if (strcmp(json_string_value(json_object_get(info, "path")), op->rel) != 0) {
			json_decref(info);
			http_respond_error(op->req, 400, "version %s is not a version of '%s'", from, op->rel);
			goto out;
		}
		json_decref(info);
		memcpy(at, from, STORE_ID_LEN);
	} else if (store_check_branch(from, NULL) != 0) {
		http_respond_error(op->req, 400, "\"from\" must be a version id or a branch name");
		goto out;
	} else if (store_branch_head(op->app->store, op->rel, from, at, &err)) {
		http_respond_err(op->req, &err);
		goto out;
	}
	if (store_branch_create(op->app->store, op->rel, name, at, &err)) {
		http_respond_err(op->req, &err);
		goto out;
	}
	http_respond_json(op->req, 201, json_pack("{s:s, s:s, s:s}", "path", op->rel, "name", name,
						  "version", at));
out:
	json_decref(body);
}

static void branches_delete(vop_t *op)
{
	char checked_out[STORE_MAX_BRANCH + 1];
	const char *name;
	err_t err = { 0 };

	if (!query_branch(op->req, "name", &name))
		return;
	if (!name) {
		http_respond_error(op->req, 400, "?name= names the branch to delete");
		return;
	}
	contents_store_branch(op->app, op->rel, checked_out);
	if (strcmp(name, checked_out) == 0) {
		http_respond_error(op->req, 409, "'%s' is checked out in '%s'; check out another branch first",
				   name, op->rel);
		return;
	}
	if (store_branch_delete(op->app->store, op->rel, name, &err))
		http_respond_err(op->req, &err);
	else
		http_respond_empty(op->req, 204);
}

void api_versions_branches(http_req_t *req)
{
	vop_t op;

	if (!app_store_ready(req))
		return;
	if (vop_open(&op, req) == 0) {
		switch (http_method(req)) {
		case HTTP_POST: branches_create(&op); break;
		case HTTP_DELETE: branches_delete(&op); break;
		default: branches_list(&op); break;
		}
	}
	vop_close(&op);
}

void api_versions_checkout(http_req_t *req)
{
	json_t *body = NULL, *branch_v;
	char id[STORE_ID_LEN];
	err_t err = { 0 };
	vop_t op;

	if (!app_store_ready(req))
		return;
	if (vop_open(&op, req) || !(body = http_body_json(req)))
		goto out;
	branch_v = json_object_get(body, "branch");
	if (!json_is_string(branch_v)) {
		http_respond_error(req, 400, "the body is {\"branch\": name}");
		goto out;
	}
	if (!authz_require(req, POLICY_WRITE, &(policy_resource_t){
				.path = op.rel, .branch = json_string_value(branch_v) }))
		goto out;
	if (store_check_branch(json_string_value(branch_v), &err) ||
	    contents_checkout(op.app, &op.root, op.rel, json_string_value(branch_v), id, &err)) {
		http_respond_err(req, &err);
		goto out;
	}
	http_respond_json(req, 200, json_pack("{s:s, s:s, s:s}", "path", op.rel, "branch",
					      json_string_value(branch_v), "version", id));
out:
	json_decref(body);
	vop_close(&op);
}

void api_versions_diff(http_req_t *req)
{
	const char *from = http_query(req, "from"), *to = http_query(req, "to");
	app_t *app = http_app(req);
	json_t *a = NULL, *b = NULL, *d;
	err_t err = { 0 };

	if (!app_store_ready(req))
		return;
	if (!version_param(req, from, "\"from\"") || !version_param(req, to, "\"to\""))
		return;
	if (store_load(app->store, from, &a, &err) || store_load(app->store, to, &b, &err)) {
		http_respond_err(req, &err);
		goto out;
	}
	d = nbdiff(a, b);
	if (!d) {
		http_respond_error(req, 500, "out of memory");
		goto out;
	}
	json_object_set_new(d, "from", json_string(from));
	json_object_set_new(d, "to", json_string(to));
	http_respond_json(req, 200, d);
out:
	json_decref(a);
	json_decref(b);
}
