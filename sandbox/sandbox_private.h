/*
 * Internals of sandbox/: the per-kernel cgroup (cgroup.c) and the workspace
 * usage measurement (disk.c). Nothing outside sandbox/ includes this.
 */
#ifndef CELLGATE_SANDBOX_PRIVATE_H
#define CELLGATE_SANDBOX_PRIVATE_H

#include "sandbox.h"

enum { CG_MEMORY, CG_PIDS, CG_CPU, CG_NCTL };

/*
 * A sandbox's cgroups: one child per controller under the server's own
 * cgroup (cgroup v1, each controller its own hierarchy), or one child in the
 * unified hierarchy (v2). A controller we could not use has dir NULL.
 */
typedef struct sbx_cgroup {
	int version;              /* 1 or 2; 0 when there is none at all */
	char *dir[CG_NCTL];       /* v2: all three point at the same directory */
	int procs_fd[CG_NCTL];    /* cgroup.procs, open for the launch child; -1 */
} sbx_cgroup_t;

/* Creates the cgroups for name and sets memory and process limits (0: none).
 * Never fails the launch: what cannot be had is left NULL and said in the
 * log once. */
void sbx_cgroup_create(sbx_cgroup_t *cg, const char *name, const sbx_limits_t *l);
/* In the launch child: joins every cgroup through the open descriptors
 * (async-signal-safe). */
int sbx_cgroup_join(const sbx_cgroup_t *cg);
/* Closes the descriptors (in the parent, once the child has joined). */
void sbx_cgroup_close_fds(sbx_cgroup_t *cg);
/* CPU time of everything in the cgroup, in nanoseconds; -1 without one. */
int64_t sbx_cgroup_cpu_ns(const sbx_cgroup_t *cg);
/* OOM kills and failed forks at the process limit so far. */
uint64_t sbx_cgroup_oom_kills(const sbx_cgroup_t *cg);
uint64_t sbx_cgroup_pids_max_hits(const sbx_cgroup_t *cg);
/* Kills what is left inside and removes the cgroups; one still busy (its
 * last processes exiting) is retried by later calls. */
void sbx_cgroup_destroy(sbx_cgroup_t *cg);
/* Retries removals that found the cgroup busy. */
void sbx_cgroup_sweep(void);
/* The loop whose timer retries them. */
void sbx_cgroup_use_loop(uv_loop_t *loop);

/* Sets memory and process limits (0: none) on existing cgroups; -1 when a
 * write failed (said in the log). */
int sbx_cgroup_set_limits(const sbx_cgroup_t *cg, const sbx_limits_t *l);

/* What a launch child needs to become bwrap once its descriptors are in
 * place (launch.c). */
typedef struct sbx_exec {
	char **argv;
	char **envp;
	uid_t uid;
	gid_t gid;
	sbx_limits_t limits;
	bool skip_memory;    /* a cgroup holds the memory limit */
	bool skip_processes; /* ... the process limit */
} sbx_exec_t;

/* stdin, stdout, stderr, the kernel dir, the info pipe, seccomp, status */
#define SBX_CHILD_NFD (SBX_FD_LAST + 2)
/* Places src[] at 0..SBX_CHILD_NFD-1, closes everything else, drops to
 * x's uid, applies the rlimits and executes; errno to src[last] on failure.
 * Async-signal-safe. */
void __attribute__((noreturn)) sbx_child_exec(const sbx_exec_t *x, int src[SBX_CHILD_NFD]);

/*
 * The spare launch child (spare.c): one process kept ready in cgroups of
 * its own. sbx_spare_claim hands it x and fds (stdout, stderr, the kernel
 * dir, the info pipe, seccomp: the spare gets copies), sets x's memory and
 * process limits on its cgroups, and returns its pid with *cg taken over
 * and *status_fd the channel that reports exec (EOF) or an errno; 0 when
 * there is no usable spare (launch the old way). sbx_spare_schedule
 * prepares the next one soon on loop; sbx_spare_stop kills an unused one
 * and removes its cgroups.
 */
pid_t sbx_spare_claim(sbx_exec_t *x, const int fds[SBX_CHILD_NFD - 2], sbx_cgroup_t *cg,
		      int *status_fd);
void sbx_spare_schedule(uv_loop_t *loop);
void sbx_spare_stop(void);

/* Bytes allocated under dir (st_blocks), walking at most DISK_MAX_ENTRIES
 * entries; cached across callers for 50 times what the walk took, within
 * 0.1 s and max_age_s. *is_partial when the walk stopped at the bound. */
uint64_t sbx_disk_usage(const char *dir, double max_age_s, bool *is_partial);

#endif
