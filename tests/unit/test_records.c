/*
 * Unit tests for notebook-store/records.c against real sqlite files:
 * writing execution records (code and outputs as objects, the kernel
 * session once), immutability, linking a saved version's outputs to the
 * executions that produced them, unrecorded and stale cells, the chain
 * order a replay plan follows, stored replay reports; the recorder's
 * IOPub-to-nbformat conversion; and two connections of one process to one
 * store keeping each other's locks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../notebook-store/nbformat.h"
#include "../../notebook-store/records.h"
#include "../../notebook-store/store.h"
#include "../../notebook-store/store_private.h"
#include "../../server/recorder.h"

#define NB "proj/analysis.ipynb"

typedef struct fixture {
	char dir[64];
	char db[128];
	store_t *s;
	int n;          /* records written, for ids and times */
} fixture_t;

static int setup(void **state)
{
	fixture_t *f = calloc(1, sizeof *f);
	err_t err = { 0 };

	snprintf(f->dir, sizeof f->dir, "/tmp/cg-records-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->db, sizeof f->db, "%s/store.sqlite", f->dir);
	f->s = store_open(f->db, &err);
	if (!f->s)
		return -1;
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

static json_t *stream(const char *text)
{
	return json_pack("{s:s, s:s, s:s}", "output_type", "stream", "name", "stdout", "text", text);
}

static json_t *session(const char *sid)
{
	return json_pack("{s:s, s:s, s:s, s:[s, s, s], s:{s:s, s:s}, s:{s:s, s:{s:s}}, s:s}", "id", sid,
			 "kernel_id", "k-1", "kernelspec", "python3", "argv", "/usr/bin/python3", "-m",
			 "ipykernel_launcher", "sandbox", "class", "trusted", "backend", "bubblewrap",
			 "environment", "source", "dpkg", "packages", "python3-ipykernel", "6.17.1-1",
			 "started", "2026-01-01T00:00:00.000000Z");
}

/* A finished record as the recorder hands it over; the id is returned (static). */
static const char *record(fixture_t *f, const char *sid, const char *prev, const char *cell,
			  const char *code, json_t *outputs, int count, const char *status)
{
	static char id[8][40];
	char *slot = id[f->n % 8], when[64];
	json_t *batch;
	err_t err = { 0 };

	snprintf(slot, 40, "%032x", ++f->n);
	snprintf(when, sizeof when, "2026-01-01T00:00:%02d.000000Z", f->n);
	batch = json_pack("[{s:s, s:s, s:s?, s:s, s:s, s:s, s:s, s:o, s:s, s:i, s:s, s:s, s:s, s:o}]",
			  "id", slot, "kernel_session", sid, "previous", prev, "principal", "token",
			  "path", NB, "cell_id", cell, "code", code, "outputs", outputs, "status", status,
			  "execution_count", count, "started", when, "ended", when, "requested", when,
			  "session", session(sid));
	assert_non_null(batch);
	if (records_write(f->s, batch, &err))
		fail_msg("records_write: %s", err.msg);
	json_decref(batch);
	return slot;
}

static json_t *code_cell(const char *id, const char *src, json_t *outputs, int count)
{
	return json_pack("{s:s, s:s, s:s, s:{}, s:o, s:o}", "id", id, "cell_type", "code", "source", src,
			 "metadata", "outputs", outputs, "execution_count",
			 count ? json_integer(count) : json_null());
}

static json_t *notebook(json_t *cells)
{
	json_t *nb = json_pack("{s:i, s:i, s:{}, s:o}", "nbformat", 4, "nbformat_minor", 5, "metadata",
			       "cells", cells);
	err_t err = { 0 };

	assert_int_equal(nbformat_normalize(nb, &err), 0);
	return nb;
}

static void save(fixture_t *f, json_t *nb, char out[STORE_ID_LEN])
{
	err_t err = { 0 };

	if (store_save(f->s, NB, "main", NULL, nb, "token", "", out, &err))
		fail_msg("store_save: %s", err.msg);
}

static json_t *cell_of(json_t *prov, const char *cell_id)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(prov, "cells"), i, c)
		if (strcmp(json_string_value(json_object_get(c, "cell_id")), cell_id) == 0)
			return c;
	fail_msg("no cell %s", cell_id);
	return NULL;
}

