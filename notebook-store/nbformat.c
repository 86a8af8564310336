/*
 * .ipynb import and export (see nbformat.h). The transformations mirror
 * python3-nbformat 5.5 one for one, so each function names its original:
 * rejoin_lines and strip_transient (nbformat/v4/rwbase.py) on read,
 * upgrade (v4/convert.py) and the id repair of validator._normalize, and
 * split_lines plus json.dumps(sort_keys, indent=1, ensure_ascii=False) on
 * write (v4/nbjson.py).
 */
#include "nbformat.h"
#include "nbformat_private.h"
#include "pyjson.h"
#include "../common/util.h"
#include "../common/jparse.h"

#include <openssl/evp.h>
#include <stdint.h>

#include <stdbool.h>
#include <string.h>

/* rwbase._is_json_mime: JSON values are kept as they are, never joined. */
static bool is_json_mime(const char *k)
{
	size_t n = strlen(k);

	return strcmp(k, "application/json") == 0 ||
	       (strncmp(k, "application/", 12) == 0 && n >= 5 && strcmp(k + n - 5, "+json") == 0);
}

/* "".join(list): a new string; NULL on allocation failure. */
static json_t *join_lines(const json_t *list)
{
	json_t *s, *out;
	size_t i;
	buf_t b;

	buf_init(&b, 0);
	json_array_foreach(list, i, s)
		if (buf_append(&b, json_string_value(s), json_string_length(s))) {
			buf_free(&b);
			return NULL;
		}
	out = json_stringn_nocheck(b.data ? b.data : "", b.len);
	buf_free(&b);
	return out;
}

static int join_field(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key), *s;

	if (!json_is_array(v) || !nbf_is_multiline(v))
		return 0;
	s = join_lines(v);
	return s ? json_object_set_new(obj, key, s) : -1;
}

static int rejoin_mimebundle(json_t *data)
{
	const char *k;
	json_t *v;

	if (!json_is_object(data))
		return 0;
	json_object_foreach(data, k, v)
		if (!is_json_mime(k) && join_field(data, k))
			return -1;
	return 0;
}

/* rwbase.rejoin_lines, for a notebook that passed nbf_check_notebook. */
static int rejoin_lines(json_t *nb)
{
	json_t *cell, *out, *att;
	const char *k;
	size_t i, j;

	json_array_foreach(json_object_get(nb, "cells"), i, cell) {
		if (join_field(cell, "source"))
			return -1;
		json_object_foreach(json_object_get(cell, "attachments"), k, att)
			if (rejoin_mimebundle(att))
				return -1;
		if (strcmp(json_string_value(json_object_get(cell, "cell_type")), "code"))
			continue;
		json_array_foreach(json_object_get(cell, "outputs"), j, out) {
			const char *type = json_string_value(json_object_get(out, "output_type"));

			if (!strcmp(type, "execute_result") || !strcmp(type, "display_data")) {
				if (rejoin_mimebundle(json_object_get(out, "data")))
					return -1;
			} else if (*type && join_field(out, "text")) {
				return -1;
			}
		}
	}
	return 0;
}

/* rwbase.strip_transient; tolerant of any shape, as it runs before validation. */
static void strip_transient(json_t *nb)
{
	json_t *md = json_object_get(nb, "metadata"), *cell;
	size_t i;

	json_object_del(md, "orig_nbformat");
	json_object_del(md, "orig_nbformat_minor");
	json_object_del(md, "signature");
	json_array_foreach(json_object_get(nb, "cells"), i, cell)
		json_object_del(json_object_get(cell, "metadata"), "trusted");
}

/* The bytes a notebook was read from; their SHA-256 is taken only when an
 * id has to be drawn (most files need none). */
typedef struct id_seed {
	const char *data;
	size_t len;
	bool hashed;
	unsigned char sha[32];
} id_seed_t;

