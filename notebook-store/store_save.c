/*
 * Saving a notebook as objects and loading it back (see store.h).
 *
 * An object's bytes are the canonical JSON of its value,
 * json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
 * in UTF-8, and its name is the SHA-256 of those bytes, so anyone can
 * recompute a hash from the data with Python alone. Objects:
 *   output  one output, as in the notebook
 *   cell    the cell with "outputs" (code cells) a list of output hashes
 *   tree    the notebook with "cells" a list of cell hashes
 * All hashing happens before the write transaction, which only inserts.
 */
#include "store_private.h"
#include "nbformat.h"
#include "pyjson.h"
#include "../common/buf.h"
#include "../common/jparse.h"
#include "../common/util.h"

#include <stdlib.h>
#include <string.h>

typedef struct object {
	char hash[STORE_HASH_LEN];
	const char *kind;
	char *data;
	size_t len;
} object_t;

typedef struct objects {
	object_t *v;
	size_t n, cap;
} objects_t;

static void objects_free(objects_t *o)
{
	for (size_t i = 0; i < o->n; i++)
		free(o->v[i].data);
	free(o->v);
}

/* Encodes value, appends it to o, and returns its hash as a new JSON string (NULL on failure). */
static json_t *add_object(objects_t *o, const char *kind, const json_t *value)
{
	object_t *x;
	buf_t b;

	if (o->n == o->cap) {
		size_t ncap = o->cap ? o->cap * 2 : 64;
		object_t *nv = realloc(o->v, ncap * sizeof *nv);

		if (!nv)
			return NULL;
		o->v = nv;
		o->cap = ncap;
	}
	buf_init(&b, 0);
	if (pyjson_dump(value, -1, &b)) {
		buf_free(&b);
		return NULL;
	}
	x = &o->v[o->n];
	x->kind = kind;
	x->len = b.len;
	x->data = buf_steal(&b, NULL);
	if (!x->data)
		return NULL;
	store_sha256_hex(x->data, x->len, x->hash);
	o->n++;
	return json_string(x->hash);
}

/* Splits nb into objects; the tree is the last one. */
static int split_notebook(const json_t *nb, objects_t *o)
{
	json_t *tree = json_deep_copy(nb), *hashes = json_array(), *cell, *h;
	size_t i, j;
	int rc = CG_ESYS;

	if (!tree || !hashes)
		goto out;
	json_array_foreach(json_object_get(nb, "cells"), i, cell) {
		json_t *c = json_copy((json_t *)cell), *outs = json_object_get(cell, "outputs"), *out, *oh;

		if (!c)
			goto out;
		if (outs) {
			oh = json_array();
			json_array_foreach(outs, j, out)
				if (!oh || json_array_append_new(oh, add_object(o, "output", out)))
					break;
			if (!oh || j < json_array_size(outs) || json_object_set_new(c, "outputs", oh)) {
				json_decref(c);
				goto out;
			}
		}
		h = add_object(o, "cell", c);
		json_decref(c);
		if (json_array_append_new(hashes, h))
			goto out;
	}
	if (json_object_set(tree, "cells", hashes) || !(h = add_object(o, "tree", tree)))
		goto out;
	json_decref(h);
	rc = 0;
out:
	json_decref(hashes);
	json_decref(tree);
	return rc;
}

static int check_text(const char *what, const char *s, size_t max, err_t *err)
{
	if (strlen(s) > max)
		return err_set(err, CG_ETOOBIG, "%s is longer than %zu bytes", what, max);
	return 0;
}

/* The branch's head into head ("" when it has none); 0 or an sqlite error. */
static int read_head(store_t *s, const char *path, const char *branch, char head[STORE_ID_LEN], err_t *err)
{
	int rc = store_branch_head(s, path, branch, head, err);

	if (rc == CG_ENOTFOUND) {
		err_clear(err);
		head[0] = '\0';
		return 0;
	}
	return rc;
}

