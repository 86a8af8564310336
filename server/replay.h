/*
 * Replay jobs: re-run, in fresh kernels of the recorded kernelspecs in the
 * `replay` sandbox class, the recorded execution chains that produced a
 * version's outputs, compare each output with the recorded one
 * (notebook-store/replay_report.h), and keep the report in the store,
 * linked to the version (records_replay_save).
 *
 * A job runs on the server's loop, step by step (a kernel start, one
 * execute_request at a time); it belongs to the server, not to the client
 * that asked, so it goes on when that client disconnects. It can be
 * cancelled. The `replay` sandbox is bubblewrap as for `trusted`, except
 * that the workspace is a read-only snapshot (a copy made when the job
 * starts, bound at the workspace's path); cellgate has no QEMU backend yet,
 * so no stronger isolation is offered.
 */
#ifndef CELLGATE_REPLAY_H
#define CELLGATE_REPLAY_H

#include <jansson.h>

#include "../notebook-store/replay_report.h"
#include "app.h"

typedef struct app app_t;
typedef struct replay replay_t;

/* How long one replayed execution may run before the job gives up on it. */
#define REPLAY_DEFAULT_STEP_TIMEOUT_S 600.0

replays_t *replays_new(app_t *app);
/* Cancels what runs and frees every job. */
void replays_free(replays_t **self_p);

typedef void (*replay_done_fn)(void *arg, replay_t *job);

/*
 * Starts replaying version_id. opts is moved into the job (the caller's
 * copy is left empty). done (may be NULL) is called once the job has
 * finished, failed or been cancelled. out_id gets the job's id.
 */
int replay_start(replays_t *all, const char *version_id, replay_opts_t *opts, double step_timeout_s,
		 replay_done_fn done, void *arg, char out_id[33], err_t *err);
replay_t *replay_find(replays_t *all, const char *id);
/* {"id", "version", "path", "state": "running"|"done"|"failed"|"cancelled",
 *  "progress": {"done", "total"}, "verdict"?, "error"?}. Caller owns it. */
json_t *replay_status(const replay_t *job);
/* The notebook path the job replays. */
const char *replay_path(const replay_t *job);
/* The finished report (borrowed), or NULL while running. */
const json_t *replay_report(const replay_t *job);
/* CG_ESTATE when the job is no longer running. */
int replay_cancel(replay_t *job, err_t *err);

#endif
