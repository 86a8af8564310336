/*
 * Who owns a notebook (see store.h): the principal who saved the first
 * version of the history its working copy shows. That is the root of the
 * checked-out branch's first-parent chain, not the oldest version ever
 * saved at the path: a notebook deleted and made again at the same path
 * starts a history of its own (store_path_forget), and a renamed one keeps
 * its history, and so its owner (store_path_move).
 */
#include "store_private.h"

#include <stdio.h>
#include <string.h>

int store_owner(store_t *s, const char *path, char out[STORE_MAX_PRINCIPAL], err_t *err)
{
	/* the chain is bounded by the number of versions: parents are older */
	static const char sql[] =
		"WITH RECURSIVE chain(id) AS ("
		"  SELECT b.version FROM checkouts c JOIN branches b"
		"    ON b.path = c.path AND b.name = c.branch WHERE c.path = ?1"
		"  UNION SELECT p.parent FROM version_parents p JOIN chain ON p.version = chain.id"
		"    WHERE p.n = 0)"
		" SELECT v.principal FROM chain JOIN versions v ON v.id = chain.id"
		" WHERE NOT EXISTS (SELECT 1 FROM version_parents p WHERE p.version = v.id AND p.n = 0)"
		" LIMIT 1";
	sqlite3_stmt *st = NULL;
	int rc;

	out[0] = '\0';
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL))
		return store_db_error(s, err, "preparing the owner query");
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		snprintf(out, STORE_MAX_PRINCIPAL, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return err_set(err, CG_ENOTFOUND, "no history is recorded for %s", path);
	return store_db_error(s, err, "finding a notebook's owner");
}
