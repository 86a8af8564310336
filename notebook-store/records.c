/*
 * Execution records, output links and replay reports (see records.h).
 * Schema: store_schema.c, version 2.
 */
#include "records.h"
#include "store_private.h"
#include "pyjson.h"
#include "../common/buf.h"
#include "../common/util.h"

#include <stdlib.h>
#include <string.h>

/* --- objects ----------------------------------------------------------------- */

static int encode(const json_t *v, buf_t *b)
{
	buf_init(b, 0);
	return pyjson_dump(v, -1, b);
}

int records_output_hash(const json_t *output, char out[STORE_HASH_LEN])
{
	buf_t b;
	int rc = encode(output, &b);

	if (rc == 0)
		store_sha256_hex(b.data ? b.data : "", b.len, out);
	buf_free(&b);
	return rc;
}

int records_code_hash(const char *code, char out[STORE_HASH_LEN])
{
	json_t *v = json_string(code ? code : "");
	int rc = v ? records_output_hash(v, out) : CG_ESYS;

	json_decref(v);
	return rc;
}

/* Inserts v as an object of kind (once); out gets its hash. */
static int put_object(store_t *s, const char *kind, const json_t *v, char out[STORE_HASH_LEN],
		      err_t *err)
{
	sqlite3_stmt *st = NULL;
	buf_t b;
	int rc = 0;

	if (encode(v, &b)) {
		buf_free(&b);
		return err_set(err, CG_ESYS, "records: cannot encode an object");
	}
	store_sha256_hex(b.data ? b.data : "", b.len, out);
	if (sqlite3_prepare_v2(s->db, "INSERT OR IGNORE INTO objects (hash, kind, size, data) "
			       "VALUES (?1, ?2, ?3, ?4)", -1, &st, NULL)) {
		rc = store_db_error(s, err, "preparing an object");
		goto out;
	}
	sqlite3_bind_text(st, 1, out, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)b.len);
	sqlite3_bind_blob64(st, 4, b.data ? b.data : "", b.len, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = store_db_error(s, err, "writing an object");
out:
	sqlite3_finalize(st);
	buf_free(&b);
	return rc;
}

/* An object's JSON, hash-checked; NULL with err set. */
static json_t *get_object(store_t *s, const char *hash, err_t *err)
{
	sqlite3_stmt *st = NULL;
	char check[STORE_HASH_LEN];
	json_t *v = NULL;

	if (!hash) {
		err_set(err, CG_ESTATE, "records: a reference is not a hash");
		return NULL;
	}
	if (sqlite3_prepare_v2(s->db, "SELECT data FROM objects WHERE hash = ?1", -1, &st, NULL)) {
		store_db_error(s, err, "reading an object");
		return NULL;
	}
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const void *d = sqlite3_column_blob(st, 0);
		size_t n = (size_t)sqlite3_column_bytes(st, 0);

		store_sha256_hex(d ? d : "", n, check);
		if (strcmp(check, hash) == 0)
			v = json_loadb(d ? d : "", n, JSON_ALLOW_NUL | JSON_DECODE_ANY, NULL);
		if (!v)
			err_set(err, CG_ESTATE, "records: object %.16s is corrupt", hash);
	} else {
		err_set(err, CG_ESTATE, "records: object %.16s is missing", hash);
	}
	sqlite3_finalize(st);
	return v;
}

/* --- writing records ------------------------------------------------------- */

static const char *str_or(const json_t *o, const char *key, const char *dflt)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : dflt;
}

