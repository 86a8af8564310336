/*
 * sandbox: every kernel process starts here, inside bubblewrap.
 *
 * There is no code path that runs a kernel outside a sandbox: the kernel
 * manager hands a sbx_spec_t to sbx_launch, which builds a bubblewrap
 * command line (sbx_bwrap_argv, a pure function the unit tests check) and
 * starts it as an unprivileged user, in its own session, with no inherited
 * file descriptors beyond the ones named here.
 *
 * The view from inside: the host root read-only, the workspace read-write at
 * its host path, a private /tmp, /dev and /proc of its own, new pid, ipc,
 * uts, net and user namespaces (so no network, only its own loopback), the
 * kernel's runtime directory (connection file and ipc sockets) at
 * SBX_KERNEL_DIR, and the server's state directory hidden under an empty
 * tmpfs. Capabilities are dropped; the sandbox dies with its parent.
 *
 * Hardening (seccomp.c): a seccomp filter denies what a kernel never needs
 * (ptrace, mount, modules, bpf, perf, keyrings, new namespaces, io_uring...),
 * and bwrap's --disable-userns stops nested user namespaces as well. /sys is
 * an empty read-only tmpfs but for the CPU topology.
 *
 * Limits (limits.c, cgroup.c, the watcher in launch.c): per-sandbox cgroups
 * where the machine lets us make them, rlimits otherwise, and a watcher that
 * samples CPU time, OOM kills, refused forks and the workspace's size and
 * reports them (sbx_limit_fn). Egress (relay/, egress_policy.c): the only way
 * out is a relay on the sandbox's loopback that hands connections to the
 * server's broker, which asks egress_decide.
 */
#ifndef CELLGATE_SANDBOX_H
#define CELLGATE_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "../common/err.h"

/* Where the kernel's runtime directory appears inside the sandbox. */
#define SBX_KERNEL_DIR "/run/cellgate"
#define SBX_BWRAP "/usr/bin/bwrap"
/* The descriptors bwrap gets besides stdio: the kernel directory to bind,
 * the pipe bwrap reports the sandbox's pid on, the seccomp program. Nothing
 * else crosses (launch.c closes everything above SBX_FD_LAST). */
#define SBX_FD_KERNEL_DIR 3
#define SBX_FD_INFO 4
#define SBX_FD_SECCOMP 5
#define SBX_FD_LAST SBX_FD_SECCOMP

/* Per-kernel resource limits (limits.c); 0 means none. */
typedef struct sbx_limits {
	uint64_t memory_bytes;     /* the sandbox's memory: a cgroup, else RLIMIT_DATA per process */
	uint64_t processes;        /* the sandbox's tasks: a pids cgroup, else RLIMIT_NPROC per uid */
	uint64_t open_files;       /* RLIMIT_NOFILE */
	uint64_t file_size_bytes;  /* RLIMIT_FSIZE: a larger write fails with EFBIG */
	uint64_t cpu_seconds;      /* CPU time of the whole sandbox over its life */
	uint64_t cell_cpu_seconds; /* CPU time of one cell (busy to idle) */
	uint64_t disk_bytes;       /* the workspace's size while the kernel runs a cell */
} sbx_limits_t;

/* The limits a watcher or cgroup reports on (sbx_limit_fn). */
typedef enum sbx_limit {
	SBX_LIMIT_MEMORY,
	SBX_LIMIT_PROCESSES,
	SBX_LIMIT_CPU,
	SBX_LIMIT_CELL_CPU,
	SBX_LIMIT_DISK,
	SBX_LIMIT_COUNT,
} sbx_limit_t;

/* "out of memory", "process limit", "cpu time limit", "cell cpu time
 * limit", "disk quota exceeded": the reason users and the model see. */
const char *sbx_limit_reason(sbx_limit_t which);
/* The key a limit has in the kernel model's "mechanism" object. */
const char *sbx_limit_key(sbx_limit_t which);

