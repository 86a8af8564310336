/*
 * Unit tests for notebook-store/store*.c and workfile.c against real sqlite
 * files in temporary directories: round trips, what a save adds to the
 * store, compare-and-swap conflicts, branches, immutability, the schema,
 * and the atomic working-copy write. The crash test is test_store_crash.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../notebook-store/nbformat.h"
#include "../../notebook-store/publications.h"
#include "../../notebook-store/store.h"

#define NB "work/analysis.ipynb"

typedef struct fixture {
	char dir[64];
	char db[128];
	store_t *s;
} fixture_t;

static int setup(void **state)
{
	fixture_t *f = calloc(1, sizeof *f);
	err_t err = { 0 };

	snprintf(f->dir, sizeof f->dir, "/tmp/cg-store-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->db, sizeof f->db, "%s/store.sqlite", f->dir);
	f->s = store_open(f->db, &err);
	if (!f->s) {
		fprintf(stderr, "store_open: %s\n", err.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *f = *state;
	char cmd[128];

	store_close(&f->s);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* A notebook of n code cells, each with a ~600-byte source and two outputs of ~1 KB. */
static json_t *make_notebook(int n)
{
	json_t *cells = json_array(), *nb;
	char src[700], text[1200];
	err_t err = { 0 };

	for (int i = 0; i < n; i++) {
		int len = snprintf(src, sizeof src, "# cell %d\n", i);

		while (len < 600)
			len += snprintf(src + len, sizeof src - (size_t)len, "x_%d = %d * %d  # some code\n", i, i, len);
		len = snprintf(text, sizeof text, "output of cell %d\n", i);
		while (len < 1000)
			len += snprintf(text + len, sizeof text - (size_t)len, "line %d of cell %d \u00e9\n", len, i);
		json_array_append_new(cells, json_pack(
			"{s:s, s:{}, s:s, s:i, s:[{s:s, s:s, s:s}, {s:s, s:i, s:{s:s, s:s}, s:{}}]}",
			"cell_type", "code", "metadata", "source", src, "execution_count", i + 1, "outputs",
			"output_type", "stream", "name", "stdout", "text", text,
			"output_type", "execute_result", "execution_count", i + 1, "data",
			"text/plain", text, "text/html", "<pre>same</pre>", "metadata"));
	}
	nb = json_pack("{s:i, s:i, s:{s:{s:s, s:s}}, s:o}", "nbformat", 4, "nbformat_minor", 4,
		       "metadata", "kernelspec", "name", "python3", "display_name", "Python 3", "cells", cells);
	assert_int_equal(nbformat_normalize(nb, &err), 0);
	return nb;
}

static void set_source(json_t *nb, size_t i, const char *src)
{
	json_object_set_new(json_array_get(json_object_get(nb, "cells"), i), "source", json_string(src));
}

/* count, total bytes and versions, read through a second, plain connection */
typedef struct sizes {
	long long objects, bytes, versions, file_bytes;
} sizes_t;

