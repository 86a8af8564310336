/*
 * A kernel process's life: launch in a sandbox, readiness, heartbeat,
 * interrupt, the stop sequence (shutdown_request on control, then SIGTERM,
 * then SIGKILL), restart, shutdown, and death.
 *
 * Readiness needs two things, as Jupyter Server's "nudge" does: a
 * kernel_info_reply on shell, and at least one message on IOPub. Until the
 * IOPub subscription is live, a client's output could be lost, so client
 * messages wait in their session's inbox until then.
 */
#include "kernel_private.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"

#define PROBE_TICK_MS 100
#define PROBE_RESEND_MS 2000
#define KERNEL_LOG_MAX (256u << 10) /* log at most this much of a kernel's output */

void lifecycle_free(kernel_t *k);
void lifecycle_kill_now(kernel_t *k);
int lifecycle_launch(kernel_t *k, err_t *err);

static void kernel_die(kernel_t *k, const char *reason);
static void notify_limit(kernel_t *k, const char *reason, const char *action);
static void on_hb_tick(uv_timer_t *t);

/* --- messages from the kernel ------------------------------------------- */

static wire_msg_t *decode(kernel_t *k, const char *what, const wire_slice_t *f, size_t n)
{
	wire_msg_t *msg = NULL;
	err_t err = { 0 };

	if (wire_decode(f, n, k->wkey, NULL, &msg, &err)) {
		/* A kernel is hostile input: drop what fails, say so, carry on. */
		log_warn("kernels", "%.8s: dropped a message on %s: %s", k->id, what, err.msg);
		return NULL;
	}
	return msg;
}

static void fire_waiters(kwaiter_t **list, int status, const char *message)
{
	kwaiter_t *w = *list;

	*list = NULL;
	while (w) {
		kwaiter_t *next = w->next;

		w->fn(w->arg, status, message);
		free(w);
		w = next;
	}
}

static int add_waiter(kwaiter_t **list, kernel_done_fn fn, void *arg)
{
	kwaiter_t *w;

	if (!fn)
		return 0;
	w = calloc(1, sizeof *w);
	if (!w)
		return CG_ESYS;
	w->fn = fn;
	w->arg = arg;
	w->next = *list;
	*list = w;
	return 0;
}

static void send_probe(kernel_t *k)
{
	err_t err = { 0 };
	wire_msg_t *msg = wire_msg_new("kernel_info_request", k->mgr->session, "cellgate", NULL,
				       "{}", &err);

	if (msg && k->probe)
		zsock_send_msg(k->probe, msg, k->wkey);
	wire_msg_unref(&msg);
}

static void check_ready(kernel_t *k)
{
	if (k->phase != PHASE_LAUNCHING || !k->has_info_reply || !k->has_iopub)
		return;
	k->phase = PHASE_READY;
	k->state = KSTATE_IDLE;
	uv_timer_stop(&k->start_timer);
	if (k->mgr->cfg.heartbeat_s > 0) {
		uint64_t ms = (uint64_t)(k->mgr->cfg.heartbeat_s * 1000);

		k->hb_missed = 0;
		k->hb_waiting = false;
		uv_timer_start(&k->hb_timer, on_hb_tick, ms, ms);
	}
	log_info("kernels", "%.8s ready in %.0f ms", k->id,
		 (util_unix_time() - k->started_at) * 1000);
	relay_kernel_ready(k);
	fire_waiters(&k->ready_waiters, 0, NULL);
}

static void on_probe(void *arg, zsock_t *sock, const wire_slice_t *f, size_t n)
{
	kernel_t *k = arg;
	wire_msg_t *msg = decode(k, "shell", f, n);

	(void)sock;
	if (msg && strcmp(msg->msg_type, "kernel_info_reply") == 0) {
		k->has_info_reply = true;
		check_ready(k);
	}
	wire_msg_unref(&msg);
}

