/*
 * /api/cellgate/publications: publishing a stored version of a notebook.
 *
 *   POST publications        {"path", "version"?: id or branch (default: the
 *                            head of the branch the file shows), "message"?}
 *                            -> 201 the publication; 202 while a person is asked
 *   GET  publications        ?path= (a notebook or a directory) ?limit=:
 *                            those the caller may read, oldest first
 *   GET  publications/{id}   one, if the caller may read its notebook
 *
 * Publishing needs publish on the notebook. It is a side effect a person
 * decides on: a capability token's publication is a prompt (answered by a
 * principal with approve on the notebook) unless the server runs with
 * --publish-approval allow, and always when the principal's "ask" list names
 * publish; the server's own token publishes directly. The prompt names the
 * notebook and the version ("/nb.ipynb version <id>"), so an allow for one
 * version publishes no other. The asker asks again once the prompt is
 * settled: an allow is taken, and a denial or a timeout is told once (403
 * naming who refused), after which asking again is a new question.
 *
 * The publication is its own audit entry (action publish, decision
 * publish), beside the prompt's and the answer's. The record itself is
 * append-only in the store (notebook-store/publications.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../notebook-store/publications.h"
#include "../policy/prompts.h"
#include "app.h"
#include "app_store.h"
#include "authz.h"
#include "contents.h"
#include "handlers.h"

#define DESC_MAX 600
#define LIST_MAX 10000

/* What a POST asks for, once checked. */
typedef struct pub_ask {
	char rel[CPATH_MAX];
	char branch[STORE_MAX_BRANCH + 1]; /* "" when the version was named by id */
	char version[STORE_ID_LEN];
	char desc[DESC_MAX];               /* "/nb.ipynb version <id>": the prompt's key */
	const char *message;
} pub_ask_t;

/* Is version (of any notebook) in rel's history: saved under rel, or on
 * the first-parent line of one of rel's branches (a renamed notebook's
 * older versions keep the path they were saved under)? */
static bool in_history(app_t *app, const char *rel, const char *version, const json_t *info)
{
	json_t *branches = NULL, *b, *log, *v;
	size_t i, j;
	bool found = strcmp(json_string_value(json_object_get(info, "path")), rel) == 0;

	if (found || store_branch_list(app->store, rel, &branches, NULL) != 0)
		return found;
	json_array_foreach(branches, i, b) {
		log = NULL;
		if (store_log(app->store, rel, json_string_value(json_object_get(b, "name")), 0, &log,
			      NULL) != 0)
			continue;
		json_array_foreach(log, j, v)
			found = found || strcmp(json_string_value(json_object_get(v, "id")), version) == 0;
		json_decref(log);
		if (found)
			break;
	}
	json_decref(branches);
	return found;
}

/* The version the body names (id or branch), else the head of the branch
 * the working copy shows. Answers 4xx on failure. */
static bool resolve_version(http_req_t *req, app_t *app, const json_t *vv, pub_ask_t *a)
{
	const char *v = json_string_value(vv);
	cpath_root_t root = { .fd = -1 };
	json_t *info = NULL;
	err_t err = { 0 };
	bool ok = false;

	if (v && store_check_version_id(v, NULL) == 0) {
		if (store_version_info(app->store, v, &info, &err)) {
			http_respond_err(req, &err);
			return false;
		}
		ok = in_history(app, a->rel, v, info);
		if (!ok)
			http_respond_error(req, 404, "version %s is not a version of '%s'", v, a->rel);
		else
			memcpy(a->version, v, STORE_ID_LEN);
		json_decref(info);
		return ok;
	}
	if (v && store_check_branch(v, NULL) != 0) {
		http_respond_error(req, 400, "\"version\" must be a version id (32 lowercase hex "
				   "digits) or a branch name");
		return false;
	}
	if (v) {
		snprintf(a->branch, sizeof a->branch, "%s", v);
	} else {
		char cur[STORE_ID_LEN];

		/* an edit on disk is the head the caller means */
		if (cpath_root_open(&root, app->cfg.root, app->cfg.allow_hidden, &err) == 0 &&
		    contents_sync_notebook(app, &root, a->rel, cur, &err) != 0 &&
		    err.code != CG_ENOTFOUND)
			log_warn("publish", "%s: not reconciled with the store: %s", a->rel, err.msg);
		cpath_root_close(&root);
		contents_store_branch(app, a->rel, a->branch);
	}
	if (store_branch_head(app->store, a->rel, a->branch, a->version, NULL) != 0) {
		http_respond_error(req, 404, "no branch '%s' for '%s'", a->branch, a->rel);
		return false;
	}
	return true;
}

