/*
 * Unit tests for the login pieces: the `next` sanitiser (login.c) against
 * the open redirects Jupyter Server's advisories describe, the login
 * cookie's signer (cookie.c: any changed byte, another key, another token,
 * age), Cookie header parsing, the Host and Origin checks (origin.c) and
 * URL decoding (form.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../server/cookie.h"
#include "../../server/form.h"
#include "../../server/login.h"
#include "../../server/origin.h"

/* --- next ------------------------------------------------------------------ */

static const char *const hostile[] = {
	"//evil.example",
	"///evil.example",
	"////evil.example/x",
	"/\\evil.example",
	"/\\/evil.example",
	"\\\\evil.example",
	"\\/evil.example",
	"http://evil.example",
	"https://evil.example/",
	"HTTP://evil.example",
	"https:evil.example",
	"javascript:alert(1)",
	"data:text/html,<script>alert(1)</script>",
	"evil.example",
	"",
	" //evil.example",
	"/%2f%2fevil.example",
	"%2f%2fevil.example",
	"/%2F%2Fevil.example",
	"/%2fevil.example",
	"/%5cevil.example",
	"/%5Cevil.example",
	"/%252f%252fevil.example",
	"/%25252f%25252fevil.example",
	"/%2525252f%2525252fevil.example/%2525252f",
	"/\r\nLocation: http://evil.example",
	"/%0d%0aSet-Cookie:%20x=1",
	"/\t/evil.example",
	"/%09/evil.example",
	"/\x01evil",
	"/..//evil.example",
	"/lab/../../evil",
	"/lab/%2e%2e/%2e%2e/evil",
	"/lab/..",
	"/%00//evil.example",
};

static void test_next_hostile(void **state)
{
	char out[LOGIN_NEXT_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++) {
		bool kept = login_next_sanitise("/", hostile[i], out, sizeof out);

		if (kept)
			fail_msg("kept hostile next #%zu %s as %s", i, hostile[i], out);
		assert_string_equal(out, "/");
	}
	assert_false(login_next_sanitise("/", NULL, out, sizeof out));
	assert_string_equal(out, "/");
}

static void test_next_base_url(void **state)
{
	char out[LOGIN_NEXT_MAX];

	(void)state;
	assert_true(login_next_sanitise("/nb/", "/nb/lab", out, sizeof out));
	assert_string_equal(out, "/nb/lab");
	assert_true(login_next_sanitise("/nb/", "/nb", out, sizeof out));
	assert_string_equal(out, "/nb");
	/* same origin, but outside the base URL */
	assert_false(login_next_sanitise("/nb/", "/lab", out, sizeof out));
	assert_string_equal(out, "/nb/");
	assert_false(login_next_sanitise("/nb/", "/nbx/lab", out, sizeof out));
	assert_false(login_next_sanitise("/nb/", "/nb//evil.example", out, sizeof out));
	assert_false(login_next_sanitise("/nb/", "/nb/../x", out, sizeof out));
	for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++) {
		assert_false(login_next_sanitise("/nb/", hostile[i], out, sizeof out));
		assert_string_equal(out, "/nb/");
	}
}

static void test_next_kept(void **state)
{
	static const char *const good[][2] = {
		{ "/", "/" },
		{ "/lab", "/lab" },
		{ "/lab/tree/a.ipynb", "/lab/tree/a.ipynb" },
		{ "/lab/tree/my%20notebook.ipynb", "/lab/tree/my%20notebook.ipynb" },
		{ "/lab?reset", "/lab?reset" },
		{ "/lab/tree/100%25.ipynb", "/lab/tree/100%25.ipynb" },
		{ "/lab/tree/..hidden.txt", "/lab/tree/..hidden.txt" },
		/* bytes a Location header must not hold raw are encoded */
		{ "/lab/tree/a b.ipynb", "/lab/tree/a%20b.ipynb" },
		{ "/lab/tree/\xc3\xa9t\xc3\xa9.ipynb", "/lab/tree/%C3%A9t%C3%A9.ipynb" },
		{ "/lab/\"<x>", "/lab/%22%3Cx%3E" },
	};
	char out[LOGIN_NEXT_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		if (!login_next_sanitise("/", good[i][0], out, sizeof out))
			fail_msg("refused %s", good[i][0]);
		assert_string_equal(out, good[i][1]);
	}
	/* too long for out: the base URL instead, not a cut path */
	assert_false(login_next_sanitise("/", "/lab/tree/abcdefgh", out, 8));
	assert_string_equal(out, "/");
}

/* --- the login cookie -------------------------------------------------------- */

