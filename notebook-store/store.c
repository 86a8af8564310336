/*
 * The store's connection, branches, history and checkouts (see store.h).
 * Saving and loading notebooks, which split them into objects, are in
 * store_save.c; the schema is in store_schema.c.
 */
#include "store_private.h"
#include "../common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 5000

int store_db_error(store_t *s, err_t *err, const char *what)
{
	return err_set(err, CG_ESYS, "store: %s: %s", what, sqlite3_errmsg(s->db));
}

int store_exec(store_t *s, const char *sql, err_t *err)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return store_db_error(s, err, "executing SQL");
	return 0;
}

int store_check_path(const char *path, err_t *err)
{
	size_t n = path ? strlen(path) : 0;

	if (n == 0 || n > STORE_MAX_PATH)
		return err_set(err, CG_EINVAL, "notebook path must be 1 to %d bytes", STORE_MAX_PATH);
	return 0;
}

/* Branch names: 1-100 of [A-Za-z0-9._/-], not starting with '-' or '.', no "..". */
int store_check_branch(const char *b, err_t *err)
{
	size_t n = b ? strlen(b) : 0;

	if (n == 0 || n > STORE_MAX_BRANCH || b[0] == '-' || b[0] == '.' || strstr(b, "..") ||
	    strspn(b, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-") != n)
		return err_set(err, CG_EINVAL, "branch names are 1 to %d of A-Z a-z 0-9 . _ / -, "
			       "not starting with '.' or '-', without \"..\"", STORE_MAX_BRANCH);
	return 0;
}

int store_check_version_id(const char *id, err_t *err)
{
	if (!id || strlen(id) != STORE_ID_LEN - 1 || strspn(id, "0123456789abcdef") != STORE_ID_LEN - 1)
		return err_set(err, CG_EINVAL, "a version id is %d lowercase hex digits", STORE_ID_LEN - 1);
	return 0;
}

void store_sha256_hex(const void *data, size_t len, char out[STORE_HASH_LEN])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	util_hex_encode(md, 32, out);
}

store_t *store_open(const char *path, err_t *err)
{
	store_t *s = calloc(1, sizeof *s);
	sqlite3_stmt *st = NULL;
	int fd;

	if (!s) {
		err_set(err, CG_ESYS, "store: out of memory");
		return NULL;
	}
	/* The store holds every notebook; only the server's user may read it.
	 * Created here only when absent: closing a descriptor of a file this
	 * process already has open in sqlite (the audit log shares the file)
	 * drops that connection's POSIX locks, and another process would then
	 * delete the WAL under it. */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno != EEXIST) {
		err_set(err, CG_ESYS, "store: cannot open the store file: %s", strerror(errno));
		goto fail;
	}
	if (fd >= 0)
		close(fd);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		err_set(err, CG_ESYS, "store: cannot open: %s", s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(s->db, 1);
	/* WAL: readers never block the writer; synchronous=FULL: an acknowledged commit survives power loss. */
	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW ||
	    strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
		store_db_error(s, err, "cannot switch to WAL mode");
		sqlite3_finalize(st);
		goto fail;
	}
	sqlite3_finalize(st);
	if (store_exec(s, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", err) || store_migrate(s, err))
		goto fail;
	return s;
fail:
	store_close(&s);
	return NULL;
}

void store_close(store_t **self_p)
{
	store_t *s;

	if (!self_p || !*self_p)
		return;
	s = *self_p;
	sqlite3_close_v2(s->db);
	free(s);
	*self_p = NULL;
}

/* One version's row as JSON; st selects id, path, tree, principal, message, created, parents. */
static json_t *version_json(sqlite3_stmt *st)
{
	json_t *parents = json_loads((const char *)sqlite3_column_text(st, 6), 0, NULL);

	return json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:s}",
			 "id", sqlite3_column_text(st, 0), "path", sqlite3_column_text(st, 1),
			 "tree", sqlite3_column_text(st, 2), "parents", parents ? parents : json_array(),
			 "principal", sqlite3_column_text(st, 3), "message", sqlite3_column_text(st, 4),
			 "created", sqlite3_column_text(st, 5));
}

