/*
 * Starting a kernel on behalf of a request (POST /api/kernels, a new or
 * changed session): start it, wait until it answers kernel_info, then hand
 * it to the caller. A kernel that dies before it is ready is shut down and
 * the request gets a 500 with the reason, e.g. the last line the kernel
 * wrote to stderr.
 */
#ifndef CELLGATE_KERNEL_START_H
#define CELLGATE_KERNEL_START_H

#include "../kernels/kernels.h"
#include "app.h"
#include "http.h"

/* Called exactly once: with the ready kernel, and must then answer req; or
 * with k NULL when req has already been answered with an error (or its
 * client has gone), to free arg. */
typedef void (*kernel_started_fn)(http_req_t *req, kernel_t *k, void *arg);

/* not_found_status: what an unknown kernelspec is answered with (Jupyter
 * Server answers 404 on /api/kernels and 501 on /api/sessions).
 * trust_class: the class the request names (kernel_trust_parse), NULL for
 * the starter's default (its principal's "default_trust", or the
 * kernelspec's class if that is stronger; the server's token: the
 * kernelspec's). A class weaker than that default is asked of a person
 * (202 with the prompt), as docs/policy.md says. */
void kernel_start_for(http_req_t *req, const char *spec_name, const char *cwd_rel,
		      const char *session_name, const char *trust_class, int not_found_status,
		      kernel_started_fn fn, void *arg);
/* The trust class a request body's "cellgate": {"trust_class": ...} names:
 * 0 with *out NULL when it names none, *out set when it names trusted or
 * untrusted; otherwise CG_EINVAL with msg for the client (an unknown class,
 * or replay, which only the server chooses), to answer 400 with. */
int kernel_trust_parse(json_t *cellgate, const char **out, char *msg, size_t size);

/* Who started kernel id (through kernel_start_for): the principal and its
 * token's identifier, left as they are when nobody is known. */
void kernel_owner(app_t *app, const char *id, const char **principal, const char **token_id);
/* The capability kernel id was started with (borrowed), or NULL. */
policy_cap_t *kernel_owner_cap(app_t *app, const char *id);
/* At the server's end. */
void kernel_owners_free(app_t *app);

/* The default kernelspec's name: python3 when there is one. Caller frees. */
char *kernel_default_spec(kmgr_t *mgr);

#endif
