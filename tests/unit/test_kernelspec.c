/*
 * Unit tests for kernels/kernelspec.c: kernelspec directories written into
 * a fresh temporary tree, then discovered, found, loaded and turned into
 * the Jupyter Server model; names and resource paths that could reach
 * outside a kernelspec directory are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/log.h"
#include "../../kernels/kernelspec.h"

#define GOOD_SPEC                                                                       \
	"{\"argv\":[\"/usr/bin/python3\",\"-m\",\"ipykernel_launcher\",\"-f\","        \
	"\"{connection_file}\"],\"display_name\":\"Python 3 (ipykernel)\","            \
	"\"language\":\"python\",\"interrupt_mode\":\"message\","                      \
	"\"env\":{\"PYDEVD_DISABLE_FILE_VALIDATION\":\"1\"},"                          \
	"\"metadata\":{\"debugger\":true}}"

typedef struct fixture {
	char root[64];
	char a[96], b[96]; /* two search directories, a first */
} fixture_t;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* dir/name/kernel.json with the given text (NULL: the directory only). */
static void add_spec(const char *dir, const char *name, const char *json)
{
	char path[512];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	assert_int_equal(mkdir(path, 0755), 0);
	if (!json)
		return;
	snprintf(path, sizeof path, "%s/%s/kernel.json", dir, name);
	write_file(path, json, strlen(json));
}

static void add_file(const char *dir, const char *name, const char *file, const char *text)
{
	char path[512];

	snprintf(path, sizeof path, "%s/%s/%s", dir, name, file);
	write_file(path, text, strlen(text));
}