#define VERSION_COLUMNS \
	"v.id, v.path, v.tree, v.principal, v.message, v.created, " \
	"(SELECT json_group_array(parent) FROM " \
	"  (SELECT parent FROM version_parents WHERE version = v.id ORDER BY n))"

int store_version_info(store_t *s, const char *id, json_t **out, err_t *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*out = NULL;
	if ((rc = store_check_version_id(id, err)))
		return rc;
	if (sqlite3_prepare_v2(s->db, "SELECT " VERSION_COLUMNS " FROM versions v WHERE v.id = ?1",
			       -1, &st, NULL))
		return store_db_error(s, err, "reading a version");
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = version_json(st);
	rc = rc == SQLITE_ROW ? (*out ? 0 : err_set(err, CG_ESYS, "store: out of memory"))
	     : rc == SQLITE_DONE ? err_set(err, CG_ENOTFOUND, "no version %s", id)
	     : store_db_error(s, err, "reading a version");
	sqlite3_finalize(st);
	return rc;
}

int store_log(store_t *s, const char *path, const char *branch, size_t limit, json_t **out, err_t *err)
{
	char head[STORE_ID_LEN];
	sqlite3_stmt *st = NULL;
	json_t *list;
	int rc;

	*out = NULL;
	if ((rc = store_branch_head(s, path, branch, head, err)))
		return rc;
	if (sqlite3_prepare_v2(s->db,
			       "WITH RECURSIVE chain(id, depth) AS ("
			       "  SELECT ?1, 0"
			       "  UNION ALL"
			       "  SELECT p.parent, chain.depth + 1 FROM chain"
			       "  JOIN version_parents p ON p.version = chain.id AND p.n = 0"
			       "  LIMIT ?2)"
			       " SELECT " VERSION_COLUMNS " FROM chain JOIN versions v ON v.id = chain.id"
			       " ORDER BY chain.depth", -1, &st, NULL))
		return store_db_error(s, err, "reading a log");
	sqlite3_bind_text(st, 1, head, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, limit ? (sqlite3_int64)limit : -1);
	list = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (!list || json_array_append_new(list, version_json(st))) {
			rc = SQLITE_NOMEM;
			break;
		}
	if (rc != SQLITE_DONE) {
		rc = store_db_error(s, err, "reading a log");
		json_decref(list);
	} else {
		*out = list;
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

int store_branch_head(store_t *s, const char *path, const char *branch, char out_id[STORE_ID_LEN], err_t *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	out_id[0] = '\0';
	if ((rc = store_check_path(path, err)) || (rc = store_check_branch(branch, err)))
		return rc;
	if (sqlite3_prepare_v2(s->db, "SELECT version FROM branches WHERE path = ?1 AND name = ?2", -1, &st, NULL))
		return store_db_error(s, err, "reading a branch");
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, branch, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(out_id, STORE_ID_LEN, "%s", (const char *)sqlite3_column_text(st, 0));
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = err_set(err, CG_ENOTFOUND, "no branch \"%s\" for this notebook", branch);
	} else {
		rc = store_db_error(s, err, "reading a branch");
	}
	sqlite3_finalize(st);
	return rc;
}

int store_branch_create(store_t *s, const char *path, const char *branch, const char *version_id, err_t *err)
{
	char now[ISO_TIME_LEN];
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = store_check_path(path, err)) || (rc = store_check_branch(branch, err)) ||
	    (rc = store_check_version_id(version_id, err)))
		return rc;
	util_iso_time_now(now);
	/* The SELECT makes a missing version insert nothing rather than trip the foreign key. */
	if (sqlite3_prepare_v2(s->db, "INSERT INTO branches (path, name, version, updated)"
			       " SELECT ?1, ?2, id, ?4 FROM versions WHERE id = ?3", -1, &st, NULL))
		return store_db_error(s, err, "creating a branch");
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, branch, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, version_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, now, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		rc = sqlite3_changes(s->db) == 1 ? 0 : err_set(err, CG_ENOTFOUND, "no version %s", version_id);
	else if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		rc = err_set(err, CG_ECONFLICT, "branch \"%s\" already exists", branch);
	else
		rc = store_db_error(s, err, "creating a branch");
	sqlite3_finalize(st);
	return rc;
}

