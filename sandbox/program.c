/*
 * The programs a sandbox runs, made reachable from inside it.
 *
 * bubblewrap runs as the kernel's unprivileged user and resolves every
 * path it binds or executes as that user, inside a view whose /tmp and
 * /run are private. A kernel binary or the egress relay in a build tree
 * under a 0700 directory (/root/..., a mktemp -d clone) or under /tmp is
 * therefore invisible to the sandbox even though the server can read it.
 * Such a program is copied once into the server's runtime directory
 * (0711, under /tmp) and run from there; bwrap.c binds it back in.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox.h"

/* FNV-1a of the path: copies of two programs with one name do not collide. */
static unsigned long path_tag(const char *path)
{
	unsigned long h = 2166136261ul;

	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		h = (h ^ *p) * 16777619ul;
	return h & 0xfffffffful;
}

static bool may_execute(const struct stat *st, uid_t uid, gid_t gid)
{
	if (st->st_uid == uid)
		return (st->st_mode & S_IXUSR) != 0;
	if (st->st_gid == gid)
		return (st->st_mode & S_IXGRP) != 0;
	return (st->st_mode & S_IXOTH) != 0;
}

/* Copies src to dst (mode 0755) through a temporary file and a rename. */
static int copy_file(const char *src, const char *dst, err_t *err)
{
	char tmp[4300], buf[65536];
	int in = open(src, O_RDONLY | O_CLOEXEC), out;
	ssize_t n = 0;

	if (in < 0)
		return err_set(err, CG_ESYS, "cannot read %s: %s", src, strerror(errno));
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.%ld.tmp", dst, (long)getpid()) >= sizeof tmp) {
		close(in);
		return err_set(err, CG_EINVAL, "%s: path too long", dst);
	}
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (out < 0) {
		close(in);
		return err_set(err, CG_ESYS, "cannot write %s: %s", tmp, strerror(errno));
	}
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	close(in);
	if (n < 0 || fchmod(out, 0755) != 0 || close(out) != 0 || rename(tmp, dst) != 0) {
		unlink(tmp);
		return err_set(err, CG_ESYS, "cannot copy %s: %s", src, strerror(errno));
	}
	return 0;
}

char *sbx_program_reachable(const char *path, const char *runtime_dir, uid_t uid, gid_t gid,
			    err_t *err)
{
	char dir[4096], copy[4200];
	int n;
	const char *base = strrchr(path, '/');
	struct stat st, cst;

	if (stat(path, &st) != 0) {
		err_set(err, CG_EINVAL, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (sbx_path_is_reachable(path, uid, gid) && may_execute(&st, uid, gid))
		return strdup(path);
	snprintf(dir, sizeof dir, "%s/programs", runtime_dir);
	if (mkdir(dir, 0711) != 0 && errno != EEXIST) {
		err_set(err, CG_ESYS, "cannot create %s: %s", dir, strerror(errno));
		return NULL;
	}
	n = snprintf(copy, sizeof copy, "%s/%08lx-%s", dir, path_tag(path), base ? base + 1 : path);
	if (n < 0 || (size_t)n >= sizeof copy) {
		err_set(err, CG_EINVAL, "%s: path too long", path);
		return NULL;
	}
	/* one copy per server, refreshed when the program is rebuilt */
	if (stat(copy, &cst) != 0 || cst.st_size != st.st_size || cst.st_mtime < st.st_mtime) {
		if (copy_file(path, copy, err) != 0)
			return NULL;
	}
	return strdup(copy);
}
