/*
 * Where the contents API meets the store (notebook-store/store.h). Every
 * notebook save -- PUT, new untitled, copy, checkpoint restore -- is
 * validated by the nbformat 4.5 validator, becomes a version on the branch
 * the file shows (store_save), and only then is the working copy written,
 * as nbformat.write writes it. Every notebook read first reconciles the
 * file with the store, so a file changed outside cellgate (an editor, git,
 * a kernel) becomes a version by "filesystem", and a notebook the store has
 * never seen is imported the first time it is read or saved over.
 *
 * The store's file functions take paths. To keep the confinement of
 * contents_path.h they get "/proc/self/fd/<dir>/<leaf>": a path through a
 * directory descriptor opened beneath the workspace, so a symlink swapped
 * in above it cannot redirect a read or a write. The leaf must be a
 * regular file (or absent for a save): the store never follows a symlink.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/buf.h"
#include "../common/log.h"
#include "../notebook-store/nbformat.h"
#include "app.h"
#include "contents.h"
#include "contents_fs.h"
#include "provenance.h"

/* Who a save through the API is attributed to, until policy/ names users. */
#define API_PRINCIPAL "token"
#define DEFAULT_BRANCH "main"

typedef struct wfile {
	int dirfd;
	const char *leaf;
	char path[64 + CPATH_MAX];
	bool has_file;      /* something is at leaf (st is its lstat) */
	struct stat st;
	struct stat dir_st;
} wfile_t;

static int wfile_open(const cpath_root_t *root, const char *rel, wfile_t *w, err_t *err)
{
	w->has_file = false;
	w->dirfd = cpath_open_parent(root, rel, &w->leaf, err);
	if (w->dirfd < 0)
		return w->dirfd;
	if (snprintf(w->path, sizeof w->path, "/proc/self/fd/%d/%s", w->dirfd, w->leaf) >=
	    (int)sizeof w->path)
		return err_set(err, CG_EINVAL, "the path is too long");
	if (fstat(w->dirfd, &w->dir_st) != 0)
		return err_set(err, CG_ESYS, "cannot stat the notebook's directory");
	w->has_file = fstatat(w->dirfd, w->leaf, &w->st, AT_SYMLINK_NOFOLLOW) == 0;
	return 0;
}

static void wfile_close(wfile_t *w)
{
	if (w->dirfd >= 0)
		close(w->dirfd);
	w->dirfd = -1;
}

/* The store's writer replaces the file with one of our own; as cfs_install
 * does, keep the old file's owner (or give a new file its directory's) when
 * we run as root, so the kernel's user can still write it. */
static void keep_owner(const wfile_t *w)
{
	const struct stat *st = w->has_file ? &w->st : &w->dir_st;

	if (geteuid() != 0)
		return;
	if (fchownat(w->dirfd, w->leaf, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) != 0)
		log_warn("contents", "cannot keep a notebook's owner: %s", strerror(errno));
}

void contents_store_branch(app_t *app, const char *rel, char out[STORE_MAX_BRANCH + 1])
{
	json_t *co = NULL;
	const char *b;

	snprintf(out, STORE_MAX_BRANCH + 1, "%s", DEFAULT_BRANCH);
	if (store_checkout_get(app->store, rel, &co, NULL) == 0 &&
	    (b = json_string_value(json_object_get(co, "branch"))))
		snprintf(out, STORE_MAX_BRANCH + 1, "%s", b);
	json_decref(co);
}

/* A notebook file the store has never seen becomes the first version of
 * main, as it is on disk (the file is not rewritten). */
static int import_file(app_t *app, const wfile_t *w, const char *rel, char out_id[STORE_ID_LEN],
		       err_t *err)
{
	char sha[STORE_HASH_LEN];
	int fd = openat(w->dirfd, w->leaf, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), rc;
	json_t *nb = NULL;
	buf_t b;

	if (fd < 0)
		return err_set(err, CG_ENOTFOUND, "file does not exist: '%s'", rel);
	buf_init(&b, NBFORMAT_MAX_BYTES);
	if ((rc = cfs_read_all(fd, &b, err)))
		goto out;
	nb = nbformat_read(b.data ? b.data : "", b.len, err);
	if (!nb) {
		rc = err->code ? err->code : CG_EINVAL;
		goto out;
	}
	store_sha256_hex(b.data ? b.data : "", b.len, sha);
	if ((rc = store_save(app->store, rel, DEFAULT_BRANCH, NULL, nb, "filesystem",
			     "imported from the workspace", out_id, err)) ||
	    (rc = store_checkout_record(app->store, rel, DEFAULT_BRANCH, out_id, sha, err)))
		goto out;
	log_info("contents", "imported %s as version %s", rel, out_id);
out:
	json_decref(nb);
	buf_free(&b);
	close(fd);
	return rc;
}

