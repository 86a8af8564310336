/*
 * Starting and watching a sandbox process.
 *
 * We fork and exec bwrap ourselves rather than use uv_spawn, because the
 * child must do things libuv cannot: close every inherited descriptor (a
 * leaked server socket inside a sandbox would be an escape), drop to an
 * unprivileged uid, and arm a parent-death signal after that drop. The
 * child is then watched on the loop through a pidfd, and its stdout and
 * stderr through pipes.
 *
 * The watcher: while the sandbox runs, a timer on the same loop samples its
 * CPU time (the cgroup's cpuacct, else /proc for the kernel and its reaped
 * children), the cgroups' OOM-kill and process-limit counters, and during a
 * cell the workspace's size, and reports a limit reached through on_limit.
 * What to do about it (interrupt, stop, tell the user) is the kernel
 * manager's decision; the sandbox does not know about cells beyond the
 * begin/end marks it is given.
 */
#include "sandbox_private.h"

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

#define WATCH_MS 250
/* CPU seconds a cell may go on after its interrupt before it is stopped */
#define CELL_GRACE_S 3.0
/* how stale the workspace's measured size may be */
#define DISK_MAX_AGE_S 1.0

struct sbx {
	pid_t pid;
	pid_t kernel_pid;
	long init_pid;        /* the sandbox's pid 1, once bwrap has said it */
	int pidfd;
	int info_fd;          /* read end of bwrap's --info-fd */
	uv_poll_t exit_watch;
	uv_pipe_t out, err;
	uv_timer_t watch;
	int handles;          /* libuv handles not yet closed */
	bool is_running;
	bool is_freed;
	bool is_plain;
	sbx_exit_fn on_exit;
	sbx_output_fn on_output;
	sbx_limit_fn on_limit;
	void *arg;

	sbx_limits_t limits;
	sbx_cgroup_t cg;
	char *workspace;
	bool in_cell;
	double cell_cpu0;      /* CPU seconds at the cell's start */
	double cell_mark;      /* ... at its interrupt */
	double cell_limit;     /* CPU seconds the cell may use: the quota, plus extensions */
	bool cell_asking;      /* past the quota, a person is asked: no grace runs */
	int cell_hits;
	bool cell_pids_told;   /* the process limit, said once a cell */
	bool cell_disk_told;
	bool cpu_told;
	uint64_t oom_seen, pids_seen;
	sbx_limit_t fatal;     /* a limit reported that ends the kernel; SBX_LIMIT_COUNT */
};

