/*
 * The store's sqlite schema and its migrations. The schema version is the
 * highest row of schema_migrations; each migration runs in its own
 * transaction with its row, so a crash mid-migration leaves the previous
 * version intact and the next open runs it again.
 */
#include "store_private.h"
#include "../common/util.h"

#include <stdio.h>

static const char *const migrations[] = {
	/* v1: objects, versions, branches, checkouts; execution, replay and audit reserved. */
	"CREATE TABLE objects ("
	"  hash TEXT PRIMARY KEY,"
	"  kind TEXT NOT NULL CHECK (kind IN ('cell', 'output', 'tree', 'blob')),"
	"  size INTEGER NOT NULL,"
	"  data BLOB NOT NULL);"
	"CREATE TABLE versions ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  id TEXT NOT NULL UNIQUE,"
	"  path TEXT NOT NULL,"
	"  tree TEXT NOT NULL REFERENCES objects(hash),"
	"  principal TEXT NOT NULL,"
	"  message TEXT NOT NULL,"
	"  created TEXT NOT NULL);"
	"CREATE INDEX versions_by_path ON versions(path, seq);"
	"CREATE TABLE version_parents ("
	"  version TEXT NOT NULL REFERENCES versions(id),"
	"  n INTEGER NOT NULL,"
	"  parent TEXT NOT NULL REFERENCES versions(id),"
	"  PRIMARY KEY (version, n));"
	"CREATE TABLE branches ("
	"  path TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  version TEXT NOT NULL REFERENCES versions(id),"
	"  updated TEXT NOT NULL,"
	"  PRIMARY KEY (path, name));"
	"CREATE TABLE checkouts ("
	"  path TEXT PRIMARY KEY,"
	"  branch TEXT NOT NULL,"
	"  version TEXT NOT NULL REFERENCES versions(id),"
	"  file_sha256 TEXT NOT NULL,"
	"  updated TEXT NOT NULL);"
	/* Immutability is the schema's business too, not only the code's. */
	"CREATE TRIGGER objects_no_update BEFORE UPDATE ON objects"
	"  BEGIN SELECT RAISE(ABORT, 'objects are immutable'); END;"
	"CREATE TRIGGER objects_no_delete BEFORE DELETE ON objects"
	"  BEGIN SELECT RAISE(ABORT, 'objects are immutable'); END;"
	"CREATE TRIGGER versions_no_update BEFORE UPDATE ON versions"
	"  BEGIN SELECT RAISE(ABORT, 'versions are immutable'); END;"
	"CREATE TRIGGER versions_no_delete BEFORE DELETE ON versions"
	"  BEGIN SELECT RAISE(ABORT, 'versions are immutable'); END;"
	"CREATE TRIGGER parents_no_change BEFORE UPDATE ON version_parents"
	"  BEGIN SELECT RAISE(ABORT, 'versions are immutable'); END;"
	"CREATE TRIGGER parents_no_delete BEFORE DELETE ON version_parents"
	"  BEGIN SELECT RAISE(ABORT, 'versions are immutable'); END;"
	/* Reserved: no code writes these yet; later migrations may add columns. */
	"CREATE TABLE executions ("
	"  id TEXT PRIMARY KEY,"
	"  version TEXT REFERENCES versions(id),"
	"  previous TEXT REFERENCES executions(id),"
	"  record BLOB NOT NULL,"
	"  created TEXT NOT NULL);"
	"CREATE TABLE replays ("
	"  id TEXT PRIMARY KEY,"
	"  version TEXT NOT NULL REFERENCES versions(id),"
	"  report BLOB NOT NULL,"
	"  created TEXT NOT NULL);"
	"CREATE TABLE audit ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  prev_hash TEXT NOT NULL,"
	"  hash TEXT NOT NULL UNIQUE,"
	"  entry BLOB NOT NULL,"
	"  created TEXT NOT NULL);",
	/* v2: execution records (records.c), the links from a version's outputs
	 * to them, and replay reports. The v1 placeholders for executions and
	 * replays were never written; they are replaced. */
	"DROP TABLE executions;"
	"DROP TABLE replays;"
	"CREATE TABLE kernel_sessions ("
	"  id TEXT PRIMARY KEY,"
	"  kernel_id TEXT NOT NULL,"
	"  kernelspec TEXT NOT NULL,"
	"  environment TEXT NOT NULL REFERENCES objects(hash),"
	"  info BLOB NOT NULL,"
	"  started TEXT NOT NULL);"
	/* previous has no foreign key: records arrive in batches, and the
	 * chain may start in a session whose first records were not kept */
	"CREATE TABLE executions ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  id TEXT NOT NULL UNIQUE,"
	"  kernel_session TEXT NOT NULL REFERENCES kernel_sessions(id),"
	"  previous TEXT,"
	"  path TEXT NOT NULL,"
	"  cell_id TEXT NOT NULL,"
	"  principal TEXT NOT NULL,"
	"  code TEXT NOT NULL REFERENCES objects(hash),"
	"  outputs TEXT NOT NULL,"
	"  status TEXT NOT NULL,"
	"  execution_count INTEGER,"
	"  started TEXT NOT NULL,"
	"  ended TEXT NOT NULL,"
	"  record BLOB NOT NULL);"
	"CREATE INDEX executions_by_cell ON executions(cell_id, seq);"
	/* links: an object {cell index: execution id}, shared by versions
	 * whose links are the same, so an unchanged save adds one small row;
	 * NULL when no cell's outputs were recorded */
	"CREATE TABLE output_links ("
	"  version TEXT PRIMARY KEY REFERENCES versions(id),"
	"  links TEXT REFERENCES objects(hash));"
	"CREATE TABLE replays ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  id TEXT NOT NULL UNIQUE,"
	"  version TEXT NOT NULL REFERENCES versions(id),"
	"  report TEXT NOT NULL REFERENCES objects(hash),"
	"  verdict TEXT NOT NULL,"
	"  created TEXT NOT NULL);"
	"CREATE INDEX replays_by_version ON replays(version, seq);"
	"CREATE TRIGGER ksessions_no_update BEFORE UPDATE ON kernel_sessions"
	"  BEGIN SELECT RAISE(ABORT, 'kernel sessions are immutable'); END;"
	"CREATE TRIGGER ksessions_no_delete BEFORE DELETE ON kernel_sessions"
	"  BEGIN SELECT RAISE(ABORT, 'kernel sessions are immutable'); END;"
	"CREATE TRIGGER executions_no_update BEFORE UPDATE ON executions"
	"  BEGIN SELECT RAISE(ABORT, 'execution records are immutable'); END;"
	"CREATE TRIGGER executions_no_delete BEFORE DELETE ON executions"
	"  BEGIN SELECT RAISE(ABORT, 'execution records are immutable'); END;"
	"CREATE TRIGGER links_no_update BEFORE UPDATE ON output_links"
	"  BEGIN SELECT RAISE(ABORT, 'output links are immutable'); END;"
	"CREATE TRIGGER links_no_delete BEFORE DELETE ON output_links"
	"  BEGIN SELECT RAISE(ABORT, 'output links are immutable'); END;"
	"CREATE TRIGGER replays_no_update BEFORE UPDATE ON replays"
	"  BEGIN SELECT RAISE(ABORT, 'replay reports are immutable'); END;"
	"CREATE TRIGGER replays_no_delete BEFORE DELETE ON replays"
	"  BEGIN SELECT RAISE(ABORT, 'replay reports are immutable'); END;",
	/* v3: publications (publications.c). A version is published once;
	 * the path is the notebook's as named when published, kept as text so
	 * a rename or delete (which move branches only) leaves it readable. */
	"CREATE TABLE publications ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  id TEXT NOT NULL UNIQUE,"
	"  path TEXT NOT NULL,"
	"  version TEXT NOT NULL UNIQUE REFERENCES versions(id),"
	"  published_by TEXT NOT NULL,"
	"  approved_by TEXT NOT NULL,"
	"  prompt TEXT NOT NULL,"
	"  message TEXT NOT NULL,"
	"  created TEXT NOT NULL);"
	"CREATE INDEX publications_by_path ON publications(path, seq);"
	"CREATE TRIGGER publications_no_update BEFORE UPDATE ON publications"
	"  BEGIN SELECT RAISE(ABORT, 'publications are append-only'); END;"
	"CREATE TRIGGER publications_no_delete BEFORE DELETE ON publications"
	"  BEGIN SELECT RAISE(ABORT, 'publications are append-only'); END;",
};

