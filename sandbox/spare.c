/*
 * The spare launch child: why it exists.
 *
 * A launch child joins its sandbox's cgroups before it executes bwrap
 * (cgroup.c, launch.c). Under cgroup v1 (and v2 without CLONE_INTO_CGROUP)
 * that write to cgroup.procs takes the kernel's global
 * cgroup_threadgroup_rwsem for writing, which first waits for an RCU grace
 * period: 13-16 ms of a ~24 ms launch on our machine, more than everything
 * else the hardening adds. Nothing about the join depends on the kernel
 * being launched, so we do it before anyone waits: one child is kept ready,
 * forked by the server, already in a fresh set of cgroups with no limits,
 * blocked on a socketpair. A launch claims it: writes the kernel's memory
 * and process limits on those cgroups (plain writes, microseconds), sends
 * the bwrap command line, the environment, uid, gid and rlimits in one
 * message with the launch's descriptors attached (SCM_RIGHTS), and the
 * spare goes on exactly as a fresh launch child would after its join
 * (sbx_child_exec). The next spare is made a little later on the loop.
 *
 * What keeps it as safe as the fresh child:
 * - right after fork it closes every descriptor of the server but its end
 *   of the socketpair and the cgroup.procs ones (closed after the join),
 *   with stdio on /dev/null: it holds nothing a launch child does not;
 * - it dies with the server (PR_SET_PDEATHSIG, checked against a parent
 *   that died before it was armed), its own session, all signals blocked
 *   and every disposition back to the default while it waits; it runs no
 *   code but this file's until the claim;
 * - it is used once: a claim takes it (and its cgroups, which become the
 *   kernel's) away; a second launch before the next spare is ready takes
 *   the old path, with cgroups of its own;
 * - an unused one is killed and its cgroups removed at exit (sbx_cleanup);
 * - no spare when the machine gives no cgroups (the rlimit fallback) or for
 *   the plain sandbox; any failure (a limit write, a dead spare, a send)
 *   discards the spare and the launch takes the old path.
 * Like any fork of the server it holds a copy-on-write image of the
 * server's memory until it executes bwrap, as the server's uid; only the
 * server's uid can read it, as it can the server's.
 */
#include "sandbox_private.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/log.h"

/* after a launch, the next spare is forked this much later: not in the
 * middle of the launch that just happened (the spare's join holds the
 * cgroup mutex a kernel's rmdir and a fresh mkdir would wait for) */
#define SPARE_DELAY_MS 100
/* how long a claim waits for a spare still joining its cgroups */
#define SPARE_READY_MS 1000
/* the largest launch description (argv and environment) sent to a spare */
#define SPARE_MSG_MAX (64 * 1024)
#define SPARE_ARGS_MAX 1024
#define SPARE_NFD (SBX_CHILD_NFD - 2)
#define SPARE_READY 'R'

/* the launch description, after this header: argc then envc strings,
 * each NUL-terminated */
typedef struct spare_msg {
	uid_t uid;
	gid_t gid;
	sbx_limits_t limits;
	bool skip_memory, skip_processes;
	uint32_t argc, envc;
} spare_msg_t;

static struct {
	pid_t pid;          /* 0: none */
	int sock;           /* our end of the socketpair */
	sbx_cgroup_t cg;
	bool is_disabled;   /* no cgroups to prepare, or fork fails: stop trying */
	uv_timer_t timer;
	bool has_timer;
} spare = { .sock = -1, .cg = { .procs_fd = { -1, -1, -1 } } };

/* message buffer of the spare (a fork: no malloc there) */
static char spare_buf[SPARE_MSG_MAX];

/* --- in the spare, between fork and exec: async-signal-safe only --------- */

/* Keeps src[0..n) at 3..3+n and closes every other descriptor (stdio goes
 * to /dev/null). The socket stays close-on-exec. */
static int keep_only(int *src, int n)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		if ((src[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 3 + n + 1)) < 0)
			return -1;
	}
	if ((null = fcntl(null, F_DUPFD_CLOEXEC, 3 + n + 1)) < 0)
		return -1;
	for (int i = 0; i < 3; i++) {
		if (dup2(null, i) < 0)
			return -1;
	}
	for (int i = 0; i < n; i++) {
		if (dup2(src[i], 3 + i) < 0 || fcntl(3 + i, F_SETFD, FD_CLOEXEC) != 0)
			return -1;
		src[i] = 3 + i;
	}
	return (int)syscall(SYS_close_range, 3 + n, ~0U, 0);
}

