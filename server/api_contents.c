/*
 * /api/contents: Jupyter's contents API over the workspace's files.
 *
 *   GET    {path}                      model (?type= &format= &content=0|1 &hash=0|1)
 *   PUT    {path}                      save: 201 new, 200 existing; chunk 1..n, -1
 *   POST   {dir}                       new untitled (type, ext) or copy_from: 201
 *   PATCH  {path}   {"path": new}      rename: 409 when new exists
 *   DELETE {path}                      204; a directory only when empty
 *   GET|POST {path}/checkpoints, POST|DELETE {path}/checkpoints/{id}
 *
 * Every path goes through cpath_check and is opened beneath the workspace
 * (contents_path.h); error bodies name API paths only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/buf.h"
#include "../common/jparse.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../policy/policy.h"
#include "app.h"
#include "contents.h"
#include "contents_fs.h"
#include "app_store.h"
#include "authz.h"
#include "handlers.h"
#include "sessions.h"

typedef struct op {
	http_req_t *req;
	app_t *app;
	cpath_root_t root;
	char rel[CPATH_MAX];
} op_t;

/* Checks an API path; on failure answers the request and returns nonzero. */
static int check_path(http_req_t *req, const char *api, size_t len, bool allow_hidden,
		      char out[CPATH_MAX])
{
	err_t err = { 0 };

	if (cpath_check(api, len, allow_hidden, out, &err) == 0)
		return 0;
	http_respond_err(req, &err);
	return -1;
}

static void respond_model(op_t *op, int status, json_t *model, bool location)
{
	const char *lm = json_string_value(json_object_get(model, "last_modified"));
	char when[64];

	if (location) {
		char *esc = cfs_url_escape(op->rel);
		buf_t loc;

		buf_init(&loc, 0);
		if (esc && buf_printf(&loc, "%sapi/contents/%s", op->app->cfg.base_url, esc) == 0)
			http_add_header(op->req, "location", loc.data);
		buf_free(&loc);
		free(esc);
	}
	if (lm) {
		struct tm tm = { 0 };

		if (strptime(lm, "%Y-%m-%dT%H:%M:%S", &tm) &&
		    strftime(when, sizeof when, "%a, %d %b %Y %H:%M:%S GMT", &tm))
			http_add_header(op->req, "last-modified", when);
	}
	http_respond_json(op->req, status, model);
}

/* The model without content after a write, answered with status. */
static void respond_saved(op_t *op, int status)
{
	contents_get_opts_t o = { 0 };
	err_t err = { 0 };
	json_t *m = contents_get(&op->root, op->rel, &o, &err);

	if (!m)
		http_respond_err(op->req, &err);
	else
		respond_model(op, status, m, true);
}

static bool exists(op_t *op, const char *rel, bool *is_dir)
{
	int fd = cpath_open(&op->root, rel, O_PATH, 0, NULL);
	struct stat st;
	bool ok;

	if (fd < 0)
		return false;
	ok = fstat(fd, &st) == 0;
	if (is_dir)
		*is_dir = ok && S_ISDIR(st.st_mode);
	close(fd);
	return ok;
}

/* --- GET ------------------------------------------------------------------ */

static bool query_flag(http_req_t *req, const char *name, const char *what, bool dflt, bool *out)
{
	const char *v = http_query(req, name);

	if (!v) {
		*out = dflt;
		return true;
	}
	if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0) {
		http_respond_error(req, 400, "%s '%s' is invalid", what, v);
		return false;
	}
	*out = v[0] == '1';
	return true;
}

static bool is_notebook_path(const char *rel)
{
	size_t n = strlen(rel);

	return n > 6 && strcmp(rel + n - 6, ".ipynb") == 0;
}

/* Who a version saved by this request is attributed to: a capability
 * token's principal; NULL (the store's "token") for the server's token. */
static const char *saver(const op_t *op)
{
	policy_cap_t *cap = http_cap(op->req);

	return cap && !policy_cap_is_root(cap) ? policy_cap_principal(cap) : NULL;
}

