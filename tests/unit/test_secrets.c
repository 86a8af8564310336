/*
 * Unit tests for policy/secrets.c: which names are names, values set,
 * replaced, read (binary, at the size limit), listed without their values,
 * deleted (and then gone from the file's bytes too), the file's mode (made
 * 0600; refused once others can read it), and two connections (a server
 * and the command line) seeing each other's changes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../policy/secrets.h"

typedef struct fixture {
	char dir[64];
	char file[128];
	policy_secrets_t *s;
} fixture_t;

static int setup(void **state)
{
	fixture_t *f = calloc(1, sizeof *f);
	err_t err = { 0 };

	if (!f)
		return -1;
	snprintf(f->dir, sizeof f->dir, "/tmp/cg-secrets-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->file, sizeof f->file, "%s/secrets.sqlite", f->dir);
	f->s = policy_secrets_open(f->dir, &err);
	if (!f->s) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *f = *state;
	char path[160];

	policy_secrets_close(&f->s);
	unlink(f->file);
	snprintf(path, sizeof path, "%s/secrets.sqlite-journal", f->dir);
	unlink(path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void test_names(void **state)
{
	static const char *const good[] = { "A", "api_key", "OPENAI_API_KEY", "db.password",
					    "x-1", "_private", "9lives" };
	static const char *const bad[] = { "", ".", "..", ".hidden", "-rf", "a/b", "a b",
					   "a\nb", "caf\xc3\xa9", "a%2fb", "a:b", "a?b", "a#b" };
	char why[160], longest[SECRET_NAME_MAX + 2];

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		assert_true(policy_secret_name_ok(good[i], why, sizeof why));
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		why[0] = '\0';
		assert_false(policy_secret_name_ok(bad[i], why, sizeof why));
		assert_true(why[0] != '\0');
	}
	assert_false(policy_secret_name_ok(NULL, why, sizeof why));
	memset(longest, 'a', sizeof longest);
	longest[SECRET_NAME_MAX] = '\0';
	assert_true(policy_secret_name_ok(longest, why, sizeof why));
	longest[SECRET_NAME_MAX] = 'a';
	longest[SECRET_NAME_MAX + 1] = '\0';
	assert_false(policy_secret_name_ok(longest, why, sizeof why));
	assert_non_null(strstr(why, "65"));
}

static void test_set_get_replace_delete(void **state)
{
	fixture_t *f = *state;
	err_t err = { 0 };
	char *v = NULL;
	size_t n = 0;
	bool replaced = true;

	assert_int_equal(policy_secrets_get(f->s, "token", &v, &n, &err), CG_ENOTFOUND);
	assert_null(v);
	assert_int_equal(policy_secrets_set(f->s, "token", "s3cr3t-one", 10, "alice", &replaced,
					    &err), 0);
	assert_false(replaced);
	assert_int_equal(policy_secrets_get(f->s, "token", &v, &n, &err), 0);
	assert_int_equal(n, 10);
	assert_memory_equal(v, "s3cr3t-one", 10);
	assert_int_equal(v[n], '\0');
	policy_secret_free(v, n);
	assert_int_equal(policy_secrets_set(f->s, "token", "two", 3, "bob", &replaced, &err), 0);
	assert_true(replaced);
	assert_int_equal(policy_secrets_get(f->s, "token", &v, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(v, "two", 3);
	policy_secret_free(v, n);
	assert_int_equal(policy_secrets_delete(f->s, "token", &err), 0);
	assert_int_equal(policy_secrets_delete(f->s, "token", &err), CG_ENOTFOUND);
	assert_non_null(strstr(err.msg, "no secret token"));
	assert_int_equal(policy_secrets_get(f->s, "token", &v, &n, &err), CG_ENOTFOUND);
	/* bad names never reach the table */
	assert_int_equal(policy_secrets_set(f->s, "../x", "v", 1, "a", NULL, &err), CG_EINVAL);
	assert_int_equal(policy_secrets_get(f->s, "a b", &v, &n, &err), CG_EINVAL);
	assert_int_equal(policy_secrets_delete(f->s, "", &err), CG_EINVAL);
}

