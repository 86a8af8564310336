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
 */
#ifndef CELLGATE_EGRESS_BROKER_H
#define CELLGATE_EGRESS_BROKER_H

#include <jansson.h>
#include <uv.h>

#include "../kernels/kernels.h"
#include "config.h"

typedef struct egress_broker egress_broker_t;

/* cfg is borrowed and must outlive the broker. */
egress_broker_t *egress_broker_new(uv_loop_t *loop, const config_t *cfg);
/* Closes every listener and connection; frees once they are closed. */
void egress_broker_free(egress_broker_t **self_p);

/* The kernel manager's on_sandbox hook (kmgr_config_t). */
void egress_broker_on_sandbox(void *broker, kernel_t *k, bool up);

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
