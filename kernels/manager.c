/*
 * The kernel manager: the registry of kernels, starting one (runtime
 * directory, connection file, sandbox), and what the REST API reads of
 * them. The process lifecycle (readiness, heartbeat, interrupt, restart,
 * shutdown, death) is in lifecycle.c; clients are in relay.c.
 */
#include "kernel_private.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"

/* lifecycle.c */
int lifecycle_launch(kernel_t *k, err_t *err);
void lifecycle_free(kernel_t *k);
void lifecycle_kill_now(kernel_t *k);

static const char *channel_names[KCH_COUNT] = { "shell", "control", "stdin", "iopub" };
static const char *state_names[] = { "starting", "idle", "busy", "restarting", "dead" };

const char *kchannel_name(kchannel_t ch)
{
	return ch < KCH_COUNT ? channel_names[ch] : "?";
}

int kchannel_parse(const char *name, size_t len, kchannel_t *out)
{
	for (int i = 0; i < KCH_COUNT; i++) {
		if (strlen(channel_names[i]) == len && memcmp(channel_names[i], name, len) == 0) {
			*out = (kchannel_t)i;
			return 0;
		}
	}
	return CG_EINVAL;
}

const char *kstate_name(kstate_t s)
{
	return state_names[s];
}

void kmgr_config_defaults(kmgr_config_t *c)
{
	memset(c, 0, sizeof *c);
	c->shutdown_wait_s = 2.0;
	c->kill_wait_s = 1.0;
	c->start_timeout_s = 60.0;
	c->heartbeat_s = 3.0;
	c->heartbeat_misses = 3;
	c->buffer_msgs = 10000;
	c->buffer_bytes = 64u << 20;
	c->detached_ttl_s = 300.0;
	sbx_limits_defaults(&c->limits);
}