static void test_write_and_read(void **state)
{
	fixture_t *f = *state;
	const char *a = record(f, "s1", NULL, "a", "print('hi')", json_pack("[o]", stream("hi\n")), 1, "ok");
	char id_a[40], hash[STORE_HASH_LEN];
	json_t *r = NULL, *want;
	err_t err = { 0 };
	sqlite3_stmt *st;

	snprintf(id_a, sizeof id_a, "%s", a);
	record(f, "s1", id_a, "b", "1/0", json_array(), 2, "error");
	assert_int_equal(records_execution(f->s, id_a, &r, &err), 0);
	assert_string_equal(json_string_value(json_object_get(r, "code")), "print('hi')");
	assert_int_equal(records_code_hash("print('hi')", hash), 0);
	assert_string_equal(json_string_value(json_object_get(r, "code_hash")), hash);
	want = json_pack("[o]", stream("hi\n"));
	assert_true(json_equal(json_object_get(r, "outputs"), want));
	json_decref(want);
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(r, "session"),
		"environment"), "source")), "dpkg");
	json_decref(r);
	/* one kernel session row for both */
	assert_int_equal(sqlite3_prepare_v2(f->s->db, "SELECT count(*) FROM kernel_sessions", -1, &st, NULL), 0);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 1);
	sqlite3_finalize(st);
	/* records are immutable */
	assert_int_not_equal(sqlite3_exec(f->s->db, "UPDATE executions SET status = 'ok'", NULL, NULL, NULL), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(f->s->db, "DELETE FROM executions", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(records_execution(f->s, "0123", &r, &err), CG_ENOTFOUND);
}

static void test_link_stale_unrecorded(void **state)
{
	fixture_t *f = *state;
	char a[40], b[40], c[40], v1[STORE_ID_LEN], v2[STORE_ID_LEN], v3[STORE_ID_LEN];
	json_t *nb, *prov = NULL, *x;
	err_t err = { 0 };

	snprintf(a, sizeof a, "%s", record(f, "s1", NULL, "ca", "x = 1", json_array(), 1, "ok"));
	snprintf(b, sizeof b, "%s", record(f, "s1", a, "cb", "print(x)", json_pack("[o]", stream("1\n")), 2, "ok"));
	snprintf(c, sizeof c, "%s", record(f, "s1", b, "cc", "print(x+1)", json_pack("[o]", stream("2\n")), 3, "ok"));
	nb = notebook(json_pack("[o, o, o, o]", code_cell("ca", "x = 1", json_array(), 1),
				code_cell("cb", "print(x)", json_pack("[o]", stream("1\n")), 2),
				code_cell("cc", "print(x+1)", json_pack("[o]", stream("2\n")), 3),
				code_cell("cd", "never", json_array(), 0)));
	/* a version is saved after its executions ended */

	save(f, nb, v1);
	assert_int_equal(records_provenance(f->s, v1, &prov, &err), 0);
	x = cell_of(prov, "cc");
	assert_string_equal(json_string_value(json_object_get(x, "state")), "recorded");
	assert_false(json_is_true(json_object_get(x, "stale")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(x, "execution"), "id")), c);
	/* after: b then a, newest first */
	assert_int_equal(json_array_size(json_object_get(x, "after")), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(x, "after"), 0), "id")), b);
	assert_string_equal(json_string_value(json_object_get(cell_of(prov, "cd"), "state")), "unexecuted");
	json_decref(prov);

	/* an edited output: no execution produced it */
	json_object_set_new(json_array_get(json_object_get(json_array_get(json_object_get(nb, "cells"), 1),
							   "outputs"), 0), "text", json_string("999\n"));
	save(f, nb, v2);
	assert_int_equal(records_provenance(f->s, v2, &prov, &err), 0);
	assert_string_equal(json_string_value(json_object_get(cell_of(prov, "cb"), "state")), "unrecorded");
	assert_string_equal(json_string_value(json_object_get(cell_of(prov, "cc"), "state")), "recorded");
	json_decref(prov);

	/* an upstream source edit: the cells after it in the chain are stale */
	json_object_set_new(json_array_get(json_object_get(nb, "cells"), 0), "source", json_string("x = 5"));
	json_object_set_new(json_array_get(json_object_get(json_array_get(json_object_get(nb, "cells"), 1),
							   "outputs"), 0), "text", json_string("1\n"));
	save(f, nb, v3);
	assert_int_equal(records_provenance(f->s, v3, &prov, &err), 0);
	assert_true(json_is_true(json_object_get(cell_of(prov, "ca"), "stale")));
	assert_true(json_is_true(json_object_get(cell_of(prov, "cb"), "stale")));
	x = cell_of(prov, "cc");
	assert_true(json_is_true(json_object_get(x, "stale")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(x, "stale_because"), 0),
								"cell_id")), "ca");
	json_decref(prov);
	/* links are immutable, made once */
	assert_int_equal(records_link_version(f->s, v3, &err), 0);
	assert_int_not_equal(sqlite3_exec(f->s->db, "DELETE FROM output_links", NULL, NULL, NULL), SQLITE_OK);
	json_decref(nb);
}

