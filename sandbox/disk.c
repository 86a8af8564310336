/*
 * The workspace's size, for the disk quota.
 *
 * A bounded walk (nftw, not crossing mounts or following links) that sums
 * allocated blocks, so sparse files count what they really use. Its cost is
 * bounded twice: at most DISK_MAX_ENTRIES entries a walk, and whatever the
 * number of sandboxes asking, one walk per DISK_COST_FACTOR times the last
 * walk's own duration (at least DISK_MIN_AGE_S, at most max_age_s): the
 * walk runs on the server's loop, so it may take about 2% of it, and a
 * small workspace (a cheap walk) is measured at every watch tick, which
 * keeps a fast writer's overshoot small. A workspace with more entries
 * gets a lower bound and the log says so once.
 */
#define _XOPEN_SOURCE 700
#include "sandbox_private.h"

#include <ftw.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "../common/log.h"
#include "../common/util.h"

#define DISK_MAX_ENTRIES 100000
#define DISK_COST_FACTOR 50.0
#define DISK_MIN_AGE_S 0.1

static struct {
	char *dir;
	double at;
	double walk_s;    /* what the last walk took */
	uint64_t bytes;
	bool is_partial;
	bool warned;
} cache;

static uint64_t walk_bytes;
static size_t walk_entries;

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path;
	(void)type;
	(void)ftw;
	walk_bytes += (uint64_t)st->st_blocks * 512;
	return ++walk_entries >= DISK_MAX_ENTRIES ? 1 : 0;
}

uint64_t sbx_disk_usage(const char *dir, double max_age_s, bool *is_partial)
{
	double now = util_unix_time(), age = DISK_COST_FACTOR * cache.walk_s;
	int rc;

	age = age < DISK_MIN_AGE_S ? DISK_MIN_AGE_S : age > max_age_s ? max_age_s : age;
	if (cache.dir && strcmp(cache.dir, dir) == 0 && now - cache.at < age) {
		if (is_partial)
			*is_partial = cache.is_partial;
		return cache.bytes;
	}
	walk_bytes = 0;
	walk_entries = 0;
	rc = nftw(dir, visit, 32, FTW_PHYS | FTW_MOUNT);
	free(cache.dir);
	cache.dir = strdup(dir);
	cache.at = now;
	cache.walk_s = util_unix_time() - now;
	cache.bytes = walk_bytes;
	cache.is_partial = rc == 1;
	if (cache.is_partial && !cache.warned) {
		cache.warned = true;
		log_warn("sandbox", "the workspace has more than %d entries; its size for the disk "
			 "quota counts the first %d", DISK_MAX_ENTRIES, DISK_MAX_ENTRIES);
	}
	if (is_partial)
		*is_partial = cache.is_partial;
	return cache.bytes;
}
