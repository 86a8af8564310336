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

/* Checks that nb is an nbformat 4 notebook (the store's validator replaces
 * this), writes it to rel atomically, and gives it a checkpoint if it has
 * none. Every notebook save -- PUT, new untitled, copy, checkpoint restore
 * -- goes through here, so this is where a version will be recorded too.
 * must_be_new: CG_ECONFLICT when rel exists. */
int contents_save_notebook(app_t *app, const cpath_root_t *root, const char *rel, json_t *nb,
			   bool must_be_new, err_t *err);

/* Checkpoints, kept in the state directory under the SHA-256 of the path:
 * never in the workspace. One per file, id "checkpoint", as Jupyter's
 * FileCheckpoints. */
json_t *contents_checkpoint_list(app_t *app, const char *rel);
/* {"id", "last_modified"} of the new checkpoint; NULL with err. */
json_t *contents_checkpoint_create(app_t *app, const cpath_root_t *root, const char *rel,
				   err_t *err);
int contents_checkpoint_restore(app_t *app, const cpath_root_t *root, const char *rel,
				const char *id, err_t *err);
int contents_checkpoint_delete(app_t *app, const char *rel, const char *id, err_t *err);
/* Follow a rename or a delete of the file (or the directory holding it). */
void contents_checkpoints_move(app_t *app, const char *from, const char *to);

#endif