static void test_replay_plan_follows_the_chain(void **state)
{
	fixture_t *f = *state;
	char t1[40], o1[40], t2[40], v[STORE_ID_LEN];
	json_t *nb, *plan = NULL, *steps, *rep = NULL, *got = NULL;
	err_t err = { 0 };

	/* cells 2, 1, 2 */
	snprintf(t1, sizeof t1, "%s", record(f, "s9", NULL, "two", "y = 7", json_array(), 1, "ok"));
	snprintf(o1, sizeof o1, "%s", record(f, "s9", t1, "one", "y += 1", json_array(), 2, "ok"));
	snprintf(t2, sizeof t2, "%s", record(f, "s9", o1, "two", "y *= 2\nprint(y)",
					     json_pack("[o]", stream("16\n")), 3, "ok"));
	nb = notebook(json_pack("[o, o]", code_cell("one", "y += 1", json_array(), 2),
				code_cell("two", "y *= 2\nprint(y)", json_pack("[o]", stream("16\n")), 3)));

	save(f, nb, v);
	assert_int_equal(records_replay_plan(f->s, v, &plan, &err), 0);
	assert_int_equal(json_array_size(json_object_get(plan, "sessions")), 1);
	steps = json_object_get(json_array_get(json_object_get(plan, "sessions"), 0), "executions");
	assert_int_equal(json_array_size(steps), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(steps, 0), "id")), t1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(steps, 1), "id")), o1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(steps, 2), "id")), t2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(steps, 0), "code")), "y = 7");
	/* the last step is compared with the version's cell 1; the first with none */
	assert_int_equal(json_integer_value(json_array_get(json_object_get(json_array_get(steps, 2), "compare"), 0)), 1);
	assert_int_equal(json_array_size(json_object_get(json_array_get(steps, 0), "compare")), 0);
	json_decref(plan);
	/* reports are kept, immutable, and read back */
	rep = json_pack("{s:s}", "verdict", "reproduced");
	assert_int_equal(records_replay_save(f->s, "r1", v, rep, "reproduced", &err), 0);
	assert_int_equal(records_replay_get(f->s, "r1", &got, &err), 0);
	assert_true(json_equal(json_object_get(got, "report"), rep));
	assert_string_equal(json_string_value(json_object_get(got, "version")), v);
	assert_int_not_equal(sqlite3_exec(f->s->db, "UPDATE replays SET verdict = 'x'", NULL, NULL, NULL), SQLITE_OK);
	json_decref(got);
	assert_int_equal(records_replay_get(f->s, "r2", &got, &err), CG_ENOTFOUND);
	json_decref(rep);
	json_decref(nb);
}

/*
 * A second store_open of the same file in one process must not drop the
 * first connection's locks: POSIX locks go with any close() of the file,
 * and sqlite, which counts its locks per file in-process, does not take
 * them again. Another process then believes it is the last user and
 * removes the write-ahead log on close, under the server's feet.
 */
static void test_two_connections_keep_locks(void **state)
{
	fixture_t *f = *state;
	char wal[160];
	err_t err = { 0 };
	store_t *other;
	char cmd[512];
	int status;

	snprintf(wal, sizeof wal, "%s-wal", f->db);
	record(f, "s1", NULL, "a", "1", json_array(), 1, "ok");
	assert_int_equal(access(wal, F_OK), 0);
	other = store_open(f->db, &err);
	assert_non_null(other);
	/* another program (a fork would share sqlite's in-process lock table):
	 * its last connection removes the WAL if it may */
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
		 "c.execute(\"SELECT count(*) FROM executions\").fetchall(); c.close()' '%s'", f->db);
	status = system(cmd);
	assert_int_equal(status, 0);
	assert_int_equal(access(wal, F_OK), 0);
	record(f, "s1", NULL, "b", "2", json_array(), 2, "ok");
	store_close(&other);
}

