/*
 * kernels: the kernel manager and the message relay.
 *
 * The manager starts kernels (always inside a sandbox, through sandbox/),
 * keeps their state (starting, idle, busy, restarting, dead) from IOPub
 * status messages and from the process itself, watches their heartbeat, and
 * interrupts, restarts and shuts them down. The relay connects clients to a
 * kernel: each client session gets its own shell, stdin and control sockets
 * whose ZeroMQ identity is the session id (so the kernel routes replies and
 * input requests to the client that asked), IOPub goes to every client, and
 * what arrives for a detached session is buffered, up to a cap, until it
 * reconnects.
 *
 * Everything runs on the caller's libuv loop; nothing here is thread-safe.
 */
#ifndef CELLGATE_KERNELS_H
#define CELLGATE_KERNELS_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>
#include <uv.h>

#include "../common/err.h"
#include "../sandbox/sandbox.h"
#include "kernelspec.h"
#include "wire.h"

typedef struct kmgr kmgr_t;
typedef struct kernel kernel_t;
typedef struct kclient kclient_t;

typedef enum kchannel { KCH_SHELL, KCH_CONTROL, KCH_STDIN, KCH_IOPUB, KCH_COUNT } kchannel_t;

const char *kchannel_name(kchannel_t ch);
/* 0 and *out set when name[0..len) is a channel name, else CG_EINVAL. */
int kchannel_parse(const char *name, size_t len, kchannel_t *out);

typedef enum kstate {
	KSTATE_STARTING,
	KSTATE_IDLE,
	KSTATE_BUSY,
	KSTATE_RESTARTING,
	KSTATE_DEAD,
} kstate_t;

const char *kstate_name(kstate_t s);

typedef struct kmgr_config {
	const char *runtime_dir;   /* host dir for per-kernel dirs, mode 0700 */
	const char *workspace;     /* absolute, canonical */
	char *const *hidden;       /* host paths hidden from sandboxes (NULL-terminated) */
	uid_t uid;                 /* what kernels run as on the host */
	gid_t gid;
	const char *kernelspec_dir; /* cellgate's own kernelspecs, searched too */
	const char *bwrap;         /* NULL: the default path */
	double shutdown_wait_s;    /* shutdown_request -> SIGTERM */
	double kill_wait_s;        /* SIGTERM -> SIGKILL */
	double start_timeout_s;    /* the kernel must answer kernel_info within */
	double heartbeat_s;        /* heartbeat period; 0 turns it off */
	int heartbeat_misses;      /* missed beats before the kernel is declared dead */
	size_t buffer_msgs;        /* per detached session */
	size_t buffer_bytes;
	double detached_ttl_s;     /* a detached session's sockets and buffer live this long */
	sbx_limits_t limits;       /* every kernel's resource limits, unless overridden */
	/* per trust class and kernelspec (sbx_limits_for); borrowed, must outlive the manager */
	const sbx_limit_override_t *limit_overrides;
	size_t n_limit_overrides;
	const char *egress_relay;  /* the relay binary; NULL: no egress at all */
	bool sandbox_plain;        /* no seccomp, cgroups, watch or relay (to measure them) */
	/* Called before each launch of a kernel's sandbox (up; again on a
	 * restart) and when the kernel is freed (!up): the egress broker
	 * serves SBX_EGRESS_SOCKET_NAME in kernel_dir(k) meanwhile. */
	void (*on_sandbox)(void *arg, kernel_t *k, bool up);
	void *on_sandbox_arg;
	/* A cell reached its CPU quota: true when a person is being asked
	 * (answer with kernel_cell_quota_answer), false to interrupt it now.
	 * NULL: interrupt. */
	bool (*on_cell_quota)(void *arg, kernel_t *k);
	void *on_cell_quota_arg;
} kmgr_config_t;

/* Defaults for everything but the paths and ids. */
void kmgr_config_defaults(kmgr_config_t *cfg);

/* Where a client's messages go. deliver borrows msg: take a reference to
 * keep it. closed is called when the manager ends the client (another
 * connection took over its session, or the kernel is gone); the kclient
 * pointer is invalid once it returns. */
