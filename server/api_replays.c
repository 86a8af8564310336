/*
 * /api/cellgate/replays: replay jobs (replay.h).
 *
 *   GET    replays         ?version=: the finished reports of a version
 *   POST   replays         {"path", "version"? | "branch"?, "compare"?: {masks,
 *                          tolerances}, "timeout"?: seconds per execution}
 *                          -> 202 the job's status; it runs on the server
 *   GET    replays/{id}    status and progress; once finished the report too
 *                          (?format=html: the report as a self-contained page)
 *   DELETE replays/{id}    cancels a running job
 *
 * A finished report outlives the job in memory: GET falls back to the store.
 * The HTML page holds kernel output, i.e. user content: it is served with
 * Content-Security-Policy: sandbox and nosniff.
 */
#include <string.h>

#include "../common/log.h"
#include "../notebook-store/records.h"
#include "app.h"
#include "app_store.h"
#include "authz.h"
#include "contents.h"
#include "handlers.h"
#include "replay.h"

static bool is_hex_id(const char *id)
{
	return id && strlen(id) == 32 && strspn(id, "0123456789abcdef") == 32;
}

/* The version to replay from the body; answers on failure. */
static bool body_version(http_req_t *req, app_t *app, const json_t *body, char out[STORE_ID_LEN])
{
	const json_t *pv = json_object_get(body, "path"), *vv = json_object_get(body, "version");
	const json_t *bv = json_object_get(body, "branch");
	char rel[CPATH_MAX], branch[STORE_MAX_BRANCH + 1];
	cpath_root_t root = { .fd = -1 };
	json_t *info = NULL;
	err_t err = { 0 };
	bool ok = false;

	if (!json_is_string(pv) || !json_is_optional_string(vv) || !json_is_optional_string(bv)) {
		http_respond_error(req, 400, "the body is {\"path\", \"version\" or \"branch\", \"compare\", \"timeout\"}");
		return false;
	}
	if (cpath_check(json_string_value(pv), json_string_length(pv), app->cfg.allow_hidden, rel, &err) ||
	    cpath_root_open(&root, app->cfg.root, app->cfg.allow_hidden, &err)) {
		http_respond_err(req, &err);
		goto out;
	}
	/* a replay runs the notebook's recorded code again */
	if (!authz_require_path(req, POLICY_REPLAY, rel, NULL))
		goto out;
	if (json_is_string(vv)) {
		if (store_check_version_id(json_string_value(vv), NULL) != 0) {
			http_respond_error(req, 400, "\"version\" must be a version id (32 lowercase hex digits)");
			goto out;
		}
		if (store_version_info(app->store, json_string_value(vv), &info, &err)) {
			http_respond_err(req, &err);
			goto out;
		}
		if (strcmp(json_string_value(json_object_get(info, "path")), rel) != 0) {
			http_respond_error(req, 400, "version %s is not a version of '%s'", json_string_value(vv), rel);
			goto out;
		}
		memcpy(out, json_string_value(vv), STORE_ID_LEN);
		ok = true;
		goto out;
	}
	if (json_is_string(bv)) {
		if (store_check_branch(json_string_value(bv), &err)) {
			http_respond_err(req, &err);
			goto out;
		}
		snprintf(branch, sizeof branch, "%s", json_string_value(bv));
	} else {
		char cur[STORE_ID_LEN];

		if (contents_sync_notebook(app, &root, rel, cur, &err) != 0 && err.code != CG_ENOTFOUND)
			log_warn("replay", "%s: not reconciled with the store: %s", rel, err.msg);
		err_clear(&err);
		contents_store_branch(app, rel, branch);
	}
	if (store_branch_head(app->store, rel, branch, out, &err)) {
		http_respond_error(req, 404, "no branch '%s' for '%s'", branch, rel);
		goto out;
	}
	ok = true;
out:
	json_decref(info);
	cpath_root_close(&root);
	return ok;
}

