/*
 * The nbformat 4.5 JSON schema (nbformat/v4/nbformat.v4.5.schema.json as
 * python3-nbformat ships it), written out as code so that a refusal can name
 * the field: "cells[3].outputs[0].name: expected a string". Only what the
 * schema enforces is checked: metadata keys it does not know are allowed,
 * and the places where the schema is misspelled ("item" in authors,
 * "source_hidden" outside "properties") are not enforced, as jsonschema does
 * not enforce them either.
 */
#include "nbformat.h"
#include "nbformat_private.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define WHERE_LEN 160

static int fail(err_t *err, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(err_t *err, const char *where, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	return err_set(err, CG_EINVAL, "%s: %s", where, msg);
}

/* Paths like cells[3].outputs[0].data["text/plain"]; truncation only shortens a message. */
static void truncated(char *dst, int n)
{
	if (n < 0)
		dst[0] = '\0';
}

static void sub_key(char *dst, const char *where, const char *key)
{
	truncated(dst, snprintf(dst, WHERE_LEN, "%s%s%s", where, *where ? "." : "", key));
}

static void sub_quoted(char *dst, const char *where, const char *key)
{
	truncated(dst, snprintf(dst, WHERE_LEN, "%s[\"%.60s\"]", where, key));
}

static void sub_index(char *dst, const char *where, size_t i)
{
	truncated(dst, snprintf(dst, WHERE_LEN, "%s[%zu]", where, i));
}

bool nbf_is_multiline(const json_t *v)
{
	size_t i;
	json_t *s;

	if (json_is_string(v))
		return true;
	if (!json_is_array(v))
		return false;
	json_array_foreach(v, i, s)
		if (!json_is_string(s))
			return false;
	return true;
}

static int check_multiline(const json_t *v, const char *where, err_t *err)
{
	if (!nbf_is_multiline(v))
		return fail(err, where, "expected a string or a list of strings");
	return 0;
}

/* Fields the schema allows on an object; anything else is refused. */
static int check_keys(const json_t *obj, const char *where, const char *const *allowed, err_t *err)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v) {
		bool ok = false;

		for (const char *const *a = allowed; *a; a++)
			ok = ok || strcmp(*a, k) == 0;
		if (!ok)
			return fail(err, where, "unexpected field \"%.60s\"", k);
	}
	return 0;
}

static int check_required(const json_t *obj, const char *where, const char *const *req, err_t *err)
{
	for (const char *const *r = req; *r; r++)
		if (!json_object_get(obj, *r))
			return fail(err, where, "missing required field \"%s\"", *r);
	return 0;
}

static int check_type(const json_t *v, json_type t, const char *where, err_t *err)
{
	static const char *const names[] = {
		[JSON_OBJECT] = "an object", [JSON_ARRAY] = "a list", [JSON_STRING] = "a string",
		[JSON_INTEGER] = "an integer", [JSON_REAL] = "a number", [JSON_TRUE] = "a boolean",
		[JSON_FALSE] = "a boolean", [JSON_NULL] = "null",
	};

	if (t == JSON_TRUE ? !json_is_boolean(v) : json_typeof(v) != t)
		return fail(err, where, "expected %s", names[t]);
	return 0;
}

/* Optional field of a given type: absent is fine. */
static int check_opt(const json_t *obj, const char *key, json_type t, const char *where, err_t *err)
{
	char w[WHERE_LEN];
	json_t *v = json_object_get(obj, key);

	if (!v)
		return 0;
	sub_key(w, where, key);
	return check_type(v, t, w, err);
}

static int check_execution_count(const json_t *v, const char *where, err_t *err)
{
	if (json_is_null(v) || (json_is_integer(v) && json_integer_value(v) >= 0))
		return 0;
	return fail(err, where, "expected a non-negative integer or null");
}

/* The schema's "^application/(.*\+)?json$", as Python's re.search reads it. */
static bool is_schema_json_mime(const char *k)
{
	size_t n = strlen(k);
	const char *mid;
	size_t mlen;

	if (n && k[n - 1] == '\n')  /* '$' also matches before a final newline */
		n--;
	if (n < 16 || strncmp(k, "application/", 12) || strncmp(k + n - 4, "json", 4))
		return false;
	mid = k + 12;
	mlen = n - 16;
	if (mlen && mid[mlen - 1] != '+')
		return false;
	return memchr(mid, '\n', mlen) == NULL;
}

