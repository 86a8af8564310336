/*
 * Configuration from four sources. The file format is deliberately small:
 * `key = value` lines, `#` comments, keys named as the long flags without
 * their dashes (port, ip, token, root, state, ...).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"

typedef enum {
	OPT_STR, OPT_INT, OPT_SIZE, OPT_SECONDS, OPT_BOOL, OPT_LEVEL, OPT_LIMIT, OPT_ALLOW, OPT_DENY,
	OPT_ASK
} opt_kind_t;

typedef struct opt {
	const char *name; /* flag without dashes, file key */
	const char *env;
	opt_kind_t kind;
	size_t offset;
	const char *help;
} opt_t;

#define O(field) offsetof(config_t, field)

static const opt_t opts[] = {
	{ "ip", "CELLGATE_IP", OPT_STR, O(ip), "address to listen on (default 127.0.0.1)" },
	{ "port", "CELLGATE_PORT", OPT_INT, O(port), "port to listen on (default 8888)" },
	{ "token", "CELLGATE_TOKEN", OPT_STR, O(token), "the access token (default: random)" },
	{ "root", "CELLGATE_ROOT", OPT_STR, O(root), "the workspace directory (default: .)" },
	{ "state", "CELLGATE_STATE", OPT_STR, O(state),
	  "the server's state directory (default: ~/.local/share/cellgate)" },
	{ "policy", "CELLGATE_POLICY", OPT_STR, O(policy_file),
	  "the policy file: principals who may hold capability tokens (JSON; default none)" },
	{ "base-url", "CELLGATE_BASE_URL", OPT_STR, O(base_url), "URL prefix (default /)" },
	{ "kernel-user", "CELLGATE_KERNEL_USER", OPT_STR, O(kernel_user),
	  "user kernels run as when the server runs as root (default: the workspace's owner, or nobody)" },
	{ "kernelspec-dir", "CELLGATE_KERNELSPEC_DIR", OPT_STR, O(kernelspec_dir),
	  "cellgate's own kernelspecs (default: build/share/jupyter/kernels beside bin/, or PREFIX/share/jupyter/kernels)" },
	{ "lab-dir", "CELLGATE_LAB_DIR", OPT_STR, O(lab_dir),
	  "the JupyterLab build served at /lab (default: build/lab beside bin/, or PREFIX/share/cellgate/lab)" },
	{ "log-level", "CELLGATE_LOG_LEVEL", OPT_LEVEL, O(log_level), "debug, info, warn or error" },
	{ "max-body", "CELLGATE_MAX_BODY", OPT_SIZE, O(max_body_bytes),
	  "largest HTTP request body in bytes (default 256 MiB)" },
	{ "max-fds", "CELLGATE_MAX_FDS", OPT_INT, O(max_fds),
	  "highest file descriptor the listener serves; connections and kernel sockets share them (default 4096)" },
	{ "max-ws-message", "CELLGATE_MAX_WS_MESSAGE", OPT_SIZE, O(max_ws_message_bytes),
	  "largest WebSocket message in bytes (default 64 MiB)" },
	{ "shutdown-wait", "CELLGATE_SHUTDOWN_WAIT", OPT_SECONDS, O(shutdown_wait_s),
	  "seconds between shutdown_request and SIGTERM (default 2)" },
	{ "kernel-start-timeout", "CELLGATE_KERNEL_START_TIMEOUT", OPT_SECONDS,
	  O(kernel_start_timeout_s), "seconds a kernel has to answer (default 60)" },
	{ "heartbeat", "CELLGATE_HEARTBEAT", OPT_SECONDS, O(heartbeat_s),
	  "heartbeat period in seconds, 0 for none (default 3)" },
	{ "prompt-timeout", "CELLGATE_PROMPT_TIMEOUT", OPT_SECONDS, O(prompt_timeout_s),
	  "seconds a prompt waits for an answer before it counts as denied (default 120)" },
	{ "publish-approval", "CELLGATE_PUBLISH_APPROVAL", OPT_STR, O(publish_approval),
	  "ask or allow: whether a capability token's publication waits for a person's approval (default ask)" },
	{ "allow-hidden", "CELLGATE_ALLOW_HIDDEN", OPT_BOOL, O(allow_hidden),
	  "serve hidden files (default no)" },
	{ "no-record", "CELLGATE_NO_RECORD", OPT_BOOL, O(no_record),
	  "keep no execution records (no provenance, no replay; for comparisons)" },
	{ "allow-origin", "CELLGATE_ALLOW_ORIGIN", OPT_STR, O(allow_origin),
	  "origins (scheme://host[:port], comma-separated, or *) allowed besides the server's own" },
	{ "allow-host", "CELLGATE_ALLOW_HOST", OPT_STR, O(allow_host),
	  "Host names (comma-separated, or *) accepted besides loopback ones when bound to loopback" },
	/* limits take a number with an optional K, M, G or T (powers of 1024), or 0 for none */
	{ "kernel-memory", "CELLGATE_KERNEL_MEMORY", OPT_LIMIT, O(kernel_limits.memory_bytes),
	  "private memory of each kernel process, bytes (RLIMIT_DATA; default 4G)" },
	{ "kernel-nproc", "CELLGATE_KERNEL_NPROC", OPT_LIMIT, O(kernel_limits.processes),
	  "processes and threads of the kernel user, shared by all its kernels (RLIMIT_NPROC; default 4096)" },
	{ "kernel-nofile", "CELLGATE_KERNEL_NOFILE", OPT_LIMIT, O(kernel_limits.open_files),
	  "open files per kernel process (RLIMIT_NOFILE; default 4096)" },
	{ "kernel-fsize", "CELLGATE_KERNEL_FSIZE", OPT_LIMIT, O(kernel_limits.file_size_bytes),
	  "largest file a kernel may write, bytes (RLIMIT_FSIZE; default 16G)" },
	{ "kernel-cpu", "CELLGATE_KERNEL_CPU", OPT_LIMIT, O(kernel_limits.cpu_seconds),
	  "CPU seconds of a kernel's whole sandbox over its life; past it the kernel is stopped (default 0, none)" },
	{ "kernel-cell-cpu", "CELLGATE_KERNEL_CELL_CPU", OPT_LIMIT, O(kernel_limits.cell_cpu_seconds),
	  "CPU seconds one cell may use; past it the cell is interrupted, then the kernel stopped (default 0, none)" },
	{ "kernel-disk", "CELLGATE_KERNEL_DISK", OPT_LIMIT, O(kernel_limits.disk_bytes),
	  "workspace size in bytes past which a kernel running a cell is stopped (default 0, none)" },
	{ "cell-cpu-extend", "CELLGATE_CELL_CPU_EXTEND", OPT_SECONDS, O(cell_cpu_extend_s),
	  "CPU seconds a person may grant a cell past its kernel-cell-cpu quota, asked in a prompt (default 0: interrupt at once)" },
	{ "egress-allow", "CELLGATE_EGRESS_ALLOW", OPT_ALLOW, 0,
	  "HOST[:PORT] kernels may connect to through the proxy; repeatable, or comma-separated" },
	{ "egress-ask", "CELLGATE_EGRESS_ASK", OPT_ASK, 0,
	  "HOST[:PORT] a kernel may connect to once a person approves a prompt (wins over allow); repeatable" },
	{ "egress-deny", "CELLGATE_EGRESS_DENY", OPT_DENY, 0,
	  "HOST[:PORT] kernels may not connect to (wins over allow); repeatable, or comma-separated" },
	{ "egress-max-connections", "CELLGATE_EGRESS_MAX_CONNECTIONS", OPT_LIMIT,
	  O(egress_max_connections), "egress connections a kernel may have open at once (default 16)" },
	{ "egress-max-bytes", "CELLGATE_EGRESS_MAX_BYTES", OPT_LIMIT, O(egress_max_bytes),
	  "egress bytes, both ways, over a kernel's life (default 1G)" },
	{ "no-egress", "CELLGATE_NO_EGRESS", OPT_BOOL, O(no_egress),
	  "no egress relay in sandboxes: no network at all (default no)" },
	{ "egress-relay", "CELLGATE_EGRESS_RELAY", OPT_STR, O(egress_relay),
	  "the relay binary (default: cellgate-egress-relay beside bin/cellgate)" },
	{ "sandbox-plain", "CELLGATE_SANDBOX_PLAIN", OPT_BOOL, O(sandbox_plain),
	  "bare bubblewrap without seccomp, cgroups, watch or relay: only to measure them (default no)" },
};