static void key_for(const char *token, uint8_t key[COOKIE_KEY_LEN])
{
	uint8_t secret[COOKIE_KEY_LEN];

	for (size_t i = 0; i < sizeof secret; i++)
		secret[i] = (uint8_t)(i * 7 + 1);
	cookie_key_derive(secret, token, key);
}

static void test_cookie_sign_verify(void **state)
{
	uint8_t key[COOKIE_KEY_LEN], other[COOKIE_KEY_LEN];
	char v[COOKIE_LOGIN_MAX], w[COOKIE_LOGIN_MAX + 2];
	long long now = 1800000000;

	(void)state;
	key_for("token-one", key);
	assert_int_equal(cookie_login_sign(key, now, v), 0);
	assert_true(cookie_login_verify(key, v, now, COOKIE_LOGIN_MAX_AGE));
	assert_true(cookie_login_verify(key, v, now + 1000, COOKIE_LOGIN_MAX_AGE));
	/* two cookies differ (nonce) */
	assert_int_equal(cookie_login_sign(key, now, w), 0);
	assert_string_not_equal(v, w);
	/* every byte matters */
	for (size_t i = 0; v[i]; i++) {
		memcpy(w, v, sizeof v);
		w[i] = (char)(w[i] == '1' ? '2' : w[i] == 'a' ? 'b' : w[i] == '.' ? '-' : '1');
		if (cookie_login_verify(key, w, now, COOKIE_LOGIN_MAX_AGE))
			fail_msg("accepted %s with byte %zu changed", w, i);
	}
	/* cut or extended */
	memcpy(w, v, sizeof v);
	w[strlen(w) - 1] = '\0';
	assert_false(cookie_login_verify(key, w, now, COOKIE_LOGIN_MAX_AGE));
	snprintf(w, sizeof w, "%s0", v);
	assert_false(cookie_login_verify(key, w, now, COOKIE_LOGIN_MAX_AGE));
	/* another token, another key: the old cookie is worthless */
	key_for("token-two", other);
	assert_memory_not_equal(key, other, COOKIE_KEY_LEN);
	assert_false(cookie_login_verify(other, v, now, COOKIE_LOGIN_MAX_AGE));
	/* too old, or from the future */
	assert_false(cookie_login_verify(key, v, now + COOKIE_LOGIN_MAX_AGE + 1,
					 COOKIE_LOGIN_MAX_AGE));
	assert_false(cookie_login_verify(key, v, now - 3600, COOKIE_LOGIN_MAX_AGE));
	/* garbage */
	assert_false(cookie_login_verify(key, NULL, now, COOKIE_LOGIN_MAX_AGE));
	assert_false(cookie_login_verify(key, "", now, COOKIE_LOGIN_MAX_AGE));
	assert_false(cookie_login_verify(key, "1.", now, COOKIE_LOGIN_MAX_AGE));
	assert_false(cookie_login_verify(key, "token-one", now, COOKIE_LOGIN_MAX_AGE));
}

