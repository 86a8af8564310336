/*
 * Authorization before dispatch and inside handlers. See authz.h. The
 * route table says what each route needs (routes.c); this file turns the
 * route's parameters into the resource policy decides on.
 */
#include "authz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "../common/util.h"
#include "app.h"
#include "app_store.h"
#include "contents.h"
#include "contents_path.h"
#include "handlers.h"
#include "notebook_owner.h"
#include "sessions.h"
#include "../policy/prompts.h"

#define DESC_MAX 600

/* The capability of a request that was authenticated without one: only
 * the server's own credentials (its token, and the login cookie built on
 * it) do that, and they are root. */
static policy_cap_t *cap_of(http_req_t *req)
{
	if (!http_cap(req))
		http_set_cap(req, policy_cap_root());
	return http_cap(req);
}

static void describe(const policy_resource_t *res, const char *fallback, char *out, size_t size)
{
	const char *sep = res->path ? " " : "";

	if (!res->path && !res->kernelspec && !res->branch && !res->effect) {
		snprintf(out, size, "%s", fallback);
		return;
	}
	snprintf(out, size, "%s%s%s%s%s%s%s%s%s", res->path ? "/" : "", res->path ? res->path : "",
		 res->kernelspec ? sep : "", res->kernelspec ? "kernelspec " : "",
		 res->kernelspec ? res->kernelspec : "", res->branch ? " branch " : "",
		 res->branch ? res->branch : "", res->effect ? " effect " : "",
		 res->effect ? res->effect : "");
}

void authz_audit(app_t *app, const char *principal, const char *action, const char *resource,
		 const char *decision, const char *detail)
{
	err_t err = { 0 };

	if (!app->audit) {
		app->audit = policy_audit_open(app->cfg.state, &err);
		if (!app->audit) {
			log_error("audit", "cannot open the audit log: %s", err.msg);
			return;
		}
	}
	if (policy_audit_append(app->audit, principal, action, resource, decision, detail, &err))
		log_error("audit", "cannot append to the audit log: %s", err.msg);
}

/*
 * An allowed action the principal must ask a person for: an answered
 * allow is taken; otherwise the request is answered 202 with the pending
 * prompt, which the client waits on before it asks again. 0 to go on,
 * 202 or 403 when answered (msg says why).
 */
static int ask(app_t *app, policy_cap_t *cap, policy_action_t action, const policy_resource_t *res,
	       const char *desc, const char *request, const policy_prompt_t **out, char *msg,
	       size_t size)
{
	const policy_prompt_t *p = NULL;
	char detail[DESC_MAX + 128];
	err_t err = { 0 };
	bool is_new;

	*out = NULL;
	if (policy_prompts_take(app->prompts, policy_cap_token_id(cap), action, desc, &p)) {
		snprintf(detail, sizeof detail, "%s: approved by %s (prompt %s, %s)", request,
			 p->answered_by, p->id, policy_prompt_state_name(p->state));
		authz_audit(app, policy_cap_principal(cap), policy_action_name(action), desc, "allow",
			    detail);
		return 0;
	}
	/* a denial is given to the asker once, as a refusal; then it may ask again */
	if (policy_prompts_take_refusal(app->prompts, policy_cap_token_id(cap), action, desc, &p)) {
		if (p->state == PROMPT_DENIED)
			snprintf(detail, sizeof detail, "%s answered prompt %s: deny", p->answered_by,
				 p->id);
		else
			snprintf(detail, sizeof detail, "prompt %s timed out: nobody answered it in "
				 "time, which is a denial", p->id);
		authz_audit(app, policy_cap_principal(cap), policy_action_name(action), desc, "deny",
			    detail);
		snprintf(msg, size, "%s needs %s on %s: %s", policy_cap_principal(cap),
			 policy_action_name(action), desc, detail);
		return 403;
	}
	p = policy_prompts_ask(app->prompts, cap, action, desc, res->path, request,
			       util_unix_time(), &is_new, &err);
	if (!p) {
		/* a policy engine at its limit denies, it never asks */
		authz_audit(app, policy_cap_principal(cap), policy_action_name(action), desc, "deny",
			    err.msg);
		snprintf(msg, size, "%s needs %s on %s: %s", policy_cap_principal(cap),
			 policy_action_name(action), desc, err.msg);
		return 403;
	}
	if (is_new) {
		snprintf(detail, sizeof detail, "%s: prompt %s", request, p->id);
		authz_audit(app, policy_cap_principal(cap), policy_action_name(action), desc, "prompt",
			    detail);
		prompts_notify(app);
	}
	*out = p;
	snprintf(msg, size, "%s needs approval for %s on %s: prompt %s is pending",
		 policy_cap_principal(cap), policy_action_name(action), desc, p->id);
	return 202;
}