static void on_closed(uv_handle_t *h)
{
	sbx_t *s = h->data;

	if (--s->handles == 0 && s->is_freed) {
		free(s->workspace);
		free(s);
	}
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
	uv_timer_stop(&s->watch);
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
 * The second half of every launch child (a fresh fork, or the spare of
 * spare.c): src[] holds the descriptors in target order (0 stdin, 1 stdout,
 * 2 stderr, SBX_FD_KERNEL_DIR, SBX_FD_INFO, SBX_FD_SECCOMP, then the status
 * channel); they are moved above every target first so no dup2 below can
 * overwrite a source that is still to be copied. Only async-signal-safe
 * calls. On any failure the errno goes up the status channel so the parent
 * can say why.
 */
void __attribute__((noreturn))
sbx_child_exec(const sbx_exec_t *x, int src[SBX_CHILD_NFD])
{
	enum { N = SBX_CHILD_NFD, STATUS = SBX_CHILD_NFD - 1 };
	int report = src[STATUS], e;
	sigset_t none;

	_Static_assert(SBX_FD_KERNEL_DIR == 3 && SBX_FD_INFO == 4 && SBX_FD_SECCOMP == 5 &&
			       STATUS == SBX_FD_LAST + 1,
		       "src[] lists the descriptors in this order");
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
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
	 * channel is close-on-exec so that exec itself reports success. */
	if (syscall(SYS_close_range, STATUS + 1, ~0U, 0) != 0 ||
	    fcntl(STATUS, F_SETFD, FD_CLOEXEC) != 0)
		goto fail;
	if (getuid() != x->uid || getgid() != x->gid) {
		if (setgroups(0, NULL) != 0 || setresgid(x->gid, x->gid, x->gid) != 0 ||
		    setresuid(x->uid, x->uid, x->uid) != 0)
			goto fail;
	}
	/* after the uid change, so that none of them is lifted by privilege */
	if (sbx_limits_apply(&x->limits, x->skip_memory, x->skip_processes) != 0)
		goto fail;
	/* After the uid change, which clears it: die with the server. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
		goto fail;
	execve(x->argv[0], x->argv, x->envp);
fail:
	e = errno;
	(void)!write(report, &e, sizeof e);
	_exit(127);
}

/* A fresh launch child: joins the sandbox's cgroups (the slow part, see
 * spare.c), then goes on as above. */
static void __attribute__((noreturn))
child(const sbx_exec_t *x, const sbx_cgroup_t *cg, int src[SBX_CHILD_NFD])
{
	int e;

	/* first, while we still may: into the sandbox's cgroups, so that
	 * bwrap and everything it starts is counted and limited */
	if (sbx_cgroup_join(cg) != 0) {
		e = errno;
		(void)!write(src[SBX_CHILD_NFD - 1], &e, sizeof e);
		_exit(127);
	}
	setsid();
	src[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	sbx_child_exec(x, src);
}

static int open_pipe(int fds[2])
{
	return pipe2(fds, O_CLOEXEC);
}

/* --- the watcher ----------------------------------------------------------- */

/* CPU seconds of the kernel and its reaped children, from /proc: the
 * measure when there is no cpuacct cgroup. */
static double proc_cpu_seconds(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st, cut, cst;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* the command name may hold anything; the fields start after its ')' */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu",
			 &ut, &st, &cut, &cst) != 4)
		return 0;
	return (double)(ut + st + cut + cst) / (double)sysconf(_SC_CLK_TCK);
}

double sbx_cpu_seconds(sbx_t *s)
{
	int64_t ns = sbx_cgroup_cpu_ns(&s->cg);
	pid_t k;

	if (ns >= 0)
		return (double)ns / 1e9;
	k = s->is_running ? sbx_kernel_pid(s) : 0;
	return k ? proc_cpu_seconds(k) : 0;
}

static void report(sbx_t *s, sbx_limit_t which, int count)
{
	if (which == SBX_LIMIT_CPU || which == SBX_LIMIT_DISK ||
	    (which == SBX_LIMIT_CELL_CPU && count > 1))
		s->fatal = which;
	if (s->on_limit)
		s->on_limit(s->arg, which, count);
}

static void watch_cell(sbx_t *s, double cpu)
{
	uint64_t q = s->limits.cell_cpu_seconds;
	bool partial;

	if (q && s->cell_asking) {
		/* the answer decides (sbx_cell_extend, sbx_cell_refuse) */
	} else if (q && s->cell_hits == 0 && cpu - s->cell_cpu0 >= s->cell_limit) {
		s->cell_hits = 1;
		s->cell_mark = cpu;
		report(s, SBX_LIMIT_CELL_CPU, 1);
	} else if (q && s->cell_hits == 1 && cpu - s->cell_mark >= CELL_GRACE_S) {
		s->cell_hits = 2;
		report(s, SBX_LIMIT_CELL_CPU, 2);
	}
	if (s->limits.disk_bytes && !s->cell_disk_told && s->is_running &&
	    sbx_disk_usage(s->workspace, DISK_MAX_AGE_S, &partial) > s->limits.disk_bytes) {
		s->cell_disk_told = true;
		report(s, SBX_LIMIT_DISK, 1);
	}
}

static void on_watch(uv_timer_t *t)
{
	sbx_t *s = t->data;
	double cpu;
	uint64_t n;

	if (!s->is_running)
		return;
	cpu = sbx_cpu_seconds(s);
	if (s->limits.cpu_seconds && !s->cpu_told && cpu >= (double)s->limits.cpu_seconds) {
		s->cpu_told = true;
		report(s, SBX_LIMIT_CPU, 1);
	}
	if (s->is_running && s->in_cell)
		watch_cell(s, cpu);
	n = sbx_cgroup_oom_kills(&s->cg);
	if (s->is_running && n > s->oom_seen) {
		s->oom_seen = n;
		report(s, SBX_LIMIT_MEMORY, (int)(n > 1000 ? 1000 : n));
	}
	n = sbx_cgroup_pids_max_hits(&s->cg);
	if (s->is_running && n > s->pids_seen) {
		s->pids_seen = n;
		if (!s->cell_pids_told) {
			s->cell_pids_told = true;
			report(s, SBX_LIMIT_PROCESSES, 1);
		}
	}
}

void sbx_cell_begin(sbx_t *s)
{
	if (!s || s->in_cell)
		return;
	s->in_cell = true;
	s->cell_hits = 0;
	s->cell_asking = false;
	s->cell_limit = (double)s->limits.cell_cpu_seconds;
	s->cell_pids_told = s->cell_disk_told = false;
	s->cell_cpu0 = s->limits.cell_cpu_seconds ? sbx_cpu_seconds(s) : 0;
}

void sbx_cell_ask(sbx_t *s)
{
	if (s && s->in_cell && s->cell_hits == 1)
		s->cell_asking = true;
}

void sbx_cell_extend(sbx_t *s, double seconds)
{
	if (!s || !s->in_cell || s->cell_hits != 1)
		return;
	/* from now: what it used while the person thought is not held against it */
	s->cell_limit = sbx_cpu_seconds(s) - s->cell_cpu0 + seconds;
	s->cell_hits = 0;
	s->cell_asking = false;
}

void sbx_cell_refuse(sbx_t *s)
{
	if (!s || !s->in_cell || s->cell_hits != 1)
		return;
	s->cell_asking = false;
	s->cell_mark = sbx_cpu_seconds(s);
}

void sbx_cell_end(sbx_t *s)
{
	if (s)
		s->in_cell = false;
}

const char *sbx_mechanism(const sbx_t *s, sbx_limit_t which)
{
	static const char *const cg_names[] = { "none", "cgroup-v1", "cgroup-v2" };
	const char *cg = cg_names[s->cg.version];

	switch (which) {
	case SBX_LIMIT_MEMORY:
		return !s->limits.memory_bytes ? "none" : s->cg.dir[CG_MEMORY] ? cg : "rlimit";
	case SBX_LIMIT_PROCESSES:
		return !s->limits.processes ? "none" : s->cg.dir[CG_PIDS] ? cg : "rlimit";
	case SBX_LIMIT_CPU:
		return s->is_plain || !s->limits.cpu_seconds ? "none" : "watch";
	case SBX_LIMIT_CELL_CPU:
		return s->is_plain || !s->limits.cell_cpu_seconds ? "none" : "watch";
	case SBX_LIMIT_DISK:
		return s->is_plain || !s->limits.disk_bytes ? "none" : "watch";
	default:
		return "none";
	}
}

sbx_limit_t sbx_death_cause(sbx_t *s)
{
	if (s->fatal != SBX_LIMIT_COUNT)
		return s->fatal;
	/* the OOM killer chose a process of ours: the kernel, or what it waited on */
	if (sbx_cgroup_oom_kills(&s->cg) > 0)
		return SBX_LIMIT_MEMORY;
	return SBX_LIMIT_COUNT;
}

/* --- launching --------------------------------------------------------------- */

sbx_t *sbx_launch(uv_loop_t *loop, const sbx_spec_t *spec, const sbx_callbacks_t *cb, void *arg,
		  err_t *err)
{
	int out[2] = { -1, -1 }, errp[2] = { -1, -1 }, info[2] = { -1, -1 };
	int status[2] = { -1, -1 };
	int seccomp_fd = -1;
	char *envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	char **argv = sbx_bwrap_argv(spec, err);
	sbx_cgroup_t cg = { .procs_fd = { -1, -1, -1 } };
	sbx_exec_t x = { 0 };
	sbx_t *s = NULL;
	int child_errno = 0;
	ssize_t got;
	pid_t pid;

	if (!argv)
		return NULL;
	/* the plain sandbox gets /dev/null where the filter would be */
	seccomp_fd = spec->is_plain ? open("/dev/null", O_RDONLY | O_CLOEXEC) : sbx_seccomp_fd(err);
	if (seccomp_fd < 0)
		goto fail;
	if (open_pipe(out) || open_pipe(errp) || open_pipe(info)) {
		err_set(err, CG_ESYS, "pipe: %s", strerror(errno));
		goto fail;
	}
	x.argv = argv;
	x.envp = envp;
	x.uid = spec->uid;
	x.gid = spec->gid;
	x.limits = spec->limits;
	pid = 0;
	if (!spec->is_plain && spec->name) {
		int fds[SBX_CHILD_NFD - 2] = { out[1], errp[1], spec->kernel_dir_fd, info[1],
					       seccomp_fd };

		sbx_cgroup_use_loop(loop);
		/* a spare already in cgroups of its own, else fresh ones */
		pid = sbx_spare_claim(&x, fds, &cg, &status[0]);
		if (!pid)
			sbx_cgroup_create(&cg, spec->name, &spec->limits);
		sbx_spare_schedule(loop);
	}
	if (!pid && open_pipe(status)) {
		err_set(err, CG_ESYS, "pipe: %s", strerror(errno));
		goto fail;
	}
	if (!pid)
		pid = fork();
	if (pid < 0) {
		err_set(err, CG_ESYS, "fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		int src[SBX_CHILD_NFD] = { -1, out[1], errp[1], spec->kernel_dir_fd, info[1],
					   seccomp_fd, status[1] };

		x.skip_memory = cg.dir[CG_MEMORY] != NULL;
		x.skip_processes = cg.dir[CG_PIDS] != NULL;
		child(&x, &cg, src);
	}

	sbx_cgroup_close_fds(&cg);
	close(out[1]);
	close(errp[1]);
	close(info[1]);
	if (status[1] >= 0)
		close(status[1]);
	close(seccomp_fd);
	out[1] = errp[1] = info[1] = status[1] = seccomp_fd = -1;
	/* exec closes the status channel (CLOEXEC): EOF means bwrap is running */
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
	if (s)
		s->workspace = strdup(spec->workspace);
	if (!s || !s->workspace) {
		if (s)
			free(s);
		s = NULL;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		err_set(err, CG_ESYS, "out of memory");
		goto fail;
	}
	s->pid = pid;
	s->is_running = true;
	s->is_plain = spec->is_plain;
	s->on_exit = cb->on_exit;
	s->on_output = cb->on_output;
	s->on_limit = cb->on_limit;
	s->arg = arg;
	s->limits = spec->limits;
	s->cg = cg;
	cg.version = 0;
	memset(cg.dir, 0, sizeof cg.dir);
	s->fatal = SBX_LIMIT_COUNT;
	s->info_fd = info[0];
	fcntl(s->info_fd, F_SETFL, O_NONBLOCK);
	info[0] = -1;
	s->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (s->pidfd < 0) {
		err_set(err, CG_ESYS, "pidfd_open: %s", strerror(errno));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(s->info_fd);
		sbx_cgroup_destroy(&s->cg);
		free(s->workspace);
		free(s);
		s = NULL;
		goto fail;
	}
	uv_poll_init(loop, &s->exit_watch, s->pidfd);
	uv_pipe_init(loop, &s->out, 0);
	uv_pipe_init(loop, &s->err, 0);
	uv_timer_init(loop, &s->watch);
	s->exit_watch.data = s->out.data = s->err.data = s->watch.data = s;
	s->handles = 4;
	uv_pipe_open(&s->out, out[0]);
	uv_pipe_open(&s->err, errp[0]);
	out[0] = errp[0] = -1;
	uv_read_start((uv_stream_t *)&s->out, on_alloc, on_read);
	uv_read_start((uv_stream_t *)&s->err, on_alloc, on_read);
	uv_poll_start(&s->exit_watch, UV_READABLE, on_exit_ready);
	if (!spec->is_plain)
		uv_timer_start(&s->watch, on_watch, WATCH_MS, WATCH_MS);
	sbx_argv_free(&argv);
	return s;
fail:
	sbx_cgroup_destroy(&cg);
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
	ssize_t n;
	FILE *f;

	if (s->kernel_pid || !s->is_running)
		return s->kernel_pid;
	/* bwrap writes the info once: keep what it said, for the next try */
	if (!s->init_pid) {
		n = read(s->info_fd, buf, sizeof buf - 1);
		if (n <= 0)
			return 0;
		buf[n] = '\0';
		p = strstr(buf, "\"child-pid\"");
		p = p ? strchr(p, ':') : NULL;
		s->init_pid = p ? strtol(p + 1, NULL, 10) : 0;
		if (s->init_pid <= 0) {
			s->init_pid = 0;
			return 0;
		}
	}
	snprintf(path, sizeof path, "/proc/%ld/task/%ld/children", s->init_pid, s->init_pid);
	f = fopen(path, "re");
	if (f) {
		long kpid = 0;

		if (fscanf(f, "%ld", &kpid) == 1 && kpid > 0)
			s->kernel_pid = (pid_t)kpid;
		fclose(f);
	}
	/* not forked yet: the next call looks again */
	if (!s->kernel_pid)
		log_debug("sandbox", "kernel pid not known yet");
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
	sbx_cgroup_destroy(&s->cg);
	s->is_freed = true;
	close_handle((uv_handle_t *)&s->watch);
	close_handle((uv_handle_t *)&s->exit_watch);
	close_handle((uv_handle_t *)&s->out);
	close_handle((uv_handle_t *)&s->err);
	close(s->pidfd);
}
