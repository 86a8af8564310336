/*
 * The audit log: append-only and hash-chained, in the store's sqlite file
 * (table policy_audit, owned by policy/). Each entry commits to the one
 * before it:
 *
 *     hash = SHA-256(prev_hash || canonical entry)
 *
 * where the canonical entry is the compact JSON array
 * [seq, time, principal, action, resource, decision, detail] and the first
 * entry's prev_hash is 64 zeros. Triggers refuse UPDATE and DELETE; a file
 * edited behind sqlite's back is caught by policy_audit_verify, which also
 * compares the last entry with STATE/audit.head (written after every
 * append), so removing entries from the end is caught too.
 */
#ifndef CELLGATE_POLICY_AUDIT_H
#define CELLGATE_POLICY_AUDIT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

typedef struct policy_audit policy_audit_t;

/* Opens STATE/store.sqlite (creating it, mode 0600) and the table. */
policy_audit_t *policy_audit_open(const char *state_dir, err_t *err);
void policy_audit_close(policy_audit_t **self_p);

/* Appends one entry in its own transaction; detail may be NULL. */
int policy_audit_append(policy_audit_t *a, const char *principal, const char *action,
			const char *resource, const char *decision, const char *detail,
			err_t *err);

/*
 * Recomputes the chain. 0 when intact (*n_entries set); CG_ESTATE when an
 * entry was changed, removed or reordered: *bad_seq names the first entry
 * where the chain breaks and err says how.
 */
int policy_audit_verify(policy_audit_t *a, int64_t *n_entries, int64_t *bad_seq, err_t *err);

/* Entries with seq > after, oldest first, at most limit (0: all), as
 * [{"seq", "time", "principal", "action", "resource", "decision",
 * "detail", "hash"}]. Caller owns *out. */
int policy_audit_list(policy_audit_t *a, int64_t after, size_t limit, json_t **out, err_t *err);

#endif
