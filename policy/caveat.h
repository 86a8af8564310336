/*
 * What caveats mean. A caveat is "key=value[,value...]" and narrows one
 * dimension of a request; the values are alternatives:
 *
 *   action=read,execute       the actions allowed
 *   path=notebooks/a,shared   workspace path prefixes, by whole components
 *   branch=main,review        notebook branches
 *   kernelspec=python3        kernelspecs that may be started or used
 *   trust=trusted             trust classes
 *   effect=net:*.pypi.org:443 side effects (* matches any characters)
 *   expires=1767225600        unix seconds; the token is dead from then on
 *   max-executions=10         cell executions, counted by the server
 *
 * An unknown key makes the token invalid: a server must never ignore a
 * restriction it does not understand.
 */
#ifndef CELLGATE_POLICY_CAVEAT_H
#define CELLGATE_POLICY_CAVEAT_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/err.h"
#include "policy.h"

/* 0 when the caveat is well-formed, else CG_EINVAL with the reason. */
int policy_caveat_check(const char *caveat, err_t *err);
/* Does the caveat let action on res through at time now? why on refusal. */
bool policy_caveat_allows(const char *caveat, policy_action_t action, const policy_resource_t *res,
			  double now, char *why, size_t why_size);
/* For a max-executions caveat: true and *max. */
bool policy_caveat_max_executions(const char *caveat, unsigned long *max);
/* For an expires caveat: true and *at. */
bool policy_caveat_expires(const char *caveat, double *at);
/* Is path inside prefix, by whole components ("a/b" is inside "a", "ab" is not)? */
bool policy_path_is_under(const char *path, const char *prefix, size_t prefix_len);

#endif
