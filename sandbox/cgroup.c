/*
 * A kernel sandbox's cgroups.
 *
 * Each sandbox gets child cgroups named cellgate-<name> under the server's
 * own cgroup: in the unified hierarchy (v2) when ours is writable and has
 * the memory and pids controllers delegated (listed in its
 * cgroup.subtree_control), else in each cgroup v1 hierarchy that mounts
 * memory, pids and cpuacct where our cgroup's directory is writable. The
 * parent's own limits are never touched. The launch child joins them
 * (writes 0 to cgroup.procs) before it executes bwrap, so everything in the
 * sandbox is accounted from the first instruction.
 *
 * Whatever is missing falls back to rlimits (memory, processes) or to
 * sampling /proc (CPU time); sbx_mechanism says which, per limit.
 *
 * A server that is killed (SIGKILL, a crash) leaves its empty cgroups
 * behind, and the names carry its pid, which the system hands out again:
 * the first discovery removes the empty ones of servers no longer running,
 * and a name found taken is a dead namesake's, removed and made anew.
 */
#include "sandbox_private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"

static const char *const v1_names[CG_NCTL] = { "memory", "pids", "cpuacct" };

/* Where our own cgroups are, found once. */
static struct {
	bool is_known;
	char *v2;                /* our cgroup's directory in the unified hierarchy, when usable */
	char *v1[CG_NCTL];       /* our cgroup's directory per v1 controller, when writable */
} own;

/* True when list (comma-separated) holds word. */
static bool has_token(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == n && strncmp(p, word, n) == 0)
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

/* Our path in a hierarchy from /proc/self/cgroup: "0" for v2 (controllers
 * ""), else the v1 line that lists ctl. */
static char *own_path(const char *ctl)
{
	char line[1024], *out = NULL;
	FILE *f = fopen("/proc/self/cgroup", "re");

	while (f && !out && fgets(line, sizeof line, f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2)
			continue;
		*c2 = '\0';
		line[strcspn(line, "\n")] = '\0';
		c2[1 + strcspn(c2 + 1, "\n")] = '\0';
		if (ctl ? has_token(c1 + 1, ctl) : (strcmp(line, "0") == 0 && !c1[1]))
			out = strdup(c2 + 1);
	}
	if (f)
		fclose(f);
	return out;
}

/* The mount point of a hierarchy (fstype "cgroup2", or "cgroup" with ctl in
 * its super options) and its root, from /proc/self/mountinfo. */
static bool find_mount(const char *ctl, char *mnt, size_t mnt_size, char *root, size_t root_size)
{
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	bool found = false;

	while (f && !found && fgets(line, sizeof line, f)) {
		char r[1024], m[1024], fstype[64], src[256], opts[1024];
		const char *dash = strstr(line, " - ");

		if (!dash || sscanf(line, "%*s %*s %*s %1023s %1023s", r, m) != 2 ||
		    sscanf(dash + 3, "%63s %255s %1023s", fstype, src, opts) != 3)
			continue;
		if (ctl ? strcmp(fstype, "cgroup") == 0 && has_token(opts, ctl)
			: strcmp(fstype, "cgroup2") == 0) {
			snprintf(mnt, mnt_size, "%s", m);
			snprintf(root, root_size, "%s", r);
			found = true;
		}
	}
	if (f)
		fclose(f);
	return found;
}

/* mount + (path below the mount's root), if it is a writable directory. */
static char *own_dir(const char *ctl)
{
	char mnt[1024], root[1024], buf[PATH_MAX];
	char *path = own_path(ctl);
	const char *rel;
	size_t rl;

	if (!path || !find_mount(ctl, mnt, sizeof mnt, root, sizeof root)) {
		free(path);
		return NULL;
	}
	rl = strcmp(root, "/") == 0 ? 0 : strlen(root);
	rel = strncmp(path, root, rl) == 0 ? path + rl : path;
	snprintf(buf, sizeof buf, "%s%s", mnt, strcmp(rel, "/") == 0 ? "" : rel);
	free(path);
	if (access(buf, W_OK) != 0)
		return NULL;
	return strdup(buf);
}

static int read_file(const char *dir, const char *name, char *buf, size_t size)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

