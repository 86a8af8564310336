/*
 * Publications: the record that a stored version of a notebook is
 * published. Append-only, in the store's sqlite file (table publications,
 * schema version 3): a row is never updated or deleted (triggers refuse
 * it), and it names its version by id, which the store keeps forever, so a
 * publication stays readable after its notebook is renamed or deleted.
 * One publication per version: publishing it again is a conflict.
 *
 * Who may publish, and who approved it, is the server's business (policy/
 * and server/api_publications.c); this file only keeps the record.
 */
#ifndef CELLGATE_PUBLICATIONS_H
#define CELLGATE_PUBLICATIONS_H

#include <jansson.h>

#include "store.h"

#define STORE_MAX_PUBLICATION_MESSAGE 4096

typedef struct store_publication {
	const char *path;         /* the notebook, as the contents API names it */
	const char *version;      /* the version id published */
	const char *published_by; /* the principal who asked */
	const char *approved_by;  /* who answered its prompt; "" or NULL when none was needed */
	const char *prompt;       /* the prompt's id; "" or NULL when none */
	const char *message;      /* "" or NULL: none */
} store_publication_t;

/*
 * Records a publication in one transaction. *out (may be NULL) gets it as
 * store_publication_get answers. CG_ENOTFOUND when the version does not
 * exist; CG_ECONFLICT when it is already published (*out is then that
 * publication); CG_EINVAL / CG_ETOOBIG for malformed or oversized fields.
 */
int store_publish(store_t *s, const store_publication_t *p, json_t **out, err_t *err);

/* {"seq", "id", "path", "version", "published_by", "approved_by", "prompt",
 *  "message", "created"}, or CG_ENOTFOUND. Caller owns *out. */
int store_publication_get(store_t *s, const char *id, json_t **out, err_t *err);

/* The publication of a version, or CG_ENOTFOUND. Caller owns *out. */
int store_publication_of_version(store_t *s, const char *version_id, json_t **out, err_t *err);

/*
 * Publications oldest first, of the notebook `path` and of every path
 * beneath it (path NULL or "": all), at most limit (0: all). Caller owns *out.
 */
int store_publications_list(store_t *s, const char *path, size_t limit, json_t **out, err_t *err);

/* 0 when id has the shape of a publication id (32 lowercase hex digits). */
int store_check_publication_id(const char *id, err_t *err);

#endif
