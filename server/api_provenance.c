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
#include <stdio.h>
#include <stdlib.h>
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

void provenance_on_save(app_t *app, const char *path, const char *version_id)
{
	/* without a recorder nothing new can link: a later read links lazily */
	if (app->recorder)
		recorder_link_later(app->recorder, path, version_id);
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

static void answer(http_req_t *req, const char *version)
{
	app_t *app = http_app(req);
	json_t *prov = NULL;
	err_t err = { 0 };

	/* records still on their way to the store belong in the answer */
	recorder_flush(app->recorder);
	if (records_provenance(app->store, version, &prov, &err)) {
		http_respond_err(req, &err);
		return;
	}
	json_object_set_new(prov, "recording", json_boolean(app->recorder != NULL));
	http_respond_json(req, 200, prov);
}

/* A request held while an execution of its notebook awaits only its reply. */
typedef struct held {
	uv_timer_t timer;
	http_req_t *req;
	char version[STORE_ID_LEN];
	char path[STORE_MAX_PATH + 1];
	int ticks;
} held_t;

#define HOLD_TICK_MS 20
#define HOLD_MAX_TICKS 500  /* 10 s */

static void on_held_closed(uv_handle_t *h)
{
	free(h->data);
}

static void on_hold_tick(uv_timer_t *t)
{
	held_t *h = t->data;
	app_t *app = http_app(h->req);

	if (http_is_open(h->req) && recorder_is_settling(app->recorder, h->path) &&
	    ++h->ticks < HOLD_MAX_TICKS)
		return;
	uv_timer_stop(t);
	if (http_is_open(h->req))
		answer(h->req, h->version);
	http_release(h->req);
	uv_close((uv_handle_t *)t, on_held_closed);
}

void api_provenance_get(http_req_t *req)
{
	app_t *app = http_app(req);
	char version[STORE_ID_LEN];
	json_t *info = NULL;
	const char *path;
	held_t *h;

	if (!app_store_ready(req) || !resolve_version(req, app, version))
		return;
	/* links are made once: not while a record of this notebook is a reply away */
	if (store_version_info(app->store, version, &info, NULL) == 0 &&
	    (path = json_string_value(json_object_get(info, "path"))) &&
	    recorder_is_settling(app->recorder, path) && (h = calloc(1, sizeof *h))) {
		h->req = req;
		snprintf(h->version, sizeof h->version, "%s", version);
		snprintf(h->path, sizeof h->path, "%s", path);
		uv_timer_init(app->loop, &h->timer);
		h->timer.data = h;
		http_defer(req);
		uv_timer_start(&h->timer, on_hold_tick, HOLD_TICK_MS, HOLD_TICK_MS);
		json_decref(info);
		return;
	}
	json_decref(info);
	answer(req, version);
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