static const unsigned char *seed_bytes(id_seed_t *sd)
{
	unsigned int n = 0;

	if (!sd)
		return NULL;
	if (!sd->hashed) {
		EVP_Digest(sd->data, sd->len, sd->sha, &n, EVP_sha256(), NULL);
		sd->hashed = true;
	}
	return sd->sha;
}

/*
 * corpus.words.generate_corpus_id, redrawn until unique among seen. With a
 * seed (the SHA-256 of the file being read) the id is drawn from the seed
 * and the cell's place instead of at random: the same bytes then always
 * read with the same ids, so a GET of a 4.0-4.4 file shows the ids of the
 * version it was imported as, not new ones at every read. The ids still
 * look like nbformat's (8 lowercase hex digits).
 */
static int new_cell_id(json_t *cell, json_t *seen, id_seed_t *sd, size_t index)
{
	const unsigned char *seed = seed_bytes(sd);
	char id[2 * (NBFORMAT_CELL_ID_LEN / 2) + 1];
	unsigned attempt = 0;

	do {
		if (seed) {
			unsigned char in[32 + 2 * sizeof(uint64_t)], md[32];
			uint64_t n[2] = { index, attempt++ };
			unsigned int mdlen = 0;

			memcpy(in, seed, 32);
			memcpy(in + 32, n, sizeof n);
			EVP_Digest(in, sizeof in, md, &mdlen, EVP_sha256(), NULL);
			util_hex_encode(md, NBFORMAT_CELL_ID_LEN / 2, id);
		} else if (util_random_hex(id, NBFORMAT_CELL_ID_LEN / 2)) {
			return CG_ESYS;
		}
	} while (json_object_get(seen, id));
	if (json_object_set_new(cell, "id", json_string(id)) || json_object_set_new(seen, id, json_true()))
		return CG_ESYS;
	return 0;
}

/*
 * convert.upgrade (4.x to 4.5: every cell gets a new id) and
 * validator._normalize (4.5: a missing or repeated id is replaced).
 */
static int assign_ids(json_t *nb, bool is_upgrade, id_seed_t *sd)
{
	json_t *seen = json_object(), *cell;
	size_t i;
	int rc = 0;

	if (!seen)
		return CG_ESYS;
	json_array_foreach(json_object_get(nb, "cells"), i, cell) {
		const char *id = json_string_value(json_object_get(cell, "id"));

		if (is_upgrade || !id || json_object_get(seen, id))
			rc = new_cell_id(cell, seen, sd, i);
		else if (json_object_set_new(seen, id, json_true()))
			rc = CG_ESYS;
		if (rc)
			break;
	}
	json_decref(seen);
	return rc;
}

static int normalize(json_t *nb, id_seed_t *sd, err_t *err)
{
	json_t *minor;
	bool is_upgrade;
	int rc;

	if (!json_is_object(nb))
		return err_set(err, CG_EINVAL, "notebook: expected a JSON object");
	strip_transient(nb);
	minor = json_object_get(nb, "nbformat_minor");
	is_upgrade = json_is_integer(minor) && json_integer_value(minor) < 5;
	if ((rc = nbf_check_notebook(nb, !is_upgrade, err)))
		return rc;
	if (rejoin_lines(nb) || assign_ids(nb, is_upgrade, sd))
		return err_set(err, CG_ESYS, "out of memory normalizing a notebook");
	if (is_upgrade && json_object_set_new(nb, "nbformat_minor", json_integer(5)))
		return err_set(err, CG_ESYS, "out of memory normalizing a notebook");
	return 0;
}

int nbformat_normalize(json_t *nb, err_t *err)
{
	return normalize(nb, NULL, err);
}