static bool is_directory_model(json_t *model)
{
	const char *type = json_string_value(json_object_get(model, "type"));

	return type && strcmp(type, "directory") == 0;
}

/* A narrowed token sees a narrowed directory: the entries it may read,
 * and the directories on the way to them. */
static void filter_listing(op_t *op, json_t *model)
{
	json_t *content = json_object_get(model, "content"), *entry;
	size_t i = 0;

	if (!json_is_array(content))
		return;
	while ((entry = json_array_get(content, i))) {
		policy_resource_t res = {
			.path = json_string_value(json_object_get(entry, "path")),
			.is_listing = is_directory_model(entry),
		};

		if (res.path && authz_may(op->req, POLICY_READ, &res))
			i++;
		else
			json_array_remove(content, i);
	}
}

static void contents_get_handler(op_t *op)
{
	contents_get_opts_t o = { 0 };
	policy_resource_t exact = { .path = op->rel };
	bool is_dir = false;
	err_t err = { 0 };
	json_t *m;

	/* the route let through a path on the way to what the token names:
	 * only a directory may be shown there, and only in part */
	if (!authz_may(op->req, POLICY_READ, &exact) &&
	    (!exists(op, op->rel, &is_dir) || !is_dir) &&
	    !authz_require(op->req, POLICY_READ, &exact))
		return;

	o.type = http_query(op->req, "type");
	o.format = http_query(op->req, "format");
	if (o.type && strcmp(o.type, "directory") && strcmp(o.type, "file") &&
	    strcmp(o.type, "notebook")) {
		http_respond_error(op->req, 400, "Type '%s' is invalid", o.type);
		return;
	}
	if (o.format && strcmp(o.format, "text") && strcmp(o.format, "base64")) {
		http_respond_error(op->req, 400, "Format '%s' is invalid", o.format);
		return;
	}
	if (!query_flag(op->req, "content", "Content", true, &o.content) ||
	    !query_flag(op->req, "hash", "Hash", false, &o.hash))
		return;
	if (is_notebook_path(op->rel) && (!o.type || strcmp(o.type, "notebook") == 0)) {
		/* a file changed outside cellgate becomes a version first */
		char id[STORE_ID_LEN];
		err_t serr = { 0 };

		if (contents_sync_notebook(op->app, &op->root, op->rel, id, &serr) == 0)
			http_add_header(op->req, "x-cellgate-version", id);
		else if (serr.code != CG_ENOTFOUND)
			log_warn("contents", "%s: not reconciled with the store: %s", op->rel, serr.msg);
	}
	m = contents_get(&op->root, op->rel, &o, &err);
	if (!m) {
		http_respond_err(op->req, &err);
		return;
	}
	if (is_directory_model(m))
		filter_listing(op, m);
	respond_model(op, 200, m, false);
}

/* --- PUT ------------------------------------------------------------------ */

/* The bytes a file model carries, decoded by its format, into b. */
static int file_bytes(json_t *body, buf_t *b, err_t *err)
{
	json_t *content = json_object_get(body, "content");
	const char *format = json_string_value(json_object_get(body, "format"));

	if (!json_is_string(content))
		return err_set(err, CG_EINVAL, "a file's \"content\" must be a string");
	if (!format || (strcmp(format, "text") && strcmp(format, "base64")))
		return err_set(err, CG_EINVAL,
			       "Must specify format of file contents as 'text' or 'base64'");
	if (strcmp(format, "text") == 0)
		return buf_append(b, json_string_value(content), json_string_length(content)) == 0
			       ? 0 : err_set(err, CG_ETOOBIG, "the content is too large");
	if (cfs_base64_decode(json_string_value(content), json_string_length(content), b) != 0)
		return err_set(err, CG_EINVAL, "the content is not valid base64");
	return 0;
}

static int save_file(op_t *op, const void *data, size_t len, int srcfd, bool must_be_new,
		     err_t *err)
{
	const char *leaf;
	int dirfd = cpath_open_parent(&op->root, op->rel, &leaf, err), rc;

	if (dirfd < 0)
		return dirfd;
	rc = cfs_install(dirfd, leaf, data, len, srcfd, must_be_new, err);
	close(dirfd);
	return rc;
}