/*
 * The decision, its record, and the 403 (or 202 for a prompt) when refused.
 * ask_why (NULL: none) makes an allowed action one to ask a person for even
 * when the principal's "ask" does not name it (a kernel in a weaker trust
 * class): it is said in the prompt's request, and the prompt's resource
 * names res->trust.
 */
static bool decide_asking(http_req_t *req, policy_action_t action, const policy_resource_t *res,
			  bool audit_grant, const char *ask_why)
{
	app_t *app = http_app(req);
	policy_cap_t *cap = cap_of(req);
	char why[POLICY_WHY_MAX] = "", desc[DESC_MAX], detail[DESC_MAX + 32];
	bool ok = policy_allows(cap, action, res, util_unix_time(), why, sizeof why);

	if (ok && ask_why && !app->prompts) {
		ok = false;
		snprintf(why, sizeof why, "%s, and nobody can be asked", ask_why);
	}
	if (ok && audit_grant && (ask_why || policy_cap_must_ask(cap, action)) && app->prompts) {
		const policy_prompt_t *p;
		char msg[DESC_MAX + 200], location[128];
		size_t n;
		int status;

		describe(res, http_path(req), desc, sizeof desc);
		n = strlen(desc);
		if (ask_why && res->trust)
			snprintf(desc + n, sizeof desc - n, " trust %s", res->trust);
		snprintf(detail, sizeof detail, "%s %s%s%s", http_method_name(http_method(req)),
			 http_path(req), ask_why ? ": " : "", ask_why ? ask_why : "");
		status = ask(app, cap, action, res, desc, detail, &p, msg, sizeof msg);
		if (status == 0)
			return true;
		if (status == 403) {
			http_respond_error(req, 403, "%s", msg);
			return false;
		}
		snprintf(location, sizeof location, "%sapi/cellgate/prompts/%s", app->cfg.base_url,
			 p->id);
		http_add_header(req, "location", location);
		http_respond_json(req, 202, json_pack("{s:s, s:s, s:s, s:o}", "message", msg, "reason",
						       "Accepted", "status", "pending", "prompt",
						       policy_prompt_json(p)));
		return false;
	}
	if (ok && (!audit_grant || action == POLICY_READ))
		return true;
	describe(res, http_path(req), desc, sizeof desc);
	snprintf(detail, sizeof detail, "%s %s%s%s", http_method_name(http_method(req)),
		 http_path(req), ok ? "" : ": ", ok ? "" : why);
	authz_audit(app, policy_cap_principal(cap), policy_action_name(action), desc,
		    ok ? "allow" : "deny", detail);
	if (!ok)
		http_respond_error(req, 403, "%s needs %s on %s: %s", policy_cap_principal(cap),
				   policy_action_name(action), desc, why);
	return ok;
}

static bool decide(http_req_t *req, policy_action_t action, const policy_resource_t *res,
		   bool audit_grant)
{
	return decide_asking(req, action, res, audit_grant, NULL);
}

bool authz_require(http_req_t *req, policy_action_t action, const policy_resource_t *res)
{
	return decide(req, action, res, true);
}

bool authz_require_path(http_req_t *req, policy_action_t action, const char *api_path,
			const char *kernelspec)
{
	char rel[CPATH_MAX];
	policy_resource_t res = { .path = rel, .kernelspec = kernelspec };

	if (kernelspec)
		res.trust = "trusted";
	if (!api_path || cpath_check(api_path, strlen(api_path), http_app(req)->cfg.allow_hidden, rel,
				     NULL) != 0)
		rel[0] = '\0';
	return decide(req, action, &res, true);
}

bool authz_require_start(http_req_t *req, const char *api_path, const char *kernelspec,
			 const char *trust, const char *ask_why)
{
	char rel[CPATH_MAX];
	policy_resource_t res = { .path = rel, .kernelspec = kernelspec, .trust = trust };

	if (!api_path || cpath_check(api_path, strlen(api_path), http_app(req)->cfg.allow_hidden, rel,
				     NULL) != 0)
		rel[0] = '\0';
	return decide_asking(req, POLICY_EXECUTE, &res, true, ask_why);
}

bool authz_may(const http_req_t *req, policy_action_t action, const policy_resource_t *res)
{
	char why[POLICY_WHY_MAX];
	policy_cap_t *cap = http_cap(req);

	return !cap || policy_allows(cap, action, res, util_unix_time(), why, sizeof why);
}

