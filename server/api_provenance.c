/*
 * /api/cellgate/ provenance routes:
 *
 *   GET provenance/{path}   ?version= (default: the checked-out branch's
 *                           head): per code cell, who ran it, when, in which
 *                           kernel and sandbox, after which executions,
 *                           with which packages; stale or unrecorded
 *   GET execution/{id}      one execution record, code and outputs included
 *
 * Also the save hook (provenance.h). Errors are JSON {"message", "reason"}.
 */
#include <string.h>

#include "../common/log.h"
#include "../notebook-store/records.h"
#include "app.h"
#include "app_store.h"
#include "authz.h"
#include "contents.h"
#include "handlers.h"
#include "provenance.h"
#include "recorder.h"

void provenance_on_save(app_t *app, const char *version_id)
{
	/* without a recorder nothing new can link: a later read links lazily */
	if (app->recorder)
		recorder_link_later(app->recorder, version_id);
}

/* The version a request names: ?version=, else the head of the branch the
 * working copy shows (after reconciling the file). Answers on failure. */
static bool resolve_version(http_req_t *req, app_t *app, char out[STORE_ID_LEN])
{
	const char *v = http_query(req, "version"), *api = http_param(req, 0);
	char rel[CPATH_MAX], branch[STORE_MAX_BRANCH + 1];
	cpath_root_t root = { .fd = -1 };
	json_t *info = NULL;
	err_t err = { 0 };
	bool ok = false;

	if (!api || !*api) {
		http_respond_error(req, 400, "a notebook path is required");
		return false;
	}
	if (cpath_check(api, strlen(api), app->cfg.allow_hidden, rel, &err) ||
	    cpath_root_open(&root, app->cfg.root, app->cfg.allow_hidden, &err)) {
		http_respond_err(req, &err);
		goto out;
	}
	if (v) {
		if (store_check_version_id(v, NULL) != 0) {
			http_respond_error(req, 400, "\"version\" must be a version id (32 lowercase hex digits)");
			goto out;
		}
		if (store_version_info(app->store, v, &info, &err)) {
			http_respond_err(req, &err);
			goto out;
		}
		if (strcmp(json_string_value(json_object_get(info, "path")), rel) != 0) {
			http_respond_error(req, 400, "version %s is not a version of '%s'", v, rel);
			goto out;
		}
		memcpy(out, v, STORE_ID_LEN);
		ok = true;
		goto out;
	}
	if (contents_sync_notebook(app, &root, rel, out, &err) != 0 && err.code != CG_ENOTFOUND)
		log_warn("provenance", "%s: not reconciled with the store: %s", rel, err.msg);
	err_clear(&err);
	contents_store_branch(app, rel, branch);
	if (store_branch_head(app->store, rel, branch, out, &err)) {
		http_respond_error(req, 404, "the store has no versions of '%s'", rel);
		goto out;
	}
	ok = true;
out:
	json_decref(info);
	cpath_root_close(&root);
	return ok;
}

void api_provenance_get(http_req_t *req)
{
	app_t *app = http_app(req);
	char version[STORE_ID_LEN];
	json_t *prov = NULL;
	err_t err = { 0 };

	if (!app_store_ready(req) || !resolve_version(req, app, version))
		return;
	/* records still on their way to the store belong in the answer */
	recorder_flush(app->recorder);
	if (records_provenance(app->store, version, &prov, &err)) {
		http_respond_err(req, &err);
		return;
	}
	json_object_set_new(prov, "recording", json_boolean(app->recorder != NULL));
	http_respond_json(req, 200, prov);
}

void api_execution_get(http_req_t *req)
{
	const char *id = http_param(req, 0), *path;
	app_t *app = http_app(req);
	json_t *rec = NULL;
	err_t err = { 0 };

	if (!app_store_ready(req))
		return;
	if (!id || strlen(id) != 32 || strspn(id, "0123456789abcdef") != 32) {
		http_respond_error(req, 400, "an execution id is 32 lowercase hex digits");
		return;
	}
	recorder_flush(app->recorder);
	if (records_execution(app->store, id, &rec, &err)) {
		http_respond_err(req, &err);
		return;
	}
	/* a record is read as its notebook is (one bound to none, as the server) */
	path = json_string_value(json_object_get(rec, "path"));
	if (path && *path ? !authz_require_path(req, POLICY_READ, path, NULL)
			  : !authz_require(req, POLICY_READ, &(policy_resource_t){ 0 })) {
		json_decref(rec);
		return;
	}
	http_respond_json(req, 200, rec);
}
