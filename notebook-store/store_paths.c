/*
 * What happens to a notebook's history when its file moves or goes away,
 * the checkpoint pointer, and the list of working copies (see store.h).
 *
 * Versions keep the path they were saved under forever (they are
 * immutable); what follows a file is the mutable part: its branch pointers
 * and its checkout record. A path given here also stands for everything
 * beneath it, so renaming or deleting a directory carries the notebooks
 * inside it.
 */
#include "store_private.h"
#include "../common/util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Rows of path itself or beneath it ("a" matches "a" and "a/b", not "ab"). */
#define UNDER(col, param) \
	"(" col " = " param " OR substr(" col ", 1, length(" param ") + 1) = " param " || '/')"

#define DELETED_PREFIX "deleted/"
_Static_assert(STORE_MAX_BRANCH == 100, "the SQL below spells the limit out");

static int run(store_t *s, const char *sql, const char *a, const char *b, const char *c, err_t *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL))
		return store_db_error(s, err, "preparing a path change");
	sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	if (c)
		sqlite3_bind_text(st, 3, c, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : store_db_error(s, err, "changing a notebook's path");
}

/* "deleted/20261127T072300Z-1a2b/": unique enough that two deletes of the
 * same path never collide, and a valid branch name prefix. */
static void deleted_prefix(char out[64])
{
	char rnd[5] = "0000";
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	if (util_random_hex(rnd, 2) != 0)
		snprintf(rnd, sizeof rnd, "%04x", (unsigned)(util_mono_ns() & 0xffff));
	snprintf(out, 64, DELETED_PREFIX "%04d%02d%02dT%02d%02d%02dZ-%s/", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rnd);
}

/* Inside a transaction: path's branches become deleted/<stamp>/<name>
 * (kept, so its history can still be found by name), its checkpoint and
 * checkout records go. A name too long to carry the prefix loses its
 * pointer only; its versions stay readable by id. */
static int forget(store_t *s, const char *path, err_t *err)
{
	char prefix[64];
	int rc;

	deleted_prefix(prefix);
	if ((rc = run(s, "DELETE FROM branches WHERE " UNDER("path", "?1")
		      " AND (name = '" STORE_CHECKPOINT_BRANCH "'"
		      "   OR (substr(name, 1, 8) <> '" DELETED_PREFIX "'"
		      "       AND length(?2) + length(name) > 100))",
		      path, prefix, NULL, err)) ||
	    (rc = run(s, "UPDATE branches SET name = ?2 || name WHERE " UNDER("path", "?1")
		      " AND substr(name, 1, 8) <> '" DELETED_PREFIX "'", path, prefix, NULL, err)))
		return rc;
	return run(s, "DELETE FROM checkouts WHERE " UNDER("path", "?1"), path, NULL, NULL, err);
}

static int in_transaction(store_t *s, int rc, err_t *err)
{
	if (rc) {
		store_exec(s, "ROLLBACK", NULL);
		return rc;
	}
	return store_exec(s, "COMMIT", err);
}

int store_path_forget(store_t *s, const char *path, err_t *err)
{
	int rc;

	if ((rc = store_check_path(path, err)) || (rc = store_exec(s, "BEGIN IMMEDIATE", err)))
		return rc;
	return in_transaction(s, forget(s, path, err), err);
}

int store_path_move(store_t *s, const char *from, const char *to, err_t *err)
{
	char now[ISO_TIME_LEN];
	int rc;

	if ((rc = store_check_path(from, err)) || (rc = store_check_path(to, err)))
		return rc;
	if (strcmp(from, to) == 0)
		return 0;
	util_iso_time_now(now);
	if ((rc = store_exec(s, "BEGIN IMMEDIATE", err)))
		return rc;
	/* whatever is still recorded at the destination (a file that was
	 * there once and went away outside cellgate) steps aside first */
	rc = forget(s, to, err);
	if (!rc)
		rc = run(s, "UPDATE branches SET path = ?2 || substr(path, length(?1) + 1), updated = ?3"
			 " WHERE " UNDER("path", "?1"), from, to, now, err);
	if (!rc)
		rc = run(s, "UPDATE checkouts SET path = ?2 || substr(path, length(?1) + 1), updated = ?3"
			 " WHERE " UNDER("path", "?1"), from, to, now, err);
	return in_transaction(s, rc, err);
}

int store_checkpoint_set(store_t *s, const char *path, const char *version_id, err_t *err)
{
	char now[ISO_TIME_LEN];
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = store_check_path(path, err)) || (rc = store_check_version_id(version_id, err)))
		return rc;
	util_iso_time_now(now);
	if (sqlite3_prepare_v2(s->db, "INSERT INTO branches (path, name, version, updated)"
			       " SELECT ?1, '" STORE_CHECKPOINT_BRANCH "', id, ?3 FROM versions WHERE id = ?2"
			       " ON CONFLICT (path, name) DO UPDATE SET version = excluded.version,"
			       " updated = excluded.updated", -1, &st, NULL))
		return store_db_error(s, err, "recording a checkpoint");
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, version_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, now, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		rc = sqlite3_changes(s->db) == 1 ? 0 : err_set(err, CG_ENOTFOUND, "no version %s", version_id);
	else
		rc = store_db_error(s, err, "recording a checkpoint");
	sqlite3_finalize(st);
	return rc;
}

int store_checkpoint_get(store_t *s, const char *path, json_t **out, err_t *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*out = NULL;
	if ((rc = store_check_path(path, err)))
		return rc;
	if (sqlite3_prepare_v2(s->db, "SELECT version, updated FROM branches WHERE path = ?1"
			       " AND name = '" STORE_CHECKPOINT_BRANCH "'", -1, &st, NULL))
		return store_db_error(s, err, "reading a checkpoint");
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = json_pack("{s:s, s:s}", "version", sqlite3_column_text(st, 0),
				 "updated", sqlite3_column_text(st, 1));
		rc = *out ? 0 : err_set(err, CG_ESYS, "store: out of memory");
	} else if (rc == SQLITE_DONE) {
		rc = err_set(err, CG_ENOTFOUND, "no checkpoint for this notebook");
	} else {
		rc = store_db_error(s, err, "reading a checkpoint");
	}
	sqlite3_finalize(st);
	return rc;
}

int store_checkpoint_clear(store_t *s, const char *path, err_t *err)
{
	int rc;

	if ((rc = store_check_path(path, err)))
		return rc;
	return run(s, "DELETE FROM branches WHERE path = ?1 AND name = '" STORE_CHECKPOINT_BRANCH "'",
		   path, NULL, NULL, err);
}

int store_checkout_paths(store_t *s, json_t **out, err_t *err)
{
	sqlite3_stmt *st = NULL;
	json_t *list;
	int rc;

	*out = NULL;
	if (sqlite3_prepare_v2(s->db, "SELECT path FROM checkouts ORDER BY path", -1, &st, NULL))
		return store_db_error(s, err, "listing working copies");
	list = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (!list || json_array_append_new(list, json_string((const char *)sqlite3_column_text(st, 0)))) {
			rc = SQLITE_NOMEM;
			break;
		}
	if (rc != SQLITE_DONE) {
		json_decref(list);
		rc = store_db_error(s, err, "listing working copies");
	} else {
		*out = list;
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}
