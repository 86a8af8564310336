/* The hash-chained audit log. See audit.h. */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/util.h"

#define HASH_HEX 65
#define BUSY_TIMEOUT_MS 10000
#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

struct policy_audit {
	sqlite3 *db;
	char head_path[4096];
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS policy_audit ("
	"  seq INTEGER PRIMARY KEY, time TEXT NOT NULL, principal TEXT NOT NULL,"
	"  action TEXT NOT NULL, resource TEXT NOT NULL, decision TEXT NOT NULL,"
	"  detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
	"CREATE TRIGGER IF NOT EXISTS policy_audit_no_update BEFORE UPDATE ON policy_audit"
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TRIGGER IF NOT EXISTS policy_audit_no_delete BEFORE DELETE ON policy_audit"
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;";

static int db_error(policy_audit_t *a, err_t *err, const char *what)
{
	return err_set(err, CG_ESYS, "audit: %s: %s", what, sqlite3_errmsg(a->db));
}

policy_audit_t *policy_audit_open(const char *state_dir, err_t *err)
{
	policy_audit_t *a = calloc(1, sizeof *a);
	char path[4096];
	int fd;

	if (!a) {
		err_set(err, CG_ESYS, "out of memory");
		return NULL;
	}
	if (snprintf(path, sizeof path, "%s/store.sqlite", state_dir) >= (int)sizeof path ||
	    snprintf(a->head_path, sizeof a->head_path, "%s/audit.head", state_dir) >=
		    (int)sizeof a->head_path) {
		err_set(err, CG_EINVAL, "the state directory's path is too long");
		goto fail;
	}
	/* created 0600 when absent; never opened and closed when present: a
	 * close would drop the POSIX locks of the store's own connection in
	 * this process (sqlite's locks are per process), and another process
	 * would then take the WAL away from under it */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno != EEXIST) {
		err_set(err, CG_ESYS, "audit: cannot open the store file: %s", strerror(errno));
		goto fail;
	}
	if (fd >= 0)
		close(fd);
	if (sqlite3_open_v2(path, &a->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		err_set(err, CG_ESYS, "audit: cannot open the store file");
		goto fail;
	}
	sqlite3_busy_timeout(a->db, BUSY_TIMEOUT_MS);
	if (sqlite3_exec(a->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL", NULL, NULL,
			 NULL) != SQLITE_OK ||
	    sqlite3_exec(a->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		db_error(a, err, "cannot create the audit table");
		goto fail;
	}
	return a;
fail:
	policy_audit_close(&a);
	return NULL;
}

void policy_audit_close(policy_audit_t **self_p)
{
	policy_audit_t *a = self_p ? *self_p : NULL;

	if (!a)
		return;
	sqlite3_close_v2(a->db);
	free(a);
	*self_p = NULL;
}

/* hash = SHA-256(prev_hash || [seq, time, principal, action, resource, decision, detail]) */
static int entry_hash(int64_t seq, const char *const f[6], const char *prev, char out[HASH_HEX])
{
	json_t *arr = json_pack("[I,s,s,s,s,s,s]", (json_int_t)seq, f[0], f[1], f[2], f[3], f[4],
				f[5]);
	char *canon = arr ? json_dumps(arr, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[32];
	unsigned int n = 0;
	int rc = CG_ESYS;

	if (canon && ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	    EVP_DigestUpdate(ctx, prev, strlen(prev)) &&
	    EVP_DigestUpdate(ctx, canon, strlen(canon)) && EVP_DigestFinal_ex(ctx, md, &n) &&
	    n == 32) {
		util_hex_encode(md, 32, out);
		rc = 0;
	}
	EVP_MD_CTX_free(ctx);
	free(canon);
	json_decref(arr);
	return rc;
}

/* The anchor outside sqlite: "seq hash\n", replaced atomically. */
static void write_head(policy_audit_t *a, int64_t seq, const char *hash)
{
	char tmp[4200], line[128];
	int fd, n = snprintf(line, sizeof line, "%lld %s\n", (long long)seq, hash);

	snprintf(tmp, sizeof tmp, "%s.%d.tmp", a->head_path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) == n && fsync(fd) == 0)
		rename(tmp, a->head_path);
	else
		unlink(tmp);
	close(fd);
}

static bool read_head(policy_audit_t *a, int64_t *seq, char hash[HASH_HEX])
{
	FILE *f = fopen(a->head_path, "re");
	long long s;
	bool ok;

	if (!f)
		return false;
	ok = fscanf(f, "%lld %64s", &s, hash) == 2;
	fclose(f);
	*seq = s;
	return ok;
}

int policy_audit_append(policy_audit_t *a, const char *principal, const char *action,
			const char *resource, const char *decision, const char *detail, err_t *err)
{
	const char *f[6];
	char now[ISO_TIME_LEN], prev[HASH_HEX] = ZERO_HASH, hash[HASH_HEX];
	sqlite3_stmt *st = NULL;
	int64_t seq = 1;
	int rc = 0;

	util_iso_time_now(now);
	f[0] = now;
	f[1] = principal ? principal : "";
	f[2] = action ? action : "";
	f[3] = resource ? resource : "";
	f[4] = decision ? decision : "";
	f[5] = detail ? detail : "";
	/* IMMEDIATE: the server and the CLI append to one chain in turn */
	if (sqlite3_exec(a->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return db_error(a, err, "cannot start a transaction");
	if (sqlite3_prepare_v2(a->db, "SELECT seq, hash FROM policy_audit ORDER BY seq DESC LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = db_error(a, err, "cannot read the last entry");
		goto out;
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		seq = sqlite3_column_int64(st, 0) + 1;
		snprintf(prev, sizeof prev, "%s", (const char *)sqlite3_column_text(st, 1));
	}
	sqlite3_finalize(st);
	st = NULL;
	if (entry_hash(seq, f, prev, hash)) {
		rc = err_set(err, CG_ESYS, "audit: cannot hash an entry");
		goto out;
	}
	if (sqlite3_prepare_v2(a->db, "INSERT INTO policy_audit VALUES (?,?,?,?,?,?,?,?,?)", -1, &st,
			       NULL) != SQLITE_OK) {
		rc = db_error(a, err, "cannot append");
		goto out;
	}
	sqlite3_bind_int64(st, 1, seq);
	for (int i = 0; i < 6; i++)
		sqlite3_bind_text(st, 2 + i, f[i], -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, prev, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, hash, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_error(a, err, "cannot append");
out:
	sqlite3_finalize(st);
	if (rc == 0 && sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = db_error(a, err, "cannot commit");
	if (rc)
		sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
	else
		write_head(a, seq, hash);
	return rc;
}

int policy_audit_verify(policy_audit_t *a, int64_t *n_entries, int64_t *bad_seq, err_t *err)
{
	char prev[HASH_HEX] = ZERO_HASH, hash[HASH_HEX], head_hash[HASH_HEX];
	sqlite3_stmt *st = NULL;
	int64_t expect = 1, head_seq = 0, n = 0;
	int rc = 0, step;

	*bad_seq = 0;
	if (sqlite3_prepare_v2(a->db, "SELECT seq, time, principal, action, resource, decision, "
			       "detail, prev_hash, hash FROM policy_audit ORDER BY seq", -1, &st,
			       NULL) != SQLITE_OK)
		return db_error(a, err, "cannot read the log");
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(st, 0);
		const char *f[6], *stored_prev = (const char *)sqlite3_column_text(st, 7),
				  *stored = (const char *)sqlite3_column_text(st, 8);

		for (int i = 0; i < 6; i++) {
			f[i] = (const char *)sqlite3_column_text(st, 1 + i);
			if (!f[i])
				f[i] = "";
		}
		*bad_seq = seq;
		if (seq != expect) {
			rc = err_set(err, CG_ESTATE, "entry %lld: expected entry %lld here: entries "
				     "were removed or renumbered", (long long)seq, (long long)expect);
			goto out;
		}
		if (!stored_prev || strcmp(stored_prev, prev) != 0) {
			rc = err_set(err, CG_ESTATE, "entry %lld: does not follow the entry before it: "
				     "entries were removed or reordered", (long long)seq);
			goto out;
		}
		if (entry_hash(seq, f, prev, hash)) {
			rc = err_set(err, CG_ESYS, "audit: cannot hash an entry");
			goto out;
		}
		if (!stored || strcmp(stored, hash) != 0) {
			rc = err_set(err, CG_ESTATE, "entry %lld: its contents were changed",
				     (long long)seq);
			goto out;
		}
		memcpy(prev, hash, sizeof prev);
		expect++;
		n++;
	}
	if (step != SQLITE_DONE) {
		rc = db_error(a, err, "cannot read the log");
		goto out;
	}
	*bad_seq = 0;
	if (read_head(a, &head_seq, head_hash)) {
		/* the head may lag by the entries whose anchor write a crash cut short, never lead */
		if (head_seq > n) {
			*bad_seq = n + 1;
			rc = err_set(err, CG_ESTATE, "entry %lld: missing: the log ends at %lld but "
				     "entry %lld was written", (long long)(n + 1), (long long)n,
				     (long long)head_seq);
		} else if (head_seq > 0) {
			sqlite3_finalize(st);
			st = NULL;
			if (sqlite3_prepare_v2(a->db, "SELECT hash FROM policy_audit WHERE seq = ?", -1,
					       &st, NULL) != SQLITE_OK)
				return db_error(a, err, "cannot read the log");
			sqlite3_bind_int64(st, 1, head_seq);
			if (sqlite3_step(st) != SQLITE_ROW ||
			    strcmp((const char *)sqlite3_column_text(st, 0), head_hash) != 0) {
				*bad_seq = head_seq;
				rc = err_set(err, CG_ESTATE, "entry %lld: does not match the recorded "
					     "head of the log", (long long)head_seq);
			}
		}
	}
	*n_entries = n;
out:
	sqlite3_finalize(st);
	return rc;
}

int policy_audit_list(policy_audit_t *a, int64_t after, size_t limit, json_t **out, err_t *err)
{
	sqlite3_stmt *st = NULL;
	json_t *list = json_array();
	int step;

	*out = NULL;
	if (sqlite3_prepare_v2(a->db, "SELECT seq, time, principal, action, resource, decision, "
			       "detail, hash FROM policy_audit WHERE seq > ? ORDER BY seq LIMIT ?",
			       -1, &st, NULL) != SQLITE_OK) {
		json_decref(list);
		return db_error(a, err, "cannot read the log");
	}
	sqlite3_bind_int64(st, 1, after);
	sqlite3_bind_int64(st, 2, limit ? (sqlite3_int64)limit : -1);
	while ((step = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(list, json_pack("{s:I, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?}",
			"seq", (json_int_t)sqlite3_column_int64(st, 0),
			"time", sqlite3_column_text(st, 1), "principal", sqlite3_column_text(st, 2),
			"action", sqlite3_column_text(st, 3), "resource", sqlite3_column_text(st, 4),
			"decision", sqlite3_column_text(st, 5), "detail", sqlite3_column_text(st, 6),
			"hash", sqlite3_column_text(st, 7)));
	sqlite3_finalize(st);
	if (step != SQLITE_DONE) {
		json_decref(list);
		return db_error(a, err, "cannot read the log");
	}
	*out = list;
	return 0;
}