void sbx_limits_defaults(sbx_limits_t *l);
/* Applies l to the calling process; async-signal-safe (used after fork).
 * Memory and processes are left out when a cgroup holds them
 * (skip_memory, skip_processes). */
int sbx_limits_apply(const sbx_limits_t *l, bool skip_memory, bool skip_processes);

/*
 * One limit set for a scope of kernels in the configuration: scope is
 * "trust.CLASS" or "kernelspec.NAME", field the byte offset of a uint64_t
 * in sbx_limits_t. sbx_limits_for starts from base, applies the trust
 * class's overrides, then the kernelspec's (the narrower scope wins).
 */
#define SBX_SCOPE_MAX 96
typedef struct sbx_limit_override {
	char scope[SBX_SCOPE_MAX];
	size_t field;
	uint64_t value;
} sbx_limit_override_t;

void sbx_limits_for(const sbx_limits_t *base, const sbx_limit_override_t *ov, size_t n,
		    const char *kernelspec, const char *trust_class, sbx_limits_t *out);

typedef struct sbx_spec {
	char *const *argv;      /* the command inside; argv[0] an absolute path */
	char *const *env;       /* NULL-terminated "NAME=value", already scrubbed */
	const char *workspace;  /* host path, bound read-write at the same path */
	const char *workspace_snapshot; /* when set: this host dir, read-only, at workspace's path */
	/* when set: only these of the workspace (or snapshot), "rw:PATH" or
	 * "ro:PATH" relative to it, over an empty read-only directory: what
	 * the starting token's path caveats allow (policy_cap_workspace_scope) */
	char *const *workspace_scope;
	const char *cwd;        /* absolute, inside the workspace */
	int kernel_dir_fd;      /* bound read-write at SBX_KERNEL_DIR */
	char *const *hidden;    /* host paths covered by an empty tmpfs, may be NULL */
	uid_t uid;              /* host uid and gid the sandbox runs as */
	gid_t gid;
	const char *bwrap;      /* path of bwrap; NULL means SBX_BWRAP */
	sbx_limits_t limits;    /* all zero: none */
	const char *name;       /* names the sandbox's cgroups; unique among running ones */
	/* The egress relay (host path of bin/cellgate-egress-relay), started
	 * inside before the kernel; NULL for none. It listens on
	 * 127.0.0.1:SBX_EGRESS_PORT and forwards to SBX_EGRESS_SOCKET, which the
	 * server's broker serves in the kernel directory. */
	const char *egress_relay;
	bool is_plain;          /* no seccomp, no cgroups, no watch: the bare sandbox (bench) */
} sbx_spec_t;

#define SBX_EGRESS_PORT 3128
#define SBX_EGRESS_SOCKET_NAME "egress.sock"
#define SBX_EGRESS_SOCKET SBX_KERNEL_DIR "/" SBX_EGRESS_SOCKET_NAME
/* A name the broker answers itself, never resolved: GET
 * SBX_SECRETS_URL "NAME" through the proxy reads the secret NAME once a
 * person approves (server/egress_broker.c). The kernel finds it in
 * CELLGATE_SECRETS_URL. */
#define SBX_SECRETS_HOST "secrets.cellgate"
#define SBX_SECRETS_URL "http://" SBX_SECRETS_HOST "/"

typedef struct sbx sbx_t;

/* exit_status is the kernel's exit code, or 128+N when a signal N ended it. */
typedef void (*sbx_exit_fn)(void *arg, int exit_status);
/* Output the kernel wrote to its stdout or stderr (is_stderr), in chunks. */
typedef void (*sbx_output_fn)(void *arg, bool is_stderr, const char *data, size_t len);
/* A limit was reached while the sandbox runs (see sbx_launch); count is 1
 * the first time in a cell (or life, for the others), 2 when a cell goes on
 * past its grace after that. */
typedef void (*sbx_limit_fn)(void *arg, sbx_limit_t which, int count);

typedef struct sbx_callbacks {
	sbx_exit_fn on_exit;
	sbx_output_fn on_output;
	sbx_limit_fn on_limit; /* may be NULL */
} sbx_callbacks_t;

