/*
 * Starting and watching a sandbox process.
 *
 * We fork and exec bwrap ourselves rather than use uv_spawn, because the
 * child must do things libuv cannot: close every inherited descriptor (a
 * leaked server socket inside a sandbox would be an escape), drop to an
 * unprivileged uid, and arm a parent-death signal after that drop. The
 * child is then watched on the loop through a pidfd, and its stdout and
 * stderr through pipes.
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/log.h"

struct sbx {
	pid_t pid;
	pid_t kernel_pid;
	int pidfd;
	int info_fd;          /* read end of bwrap's --info-fd */
	uv_poll_t exit_watch;
	uv_pipe_t out, err;
	int handles;          /* libuv handles not yet closed */
	bool is_running;
	bool is_freed;
	sbx_exit_fn on_exit;
	sbx_output_fn on_output;
	void *arg;
};

static void on_closed(uv_handle_t *h)
{
	sbx_t *s = h->data;

	if (--s->handles == 0 && s->is_freed)
		free(s);
}

static void close_handle(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, on_closed);
}

static void on_exit_ready(uv_poll_t *h, int status, int events)
{
	sbx_t *s = h->data;
	int wstatus = 0, code;

	(void)status;
	(void)events;
	if (waitpid(s->pid, &wstatus, WNOHANG) != s->pid)
		return;
	uv_poll_stop(h);
	s->is_running = false;
	code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus)
				  : 128 + (WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0);
	if (s->on_exit)
		s->on_exit(s->arg, code);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char chunk[16384];

	(void)h;
	(void)suggested;
	/* Output is consumed synchronously in on_read, so one buffer serves all. */
	*buf = uv_buf_init(chunk, sizeof chunk);
}

static void on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
	sbx_t *s = stream->data;

	if (n > 0 && s->on_output)
		s->on_output(s->arg, stream == (uv_stream_t *)&s->err, buf->base, (size_t)n);
	else if (n < 0)
		uv_read_stop(stream);
}

/*
 * In the child, between fork and exec: only async-signal-safe calls. On any
 * failure the errno goes up the status pipe so the parent can say why.
 */
static void __attribute__((noreturn))
child(const sbx_spec_t *spec, char **argv, char **envp, int out_w, int err_w, int info_w,
      int seccomp_fd, int status_w)
{
	/* source descriptors in target order (0 stdin, 1 stdout, 2 stderr,
	 * SBX_FD_KERNEL_DIR, SBX_FD_INFO, SBX_FD_SECCOMP, then the status pipe),
	 * moved above every target first so no dup2 below can overwrite a
	 * source that is still to be copied */
	enum { N = SBX_FD_LAST + 2, STATUS = SBX_FD_LAST + 1 };
	int src[N] = { -1, out_w, err_w, spec->kernel_dir_fd, info_w, seccomp_fd, status_w };
	int report = status_w, e;
	sigset_t none;

	_Static_assert(SBX_FD_KERNEL_DIR == 3 && SBX_FD_INFO == 4 && SBX_FD_SECCOMP == 5,
		       "src[] lists the descriptors in this order");
	setsid();
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	src[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (int i = 0; i < N; i++) {
		if (src[i] < 0 || (src[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 16)) < 0)
			goto fail;
	}
	report = src[STATUS];
	for (int i = 0; i < N; i++) {
		if (dup2(src[i], i) < 0)
			goto fail;
	}
	report = STATUS;
	/* Nothing of the server crosses into the sandbox but these; the status
	 * pipe is close-on-exec so that exec itself reports success. */
	if (syscall(SYS_close_range, STATUS + 1, ~0U, 0) != 0 ||
	    fcntl(STATUS, F_SETFD, FD_CLOEXEC) != 0)
		goto fail;
	if (getuid() != spec->uid || getgid() != spec->gid) {
		if (setgroups(0, NULL) != 0 || setresgid(spec->gid, spec->gid, spec->gid) != 0 ||
		    setresuid(spec->uid, spec->uid, spec->uid) != 0)
			goto fail;
	}
	/* after the uid change, so that none of them is lifted by privilege */
	if (sbx_limits_apply(&spec->limits) != 0)
		goto fail;
	/* After the uid change, which clears it: die with the server. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
		goto fail;
	execve(argv[0], argv, envp);
fail:
	e = errno;
	(void)!write(report, &e, sizeof e);
	_exit(127);
}

static int open_pipe(int fds[2])
{
	return pipe2(fds, O_CLOEXEC);
}

sbx_t *sbx_launch(uv_loop_t *loop, const sbx_spec_t *spec, sbx_exit_fn on_exit,
		  sbx_output_fn on_output, void *arg, err_t *err)
{
	int out[2] = { -1, -1 }, errp[2] = { -1, -1 }, info[2] = { -1, -1 };
	int status[2] = { -1, -1 };
	int seccomp_fd = -1;
	char *envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	char **argv = sbx_bwrap_argv(spec, err);
	sbx_t *s = NULL;
	int child_errno = 0;
	ssize_t got;
	pid_t pid;

	if (!argv)
		return NULL;
	seccomp_fd = sbx_seccomp_fd(err);
	if (seccomp_fd < 0)
		goto fail;
	if (open_pipe(out) || open_pipe(errp) || open_pipe(info) || open_pipe(status)) {
		err_set(err, CG_ESYS, "pipe: %s", strerror(errno));
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		err_set(err, CG_ESYS, "fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0)
		child(spec, argv, envp, out[1], errp[1], info[1], seccomp_fd, status[1]);

	close(out[1]);
	close(errp[1]);
	close(info[1]);
	close(status[1]);
	close(seccomp_fd);
	out[1] = errp[1] = info[1] = status[1] = seccomp_fd = -1;
	/* exec closes the status pipe (CLOEXEC): EOF means bwrap is running */
	do {
		got = read(status[0], &child_errno, sizeof child_errno);
	} while (got < 0 && errno == EINTR);
	close(status[0]);
	status[0] = -1;
	if (got == (ssize_t)sizeof child_errno) {
		waitpid(pid, NULL, 0);
		err_set(err, CG_ESYS, "cannot start the sandbox: %s", strerror(child_errno));
		goto fail;
	}

	s = calloc(1, sizeof *s);
	if (!s) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		err_set(err, CG_ESYS, "out of memory");
		goto fail;
	}
	s->pid = pid;
	s->is_running = true;
	s->on_exit = on_exit;
	s->on_output = on_output;
	s->arg = arg;
	s->info_fd = info[0];
	fcntl(s->info_fd, F_SETFL, O_NONBLOCK);
	info[0] = -1;
	s->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (s->pidfd < 0) {
		err_set(err, CG_ESYS, "pidfd_open: %s", strerror(errno));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(s->info_fd);
		free(s);
		s = NULL;
		goto fail;
	}
	uv_poll_init(loop, &s->exit_watch, s->pidfd);
	uv_pipe_init(loop, &s->out, 0);
	uv_pipe_init(loop, &s->err, 0);
	s->exit_watch.data = s->out.data = s->err.data = s;
	s->handles = 3;
	uv_pipe_open(&s->out, out[0]);
	uv_pipe_open(&s->err, errp[0]);
	out[0] = errp[0] = -1;
	uv_read_start((uv_stream_t *)&s->out, on_alloc, on_read);
	uv_read_start((uv_stream_t *)&s->err, on_alloc, on_read);
	uv_poll_start(&s->exit_watch, UV_READABLE, on_exit_ready);
	sbx_argv_free(&argv);
	return s;
fail:
	if (seccomp_fd >= 0)
		close(seccomp_fd);
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
		if (info[i] >= 0)
			close(info[i]);
		if (status[i] >= 0)
			close(status[i]);
	}
	sbx_argv_free(&argv);
	return NULL;
}