static sizes_t measure(const char *db)
{
	sizes_t z = { 0 };
	sqlite3 *c;
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_open(db, &c), SQLITE_OK);
	assert_int_equal(sqlite3_exec(c, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(c, "SELECT (SELECT count(*) FROM objects),"
			 " (SELECT coalesce(sum(size), 0) FROM objects), (SELECT count(*) FROM versions),"
			 " (SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size())",
			 -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	z.objects = sqlite3_column_int64(st, 0);
	z.bytes = sqlite3_column_int64(st, 1);
	z.versions = sqlite3_column_int64(st, 2);
	z.file_bytes = sqlite3_column_int64(st, 3);
	sqlite3_finalize(st);
	sqlite3_close(c);
	return z;
}

static void assert_loads_as(store_t *s, const char *id, const json_t *want)
{
	json_t *got = NULL;
	err_t err = { 0 };
	buf_t a, b;

	assert_int_equal(store_load(s, id, &got, &err), 0);
	assert_true(json_equal(got, want));
	buf_init(&a, 0);
	buf_init(&b, 0);
	assert_int_equal(nbformat_write(got, &a), 0);
	assert_int_equal(nbformat_write(want, &b), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	buf_free(&a);
	buf_free(&b);
	json_decref(got);
}

static void test_roundtrip(void **state)
{
	fixture_t *f = *state;
	const char *src = "{\"cells\":[{\"cell_type\":\"markdown\",\"id\":\"m1\",\"metadata\":{\"tags\":[\"t\"]},"
			  "\"source\":\"# h\\u00e9 \\ud83d\\ude00\",\"attachments\":{\"a.png\":{\"image/png\":\"AAAA\"}}},"
			  "{\"cell_type\":\"code\",\"id\":\"c1\",\"metadata\":{},\"source\":\"\",\"execution_count\":null,"
			  "\"outputs\":[]},{\"cell_type\":\"raw\",\"id\":\"r1\",\"metadata\":{},\"source\":\"x\\u0000y\"}],"
			  "\"metadata\":{\"custom\":{\"f\":0.1,\"n\":null}},\"nbformat\":4,\"nbformat_minor\":5}";
	char id[STORE_ID_LEN], head[STORE_ID_LEN];
	err_t err = { 0 };
	json_t *nb = nbformat_read(src, strlen(src), &err), *big = make_notebook(20), *log = NULL;

	assert_non_null(nb);
	assert_int_equal(store_save(f->s, NB, "main", NULL, nb, "alice", "first", id, &err), 0);
	assert_int_equal(strlen(id), 32);
	assert_loads_as(f->s, id, nb);
	assert_int_equal(store_branch_head(f->s, NB, "main", head, &err), 0);
	assert_string_equal(head, id);
	assert_int_equal(store_save(f->s, NB, "main", id, big, "bob", "second", id, &err), 0);
	assert_loads_as(f->s, id, big);
	assert_int_equal(store_log(f->s, NB, "main", 0, &log, &err), 0);
	assert_int_equal(json_array_size(log), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(log, 0), "id")), id);
	assert_string_equal(json_string_value(json_object_get(json_array_get(log, 0), "principal")), "bob");
	assert_string_equal(json_string_value(json_object_get(json_array_get(log, 1), "message")), "first");
	assert_string_equal(json_string_value(json_array_get(json_object_get(json_array_get(log, 0), "parents"), 0)),
			    head);
	assert_int_equal(json_array_size(json_object_get(json_array_get(log, 1), "parents")), 0);
	json_decref(log);
	/* Reopened, everything is still there. */
	store_close(&f->s);
	f->s = store_open(f->db, &err);
	assert_non_null(f->s);
	assert_loads_as(f->s, head, nb);
	assert_loads_as(f->s, id, big);
	assert_int_equal(store_load(f->s, "0123456789abcdef0123456789abcdef", &log, &err), CG_ENOTFOUND);
	assert_int_equal(store_load(f->s, "../etc", &log, &err), CG_EINVAL);
	json_decref(nb);
	json_decref(big);
}

static void test_growth(void **state)
{
	fixture_t *f = *state;
	json_t *nb = make_notebook(200);
	char id[STORE_ID_LEN];
	err_t err = { 0 };
	sizes_t z0, z1, z2, z3, z4;
	buf_t file;
	long long cell_bytes, tree_bytes;

	buf_init(&file, 0);
	assert_int_equal(nbformat_write(nb, &file), 0);
	z0 = measure(f->db);
	assert_int_equal(store_save(f->s, NB, "main", NULL, nb, "alice", "v1", id, &err), 0);
	z1 = measure(f->db);
	/* 200 cells, 400 outputs (the text/html part repeats, but each output differs), one tree. */
	assert_int_equal(z1.objects - z0.objects, 200 + 400 + 1);

	/* One cell's source edited: one new cell object and one new tree, nothing else. */
	set_source(nb, 117, "print('edited')\n");
	assert_int_equal(store_save(f->s, NB, "main", id, nb, "alice", "v2", id, &err), 0);
	z2 = measure(f->db);
	assert_int_equal(z2.objects - z1.objects, 2);
	assert_int_equal(z2.versions - z1.versions, 1);
	tree_bytes = 200 * 67 + 200;  /* a hash is 64 hex digits, quoted, comma; plus metadata */
	cell_bytes = 16 + 2 * 67 + 200; /* new source, two output hashes, fields */
	assert_true(z2.bytes - z1.bytes <= tree_bytes + cell_bytes);
	assert_true(z2.bytes - z1.bytes >= 200 * 67);
	/* and that is small next to the notebook itself. */
	assert_true((size_t)(z2.bytes - z1.bytes) * 20 < file.len);

	/* One cell's outputs changed too: that cell, its two outputs, the tree. */
	json_t *outs = json_object_get(json_array_get(json_object_get(nb, "cells"), 5), "outputs");

	json_object_set_new(json_array_get(outs, 0), "text", json_string("new stdout\n"));
	json_object_set_new(json_object_get(json_array_get(outs, 1), "data"), "text/plain", json_string("42"));
	assert_int_equal(store_save(f->s, NB, "main", id, nb, "alice", "v3", id, &err), 0);
	z3 = measure(f->db);
	assert_int_equal(z3.objects - z2.objects, 4);

	/* Unchanged: a version row and nothing else. */
	assert_int_equal(store_save(f->s, NB, "main", id, nb, "alice", "v4", id, &err), 0);
	z4 = measure(f->db);
	assert_int_equal(z4.objects, z3.objects);
	assert_int_equal(z4.bytes, z3.bytes);
	assert_int_equal(z4.versions - z3.versions, 1);
	assert_true(z4.file_bytes - z3.file_bytes <= 2 * 4096);
	assert_loads_as(f->s, id, nb);
	fprintf(stderr, "  growth: notebook file %zu B; first save +%lld B objects (+%lld B db); "
		"one source edited +%lld B objects (+%lld B db); outputs edited +%lld B; "
		"unchanged +%lld B objects (+%lld B db)\n",
		file.len, z1.bytes - z0.bytes, z1.file_bytes - z0.file_bytes, z2.bytes - z1.bytes,
		z2.file_bytes - z1.file_bytes, z3.bytes - z2.bytes, z4.bytes - z3.bytes,
		z4.file_bytes - z3.file_bytes);
	buf_free(&file);
	json_decref(nb);
}

static void test_conflict(void **state)
{
	fixture_t *f = *state;
	json_t *nb = make_notebook(3), *log = NULL;
	char v1[STORE_ID_LEN], a[STORE_ID_LEN], b[STORE_ID_LEN], cur[STORE_ID_LEN];
	err_t err = { 0 };
	store_t *other = store_open(f->db, &err);  /* a second connection, as a second process would have */

	assert_non_null(other);
	assert_int_equal(store_save(f->s, NB, "main", NULL, nb, "alice", "base", v1, &err), 0);
	set_source(nb, 0, "alice's edit");
	assert_int_equal(store_save(f->s, NB, "main", v1, nb, "alice", "a", a, &err), 0);
	set_source(nb, 0, "bob's edit");
	err_clear(&err);
	assert_int_equal(store_save(other, NB, "main", v1, nb, "bob", "b", b, &err), CG_ECONFLICT);
	assert_string_equal(b, a);  /* the current version, for the client's 409 */
	assert_non_null(strstr(err.msg, a));
	/* Nothing lost: the winner's version is the head and loads as saved. */
	assert_int_equal(store_branch_head(other, NB, "main", cur, &err), 0);
	assert_string_equal(cur, a);
	set_source(nb, 0, "alice's edit");
	assert_loads_as(other, a, nb);
	/* Bob rebases on the current version and wins. */
	set_source(nb, 0, "bob's edit");
	assert_int_equal(store_save(other, NB, "main", a, nb, "bob", "b", b, &err), 0);
	assert_int_equal(store_log(f->s, NB, "main", 0, &log, &err), 0);
	assert_int_equal(json_array_size(log), 3);
	json_decref(log);
	/* A branch that does not exist cannot match an expected parent. */
	assert_int_equal(store_save(f->s, NB, "nope", v1, nb, "bob", "", cur, &err), CG_ECONFLICT);
	assert_string_equal(cur, "");
	store_close(&other);
	json_decref(nb);
}

static void test_branches(void **state)
{
	fixture_t *f = *state;
	json_t *nb = make_notebook(2), *list = NULL, *log = NULL, *info = NULL;
	char v1[STORE_ID_LEN], v2[STORE_ID_LEN], e1[STORE_ID_LEN], head[STORE_ID_LEN];
	err_t err = { 0 };

	assert_int_equal(store_save(f->s, NB, "main", NULL, nb, "alice", "one", v1, &err), 0);
	set_source(nb, 1, "two");
	assert_int_equal(store_save(f->s, NB, "main", NULL, nb, "alice", "two", v2, &err), 0);
	assert_int_equal(store_branch_create(f->s, NB, "experiment/x", v1, &err), 0);
	assert_int_equal(store_branch_create(f->s, NB, "experiment/x", v2, &err), CG_ECONFLICT);
	assert_int_equal(store_branch_create(f->s, NB, "y", "0123456789abcdef0123456789abcdef", &err), CG_ENOTFOUND);
	assert_int_equal(store_branch_create(f->s, NB, "../main", v1, &err), CG_EINVAL);
	assert_int_equal(store_branch_create(f->s, NB, "-f", v1, &err), CG_EINVAL);
	assert_int_equal(store_branch_create(f->s, NB, "a b", v1, &err), CG_EINVAL);
	set_source(nb, 0, "on the branch");
	assert_int_equal(store_save(f->s, NB, "experiment/x", v1, nb, "bob", "try", e1, &err), 0);
	assert_int_equal(store_branch_head(f->s, NB, "main", head, &err), 0);
	assert_string_equal(head, v2);
	assert_int_equal(store_log(f->s, NB, "experiment/x", 0, &log, &err), 0);
	assert_int_equal(json_array_size(log), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(log, 1), "id")), v1);
	json_decref(log);
	assert_int_equal(store_log(f->s, NB, "main", 1, &log, &err), 0);
	assert_int_equal(json_array_size(log), 1);
	json_decref(log);
	assert_int_equal(store_branch_list(f->s, NB, &list, &err), 0);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "name")), "experiment/x");
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "version")), e1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "name")), "main");
	json_decref(list);
	/* Branches are per notebook. */
	assert_int_equal(store_branch_list(f->s, "other.ipynb", &list, &err), 0);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	/* Deleting a branch keeps its versions. */
	assert_int_equal(store_branch_delete(f->s, NB, "experiment/x", &err), 0);
	assert_int_equal(store_branch_delete(f->s, NB, "experiment/x", &err), CG_ENOTFOUND);
	assert_int_equal(store_branch_head(f->s, NB, "experiment/x", head, &err), CG_ENOTFOUND);
	assert_loads_as(f->s, e1, nb);
	assert_int_equal(store_version_info(f->s, e1, &info, &err), 0);
	assert_string_equal(json_string_value(json_object_get(info, "principal")), "bob");
	assert_string_equal(json_string_value(json_object_get(info, "path")), NB);
	json_decref(info);
	/* Checkout bookkeeping. */
	assert_int_equal(store_checkout_get(f->s, NB, &info, &err), CG_ENOTFOUND);
	assert_int_equal(store_checkout_record(f->s, NB, "main", v2,
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", &err), 0);
	assert_int_equal(store_checkout_get(f->s, NB, &info, &err), 0);
	assert_string_equal(json_string_value(json_object_get(info, "version")), v2);
	json_decref(info);
	json_decref(nb);
}

static void test_immutable_and_schema(void **state)
{
	fixture_t *f = *state;
	json_t *nb = make_notebook(1);
	char id[STORE_ID_LEN];
	err_t err = { 0 };
	sqlite3 *c;
	sqlite3_stmt *st;
	store_t *s2;

	assert_int_equal(store_save(f->s, NB, "main", NULL, nb, "alice", "", id, &err), 0);
	assert_int_equal(sqlite3_open(f->db, &c), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(c, "UPDATE objects SET data = x'00'", NULL, NULL, NULL), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(c, "DELETE FROM versions", NULL, NULL, NULL), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(c, "DELETE FROM objects", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(c, "SELECT max(version) FROM schema_migrations", -1, &st, NULL), 0);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), STORE_SCHEMA_VERSION);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(c, "PRAGMA journal_mode", -1, &st, NULL), 0);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	/* Reserved tables exist and are empty. */
	assert_int_equal(sqlite3_exec(c, "SELECT 1 FROM executions, replays, audit", NULL, NULL, NULL), SQLITE_OK);
	/* A store from a newer cellgate is refused, not downgraded. */
	assert_int_equal(sqlite3_exec(c, "INSERT INTO schema_migrations VALUES (99, 'future')", NULL, NULL, NULL), 0);
	sqlite3_close(c);
	s2 = store_open(f->db, &err);
	assert_null(s2);
	assert_int_equal(err.code, CG_ESTATE);
	json_decref(nb);
}

