/*
 * Authorization: what the request's capability (auth.c) allows, asked of
 * policy/ before every handler and inside handlers where the resource is
 * only known from the body (a kernel's kernelspec, a rename's target).
 *
 * A refusal is a 403 {"message": "<who> needs <action> on <resource>:
 * <why>", "reason": "Forbidden"}. Refusals, and grants of anything but
 * read (writes, executions, kernel launches), go to the audit log; allowed
 * reads do not, as they change nothing and would drown the rest.
 */
#ifndef CELLGATE_AUTHZ_H
#define CELLGATE_AUTHZ_H

#include <stdbool.h>

#include "../kernels/kernels.h"
#include "../policy/policy.h"
#include "http.h"
#include "routes.h"

/* The route's declared capability; answers (403, or the path's error)
 * and returns false when it does not hold. */
bool authz_route(http_req_t *req, const route_t *route);
/* action on res; answers 403 and returns false when not allowed. */
bool authz_require(http_req_t *req, policy_action_t action, const policy_resource_t *res);
/* action on a workspace path as a client names it (normalized here; a
 * malformed one stands for the workspace root), with a kernelspec or NULL. */
bool authz_require_path(http_req_t *req, policy_action_t action, const char *api_path,
			const char *kernelspec);
/* Starting a kernel for a workspace path (as authz_require_path) with a
 * kernelspec in a trust class: execute on them, the class included (a
 * trust= caveat outside it is a 403, never a prompt). ask_why (NULL: none)
 * says why a person must approve it even so (a class weaker than the
 * principal's default): then it is asked as the "ask" actions are. */
bool authz_require_start(http_req_t *req, const char *api_path, const char *kernelspec,
			 const char *trust, const char *ask_why);
/* action on res, silently: for filtering what a listing shows. */
bool authz_may(const http_req_t *req, policy_action_t action, const policy_resource_t *res);
/* A kernel as a resource: its notebook (its session's path, else the path
 * it was started for) and its kernelspec. path_buf holds the path. */
void authz_kernel_resource(app_t *app, kernel_t *k, policy_resource_t *res, char *path_buf,
			   size_t size);
/*
 * The channels WebSocket: may cap execute in kernel k? 0 when it may;
 * otherwise the status to answer the upgrade with (403, or 202 while a
 * prompt is pending) and msg for the client. Audited either way (opening
 * channels is how code runs).
 */
int authz_kernel_channels(app_t *app, policy_cap_t *cap, kernel_t *k, char *msg, size_t size);
/* Times out pending prompts (denied, audited); the server calls it each second. */
void authz_prompts_expire(app_t *app);
/* One execute_request on a channel: counted against max-executions. */
bool authz_count_execution(app_t *app, policy_cap_t *cap, kernel_t *k, char *why, size_t size);
/* Appends to the audit log (opened on first use); failures are logged. */
void authz_audit(app_t *app, const char *principal, const char *action, const char *resource,
		 const char *decision, const char *detail);

#endif