/* The execution_state of a status message, if it is one we track. */
static int status_of(const wire_msg_t *msg, kstate_t *out)
{
	json_t *content;
	const char *s = NULL;
	int rc = -1;

	if (strcmp(msg->msg_type, "status") != 0)
		return -1;
	content = json_loadb(msg->content.data, msg->content.len, 0, NULL);
	if (content && !json_unpack(content, "{s:s}", "execution_state", &s)) {
		if (strcmp(s, "busy") == 0) {
			*out = KSTATE_BUSY;
			rc = 0;
		} else if (strcmp(s, "idle") == 0) {
			*out = KSTATE_IDLE;
			rc = 0;
		}
	}
	json_decref(content);
	return rc;
}

static void on_iopub(void *arg, zsock_t *sock, const wire_slice_t *f, size_t n)
{
	kernel_t *k = arg;
	wire_msg_t *msg = decode(k, "iopub", f, n);
	kstate_t st;

	(void)sock;
	if (!msg)
		return;
	kernel_touch(k);
	k->has_iopub = true;
	if (k->phase == PHASE_READY && status_of(msg, &st) == 0) {
		k->state = st;
		/* a cell runs from busy to idle: its CPU and disk quotas count here */
		if (st == KSTATE_BUSY) {
			wire_msg_unref(&k->busy);
			k->busy = wire_msg_ref(msg);
			k->cell_seq++;
			sbx_cell_begin(k->sbx);
		} else {
			sbx_cell_end(k->sbx);
		}
	}
	if (k->mgr->obs)
		k->mgr->obs->kernel(k->mgr->obs_ctx, k, KCH_IOPUB, msg);
	relay_iopub(k, msg);
	wire_msg_unref(&msg);
	check_ready(k);
}

static void on_control(void *arg, zsock_t *sock, const wire_slice_t *f, size_t n)
{
	kernel_t *k = arg;
	wire_msg_t *msg = decode(k, "control", f, n);

	(void)sock;
	if (msg)
		log_debug("kernels", "%.8s: %s", k->id, msg->msg_type);
	wire_msg_unref(&msg);
}

static void on_heartbeat(void *arg, zsock_t *sock, const wire_slice_t *f, size_t n)
{
	kernel_t *k = arg;

	(void)sock;
	(void)f;
	(void)n;
	k->hb_waiting = false;
	k->hb_missed = 0;
}

/* --- timers -------------------------------------------------------------- */

static void on_start_tick(uv_timer_t *t)
{
	kernel_t *k = t->data;
	double waited = util_unix_time() - k->started_at;
	char reason[128];

	if (k->phase != PHASE_LAUNCHING) {
		uv_timer_stop(t);
		return;
	}
	if (waited > k->mgr->cfg.start_timeout_s) {
		snprintf(reason, sizeof reason, "the kernel did not answer within %.0f s",
			 k->mgr->cfg.start_timeout_s);
		kernel_die(k, reason);
		return;
	}
	/* kernel_info answered but IOPub silent: nudge until it delivers */
	if (k->has_info_reply && !k->has_iopub)
		send_probe(k);
	else if (!k->has_info_reply &&
		 (uint64_t)(waited * 1000) % PROBE_RESEND_MS < PROBE_TICK_MS)
		send_probe(k);
}

static void on_hb_tick(uv_timer_t *t)
{
	kernel_t *k = t->data;
	char reason[128];

	if (k->phase != PHASE_READY) {
		uv_timer_stop(t);
		return;
	}
	if (k->hb_waiting && ++k->hb_missed >= k->mgr->cfg.heartbeat_misses) {
		snprintf(reason, sizeof reason, "the kernel stopped answering its heartbeat for %.0f s",
			 k->mgr->cfg.heartbeat_s * k->hb_missed);
		kernel_die(k, reason);
		return;
	}
	if (k->hb) {
		zsock_send(k->hb, &(wire_slice_t){ "ping", 4 }, 1);
		k->hb_waiting = true;
	}
}

/* --- launch -------------------------------------------------------------- */

static void close_sockets(kernel_t *k)
{
	zsock_close(&k->iopub);
	zsock_close(&k->probe);
	zsock_close(&k->control);
	zsock_close(&k->hb);
}