static int setup(void **state)
{
	fixture_t *fx = calloc(1, sizeof *fx);

	if (!fx)
		return -1;
	snprintf(fx->root, sizeof fx->root, "/tmp/cellgate-kspec-XXXXXX");
	if (!mkdtemp(fx->root))
		return -1;
	snprintf(fx->a, sizeof fx->a, "%s/a", fx->root);
	snprintf(fx->b, sizeof fx->b, "%s/b", fx->root);
	if (mkdir(fx->a, 0755) || mkdir(fx->b, 0755))
		return -1;
	/* discovery warns about each broken spec; keep the output readable */
	log_set_level(LOG_ERROR);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *fx = *state;

	nftw(fx->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static void test_valid_names(void **state)
{
	(void)state;
	char name[80];
	static const char *good[] = { "python3", "ir", "a", "Julia-1.10", "my_env.v2", "9", "a.",
				      "-x" };
	static const char *bad[] = { "", ".", "..", ".hidden", "a/b", "/etc", "a b", "a\tb",
				     "caf\xc3\xa9", "a:b", "a\\b", "python3\n", "x*", "{name}" };

	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		if (!kspec_is_valid_name(good[i]))
			fail_msg("\"%s\" should be a valid name", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (kspec_is_valid_name(bad[i]))
			fail_msg("\"%s\" should be refused", bad[i]);
	/* 63 characters is the longest name */
	memset(name, 'k', 63);
	name[63] = '\0';
	assert_true(kspec_is_valid_name(name));
	name[63] = 'k';
	name[64] = '\0';
	assert_false(kspec_is_valid_name(name));
}

static void test_load_valid(void **state)
{
	fixture_t *fx = *state;
	char dir[256], real[PATH_MAX];
	kspec_t s, copy;
	err_t err = { 0 };

	add_spec(fx->a, "py", GOOD_SPEC);
	snprintf(dir, sizeof dir, "%s/py", fx->a);
	assert_non_null(realpath(dir, real));
	assert_int_equal(kspec_load(dir, "py", &s, &err), 0);
	assert_string_equal(s.name, "py");
	assert_string_equal(s.dir, real);
	assert_int_equal(s.argc, 5);
	assert_string_equal(s.argv[0], "/usr/bin/python3");
	assert_string_equal(s.argv[2], "ipykernel_launcher");
	assert_string_equal(s.argv[4], "{connection_file}");
	assert_null(s.argv[5]);
	assert_string_equal(s.display_name, "Python 3 (ipykernel)");
	assert_string_equal(s.language, "python");
	assert_true(s.interrupt_by_message);
	assert_string_equal(json_string_value(json_object_get(s.env, "PYDEVD_DISABLE_FILE_VALIDATION")),
			    "1");
	assert_true(json_is_true(json_object_get(s.metadata, "debugger")));

	/* a deep copy outlives the original */
	assert_int_equal(kspec_copy(&s, &copy), 0);
	kspec_clear(&s);
	assert_null(s.argv);
	assert_string_equal(copy.argv[4], "{connection_file}");
	assert_string_equal(copy.display_name, "Python 3 (ipykernel)");
	assert_true(copy.interrupt_by_message);
	assert_int_equal(json_object_size(copy.env), 1);
	kspec_clear(&copy);

	/* the defaults: interrupt by signal, empty language, env and metadata */
	add_spec(fx->a, "min", "{\"argv\":[\"/bin/k\"],\"display_name\":\"Min\"}");
	snprintf(dir, sizeof dir, "%s/min", fx->a);
	assert_int_equal(kspec_load(dir, "min", &s, &err), 0);
	assert_false(s.interrupt_by_message);
	assert_string_equal(s.language, "");
	assert_int_equal(s.argc, 1);
	assert_true(json_is_object(s.env));
	assert_int_equal(json_object_size(s.env), 0);
	assert_true(json_is_object(s.metadata));
	assert_int_equal(json_object_size(s.metadata), 0);
	kspec_clear(&s);
}

static void test_load_invalid(void **state)
{
	fixture_t *fx = *state;
	static const struct {
		const char *json, *want;
	} bad[] = {
		{ "{\"argv\":[\"/bin/k\"],\"display_name\":", "kernel.json line" },
		{ "", "kernel.json line" },
		{ "[\"/bin/k\"]", "kernel.json" },
		{ "{\"argv\":\"/bin/k\",\"display_name\":\"K\"}", "argv must be a non-empty array" },
		{ "{\"argv\":[],\"display_name\":\"K\"}", "argv must be a non-empty array" },
		{ "{\"argv\":{\"0\":\"/bin/k\"},\"display_name\":\"K\"}",
		  "argv must be a non-empty array" },
		{ "{\"argv\":[1],\"display_name\":\"K\"}", "argv[0] must be a string" },
		{ "{\"argv\":[\"/bin/k\",\"-f\",null],\"display_name\":\"K\"}",
		  "argv[2] must be a string" },
		{ "{\"argv\":[\"/bin/k\",[\"x\"]],\"display_name\":\"K\"}", "argv[1] must be a string" },
		{ "{\"display_name\":\"K\"}", "kernel.json" },
		{ "{\"argv\":[\"/bin/k\"]}", "kernel.json" },
		{ "{\"argv\":[\"/bin/k\"],\"display_name\":7}", "kernel.json" },
		{ "{\"argv\":[\"/bin/k\"],\"display_name\":\"K\",\"interrupt_mode\":\"sigint\"}",
		  "interrupt_mode must be signal or message" },
		{ "{\"argv\":[\"/bin/k\"],\"display_name\":\"K\",\"env\":[]}", "env must be an object" },
		{ "{\"argv\":[\"/bin/k\"],\"display_name\":\"K\",\"env\":{\"A\":1}}",
		  "env[A] must be a string" },
		{ "{\"argv\":[\"/bin/k\"],\"display_name\":\"K\",\"metadata\":\"x\"}",
		  "metadata must be an object" },
		{ "{\"argv\":[\"/bin/k\"],\"display_name\":\"K\",\"display_name\":\"L\"}",
		  "kernel.json line" },
	};

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char name[16], dir[256];
		kspec_t s;
		err_t err = { 0 };

		snprintf(name, sizeof name, "bad%zu", i);
		add_spec(fx->a, name, bad[i].json);
		snprintf(dir, sizeof dir, "%s/%s", fx->a, name);
		assert_int_equal(kspec_load(dir, name, &s, &err), CG_EINVAL);
		if (!strstr(err.msg, bad[i].want))
			fail_msg("%s: error \"%s\" does not mention \"%s\"", bad[i].json, err.msg,
				 bad[i].want);
		/* nothing left behind to free */
		assert_null(s.argv);
		assert_null(s.dir);
		assert_null(s.display_name);
	}
	/* none of them is discovered */
	{
		char *dirs[] = { fx->a, NULL };
		kspec_list_t *l = kspec_discover(dirs);

		assert_non_null(l);
		assert_int_equal(l->count, 0);
		kspec_list_free(&l);
		assert_null(l);
	}
}

static void test_load_missing_and_large(void **state)
{
	fixture_t *fx = *state;
	char dir[256], path[320];
	kspec_t s;
	err_t err = { 0 };
	size_t big = (1u << 20) + 1;
	char *text = malloc(big);

	/* a directory without kernel.json */
	add_spec(fx->a, "empty", NULL);
	snprintf(dir, sizeof dir, "%s/empty", fx->a);
	assert_int_equal(kspec_load(dir, "empty", &s, &err), CG_ENOTFOUND);
	/* kernel.json that is a directory */
	snprintf(path, sizeof path, "%s/kernel.json", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(kspec_load(dir, "empty", &s, &err), CG_ENOTFOUND);
	/* an invalid name is refused before the disk is read */
	add_spec(fx->a, "good", GOOD_SPEC);
	snprintf(dir, sizeof dir, "%s/good", fx->a);
	assert_int_equal(kspec_load(dir, "../good", &s, &err), CG_EINVAL);
	assert_int_equal(kspec_load(dir, "", &s, &err), CG_EINVAL);
	/* over 1 MiB: refused before parsing */
	assert_non_null(text);
	memset(text, ' ', big);
	memcpy(text, GOOD_SPEC, strlen(GOOD_SPEC));
	add_spec(fx->a, "big", NULL);
	add_file(fx->a, "big", "kernel.json", "");
	snprintf(path, sizeof path, "%s/big/kernel.json", fx->a);
	write_file(path, text, big);
	snprintf(dir, sizeof dir, "%s/big", fx->a);
	assert_int_equal(kspec_load(dir, "big", &s, &err), CG_ETOOBIG);
	/* exactly 1 MiB is fine */
	write_file(path, text, big - 1);
	assert_int_equal(kspec_load(dir, "big", &s, &err), 0);
	kspec_clear(&s);
	free(text);
}

static void test_discover(void **state)
{
	fixture_t *fx = *state;
	char missing[128];
	char *dirs[] = { fx->a, missing, fx->b, NULL };
	kspec_list_t *l;
	const kspec_t *k;

	snprintf(missing, sizeof missing, "%s/not-there", fx->root);
	/* the same name in both: the earlier directory wins */
	add_spec(fx->a, "shared", "{\"argv\":[\"/bin/a\"],\"display_name\":\"From A\"}");
	add_spec(fx->b, "shared", "{\"argv\":[\"/bin/b\"],\"display_name\":\"From B\"}");
	add_spec(fx->b, "only-b", "{\"argv\":[\"/bin/b\"],\"display_name\":\"Only B\"}");
	add_spec(fx->a, "zeta", GOOD_SPEC);
	/* skipped: malformed, no kernel.json, a hidden name, a name with a space, a file */
	add_spec(fx->a, "broken", "{\"argv\":");
	add_spec(fx->a, "nojson", NULL);
	add_spec(fx->a, ".dot", GOOD_SPEC);
	add_spec(fx->a, "with space", GOOD_SPEC);
	{
		char path[256];

		snprintf(path, sizeof path, "%s/plainfile", fx->a);
		write_file(path, GOOD_SPEC, strlen(GOOD_SPEC));
	}

	l = kspec_discover(dirs);
	assert_non_null(l);
	assert_int_equal(l->count, 3);
	/* sorted by name */
	assert_string_equal(l->items[0].name, "only-b");
	assert_string_equal(l->items[1].name, "shared");
	assert_string_equal(l->items[2].name, "zeta");
	k = kspec_find(l, "shared");
	assert_non_null(k);
	assert_string_equal(k->display_name, "From A");
	assert_string_equal(k->argv[0], "/bin/a");
	assert_non_null(strstr(k->dir, "/a/shared"));
	k = kspec_find(l, "only-b");
	assert_non_null(k);
	assert_string_equal(k->display_name, "Only B");
	assert_null(kspec_find(l, "broken"));
	assert_null(kspec_find(l, "nojson"));
	assert_null(kspec_find(l, ".dot"));
	assert_null(kspec_find(l, "with space"));
	assert_null(kspec_find(l, "plainfile"));
	assert_null(kspec_find(l, "Shared"));
	assert_null(kspec_find(NULL, "shared"));
	kspec_list_free(&l);
	kspec_list_free(&l); /* NULL is fine */

	/* the other order: b wins */
	dirs[0] = fx->b;
	dirs[2] = fx->a;
	l = kspec_discover(dirs);
	assert_string_equal(kspec_find(l, "shared")->display_name, "From B");
	kspec_list_free(&l);

	/* no directories at all */
	l = kspec_discover(NULL);
	assert_non_null(l);
	assert_int_equal(l->count, 0);
	kspec_list_free(&l);
}

static void test_search_dirs(void **state)
{
	(void)state;
	char **d;

	setenv("JUPYTER_PATH", "/jp1::/jp2", 1);
	setenv("XDG_DATA_HOME", "/xdg", 1);
	setenv("HOME", "/home/u", 1);
	d = kspec_search_dirs("/opt/cellgate/kernels");
	assert_non_null(d);
	assert_string_equal(d[0], "/jp1/kernels");
	assert_string_equal(d[1], "/jp2/kernels");
	assert_string_equal(d[2], "/xdg/jupyter/kernels");
	assert_string_equal(d[3], "/opt/cellgate/kernels");
	assert_string_equal(d[4], "/usr/local/share/jupyter/kernels");
	assert_string_equal(d[5], "/usr/share/jupyter/kernels");
	assert_null(d[6]);
	kspec_dirs_free(&d);
	assert_null(d);

	unsetenv("JUPYTER_PATH");
	unsetenv("XDG_DATA_HOME");
	d = kspec_search_dirs(NULL);
	assert_non_null(d);
	assert_string_equal(d[0], "/home/u/.local/share/jupyter/kernels");
	assert_string_equal(d[1], "/usr/local/share/jupyter/kernels");
	assert_string_equal(d[2], "/usr/share/jupyter/kernels");
	assert_null(d[3]);
	kspec_dirs_free(&d);
}

static const kspec_t *spec_with_resources(fixture_t *fx, kspec_list_t **l)
{
	static char *dirs[2];
	char path[256];

	add_spec(fx->a, "res", GOOD_SPEC);
	add_file(fx->a, "res", "logo-64x64.png", "\x89PNG");
	add_file(fx->a, "res", "logo-svg.svg", "<svg/>");
	add_file(fx->a, "res", "kernel.js", "define([],function(){})");
	add_file(fx->a, "res", "notes.txt", "not a resource");
	add_file(fx->a, "res", ".logo-hidden.png", "x");
	snprintf(path, sizeof path, "%s/res/logo-dir", fx->a);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/res/logo-link.png", fx->a);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	dirs[0] = fx->a;
	dirs[1] = NULL;
	*l = kspec_discover(dirs);
	assert_non_null(*l);
	assert_non_null(kspec_find(*l, "res"));
	return kspec_find(*l, "res");
}

static void test_to_json(void **state)
{
	fixture_t *fx = *state;
	kspec_list_t *l;
	const kspec_t *k = spec_with_resources(fx, &l);
	json_t *j = kspec_to_json(k, "/base/url/"), *spec, *res;

	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "name")), "res");
	spec = json_object_get(j, "spec");
	assert_true(json_is_object(spec));
	assert_int_equal(json_array_size(json_object_get(spec, "argv")), 5);
	assert_string_equal(json_string_value(json_array_get(json_object_get(spec, "argv"), 4)),
			    "{connection_file}");
	assert_string_equal(json_string_value(json_object_get(spec, "display_name")),
			    "Python 3 (ipykernel)");
	assert_string_equal(json_string_value(json_object_get(spec, "language")), "python");
	assert_string_equal(json_string_value(json_object_get(spec, "interrupt_mode")), "message");
	assert_string_equal(json_string_value(json_object_get(json_object_get(spec, "env"),
							      "PYDEVD_DISABLE_FILE_VALIDATION")),
			    "1");
	assert_true(json_is_true(json_object_get(json_object_get(spec, "metadata"), "debugger")));

	/* resources as Jupyter Server names them: logos without their extension */
	res = json_object_get(j, "resources");
	assert_true(json_is_object(res));
	assert_string_equal(json_string_value(json_object_get(res, "logo-64x64")),
			    "/base/url/kernelspecs/res/logo-64x64.png");
	assert_string_equal(json_string_value(json_object_get(res, "logo-svg")),
			    "/base/url/kernelspecs/res/logo-svg.svg");
	assert_string_equal(json_string_value(json_object_get(res, "kernel.js")),
			    "/base/url/kernelspecs/res/kernel.js");
	assert_null(json_object_get(res, "notes"));
	assert_null(json_object_get(res, "notes.txt"));
	assert_null(json_object_get(res, ".logo-hidden"));
	json_decref(j);

	/* the root base URL */
	j = kspec_to_json(k, "/");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "resources"),
							      "logo-64x64")),
			    "/kernelspecs/res/logo-64x64.png");
	json_decref(j);
	kspec_list_free(&l);
}