static int write_file(const char *dir, const char *name, const char *value)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = write(fd, value, strlen(value));
	close(fd);
	return n == (ssize_t)strlen(value) ? 0 : -1;
}

/* The empty cgroups of killed servers (cellgate-<pid>-... whose pid runs
 * no longer, or is another program now) under parent, removed. */
static void sweep_dead_servers(const char *parent)
{
	DIR *d = opendir(parent);
	struct dirent *e;
	char path[PATH_MAX], comm[64];
	int removed = 0;

	while (d && (e = readdir(d)) != NULL) {
		long pid;
		char *end;

		if (strncmp(e->d_name, "cellgate-", 9) != 0)
			continue;
		pid = strtol(e->d_name + 9, &end, 10);
		if (end == e->d_name + 9 || *end != '-' || pid <= 0 || pid == (long)getpid())
			continue;
		snprintf(path, sizeof path, "/proc/%ld", pid);
		if (read_file(path, "comm", comm, sizeof comm) == 0 && strncmp(comm, "cellgate", 8) == 0)
			continue; /* a server that runs: its own */
		snprintf(path, sizeof path, "%s/%s", parent, e->d_name);
		removed += rmdir(path) == 0; /* refused while anything is in it */
	}
	if (d)
		closedir(d);
	if (removed)
		log_info("sandbox", "cgroups: removed %d left behind by servers that were killed "
			 "under %s", removed, parent);
}

static void discover(void)
{
	char ctl[256];

	if (own.is_known)
		return;
	own.is_known = true;
	own.v2 = own_dir(NULL);
	if (own.v2 && (read_file(own.v2, "cgroup.subtree_control", ctl, sizeof ctl) != 0 ||
		       !strstr(ctl, "memory") || !strstr(ctl, "pids"))) {
		free(own.v2);
		own.v2 = NULL;
	}
	for (int i = 0; !own.v2 && i < CG_NCTL; i++)
		own.v1[i] = own_dir(v1_names[i]);
	for (int i = 0; i < CG_NCTL; i++)
		if (own.v2 ? i == 0 : own.v1[i] != NULL)
			sweep_dead_servers(own.v2 ? own.v2 : own.v1[i]);
	if (!own.v2 && !own.v1[CG_MEMORY] && !own.v1[CG_PIDS] && !own.v1[CG_CPU])
		log_info("sandbox", "cgroups: none we may create; memory and processes are "
			 "limited by rlimits, CPU time read from /proc");
	else
		log_info("sandbox", "cgroups: %s%s%s%s", own.v2 ? "v2 " : "",
			 own.v1[CG_MEMORY] ? "v1 memory " : "", own.v1[CG_PIDS] ? "v1 pids " : "",
			 own.v1[CG_CPU] ? "v1 cpuacct" : "");
}

static int open_procs(const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/cgroup.procs", dir);
	return open(path, O_WRONLY | O_CLOEXEC);
}

static char *make_child(const char *parent, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/%s", parent, name);
	/* our pid is in the name: one that exists is a dead server's */
	if (mkdir(path, 0755) != 0 && !(errno == EEXIST && rmdir(path) == 0 &&
					 mkdir(path, 0755) == 0)) {
		log_warn("sandbox", "cannot create cgroup %s: %s", path, strerror(errno));
		return NULL;
	}
	return strdup(path);
}

static int set_limit(const char *dir, const char *file, uint64_t v)
{
	char num[32];

	if (!v)
		return 0;
	snprintf(num, sizeof num, "%llu", (unsigned long long)v);
	if (write_file(dir, file, num) == 0)
		return 0;
	log_warn("sandbox", "cannot set %s/%s: %s", dir, file, strerror(errno));
	return -1;
}

