/*
 * Internals shared by the kernel manager (manager.c, lifecycle.c) and the
 * relay (relay.c). Nothing outside kernels/ includes this.
 */
#ifndef CELLGATE_KERNEL_PRIVATE_H
#define CELLGATE_KERNEL_PRIVATE_H

#include "../sandbox/sandbox.h"
#include "connection.h"
#include "kernels.h"
#include "zsock.h"

#define KERNEL_ID_LEN 37
#define SESSION_ID_MAX 128

/* A bounded FIFO of messages with their channels. */
typedef struct msgq_item {
	kchannel_t ch;
	wire_msg_t *msg;
	struct msgq_item *next;
} msgq_item_t;

typedef struct msgq {
	msgq_item_t *head, *tail;
	size_t count, bytes;
	size_t dropped; /* messages dropped at the cap since the last drain */
} msgq_t;

int msgq_push(msgq_t *q, kchannel_t ch, wire_msg_t *msg, size_t max_msgs, size_t max_bytes);
/* Removes the oldest item; the caller owns the returned message reference.
 * ch (may be NULL) gets its channel. */
wire_msg_t *msgq_pop(msgq_t *q, kchannel_t *ch);
void msgq_clear(msgq_t *q);

struct kclient {
	kernel_t *k;
	char session_id[SESSION_ID_MAX];
	zsock_t *sock[KCH_COUNT];  /* shell, control, stdin; IOPub is the kernel's */
	const kclient_sink_t *sink; /* NULL while detached */
	char principal[64];
	void *ctx;
	msgq_t outbox;  /* to the client, while detached */
	msgq_t inbox;   /* to the kernel, while it is not ready */
	double detached_at;
	kclient_t *next;
};

/* What the manager is doing with the kernel process. */
typedef enum kphase {
	PHASE_LAUNCHING,  /* sandbox up, waiting for kernel_info and IOPub */
	PHASE_READY,
	PHASE_STOPPING,   /* stopping, to restart or to shut down */
	PHASE_DEAD,
} kphase_t;

typedef struct kwaiter {
	kernel_done_fn fn;
	void *arg;
	struct kwaiter *next;
} kwaiter_t;

struct kernel {
	kmgr_t *mgr;
	char id[KERNEL_ID_LEN];
	kspec_t spec;
	char *cwd;             /* absolute, inside the workspace */
	char *session_name;    /* the notebook path, for JPY_SESSION_NAME */
	char sandbox_class[16]; /* "trusted", "replay" */
	char *snapshot;        /* a read-only workspace instead of the live one, or NULL */
	char **scope;          /* the parts of the workspace it sees, or NULL: all */
	char *dir;             /* host path of the kernel's runtime dir */
	int dir_fd;
	char key[65];
	wire_key_t *wkey;
	sbx_t *sbx;

	kphase_t phase;
	kstate_t state;        /* what clients are told */
	bool is_restarting;    /* stopping in order to start again */
	bool is_shutting_down;
	bool has_info_reply;   /* readiness: kernel_info answered ... */
	bool has_iopub;        /* ... and IOPub delivers */
	char *reason;          /* why it died, for the model and logs */
	sbx_limits_t limits;   /* this kernel's, resolved at launch */
	char *limit_note;      /* the last limit it reached, for the model */
	wire_msg_t *busy;      /* the status that began the running cell (its parent is the request) */
	unsigned cell_seq;     /* cells begun: which one is running */
	double last_activity;
	double started_at;
	int stop_step;         /* 0: shutdown_request sent, 1: SIGTERM sent */
	int hb_missed;
	bool hb_waiting;

	zsock_t *iopub, *probe, *control, *hb;
	kclient_t *clients;
	kwaiter_t *ready_waiters;  /* restart callers */
	kwaiter_t *gone_waiters;   /* shutdown callers */

	uv_timer_t start_timer, stop_timer, hb_timer;
	int open_timers;
	char stderr_tail[512];
	size_t stderr_len;
	kernel_t *next;
};

struct kmgr {
	uv_loop_t *loop;
	void *zctx;
	kmgr_config_t cfg;
	char *runtime_dir, *workspace, *kernelspec_dir, *bwrap;
	char **hidden;
	char session[33];  /* our session id in messages we originate */
	kernel_t *kernels;
	uv_timer_t sweep_timer;
	void (*all_done)(void *arg);
	void *all_done_arg;
	bool is_freeing;
	const kobserver_t *obs;
	void *obs_ctx;
};

/* Tells the observer, if any (manager.c). */
void kmgr_notify(kernel_t *k, kevent_t ev, const char *reason);

/* relay.c */
void relay_iopub(kernel_t *k, wire_msg_t *msg);
void relay_kernel_ready(kernel_t *k);
/* Answers every request still waiting for the kernel with an error reply. */
void relay_kernel_died(kernel_t *k, const char *reason);
void relay_broadcast_status(kernel_t *k, const char *state);
void relay_close_all(kernel_t *k, const char *why);
void relay_sweep(kernel_t *k, double now);
size_t relay_connections(const kernel_t *k);

/* manager.c */
void kernel_endpoint(const kernel_t *k, int port, char *out, size_t size);
bool kernel_is_ready(const kernel_t *k);
void kernel_touch(kernel_t *k);
/* lifecycle.c: the launch command, argv[0] resolved (caller frees). */
char **lifecycle_argv(const kernel_t *k);

#endif