static int insert_all(store_t *s, const objects_t *o, const char *id, const char *path, const char *branch,
		      const char *head, const char *principal, const char *message, err_t *err)
{
	static const char *const sql[] = {
		"INSERT OR IGNORE INTO objects (hash, kind, size, data) VALUES (?1, ?2, ?3, ?4)",
		"INSERT INTO versions (id, path, tree, principal, message, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
		"INSERT INTO version_parents (version, n, parent) VALUES (?1, 0, ?2)",
		/* Compare-and-swap, although BEGIN IMMEDIATE already keeps other writers out. */
		"UPDATE branches SET version = ?3, updated = ?4 WHERE path = ?1 AND name = ?2 AND version = ?5",
		"INSERT INTO branches (path, name, version, updated) VALUES (?1, ?2, ?3, ?4)",
	};
	sqlite3_stmt *st[5] = { 0 };
	char now[ISO_TIME_LEN];
	const char *tree = o->v[o->n - 1].hash;
	int rc = 0;

	for (size_t i = 0; i < 5; i++)
		if (sqlite3_prepare_v2(s->db, sql[i], -1, &st[i], NULL)) {
			rc = store_db_error(s, err, "preparing a save");
			goto out;
		}
	for (size_t i = 0; i < o->n; i++) {
		sqlite3_reset(st[0]);
		sqlite3_bind_text(st[0], 1, o->v[i].hash, -1, SQLITE_STATIC);
		sqlite3_bind_text(st[0], 2, o->v[i].kind, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st[0], 3, (sqlite3_int64)o->v[i].len);
		sqlite3_bind_blob64(st[0], 4, o->v[i].data, o->v[i].len, SQLITE_STATIC);
		if (sqlite3_step(st[0]) != SQLITE_DONE) {
			rc = store_db_error(s, err, "writing an object");
			goto out;
		}
	}
	util_iso_time_now(now);
	sqlite3_bind_text(st[1], 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st[1], 2, path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st[1], 3, tree, -1, SQLITE_STATIC);
	sqlite3_bind_text(st[1], 4, principal, -1, SQLITE_STATIC);
	sqlite3_bind_text(st[1], 5, message, -1, SQLITE_STATIC);
	sqlite3_bind_text(st[1], 6, now, -1, SQLITE_STATIC);
	if (sqlite3_step(st[1]) != SQLITE_DONE) {
		rc = store_db_error(s, err, "writing a version");
		goto out;
	}
	if (*head) {
		sqlite3_bind_text(st[2], 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st[2], 2, head, -1, SQLITE_STATIC);
		if (sqlite3_step(st[2]) != SQLITE_DONE) {
			rc = store_db_error(s, err, "writing a version's parent");
			goto out;
		}
	}
	sqlite3_stmt *move = *head ? st[3] : st[4];

	sqlite3_bind_text(move, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_text(move, 2, branch, -1, SQLITE_STATIC);
	sqlite3_bind_text(move, 3, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(move, 4, now, -1, SQLITE_STATIC);
	if (*head)
		sqlite3_bind_text(move, 5, head, -1, SQLITE_STATIC);
	if (sqlite3_step(move) != SQLITE_DONE || sqlite3_changes(s->db) != 1)
		rc = store_db_error(s, err, "moving the branch");
out:
	for (size_t i = 0; i < 5; i++)
		sqlite3_finalize(st[i]);
	return rc;
}

int store_save(store_t *s, const char *path, const char *branch, const char *expected_parent,
	       const json_t *nb, const char *principal, const char *message,
	       char out_id[STORE_ID_LEN], err_t *err)
{
	objects_t o = { 0 };
	char head[STORE_ID_LEN], id[STORE_ID_LEN], expected[STORE_ID_LEN];
	int rc;

	/* Copied first: callers may pass the same buffer as expected_parent and out_id. */
	if (expected_parent && (rc = store_check_version_id(expected_parent, err)))
		return rc;
	if (expected_parent) {
		memcpy(expected, expected_parent, STORE_ID_LEN);
		expected_parent = expected;
	}
	out_id[0] = '\0';
	principal = principal ? principal : "";
	message = message ? message : "";
	if ((rc = store_check_path(path, err)) || (rc = store_check_branch(branch, err)) ||
	    (rc = check_text("principal", principal, STORE_MAX_PRINCIPAL, err)) ||
	    (rc = check_text("message", message, STORE_MAX_MESSAGE, err)))
		return rc;
	if ((rc = nbformat_validate(nb, err)))
		return err_wrap(err, "notebook refused");
	if (split_notebook(nb, &o) || util_uuid4_hex(id)) {
		rc = err_set(err, CG_ESYS, "store: out of memory splitting a notebook");
		goto out;
	}
	if ((rc = store_exec(s, "BEGIN IMMEDIATE", err)))
		goto out;
	if ((rc = read_head(s, path, branch, head, err)))
		goto rollback;
	if (expected_parent && strcmp(head, expected_parent) != 0) {
		snprintf(out_id, STORE_ID_LEN, "%s", head);
		rc = err_set(err, CG_ECONFLICT, "branch \"%s\" is at version %s, not %s", branch,
			     *head ? head : "(none)", expected_parent);
		goto rollback;
	}
	if ((rc = insert_all(s, &o, id, path, branch, head, principal, message, err)) ||
	    (rc = store_exec(s, "COMMIT", err)))
		goto rollback;
	memcpy(out_id, id, STORE_ID_LEN);
	goto out;
rollback:
	store_exec(s, "ROLLBACK", NULL);
out:
	objects_free(&o);
	return rc;
}

/* Reads and hash-checks one object; caller owns the returned tree. */
static json_t *load_object(store_t *s, sqlite3_stmt *st, const char *hash, const char *kind, err_t *err)
{
	char check[STORE_HASH_LEN];
	const void *data;
	size_t len;
	json_t *v = NULL;
	int rc;

	if (!hash) {
		err_set(err, CG_ESTATE, "store: a %s refers to an object by something not a hash", kind);
		return NULL;
	}
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		if (rc == SQLITE_DONE)
			err_set(err, CG_ESTATE, "store: object %.16s is missing", hash);
		else
			store_db_error(s, err, "reading an object");
		return NULL;
	}
	data = sqlite3_column_blob(st, 1);
	len = (size_t)sqlite3_column_bytes(st, 1);
	store_sha256_hex(data ? data : "", len, check);
	if (strcmp(check, hash) != 0 || strcmp((const char *)sqlite3_column_text(st, 0), kind) != 0) {
		err_set(err, CG_ESTATE, "store: object %.16s is corrupt", hash);
		return NULL;
	}
	v = jparse(data ? data : "", len, JSON_ALLOW_NUL, NULL);
	if (!v)
		err_set(err, CG_ESTATE, "store: object %.16s is not JSON", hash);
	return v;
}

static int load_cell(store_t *s, sqlite3_stmt *st, json_t *cells, size_t i, err_t *err)
{
	json_t *cell = load_object(s, st, json_string_value(json_array_get(cells, i)), "cell", err);
	json_t *outs, *h;
	size_t j;

	if (!cell)
		return err->code;
	outs = json_object_get(cell, "outputs");
	json_array_foreach(outs, j, h) {
		json_t *out = load_object(s, st, json_string_value(h), "output", err);

		if (!out || json_array_set_new(outs, j, out)) {
			json_decref(cell);
			return out ? err_set(err, CG_ESYS, "store: out of memory") : err->code;
		}
	}
	return json_array_set_new(cells, i, cell) ? CG_ESYS : 0;
}

int store_load(store_t *s, const char *version_id, json_t **out, err_t *err_out)
{
	err_t local = { 0 }, *err = err_out ? err_out : &local;  /* the loaders read err->code */
	sqlite3_stmt *ver = NULL, *obj = NULL;
	json_t *nb = NULL, *cells;
	int rc;

	*out = NULL;
	if ((rc = store_check_version_id(version_id, err)))
		return rc;
	/* One read transaction, so the objects are those of one snapshot. */
	if ((rc = store_exec(s, "BEGIN", err)))
		return rc;
	if (sqlite3_prepare_v2(s->db, "SELECT tree FROM versions WHERE id = ?1", -1, &ver, NULL) ||
	    sqlite3_prepare_v2(s->db, "SELECT kind, data FROM objects WHERE hash = ?1", -1, &obj, NULL)) {
		rc = store_db_error(s, err, "loading a version");
		goto out;
	}
	sqlite3_bind_text(ver, 1, version_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(ver);
	if (rc != SQLITE_ROW) {
		rc = rc == SQLITE_DONE ? err_set(err, CG_ENOTFOUND, "no version %s", version_id)
				       : store_db_error(s, err, "loading a version");
		goto out;
	}
	nb = load_object(s, obj, (const char *)sqlite3_column_text(ver, 0), "tree", err);
	if (!nb) {
		rc = err->code;
		goto out;
	}
	cells = json_object_get(nb, "cells");
	for (size_t i = 0; i < json_array_size(cells); i++)
		if ((rc = load_cell(s, obj, cells, i, err)))
			goto out;
	*out = nb;
	nb = NULL;
	rc = 0;
out:
	sqlite3_finalize(ver);
	sqlite3_finalize(obj);
	store_exec(s, "COMMIT", NULL);
	json_decref(nb);
	return rc;
}
