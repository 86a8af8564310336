/*
 * Unit tests for sandbox/bwrap.c: the bubblewrap command line that every
 * kernel starts under (namespaces, the read-only root, private /tmp, the
 * workspace, hidden state, the scrubbed environment, the kernel's argv
 * after "--"), and sbx_path_is_reachable.
 *
 * bwrap applies its options in order, so the tests check order where it
 * matters for what the kernel can see, not only presence.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../sandbox/sandbox.h"

typedef struct fixture {
	char root[64];       /* mkdtemp */
	char workspace[128]; /* root/ws */
	char cwd[160];       /* root/ws/nb */
	char hidden_dir[128];
	char hidden_file[128];
	char missing[128];
} fixture_t;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	chmod(path, 0700);
	return remove(path);
}

static void rm_tree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	fixture_t *fx = calloc(1, sizeof *fx);

	if (!fx)
		return -1;
	snprintf(fx->root, sizeof fx->root, "/tmp/cellgate-sbx-XXXXXX");
	if (!mkdtemp(fx->root))
		return -1;
	snprintf(fx->workspace, sizeof fx->workspace, "%s/ws", fx->root);
	snprintf(fx->cwd, sizeof fx->cwd, "%s/nb", fx->workspace);
	snprintf(fx->hidden_dir, sizeof fx->hidden_dir, "%s/state", fx->root);
	snprintf(fx->hidden_file, sizeof fx->hidden_file, "%s/cellgate.conf", fx->root);
	snprintf(fx->missing, sizeof fx->missing, "%s/not-there", fx->root);
	if (mkdir(fx->workspace, 0755) || mkdir(fx->cwd, 0755) || mkdir(fx->hidden_dir, 0700))
		return -1;
	write_file(fx->hidden_file, "token = \"secret\"\n");
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *fx = *state;

	rm_tree(fx->root);
	free(fx);
	return 0;
}

static char *kernel_argv[] = { "/usr/bin/python3", "-m", "ipykernel_launcher", "-f",
			       "/run/cellgate/kernel.json", "--share-net", NULL };
static char *kernel_env[] = { "PATH=/usr/bin:/bin", "LANG=C.UTF-8", "EQ=a=b", "EMPTY=",
			      "noequals", "=novalue", NULL };

static sbx_spec_t spec_for(const fixture_t *fx, char **hidden)
{
	return (sbx_spec_t){
		.argv = kernel_argv,
		.env = kernel_env,
		.workspace = fx->workspace,
		.cwd = fx->cwd,
		.kernel_dir_fd = 7,
		.hidden = hidden,
		.uid = 1000,
		.gid = 1000,
	};
}

static size_t count(char **v)
{
	size_t n = 0;

	while (v[n])
		n++;
	return n;
}

/* Index of the "--" that ends bwrap's options: everything after it is the
 * kernel's own argv. */
static size_t separator(char **v)
{
	size_t n = count(v), k = 0;

	while (kernel_argv[k])
		k++;
	assert_true(n > k);
	assert_string_equal(v[n - k - 1], "--");
	return n - k - 1;
}

/* Where the option sequence seq (NULL-terminated) starts among bwrap's own
 * options, or -1. */
static long find(char **v, const char *const *seq)
{
	size_t end = separator(v);

	for (size_t i = 1; i < end; i++) {
		size_t k = 0;

		while (seq[k] && i + k < end && strcmp(v[i + k], seq[k]) == 0)
			k++;
		if (!seq[k])
			return (long)i;
	}
	return -1;
}

static long must_find(char **v, const char *const *seq)
{
	long at = find(v, seq);

	if (at < 0)
		fail_msg("option %s %s not in the bwrap argv", seq[0], seq[1] ? seq[1] : "");
	return at;
}

#define MUST(v, ...) must_find(v, (const char *const[]){ __VA_ARGS__, NULL })

static size_t occurrences(char **v, const char *opt)
{
	size_t end = separator(v), n = 0;

	for (size_t i = 1; i < end; i++)
		n += strcmp(v[i], opt) == 0;
	return n;
}