typedef struct kclient_sink {
	void (*deliver)(void *ctx, kchannel_t ch, wire_msg_t *msg);
	void (*closed)(void *ctx, const char *why);
} kclient_sink_t;

/* Completion of an asynchronous operation: status 0 or a CG_E code. */
typedef void (*kernel_done_fn)(void *arg, int status, const char *message);

kmgr_t *kmgr_new(uv_loop_t *loop, const kmgr_config_t *cfg, err_t *err);
/* Shuts every kernel down (shutdown_request, then signals), then calls done.
 * The manager stays usable; free it with kmgr_free afterwards. */
void kmgr_shutdown_all(kmgr_t *mgr, void (*done)(void *arg), void *arg);
/* Kills what is left at once and frees the manager. */
void kmgr_free(kmgr_t **self_p);

/* Kernelspecs as this manager sees them. Caller owns the list. */
kspec_list_t *kmgr_kernelspecs(kmgr_t *mgr);

/*
 * Starts a kernel of the named kernelspec with cwd_rel (relative to the
 * workspace, "" for its root) as its working directory. Returns as soon as
 * the sandbox is running; the kernel is "starting" until it answers
 * kernel_info. CG_ENOTFOUND when there is no such kernelspec.
 */
int kmgr_start(kmgr_t *mgr, const char *spec_name, const char *cwd_rel, const char *session_name,
	       kernel_t **out, err_t *err);
kernel_t *kmgr_find(kmgr_t *mgr, const char *id);
/* Iteration in start order: kmgr_next(mgr, NULL) is the first. */
kernel_t *kmgr_next(kmgr_t *mgr, kernel_t *prev);
size_t kmgr_count(const kmgr_t *mgr);
size_t kmgr_connections(const kmgr_t *mgr);

const char *kernel_id(const kernel_t *k);
const char *kernel_spec_name(const kernel_t *k);
/* The notebook path it was started for ("" when none): what policy names
 * when it decides who may use the kernel. */
const char *kernel_session_name(const kernel_t *k);
kstate_t kernel_state(const kernel_t *k);
/* {"id", "name", "last_activity", "execution_state", "connections", "limits",
 *  "trust_class"[, "reason"][, "limit_reached"]} */
json_t *kernel_model(const kernel_t *k);

/* SIGINT to the kernel's process group, or interrupt_request on control
 * when its kernelspec says interrupt_mode "message". */
int kernel_interrupt(kernel_t *k, err_t *err);
/* Stops the kernel and starts a fresh one with the same id; done is called
 * once the new kernel has answered kernel_info (or the restart failed). */
int kernel_restart(kernel_t *k, kernel_done_fn done, void *arg, err_t *err);
/* Calls done once the kernel has answered kernel_info (status 0) or has
 * died or been shut down first (CG_ESTATE, with the reason); at once when
 * it is already one or the other. */
int kernel_wait_ready(kernel_t *k, kernel_done_fn done, void *arg);
/* The kernel's trust class: the one chosen at start (kstart_opts), else its
 * kernelspec's metadata.cellgate.trust_class, "trusted" when it says none. */
const char *kernel_trust_class(const kernel_t *k);
/* The msg_id of the request the kernel says it is busy with (the kernel's
 * word, printable characters only: shown to people, never trusted); ""
 * when it is not busy. */
void kernel_busy_msg_id(const kernel_t *k, char *out, size_t size);
/* Counts the kernel's cells (each busy status): which one is running. */
unsigned kernel_cell_seq(const kernel_t *k);
/* The answer for cell (kernel_cell_seq when on_cell_quota asked): extend
 * its quota by seconds, or interrupt it (then, as without a prompt, the
 * kernel is stopped if it goes on past the grace). by names who answered,
 * for the message the cell's clients see. Nothing once the cell is over. */
void kernel_cell_quota_answer(kernel_t *k, unsigned cell, bool extend, double seconds,
			      const char *by);
