/*
 * The contents of the workspace as Jupyter's contents API models them:
 * building models, and the one function every notebook save goes through.
 * Handlers live in api_contents.c; checkpoints in contents_checkpoints.c.
 */
#ifndef CELLGATE_CONTENTS_H
#define CELLGATE_CONTENTS_H

#include <jansson.h>
#include <stdbool.h>

#include "../common/err.h"
#include "../notebook-store/store.h"
#include "contents_path.h"

typedef struct app app_t;

typedef struct contents_get_opts {
	bool content;
	bool hash;
	const char *type;   /* NULL, "directory", "file", "notebook" */
	const char *format; /* NULL, "text", "base64" */
} contents_get_opts_t;

/* The model of rel; NULL with err filled. Caller owns the model. */
json_t *contents_get(const cpath_root_t *root, const char *rel, const contents_get_opts_t *o,
		     err_t *err);

typedef struct contents_save_opts {
	bool must_be_new;    /* CG_ECONFLICT when the file exists */
	const char *parent;  /* the version the client's copy derives from, or
	                      * NULL: the last writer wins, as in Jupyter */
	const char *message; /* recorded with the version; may be NULL */
	const char *principal; /* who saves it; NULL: "token" (the server's token) */
} contents_save_opts_t;

/* Every notebook save -- PUT, new untitled, copy, checkpoint restore --
 * goes through here (contents_store.c): nb is validated and normalized in
 * place (nbformat 4.5; CG_EINVAL says where it fails), saved as a version on
 * the branch the file shows, then written to rel as nbformat.write would,
 * and given a checkpoint if it has none. A file changed on disk since its
 * last version is kept as a version first. With o->parent set and stale:
 * CG_ECONFLICT, nothing written, out_id holds the branch's current version.
 * out_id (may be NULL) gets the new version. */
int contents_save_notebook(app_t *app, const cpath_root_t *root, const char *rel, json_t *nb,
			   const contents_save_opts_t *o, char out_id[STORE_ID_LEN], err_t *err);

/* Reconciles rel's file with the store: a file changed since its last
 * version (or never seen) becomes a version by "filesystem"; a file behind
 * its branch is rewritten. out_id gets the version the file shows.
 * CG_ENOTFOUND when rel is not a regular file. */
int contents_sync_notebook(app_t *app, const cpath_root_t *root, const char *rel,
			   char out_id[STORE_ID_LEN], err_t *err);

/* At start: every working copy the store knows is reconciled as
 * contents_sync_notebook does it (a file changed while the server was down
 * becomes a version by "filesystem"; a file behind its branch, as after a
 * crash between a save's commit and its file write, is rewritten), and the
 * temporary files an interrupted write left beside it are removed. Errors
 * about single files are logged, not returned. */
int contents_reconcile_all(app_t *app, err_t *err);

/* Writes a branch's head to rel and records that the file shows that
 * branch now; the file's current content is kept as a version first. */
int contents_checkout(app_t *app, const cpath_root_t *root, const char *rel, const char *branch,
		      char out_id[STORE_ID_LEN], err_t *err);

/* The branch rel's file shows ("main" when none is recorded). */
void contents_store_branch(app_t *app, const char *rel, char out[STORE_MAX_BRANCH + 1]);

/* Checkpoints (contents_checkpoints.c): a notebook's is a version (its id
 * the version id; a restore is a new version); other files keep one copy,
 * id "checkpoint", as Jupyter's FileCheckpoints, in the state directory
 * under the SHA-256 of the path: never in the workspace. */
json_t *contents_checkpoint_list(app_t *app, const char *rel);
/* {"id", "last_modified"} of the new checkpoint; NULL with err. */
json_t *contents_checkpoint_create(app_t *app, const cpath_root_t *root, const char *rel,
				   err_t *err);
int contents_checkpoint_restore(app_t *app, const cpath_root_t *root, const char *rel,
				const char *id, err_t *err);
int contents_checkpoint_delete(app_t *app, const char *rel, const char *id, err_t *err);
/* Splits an API path "{path}/checkpoints[/{id}]" (api_contents.c): the
 * file's path is the first *path_len bytes; *id the checkpoint or NULL.
 * False for any other path. */
bool contents_split_checkpoints(const char *api, size_t *path_len, const char **id);
/* Follow a rename or a delete of the file (or the directory holding it). */
void contents_checkpoints_move(app_t *app, const char *from, const char *to);
/* The same for everything the server keeps about from: checkpoints, and
 * the store's branches and checkout record (store_path_move; to NULL:
 * store_path_forget). Versions stay, readable by id. */
void contents_history_move(app_t *app, const char *from, const char *to);

#endif
