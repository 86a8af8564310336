/* The kernel manager from the configuration (see app_kernels.h). */
#include "app_kernels.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/log.h"
#include "egress_broker.h"
#include "egress_prompts.h"
#include "quota_prompts.h"

int app_kernels_start(app_t *app, char runtime_dir[APP_RUNTIME_DIR_LEN], err_t *err)
{
	config_t *cfg = &app->cfg;
	char *hidden[4] = { cfg->state, NULL, NULL, NULL };
	size_t n_hidden = 1;
	kmgr_config_t kc;

	/* the list ends at the first NULL: only the files there are */
	if (cfg->config_file)
		hidden[n_hidden++] = cfg->config_file;
	if (cfg->policy_file)
		hidden[n_hidden++] = cfg->policy_file;

	/* ipc socket paths must stay short (sun_path is 108 bytes), so the
	 * per-kernel directories live under /tmp, which sandboxes never see
	 * (they get a private /tmp) */
	snprintf(runtime_dir, APP_RUNTIME_DIR_LEN, "/tmp/cellgate-%u-XXXXXX",
		 (unsigned)getuid());
	if (!mkdtemp(runtime_dir))
		return err_set(err, CG_ESYS, "cannot create a runtime directory: %s",
			       strerror(errno));
	/* bubblewrap re-resolves the kernel directory's path when it mounts it
	 * (--bind-fd), as the kernel's user: it must be able to pass through,
	 * though not list. Each kernel's directory is 0700 and its own. */
	if (chmod(runtime_dir, 0711) != 0)
		return err_set(err, CG_ESYS, "cannot set up the runtime directory: %s",
			       strerror(errno));
	/* say so now, rather than as every kernel's cryptic death at start */
	if (!sbx_path_is_reachable(cfg->root, cfg->kernel_uid, cfg->kernel_gid))
		return err_set(err, CG_EINVAL,
			       "kernels run as uid %u, which cannot reach the workspace %s: "
			       "make its directories searchable, or choose --kernel-user",
			       (unsigned)cfg->kernel_uid, cfg->root);
	kmgr_config_defaults(&kc);
	kc.runtime_dir = runtime_dir;
	kc.workspace = cfg->root;
	kc.hidden = hidden;
	kc.uid = cfg->kernel_uid;
	kc.gid = cfg->kernel_gid;
	kc.kernelspec_dir = cfg->kernelspec_dir;
	kc.shutdown_wait_s = cfg->shutdown_wait_s;
	kc.start_timeout_s = cfg->kernel_start_timeout_s;
	kc.heartbeat_s = cfg->heartbeat_s;
	kc.limits = cfg->kernel_limits;
	kc.limit_overrides = cfg->limit_overrides;
	kc.n_limit_overrides = cfg->n_limit_overrides;
	kc.sandbox_plain = cfg->sandbox_plain;
	app->egress = cfg->no_egress ? NULL : egress_broker_new(app->loop, cfg);
	if (app->egress && cfg->egress_relay) {
		kc.egress_relay = cfg->egress_relay;
		kc.on_sandbox = egress_broker_on_sandbox;
		kc.on_sandbox_arg = app->egress;
		/* "ask" rules wait for a person; without prompts (the CLI) they deny */
		if (app->prompts)
			egress_prompts_attach(app);
	} else if (!cfg->no_egress) {
		log_warn("server", "no egress relay (cellgate-egress-relay not found): kernels have no network");
	}
	if (cfg->cell_cpu_extend_s > 0 && app->prompts) {
		kc.on_cell_quota = quota_prompts_on_cell_quota;
		kc.on_cell_quota_arg = app;
	}
	app->kernels = kmgr_new(app->loop, &kc, err);
	return app->kernels ? 0 : (err->code ? err->code : CG_ESYS);
}