static bool is_egress_rule(const opt_t *o)
{
	return o->kind == OPT_ALLOW || o->kind == OPT_DENY || o->kind == OPT_ASK;
}

static egress_verdict_t rule_verdict(const opt_t *o)
{
	return o->kind == OPT_ALLOW ? EGRESS_ALLOW : o->kind == OPT_ASK ? EGRESS_PROMPT : EGRESS_DENY;
}

/* Settings that may also be given for one trust class or kernelspec in the
 * configuration file (trust.CLASS.KEY or kernelspec.NAME.KEY): the kernel
 * limits and the egress rules. */
static bool is_scopable(const opt_t *o)
{
	size_t lo = O(kernel_limits), hi = lo + sizeof(sbx_limits_t);

	return is_egress_rule(o) ||
	       (o->kind == OPT_LIMIT && o->offset >= lo && o->offset < hi);
}

#define N_OPTS (sizeof opts / sizeof *opts)

void config_usage(const char *prog)
{
	fprintf(stderr, "usage: %s serve [--config FILE] [options]\n\noptions (flag, environment):\n",
		prog);
	for (size_t i = 0; i < N_OPTS; i++)
		fprintf(stderr, "  --%-22s %-30s %s\n", opts[i].name, opts[i].env, opts[i].help);
}