static void test_refuses_invalid(void **state)
{
	fixture_t *f = *state;
	json_t *nb = make_notebook(4);
	char id[STORE_ID_LEN];
	err_t err = { 0 };

	json_object_set_new(json_array_get(json_object_get(nb, "cells"), 3), "source", json_integer(1));
	assert_int_equal(store_save(f->s, NB, "main", NULL, nb, "alice", "", id, &err), CG_EINVAL);
	assert_non_null(strstr(err.msg, "cells[3].source"));
	assert_int_equal(store_save(f->s, "", "main", NULL, nb, "alice", "", id, &err), CG_EINVAL);
	json_decref(nb);
}

static void test_atomic_file(void **state)
{
	fixture_t *f = *state;
	char path[160], got[64];
	err_t err = { 0 };
	struct stat st;
	FILE *fp;
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof path, "%s/nb.ipynb", f->dir);
	assert_int_equal(store_write_file_atomic(path, "first\n", 6, &err), 0);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(store_write_file_atomic(path, "second\n", 7, &err), 0);
	fp = fopen(path, "r");
	assert_non_null(fp);
	assert_non_null(fgets(got, sizeof got, fp));
	fclose(fp);
	assert_string_equal(got, "second\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	/* No temporary file is left behind. */
	d = opendir(f->dir);
	while ((e = readdir(d)))
		n += strstr(e->d_name, ".tmp") != NULL;
	closedir(d);
	assert_int_equal(n, 0);
	snprintf(path, sizeof path, "%s/missing/nb.ipynb", f->dir);
	assert_int_equal(store_write_file_atomic(path, "x", 1, &err), CG_ESYS);
}

