/* File operations and encodings for the contents API; see contents_fs.h. */
#include "contents_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"

int cfs_read_all(int fd, buf_t *b, err_t *err)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && st.st_size > 0 &&
	    buf_reserve(b, (size_t)st.st_size) != 0)
		return err_set(err, CG_ETOOBIG, "the file is too large to serve");
	for (;;) {
		size_t room = b->limit - b->len < 65536 ? b->limit - b->len : 65536;
		char probe;
		ssize_t n;

		if (room == 0) {
			/* at the cap: one more byte means the file is over it */
			if (pread(fd, &probe, 1, (off_t)b->len) > 0)
				return err_set(err, CG_ETOOBIG, "the file is too large to serve");
			break;
		}
		if (buf_reserve(b, room) != 0)
			return err_set(err, CG_ETOOBIG, "the file is too large to serve");
		n = pread(fd, b->data + b->len, room, (off_t)b->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_set(err, CG_ESYS, "cannot read the file: %s", strerror(errno));
		if (n == 0)
			break;
		b->len += (size_t)n;
		b->data[b->len] = '\0';
	}
	return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int copy_fd(int out, int in)
{
	off_t off = 0;

	for (;;) {
		ssize_t n = sendfile(out, in, &off, 1u << 30);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
	}
}

int cfs_install(int dirfd, const char *leaf, const void *data, size_t len, int srcfd,
		bool must_be_new, err_t *err)
{
	char tmp[300], hex[17];
	struct stat old, dir;
	mode_t mode = 0644;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	int fd = -1, rc = 0;
	bool has_tmp = false;

	if (fstatat(dirfd, leaf, &old, AT_SYMLINK_NOFOLLOW) == 0) {
		if (must_be_new)
			return err_set(err, CG_ECONFLICT, "file already exists: '%s'", leaf);
		if (S_ISDIR(old.st_mode))
			return err_set(err, CG_EINVAL, "'%s' is a directory", leaf);
		mode = old.st_mode & 07777;
		uid = old.st_uid;
		gid = old.st_gid;
	} else if (fstat(dirfd, &dir) == 0) {
		uid = dir.st_uid;
		gid = dir.st_gid;
	}
	if (util_random_hex(hex, 8) != 0)
		return err_set(err, CG_ESYS, "no randomness");
	/* hidden, so listings skip it while it exists; same directory, so
	 * the rename is atomic */
	snprintf(tmp, sizeof tmp, ".~cellgate-%s.tmp", hex);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = err_set(err, errno == EACCES || errno == EROFS ? CG_EDENIED : CG_ESYS,
			     "cannot write in this directory: %s", strerror(errno));
		goto out;
	}
	has_tmp = true;
	if (geteuid() == 0 && uid != (uid_t)-1)
		(void)fchown(fd, uid, gid);
	if ((srcfd >= 0 ? copy_fd(fd, srcfd) : write_all(fd, data, len)) != 0 ||
	    fchmod(fd, mode) != 0 || fsync(fd) != 0) {
		rc = err_set(err, errno == ENOSPC || errno == EDQUOT ? CG_ETOOBIG : CG_ESYS,
			     "cannot write the file: %s", strerror(errno));
		goto out;
	}
	if (must_be_new) {
		if (renameat2(dirfd, tmp, dirfd, leaf, RENAME_NOREPLACE) != 0) {
			rc = errno == EEXIST ? err_set(err, CG_ECONFLICT, "file already exists: '%s'", leaf)
					     : err_set(err, CG_ESYS, "cannot save: %s", strerror(errno));
			goto out;
		}
	} else if (renameat(dirfd, tmp, dirfd, leaf) != 0) {
		rc = err_set(err, errno == EISDIR ? CG_EINVAL : CG_ESYS, "cannot save: %s",
			     strerror(errno));
		goto out;
	}
	has_tmp = false;
	/* the rename is durable once the directory is */
	(void)fsync(dirfd);
out:
	if (fd >= 0)
		close(fd);
	if (has_tmp)
		unlinkat(dirfd, tmp, 0);
	return rc;
}

