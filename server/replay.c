/*
 * Replay jobs (see replay.h).
 *
 * A job is a small state machine on the loop:
 *   snapshot  `cp -a` of the workspace into a 0711 directory of its own
 *   session   for each recorded kernel session, in the order they ran: a
 *             fresh kernel (kmgr_start_opts, sandbox class "replay", the
 *             snapshot read-only at the workspace's path), attached as a
 *             client of its own
 *   step      one execute_request per recorded execution of the chain,
 *             outputs gathered as a front end keeps them; the executions
 *             whose outputs the version shows are compared
 *   finish    verdicts, the report into the store, the snapshot removed
 */
#include "replay.h"

#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../notebook-store/records.h"
#include "app_store.h"
#include "egress_broker.h"
#include "recorder.h"

#define MAX_JOBS_KEPT 100

typedef enum jstate { J_RUNNING, J_DONE, J_FAILED, J_CANCELLED } jstate_t;
static const char *const state_names[] = { "running", "done", "failed", "cancelled" };

struct replay {
	replays_t *all;
	char id[UUID_HEX_LEN];
	char version[STORE_ID_LEN];
	jstate_t state;
	char error[600];
	replay_opts_t opts;
	double step_timeout_s;
	replay_done_fn done;
	void *done_arg;
	json_t *plan;
	json_t *report;            /* built as steps finish */
	size_t total, n_done;
	char started[ISO_TIME_LEN];
	char snap_dir[64];         /* the job's directory; the copy is snap_dir/ws */
	uv_process_t cp, rm;      /* the snapshot's copy and its removal */
	bool has_cp, has_rm, remove_after_cp;
	bool is_waiting;          /* for a kernel to be ready: its callback will come */
	size_t si, step;           /* current session and step */
	kernel_t *k;
	kclient_t *client;
	char msg_id[128];
	json_t *outputs;
	bool clear_wait, has_reply, has_idle;
	char upstream_skipped[1400]; /* a step of this session was skipped: why */
	char reply_status[32];
	uv_timer_t timer;         /* a step's timeout, or the next move (later()) */
	bool has_timer;
	void (*later)(replay_t *j);
	int handles;               /* open uv handles; freed when 0 and forgotten */
	bool is_forgotten;
	replay_t *next;
};

struct replays {
	app_t *app;
	replay_t *jobs;
};

static void next_session(replay_t *j);
static void run_step(replay_t *j);
static void finish(replay_t *j);
static void maybe_free(replay_t *j);

replays_t *replays_new(app_t *app)
{
	replays_t *all = calloc(1, sizeof *all);

	if (all)
		all->app = app;
	return all;
}

static app_t *app_of(const replay_t *j)
{
	return j->all->app;
}

/* --- the report ----------------------------------------------------------- */

static json_t *report_cell(replay_t *j, json_int_t index)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(j->report, "cells"), i, c)
		if (json_integer_value(json_object_get(c, "index")) == index)
			return c;
	return NULL;
}

static void set_verdict(json_t *cell, const char *verdict, const char *reason)
{
	json_object_set_new(cell, "verdict", json_string(verdict));
	if (reason)
		json_object_set_new(cell, "reason", json_string(reason));
}

static json_t *build_report(replay_t *j)
{
	json_t *cells = json_array(), *c;
	size_t i;

	json_array_foreach(json_object_get(j->plan, "cells"), i, c) {
		const char *state = json_string_value(json_object_get(c, "state"));
		json_t *rc = json_pack("{s:O, s:O, s:O, s:O, s:n, s:O}", "index", json_object_get(c, "index"),
				       "cell_id", json_object_get(c, "cell_id"), "code", json_object_get(c, "source"),
				       "recorded", json_object_get(c, "outputs"), "replayed",
				       "execution", json_object_get(c, "execution"));

		if (json_is_true(json_object_get(c, "outputs_edited")))
			json_object_set_new(rc, "outputs_edited", json_true());
		if (state && strcmp(state, "unrecorded") == 0)
			set_verdict(rc, "unrecorded", "no recorded execution produced these outputs");
		else if (state && strcmp(state, "unexecuted") == 0)
			set_verdict(rc, "skipped", "the cell was never executed in this version");
		else
			set_verdict(rc, "pending", NULL);
		json_array_append_new(cells, rc);
	}
	return json_pack("{s:s, s:s, s:O, s:s, s:s, s:o, s:o, s:o}", "id", j->id, "version", j->version,
			 "path", json_object_get(j->plan, "path"), "started", j->started,
			 "sandbox", "replay (bubblewrap, read-only workspace snapshot; no QEMU backend)",
			 "compare", replay_opts_to_json(&j->opts), "grant", replay_grants_to_json(&j->opts),
			 "cells", cells);
}

