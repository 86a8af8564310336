/*
 * The egress broker's prompts: a connection an egress-ask rule matches is
 * asked for in the name of the principal who started the kernel, as the
 * effect "network host:port" on the kernel's notebook, so that whoever may
 * approve on that notebook can answer it at /api/cellgate/prompts. The
 * prompt and the outcome go to the audit log; the answer and a timeout are
 * recorded where they happen (api_prompts.c, authz.c).
 */
#include "egress_prompts.h"

#include <stdio.h>
#include <string.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../policy/secrets.h"
#include "authz.h"
#include "contents_path.h"
#include "egress_broker.h"
#include "handlers.h"
#include "kernel_start.h"
#include "recorder.h"

static int ask(void *arg, const char *kernel_id, const char *effect, const char *request,
	       char *id, size_t id_size, char *why, size_t why_size)
{
	app_t *app = arg;
	kernel_t *k = kmgr_find(app->kernels, kernel_id);
	policy_resource_t res = { 0 };
	policy_effect_ask_t q = { 0 };
	const policy_prompt_t *p;
	char path[CPATH_MAX], detail[1400], execution[128] = "", cell[256] = "";
	const char *principal = "server-token", *token_id = "";
	err_t err = { 0 };

	if (!k || !app->prompts) {
		snprintf(why, why_size, "the kernel is gone");
		return -1;
	}
	kernel_owner(app, kernel_id, &principal, &token_id);
	authz_kernel_resource(app, k, &res, path, sizeof path);
	kernel_busy_msg_id(k, execution, sizeof execution);
	/* the cell's effect may come before the kernel's busy status does */
	if (!execution[0])
		recorder_running_msg_id(app->recorder, k, execution, sizeof execution);
	q.principal = principal;
	q.token_id = token_id;
	q.effect = effect;
	q.kernel = kernel_id;
	q.execution = execution[0] ? execution : NULL;
	q.cell = recorder_cell_id(app->recorder, k, execution, cell, sizeof cell) ? cell : NULL;
	q.path = res.path;
	q.request = request;
	p = policy_prompts_ask_effect(app->prompts, &q, util_unix_time(), &err);
	if (!p) {
		/* a policy engine at its limit denies, it never asks */
		snprintf(detail, sizeof detail, "%s in kernel %s: %s", request, kernel_id, err.msg);
		authz_audit(app, principal, "effect", effect, "deny", detail);
		snprintf(why, why_size, "%s", err.msg);
		return -1;
	}
	snprintf(id, id_size, "%s", p->id);
	snprintf(detail, sizeof detail, "%s in kernel %s for /%s: prompt %s", request, kernel_id,
		 res.path ? res.path : "", p->id);
	authz_audit(app, principal, "effect", effect, "prompt", detail);
	prompts_notify(app);
	return 0;
}

static void audit(void *arg, const char *kernel_id, const char *effect, const char *decision,
		  const char *detail)
{
	app_t *app = arg;
	const char *principal = "server-token", *token_id = "";
	char text[1400];

	kernel_owner(app, kernel_id, &principal, &token_id);
	snprintf(text, sizeof text, "kernel %s: %s", kernel_id, detail);
	authz_audit(app, principal, "effect", effect, decision, text);
}

static void withdraw(void *arg, const char *kernel_id, const char *prompt_id, const char *why)
{
	app_t *app = arg;
	policy_prompt_t *p = app->prompts ? policy_prompts_find(app->prompts, prompt_id) : NULL;
	char detail[600];

	if (!policy_prompts_withdraw(p, util_unix_time()))
		return;
	snprintf(detail, sizeof detail, "%s: prompt %s withdrawn: %s", p->request, p->id, why);
	audit(app, kernel_id, p->effect, "withdrawn", detail);
	prompts_notify(app);
}

static int secret(void *arg, const char *name, char **value, size_t *len)
{
	err_t err = { 0 };
	policy_secrets_t *s = app_secrets(arg, &err);

	if (!s) {
		log_warn("secrets", "cannot open the secrets: %s", err.msg);
		return CG_ESTATE;
	}
	return policy_secrets_get(s, name, value, len, &err);
}

/* The starting token's effect= caveats (and its principal's "effects"). */
static int check(void *arg, const char *kernel_id, const char *effect, char *why,
		 size_t why_size)
{
	app_t *app = arg;
	policy_cap_t *cap = kernel_owner_cap(app, kernel_id);
	policy_resource_t res = { .effect = effect };
	char detail[800];

	if (!cap || policy_allows(cap, POLICY_EXECUTE, &res, util_unix_time(), why, why_size))
		return 0;
	snprintf(detail, sizeof detail, "%s refused: %s", effect, why);
	audit(app, kernel_id, effect, "deny", detail);
	return -1;
}

void egress_prompts_attach(app_t *app)
{
	egress_prompter_t pr = { .check = check, .ask = ask, .withdraw = withdraw, .audit = audit,
				 .secret = secret, .arg = app };

	egress_broker_set_prompter(app->egress, &pr);
}
