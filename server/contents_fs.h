/*
 * The file operations under the contents API: reading a whole file with a
 * cap, atomic installation of new content (temporary file in the same
 * directory, fsync, rename, fsync of the directory), and the encodings the
 * models need (SHA-256 hex, base64, UTF-8 check, a mimetype guess, URL
 * escaping for Location headers).
 */
#ifndef CELLGATE_CONTENTS_FS_H
#define CELLGATE_CONTENTS_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../common/buf.h"
#include "../common/err.h"

/* Reads fd from its start into b (whose limit caps the size). */
int cfs_read_all(int fd, buf_t *b, err_t *err);

/* Replaces (or creates) dirfd/leaf atomically with len bytes of data, or
 * with the whole of srcfd when srcfd >= 0. The new file keeps the old one's
 * mode and owner; a new one gets the directory's owner (when we are root)
 * and mode 0644. must_be_new: CG_ECONFLICT if leaf exists, decided by the
 * rename itself (no window). */
int cfs_install(int dirfd, const char *leaf, const void *data, size_t len, int srcfd,
		bool must_be_new, err_t *err);

/* mkdir that gives the directory its parent's owner when we are root. */
int cfs_mkdir(int dirfd, const char *leaf, err_t *err);

/* Lowercase hex SHA-256 of data: out holds 65 bytes. */
void cfs_sha256_hex(const void *data, size_t len, char out[65]);

/* Appends base64 of data to b. */
int cfs_base64_encode(const void *data, size_t len, buf_t *b);
/* Decodes base64 (whitespace ignored) into b; CG_EINVAL on bad input. */
int cfs_base64_decode(const char *text, size_t len, buf_t *b);

bool cfs_is_utf8(const void *data, size_t len);
/* A guess from the name's extension, as Python's mimetypes would; NULL when unknown. */
const char *cfs_mimetype(const char *name);

/* Percent-escapes path for a URL ('/' kept); caller owns the string. */
char *cfs_url_escape(const char *path);

#endif