static int save_directory(op_t *op, err_t *err)
{
	const char *leaf;
	bool is_dir = false;
	int dirfd, rc;

	if (exists(op, op->rel, &is_dir))
		return is_dir ? 0 : err_set(err, CG_EINVAL, "Not a directory: %s", op->rel);
	dirfd = cpath_open_parent(&op->root, op->rel, &leaf, err);
	if (dirfd < 0)
		return dirfd;
	rc = cfs_mkdir(dirfd, leaf, err);
	close(dirfd);
	return rc;
}

/* Chunked uploads gather in the state directory and reach the workspace in
 * one atomic rename with the last chunk (-1): no half-uploaded file is ever
 * visible there. */
static int save_chunk(op_t *op, json_t *body, json_int_t chunk, err_t *err)
{
	char hex[65], dir[4096], file[4200];
	int fd, rc, flags = O_WRONLY | O_CLOEXEC | O_APPEND;
	buf_t b;

	buf_init(&b, 0);
	rc = file_bytes(body, &b, err);
	if (rc)
		goto out;
	cfs_sha256_hex(op->rel, strlen(op->rel), hex);
	snprintf(dir, sizeof dir, "%s/uploads", op->app->cfg.state);
	snprintf(file, sizeof file, "%s/%s", dir, hex);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		rc = err_set(err, CG_ESYS, "cannot stage the upload");
		goto out;
	}
	if (chunk == 1)
		flags |= O_CREAT | O_TRUNC;
	fd = open(file, flags, 0600);
	if (fd < 0) {
		rc = err_set(err, CG_EINVAL, "no upload of '%s' is in progress (chunk 1 comes first)",
			     op->rel);
		goto out;
	}
	if (write(fd, b.data, b.len) != (ssize_t)b.len) {
		close(fd);
		unlink(file);
		rc = err_set(err, CG_ESYS, "cannot stage the upload");
		goto out;
	}
	close(fd);
	if (chunk == -1) {
		fd = open(file, O_RDONLY | O_CLOEXEC);
		rc = fd < 0 ? err_set(err, CG_ESYS, "cannot read the staged upload")
			    : save_file(op, NULL, 0, fd, false, err);
		if (fd >= 0)
			close(fd);
		unlink(file);
	}
out:
	buf_free(&b);
	return rc;
}

/* The optional compare-and-swap of a notebook save: the version the
 * client's copy derives from, in the body ("parent") or the header
 * X-Cellgate-Parent. */
static int put_notebook(op_t *op, json_t *body, err_t *err)
{
	contents_save_opts_t o = { .message = "saved", .principal = saver(op) };
	json_t *parent_v = json_object_get(body, "parent");
	char id[STORE_ID_LEN] = "";
	int rc;

	if (!json_is_optional_string(parent_v)) {
		http_respond_error(op->req, 400, "\"parent\" must be a version id");
		return 1;
	}
	o.parent = json_string_value(parent_v);
	if (!o.parent)
		o.parent = http_header(op->req, "x-cellgate-parent");
	if (o.parent && store_check_version_id(o.parent, NULL) != 0) {
		http_respond_error(op->req, 400, "\"parent\" must be a version id (32 hex digits)");
		return 1;
	}
	rc = contents_save_notebook(op->app, &op->root, op->rel, json_object_get(body, "content"),
				    &o, id, err);
	if (rc == CG_ECONFLICT && o.parent) {
		json_t *e = json_pack("{s:s, s:s, s:s}", "message", err->msg, "reason",
				      http_status_phrase(409), "current_version", id);

		http_respond_json(op->req, 409, e);
		return 1;
	}
	if (rc == 0)
		http_add_header(op->req, "x-cellgate-version", id);
	return rc;
}

