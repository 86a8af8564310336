/*
 * Contents models over the workspace's ordinary files, with the shapes of
 * Jupyter Server 2.x: every model has name, path, type, created,
 * last_modified, writable, mimetype, size, format, content, hash and
 * hash_algorithm; a directory's content lists its entries without content.
 */
#include "contents.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/buf.h"
#include "../common/jparse.h"
#include "../common/util.h"
#include "../notebook-store/nbformat.h"
#include "app.h"
#include "contents_fs.h"

/* Largest file served with its content; bigger ones are for /files/. */
#define MAX_SERVED_FILE (1024u << 20)

/* What Jupyter's FileContentsManager.hide_globs leaves out of listings. */
static const char *const hide_globs[] = { "__pycache__", "*.pyc", "*.pyo", ".DS_Store", "*~" };

static double ts(const struct timespec *t)
{
	return (double)t->tv_sec + (double)t->tv_nsec / 1e9;
}

static bool is_writable(int fd)
{
	char link[64];

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	return access(link, W_OK) == 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static json_t *base_model(const char *rel, int fd, const struct stat *st, const char *type)
{
	const char *slash = strrchr(rel, '/');
	char created[ISO_TIME_LEN], modified[ISO_TIME_LEN];
	bool is_dir = S_ISDIR(st->st_mode);

	util_iso_time(ts(&st->st_mtim), modified);
	/* Jupyter Server reports st_ctime as "created" on Linux */
	util_iso_time(ts(&st->st_ctim), created);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:n, s:n, s:n, s:o, s:b, s:n, s:n}",
			 "name", slash ? slash + 1 : rel, "path", rel, "type", type,
			 "created", created, "last_modified", modified, "content", "format",
			 "mimetype", "size", is_dir ? json_null() : json_integer(st->st_size),
			 "writable", is_writable(fd), "hash", "hash_algorithm");
}

static const char *type_of(const char *rel, const struct stat *st, const char *asked)
{
	if (S_ISDIR(st->st_mode))
		return "directory";
	if ((asked && strcmp(asked, "notebook") == 0) || (!asked && ends_with(rel, ".ipynb")))
		return "notebook";
	return "file";
}

static bool is_listed(const char *name, bool allow_hidden)
{
	char scratch[CPATH_MAX];

	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	if (!allow_hidden && cpath_is_hidden_name(name))
		return false;
	for (size_t i = 0; i < sizeof hide_globs / sizeof *hide_globs; i++)
		if (fnmatch(hide_globs[i], name, 0) == 0)
			return false;
	/* a name no API path can reach (backslash, control bytes) or that
	 * JSON cannot carry (not UTF-8) is not offered */
	return cfs_is_utf8(name, strlen(name)) &&
	       cpath_check(name, strlen(name), true, scratch, NULL) == 0;
}

static json_t *list_dir(const cpath_root_t *root, const char *rel, int fd)
{
	json_t *list = json_array();
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *e;

	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return list;
	}
	while ((e = readdir(d))) {
		char child[CPATH_MAX];
		struct stat st;
		int cfd;
		json_t *m;

		if (!is_listed(e->d_name, root->allow_hidden))
			continue;
		if (snprintf(child, sizeof child, "%s%s%s", rel, *rel ? "/" : "", e->d_name) >=
		    (int)sizeof child)
			continue;
		/* symlinks are followed, and skipped when they leave the
		 * workspace, dangle, or land on something hidden */
		cfd = cpath_open(root, child, O_PATH, 0, NULL);
		if (cfd < 0)
			continue;
		if (fstat(cfd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
			const char *type = type_of(child, &st, NULL);

			m = base_model(child, cfd, &st, type);
			if (m && strcmp(type, "file") == 0 && cfs_mimetype(e->d_name))
				json_object_set_new(m, "mimetype", json_string(cfs_mimetype(e->d_name)));
			if (m)
				json_array_append_new(list, m);
		}
		close(cfd);
	}
	closedir(d);
	return list;
}

