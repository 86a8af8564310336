/*
 * Contents paths: from an API path ("dir/name.ipynb") to a file descriptor
 * that is certainly inside the workspace.
 *
 * Two steps. cpath_check is syntax only: it refuses what no API path may be
 * (absolute, "..", ".", empty components, NUL, backslashes, control bytes,
 * hidden components unless allowed). cpath_open then opens relative to a
 * descriptor of the workspace with openat2(RESOLVE_BENEATH), so the kernel
 * itself refuses any symlink or ".." that would leave the workspace, with
 * no window between a check and the open (kernels write the workspace and
 * could swap a symlink in). What was opened is checked once more through
 * /proc/self/fd: inside the canonical root on a '/' boundary, and not
 * hidden after symlinks are followed.
 */
#ifndef CELLGATE_CONTENTS_PATH_H
#define CELLGATE_CONTENTS_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../common/err.h"

#define CPATH_MAX 4096

typedef struct cpath_root {
	const char *root;   /* canonical absolute path of the workspace */
	int fd;             /* O_DIRECTORY descriptor of it */
	bool allow_hidden;
} cpath_root_t;

/* Opens the workspace; 0, or CG_ESYS. cpath_root_close releases it. */
int cpath_root_open(cpath_root_t *r, const char *root, bool allow_hidden, err_t *err);
void cpath_root_close(cpath_root_t *r);

/* Validates an API path of len bytes and writes its normal form into out
 * (CPATH_MAX bytes): no leading or trailing '/', "" for the workspace.
 * 0, CG_EINVAL (malformed: 400) or CG_EDENIED (hidden: 403). */
int cpath_check(const char *api, size_t len, bool allow_hidden, char out[CPATH_MAX],
		err_t *err);

/* True when name (one component) is hidden: it starts with '.'. */
bool cpath_is_hidden_name(const char *name);

/* Opens rel (already checked) beneath the workspace with open(2) flags and
 * mode. Returns the descriptor, or CG_ENOTFOUND, CG_EDENIED (the path
 * leaves the workspace or reaches a hidden file through a symlink),
 * CG_ECONFLICT (it exists, with O_EXCL), CG_ESYS. */
int cpath_open(const cpath_root_t *r, const char *rel, int flags, mode_t mode, err_t *err);

/* Opens the directory that holds rel (the workspace itself for a top-level
 * name) and points *leaf at rel's last component. Fails like cpath_open;
 * rel must not be "". */
int cpath_open_parent(const cpath_root_t *r, const char *rel, const char **leaf, err_t *err);

/* The API path of what fd refers to, into out (CPATH_MAX): fails with
 * CG_EDENIED when it is not inside the workspace (or is hidden there and
 * hidden files are not allowed). */
int cpath_of_fd(const cpath_root_t *r, int fd, char out[CPATH_MAX], err_t *err);

#endif
