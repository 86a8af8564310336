/*
 * The working copy and the store meet here: a checkout writes a version to
 * the notebook's file and remembers the hash of the bytes it wrote; a sync
 * compares the file with that hash and imports a changed file as a version
 * by "filesystem", as DESIGN.md asks for files edited outside cellgate.
 * The order is store, then file, then checkout record. A crash after the
 * store leaves the file as recorded but behind the branch: the next sync
 * writes the head. A crash after the file leaves bytes that differ from the
 * record: the next sync sees they are the branch's head and records them.
 * Either way no change is lost and no version is made twice. A file edited on disk while the branch
 * also moved is imported on top of the head (both stay in the history).
 */
#include "store.h"
#include "nbformat.h"
#include "../common/buf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYNC_PRINCIPAL "filesystem"

int store_checkout(store_t *s, const char *path, const char *branch, const char *file_path,
		   char out_id[STORE_ID_LEN], err_t *err)
{
	char head[STORE_ID_LEN], sha[STORE_HASH_LEN];
	json_t *nb = NULL;
	buf_t b;
	int rc;

	buf_init(&b, NBFORMAT_MAX_BYTES);
	if ((rc = store_branch_head(s, path, branch, head, err)) || (rc = store_load(s, head, &nb, err)))
		goto out;
	if (nbformat_write(nb, &b)) {
		rc = err_set(err, CG_ETOOBIG, "notebook too large to write");
		goto out;
	}
	store_sha256_hex(b.data, b.len, sha);
	if ((rc = store_write_file_atomic(file_path, b.data, b.len, err)) ||
	    (rc = store_checkout_record(s, path, branch, head, sha, err)))
		goto out;
	if (out_id)
		memcpy(out_id, head, STORE_ID_LEN);
out:
	buf_free(&b);
	json_decref(nb);
	return rc;
}

/* Reads a whole file, refusing more than NBFORMAT_MAX_BYTES. */
static int read_file(const char *file_path, buf_t *b, err_t *err)
{
	FILE *fp = fopen(file_path, "rb");
	char chunk[65536];
	size_t n;
	int rc = 0;

	if (!fp)
		return err_set(err, errno == ENOENT ? CG_ENOTFOUND : CG_ESYS, "cannot read the notebook file: %s",
			       strerror(errno));
	while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
		if ((rc = buf_append(b, chunk, n))) {
			rc = err_set(err, rc, "the notebook file is too large");
			break;
		}
	if (!rc && ferror(fp))
		rc = err_set(err, CG_ESYS, "cannot read the notebook file");
	fclose(fp);
	return rc;
}

/* Whether bytes hashing to sha are what a checkout of the branch's head
 * would write; head_id gets the head. */
static bool shows_head(store_t *s, const char *path, const char *branch, const char *sha,
		       char head_id[STORE_ID_LEN])
{
	char head_sha[STORE_HASH_LEN] = "";
	json_t *nb = NULL;
	buf_t b;

	buf_init(&b, NBFORMAT_MAX_BYTES);
	if (store_branch_head(s, path, branch, head_id, NULL) == 0 &&
	    store_load(s, head_id, &nb, NULL) == 0 && nbformat_write(nb, &b) == 0)
		store_sha256_hex(b.data, b.len, head_sha);
	json_decref(nb);
	buf_free(&b);
	return strcmp(head_sha, sha) == 0;
}

int store_sync_file(store_t *s, const char *path, const char *file_path, int *imported,
		    char out_id[STORE_ID_LEN], err_t *err)
{
	char sha[STORE_HASH_LEN], id[STORE_ID_LEN];
	json_t *co = NULL, *nb = NULL;
	const char *branch, *version;
	buf_t b;
	int rc;

	*imported = 0;
	buf_init(&b, NBFORMAT_MAX_BYTES);
	if ((rc = store_checkout_get(s, path, &co, err)) || (rc = read_file(file_path, &b, err)))
		goto out;
	branch = json_string_value(json_object_get(co, "branch"));
	version = json_string_value(json_object_get(co, "version"));
	store_sha256_hex(b.data ? b.data : "", b.len, sha);
	memcpy(id, version, STORE_ID_LEN);
	if (strcmp(sha, json_string_value(json_object_get(co, "file_sha256"))) == 0) {
		char head[STORE_ID_LEN];

		/* Unchanged on disk, but the branch moved without the file (a crash before
		 * the file write, or a save through another process): write the head. */
		if ((rc = store_branch_head(s, path, branch, head, err)))
			goto out;
		if (strcmp(head, version) != 0 && (rc = store_checkout(s, path, branch, file_path, id, err)))
			goto out;
		goto done;
	}
	if (shows_head(s, path, branch, sha, id)) {
		/* a crash after the file write, before its record: the file
		 * is the head already, so only the record was missing */
		rc = store_checkout_record(s, path, branch, id, sha, err);
		goto done;
	}
	nb = nbformat_read(b.data ? b.data : "", b.len, err);
	if (!nb) {
		rc = err_wrap(err, "the notebook file changed on disk and is not a valid notebook");
		goto out;
	}
	/* On top of the branch's head: the file shows the branch, whatever was saved since. */
	if ((rc = store_save(s, path, branch, NULL, nb, SYNC_PRINCIPAL, "changed on disk", id, err)) ||
	    (rc = store_checkout_record(s, path, branch, id, sha, err)))
		goto out;
	*imported = 1;
done:
	if (!rc && out_id)
		memcpy(out_id, id, STORE_ID_LEN);
out:
	json_decref(nb);
	json_decref(co);
	buf_free(&b);
	return rc;
}