static void test_resource_path(void **state)
{
	fixture_t *fx = *state;
	kspec_list_t *l;
	const kspec_t *k = spec_with_resources(fx, &l);
	char want[PATH_MAX + 32], *p, longname[300];
	err_t err = { 0 };
	static const char *refused[] = { "..", ".", "../res/kernel.json", "/etc/passwd",
					 "a/b", "logo-64x64.png/", "./logo-64x64.png",
					 ".logo-hidden.png", "" };

	snprintf(want, sizeof want, "%s/logo-64x64.png", k->dir);
	p = kspec_resource_path(k, "logo-64x64.png", &err);
	assert_non_null(p);
	assert_string_equal(p, want);
	free(p);
	p = kspec_resource_path(k, "kernel.js", &err);
	assert_non_null(p);
	free(p);

	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
		err_clear(&err);
		p = kspec_resource_path(k, refused[i], &err);
		if (p)
			fail_msg("\"%s\" resolved to %s", refused[i], p);
		assert_int_equal(err.code, CG_EINVAL);
		assert_string_equal(err.msg, "invalid resource name");
	}
	/* plain names that are not regular files inside the directory */
	static const char *absent[] = { "logo-128x128.png", "logo-dir", "logo-link.png" };
	for (size_t i = 0; i < sizeof absent / sizeof *absent; i++) {
		err_clear(&err);
		p = kspec_resource_path(k, absent[i], &err);
		if (p)
			fail_msg("\"%s\" resolved to %s", absent[i], p);
		assert_int_equal(err.code, CG_ENOTFOUND);
	}
	/* an over-long name */
	memset(longname, 'l', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	assert_null(kspec_resource_path(k, longname, &err));
	assert_int_equal(err.code, CG_EINVAL);
	kspec_list_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_names),
		cmocka_unit_test_setup_teardown(test_load_valid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_missing_and_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discover, setup, teardown),
		cmocka_unit_test(test_search_dirs),
		cmocka_unit_test_setup_teardown(test_to_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resource_path, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