static void read_whole(const char *path, buf_t *b)
{
	FILE *fp = fopen(path, "rb");
	char chunk[4096];
	size_t n;

	assert_non_null(fp);
	buf_init(b, 0);
	while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
		assert_int_equal(buf_append(b, chunk, n), 0);
	fclose(fp);
}

static void test_checkout_and_sync(void **state)
{
	fixture_t *f = *state;
	json_t *nb = make_notebook(3), *log = NULL, *loaded = NULL;
	char file[160], v1[STORE_ID_LEN], id[STORE_ID_LEN], v3[STORE_ID_LEN];
	err_t err = { 0 };
	int imported = -1;
	buf_t want, got;

	snprintf(file, sizeof file, "%s/analysis.ipynb", f->dir);
	assert_int_equal(store_sync_file(f->s, NB, file, &imported, id, &err), CG_ENOTFOUND);
	assert_int_equal(store_save(f->s, NB, "main", NULL, nb, "alice", "one", v1, &err), 0);
	assert_int_equal(store_checkout(f->s, NB, "main", file, id, &err), 0);
	assert_string_equal(id, v1);
	buf_init(&want, 0);
	assert_int_equal(nbformat_write(nb, &want), 0);
	read_whole(file, &got);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, got.len);
	buf_free(&got);
	buf_free(&want);

	/* Unchanged file: nothing to import. */
	assert_int_equal(store_sync_file(f->s, NB, file, &imported, id, &err), 0);
	assert_int_equal(imported, 0);
	assert_string_equal(id, v1);

	/* An editor changes the file: it becomes a version by "filesystem". */
	set_source(nb, 2, "edited in vim\n");
	buf_init(&want, 0);
	assert_int_equal(nbformat_write(nb, &want), 0);
	assert_int_equal(store_write_file_atomic(file, want.data, want.len, &err), 0);
	buf_free(&want);
	assert_int_equal(store_sync_file(f->s, NB, file, &imported, id, &err), 0);
	assert_int_equal(imported, 1);
	assert_string_not_equal(id, v1);
	assert_loads_as(f->s, id, nb);
	assert_int_equal(store_log(f->s, NB, "main", 1, &log, &err), 0);
	assert_string_equal(json_string_value(json_object_get(json_array_get(log, 0), "principal")), "filesystem");
	json_decref(log);
	assert_int_equal(store_sync_file(f->s, NB, file, &imported, id, &err), 0);
	assert_int_equal(imported, 0);

	/* A broken file is refused and changes nothing. */
	assert_int_equal(store_write_file_atomic(file, "{\"cells\": 3}", 13, &err), 0);
	assert_int_equal(store_sync_file(f->s, NB, file, &imported, v3, &err), CG_EINVAL);
	assert_int_equal(imported, 0);
	assert_int_equal(store_branch_head(f->s, NB, "main", v3, &err), 0);
	assert_string_equal(v3, id);

	/* The branch moved without the file (as after a crash between the two): sync writes the head. */
	assert_int_equal(store_checkout(f->s, NB, "main", file, NULL, &err), 0);
	set_source(nb, 0, "saved, file not yet written");
	assert_int_equal(store_save(f->s, NB, "main", NULL, nb, "alice", "three", v3, &err), 0);
	assert_int_equal(store_sync_file(f->s, NB, file, &imported, id, &err), 0);
	assert_int_equal(imported, 0);
	assert_string_equal(id, v3);
	read_whole(file, &got);
	loaded = nbformat_read(got.data, got.len, &err);
	assert_non_null(loaded);
	assert_true(json_equal(loaded, nb));
	buf_free(&got);
	json_decref(loaded);
	json_decref(nb);
}