/* Points out[0..count) at the strings from *p on; NULL-terminates. */
static int split(char **p, const char *end, char **out, uint32_t count)
{
	if (count >= SPARE_ARGS_MAX)
		return -1;
	for (uint32_t i = 0; i < count; i++) {
		char *nul = memchr(*p, '\0', (size_t)(end - *p));

		if (!nul)
			return -1;
		out[i] = *p;
		*p = nul + 1;
	}
	out[count] = NULL;
	return 0;
}

static void __attribute__((noreturn)) spare_main(pid_t parent, int sock, const sbx_cgroup_t *cg)
{
	static char *argv[SPARE_ARGS_MAX], *envp[SPARE_ARGS_MAX];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * SPARE_NFD)];
	} ctl;
	struct iovec iov = { spare_buf, sizeof spare_buf };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = sizeof ctl.buf };
	int keep[1 + CG_NCTL], n = 0, src[SBX_CHILD_NFD], e = EINVAL;
	sbx_cgroup_t joined = *cg;
	struct cmsghdr *c;
	spare_msg_t m;
	ssize_t got;
	char *p;
	sigset_t all;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/* none of the server's handlers (they would write to its descriptors'
	 * numbers) and none of its ignored signals (kept across exec) */
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(127);
	setsid();
	keep[n++] = sock;
	for (int i = 0; i < CG_NCTL; i++) {
		if (cg->procs_fd[i] >= 0)
			keep[n++] = cg->procs_fd[i];
	}
	if (keep_only(keep, n) != 0)
		_exit(127);
	sock = keep[0];
	for (int i = 0, k = 1; i < CG_NCTL; i++)
		joined.procs_fd[i] = cg->procs_fd[i] >= 0 ? keep[k++] : -1;
	/* the slow part, while nobody waits */
	if (sbx_cgroup_join(&joined) != 0)
		_exit(127);
	for (int i = 1; i < n; i++)
		close(keep[i]);
	if (write(sock, &(char){ SPARE_READY }, 1) != 1)
		_exit(127);
	do {
		got = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	} while (got < 0 && errno == EINTR);
	if (got <= 0)
		_exit(127);
	c = CMSG_FIRSTHDR(&mh);
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)got < sizeof m || !c ||
	    c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int) * SPARE_NFD))
		goto fail;
	memcpy(&m, spare_buf, sizeof m);
	p = spare_buf + sizeof m;
	if (split(&p, spare_buf + got, argv, m.argc) != 0 || m.argc < 1 ||
	    split(&p, spare_buf + got, envp, m.envc) != 0)
		goto fail;
	src[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	memcpy(src + 1, CMSG_DATA(c), sizeof(int) * SPARE_NFD);
	src[SBX_CHILD_NFD - 1] = sock;
	sbx_child_exec(&(sbx_exec_t){ .argv = argv, .envp = envp, .uid = m.uid, .gid = m.gid,
				      .limits = m.limits, .skip_memory = m.skip_memory,
				      .skip_processes = m.skip_processes },
		       src);
fail:
	(void)!write(sock, &e, sizeof e);
	_exit(127);
}

/* --- in the server ---------------------------------------------------------- */

/* Kills the spare (if any), reaps it, removes its cgroups. */
static void discard(void)
{
	if (spare.pid > 0) {
		kill(spare.pid, SIGKILL);
		waitpid(spare.pid, NULL, 0);
	}
	spare.pid = 0;
	if (spare.sock >= 0)
		close(spare.sock);
	spare.sock = -1;
	sbx_cgroup_destroy(&spare.cg);
}

static void prepare(void)
{
	static const sbx_limits_t none;
	int sv[2];
	pid_t parent = getpid(), pid;

	if (spare.pid || spare.is_disabled)
		return;
	sbx_cgroup_create(&spare.cg, "spare", &none);
	if (spare.cg.version == 0) {
		/* the rlimit fallback: nothing slow to do in advance */
		spare.is_disabled = true;
		sbx_cgroup_destroy(&spare.cg);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		log_warn("sandbox", "spare launch child: socketpair: %s", strerror(errno));
		sbx_cgroup_destroy(&spare.cg);
		return;
	}
	pid = fork();
	if (pid == 0)
		spare_main(parent, sv[1], &spare.cg);
	close(sv[1]);
	sbx_cgroup_close_fds(&spare.cg);
	if (pid < 0) {
		log_warn("sandbox", "spare launch child: fork: %s", strerror(errno));
		close(sv[0]);
		sbx_cgroup_destroy(&spare.cg);
		return;
	}
	spare.pid = pid;
	spare.sock = sv[0];
}

