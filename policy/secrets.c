/* Named secrets in STATE/secrets.sqlite. See secrets.h. */
#include "secrets.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"

#define BUSY_TIMEOUT_MS 10000

struct policy_secrets {
	sqlite3 *db;
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS secrets ("
	"  name TEXT PRIMARY KEY, value BLOB NOT NULL,"
	"  created TEXT NOT NULL, created_by TEXT NOT NULL,"
	"  updated TEXT NOT NULL, updated_by TEXT NOT NULL)";

bool policy_secret_name_ok(const char *name, char *why, size_t why_size)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > SECRET_NAME_MAX) {
		snprintf(why, why_size, "a secret's name is 1 to %d characters (this one has %zu)",
			 SECRET_NAME_MAX, n);
		return false;
	}
	/* no leading dot or dash: never "." or "..", never an option */
	if (!isalnum((unsigned char)name[0]) && name[0] != '_') {
		snprintf(why, why_size, "a secret's name starts with a letter, a digit or _");
		return false;
	}
	for (const char *c = name; *c; c++) {
		if (!isascii((unsigned char)*c) ||
		    (!isalnum((unsigned char)*c) && !strchr("_.-", *c))) {
			snprintf(why, why_size, "a secret's name has only letters, digits, _, . and -");
			return false;
		}
	}
	return true;
}

static int db_error(policy_secrets_t *s, err_t *err, const char *what)
{
	/* sqlite's messages name tables and constraints, never bound values */
	return err_set(err, CG_ESYS, "secrets: %s: %s", what, sqlite3_errmsg(s->db));
}

/* Created 0600 when absent; when present, a regular file only its owner
 * can read. lstat rather than an open: closing a descriptor on a sqlite
 * file drops this process's locks on it. */
static int check_file(const char *path, err_t *err)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno != EEXIST)
		return err_set(err, CG_ESYS, "secrets: cannot create the secrets file: %s",
			       strerror(errno));
	if (lstat(path, &st) != 0)
		return err_set(err, CG_ESYS, "secrets: cannot read the secrets file: %s",
			       strerror(errno));
	if (!S_ISREG(st.st_mode))
		return err_set(err, CG_ESTATE, "secrets: the secrets file is not a regular file");
	if (st.st_mode & 077)
		return err_set(err, CG_ESTATE, "secrets: the secrets file can be read by others "
			       "(mode %04o): chmod 600 it (and change the secrets if they leaked)",
			       (unsigned)(st.st_mode & 07777));
	return 0;
}

