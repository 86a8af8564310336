/*
 * A kernel's runtime directory and connection file (see connection.c).
 */
#ifndef CELLGATE_CONNECTION_H
#define CELLGATE_CONNECTION_H

#include <sys/types.h>

#include "../common/err.h"

#define KCONN_FILE "connection.json"
/* ipc "ports": the kernel binds <dir>/k-<port> */
enum {
	KCONN_PORT_SHELL = 1,
	KCONN_PORT_IOPUB,
	KCONN_PORT_STDIN,
	KCONN_PORT_CONTROL,
	KCONN_PORT_HB,
};

/* Creates the directory (0700, handed to uid/gid when we are root) and
 * returns an open descriptor on it, or a negative CG_E code. */
int kconn_make_dir(const char *path, uid_t uid, gid_t gid, err_t *err);
/* Writes connection.json (0600) in the directory. */
int kconn_write(int dir_fd, const char *key, const char *kernel_name, uid_t uid, gid_t gid,
		err_t *err);
/* Removes the directory's entries and the directory. */
void kconn_remove_dir(int dir_fd, const char *path);

#endif
