/*
 * Checkpoints. A notebook's checkpoint is one of its versions: creating it
 * makes sure the file's content is a version (contents_sync_notebook) and
 * points the store's checkpoint pointer at it (store_checkpoint_set); its
 * id is the version id; a restore saves that version again, as a new
 * version on top, so nothing is ever overwritten; deleting it drops the
 * pointer only. The pointer follows renames with the notebook's branches.
 *
 * Other files (and a .ipynb that is not a valid notebook) keep Jupyter's
 * FileCheckpoints scheme (one per file, id "checkpoint"), but in the
 * server's state directory, never in the workspace:
 * state/checkpoints/<sha256 of the API path>/ holds the copy ("checkpoint")
 * and the path it belongs to ("path"), so renames and deletes of a
 * directory can find the checkpoints below it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/buf.h"
#include "../common/jparse.h"
#include "../common/log.h"
#include "../common/util.h"
#include "app.h"
#include "contents.h"
#include "contents_fs.h"

#define CHECKPOINT_ID "checkpoint"

static int cp_dir(const app_t *app, const char *rel, char *out, size_t n)
{
	char hex[65];

	cfs_sha256_hex(rel, strlen(rel), hex);
	return snprintf(out, n, "%s/checkpoints/%s", app->cfg.state, hex) >= (int)n ? -1 : 0;
}

static int ensure_dir(const char *path)
{
	return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

static json_t *file_cp_list(app_t *app, const char *rel)
{
	char dir[4096], file[4200], when[ISO_TIME_LEN];
	struct stat st;

	if (cp_dir(app, rel, dir, sizeof dir) != 0)
		return json_array();
	snprintf(file, sizeof file, "%s/" CHECKPOINT_ID, dir);
	if (stat(file, &st) != 0)
		return json_array();
	util_iso_time((double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec / 1e9, when);
	return json_pack("[{s:s, s:s}]", "id", CHECKPOINT_ID, "last_modified", when);
}

static json_t *file_cp_create(app_t *app, const cpath_root_t *root, const char *rel, err_t *err)
{
	char top[4096], dir[4096];
	int src = -1, dirfd = -1, pfd;
	struct stat st;
	json_t *list, *cp = NULL;

	src = cpath_open(root, rel, O_RDONLY | O_NONBLOCK, 0, err);
	if (src < 0)
		return NULL;
	if (fstat(src, &st) != 0 || !S_ISREG(st.st_mode)) {
		err_set(err, CG_EINVAL, "only files have checkpoints: '%s'", rel);
		goto out;
	}
	snprintf(top, sizeof top, "%s/checkpoints", app->cfg.state);
	if (cp_dir(app, rel, dir, sizeof dir) != 0 || ensure_dir(top) != 0 || ensure_dir(dir) != 0 ||
	    (dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		err_set(err, CG_ESYS, "cannot keep checkpoints in the state directory");
		goto out;
	}
	if (cfs_install(dirfd, CHECKPOINT_ID, NULL, 0, src, false, err) != 0)
		goto out;
	pfd = openat(dirfd, "path", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (pfd >= 0) {
		if (write(pfd, rel, strlen(rel)) < 0)
			log_msg(LOG_WARN, "contents", "cannot record a checkpoint's path");
		close(pfd);
	}
	list = file_cp_list(app, rel);
	cp = json_incref(json_array_get(list, 0));
	json_decref(list);
out:
	if (dirfd >= 0)
		close(dirfd);
	close(src);
	return cp;
}

static int open_checkpoint(app_t *app, const char *rel, const char *id, err_t *err)
{
	char dir[4096], file[4200];
	int fd;

	if (strcmp(id, CHECKPOINT_ID) != 0 || cp_dir(app, rel, dir, sizeof dir) != 0)
		return err_set(err, CG_ENOTFOUND, "Checkpoint does not exist: %s@%s", rel, id);
	snprintf(file, sizeof file, "%s/" CHECKPOINT_ID, dir);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, CG_ENOTFOUND, "Checkpoint does not exist: %s@%s", rel, id);
	return fd;
}

static int file_cp_restore(app_t *app, const cpath_root_t *root, const char *rel, const char *id,
			   err_t *err)
{
	int fd = open_checkpoint(app, rel, id, err), dirfd = -1, rc;
	size_t n = strlen(rel);
	const char *leaf;
	buf_t b;

	if (fd < 0)
		return fd;
	buf_init(&b, 0);
	if (n > 6 && strcmp(rel + n - 6, ".ipynb") == 0) {
		json_t *nb;

		rc = cfs_read_all(fd, &b, err);
		if (rc)
			goto out;
		nb = jparse(b.data, b.len, 0, NULL);
		if (nb) {
			contents_save_opts_t o = { .message = "restored from a checkpoint" };

			rc = contents_save_notebook(app, root, rel, nb, &o, NULL, err);
			json_decref(nb);
			goto out;
		}
		/* not a notebook after all: put the bytes back as they were */
	}
	dirfd = cpath_open_parent(root, rel, &leaf, err);
	rc = dirfd < 0 ? dirfd : cfs_install(dirfd, leaf, NULL, 0, fd, false, err);
out:
	buf_free(&b);
	if (dirfd >= 0)
		close(dirfd);
	close(fd);
	return rc;
}

static void remove_cp_dir(const char *dir)
{
	char file[4600];

	snprintf(file, sizeof file, "%s/" CHECKPOINT_ID, dir);
	unlink(file);
	snprintf(file, sizeof file, "%s/path", dir);
	unlink(file);
	rmdir(dir);
}