static const char *branch_name(json_t *list, size_t i)
{
	return json_string_value(json_object_get(json_array_get(list, i), "name"));
}

/* Renames and deletes carry the mutable part of a history (branches,
 * checkout record, checkpoint) and leave every version readable. */
static void test_paths(void **state)
{
	fixture_t *f = *state;
	json_t *nb = make_notebook(2), *list = NULL, *co = NULL, *cp = NULL, *loaded = NULL;
	char vx[STORE_ID_LEN], vy[STORE_ID_LEN], vz[STORE_ID_LEN], id[STORE_ID_LEN];
	const char sha[STORE_HASH_LEN] = "0000000000000000000000000000000000000000000000000000000000000000";
	err_t err = { 0 };

	assert_int_equal(store_save(f->s, "a/x.ipynb", "main", NULL, nb, "t", "x", vx, &err), 0);
	assert_int_equal(store_branch_create(f->s, "a/x.ipynb", "side", vx, &err), 0);
	assert_int_equal(store_checkout_record(f->s, "a/x.ipynb", "main", vx, sha, &err), 0);
	assert_int_equal(store_checkpoint_set(f->s, "a/x.ipynb", vx, &err), 0);
	assert_int_equal(store_save(f->s, "a/sub/y.ipynb", "main", NULL, nb, "t", "y", vy, &err), 0);
	assert_int_equal(store_save(f->s, "ab/z.ipynb", "main", NULL, nb, "t", "z", vz, &err), 0);

	/* the checkpoint pointer is no branch anyone lists or can make */
	assert_int_equal(store_branch_list(f->s, "a/x.ipynb", &list, &err), 0);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(branch_name(list, 0), "main");
	assert_string_equal(branch_name(list, 1), "side");
	json_decref(list);
	assert_int_equal(store_check_branch(STORE_CHECKPOINT_BRANCH, NULL), CG_EINVAL);

	/* a directory moves with everything beneath it, not its prefix-sharing sibling */
	assert_int_equal(store_path_move(f->s, "a", "b", &err), 0);
	assert_int_equal(store_branch_head(f->s, "b/x.ipynb", "main", id, &err), 0);
	assert_string_equal(id, vx);
	assert_int_equal(store_branch_head(f->s, "b/x.ipynb", "side", id, &err), 0);
	assert_int_equal(store_branch_head(f->s, "b/sub/y.ipynb", "main", id, &err), 0);
	assert_string_equal(id, vy);
	assert_int_equal(store_branch_head(f->s, "a/x.ipynb", "main", id, &err), CG_ENOTFOUND);
	assert_int_equal(store_branch_head(f->s, "ab/z.ipynb", "main", id, &err), 0);
	assert_int_equal(store_checkout_get(f->s, "b/x.ipynb", &co, &err), 0);
	assert_string_equal(json_string_value(json_object_get(co, "version")), vx);
	json_decref(co);
	assert_int_equal(store_checkpoint_get(f->s, "b/x.ipynb", &cp, &err), 0);
	assert_string_equal(json_string_value(json_object_get(cp, "version")), vx);
	json_decref(cp);
	assert_int_equal(store_checkout_get(f->s, "a/x.ipynb", &co, &err), CG_ENOTFOUND);

	/* a delete keeps the branches under deleted/..., drops the rest */
	assert_int_equal(store_path_forget(f->s, "b/x.ipynb", &err), 0);
	assert_int_equal(store_branch_list(f->s, "b/x.ipynb", &list, &err), 0);
	assert_int_equal(json_array_size(list), 2);
	assert_memory_equal(branch_name(list, 0), "deleted/", 8);
	assert_non_null(strstr(branch_name(list, 0), "/main"));
	assert_non_null(strstr(branch_name(list, 1), "/side"));
	assert_int_equal(store_check_branch(branch_name(list, 0), NULL), 0);
	/* deleted twice: not renamed again */
	assert_int_equal(store_path_forget(f->s, "b/x.ipynb", &err), 0);
	{
		json_t *again = NULL;

		assert_int_equal(store_branch_list(f->s, "b/x.ipynb", &again, &err), 0);
		assert_true(json_equal(again, list));
		json_decref(again);
	}
	json_decref(list);
	assert_int_equal(store_checkout_get(f->s, "b/x.ipynb", &co, &err), CG_ENOTFOUND);
	assert_int_equal(store_checkpoint_get(f->s, "b/x.ipynb", &cp, &err), CG_ENOTFOUND);
	assert_int_equal(store_load(f->s, vx, &loaded, &err), 0);
	json_decref(loaded);

	/* moving onto a path with records left: they step aside */
	assert_int_equal(store_save(f->s, "c.ipynb", "main", NULL, nb, "t", "c", id, &err), 0);
	assert_int_equal(store_path_move(f->s, "ab/z.ipynb", "c.ipynb", &err), 0);
	assert_int_equal(store_branch_head(f->s, "c.ipynb", "main", id, &err), 0);
	assert_string_equal(id, vz);
	assert_int_equal(store_branch_list(f->s, "c.ipynb", &list, &err), 0);
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);

	/* the paths with a working copy, for the start */
	assert_int_equal(store_checkout_record(f->s, "c.ipynb", "main", vz, sha, &err), 0);
	assert_int_equal(store_checkout_paths(f->s, &list, &err), 0);
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(json_string_value(json_array_get(list, 0)), "c.ipynb");
	json_decref(list);
	assert_int_equal(store_checkpoint_clear(f->s, "c.ipynb", &err), 0);
	json_decref(nb);
}