static int write_session(store_t *s, const json_t *session, err_t *err)
{
	sqlite3_stmt *st = NULL;
	char env_hash[STORE_HASH_LEN];
	json_t *info = json_deep_copy(session), *env = json_object_get(session, "environment");
	char *text = NULL;
	int rc;

	if (!info)
		return err_set(err, CG_ESYS, "out of memory");
	if ((rc = put_object(s, "blob", env ? env : json_object(), env_hash, err)))
		goto out;
	json_object_set_new(info, "environment", json_string(env_hash));
	text = json_dumps(info, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text || sqlite3_prepare_v2(s->db,
			"INSERT OR IGNORE INTO kernel_sessions (id, kernel_id, kernelspec, environment, info, started) "
			"VALUES (?1, ?2, ?3, ?4, ?5, ?6)", -1, &st, NULL)) {
		rc = store_db_error(s, err, "preparing a kernel session");
		goto out;
	}
	sqlite3_bind_text(st, 1, str_or(session, "id", ""), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, str_or(session, "kernel_id", ""), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, str_or(session, "kernelspec", ""), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, env_hash, -1, SQLITE_STATIC);
	sqlite3_bind_blob64(st, 5, text, strlen(text), SQLITE_STATIC);
	sqlite3_bind_text(st, 6, str_or(session, "started", ""), -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = store_db_error(s, err, "writing a kernel session");
out:
	sqlite3_finalize(st);
	free(text);
	json_decref(info);
	return rc;
}

/* The version the notebook's working copy shows now, or NULL. */
static json_t *checked_out_version(store_t *s, const char *path)
{
	json_t *co = NULL, *v = NULL;

	if (path && *path && store_checkout_get(s, path, &co, NULL) == 0)
		v = json_incref(json_object_get(co, "version"));
	json_decref(co);
	return v ? v : json_null();
}

static int write_one(store_t *s, const json_t *rec, err_t *err)
{
	static const char *const fields[] = {
		"id", "kernel_session", "path", "cell_id", "principal", "status", "started", "ended",
	};
	const json_t *outputs = json_object_get(rec, "outputs");
	char code_hash[STORE_HASH_LEN], oh[STORE_HASH_LEN], *outs_text = NULL, *text = NULL;
	json_t *record = json_deep_copy(rec), *hashes = json_array(), *o, *ec;
	sqlite3_stmt *st = NULL;
	size_t i;
	int rc;

	if (!record || !hashes || !json_is_array(outputs) || !json_is_string(json_object_get(rec, "id"))) {
		rc = err_set(err, CG_EINVAL, "records: a record needs an id and a list of outputs");
		goto out;
	}
	if ((rc = write_session(s, json_object_get(rec, "session"), err)))
		goto out;
	if ((rc = put_object(s, "blob", json_object_get(rec, "code") ? json_object_get(rec, "code")
				      : json_string(""), code_hash, err)))
		goto out;
	json_array_foreach(outputs, i, o) {
		if ((rc = put_object(s, "output", o, oh, err)))
			goto out;
		json_array_append_new(hashes, json_string(oh));
	}
	outs_text = json_dumps(hashes, JSON_COMPACT);
	json_object_del(record, "session");
	json_object_set_new(record, "kernel_session", json_string(str_or(rec, "kernel_session", "")));
	json_object_set_new(record, "code", json_string(code_hash));
	json_object_set(record, "outputs", hashes);
	json_object_set_new(record, "version", checked_out_version(s, str_or(rec, "path", "")));
	text = json_dumps(record, JSON_COMPACT | JSON_SORT_KEYS);
	if (!outs_text || !text) {
		rc = err_set(err, CG_ESYS, "out of memory");
		goto out;
	}
	if (sqlite3_prepare_v2(s->db,
			"INSERT OR IGNORE INTO executions (id, kernel_session, path, cell_id, principal, status, "
			"started, ended, previous, code, outputs, execution_count, record) "
			"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)", -1, &st, NULL)) {
		rc = store_db_error(s, err, "preparing a record");
		goto out;
	}
	for (i = 0; i < sizeof fields / sizeof *fields; i++)
		sqlite3_bind_text(st, (int)i + 1, str_or(rec, fields[i], ""), -1, SQLITE_STATIC);
	if (json_is_string(json_object_get(rec, "previous")))
		sqlite3_bind_text(st, 9, str_or(rec, "previous", ""), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 10, code_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 11, outs_text, -1, SQLITE_STATIC);
	ec = json_object_get(rec, "execution_count");
	if (json_is_integer(ec))
		sqlite3_bind_int64(st, 12, json_integer_value(ec));
	sqlite3_bind_blob64(st, 13, text, strlen(text), SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = store_db_error(s, err, "writing a record");
out:
	sqlite3_finalize(st);
	free(outs_text);
	free(text);
	json_decref(hashes);
	json_decref(record);
	return rc;
}

int records_write(store_t *s, const json_t *batch, err_t *err)
{
	const json_t *rec;
	size_t i;
	int rc;

	if (!json_is_array(batch))
		return err_set(err, CG_EINVAL, "records: a batch is a list");
	if (json_array_size(batch) == 0)
		return 0;
	if ((rc = store_exec(s, "BEGIN IMMEDIATE", err)))
		return rc;
	json_array_foreach(batch, i, rec)
		if ((rc = write_one(s, rec, err)))
			break;
	if (rc || (rc = store_exec(s, "COMMIT", err)))
		store_exec(s, "ROLLBACK", NULL);
	return rc;
}

/* --- reading records -------------------------------------------------------- */

/* The record row as JSON (its stored form) or NULL; CG_ENOTFOUND when absent. */
static json_t *record_row(store_t *s, const char *id, err_t *err)
{
	sqlite3_stmt *st = NULL;
	json_t *r = NULL;

	if (sqlite3_prepare_v2(s->db, "SELECT record FROM executions WHERE id = ?1", -1, &st, NULL)) {
		store_db_error(s, err, "reading a record");
		return NULL;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		r = json_loadb(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), 0, NULL);
	else
		err_set(err, CG_ENOTFOUND, "no execution %s", id);
	sqlite3_finalize(st);
	return r;
}

static json_t *session_json(store_t *s, const char *sid, err_t *err)
{
	sqlite3_stmt *st = NULL;
	json_t *info = NULL, *env;

	if (sqlite3_prepare_v2(s->db, "SELECT info FROM kernel_sessions WHERE id = ?1", -1, &st, NULL)) {
		store_db_error(s, err, "reading a kernel session");
		return NULL;
	}
	sqlite3_bind_text(st, 1, sid, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		info = json_loadb(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), 0, NULL);
	sqlite3_finalize(st);
	if (!info) {
		err_set(err, CG_ESTATE, "records: kernel session %.16s is missing", sid);
		return NULL;
	}
	env = get_object(s, json_string_value(json_object_get(info, "environment")), err);
	json_object_set_new(info, "environment", env ? env : json_null());
	return info;
}

int records_execution(store_t *s, const char *id, json_t **out, err_t *err)
{
	json_t *r, *code, *outs, *h, *o;
	size_t i;

	*out = NULL;
	if (!(r = record_row(s, id, err)))
		return err->code ? err->code : CG_ESYS;
	code = get_object(s, json_string_value(json_object_get(r, "code")), err);
	json_object_set_new(r, "code_hash", json_incref(json_object_get(r, "code")));
	json_object_set_new(r, "code", code ? code : json_null());
	outs = json_array();
	json_array_foreach(json_object_get(r, "outputs"), i, h) {
		o = get_object(s, json_string_value(h), err);
		json_array_append_new(outs, o ? o : json_null());
	}
	json_object_set_new(r, "output_hashes", json_incref(json_object_get(r, "outputs")));
	json_object_set_new(r, "outputs", outs);
	json_object_set_new(r, "session", session_json(s, str_or(r, "kernel_session", ""), err));
	*out = r;
	return 0;
}

/* --- links ------------------------------------------------------------------- */

static int count_links(store_t *s, const char *version, int *n, err_t *err)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM output_links WHERE version = ?1", -1, &st, NULL))
		return store_db_error(s, err, "reading links");
	sqlite3_bind_text(st, 1, version, -1, SQLITE_STATIC);
	*n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return 0;
}

static bool is_code_cell(const json_t *cell)
{
	return strcmp(str_or(cell, "cell_type", ""), "code") == 0;
}

/* The newest execution of the cell whose outputs are outs_text (and whose
 * count is the cell's, when it has one), ended by `before`; "" if none. */
static int find_producer(sqlite3_stmt *st, const json_t *cell, const char *outs_text,
			 const char *before, const char *path, char out[64])
{
	json_t *ec = json_object_get(cell, "execution_count");

	out[0] = '\0';
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	sqlite3_bind_text(st, 1, str_or(cell, "id", ""), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, outs_text, -1, SQLITE_STATIC);
	if (json_is_integer(ec))
		sqlite3_bind_int64(st, 3, json_integer_value(ec));
	sqlite3_bind_text(st, 4, before, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, path, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(out, 64, "%s", (const char *)sqlite3_column_text(st, 0));
	return 0;
}

/* A version's tree with its cell objects in place: outputs stay hashes,
 * which is what linking compares; far cheaper than store_load. */
static json_t *shallow_notebook(store_t *s, const char *tree, err_t *err)
{
	json_t *nb = get_object(s, tree, err), *cells, *h;
	size_t i;

	if (!nb)
		return NULL;
	cells = json_object_get(nb, "cells");
	json_array_foreach(cells, i, h) {
		json_t *cell = get_object(s, json_string_value(h), err);

		if (!cell) {
			json_decref(nb);
			return NULL;
		}
		json_array_set_new(cells, i, cell);
	}
	return nb;
}

static bool has_records(sqlite3_stmt *any, const json_t *cell)
{
	bool yes;

	sqlite3_reset(any);
	sqlite3_bind_text(any, 1, str_or(cell, "id", ""), -1, SQLITE_TRANSIENT);
	yes = sqlite3_step(any) == SQLITE_ROW;
	sqlite3_reset(any);
	return yes;
}

int records_link_version(store_t *s, const char *version, err_t *err)
{
	sqlite3_stmt *find = NULL, *ins = NULL, *any = NULL;
	json_t *info = NULL, *nb = NULL, *cell, *map = NULL;
	char map_hash[STORE_HASH_LEN];
	const char *path, *created;
	size_t i;
	int n = 0, rc;

	if ((rc = count_links(s, version, &n, err)) || n > 0)
		return rc;
	if ((rc = store_version_info(s, version, &info, err)) ||
	    !(nb = shallow_notebook(s, json_string_value(json_object_get(info, "tree")), err))) {
		rc = rc ? rc : (err && err->code ? err->code : CG_ESYS);
		goto out;
	}
	path = str_or(info, "path", "");
	created = str_or(info, "created", "");
	if ((rc = store_exec(s, "BEGIN IMMEDIATE", err)))
		goto out;
	/* another connection may have linked it meanwhile */
	if ((rc = count_links(s, version, &n, err)) || n > 0)
		goto commit;
	if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM executions WHERE cell_id = ?1 LIMIT 1", -1, &any, NULL) ||
	    sqlite3_prepare_v2(s->db,
			"SELECT id FROM executions WHERE cell_id = ?1 AND outputs = ?2 "
			"AND (?3 IS NULL OR execution_count = ?3) AND ended <= ?4 "
			"ORDER BY (path = ?5) DESC, seq DESC LIMIT 1", -1, &find, NULL) ||
	    sqlite3_prepare_v2(s->db, "INSERT INTO output_links (version, links) VALUES (?1, ?2)",
			       -1, &ins, NULL) || !(map = json_object())) {
		rc = store_db_error(s, err, "preparing links");
		goto rollback;
	}
	json_array_foreach(json_object_get(nb, "cells"), i, cell) {
		char producer[64] = "", *outs_text;

		if (!is_code_cell(cell))
			continue;
		/* the cell object lists its outputs' hashes, as records do */
		if (has_records(any, cell)) {
			outs_text = json_dumps(json_object_get(cell, "outputs"), JSON_COMPACT);
			if (!outs_text) {
				rc = err_set(err, CG_ESYS, "out of memory");
				goto rollback;
			}
			find_producer(find, cell, outs_text, created, path, producer);
			free(outs_text);
		}
		if (producer[0]) {
			char key[24];

			snprintf(key, sizeof key, "%zu", i);
			json_object_set_new(map, key, json_string(producer));
		}
	}
	/* one row per version; the map is an object, so versions whose links
	 * are the same (an unchanged save) share it */
	if (json_object_size(map) && (rc = put_object(s, "blob", map, map_hash, err)))
		goto rollback;
	sqlite3_bind_text(ins, 1, version, -1, SQLITE_STATIC);
	if (json_object_size(map))
		sqlite3_bind_text(ins, 2, map_hash, -1, SQLITE_STATIC);
	if (sqlite3_step(ins) != SQLITE_DONE) {
		rc = store_db_error(s, err, "writing links");
		goto rollback;
	}
commit:
	if ((rc = store_exec(s, "COMMIT", err)) == 0)
		goto out;
rollback:
	store_exec(s, "ROLLBACK", NULL);
out:
	sqlite3_finalize(any);
	sqlite3_finalize(find);
	sqlite3_finalize(ins);
	json_decref(map);
	json_decref(info);
	json_decref(nb);
	return rc;
}

/* cell index -> execution id (absent when unrecorded), as a JSON object keyed by index. */
static json_t *read_links(store_t *s, const char *version, err_t *err)
{
	sqlite3_stmt *st = NULL;
	json_t *links = NULL;

	if (sqlite3_prepare_v2(s->db, "SELECT links FROM output_links WHERE version = ?1", -1, &st, NULL)) {
		store_db_error(s, err, "reading links");
		return NULL;
	}
	sqlite3_bind_text(st, 1, version, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		links = get_object(s, (const char *)sqlite3_column_text(st, 0), err);
	else
		links = json_object();  /* nothing recorded, or not linked */
	sqlite3_finalize(st);
	return links;
}

/* --- chains and staleness --------------------------------------------------- */

/* The executions before id in its kernel session, newest first:
 * [{"id", "cell_id", "path", "execution_count", "status", "started", "code"}]. */
static json_t *chain_before(store_t *s, const char *id, bool *complete, err_t *err)
{
	sqlite3_stmt *st = NULL;
	json_t *chain = json_array();
	char cur[64];
	size_t n = 0;

	*complete = true;
	if (sqlite3_prepare_v2(s->db, "SELECT previous FROM executions WHERE id = ?1", -1, &st, NULL)) {
		store_db_error(s, err, "reading a chain");
		json_decref(chain);
		return NULL;
	}
	snprintf(cur, sizeof cur, "%s", id);
	for (;;) {
		const unsigned char *prev;
		json_t *r;

		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, cur, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) != SQLITE_ROW)
			break;
		prev = sqlite3_column_text(st, 0);
		if (!prev)
			break;
		snprintf(cur, sizeof cur, "%s", (const char *)prev);
		if (++n > RECORDS_MAX_CHAIN) {
			*complete = false;
			break;
		}
		r = record_row(s, cur, NULL);
		if (!r) {
			/* the record before was not kept: the chain is cut here */
			*complete = false;
			break;
		}
		json_array_append_new(chain, json_pack("{s:s, s:O, s:O, s:O, s:O, s:O, s:O}",
			"id", cur, "cell_id", json_object_get(r, "cell_id"),
			"path", json_object_get(r, "path"),
			"execution_count", json_object_get(r, "execution_count"),
			"status", json_object_get(r, "status"), "started", json_object_get(r, "started"),
			"code", json_object_get(r, "code")));
		json_decref(r);
	}
	sqlite3_finalize(st);
	return chain;
}