static void test_argv_sandbox(void **state)
{
	fixture_t *fx = *state;
	char *hidden[] = { fx->hidden_dir, fx->hidden_file, fx->missing, NULL };
	sbx_spec_t spec = spec_for(fx, hidden);
	err_t err = { 0 };
	char **v = sbx_bwrap_argv(&spec, &err);
	long root, tmp, ws;

	assert_non_null(v);
	assert_string_equal(v[0], SBX_BWRAP);
	/* namespaces, the session, the parent */
	MUST(v, "--unshare-all");
	MUST(v, "--die-with-parent");
	MUST(v, "--new-session");
	MUST(v, "--cap-drop", "ALL");
	assert_int_equal(occurrences(v, "--share-net"), 0);
	assert_int_equal(occurrences(v, "--unshare-all"), 1);
	assert_int_equal(occurrences(v, "--dev-bind"), 0);
	assert_int_equal(occurrences(v, "--dev-bind-try"), 0);
	assert_int_equal(occurrences(v, "--bind-try"), 0);
	/* the view */
	root = MUST(v, "--ro-bind", "/", "/");
	MUST(v, "--dev", "/dev");
	MUST(v, "--proc", "/proc");
	tmp = MUST(v, "--tmpfs", "/tmp");
	MUST(v, "--tmpfs", "/run");
	ws = MUST(v, "--bind", fx->workspace, fx->workspace);
	/* the only read-write bind of a host path is the workspace */
	assert_int_equal(occurrences(v, "--bind"), 1);
	/* the root comes first (everything else covers parts of it), and the
	 * workspace after the private /tmp (a workspace under /tmp stays visible) */
	assert_true(root < tmp);
	assert_true(tmp < ws);
	MUST(v, "--bind-fd", "3", SBX_KERNEL_DIR);
	MUST(v, "--info-fd", "4");
	MUST(v, "--seccomp", "5");
	/* --disable-userns is refused by bwrap unless --unshare-user is given */
	assert_true(MUST(v, "--unshare-user") < MUST(v, "--disable-userns"));
	MUST(v, "--chdir", fx->cwd);
	MUST(v, "--hostname", "cellgate-kernel");
	/* hidden paths: a directory under an empty read-only tmpfs, a file
	 * under /dev/null, a missing path needs nothing */
	assert_true(MUST(v, "--tmpfs", fx->hidden_dir, "--remount-ro", fx->hidden_dir) > root);
	assert_true(MUST(v, "--ro-bind", "/dev/null", fx->hidden_file) > root);
	for (size_t i = 0; v[i]; i++)
		assert_null(strstr(v[i], "not-there"));
	/* /sys: empty and read-only but for the CPU topology, after the root */
	assert_true(MUST(v, "--tmpfs", "/sys") > root);
	assert_true(MUST(v, "--ro-bind-try", "/sys/devices/system/cpu", "/sys/devices/system/cpu") >
		    MUST(v, "--tmpfs", "/sys"));
	assert_true(MUST(v, "--remount-ro", "/sys") >
		    MUST(v, "--ro-bind-try", "/sys/devices/system/cpu", "/sys/devices/system/cpu"));
	sbx_argv_free(&v);
	assert_null(v);
}

/* With a relay: it runs first, with the port and the broker's socket, and
 * executes the kernel's argv after its own "--"; the proxy variables are set. */
static void test_argv_egress_relay(void **state)
{
	fixture_t *fx = *state;
	sbx_spec_t spec = spec_for(fx, NULL);
	char *in_tmp[sizeof kernel_argv / sizeof *kernel_argv];
	err_t err = { 0 };
	char **v;
	size_t sep;

	spec.egress_relay = "/opt/cg/cellgate-egress-relay";
	v = sbx_bwrap_argv(&spec, &err);
	assert_non_null(v);
	/* bwrap's own "--", the first one */
	for (sep = 0; v[sep] && strcmp(v[sep], "--") != 0; sep++)
		;
	assert_non_null(v[sep]);
	assert_int_equal(separator(v), sep + 4);
	assert_string_equal(v[sep + 1], "/opt/cg/cellgate-egress-relay");
	assert_string_equal(v[sep + 2], "3128");
	assert_string_equal(v[sep + 3], SBX_EGRESS_SOCKET);
	assert_string_equal(v[sep + 4], "--");
	assert_string_equal(v[sep + 5], kernel_argv[0]);
	for (const char *const *n = (const char *const[]){ "HTTP_PROXY", "HTTPS_PROXY", "http_proxy",
							   "https_proxy", NULL }; *n; n++)
		MUST(v, "--setenv", *n, "http://127.0.0.1:3128");
	MUST(v, "--setenv", "NO_PROXY", "localhost,127.0.0.1,::1");
	MUST(v, "--setenv", "CELLGATE_SECRETS_URL", "http://secrets.cellgate/");
	/* outside /tmp and /run the read-only root shows it: no bind of its own */
	assert_int_equal(find(v, (const char *const[]){ "--ro-bind", spec.egress_relay, NULL }), -1);
	sbx_argv_free(&v);
	/* a build tree under /tmp (a clean clone): the relay and the kernel's
	 * program are bound back in, read-only, after the private /tmp */
	spec.egress_relay = "/tmp/clone/bin/cellgate-egress-relay";
	/* as long as kernel_argv: separator() counts on it */
	memcpy(in_tmp, kernel_argv, sizeof in_tmp);
	in_tmp[0] = "/tmp/clone/bin/cellgate-pari";
	spec.argv = in_tmp;
	v = sbx_bwrap_argv(&spec, &err);
	assert_non_null(v);
	assert_true(MUST(v, "--ro-bind", spec.egress_relay, spec.egress_relay) >
		    MUST(v, "--tmpfs", "/tmp"));
	assert_true(MUST(v, "--ro-bind", spec.argv[0], spec.argv[0]) > MUST(v, "--tmpfs", "/tmp"));
	sbx_argv_free(&v);
	spec.argv = kernel_argv;
	spec.egress_relay = "/opt/cg/cellgate-egress-relay";
	/* the plain sandbox: no filter, no relay */
	spec.is_plain = true;
	v = sbx_bwrap_argv(&spec, &err);
	assert_non_null(v);
	assert_int_equal(occurrences(v, "--seccomp"), 0);
	assert_int_equal(occurrences(v, "HTTP_PROXY"), 0);
	assert_string_equal(v[separator(v) + 1], kernel_argv[0]);
	sbx_argv_free(&v);
}