static void contents_put(op_t *op)
{
	json_t *body = http_body_json(op->req), *chunk_v;
	const char *type;
	err_t err = { 0 };
	bool existed, chunk_seen = false;
	json_int_t chunk = 0;
	int rc;

	if (!body)
		return;
	type = json_string_value(json_object_get(body, "type"));
	chunk_v = json_object_get(body, "chunk");
	if (json_object_get(body, "copy_from")) {
		http_respond_error(op->req, 400, "Cannot copy with PUT, only POST");
		goto out;
	}
	if (!type) {
		http_respond_error(op->req, 400, "No file type provided");
		goto out;
	}
	if (strcmp(type, "directory") && !json_object_get(body, "content")) {
		http_respond_error(op->req, 400, "No file content provided");
		goto out;
	}
	if (!*op->rel) {
		http_respond_error(op->req, 400, "the workspace itself cannot be saved over");
		goto out;
	}
	if (chunk_v && !json_is_null(chunk_v)) {
		chunk = json_integer_value(chunk_v);
		if (!json_is_integer(chunk_v) || (chunk < 1 && chunk != -1)) {
			http_respond_error(op->req, 400, "\"chunk\" must be 1, 2, ... or -1");
			goto out;
		}
		if (strcmp(type, "file") != 0) {
			http_respond_error(op->req, 400,
					   "File type \"%s\" is not supported for large file transfer", type);
			goto out;
		}
		chunk_seen = true;
	}
	existed = exists(op, op->rel, NULL);
	if (chunk_seen) {
		rc = save_chunk(op, body, chunk, &err);
		if (rc == 0 && chunk != -1) {
			/* the file appears with the last chunk; until then the
			 * answer describes the upload */
			char now[ISO_TIME_LEN];

			util_iso_time_now(now);
			json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:s, s:n, s:n, s:o, s:n, s:b, s:n, s:n}",
					      "name", strrchr(op->rel, '/') ? strrchr(op->rel, '/') + 1 : op->rel,
					      "path", op->rel, "type", "file", "created", now,
					      "last_modified", now, "content", "format",
					      "mimetype", cfs_mimetype(op->rel) ? json_string(cfs_mimetype(op->rel)) : json_null(),
					      "size", "writable", true, "hash", "hash_algorithm");
			respond_model(op, existed || chunk != 1 ? 200 : 201, m, true);
			goto out;
		}
	} else if (strcmp(type, "notebook") == 0) {
		rc = put_notebook(op, body, &err);
		if (rc == 1)
			goto out; /* answered */
	} else if (strcmp(type, "file") == 0) {
		buf_t b;

		buf_init(&b, 0);
		rc = file_bytes(body, &b, &err);
		if (rc == 0)
			rc = save_file(op, b.data, b.len, -1, false, &err);
		buf_free(&b);
	} else if (strcmp(type, "directory") == 0) {
		rc = save_directory(op, &err);
	} else {
		rc = err_set(&err, CG_EINVAL, "Unhandled contents type: %s", type);
	}
	if (rc)
		http_respond_err(op->req, &err);
	else
		respond_saved(op, existed || (chunk_seen && chunk != 1) ? 200 : 201);
out:
	json_decref(body);
}

/* --- POST: new untitled, copy --------------------------------------------- */

/* Jupyter's increment_filename: "Untitled.ipynb", "Untitled1.ipynb";
 * "untitled.tar.gz", "untitled1.tar.gz"; "Untitled Folder", "Untitled
 * Folder 1"; "a-Copy1.ipynb". The suffix starts at the first dot, except
 * for .ipynb where it is the last. */
static int compose_name(const char *filename, const char *insert, unsigned i, char *out, size_t n)
{
	const char *dot = strrchr(filename, '.');
	char num[16] = "";

	if (!dot || strcmp(dot, ".ipynb") != 0)
		dot = strchr(filename, '.');
	if (!dot)
		dot = filename + strlen(filename);
	if (i)
		snprintf(num, sizeof num, "%s%u", insert, i);
	return snprintf(out, n, "%.*s%s%s", (int)(dot - filename), filename, num, dot) >= (int)n
		       ? -1 : 0;
}

typedef int (*create_fn)(op_t *op, void *arg, err_t *err);

