/*
 * Named secrets: values the server keeps for kernels, handed to a kernel
 * only after a person approves (the egress broker asks; secrets.c keeps).
 *
 * They live in STATE/secrets.sqlite, a file of their own, mode 0600 (a
 * file others could read is refused, as the root key is): not in the
 * store file, which holds notebooks that are exported, copied and shared.
 * Deleting or replacing a value zeroes its old bytes in the file (sqlite's
 * secure_delete) and the rollback journal is deleted with each transaction.
 *
 * A value leaves this module only through policy_secrets_get, into memory
 * the caller wipes with policy_secret_free. Listings carry names and who
 * set them when, never values. Names are [A-Za-z0-9_.-], starting with a
 * letter, digit or underscore, at most SECRET_NAME_MAX bytes; values are
 * 1 to SECRET_VALUE_MAX bytes of anything.
 */
#ifndef CELLGATE_POLICY_SECRETS_H
#define CELLGATE_POLICY_SECRETS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "../common/err.h"

#define SECRET_NAME_MAX 64
#define SECRET_VALUE_MAX 65536

typedef struct policy_secrets policy_secrets_t;

/* Is name a secret's name? When not, why says what is wrong (naming no
 * more of it than its length). */
bool policy_secret_name_ok(const char *name, char *why, size_t why_size);

/* Opens STATE/secrets.sqlite, creating it (0600) when absent. */
policy_secrets_t *policy_secrets_open(const char *state_dir, err_t *err);
void policy_secrets_close(policy_secrets_t **self_p);

/* Sets name to value (len bytes), by principal `by`. *replaced (may be
 * NULL) says whether it had a value before. CG_EINVAL for a bad name,
 * CG_ETOOBIG for a value too large, CG_EINVAL for an empty one. */
int policy_secrets_set(policy_secrets_t *s, const char *name, const void *value, size_t len,
		       const char *by, bool *replaced, err_t *err);
/* The value, in memory the caller frees with policy_secret_free.
 * CG_ENOTFOUND when there is none. */
int policy_secrets_get(policy_secrets_t *s, const char *name, char **value, size_t *len,
		       err_t *err);
/* CG_ENOTFOUND when there is none. */
int policy_secrets_delete(policy_secrets_t *s, const char *name, err_t *err);
/* [{"name", "created", "created_by", "updated", "updated_by"}] (not even
 * a value's length), by name. Caller owns *out. */
int policy_secrets_list(policy_secrets_t *s, json_t **out, err_t *err);

/* Wipes and frees a value from policy_secrets_get (NULL is fine). */
void policy_secret_free(char *value, size_t len);

#endif
