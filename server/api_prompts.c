/*
 * /api/cellgate/prompts: side effects waiting for a person's answer.
 *
 *   GET  prompts         the prompts the caller asked or may answer (?state=pending)
 *   GET  prompts/{id}    one of them: what an asking agent waits on
 *
 * Both take ?wait=SECONDS (1 to 300): prompts/{id} answers once the prompt
 * is settled (or the wait is over, still pending); prompts answers once
 * there is a pending prompt the caller may see. The request is held, not
 * polled: an agent or a browser panel waits on it.
 *   POST prompts/{id}    {"answer": "allow_once" | "allow_session" | "deny"};
 *                        needs approve on the prompt's notebook (routes.c),
 *                        and nobody answers their own prompt
 *
 * Answers are recorded in the audit log with who gave them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "../policy/prompts.h"
#include "app.h"
#include "authz.h"
#include "egress_broker.h"
#include "quota_prompts.h"
#include "handlers.h"

/* Prompts a caller may see: its own, and those it may answer. */
bool prompts_visible(http_req_t *req, const policy_prompt_t *p)
{
	policy_cap_t *cap = http_cap(req);
	policy_resource_t res = { .path = p->has_path ? p->path : NULL };

	if (!cap || policy_cap_is_root(cap) || strcmp(p->principal, policy_cap_principal(cap)) == 0)
		return true;
	return authz_may(req, POLICY_APPROVE, &res);
}

#define WAIT_MAX_S 300
#define WAITERS_MAX 256

/* A held request: for one prompt (id), or for the list (id ""). */
typedef struct prompt_waiter {
	http_req_t *req;
	char id[40];
	double deadline;
	struct prompt_waiter *next;
} prompt_waiter_t;

static json_t *visible_list(http_req_t *req, const char *state)
{
	app_t *app = http_app(req);
	json_t *list = json_array();

	for (policy_prompt_t *p = policy_prompts_next(app->prompts, NULL); p;
	     p = policy_prompts_next(app->prompts, p)) {
		if (state && strcmp(state, policy_prompt_state_name(p->state)) != 0)
			continue;
		if (prompts_visible(req, p))
			json_array_append_new(list, policy_prompt_json(p));
	}
	return list;
}

/* ?wait=: 0 when absent; -1 after answering 400. */
static int wait_seconds(http_req_t *req)
{
	const char *v = http_query(req, "wait");
	char *end;
	long n;

	if (!v)
		return 0;
	n = strtol(v, &end, 10);
	if (!*v || *end || n < 1 || n > WAIT_MAX_S) {
		http_respond_error(req, 400, "\"wait\" must be a number of seconds from 1 to %d",
				   WAIT_MAX_S);
		return -1;
	}
	return (int)n;
}

static size_t count_waiters(const app_t *app)
{
	size_t n = 0;

	for (const prompt_waiter_t *w = app->prompt_waiters; w; w = w->next)
		n++;
	return n;
}

/* Holds req until prompts_notify or the deadline answers it. */
static void hold(http_req_t *req, const char *id, int seconds)
{
	app_t *app = http_app(req);
	prompt_waiter_t *w;

	/* bounded, as every buffer is: past it, the caller polls */
	if (count_waiters(app) >= WAITERS_MAX || !(w = calloc(1, sizeof *w))) {
		http_respond_error(req, 503, "too many requests are waiting on prompts");
		return;
	}
	w->req = req;
	snprintf(w->id, sizeof w->id, "%s", id);
	w->deadline = util_unix_time() + seconds;
	w->next = app->prompt_waiters;
	app->prompt_waiters = w;
	http_defer(req);
}

/* Answers w now if it is due (settled, something to show, deadline, gone). */
static bool answer_waiter(app_t *app, prompt_waiter_t *w, double now)
{
	bool is_due = now >= w->deadline || !http_is_open(w->req);

	if (w->id[0]) {
		policy_prompt_t *p = policy_prompts_find(app->prompts, w->id);

		if (!p || p->state != PROMPT_PENDING || is_due) {
			if (p)
				http_respond_json(w->req, 200, policy_prompt_json(p));
			else
				http_respond_error(w->req, 404, "no such prompt: %s", w->id);
			return true;
		}
		return false;
	}
	{
		json_t *list = visible_list(w->req, "pending");

		if (json_array_size(list) || is_due) {
			http_respond_json(w->req, 200, list);
			return true;
		}
		json_decref(list);
	}
	return false;
}

void prompts_notify(app_t *app)
{
	double now = util_unix_time();
	prompt_waiter_t **link = &app->prompt_waiters;

	/* connections held on a prompt go on, or are refused, first */
	egress_broker_on_prompts(app->egress, app->prompts);
	quota_prompts_settle(app);

	while (*link) {
		prompt_waiter_t *w = *link;

		if (!answer_waiter(app, w, now)) {
			link = &w->next;
			continue;
		}
		*link = w->next;
		http_release(w->req);
		free(w);
	}
	events_notify(app);
}

void prompts_release_waiters(app_t *app)
{
	while (app->prompt_waiters) {
		prompt_waiter_t *w = app->prompt_waiters;

		app->prompt_waiters = w->next;
		http_respond_error(w->req, 503, "the server is stopping");
		http_release(w->req);
		free(w);
	}
}

void api_prompts_list(http_req_t *req)
{
	app_t *app = http_app(req);
	const char *state = http_query(req, "state");
	int wait = wait_seconds(req);
	json_t *list;

	if (wait < 0)
		return;
	authz_prompts_expire(app);
	list = visible_list(req, wait ? "pending" : state);
	if (wait && json_array_size(list) == 0) {
		json_decref(list);
		hold(req, "", wait);
		return;
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
	if (!p || !prompts_visible(req, p)) {
		http_respond_error(req, 404, "no such prompt: %s", http_param(req, 0));
		return NULL;
	}
	return p;
}

void api_prompt_get(http_req_t *req)
{
	int wait = wait_seconds(req);
	policy_prompt_t *p = wait < 0 ? NULL : named_prompt(req);

	if (!p)
		return;
	if (wait && p->state == PROMPT_PENDING)
		hold(req, p->id, wait);
	else
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
			 policy_prompt_action_name(p), p->request, answer);
		authz_audit(app, who, "approve", p->resource,
			    strcmp(answer, "deny") == 0 ? "deny" : "allow", detail);
		http_respond_json(req, 200, policy_prompt_json(p));
		prompts_notify(app);
	}
	json_decref(body);
}