int sbx_cgroup_set_limits(const sbx_cgroup_t *cg, const sbx_limits_t *l)
{
	int rc = 0;

	if (cg->version == 2) {
		rc |= set_limit(cg->dir[CG_MEMORY], "memory.max", l->memory_bytes);
		/* no swap for a kernel: the limit is the limit */
		if (l->memory_bytes)
			(void)write_file(cg->dir[CG_MEMORY], "memory.swap.max", "0");
		return rc | set_limit(cg->dir[CG_PIDS], "pids.max", l->processes);
	}
	if (cg->dir[CG_MEMORY]) {
		rc |= set_limit(cg->dir[CG_MEMORY], "memory.limit_in_bytes", l->memory_bytes);
		/* memory plus swap, where accounted (not always): the same, so
		 * no swapping out of it */
		if (l->memory_bytes)
			(void)set_limit(cg->dir[CG_MEMORY], "memory.memsw.limit_in_bytes",
					l->memory_bytes);
	}
	if (cg->dir[CG_PIDS])
		rc |= set_limit(cg->dir[CG_PIDS], "pids.max", l->processes);
	return rc;
}

void sbx_cgroup_create(sbx_cgroup_t *cg, const char *kernel_name, const sbx_limits_t *l)
{
	/* a restarted kernel gets fresh cgroups (and counters), even while
	 * the last one's are still being emptied */
	static unsigned seq;
	char name[160];

	snprintf(name, sizeof name, "cellgate-%d-%.64s-%u", (int)getpid(), kernel_name, ++seq);
	memset(cg, 0, sizeof *cg);
	for (int i = 0; i < CG_NCTL; i++)
		cg->procs_fd[i] = -1;
	discover();
	sbx_cgroup_sweep();
	if (own.v2) {
		char *d = make_child(own.v2, name);

		if (!d)
			return;
		cg->version = 2;
		for (int i = 0; i < CG_NCTL; i++)
			cg->dir[i] = d;
		sbx_cgroup_set_limits(cg, l);
		cg->procs_fd[0] = open_procs(d);
		return;
	}
	for (int i = 0; i < CG_NCTL; i++) {
		if (own.v1[i] && (cg->dir[i] = make_child(own.v1[i], name)))
			cg->version = 1;
	}
	sbx_cgroup_set_limits(cg, l);
	for (int i = 0; i < CG_NCTL; i++)
		cg->procs_fd[i] = cg->dir[i] ? open_procs(cg->dir[i]) : -1;
	/* moving each task is the one thing that makes the limits real */
	for (int i = 0; i < CG_NCTL; i++) {
		if (cg->dir[i] && cg->procs_fd[i] < 0) {
			log_warn("sandbox", "cannot open %s/cgroup.procs: %s", cg->dir[i], strerror(errno));
			rmdir(cg->dir[i]);
			free(cg->dir[i]);
			cg->dir[i] = NULL;
		}
	}
	if (!cg->dir[CG_MEMORY] && !cg->dir[CG_PIDS] && !cg->dir[CG_CPU])
		cg->version = 0;
}

int sbx_cgroup_join(const sbx_cgroup_t *cg)
{
	for (int i = 0; i < CG_NCTL; i++) {
		if (cg->procs_fd[i] >= 0 && write(cg->procs_fd[i], "0", 1) != 1)
			return -1;
	}
	return 0;
}

void sbx_cgroup_close_fds(sbx_cgroup_t *cg)
{
	for (int i = 0; i < CG_NCTL; i++) {
		if (cg->procs_fd[i] >= 0)
			close(cg->procs_fd[i]);
		cg->procs_fd[i] = -1;
	}
}

/* The number after key in a "key value" file. */
static uint64_t keyed(const char *dir, const char *file, const char *key)
{
	char buf[2048], *p;
	size_t n = strlen(key);

	if (!dir || read_file(dir, file, buf, sizeof buf) != 0)
		return 0;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, n) == 0 && p[n] == ' ')
			return strtoull(p + n + 1, NULL, 10);
	}
	return 0;
}

int64_t sbx_cgroup_cpu_ns(const sbx_cgroup_t *cg)
{
	char buf[64];

	if (!cg->dir[CG_CPU])
		return -1;
	if (cg->version == 2)
		return (int64_t)keyed(cg->dir[CG_CPU], "cpu.stat", "usage_usec") * 1000;
	if (read_file(cg->dir[CG_CPU], "cpuacct.usage", buf, sizeof buf) != 0)
		return -1;
	return (int64_t)strtoull(buf, NULL, 10);
}

