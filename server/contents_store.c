/*
 * Where the contents API meets the store (notebook-store/store.h). Every
 * notebook save -- PUT, new untitled, copy, checkpoint restore -- is
 * validated by the nbformat 4.5 validator, becomes a version on the branch
 * the file shows (store_save), and only then is the working copy written,
 * as nbformat.write writes it. Every notebook read first reconciles the
 * file with the store, so a file changed outside cellgate (an editor, git,
 * a kernel) becomes a version by "filesystem", and a notebook the store has
 * never seen is imported the first time it is read or saved over. Renames
 * and deletes carry a notebook's history (contents_history_move), and at
 * start every working copy the store knows is reconciled
 * (contents_reconcile_all).
 *
 * The store's file functions take paths. To keep the confinement of
 * contents_path.h they get "/proc/self/fd/<dir>/<leaf>": a path through a
 * directory descriptor opened beneath the workspace, so a symlink swapped
 * in above it cannot redirect a read or a write. The leaf must be a
 * regular file (or absent for a save): the store never follows a symlink.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
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

/*
 * What the working-copy files looked like when their bytes were last
 * hashed: (device, inode, size, mtime, ctime) and the SHA-256. A read whose
 * lstat still matches, whose hash is the checkout's record and whose
 * version is the branch's head needs neither to read the file nor to hash
 * it again: the 2 MB notebook of the benchmark would otherwise be read and
 * hashed twice per save or load. Our own writes always make a new inode
 * (rename); a change made in place by something else moves the ctime and
 * mtime, so it is missed only when it keeps the size and lands within the
 * same clock tick as the write before it.
 *
 * The server's event loop is one thread; the table is per process.
 */
#define STAT_CACHE_SLOTS 64

typedef struct stat_entry {
	char rel[CPATH_MAX];
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	char sha[STORE_HASH_LEN];
} stat_entry_t;

static stat_entry_t stat_cache[STAT_CACHE_SLOTS];
static unsigned stat_cache_next;

static bool same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static stat_entry_t *stat_cache_find(const char *rel)
{
	for (unsigned i = 0; i < STAT_CACHE_SLOTS; i++)
		if (stat_cache[i].rel[0] && strcmp(stat_cache[i].rel, rel) == 0)
			return &stat_cache[i];
	return NULL;
}

static void stat_cache_forget(const char *rel)
{
	stat_entry_t *e = stat_cache_find(rel);

	if (e)
		e->rel[0] = '\0';
}

static void stat_cache_put(const char *rel, const struct stat *st, const char *sha)
{
	stat_entry_t *e = stat_cache_find(rel);

	if (!e) {
		e = &stat_cache[stat_cache_next];
		stat_cache_next = (stat_cache_next + 1) % STAT_CACHE_SLOTS;
	}
	snprintf(e->rel, sizeof e->rel, "%s", rel);
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->size = st->st_size;
	e->mtime = st->st_mtim;
	e->ctime = st->st_ctim;
	snprintf(e->sha, sizeof e->sha, "%s", sha);
}

/* The SHA-256 the cache knows for st, or NULL. */
static const char *stat_cache_sha(const char *rel, const struct stat *st)
{
	stat_entry_t *e = stat_cache_find(rel);

	if (!e || e->dev != st->st_dev || e->ino != st->st_ino || e->size != st->st_size ||
	    !same_time(&e->mtime, &st->st_mtim) || !same_time(&e->ctime, &st->st_ctim))
		return NULL;
	return e->sha;
}