/* The owner: who saved the first version of the history the working copy shows. */
static void test_owner(void **state)
{
	fixture_t *f = *state;
	json_t *nb = make_notebook(1);
	char v1[STORE_ID_LEN], v2[STORE_ID_LEN], v3[STORE_ID_LEN], who[STORE_MAX_PRINCIPAL];
	const char sha[STORE_HASH_LEN] = "0000000000000000000000000000000000000000000000000000000000000000";
	err_t err = { 0 };

	/* no history, or no working copy recorded: nobody */
	assert_int_equal(store_owner(f->s, "o/n.ipynb", who, &err), CG_ENOTFOUND);
	assert_int_equal(store_save(f->s, "o/n.ipynb", "main", NULL, nb, "alice", "1", v1, &err), 0);
	assert_int_equal(store_owner(f->s, "o/n.ipynb", who, &err), CG_ENOTFOUND);
	assert_int_equal(store_checkout_record(f->s, "o/n.ipynb", "main", v1, sha, &err), 0);
	assert_int_equal(store_owner(f->s, "o/n.ipynb", who, &err), 0);
	assert_string_equal(who, "alice");
	/* later savers do not take it over */
	set_source(nb, 0, "changed by bot");
	assert_int_equal(store_save(f->s, "o/n.ipynb", "main", v1, nb, "bot", "2", v2, &err), 0);
	assert_int_equal(store_checkout_record(f->s, "o/n.ipynb", "main", v2, sha, &err), 0);
	assert_int_equal(store_owner(f->s, "o/n.ipynb", who, &err), 0);
	assert_string_equal(who, "alice");
	/* a rename keeps it */
	assert_int_equal(store_path_move(f->s, "o", "p", &err), 0);
	assert_int_equal(store_owner(f->s, "p/n.ipynb", who, &err), 0);
	assert_string_equal(who, "alice");
	/* a delete ends it: a notebook made again there is its new author's */
	assert_int_equal(store_path_forget(f->s, "p/n.ipynb", &err), 0);
	assert_int_equal(store_owner(f->s, "p/n.ipynb", who, &err), CG_ENOTFOUND);
	assert_int_equal(store_save(f->s, "p/n.ipynb", "main", NULL, nb, "bot", "3", v3, &err), 0);
	assert_int_equal(store_checkout_record(f->s, "p/n.ipynb", "main", v3, sha, &err), 0);
	assert_int_equal(store_owner(f->s, "p/n.ipynb", who, &err), 0);
	assert_string_equal(who, "bot");
	json_decref(nb);
}