int contents_sync_notebook(app_t *app, const cpath_root_t *root, const char *rel,
			   char out_id[STORE_ID_LEN], err_t *err)
{
	wfile_t w = { .dirfd = -1 };
	json_t *co = NULL;
	int rc, imported = 0;

	if ((rc = wfile_open(root, rel, &w, err)))
		goto out;
	if (!w.has_file || !S_ISREG(w.st.st_mode)) {
		rc = err_set(err, CG_ENOTFOUND, "no notebook file '%s'", rel);
		goto out;
	}
	rc = store_checkout_get(app->store, rel, &co, err);
	if (rc == CG_ENOTFOUND) {
		err_clear(err);
		rc = import_file(app, &w, rel, out_id, err);
		goto out;
	}
	if (rc)
		goto out;
	rc = store_sync_file(app->store, rel, w.path, &imported, out_id, err);
	if (rc == 0) {
		/* the sync rewrites the file when the branch moved without it */
		keep_owner(&w);
		if (imported)
			log_info("contents", "%s changed on disk: version %s", rel, out_id);
	}
out:
	json_decref(co);
	wfile_close(&w);
	return rc;
}

int contents_save_notebook(app_t *app, const cpath_root_t *root, const char *rel, json_t *nb,
			   const contents_save_opts_t *o, char out_id[STORE_ID_LEN], err_t *err)
{
	char id[STORE_ID_LEN] = "", sha[STORE_HASH_LEN], branch[STORE_MAX_BRANCH + 1];
	wfile_t w = { .dirfd = -1 };
	bool is_name_claimed = false;
	json_t *cps;
	buf_t b;
	int rc;

	buf_init(&b, NBFORMAT_MAX_BYTES);
	if (!json_is_object(nb))
		return err_set(err, CG_EINVAL, "a notebook's content must be a JSON object");
	if ((rc = nbformat_normalize(nb, err)))
		return err_wrap(err, "not a valid notebook");
	if (nbformat_write(nb, &b)) {
		rc = err_set(err, CG_ETOOBIG, "the notebook is too large");
		goto out;
	}
	if ((rc = wfile_open(root, rel, &w, err)))
		goto out;
	if (o->must_be_new) {
		/* claim the name first: O_EXCL decides, with no window */
		int fd = openat(w.dirfd, w.leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				0644);

		if (fd < 0) {
			rc = errno == EEXIST ? err_set(err, CG_ECONFLICT, "File already exists: %s", rel)
					     : err_set(err, CG_ESYS, "cannot create '%s'", rel);
			goto out;
		}
		close(fd);
		is_name_claimed = true;
	} else if (w.has_file && S_ISREG(w.st.st_mode)) {
		/* an edit made on disk since the last version becomes a
		 * version of its own first: a save never loses it */
		err_t serr = { 0 };
		char cur[STORE_ID_LEN];

		if (contents_sync_notebook(app, root, rel, cur, &serr) != 0)
			log_warn("contents", "%s: not reconciled before the save: %s", rel, serr.msg);
	}
	contents_store_branch(app, rel, branch);
	rc = store_save(app->store, rel, branch, o->parent, nb, API_PRINCIPAL, o->message, id, err);
	if (rc) {
		if (rc == CG_ECONFLICT && out_id)
			memcpy(out_id, id, STORE_ID_LEN);
		goto out;
	}
	store_sha256_hex(b.data, b.len, sha);
	if ((rc = store_write_file_atomic(w.path, b.data, b.len, err)))
		goto out;
	is_name_claimed = false;
	keep_owner(&w);
	if ((rc = store_checkout_record(app->store, rel, branch, id, sha, err)))
		goto out;
	provenance_on_save(app, id);
	if (out_id)
		memcpy(out_id, id, STORE_ID_LEN);
	/* Jupyter keeps one checkpoint for every saved notebook */
	cps = contents_checkpoint_list(app, rel);
	if (json_array_size(cps) == 0)
		json_decref(contents_checkpoint_create(app, root, rel, NULL));
	json_decref(cps);
out:
	if (is_name_claimed)
		unlinkat(w.dirfd, w.leaf, 0);
	wfile_close(&w);
	buf_free(&b);
	return rc;
}

int contents_checkout(app_t *app, const cpath_root_t *root, const char *rel, const char *branch,
		      char out_id[STORE_ID_LEN], err_t *err)
{
	wfile_t w = { .dirfd = -1 };
	char cur[STORE_ID_LEN];
	int rc;

	if ((rc = wfile_open(root, rel, &w, err)))
		goto out;
	if (w.has_file && !S_ISREG(w.st.st_mode)) {
		rc = err_set(err, CG_EINVAL, "'%s' is not a regular file", rel);
		goto out;
	}
	/* what is on disk is kept as a version before the file is replaced;
	 * a file that is not a notebook is not overwritten */
	if (w.has_file && (rc = contents_sync_notebook(app, root, rel, cur, err))) {
		err_wrap(err, "the working copy cannot be kept before the checkout");
		goto out;
	}
	if ((rc = store_checkout(app->store, rel, branch, w.path, out_id, err)))
		goto out;
	keep_owner(&w);
out:
	wfile_close(&w);
	return rc;
}
