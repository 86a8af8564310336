/*
 * Unit tests for server/contents_path.c against a real temporary tree:
 *
 *   T/ws/            the workspace
 *   T/ws/dir/a.txt
 *   T/ws/.hidden/x
 *   T/ws/in -> dir              a symlink that stays inside
 *   T/ws/out -> T/outside       one that leaves
 *   T/ws/sib -> T/ws2           one into a sibling sharing the root's prefix
 *   T/ws/rel -> ../ws2/s.txt    a relative one that leaves
 *   T/ws/tohidden -> .hidden    one that lands on a hidden directory
 *   T/ws2/s.txt, T/outside/secret
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

#include "../../server/contents_path.h"

static char tmp[4096], ws[4200];

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	char p[8400], canon[8400];

	(void)state;
	snprintf(tmp, sizeof tmp, "/tmp/cg-cpath-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	assert_non_null(realpath(tmp, canon));
	snprintf(tmp, sizeof tmp, "%.4000s", canon);
	snprintf(ws, sizeof ws, "%s/ws", tmp);
	assert_int_equal(mkdir(ws, 0755), 0);
	snprintf(p, sizeof p, "%s/dir", ws);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof p, "%s/dir/a.txt", ws);
	put(p, "a");
	snprintf(p, sizeof p, "%s/.hidden", ws);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof p, "%s/.hidden/x", ws);
	put(p, "x");
	snprintf(p, sizeof p, "%s/ws2", tmp);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof p, "%s/ws2/s.txt", tmp);
	put(p, "s");
	snprintf(p, sizeof p, "%s/outside", tmp);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof p, "%s/outside/secret", tmp);
	put(p, "secret");
	snprintf(p, sizeof p, "%s/in", ws);
	assert_int_equal(symlink("dir", p), 0);
	snprintf(canon, sizeof canon, "%s/outside", tmp);
	snprintf(p, sizeof p, "%s/out", ws);
	assert_int_equal(symlink(canon, p), 0);
	snprintf(canon, sizeof canon, "%s/ws2", tmp);
	snprintf(p, sizeof p, "%s/sib", ws);
	assert_int_equal(symlink(canon, p), 0);
	snprintf(p, sizeof p, "%s/rel", ws);
	assert_int_equal(symlink("../ws2/s.txt", p), 0);
	snprintf(p, sizeof p, "%s/tohidden", ws);
	assert_int_equal(symlink(".hidden", p), 0);
	return 0;
}

static int teardown(void **state)
{
	char cmd[4200];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

static int check(const char *api, bool hidden, char *out)
{
	err_t err = { 0 };
	int rc = cpath_check(api, strlen(api), hidden, out, &err);

	if (rc)
		assert_true(err.msg[0]);
	return rc;
}

static void test_check_accepts_and_normalises(void **state)
{
	char out[CPATH_MAX];

	(void)state;
	assert_int_equal(check("", false, out), 0);
	assert_string_equal(out, "");
	assert_int_equal(check("a/b.ipynb", false, out), 0);
	assert_string_equal(out, "a/b.ipynb");
	assert_int_equal(check("dir/", false, out), 0);
	assert_string_equal(out, "dir");
	assert_int_equal(check("Untitled Folder/x..y", false, out), 0);
	assert_string_equal(out, "Untitled Folder/x..y");
	assert_int_equal(check("ünï/ç.txt", false, out), 0);
}

static void test_check_refuses_malformed(void **state)
{
	static const char *bad[] = {
		"..", "../x", "a/../b", "a/..", ".", "./a", "a/./b", "/etc/passwd", "//x",
		"a//b", "a\\..\\b", "..\\x", "a\x01", "a\nb", "a\x7f",
	};
	char out[CPATH_MAX];
	char big[CPATH_MAX + 10];

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_int_equal(check(bad[i], true, out), CG_EINVAL);
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(check(big, true, out), CG_EINVAL);
}

static void test_check_refuses_nul_inside(void **state)
{
	char out[CPATH_MAX];
	err_t err = { 0 };

	(void)state;
	assert_int_equal(cpath_check("a.txt\0.ipynb", 12, true, out, &err), CG_EINVAL);
}

static void test_check_hidden(void **state)
{
	char out[CPATH_MAX];

	(void)state;
	assert_int_equal(check(".hidden", false, out), CG_EDENIED);
	assert_int_equal(check("dir/.git/config", false, out), CG_EDENIED);
	assert_int_equal(check(".hidden/x", true, out), 0);
	assert_true(cpath_is_hidden_name(".x"));
	assert_false(cpath_is_hidden_name("x."));
}

static int try_open(const char *rel, bool hidden)
{
	cpath_root_t r;
	err_t err = { 0 };
	int fd, rc;

	assert_int_equal(cpath_root_open(&r, ws, hidden, &err), 0);
	fd = cpath_open(&r, rel, O_RDONLY, 0, &err);
	rc = fd < 0 ? fd : 0;
	if (fd >= 0)
		close(fd);
	else
		assert_null(strstr(err.msg, tmp)); /* no server path in messages */
	cpath_root_close(&r);
	return rc;
}

