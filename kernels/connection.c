/*
 * A kernel's runtime directory and its connection file.
 *
 * Each kernel gets <runtime_dir>/<kernel id>/, mode 0700, owned by the
 * user the kernel runs as. It holds connection.json (mode 0600, with the
 * kernel's own random key) and the ipc sockets the kernel binds. The
 * sandbox sees this directory, and nothing else of the server's state, at
 * SBX_KERNEL_DIR; the connection file therefore names the ipc paths as the
 * kernel sees them.
 */
#include "connection.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../sandbox/sandbox.h"

int kconn_make_dir(const char *path, uid_t uid, gid_t gid, err_t *err)
{
	int fd;

	if (mkdir(path, 0700) != 0)
		return err_set(err, CG_ESYS, "cannot create the kernel directory: %s",
			       strerror(errno));
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return err_set(err, CG_ESYS, "cannot open the kernel directory: %s", strerror(errno));
	if (geteuid() == 0 && fchown(fd, uid, gid) != 0) {
		close(fd);
		return err_set(err, CG_ESYS, "cannot hand the kernel directory to uid %u: %s",
			       (unsigned)uid, strerror(errno));
	}
	return fd;
}

int kconn_write(int dir_fd, const char *key, const char *kernel_name, uid_t uid, gid_t gid,
		err_t *err)
{
	json_t *conn = json_pack("{s:i, s:i, s:i, s:i, s:i, s:s, s:s, s:s, s:s, s:s}",
				 "shell_port", KCONN_PORT_SHELL, "iopub_port", KCONN_PORT_IOPUB,
				 "stdin_port", KCONN_PORT_STDIN, "control_port", KCONN_PORT_CONTROL,
				 "hb_port", KCONN_PORT_HB, "ip", SBX_KERNEL_DIR "/k",
				 "transport", "ipc", "signature_scheme", "hmac-sha256",
				 "key", key, "kernel_name", kernel_name);
	char *text = conn ? json_dumps(conn, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
	size_t len = text ? strlen(text) : 0;
	int fd = -1, rc = 0;

	json_decref(conn);
	if (!text)
		return err_set(err, CG_ESYS, "out of memory");
	fd = openat(dir_fd, KCONN_FILE, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = err_set(err, CG_ESYS, "cannot write the connection file: %s", strerror(errno));
		goto out;
	}
	if (geteuid() == 0 && fchown(fd, uid, gid) != 0) {
		rc = err_set(err, CG_ESYS, "cannot hand the connection file over: %s",
			     strerror(errno));
		goto out;
	}
	if (write(fd, text, len) != (ssize_t)len)
		rc = err_set(err, CG_ESYS, "cannot write the connection file: %s", strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	free(text);
	return rc;
}

void kconn_remove_dir(int dir_fd, const char *path)
{
	DIR *d;
	struct dirent *e;
	int fd = dup(dir_fd);

	/* Only plain entries are expected (the file and sockets); the kernel
	 * could have made a subdirectory, which we leave rather than recurse
	 * into something a hostile kernel arranged. */
	d = fd >= 0 ? fdopendir(fd) : NULL;
	while (d && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dir_fd, e->d_name, 0);
	}
	if (d)
		closedir(d);
	else if (fd >= 0)
		close(fd);
	rmdir(path);
}