static zsock_t *connect_one(kernel_t *k, int type, int port, zsock_recv_fn fn, err_t *err)
{
	char ep[256];
	zsock_opts_t o = { .type = type, .endpoint = ep, .on_recv = fn, .arg = k };

	kernel_endpoint(k, port, ep, sizeof ep);
	return zsock_connect(k->mgr->loop, k->mgr->zctx, &o, err);
}

static int open_sockets(kernel_t *k, err_t *err)
{
	k->iopub = connect_one(k, ZSOCK_SUB, KCONN_PORT_IOPUB, on_iopub, err);
	k->probe = k->iopub ? connect_one(k, ZSOCK_DEALER, KCONN_PORT_SHELL, on_probe, err) : NULL;
	k->control = k->probe ? connect_one(k, ZSOCK_DEALER, KCONN_PORT_CONTROL, on_control, err) : NULL;
	k->hb = k->control ? connect_one(k, ZSOCK_REQ, KCONN_PORT_HB, on_heartbeat, err) : NULL;
	if (!k->hb) {
		close_sockets(k);
		return err ? err->code : CG_ESYS;
	}
	return 0;
}

/* Resolves a bare command name against the PATH the sandbox will have. */
static char *resolve_command(const char *cmd)
{
	static const char *path[] = { "/usr/local/bin", "/usr/bin", "/bin", NULL };
	char buf[4096];

	if (strchr(cmd, '/'))
		return strdup(cmd);
	for (int i = 0; path[i]; i++) {
		snprintf(buf, sizeof buf, "%s/%s", path[i], cmd);
		if (access(buf, X_OK) == 0)
			return strdup(buf);
	}
	return strdup(cmd);
}

char **lifecycle_argv(const kernel_t *k)
{
	char **argv = calloc(k->spec.argc + 1, sizeof *argv);

	for (size_t i = 0; argv && i < k->spec.argc; i++) {
		const char *a = k->spec.argv[i];

		if (strcmp(a, "{connection_file}") == 0)
			argv[i] = strdup(SBX_KERNEL_DIR "/" KCONN_FILE);
		else if (i == 0)
			argv[i] = resolve_command(a);
		else
			argv[i] = strdup(a);
	}
	return argv;
}

static void push_env(char **env, size_t *n, const char *name, const char *value)
{
	size_t len = strlen(name) + strlen(value) + 2;
	char *e = malloc(len);

	if (e) {
		snprintf(e, len, "%s=%s", name, value);
		env[(*n)++] = e;
	}
}