/* The body, checked: path, version, message. Answers 4xx on failure. */
static bool parse_body(http_req_t *req, app_t *app, const json_t *body, pub_ask_t *a)
{
	const json_t *pv = json_object_get(body, "path"), *vv = json_object_get(body, "version");
	const json_t *mv = json_object_get(body, "message");
	err_t err = { 0 };
	int n;

	if (!json_is_object(body) || !json_is_string(pv) || !json_is_optional_string(vv) ||
	    !json_is_optional_string(mv)) {
		http_respond_error(req, 400, "the body is {\"path\": notebook, \"version\": version "
				   "id or branch, \"message\": text}");
		return false;
	}
	if (mv && json_string_length(mv) > STORE_MAX_PUBLICATION_MESSAGE) {
		http_respond_error(req, 413, "\"message\" is longer than %d bytes",
				   STORE_MAX_PUBLICATION_MESSAGE);
		return false;
	}
	if (mv && strlen(json_string_value(mv)) != json_string_length(mv)) {
		http_respond_error(req, 400, "\"message\" must not contain NUL");
		return false;
	}
	a->message = mv ? json_string_value(mv) : "";
	if (cpath_check(json_string_value(pv), json_string_length(pv), app->cfg.allow_hidden,
			a->rel, &err)) {
		http_respond_err(req, &err);
		return false;
	}
	if (!*a->rel) {
		http_respond_error(req, 400, "\"path\" names a notebook");
		return false;
	}
	/* the prompt's key names the version whole, never a truncation */
	if (strlen(a->rel) + sizeof " version " + STORE_ID_LEN > sizeof a->desc) {
		http_respond_error(req, 400, "the notebook's path is too long to publish (at most "
				   "%zu bytes)", sizeof a->desc - sizeof " version " - STORE_ID_LEN);
		return false;
	}
	/* refused before anything about the notebook's versions is told */
	if (!authz_may(req, POLICY_PUBLISH, &(policy_resource_t){ .path = a->rel }))
		return authz_require(req, POLICY_PUBLISH, &(policy_resource_t){ .path = a->rel });
	if (!resolve_version(req, app, vv, a))
		return false;
	n = snprintf(a->desc, sizeof a->desc, "/%s version %s", a->rel, a->version);
	return n > 0 && (size_t)n < sizeof a->desc;
}

/* 202: the prompt is pending; the client waits on it and asks again. */
static void respond_pending(http_req_t *req, app_t *app, const policy_cap_t *cap,
			    const policy_prompt_t *p)
{
	char msg[DESC_MAX + 200], location[128];

	snprintf(msg, sizeof msg, "%s needs approval for publish on %s: prompt %s is pending",
		 policy_cap_principal(cap), p->resource, p->id);
	snprintf(location, sizeof location, "%sapi/cellgate/prompts/%s", app->cfg.base_url, p->id);
	http_add_header(req, "location", location);
	http_respond_json(req, 202, json_pack("{s:s, s:s, s:s, s:o}", "message", msg, "reason",
					       "Accepted", "status", "pending", "prompt",
					       policy_prompt_json(p)));
}

/*
 * Whether cap may publish now: true with *approved (NULL when nobody had
 * to approve) to go on; false once answered (202 pending, 403 refused).
 */
static bool approval(http_req_t *req, app_t *app, policy_cap_t *cap, const pub_ask_t *a,
		     const policy_prompt_t **approved)
{
	const char *who = policy_cap_principal(cap), *tid = policy_cap_token_id(cap);
	const policy_prompt_t *p = NULL;
	char detail[DESC_MAX + 200];
	err_t err = { 0 };
	bool is_new;

	*approved = NULL;
	if (policy_cap_is_root(cap) || !app->prompts ||
	    (!app->cfg.is_publish_ask && !policy_cap_must_ask(cap, POLICY_PUBLISH)))
		return true;
	authz_prompts_expire(app);
	if (policy_prompts_take(app->prompts, tid, POLICY_PUBLISH, a->desc, &p)) {
		*approved = p;
		return true;
	}
	if (policy_prompts_take_refusal(app->prompts, tid, POLICY_PUBLISH, a->desc, &p)) {
		if (p->state == PROMPT_TIMED_OUT)
			snprintf(detail, sizeof detail, "prompt %s timed out: nobody answered it in "
				 "time, which is a denial", p->id);
		else
			snprintf(detail, sizeof detail, "%s answered prompt %s: deny", p->answered_by,
				 p->id);
		authz_audit(app, who, "publish", a->desc, "deny", detail);
		http_respond_error(req, 403, "%s may not publish %s: %s", who, a->desc, detail);
		return false;
	}
	snprintf(detail, sizeof detail, "POST /api/cellgate/publications");
	p = policy_prompts_ask(app->prompts, cap, POLICY_PUBLISH, a->desc, a->rel, detail,
			       util_unix_time(), &is_new, &err);
	if (!p) {
		/* a policy engine at its limit denies, it never asks */
		authz_audit(app, who, "publish", a->desc, "deny", err.msg);
		http_respond_error(req, 403, "%s needs publish on %s: %s", who, a->desc, err.msg);
		return false;
	}
	if (is_new) {
		snprintf(detail, sizeof detail, "POST /api/cellgate/publications: prompt %s", p->id);
		authz_audit(app, who, "publish", a->desc, "prompt", detail);
		prompts_notify(app);
	}
	respond_pending(req, app, cap, p);
	return false;
}