static void test_iopub_to_outputs(void **state)
{
	json_t *outs = json_array(), *c;
	bool wait = false;

	(void)state;
	c = json_pack("{s:s, s:s}", "name", "stdout", "text", "a");
	assert_true(recorder_add_output(outs, "stream", c, &wait));
	json_decref(c);
	c = json_pack("{s:s, s:s}", "name", "stdout", "text", "b\n");
	recorder_add_output(outs, "stream", c, &wait);
	json_decref(c);
	assert_int_equal(json_array_size(outs), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(outs, 0), "text")), "ab\n");
	/* clear_output(wait=True) clears at the next output */
	c = json_pack("{s:b}", "wait", 1);
	recorder_add_output(outs, "clear_output", c, &wait);
	json_decref(c);
	assert_int_equal(json_array_size(outs), 1);
	c = json_pack("{s:{s:s}, s:{}, s:{s:s}}", "data", "text/plain", "v1", "metadata", "transient",
		      "display_id", "d1");
	recorder_add_output(outs, "display_data", c, &wait);
	json_decref(c);
	assert_int_equal(json_array_size(outs), 1);
	c = json_pack("{s:{s:s}, s:{}, s:{s:s}}", "data", "text/plain", "v2", "metadata", "transient",
		      "display_id", "d1");
	recorder_add_output(outs, "update_display_data", c, &wait);
	json_decref(c);
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(outs, 0), "data"),
								"text/plain")), "v2");
	c = json_pack("{s:s, s:s, s:[s]}", "ename", "E", "evalue", "bad", "traceback", "tb");
	recorder_add_output(outs, "error", c, &wait);
	json_decref(c);
	assert_string_equal(json_string_value(json_object_get(json_array_get(outs, 1), "output_type")), "error");
	assert_false(recorder_add_output(outs, "status", NULL, &wait));
	json_decref(outs);
}

/* dpkg's word on what ipykernel runs: the interpreter's package, ipykernel's, and what it needs. */
static void test_environment(void **state)
{
	char *argv[] = { "/usr/bin/python3", "-m", "ipykernel_launcher", "-f", "/run/cellgate/connection.json", NULL };
	json_t *env, *pkgs, *files, *f;
	bool has_interp = false;
	size_t i;

	(void)state;
	env = recorder_environment(argv);
	assert_non_null(env);
	assert_string_equal(json_string_value(json_object_get(env, "source")), "dpkg");
	pkgs = json_object_get(env, "packages");
	assert_non_null(json_object_get(pkgs, "python3-ipykernel"));
	assert_non_null(json_object_get(pkgs, "python3-jupyter-client"));  /* a dependency */
	files = json_object_get(env, "files");
	assert_int_equal(json_array_size(files), 2);  /* the interpreter and the module, not the connection file */
	json_array_foreach(files, i, f) {
		assert_int_equal(strlen(json_string_value(json_object_get(f, "sha256"))), 64);
		if (strncmp(json_string_value(json_object_get(f, "package")) ?: "", "python3.", 8) == 0)
			has_interp = true;
	}
	assert_true(has_interp);
	assert_string_equal(json_string_value(json_object_get(json_array_get(files, 1), "package")),
			    "python3-ipykernel");
	json_decref(env);
	/* a binary dpkg does not know: its hash, no package */
	char *own[] = { "/proc/self/exe", NULL };
	env = recorder_environment(own);
	f = json_array_get(json_object_get(env, "files"), 0);
	assert_non_null(f);
	assert_null(json_object_get(f, "package"));
	json_decref(env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_and_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_stale_unrecorded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_plan_follows_the_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_connections_keep_locks, setup, teardown),
		cmocka_unit_test(test_iopub_to_outputs),
		cmocka_unit_test(test_environment),
	};
	return cmocka_run_group_tests_name("records", tests, NULL, NULL);
}