static void on_sweep(uv_timer_t *t)
{
	kmgr_t *m = t->data;
	double now = util_unix_time();

	for (kernel_t *k = m->kernels; k; k = k->next)
		relay_sweep(k, now);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

kmgr_t *kmgr_new(uv_loop_t *loop, const kmgr_config_t *cfg, err_t *err)
{
	kmgr_t *m = calloc(1, sizeof *m);
	size_t nh = 0;

	if (!m) {
		err_set(err, CG_ESYS, "out of memory");
		return NULL;
	}
	m->loop = loop;
	m->cfg = *cfg;
	m->runtime_dir = dup_or_null(cfg->runtime_dir);
	m->workspace = dup_or_null(cfg->workspace);
	m->kernelspec_dir = dup_or_null(cfg->kernelspec_dir);
	m->bwrap = dup_or_null(cfg->bwrap);
	while (cfg->hidden && cfg->hidden[nh])
		nh++;
	m->hidden = calloc(nh + 1, sizeof *m->hidden);
	for (size_t i = 0; m->hidden && i < nh; i++)
		m->hidden[i] = strdup(cfg->hidden[i]);
	m->zctx = zsock_context_new();
	if (!m->runtime_dir || !m->workspace || !m->hidden || !m->zctx ||
	    util_uuid4_hex(m->session)) {
		err_set(err, CG_ESYS, "cannot set up the kernel manager");
		m->loop = NULL; /* no timer yet: kmgr_free frees at once */
		kmgr_free(&m);
		return NULL;
	}
	m->cfg.runtime_dir = m->runtime_dir;
	m->cfg.workspace = m->workspace;
	m->cfg.kernelspec_dir = m->kernelspec_dir;
	m->cfg.bwrap = m->bwrap;
	m->cfg.hidden = m->hidden;
	uv_timer_init(loop, &m->sweep_timer);
	m->sweep_timer.data = m;
	uv_timer_start(&m->sweep_timer, on_sweep, 10000, 10000);
	uv_unref((uv_handle_t *)&m->sweep_timer);
	return m;
}

static void on_sweep_closed(uv_handle_t *h)
{
	kmgr_t *m = h->data;

	zsock_context_free(&m->zctx);
	free(m);
}

void kmgr_free(kmgr_t **self_p)
{
	kmgr_t *m = *self_p;

	if (!m)
		return;
	*self_p = NULL;
	m->is_freeing = true;
	while (m->kernels) {
		kernel_t *k = m->kernels;

		m->kernels = k->next;
		lifecycle_kill_now(k);
		lifecycle_free(k);
	}
	free(m->runtime_dir);
	free(m->workspace);
	free(m->kernelspec_dir);
	free(m->bwrap);
	for (size_t i = 0; m->hidden && m->hidden[i]; i++)
		free(m->hidden[i]);
	free(m->hidden);
	if (m->loop) {
		/* the sweep timer exists whenever loop is set; free after it closes */
		uv_close((uv_handle_t *)&m->sweep_timer, on_sweep_closed);
		return;
	}
	zsock_context_free(&m->zctx);
	free(m);
}

static void maybe_all_done(kmgr_t *m)
{
	void (*done)(void *) = m->all_done;

	if (done && !m->kernels) {
		m->all_done = NULL;
		done(m->all_done_arg);
	}
}

static void on_kernel_gone(void *arg, int status, const char *message)
{
	(void)status;
	(void)message;
	/* runs just before the kernel is unlinked; check on the next turn */
	maybe_all_done(arg);
}

void kmgr_shutdown_all(kmgr_t *m, void (*done)(void *arg), void *arg)
{
	m->all_done = done;
	m->all_done_arg = arg;
	if (!m->kernels) {
		maybe_all_done(m);
		return;
	}
	for (kernel_t *k = m->kernels, *next; k; k = next) {
		next = k->next;
		kernel_shutdown(k, on_kernel_gone, m);
	}
}

kspec_list_t *kmgr_kernelspecs(kmgr_t *m)
{
	char **dirs = kspec_search_dirs(m->kernelspec_dir);
	kspec_list_t *l = kspec_discover(dirs);

	kspec_dirs_free(&dirs);
	return l;
}

kernel_t *kmgr_find(kmgr_t *m, const char *id)
{
	for (kernel_t *k = m->kernels; k; k = k->next)
		if (strcmp(k->id, id) == 0 && !k->is_shutting_down)
			return k;
	return NULL;
}

kernel_t *kmgr_next(kmgr_t *m, kernel_t *prev)
{
	kernel_t *k = prev ? prev->next : m->kernels;

	while (k && k->is_shutting_down)
		k = k->next;
	return k;
}

size_t kmgr_count(const kmgr_t *m)
{
	size_t n = 0;

	for (kernel_t *k = m->kernels; k; k = k->next)
		n += !k->is_shutting_down;
	return n;
}

size_t kmgr_connections(const kmgr_t *m)
{
	size_t n = 0;

	for (kernel_t *k = m->kernels; k; k = k->next)
		n += relay_connections(k);
	return n;
}

/* cwd_rel must name a directory inside the workspace; otherwise the root. */
static char *resolve_cwd(const kmgr_t *m, const char *cwd_rel)
{
	char joined[PATH_MAX], *real;
	size_t wl = strlen(m->workspace);
	struct stat st;

	if (!cwd_rel || !*cwd_rel || cwd_rel[0] == '/' || strstr(cwd_rel, ".."))
		return strdup(m->workspace);
	if (snprintf(joined, sizeof joined, "%s/%s", m->workspace, cwd_rel) >= (int)sizeof joined)
		return strdup(m->workspace);
	real = realpath(joined, NULL);
	if (!real || stat(real, &st) != 0 || !S_ISDIR(st.st_mode) ||
	    strncmp(real, m->workspace, wl) != 0 || (real[wl] != '/' && real[wl] != '\0')) {
		free(real);
		return strdup(m->workspace);
	}
	return real;
}

void kernel_endpoint(const kernel_t *k, int port, char *out, size_t size)
{
	snprintf(out, size, "ipc://%s/k-%d", k->dir, port);
}

static kernel_t *kernel_alloc(kmgr_t *m, const kspec_t *spec, err_t *err)
{
	kernel_t *k = calloc(1, sizeof *k);
	char path[PATH_MAX];

	if (!k || kspec_copy(spec, &k->spec) || util_uuid4(k->id) || util_random_hex(k->key, 32)) {
		free(k);
		err_set(err, CG_ESYS, "out of memory");
		return NULL;
	}
	k->mgr = m;
	k->dir_fd = -1;
	k->state = KSTATE_STARTING;
	/* a Unix socket path must fit in sun_path (108 bytes) */
	if (snprintf(path, sizeof path, "%s/%s", m->runtime_dir, k->id) >= 96) {
		err_set(err, CG_ETOOBIG, "the runtime directory path is too long for ipc sockets");
		kspec_clear(&k->spec);
		free(k);
		return NULL;
	}
	k->dir = strdup(path);
	k->wkey = wire_key_new(k->key, strlen(k->key), err);
	k->last_activity = k->started_at = util_unix_time();
	if (!k->dir || !k->wkey) {
		free(k->dir);
		wire_key_free(&k->wkey);
		kspec_clear(&k->spec);
		free(k);
		return NULL;
	}
	return k;
}

int kmgr_start(kmgr_t *m, const char *spec_name, const char *cwd_rel, const char *session_name,
	       kernel_t **out, err_t *err)
{
	return kmgr_start_opts(m, spec_name, cwd_rel, session_name, NULL, out, err);
}

/* A NULL-terminated copy of a workspace scope; NULL when out of memory. */
static char **copy_scope(char *const *scope)
{
	size_t n = 0;
	char **copy;

	while (scope[n])
		n++;
	if (!(copy = calloc(n + 1, sizeof *copy)))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (!(copy[i] = strdup(scope[i]))) {
			while (i--)
				free(copy[i]);
			free(copy);
			return NULL;
		}
	}
	return copy;
}