/* Creates dir/<name> with the first free name; CG_ECONFLICT from create
 * means "taken, try the next", decided atomically by the filesystem. */
static void create_untitled(op_t *op, const char *filename, const char *insert, create_fn create,
			    void *arg)
{
	char dir[CPATH_MAX], name[512];
	err_t err = { 0 };

	snprintf(dir, sizeof dir, "%s", op->rel);
	for (unsigned i = 0; i < 10000; i++) {
		int rc;

		if (compose_name(filename, insert, i, name, sizeof name) != 0 ||
		    strchr(name, '/') || cpath_check(name, strlen(name), op->root.allow_hidden,
						     op->rel, &err) != 0) {
			http_respond_error(op->req, 400, "'%s' is not a valid file name", filename);
			return;
		}
		if (snprintf(op->rel, sizeof op->rel, "%s%s%s", dir, *dir ? "/" : "", name) >=
		    (int)sizeof op->rel) {
			http_respond_error(op->req, 400, "the path is too long");
			return;
		}
		rc = create(op, arg, &err);
		if (rc == 0) {
			respond_saved(op, 201);
			return;
		}
		if (rc != CG_ECONFLICT) {
			http_respond_err(op->req, &err);
			return;
		}
	}
	http_respond_error(op->req, 409, "no free name for '%s'", filename);
}

static int create_notebook(op_t *op, void *arg, err_t *err)
{
	(void)arg;
	json_t *nb = json_pack("{s:[], s:{}, s:i, s:i}", "cells", "metadata", "nbformat", 4,
			       "nbformat_minor", 5);
	contents_save_opts_t o = { .must_be_new = true, .message = "new notebook",
				   .principal = saver(op) };
	int rc = contents_save_notebook(op->app, &op->root, op->rel, nb, &o, NULL, err);

	json_decref(nb);
	return rc;
}

static int create_file(op_t *op, void *arg, err_t *err)
{
	(void)arg;
	return save_file(op, "", 0, -1, true, err);
}

static int create_directory(op_t *op, void *arg, err_t *err)
{
	const char *leaf;
	int dirfd = cpath_open_parent(&op->root, op->rel, &leaf, err), rc;

	(void)arg;
	if (dirfd < 0)
		return dirfd;
	rc = cfs_mkdir(dirfd, leaf, err);
	close(dirfd);
	return rc;
}

typedef struct copy_src {
	buf_t bytes;
	bool is_notebook;
} copy_src_t;

static int create_copy(op_t *op, void *arg, err_t *err)
{
	contents_save_opts_t copy_opts = { .must_be_new = true, .message = "copy",
					   .principal = saver(op) };
	copy_src_t *src = arg;
	json_t *nb;
	int rc;

	if (!src->is_notebook)
		return save_file(op, src->bytes.data, src->bytes.len, -1, true, err);
	nb = jparse(src->bytes.data, src->bytes.len, 0, NULL);
	if (!nb)
		return err_set(err, CG_EINVAL, "the notebook to copy is not valid JSON");
	rc = contents_save_notebook(op->app, &op->root, op->rel, nb, &copy_opts, NULL, err);
	json_decref(nb);
	return rc;
}