static void test_cap_cookie_sign_verify(void **state)
{
	static const char tok[] = "cg1.AQAHcGF0OjEyMwEACmFjdGlvbj1yZWFkXyw-";
	uint8_t key[COOKIE_KEY_LEN], other[COOKIE_KEY_LEN];
	char v[COOKIE_VALUE_MAX], w[COOKIE_VALUE_MAX + 2], out[COOKIE_CAP_TOKEN_MAX + 1];
	char *long_tok = malloc(COOKIE_CAP_TOKEN_MAX + 2);
	long long now = 1800000000;

	(void)state;
	key_for("token-one", key);
	assert_int_equal(cookie_cap_sign(key, now, tok, v), 0);
	assert_non_null(cookie_cap_verify(key, v, now, COOKIE_LOGIN_MAX_AGE, out, sizeof out));
	assert_string_equal(out, tok);
	/* a root cookie's verifier does not take it, nor the other way round */
	assert_false(cookie_login_verify(key, v, now, COOKIE_LOGIN_MAX_AGE));
	assert_int_equal(cookie_login_sign(key, now, w), 0);
	assert_null(cookie_cap_verify(key, w, now, COOKIE_LOGIN_MAX_AGE, out, sizeof out));
	/* every byte matters, the token's included */
	for (size_t i = 0; v[i]; i++) {
		memcpy(w, v, sizeof v);
		w[i] = (char)(w[i] == '1' ? '2' : w[i] == 'a' ? 'b' : w[i] == '.' ? '-' : '1');
		if (cookie_cap_verify(key, w, now, COOKIE_LOGIN_MAX_AGE, out, sizeof out))
			fail_msg("accepted %s with byte %zu changed", w, i);
	}
	/* another server's key; too old; from the future; too small a buffer */
	key_for("token-two", other);
	assert_null(cookie_cap_verify(other, v, now, COOKIE_LOGIN_MAX_AGE, out, sizeof out));
	assert_null(cookie_cap_verify(key, v, now + COOKIE_LOGIN_MAX_AGE + 1, COOKIE_LOGIN_MAX_AGE,
				      out, sizeof out));
	assert_null(cookie_cap_verify(key, v, now - 3600, COOKIE_LOGIN_MAX_AGE, out, sizeof out));
	assert_null(cookie_cap_verify(key, v, now, COOKIE_LOGIN_MAX_AGE, out, 8));
	/* tokens a cookie cannot carry: empty, with separators, too long */
	assert_int_equal(cookie_cap_sign(key, now, "", v), CG_EINVAL);
	assert_int_equal(cookie_cap_sign(key, now, "cg1.a;b", v), CG_EINVAL);
	assert_int_equal(cookie_cap_sign(key, now, "cg1.a b", v), CG_EINVAL);
	assert_non_null(long_tok);
	memset(long_tok, 'a', COOKIE_CAP_TOKEN_MAX + 1);
	long_tok[COOKIE_CAP_TOKEN_MAX + 1] = '\0';
	assert_int_equal(cookie_cap_sign(key, now, long_tok, v), CG_EINVAL);
	long_tok[COOKIE_CAP_TOKEN_MAX] = '\0';
	assert_int_equal(cookie_cap_sign(key, now, long_tok, v), 0);
	assert_non_null(cookie_cap_verify(key, v, now, COOKIE_LOGIN_MAX_AGE, out, sizeof out));
	free(long_tok);
	/* garbage */
	assert_null(cookie_cap_verify(key, NULL, now, COOKIE_LOGIN_MAX_AGE, out, sizeof out));
	assert_null(cookie_cap_verify(key, "2.", now, COOKIE_LOGIN_MAX_AGE, out, sizeof out));
	assert_null(cookie_cap_verify(key, "2.1..", now, COOKIE_LOGIN_MAX_AGE, out, sizeof out));
}

static void test_cookie_secret_file(void **state)
{
	char dir[] = "/tmp/cg-login-unit-XXXXXX", path[128];
	uint8_t a[COOKIE_KEY_LEN], b[COOKIE_KEY_LEN];
	err_t err = { 0 };
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(cookie_secret_load(dir, a, &err), 0);
	snprintf(path, sizeof path, "%s/cookie_secret", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* read back the same */
	assert_int_equal(cookie_secret_load(dir, b, &err), 0);
	assert_memory_equal(a, b, COOKIE_KEY_LEN);
	/* readable by others: refused, not used */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_not_equal(cookie_secret_load(dir, b, &err), 0);
	/* a symlink is not followed */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink("/etc/hostname", path), 0);
	assert_int_not_equal(cookie_secret_load(dir, b, &err), 0);
	unlink(path);
	/* deleted: a new secret */
	assert_int_equal(cookie_secret_load(dir, b, &err), 0);
	assert_memory_not_equal(a, b, COOKIE_KEY_LEN);
	unlink(path);
	rmdir(dir);
}

static void test_cookie_get_and_name(void **state)
{
	char out[64], name[COOKIE_NAME_MAX];

	(void)state;
	assert_string_equal(cookie_get("a=1; b=2; c=3", "b", out, sizeof out), "2");
	assert_string_equal(cookie_get("a=1;b=2", "a", out, sizeof out), "1");
	assert_string_equal(cookie_get("xb=9; b=\"q\"", "b", out, sizeof out), "q");
	assert_string_equal(cookie_get("b=; c=1", "b", out, sizeof out), "");
	assert_null(cookie_get("ab=1; bc=2", "b", out, sizeof out));
	assert_null(cookie_get(NULL, "b", out, sizeof out));
	assert_null(cookie_get("b=0123456789", "b", out, 5));
	/* the first one counts */
	assert_string_equal(cookie_get("b=1; b=2", "b", out, sizeof out), "1");

	cookie_login_name("127.0.0.1:8888", name);
	assert_string_equal(name, "cellgate-127-0-0-1-8888");
	cookie_login_name("LocalHost:9", name);
	assert_string_equal(name, "cellgate-localhost-9");
	cookie_login_name("a;b=c d", name);
	assert_string_equal(name, "cellgate-a-b-c-d");
	cookie_login_name(NULL, name);
	assert_string_equal(name, "cellgate-localhost");
}

/* --- Host and Origin ---------------------------------------------------------- */

