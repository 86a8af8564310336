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

/* Bytes allocated under dir (st_blocks), walking at most max_entries
 * entries; cached for max_age_s across callers. *is_partial when the walk
 * stopped at the bound. */
uint64_t sbx_disk_usage(const char *dir, double max_age_s, bool *is_partial);

#endif