static json_t *cur_session(replay_t *j)
{
	return json_array_get(json_object_get(j->plan, "sessions"), j->si);
}

static json_t *cur_step(replay_t *j)
{
	return json_array_get(json_object_get(cur_session(j), "executions"), j->step);
}

/* Every cell the steps from `from` on of the current session would have
 * shown gets verdict "error" with why. */
static void fail_rest_of_session(replay_t *j, size_t from, const char *why)
{
	json_t *steps = json_object_get(cur_session(j), "executions"), *st, *ix;
	size_t i, k;

	for (i = from; i < json_array_size(steps); i++) {
		st = json_array_get(steps, i);
		json_array_foreach(json_object_get(st, "compare"), k, ix) {
			json_t *c = report_cell(j, json_integer_value(ix));

			if (c) {
				set_verdict(c, "error", why);
				json_object_set(c, "code", json_object_get(st, "code"));
			}
		}
		j->n_done++;
	}
}

/* --- the kernel of a session ------------------------------------------------ */

static void on_timer_closed(uv_handle_t *h);

static void stop_timer(replay_t *j)
{
	if (j->has_timer)
		uv_timer_stop(&j->timer);
}

static void on_kernel_gone(void *arg, int status, const char *message)
{
	(void)arg;
	(void)status;
	(void)message;
}

/* Lets go of the session's kernel: detached, then shut down. */
static void drop_kernel(replay_t *j)
{
	stop_timer(j);
	if (j->client)
		kclient_detach(&j->client);
	if (j->k) {
		kernel_shutdown(j->k, on_kernel_gone, NULL);
		j->k = NULL;
	}
}

static void end_session(replay_t *j)
{
	drop_kernel(j);
	j->si++;
	next_session(j);
}

static void on_later(uv_timer_t *t)
{
	replay_t *j = t->data;
	void (*fn)(replay_t *) = j->later;

	j->later = NULL;
	if (fn && j->state == J_RUNNING)
		fn(j);
}

/* The next move, from the loop rather than from inside the relay's
 * delivery (which walks the kernel's client list a shutdown would free). */
static void later(replay_t *j, void (*fn)(replay_t *j))
{
	j->later = fn;
	uv_timer_start(&j->timer, on_later, 0, 0);
}

static void next_of_closed(replay_t *j)
{
	j->si++;
	next_session(j);
}

static void step_done(replay_t *j)
{
	json_t *st = cur_step(j), *ix;
	const char *recorded_status = json_string_value(json_object_get(st, "status"));
	size_t k;

	stop_timer(j);
	json_array_foreach(json_object_get(st, "compare"), k, ix) {
		json_t *c = report_cell(j, json_integer_value(ix)), *diff = NULL;
		bool same;

		if (!c)
			continue;
		/* the code replayed is what ran, which the cell may no longer hold */
		if (!json_equal(json_object_get(c, "code"), json_object_get(st, "code")))
			json_object_set_new(c, "source_changed", json_true());
		json_object_set(c, "code", json_object_get(st, "code"));
		json_object_set(c, "replayed", j->outputs);
		json_object_set_new(c, "replayed_status", json_string(j->reply_status));
		json_object_set(c, "recorded_status", json_object_get(st, "status"));
		if (j->upstream_skipped[0])
			json_object_set_new(c, "upstream_skipped", json_string(j->upstream_skipped));
		same = replay_outputs_equal(json_object_get(c, "recorded"), j->outputs, &j->opts, &diff);
		if (diff)
			json_object_set_new(c, "diff", diff);
		if (strcmp(j->reply_status, "ok") != 0 && recorded_status && strcmp(recorded_status, "ok") == 0)
			set_verdict(c, "error", "the replayed execution failed where the recorded one did not");
		else if (same)
			set_verdict(c, "reproduced", NULL);
		else
			set_verdict(c, "differs", json_is_true(json_object_get(c, "outputs_edited")) ?
				    "the version's outputs are not those the recorded execution produced" : NULL);
	}
	j->n_done++;
	j->step++;
	later(j, run_step);
}