/* The environment is an allowlist, never the server's own environment. */
static char **build_env(const kernel_t *k)
{
	size_t cap = 16 + json_object_size(k->spec.env), n = 0;
	char **env = calloc(cap, sizeof *env);
	const char *lang = getenv("LANG"), *key;
	json_t *val;

	if (!env)
		return NULL;
	push_env(env, &n, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	push_env(env, &n, "HOME", "/tmp");
	push_env(env, &n, "TMPDIR", "/tmp");
	push_env(env, &n, "LANG", lang && *lang ? lang : "C.UTF-8");
	/* debugpy warns on every start under Python 3.11's frozen modules */
	push_env(env, &n, "PYDEVD_DISABLE_FILE_VALIDATION", "1");
	push_env(env, &n, "JPY_SESSION_NAME", k->session_name ? k->session_name : "");
	json_object_foreach(k->spec.env, key, val) {
		if (n + 1 < cap)
			push_env(env, &n, key, json_string_value(val));
	}
	return env;
}

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static void on_output(void *arg, bool is_stderr, const char *data, size_t len);
static void on_sandbox_exit(void *arg, int status);
static void on_limit(void *arg, sbx_limit_t which, int count);

static void init_timers(kernel_t *k)
{
	if (k->open_timers)
		return;
	uv_timer_init(k->mgr->loop, &k->start_timer);
	uv_timer_init(k->mgr->loop, &k->stop_timer);
	uv_timer_init(k->mgr->loop, &k->hb_timer);
	k->start_timer.data = k->stop_timer.data = k->hb_timer.data = k;
	k->open_timers = 3;
}

/* Which mechanism holds each limit of this kernel, for the log. */
static void log_limits(const kernel_t *k)
{
	char line[256];
	size_t n = 0;

	line[0] = '\0';
	for (int i = 0; i < SBX_LIMIT_COUNT && n < sizeof line; i++)
		n += (size_t)snprintf(line + n, sizeof line - n, "%s%s %s", i ? ", " : "",
				      sbx_limit_key((sbx_limit_t)i),
				      sbx_mechanism(k->sbx, (sbx_limit_t)i));
	log_info("kernels", "%.8s limits (%s): %s", k->id, kernel_trust_class(k), line);
}

/* The kernel's program (argv[0]) and the egress relay as the sandbox's user
 * can run them: themselves, or copies in the runtime directory when they
 * sit where that user cannot reach (sandbox/program.c). */
static int make_reachable(const kmgr_config_t *c, char **argv, const char *relay,
			  char **relay_out, err_t *err)
{
	char *p;

	if (argv[0] && argv[0][0] == '/') {
		p = sbx_program_reachable(argv[0], c->runtime_dir, c->uid, c->gid, err);
		if (!p)
			return err->code ? err->code : CG_ESYS;
		free(argv[0]);
		argv[0] = p;
	}
	if (relay) {
		*relay_out = sbx_program_reachable(relay, c->runtime_dir, c->uid, c->gid, err);
		if (!*relay_out)
			return err->code ? err->code : CG_ESYS;
	}
	return 0;
}

int lifecycle_launch(kernel_t *k, err_t *err)
{
	const kmgr_config_t *c = &k->mgr->cfg;
	char **argv = lifecycle_argv(k), **env = build_env(k), *relay = NULL;
	err_t local = { 0 };
	sbx_spec_t spec = {
		.argv = argv, .env = env, .workspace = c->workspace,
		.workspace_snapshot = k->snapshot, .workspace_scope = k->scope, .cwd = k->cwd,
		.kernel_dir_fd = k->dir_fd, .hidden = c->hidden, .uid = c->uid, .gid = c->gid,
		.bwrap = c->bwrap, .name = k->id, .is_plain = c->sandbox_plain,
	};
	static const sbx_callbacks_t cb = { on_sandbox_exit, on_output, on_limit };
	int rc = 0;

	sbx_limits_for(&c->limits, c->limit_overrides, c->n_limit_overrides, k->spec.name,
		       kernel_trust_class(k), &k->limits);
	spec.limits = k->limits;
	if (c->egress_relay && !c->sandbox_plain && c->on_sandbox) {
		spec.egress_relay = c->egress_relay;
		c->on_sandbox(c->on_sandbox_arg, k, true);
	}
	free(k->limit_note);
	k->limit_note = NULL;
	wire_msg_unref(&k->busy);

	init_timers(k);
	k->phase = PHASE_LAUNCHING;
	k->state = KSTATE_STARTING;
	k->has_info_reply = k->has_iopub = false;
	k->started_at = util_unix_time();
	free(k->reason);
	k->reason = NULL;
	k->stderr_len = 0;
	if (!argv || !env) {
		rc = err_set(err, CG_ESYS, "out of memory");
		goto out;
	}
	rc = make_reachable(c, argv, spec.egress_relay, &relay, err ? err : &local);
	if (rc)
		goto out;
	if (relay)
		spec.egress_relay = relay;
	rc = open_sockets(k, err);
	if (rc)
		goto out;
	k->sbx = sbx_launch(k->mgr->loop, &spec, &cb, k, err);
	if (!k->sbx) {
		close_sockets(k);
		rc = err ? err->code : CG_ESYS;
		goto out;
	}
	log_limits(k);
	kmgr_notify(k, KEV_LAUNCHED, NULL);
	send_probe(k);
	uv_timer_start(&k->start_timer, on_start_tick, PROBE_TICK_MS, PROBE_TICK_MS);
out:
	free_strv(argv);
	free_strv(env);
	free(relay);
	return rc;
}

/* --- output and exit ------------------------------------------------------ */

static void on_output(void *arg, bool is_stderr, const char *data, size_t len)
{
	kernel_t *k = arg;
	size_t keep = sizeof k->stderr_tail - 1;

	if (is_stderr) {
		/* keep the tail: it says why a kernel that dies at start died */
		if (len >= keep) {
			memcpy(k->stderr_tail, data + len - keep, keep);
			k->stderr_len = keep;
		} else {
			size_t drop = k->stderr_len + len > keep ? k->stderr_len + len - keep : 0;

			memmove(k->stderr_tail, k->stderr_tail + drop, k->stderr_len - drop);
			memcpy(k->stderr_tail + k->stderr_len - drop, data, len);
			k->stderr_len = k->stderr_len - drop + len;
		}
		k->stderr_tail[k->stderr_len] = '\0';
	}
	if (log_get_level() <= LOG_DEBUG)
		log_debug("kernels", "%.8s %s: %.*s", k->id, is_stderr ? "stderr" : "stdout",
			  (int)(len > 2000 ? 2000 : len), data);
}

/* The last non-empty line the kernel wrote to stderr, for a death notice. */
static void last_stderr_line(const kernel_t *k, char *out, size_t size)
{
	const char *end = k->stderr_tail + k->stderr_len, *start;

	while (end > k->stderr_tail && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	start = end;
	while (start > k->stderr_tail && start[-1] != '\n')
		start--;
	snprintf(out, size, "%.*s", (int)(end - start), start);
}

static void finish_shutdown(kernel_t *k)
{
	kmgr_t *m = k->mgr;

	for (kernel_t **p = &m->kernels; *p; p = &(*p)->next) {
		if (*p == k) {
			*p = k->next;
			break;
		}
	}
	log_info("kernels", "%.8s shut down", k->id);
	kmgr_notify(k, KEV_ENDED, "the kernel was shut down");
	fire_waiters(&k->ready_waiters, CG_ESTATE, "the kernel was shut down");
	fire_waiters(&k->gone_waiters, 0, NULL);
	lifecycle_free(k);
}

static void relaunch(kernel_t *k)
{
	err_t err = { 0 };

	sbx_free(&k->sbx);
	k->is_restarting = false;
	if (lifecycle_launch(k, &err) != 0) {
		kernel_die(k, err.msg);
		return;
	}
	relay_broadcast_status(k, "starting");
}

static void on_sandbox_exit(void *arg, int status)
{
	kernel_t *k = arg;
	char reason[sizeof k->stderr_tail + 96], line[sizeof k->stderr_tail];
	sbx_limit_t cause;

	uv_timer_stop(&k->start_timer);
	uv_timer_stop(&k->stop_timer);
	uv_timer_stop(&k->hb_timer);
	close_sockets(k);
	if (k->is_shutting_down) {
		finish_shutdown(k);
		return;
	}
	if (k->is_restarting) {
		kmgr_notify(k, KEV_ENDED, "the kernel was restarted");
		relaunch(k);
		return;
	}
	if (k->phase == PHASE_DEAD)
		return;
	last_stderr_line(k, line, sizeof line);
	/* a cgroup's OOM kill, or a limit the watcher had reported */
	cause = k->sbx ? sbx_death_cause(k->sbx) : SBX_LIMIT_COUNT;
	if (cause != SBX_LIMIT_COUNT) {
		notify_limit(k, sbx_limit_reason(cause), "the kernel was stopped");
		kernel_die(k, sbx_limit_reason(cause));
		return;
	}
	/* bwrap passes on 128+N for a kernel ended by signal N */
	if (status == 128 + SIGXCPU || status == 128 + SIGXFSZ) {
		kernel_die(k, status == 128 + SIGXCPU ? "cpu time limit" : "file size limit");
		return;
	}
	snprintf(reason, sizeof reason, "the kernel exited with status %d%s%s%s", status,
		 k->phase == PHASE_LAUNCHING ? " before it was ready" : "",
		 line[0] ? ": " : "", line);
	kernel_die(k, reason);
}

static void kernel_die(kernel_t *k, const char *reason)
{
	if (k->phase == PHASE_DEAD)
		return;
	k->phase = PHASE_DEAD;
	k->state = KSTATE_DEAD;
	free(k->reason);
	k->reason = strdup(reason);
	log_warn("kernels", "%.8s died: %s", k->id, reason);
	uv_timer_stop(&k->start_timer);
	uv_timer_stop(&k->hb_timer);
	if (k->sbx)
		sbx_kill(k->sbx);
	kmgr_notify(k, KEV_ENDED, reason);
	relay_broadcast_status(k, "dead");
	relay_kernel_died(k, reason);
	fire_waiters(&k->ready_waiters, CG_ESTATE, reason);
}

/* --- limits --------------------------------------------------------------- */

/*
 * Tells every client, on IOPub, that a limit was reached: a stream to
 * stderr, parented on the running cell's request so it shows under that
 * cell. The same text goes to the log and the kernel's model.
 */
static void notify_limit(kernel_t *k, const char *reason, const char *action)
{
	char text[512], *content;
	json_t *c;
	wire_msg_t *tmp, *m = NULL;
	wire_slice_t parts[4];

	snprintf(text, sizeof text, "cellgate: %s: %s\n", reason, action);
	log_warn("kernels", "%.8s %s: %s", k->id, reason, action);
	free(k->limit_note);
	k->limit_note = strdup(reason);
	c = json_pack("{s:s, s:s}", "name", "stderr", "text", text);
	content = c ? json_dumps(c, JSON_COMPACT) : NULL;
	json_decref(c);
	tmp = content ? wire_msg_new("stream", k->mgr->session, "cellgate", NULL, content, NULL)
		      : NULL;
	if (tmp) {
		parts[0] = (wire_slice_t){ tmp->header.data, tmp->header.len };
		parts[1] = k->busy ? (wire_slice_t){ k->busy->parent_header.data,
						     k->busy->parent_header.len }
				   : (wire_slice_t){ "{}", 2 };
		parts[2] = (wire_slice_t){ "{}", 2 };
		parts[3] = (wire_slice_t){ content, strlen(content) };
		m = wire_msg_from_parts(parts, NULL, 0, NULL, NULL);
	}
	if (m)
		relay_iopub(k, m);
	wire_msg_unref(&m);
	wire_msg_unref(&tmp);
	free(content);
}

static void on_limit(void *arg, sbx_limit_t which, int count)
{
	kernel_t *k = arg;
	char action[160];
	err_t err = { 0 };

	if (k->phase == PHASE_DEAD || k->is_shutting_down)
		return;
	switch (which) {
	case SBX_LIMIT_CELL_CPU:
		if (count == 1 && k->mgr->cfg.on_cell_quota) {
			sbx_cell_ask(k->sbx);
			snprintf(action, sizeof action,
				 "this cell used more than %llu s of CPU time; a person is asked to "
				 "extend its quota or interrupt it",
				 (unsigned long long)k->limits.cell_cpu_seconds);
			notify_limit(k, sbx_limit_reason(which), action);
			if (k->mgr->cfg.on_cell_quota(k->mgr->cfg.on_cell_quota_arg, k))
				return;
			sbx_cell_refuse(k->sbx);
		}
		/* before the interrupt (no person asked): the cell's record says timeout */
		kmgr_notify(k, KEV_CELL_LIMIT, sbx_limit_reason(which));
		if (count == 1) {
			snprintf(action, sizeof action,
				 "this cell used more than %llu s of CPU time; it is interrupted",
				 (unsigned long long)k->limits.cell_cpu_seconds);
			notify_limit(k, sbx_limit_reason(which), action);
			if (kernel_interrupt(k, &err) != 0)
				log_warn("kernels", "%.8s cannot interrupt: %s", k->id, err.msg);
			return;
		}
		notify_limit(k, sbx_limit_reason(which), "the cell went on after its interrupt; "
				"the kernel is stopped");
		kernel_die(k, sbx_limit_reason(which));
		return;
	case SBX_LIMIT_CPU:
		snprintf(action, sizeof action, "the kernel used more than %llu s of CPU time; "
			 "it is stopped", (unsigned long long)k->limits.cpu_seconds);
		notify_limit(k, sbx_limit_reason(which), action);
		kernel_die(k, sbx_limit_reason(which));
		return;
	case SBX_LIMIT_DISK:
		snprintf(action, sizeof action, "the workspace grew past %llu bytes while this "
			 "cell ran; the kernel is stopped", (unsigned long long)k->limits.disk_bytes);
		notify_limit(k, sbx_limit_reason(which), action);
		kernel_die(k, sbx_limit_reason(which));
		return;
	case SBX_LIMIT_MEMORY:
		/* the kernel itself killed shows as its death (on_sandbox_exit) */
		notify_limit(k, sbx_limit_reason(which),
			     "a process in the sandbox was killed at the memory limit");
		return;
	case SBX_LIMIT_PROCESSES:
		snprintf(action, sizeof action, "the sandbox reached its %llu processes; "
			 "new ones fail", (unsigned long long)k->limits.processes);
		notify_limit(k, sbx_limit_reason(which), action);
		return;
	default:
		return;
	}
}

unsigned kernel_cell_seq(const kernel_t *k)
{
	return k->cell_seq;
}

void kernel_cell_quota_answer(kernel_t *k, unsigned cell, bool extend, double seconds,
			      const char *by)
{
	char action[200];
	err_t err = { 0 };

	if (k->phase == PHASE_DEAD || k->is_shutting_down || k->state != KSTATE_BUSY ||
	    k->cell_seq != cell)
		return;
	if (extend) {
		snprintf(action, sizeof action, "%s extended this cell's quota by %.0f s of CPU time",
			 by, seconds);
		notify_limit(k, sbx_limit_reason(SBX_LIMIT_CELL_CPU), action);
		sbx_cell_extend(k->sbx, seconds);
		return;
	}
	snprintf(action, sizeof action, "%s: no more CPU time for this cell; it is interrupted", by);
	notify_limit(k, sbx_limit_reason(SBX_LIMIT_CELL_CPU), action);
	sbx_cell_refuse(k->sbx);
	if (kernel_interrupt(k, &err) != 0)
		log_warn("kernels", "%.8s cannot interrupt: %s", k->id, err.msg);
}

/* --- stopping -------------------------------------------------------------- */

static void on_stop_tick(uv_timer_t *t)
{
	kernel_t *k = t->data;

	if (!sbx_is_running(k->sbx)) {
		/* it was already gone: proceed as if it had just exited */
		on_sandbox_exit(k, 0);
		return;
	}
	/* shutdown_request was not enough: SIGTERM, then SIGKILL */
	if (k->stop_step == 0) {
		k->stop_step = 1;
		log_info("kernels", "%.8s ignored shutdown_request; sending SIGTERM", k->id);
		if (sbx_signal_kernel(k->sbx, SIGTERM) == 0) {
			uv_timer_start(t, on_stop_tick, (uint64_t)(k->mgr->cfg.kill_wait_s * 1000), 0);
			return;
		}
	}
	log_info("kernels", "%.8s still running; killing its sandbox", k->id);
	sbx_kill(k->sbx);
}

static void stop_process(kernel_t *k, bool restart)
{
	char content[64];
	wire_msg_t *msg;

	uv_timer_stop(&k->start_timer);
	uv_timer_stop(&k->hb_timer);
	if (!sbx_is_running(k->sbx)) {
		uv_timer_start(&k->stop_timer, on_stop_tick, 0, 0);
		return;
	}
	k->phase = PHASE_STOPPING;
	k->stop_step = 0;
	snprintf(content, sizeof content, "{\"restart\":%s}", restart ? "true" : "false");
	msg = wire_msg_new("shutdown_request", k->mgr->session, "cellgate", NULL, content, NULL);
	if (msg && k->control)
		zsock_send_msg(k->control, msg, k->wkey);
	wire_msg_unref(&msg);
	uv_timer_start(&k->stop_timer, on_stop_tick, (uint64_t)(k->mgr->cfg.shutdown_wait_s * 1000),
		       0);
}

int kernel_interrupt(kernel_t *k, err_t *err)
{
	if (k->is_shutting_down || !sbx_is_running(k->sbx) || k->phase == PHASE_STOPPING)
		return err_set(err, CG_ESTATE, "the kernel is not running");
	if (k->spec.interrupt_by_message) {
		wire_msg_t *msg = wire_msg_new("interrupt_request", k->mgr->session, "cellgate",
					       NULL, "{}", err);
		int rc = msg && k->control ? zsock_send_msg(k->control, msg, k->wkey) : CG_ESYS;

		wire_msg_unref(&msg);
		return rc ? err_set(err, rc, "cannot send interrupt_request") : 0;
	}
	if (sbx_signal_kernel(k->sbx, SIGINT) != 0)
		return err_set(err, CG_ESTATE, "the kernel process is not ready for signals yet");
	return 0;
}

int kernel_restart(kernel_t *k, kernel_done_fn done, void *arg, err_t *err)
{
	if (k->is_shutting_down)
		return err_set(err, CG_ESTATE, "the kernel is shutting down");
	if (add_waiter(&k->ready_waiters, done, arg))
		return err_set(err, CG_ESYS, "out of memory");
	if (k->is_restarting)
		return 0;
	k->is_restarting = true;
	k->state = KSTATE_RESTARTING;
	log_info("kernels", "%.8s restarting", k->id);
	/* No "restarting" status on IOPub: Jupyter Server sends that only when
	 * its restarter brings a dead kernel back, and JupyterLab takes it as
	 * "the kernel appears to have died" (it asked for this restart itself). */
	stop_process(k, true);
	return 0;
}

int kernel_wait_ready(kernel_t *k, kernel_done_fn done, void *arg)
{
	if (k->phase == PHASE_READY && !k->is_restarting) {
		done(arg, 0, NULL);
		return 0;
	}
	if (k->phase == PHASE_DEAD || k->is_shutting_down) {
		done(arg, CG_ESTATE, k->reason ? k->reason : "the kernel is not running");
		return 0;
	}
	return add_waiter(&k->ready_waiters, done, arg);
}

const char *kernel_reason(const kernel_t *k)
{
	return k->reason;
}

void kernel_shutdown(kernel_t *k, kernel_done_fn done, void *arg)
{
	add_waiter(&k->gone_waiters, done, arg);
	if (k->is_shutting_down)
		return;
	k->is_shutting_down = true;
	k->is_restarting = false;
	relay_close_all(k, "the kernel was shut down");
	stop_process(k, false);
}

/* --- freeing --------------------------------------------------------------- */

static void on_timer_closed(uv_handle_t *h)
{
	kernel_t *k = h->data;

	if (--k->open_timers == 0)
		free(k);
}

void lifecycle_kill_now(kernel_t *k)
{
	if (k->sbx)
		sbx_kill(k->sbx);
}

void lifecycle_free(kernel_t *k)
{
	kmgr_notify(k, KEV_GONE, NULL);
	relay_close_all(k, "the server is shutting down");
	close_sockets(k);
	sbx_free(&k->sbx);
	if (k->dir_fd >= 0) {
		kconn_remove_dir(k->dir_fd, k->dir);
		close(k->dir_fd);
	}
	fire_waiters(&k->ready_waiters, CG_ESTATE, "the kernel is gone");
	fire_waiters(&k->gone_waiters, 0, NULL);
	wire_key_free(&k->wkey);
	kspec_clear(&k->spec);
	free(k->cwd);
	free(k->session_name);
	free(k->snapshot);
	for (size_t i = 0; k->scope && k->scope[i]; i++)
		free(k->scope[i]);
	free(k->scope);
	free(k->dir);
	free(k->reason);
	free(k->limit_note);
	wire_msg_unref(&k->busy);
	if (k->mgr->cfg.on_sandbox)
		k->mgr->cfg.on_sandbox(k->mgr->cfg.on_sandbox_arg, k, false);
	if (!k->open_timers) {
		free(k);
		return;
	}
	uv_close((uv_handle_t *)&k->start_timer, on_timer_closed);
	uv_close((uv_handle_t *)&k->stop_timer, on_timer_closed);
	uv_close((uv_handle_t *)&k->hb_timer, on_timer_closed);
}