/* Each comma-separated entry of value as one rule of scope. */
static int add_egress_rules(config_t *c, const char *scope, egress_verdict_t verdict,
			    const char *value, err_t *err)
{
	char buf[4096], *save = NULL;

	if (strlen(value) >= sizeof buf)
		return err_set(err, CG_EINVAL, "egress rules: the value is too long");
	snprintf(buf, sizeof buf, "%s", value);
	for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
		egress_rule_t *grown = realloc(c->egress_rules,
					       (c->n_egress_rules + 1) * sizeof *grown);

		if (!grown)
			return err_set(err, CG_ESYS, "out of memory");
		c->egress_rules = grown;
		if (egress_rule_parse(scope, verdict, t, &grown[c->n_egress_rules], err))
			return err->code;
		c->n_egress_rules++;
	}
	return 0;
}

static int set_opt(config_t *c, const opt_t *o, const char *value, err_t *err)
{
	char *field = (char *)c + o->offset, *end = NULL;
	double d;
	long l;

	switch (o->kind) {
	case OPT_STR: {
		char **p = (char **)(void *)field;

		free(*p);
		*p = strdup(value);
		return *p ? 0 : err_set(err, CG_ESYS, "out of memory");
	}
	case OPT_INT:
		errno = 0;
		l = strtol(value, &end, 10);
		if (errno || *end || l < 0 || l > 65535)
			return err_set(err, CG_EINVAL, "%s: not a valid number: %s", o->name, value);
		*(int *)(void *)field = (int)l;
		return 0;
	case OPT_SIZE: {
		unsigned long long v;

		errno = 0;
		v = strtoull(value, &end, 10);
		if (errno || *end || v == 0)
			return err_set(err, CG_EINVAL, "%s: not a valid size: %s", o->name, value);
		*(size_t *)(void *)field = (size_t)v;
		return 0;
	}
	case OPT_SECONDS:
		d = strtod(value, &end);
		if (*end || d < 0 || d > 86400)
			return err_set(err, CG_EINVAL, "%s: not a valid duration: %s", o->name, value);
		*(double *)(void *)field = d;
		return 0;
	case OPT_BOOL:
		*(bool *)(void *)field = strcmp(value, "1") == 0 || strcmp(value, "true") == 0 ||
					 strcmp(value, "yes") == 0;
		return 0;
	case OPT_LIMIT: {
		unsigned long long v;
		unsigned shift = 0;

		errno = 0;
		v = strtoull(value, &end, 10);
		if (end != value && *end && !end[1]) {
			const char *units = "KMGT", *u = strchr(units, *end & ~0x20);

			if (u && *u) {
				shift = 10 * (unsigned)(u - units + 1);
				end++;
			}
		}
		if (errno || end == value || *end || value[0] == '-' || (shift && v > (~0ULL >> shift)))
			return err_set(err, CG_EINVAL, "%s: not a valid limit: %s", o->name, value);
		*(uint64_t *)(void *)field = (uint64_t)v << shift;
		return 0;
	}
	case OPT_ALLOW:
	case OPT_DENY:
	case OPT_ASK:
		return add_egress_rules(c, "", rule_verdict(o), value, err);
	case OPT_LEVEL:
		if (log_parse_level(value, (enum log_level *)(void *)field))
			return err_set(err, CG_EINVAL, "log-level: one of debug, info, warn, error");
		return 0;
	}
	return CG_EINVAL;
}