static void deliver(void *ctx, kchannel_t ch, wire_msg_t *msg)
{
	replay_t *j = ctx;
	json_t *content;

	if (j->state != J_RUNNING)
		return;
	if (ch == KCH_IOPUB && !msg->parent_msg_id[0] && strcmp(msg->msg_type, "status") == 0 &&
	    memmem(msg->content.data, msg->content.len, "\"dead\"", 6) && j->k) {
		/* the relay's word that the kernel died: no reply will come */
		char why[600];

		snprintf(why, sizeof why, "the replay kernel died: %s",
			 kernel_reason(j->k) ? kernel_reason(j->k) : "no reason given");
		fail_rest_of_session(j, j->step, why);
		j->msg_id[0] = '\0';
		later(j, end_session);
		return;
	}
	if (!j->msg_id[0] || strcmp(msg->parent_msg_id, j->msg_id) != 0)
		return;
	if (ch == KCH_SHELL && strcmp(msg->msg_type, "execute_reply") == 0) {
		content = json_loadb(msg->content.data, msg->content.len, 0, NULL);
		snprintf(j->reply_status, sizeof j->reply_status, "%s",
			 json_string_value(json_object_get(content, "status")) ?: "error");
		json_decref(content);
		j->has_reply = true;
	} else if (ch == KCH_IOPUB && strcmp(msg->msg_type, "status") == 0) {
		if (memmem(msg->content.data, msg->content.len, "\"idle\"", 6))
			j->has_idle = true;
	} else if (ch == KCH_IOPUB) {
		content = json_loadb(msg->content.data, msg->content.len, 0, NULL);
		if (content)
			recorder_add_output(j->outputs, msg->msg_type, content, &j->clear_wait);
		json_decref(content);
	}
	if (j->has_reply && j->has_idle) {
		j->msg_id[0] = '\0';
		step_done(j);
	}
}

static void on_client_closed(void *ctx, const char *why)
{
	replay_t *j = ctx;
	char reason[600];

	j->client = NULL;
	if (j->state != J_RUNNING)
		return;
	snprintf(reason, sizeof reason, "the replay kernel ended: %s", why);
	fail_rest_of_session(j, j->step, reason);
	j->k = NULL;  /* it is being shut down already */
	j->msg_id[0] = '\0';
	later(j, next_of_closed);
}

static const kclient_sink_t sink = { deliver, on_client_closed };

static void on_step_timeout(uv_timer_t *t)
{
	replay_t *j = t->data;
	char why[128];

	snprintf(why, sizeof why, "timed out after %.0f s", j->step_timeout_s);
	fail_rest_of_session(j, j->step, why);
	j->msg_id[0] = '\0';
	end_session(j);
}

/* The first effect the recorded execution used that the replay was not
 * granted ("HOST:PORT" into dest), or false. A denied effect needs no
 * grant: without one the replay is denied it too. */
