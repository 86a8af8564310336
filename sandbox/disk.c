/*
 * The workspace's size, for the disk quota.
 *
 * A bounded walk (nftw, not crossing mounts or following links) that sums
 * allocated blocks, so sparse files count what they really use. Its cost is
 * bounded twice: at most DISK_MAX_ENTRIES entries a walk, and one walk per
 * max_age_s whatever the number of sandboxes asking (one workspace, one
 * cached figure). A workspace with more entries gets a lower bound and the
 * log says so once.
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

static struct {
	char *dir;
	double at;
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
	double now = util_unix_time();
	int rc;

	if (cache.dir && strcmp(cache.dir, dir) == 0 && now - cache.at < max_age_s) {
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