static void copy_to(op_t *op, const char *from_api, size_t from_len)
{
	char from[CPATH_MAX], name[512];
	const char *slash, *p;
	copy_src_t src = { .is_notebook = false };
	err_t err = { 0 };
	struct stat st;
	int fd;
	size_t o = 0;

	if (check_path(op->req, from_api, from_len, op->root.allow_hidden, from))
		return;
	if (!authz_require(op->req, POLICY_READ, &(policy_resource_t){ .path = from }))
		return;
	buf_init(&src.bytes, op->app->cfg.max_body_bytes);
	fd = cpath_open(&op->root, from, O_RDONLY | O_NONBLOCK, 0, &err);
	if (fd < 0) {
		http_respond_err(op->req, &err);
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		http_respond_error(op->req, 400, "Can't copy directories");
		goto out;
	}
	if (cfs_read_all(fd, &src.bytes, &err) != 0) {
		close(fd);
		http_respond_err(op->req, &err);
		goto out;
	}
	close(fd);
	slash = strrchr(from, '/');
	p = slash ? slash + 1 : from;
	src.is_notebook = strlen(p) > 6 && strcmp(p + strlen(p) - 6, ".ipynb") == 0;
	/* "a-Copy2.ipynb" copies to "a-Copy3.ipynb", not "a-Copy2-Copy1.ipynb" */
	while (*p && o < sizeof name - 1) {
		if (strncmp(p, "-Copy", 5) == 0) {
			const char *q = p + 5;

			while (*q >= '0' && *q <= '9')
				q++;
			if (*q == '.') {
				p = q;
				continue;
			}
		}
		name[o++] = *p++;
	}
	name[o] = '\0';
	create_untitled(op, name, "-Copy", create_copy, &src);
out:
	buf_free(&src.bytes);
}

static void contents_post(op_t *op)
{
	json_t *body = NULL, *copy_from, *type_v, *ext_v;
	const char *type, *ext;
	bool is_dir = false;
	char filename[512];
	size_t len = 0;

	if (!exists(op, op->rel, &is_dir)) {
		http_respond_error(op->req, 404, "No such directory: %s", op->rel);
		return;
	}
	if (!is_dir) {
		http_respond_error(op->req, 400, "Cannot POST to files, use PUT instead.");
		return;
	}
	http_body(op->req, &len);
	if (len && !(body = http_body_json(op->req)))
		return;
	copy_from = json_object_get(body, "copy_from");
	type_v = json_object_get(body, "type");
	ext_v = json_object_get(body, "ext");
	if (!json_is_optional_string(copy_from) || !json_is_optional_string(type_v) ||
	    !json_is_optional_string(ext_v)) {
		http_respond_error(op->req, 400, "\"copy_from\", \"type\" and \"ext\" must be strings");
		goto out;
	}
	if (json_string_length(copy_from)) {
		copy_to(op, json_string_value(copy_from), json_string_length(copy_from));
		goto out;
	}
	type = json_string_value(type_v);
	ext = json_string_value(ext_v);
	if (!ext)
		ext = "";
	if (!type || !*type)
		type = strcmp(ext, ".ipynb") == 0 ? "notebook" : "file";
	if (strcmp(type, "directory") == 0) {
		snprintf(filename, sizeof filename, "Untitled Folder%s", ext);
		create_untitled(op, filename, " ", create_directory, NULL);
	} else if (strcmp(type, "notebook") == 0) {
		create_untitled(op, "Untitled.ipynb", "", create_notebook, NULL);
	} else if (strcmp(type, "file") == 0) {
		if (snprintf(filename, sizeof filename, "untitled%s", ext) >= (int)sizeof filename)
			http_respond_error(op->req, 400, "the extension is too long");
		else
			create_untitled(op, filename, "", create_file, NULL);
	} else {
		http_respond_error(op->req, 400, "Unexpected model type: '%s'", type);
	}
out:
	json_decref(body);
}

/* --- PATCH: rename -------------------------------------------------------- */

static void sessions_follow(app_t *app, const char *from, const char *to)
{
	size_t n = strlen(from);

	for (session_t *s = sessions_next(app->sessions, NULL); s; s = sessions_next(app->sessions, s)) {
		const char *p = session_path(s);
		char moved[2 * CPATH_MAX];

		if (!p || strncmp(p, from, n) != 0 || (p[n] != '\0' && p[n] != '/'))
			continue;
		snprintf(moved, sizeof moved, "%s%s", to, p + n);
		session_update(s, moved, NULL, NULL, NULL);
	}
}