static bool ungranted_effect(const replay_t *j, const json_t *st, char *dest, size_t size)
{
	const json_t *e;
	size_t i;

	json_array_foreach(json_object_get(st, "effects"), i, e) {
		const char *d = json_string_value(json_object_get(e, "destination"));
		bool granted = false;

		if (!d || strcmp(json_string_value(json_object_get(e, "decision")) ?: "", "allow") != 0)
			continue;
		for (size_t g = 0; g < j->opts.n_grants && !granted; g++)
			granted = strcasecmp(j->opts.grants[g], d) == 0;
		if (!granted) {
			snprintf(dest, size, "%s", d);
			return true;
		}
	}
	return false;
}

/* Not re-run: the cells it would be compared for are skipped, and the
 * steps after it in the session run, each saying so (upstream_skipped). */
static void skip_step(replay_t *j, const json_t *st, const char *dest)
{
	char why[1024];
	json_t *ix;
	size_t k;

	snprintf(why, sizeof why, "needs network access to %s, which this replay was not granted "
		 "(grant network:%s)", dest, dest);
	json_array_foreach(json_object_get(st, "compare"), k, ix) {
		json_t *c = report_cell(j, json_integer_value(ix));

		if (c)
			set_verdict(c, "skipped", why);
	}
	snprintf(j->upstream_skipped, sizeof j->upstream_skipped, "an earlier execution (cell %s) "
		 "was skipped: %s", json_string_value(json_object_get(st, "cell_id")) ?: "?", why);
	j->n_done++;
	j->step++;
	later(j, run_step);
}

static void run_step(replay_t *j)
{
	json_t *st = cur_step(j), *content;
	wire_msg_t *msg;
	char session[64], *text, dest[300];
	err_t err = { 0 };

	if (j->state != J_RUNNING)
		return;
	if (!st) {
		end_session(j);
		return;
	}
	if (ungranted_effect(j, st, dest, sizeof dest)) {
		skip_step(j, st, dest);
		return;
	}
	content = json_pack("{s:O, s:b, s:b, s:{}, s:b, s:b}", "code", json_object_get(st, "code"),
			    "silent", 0, "store_history", 1, "user_expressions", "allow_stdin", 0,
			    "stop_on_error", 0);
	text = content ? json_dumps(content, JSON_COMPACT) : NULL;
	json_decref(content);
	snprintf(session, sizeof session, "replay-%s", j->id);
	msg = text ? wire_msg_new("execute_request", session, "cellgate-replay", NULL, text, &err) : NULL;
	free(text);
	if (!msg) {
		fail_rest_of_session(j, j->step, "cannot build an execute_request");
		end_session(j);
		return;
	}
	snprintf(j->msg_id, sizeof j->msg_id, "%s", msg->msg_id);
	json_decref(j->outputs);
	j->outputs = json_array();
	j->clear_wait = j->has_reply = j->has_idle = false;
	j->reply_status[0] = '\0';
	if (kclient_send(j->client, KCH_SHELL, msg, &err)) {
		wire_msg_unref(&msg);
		fail_rest_of_session(j, j->step, err.msg);
		end_session(j);
		return;
	}
	wire_msg_unref(&msg);
	uv_timer_start(&j->timer, on_step_timeout, (uint64_t)(j->step_timeout_s * 1000), 0);
}

static void on_ready(void *arg, int status, const char *message)
{
	replay_t *j = arg;
	char session[64], why[600];
	err_t err = { 0 };

	j->is_waiting = false;
	if (j->state != J_RUNNING) {
		maybe_free(j);
		return;
	}
	if (status) {
		snprintf(why, sizeof why, "the replay kernel did not start: %s", message ? message : "");
		fail_rest_of_session(j, 0, why);
		end_session(j);
		return;
	}
	snprintf(session, sizeof session, "replay-%s", j->id);
	j->client = kernel_attach(j->k, session, &sink, j, &err);
	if (!j->client) {
		fail_rest_of_session(j, 0, err.msg);
		end_session(j);
		return;
	}
	kclient_set_principal(j->client, "replay");
	/* no egress but what the reviewer granted */
	if (app_of(j)->egress)
		egress_broker_grant(app_of(j)->egress, kernel_id(j->k), j->opts.grants, j->opts.n_grants);
	j->step = 0;
	run_step(j);
}