void authz_kernel_resource(app_t *app, kernel_t *k, policy_resource_t *res, char *path_buf,
			   size_t size)
{
	const char *path = kernel_session_name(k);

	/* a session that moved its notebook (rename) speaks for the kernel */
	for (session_t *s = sessions_next(app->sessions, NULL); s; s = sessions_next(app->sessions, s))
		if (strcmp(session_kernel_id(s), kernel_id(k)) == 0)
			path = session_path(s);
	snprintf(path_buf, size, "%s", path);
	memset(res, 0, sizeof *res);
	res->path = path_buf;
	res->kernelspec = kernel_spec_name(k);
	res->trust = kernel_trust_class(k);
}

/* A stored version's notebook path, or false when there is no such version. */
static bool version_path(http_req_t *req, const char *id, char *out, size_t size)
{
	app_t *app = http_app(req);
	json_t *info = NULL;
	bool ok;

	if (!id || store_check_version_id(id, NULL) != 0 || !app_store_ready(req) ||
	    store_version_info(app->store, id, &info, NULL) != 0)
		return false;
	ok = json_is_string(json_object_get(info, "path"));
	if (ok)
		snprintf(out, size, "%s", json_string_value(json_object_get(info, "path")));
	json_decref(info);
	return ok;
}

bool authz_route(http_req_t *req, const route_t *route)
{
	app_t *app = http_app(req);
	const char *p0 = http_param(req, 0);
	policy_action_t action = (policy_action_t)route->need;
	policy_resource_t res = { 0 };
	char path[CPATH_MAX] = "";
	err_t err = { 0 };

	if (route->need & ROUTE_PUBLIC)
		return true;
	if (route->need & ROUTE_ANY_TOKEN) {
		char why[POLICY_WHY_MAX];

		if (policy_cap_is_live(cap_of(req), util_unix_time(), why, sizeof why))
			return true;
		authz_audit(app, policy_cap_principal(cap_of(req)), "any", http_path(req), "deny", why);
		http_respond_error(req, 403, "%s needs any action on %s: %s",
				   policy_cap_principal(cap_of(req)), http_path(req), why);
		return false;
	}
	switch (route->res) {
	case RES_SERVER:
	case RES_NONE:
		break;
	case RES_KERNELSPEC:
		res.kernelspec = p0;
		break;
	case RES_KERNEL: {
		kernel_t *k = p0 ? kmgr_find(app->kernels, p0) : NULL;

		if (k)
			authz_kernel_resource(app, k, &res, path, sizeof path);
		break;
	}
	case RES_SESSION: {
		session_t *s = p0 ? sessions_find(app->sessions, p0) : NULL;
		kernel_t *k = s ? kmgr_find(app->kernels, session_kernel_id(s)) : NULL;

		if (s) {
			snprintf(path, sizeof path, "%s", session_path(s));
			res.path = path;
			res.kernelspec = k ? kernel_spec_name(k) : NULL;
		}
		break;
	}
	case RES_CONTENTS: {
		size_t len = p0 ? strlen(p0) : 0;
		const char *cp_id;
		/* a file's checkpoints are the file, to the handler and here */
		bool is_cp = route->handler == api_contents && p0 &&
			     contents_split_checkpoints(p0, &len, &cp_id);

		/* the same canonical path the handler will use: "a/../b" is "b" to both */
		if (cpath_check(p0 ? p0 : "", len, app->cfg.allow_hidden, path, &err)) {
			http_respond_err(req, &err);
			return false;
		}
		res.path = path;
		/* only the contents listing shows (in part) a directory on the way
		 * to what the token names; it checks each entry itself */
		res.is_listing = action == POLICY_READ && route->handler == api_contents && !is_cp;
		if (strncmp(http_path(req), "/api/cellgate/", 14) == 0)
			res.branch = http_query(req, "branch") ? http_query(req, "branch")
							       : http_query(req, "name");
		break;
	}
	case RES_VERSION:
		if (version_path(req, p0, path, sizeof path))
			res.path = path;
		break;
	case RES_PROMPT: {
		const policy_prompt_t *p = app->prompts ? policy_prompts_find(app->prompts, p0) : NULL;

		if (p && p->has_path) {
			snprintf(path, sizeof path, "%s", p->path);
			res.path = path;
		}
		break;
	}
	case RES_DIFF: {
		char other[CPATH_MAX];

		if (version_path(req, http_query(req, "from"), other, sizeof other)) {
			policy_resource_t from = { .path = other };

			if (!decide(req, action, &from, false))
				return false;
		}
		if (version_path(req, http_query(req, "to"), path, sizeof path))
			res.path = path;
		break;
	}
	}
	/* a new kernel or session is checked again, and recorded, once its
	 * kernelspec and notebook are known (kernel_start.c, api_sessions.c) */
	/* an answer to a prompt is recorded by its handler, with the answer */
	return decide(req, action, &res,
		      (res.path || res.kernelspec || res.branch) && route->res != RES_PROMPT);
}

