/*
 * Unit tests for common/json_check.c, the validator every JSON part from a
 * kernel or a client goes through: strict RFC 8259, UTF-8 checked, depth
 * bounded, exactly one value. Inputs are checked from exact-size heap
 * copies (no NUL after them), so the sanitizer run catches any read past
 * the length.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/json_check.h"

static int check_n(const char *s, size_t len, err_t *err)
{
	char *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, s, len);
	rc = json_check(copy, len, err);
	free(copy);
	return rc;
}

static int check(const char *s, err_t *err)
{
	return check_n(s, strlen(s), err);
}

static int check_object(const char *s, err_t *err)
{
	size_t len = strlen(s);
	char *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, s, len);
	rc = json_check_object(copy, len, err);
	free(copy);
	return rc;
}

static int utf8(const char *s)
{
	size_t len = strlen(s);
	char *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, s, len);
	rc = utf8_check(copy, len);
	free(copy);
	return rc;
}

static void accepts(const char *s)
{
	err_t err = { 0 };

	if (check(s, &err) != 0)
		fail_msg("refused %s: %s", s, err.msg);
}

static void refuses(const char *s)
{
	err_t err = { 0 };

	if (check(s, &err) != CG_EINVAL)
		fail_msg("accepted %s", s);
	assert_int_equal(err.code, CG_EINVAL);
	assert_non_null(strstr(err.msg, "invalid JSON at byte"));
}

static void test_valid(void **state)
{
	(void)state;
	static const char *ok[] = {
		"{}",
		"[]",
		" \t\r\n{ } \n",
		"{\"a\":1}",
		"{\"msg_id\":\"m\",\"msg_type\":\"execute_request\",\"n\":[1,-2,3.5,-0,0.0,1e9,1E-9,"
		"2.5e+3,-0.5E-1],\"t\":true,\"f\":false,\"z\":null,\"o\":{\"p\":{}}}",
		"{\"\":\"\"}",
		"[[[]],[{}],{\"a\":[]}]",
		"\"just a string\"",
		"0",
		"-12.5e3",
		"true",
		"null",
		"\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00 \\uabcd\"",
		"{\"snow\":\"\xe2\x98\x83\",\"e\":\"caf\xc3\xa9\",\"emoji\":\"\xf0\x9f\x98\x80\"}",
		"[\"\xc2\x80\",\"\xdf\xbf\",\"\xe0\xa0\x80\",\"\xef\xbf\xbf\",\"\xf0\x90\x80\x80\","
		"\"\xf4\x8f\xbf\xbf\"]",
		"{\"a\" : 1 , \"b\" : [ 1 , 2 ] }",
	};

	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
		accepts(ok[i]);
}

static void test_not_rfc8259(void **state)
{
	(void)state;
	static const char *bad[] = {
		"", " ", "{", "}", "[", "{]", "[}", "{\"a\":1]", "[1}", "{\"a\"}", "{\"a\":}",
		"{\"a\" 1}", "{a:1}", "{'a':1}", "{1:2}", "{\"a\":1,}", "[1,]", "[,1]", "[1 2]",
		"{\"a\":1 \"b\":2}", "{,}", "NaN", "[NaN]", "Infinity", "-Infinity", "[01]", "01",
		"[1.]", "[.5]", "[+1]", "[-]", "[1e]", "[1e+]", "[0x10]", "[tru]", "[True]",
		"[nul]", "[nulll]", "{\"a\":undefined}", "/* c */ {}", "{} // c", "[\"a\" \"b\"]",
		"\"unterminated", "\"bad \\x escape\"", "\"bad \\u12G4\"", "\"short \\u12\"",
		"\"\\u\"", "\"trailing backslash\\", "\"tab\there\"", "\"nl\nhere\"",
	};

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		refuses(bad[i]);
}

static void test_control_and_nul(void **state)
{
	(void)state;
	err_t err = { 0 };

	/* a NUL inside a string, and one after the value, both count */
	assert_int_equal(check_n("{\"a\":\"\0\"}", 9, &err), CG_EINVAL);
	assert_non_null(strstr(err.msg, "control character"));
	assert_int_equal(check_n("{}\0", 3, &err), CG_EINVAL);
	assert_int_equal(check_n("\0{}", 3, &err), CG_EINVAL);
	/* the length is what counts, not a NUL: a prefix is checked alone */
	assert_int_equal(check_n("{}garbage", 2, &err), 0);
	assert_int_equal(check_n("{\"a\":1}", 6, &err), CG_EINVAL);
	for (int c = 1; c < 0x20; c++) {
		char s[8] = { '"', 'x', (char)c, 'y', '"' };

		assert_int_equal(check_n(s, 5, &err), CG_EINVAL);
	}
	/* DEL (0x7f) is allowed by RFC 8259 */
	assert_int_equal(check_n("\"\x7f\"", 3, &err), 0);
}

static void test_trailing(void **state)
{
	(void)state;
	err_t err = { 0 };

	assert_int_equal(check("{} x", &err), CG_EINVAL);
	assert_string_equal(err.msg, "invalid JSON at byte 3: trailing characters");
	refuses("{}{}");
	refuses("{}]");
	refuses("{}}");
	refuses("[] []");
	refuses("{},");
	refuses("1 2");
	refuses("true false");
	refuses("\"a\"\"b\"");
	refuses("{}\xef\xbb\xbf");
	refuses("\xef\xbb\xbf{}"); /* a BOM is not JSON whitespace */
	refuses("{}\v");
	refuses("{}\f");
	accepts("{}\r\n\t ");
}