static void next_session(replay_t *j)
{
	json_t *sess = cur_session(j);
	const char *spec = json_string_value(json_object_get(sess, "kernelspec"));
	const char *path = json_string_value(json_object_get(j->plan, "path"));
	char cwd[STORE_MAX_PATH + 1], snap[128], why[600];
	kstart_opts_t o = { .sandbox_class = "replay", .workspace_snapshot = snap };
	err_t err = { 0 };

	if (j->state != J_RUNNING)
		return;
	if (!sess) {
		finish(j);
		return;
	}
	snprintf(cwd, sizeof cwd, "%s", path ? path : "");
	snprintf(cwd, sizeof cwd, "%s", strchr(cwd, '/') ? dirname(cwd) : "");
	snprintf(snap, sizeof snap, "%s/ws", j->snap_dir);
	j->step = 0;
	j->upstream_skipped[0] = '\0';
	if (!spec || kmgr_start_opts(app_of(j)->kernels, spec, cwd, path, &o, &j->k, &err)) {
		snprintf(why, sizeof why, "no replay kernel: %s", spec ? err.msg : "the record names no kernelspec");
		fail_rest_of_session(j, 0, why);
		j->k = NULL;
		j->si++;
		next_session(j);
		return;
	}
	j->is_waiting = true;
	kernel_wait_ready(j->k, on_ready, j);
}

/* --- the snapshot ------------------------------------------------------------- */

static void on_proc_closed(uv_handle_t *h);

static int spawn(replay_t *j, uv_process_t *proc, char **argv, uv_exit_cb cb)
{
	uv_process_options_t po = { .file = argv[0], .args = argv, .exit_cb = cb };
	int rc;

	po.stdio_count = 0;
	rc = uv_spawn(app_of(j)->loop, proc, &po);
	if (rc == 0) {
		proc->data = j;
		j->handles++;
	}
	return rc;
}

static void on_removed(uv_process_t *p, int64_t status, int sig)
{
	(void)status;
	(void)sig;
	uv_close((uv_handle_t *)p, on_proc_closed);
}

static void remove_snapshot(replay_t *j)
{
	char *argv[] = { "/bin/rm", "-rf", "--one-file-system", j->snap_dir, NULL };

	if (!j->snap_dir[0] || j->has_rm)
		return;
	if (j->has_cp) {
		/* not while cp still writes into it */
		j->remove_after_cp = true;
		return;
	}
	if (spawn(j, &j->rm, argv, on_removed) == 0)
		j->has_rm = true;
	else
		log_warn("replay", "%.8s: the snapshot %s stays behind", j->id, j->snap_dir);
}

static void on_copied(uv_process_t *p, int64_t status, int sig)
{
	replay_t *j = p->data;

	j->has_cp = false;
	uv_close((uv_handle_t *)p, on_proc_closed);
	if (j->remove_after_cp)
		remove_snapshot(j);
	if (j->state != J_RUNNING)
		return;
	if (status != 0 || sig) {
		snprintf(j->error, sizeof j->error, "the workspace snapshot failed (cp exited %d)", (int)status);
		j->state = J_FAILED;
		finish(j);
		return;
	}
	next_session(j);
}

static int snapshot(replay_t *j, err_t *err)
{
	char dst[128];
	char *argv[] = { "/bin/cp", "-a", "--reflink=auto", app_of(j)->cfg.root, dst, NULL };

	snprintf(j->snap_dir, sizeof j->snap_dir, "/var/tmp/cellgate-replay-XXXXXX");
	if (!mkdtemp(j->snap_dir)) {
		j->snap_dir[0] = '\0';
		return err_set(err, CG_ESYS, "cannot create a snapshot directory: %s", strerror(errno));
	}
	/* the kernel's user passes through to the copy, as bwrap binds it as that user */
	chmod(j->snap_dir, 0711);
	snprintf(dst, sizeof dst, "%s/ws", j->snap_dir);
	if (spawn(j, &j->cp, argv, on_copied) != 0)
		return err_set(err, CG_ESYS, "cannot copy the workspace for the replay");
	j->has_cp = true;
	return 0;
}

