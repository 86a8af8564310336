/*
 * Unit tests for notebook-store/replay_report.c: the masks (addresses,
 * timestamps, durations, a reviewer's own), numeric tolerance, output
 * comparison (streams, errors, mime bundles, images by exact hash, JSON),
 * the diff it reports, the options from a request, and the HTML page
 * (escaped, self-contained).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../../notebook-store/replay_report.h"

static void check_mask(const replay_opts_t *o, const char *in, const char *want)
{
	char *got = replay_mask_text(in, o);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_masks(void **state)
{
	replay_opts_t o;

	(void)state;
	replay_opts_defaults(&o);
	check_mask(&o, "<object object at 0x7f3a5c2d1e40>", "<object object at 0x<address>>");
	check_mask(&o, "0xff stays", "0xff stays");
	check_mask(&o, "at 2026-11-27T07:31:16.123456Z ok", "at <timestamp> ok");
	check_mask(&o, "2026-11-27 07:31:16+01:00", "<timestamp>");
	check_mask(&o, "at 12:34:56.5", "at <time>");
	check_mask(&o, "took 1.5 s, then 12ms and 3 seconds", "took <duration>, then <duration> and <duration>");
	check_mask(&o, "5 sheep and 2 snakes, x1s", "5 sheep and 2 snakes, x1s");
	check_mask(&o, "", "");
	o.mask_addresses = o.mask_durations = o.mask_timestamps = false;
	check_mask(&o, "0x7f3a5c2d1e40 1.5 s", "0x7f3a5c2d1e40 1.5 s");
	replay_opts_clear(&o);
}

static void test_tolerance(void **state)
{
	replay_opts_t o;

	(void)state;
	replay_opts_defaults(&o);
	assert_true(replay_text_equal("x = 1.0000000000001", "x = 1.0000000000002", &o));
	assert_false(replay_text_equal("x = 1.0001", "x = 1.0002", &o));
	assert_false(replay_text_equal("x = 1", "x = 1 ", &o));
	assert_false(replay_text_equal("a12", "a13", &o));
	o.abs_tol = 0.01;
	assert_true(replay_text_equal("x = 1.0001 and -2.5e3", "x = 1.0002 and -2.5e3", &o));
	assert_false(replay_text_equal("x = 1.0001", "x = 1.2", &o));
	o.abs_tol = 0;
	o.rel_tol = 0.1;
	assert_true(replay_text_equal("[100, 200]", "[105, 190]", &o));
	assert_false(replay_text_equal("[100, 200]", "[100, 150]", &o));
	replay_opts_clear(&o);
}

static json_t *bundle(const char *type, const char *mime, const char *value)
{
	return json_pack("{s:s, s:{s:s}, s:{}, s:i}", "output_type", type, "data", mime, value,
			 "metadata", "execution_count", 3);
}

static void test_outputs(void **state)
{
	replay_opts_t o;
	json_t *a, *b, *diff = NULL;

	(void)state;
	replay_opts_defaults(&o);
	a = json_pack("[{s:s, s:s, s:s}, o]", "output_type", "stream", "name", "stdout", "text",
		      "at 0x7f00aa11bb22\n", bundle("execute_result", "text/plain", "42"));
	b = json_pack("[{s:s, s:s, s:s}, o]", "output_type", "stream", "name", "stdout", "text",
		      "at 0x7f00cc33dd44\n", bundle("execute_result", "text/plain", "42"));
	/* the execution count is not compared */
	json_object_set_new(json_array_get(b, 1), "execution_count", json_integer(9));
	assert_true(replay_outputs_equal(a, b, &o, &diff));
	assert_null(diff);
	/* a different value: one diff, masked texts */
	json_object_set_new(json_object_get(json_array_get(b, 1), "data"), "text/plain", json_string("43"));
	assert_false(replay_outputs_equal(a, b, &o, &diff));
	assert_int_equal(json_array_size(diff), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(diff, 0), "field")), "data/text/plain");
	assert_string_equal(json_string_value(json_object_get(json_array_get(diff, 0), "recorded")), "42");
	json_decref(diff);
	json_decref(b);
	/* a missing output */
	b = json_pack("[o]", bundle("stream", "text/plain", "x"));
	assert_false(replay_outputs_equal(a, b, &o, &diff));
	assert_string_equal(json_string_value(json_object_get(json_array_get(diff, 0), "field")), "count");
	json_decref(diff);
	json_decref(b);
	json_decref(a);
	/* images compare exactly; a mime type only one side has is a difference */
	a = json_pack("[o]", bundle("display_data", "image/png", "iVBORw0KGgoAAAANSUhEUgAA"));
	b = json_pack("[o]", bundle("display_data", "image/png", "iVBORw0KGgoAAAANSUhEUgAB"));
	assert_false(replay_outputs_equal(a, b, &o, &diff));
	json_decref(diff);
	assert_true(replay_outputs_equal(a, a, &o, NULL));
	json_object_set_new(json_object_get(json_array_get(a, 0), "data"), "text/plain", json_string("<Figure>"));
	assert_false(replay_outputs_equal(a, b, &o, &diff));
	assert_int_equal(json_array_size(diff), 2);
	json_decref(diff);
	json_decref(a);
	json_decref(b);
	/* errors by name and masked value; the traceback is not compared */
	a = json_pack("[{s:s, s:s, s:s, s:[s]}]", "output_type", "error", "ename", "ValueError", "evalue",
		      "bad at 0x7f00aa11bb22", "traceback", "File /a/b.py");
	b = json_pack("[{s:s, s:s, s:s, s:[s]}]", "output_type", "error", "ename", "ValueError", "evalue",
		      "bad at 0x7f0011223344", "traceback", "File /c/d.py");
	assert_true(replay_outputs_equal(a, b, &o, NULL));
	json_object_set_new(json_array_get(b, 0), "ename", json_string("TypeError"));
	assert_false(replay_outputs_equal(a, b, &o, NULL));
	json_decref(a);
	json_decref(b);
	/* JSON mime types structurally */
	a = json_pack("[{s:s, s:{s:{s:i, s:i}}, s:{}}]", "output_type", "display_data", "data",
		      "application/json", "a", 1, "b", 2, "metadata");
	b = json_pack("[{s:s, s:{s:{s:i, s:i}}, s:{}}]", "output_type", "display_data", "data",
		      "application/json", "b", 2, "a", 1, "metadata");
	assert_true(replay_outputs_equal(a, b, &o, NULL));
	json_decref(a);
	json_decref(b);
	replay_opts_clear(&o);
}