/* Publications: one per version, of existing versions only, readable after
 * the notebook's delete, listed by notebook or directory, and append-only
 * for any code that goes through sqlite. */
static void test_publications(void **state)
{
	fixture_t *f = *state;
	json_t *nb = make_notebook(1), *p = NULL, *again = NULL, *list = NULL;
	char v1[STORE_ID_LEN], v2[STORE_ID_LEN], big[STORE_MAX_PUBLICATION_MESSAGE + 2];
	err_t err = { 0 };
	sqlite3 *c;

	assert_int_equal(store_save(f->s, NB, "main", NULL, nb, "alice", "one", v1, &err), 0);
	assert_int_equal(store_save(f->s, NB, "main", NULL, nb, "alice", "two", v2, &err), 0);
	assert_int_equal(store_publish(f->s, &(store_publication_t){ .path = NB, .version = v1,
			 .published_by = "bob", .approved_by = "carol", .prompt = "p-1",
			 .message = "for the paper" }, &p, &err), 0);
	assert_string_equal(json_string_value(json_object_get(p, "version")), v1);
	assert_string_equal(json_string_value(json_object_get(p, "path")), NB);
	assert_string_equal(json_string_value(json_object_get(p, "published_by")), "bob");
	assert_string_equal(json_string_value(json_object_get(p, "approved_by")), "carol");
	assert_string_equal(json_string_value(json_object_get(p, "prompt")), "p-1");
	assert_string_equal(json_string_value(json_object_get(p, "message")), "for the paper");
	assert_int_equal(store_check_publication_id(json_string_value(json_object_get(p, "id")), NULL), 0);

	/* the same version again: a conflict that names the publication there */
	assert_int_equal(store_publish(f->s, &(store_publication_t){ .path = NB, .version = v1,
			 .published_by = "dave" }, &again, &err), CG_ECONFLICT);
	assert_true(json_equal(again, p));
	json_decref(again);
	/* no such version; malformed input; an oversized message */
	assert_int_equal(store_publish(f->s, &(store_publication_t){ .path = NB,
			 .version = "0123456789abcdef0123456789abcdef", .published_by = "bob" }, NULL,
			 &err), CG_ENOTFOUND);
	assert_int_equal(store_publish(f->s, &(store_publication_t){ .path = NB, .version = "v1",
			 .published_by = "bob" }, NULL, &err), CG_EINVAL);
	assert_int_equal(store_publish(f->s, &(store_publication_t){ .path = NB, .version = v2 },
			 NULL, &err), CG_EINVAL);
	memset(big, 'm', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(store_publish(f->s, &(store_publication_t){ .path = NB, .version = v2,
			 .published_by = "bob", .message = big }, NULL, &err), CG_ETOOBIG);

	/* the notebook deleted: its publication stays, by id and in listings */
	assert_int_equal(store_path_forget(f->s, NB, &err), 0);
	assert_int_equal(store_publish(f->s, &(store_publication_t){ .path = "other/x.ipynb",
			 .version = v2, .published_by = "bob" }, NULL, &err), 0);
	assert_int_equal(store_publication_get(f->s, json_string_value(json_object_get(p, "id")),
					       &again, &err), 0);
	assert_true(json_equal(again, p));
	json_decref(again);
	assert_int_equal(store_publications_list(f->s, NULL, 0, &list, &err), 0);
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);
	assert_int_equal(store_publications_list(f->s, "work", 0, &list, &err), 0);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	assert_int_equal(store_publications_list(f->s, "wor", 0, &list, &err), 0);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(store_publications_list(f->s, "", 1, &list, &err), 0);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	assert_int_equal(store_publication_get(f->s, "0123456789abcdef0123456789abcdef", &again, &err),
			 CG_ENOTFOUND);

	/* append-only below the store's functions too */
	assert_int_equal(sqlite3_open(f->db, &c), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(c, "UPDATE publications SET approved_by = 'eve'", NULL, NULL,
					  NULL), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(c, "DELETE FROM publications", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(c);
	assert_int_equal(store_publications_list(f->s, NULL, 0, &list, &err), 0);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "approved_by")),
			    "carol");
	json_decref(list);
	json_decref(p);
	json_decref(nb);
}