int kmgr_start_opts(kmgr_t *m, const char *spec_name, const char *cwd_rel,
		    const char *session_name, const kstart_opts_t *opts, kernel_t **out,
		    err_t *err)
{
	kspec_list_t *specs = kmgr_kernelspecs(m);
	const kspec_t *spec = kspec_find(specs, spec_name);
	kernel_t *k = NULL, **tail;
	int rc;

	*out = NULL;
	if (!spec) {
		kspec_list_free(&specs);
		return err_set(err, CG_ENOTFOUND, "no such kernel: %s", spec_name);
	}
	k = kernel_alloc(m, spec, err);
	kspec_list_free(&specs);
	if (!k)
		return err ? err->code : CG_ESYS;
	k->cwd = resolve_cwd(m, cwd_rel);
	k->session_name = strdup(session_name ? session_name : "");
	/* empty: the kernelspec says (kernel_trust_class) */
	snprintf(k->sandbox_class, sizeof k->sandbox_class, "%s",
		 opts && opts->sandbox_class ? opts->sandbox_class : "");
	/* the snapshot is seen at the workspace's own path, read-only */
	if (opts && opts->workspace_snapshot)
		k->snapshot = strdup(opts->workspace_snapshot);
	if (opts && opts->workspace_scope && !(k->scope = copy_scope(opts->workspace_scope))) {
		lifecycle_free(k);
		return err_set(err, CG_ESYS, "out of memory");
	}
	rc = kconn_make_dir(k->dir, m->cfg.uid, m->cfg.gid, err);
	if (rc >= 0) {
		k->dir_fd = rc;
		rc = kconn_write(k->dir_fd, k->key, k->spec.name, m->cfg.uid, m->cfg.gid, err);
	}
	if (rc >= 0)
		rc = lifecycle_launch(k, err);
	if (rc < 0) {
		log_warn("kernels", "cannot start %s: %s", spec_name, err ? err->msg : "");
		lifecycle_free(k);
		return rc;
	}
	for (tail = &m->kernels; *tail; tail = &(*tail)->next)
		;
	*tail = k;
	*out = k;
	log_info("kernels", "started %s (%s) in a sandbox as uid %u, pid %d", k->id, k->spec.name,
		 (unsigned)m->cfg.uid, (int)sbx_pid(k->sbx));
	return 0;
}

const char *kernel_id(const kernel_t *k)
{
	return k->id;
}

const char *kernel_spec_name(const kernel_t *k)
{
	return k->spec.name;
}

const kspec_t *kernel_spec(const kernel_t *k)
{
	return &k->spec;
}

char **kernel_command(const kernel_t *k)
{
	return lifecycle_argv(k);
}

/* What the kernel's sandbox got: the server's limits with its trust
 * class's and kernelspec's overrides (lifecycle.c, at launch). */