static int file_cp_delete(app_t *app, const char *rel, const char *id, err_t *err)
{
	char dir[4096];
	int fd = open_checkpoint(app, rel, id, err);

	if (fd < 0)
		return fd;
	close(fd);
	if (cp_dir(app, rel, dir, sizeof dir) == 0)
		remove_cp_dir(dir);
	return 0;
}

void contents_checkpoints_move(app_t *app, const char *from, const char *to)
{
	char top[4096], dir[4400], file[4600], path[CPATH_MAX], moved[2 * CPATH_MAX], dest[4096];
	size_t flen = strlen(from);
	struct dirent *e;
	DIR *d;

	snprintf(top, sizeof top, "%s/checkpoints", app->cfg.state);
	d = opendir(top);
	if (!d)
		return;
	while ((e = readdir(d))) {
		ssize_t n;
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof dir, "%s/%s", top, e->d_name);
		snprintf(file, sizeof file, "%s/path", dir);
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, path, sizeof path - 1);
		close(fd);
		if (n <= 0)
			continue;
		path[n] = '\0';
		if (strncmp(path, from, flen) != 0 || (path[flen] != '\0' && path[flen] != '/'))
			continue;
		if (!to) {
			remove_cp_dir(dir);
			continue;
		}
		snprintf(moved, sizeof moved, "%s%s", to, path + flen);
		if (strlen(moved) >= CPATH_MAX || cp_dir(app, moved, dest, sizeof dest) != 0)
			continue;
		/* a checkpoint already kept for the new name gives way */
		remove_cp_dir(dest);
		if (rename(dir, dest) != 0)
			continue;
		snprintf(file, sizeof file, "%s/path", dest);
		fd = open(file, O_WRONLY | O_TRUNC | O_CLOEXEC);
		if (fd >= 0) {
			if (write(fd, moved, strlen(moved)) < 0)
				log_msg(LOG_WARN, "contents", "cannot record a checkpoint's path");
			close(fd);
		}
	}
	closedir(d);
}

/* --- notebooks: checkpoints are versions ----------------------------------- */

static bool is_notebook(const char *rel)
{
	size_t n = strlen(rel);

	return n > 6 && strcmp(rel + n - 6, ".ipynb") == 0;
}

/* [{"id": version, "last_modified"}] when the notebook has a checkpoint. */
static json_t *version_cp_list(app_t *app, const char *rel)
{
	json_t *cp = NULL, *list;

	if (store_checkpoint_get(app->store, rel, &cp, NULL) != 0)
		return NULL;
	list = json_pack("[{s:O, s:O}]", "id", json_object_get(cp, "version"), "last_modified",
			 json_object_get(cp, "updated"));
	json_decref(cp);
	return list;
}

json_t *contents_checkpoint_list(app_t *app, const char *rel)
{
	json_t *list = is_notebook(rel) ? version_cp_list(app, rel) : NULL;

	return list ? list : file_cp_list(app, rel);
}

json_t *contents_checkpoint_create(app_t *app, const cpath_root_t *root, const char *rel,
				   err_t *err)
{
	char id[STORE_ID_LEN];
	err_t serr = { 0 };
	json_t *list, *cp;

	if (!is_notebook(rel))
		return file_cp_create(app, root, rel, err);
	if (contents_sync_notebook(app, root, rel, id, &serr) != 0) {
		if (serr.code != CG_EINVAL) {
			*err = serr;
			return NULL;
		}
		/* not a valid notebook: keep its bytes as they are */
		return file_cp_create(app, root, rel, err);
	}
	if (store_checkpoint_set(app->store, rel, id, err) != 0)
		return NULL;
	list = version_cp_list(app, rel);
	cp = json_incref(json_array_get(list, 0));
	json_decref(list);
	if (!cp)
		err_set(err, CG_ESYS, "the checkpoint was not recorded");
	return cp;
}

/* The version id of rel's checkpoint when it is `id`, else "" */
static void version_cp_match(app_t *app, const char *rel, const char *id, char out[STORE_ID_LEN])
{
	json_t *cp = NULL;
	const char *v;

	out[0] = '\0';
	if (!is_notebook(rel) || store_check_version_id(id, NULL) != 0 ||
	    store_checkpoint_get(app->store, rel, &cp, NULL) != 0)
		return;
	v = json_string_value(json_object_get(cp, "version"));
	if (v && strcmp(v, id) == 0)
		snprintf(out, STORE_ID_LEN, "%s", v);
	json_decref(cp);
}

int contents_checkpoint_restore(app_t *app, const cpath_root_t *root, const char *rel,
				const char *id, err_t *err)
{
	contents_save_opts_t o = { .message = "restored from a checkpoint" };
	char v[STORE_ID_LEN];
	json_t *nb = NULL;
	int rc;

	version_cp_match(app, rel, id, v);
	if (!v[0])
		return file_cp_restore(app, root, rel, id, err);
	if ((rc = store_load(app->store, v, &nb, err)))
		return rc;
	rc = contents_save_notebook(app, root, rel, nb, &o, NULL, err);
	json_decref(nb);
	return rc;
}

int contents_checkpoint_delete(app_t *app, const char *rel, const char *id, err_t *err)
{
	char v[STORE_ID_LEN];

	version_cp_match(app, rel, id, v);
	if (!v[0])
		return file_cp_delete(app, rel, id, err);
	return store_checkpoint_clear(app->store, rel, err);
}
