/*
 * `cellgate token mint|attenuate|inspect` and `cellgate audit
 * verify|log`: capability tokens and the audit log from the command line
 * (cli_policy.c).
 */
#ifndef CELLGATE_CLI_POLICY_H
#define CELLGATE_CLI_POLICY_H

#include <stdbool.h>

bool cli_policy_is_command(const char *name);
/* argv[0] is "token" or "audit". Returns the process's exit status. */
int cli_policy_main(int argc, char **argv);

#endif
