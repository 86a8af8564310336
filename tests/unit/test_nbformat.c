/*
 * Unit tests for notebook-store/nbformat.c and pyjson.c: every notebook that
 * tests/unit/nbformat_vectors.py gets from python3-nbformat must come out of
 * cellgate's reader and writer byte-identical to nbformat.write, upgrades
 * from 4.0-4.4 included; what nbformat refuses, cellgate refuses with a
 * message naming the field; and what cellgate writes, nbformat validates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../notebook-store/nbformat.h"
#include "../../notebook-store/pyjson.h"

#define VECTORS "/usr/bin/python3 tests/unit/nbformat_vectors.py"

static void assert_same_text(const char *name, const char *got, size_t glen, const char *want, size_t wlen)
{
	size_t i = 0;

	while (i < glen && i < wlen && got[i] == want[i])
		i++;
	if (i == glen && i == wlen)
		return;
	fprintf(stderr, "%s: differs at byte %zu (got %zu bytes, want %zu)\n  got:  %.80s\n  want: %.80s\n",
		name, i, glen, wlen, got + (i > 40 ? i - 40 : 0), want + (i > 40 ? i - 40 : 0));
	fail();
}

static int is_hex8(const char *s)
{
	return strlen(s) == 8 && strspn(s, "0123456789abcdef") == 8;
}

static void check_ids(json_t *nb, const char *name)
{
	json_t *cells = json_object_get(nb, "cells"), *c;
	int is_upgrade = strncmp(name, "v4.5", 4) != 0;
	size_t i, j;

	json_array_foreach(cells, i, c) {
		const char *id = json_string_value(json_object_get(c, "id"));

		assert_non_null(id);
		assert_true(nbformat_is_cell_id(id));
		if (is_upgrade)
			assert_true(is_hex8(id));
		for (j = 0; j < i; j++)
			assert_string_not_equal(id, json_string_value(json_object_get(json_array_get(cells, j), "id")));
	}
	/* Then the ids the reference used, so the rest can be compared byte for byte. */
	json_array_foreach(cells, i, c) {
		char id[32];

		snprintf(id, sizeof id, "cell-%zu", i);
		json_object_set_new(c, "id", json_string(id));
	}
}

static void test_against_nbformat(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/cg-nbformat-XXXXXX", cmd[256];
	FILE *in = popen(VECTORS " make", "r"), *out;
	char *line = NULL;
	size_t cap = 0;
	int n_ok = 0, n_refused = 0, fd;

	assert_non_null(in);
	fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	out = fdopen(fd, "w");
	assert_non_null(out);
	while (getline(&line, &cap, in) > 0) {
		json_t *c = json_loads(line, JSON_ALLOW_NUL, NULL), *nb, *rec;
		const char *name = json_string_value(json_object_get(c, "name"));
		json_t *input = json_object_get(c, "input"), *where = json_object_get(c, "where");
		err_t err = { 0 };
		buf_t b;
		char *dumped;

		assert_non_null(c);
		nb = nbformat_read(json_string_value(input), json_string_length(input), &err);
		if (where) {
			size_t wl = json_string_length(where);

			if (nb || strncmp(err.msg, json_string_value(where), wl) || err.msg[wl] != ':')
				fprintf(stderr, "%s: want refusal at %s, got \"%s\"\n", name,
					json_string_value(where), nb ? "(accepted)" : err.msg);
			assert_null(nb);
			assert_int_equal(err.code, CG_EINVAL);
			assert_memory_equal(err.msg, json_string_value(where), wl);
			assert_int_equal(err.msg[wl], ':');
			n_refused++;
			json_decref(c);
			continue;
		}
		if (!nb)
			fprintf(stderr, "%s: refused: %s\n", name, err.msg);
		assert_non_null(nb);
		assert_int_equal(nbformat_validate(nb, &err), 0);
		if (json_is_true(json_object_get(c, "fix_ids")))
			check_ids(nb, name);
		buf_init(&b, 0);
		assert_int_equal(nbformat_write(nb, &b), 0);
		assert_same_text(name, b.data, b.len, json_string_value(json_object_get(c, "expect")),
				 json_string_length(json_object_get(c, "expect")));
		rec = json_pack("{s:s, s:s%}", "name", name, "text", b.data, b.len);
		dumped = json_dumps(rec, JSON_COMPACT);
		fprintf(out, "%s\n", dumped);
		free(dumped);
		json_decref(rec);
		buf_free(&b);
		json_decref(nb);
		json_decref(c);
		n_ok++;
	}
	free(line);
	assert_int_equal(pclose(in), 0);
	assert_int_equal(fclose(out), 0);
	assert_true(n_ok >= 13);
	assert_true(n_refused >= 20);
	/* What cellgate wrote validates against the 4.5 schema and survives nbformat's read+write. */
	snprintf(cmd, sizeof cmd, VECTORS " check %s", tmpl);
	assert_int_equal(system(cmd), 0);
	unlink(tmpl);
}

