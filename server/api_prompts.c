/*
 * /api/cellgate/prompts: side effects waiting for a person's answer.
 *
 *   GET  prompts         the prompts the caller asked or may answer (?state=pending)
 *   GET  prompts/{id}    one of them: what an asking agent waits on
 *   POST prompts/{id}    {"answer": "allow_once" | "allow_session" | "deny"};
 *                        needs approve on the prompt's notebook (routes.c),
 *                        and nobody answers their own prompt
 *
 * Answers are recorded in the audit log with who gave them.
 */
#include <stdio.h>
#include <string.h>

#include "../common/util.h"
#include "../policy/prompts.h"
#include "app.h"
#include "authz.h"
#include "handlers.h"

/* Prompts a caller may see: its own, and those it may answer. */
static bool is_visible(http_req_t *req, const policy_prompt_t *p)
{
	policy_cap_t *cap = http_cap(req);
	policy_resource_t res = { .path = p->has_path ? p->path : NULL };

	if (!cap || policy_cap_is_root(cap) || strcmp(p->principal, policy_cap_principal(cap)) == 0)
		return true;
	return authz_may(req, POLICY_APPROVE, &res);
}

void api_prompts_list(http_req_t *req)
{
	app_t *app = http_app(req);
	const char *state = http_query(req, "state");
	json_t *list = json_array();

	authz_prompts_expire(app);
	for (policy_prompt_t *p = policy_prompts_next(app->prompts, NULL); p;
	     p = policy_prompts_next(app->prompts, p)) {
		if (state && strcmp(state, policy_prompt_state_name(p->state)) != 0)
			continue;
		if (is_visible(req, p))
			json_array_append_new(list, policy_prompt_json(p));
	}
	http_respond_json(req, 200, list);
}

/* The prompt the route names, if the caller may see it; else 404. */
static policy_prompt_t *named_prompt(http_req_t *req)
{
	app_t *app = http_app(req);
	policy_prompt_t *p;

	authz_prompts_expire(app);
	p = policy_prompts_find(app->prompts, http_param(req, 0));
	if (!p || !is_visible(req, p)) {
		http_respond_error(req, 404, "no such prompt: %s", http_param(req, 0));
		return NULL;
	}
	return p;
}

void api_prompt_get(http_req_t *req)
{
	policy_prompt_t *p = named_prompt(req);

	if (p)
		http_respond_json(req, 200, policy_prompt_json(p));
}

void api_prompt_answer(http_req_t *req)
{
	app_t *app = http_app(req);
	policy_cap_t *cap = http_cap(req);
	const char *who = cap ? policy_cap_principal(cap) : "server-token";
	policy_prompt_t *p = named_prompt(req);
	json_t *body;
	const char *answer;
	char detail[512];
	err_t err = { 0 };

	if (!p || !(body = http_body_json(req)))
		return;
	answer = json_string_value(json_object_get(body, "answer"));
	if (!answer) {
		http_respond_error(req, 400, "the body is {\"answer\": \"allow_once\", "
				   "\"allow_session\" or \"deny\"}");
	} else if (cap && !policy_cap_is_root(cap) && strcmp(p->principal, who) == 0) {
		authz_audit(app, who, "approve", p->resource, "deny", "answering its own prompt");
		http_respond_error(req, 403, "%s needs approve on %s: a principal does not answer "
				   "its own prompt", who, p->resource);
	} else if (policy_prompts_answer(p, answer, who, util_unix_time(), &err)) {
		http_respond_err(req, &err);
	} else {
		snprintf(detail, sizeof detail, "prompt %s of %s (%s %s): %s", p->id, p->principal,
			 policy_action_name(p->action), p->request, answer);
		authz_audit(app, who, "approve", p->resource,
			    strcmp(answer, "deny") == 0 ? "deny" : "allow", detail);
		http_respond_json(req, 200, policy_prompt_json(p));
	}
	json_decref(body);
}
