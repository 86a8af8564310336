/* Confining contents paths to the workspace; see contents_path.h. */
#include "contents_path.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int cpath_root_open(cpath_root_t *r, const char *root, bool allow_hidden, err_t *err)
{
	r->root = root;
	r->allow_hidden = allow_hidden;
	r->fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->fd < 0)
		return err_set(err, CG_ESYS, "the workspace cannot be opened: %s", strerror(errno));
	return 0;
}

void cpath_root_close(cpath_root_t *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

bool cpath_is_hidden_name(const char *name)
{
	return name[0] == '.';
}

int cpath_check(const char *api, size_t len, bool allow_hidden, char out[CPATH_MAX], err_t *err)
{
	size_t start;

	if (!api)
		api = "";
	if (memchr(api, '\0', len))
		return err_set(err, CG_EINVAL, "a path may not contain a NUL byte");
	/* a trailing slash names the same directory, as in Jupyter */
	while (len && api[len - 1] == '/')
		len--;
	if (len >= CPATH_MAX)
		return err_set(err, CG_EINVAL, "the path is too long");
	if (len && api[0] == '/')
		return err_set(err, CG_EINVAL, "absolute paths are not allowed; paths are relative to the workspace");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)api[i];

		/* '\\' is a separator on Windows and in Jupyter there: never ours */
		if (c == '\\')
			return err_set(err, CG_EINVAL, "a path may not contain a backslash");
		if (c < 0x20 || c == 0x7f)
			return err_set(err, CG_EINVAL, "a path may not contain control characters");
	}
	start = 0;
	for (size_t i = 0; len && i <= len; i++) {
		size_t n;

		if (i < len && api[i] != '/')
			continue;
		n = i - start;
		if (n == 0)
			return err_set(err, CG_EINVAL, "a path may not contain an empty component");
		if ((n == 1 && api[start] == '.') ||
		    (n == 2 && api[start] == '.' && api[start + 1] == '.'))
			return err_set(err, CG_EINVAL, "a path may not contain \".\" or \"..\"");
		if (n > 255)
			return err_set(err, CG_EINVAL, "a path component is too long");
		if (!allow_hidden && api[start] == '.')
			return err_set(err, CG_EDENIED, "hidden files and directories are not served");
		start = i + 1;
	}
	memcpy(out, api, len);
	out[len] = '\0';
	return 0;
}

int cpath_of_fd(const cpath_root_t *r, int fd, char out[CPATH_MAX], err_t *err)
{
	char link[64], real[CPATH_MAX];
	size_t rlen = strlen(r->root);
	ssize_t n;
	const char *rel;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, real, sizeof real - 1);
	if (n < 0 || (size_t)n >= sizeof real - 1)
		return err_set(err, CG_ESYS, "cannot tell where a file is");
	real[n] = '\0';
	/* the root itself, or below it on a component boundary: a sibling
	 * "/ws2" shares the prefix of "/ws" and is not inside */
	if (strncmp(real, r->root, rlen) != 0 || (real[rlen] != '\0' && real[rlen] != '/'))
		return err_set(err, CG_EDENIED, "the path leads outside the workspace");
	rel = real + rlen;
	while (*rel == '/')
		rel++;
	if (!r->allow_hidden) {
		for (const char *c = rel; *c; c = strchr(c, '/') ? strchr(c, '/') + 1 : c + strlen(c))
			if (*c == '.')
				return err_set(err, CG_EDENIED, "the path leads to a hidden file or directory");
	}
	snprintf(out, CPATH_MAX, "%s", rel);
	return 0;
}

static int open_beneath(int dirfd, const char *rel, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (unsigned long long)(flags | O_CLOEXEC),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	long fd;
	int tries = 0;

	do {
		fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
	} while (fd < 0 && errno == EAGAIN && ++tries < 8);
	if (fd < 0 && errno == ENOSYS) {
		/* kernels before 5.6: a symlinked leaf is not followed when
		 * creating, and what was opened is checked by the caller */
		if (flags & O_CREAT)
			flags |= O_NOFOLLOW;
		fd = openat(dirfd, rel, flags | O_CLOEXEC, mode);
	}
	return (int)fd;
}

static int open_error(const char *rel, err_t *err)
{
	switch (errno) {
	case ENOENT:
	case ENOTDIR:
		return err_set(err, CG_ENOTFOUND, "file or directory does not exist: '%s'", rel);
	case EXDEV:
	case ELOOP:
		return err_set(err, CG_EDENIED, "'%s' leads outside the workspace", rel);
	case EEXIST:
		return err_set(err, CG_ECONFLICT, "file already exists: '%s'", rel);
	case EACCES:
	case EPERM:
	case EROFS:
		return err_set(err, CG_EDENIED, "permission denied: '%s'", rel);
	case EISDIR:
		return err_set(err, CG_EINVAL, "'%s' is a directory", rel);
	default:
		return err_set(err, CG_ESYS, "cannot open '%s': %s", rel, strerror(errno));
	}
}

int cpath_open(const cpath_root_t *r, const char *rel, int flags, mode_t mode, err_t *err)
{
	char where[CPATH_MAX];
	int fd = open_beneath(r->fd, *rel ? rel : ".", flags, mode);
	int rc;

	if (fd < 0)
		return open_error(rel, err);
	rc = cpath_of_fd(r, fd, where, err);
	if (rc) {
		close(fd);
		if (rc == CG_EDENIED)
			return err_set(err, CG_EDENIED, "'%s' leads outside the workspace or to a hidden file", rel);
		return rc;
	}
	return fd;
}

int cpath_open_parent(const cpath_root_t *r, const char *rel, const char **leaf, err_t *err)
{
	const char *slash = strrchr(rel, '/');
	char parent[CPATH_MAX];
	int fd;

	if (!*rel)
		return err_set(err, CG_EINVAL, "the workspace itself has no parent");
	if (!slash) {
		*leaf = rel;
		return cpath_open(r, "", O_RDONLY | O_DIRECTORY, 0, err);
	}
	*leaf = slash + 1;
	snprintf(parent, sizeof parent, "%.*s", (int)(slash - rel), rel);
	fd = cpath_open(r, parent, O_RDONLY | O_DIRECTORY, 0, err);
	if (fd < 0 && err && err->code == CG_ENOTFOUND)
		err_set(err, CG_ENOTFOUND, "no such directory: '%s'", parent);
	return fd;
}
