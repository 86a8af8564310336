/*
 * `cellgate token mint|attenuate|inspect` and `cellgate audit
 * verify|log`: capability tokens and the audit log from the command line
 * (cli_policy.c).
 */
#ifndef CELLGATE_CLI_POLICY_H
#define CELLGATE_CLI_POLICY_H

#include <stdbool.h>

#include "../policy/policy.h"

bool cli_policy_is_command(const char *name);
/* argv[0] is "token" or "audit". Returns the process's exit status. */
int cli_policy_main(int argc, char **argv);

/*
 * A store command run with --token: may that token do action on res? On
 * refusal prints "<who> needs <action> on <resource>: <why>" and returns
 * false. Refusals and grants other than read are audited, as in the
 * server. token "-" is read from stdin.
 */
bool cli_policy_authorize(const char *state, const char *policy_file, const char *token,
			  const char *command, policy_action_t action, const policy_resource_t *res);

#endif
