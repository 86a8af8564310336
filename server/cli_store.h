/*
 * `cellgate log|export|import|branch|diff|publish|publications`: the
 * notebook store from the command line (cli_store.c).
 */
#ifndef CELLGATE_CLI_STORE_H
#define CELLGATE_CLI_STORE_H

#include <stdbool.h>

bool cli_store_is_command(const char *name);
/* argv[0] is the subcommand. Returns the process's exit status. */
int cli_store_main(int argc, char **argv);

#endif