static void test_open_inside(void **state)
{
	(void)state;
	assert_int_equal(try_open("", false), 0);
	assert_int_equal(try_open("dir/a.txt", false), 0);
	assert_int_equal(try_open("in/a.txt", false), 0);
	assert_int_equal(try_open("dir/none", false), CG_ENOTFOUND);
	assert_int_equal(try_open("dir/a.txt/x", false), CG_ENOTFOUND);
}

static void test_open_refuses_escapes(void **state)
{
	(void)state;
	assert_int_equal(try_open("out/secret", false), CG_EDENIED);
	assert_int_equal(try_open("out", false), CG_EDENIED);
	assert_int_equal(try_open("sib/s.txt", false), CG_EDENIED);
	assert_int_equal(try_open("rel", false), CG_EDENIED);
	/* unchecked "..": the kernel refuses it too */
	assert_int_equal(try_open("../ws2/s.txt", true), CG_EDENIED);
	assert_int_equal(try_open("/etc/passwd", true), CG_EDENIED);
}

static void test_open_hidden_through_symlink(void **state)
{
	(void)state;
	assert_int_equal(try_open("tohidden/x", false), CG_EDENIED);
	assert_int_equal(try_open("tohidden/x", true), 0);
	assert_int_equal(try_open(".hidden/x", true), 0);
}

static void test_root_prefix_boundary(void **state)
{
	cpath_root_t r;
	err_t err = { 0 };
	char p[8400], out[CPATH_MAX];
	int fd;

	(void)state;
	/* a root given without its canonical form's boundary: /T/ws must not
	 * contain /T/ws2 even though the string is a prefix */
	assert_int_equal(cpath_root_open(&r, ws, false, &err), 0);
	snprintf(p, sizeof p, "%s/ws2/s.txt", tmp);
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(cpath_of_fd(&r, fd, out, &err), CG_EDENIED);
	close(fd);
	snprintf(p, sizeof p, "%s/dir/a.txt", ws);
	fd = open(p, O_RDONLY);
	assert_int_equal(cpath_of_fd(&r, fd, out, &err), 0);
	assert_string_equal(out, "dir/a.txt");
	close(fd);
	cpath_root_close(&r);
}

static void test_open_parent(void **state)
{
	cpath_root_t r;
	err_t err = { 0 };
	const char *leaf = NULL;
	int fd;

	(void)state;
	assert_int_equal(cpath_root_open(&r, ws, false, &err), 0);
	fd = cpath_open_parent(&r, "dir/new.txt", &leaf, &err);
	assert_true(fd >= 0);
	assert_string_equal(leaf, "new.txt");
	close(fd);
	fd = cpath_open_parent(&r, "top.txt", &leaf, &err);
	assert_true(fd >= 0);
	assert_string_equal(leaf, "top.txt");
	close(fd);
	assert_int_equal(cpath_open_parent(&r, "out/new.txt", &leaf, &err), CG_EDENIED);
	assert_int_equal(cpath_open_parent(&r, "nodir/new.txt", &leaf, &err), CG_ENOTFOUND);
	assert_int_equal(cpath_open_parent(&r, "", &leaf, &err), CG_EINVAL);
	cpath_root_close(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_accepts_and_normalises),
		cmocka_unit_test(test_check_refuses_malformed),
		cmocka_unit_test(test_check_refuses_nul_inside),
		cmocka_unit_test(test_check_hidden),
		cmocka_unit_test(test_open_inside),
		cmocka_unit_test(test_open_refuses_escapes),
		cmocka_unit_test(test_open_hidden_through_symlink),
		cmocka_unit_test(test_root_prefix_boundary),
		cmocka_unit_test(test_open_parent),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
