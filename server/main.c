/*
 * cellgate: the entry point. `cellgate serve [options]` runs the server on
 * one libuv loop: the listener (lws.c), the kernel manager (kernels/) and
 * the session table. SIGINT or SIGTERM stops it cleanly: no new work is
 * taken, every kernel is shut down (its sandbox with it), then it exits.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../policy/secrets.h"
#include "../sandbox/sandbox.h"
#include "app.h"
#include "app_kernels.h"
#include "app_store.h"
#include "auth.h"
#include "authz.h"
#include "cli_policy.h"
#include "cli_secret.h"
#include "cli_replay.h"
#include "handlers.h"
#include "cli_store.h"
#include "config.h"
#include "egress_broker.h"
#include "kernel_start.h"
#include "lws.h"
#include "quota_prompts.h"
#include "recorder.h"
#include "replay.h"
#include "sessions.h"

/* Gives up on a clean stop after this long and exits anyway. */
#define STOP_DEADLINE_MS 10000

typedef struct server {
	app_t app;
	char runtime_dir[64];
	uv_signal_t sigint, sigterm;
	uv_timer_t stop_deadline;
	uv_timer_t prompt_sweep;  /* times out unanswered prompts */
} server_t;

static void close_handles(server_t *s)
{
	uv_close((uv_handle_t *)&s->sigint, NULL);
	uv_close((uv_handle_t *)&s->sigterm, NULL);
	uv_close((uv_handle_t *)&s->stop_deadline, NULL);
	uv_close((uv_handle_t *)&s->prompt_sweep, NULL);
}

static void on_prompt_sweep(uv_timer_t *t)
{
	server_t *s = t->data;

	authz_prompts_expire(&s->app);
	/* waits that ran out, clients that left */
	prompts_notify(&s->app);
}

static void on_kernels_stopped(void *arg)
{
	server_t *s = arg;

	log_info("server", "every kernel is stopped");
	uv_stop(s->app.loop);
}

static void on_stop_deadline(uv_timer_t *t)
{
	server_t *s = t->data;

	log_warn("server", "kernels did not stop in time; killing them");
	uv_stop(s->app.loop);
}

static void on_signal(uv_signal_t *h, int signum)
{
	server_t *s = h->data;

	if (s->app.is_stopping) {
		/* a second signal: stop waiting */
		uv_stop(s->app.loop);
		return;
	}
	log_info("server", "%s: stopping", strsignal(signum));
	s->app.is_stopping = true;
	prompts_release_waiters(&s->app);
	events_release(&s->app);
	uv_timer_start(&s->stop_deadline, on_stop_deadline, STOP_DEADLINE_MS, 0);
	kmgr_shutdown_all(s->app.kernels, on_kernels_stopped, s);
}

static int kernels_start(server_t *s, err_t *err)
{
	int rc = app_kernels_start(&s->app, s->runtime_dir, err);

	if (rc)
		return rc;
	s->app.sessions = sessions_new(s->app.kernels);
	if (!s->app.sessions)
		return err_set(err, CG_ESYS, "out of memory");
	if (!s->app.cfg.no_record && !(s->app.recorder = recorder_new(&s->app, err)))
		return err->code ? err->code : CG_ESYS;
	s->app.replays = replays_new(&s->app);
	return s->app.replays ? 0 : err_set(err, CG_ESYS, "out of memory");
}

static void print_url(const config_t *cfg)
{
	const char *host = strcmp(cfg->ip, "0.0.0.0") == 0 ? "127.0.0.1" : cfg->ip;

	printf("cellgate is serving %s\n", cfg->root);
	printf("    http://%s:%d%s?token=%s\n", host, cfg->port, cfg->base_url, cfg->token);
	fflush(stdout);
}