static const json_t *cell_by_id(const json_t *nb, const char *cell_id)
{
	const json_t *cell;
	size_t i;

	json_array_foreach(json_object_get(nb, "cells"), i, cell)
		if (strcmp(str_or(cell, "id", ""), cell_id) == 0)
			return cell;
	return NULL;
}

/* Why an execution's code no longer is its cell's source, or NULL. */
static const char *stale_reason(const json_t *nb, const char *path, const json_t *e)
{
	const char *cid = str_or(e, "cell_id", ""), *code = str_or(e, "code", "");
	const json_t *cell;
	char h[STORE_HASH_LEN];

	if (!*cid || strcmp(str_or(e, "path", ""), path) != 0)
		return NULL;  /* another notebook's, or a cell we cannot name */
	cell = cell_by_id(nb, cid);
	if (!cell)
		return "the cell was deleted";
	if (records_code_hash(str_or(cell, "source", ""), h) || strcmp(h, code) != 0)
		return "the cell's source changed";
	return NULL;
}

static json_t *cell_provenance(store_t *s, const json_t *nb, const char *path, size_t index,
			       const json_t *cell, const char *exec_id, err_t *err)
{
	json_t *c = json_pack("{s:I, s:s}", "index", (json_int_t)index, "cell_id", str_or(cell, "id", ""));
	json_t *exec = NULL, *chain, *because, *e;
	bool complete = true;
	const char *why;
	size_t i;

	if (!exec_id || !*exec_id) {
		bool ran = json_array_size(json_object_get(cell, "outputs")) > 0 ||
			   json_is_integer(json_object_get(cell, "execution_count"));

		json_object_set_new(c, "state", json_string(ran ? "unrecorded" : "unexecuted"));
		json_object_set_new(c, "stale", json_false());
		return c;
	}
	if (records_execution(s, exec_id, &exec, err)) {
		json_decref(c);
		return NULL;
	}
	json_object_del(exec, "outputs");  /* they are the cell's own */
	chain = chain_before(s, exec_id, &complete, err);
	because = json_array();
	/* the execution itself, then everything before it in its kernel */
	{
		json_t *self = json_pack("{s:s, s:O, s:O, s:O}", "id", exec_id, "cell_id",
					 json_object_get(exec, "cell_id"), "path", json_object_get(exec, "path"),
					 "code", json_object_get(exec, "code_hash"));

		if ((why = stale_reason(nb, path, self)))
			json_array_append_new(because, json_pack("{s:s, s:O, s:s}", "execution", exec_id,
				"cell_id", json_object_get(self, "cell_id"), "why", why));
		json_decref(self);
	}
	json_array_foreach(chain, i, e) {
		if ((why = stale_reason(nb, path, e)))
			json_array_append_new(because, json_pack("{s:O, s:O, s:s}", "execution",
				json_object_get(e, "id"), "cell_id", json_object_get(e, "cell_id"), "why", why));
		json_object_del(e, "code");
	}
	json_object_set_new(c, "state", json_string("recorded"));
	json_object_set_new(c, "stale", json_boolean(json_array_size(because) > 0));
	json_object_set_new(c, "stale_because", because);
	json_object_set_new(c, "execution", exec);
	json_object_set_new(c, "after", chain ? chain : json_array());
	json_object_set_new(c, "chain_complete", json_boolean(complete));
	return c;
}

