/*
 * The bubblewrap command line for a kernel sandbox.
 *
 * bwrap processes its options in order, so the order here is the order of
 * the mount table inside: the read-only host root first, then what covers
 * parts of it (private /tmp and /run), the read-write workspace, what must
 * stay hidden (even inside the workspace), and the kernel directory. With an
 * egress relay, the command is the relay, which executes the kernel's argv
 * after its own "--".
 */
#include "sandbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct argv_builder {
	char **v;
	size_t n, cap;
	int failed;
} argv_t;

static void add(argv_t *a, const char *s)
{
	char **grown;

	if (a->failed)
		return;
	if (a->n + 2 > a->cap) {
		a->cap = a->cap ? a->cap * 2 : 64;
		grown = realloc(a->v, a->cap * sizeof *grown);
		if (!grown) {
			a->failed = 1;
			return;
		}
		a->v = grown;
	}
	a->v[a->n] = strdup(s);
	if (!a->v[a->n]) {
		a->failed = 1;
		return;
	}
	a->v[++a->n] = NULL;
}

static void add2(argv_t *a, const char *opt, const char *x)
{
	add(a, opt);
	add(a, x);
}

static void add3(argv_t *a, const char *opt, const char *x, const char *y)
{
	add(a, opt);
	add(a, x);
	add(a, y);
}

/* Covers a host path the kernel must not see: a directory with an empty,
 * read-only tmpfs, a file with /dev/null. A path that does not exist needs
 * nothing. */
static void hide(argv_t *a, const char *path)
{
	struct stat st;

	/* bwrap would resolve a relative path against its own cwd */
	if (path[0] != '/') {
		a->failed = 1;
		return;
	}
	if (stat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		add2(a, "--tmpfs", path);
		add2(a, "--remount-ro", path);
	} else {
		add3(a, "--ro-bind", "/dev/null", path);
	}
}

/* Does the relative path have a ".." component? */
static bool climbs(const char *rel)
{
	for (const char *p = rel; p; p = strchr(p, '/') ? strchr(p, '/') + 1 : NULL)
		if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == '\0'))
			return true;
	return false;
}

/* A workspace narrowed to what the starting token's path caveats allow:
 * an empty tmpfs at its path, with only those paths bound into it
 * (read-only from a snapshot), then made read-only itself, so that what
 * the kernel writes outside them fails rather than vanishing with it. A
 * path that does not exist yet is left out. */
static void bind_scope(argv_t *a, const sbx_spec_t *s)
{
	const char *base = s->workspace_snapshot ? s->workspace_snapshot : s->workspace;
	char src[PATH_MAX], dst[PATH_MAX];

	add2(a, "--perms", "0555");
	add2(a, "--tmpfs", s->workspace);
	for (size_t i = 0; s->workspace_scope[i]; i++) {
		const char *e = s->workspace_scope[i], *rel = e + 3;
		bool is_rw = strncmp(e, "rw:", 3) == 0;

		if ((!is_rw && strncmp(e, "ro:", 3) != 0) || !*rel || rel[0] == '/' ||
		    climbs(rel) ||
		    snprintf(src, sizeof src, "%s/%s", base, rel) >= (int)sizeof src ||
		    snprintf(dst, sizeof dst, "%s/%s", s->workspace, rel) >= (int)sizeof dst) {
			a->failed = 1;
			return;
		}
		add3(a, is_rw && !s->workspace_snapshot ? "--bind-try" : "--ro-bind-try", src, dst);
	}
	/* made read-only by the caller, once hidden paths are covered: bwrap
	 * makes their mount points in this tmpfs */
}

/* A program under /tmp or /run would vanish under the sandbox's private
 * tmpfs there; bind the file itself back in, read-only. Elsewhere the
 * read-only host root already shows it. */
static void bind_program(argv_t *a, const char *path)
{
	if (path && (strncmp(path, "/tmp/", 5) == 0 || strncmp(path, "/run/", 5) == 0))
		add3(a, "--ro-bind", path, path);
}

void sbx_argv_free(char ***argv_p)
{
	char **v = *argv_p;

	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
	*argv_p = NULL;
}