static void test_argv_environment(void **state)
{
	fixture_t *fx = *state;
	sbx_spec_t spec = spec_for(fx, NULL);
	err_t err = { 0 };
	char **v = sbx_bwrap_argv(&spec, &err);
	long clear;

	assert_non_null(v);
	clear = MUST(v, "--clearenv");
	assert_int_equal(occurrences(v, "--clearenv"), 1);
	/* each NAME=value in order, split at the first '='; malformed entries dropped */
	assert_true(MUST(v, "--setenv", "PATH", "/usr/bin:/bin") > clear);
	assert_true(MUST(v, "--setenv", "LANG", "C.UTF-8") > MUST(v, "--setenv", "PATH", "/usr/bin:/bin"));
	assert_true(MUST(v, "--setenv", "EQ", "a=b") > clear);
	assert_true(MUST(v, "--setenv", "EMPTY", "") > clear);
	assert_int_equal(occurrences(v, "--setenv"), 4);
	assert_int_equal(occurrences(v, "noequals"), 0);
	assert_int_equal(occurrences(v, "novalue"), 0);
	sbx_argv_free(&v);
}

/* The kernel's argv comes last, after "--", exactly as given: an argument
 * that looks like a bwrap option is the kernel's, not bwrap's. */
static void test_argv_kernel_command(void **state)
{
	fixture_t *fx = *state;
	sbx_spec_t spec = spec_for(fx, NULL);
	err_t err = { 0 };
	char **v = sbx_bwrap_argv(&spec, &err);
	size_t sep, n, k;

	assert_non_null(v);
	n = count(v);
	sep = separator(v);
	for (k = 0; kernel_argv[k]; k++)
		assert_string_equal(v[sep + 1 + k], kernel_argv[k]);
	assert_int_equal(sep + 1 + k, n);
	assert_null(v[n]);
	/* no other "--" before it: bwrap's options end there */
	for (size_t i = 0; i < sep; i++)
		assert_string_not_equal(v[i], "--");
	sbx_argv_free(&v);

	spec.bwrap = "/opt/bwrap/bin/bwrap";
	v = sbx_bwrap_argv(&spec, &err);
	assert_non_null(v);
	assert_string_equal(v[0], "/opt/bwrap/bin/bwrap");
	sbx_argv_free(&v);
	sbx_argv_free(&v); /* NULL is fine */
}

/* A workspace narrowed by the starting token: an empty read-only tmpfs
 * with only the allowed paths bound into it, read-write or read-only. */
