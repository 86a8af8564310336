/*
 * The execution recorder: watches the relay (kernels/kobserver_t) and turns
 * every execute_request a client sends into an execution record
 * (notebook-store/records.h) once the kernel has answered it (execute_reply
 * and the idle status) or ended.
 *
 * The relay's path stays cheap: per message the recorder compares a
 * parent msg_id with the few executions in flight on that kernel, and only
 * for those converts IOPub output to nbformat outputs. Finished records are
 * written in batches, one transaction each, by a libuv worker thread with a
 * store connection of its own, so the loop never waits for sqlite or for
 * the dpkg queries that describe a kernel's environment (done once per
 * kernel command and cached).
 */
#ifndef CELLGATE_RECORDER_H
#define CELLGATE_RECORDER_H

#include <jansson.h>

#include "../kernels/kernels.h"
#include "../notebook-store/store.h"

typedef struct recorder recorder_t;
typedef struct app app_t;

/* Starts observing app->kernels; records go to STATE/store.sqlite. */
recorder_t *recorder_new(app_t *app, err_t *err);
/* Writes what is finished, waiting for a batch in flight, on the calling
 * (loop) thread: after it, every finished execution is in the store. */
void recorder_flush(recorder_t *r);
/* Links a saved version's outputs to their executions on the worker, after
 * the records finished before it (records_link_version), so a save does not
 * wait for it; an execution of the same notebook whose outputs are complete
 * but whose reply is still on its way is waited for (up to 10 s). Reading
 * the version's provenance links it at once if the worker has not yet. */
void recorder_link_later(recorder_t *r, const char *path, const char *version_id);
/* True while an execution of the notebook at path has all its output but
 * not yet its reply: its record is about to come (NULL r: false). */
bool recorder_is_settling(const recorder_t *r, const char *path);
/* An execute_request refused before it reached the kernel (a capability's
 * max-executions used up): recorded at once with status denied and why,
 * its code kept, no outputs (NULL r: nothing). */
void recorder_denied(recorder_t *r, kernel_t *k, const kclient_t *c, const wire_msg_t *msg,
		     const char *why);
/* The cellId (the client's word) of the execute_request msg_id that kernel
 * k runs, copied to out; false when it is not known (no such request in
 * flight, none given, or no recorder). */
bool recorder_cell_id(const recorder_t *r, const kernel_t *k, const char *msg_id, char *out,
		      size_t size);
/* The msg_id of the execute_request kernel k runs or is about to run: the
 * oldest sent to it that has no reply yet, into out; false when none is
 * known. For when the kernel's own busy status has not arrived yet (an
 * effect of the cell can reach the server first, by another socket). */
bool recorder_running_msg_id(const recorder_t *r, const kernel_t *k, char *out, size_t size);
/* Finishes the last batch and frees the recorder (the loop must still run
 * for the worker's completion; this waits for it). */
void recorder_free(recorder_t **self_p);
/* Counters for /api/status and the bench: {"recorded", "pending", "failed"}. */
json_t *recorder_stats(const recorder_t *r);

/*
 * The environment of a kernel command, as the records keep it:
 * {"source": "dpkg", "files": [{"path", "sha256", "package"}],
 *  "packages": {name: version}} -- the packages that own the interpreter,
 * the module or script it runs, and their direct dependencies. Runs dpkg;
 * not for the loop thread (the recorder calls it from its worker).
 */
json_t *recorder_environment(char *const *argv);

/*
 * IOPub content of one message as nbformat outputs appended to outputs, as
 * a Jupyter front end keeps them: consecutive stream text of one name
 * merged, clear_output honoured (wait=True at the next output),
 * update_display_data replacing the display with that display_id.
 * *clear_wait carries clear_output(wait=True) between calls. Returns true
 * when the message was an output message.
 */
bool recorder_add_output(json_t *outputs, const char *msg_type, const json_t *content,
			 bool *clear_wait);

#endif
