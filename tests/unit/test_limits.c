/*
 * Unit tests for sandbox/limits.c: the defaults, and sbx_limits_apply in a
 * forked child (soft and hard values, CPU's one-second grace, 0 leaving a
 * limit alone, a write past the file size limit failing with EFBIG).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../sandbox/sandbox.h"

static void test_defaults(void **state)
{
	sbx_limits_t l;

	(void)state;
	memset(&l, 0xff, sizeof l);
	sbx_limits_defaults(&l);
	assert_int_equal(l.memory_bytes, 4ULL << 30);
	assert_int_equal(l.processes, 4096);
	assert_int_equal(l.open_files, 4096);
	assert_int_equal(l.file_size_bytes, 16ULL << 30);
	assert_int_equal(l.cpu_seconds, 0);
	assert_int_equal(l.cell_cpu_seconds, 0);
	assert_int_equal(l.disk_bytes, 0);
}

/* In the child: one bit per check that went wrong. */
static int child_checks(const char *path, rlim_t stack_before)
{
	sbx_limits_t l = { .memory_bytes = 1ULL << 30, .processes = 0, .open_files = 64,
			   .file_size_bytes = 1 << 20, .cpu_seconds = 100, .disk_bytes = 4096 };
	struct rlimit r;
	char buf[8192] = { 0 };
	int bad = 0, fd;

	signal(SIGXFSZ, SIG_IGN);
	/* the disk quota caps the file size limit; CPU time is watched, not an rlimit */
	if (sbx_limits_apply(&l, false, false) != 0)
		return 0x80;
	if (getrlimit(RLIMIT_DATA, &r) || r.rlim_cur != 1ULL << 30 || r.rlim_max != 1ULL << 30)
		bad |= 1;
	if (getrlimit(RLIMIT_NOFILE, &r) || r.rlim_cur != 64 || r.rlim_max != 64)
		bad |= 2;
	if (getrlimit(RLIMIT_CPU, &r) || r.rlim_cur != RLIM_INFINITY)
		bad |= 4;
	if (getrlimit(RLIMIT_STACK, &r) || r.rlim_cur != stack_before)
		bad |= 8;
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0 || write(fd, buf, 4096) != 4096 || write(fd, buf, 1) != -1 || errno != EFBIG)
		bad |= 16;
	/* a limit we cannot exceed: raising it back fails once the hard
	 * limit is lowered, unless we are privileged */
	if (geteuid() != 0) {
		r.rlim_cur = r.rlim_max = 128;
		if (setrlimit(RLIMIT_NOFILE, &r) == 0)
			bad |= 32;
	}
	return bad;
}

static void test_apply_in_a_child(void **state)
{
	char path[] = "/tmp/cg-limits-XXXXXX";
	struct rlimit stack;
	int fd, status = 0;
	pid_t pid;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(getrlimit(RLIMIT_STACK, &stack), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_checks(path, stack.rlim_cur));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	unlink(path);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_apply_in_a_child),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