static void test_float_repr(void **state)
{
	(void)state;
	static const struct { double d; const char *s; } cases[] = {
		{ 0.1, "0.1" }, { 1.0, "1.0" }, { -0.0, "-0.0" }, { 100.0, "100.0" },
		{ 1e16, "1e+16" }, { 1e15, "1000000000000000.0" }, { 1e-4, "0.0001" },
		{ 1e-5, "1e-05" }, { 1.5e300, "1.5e+300" }, { 5e-324, "5e-324" },
		{ 0.30000000000000004, "0.30000000000000004" }, { 123456.789, "123456.789" },
		{ 1.7976931348623157e308, "1.7976931348623157e+308" }, { -2.5e-8, "-2.5e-08" },
	};
	char out[PYJSON_FLOAT_LEN];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		pyjson_format_float(cases[i].d, out);
		assert_string_equal(out, cases[i].s);
	}
}

static void test_roundtrip_is_stable(void **state)
{
	(void)state;
	const char *src = "{\"cells\":[{\"cell_type\":\"code\",\"execution_count\":null,\"metadata\":{},"
			  "\"outputs\":[{\"output_type\":\"stream\",\"name\":\"stdout\",\"text\":\"a\\nb\"}],"
			  "\"source\":\"x = 1\\ny\"}],\"metadata\":{},\"nbformat\":4,\"nbformat_minor\":2}";
	err_t err = { 0 };
	json_t *nb = nbformat_read(src, strlen(src), &err), *again;
	buf_t a, b;

	assert_non_null(nb);
	assert_int_equal(json_integer_value(json_object_get(nb, "nbformat_minor")), 5);
	/* In memory, text is one string as nbformat keeps it. */
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(nb, "cells"), 0),
							      "source")), "x = 1\ny");
	buf_init(&a, 0);
	buf_init(&b, 0);
	assert_int_equal(nbformat_write(nb, &a), 0);
	assert_non_null(strstr(a.data, "\"source\": [\n    \"x = 1\\n\",\n    \"y\"\n   ]"));
	again = nbformat_read(a.data, a.len, &err);
	assert_non_null(again);
	assert_true(json_equal(nb, again));
	assert_int_equal(nbformat_write(again, &b), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	buf_free(&a);
	buf_free(&b);
	json_decref(nb);
	json_decref(again);
}

static void test_refusals(void **state)
{
	(void)state;
	static const struct { const char *src; const char *msg; } cases[] = {
		{ "not json", "notebook is not valid JSON" },
		{ "[]", "notebook: expected a JSON object" },
		{ "{\"nbformat\":4,\"nbformat_minor\":5,\"metadata\":{},\"cells\":[NaN]}", "notebook is not valid JSON" },
		{ "{\"nbformat\":4,\"nbformat_minor\":5,\"metadata\":{},\"cells\":[],\"x\":1e400}",
		  "notebook is not valid JSON" },
		{ "{\"nbformat\":4,\"nbformat_minor\":-1,\"metadata\":{},\"cells\":[]}", "nbformat_minor:" },
		{ "{\"nbformat\":4,\"nbformat_minor\":5,\"metadata\":[],\"cells\":[]}", "metadata: expected an object" },
		{ "{\"nbformat\":4,\"nbformat_minor\":5,\"metadata\":{},\"cells\":[{\"cell_type\":\"markdown\","
		  "\"metadata\":{},\"id\":\"a\\u0000b\",\"source\":\"\"}]}", "cells[0].id:" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		err_t err = { 0 };
		json_t *nb = nbformat_read(cases[i].src, strlen(cases[i].src), &err);

		if (nb || strncmp(err.msg, cases[i].msg, strlen(cases[i].msg)))
			fprintf(stderr, "case %zu: got \"%s\"\n", i, err.msg);
		assert_null(nb);
		assert_int_equal(strncmp(err.msg, cases[i].msg, strlen(cases[i].msg)), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_nbformat),
		cmocka_unit_test(test_float_repr),
		cmocka_unit_test(test_roundtrip_is_stable),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests_name("nbformat", tests, NULL, NULL);
}