static void test_argv_workspace_scope(void **state)
{
	fixture_t *fx = *state;
	char *scope[] = { "rw:a", "ro:b/c", NULL }, *bad[] = { "rw:../x", NULL };
	char *odd[] = { "xx:a", NULL }, a[512], bc[512];
	sbx_spec_t spec = spec_for(fx, NULL);
	err_t err = { 0 };
	char **v;
	long tmpfs;

	spec.workspace_scope = scope;
	v = sbx_bwrap_argv(&spec, &err);
	assert_non_null(v);
	snprintf(a, sizeof a, "%s/a", fx->workspace);
	snprintf(bc, sizeof bc, "%s/b/c", fx->workspace);
	tmpfs = MUST(v, "--perms", "0555", "--tmpfs", fx->workspace);
	assert_true(MUST(v, "--bind-try", a, a) > tmpfs);
	assert_true(MUST(v, "--ro-bind-try", bc, bc) > tmpfs);
	assert_true(MUST(v, "--remount-ro", fx->workspace) > MUST(v, "--ro-bind-try", bc, bc));
	/* the workspace itself is not bound */
	assert_int_equal(find(v, (const char *const[]){ "--bind", fx->workspace, NULL }), -1);
	sbx_argv_free(&v);
	/* from a snapshot: everything read-only */
	spec.workspace_snapshot = "/snap";
	v = sbx_bwrap_argv(&spec, &err);
	assert_non_null(v);
	MUST(v, "--ro-bind-try", "/snap/a", a);
	assert_int_equal(occurrences(v, "--bind-try"), 0);
	sbx_argv_free(&v);
	/* an entry that climbs out, or is not rw:/ro:, builds nothing */
	spec = spec_for(fx, NULL);
	spec.workspace_scope = bad;
	assert_null(sbx_bwrap_argv(&spec, &err));
	spec.workspace_scope = odd;
	assert_null(sbx_bwrap_argv(&spec, &err));
}

static void test_argv_refused(void **state)
{
	fixture_t *fx = *state;
	char *relative[] = { "python3", "-m", "ipykernel", NULL };
	char *empty[] = { NULL };
	sbx_spec_t spec;
	err_t err = { 0 };

	spec = spec_for(fx, NULL);
	spec.argv = relative;
	assert_null(sbx_bwrap_argv(&spec, &err));
	assert_int_equal(err.code, CG_EINVAL);
	assert_string_equal(err.msg, "the kernel command must be an absolute path");
	spec.argv = empty;
	err_clear(&err);
	assert_null(sbx_bwrap_argv(&spec, &err));
	assert_int_equal(err.code, CG_EINVAL);
	spec.argv = NULL;
	assert_null(sbx_bwrap_argv(&spec, &err));

	spec = spec_for(fx, NULL);
	spec.workspace = "ws";
	err_clear(&err);
	assert_null(sbx_bwrap_argv(&spec, &err));
	assert_int_equal(err.code, CG_EINVAL);
	assert_string_equal(err.msg, "workspace and cwd must be absolute paths");
	spec.workspace = NULL;
	assert_null(sbx_bwrap_argv(&spec, &err));
	spec = spec_for(fx, NULL);
	spec.cwd = "nb";
	assert_null(sbx_bwrap_argv(&spec, &err));
	spec.cwd = NULL;
	assert_null(sbx_bwrap_argv(&spec, &err));
}

/*
 * BUG (sandbox/bwrap.c, sbx_bwrap_argv): hidden paths are masked before the
 * workspace is bound, so a hidden path inside the workspace is uncovered
 * again by the --bind of the workspace over it. server/main.c hides the
 * config file (cfg->config_file), which config.c does not keep out of the
 * workspace (only the state directory is checked), so `cellgate --config
 * ./cellgate.conf` run from the workspace leaves the config -- and a token
 * in it -- readable and writable by every kernel.
 */
static void test_hidden_inside_workspace_stays_hidden(void **state)
{
	fixture_t *fx = *state;
	char secret[192];
	char *hidden[] = { secret, NULL };
	sbx_spec_t spec = spec_for(fx, hidden);
	err_t err = { 0 };
	char **v;
	long ws, mask;

	snprintf(secret, sizeof secret, "%s/cellgate.conf", fx->workspace);
	write_file(secret, "token = \"secret\"\n");
	v = sbx_bwrap_argv(&spec, &err);
	assert_non_null(v);
	ws = MUST(v, "--bind", fx->workspace, fx->workspace);
	mask = MUST(v, "--ro-bind", "/dev/null", secret);
	assert_true(mask > ws);
	sbx_argv_free(&v);
}

/*
 * BUG (sandbox/bwrap.c hide(), fed by server/main.c kernels_start): a
 * relative hidden path is stat()ed relative to the server's cwd but handed
 * to bwrap as is, and bwrap cannot mount on a relative destination ("Can't
 * create file at cellgate.conf: Read-only file system"), so every kernel
 * fails to start. server/config.c keeps --config exactly as given, so
 * `cellgate --config cellgate.conf` reaches this. Whichever side fixes it
 * (make the path absolute, or refuse it), bwrap must never see it.
 */
