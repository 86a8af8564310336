/*
 * The working copy: writing a notebook file so that a crash at any instant
 * leaves the old bytes or the new ones. The temporary file is in the target's
 * directory (rename is atomic only within a file system) and is fsynced
 * before the rename; the directory is fsynced after it, so the rename itself
 * survives a power loss.
 */
#include "store.h"
#include "../common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int store_write_file_atomic(const char *file_path, const void *data, size_t len, err_t *err)
{
	char *dup = strdup(file_path), *dir, tmp[4096], rnd[17];
	const char *base;
	int fd = -1, dfd = -1, rc = 0;
	struct stat st;
	mode_t mode = 0644;

	if (!dup)
		return err_set(err, CG_ESYS, "out of memory");
	base = strrchr(file_path, '/') ? strrchr(file_path, '/') + 1 : file_path;
	dir = dirname(dup);
	if (util_random_hex(rnd, 8) ||
	    snprintf(tmp, sizeof tmp, "%s/.~%s.%s.tmp", dir, base, rnd) >= (int)sizeof tmp) {
		rc = err_set(err, CG_EINVAL, "file name too long");
		goto out;
	}
	/* Keep the permissions of the file being replaced. */
	if (stat(file_path, &st) == 0)
		mode = st.st_mode & 07777;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		rc = err_set(err, CG_ESYS, "cannot create a temporary file: %s", strerror(errno));
		goto out;
	}
	if (write_all(fd, data, len) || fsync(fd) || close(fd)) {
		fd = -1;
		rc = err_set(err, CG_ESYS, "cannot write a temporary file: %s", strerror(errno));
		unlink(tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, file_path)) {
		rc = err_set(err, CG_ESYS, "cannot replace the file: %s", strerror(errno));
		unlink(tmp);
		goto out;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd))
		rc = err_set(err, CG_ESYS, "cannot sync the directory: %s", strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	free(dup);
	return rc;
}
