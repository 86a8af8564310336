/*
 * Unit tests for sandbox/seccomp.c: the filter builds and exports as a
 * classic BPF program, and, loaded into a forked child the way bwrap loads
 * it, denies what it should with the errno it should while ordinary calls
 * still work.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../sandbox/sandbox.h"

static struct sock_filter *read_program(size_t *count)
{
	err_t err = { 0 };
	int fd = sbx_seccomp_fd(&err);
	struct stat st;
	struct sock_filter *prog;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(st.st_size > 0);
	assert_int_equal(st.st_size % (off_t)sizeof *prog, 0);
	prog = malloc((size_t)st.st_size);
	assert_non_null(prog);
	/* positioned at the start, as bwrap reads it */
	assert_int_equal(read(fd, prog, (size_t)st.st_size), st.st_size);
	close(fd);
	*count = (size_t)st.st_size / sizeof *prog;
	return prog;
}

static void test_exports_a_program(void **state)
{
	size_t n1, n2;
	struct sock_filter *a, *b;

	(void)state;
	a = read_program(&n1);
	/* a second descriptor carries the same program from its start */
	b = read_program(&n2);
	assert_int_equal(n1, n2);
	assert_memory_equal(a, b, n1 * sizeof *a);
	assert_true(n1 > 20 && n1 < BPF_MAXINSNS);
	free(a);
	free(b);
}

/* In the child: one bit per check that went wrong, 0 when all held. */
static int child_checks(struct sock_filter *prog, size_t n)
{
	struct sock_fprog fprog = { .len = (unsigned short)n, .filter = prog };
	int bad = 0;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) != 0)
		return 0x80;
	errno = 0;
	if (syscall(SYS_unshare, CLONE_NEWUSER) != -1 || errno != EPERM)
		bad |= 1;
	errno = 0;
	if (syscall(SYS_clone3, NULL, 0) != -1 || errno != ENOSYS)
		bad |= 2;
	errno = 0;
	if (syscall(SYS_ptrace, 0, 0, 0, 0) != -1 || errno != EPERM)
		bad |= 4;
	errno = 0;
	/* keyctl(KEYCTL_GET_KEYRING_ID, session) succeeds without the filter */
	if (syscall(SYS_keyctl, 0, -3, 0) != -1 || errno != EPERM)
		bad |= 8;
	errno = 0;
	if (syscall(SYS_io_uring_setup, 1, NULL) != -1 || errno != ENOSYS)
		bad |= 16;
	/* still allowed: a personality query, unshare without namespaces */
	if (syscall(SYS_personality, 0xffffffffUL) == -1 || syscall(SYS_unshare, CLONE_FILES) != 0)
		bad |= 32;
	errno = 0;
	if (syscall(SYS_personality, 0x0040000UL) != -1 || errno != EPERM)
		bad |= 64;
	return bad;
}

static void test_filter_denies_in_a_child(void **state)
{
	size_t n;
	struct sock_filter *prog;
	int status = 0;
	pid_t pid;

	(void)state;
	prog = read_program(&n);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_checks(prog, n));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	free(prog);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exports_a_program),
		cmocka_unit_test(test_filter_denies_in_a_child),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	sbx_seccomp_release();
	return rc;
}