/*
 * The bubblewrap command line for spec, with the kernel dir passed as
 * SBX_FD_KERNEL_DIR and bwrap's info pipe as SBX_FD_INFO.
 * Caller owns the NULL-terminated result (sbx_argv_free).
 */
char **sbx_bwrap_argv(const sbx_spec_t *spec, err_t *err);
void sbx_argv_free(char ***argv_p);

/* Starts the sandbox. on_exit is called once, from the loop, when it ends.
 * While it runs, a watcher on the loop samples its CPU time, the cgroups'
 * out-of-memory and process-limit counters, and the workspace's size, and
 * calls on_limit. Caller owns the result and frees it with sbx_free after
 * on_exit ran. */
sbx_t *sbx_launch(uv_loop_t *loop, const sbx_spec_t *spec, const sbx_callbacks_t *cb,
		  void *arg, err_t *err);

/* A cell starts (the kernel went busy) or ends (idle): the per-cell CPU
 * quota and the disk quota count from here. */
void sbx_cell_begin(sbx_t *sbx);
void sbx_cell_end(sbx_t *sbx);
/* The running cell reached its CPU quota (on_limit, count 1) and a person
 * is asked whether to extend it: no grace counts until the answer.
 * sbx_cell_extend lets the cell use seconds more from now (the quota may
 * be reached again); sbx_cell_refuse starts the grace after the interrupt
 * from now. Each does nothing once the cell is over. */
void sbx_cell_ask(sbx_t *sbx);
void sbx_cell_extend(sbx_t *sbx, double seconds);
void sbx_cell_refuse(sbx_t *sbx);
/* CPU seconds the whole sandbox has used so far. */
double sbx_cpu_seconds(sbx_t *sbx);
/* How a limit is enforced for this sandbox: "cgroup-v1", "cgroup-v2",
 * "rlimit", "watch" (the server samples and stops), or "none". */
const char *sbx_mechanism(const sbx_t *sbx, sbx_limit_t which);
/* The limit that explains the sandbox's death, if any (checked when it has
 * ended: a cgroup OOM kill, or one the watcher already reported);
 * SBX_LIMIT_COUNT when none. */
sbx_limit_t sbx_death_cause(sbx_t *sbx);

/*
 * A memfd holding the kernel's seccomp program (classic BPF, as bwrap
 * --seccomp reads it), positioned at its start. The program is built on the
 * first call and reused. Caller owns the descriptor; negative on error.
 */
int sbx_seccomp_fd(err_t *err);
/* Frees the cached program (for leak checkers at exit). */
void sbx_seccomp_release(void);

/* bwrap's pid (outside every namespace). */
pid_t sbx_pid(const sbx_t *sbx);
/* The kernel's pid as the host sees it, 0 while not yet known. */
pid_t sbx_kernel_pid(sbx_t *sbx);

/* Sends sig to the kernel's process group (the kernel runs in a session of
 * its own inside the sandbox): SIGINT for an interrupt, SIGTERM to stop. */
int sbx_signal_kernel(sbx_t *sbx, int sig);
/* Ends the whole sandbox at once: every process in its pid namespace dies. */
void sbx_kill(sbx_t *sbx);
bool sbx_is_running(const sbx_t *sbx);

void sbx_free(sbx_t **self_p);

/* At exit, after every sandbox is freed: waits (at most a second) for the
 * cgroups of the last ones to empty and removes them, closes the retry
 * timer, forgets what was discovered. */
void sbx_cleanup(void);

/* True when uid/gid may search every directory on the way to path, i.e.
 * the path can be named (bound, hidden) from the sandbox's side. */
bool sbx_path_is_reachable(const char *path, uid_t uid, gid_t gid);

/* path itself when uid/gid can reach and execute it; else a copy made once
 * in runtime_dir/programs (program.c), which the sandbox binds in. NULL
 * with err set when it cannot be read or copied. Caller frees. */
char *sbx_program_reachable(const char *path, const char *runtime_dir, uid_t uid, gid_t gid,
			    err_t *err);

#endif
