/*
 * The server's configuration: every setting has a command-line flag, an
 * environment variable and a configuration-file key, and a default.
 * Precedence, lowest first: defaults, the configuration file, the
 * environment, the command line.
 */
#ifndef CELLGATE_CONFIG_H
#define CELLGATE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../common/err.h"
#include "../common/log.h"
#include "../sandbox/egress_policy.h"
#include "../sandbox/sandbox.h"

typedef struct config {
	char *ip;             /* "127.0.0.1" */
	int port;             /* 8888 */
	char *token;          /* random when not configured */
	bool is_token_generated;
	char *root;           /* the workspace, canonical */
	char *state;          /* the server's state directory, outside the workspace */
	char *base_url;       /* "/" or "/prefix/" */
	char *kernel_user;    /* user kernels run as when the server is root */
	uid_t kernel_uid;
	gid_t kernel_gid;
	char *kernelspec_dir; /* cellgate's own kernelspecs */
	char *lab_dir;        /* the JupyterLab build (web/ -> build/lab); NULL if not found */
	char *config_file;
	char *policy_file;    /* principals (JSON), canonical; NULL: none */
	enum log_level log_level;
	size_t max_body_bytes;
	size_t max_ws_message_bytes;
	int max_fds;          /* libwebsockets' fd table: about 16 resident bytes each */
	double shutdown_wait_s;
	double kernel_start_timeout_s;
	double heartbeat_s;
	double prompt_timeout_s;  /* a prompt nobody answers is denied after this */
	char *publish_approval;   /* "ask" (default) or "allow": capability tokens' publications */
	bool is_publish_ask;      /* publish_approval is "ask" */
	double cell_cpu_extend_s; /* past a cell's CPU quota, ask to extend it by this; 0: interrupt */
	bool allow_hidden;
	bool no_record;       /* do not keep execution records (benchmarks) */
	char *allow_origin;   /* comma-separated origins besides the Host's own, or "*" */
	char *allow_host;     /* comma-separated Host names besides loopback's, or "*" */
	sbx_limits_t kernel_limits; /* per kernel; 0 is none */
	/* the file's trust.CLASS.kernel-* and kernelspec.NAME.kernel-* lines */
	sbx_limit_override_t *limit_overrides;
	size_t n_limit_overrides;
	/* egress-allow and egress-deny, from everywhere, scoped or not */
	egress_rule_t *egress_rules;
	size_t n_egress_rules;
	bool no_egress;               /* no relay in sandboxes at all */
	char *egress_relay;           /* the relay binary; default beside bin/cellgate */
	uint64_t egress_max_connections; /* open at once, per kernel */
	uint64_t egress_max_bytes;    /* both ways, over a kernel's life */
	bool sandbox_plain;           /* bare bubblewrap: for measuring the hardening only */
} config_t;

/* Fills cfg from defaults, file, environment and argv (argv[0] is the
 * subcommand, e.g. "serve"). Caller owns cfg's strings (config_clear). */
int config_load(config_t *cfg, int argc, char **argv, err_t *err);
void config_clear(config_t *cfg);
void config_usage(const char *prog);
/*
 * The state directory a command line tool uses, as `cellgate serve` finds
 * it: given (--state), else $CELLGATE_STATE, else $XDG_DATA_HOME/cellgate,
 * else ~/.local/share/cellgate. Into out; CG_EINVAL when it does not fit.
 */
int config_state_dir(const char *given, char *out, size_t size);

#endif
