/*
 * `cellgate replay NOTEBOOK[@VERSION|@BRANCH]`: a replay from the command
 * line, for reviewers and CI. It runs the same replay job as
 * POST /api/cellgate/replays (replay.c), on a loop and kernel manager of
 * its own built from the same configuration as `cellgate serve` (--root,
 * --state, --kernelspec-dir, --kernel-user, ...), so no server needs to
 * run; the report is kept in the store like the server's. Exit status: 0
 * when every output reproduced, 1 when anything did not, 2 on bad usage,
 * 3 when --token (a capability token, with --policy or $CELLGATE_POLICY)
 * does not allow replay on the notebook (and branch), as the API refuses.
 */
#include "cli_replay.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../notebook-store/replay_report.h"
#include "app.h"
#include "app_kernels.h"
#include "app_store.h"
#include "cli_policy.h"
#include "replay.h"

typedef struct cli {
	app_t app;
	const char *target;
	const char *token;      /* a capability token the replay is run for */
	const char *html;
	bool is_json;
	double timeout;
	replay_opts_t opts;
	replay_t *job;
	bool is_done;
	uv_signal_t sigint;
} cli_t;

static int usage(void)
{
	fprintf(stderr,
		"usage: cellgate replay NOTEBOOK[@VERSION|@BRANCH] [--json] [--html FILE]\n"
		"         [--mask REGEX]... [--rel-tol X] [--abs-tol X] [--timeout SECONDS]\n"
		"         [--grant network:HOST:PORT]...\n"
		"         [--keep-addresses] [--keep-timestamps] [--keep-durations]\n"
		"         [--token CAPABILITY_TOKEN --policy FILE]\n"
		"         [serve options: --root DIR --state DIR --kernelspec-dir DIR --kernel-user U ...]\n"
		"Replays the recorded executions behind a version's outputs in fresh sandboxed\n"
		"kernels and compares them. Exit status 0 when everything reproduced, 1 otherwise.\n");
	return 2;
}

/* Takes cellgate replay's own options out of argv; the rest go to config_load. */
static int parse(cli_t *c, int argc, char **argv, int *out_argc, char **out_argv)
{
	int n = 0;

	out_argv[n++] = "replay";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_value = i + 1 < argc;

		if (strcmp(a, "--json") == 0) {
			c->is_json = true;
		} else if (strcmp(a, "--keep-addresses") == 0) {
			c->opts.mask_addresses = false;
		} else if (strcmp(a, "--keep-timestamps") == 0) {
			c->opts.mask_timestamps = false;
		} else if (strcmp(a, "--keep-durations") == 0) {
			c->opts.mask_durations = false;
		} else if (strcmp(a, "--token") == 0 && has_value) {
			/* a replay serves nobody: --token is the capability it runs for */
			c->token = argv[++i];
		} else if (strcmp(a, "--html") == 0 && has_value) {
			c->html = argv[++i];
		} else if ((strcmp(a, "--rel-tol") == 0 || strcmp(a, "--abs-tol") == 0 ||
			    strcmp(a, "--timeout") == 0) && has_value) {
			char *end;
			double v = strtod(argv[++i], &end);

			if (*end || v < 0) {
				fprintf(stderr, "cellgate replay: %s takes a number from 0\n", a);
				return -1;
			}
			if (a[2] == 'r')
				c->opts.rel_tol = v;
			else if (a[2] == 'a')
				c->opts.abs_tol = v;
			else
				c->timeout = v;
		} else if (strcmp(a, "--mask") == 0 && has_value) {
			json_t *j = json_pack("{s:[s]}", "masks", argv[++i]);
			err_t err = { 0 };
			int rc = replay_opts_from_json(&c->opts, j, &err);

			json_decref(j);
			if (rc) {
				fprintf(stderr, "cellgate replay: --mask: %s\n", err.msg);
				return -1;
			}
		} else if (strcmp(a, "--grant") == 0 && has_value) {
			json_t *j = json_pack("[s]", argv[++i]);
			err_t err = { 0 };
			int rc = replay_grants_from_json(&c->opts, j, &err);

			json_decref(j);
			if (rc) {
				fprintf(stderr, "cellgate replay: --grant: %s\n", err.msg);
				return -1;
			}
		} else if (a[0] != '-' && !c->target) {
			c->target = a;
		} else {
			out_argv[n++] = argv[i];
		}
	}
	*out_argc = n;
	return c->target ? 0 : -1;
}