static int check_mimebundle(const json_t *v, const char *where, err_t *err)
{
	char w[WHERE_LEN];
	const char *k;
	json_t *x;
	int rc;

	if ((rc = check_type(v, JSON_OBJECT, where, err)))
		return rc;
	json_object_foreach((json_t *)v, k, x) {
		if (is_schema_json_mime(k))
			continue;
		sub_quoted(w, where, k);
		if ((rc = check_multiline(x, w, err)))
			return rc;
	}
	return 0;
}

/* "^.+$": non-empty, no newline except one at the very end. */
static bool is_metadata_name(const char *s, size_t len)
{
	if (len && s[len - 1] == '\n')
		len--;
	return len > 0 && !memchr(s, '\n', len);
}

static int check_cell_metadata(const json_t *md, const char *type, const char *where, err_t *err)
{
	char w[WHERE_LEN], wi[WHERE_LEN];
	json_t *v, *t;
	size_t i;
	int rc;

	if ((rc = check_type(md, JSON_OBJECT, where, err)))
		return rc;
	if ((v = json_object_get(md, "name")) &&
	    !(json_is_string(v) && is_metadata_name(json_string_value(v), json_string_length(v)))) {
		sub_key(w, where, "name");
		return fail(err, w, "expected a non-empty single-line string");
	}
	if ((v = json_object_get(md, "tags"))) {
		sub_key(w, where, "tags");
		if ((rc = check_type(v, JSON_ARRAY, w, err)))
			return rc;
		json_array_foreach(v, i, t) {
			sub_index(wi, w, i);
			if (!json_is_string(t) || json_string_length(t) == 0 ||
			    memchr(json_string_value(t), ',', json_string_length(t)))
				return fail(err, wi, "expected a non-empty string without commas");
			for (size_t j = 0; j < i; j++)
				if (json_equal(t, json_array_get(v, j)))
					return fail(err, wi, "duplicate tag");
		}
	}
	if ((rc = check_opt(md, "jupyter", JSON_OBJECT, where, err)))
		return rc;
	if (strcmp(type, "raw") == 0)
		return check_opt(md, "format", JSON_STRING, where, err);
	if (strcmp(type, "code") != 0)
		return 0;
	if ((v = json_object_get(md, "execution"))) {
		const char *k;

		sub_key(w, where, "execution");
		if ((rc = check_type(v, JSON_OBJECT, w, err)))
			return rc;
		json_object_foreach(v, k, t) {
			sub_quoted(wi, w, k);
			if ((rc = check_type(t, JSON_STRING, wi, err)))
				return rc;
		}
	}
	if ((rc = check_opt(md, "collapsed", JSON_TRUE, where, err)))
		return rc;
	if ((v = json_object_get(md, "scrolled")) && !json_is_boolean(v) &&
	    !(json_is_string(v) && strcmp(json_string_value(v), "auto") == 0)) {
		sub_key(w, where, "scrolled");
		return fail(err, w, "expected true, false or \"auto\"");
	}
	return 0;
}

static int check_output(const json_t *o, const char *where, err_t *err)
{
	static const char *const er_keys[] = { "output_type", "data", "metadata", "execution_count", NULL };
	static const char *const dd_keys[] = { "output_type", "data", "metadata", NULL };
	static const char *const st_keys[] = { "output_type", "name", "text", NULL };
	static const char *const err_keys[] = { "output_type", "ename", "evalue", "traceback", NULL };
	char w[WHERE_LEN], wi[WHERE_LEN];
	const char *const *keys;
	const char *type;
	json_t *v;
	size_t i;
	int rc;

	if ((rc = check_type(o, JSON_OBJECT, where, err)))
		return rc;
	v = json_object_get(o, "output_type");
	if (!v)
		return fail(err, where, "missing required field \"output_type\"");
	type = json_string_value(v);
	if (!type)
		return fail(err, where, "output_type: expected a string");
	if (strcmp(type, "execute_result") == 0)
		keys = er_keys;
	else if (strcmp(type, "display_data") == 0)
		keys = dd_keys;
	else if (strcmp(type, "stream") == 0)
		keys = st_keys;
	else if (strcmp(type, "error") == 0)
		keys = err_keys;
	else
		return fail(err, where, "unknown output_type \"%.40s\"", type);
	if ((rc = check_required(o, where, keys, err)) || (rc = check_keys(o, where, keys, err)))
		return rc;
	if (keys == er_keys || keys == dd_keys) {
		sub_key(w, where, "data");
		if ((rc = check_mimebundle(json_object_get(o, "data"), w, err)) ||
		    (rc = check_opt(o, "metadata", JSON_OBJECT, where, err)))
			return rc;
		if (keys == er_keys) {
			sub_key(w, where, "execution_count");
			return check_execution_count(json_object_get(o, "execution_count"), w, err);
		}
		return 0;
	}
	if (keys == st_keys) {
		sub_key(w, where, "text");
		if ((rc = check_opt(o, "name", JSON_STRING, where, err)))
			return rc;
		return check_multiline(json_object_get(o, "text"), w, err);
	}
	if ((rc = check_opt(o, "ename", JSON_STRING, where, err)) ||
	    (rc = check_opt(o, "evalue", JSON_STRING, where, err)) ||
	    (rc = check_opt(o, "traceback", JSON_ARRAY, where, err)))
		return rc;
	sub_key(w, where, "traceback");
	json_array_foreach(json_object_get(o, "traceback"), i, v) {
		sub_index(wi, w, i);
		if ((rc = check_type(v, JSON_STRING, wi, err)))
			return rc;
	}
	return 0;
}