static void test_depth(void **state)
{
	(void)state;
	size_t max = JSON_CHECK_MAX_DEPTH, bomb = 1000000;
	char *s = malloc(2 * bomb + 16);
	err_t err = { 0 };

	assert_non_null(s);
	assert_int_equal(JSON_CHECK_MAX_DEPTH, 256);
	/* exactly the limit: fine */
	memset(s, '[', max);
	memset(s + max, ']', max);
	assert_int_equal(check_n(s, 2 * max, &err), 0);
	/* one more: refused, at the bracket that went over */
	memset(s, '[', max + 1);
	memset(s + max + 1, ']', max + 1);
	assert_int_equal(check_n(s, 2 * max + 2, &err), CG_EINVAL);
	assert_string_equal(err.msg, "invalid JSON at byte 256: nested too deeply");
	/* objects count too, mixed with arrays */
	{
		size_t len = 0;

		for (size_t i = 0; i < max / 2; i++) {
			memcpy(s + len, "{\"a\":[", 6);
			len += 6;
		}
		s[len++] = '{';
		s[len++] = '}';
		assert_int_equal(check_n(s, len, &err), CG_EINVAL);
		assert_non_null(strstr(err.msg, "nested too deeply"));
	}
	/* a bomb: a million brackets, refused without exhausting anything */
	memset(s, '[', bomb);
	memset(s + bomb, ']', bomb);
	assert_int_equal(check_n(s, 2 * bomb, &err), CG_EINVAL);
	assert_non_null(strstr(err.msg, "nested too deeply"));
	memset(s, '{', bomb);
	assert_int_equal(check_n(s, bomb, &err), CG_EINVAL);
	/* deep but unclosed at the limit: refused as incomplete */
	memset(s, '[', max);
	assert_int_equal(check_n(s, max, &err), CG_EINVAL);
	assert_non_null(strstr(err.msg, "unexpected end"));
	free(s);
}

static void test_utf8(void **state)
{
	(void)state;
	static const char *bad[] = {
		"\x80",             /* a lone continuation byte */
		"\xbf",
		"\xc0\xaf",         /* overlong '/' */
		"\xc1\xbf",         /* overlong */
		"\xc3",             /* truncated */
		"\xc3(",            /* not a continuation */
		"\xe0\x80\xaf",     /* overlong 3-byte */
		"\xe2\x98",         /* truncated 3-byte */
		"\xed\xa0\x80",     /* U+D800, a surrogate */
		"\xed\xbf\xbf",     /* U+DFFF */
		"\xf0\x80\x80\xaf", /* overlong 4-byte */
		"\xf4\x90\x80\x80", /* above U+10FFFF */
		"\xf5\x80\x80\x80",
		"\xf8\x88\x80\x80\x80",
		"\xfe",
		"\xff",
		"\xf0\x9f\x98",     /* truncated emoji */
	};
	static const char *good[] = {
		"", "plain", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf",
		"\xee\x80\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf",
		"caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80",
	};

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char json[32];
		err_t err = { 0 };

		if (utf8(bad[i]) != CG_EINVAL)
			fail_msg("utf8_check accepted bad sequence %zu", i);
		/* in a string */
		snprintf(json, sizeof json, "{\"k\":\"%s\"}", bad[i]);
		assert_int_equal(check(json, &err), CG_EINVAL);
		assert_non_null(strstr(err.msg, "invalid UTF-8"));
		/* in a key */
		snprintf(json, sizeof json, "{\"%s\":1}", bad[i]);
		assert_int_equal(check(json, &err), CG_EINVAL);
		/* outside a string */
		snprintf(json, sizeof json, "{}%s", bad[i]);
		assert_int_equal(check(json, &err), CG_EINVAL);
	}
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		char json[64];
		err_t err = { 0 };

		if (utf8(good[i]) != 0)
			fail_msg("utf8_check refused good sequence %zu", i);
		snprintf(json, sizeof json, "[\"%s\"]", good[i]);
		assert_int_equal(check(json, &err), 0);
	}
	/* a truncated sequence at the very end of the input */
	assert_int_equal(utf8_check("ab\xe2\x98\x83", 4), CG_EINVAL);
	assert_int_equal(utf8_check("ab\xe2\x98\x83", 5), 0);
}

static void test_object(void **state)
{
	(void)state;
	err_t err = { 0 };
	static const char *not_objects[] = { "[]", "1", "\"{}\"", "null", "true", "", "  ", "x{}" };

	assert_int_equal(check_object("{}", &err), 0);
	assert_int_equal(check_object("\n\t {\"a\":{\"b\":[]}} \n", &err), 0);
	for (size_t i = 0; i < sizeof not_objects / sizeof *not_objects; i++) {
		err_clear(&err);
		if (check_object(not_objects[i], &err) != CG_EINVAL)
			fail_msg("json_check_object accepted \"%s\"", not_objects[i]);
		assert_string_equal(err.msg, "expected a JSON object");
	}
	/* an object start is not enough: the rest is checked too */
	assert_int_equal(check_object("{\"a\":1,}", &err), CG_EINVAL);
	assert_non_null(strstr(err.msg, "invalid JSON"));
	assert_int_equal(check_object("{} []", &err), CG_EINVAL);
	assert_int_equal(check_object("{\"a\":\"\xed\xa0\x80\"}", &err), CG_EINVAL);
	/* err may be NULL */
	assert_int_equal(json_check_object("[]", 2, NULL), CG_EINVAL);
	assert_int_equal(json_check("[", 1, NULL), CG_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_not_rfc8259),
		cmocka_unit_test(test_control_and_nul),
		cmocka_unit_test(test_trailing),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_object),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