static void publish(http_req_t *req, app_t *app)
{
	policy_cap_t *cap = http_cap(req);
	const policy_prompt_t *ok = NULL;
	json_t *body = http_body_json(req), *pub = NULL;
	char detail[DESC_MAX + 300], location[160];
	const char *who;
	err_t err = { 0 };
	pub_ask_t a = { 0 };

	if (!body)
		return;
	if (!parse_body(req, app, body, &a))
		goto out;
	who = cap ? policy_cap_principal(cap) : "server-token";
	/* a version published already needs nobody's approval to say so */
	if (store_publication_of_version(app->store, a.version, &pub, NULL) == 0) {
		http_respond_json(req, 409, json_pack("{s:s, s:s, s:O}", "message", "this version is "
						       "already published", "reason", "Conflict",
						       "publication", pub));
		goto out;
	}
	if (cap && !approval(req, app, cap, &a, &ok))
		goto out;
	if (store_publish(app->store, &(store_publication_t){ .path = a.rel, .version = a.version,
			  .published_by = who, .approved_by = ok ? ok->answered_by : "",
			  .prompt = ok ? ok->id : "", .message = a.message }, &pub, &err)) {
		if (err.code == CG_ECONFLICT && pub)
			http_respond_json(req, 409, json_pack("{s:s, s:s, s:O}", "message", err.msg,
							       "reason", "Conflict", "publication", pub));
		else
			http_respond_err(req, &err);
		goto out;
	}
	snprintf(detail, sizeof detail, "publication %s%s%s%s%s%s%s",
		 json_string_value(json_object_get(pub, "id")), ok ? ": approved by " : "",
		 ok ? ok->answered_by : "", ok ? " (prompt " : "", ok ? ok->id : "",
		 ok ? ", " : "", ok ? policy_prompt_state_name(ok->state) : "");
	if (ok)
		strncat(detail, ")", sizeof detail - strlen(detail) - 1);
	authz_audit(app, who, "publish", a.desc, "publish", detail);
	snprintf(location, sizeof location, "%sapi/cellgate/publications/%s", app->cfg.base_url,
		 json_string_value(json_object_get(pub, "id")));
	http_add_header(req, "location", location);
	http_respond_json(req, 201, json_incref(pub));
out:
	json_decref(pub);
	json_decref(body);
}

static void list(http_req_t *req, app_t *app)
{
	const char *path = http_query(req, "path"), *limit_s = http_query(req, "limit");
	char rel[CPATH_MAX] = "";
	unsigned long limit = 0;
	json_t *all = NULL, *shown, *p;
	err_t err = { 0 };
	size_t i;

	if (path && cpath_check(path, strlen(path), app->cfg.allow_hidden, rel, &err)) {
		http_respond_err(req, &err);
		return;
	}
	if (limit_s) {
		char *end;

		limit = strtoul(limit_s, &end, 10);
		if (!*limit_s || *end || limit > LIST_MAX) {
			http_respond_error(req, 400, "\"limit\" must be a number from 0 to %d", LIST_MAX);
			return;
		}
	}
	if (store_publications_list(app->store, rel, 0, &all, &err)) {
		http_respond_err(req, &err);
		return;
	}
	/* a narrowed token sees the publications of what it may read */
	shown = json_array();
	json_array_foreach(all, i, p) {
		policy_resource_t res = { .path = json_string_value(json_object_get(p, "path")) };

		if ((!limit || json_array_size(shown) < limit) && authz_may(req, POLICY_READ, &res))
			json_array_append(shown, p);
	}
	json_decref(all);
	http_respond_json(req, 200, json_pack("{s:o}", "publications", shown));
}

static void get_one(http_req_t *req, app_t *app, const char *id)
{
	json_t *pub = NULL;
	err_t err = { 0 };

	if (store_check_publication_id(id, &err) || store_publication_get(app->store, id, &pub, &err)) {
		http_respond_err(req, &err);
		return;
	}
	if (authz_require_path(req, POLICY_READ, json_string_value(json_object_get(pub, "path")),
			       NULL))
		http_respond_json(req, 200, json_incref(pub));
	json_decref(pub);
}

void api_publications(http_req_t *req)
{
	app_t *app = http_app(req);
	const char *id = http_param(req, 0);

	if (!app_store_ready(req))
		return;
	if (id)
		get_one(req, app, id);
	else if (http_method(req) == HTTP_POST)
		publish(req, app);
	else
		list(req, app);
}
