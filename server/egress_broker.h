/*
 * The egress broker: the server's end of every sandbox's way out.
 *
 * Each kernel gets a unix socket, SBX_EGRESS_SOCKET_NAME in its runtime
 * directory (bound into its sandbox), where the in-sandbox relay hands over
 * each connection the kernel made to its HTTP proxy. The broker reads the
 * proxy request (CONNECT host:port, or a plain HTTP request with an
 * absolute URI), asks egress_decide, and either answers 403 naming the rule,
 * or resolves the host (only then: a denied name is never looked up),
 * connects, and relays bytes both ways, within the kernel's byte and
 * connection limits. Every decision goes to the server log and to the
 * kernel's decision list (GET /api/cellgate/egress?kernel=ID).
 *
 * A destination an egress-ask rule matches is held before any name is
 * looked up: the broker asks the server for a prompt (egress_prompter_t)
 * and waits, reading nothing more from the connection, until the prompt
 * is settled (egress_broker_on_prompts): allow once lets this connection
 * through, allow for the session lets every later connection of the kernel
 * to the same host:port through without asking (until the kernel is
 * restarted or shut down), deny and timeout answer 403 naming the prompt.
 * A held connection the kernel closes, or whose kernel goes, withdraws its
 * prompt. Before an allow or an ask, the capability that started the kernel
 * must allow the effect net:host:port (a token's effect= caveats narrow
 * what the rules allow; they never widen it).
 *
 * A plain http:// request to SBX_SECRETS_HOST is a kernel reading a named
 * secret: never resolved, never connected. The starting capability must
 * allow secret:NAME (else 403 at once), an unknown name is 404, and
 * otherwise the broker asks ("secret NAME"), every time unless the kernel
 * session has an allow for that name: allowed, the held request is
 * answered 200 with the value; denied or timed out, 403.
 */
#ifndef CELLGATE_EGRESS_BROKER_H
#define CELLGATE_EGRESS_BROKER_H

#include <jansson.h>
#include <uv.h>

#include "../kernels/kernels.h"
#include "../policy/prompts.h"
#include "config.h"

typedef struct egress_broker egress_broker_t;

/* What the broker needs from the server to hold a connection on a prompt. */
typedef struct egress_prompter {
	/* May the capability that started kernel_id have effect ("net:host:port")
	 * at all? 0, or -1 with why (then denied, whatever the rules say). */
	int (*check)(void *arg, const char *kernel_id, const char *effect, char *why,
		     size_t why_size);
	/* A new pending prompt for a connection of kernel_id (effect "network
	 * host:port", request "CONNECT host:port" or "GET http://..."): 0 with
	 * its id, or -1 with why when nobody may be asked (then denied). */
	int (*ask)(void *arg, const char *kernel_id, const char *effect, const char *request,
		   char *id, size_t id_size, char *why, size_t why_size);
	/* The connection stopped waiting (the kernel's client gave up, or the
	 * kernel is gone): its prompt is withdrawn. */
	void (*withdraw)(void *arg, const char *kernel_id, const char *prompt_id, const char *why);
	/* The secret name's value, for a kernel's read of SBX_SECRETS_URL "NAME"
	 * (the broker wipes it with policy_secret_free): 0, CG_ENOTFOUND, or
	 * another error when the secrets cannot be read. */
	int (*secret)(void *arg, const char *name, char **value, size_t *len);
	/* An audit entry in the name of the principal who started the kernel. */
	void (*audit)(void *arg, const char *kernel_id, const char *effect, const char *decision,
		      const char *detail);
	void *arg;
} egress_prompter_t;

/* cfg is borrowed and must outlive the broker. */
egress_broker_t *egress_broker_new(uv_loop_t *loop, const config_t *cfg);
/* Closes every listener and connection; frees once they are closed. */
void egress_broker_free(egress_broker_t **self_p);

/* The kernel manager's on_sandbox hook (kmgr_config_t). */
void egress_broker_on_sandbox(void *broker, kernel_t *k, bool up);

/* Without a prompter, an egress-ask rule denies. */
void egress_broker_set_prompter(egress_broker_t *b, const egress_prompter_t *p);
/* Lets through, or refuses, each held connection whose prompt is settled. */
void egress_broker_on_prompts(egress_broker_t *b, policy_prompts_t *prompts);

/* Told of every decision as the kernel's decision list keeps it ("time",
 * "method", "host", "port", "decision", "rule", "reason"), on the loop:
 * the recorder puts it in the execution running in that kernel. */
typedef void (*egress_decision_fn)(void *ctx, const char *kernel_id, const json_t *decision);
void egress_broker_set_observer(egress_broker_t *b, egress_decision_fn fn, void *ctx);

/* A replay kernel (trust class "replay") gets no egress but what its replay
 * grants: these destinations, each "HOST:PORT" exactly. The configured
 * rules do not apply to it. Replaces the kernel's grants; CG_ENOTFOUND for
 * a kernel the broker does not know. */
int egress_broker_grant(egress_broker_t *b, const char *kernel_id, char *const *dests, size_t n);

/* {"kernel", "decisions": [...], "open_connections", "bytes"}, or NULL
 * for a kernel the broker does not know. Caller owns the result. */
json_t *egress_broker_report(egress_broker_t *b, const char *kernel_id);

#endif