char **sbx_bwrap_argv(const sbx_spec_t *s, err_t *err)
{
	argv_t a = { 0 };
	char num[32];

	if (!s->argv || !s->argv[0] || s->argv[0][0] != '/') {
		err_set(err, CG_EINVAL, "the kernel command must be an absolute path");
		return NULL;
	}
	if (!s->workspace || s->workspace[0] != '/' || !s->cwd || s->cwd[0] != '/') {
		err_set(err, CG_EINVAL, "workspace and cwd must be absolute paths");
		return NULL;
	}
	add(&a, s->bwrap ? s->bwrap : SBX_BWRAP);
	/* Namespaces: user (we are unprivileged), pid, ipc, uts, net, cgroup. */
	add(&a, "--unshare-all");
	/* --disable-userns needs the user namespace named explicitly; then no
	 * process inside may create another (the seccomp filter says so too) */
	add(&a, "--unshare-user");
	add(&a, "--disable-userns");
	add(&a, "--die-with-parent");
	add(&a, "--new-session");
	add2(&a, "--cap-drop", "ALL");
	add2(&a, "--hostname", "cellgate-kernel");
	/* The view: host root read-only, then private pieces on top. */
	add3(&a, "--ro-bind", "/", "/");
	add2(&a, "--dev", "/dev");
	add2(&a, "--proc", "/proc");
	/* /sys would show the host's cgroups, devices, network interfaces and
	 * kernel settings: an empty one, but for the CPU topology that
	 * numerical libraries read to size their thread pools */
	add2(&a, "--tmpfs", "/sys");
	add3(&a, "--ro-bind-try", "/sys/devices/system/cpu", "/sys/devices/system/cpu");
	add2(&a, "--remount-ro", "/sys");
	add2(&a, "--tmpfs", "/tmp");
	add2(&a, "--tmpfs", "/run");
	/* the programs the sandbox runs, when they live where it has a private
	 * tmpfs (a build tree under /tmp): the file alone, read-only */
	bind_program(&a, s->argv[0]);
	if (s->egress_relay && !s->is_plain)
		bind_program(&a, s->egress_relay);
	if (s->workspace_scope)
		bind_scope(&a, s);
	else if (s->workspace_snapshot)
		add3(&a, "--ro-bind", s->workspace_snapshot, s->workspace);
	else
		add3(&a, "--bind", s->workspace, s->workspace);
	/* after the workspace: a hidden path inside it stays hidden */
	for (size_t i = 0; s->hidden && s->hidden[i]; i++)
		hide(&a, s->hidden[i]);
	if (s->workspace_scope)
		add2(&a, "--remount-ro", s->workspace);
	snprintf(num, sizeof num, "%d", SBX_FD_KERNEL_DIR);
	add3(&a, "--bind-fd", num, SBX_KERNEL_DIR);
	/* bwrap reports the sandbox's pid 1 here; the kernel is its child */
	snprintf(num, sizeof num, "%d", SBX_FD_INFO);
	add2(&a, "--info-fd", num);
	/* loaded by bwrap last, just before it executes the kernel */
	if (!s->is_plain) {
		snprintf(num, sizeof num, "%d", SBX_FD_SECCOMP);
		add2(&a, "--seccomp", num);
	}
	add2(&a, "--chdir", s->cwd);
	/* bwrap passes its own environment through; we hand it the scrubbed one. */
	add(&a, "--clearenv");
	for (size_t i = 0; s->env && s->env[i]; i++) {
		const char *eq = strchr(s->env[i], '=');
		char name[256];

		if (!eq || eq == s->env[i] || (size_t)(eq - s->env[i]) >= sizeof name)
			continue;
		snprintf(name, sizeof name, "%.*s", (int)(eq - s->env[i]), s->env[i]);
		add3(&a, "--setenv", name, eq + 1);
	}
	if (s->egress_relay && !s->is_plain) {
		/* the only way out: the relay on the sandbox's own loopback */
		snprintf(num, sizeof num, "http://127.0.0.1:%d", SBX_EGRESS_PORT);
		add3(&a, "--setenv", "HTTP_PROXY", num);
		add3(&a, "--setenv", "HTTPS_PROXY", num);
		add3(&a, "--setenv", "http_proxy", num);
		add3(&a, "--setenv", "https_proxy", num);
		add3(&a, "--setenv", "NO_PROXY", "localhost,127.0.0.1,::1");
		add3(&a, "--setenv", "no_proxy", "localhost,127.0.0.1,::1");
		add3(&a, "--setenv", "CELLGATE_SECRETS_URL", SBX_SECRETS_URL);
	}
	add(&a, "--");
	if (s->egress_relay && !s->is_plain) {
		/* it listens, forks itself off, then executes the kernel in its place */
		snprintf(num, sizeof num, "%d", SBX_EGRESS_PORT);
		add(&a, s->egress_relay);
		add(&a, num);
		add(&a, SBX_EGRESS_SOCKET);
		add(&a, "--");
	}
	for (size_t i = 0; s->argv[i]; i++)
		add(&a, s->argv[i]);
	if (a.failed) {
		sbx_argv_free(&a.v);
		err_set(err, CG_ESYS, "out of memory");
		return NULL;
	}
	return a.v;
}

/* One directory's permission for a given uid/gid: may it be searched? */
static bool may_search(const struct stat *st, uid_t uid, gid_t gid)
{
	if (uid == 0)
		return true;
	if (st->st_uid == uid)
		return (st->st_mode & S_IXUSR) != 0;
	if (st->st_gid == gid)
		return (st->st_mode & S_IXGRP) != 0;
	return (st->st_mode & S_IXOTH) != 0;
}

bool sbx_path_is_reachable(const char *path, uid_t uid, gid_t gid)
{
	char buf[4096];
	struct stat st;
	size_t len = strlen(path);

	if (path[0] != '/' || len >= sizeof buf)
		return false;
	/* every proper prefix that ends before a '/' must be searchable */
	for (size_t i = 1; i <= len; i++) {
		if (i < len && path[i] != '/')
			continue;
		memcpy(buf, path, i);
		buf[i] = '\0';
		if (i == len)
			break;
		if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode) || !may_search(&st, uid, gid))
			return false;
	}
	return stat("/", &st) == 0 && may_search(&st, uid, gid) && stat(path, &st) == 0;
}