int cfs_mkdir(int dirfd, const char *leaf, err_t *err)
{
	struct stat dir;

	if (mkdirat(dirfd, leaf, 0755) != 0) {
		if (errno == EEXIST)
			return err_set(err, CG_ECONFLICT, "'%s' already exists", leaf);
		return err_set(err, errno == EACCES || errno == EROFS ? CG_EDENIED : CG_ESYS,
			       "cannot create the directory: %s", strerror(errno));
	}
	if (geteuid() == 0 && fstat(dirfd, &dir) == 0)
		(void)fchownat(dirfd, leaf, dir.st_uid, dir.st_gid, AT_SYMLINK_NOFOLLOW);
	(void)fsync(dirfd);
	return 0;
}

void cfs_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(data, len, md);
	util_hex_encode(md, sizeof md, out);
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int cfs_base64_encode(const void *data, size_t len, buf_t *b)
{
	const unsigned char *p = data;
	char *o;

	if (buf_reserve(b, (len + 2) / 3 * 4) != 0)
		return CG_ETOOBIG;
	o = b->data + b->len;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16;

		if (i + 1 < len)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		*o++ = B64[(v >> 18) & 63];
		*o++ = B64[(v >> 12) & 63];
		*o++ = i + 1 < len ? B64[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? B64[v & 63] : '=';
	}
	b->len = (size_t)(o - b->data);
	b->data[b->len] = '\0';
	return 0;
}

int cfs_base64_decode(const char *text, size_t len, buf_t *b)
{
	unsigned acc = 0;
	int bits = 0;
	size_t pad = 0;

	if (buf_reserve(b, len / 4 * 3 + 3) != 0)
		return CG_ETOOBIG;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		const char *at;

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad || !c || !(at = strchr(B64, c)))
			return CG_EINVAL;
		acc = (acc << 6) | (unsigned)(at - B64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			b->data[b->len++] = (char)((acc >> bits) & 0xff);
		}
	}
	if (pad > 2 || bits >= 6)
		return CG_EINVAL;
	b->data[b->len] = '\0';
	return 0;
}

bool cfs_is_utf8(const void *data, size_t len)
{
	const unsigned char *s = data;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		for (size_t k = 1; k <= n; k++) {
			if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

const char *cfs_mimetype(const char *name)
{
	static const char *map[][2] = {
		{ "txt", "text/plain" }, { "py", "text/x-python" }, { "md", "text/markdown" },
		{ "json", "application/json" }, { "csv", "text/csv" }, { "html", "text/html" },
		{ "htm", "text/html" }, { "css", "text/css" }, { "js", "text/javascript" },
		{ "xml", "text/xml" }, { "sh", "application/x-sh" }, { "c", "text/x-c" },
		{ "h", "text/x-chdr" }, { "png", "image/png" }, { "jpg", "image/jpeg" },
		{ "jpeg", "image/jpeg" }, { "gif", "image/gif" }, { "svg", "image/svg+xml" },
		{ "pdf", "application/pdf" }, { "zip", "application/zip" },
		{ "tar", "application/x-tar" }, { "wasm", "application/wasm" },
		{ "yaml", "application/yaml" }, { "yml", "application/yaml" },
		{ "tex", "text/x-tex" }, { "ico", "image/vnd.microsoft.icon" },
	};
	const char *dot = strrchr(name, '.');

	if (!dot || dot == name)
		return NULL;
	for (size_t i = 0; i < sizeof map / sizeof *map; i++)
		if (strcasecmp(dot + 1, map[i][0]) == 0)
			return map[i][1];
	return NULL;
}

char *cfs_url_escape(const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(path);
	char *out = malloc(3 * n + 1), *o = out;

	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~/", *p)) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}
