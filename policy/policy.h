/*
 * policy: who is asking and what their capability allows.
 *
 * Principals (researchers, reviewers, agents) are declared in a JSON file
 * (docs/configuration.md). A principal holds capability tokens in the
 * macaroon style (token.h): an identifier naming the principal, a list of
 * caveats, and an HMAC-SHA256 chain from a root key that only the server
 * holds (STATE/policy.key, mode 0600). Each caveat narrows; all of them,
 * and the principal's own grants from the file, must hold for a request to
 * be allowed. Anyone holding a token can add caveats without the key;
 * nobody can remove or reorder one without breaking the chain.
 *
 * The server turns a presented token into a policy_cap_t (policy_verify)
 * and asks policy_allows before every handler, naming the action and the
 * resource (a workspace path, a branch, a kernelspec, a trust class, an
 * effect). Decisions worth keeping go to the audit log (audit.h).
 */
#ifndef CELLGATE_POLICY_H
#define CELLGATE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

typedef enum policy_action {
	POLICY_READ = 1 << 0,
	POLICY_WRITE = 1 << 1,
	POLICY_EXECUTE = 1 << 2,
	POLICY_REPLAY = 1 << 3,
	POLICY_APPROVE = 1 << 4,
	POLICY_PUBLISH = 1 << 5,
	POLICY_ADMIN = 1 << 6,
} policy_action_t;

#define POLICY_ALL_ACTIONS 0x7fu
#define POLICY_KEY_LEN 32
#define POLICY_NAME_MAX 64
#define POLICY_WHY_MAX 512

/*
 * Trust classes, from the weakest isolation to the strongest: trusted
 * (bubblewrap), untrusted (a QEMU guest by design), replay (untrusted,
 * read-only, no effect unless granted again). The rank orders them (0, 1,
 * 2; -1 for an unknown name); policy_trust_class_name gives the static
 * name, or NULL when unknown.
 */
int policy_trust_rank(const char *cls);
const char *policy_trust_class_name(const char *cls);

/* "read", "write", ...; "?" for anything else. */
const char *policy_action_name(policy_action_t a);
/* One action's bit from its name; 0 when unknown. */
unsigned policy_action_parse(const char *name, size_t len);

/*
 * What a request acts on. A NULL field is a dimension the resource does not
 * have (a kernelspec has no branch): caveats on it do not apply. A path is
 * a workspace path without leading slash, "" the workspace root.
 */
typedef struct policy_resource {
	const char *path;
	const char *branch;
	const char *kernelspec;
	const char *trust;
	const char *effect;
	/* a directory listing: allowed also when path is an ancestor of a
	 * path the token names, so a narrowed token can browse down to it */
	bool is_listing;
} policy_resource_t;

typedef struct policy policy_t;
typedef struct policy_cap policy_cap_t;

/*
 * Loads (creating it on first use, mode 0600) the root key from
 * STATE/policy.key, and the principals from policy_file (NULL: none, so
 * only the server's own token works). Caller owns the policy.
 */
policy_t *policy_open(const char *state_dir, const char *policy_file, err_t *err);
void policy_close(policy_t **self_p);
size_t policy_principal_count(const policy_t *p);

/*
 * Checks a presented token: its encoding, its chain against the root key
 * (constant time), its principal (declared), its caveats (well-formed).
 * NULL when any of it fails. The capability is reference counted: the
 * caller owns one reference. Expiry is a caveat and is checked by
 * policy_allows, so an expired token is refused with a reason.
 */
policy_cap_t *policy_verify(const policy_t *p, const char *token, size_t len, err_t *err);
/* The capability of the server's own token: everything. */
policy_cap_t *policy_cap_root(void);
policy_cap_t *policy_cap_ref(policy_cap_t *cap);
void policy_cap_unref(policy_cap_t **cap_p);

const char *policy_cap_principal(const policy_cap_t *cap);
/* "researcher", "reviewer", "agent", or "root" for the server's token. */
const char *policy_cap_kind(const policy_cap_t *cap);
bool policy_cap_is_root(const policy_cap_t *cap);
/* Does the principal need a person's approval for action (its "ask")?
 * Asked after policy_allows said yes: a prompt never widens. */
bool policy_cap_must_ask(const policy_cap_t *cap, policy_action_t action);
/* The trust class a kernel this capability starts gets when the request
 * names none: the principal's "default_trust" (kind defaults: agent
 * untrusted, researcher and reviewer trusted). NULL for the server's token:
 * the kernelspec's class. */
const char *policy_cap_default_trust(const policy_cap_t *cap);
/* The token's identifier ("principal:nonce"): what "allow for this
 * session" is bound to. Not secret; never the token itself. */
const char *policy_cap_token_id(const policy_cap_t *cap);

/*
 * May cap do action on res at time now (unix seconds)? When not, why holds
 * a sentence for the client (never the token), e.g. "the token allows
 * read only". Every caveat and the principal's grants must hold.
 */
bool policy_allows(const policy_cap_t *cap, policy_action_t action, const policy_resource_t *res,
		   double now, char *why, size_t why_size);

/*
 * What of the workspace a kernel started with cap may see, when path
 * caveats (the token's, or its principal's "paths") narrow it: the
 * narrowest paths that hold every one of them, each "rw:PATH" where cap
 * may write, else "ro:PATH" where it may read or execute; a
 * NULL-terminated list, empty when nothing is left. NULL when nothing
 * narrows the path (the whole workspace, read-write; the server's token)
 * or when out of memory (*err set). Free with policy_scope_free.
 */
char **policy_cap_workspace_scope(const policy_cap_t *cap, double now, err_t *err);
void policy_scope_free(char **scope);

/* Has cap not expired at now? For routes any valid token may use. */
bool policy_cap_is_live(const policy_cap_t *cap, double now, char *why, size_t why_size);

/*
 * Counts one execution against every max-executions caveat of cap. The
 * counter belongs to the token prefix that added the caveat, so a token
 * attenuated from it shares the count and cannot reset it. CG_EDENIED when
 * a limit is reached (the execution must not run); counts live in memory
 * for the server's life.
 */
int policy_count_execution(policy_t *p, const policy_cap_t *cap, char *why, size_t why_size);

/*
 * A new token for a declared principal with the given caveats (each
 * checked). Caller frees the returned text.
 */
char *policy_mint(const policy_t *p, const char *principal, const char *const *caveats,
		  size_t n_caveats, err_t *err);

#endif
