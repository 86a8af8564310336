/* Starting a kernel for a request. See kernel_start.h. */
#include "kernel_start.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "authz.h"
#include "../common/util.h"
#include "../policy/policy.h"

typedef struct start_op {
	http_req_t *req;
	char kernel_id[64];
	kernel_started_fn fn;
	void *arg;
} start_op_t;

char *kernel_default_spec(kmgr_t *mgr)
{
	kspec_list_t *specs = kmgr_kernelspecs(mgr);
	char *name = NULL;

	if (specs && kspec_find(specs, "python3"))
		name = strdup("python3");
	else if (specs && specs->count)
		name = strdup(specs->items[0].name);
	kspec_list_free(&specs);
	return name;
}

/* Who started each kernel: its capability, for the effects its code asks
 * for (egress) and the prompts they raise. A kernel that is gone is
 * forgotten at the next start. */
typedef struct kernel_owner_entry {
	char id[64];
	policy_cap_t *cap;
	struct kernel_owner_entry *next;
} kernel_owner_entry_t;

static void owner_set(app_t *app, const char *id, policy_cap_t *cap)
{
	kernel_owner_entry_t **link = &app->kernel_owners, *e;

	while (*link) {
		e = *link;
		if (kmgr_find(app->kernels, e->id) && strcmp(e->id, id) != 0) {
			link = &e->next;
			continue;
		}
		*link = e->next;
		policy_cap_unref(&e->cap);
		free(e);
	}
	if (!cap || !(e = calloc(1, sizeof *e)))
		return;
	snprintf(e->id, sizeof e->id, "%s", id);
	e->cap = policy_cap_ref(cap);
	e->next = app->kernel_owners;
	app->kernel_owners = e;
}

policy_cap_t *kernel_owner_cap(app_t *app, const char *id)
{
	for (kernel_owner_entry_t *e = app->kernel_owners; e; e = e->next)
		if (strcmp(e->id, id) == 0)
			return e->cap;
	return NULL;
}

void kernel_owner(app_t *app, const char *id, const char **principal, const char **token_id)
{
	policy_cap_t *cap = kernel_owner_cap(app, id);

	if (!cap)
		return;
	if (policy_cap_is_root(cap)) {
		*principal = "server-token";
		*token_id = "";
		return;
	}
	*principal = policy_cap_principal(cap);
	*token_id = policy_cap_token_id(cap);
}

void kernel_owners_free(app_t *app)
{
	while (app->kernel_owners) {
		kernel_owner_entry_t *e = app->kernel_owners;

		app->kernel_owners = e->next;
		policy_cap_unref(&e->cap);
		free(e);
	}
}

/* A launch is recorded with the sandbox and the limits it got (each with
 * the mechanism that enforces it), as the kernel model tells them. */
static void audit_launch(app_t *app, http_req_t *req, kernel_t *k)
{
	policy_cap_t *cap = http_cap(req);
	json_t *model = kernel_model(k);
	char *limits = json_dumps(json_object_get(model, "limits"), JSON_COMPACT | JSON_SORT_KEYS);
	json_t *scope = json_object_get(model, "workspace_scope");
	char *seen = scope ? json_dumps(scope, JSON_COMPACT) : NULL;
	char resource[128], detail[1500];

	snprintf(resource, sizeof resource, "kernel %s", kernel_id(k));
	snprintf(detail, sizeof detail, "%s for /%s in bubblewrap as uid %u, trust %s; limits %s; "
		 "workspace %.600s", kernel_spec_name(k), kernel_session_name(k),
		 (unsigned)app->cfg.kernel_uid, kernel_trust_class(k), limits ? limits : "{}",
		 seen ? seen : "all");
	free(limits);
	free(seen);
	json_decref(model);
	authz_audit(app, cap ? policy_cap_principal(cap) : "server-token", "execute", resource,
		    "launch", detail);
}

static void on_ready(void *arg, int status, const char *message)
{
	start_op_t *op = arg;
	app_t *app = http_app(op->req);
	kernel_t *k = kmgr_find(app->kernels, op->kernel_id);

	if (status != 0 || !k) {
		http_respond_error(op->req, 500, "the kernel did not start: %s",
				   message ? message : "it is gone");
		/* a kernel that failed to start is not left behind */
		if (k)
			kernel_shutdown(k, NULL, NULL);
		k = NULL;
	}
	if (k)
		audit_launch(app, op->req, k);
	/* a client that left still gets its kernel, as in Jupyter */
	op->fn(op->req, k, op->arg);
	http_release(op->req);
	free(op);
}