pid_t sbx_pid(const sbx_t *s)
{
	return s->pid;
}

bool sbx_is_running(const sbx_t *s)
{
	return s && s->is_running;
}

/* bwrap writes {"child-pid": N, ...} where N is the sandbox's pid 1 (its
 * reaper); the kernel is that process's only child. */
pid_t sbx_kernel_pid(sbx_t *s)
{
	char buf[1024], path[64];
	const char *p;
	long init_pid;
	ssize_t n;
	FILE *f;

	if (s->kernel_pid || !s->is_running)
		return s->kernel_pid;
	n = read(s->info_fd, buf, sizeof buf - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strstr(buf, "\"child-pid\"");
	p = p ? strchr(p, ':') : NULL;
	init_pid = p ? strtol(p + 1, NULL, 10) : 0;
	if (init_pid <= 0)
		return 0;
	snprintf(path, sizeof path, "/proc/%ld/task/%ld/children", init_pid, init_pid);
	f = fopen(path, "re");
	if (f) {
		long kpid = 0;

		if (fscanf(f, "%ld", &kpid) == 1 && kpid > 0)
			s->kernel_pid = (pid_t)kpid;
		fclose(f);
	}
	if (!s->kernel_pid) {
		/* not yet forked: put the bytes back for the next try */
		log_debug("sandbox", "kernel pid not known yet");
	}
	return s->kernel_pid;
}

int sbx_signal_kernel(sbx_t *s, int sig)
{
	pid_t k;

	if (!s->is_running)
		return CG_ESTATE;
	k = sbx_kernel_pid(s);
	if (!k)
		return CG_ESTATE;
	/* the kernel leads its own session inside (bwrap --new-session) */
	if (kill(-k, sig) != 0 && kill(k, sig) != 0)
		return CG_ESYS;
	return 0;
}

void sbx_kill(sbx_t *s)
{
	/* bwrap dies; its pid 1 gets SIGKILL (--die-with-parent), and the death
	 * of a pid namespace's init kills everything inside it. */
	if (s->is_running)
		kill(s->pid, SIGKILL);
}

void sbx_free(sbx_t **self_p)
{
	sbx_t *s = *self_p;

	if (!s)
		return;
	*self_p = NULL;
	if (s->is_running) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		s->is_running = false;
	}
	close(s->info_fd);
	s->is_freed = true;
	close_handle((uv_handle_t *)&s->exit_watch);
	close_handle((uv_handle_t *)&s->out);
	close_handle((uv_handle_t *)&s->err);
	close(s->pidfd);
}
