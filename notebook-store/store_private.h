/* Shared by the store's files; not for other folders. */
#ifndef CELLGATE_STORE_PRIVATE_H
#define CELLGATE_STORE_PRIVATE_H

#include <sqlite3.h>

#include "store.h"

struct store {
	sqlite3 *db;
};

/* err from the connection's last error: "store: <what>: <sqlite message>". */
int store_db_error(store_t *s, err_t *err, const char *what);
/* Runs SQL with no result rows. */
int store_exec(store_t *s, const char *sql, err_t *err);
/* Checks the shape of caller-given names before they reach SQL. */
int store_check_path(const char *path, err_t *err);
/* Brings the schema to STORE_SCHEMA_VERSION (store_schema.c). */
int store_migrate(store_t *s, err_t *err);

#endif