static void replays_create(http_req_t *req, app_t *app)
{
	json_t *body = http_body_json(req), *tv;
	char version[STORE_ID_LEN], id[33];
	replay_opts_t opts;
	double timeout = 0;
	err_t err = { 0 };

	replay_opts_defaults(&opts);
	if (!body)
		return;
	tv = json_object_get(body, "timeout");
	if (tv && (!json_is_number(tv) || json_number_value(tv) <= 0 || json_number_value(tv) > 86400)) {
		http_respond_error(req, 400, "\"timeout\" is seconds per execution, more than 0 and at most 86400");
		goto out;
	}
	timeout = tv ? json_number_value(tv) : 0;
	if (replay_opts_from_json(&opts, json_object_get(body, "compare"), &err) ||
	    replay_grants_from_json(&opts, json_object_get(body, "grant"), &err)) {
		http_respond_err(req, &err);
		goto out;
	}
	if (!body_version(req, app, body, version))
		goto out;
	if (replay_start(app->replays, version, &opts, timeout, NULL, NULL, id, &err)) {
		http_respond_err(req, &err);
		goto out;
	}
	http_respond_json(req, 202, replay_status(replay_find(app->replays, id)));
out:
	replay_opts_clear(&opts);
	json_decref(body);
}

static void respond_html(http_req_t *req, const json_t *report)
{
	buf_t b;

	buf_init(&b, 0);
	if (replay_report_html(report, &b) != 0) {
		http_respond_error(req, 500, "the report cannot be rendered");
	} else {
		/* kernel output is user content */
		http_add_header(req, "Content-Security-Policy", "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'");
		http_add_header(req, "X-Content-Type-Options", "nosniff");
		http_respond(req, 200, "text/html; charset=utf-8", b.data, b.len);
	}
	buf_free(&b);
}

static void replays_get(http_req_t *req, app_t *app, const char *id)
{
	const char *format = http_query(req, "format");
	replay_t *job = replay_find(app->replays, id);
	json_t *st, *stored = NULL;
	err_t err = { 0 };

	if (format && strcmp(format, "html") && strcmp(format, "json")) {
		http_respond_error(req, 400, "\"format\" is json or html");
		return;
	}
	if (job) {
		if (!authz_require_path(req, POLICY_READ, replay_path(job), NULL))
			return;
		st = replay_status(job);
		if (replay_report(job))
			json_object_set(st, "report", (json_t *)replay_report(job));
	} else if (records_replay_get(app->store, id, &stored, &err) == 0) {
		const char *p = json_string_value(json_object_get(json_object_get(stored, "report"), "path"));

		if (!authz_require_path(req, POLICY_READ, p ? p : "", NULL)) {
			json_decref(stored);
			return;
		}
		st = json_pack("{s:O, s:O, s:O, s:s, s:O}", "id", json_object_get(stored, "id"), "version",
			       json_object_get(stored, "version"), "verdict", json_object_get(stored, "verdict"),
			       "state", "done", "report", json_object_get(stored, "report"));
		json_decref(stored);
	} else {
		http_respond_err(req, &err);
		return;
	}
	if (format && strcmp(format, "html") == 0) {
		if (!json_object_get(st, "report"))
			http_respond_error(req, 409, "replay %s is still running", id);
		else
			respond_html(req, json_object_get(st, "report"));
		json_decref(st);
		return;
	}
	http_respond_json(req, 200, st);
}

void api_replays(http_req_t *req)
{
	app_t *app = http_app(req);
	const char *id = http_param(req, 0);
	replay_t *job;
	err_t err = { 0 };

	if (!app_store_ready(req))
		return;
	if (!id && http_method(req) == HTTP_POST) {
		replays_create(req, app);
		return;
	}
	if (!id) {
		const char *v = http_query(req, "version");
		json_t *list = NULL, *info = NULL;
		bool ok;

		if (!v || store_check_version_id(v, NULL) != 0) {
			http_respond_error(req, 400, "?version= must be a version id (32 lowercase hex digits)");
			return;
		}
		if (store_version_info(app->store, v, &info, &err)) {
			http_respond_err(req, &err);
			return;
		}
		ok = authz_require_path(req, POLICY_READ, json_string_value(json_object_get(info, "path")), NULL);
		json_decref(info);
		if (!ok)
			return;
		if (records_replay_list(app->store, v, &list, &err)) {
			http_respond_err(req, &err);
			return;
		}
		http_respond_json(req, 200, json_pack("{s:s, s:o}", "version", v, "replays", list));
		return;
	}
	if (!is_hex_id(id)) {
		http_respond_error(req, 400, "a replay id is 32 lowercase hex digits");
		return;
	}
	if (http_method(req) != HTTP_DELETE) {
		replays_get(req, app, id);
		return;
	}
	job = replay_find(app->replays, id);
	if (!job) {
		http_respond_error(req, 404, "no running replay %s", id);
		return;
	}
	if (!authz_require_path(req, POLICY_REPLAY, replay_path(job), NULL))
		return;
	if (replay_cancel(job, &err)) {
		http_respond_err(req, &err);
		return;
	}
	http_respond_json(req, 200, replay_status(job));
}