/* With --token: may it replay the notebook (at the branch named)? */
static bool authorized(const cli_t *c)
{
	char path[STORE_MAX_PATH + 1], *at;
	policy_resource_t res = { .path = path };

	if (!c->token)
		return true;
	snprintf(path, sizeof path, "%s", c->target);
	at = strrchr(path, '@');
	if (at) {
		*at = '\0';
		if (store_check_version_id(at + 1, NULL) != 0)
			res.branch = at + 1;
	}
	return cli_policy_authorize(c->app.cfg.state, c->app.cfg.policy_file, c->token, "replay",
				    POLICY_REPLAY, &res);
}

/* NOTEBOOK[@VERSION|@BRANCH] to a version id. */
static int resolve(cli_t *c, char out[STORE_ID_LEN], err_t *err)
{
	char path[STORE_MAX_PATH + 1], *at;
	const char *ref = NULL;
	json_t *co = NULL;
	int rc;

	snprintf(path, sizeof path, "%s", c->target);
	at = strrchr(path, '@');
	if (at) {
		*at = '\0';
		ref = at + 1;
	}
	if (ref && store_check_version_id(ref, NULL) == 0) {
		json_t *info = NULL;

		if ((rc = store_version_info(c->app.store, ref, &info, err)))
			return rc;
		rc = strcmp(json_string_value(json_object_get(info, "path")), path) == 0 ? 0 :
		     err_set(err, CG_EINVAL, "version %s is not a version of %s", ref, path);
		json_decref(info);
		if (rc == 0)
			memcpy(out, ref, STORE_ID_LEN);
		return rc;
	}
	if (!ref && store_checkout_get(c->app.store, path, &co, NULL) == 0)
		ref = json_string_value(json_object_get(co, "branch"));
	rc = store_branch_head(c->app.store, path, ref && *ref ? ref : "main", out, err);
	json_decref(co);
	return rc;
}

static void on_done(void *arg, replay_t *job)
{
	cli_t *c = arg;

	(void)job;
	c->is_done = true;
	uv_stop(c->app.loop);
}

static void on_sigint(uv_signal_t *h, int signum)
{
	cli_t *c = h->data;

	(void)signum;
	if (c->job && !c->is_done)
		replay_cancel(c->job, NULL);
}

static void on_all_stopped(void *arg)
{
	cli_t *c = arg;

	uv_stop(c->app.loop);
}

static void print_report(const json_t *report)
{
	const json_t *cell, *d;
	size_t i, k;

	printf("replay %s of %s version %s: %s\n", json_string_value(json_object_get(report, "id")),
	       json_string_value(json_object_get(report, "path")),
	       json_string_value(json_object_get(report, "version")),
	       json_string_value(json_object_get(report, "verdict")));
	json_array_foreach(json_object_get(report, "cells"), i, cell) {
		const char *reason = json_string_value(json_object_get(cell, "reason"));

		printf("  %-12s %-11s%s%s\n", json_string_value(json_object_get(cell, "cell_id")),
		       json_string_value(json_object_get(cell, "verdict")), reason ? "  " : "",
		       reason ? reason : "");
		json_array_foreach(json_object_get(cell, "diff"), k, d) {
			char *a = json_dumps(json_object_get(d, "recorded"), JSON_ENCODE_ANY);
			char *b = json_dumps(json_object_get(d, "replayed"), JSON_ENCODE_ANY);

			printf("      %s: %.200s -> %.200s\n", json_string_value(json_object_get(d, "field")),
			       a ? a : "", b ? b : "");
			free(a);
			free(b);
		}
	}
}