int store_branch_delete(store_t *s, const char *path, const char *branch, err_t *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = store_check_path(path, err)) || (rc = store_check_branch(branch, err)))
		return rc;
	if (sqlite3_prepare_v2(s->db, "DELETE FROM branches WHERE path = ?1 AND name = ?2", -1, &st, NULL))
		return store_db_error(s, err, "deleting a branch");
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, branch, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		rc = sqlite3_changes(s->db) == 1 ? 0 : err_set(err, CG_ENOTFOUND, "no branch \"%s\"", branch);
	else
		rc = store_db_error(s, err, "deleting a branch");
	sqlite3_finalize(st);
	return rc;
}

int store_branch_list(store_t *s, const char *path, json_t **out, err_t *err)
{
	sqlite3_stmt *st = NULL;
	json_t *list;
	int rc;

	*out = NULL;
	if ((rc = store_check_path(path, err)))
		return rc;
	if (sqlite3_prepare_v2(s->db, "SELECT name, version, updated FROM branches WHERE path = ?1"
			       " AND substr(name, 1, 1) <> '.' ORDER BY name",
			       -1, &st, NULL))
		return store_db_error(s, err, "listing branches");
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	list = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (!list || json_array_append_new(list, json_pack("{s:s, s:s, s:s}",
				"name", sqlite3_column_text(st, 0), "version", sqlite3_column_text(st, 1),
				"updated", sqlite3_column_text(st, 2)))) {
			rc = SQLITE_NOMEM;
			break;
		}
	if (rc != SQLITE_DONE) {
		json_decref(list);
		rc = store_db_error(s, err, "listing branches");
	} else {
		*out = list;
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

int store_checkout_record(store_t *s, const char *path, const char *branch, const char *version_id,
			  const char file_sha256[STORE_HASH_LEN], err_t *err)
{
	char now[ISO_TIME_LEN];
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = store_check_path(path, err)) || (rc = store_check_branch(branch, err)) ||
	    (rc = store_check_version_id(version_id, err)))
		return rc;
	util_iso_time_now(now);
	if (sqlite3_prepare_v2(s->db, "INSERT INTO checkouts (path, branch, version, file_sha256, updated)"
			       " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (path) DO UPDATE SET"
			       " branch = excluded.branch, version = excluded.version,"
			       " file_sha256 = excluded.file_sha256, updated = excluded.updated",
			       -1, &st, NULL))
		return store_db_error(s, err, "recording a checkout");
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, branch, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, version_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, file_sha256, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, now, -1, SQLITE_STATIC);
	/* The record is bookkeeping that store_sync_file can rebuild (a file
	 * that is the head's bytes is recorded again, one behind its record
	 * rewritten), so it need not survive a power loss: no fsync of the
	 * WAL for it, which would be the save's fourth. */
	store_exec(s, "PRAGMA synchronous=NORMAL", NULL);
	rc = sqlite3_step(st);
	store_exec(s, "PRAGMA synchronous=FULL", NULL);
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		rc = err_set(err, CG_ENOTFOUND, "no version %s", version_id);
	else
		rc = rc == SQLITE_DONE ? 0 : store_db_error(s, err, "recording a checkout");
	sqlite3_finalize(st);
	return rc;
}

int store_checkout_get(store_t *s, const char *path, json_t **out, err_t *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*out = NULL;
	if ((rc = store_check_path(path, err)))
		return rc;
	if (sqlite3_prepare_v2(s->db, "SELECT branch, version, file_sha256, updated FROM checkouts WHERE path = ?1",
			       -1, &st, NULL))
		return store_db_error(s, err, "reading a checkout");
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = json_pack("{s:s, s:s, s:s, s:s}", "branch", sqlite3_column_text(st, 0),
				 "version", sqlite3_column_text(st, 1), "file_sha256", sqlite3_column_text(st, 2),
				 "updated", sqlite3_column_text(st, 3));
		rc = *out ? 0 : err_set(err, CG_ESYS, "store: out of memory");
	} else if (rc == SQLITE_DONE) {
		rc = err_set(err, CG_ENOTFOUND, "no checkout recorded for this notebook");
	} else {
		rc = store_db_error(s, err, "reading a checkout");
	}
	sqlite3_finalize(st);
	return rc;
}