static void test_opts_from_json(void **state)
{
	replay_opts_t o;
	json_t *j;
	err_t err = { 0 };

	(void)state;
	replay_opts_defaults(&o);
	j = json_pack("{s:b, s:f, s:[s]}", "mask_addresses", 0, "abs_tol", 0.5, "masks", "run [0-9]+");
	assert_int_equal(replay_opts_from_json(&o, j, &err), 0);
	json_decref(j);
	assert_false(o.mask_addresses);
	assert_true(o.abs_tol == 0.5);
	check_mask(&o, "run 12 at 0x7f00aa11bb22", "<masked> at 0x7f00aa11bb22");
	replay_opts_clear(&o);
	static const char *const bad[] = {
		"{\"masks\": [\"(\"]}", "{\"masks\": \"x\"}", "{\"masks\": [\"\"]}", "{\"rel_tol\": -1}",
		"{\"abs_tol\": \"1\"}", "{\"mask_durations\": 1}", "[]",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		replay_opts_defaults(&o);
		j = json_loads(bad[i], 0, NULL);
		assert_non_null(j);
		assert_int_equal(replay_opts_from_json(&o, j, &err), CG_EINVAL);
		json_decref(j);
		replay_opts_clear(&o);
	}
}

static void test_grants_from_json(void **state)
{
	replay_opts_t o;
	json_t *j, *back;
	err_t err = { 0 };

	(void)state;
	replay_opts_defaults(&o);
	assert_int_equal(replay_grants_from_json(&o, NULL, &err), 0);
	assert_int_equal(o.n_grants, 0);
	j = json_pack("[sss]", "network:127.0.0.1:8080", "network:pypi.org:443", "network:[::1]:80");
	assert_int_equal(replay_grants_from_json(&o, j, &err), 0);
	assert_int_equal(o.n_grants, 3);
	/* kept as the destinations records name ("HOST:PORT") */
	assert_string_equal(o.grants[0], "127.0.0.1:8080");
	assert_string_equal(o.grants[2], "[::1]:80");
	back = replay_grants_to_json(&o);
	assert_true(json_equal(back, j));
	json_decref(back);
	json_decref(j);
	replay_opts_clear(&o);
	assert_int_equal(o.n_grants, 0);
	static const char *const bad[] = {
		"\"network:h:1\"", "[\"network:h\"]", "[\"network:h:0\"]", "[\"network:h:65536\"]",
		"[\"network::80\"]", "[\"network:a b:80\"]", "[\"file:/etc/passwd\"]", "[7]",
		"[\"network:h:80x\"]", "[\"network:[zz]:80\"]", "{}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		replay_opts_defaults(&o);
		j = json_loads(bad[i], JSON_DECODE_ANY, NULL);
		assert_non_null(j);
		assert_int_equal(replay_grants_from_json(&o, j, &err), CG_EINVAL);
		json_decref(j);
		replay_opts_clear(&o);
	}
	/* at most REPLAY_MAX_GRANTS */
	replay_opts_defaults(&o);
	j = json_array();
	for (int i = 0; i <= REPLAY_MAX_GRANTS; i++)
		json_array_append_new(j, json_string("network:h:1"));
	assert_int_equal(replay_grants_from_json(&o, j, &err), CG_EINVAL);
	json_decref(j);
	replay_opts_clear(&o);
}