const sbx_limits_t *kernel_limits(const kernel_t *k)
{
	return &k->limits;
}

const char *kernel_sandbox_class(const kernel_t *k)
{
	return kernel_trust_class(k);
}

void kmgr_set_observer(kmgr_t *m, const kobserver_t *obs, void *ctx)
{
	m->obs = obs;
	m->obs_ctx = ctx;
}

void kmgr_notify(kernel_t *k, kevent_t ev, const char *reason)
{
	if (k->mgr->obs && k->mgr->obs->event)
		k->mgr->obs->event(k->mgr->obs_ctx, k, ev, reason);
}

const char *kernel_session_name(const kernel_t *k)
{
	return k->session_name ? k->session_name : "";
}

kstate_t kernel_state(const kernel_t *k)
{
	return k->state;
}

bool kernel_is_ready(const kernel_t *k)
{
	return k->phase == PHASE_READY;
}

void kernel_touch(kernel_t *k)
{
	k->last_activity = util_unix_time();
}

/* 0 (no limit) is null. */
static json_t *limit_json(uint64_t v)
{
	return v ? json_integer((json_int_t)v) : json_null();
}

static json_t *mechanisms_json(const kernel_t *k)
{
	json_t *m = json_object();

	for (int i = 0; i < SBX_LIMIT_COUNT; i++)
		json_object_set_new(m, sbx_limit_key((sbx_limit_t)i),
				    json_string(k->sbx ? sbx_mechanism(k->sbx, (sbx_limit_t)i)
						       : "none"));
	/* rlimits, per process, whatever else is available */
	json_object_set_new(m, "open_files", json_string(k->limits.open_files ? "rlimit" : "none"));
	json_object_set_new(m, "file_size", json_string(k->limits.file_size_bytes ? "rlimit" : "none"));
	return m;
}

static json_t *limits_json(kernel_t *k)
{
	const sbx_limits_t *l = &k->limits;

	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:f}", "memory_bytes",
			 limit_json(l->memory_bytes), "processes", limit_json(l->processes),
			 "open_files", limit_json(l->open_files), "file_size_bytes",
			 limit_json(l->file_size_bytes), "cpu_seconds", limit_json(l->cpu_seconds),
			 "cell_cpu_seconds", limit_json(l->cell_cpu_seconds), "disk_bytes",
			 limit_json(l->disk_bytes), "mechanism", mechanisms_json(k),
			 "cpu_used_seconds", k->sbx ? sbx_cpu_seconds(k->sbx) : 0.0);
}

void kernel_busy_msg_id(const kernel_t *k, char *out, size_t size)
{
	const char *id = k->state == KSTATE_BUSY && k->busy ? k->busy->parent_msg_id : NULL;
	size_t n = 0;

	for (; id && *id && n + 1 < size; id++) {
		if (*id > ' ' && *id < 0x7f)
			out[n++] = *id;
	}
	if (size)
		out[n] = '\0';
}

const char *kernel_trust_class(const kernel_t *k)
{
	/* a class chosen at start (a replay's, a request's) wins over the kernelspec's */
	if (k->sandbox_class[0])
		return k->sandbox_class;
	return kspec_trust_class(&k->spec);
}

const char *kernel_dir(const kernel_t *k)
{
	return k->dir;
}

json_t *kernel_model(const kernel_t *k)
{
	char when[ISO_TIME_LEN];
	json_t *model;

	util_iso_time(k->last_activity, when);
	model = json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", k->id, "name", k->spec.name,
			  "last_activity", when, "execution_state", kstate_name(k->state),
			  "connections", (json_int_t)relay_connections(k));
	if (model) {
		json_object_set_new(model, "limits", limits_json((kernel_t *)k));
		json_object_set_new(model, "trust_class", json_string(kernel_trust_class(k)));
	}
	if (model && k->scope) {
		json_t *scope = json_array();

		for (size_t i = 0; k->scope[i]; i++)
			json_array_append_new(scope, json_string(k->scope[i]));
		json_object_set_new(model, "workspace_scope", scope);
	}
	if (model && k->limit_note)
		json_object_set_new(model, "limit_reached", json_string(k->limit_note));
	if (model && k->state == KSTATE_DEAD && k->reason)
		json_object_set_new(model, "reason", json_string(k->reason));
	return model;
}