/* --- the job's life ------------------------------------------------------------- */

static void job_free(replay_t *j)
{
	json_decref(j->plan);
	json_decref(j->report);
	json_decref(j->outputs);
	replay_opts_clear(&j->opts);
	free(j);
}

static void maybe_free(replay_t *j)
{
	/* a kernel's ready callback still to come keeps the job (at exit: leaked) */
	if (j->is_forgotten && j->handles == 0 && !j->is_waiting)
		job_free(j);
}

static void on_proc_closed(uv_handle_t *h)
{
	replay_t *j = h->data;

	j->handles--;
	maybe_free(j);
}

static void on_timer_closed(uv_handle_t *h)
{
	replay_t *j = h->data;

	j->handles--;
	maybe_free(j);
}

static const char *overall(json_t *report, json_t *counts)
{
	json_t *c;
	size_t i;
	bool ok = true;

	json_array_foreach(json_object_get(report, "cells"), i, c) {
		const char *v = json_string_value(json_object_get(c, "verdict"));
		json_int_t n = json_integer_value(json_object_get(counts, v));

		json_object_set_new(counts, v, json_integer(n + 1));
		if (strcmp(v, "reproduced") != 0 &&
		    !(strcmp(v, "skipped") == 0 && json_array_size(json_object_get(c, "recorded")) == 0))
			ok = false;
	}
	return ok ? "reproduced" : "not_reproduced";
}

static void finish(replay_t *j)
{
	char now[ISO_TIME_LEN];
	json_t *counts = json_object(), *c;
	const char *verdict;
	err_t err = { 0 };
	size_t i;

	drop_kernel(j);
	json_array_foreach(json_object_get(j->report, "cells"), i, c)
		if (strcmp(json_string_value(json_object_get(c, "verdict")), "pending") == 0)
			set_verdict(c, j->state == J_CANCELLED ? "skipped" : "error",
				    j->state == J_CANCELLED ? "the replay was cancelled" :
				    j->error[0] ? j->error : "the recorded chain did not reach this cell");
	verdict = overall(j->report, counts);
	util_iso_time_now(now);
	json_object_set_new(j->report, "finished", json_string(now));
	json_object_set_new(j->report, "counts", counts);
	json_object_set_new(j->report, "verdict", json_string(j->state == J_CANCELLED ? "cancelled" : verdict));
	if (j->error[0])
		json_object_set_new(j->report, "error", json_string(j->error));
	if (j->state == J_RUNNING) {
		j->state = J_DONE;
		if (app_store_open(app_of(j), &err) ||
		    records_replay_save(app_of(j)->store, j->id, j->version, j->report, verdict, &err)) {
			log_error("replay", "%.8s: the report was not kept: %s", j->id, err.msg);
			snprintf(j->error, sizeof j->error, "the report was not kept: %s", err.msg);
			j->state = J_FAILED;
		}
	}
	log_info("replay", "%.8s of version %.8s: %s", j->id, j->version,
		 json_string_value(json_object_get(j->report, "verdict")));
	remove_snapshot(j);
	if (j->done)
		j->done(j->done_arg, j);
}

/* Old finished jobs leave memory; their reports stay in the store. */
static void prune(replays_t *all)
{
	size_t n = 0;

	for (replay_t **p = &all->jobs; *p;) {
		replay_t *j = *p;

		if (++n > MAX_JOBS_KEPT && j->state != J_RUNNING) {
			*p = j->next;
			j->is_forgotten = true;
			if (j->has_timer) {
				j->has_timer = false;
				uv_close((uv_handle_t *)&j->timer, on_timer_closed);
			} else {
				maybe_free(j);
			}
			continue;
		}
		p = &j->next;
	}
}