static const opt_t *find_opt(const char *name, size_t len)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
			return &opts[i];
	return NULL;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/*
 * trust.CLASS.KEY = value or kernelspec.NAME.KEY = value: an egress rule of
 * that scope, or a limit override (parsed as the flag would be, into a
 * scratch copy, and recorded by its field).
 */
static int set_scoped(config_t *c, const char *key, const char *val, err_t *err)
{
	const char *dot = strchr(key, '.'), *kdot = dot ? strchr(dot + 1, '.') : NULL;
	char scope[SBX_SCOPE_MAX];
	const opt_t *o;
	config_t scratch;
	sbx_limit_override_t *grown;
	int rc;

	if (!kdot || kdot == dot + 1 || (size_t)(kdot - key) >= sizeof scope)
		return err_set(err, CG_EINVAL, "%s: expected trust.CLASS.KEY or kernelspec.NAME.KEY",
			       key);
	snprintf(scope, sizeof scope, "%.*s", (int)(kdot - key), key);
	o = find_opt(kdot + 1, strlen(kdot + 1));
	if (!o || !is_scopable(o))
		return err_set(err, CG_EINVAL, "%s: %s cannot be set per trust class or kernelspec",
			       key, kdot + 1);
	if (is_egress_rule(o))
		return add_egress_rules(c, scope, rule_verdict(o), val, err);
	memset(&scratch, 0, sizeof scratch);
	rc = set_opt(&scratch, o, val, err);
	if (rc)
		return rc;
	grown = realloc(c->limit_overrides, (c->n_limit_overrides + 1) * sizeof *grown);
	if (!grown)
		return err_set(err, CG_ESYS, "out of memory");
	c->limit_overrides = grown;
	memset(&grown[c->n_limit_overrides], 0, sizeof *grown);
	snprintf(grown[c->n_limit_overrides].scope, SBX_SCOPE_MAX, "%s", scope);
	grown[c->n_limit_overrides].field = o->offset - offsetof(config_t, kernel_limits);
	memcpy(&grown[c->n_limit_overrides].value, (char *)&scratch + o->offset, sizeof(uint64_t));
	c->n_limit_overrides++;
	return 0;
}

static int load_file(config_t *c, const char *path, err_t *err)
{
	FILE *f = fopen(path, "re");
	char line[4096];
	int lineno = 0, rc = 0;

	if (!f)
		return err_set(err, CG_ENOTFOUND, "cannot read the configuration file %s: %s", path,
			       strerror(errno));
	while (!rc && fgets(line, sizeof line, f)) {
		char *s = trim(line), *eq, *key, *val;
		const opt_t *o;

		lineno++;
		if (!*s || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			rc = err_set(err, CG_EINVAL, "%s:%d: expected key = value", path, lineno);
			break;
		}
		*eq = '\0';
		key = trim(s);
		val = trim(eq + 1);
		if (strlen(val) >= 2 && val[0] == '"' && val[strlen(val) - 1] == '"') {
			val[strlen(val) - 1] = '\0';
			val++;
		}
		if (strncmp(key, "trust.", 6) == 0 || strncmp(key, "kernelspec.", 11) == 0) {
			rc = set_scoped(c, key, val, err);
			if (rc)
				err_set(err, rc, "%s:%d: %s", path, lineno, err->msg);
			continue;
		}
		o = find_opt(key, strlen(key));
		if (!o)
			rc = err_set(err, CG_EINVAL, "%s:%d: unknown setting %s", path, lineno, key);
		else
			rc = set_opt(c, o, val, err);
	}
	fclose(f);
	return rc;
}

static void defaults(config_t *c)
{
	memset(c, 0, sizeof *c);
	c->port = 8888;
	c->log_level = LOG_INFO;
	c->max_body_bytes = 256u << 20;
	c->max_ws_message_bytes = 64u << 20;
	c->max_fds = 4096;
	c->shutdown_wait_s = 2.0;
	c->kernel_start_timeout_s = 60.0;
	sbx_limits_defaults(&c->kernel_limits);
	c->heartbeat_s = 3.0;
	c->prompt_timeout_s = 120.0;
	c->egress_max_connections = 16;
	c->egress_max_bytes = 1ULL << 30;
}

/* Where the state lives unless configured: outside any workspace. */
static int default_state_dir_into(char *out, size_t size)
{
	const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
	int n;

	if (xdg && *xdg)
		n = snprintf(out, size, "%s/cellgate", xdg);
	else
		n = snprintf(out, size, "%s/.local/share/cellgate", home && *home ? home : "/tmp");
	return n < 0 || (size_t)n >= size ? CG_EINVAL : 0;
}