json_t *nbformat_read(const char *data, size_t len, err_t *err)
{
	id_seed_t sd = { .data = data, .len = len };
	json_error_t jerr;
	json_t *nb;

	if (len > NBFORMAT_MAX_BYTES) {
		err_set(err, CG_ETOOBIG, "notebook is larger than %zu MiB", NBFORMAT_MAX_BYTES >> 20);
		return NULL;
	}
	/* JSON_ALLOW_NUL: Python reads "\u0000" in strings, so must we. */
	nb = jparse(data, len, JSON_ALLOW_NUL, &jerr);
	if (!nb) {
		err_set(err, CG_EINVAL, "notebook is not valid JSON (line %d, column %d): %s",
			jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	if (normalize(nb, &sd, err)) {
		json_decref(nb);
		return NULL;
	}
	return nb;
}

/* Python's str.splitlines(keepends=True) on UTF-8 text. */
static json_t *split_lines_of(const char *s, size_t len)
{
	json_t *list = json_array();
	size_t start = 0, i = 0;

	if (!list)
		return NULL;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		size_t brk = 0;

		/* the bytes that may start a line break: C0 controls, and the
		 * lead bytes of U+0085 and U+2028/9 */
		if (c >= 0x20 && c != 0xc2 && c != 0xe2) {
			i++;
			continue;
		}

		if (c == '\r')
			brk = (i + 1 < len && s[i + 1] == '\n') ? 2 : 1;
		else if (c == '\n' || c == 0x0b || c == 0x0c || c == 0x1c || c == 0x1d || c == 0x1e)
			brk = 1;
		else if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] == 0x85)
			brk = 2;  /* U+0085 NEXT LINE */
		else if (c == 0xe2 && i + 2 < len && (unsigned char)s[i + 1] == 0x80 &&
			 ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9))
			brk = 3;  /* U+2028, U+2029 */
		if (!brk) {
			i++;
			continue;
		}
		i += brk;
		if (json_array_append_new(list, json_stringn_nocheck(s + start, i - start)))
			goto fail;
		start = i;
	}
	if (start < len && json_array_append_new(list, json_stringn_nocheck(s + start, len - start)))
		goto fail;
	return list;
fail:
	json_decref(list);
	return NULL;
}

static int split_field(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key), *list;

	if (!json_is_string(v))
		return 0;
	list = split_lines_of(json_string_value(v), json_string_length(v));
	return list ? json_object_set_new(obj, key, list) : -1;
}

/* rwbase._split_mimebundle: text types, JavaScript and SVG are split, the rest kept. */
static int split_mimebundle(json_t *data)
{
	const char *k;
	json_t *v;

	if (!json_is_object(data))
		return 0;
	json_object_foreach(data, k, v) {
		if (strncmp(k, "text/", 5) && strcmp(k, "application/javascript") && strcmp(k, "image/svg+xml"))
			continue;
		if (split_field(data, k))
			return -1;
	}
	return 0;
}

/* rwbase.split_lines, tolerant of any shape (the writer does not validate). */
static int split_lines(json_t *nb)
{
	json_t *cell, *out, *att;
	const char *k;
	size_t i, j;

	json_array_foreach(json_object_get(nb, "cells"), i, cell) {
		if (split_field(cell, "source"))
			return -1;
		json_object_foreach(json_object_get(cell, "attachments"), k, att)
			if (split_mimebundle(att))
				return -1;
		k = json_string_value(json_object_get(cell, "cell_type"));
		if (!k || strcmp(k, "code"))
			continue;
		json_array_foreach(json_object_get(cell, "outputs"), j, out) {
			const char *type = json_string_value(json_object_get(out, "output_type"));

			if (!type)
				continue;
			if (!strcmp(type, "execute_result") || !strcmp(type, "display_data")) {
				if (split_mimebundle(json_object_get(out, "data")))
					return -1;
			} else if (!strcmp(type, "stream") && split_field(out, "text")) {
				return -1;
			}
		}
	}
	return 0;
}

int nbformat_write(const json_t *nb, buf_t *out)
{
	json_t *copy = json_deep_copy(nb);
	int rc;

	if (!copy)
		return CG_ESYS;
	strip_transient(copy);
	if (split_lines(copy)) {
		rc = CG_ESYS;
		goto out;
	}
	if ((rc = pyjson_dump(copy, 1, out)))
		goto out;
	rc = buf_append(out, "\n", 1);
out:
	json_decref(copy);
	return rc;
}