static void test_html(void **state)
{
	json_t *report = json_pack(
		"{s:s, s:s, s:s, s:s, s:{s:i}, s:[{s:s, s:s, s:s, s:[{s:s, s:s, s:s}], s:[{s:s, s:{s:s}, s:{}}],"
		" s:[{s:s, s:s, s:s}]}]}",
		"id", "r1", "version", "v1", "path", "<b>nb</b>.ipynb", "verdict", "not_reproduced",
		"counts", "differs", 1, "cells", "cell_id", "c\"1", "verdict", "differs", "code",
		"print('<script>alert(1)</script>')", "recorded", "output_type", "stream", "name", "stdout",
		"text", "<script>x</script>", "replayed", "output_type", "display_data", "data", "image/png",
		"iVBORw0KGgo=", "metadata", "diff", "field", "text", "recorded", "a&b", "replayed", "c");
	buf_t b;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(replay_report_html(report, &b), 0);
	assert_null(strstr(b.data, "<script"));
	assert_null(strstr(b.data, "<b>nb"));
	assert_non_null(strstr(b.data, "&lt;script&gt;x&lt;/script&gt;"));
	assert_non_null(strstr(b.data, "src=\"data:image/png;base64,iVBORw0KGgo=\""));
	assert_non_null(strstr(b.data, "c&quot;1"));
	assert_null(strstr(b.data, "http"));
	buf_free(&b);
	json_decref(report);
	/* a skipped cell's reason and a later cell's upstream_skipped are shown, escaped */
	report = json_pack("{s:s, s:s, s:[{s:s, s:s, s:s}, {s:s, s:s, s:s}]}", "id", "r2",
			   "verdict", "not_reproduced", "cells",
			   "cell_id", "f", "verdict", "skipped", "reason", "needs network access to <h>:80",
			   "cell_id", "g", "verdict", "reproduced", "upstream_skipped", "cell f <was> skipped");
	buf_init(&b, 0);
	assert_int_equal(replay_report_html(report, &b), 0);
	assert_non_null(strstr(b.data, "needs network access to &lt;h&gt;:80"));
	assert_non_null(strstr(b.data, "cell f &lt;was&gt; skipped"));
	buf_free(&b);
	json_decref(report);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_masks),
		cmocka_unit_test(test_tolerance),
		cmocka_unit_test(test_outputs),
		cmocka_unit_test(test_opts_from_json),
		cmocka_unit_test(test_grants_from_json),
		cmocka_unit_test(test_html),
	};
	return cmocka_run_group_tests_name("replay_report", tests, NULL, NULL);
}
