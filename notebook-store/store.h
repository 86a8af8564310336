/*
 * store: every version of every notebook, immutably, in one sqlite3 file.
 *
 * A notebook is split into content-addressed objects (each output, each
 * cell with its outputs' hashes, and a tree with the notebook's metadata and
 * its cells' hashes), so an unchanged cell or output is stored once. A
 * version names a tree, its parent version(s), who saved it and why; a
 * branch is a named pointer per notebook path that a save moves with
 * compare-and-swap, objects, version and pointer in one transaction.
 * Objects and versions are never updated or deleted (triggers refuse it).
 * See docs/store.md for the schema and what is guaranteed.
 *
 * A store_t is one sqlite connection: use it from one thread. Several
 * processes may open the same file; writers take turns (busy timeout).
 */
#ifndef CELLGATE_STORE_H
#define CELLGATE_STORE_H

#include <jansson.h>
#include <stddef.h>

#include "../common/err.h"

#define STORE_ID_LEN 33        /* a version id: 32 hex digits and the NUL */
#define STORE_HASH_LEN 65      /* a SHA-256 in hex and the NUL */
#define STORE_SCHEMA_VERSION 3
#define STORE_MAX_PATH 4096
#define STORE_MAX_BRANCH 100
#define STORE_MAX_PRINCIPAL 256
#define STORE_MAX_MESSAGE 65536

typedef struct store store_t;

/*
 * Opens (creating it, mode 0600) the store at path, in WAL mode, and
 * migrates its schema to STORE_SCHEMA_VERSION. Caller owns the store.
 * Refuses a store written by a newer cellgate (CG_ESTATE).
 */
store_t *store_open(const char *path, err_t *err);
void store_close(store_t **self_p);

/*
 * Saves nb (an in-memory 4.5 notebook as nbformat_normalize leaves it; it is
 * validated again here) as a new version of notebook `path` on `branch`.
 * expected_parent is the version the caller's copy derives from: the save
 * succeeds only if the branch still points there (compare-and-swap);
 * otherwise it returns CG_ECONFLICT, writes nothing, and out_id holds the
 * branch's current version ("" when the branch does not exist). NULL means
 * "whatever the branch points to now" (a new branch starts with a root
 * version). On success out_id is the new version's id.
 */
int store_save(store_t *s, const char *path, const char *branch, const char *expected_parent,
	       const json_t *nb, const char *principal, const char *message,
	       char out_id[STORE_ID_LEN], err_t *err);

/* The notebook of a version, rebuilt and hash-checked. Caller owns *out. */
int store_load(store_t *s, const char *version_id, json_t **out, err_t *err);

/*
 * The history of a branch, newest first, following first parents, at most
 * limit entries (0: all): [{"id", "path", "tree", "parents": [...],
 * "principal", "message", "created"}]. Caller owns *out.
 */
int store_log(store_t *s, const char *path, const char *branch, size_t limit, json_t **out, err_t *err);

/* One version's record, in the shape of a store_log entry. Caller owns *out. */
int store_version_info(store_t *s, const char *version_id, json_t **out, err_t *err);

/* The version a branch points to: 0, or CG_ENOTFOUND. */
int store_branch_head(store_t *s, const char *path, const char *branch, char out_id[STORE_ID_LEN], err_t *err);
/* A new branch of path at any existing version: CG_ECONFLICT if it exists. */
int store_branch_create(store_t *s, const char *path, const char *branch, const char *version_id, err_t *err);
/* Deletes the pointer only; its versions stay readable by id. */
int store_branch_delete(store_t *s, const char *path, const char *branch, err_t *err);
/* [{"name", "version", "updated"}] sorted by name. Caller owns *out. */
int store_branch_list(store_t *s, const char *path, json_t **out, err_t *err);

/*
 * Which branch and version the working-copy file of path shows, and the
 * SHA-256 of the bytes written there, so that a file changed outside
 * cellgate can be recognised (and imported) at the next read.
 */
int store_checkout_record(store_t *s, const char *path, const char *branch, const char *version_id,
			  const char file_sha256[STORE_HASH_LEN], err_t *err);
