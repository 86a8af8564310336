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
 * and bwrap's --disable-userns stops nested user namespaces as well.
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
	uint64_t memory_bytes;    /* RLIMIT_DATA, per process */
	uint64_t processes;       /* RLIMIT_NPROC: per host uid, shared by its kernels */
	uint64_t open_files;      /* RLIMIT_NOFILE */
	uint64_t file_size_bytes; /* RLIMIT_FSIZE: a larger write fails with EFBIG */
	uint64_t cpu_seconds;     /* RLIMIT_CPU, per process: SIGXCPU, then SIGKILL */
} sbx_limits_t;

#define SBX_LIMITS_MECHANISM "rlimit"

void sbx_limits_defaults(sbx_limits_t *l);
/* Applies l to the calling process; async-signal-safe (used after fork). */
int sbx_limits_apply(const sbx_limits_t *l);

typedef struct sbx_spec {
	char *const *argv;      /* the command inside; argv[0] an absolute path */
	char *const *env;       /* NULL-terminated "NAME=value", already scrubbed */
	const char *workspace;  /* host path, bound read-write at the same path */
	const char *workspace_snapshot; /* when set: this host dir, read-only, at workspace's path */
	const char *cwd;        /* absolute, inside the workspace */
	int kernel_dir_fd;      /* bound read-write at SBX_KERNEL_DIR */
	char *const *hidden;    /* host paths covered by an empty tmpfs, may be NULL */
	uid_t uid;              /* host uid and gid the sandbox runs as */
	gid_t gid;
	const char *bwrap;      /* path of bwrap; NULL means SBX_BWRAP */
	sbx_limits_t limits;    /* all zero: none */
} sbx_spec_t;

typedef struct sbx sbx_t;

/* exit_status is the kernel's exit code, or 128+N when a signal N ended it. */
typedef void (*sbx_exit_fn)(void *arg, int exit_status);
/* Output the kernel wrote to its stdout or stderr (is_stderr), in chunks. */
typedef void (*sbx_output_fn)(void *arg, bool is_stderr, const char *data, size_t len);

/*
 * The bubblewrap command line for spec, with the kernel dir passed as
 * SBX_FD_KERNEL_DIR and bwrap's info pipe as SBX_FD_INFO.
 * Caller owns the NULL-terminated result (sbx_argv_free).
 */
char **sbx_bwrap_argv(const sbx_spec_t *spec, err_t *err);
void sbx_argv_free(char ***argv_p);

/* Starts the sandbox. on_exit is called once, from the loop, when it ends.
 * Caller owns the result and frees it with sbx_free after on_exit ran. */
sbx_t *sbx_launch(uv_loop_t *loop, const sbx_spec_t *spec, sbx_exit_fn on_exit,
		  sbx_output_fn on_output, void *arg, err_t *err);

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

/* True when uid/gid may search every directory on the way to path, i.e.
 * the path can be named (bound, hidden) from the sandbox's side. */
bool sbx_path_is_reachable(const char *path, uid_t uid, gid_t gid);

#endif