static void on_timer(uv_timer_t *t)
{
	(void)t;
	prepare();
}

void sbx_spare_schedule(uv_loop_t *loop)
{
	if (spare.is_disabled || spare.pid)
		return;
	if (!spare.has_timer) {
		uv_timer_init(loop, &spare.timer);
		/* a pending spare does not keep the loop alive */
		uv_unref((uv_handle_t *)&spare.timer);
		spare.has_timer = true;
	}
	if (!uv_is_active((uv_handle_t *)&spare.timer))
		uv_timer_start(&spare.timer, on_timer, SPARE_DELAY_MS, 0);
}

/* Waits (bounded) for the spare's "joined" byte. */
static bool is_ready(void)
{
	struct pollfd pfd = { spare.sock, POLLIN, 0 };
	char c = 0;
	int r;

	do {
		r = poll(&pfd, 1, SPARE_READY_MS);
	} while (r < 0 && errno == EINTR);
	if (r != 1 || recv(spare.sock, &c, 1, MSG_DONTWAIT) != 1 || c != SPARE_READY) {
		log_warn("sandbox", "spare launch child not ready (%s); launching without it",
			 r == 0 ? "timeout" : "it failed");
		return false;
	}
	return true;
}

/* Serializes x after the header into buf; its length, 0 when too large. */
static size_t serialize(const sbx_exec_t *x, char *buf, size_t size)
{
	spare_msg_t m = { .uid = x->uid, .gid = x->gid, .limits = x->limits,
			  .skip_memory = spare.cg.dir[CG_MEMORY] != NULL,
			  .skip_processes = spare.cg.dir[CG_PIDS] != NULL };
	size_t off = sizeof m;

	for (char **const *list = (char **const[]){ x->argv, x->envp, NULL }; *list; list++) {
		uint32_t count = 0;

		for (char **a = *list; *a; a++, count++) {
			size_t len = strlen(*a) + 1;

			if (off + len > size || count + 1 >= SPARE_ARGS_MAX)
				return 0;
			memcpy(buf + off, *a, len);
			off += len;
		}
		if (*list == x->argv)
			m.argc = count;
		else
			m.envc = count;
	}
	memcpy(buf, &m, sizeof m);
	return off;
}

static bool send_launch(const sbx_exec_t *x, const int fds[SPARE_NFD])
{
	static char buf[SPARE_MSG_MAX];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * SPARE_NFD)];
	} ctl;
	size_t len = serialize(x, buf, sizeof buf);
	struct iovec iov = { buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = sizeof ctl.buf };
	struct cmsghdr *c;
	ssize_t sent;

	if (!len)
		return false;
	memset(&ctl, 0, sizeof ctl);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * SPARE_NFD);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * SPARE_NFD);
	do {
		sent = sendmsg(spare.sock, &mh, MSG_NOSIGNAL);
	} while (sent < 0 && errno == EINTR);
	if (sent != (ssize_t)len)
		log_warn("sandbox", "spare launch child: send: %s", strerror(errno));
	return sent == (ssize_t)len;
}

pid_t sbx_spare_claim(sbx_exec_t *x, const int fds[SPARE_NFD], sbx_cgroup_t *cg, int *status_fd)
{
	pid_t pid = spare.pid;

	if (!pid)
		return 0;
	/* the kernel's limits before it runs anything: the spare is still
	 * blocked, and the cgroups hold it alone */
	if (!is_ready() || sbx_cgroup_set_limits(&spare.cg, &x->limits) != 0 ||
	    !send_launch(x, fds)) {
		discard();
		return 0;
	}
	x->skip_memory = spare.cg.dir[CG_MEMORY] != NULL;
	x->skip_processes = spare.cg.dir[CG_PIDS] != NULL;
	*cg = spare.cg;
	*status_fd = spare.sock;
	memset(&spare.cg, 0, sizeof spare.cg);
	for (int i = 0; i < CG_NCTL; i++)
		spare.cg.procs_fd[i] = -1;
	spare.pid = 0;
	spare.sock = -1;
	log_debug("sandbox", "launch from the spare launch child %d", (int)pid);
	return pid;
}

void sbx_spare_stop(void)
{
	discard();
	for (int i = 0; i < CG_NCTL; i++)
		spare.cg.procs_fd[i] = -1;
	if (spare.has_timer) {
		uv_close((uv_handle_t *)&spare.timer, NULL);
		spare.has_timer = false;
	}
	spare.is_disabled = false;
}