int records_provenance(store_t *s, const char *version, json_t **out, err_t *err)
{
	json_t *info = NULL, *nb = NULL, *links = NULL, *cells, *cell, *res = NULL;
	const char *path;
	size_t i;
	int rc;

	*out = NULL;
	if ((rc = store_check_version_id(version, err)) || (rc = records_link_version(s, version, err)) ||
	    (rc = store_version_info(s, version, &info, err)) || (rc = store_load(s, version, &nb, err)))
		goto out;
	if (!(links = read_links(s, version, err))) {
		rc = err->code;
		goto out;
	}
	path = str_or(info, "path", "");
	cells = json_array();
	res = json_pack("{s:s, s:s, s:O, s:O, s:o}", "version", version, "path", path,
			"principal", json_object_get(info, "principal"), "created",
			json_object_get(info, "created"), "cells", cells);
	json_array_foreach(json_object_get(nb, "cells"), i, cell) {
		char key[24];
		json_t *c;

		if (!is_code_cell(cell))
			continue;
		snprintf(key, sizeof key, "%zu", i);
		c = cell_provenance(s, nb, path, i, cell, str_or(links, key, ""), err);
		if (!c) {
			rc = err->code ? err->code : CG_ESYS;
			goto out;
		}
		json_array_append_new(cells, c);
	}
	*out = res;
	res = NULL;
out:
	json_decref(res);
	json_decref(links);
	json_decref(info);
	json_decref(nb);
	return rc;
}