/* After our own write of the file with bytes hashing to sha. */
static void stat_cache_wrote(const wfile_t *w, const char *rel, const char *sha)
{
	struct stat st;

	if (fstatat(w->dirfd, w->leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
		stat_cache_put(rel, &st, sha);
	else
		stat_cache_forget(rel);
}

/* The fast path of a sync: the file is as last hashed, that hash is the
 * record's, and the record's version is its branch's head. */
static bool sync_unchanged(app_t *app, const wfile_t *w, const char *rel, char out_id[STORE_ID_LEN])
{
	const char *sha = stat_cache_sha(rel, &w->st), *branch, *version, *rec;
	char head[STORE_ID_LEN];
	json_t *co = NULL;
	bool ok = false;

	if (!sha || store_checkout_get(app->store, rel, &co, NULL) != 0)
		goto out;
	branch = json_string_value(json_object_get(co, "branch"));
	version = json_string_value(json_object_get(co, "version"));
	rec = json_string_value(json_object_get(co, "file_sha256"));
	if (!branch || !version || !rec || strcmp(rec, sha) != 0 ||
	    store_branch_head(app->store, rel, branch, head, NULL) != 0 || strcmp(head, version) != 0)
		goto out;
	memcpy(out_id, version, STORE_ID_LEN);
	ok = true;
out:
	json_decref(co);
	return ok;
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
	if (sync_unchanged(app, &w, rel, out_id))
		goto out;
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
		json_t *now = NULL;
		struct stat after;
		bool got = fstatat(w.dirfd, w.leaf, &after, AT_SYMLINK_NOFOLLOW) == 0;

		/* the sync rewrites the file (a new inode) when the branch moved
		 * without it; only then is there an owner to keep (a chown
		 * moves the ctime, which the stat cache watches) */
		if (!got || after.st_ino != w.st.st_ino)
			keep_owner(&w);
		if (imported)
			log_info("contents", "%s changed on disk: version %s", rel, out_id);
		/* remember the hash only when the file did not change under the
		 * sync (the record's hash is of the bytes it read or wrote) */
		if (got && S_ISREG(after.st_mode) && store_checkout_get(app->store, rel, &now, NULL) == 0) {
			const char *sha = json_string_value(json_object_get(now, "file_sha256"));

			if (sha && after.st_ino == w.st.st_ino && after.st_size == w.st.st_size &&
			    same_time(&after.st_mtim, &w.st.st_mtim) && same_time(&after.st_ctim, &w.st.st_ctim))
				stat_cache_put(rel, &after, sha);
			else
				stat_cache_forget(rel);
		}
		json_decref(now);
	} else {
		stat_cache_forget(rel);
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
	json_t *cp = NULL;
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
	rc = store_save(app->store, rel, branch, o->parent, nb,
			o->principal ? o->principal : API_PRINCIPAL, o->message, id, err);
	if (rc) {
		if (rc == CG_ECONFLICT && out_id)
			memcpy(out_id, id, STORE_ID_LEN);
		goto out;
	}
	store_sha256_hex(b.data, b.len, sha);
	if ((rc = store_write_file_atomic(w.path, b.data, b.len, err))) {
		stat_cache_forget(rel);
		goto out;
	}
	is_name_claimed = false;
	keep_owner(&w);
	stat_cache_wrote(&w, rel, sha);
	if ((rc = store_checkout_record(app->store, rel, branch, id, sha, err)))
		goto out;
	provenance_on_save(app, rel, id);
	if (out_id)
		memcpy(out_id, id, STORE_ID_LEN);
	/* Jupyter keeps one checkpoint for every saved notebook: here the
	 * first version saved through the API, until one is made */
	if (store_checkpoint_get(app->store, rel, &cp, NULL) == CG_ENOTFOUND)
		(void)store_checkpoint_set(app->store, rel, id, NULL);
	json_decref(cp);
out:
	if (is_name_claimed)
		unlinkat(w.dirfd, w.leaf, 0);
	wfile_close(&w);
	buf_free(&b);
	return rc;
}

void contents_history_move(app_t *app, const char *from, const char *to)
{
	err_t err = { 0 };

	stat_cache_forget(from);
	contents_checkpoints_move(app, from, to);
	if (to ? store_path_move(app->store, from, to, &err) : store_path_forget(app->store, from, &err))
		log_warn("contents", "%s: the store's records did not follow the %s: %s", from,
			 to ? "rename" : "delete", err.msg);
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
	stat_cache_forget(rel);
	if ((rc = store_checkout(app->store, rel, branch, w.path, out_id, err)))
		goto out;
	keep_owner(&w);
out:
	wfile_close(&w);
	return rc;
}

/* ".~<leaf>.<16 hex>.tmp": what store_write_file_atomic leaves behind when
 * the process dies between creating its temporary file and the rename. */
static bool is_stale_tmp(const char *name, const char *leaf)
{
	size_t n = strlen(name), l = strlen(leaf);

	return n == 2 + l + 1 + 16 + 4 && strncmp(name, ".~", 2) == 0 &&
	       strncmp(name + 2, leaf, l) == 0 && name[2 + l] == '.' &&
	       strspn(name + 3 + l, "0123456789abcdef") == 16 && strcmp(name + n - 4, ".tmp") == 0;
}

static void remove_stale_tmps(const wfile_t *w, const char *rel)
{
	int fd = openat(w->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d)))
		if (is_stale_tmp(e->d_name, w->leaf) && unlinkat(w->dirfd, e->d_name, 0) == 0)
			log_info("contents", "%s: removed %s, left by an interrupted write", rel, e->d_name);
	closedir(d);
}

int contents_reconcile_all(app_t *app, err_t *err)
{
	cpath_root_t root = { .fd = -1 };
	json_t *paths = NULL, *p;
	size_t i, imported = 0, failed = 0;
	int rc;

	if ((rc = cpath_root_open(&root, app->cfg.root, app->cfg.allow_hidden, err)) ||
	    (rc = store_checkout_paths(app->store, &paths, err)))
		goto out;
	json_array_foreach(paths, i, p) {
		const char *rel = json_string_value(p);
		char before[STORE_ID_LEN] = "", id[STORE_ID_LEN];
		wfile_t w = { .dirfd = -1 };
		err_t e = { 0 };
		json_t *co = NULL;

		if (wfile_open(&root, rel, &w, &e) == 0)
			remove_stale_tmps(&w, rel);
		wfile_close(&w);
		if (store_checkout_get(app->store, rel, &co, NULL) == 0)
			snprintf(before, sizeof before, "%s",
				 json_string_value(json_object_get(co, "version")));
		json_decref(co);
		if (contents_sync_notebook(app, &root, rel, id, &e) != 0) {
			/* a file deleted while the server was down stays
			 * recorded: its history is found at its path */
			if (e.code != CG_ENOTFOUND) {
				failed++;
				log_warn("contents", "%s: not reconciled at start: %s", rel, e.msg);
			}
			continue;
		}
		if (strcmp(before, id) != 0) {
			imported++;
			log_info("contents", "%s reconciled at start: version %s", rel, id);
		}
	}
	log_info("contents", "reconciled %zu working copies with the store at start: %zu changed, %zu not"
		 " valid notebooks", json_array_size(paths), imported, failed);
out:
	json_decref(paths);
	cpath_root_close(&root);
	return rc;
}