int nbformat_is_cell_id(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 64)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

int nbf_check_cell(const json_t *c, const char *where, bool need_id, err_t *err)
{
	static const char *const text_keys[] = { "id", "cell_type", "metadata", "attachments", "source", NULL };
	static const char *const code_keys[] = { "id", "cell_type", "metadata", "source", "outputs",
						 "execution_count", NULL };
	static const char *const text_req[] = { "cell_type", "metadata", "source", NULL };
	static const char *const code_req[] = { "cell_type", "metadata", "source", "outputs",
						"execution_count", NULL };
	char w[WHERE_LEN], wi[WHERE_LEN];
	const char *type, *k;
	bool is_code;
	json_t *v;
	size_t i;
	int rc;

	if ((rc = check_type(c, JSON_OBJECT, where, err)))
		return rc;
	v = json_object_get(c, "cell_type");
	if (!v)
		return fail(err, where, "missing required field \"cell_type\"");
	type = json_string_value(v);
	if (!type || (strcmp(type, "code") && strcmp(type, "markdown") && strcmp(type, "raw")))
		return fail(err, where, "cell_type: expected \"code\", \"markdown\" or \"raw\"");
	is_code = strcmp(type, "code") == 0;
	if ((rc = check_required(c, where, is_code ? code_req : text_req, err)))
		return rc;
	/* Below 4.5 an id, valid or not, is replaced by the upgrade, so only its presence is allowed. */
	if ((rc = check_keys(c, where, is_code ? code_keys : text_keys, err)))
		return rc;
	if ((v = json_object_get(c, "id"))) {
		sub_key(w, where, "id");
		if (need_id && !(json_is_string(v) && json_string_length(v) == strlen(json_string_value(v)) &&
				 nbformat_is_cell_id(json_string_value(v))))
			return fail(err, w, "expected 1 to 64 characters of A-Z, a-z, 0-9, '-' or '_'");
	}
	sub_key(w, where, "metadata");
	if ((rc = check_cell_metadata(json_object_get(c, "metadata"), type, w, err)))
		return rc;
	sub_key(w, where, "source");
	if ((rc = check_multiline(json_object_get(c, "source"), w, err)))
		return rc;
	if ((v = json_object_get(c, "attachments"))) {
		sub_key(w, where, "attachments");
		if ((rc = check_type(v, JSON_OBJECT, w, err)))
			return rc;
		json_t *bundle;

		json_object_foreach(v, k, bundle) {
			sub_quoted(wi, w, k);
			if ((rc = check_mimebundle(bundle, wi, err)))
				return rc;
		}
	}
	if (!is_code)
		return 0;
	sub_key(w, where, "execution_count");
	if ((rc = check_execution_count(json_object_get(c, "execution_count"), w, err)))
		return rc;
	sub_key(w, where, "outputs");
	if ((rc = check_type(json_object_get(c, "outputs"), JSON_ARRAY, w, err)))
		return rc;
	json_array_foreach(json_object_get(c, "outputs"), i, v) {
		sub_index(wi, w, i);
		if ((rc = check_output(v, wi, err)))
			return rc;
	}
	return 0;
}