static void test_host(void **state)
{
	(void)state;
	assert_true(origin_is_loopback_bind("127.0.0.1"));
	assert_true(origin_is_loopback_bind("127.1.2.3"));
	assert_true(origin_is_loopback_bind("::1"));
	assert_false(origin_is_loopback_bind("0.0.0.0"));
	assert_false(origin_is_loopback_bind("10.0.0.1"));

	assert_true(origin_host_is_allowed("127.0.0.1:8888", "127.0.0.1", NULL));
	assert_true(origin_host_is_allowed("localhost:8888", "127.0.0.1", NULL));
	assert_true(origin_host_is_allowed("LOCALHOST", "127.0.0.1", NULL));
	assert_true(origin_host_is_allowed("[::1]:8888", "127.0.0.1", NULL));
	assert_true(origin_host_is_allowed("127.0.0.2", "127.0.0.1", NULL));
	assert_true(origin_host_is_allowed(NULL, "127.0.0.1", NULL));
	assert_false(origin_host_is_allowed("evil.example:8888", "127.0.0.1", NULL));
	assert_false(origin_host_is_allowed("evil.example", "127.0.0.1", ""));
	assert_false(origin_host_is_allowed("localhost.evil.example", "127.0.0.1", NULL));
	assert_false(origin_host_is_allowed("127.0.0.1.evil.example", "127.0.0.1", NULL));
	assert_false(origin_host_is_allowed("[::1", "127.0.0.1", NULL));
	assert_false(origin_host_is_allowed("[::1]x", "127.0.0.1", NULL));
	assert_false(origin_host_is_allowed("", "127.0.0.1", NULL));
	assert_true(origin_host_is_allowed("nb.example:8888", "127.0.0.1", "a.example, nb.example"));
	assert_true(origin_host_is_allowed("nb.example", "127.0.0.1", "nb.example:8888,NB.example"));
	assert_false(origin_host_is_allowed("nb.example.evil", "127.0.0.1", "nb.example"));
	assert_true(origin_host_is_allowed("anything", "127.0.0.1", "*"));
}

static void test_origin(void **state)
{
	(void)state;
	assert_true(origin_is_allowed(NULL, "127.0.0.1:8888", NULL));
	assert_true(origin_is_allowed("http://127.0.0.1:8888", "127.0.0.1:8888", NULL));
	assert_true(origin_is_allowed("https://nb.example", "nb.example", NULL));
	assert_false(origin_is_allowed("http://127.0.0.1:8889", "127.0.0.1:8888", NULL));
	assert_false(origin_is_allowed("http://evil.example", "127.0.0.1:8888", NULL));
	assert_false(origin_is_allowed("null", "127.0.0.1:8888", NULL));
	assert_false(origin_is_allowed("http://127.0.0.1:8888", NULL, NULL));
	assert_false(origin_is_allowed("ftp://127.0.0.1:8888", "127.0.0.1:8888", NULL));
	assert_true(origin_is_allowed("https://app.example", "127.0.0.1:8888",
				      "https://other.example,https://app.example"));
	assert_false(origin_is_allowed("https://app.example.evil", "127.0.0.1:8888",
				       "https://app.example"));
	assert_true(origin_is_allowed("http://evil.example", "127.0.0.1:8888", "*"));
}

/* --- URL encoding ---------------------------------------------------------------- */

static void test_form(void **state)
{
	char out[64];
	const char *body = "password=a%2Bb+c&_xsrf=x%3D1&next=%2Flab&empty=&bad=%zz%4";

	(void)state;
	assert_string_equal(form_field(body, strlen(body), "password", out, sizeof out), "a+b c");
	assert_string_equal(form_field(body, strlen(body), "_xsrf", out, sizeof out), "x=1");
	assert_string_equal(form_field(body, strlen(body), "next", out, sizeof out), "/lab");
	assert_string_equal(form_field(body, strlen(body), "empty", out, sizeof out), "");
	assert_string_equal(form_field(body, strlen(body), "bad", out, sizeof out), "%zz%4");
	assert_null(form_field(body, strlen(body), "pass", out, sizeof out));
	assert_null(form_field("a=%00b", 6, "a", out, sizeof out));
	assert_null(form_field(body, strlen(body), "password", out, 3));
	assert_true(form_encode("/lab/a b?c=d&e", out, sizeof out));
	assert_string_equal(out, "/lab/a%20b%3Fc%3Dd%26e");
	assert_false(form_encode("abcdef", out, 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_next_hostile),
		cmocka_unit_test(test_next_base_url),
		cmocka_unit_test(test_next_kept),
		cmocka_unit_test(test_cookie_sign_verify),
		cmocka_unit_test(test_cap_cookie_sign_verify),
		cmocka_unit_test(test_cookie_secret_file),
		cmocka_unit_test(test_cookie_get_and_name),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_origin),
		cmocka_unit_test(test_form),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
