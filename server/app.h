/*
 * The server's state, shared by its handlers: one instance per process,
 * living on the one event loop.
 */
#ifndef CELLGATE_APP_H
#define CELLGATE_APP_H

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#include "../kernels/kernels.h"
#include "../notebook-store/store.h"
#include "../policy/audit.h"
#include "../policy/policy.h"
#include "../policy/prompts.h"
#include "config.h"

struct lws_context;
typedef struct sessions sessions_t;
typedef struct egress_broker egress_broker_t;
typedef struct recorder recorder_t;
typedef struct replays replays_t;

struct app {
	config_t cfg;
	uv_loop_t *loop;
	struct lws_context *lws;
	kmgr_t *kernels;
	sessions_t *sessions;
	egress_broker_t *egress;  /* the sandboxes' way out (egress_broker.h) */
	store_t *store;          /* STATE/store.sqlite: every notebook version */
	recorder_t *recorder;    /* execution records; NULL with --no-record */
	replays_t *replays;      /* replay jobs (replay.c) */
	unsigned char login_key[32]; /* signs login cookies: auth_init, cookie.h */
	policy_t *policy;        /* principals and the root key for capability tokens */
	policy_audit_t *audit;   /* the audit log in the store file, opened on first use */
	struct policy_secrets *secrets; /* STATE/secrets.sqlite, opened on first use (api_secrets.c) */
	policy_prompts_t *prompts; /* side effects waiting for a person's answer */
	struct prompt_waiter *prompt_waiters; /* requests waiting on prompts (api_prompts.c) */
	struct event_client *event_clients; /* open event streams (api_events.c) */
	json_t *event_states;    /* prompt id -> [the state the streams last heard, its event seq] */
	json_int_t event_seq;    /* the last event id sent on the streams (api_events.c) */
	struct quota_wait *quota_waits; /* cells held on a time-quota prompt (quota_prompts.c) */
	json_t *quota_sessions;  /* kernel id -> the prompt that allowed its overruns */
	struct kernel_owner_entry *kernel_owners; /* who started each kernel (kernel_start.c) */
	double started_at;
	double last_activity;
	bool is_stopping;
};

#endif