uint64_t sbx_cgroup_oom_kills(const sbx_cgroup_t *cg)
{
	if (cg->version == 2)
		return keyed(cg->dir[CG_MEMORY], "memory.events", "oom_kill");
	return keyed(cg->dir[CG_MEMORY], "memory.oom_control", "oom_kill");
}

uint64_t sbx_cgroup_pids_max_hits(const sbx_cgroup_t *cg)
{
	return keyed(cg->dir[CG_PIDS], "pids.events", "max");
}

/* Removals that found the cgroup still busy: its last processes, already
 * killed, were still exiting. Retried on a timer of the loop the sandboxes
 * run on, and at exit (sbx_cleanup). */
#define PENDING_MAX 64
#define SWEEP_MS 50
static char *pending[PENDING_MAX];
static uv_timer_t sweep_timer;
static bool has_timer;

static void on_sweep(uv_timer_t *t)
{
	bool left = false;

	sbx_cgroup_sweep();
	for (int i = 0; i < PENDING_MAX; i++)
		left = left || pending[i];
	if (!left)
		uv_timer_stop(t);
}

void sbx_cgroup_use_loop(uv_loop_t *loop)
{
	if (has_timer)
		return;
	uv_timer_init(loop, &sweep_timer);
	uv_unref((uv_handle_t *)&sweep_timer);
	has_timer = true;
}

static void kill_members(const char *dir)
{
	char buf[8192], *p, *end;

	if (read_file(dir, "cgroup.procs", buf, sizeof buf) != 0)
		return;
	for (p = buf; *p; p = end) {
		long pid = strtol(p, &end, 10);

		if (end == p)
			break;
		if (pid > 1)
			kill((pid_t)pid, SIGKILL);
	}
}

static void remove_dir(char *dir)
{
	if (rmdir(dir) == 0 || errno == ENOENT) {
		free(dir);
		return;
	}
	kill_members(dir);
	for (int i = 0; i < PENDING_MAX; i++) {
		if (!pending[i]) {
			pending[i] = dir;
			if (has_timer && !uv_is_active((uv_handle_t *)&sweep_timer))
				uv_timer_start(&sweep_timer, on_sweep, SWEEP_MS, SWEEP_MS);
			return;
		}
	}
	log_warn("sandbox", "cgroup %s left behind: %s", dir, strerror(errno));
	free(dir);
}

void sbx_cgroup_sweep(void)
{
	for (int i = 0; i < PENDING_MAX; i++) {
		if (pending[i] && (rmdir(pending[i]) == 0 || errno == ENOENT)) {
			free(pending[i]);
			pending[i] = NULL;
		}
	}
}

void sbx_cgroup_destroy(sbx_cgroup_t *cg)
{
	sbx_cgroup_close_fds(cg);
	if (cg->version == 2 && cg->dir[0]) {
		write_file(cg->dir[0], "cgroup.kill", "1");
		remove_dir(cg->dir[0]);
	} else {
		for (int i = 0; i < CG_NCTL; i++) {
			if (cg->dir[i])
				remove_dir(cg->dir[i]);
		}
	}
	memset(cg->dir, 0, sizeof cg->dir);
	cg->version = 0;
}

void sbx_cleanup(void)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	bool left = true;

	/* an unused spare launch child and its cgroups go first */
	sbx_spare_stop();
	/* what was killed a moment ago is gone within milliseconds */
	for (int tries = 0; left && tries < 100; tries++) {
		sbx_cgroup_sweep();
		left = false;
		for (int i = 0; i < PENDING_MAX; i++)
			left = left || pending[i];
		if (left)
			nanosleep(&ts, NULL);
	}
	for (int i = 0; i < PENDING_MAX; i++) {
		if (pending[i])
			log_warn("sandbox", "cgroup %s left behind", pending[i]);
		free(pending[i]);
		pending[i] = NULL;
	}
	if (has_timer) {
		uv_close((uv_handle_t *)&sweep_timer, NULL);
		has_timer = false;
	}
	for (int i = 0; i < CG_NCTL; i++) {
		free(own.v1[i]);
		own.v1[i] = NULL;
	}
	free(own.v2);
	own.v2 = NULL;
	own.is_known = false;
}