int kernel_trust_parse(json_t *cellgate, const char **out, char *msg, size_t size)
{
	json_t *v = json_object_get(cellgate, "trust_class");
	const char *cls;

	*out = NULL;
	if (!cellgate || json_is_null(cellgate))
		return 0;
	if (!json_is_object(cellgate)) {
		snprintf(msg, size, "\"cellgate\" must be an object");
		return CG_EINVAL;
	}
	if (!v || json_is_null(v))
		return 0;
	cls = json_is_string(v) ? policy_trust_class_name(json_string_value(v)) : NULL;
	if (!cls) {
		snprintf(msg, size, "\"trust_class\" is trusted or untrusted");
		return CG_EINVAL;
	}
	/* a replay's class comes with its snapshot and grants: the server's to choose */
	if (strcmp(cls, "replay") == 0) {
		snprintf(msg, size, "the replay trust class is chosen by the server for a replay's "
			 "kernel (POST /api/cellgate/replays); a kernel started here is trusted or "
			 "untrusted");
		return CG_EINVAL;
	}
	*out = cls;
	return 0;
}

/*
 * The class a kernel of spec_name starts in for cap, and why a person must
 * approve it (into why; "" when not). The baseline is the stronger of the
 * principal's default class and the kernelspec's own; a class the request
 * names may be stronger freely, weaker only once asked. The server's token
 * gets what it names, else the kernelspec's class.
 */
static const char *choose_class(app_t *app, policy_cap_t *cap, const char *spec_name,
				const char *asked, char *why, size_t size)
{
	kspec_list_t *specs = kmgr_kernelspecs(app->kernels);
	const kspec_t *spec = kspec_find(specs, spec_name);
	const char *def = cap ? policy_cap_default_trust(cap) : NULL;
	const char *base = spec ? policy_trust_class_name(kspec_trust_class(spec)) : NULL;
	const char *cls;

	why[0] = '\0';
	/* a class the kernelspec names that policy does not know: the strongest
	 * a client may name, rather than the weakest */
	if (!base)
		base = spec ? "untrusted" : "trusted";
	if (def && policy_trust_rank(def) > policy_trust_rank(base))
		base = def;
	cls = asked ? asked : base;
	/* an unknown kernelspec is answered 404 by the start, not asked about */
	if (spec && cap && !policy_cap_is_root(cap) &&
	    policy_trust_rank(cls) < policy_trust_rank(base))
		snprintf(why, size, "trust class %s is weaker than %s, %s's default for kernelspec %s",
			 cls, base, policy_cap_principal(cap), spec_name);
	kspec_list_free(&specs);
	return cls;
}

void kernel_start_for(http_req_t *req, const char *spec_name, const char *cwd_rel,
		      const char *session_name, const char *trust_class, int not_found_status,
		      kernel_started_fn fn, void *arg)
{
	app_t *app = http_app(req);
	start_op_t *op;
	kernel_t *k;
	err_t err = { 0 };
	char why[256];
	const char *cls;
	kstart_opts_t opts = { 0 };
	char **scope;
	int rc;

	if (app->is_stopping) {
		http_respond_error(req, 503, "the server is stopping");
		fn(req, NULL, arg);
		return;
	}
	cls = choose_class(app, http_cap(req), spec_name, trust_class, why, sizeof why);
	/* a launch is a side effect: checked, and recorded, with what it runs where */
	if (!authz_require_start(req, session_name && *session_name ? session_name : cwd_rel,
				 spec_name, cls, why[0] ? why : NULL)) {
		fn(req, NULL, arg);
		return;
	}
	opts.sandbox_class = cls;
	/* the kernel sees of the workspace what the token's path caveats allow */
	scope = policy_cap_workspace_scope(http_cap(req), util_unix_time(), &err);
	if (err.code) {
		http_respond_error(req, 500, "cannot start the kernel: %s", err.msg);
		fn(req, NULL, arg);
		return;
	}
	opts.workspace_scope = scope;
	rc = kmgr_start_opts(app->kernels, spec_name, cwd_rel, session_name, &opts, &k, &err);
	policy_scope_free(scope);
	if (rc) {
		if (err.code == CG_ENOTFOUND)
			http_respond_error(req, not_found_status, "no such kernelspec: %s", spec_name);
		else
			http_respond_error(req, 500, "cannot start the kernel: %s", err.msg);
		fn(req, NULL, arg);
		return;
	}
	owner_set(app, kernel_id(k), http_cap(req));
	op = calloc(1, sizeof *op);
	if (!op) {
		http_respond_error(req, 500, "out of memory");
		fn(req, NULL, arg);
		return;
	}
	op->req = req;
	op->fn = fn;
	op->arg = arg;
	snprintf(op->kernel_id, sizeof op->kernel_id, "%s", kernel_id(k));
	http_defer(req);
	kernel_wait_ready(k, on_ready, op);
}