#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

_Static_assert(N_MIGRATIONS == STORE_SCHEMA_VERSION, "one migration per schema version");

static int current_version(store_t *s, int *out, err_t *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (store_exec(s, "CREATE TABLE IF NOT EXISTS schema_migrations ("
			  "  version INTEGER PRIMARY KEY, applied TEXT NOT NULL)", err))
		return CG_ESYS;
	if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(version), 0) FROM schema_migrations", -1, &st, NULL))
		return store_db_error(s, err, "reading the schema version");
	rc = sqlite3_step(st);
	*out = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return store_db_error(s, err, "reading the schema version");
	return 0;
}

int store_migrate(store_t *s, err_t *err)
{
	char now[ISO_TIME_LEN], sql[128];
	int v, rc;

	if ((rc = current_version(s, &v, err)))
		return rc;
	if (v > N_MIGRATIONS)
		return err_set(err, CG_ESTATE, "store: schema version %d is newer than this cellgate's (%d)",
			       v, N_MIGRATIONS);
	for (; v < N_MIGRATIONS; v++) {
		if ((rc = store_exec(s, "BEGIN IMMEDIATE", err)))
			return rc;
		/* Another process may have migrated while we waited for the lock. */
		int again;

		if ((rc = current_version(s, &again, err)))
			goto fail;
		if (again > v) {
			store_exec(s, "ROLLBACK", NULL);
			v = again - 1;
			continue;
		}
		util_iso_time_now(now);
		snprintf(sql, sizeof sql, "INSERT INTO schema_migrations VALUES (%d, '%s')", v + 1, now);
		if ((rc = store_exec(s, migrations[v], err)) || (rc = store_exec(s, sql, err)) ||
		    (rc = store_exec(s, "COMMIT", err)))
			goto fail;
	}
	return 0;
fail:
	store_exec(s, "ROLLBACK", NULL);
	return err_wrap(err, "store: migrating to schema version %d", v + 1);
}
