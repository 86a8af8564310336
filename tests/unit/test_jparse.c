/*
 * Unit tests for common/jparse.c: it must build the very tree json_loadb
 * builds, and refuse what json_loadb refuses, for the flags the server uses
 * (0, JSON_REJECT_DUPLICATES, JSON_ALLOW_NUL). Edge cases one by one, then
 * many thousands of randomly mutated documents compared side by side.
 * Inputs are exact-size heap copies, so the sanitizer run catches a read
 * past the length.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/jparse.h"

/* Both parse s (len bytes) with flags; they must agree. Returns whether it parsed. */
static bool agree_n(const char *s, size_t len, size_t flags)
{
	char *copy = malloc(len ? len : 1);
	json_error_t e1, e2;
	json_t *a, *b;
	bool ok;

	assert_non_null(copy);
	memcpy(copy, s, len);
	a = json_loadb(copy, len, flags, &e1);
	b = jparse(copy, len, flags, &e2);
	if ((a == NULL) != (b == NULL) || (a && !json_equal(a, b))) {
		fprintf(stderr, "disagree on %zu bytes (flags %zx): jansson %s (%s), jparse %s (%s)\n  %.*s\n",
			len, flags, a ? "parsed" : "refused", a ? "" : e1.text, b ? "parsed" : "refused",
			b ? "" : e2.text, (int)(len > 200 ? 200 : len), s);
		fail();
	}
	ok = a != NULL;
	json_decref(a);
	json_decref(b);
	free(copy);
	return ok;
}

static bool agree(const char *s, size_t flags)
{
	return agree_n(s, strlen(s), flags);
}

static const size_t FLAGS[] = { 0, JSON_REJECT_DUPLICATES, JSON_ALLOW_NUL };