static char *default_state_dir(void)
{
	char buf[PATH_MAX];

	return default_state_dir_into(buf, sizeof buf) ? NULL : strdup(buf);
}

int config_state_dir(const char *given, char *out, size_t size)
{
	const char *env = getenv("CELLGATE_STATE");
	const char *dir = given && *given ? given : env && *env ? env : NULL;
	int n;

	if (!dir)
		return default_state_dir_into(out, size);
	n = snprintf(out, size, "%s", dir);
	return n < 0 || (size_t)n >= size ? CG_EINVAL : 0;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof buf)
		return -1;
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return -1;
		buf[i] = i < len ? '/' : '\0';
	}
	return 0;
}

/* Kernels never run as root. When we are root, they run as the configured
 * user, else as the workspace's owner if that is not root, else nobody. */
static int resolve_kernel_user(config_t *c, err_t *err)
{
	struct stat st;
	struct passwd *pw;

	if (geteuid() != 0) {
		c->kernel_uid = geteuid();
		c->kernel_gid = getegid();
		return 0;
	}
	if (c->kernel_user) {
		pw = getpwnam(c->kernel_user);
		if (!pw)
			return err_set(err, CG_EINVAL, "no such user: %s", c->kernel_user);
		c->kernel_uid = pw->pw_uid;
		c->kernel_gid = pw->pw_gid;
	} else if (stat(c->root, &st) == 0 && st.st_uid != 0) {
		c->kernel_uid = st.st_uid;
		c->kernel_gid = st.st_gid;
	} else {
		pw = getpwnam("nobody");
		c->kernel_uid = pw ? pw->pw_uid : 65534;
		c->kernel_gid = pw ? pw->pw_gid : 65534;
	}
	if (c->kernel_uid == 0)
		return err_set(err, CG_EINVAL, "kernels must not run as root; set kernel-user");
	return 0;
}

/*
 * A directory of cellgate's own, found without installing: next to the
 * binary's build tree (bin/cellgate -> build/...) or under its install
 * prefix (PREFIX/bin -> PREFIX/share/...). candidates are relative to the
 * binary's folder; the first that exists wins.
 */
static char *own_dir(const char *const *candidates, size_t n_candidates)
{
	char exe[PATH_MAX], path[PATH_MAX + 64], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	struct stat st;

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	for (size_t i = 0; i < n_candidates; i++) {
		snprintf(path, sizeof path, "%s%s", exe, candidates[i]);
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			return realpath(path, NULL);
	}
	return NULL;
}

/* A program installed beside this one (bin/cellgate -> bin/NAME), or NULL. */
static char *beside_exe(const char *name)
{
	char exe[PATH_MAX], path[PATH_MAX + 64], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	snprintf(path, sizeof path, "%s/%s", exe, name);
	return access(path, X_OK) == 0 ? strdup(path) : NULL;
}

static char *own_kernelspec_dir(void)
{
	static const char *const candidates[] = { "/../build/share/jupyter/kernels",
						   "/../share/jupyter/kernels" };

	return own_dir(candidates, sizeof candidates / sizeof *candidates);
}

static char *own_lab_dir(void)
{
	static const char *const candidates[] = { "/../build/lab", "/../share/cellgate/lab" };

	return own_dir(candidates, sizeof candidates / sizeof *candidates);
}

