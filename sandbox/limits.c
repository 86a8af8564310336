/*
 * Resource limits of a kernel sandbox: which limit is enforced how, the
 * rlimits applied in the launch child, and per-scope overrides.
 *
 * Each limit has one mechanism, and the kernel's model names it:
 *   - memory: the sandbox's memory cgroup (the whole sandbox, page cache
 *     and tmpfs included; the kernel's OOM killer acts inside it and we
 *     report "out of memory"), else RLIMIT_DATA per process (private
 *     writable memory; a big allocation fails with MemoryError);
 *   - processes: the pids cgroup (the whole sandbox), else RLIMIT_NPROC,
 *     which counts every task of the host uid, one budget for all kernels
 *     of that user;
 *   - CPU time, total and per cell: the server samples the sandbox's CPU
 *     time (cpuacct, or /proc for the kernel and its reaped children) and
 *     interrupts or stops the kernel ("watch", in launch.c);
 *   - open files and file size: rlimits, per process;
 *   - disk: the server measures the workspace while a cell runs and stops
 *     the kernel past the quota ("watch"); RLIMIT_FSIZE at the quota keeps
 *     one file from overshooting it between two measurements.
 */
#include "sandbox.h"

#include <stddef.h>
#include <string.h>
#include <sys/resource.h>

static const char *const reasons[SBX_LIMIT_COUNT] = {
	"out of memory", "process limit", "cpu time limit", "cell cpu time limit",
	"disk quota exceeded",
};
static const char *const keys[SBX_LIMIT_COUNT] = {
	"memory", "processes", "cpu", "cell_cpu", "disk",
};

const char *sbx_limit_reason(sbx_limit_t which)
{
	return which < SBX_LIMIT_COUNT ? reasons[which] : "";
}

const char *sbx_limit_key(sbx_limit_t which)
{
	return which < SBX_LIMIT_COUNT ? keys[which] : "";
}

void sbx_limits_defaults(sbx_limits_t *l)
{
	l->memory_bytes = 4ULL << 30;
	l->processes = 4096;
	l->open_files = 4096;
	l->file_size_bytes = 16ULL << 30;
	l->cpu_seconds = 0;      /* kernels live long; a total is opt-in */
	l->cell_cpu_seconds = 0; /* so is a per-cell quota */
	l->disk_bytes = 0;
}

/* Lowers one limit to value (soft and hard); never above the hard limit we
 * already have, which an unprivileged process could not raise anyway. */
static int lower(int resource, uint64_t value)
{
	struct rlimit r;

	if (value == 0)
		return 0;
	if (getrlimit(resource, &r) != 0)
		return -1;
	if (r.rlim_max != RLIM_INFINITY && (rlim_t)value > r.rlim_max)
		value = r.rlim_max;
	r.rlim_cur = r.rlim_max = (rlim_t)value;
	return setrlimit(resource, &r);
}

/* Async-signal-safe: runs between fork and exec. */
int sbx_limits_apply(const sbx_limits_t *l, bool skip_memory, bool skip_processes)
{
	uint64_t fsize = l->file_size_bytes;

	if (l->disk_bytes && (!fsize || l->disk_bytes < fsize))
		fsize = l->disk_bytes;
	if ((!skip_memory && lower(RLIMIT_DATA, l->memory_bytes) != 0) ||
	    (!skip_processes && lower(RLIMIT_NPROC, l->processes) != 0) ||
	    lower(RLIMIT_NOFILE, l->open_files) != 0 || lower(RLIMIT_FSIZE, fsize) != 0)
		return -1;
	return 0;
}

static void apply_scope(sbx_limits_t *out, const sbx_limit_override_t *ov, size_t n,
			const char *prefix, const char *name)
{
	size_t pl = strlen(prefix);

	if (!name)
		return;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(ov[i].scope, prefix, pl) != 0 || strcmp(ov[i].scope + pl, name) != 0)
			continue;
		if (ov[i].field + sizeof(uint64_t) <= sizeof *out &&
		    ov[i].field % sizeof(uint64_t) == 0)
			memcpy((char *)out + ov[i].field, &ov[i].value, sizeof(uint64_t));
	}
}

void sbx_limits_for(const sbx_limits_t *base, const sbx_limit_override_t *ov, size_t n,
		    const char *kernelspec, const char *trust_class, sbx_limits_t *out)
{
	*out = *base;
	apply_scope(out, ov, n, "trust.", trust_class);
	apply_scope(out, ov, n, "kernelspec.", kernelspec);
}