static void contents_patch(op_t *op)
{
	json_t *body = http_body_json(op->req), *path_v;
	char to[CPATH_MAX];
	const char *old_leaf, *new_leaf;
	int ofd = -1, nfd = -1;
	err_t err = { 0 };

	if (!body)
		return;
	path_v = json_object_get(body, "path");
	if (!json_is_optional_string(path_v)) {
		http_respond_error(op->req, 400, "\"path\" must be a string");
		goto out;
	}
	if (!json_string_length(path_v) || check_path(op->req, json_string_value(path_v),
						      json_string_length(path_v),
						      op->root.allow_hidden, to) == 0) {
		if (!json_string_length(path_v) || strcmp(to, op->rel) == 0) {
			respond_saved(op, 200);
			goto out;
		}
	} else {
		goto out;
	}
	if (!*op->rel || !*to) {
		http_respond_error(op->req, 400, "the workspace itself cannot be renamed");
		goto out;
	}
	if (!authz_require(op->req, POLICY_WRITE, &(policy_resource_t){ .path = to }))
		goto out;
	if ((ofd = cpath_open_parent(&op->root, op->rel, &old_leaf, &err)) < 0 ||
	    (nfd = cpath_open_parent(&op->root, to, &new_leaf, &err)) < 0) {
		http_respond_err(op->req, &err);
		goto out;
	}
	/* RENAME_NOREPLACE: the existence check and the move are one step */
	if (renameat2(ofd, old_leaf, nfd, new_leaf, RENAME_NOREPLACE) != 0) {
		if (errno == EEXIST)
			http_respond_error(op->req, 409, "File already exists: %s", to);
		else if (errno == ENOENT)
			http_respond_error(op->req, 404, "File or directory does not exist: %s", op->rel);
		else if (errno == EINVAL)
			http_respond_error(op->req, 400, "cannot move a directory into itself");
		else
			http_respond_error(op->req, 500, "cannot rename: %s", strerror(errno));
		goto out;
	}
	(void)fsync(ofd);
	(void)fsync(nfd);
	contents_history_move(op->app, op->rel, to);
	sessions_follow(op->app, op->rel, to);
	snprintf(op->rel, sizeof op->rel, "%s", to);
	respond_saved(op, 200);
out:
	if (ofd >= 0)
		close(ofd);
	if (nfd >= 0)
		close(nfd);
	json_decref(body);
}

/* --- DELETE --------------------------------------------------------------- */

