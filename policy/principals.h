/*
 * Principals from the policy file: who may hold tokens, and the most any
 * of their tokens can do. Each principal's grants become caveats that are
 * checked before the token's own (see docs/configuration.md).
 */
#ifndef CELLGATE_POLICY_PRINCIPALS_H
#define CELLGATE_POLICY_PRINCIPALS_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/err.h"
#include "policy.h"

typedef struct policy_principal {
	char name[POLICY_NAME_MAX + 1];
	const char *kind;     /* "researcher", "reviewer" or "agent" (static) */
	char **grants;        /* caveat strings */
	size_t n_grants;
	unsigned ask;         /* actions allowed only once a person approves (prompts) */
	/* the trust class its kernels get unless a request names one (static):
	 * "default_trust", else the kind's (agent: untrusted, else trusted) */
	const char *default_trust;
} policy_principal_t;

typedef struct policy_principals {
	policy_principal_t *items;
	size_t count;
} policy_principals_t;

/* Loads path (NULL: none declared). Caller clears out. */
int policy_principals_load(const char *path, policy_principals_t *out, err_t *err);
const policy_principal_t *policy_principals_find(const policy_principals_t *all, const char *name,
						 size_t len);
void policy_principals_clear(policy_principals_t *all);
/* A principal name: 1 to POLICY_NAME_MAX of [A-Za-z0-9._-]. */
bool policy_name_is_valid(const char *name, size_t len);

#endif