/* A store made by the cellgate before publications (schema 2, with a
 * version in it) is migrated to 3 when opened: the table is made, and the
 * versions are there to publish. The v2 store is this one with v3 undone. */
static void test_migrates_to_publications(void **state)
{
	fixture_t *f = *state;
	json_t *nb = make_notebook(1), *list = NULL;
	char v1[STORE_ID_LEN];
	err_t err = { 0 };
	sqlite3 *c;

	assert_int_equal(store_save(f->s, NB, "main", NULL, nb, "alice", "", v1, &err), 0);
	store_close(&f->s);
	assert_int_equal(sqlite3_open(f->db, &c), SQLITE_OK);
	assert_int_equal(sqlite3_exec(c, "DROP TABLE publications; DELETE FROM schema_migrations"
				      " WHERE version = 3", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(c);
	f->s = store_open(f->db, &err);
	assert_non_null(f->s);
	assert_int_equal(store_publications_list(f->s, NULL, 0, &list, &err), 0);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(store_publish(f->s, &(store_publication_t){ .path = NB, .version = v1,
			 .published_by = "bob" }, NULL, &err), 0);
	assert_int_equal(sqlite3_open(f->db, &c), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(c, "DELETE FROM publications", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(c);
	json_decref(nb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_growth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_branches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_immutable_and_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkout_and_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_publications, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrates_to_publications, setup, teardown),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