/* The host path of the kernel's runtime directory (never shown to clients). */
const char *kernel_dir(const kernel_t *k);
/* Why the kernel died, or NULL. */
const char *kernel_reason(const kernel_t *k);
/* Stops the kernel and forgets it; done runs just before it is freed.
 * Every attached client is closed. */
void kernel_shutdown(kernel_t *k, kernel_done_fn done, void *arg);

/* Attaches a client session. A session id that is already attached is
 * taken over (the old sink is closed); a detached one is resumed and its
 * buffered messages are delivered first. Caller owns the result until
 * kclient_detach or the sink's closed callback. */
kclient_t *kernel_attach(kernel_t *k, const char *session_id, const kclient_sink_t *sink,
			 void *ctx, err_t *err);
/* Sends a client's message to the kernel on ch (not IOPub). Messages sent
 * while the kernel starts or restarts wait for it, up to the buffer cap. */
int kclient_send(kclient_t *c, kchannel_t ch, wire_msg_t *msg, err_t *err);
/* The client went away: its session stays, buffered, for detached_ttl_s. */
void kclient_detach(kclient_t **self_p);
kernel_t *kclient_kernel(const kclient_t *c);
/* Who is behind the client, for execution records ("" until set). */
void kclient_set_principal(kclient_t *c, const char *principal);
const char *kclient_principal(const kclient_t *c);

/*
 * An observer of the relay's traffic, for execution records. Every call is
 * on the loop, inside the message path: an observer must return at once
 * (no I/O) and must not call back into the manager. Messages are borrowed.
 *
 *   request  a client's message that goes (or is queued) to the kernel
 *   kernel   a message from the kernel: a reply on shell, or IOPub
 *   event    KEV_LAUNCHED: a kernel process started (a new kernel session);
 *            KEV_ENDED: it ended (died, restarted, shut down; reason says);
 *            KEV_GONE: the kernel_t is about to be freed;
 *            KEV_CELL_LIMIT: the running cell passed its CPU quota and is
 *            being interrupted (or, if it goes on, the kernel stopped)
 */
typedef enum kevent { KEV_LAUNCHED, KEV_ENDED, KEV_GONE, KEV_CELL_LIMIT } kevent_t;

typedef struct kobserver {
	void (*request)(void *ctx, kernel_t *k, const kclient_t *c, kchannel_t ch,
			const wire_msg_t *msg);
	void (*kernel)(void *ctx, kernel_t *k, kchannel_t ch, const wire_msg_t *msg);
	void (*event)(void *ctx, kernel_t *k, kevent_t ev, const char *reason);
} kobserver_t;

/* One observer per manager; NULL removes it. obs must outlive the manager. */
void kmgr_set_observer(kmgr_t *mgr, const kobserver_t *obs, void *ctx);

/* What a kernel runs: its kernelspec, the command as launched (argv[0]
 * resolved, the connection file's path inside the sandbox; caller owns the
 * NULL-terminated copy, free each string and the array), its limits and
 * its sandbox class ("trusted", "replay"). */
const kspec_t *kernel_spec(const kernel_t *k);
char **kernel_command(const kernel_t *k);
const sbx_limits_t *kernel_limits(const kernel_t *k);
const char *kernel_sandbox_class(const kernel_t *k);

/* How kmgr_start_opts differs from kmgr_start: a trust class chosen at start
 * (a request's, a replay's) instead of the kernelspec's, and a workspace seen read-only from a given host directory
 * (a snapshot) instead of the live one read-write. */
typedef struct kstart_opts {
	const char *sandbox_class;      /* NULL: the kernelspec's class */
	const char *workspace_snapshot; /* NULL: the live workspace */
	/* NULL: all of it; else only these parts, "rw:PATH" / "ro:PATH"
	 * (sbx_spec_t.workspace_scope): what the starting token may reach */
	char *const *workspace_scope;
} kstart_opts_t;

int kmgr_start_opts(kmgr_t *mgr, const char *spec_name, const char *cwd_rel,
		    const char *session_name, const kstart_opts_t *opts, kernel_t **out,
		    err_t *err);

#endif
