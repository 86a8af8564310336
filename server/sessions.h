/*
 * Sessions, as Jupyter Server keeps them: a notebook (or console, or file)
 * path bound to a kernel. They live in memory; a session whose kernel is
 * gone is dropped the next time anyone looks.
 */
#ifndef CELLGATE_SESSIONS_H
#define CELLGATE_SESSIONS_H

#include <jansson.h>

#include "../kernels/kernels.h"

typedef struct sessions sessions_t;
typedef struct session session_t;

sessions_t *sessions_new(kmgr_t *kernels);
void sessions_free(sessions_t **self_p);

/* A new session; NULL when out of memory. Strings are copied. */
session_t *sessions_add(sessions_t *all, const char *path, const char *name, const char *type,
			const char *kernel_id);
session_t *sessions_find(sessions_t *all, const char *id);
session_t *sessions_find_path(sessions_t *all, const char *path);
/* Iteration; sessions whose kernel is gone are skipped and dropped. */
session_t *sessions_next(sessions_t *all, session_t *prev);
void sessions_remove(sessions_t *all, session_t *s);

const char *session_id(const session_t *s);
const char *session_path(const session_t *s);
const char *session_kernel_id(const session_t *s);
/* Replaces the non-NULL fields. */
int session_update(session_t *s, const char *path, const char *name, const char *type,
		   const char *kernel_id);
/* {"id", "path", "name", "type", "kernel": {...}[, "notebook": {...}]} */
json_t *session_model(sessions_t *all, const session_t *s);

#endif