static int serve(int argc, char **argv)
{
	static server_t s;
	err_t err = { 0 };
	int rc = 1;

	if (config_load(&s.app.cfg, argc, argv, &err)) {
		fprintf(stderr, "cellgate: %s\n", err.msg);
		return 2;
	}
	log_set_level(s.app.cfg.log_level);
	/* a client that goes away mid-write must not kill the server */
	signal(SIGPIPE, SIG_IGN);
	s.app.loop = uv_default_loop();
	s.app.started_at = s.app.last_activity = util_unix_time();
	uv_signal_init(s.app.loop, &s.sigint);
	uv_signal_init(s.app.loop, &s.sigterm);
	uv_timer_init(s.app.loop, &s.stop_deadline);
	uv_timer_init(s.app.loop, &s.prompt_sweep);
	s.sigint.data = s.sigterm.data = s.stop_deadline.data = s.prompt_sweep.data = &s;
	uv_signal_start(&s.sigint, on_signal, SIGINT);
	uv_signal_start(&s.sigterm, on_signal, SIGTERM);

	s.app.policy = policy_open(s.app.cfg.state, s.app.cfg.policy_file, &err);
	s.app.prompts = policy_prompts_new(s.app.cfg.prompt_timeout_s);
	if (!s.app.prompts)
		err_set(&err, CG_ESYS, "out of memory");
	if (!s.app.policy || !s.app.prompts || auth_init(&s.app, &err) ||
	    app_store_check(&s.app, &err) || kernels_start(&s, &err) ||
	    listener_start(&s.app, &err)) {
		fprintf(stderr, "cellgate: %s\n", err.msg);
		goto out;
	}
	log_info("server", "policy: %zu principal(s) may hold capability tokens",
		 policy_principal_count(s.app.policy));
	log_info("server", "kernels run as uid %u in bubblewrap sandboxes",
		 (unsigned)s.app.cfg.kernel_uid);
	print_url(&s.app.cfg);
	uv_timer_start(&s.prompt_sweep, on_prompt_sweep, 1000, 1000);
	uv_run(s.app.loop, UV_RUN_DEFAULT);
	rc = 0;
out:
	prompts_release_waiters(&s.app);
	events_release(&s.app);
	listener_stop(&s.app);
	replays_free(&s.app.replays);
	sessions_free(&s.app.sessions);
	kmgr_free(&s.app.kernels);
	recorder_free(&s.app.recorder);
	sbx_cleanup();
	egress_broker_free(&s.app.egress);
	app_store_close(&s.app);
	policy_audit_close(&s.app.audit);
	policy_secrets_close(&s.app.secrets);
	policy_close(&s.app.policy);
	policy_prompts_free(&s.app.prompts);
	quota_prompts_release(&s.app);
	kernel_owners_free(&s.app);
	close_handles(&s);
	/* let libuv finish closing what lws and the manager closed */
	for (int i = 0; i < 100 && uv_run(s.app.loop, UV_RUN_NOWAIT); i++)
		;
	if (s.runtime_dir[0])
		rmdir(s.runtime_dir);
	config_clear(&s.app.cfg);
	return rc;
}

static void usage(void)
{
	fprintf(stderr, "usage: cellgate serve [options]   (cellgate serve --help for options)\n"
			"       cellgate log|export|import|branch|diff ...   (the notebook store; --help)\n"
			"       cellgate publish|publications ...            (publishing versions; --help)\n"
			"       cellgate token mint|attenuate|inspect ...    (capability tokens; --help)\n"
			"       cellgate audit verify|log ...                (the audit log; --help)\n"
			"       cellgate secret set|list|delete ...          (named secrets; --help)\n"
			"       cellgate replay NOTEBOOK[@VERSION|@BRANCH] [options]   (--help)\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage();
		return 2;
	}
	if (strcmp(argv[1], "serve") == 0) {
		for (int i = 2; i < argc; i++) {
			if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
				config_usage("cellgate");
				return 0;
			}
		}
		return serve(argc - 1, argv + 1);
	}
	if (cli_store_is_command(argv[1]))
		return cli_store_main(argc - 1, argv + 1);
	if (cli_policy_is_command(argv[1]))
		return cli_policy_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "secret") == 0)
		return cli_secret_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "replay") == 0)
		return cli_replay_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage();
		return 0;
	}
	fprintf(stderr, "cellgate: unknown command '%s'\n", argv[1]);
	usage();
	return 2;
}