int replay_start(replays_t *all, const char *version, replay_opts_t *opts, double step_timeout_s,
		 replay_done_fn done, void *arg, char out_id[33], err_t *err)
{
	app_t *app = all->app;
	replay_t *j;
	json_t *s;
	size_t i;
	int rc;

	if ((rc = app_store_open(app, err)))
		return rc;
	/* what the recorder still holds belongs to the chain */
	recorder_flush(app->recorder);
	j = calloc(1, sizeof *j);
	if (!j)
		return err_set(err, CG_ESYS, "out of memory");
	j->all = all;
	j->opts = *opts;
	memset(opts, 0, sizeof *opts);
	j->step_timeout_s = step_timeout_s > 0 ? step_timeout_s : REPLAY_DEFAULT_STEP_TIMEOUT_S;
	j->done = done;
	j->done_arg = arg;
	snprintf(j->version, sizeof j->version, "%s", version);
	util_uuid4_hex(j->id);
	util_iso_time_now(j->started);
	if ((rc = records_replay_plan(app->store, version, &j->plan, err))) {
		job_free(j);
		return rc;
	}
	json_array_foreach(json_object_get(j->plan, "sessions"), i, s)
		j->total += json_array_size(json_object_get(s, "executions"));
	j->report = build_report(j);
	uv_timer_init(app->loop, &j->timer);
	j->timer.data = j;
	j->has_timer = true;
	j->handles++;
	j->next = all->jobs;
	all->jobs = j;
	memcpy(out_id, j->id, sizeof j->id);
	log_info("replay", "%.8s: replaying version %s (%zu executions in %zu kernel sessions)", j->id,
		 version, j->total, json_array_size(json_object_get(j->plan, "sessions")));
	if (j->total == 0) {
		finish(j);
	} else if ((rc = snapshot(j, err))) {
		snprintf(j->error, sizeof j->error, "%s", err->msg);
		j->state = J_FAILED;
		finish(j);
		err_clear(err);
	}
	prune(all);
	return 0;
}

replay_t *replay_find(replays_t *all, const char *id)
{
	for (replay_t *j = all ? all->jobs : NULL; j; j = j->next)
		if (strcmp(j->id, id) == 0)
			return j;
	return NULL;
}

json_t *replay_status(const replay_t *j)
{
	json_t *st = json_pack("{s:s, s:s, s:O, s:s, s:{s:I, s:I}, s:s}", "id", j->id, "version", j->version,
			       "path", json_object_get(j->plan, "path"), "state", state_names[j->state],
			       "progress", "done", (json_int_t)j->n_done, "total", (json_int_t)j->total,
			       "started", j->started);

	if (j->state != J_RUNNING)
		json_object_set(st, "verdict", json_object_get(j->report, "verdict"));
	if (j->error[0])
		json_object_set_new(st, "error", json_string(j->error));
	return st;
}

const char *replay_path(const replay_t *j)
{
	const char *p = json_string_value(json_object_get(j->plan, "path"));

	return p ? p : "";
}

const json_t *replay_report(const replay_t *j)
{
	return j->state == J_RUNNING ? NULL : j->report;
}

int replay_cancel(replay_t *j, err_t *err)
{
	if (j->state != J_RUNNING)
		return err_set(err, CG_ESTATE, "replay %s is already %s", j->id, state_names[j->state]);
	j->state = J_CANCELLED;
	j->msg_id[0] = '\0';
	if (j->has_cp)
		uv_process_kill(&j->cp, SIGTERM);
	finish(j);
	return 0;
}

void replays_free(replays_t **self_p)
{
	replays_t *all = *self_p;

	if (!all)
		return;
	*self_p = NULL;
	while (all->jobs) {
		replay_t *j = all->jobs;

		all->jobs = j->next;
		if (j->state == J_RUNNING)
			replay_cancel(j, NULL);
		j->done = NULL;
		j->is_forgotten = true;
		if (j->has_timer) {
			j->has_timer = false;
			uv_close((uv_handle_t *)&j->timer, on_timer_closed);
		} else {
			maybe_free(j);
		}
	}
	free(all);
}
