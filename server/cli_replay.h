/*
 * `cellgate replay`: a replay job from the command line (cli_replay.c).
 */
#ifndef CELLGATE_CLI_REPLAY_H
#define CELLGATE_CLI_REPLAY_H

/* argv[0] is "replay". Returns the process's exit status. */
int cli_replay_main(int argc, char **argv);

#endif
