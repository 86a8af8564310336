/*
 * The seccomp filter every kernel runs under.
 *
 * A deny list on top of "allow": a notebook kernel runs arbitrary user code
 * (compilers, numerical libraries, subprocesses), so an allow list would break
 * real work, while the calls denied here are ones no kernel needs and that
 * widen the kernel attack surface or reach outside the sandbox: debugging
 * other processes, mounts, kernel modules and kexec, bpf, perf events, the
 * keyring, new namespaces, io_uring, userfaultfd, clock and system state.
 *
 * Denied calls fail with EPERM, except where ENOSYS makes the caller fall
 * back to something we can check: clone3 passes its flags in memory, which
 * BPF cannot read, so it gets ENOSYS and glibc falls back to clone, whose
 * namespace flags the filter sees; io_uring gets ENOSYS so libuv and
 * liburing users fall back to plain syscalls.
 *
 * Syscalls of other architectures (i386 through int 0x80, x32) kill the
 * process: libseccomp's bad-arch action, so the table cannot be sidestepped.
 *
 * The program is built once, exported with seccomp_export_bpf, and handed to
 * each bwrap in a fresh memfd (bwrap --seccomp FD loads it right before it
 * executes the kernel, after its own setup, with no_new_privs set).
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <unistd.h>

/* Namespace flags of clone and unshare. */
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
static const unsigned long ns_flags[] = {
	CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
	CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWTIME,
};

/* Denied outright, with EPERM. */
static const char *const denied[] = {
	/* other processes' memory */
	"ptrace", "process_vm_readv", "process_vm_writev",
	/* the mount table */
	"mount", "umount", "umount2", "pivot_root", "move_mount", "fsopen", "fsmount",
	"fsconfig", "fspick", "open_tree", "mount_setattr",
	/* the running kernel */
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	"bpf", "perf_event_open", "lookup_dcookie", "syslog", "quotactl", "quotactl_fd",
	/* the keyring, shared beyond the sandbox */
	"add_key", "request_key", "keyctl",
	/* namespaces of other processes */
	"setns",
	/* files by handle bypass the mount view */
	"open_by_handle_at", "name_to_handle_at",
	/* a known source of kernel exploits */
	"userfaultfd",
	/* host-wide state */
	"swapon", "swapoff", "reboot", "acct", "settimeofday", "clock_settime",
	"clock_adjtime", "adjtimex", "vhangup", "iopl", "ioperm", "chroot",
};

/* Denied with ENOSYS, so that callers fall back. */
static const char *const unavailable[] = {
	"clone3", "io_uring_setup", "io_uring_enter", "io_uring_register",
};

/* personality() flags that weaken the process: address randomisation off,
 * executable data, page zero mapped, the old memory layout. */
static const unsigned long personality_flags[] = {
	ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, MMAP_PAGE_ZERO, ADDR_COMPAT_LAYOUT,
};

static unsigned char *bpf_program;
static size_t bpf_len;

static int deny_name(scmp_filter_ctx ctx, const char *name, int error)
{
	int nr = seccomp_syscall_resolve_name(name);

	/* a call this libseccomp does not know on this architecture is one the
	 * kernel cannot offer either (umount on x86_64 is umount2) */
	if (nr == __NR_SCMP_ERROR)
		return 0;
	return seccomp_rule_add(ctx, SCMP_ACT_ERRNO((unsigned)error), nr, 0);
}

static int add_rules(scmp_filter_ctx ctx)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < sizeof denied / sizeof *denied; i++)
		rc = deny_name(ctx, denied[i], EPERM);
	for (size_t i = 0; rc == 0 && i < sizeof unavailable / sizeof *unavailable; i++)
		rc = deny_name(ctx, unavailable[i], ENOSYS);
	/* clone(flags, ...) and unshare(flags): one rule per namespace flag, so
	 * that any of them set is refused; threads and plain forks pass */
	for (size_t i = 0; rc == 0 && i < sizeof ns_flags / sizeof *ns_flags; i++) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				      SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
		if (rc == 0)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
					      SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
	}
	/* personality(0xffffffff) is a query; it has bit 31 set, which no flag
	 * uses, so "flag set and bit 31 clear" denies changes and lets it pass */
	for (size_t i = 0; rc == 0 && i < sizeof personality_flags / sizeof *personality_flags;
	     i++) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1,
				      SCMP_A0(SCMP_CMP_MASKED_EQ,
					      personality_flags[i] | 0x80000000UL,
					      personality_flags[i]));
	}
	return rc;
}

/* Builds and exports the program into bpf_program, once. */
static int build(err_t *err)
{
	scmp_filter_ctx ctx;
	unsigned char *buf = NULL;
	struct stat st;
	int fd = -1, rc;

	if (bpf_program)
		return 0;
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return err_set(err, CG_ESYS, "seccomp_init failed");
	rc = add_rules(ctx);
	if (rc != 0) {
		rc = err_set(err, CG_ESYS, "seccomp rule: %s", strerror(-rc));
		goto out;
	}
	/* seccomp_export_bpf writes to a descriptor */
	fd = (int)memfd_create("cellgate-seccomp", MFD_CLOEXEC);
	if (fd < 0) {
		rc = err_set(err, CG_ESYS, "memfd_create: %s", strerror(errno));
		goto out;
	}
	rc = seccomp_export_bpf(ctx, fd);
	if (rc != 0) {
		rc = err_set(err, CG_ESYS, "seccomp_export_bpf: %s", strerror(-rc));
		goto out;
	}
	if (fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size > 1 << 20 ||
	    !(buf = malloc((size_t)st.st_size)) ||
	    pread(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
		rc = err_set(err, CG_ESYS, "cannot read back the seccomp filter");
		goto out;
	}
	bpf_program = buf;
	bpf_len = (size_t)st.st_size;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
	return rc;
}

int sbx_seccomp_fd(err_t *err)
{
	int fd, rc;
	size_t done = 0;

	rc = build(err);
	if (rc < 0)
		return rc;
	fd = (int)memfd_create("cellgate-seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return err_set(err, CG_ESYS, "memfd_create: %s", strerror(errno));
	while (done < bpf_len) {
		ssize_t n = write(fd, bpf_program + done, bpf_len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = err_set(err, CG_ESYS, "writing the seccomp filter: %s", strerror(errno));
			close(fd);
			return rc;
		}
		done += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) != 0) {
		rc = err_set(err, CG_ESYS, "lseek: %s", strerror(errno));
		close(fd);
		return rc;
	}
	return fd;
}

void sbx_seccomp_release(void)
{
	free(bpf_program);
	bpf_program = NULL;
	bpf_len = 0;
}