static int fill_file(json_t *m, const char *rel, const buf_t *b, const contents_get_opts_t *o,
		     err_t *err)
{
	const char *mime = cfs_mimetype(rel);
	const char *format = o->format;

	if (!format)
		format = cfs_is_utf8(b->data, b->len) ? "text" : "base64";
	if (strcmp(format, "text") == 0) {
		json_t *s;

		if (!cfs_is_utf8(b->data, b->len))
			return err_set(err, CG_EINVAL, "'%s' is not UTF-8 encoded", rel);
		s = json_stringn_nocheck(b->data, b->len);
		if (!s)
			return err_set(err, CG_ESYS, "out of memory");
		json_object_set_new(m, "content", s);
	} else {
		buf_t enc;
		json_t *s;

		buf_init(&enc, 0);
		if (cfs_base64_encode(b->data, b->len, &enc) != 0)
			return err_set(err, CG_ESYS, "out of memory");
		s = json_stringn_nocheck(enc.data, enc.len);
		buf_free(&enc);
		if (!s)
			return err_set(err, CG_ESYS, "out of memory");
		json_object_set_new(m, "content", s);
	}
	json_object_set_new(m, "format", json_string(format));
	if (!mime)
		mime = strcmp(format, "text") == 0 ? "text/plain" : "application/octet-stream";
	json_object_set_new(m, "mimetype", json_string(mime));
	return 0;
}

json_t *contents_get(const cpath_root_t *root, const char *rel, const contents_get_opts_t *o,
		     err_t *err)
{
	int fd = cpath_open(root, rel, O_RDONLY | O_NONBLOCK, 0, err);
	struct stat st;
	const char *type;
	json_t *m = NULL;
	buf_t b;

	buf_init(&b, MAX_SERVED_FILE);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))) {
		err_set(err, CG_ENOTFOUND, "file or directory does not exist: '%s'", rel);
		goto out;
	}
	type = type_of(rel, &st, o->type);
	if (o->type && strcmp(type, o->type) != 0) {
		if (S_ISDIR(st.st_mode))
			err_set(err, CG_EINVAL, "%s is a directory, not a %s", rel, o->type);
		else
			err_set(err, CG_EINVAL, "%s is not a directory", rel);
		goto out;
	}
	m = base_model(rel, fd, &st, type);
	if (!m) {
		err_set(err, CG_ESYS, "out of memory");
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		if (o->content) {
			json_object_set_new(m, "content", list_dir(root, rel, fd));
			json_object_set_new(m, "format", json_string("json"));
		}
		goto out;
	}
	if (strcmp(type, "file") == 0 && cfs_mimetype(rel))
		json_object_set_new(m, "mimetype", json_string(cfs_mimetype(rel)));
	if (!o->content && !o->hash)
		goto out;
	if (cfs_read_all(fd, &b, err) != 0)
		goto fail;
	if (o->hash) {
		char hex[65];

		cfs_sha256_hex(b.data, b.len, hex);
		json_object_set_new(m, "hash", json_string(hex));
		json_object_set_new(m, "hash_algorithm", json_string("sha256"));
	}
	if (!o->content)
		goto out;
	if (strcmp(type, "notebook") == 0) {
		json_error_t jerr;
		/* as Jupyter's nbformat.read: multi-line text joined, upgraded
		 * to 4.5; a notebook that fails the schema is still shown */
		json_t *nb = nbformat_read(b.data ? b.data : "", b.len, NULL);

		if (!nb)
			nb = jparse(b.data ? b.data : "", b.len, 0, &jerr);

		if (!json_is_object(nb)) {
			json_decref(nb);
			err_set(err, CG_EINVAL, "Unreadable Notebook: %s: %s", rel,
				nb ? "not a JSON object" : jerr.text);
			goto fail;
		}
		json_object_set_new(m, "content", nb);
		json_object_set_new(m, "format", json_string("json"));
	} else if (fill_file(m, rel, &b, o, err) != 0) {
		goto fail;
	}
	goto out;
fail:
	json_decref(m);
	m = NULL;
out:
	buf_free(&b);
	close(fd);
	return m;
}