/* --- replay plans ------------------------------------------------------------ */

static int exec_seq(store_t *s, const char *id, sqlite3_int64 *seq)
{
	sqlite3_stmt *st = NULL;
	int rc = CG_ENOTFOUND;

	if (sqlite3_prepare_v2(s->db, "SELECT seq FROM executions WHERE id = ?1", -1, &st, NULL))
		return CG_ESYS;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*seq = sqlite3_column_int64(st, 0);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

/* The session's chain ending at last, oldest first, each with its code. */
static json_t *session_steps(store_t *s, const char *last, const json_t *compare, err_t *err)
{
	bool complete;
	json_t *before = chain_before(s, last, &complete, err), *steps = json_array(), *e;
	json_t *ids = json_array();
	size_t i;

	if (!before) {
		json_decref(steps);
		json_decref(ids);
		return NULL;
	}
	for (i = json_array_size(before); i > 0; i--)
		json_array_append_new(ids, json_incref(json_object_get(json_array_get(before, i - 1), "id")));
	json_array_append_new(ids, json_string(last));
	json_array_foreach(ids, i, e) {
		json_t *x = NULL;
		const char *id = json_string_value(e);
		json_t *cmp = json_object_get(compare, id);

		if (records_execution(s, id, &x, err))
			break;
		json_object_del(x, "session");
		json_object_set_new(x, "compare", cmp ? json_incref(cmp) : json_array());
		json_array_append_new(steps, x);
	}
	json_decref(before);
	json_decref(ids);
	if (i < json_array_size(ids)) {
		json_decref(steps);
		return NULL;
	}
	return steps;
}

static bool ran_cell(const json_t *cell)
{
	return json_array_size(json_object_get(cell, "outputs")) > 0 ||
	       json_is_integer(json_object_get(cell, "execution_count"));
}

/* The newest execution of the cell (with its count, when it has one) by `before`. */
static void find_candidate(store_t *s, const json_t *cell, const char *before, const char *path, char out[64])
{
	sqlite3_stmt *st = NULL;
	json_t *ec = json_object_get(cell, "execution_count");

	out[0] = '\0';
	if (sqlite3_prepare_v2(s->db, "SELECT id FROM executions WHERE cell_id = ?1 "
			       "AND (?2 IS NULL OR execution_count = ?2) AND ended <= ?3 "
			       "ORDER BY (path = ?4) DESC, seq DESC LIMIT 1", -1, &st, NULL))
		return;
	sqlite3_bind_text(st, 1, str_or(cell, "id", ""), -1, SQLITE_STATIC);
	if (json_is_integer(ec))
		sqlite3_bind_int64(st, 2, json_integer_value(ec));
	sqlite3_bind_text(st, 3, before, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, path, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(out, 64, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

int records_replay_plan(store_t *s, const char *version, json_t **out, err_t *err)
{
	json_t *info = NULL, *nb = NULL, *links = NULL, *cells = json_array(), *cell;
	json_t *compare = json_object();      /* execution id -> [cell indices] */
	json_t *last = json_object();         /* kernel session -> newest needed execution */
	json_t *sessions = json_array(), *plan = NULL;
	const char *key;
	json_t *val;
	size_t i;
	int rc;

	*out = NULL;
	if ((rc = store_check_version_id(version, err)) || (rc = records_link_version(s, version, err)) ||
	    (rc = store_version_info(s, version, &info, err)) || (rc = store_load(s, version, &nb, err)))
		goto out;
	if (!(links = read_links(s, version, err))) {
		rc = err->code;
		goto out;
	}
	json_array_foreach(json_object_get(nb, "cells"), i, cell) {
		char k[24], cand[64] = "";
		const char *eid;
		json_t *c;

		if (!is_code_cell(cell))
			continue;
		snprintf(k, sizeof k, "%zu", i);
		eid = str_or(links, k, "");
		c = json_pack("{s:I, s:s, s:O, s:O}", "index", (json_int_t)i, "cell_id", str_or(cell, "id", ""),
			      "outputs", json_object_get(cell, "outputs"), "source", json_object_get(cell, "source"));
		if (!*eid && ran_cell(cell)) {
			/* outputs no execution produced (edited, imported): the last
			 * execution of the cell is still what a replay can check them against */
			find_candidate(s, cell, str_or(info, "created", ""), str_or(info, "path", ""), cand);
			if (*cand) {
				eid = cand;
				json_object_set_new(c, "outputs_edited", json_true());
			}
		}
		if (*eid) {
			json_t *r = record_row(s, eid, NULL), *cur, *lst;
			const char *sid = str_or(r, "kernel_session", "");
			sqlite3_int64 a = 0, b = 0;

			json_object_set_new(c, "execution", json_string(eid));
			if (!(lst = json_object_get(compare, eid)))
				json_object_set_new(compare, eid, lst = json_array());
			json_array_append_new(lst, json_integer((json_int_t)i));
			cur = json_object_get(last, sid);
			if (!cur || (exec_seq(s, eid, &a) == 0 && exec_seq(s, json_string_value(cur), &b) == 0 && a > b))
				json_object_set_new(last, sid, json_string(eid));
			json_decref(r);
		} else {
			json_object_set_new(c, "execution", json_null());
			json_object_set_new(c, "state", json_string(ran_cell(cell) ? "unrecorded" : "unexecuted"));
		}
		json_array_append_new(cells, c);
	}
	json_object_foreach(last, key, val) {
		json_t *steps = session_steps(s, json_string_value(val), compare, err), *sess;
		sqlite3_int64 first = 0;

		if (!steps) {
			rc = err->code ? err->code : CG_ESYS;
			goto out;
		}
		sess = session_json(s, key, err);
		exec_seq(s, str_or(json_array_get(steps, 0), "id", ""), &first);
		json_array_append_new(sessions, json_pack("{s:s, s:O, s:o, s:o, s:I}", "kernel_session", key,
			"kernelspec", json_object_get(sess, "kernelspec"), "session", sess ? sess : json_null(),
			"executions", steps, "first_seq", (json_int_t)first));
	}
	/* the order the sessions ran in */
	for (size_t a = 1; a < json_array_size(sessions); a++)
		for (size_t b = a; b > 0; b--) {
			json_t *x = json_array_get(sessions, b - 1), *y = json_array_get(sessions, b);

			if (json_integer_value(json_object_get(x, "first_seq")) <=
			    json_integer_value(json_object_get(y, "first_seq")))
				break;
			json_incref(x);
			json_array_set(sessions, b - 1, y);
			json_array_set_new(sessions, b, x);
		}
	plan = json_pack("{s:s, s:O, s:O, s:O}", "version", version, "path", json_object_get(info, "path"),
			 "sessions", sessions, "cells", cells);
	*out = plan;
out:
	json_decref(sessions);
	json_decref(cells);
	json_decref(compare);
	json_decref(last);
	json_decref(links);
	json_decref(info);
	json_decref(nb);
	return rc;
}

/* --- replay reports ------------------------------------------------------------ */

int records_replay_save(store_t *s, const char *id, const char *version, const json_t *report,
			const char *verdict, err_t *err)
{
	sqlite3_stmt *st = NULL;
	char hash[STORE_HASH_LEN], now[ISO_TIME_LEN];
	int rc;

	if ((rc = store_exec(s, "BEGIN IMMEDIATE", err)))
		return rc;
	if ((rc = put_object(s, "blob", report, hash, err)))
		goto rollback;
	if (sqlite3_prepare_v2(s->db, "INSERT INTO replays (id, version, report, verdict, created) "
			       "VALUES (?1, ?2, ?3, ?4, ?5)", -1, &st, NULL)) {
		rc = store_db_error(s, err, "preparing a replay report");
		goto rollback;
	}
	util_iso_time_now(now);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, version, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, verdict, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, now, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = store_db_error(s, err, "writing a replay report");
		goto rollback;
	}
	sqlite3_finalize(st);
	return store_exec(s, "COMMIT", err);
rollback:
	sqlite3_finalize(st);
	store_exec(s, "ROLLBACK", NULL);
	return rc;
}

int records_replay_get(store_t *s, const char *id, json_t **out, err_t *err)
{
	sqlite3_stmt *st = NULL;
	json_t *report;
	int rc = 0;

	*out = NULL;
	if (sqlite3_prepare_v2(s->db, "SELECT id, version, report, verdict, created FROM replays WHERE id = ?1",
			       -1, &st, NULL))
		return store_db_error(s, err, "reading a replay");
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		rc = err_set(err, CG_ENOTFOUND, "no replay %s", id);
		goto out;
	}
	report = get_object(s, (const char *)sqlite3_column_text(st, 2), err);
	if (!report) {
		rc = err->code ? err->code : CG_ESTATE;
		goto out;
	}
	*out = json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", sqlite3_column_text(st, 0),
			 "version", sqlite3_column_text(st, 1), "verdict", sqlite3_column_text(st, 3),
			 "created", sqlite3_column_text(st, 4), "report", report);
out:
	sqlite3_finalize(st);
	return rc;
}

int records_replay_list(store_t *s, const char *version, json_t **out, err_t *err)
{
	sqlite3_stmt *st = NULL;
	json_t *list;
	int rc;

	*out = NULL;
	if ((rc = store_check_version_id(version, err)))
		return rc;
	if (sqlite3_prepare_v2(s->db, "SELECT id, verdict, created FROM replays WHERE version = ?1 ORDER BY seq",
			       -1, &st, NULL))
		return store_db_error(s, err, "reading replays");
	sqlite3_bind_text(st, 1, version, -1, SQLITE_STATIC);
	list = json_array();
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "id", sqlite3_column_text(st, 0),
						      "verdict", sqlite3_column_text(st, 1), "created",
						      sqlite3_column_text(st, 2)));
	sqlite3_finalize(st);
	*out = list;
	return 0;
}