/* Is path (a notebook) another principal's than cap's? owner says whose. */
static bool not_owned_by(app_t *app, policy_cap_t *cap, const char *path, char *owner,
			 size_t size)
{
	notebook_owner(app, path, owner, size);
	return owner[0] && strcmp(owner, policy_cap_principal(cap)) != 0;
}

/*
 * When cap is an agent's: a notebook kernel k serves that another
 * principal owns (into path; owner says whose). The notebooks a kernel
 * serves are those of every session bound to it (an agent's own session
 * bound to another's kernel does not hide the other's notebook), else the
 * one it was started for. Only agents are asked about others' notebooks:
 * a person, and the server's token, execute where policy lets them.
 */
static bool foreign_notebook(app_t *app, policy_cap_t *cap, kernel_t *k, char *path,
			     size_t psize, char *owner, size_t osize)
{
	bool bound = false;

	if (policy_cap_is_root(cap) || strcmp(policy_cap_kind(cap), "agent") != 0)
		return false;
	for (session_t *s = sessions_next(app->sessions, NULL); s;
	     s = sessions_next(app->sessions, s)) {
		if (strcmp(session_kernel_id(s), kernel_id(k)) != 0)
			continue;
		bound = true;
		if (not_owned_by(app, cap, session_path(s), owner, osize)) {
			snprintf(path, psize, "%s", session_path(s));
			return true;
		}
	}
	if (bound || !not_owned_by(app, cap, kernel_session_name(k), owner, osize))
		return false;
	snprintf(path, psize, "%s", kernel_session_name(k));
	return true;
}

int authz_kernel_channels(app_t *app, policy_cap_t *cap, kernel_t *k, char *msg, size_t size)
{
	policy_resource_t res;
	const policy_prompt_t *p;
	char path[CPATH_MAX], desc[DESC_MAX], why[POLICY_WHY_MAX] = "";
	bool ok;

	authz_kernel_resource(app, k, &res, path, sizeof path);
	ok = policy_allows(cap, POLICY_EXECUTE, &res, util_unix_time(), why, sizeof why);
	describe(&res, "a kernel", desc, sizeof desc);
	if (ok && app->prompts) {
		char owner[POLICY_NAME_MAX + 64], request[512];
		char nb[CPATH_MAX];
		int status = 0;

		/* an agent in a notebook it does not own: one prompt names the
		 * notebook and its owner (and stands for the principal's own
		 * "ask" too); whoever may approve on that notebook answers */
		if (foreign_notebook(app, cap, k, nb, sizeof nb, owner, sizeof owner)) {
			policy_resource_t theirs = res;

			theirs.path = nb;
			snprintf(desc, sizeof desc, "/%.400s, owned by %.100s", nb, owner);
			snprintf(request, sizeof request, "kernel channels: %s does not own /%.200s (%.100s does)",
				 policy_cap_principal(cap), nb, owner);
			status = ask(app, cap, POLICY_EXECUTE, &theirs, desc, request, &p, msg, size);
		} else if (policy_cap_must_ask(cap, POLICY_EXECUTE)) {
			status = ask(app, cap, POLICY_EXECUTE, &res, desc, "kernel channels", &p, msg,
				     size);
		}
		if (status)
			return status;
	}
	authz_audit(app, policy_cap_principal(cap), "execute", desc, ok ? "allow" : "deny",
		    ok ? "kernel channels opened" : why);
	if (!ok)
		snprintf(msg, size, "%s needs execute on %s: %s", policy_cap_principal(cap), desc, why);
	return ok ? 0 : 403;
}

/* Pending prompts past their deadline: denied, and recorded. */
static void on_timed_out(void *arg, const policy_prompt_t *p)
{
	char detail[512];

	snprintf(detail, sizeof detail, "prompt %s timed out: %s", p->id, p->request);
	authz_audit(arg, p->principal, policy_prompt_action_name(p), p->resource, "deny", detail);
}

void authz_prompts_expire(app_t *app)
{
	if (app->prompts && policy_prompts_expire(app->prompts, util_unix_time(), on_timed_out, app))
		prompts_notify(app);
}

bool authz_count_execution(app_t *app, policy_cap_t *cap, kernel_t *k, char *why, size_t size)
{
	policy_resource_t res;
	char path[CPATH_MAX], desc[DESC_MAX];

	if (!app->policy || policy_count_execution(app->policy, cap, why, size) == 0)
		return true;
	authz_kernel_resource(app, k, &res, path, sizeof path);
	describe(&res, "a kernel", desc, sizeof desc);
	authz_audit(app, policy_cap_principal(cap), "execute", desc, "deny", why);
	return false;
}