static void test_edge_cases(void **state)
{
	static const char *const cases[] = {
		"{}", "[]", " [ ] ", "\t{\n}\r\n", "[1]", "[-0]", "[0.0]", "[-0.0]", "[1e5]", "[1E+5]",
		"[1e-5]", "[1.5e308]", "[1e309]", "[-1e309]", "[1e-400]", "[01]", "[1.]", "[.5]",
		"[+1]", "[1e]", "[1e+]", "[-]", "[9223372036854775807]", "[9223372036854775808]",
		"[-9223372036854775808]", "[-9223372036854775809]", "[123456789012345678901234567890.5]",
		"[true, false, null]", "[tru]", "[nul]", "[True]", "[\"a\"]", "[\"\\u00e9\"]",
		"[\"\\ud83d\\ude00\"]", "[\"\\ud83d\"]", "[\"\\ude00\"]", "[\"\\ud83d\\u0041\"]",
		"[\"\\u0000\"]", "[\"a\\u0000b\"]", "{\"\\u0000\": 1}", "{\"a\\u0000\": 1}",
		"[\"\\x\"]", "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]", "[\"\\u12\"]", "[\"\\uZZZZ\"]",
		"[\"tab\there\"]", "[\"nl\nhere\"]", "[\"\x7f\"]", "[\"é\"]", "[\"\xc3\"]",
		"[\"\xc0\xaf\"]", "[\"\xe0\x80\xaf\"]", "[\"\xed\xa0\x80\"]", "[\"\xf4\x90\x80\x80\"]",
		"[\"\xf0\x9f\x98\x80\"]", "[\"\xff\"]", "{\"a\": 1, \"a\": 2}", "{\"a\" 1}", "{\"a\": 1,}",
		"[1,]", "[1 2]", "{1: 2}", "{\"a\": }", "\"x\"", "1", "null", "", " ", "[", "{", "[\"",
		"[\"abc", "[1] x", "[1] ]", "{} {}", "[\"\\", "[\"\\u\"]", "{\"k\":[{\"k\":[{}]}]}",
		"[1.7976931348623157e308]", "[5e-324]", "[2.2250738585072014e-308]", "[0.1]",
		"[1e00000000000000000000000000001]", "[-0e-0]", "[\"\\u002F\"]", "[\"\\uD834\\uDD1E\"]",
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		for (size_t f = 0; f < sizeof FLAGS / sizeof *FLAGS; f++)
			agree(cases[i], FLAGS[f]);
	/* a NUL byte in the input itself */
	agree_n("[\"a\0b\"]", 7, 0);
	agree_n("[1]\0", 4, 0);
	agree_n("\0[1]", 4, 0);
}

static void test_depth(void **state)
{
	(void)state;
	for (int depth = 2040; depth <= 2052; depth++) {
		char *s = malloc((size_t)depth * 2 + 8), *p = s;

		for (int i = 0; i < depth; i++)
			*p++ = '[';
		for (int i = 0; i < depth; i++)
			*p++ = ']';
		agree_n(s, (size_t)(p - s), 0);
		/* with a scalar inside, which is a level of its own */
		p = s;
		for (int i = 0; i < depth; i++)
			*p++ = '[';
		*p++ = '1';
		for (int i = 0; i < depth; i++)
			*p++ = ']';
		agree_n(s, (size_t)(p - s), 0);
		free(s);
	}
	/* far past the limit: an error, not a stack overflow */
	{
		size_t n = 1000000;
		char *s = malloc(n);

		memset(s, '[', n);
		assert_false(agree_n(s, n, 0));
		free(s);
	}
}

static const char *const SEEDS[] = {
	"{\"cells\": [{\"cell_type\": \"code\", \"id\": \"c1\", \"source\": \"print(1)\\n\", "
	"\"metadata\": {\"tags\": [\"a\", \"b\"]}, \"outputs\": [{\"output_type\": \"stream\", "
	"\"name\": \"stdout\", \"text\": [\"h\\u00e9llo\\n\", \"\\ud83d\\ude00\"]}], "
	"\"execution_count\": 12}], \"metadata\": {\"x\": [1.5, -2, 3e10, true, false, null]}, "
	"\"nbformat\": 4, \"nbformat_minor\": 5}",
	"[\"\xc3\xa9\xe2\x9c\x93\xf0\x9f\x98\x80\", \"\\\"\\\\\\/\\b\\f\\n\\r\\t\", {\"a\": {\"b\": []}}, 0, -0.5e-3]",
	"{\"a\": 1, \"b\": {\"c\": [1, 2, {\"d\": \"\\u0041\\u0000\"}]}, \"e\": 123456789012}",
};

static void test_mutations(void **state)
{
	static const char alphabet[] = "{}[]\",:\\u0123456789abcdefABCDEF-+.eE tn\r\x01\x7f\x80\xbf\xc3\xed\xf0\xff";
	unsigned seed = 12345;
	size_t parsed = 0, refused = 0;

	(void)state;
	for (size_t s = 0; s < sizeof SEEDS / sizeof *SEEDS; s++) {
		size_t n = strlen(SEEDS[s]);
		char *buf = malloc(n + 8);

		for (int round = 0; round < 20000; round++) {
			size_t len = n, edits = 1 + (size_t)(rand_r(&seed) % 3);

			memcpy(buf, SEEDS[s], n);
			for (size_t e = 0; e < edits; e++) {
				size_t at = (size_t)rand_r(&seed) % len;
				char c = alphabet[(size_t)rand_r(&seed) % (sizeof alphabet - 1)];

				switch (rand_r(&seed) % 3) {
				case 0: buf[at] = c; break;
				case 1: memmove(buf + at, buf + at + 1, len - at - 1); len--; break;
				default:
					memmove(buf + at + 1, buf + at, len - at);
					buf[at] = c;
					len++;
				}
				if (len == 0 || len >= n + 4)
					break;
			}
			if (agree_n(buf, len, FLAGS[(size_t)round % 3]))
				parsed++;
			else
				refused++;
		}
		free(buf);
	}
	/* the mutations reach both sides of the grammar */
	assert_true(parsed > 1000 && refused > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edge_cases),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_mutations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