static int write_html(const char *file, const json_t *report, err_t *err)
{
	buf_t b;
	int rc;

	buf_init(&b, 0);
	rc = replay_report_html(report, &b) ? err_set(err, CG_ESYS, "out of memory")
					    : store_write_file_atomic(file, b.data, b.len, err);
	buf_free(&b);
	return rc;
}

int cli_replay_main(int argc, char **argv)
{
	static cli_t c;
	char **cargv = calloc((size_t)argc + 1, sizeof *cargv), runtime_dir[APP_RUNTIME_DIR_LEN] = "";
	char version[STORE_ID_LEN], id[33];
	const json_t *report;
	err_t err = { 0 };
	int cargc = 0, rc = 1;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage();
			free(cargv);
			return 0;
		}
	replay_opts_defaults(&c.opts);
	if (!cargv || parse(&c, argc, argv, &cargc, cargv)) {
		free(cargv);
		return usage();
	}
	if (config_load(&c.app.cfg, cargc, cargv, &err)) {
		fprintf(stderr, "cellgate replay: %s\n", err.msg);
		free(cargv);
		return 2;
	}
	free(cargv);
	log_set_level(c.app.cfg.log_level > LOG_WARN ? c.app.cfg.log_level : LOG_WARN);
	signal(SIGPIPE, SIG_IGN);
	c.app.loop = uv_default_loop();
	c.app.started_at = util_unix_time();
	uv_signal_init(c.app.loop, &c.sigint);
	c.sigint.data = &c;
	uv_signal_start(&c.sigint, on_sigint, SIGINT);
	if (!authorized(&c)) {
		rc = 3;
		goto out;
	}
	if (app_store_open(&c.app, &err) || resolve(&c, version, &err) ||
	    app_kernels_start(&c.app, runtime_dir, &err)) {
		fprintf(stderr, "cellgate replay: %s\n", err.msg);
		goto out;
	}
	c.app.replays = replays_new(&c.app);
	if (!c.app.replays || replay_start(c.app.replays, version, &c.opts, c.timeout, on_done, &c, id, &err)) {
		fprintf(stderr, "cellgate replay: %s\n", err.msg[0] ? err.msg : "out of memory");
		goto out;
	}
	c.job = replay_find(c.app.replays, id);
	if (!c.is_done)
		uv_run(c.app.loop, UV_RUN_DEFAULT);
	report = c.job ? replay_report(c.job) : NULL;
	if (!report) {
		fprintf(stderr, "cellgate replay: the replay did not finish\n");
		goto out;
	}
	if (c.is_json) {
		char *s = json_dumps(report, JSON_INDENT(1) | JSON_SORT_KEYS);

		puts(s ? s : "{}");
		free(s);
	} else {
		print_report(report);
	}
	if (c.html && write_html(c.html, report, &err)) {
		fprintf(stderr, "cellgate replay: %s\n", err.msg);
		goto out;
	}
	rc = strcmp(json_string_value(json_object_get(report, "verdict")), "reproduced") == 0 ? 0 : 1;
out:
	replays_free(&c.app.replays);
	if (c.app.kernels) {
		kmgr_shutdown_all(c.app.kernels, on_all_stopped, &c);
		uv_run(c.app.loop, UV_RUN_DEFAULT);
		kmgr_free(&c.app.kernels);
	}
	uv_close((uv_handle_t *)&c.sigint, NULL);
	for (int i = 0; i < 100 && uv_run(c.app.loop, UV_RUN_NOWAIT); i++)
		;
	app_store_close(&c.app);
	replay_opts_clear(&c.opts);
	if (runtime_dir[0])
		rmdir(runtime_dir);
	config_clear(&c.app.cfg);
	return rc;
}
