/*
 * Resource limits of a kernel sandbox, as rlimits.
 *
 * Applied in the launch child just before bwrap is executed, so bwrap, its
 * pid 1 and the kernel inherit them, and nothing inside can raise them (no
 * capabilities). What rlimits cannot do, and the kernel's model says so by
 * "mechanism": "rlimit":
 *   - memory is RLIMIT_DATA (private writable memory: heap and anonymous
 *     mappings, not address-space reservations that RLIMIT_AS would count
 *     against threads' malloc arenas); it is per process, not per sandbox;
 *   - RLIMIT_NPROC counts every task of the host uid, so with all kernels
 *     running as the same user (nobody) it is one budget shared by them all;
 *   - RLIMIT_CPU is per process, and a child starts its own count.
 * A cgroup would hold the whole sandbox to one budget; not done yet.
 */
#include "sandbox.h"

#include <sys/resource.h>

void sbx_limits_defaults(sbx_limits_t *l)
{
	l->memory_bytes = 4ULL << 30;
	l->processes = 4096;
	l->open_files = 4096;
	l->file_size_bytes = 16ULL << 30;
	l->cpu_seconds = 0; /* kernels live long; a total is opt-in */
}

/* Lowers one limit to value (soft) and value + grace (hard); never above the hard limit we already have,
 * which an unprivileged process could not raise anyway. */
static int lower(int resource, uint64_t value, uint64_t grace)
{
	struct rlimit r;
	rlim_t hard;

	if (value == 0)
		return 0;
	if (getrlimit(resource, &r) != 0)
		return -1;
	if (r.rlim_max != RLIM_INFINITY && (rlim_t)value > r.rlim_max)
		value = r.rlim_max;
	hard = (rlim_t)(value + grace);
	if (r.rlim_max != RLIM_INFINITY && hard > r.rlim_max)
		hard = r.rlim_max;
	r.rlim_cur = (rlim_t)value;
	r.rlim_max = hard;
	return setrlimit(resource, &r);
}

/* Async-signal-safe: runs between fork and exec. */
int sbx_limits_apply(const sbx_limits_t *l)
{
	/* the CPU soft limit sends SIGXCPU, so the kernel's death names the
	 * cause; the hard limit a second later is SIGKILL for one that ignores it */
	if (lower(RLIMIT_DATA, l->memory_bytes, 0) != 0 ||
	    lower(RLIMIT_NPROC, l->processes, 0) != 0 ||
	    lower(RLIMIT_NOFILE, l->open_files, 0) != 0 ||
	    lower(RLIMIT_FSIZE, l->file_size_bytes, 0) != 0 ||
	    lower(RLIMIT_CPU, l->cpu_seconds, 1) != 0)
		return -1;
	return 0;
}