static void contents_delete(op_t *op)
{
	const char *leaf;
	err_t err = { 0 };
	struct stat st;
	int dirfd;

	if (!*op->rel) {
		http_respond_error(op->req, 400, "the workspace itself cannot be deleted");
		return;
	}
	dirfd = cpath_open_parent(&op->root, op->rel, &leaf, &err);
	if (dirfd < 0) {
		http_respond_err(op->req, &err);
		return;
	}
	/* a symlink is deleted itself, never what it points at */
	if (fstatat(dirfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	    is_notebook_path(op->rel)) {
		/* an edit made on disk since the last version is kept first */
		char id[STORE_ID_LEN];

		(void)contents_sync_notebook(op->app, &op->root, op->rel, id, &err);
		err_clear(&err);
	}
	if (fstatat(dirfd, leaf, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		http_respond_error(op->req, 404, "file or directory does not exist: '%s'", op->rel);
	} else if (unlinkat(dirfd, leaf, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0) {
		/* no trash here, so as Jupyter without one: a directory must
		 * be empty */
		if (errno == ENOTEMPTY || errno == EEXIST)
			http_respond_error(op->req, 400, "Directory %s not empty", op->rel);
		else if (errno == EACCES || errno == EPERM || errno == EROFS)
			http_respond_error(op->req, 403, "Permission denied: %s", op->rel);
		else
			http_respond_error(op->req, 500, "cannot delete: %s", strerror(errno));
	} else {
		(void)fsync(dirfd);
		contents_history_move(op->app, op->rel, NULL);
		http_respond_empty(op->req, 204);
	}
	close(dirfd);
}

/* --- checkpoints ---------------------------------------------------------- */

static bool is_checkpoint_id(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '-'))
			return false;
	return true;
}

/* Splits "{path}/checkpoints[/{id}]" as Jupyter's routes do (they come
 * before the contents route there too). Returns false for other paths. */
bool contents_split_checkpoints(const char *api, size_t *path_len, const char **id)
{
	size_t n = strlen(api);
	const char *slash;

	*id = NULL;
	if ((n == 11 && strcmp(api, "checkpoints") == 0) ||
	    (n > 11 && strcmp(api + n - 12, "/checkpoints") == 0)) {
		*path_len = n > 11 ? n - 12 : 0;
		return true;
	}
	slash = strrchr(api, '/');
	if (!slash || !is_checkpoint_id(slash + 1))
		return false;
	n = (size_t)(slash - api);
	if ((n == 11 && strncmp(api, "checkpoints", 11) == 0) ||
	    (n > 11 && strncmp(api + n - 12, "/checkpoints", 12) == 0)) {
		*path_len = n > 11 ? n - 12 : 0;
		*id = slash + 1;
		return true;
	}
	return false;
}

static void checkpoints(op_t *op, const char *id)
{
	http_method_t m = http_method(op->req);
	err_t err = { 0 };
	json_t *cp;
	char *esc;
	buf_t loc;

	if (!id && (m == HTTP_GET || m == HTTP_HEAD)) {
		http_respond_json(op->req, 200, contents_checkpoint_list(op->app, op->rel));
	} else if (!id && m == HTTP_POST) {
		cp = contents_checkpoint_create(op->app, &op->root, op->rel, &err);
		if (!cp) {
			http_respond_err(op->req, &err);
			return;
		}
		esc = cfs_url_escape(op->rel);
		buf_init(&loc, 0);
		if (esc && buf_printf(&loc, "%sapi/contents/%s/checkpoints/%s",
				      op->app->cfg.base_url, esc,
				      json_string_value(json_object_get(cp, "id"))) == 0)
			http_add_header(op->req, "location", loc.data);
		buf_free(&loc);
		free(esc);
		http_respond_json(op->req, 201, cp);
	} else if (id && m == HTTP_POST) {
		if (contents_checkpoint_restore(op->app, &op->root, op->rel, id, &err))
			http_respond_err(op->req, &err);
		else
			http_respond_empty(op->req, 204);
	} else if (id && m == HTTP_DELETE) {
		if (contents_checkpoint_delete(op->app, op->rel, id, &err))
			http_respond_err(op->req, &err);
		else
			http_respond_empty(op->req, 204);
	} else {
		http_add_header(op->req, "allow", id ? "POST, DELETE" : "GET, POST");
		http_respond_error(op->req, 405, "%s is not allowed here",
				   http_method_name(m));
	}
}

/* --- dispatch ------------------------------------------------------------- */

void api_contents(http_req_t *req)
{
	const char *api = http_param(req, 0), *id = NULL;
	size_t len, cp_len;
	bool is_cp;
	err_t err = { 0 };
	op_t *op;

	if (!app_store_ready(req))
		return;
	if (!api)
		api = "";
	len = strlen(api);
	is_cp = contents_split_checkpoints(api, &cp_len, &id);
	if (is_cp)
		len = cp_len;
	op = calloc(1, sizeof *op);
	if (!op) {
		http_respond_error(req, 500, "out of memory");
		return;
	}
	op->req = req;
	op->app = http_app(req);
	op->root.fd = -1;
	if (check_path(req, api, len, op->app->cfg.allow_hidden, op->rel))
		goto out;
	if (cpath_root_open(&op->root, op->app->cfg.root, op->app->cfg.allow_hidden, &err)) {
		http_respond_err(req, &err);
		goto out;
	}
	if (is_cp) {
		checkpoints(op, id);
		goto out;
	}
	switch (http_method(req)) {
	case HTTP_GET:
	case HTTP_HEAD: contents_get_handler(op); break;
	case HTTP_PUT: contents_put(op); break;
	case HTTP_POST: contents_post(op); break;
	case HTTP_PATCH: contents_patch(op); break;
	case HTTP_DELETE: contents_delete(op); break;
	default: http_respond_error(req, 405, "%s is not allowed here", http_method_name(http_method(req)));
	}
out:
	cpath_root_close(&op->root);
	free(op);
}