policy_secrets_t *policy_secrets_open(const char *state_dir, err_t *err)
{
	policy_secrets_t *s = calloc(1, sizeof *s);
	char path[4096];

	if (!s) {
		err_set(err, CG_ESYS, "out of memory");
		return NULL;
	}
	if (snprintf(path, sizeof path, "%s/secrets.sqlite", state_dir) >= (int)sizeof path) {
		err_set(err, CG_EINVAL, "the state directory's path is too long");
		goto fail;
	}
	if (check_file(path, err))
		goto fail;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		err_set(err, CG_ESYS, "secrets: cannot open the secrets file");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	/* a rollback journal (deleted after each commit, and made with the
	 * file's own mode), and old values zeroed where they lay */
	if (sqlite3_exec(s->db, "PRAGMA journal_mode=DELETE; PRAGMA secure_delete=ON;"
			 "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		db_error(s, err, "cannot create the secrets table");
		goto fail;
	}
	return s;
fail:
	policy_secrets_close(&s);
	return NULL;
}

void policy_secrets_close(policy_secrets_t **self_p)
{
	policy_secrets_t *s = *self_p;

	if (!s)
		return;
	*self_p = NULL;
	sqlite3_close(s->db);
	free(s);
}

static int check_name(const char *name, err_t *err)
{
	char why[160];

	if (!policy_secret_name_ok(name, why, sizeof why))
		return err_set(err, CG_EINVAL, "%s", why);
	return 0;
}

static bool exists(policy_secrets_t *s, const char *name)
{
	sqlite3_stmt *st = NULL;
	bool found;

	if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM secrets WHERE name = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return false;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

int policy_secrets_set(policy_secrets_t *s, const char *name, const void *value, size_t len,
		       const char *by, bool *replaced, err_t *err)
{
	static const char sql[] =
		"INSERT INTO secrets (name, value, created, created_by, updated, updated_by)"
		" VALUES (?1, ?2, ?3, ?4, ?3, ?4) ON CONFLICT(name) DO UPDATE SET"
		" value = excluded.value, updated = excluded.updated,"
		" updated_by = excluded.updated_by";
	sqlite3_stmt *st = NULL;
	char when[ISO_TIME_LEN];
	bool had;
	int rc;

	if (check_name(name, err))
		return err->code;
	if (len == 0)
		return err_set(err, CG_EINVAL, "a secret's value is not empty");
	if (len > SECRET_VALUE_MAX)
		return err_set(err, CG_ETOOBIG, "a secret's value is at most %d bytes (this one has "
			       "%zu)", SECRET_VALUE_MAX, len);
	util_iso_time_now(when);
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return db_error(s, err, "cannot begin");
	had = exists(s, name);
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		rc = db_error(s, err, "cannot set a secret");
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, value, (int)len, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, when, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, by ? by : "?", -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_error(s, err, "cannot set a secret");
	sqlite3_finalize(st);
out:
	if (rc == 0 && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = db_error(s, err, "cannot commit");
	if (rc)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	else if (replaced)
		*replaced = had;
	return rc;
}

int policy_secrets_get(policy_secrets_t *s, const char *name, char **value, size_t *len,
		       err_t *err)
{
	sqlite3_stmt *st = NULL;
	const void *blob;
	int rc, n;

	*value = NULL;
	*len = 0;
	if (check_name(name, err))
		return err->code;
	if (sqlite3_prepare_v2(s->db, "SELECT value FROM secrets WHERE name = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return db_error(s, err, "cannot read a secret");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_finalize(st);
		return err_set(err, CG_ENOTFOUND, "there is no secret %s", name);
	}
	if (rc != SQLITE_ROW) {
		rc = db_error(s, err, "cannot read a secret");
		sqlite3_finalize(st);
		return rc;
	}
	blob = sqlite3_column_blob(st, 0);
	n = sqlite3_column_bytes(st, 0);
	/* one byte more, a NUL, for callers that print it as text */
	*value = malloc((size_t)n + 1);
	if (!*value) {
		sqlite3_finalize(st);
		return err_set(err, CG_ESYS, "out of memory");
	}
	if (n)
		memcpy(*value, blob, (size_t)n);
	(*value)[n] = '\0';
	*len = (size_t)n;
	sqlite3_finalize(st);
	return 0;
}

int policy_secrets_delete(policy_secrets_t *s, const char *name, err_t *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (check_name(name, err))
		return err->code;
	if (sqlite3_prepare_v2(s->db, "DELETE FROM secrets WHERE name = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return db_error(s, err, "cannot delete a secret");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_error(s, err, "cannot delete a secret");
	sqlite3_finalize(st);
	if (rc == 0 && sqlite3_changes(s->db) == 0)
		rc = err_set(err, CG_ENOTFOUND, "there is no secret %s", name);
	return rc;
}

static json_t *column_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return json_string(t ? (const char *)t : "");
}

int policy_secrets_list(policy_secrets_t *s, json_t **out, err_t *err)
{
	sqlite3_stmt *st = NULL;
	json_t *list = json_array();
	int rc;

	*out = NULL;
	if (!list)
		return err_set(err, CG_ESYS, "out of memory");
	if (sqlite3_prepare_v2(s->db, "SELECT name, created, created_by, updated, updated_by "
			       "FROM secrets ORDER BY name", -1, &st, NULL) != SQLITE_OK) {
		json_decref(list);
		return db_error(s, err, "cannot list the secrets");
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(list, json_pack("{s:o, s:o, s:o, s:o, s:o}",
			"name", column_text(st, 0), "created", column_text(st, 1),
			"created_by", column_text(st, 2), "updated", column_text(st, 3),
			"updated_by", column_text(st, 4)));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		json_decref(list);
		return db_error(s, err, "cannot list the secrets");
	}
	*out = list;
	return 0;
}

void policy_secret_free(char *value, size_t len)
{
	if (!value)
		return;
	OPENSSL_cleanse(value, len + 1);
	free(value);
}