static void test_values_bounded_and_binary(void **state)
{
	fixture_t *f = *state;
	err_t err = { 0 };
	char *big = malloc(SECRET_VALUE_MAX + 1), *v = NULL;
	static const char bin[] = { 'a', 0, 'b', '\n', (char)0xff, 0 };
	size_t n = 0;

	assert_non_null(big);
	memset(big, 'x', SECRET_VALUE_MAX + 1);
	assert_int_equal(policy_secrets_set(f->s, "big", big, SECRET_VALUE_MAX + 1, "a", NULL, &err),
			 CG_ETOOBIG);
	/* the error names sizes, not the value */
	assert_null(strstr(err.msg, "xxx"));
	assert_int_equal(policy_secrets_set(f->s, "big", big, SECRET_VALUE_MAX, "a", NULL, &err), 0);
	assert_int_equal(policy_secrets_get(f->s, "big", &v, &n, &err), 0);
	assert_int_equal(n, SECRET_VALUE_MAX);
	policy_secret_free(v, n);
	assert_int_equal(policy_secrets_set(f->s, "empty", "", 0, "a", NULL, &err), CG_EINVAL);
	assert_int_equal(policy_secrets_set(f->s, "bin", bin, sizeof bin, "a", NULL, &err), 0);
	assert_int_equal(policy_secrets_get(f->s, "bin", &v, &n, &err), 0);
	assert_int_equal(n, sizeof bin);
	assert_memory_equal(v, bin, sizeof bin);
	policy_secret_free(v, n);
	free(big);
}

static void test_list_has_no_values(void **state)
{
	fixture_t *f = *state;
	err_t err = { 0 };
	json_t *list = NULL, *e;
	char *text;

	assert_int_equal(policy_secrets_set(f->s, "zeta", "VALUE-ZETA-123", 14, "alice", NULL, &err),
			 0);
	assert_int_equal(policy_secrets_set(f->s, "alpha", "VALUE-ALPHA-456", 15, "bob", NULL, &err),
			 0);
	assert_int_equal(policy_secrets_list(f->s, &list, &err), 0);
	assert_int_equal(json_array_size(list), 2);
	e = json_array_get(list, 0);
	assert_string_equal(json_string_value(json_object_get(e, "name")), "alpha");
	assert_string_equal(json_string_value(json_object_get(e, "created_by")), "bob");
	assert_non_null(json_string_value(json_object_get(e, "created")));
	assert_null(json_object_get(e, "value"));
	text = json_dumps(list, 0);
	assert_null(strstr(text, "VALUE-"));
	free(text);
	json_decref(list);
}

/* The file's bytes, to look for a value in them. */
static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static void test_deleted_value_leaves_the_file(void **state)
{
	fixture_t *f = *state;
	static const char value[] = "PLAINTEXT-MARKER-0123456789";
	err_t err = { 0 };
	size_t n;
	char *bytes;

	assert_int_equal(policy_secrets_set(f->s, "gone", value, sizeof value - 1, "a", NULL, &err),
			 0);
	bytes = slurp(f->file, &n);
	assert_non_null(memmem(bytes, n, value, sizeof value - 1));
	free(bytes);
	assert_int_equal(policy_secrets_set(f->s, "gone", "other", 5, "a", NULL, &err), 0);
	bytes = slurp(f->file, &n);
	assert_null(memmem(bytes, n, value, sizeof value - 1));
	free(bytes);
	assert_int_equal(policy_secrets_delete(f->s, "gone", &err), 0);
	bytes = slurp(f->file, &n);
	assert_null(memmem(bytes, n, "other", 5));
	free(bytes);
}

static void test_file_mode(void **state)
{
	fixture_t *f = *state;
	struct stat st;
	err_t err = { 0 };
	policy_secrets_t *again;

	assert_int_equal(stat(f->file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	policy_secrets_close(&f->s);
	assert_int_equal(chmod(f->file, 0644), 0);
	again = policy_secrets_open(f->dir, &err);
	assert_null(again);
	assert_int_equal(err.code, CG_ESTATE);
	assert_non_null(strstr(err.msg, "chmod 600"));
	assert_int_equal(chmod(f->file, 0600), 0);
	f->s = policy_secrets_open(f->dir, &err);
	assert_non_null(f->s);
}

static void test_two_connections(void **state)
{
	fixture_t *f = *state;
	err_t err = { 0 };
	policy_secrets_t *cli = policy_secrets_open(f->dir, &err);
	char *v = NULL;
	size_t n = 0;

	assert_non_null(cli);
	assert_int_equal(policy_secrets_set(cli, "shared", "from-cli", 8, "local:root", NULL, &err),
			 0);
	assert_int_equal(policy_secrets_get(f->s, "shared", &v, &n, &err), 0);
	assert_memory_equal(v, "from-cli", 8);
	policy_secret_free(v, n);
	assert_int_equal(policy_secrets_delete(f->s, "shared", &err), 0);
	assert_int_equal(policy_secrets_get(cli, "shared", &v, &n, &err), CG_ENOTFOUND);
	policy_secrets_close(&cli);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_set_get_replace_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_values_bounded_and_binary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_has_no_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deleted_value_leaves_the_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_connections, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