static int check_nb_metadata(const json_t *md, err_t *err)
{
	static const char *const ks_req[] = { "name", "display_name", NULL };
	static const char *const li_req[] = { "name", NULL };
	json_t *v, *cm;
	int rc;

	if ((rc = check_type(md, JSON_OBJECT, "metadata", err)))
		return rc;
	if ((v = json_object_get(md, "kernelspec"))) {
		if ((rc = check_type(v, JSON_OBJECT, "metadata.kernelspec", err)) ||
		    (rc = check_required(v, "metadata.kernelspec", ks_req, err)) ||
		    (rc = check_opt(v, "name", JSON_STRING, "metadata.kernelspec", err)) ||
		    (rc = check_opt(v, "display_name", JSON_STRING, "metadata.kernelspec", err)))
			return rc;
	}
	if ((v = json_object_get(md, "language_info"))) {
		const char *w = "metadata.language_info";

		if ((rc = check_type(v, JSON_OBJECT, w, err)) || (rc = check_required(v, w, li_req, err)) ||
		    (rc = check_opt(v, "name", JSON_STRING, w, err)) ||
		    (rc = check_opt(v, "file_extension", JSON_STRING, w, err)) ||
		    (rc = check_opt(v, "mimetype", JSON_STRING, w, err)) ||
		    (rc = check_opt(v, "pygments_lexer", JSON_STRING, w, err)))
			return rc;
		cm = json_object_get(v, "codemirror_mode");
		if (cm && !json_is_string(cm) && !json_is_object(cm))
			return fail(err, "metadata.language_info.codemirror_mode", "expected a string or an object");
	}
	if ((v = json_object_get(md, "orig_nbformat")) && !(json_is_integer(v) && json_integer_value(v) >= 1))
		return fail(err, "metadata.orig_nbformat", "expected a positive integer");
	if ((rc = check_opt(md, "title", JSON_STRING, "metadata", err)) ||
	    (rc = check_opt(md, "authors", JSON_ARRAY, "metadata", err)))
		return rc;
	return 0;
}

int nbf_check_notebook(const json_t *nb, bool need_ids, err_t *err)
{
	static const char *const keys[] = { "metadata", "nbformat_minor", "nbformat", "cells", NULL };
	char w[WHERE_LEN];
	json_t *v, *cells;
	size_t i;
	int rc;

	if (!json_is_object(nb))
		return err_set(err, CG_EINVAL, "notebook: expected a JSON object");
	v = json_object_get(nb, "nbformat");
	if (!json_is_integer(v) || json_integer_value(v) != 4)
		return fail(err, "nbformat", "expected 4 (only nbformat 4 notebooks are supported)");
	if ((rc = check_required(nb, "notebook", keys, err)) || (rc = check_keys(nb, "notebook", keys, err)))
		return rc;
	v = json_object_get(nb, "nbformat_minor");
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return fail(err, "nbformat_minor", "expected a non-negative integer");
	if ((rc = check_nb_metadata(json_object_get(nb, "metadata"), err)))
		return rc;
	cells = json_object_get(nb, "cells");
	if ((rc = check_type(cells, JSON_ARRAY, "cells", err)))
		return rc;
	json_array_foreach(cells, i, v) {
		sub_index(w, "cells", i);
		if ((rc = nbf_check_cell(v, w, need_ids, err)))
			return rc;
	}
	return 0;
}

int nbformat_validate(const json_t *nb, err_t *err)
{
	json_t *v = json_object_get(nb, "nbformat_minor");
	json_t *c;
	json_t *seen;
	size_t i;
	int rc;

	if ((rc = nbf_check_notebook(nb, true, err)))
		return rc;
	if (json_integer_value(v) < 5)
		return fail(err, "nbformat_minor", "expected 5 or more");
	seen = json_object();
	if (!seen)
		return err_set(err, CG_ESYS, "out of memory");
	json_array_foreach(json_object_get(nb, "cells"), i, c) {
		json_t *id = json_object_get(c, "id");

		if (!id) {
			rc = fail(err, "cells", "cell %zu has no id", i);
			break;
		}
		if (json_object_get(seen, json_string_value(id))) {
			rc = fail(err, "cells", "cell %zu repeats the id \"%s\"", i, json_string_value(id));
			break;
		}
		json_object_set_new(seen, json_string_value(id), json_true());
	}
	json_decref(seen);
	return rc;
}