static void test_relative_hidden_path_not_passed(void **state)
{
	fixture_t *fx = *state;
	char *hidden[] = { "cellgate.conf", NULL };
	sbx_spec_t spec = spec_for(fx, hidden);
	err_t err = { 0 };
	char old[4096], **v;

	assert_non_null(getcwd(old, sizeof old));
	assert_int_equal(chdir(fx->root), 0);
	v = sbx_bwrap_argv(&spec, &err);
	assert_int_equal(chdir(old), 0);
	if (!v)
		return; /* refused: fine */
	for (size_t i = 0; v[i] && strcmp(v[i], "--") != 0; i++) {
		if (strcmp(v[i], "--ro-bind") == 0 || strcmp(v[i], "--tmpfs") == 0 ||
		    strcmp(v[i], "--remount-ro") == 0) {
			size_t dest = strcmp(v[i], "--ro-bind") == 0 ? i + 2 : i + 1;

			assert_non_null(v[dest]);
			if (v[dest][0] != '/')
				fail_msg("%s %s: relative destination", v[i], v[dest]);
		}
	}
	sbx_argv_free(&v);
}

/* --- sbx_path_is_reachable -------------------------------------------------- */

/* A uid and gid that own nothing here and are not root. */
static void stranger(const char *path, uid_t *uid, gid_t *gid)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	*uid = getuid() == 54321 ? 54322 : 54321;
	*gid = st.st_gid == 54321 ? 54322 : 54321;
}

static void test_path_is_reachable(void **state)
{
	fixture_t *fx = *state;
	char dir[192], file[224], through_file[256], long_path[5000];
	uid_t other;
	gid_t other_gid;
	struct stat st;

	snprintf(dir, sizeof dir, "%s/private", fx->root);
	snprintf(file, sizeof file, "%s/f.txt", dir);
	snprintf(through_file, sizeof through_file, "%s/x", file);
	assert_int_equal(mkdir(dir, 0700), 0);
	write_file(file, "x");
	stranger(fx->root, &other, &other_gid);

	/* the owner can reach everything; nobody reaches what is not there */
	assert_true(sbx_path_is_reachable(file, getuid(), getgid()));
	assert_true(sbx_path_is_reachable(dir, getuid(), getgid()));
	assert_true(sbx_path_is_reachable("/", getuid(), getgid()));
	assert_false(sbx_path_is_reachable(fx->missing, getuid(), getgid()));
	assert_false(sbx_path_is_reachable(through_file, getuid(), getgid()));
	/* relative and over-long paths are refused */
	assert_false(sbx_path_is_reachable("tmp", getuid(), getgid()));
	assert_false(sbx_path_is_reachable("", getuid(), getgid()));
	memset(long_path, 'a', sizeof long_path - 1);
	long_path[0] = '/';
	long_path[sizeof long_path - 1] = '\0';
	assert_false(sbx_path_is_reachable(long_path, getuid(), getgid()));

	/* another user needs search (x) permission on every directory on the way */
	assert_int_equal(chmod(fx->root, 0700), 0);
	assert_false(sbx_path_is_reachable(file, other, other_gid));
	assert_false(sbx_path_is_reachable(dir, other, other_gid));
	assert_int_equal(chmod(fx->root, 0711), 0);
	assert_true(sbx_path_is_reachable(dir, other, other_gid)); /* the last one need not be searchable */
	assert_false(sbx_path_is_reachable(file, other, other_gid));
	assert_int_equal(chmod(dir, 0701), 0);
	assert_true(sbx_path_is_reachable(file, other, other_gid));
	/* read without search is not enough */
	assert_int_equal(chmod(dir, 0704), 0);
	assert_false(sbx_path_is_reachable(file, other, other_gid));
	/* the group's bit counts for the directory's group */
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(chmod(dir, 0710), 0);
	assert_true(sbx_path_is_reachable(file, other, st.st_gid));
	assert_false(sbx_path_is_reachable(file, other, other_gid));
	/* ...and only the group's bit: as in the kernel, the others' bit is not
	 * consulted for a member of the group */
	assert_int_equal(chmod(dir, 0701), 0);
	assert_true(sbx_path_is_reachable(file, other, other_gid));
	assert_false(sbx_path_is_reachable(file, other, st.st_gid));
	/* root may search anything */
	assert_int_equal(chmod(dir, 0700), 0);
	assert_true(sbx_path_is_reachable(file, 0, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_argv_sandbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_argv_environment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_argv_egress_relay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_argv_kernel_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_argv_workspace_scope, setup, teardown),
		cmocka_unit_test_setup_teardown(test_argv_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hidden_inside_workspace_stays_hidden, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_relative_hidden_path_not_passed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_path_is_reachable, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
