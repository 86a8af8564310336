/*
 * `cellgate secret set|list|delete`: the server's named secrets from the
 * command line, on the state directory (cli_secret.c).
 */
#ifndef CELLGATE_CLI_SECRET_H
#define CELLGATE_CLI_SECRET_H

/* argv[0] is "secret". Returns the process's exit status. */
int cli_secret_main(int argc, char **argv);

#endif