static int finish(config_t *c, err_t *err)
{
	char *real;
	size_t n;

	if (!c->ip && !(c->ip = strdup("127.0.0.1")))
		return err_set(err, CG_ESYS, "out of memory");
	if (!c->kernelspec_dir)
		c->kernelspec_dir = own_kernelspec_dir();
	if (!c->egress_relay && !c->no_egress)
		c->egress_relay = beside_exe("cellgate-egress-relay");
	if (c->egress_relay && (c->egress_relay[0] != '/' || access(c->egress_relay, X_OK) != 0))
		return err_set(err, CG_EINVAL, "egress-relay: %s is not an executable absolute path",
			       c->egress_relay);
	if (!c->lab_dir)
		c->lab_dir = own_lab_dir();
	/* absolute, so the server's working directory does not matter; one
	 * that does not exist stays as given and /lab says it is not built */
	if (c->lab_dir && (real = realpath(c->lab_dir, NULL)) != NULL) {
		free(c->lab_dir);
		c->lab_dir = real;
	}
	if (!c->root && !(c->root = strdup(".")))
		return err_set(err, CG_ESYS, "out of memory");
	real = realpath(c->root, NULL);
	if (!real)
		return err_set(err, CG_EINVAL, "the workspace %s does not exist", c->root);
	free(c->root);
	c->root = real;
	if (!c->state && !(c->state = default_state_dir()))
		return err_set(err, CG_ESYS, "out of memory");
	if (mkdir_p(c->state, 0700) != 0)
		return err_set(err, CG_ESYS, "cannot create the state directory: %s", strerror(errno));
	real = realpath(c->state, NULL);
	if (!real)
		return err_set(err, CG_ESYS, "cannot resolve the state directory");
	free(c->state);
	c->state = real;
	n = strlen(c->root);
	if (strncmp(c->state, c->root, n) == 0 && (c->state[n] == '/' || c->state[n] == '\0'))
		return err_set(err, CG_EINVAL, "the state directory must be outside the workspace");
	if (c->policy_file) {
		/* absolute, so the sandbox can hide it wherever the server started */
		real = realpath(c->policy_file, NULL);
		if (!real)
			return err_set(err, CG_ENOTFOUND, "cannot read the policy file %s",
				       c->policy_file);
		free(c->policy_file);
		c->policy_file = real;
	}
	/* publishing is a side effect a person decides on unless told otherwise */
	if (c->publish_approval && strcmp(c->publish_approval, "ask") != 0 &&
	    strcmp(c->publish_approval, "allow") != 0)
		return err_set(err, CG_EINVAL, "publish-approval: ask or allow, not %s",
			       c->publish_approval);
	c->is_publish_ask = !c->publish_approval || strcmp(c->publish_approval, "ask") == 0;
	if (!c->base_url && !(c->base_url = strdup("/")))
		return err_set(err, CG_ESYS, "out of memory");
	n = strlen(c->base_url);
	if (c->base_url[0] != '/' || c->base_url[n - 1] != '/')
		return err_set(err, CG_EINVAL, "base-url must start and end with /");
	if (!c->token) {
		c->token = malloc(49);
		if (!c->token || util_random_hex(c->token, 24))
			return err_set(err, CG_ESYS, "cannot generate a token");
		c->is_token_generated = true;
	}
	return resolve_kernel_user(c, err);
}

int config_load(config_t *c, int argc, char **argv, err_t *err)
{
	const char *file = getenv("CELLGATE_CONFIG");
	int rc = 0;

	defaults(c);
	/* the file first, so the environment and flags can override it */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			file = argv[i + 1];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			file = argv[i] + 9;
	}
	if (file) {
		/* absolute, so the sandbox can hide it wherever the server started */
		c->config_file = realpath(file, NULL);
		if (!c->config_file)
			return err_set(err, CG_ENOTFOUND, "cannot read the configuration file %s: %s",
				       file, strerror(errno));
		rc = load_file(c, file, err);
	}
	for (size_t i = 0; !rc && i < N_OPTS; i++) {
		const char *v = getenv(opts[i].env);

		if (v && *v)
			rc = set_opt(c, &opts[i], v, err);
	}
	for (int i = 1; !rc && i < argc; i++) {
		const char *a = argv[i], *eq, *val;
		const opt_t *o;

		if (strncmp(a, "--", 2) != 0)
			return err_set(err, CG_EINVAL, "unexpected argument: %s", a);
		a += 2;
		eq = strchr(a, '=');
		o = find_opt(a, eq ? (size_t)(eq - a) : strlen(a));
		if (strncmp(a, "config", 6) == 0 && (!a[6] || a[6] == '=')) {
			i += !eq;
			continue;
		}
		if (!o)
			return err_set(err, CG_EINVAL, "unknown option: --%s", a);
		if (eq)
			val = eq + 1;
		else if (o->kind == OPT_BOOL)
			val = "true";
		else if (i + 1 < argc)
			val = argv[++i];
		else
			return err_set(err, CG_EINVAL, "--%s needs a value", o->name);
		rc = set_opt(c, o, val, err);
	}
	return rc ? rc : finish(c, err);
}

void config_clear(config_t *c)
{
	free(c->ip);
	free(c->token);
	free(c->root);
	free(c->state);
	free(c->base_url);
	free(c->kernel_user);
	free(c->kernelspec_dir);
	free(c->lab_dir);
	free(c->config_file);
	free(c->limit_overrides);
	free(c->egress_rules);
	free(c->egress_relay);
	free(c->allow_origin);
	free(c->allow_host);
	free(c->policy_file);
	free(c->publish_approval);
	memset(c, 0, sizeof *c);
}
