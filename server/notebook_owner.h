/*
 * Who owns a notebook, for the prompt an agent's execution in someone
 * else's notebook raises (authz_kernel_channels; docs/policy.md).
 *
 * The owner is the principal who saved the first version of the history
 * the notebook's file shows (store_owner): renames keep it, a delete ends
 * it. A notebook file with no history in the store came from outside
 * cellgate (an editor, git, a kernel) and is owned by "filesystem". A path
 * that is not a notebook (.ipynb), or where there is no file and no
 * history, is owned by nobody.
 */
#ifndef CELLGATE_NOTEBOOK_OWNER_H
#define CELLGATE_NOTEBOOK_OWNER_H

#include <stddef.h>

typedef struct app app_t;

/* The owner of workspace path (no leading slash) into out, "" for nobody.
 * When the store cannot be read the owner is not known: out says so, and
 * an agent is asked rather than let through. */
void notebook_owner(app_t *app, const char *path, char *out, size_t size);

#endif
