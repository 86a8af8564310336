/* The publications table. See publications.h. */
#include "publications.h"

#include <stdio.h>
#include <string.h>

#include "../common/util.h"
#include "store_private.h"

#define COLUMNS "seq, id, path, version, published_by, approved_by, prompt, message, created"

int store_check_publication_id(const char *id, err_t *err)
{
	if (!id || strlen(id) != STORE_ID_LEN - 1 || strspn(id, "0123456789abcdef") != STORE_ID_LEN - 1)
		return err_set(err, CG_EINVAL, "a publication id is %d lowercase hex digits",
			       STORE_ID_LEN - 1);
	return 0;
}

static json_t *row_json(sqlite3_stmt *st)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
			 "seq", (json_int_t)sqlite3_column_int64(st, 0),
			 "id", (const char *)sqlite3_column_text(st, 1),
			 "path", (const char *)sqlite3_column_text(st, 2),
			 "version", (const char *)sqlite3_column_text(st, 3),
			 "published_by", (const char *)sqlite3_column_text(st, 4),
			 "approved_by", (const char *)sqlite3_column_text(st, 5),
			 "prompt", (const char *)sqlite3_column_text(st, 6),
			 "message", (const char *)sqlite3_column_text(st, 7),
			 "created", (const char *)sqlite3_column_text(st, 8));
}

/* One row by a column's value: 0, CG_ENOTFOUND, or an error. */
static int get_one(store_t *s, const char *sql, const char *value, json_t **out, err_t *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*out = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL))
		return store_db_error(s, err, "reading a publication");
	sqlite3_bind_text(st, 1, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = row_json(st);
	rc = rc == SQLITE_ROW ? (*out ? 0 : err_set(err, CG_ESYS, "store: out of memory"))
	     : rc == SQLITE_DONE ? err_set(err, CG_ENOTFOUND, "no publication %s", value)
	     : store_db_error(s, err, "reading a publication");
	sqlite3_finalize(st);
	return rc;
}

int store_publication_get(store_t *s, const char *id, json_t **out, err_t *err)
{
	int rc;

	*out = NULL;
	if ((rc = store_check_publication_id(id, err)))
		return rc;
	return get_one(s, "SELECT " COLUMNS " FROM publications WHERE id = ?1", id, out, err);
}

int store_publication_of_version(store_t *s, const char *version_id, json_t **out, err_t *err)
{
	int rc;

	*out = NULL;
	if ((rc = store_check_version_id(version_id, err)))
		return rc;
	return get_one(s, "SELECT " COLUMNS " FROM publications WHERE version = ?1", version_id,
		       out, err);
}

static int check_field(const char *what, const char *v, size_t max, err_t *err)
{
	if (v && strlen(v) > max)
		return err_set(err, CG_ETOOBIG, "the publication's %s is longer than %zu bytes", what,
			       max);
	return 0;
}

static int check(const store_publication_t *p, err_t *err)
{
	int rc;

	if ((rc = store_check_path(p->path, err)) || (rc = store_check_version_id(p->version, err)))
		return rc;
	if (!p->published_by || !*p->published_by)
		return err_set(err, CG_EINVAL, "a publication names who published it");
	if ((rc = check_field("publisher", p->published_by, STORE_MAX_PRINCIPAL, err)) ||
	    (rc = check_field("approver", p->approved_by, STORE_MAX_PRINCIPAL, err)) ||
	    (rc = check_field("prompt", p->prompt, 64, err)) ||
	    (rc = check_field("message", p->message, STORE_MAX_PUBLICATION_MESSAGE, err)))
		return rc;
	return 0;
}

/* The INSERT, inside the caller's transaction. */
static int insert(store_t *s, const store_publication_t *p, const char *id, err_t *err)
{
	char now[ISO_TIME_LEN];
	sqlite3_stmt *st = NULL;
	int rc;

	util_iso_time_now(now);
	/* the SELECT makes a missing version insert nothing rather than trip the foreign key */
	if (sqlite3_prepare_v2(s->db, "INSERT INTO publications (id, path, version, published_by,"
			       " approved_by, prompt, message, created)"
			       " SELECT ?1, ?2, id, ?4, ?5, ?6, ?7, ?8 FROM versions WHERE id = ?3",
			       -1, &st, NULL))
		return store_db_error(s, err, "publishing");
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, p->path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, p->version, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, p->published_by, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, p->approved_by ? p->approved_by : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, p->prompt ? p->prompt : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, p->message ? p->message : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, now, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		rc = sqlite3_changes(s->db) == 1 ? 0
		     : err_set(err, CG_ENOTFOUND, "no version %s", p->version);
	else if (sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE)
		rc = err_set(err, CG_ECONFLICT, "version %s is already published", p->version);
	else
		rc = store_db_error(s, err, "publishing");
	sqlite3_finalize(st);
	return rc;
}

int store_publish(store_t *s, const store_publication_t *p, json_t **out, err_t *err)
{
	char id[STORE_ID_LEN];
	int rc;

	if (out)
		*out = NULL;
	if ((rc = check(p, err)))
		return rc;
	if (util_uuid4_hex(id))
		return err_set(err, CG_ESYS, "cannot make a publication id");
	if ((rc = store_exec(s, "BEGIN IMMEDIATE", err)))
		return rc;
	rc = insert(s, p, id, err);
	if (rc == 0 && (rc = store_exec(s, "COMMIT", err)) == 0)
		return out ? store_publication_get(s, id, out, err) : 0;
	store_exec(s, "ROLLBACK", NULL);
	/* a conflict answers with the publication already there */
	if (rc == CG_ECONFLICT && out)
		store_publication_of_version(s, p->version, out, NULL);
	return rc;
}

int store_publications_list(store_t *s, const char *path, size_t limit, json_t **out, err_t *err)
{
	sqlite3_stmt *st = NULL;
	json_t *list;
	int rc;

	*out = NULL;
	if (path && *path && (rc = store_check_path(path, err)))
		return rc;
	/* the notebook itself, or everything beneath a directory (whole components) */
	if (sqlite3_prepare_v2(s->db, "SELECT " COLUMNS " FROM publications WHERE ?1 = ''"
			       " OR path = ?1 OR substr(path, 1, length(?1) + 1) = ?1 || '/'"
			       " ORDER BY seq LIMIT ?2", -1, &st, NULL))
		return store_db_error(s, err, "listing publications");
	sqlite3_bind_text(st, 1, path ? path : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, limit ? (sqlite3_int64)limit : -1);
	list = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (!list || json_array_append_new(list, row_json(st))) {
			rc = SQLITE_NOMEM;
			break;
		}
	if (rc != SQLITE_DONE) {
		json_decref(list);
		rc = store_db_error(s, err, "listing publications");
	} else {
		*out = list;
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}
