/*
 * Unit tests for server/jsonc.c: JupyterLab's raw settings text (JSON with
 * comments and trailing commas) reduced to JSON. Inputs are parsed from
 * exact-size heap copies (no NUL after them), so the sanitizer run catches
 * any read past the length.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../server/jsonc.h"

static json_t *load(const char *s)
{
	size_t len = strlen(s);
	char *copy = malloc(len ? len : 1);
	json_t *v;

	assert_non_null(copy);
	memcpy(copy, s, len);
	v = jsonc_loadb(copy, len, NULL);
	free(copy);
	return v;
}

/* s parses to the same value as the strict JSON in expect. */
static void same(const char *s, const char *expect)
{
	json_t *got = load(s), *want = json_loads(expect, 0, NULL);

	assert_non_null(want);
	if (!got)
		fail_msg("did not parse: %s", s);
	assert_true(json_equal(got, want));
	json_decref(got);
	json_decref(want);
}

static void refused(const char *s)
{
	json_t *v = load(s);

	if (v)
		fail_msg("parsed but should not: %s", s);
}

static void test_plain_json(void **state)
{
	(void)state;
	same("{}", "{}");
	same("{\"a\": [1, 2.5, true, null, \"x\"]}", "{\"a\": [1, 2.5, true, null, \"x\"]}");
}

static void test_comments(void **state)
{
	(void)state;
	same("{\n  // a line comment\n  \"a\": 1\n}", "{\"a\": 1}");
	same("/* head */ {\"a\": /* inline */ 1} // tail", "{\"a\": 1}");
	same("{\"a\": 1 /* multi\n line */, \"b\": 2}", "{\"a\": 1, \"b\": 2}");
	same("{\"a\"/**/:1}", "{\"a\": 1}");
	/* what JupyterLab writes: every default as a comment, then the user's */
	same("{\n    // Theme\n    // @jupyterlab/apputils-extension:themes\n\n"
	     "    \"theme\": \"JupyterLab Dark\"\n}", "{\"theme\": \"JupyterLab Dark\"}");
}

static void test_trailing_commas(void **state)
{
	(void)state;
	same("{\"a\": 1,}", "{\"a\": 1}");
	same("[1, 2, ]", "[1, 2]");
	same("{\"a\": [1, {\"b\": 2,},], }", "{\"a\": [1, {\"b\": 2}]}");
	same("{\"a\": 1, // last\n}", "{\"a\": 1}");
	same("{\"a\": 1, /* x */ \"b\": 2}", "{\"a\": 1, \"b\": 2}");
}

static void test_strings_untouched(void **state)
{
	(void)state;
	same("{\"a\": \"// not a comment\", \"b\": \"/* nor */\"}",
	     "{\"a\": \"// not a comment\", \"b\": \"/* nor */\"}");
	same("{\"a\": \",}\", \"b\": \",]\"}", "{\"a\": \",}\", \"b\": \",]\"}");
	same("{\"a\": \"x\\\"//y\", \"b\": \"\\\\\"}", "{\"a\": \"x\\\"//y\", \"b\": \"\\\\\"}");
}

static void test_still_refused(void **state)
{
	(void)state;
	refused("");
	refused("// only a comment");
	refused("{\"a\": 1");
	refused("{\"a\": 1} /* unterminated");
	refused("{\"a\": /* unterminated 1}");
	refused("[1,,]");
	refused("[,1]");
	refused("{,}");
	refused("{a: 1}");
	refused("{'a': 1}");
	refused("{\"a\": 0x10}");
	refused("{\"a\": 1, \"a\": 2}");
	refused("{\"a\": \"unterminated}");
	refused("{\"a\": \"ends in a backslash\\");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_json),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_trailing_commas),
		cmocka_unit_test(test_strings_untouched),
		cmocka_unit_test(test_still_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
