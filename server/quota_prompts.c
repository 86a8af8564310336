/* Time-quota prompts. See quota_prompts.h. */
#include "quota_prompts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "../common/util.h"
#include "authz.h"
#include "contents_path.h"
#include "handlers.h"
#include "kernel_start.h"
#include "recorder.h"

/* A cell held on its prompt. */
typedef struct quota_wait {
	char prompt[40];
	char kernel[64];
	unsigned cell;
	struct quota_wait *next;
} quota_wait_t;

static void effect_of(const app_t *app, char *out, size_t size)
{
	snprintf(out, size, "time +%.0f s of CPU for a cell", app->cfg.cell_cpu_extend_s);
}

static void audit(app_t *app, const char *kernel_id, const char *decision, const char *detail)
{
	const char *principal = "server-token", *token_id = "";
	char effect[128], text[1000];

	kernel_owner(app, kernel_id, &principal, &token_id);
	effect_of(app, effect, sizeof effect);
	snprintf(text, sizeof text, "kernel %s: %s", kernel_id, detail);
	authz_audit(app, principal, "effect", effect, decision, text);
}

bool quota_prompts_on_cell_quota(void *arg, kernel_t *k)
{
	app_t *app = arg;
	const char *principal = "server-token", *token_id = "";
	const char *by = json_string_value(json_object_get(app->quota_sessions, kernel_id(k)));
	policy_resource_t res = { 0 };
	policy_effect_ask_t q = { 0 };
	const policy_prompt_t *p;
	char path[CPATH_MAX], execution[128] = "", cell[256] = "", effect[128], request[200], detail[600];
	quota_wait_t *w;
	json_t *model;
	err_t err = { 0 };

	if (app->cfg.cell_cpu_extend_s <= 0 || !app->prompts || app->is_stopping)
		return false;
	if (by) {
		snprintf(detail, sizeof detail, "cell over its CPU quota: extended for this kernel "
			 "session by prompt %s", by);
		audit(app, kernel_id(k), "allow", detail);
		kernel_cell_quota_answer(k, kernel_cell_seq(k), true, app->cfg.cell_cpu_extend_s,
					 "an allow for this kernel session");
		return true;
	}
	w = calloc(1, sizeof *w);
	if (!w)
		return false;
	kernel_owner(app, kernel_id(k), &principal, &token_id);
	authz_kernel_resource(app, k, &res, path, sizeof path);
	kernel_busy_msg_id(k, execution, sizeof execution);
	/* the cell's effect may come before the kernel's busy status does */
	if (!execution[0])
		recorder_running_msg_id(app->recorder, k, execution, sizeof execution);
	effect_of(app, effect, sizeof effect);
	model = kernel_model(k);
	snprintf(request, sizeof request, "a cell used its %lld s of CPU time: extend or interrupt",
		 (long long)json_integer_value(json_object_get(json_object_get(model, "limits"),
							       "cell_cpu_seconds")));
	json_decref(model);
	q.principal = principal;
	q.token_id = token_id;
	q.effect = effect;
	q.kernel = kernel_id(k);
	q.execution = execution[0] ? execution : NULL;
	q.cell = recorder_cell_id(app->recorder, k, execution, cell, sizeof cell) ? cell : NULL;
	q.path = res.path;
	q.request = request;
	p = policy_prompts_ask_effect(app->prompts, &q, util_unix_time(), &err);
	if (!p) {
		free(w);
		audit(app, kernel_id(k), "deny", err.msg);
		return false;
	}
	snprintf(w->prompt, sizeof w->prompt, "%s", p->id);
	snprintf(w->kernel, sizeof w->kernel, "%s", kernel_id(k));
	w->cell = kernel_cell_seq(k);
	w->next = app->quota_waits;
	app->quota_waits = w;
	snprintf(detail, sizeof detail, "%s, for /%s: prompt %s", request, res.path ? res.path : "",
		 p->id);
	audit(app, kernel_id(k), "prompt", detail);
	prompts_notify(app);
	return true;
}

/* The answer for w's cell, from its settled prompt p (NULL: gone). */
static void settle(app_t *app, quota_wait_t *w, policy_prompt_t *p)
{
	kernel_t *k = kmgr_find(app->kernels, w->kernel);
	bool extend = p && (p->state == PROMPT_ALLOWED_ONCE || p->state == PROMPT_ALLOWED_SESSION);
	char detail[400], by[POLICY_NAME_MAX + 40];

	if (!k) {
		audit(app, w->kernel, "deny", "the kernel is gone: nothing to extend");
		return;
	}
	if (p && p->state == PROMPT_ALLOWED_ONCE)
		p->state = PROMPT_USED;
	if (p && p->state == PROMPT_ALLOWED_SESSION) {
		const char *key;
		json_t *v, *tmp;

		if (!app->quota_sessions)
			app->quota_sessions = json_object();
		/* kernels that are gone take their allows with them */
		json_object_foreach_safe(app->quota_sessions, tmp, key, v) {
			if (!kmgr_find(app->kernels, key))
				json_object_del(app->quota_sessions, key);
		}
		json_object_set_new(app->quota_sessions, w->kernel, json_string(p->id));
	}
	if (p && p->state == PROMPT_TIMED_OUT)
		snprintf(by, sizeof by, "nobody answered in time");
	else
		snprintf(by, sizeof by, "%s", p && p->answered_by[0] ? p->answered_by : "nobody");
	snprintf(detail, sizeof detail, "prompt %s: %s by %s", w->prompt,
		 extend ? "quota extended" : "cell interrupted", by);
	audit(app, w->kernel, extend ? "allow" : "deny", detail);
	kernel_cell_quota_answer(k, w->cell, extend, app->cfg.cell_cpu_extend_s, by);
}

void quota_prompts_settle(app_t *app)
{
	quota_wait_t **link = &app->quota_waits;

	while (*link) {
		quota_wait_t *w = *link;
		policy_prompt_t *p = policy_prompts_find(app->prompts, w->prompt);

		kernel_t *k = kmgr_find(app->kernels, w->kernel);
		bool is_over = !k || kernel_state(k) != KSTATE_BUSY || kernel_cell_seq(k) != w->cell;

		if (p && p->state == PROMPT_PENDING && !is_over) {
			link = &w->next;
			continue;
		}
		*link = w->next;
		if (p && p->state == PROMPT_PENDING) {
			/* the cell ended (or its kernel) first: nothing left to decide */
			char detail[200];

			policy_prompts_withdraw(p, util_unix_time());
			snprintf(detail, sizeof detail, "prompt %s withdrawn: the cell ended first",
				 p->id);
			audit(app, w->kernel, "withdrawn", detail);
		} else {
			settle(app, w, p);
		}
		free(w);
	}
}

void quota_prompts_release(app_t *app)
{
	while (app->quota_waits) {
		quota_wait_t *w = app->quota_waits;

		app->quota_waits = w->next;
		free(w);
	}
	json_decref(app->quota_sessions);
	app->quota_sessions = NULL;
}