/* {"branch", "version", "file_sha256", "updated"}, or CG_ENOTFOUND. Caller owns *out. */
int store_checkout_get(store_t *s, const char *path, json_t **out, err_t *err);

/*
 * Writes data to file_path atomically: a temporary file in the same
 * directory, fsync, rename over the target, fsync of the directory. A crash
 * leaves either the old file or the new one, never a mix.
 */
int store_write_file_atomic(const char *file_path, const void *data, size_t len, err_t *err);

/*
 * Checks a branch out into the working copy: writes its head version to
 * file_path (atomically, as nbformat.write would) and records the checkout.
 * out_id (may be NULL) gets the version written.
 */
int store_checkout(store_t *s, const char *path, const char *branch, const char *file_path,
		   char out_id[STORE_ID_LEN], err_t *err);

/*
 * Reconciles the working copy with the store: when the bytes of file_path
 * differ from what the last checkout or sync wrote there (an editor, git, a
 * kernel changed it), they are imported as a new version on the checked-out
 * branch, attributed to the principal "filesystem". A file that is not a
 * valid notebook is refused (CG_EINVAL, the store unchanged). *imported is
 * 1 when a version was made; out_id (may be NULL) gets the branch's head.
 * CG_ENOTFOUND when nothing was checked out for path.
 */
int store_sync_file(store_t *s, const char *path, const char *file_path, int *imported,
		    char out_id[STORE_ID_LEN], err_t *err);

/* 0 when id has the shape of a version id (32 lowercase hex digits), else
 * CG_EINVAL: for checking outside input before it reaches the store. */
int store_check_version_id(const char *id, err_t *err);
/* The same for a branch name: 1-100 of A-Za-z0-9._/-, not starting with
 * '.' or '-', no "..". */
int store_check_branch(const char *branch, err_t *err);

/*
 * A file's history follows it. store_path_move (after a rename of the file
 * or of a directory above it) moves the branches and the checkout record of
 * `from` and everything beneath it to `to`; versions keep the path they
 * were saved under. Whatever was still recorded at `to` steps aside first,
 * as store_path_forget does it.
 *
 * store_path_forget (after a delete) renames path's branches (and those
 * beneath it) to "deleted/<UTC time>-<random>/<name>", so a notebook later
 * made at the same path starts a history of its own while the old one is
 * still listed and readable; it drops the checkout record and the
 * checkpoint. Versions are never deleted.
 */
int store_path_move(store_t *s, const char *from, const char *to, err_t *err);
int store_path_forget(store_t *s, const char *path, err_t *err);

/*
 * The Jupyter checkpoint of a notebook is a pointer to one of its versions
 * (a branch row named STORE_CHECKPOINT_BRANCH, which store_check_branch
 * refuses, so no user branch can collide with it and store_branch_list
 * leaves it out). get: {"version", "updated"} or CG_ENOTFOUND.
 */
#define STORE_CHECKPOINT_BRANCH ".checkpoint"
int store_checkpoint_set(store_t *s, const char *path, const char *version_id, err_t *err);
int store_checkpoint_get(store_t *s, const char *path, json_t **out, err_t *err);
int store_checkpoint_clear(store_t *s, const char *path, err_t *err);

/*
 * The owner of notebook path: the principal who saved the first version of
 * the history its working copy shows (the root of the checked-out branch's
 * first-parent chain; "filesystem" when that history began as a file made
 * outside cellgate). A rename keeps it; a delete ends it. CG_ENOTFOUND
 * when no history is recorded for path.
 */
int store_owner(store_t *s, const char *path, char out[STORE_MAX_PRINCIPAL], err_t *err);

/* Every path with a working copy recorded, sorted: the notebooks to
 * reconcile at start. Caller owns *out. */
int store_checkout_paths(store_t *s, json_t **out, err_t *err);

/* SHA-256 of data as lowercase hex. */
void store_sha256_hex(const void *data, size_t len, char out[STORE_HASH_LEN]);

#endif
