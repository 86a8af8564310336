/*
 * Output normalisation, comparison and the HTML report (see replay_report.h).
 */
#include "replay_report.h"

#include <ctype.h>
#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#define RE_ADDRESS "0x[0-9a-fA-F]{6,}"
#define RE_DATETIME "[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?"
#define RE_CLOCK "[0-9]{1,2}:[0-9]{2}:[0-9]{2}([.,][0-9]+)?"
#define RE_DURATION "[0-9]+([.][0-9]+)?([eE][-+]?[0-9]+)? ?(ns|us|\xc2\xb5s|ms|s|sec|secs|second|seconds|min|mins|minutes|h|hours)"

void replay_opts_defaults(replay_opts_t *o)
{
	memset(o, 0, sizeof *o);
	o->mask_addresses = o->mask_timestamps = o->mask_durations = true;
	o->rel_tol = 1e-9;
	o->abs_tol = 0;
}

void replay_opts_clear(replay_opts_t *o)
{
	for (size_t i = 0; i < o->n_masks; i++)
		free(o->masks[i]);
	o->n_masks = 0;
	for (size_t i = 0; i < o->n_grants; i++)
		free(o->grants[i]);
	o->n_grants = 0;
}

/* "HOST:PORT" with a plausible host and a port of 1-65535. */
static bool is_destination(const char *d)
{
	const char *colon = strrchr(d, ':'), *p;
	char *end;
	long port;

	if (!colon || colon == d || (size_t)(colon - d) > 255)
		return false;
	port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 1 || port > 65535)
		return false;
	if (d[0] == '[')
		return colon[-1] == ']' && colon - d > 2 && strspn(d + 1, "0123456789abcdefABCDEF:.") ==
			(size_t)(colon - d - 2);
	for (p = d; p < colon; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
			return false;
	return true;
}

int replay_grants_from_json(replay_opts_t *o, const json_t *j, err_t *err)
{
	const json_t *g;
	size_t i;

	if (!j || json_is_null(j))
		return 0;
	if (!json_is_array(j) || json_array_size(j) + o->n_grants > REPLAY_MAX_GRANTS)
		return err_set(err, CG_EINVAL, "\"grant\" must be a list of at most %d effects "
			       "(\"network:HOST:PORT\")", REPLAY_MAX_GRANTS);
	json_array_foreach(j, i, g) {
		const char *v = json_string_value(g);

		if (!v || strncmp(v, "network:", 8) != 0 || !is_destination(v + 8))
			return err_set(err, CG_EINVAL, "grant[%zu] must be \"network:HOST:PORT\"", i);
		if (!(o->grants[o->n_grants] = strdup(v + 8)))
			return err_set(err, CG_ESYS, "out of memory");
		o->n_grants++;
	}
	return 0;
}

json_t *replay_grants_to_json(const replay_opts_t *o)
{
	json_t *a = json_array();
	char e[300];

	for (size_t i = 0; i < o->n_grants; i++) {
		snprintf(e, sizeof e, "network:%s", o->grants[i]);
		json_array_append_new(a, json_string(e));
	}
	return a;
}

static int get_bool(const json_t *j, const char *key, bool *out, err_t *err)
{
	const json_t *v = json_object_get(j, key);

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return err_set(err, CG_EINVAL, "\"%s\" must be true or false", key);
	*out = json_is_true(v);
	return 0;
}

static int get_tol(const json_t *j, const char *key, double *out, err_t *err)
{
	const json_t *v = json_object_get(j, key);

	if (!v)
		return 0;
	if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1e300)
		return err_set(err, CG_EINVAL, "\"%s\" must be a number from 0", key);
	*out = json_number_value(v);
	return 0;
}

int replay_opts_from_json(replay_opts_t *o, const json_t *j, err_t *err)
{
	const json_t *masks, *m;
	size_t i;
	int rc;

	if (!j || json_is_null(j))
		return 0;
	if (!json_is_object(j))
		return err_set(err, CG_EINVAL, "\"compare\" must be an object");
	if ((rc = get_bool(j, "mask_addresses", &o->mask_addresses, err)) ||
	    (rc = get_bool(j, "mask_timestamps", &o->mask_timestamps, err)) ||
	    (rc = get_bool(j, "mask_durations", &o->mask_durations, err)) ||
	    (rc = get_tol(j, "rel_tol", &o->rel_tol, err)) || (rc = get_tol(j, "abs_tol", &o->abs_tol, err)))
		return rc;
	masks = json_object_get(j, "masks");
	if (!masks)
		return 0;
	if (!json_is_array(masks) || json_array_size(masks) > REPLAY_MAX_MASKS)
		return err_set(err, CG_EINVAL, "\"masks\" must be a list of at most %d regular expressions",
			       REPLAY_MAX_MASKS);
	json_array_foreach(masks, i, m) {
		const char *re = json_string_value(m);
		regex_t r;

		if (!re || !*re || strlen(re) > 1000)
			return err_set(err, CG_EINVAL, "masks[%zu] must be a regular expression of 1 to 1000 bytes", i);
		if (regcomp(&r, re, REG_EXTENDED) != 0)
			return err_set(err, CG_EINVAL, "masks[%zu] is not a POSIX extended regular expression", i);
		regfree(&r);
		if (!(o->masks[o->n_masks] = strdup(re)))
			return err_set(err, CG_ESYS, "out of memory");
		o->n_masks++;
	}
	return 0;
}

json_t *replay_opts_to_json(const replay_opts_t *o)
{
	json_t *masks = json_array();

	for (size_t i = 0; i < o->n_masks; i++)
		json_array_append_new(masks, json_string(o->masks[i]));
	return json_pack("{s:b, s:b, s:b, s:f, s:f, s:o, s:s}", "mask_addresses", o->mask_addresses,
			 "mask_timestamps", o->mask_timestamps, "mask_durations", o->mask_durations,
			 "rel_tol", o->rel_tol, "abs_tol", o->abs_tol, "masks", masks,
			 "images", "exact hash");
}

/* --- masks ----------------------------------------------------------------- */

/* Replaces every match of re in text with with; returns a new string.
 * letter_bound: a match followed by a letter is not one ("5 seconds" yes, "5 sheep" no). */
static char *mask_one(const char *text, const char *re, const char *with, bool letter_bound)
{
	regex_t r;
	regmatch_t m;
	buf_t b;
	const char *p = text;
	int flags = 0;

	if (regcomp(&r, re, REG_EXTENDED) != 0)
		return strdup(text);
	buf_init(&b, 0);
	while (*p && regexec(&r, p, 1, &m, flags) == 0) {
		size_t so = (size_t)m.rm_so, eo = (size_t)m.rm_eo;
		bool ok = eo > so;

		if (ok && letter_bound) {
			/* a number glued to a word before it, or a unit followed by a letter, is not a duration */
			if (isalpha((unsigned char)p[eo]) || (so > 0 && isalnum((unsigned char)p[so - 1])) ||
			    (so == 0 && p != text && isalnum((unsigned char)p[-1])))
				ok = false;
		}
		if (!ok) {
			size_t step = so + 1;

			buf_append(&b, p, step);
			p += step;
			flags = REG_NOTBOL;
			continue;
		}
		buf_append(&b, p, so);
		buf_append_str(&b, with);
		p += eo;
		flags = REG_NOTBOL;
	}
	buf_append_str(&b, p);
	regfree(&r);
	return buf_steal(&b, NULL) ?: strdup("");
}

static char *apply(char *cur, const char *re, const char *with, bool letter_bound)
{
	char *next = mask_one(cur, re, with, letter_bound);

	free(cur);
	return next;
}

char *replay_mask_text(const char *text, const replay_opts_t *o)
{
	char *cur = strdup(text ? text : "");

	for (size_t i = 0; cur && i < o->n_masks; i++)
		cur = apply(cur, o->masks[i], "<masked>", false);
	if (cur && o->mask_timestamps) {
		cur = apply(cur, RE_DATETIME, "<timestamp>", false);
		if (cur)
			cur = apply(cur, RE_CLOCK, "<time>", false);
	}
	if (cur && o->mask_durations)
		cur = apply(cur, RE_DURATION, "<duration>", true);
	if (cur && o->mask_addresses)
		cur = apply(cur, RE_ADDRESS, "0x<address>", false);
	return cur;
}

/* --- numbers ----------------------------------------------------------------- */

static bool number_start(const char *s, const char *base)
{
	const char *d = s;

	if (s > base && (isalnum((unsigned char)s[-1]) || s[-1] == '_' || s[-1] == '.'))
		return false;
	if (*d == '-' || *d == '+')
		d++;
	if (*d == '.')
		d++;
	return isdigit((unsigned char)*d);
}

static bool close_enough(double a, double b, const replay_opts_t *o)
{
	double diff = fabs(a - b), scale = fmax(fabs(a), fabs(b));

	if (a == b)
		return true;
	if (isnan(a) || isnan(b))
		return false;
	return diff <= fmax(o->rel_tol * scale, o->abs_tol);
}

static bool tolerant_equal(const char *a, const char *b, const replay_opts_t *o)
{
	const char *pa = a, *pb = b;

	while (*pa && *pb) {
		if (number_start(pa, a) && number_start(pb, b)) {
			char *ea, *eb;
			double x = strtod(pa, &ea), y = strtod(pb, &eb);

			if (ea > pa && eb > pb) {
				if (!close_enough(x, y, o))
					return false;
				pa = ea;
				pb = eb;
				continue;
			}
		}
		if (*pa != *pb)
			return false;
		pa++;
		pb++;
	}
	return *pa == *pb;
}

bool replay_text_equal(const char *a, const char *b, const replay_opts_t *o)
{
	char *ma = replay_mask_text(a, o), *mb = replay_mask_text(b, o);
	bool eq = ma && mb && tolerant_equal(ma, mb, o);

	free(ma);
	free(mb);
	return eq;
}

/* --- outputs ------------------------------------------------------------------ */

static const char *str(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "";
}

static bool is_image(const char *mime)
{
	return strncmp(mime, "image/", 6) == 0 && strcmp(mime, "image/svg+xml") != 0;
}

static bool is_json_mime(const char *mime)
{
	size_t n = strlen(mime);

	return strcmp(mime, "application/json") == 0 || (n > 5 && strcmp(mime + n - 5, "+json") == 0);
}

static void add_diff(json_t *diff, size_t i, const char *field, const json_t *rec, const json_t *rep,
		     const replay_opts_t *o)
{
	json_t *a, *b;

	if (json_is_string(rec) || json_is_string(rep)) {
		char *ma = rec ? replay_mask_text(json_string_value(rec), o) : NULL;
		char *mb = rep ? replay_mask_text(json_string_value(rep), o) : NULL;

		a = ma ? json_string(ma) : json_null();
		b = mb ? json_string(mb) : json_null();
		free(ma);
		free(mb);
	} else {
		a = rec ? json_deep_copy(rec) : json_null();
		b = rep ? json_deep_copy(rep) : json_null();
	}
	json_array_append_new(diff, json_pack("{s:I, s:s, s:o, s:o}", "output", (json_int_t)i, "field",
					      field, "recorded", a, "replayed", b));
}

static void compare_text(json_t *diff, size_t i, const char *field, const json_t *a, const json_t *b,
			 const replay_opts_t *o)
{
	if (!json_is_string(a) || !json_is_string(b)) {
		if (!json_equal((json_t *)a, (json_t *)b))
			add_diff(diff, i, field, a, b, o);
		return;
	}
	if (!replay_text_equal(json_string_value(a), json_string_value(b), o))
		add_diff(diff, i, field, a, b, o);
}

static void compare_bundle(json_t *diff, size_t i, const json_t *a, const json_t *b, const replay_opts_t *o)
{
	const json_t *da = json_object_get(a, "data"), *db = json_object_get(b, "data");
	const char *mime;
	json_t *v;
	char field[300];

	json_object_foreach((json_t *)da, mime, v) {
		const json_t *w = json_object_get(db, mime);

		snprintf(field, sizeof field, "data/%s", mime);
		if (!w)
			add_diff(diff, i, field, v, NULL, o);
		else if (is_image(mime)) {
			if (!json_equal(v, (json_t *)w)) {
				json_array_append_new(diff, json_pack("{s:I, s:s, s:s, s:s}", "output", (json_int_t)i,
					"field", field, "recorded", "(image)", "replayed", "(another image)"));
			}
		} else if (is_json_mime(mime)) {
			if (!json_equal(v, (json_t *)w))
				add_diff(diff, i, field, v, w, o);
		} else {
			compare_text(diff, i, field, v, w, o);
		}
	}
	json_object_foreach((json_t *)db, mime, v) {
		snprintf(field, sizeof field, "data/%s", mime);
		if (!json_object_get(da, mime))
			add_diff(diff, i, field, NULL, v, o);
	}
}

bool replay_outputs_equal(const json_t *rec, const json_t *rep, const replay_opts_t *o, json_t **diff_out)
{
	json_t *diff = json_array();
	size_t n = json_array_size(rec), m = json_array_size(rep);

	if (n != m)
		json_array_append_new(diff, json_pack("{s:n, s:s, s:I, s:I}", "output", "field", "count",
						      "recorded", (json_int_t)n, "replayed", (json_int_t)m));
	for (size_t i = 0; i < n && i < m; i++) {
		const json_t *a = json_array_get(rec, i), *b = json_array_get(rep, i);
		const char *ta = str(a, "output_type"), *tb = str(b, "output_type");

		if (strcmp(ta, tb) != 0) {
			add_diff(diff, i, "output_type", json_object_get(a, "output_type"),
				 json_object_get(b, "output_type"), o);
			continue;
		}
		if (strcmp(ta, "stream") == 0) {
			if (strcmp(str(a, "name"), str(b, "name")) != 0)
				add_diff(diff, i, "name", json_object_get(a, "name"), json_object_get(b, "name"), o);
			compare_text(diff, i, "text", json_object_get(a, "text"), json_object_get(b, "text"), o);
		} else if (strcmp(ta, "error") == 0) {
			if (strcmp(str(a, "ename"), str(b, "ename")) != 0)
				add_diff(diff, i, "ename", json_object_get(a, "ename"), json_object_get(b, "ename"), o);
			compare_text(diff, i, "evalue", json_object_get(a, "evalue"), json_object_get(b, "evalue"), o);
		} else {
			compare_bundle(diff, i, a, b, o);
		}
	}
	if (json_array_size(diff) == 0) {
		json_decref(diff);
		if (diff_out)
			*diff_out = NULL;
		return true;
	}
	if (diff_out)
		*diff_out = diff;
	else
		json_decref(diff);
	return false;
}

/* --- HTML ---------------------------------------------------------------------- */

static void esc(buf_t *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': buf_append_str(b, "&amp;"); break;
		case '<': buf_append_str(b, "&lt;"); break;
		case '>': buf_append_str(b, "&gt;"); break;
		case '"': buf_append_str(b, "&quot;"); break;
		case '\'': buf_append_str(b, "&#39;"); break;
		default: buf_append(b, s, 1);
		}
	}
}

static bool is_base64(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n") == n;
}

/* ANSI colour codes in tracebacks are noise in a page. */
static void esc_plain(buf_t *b, const char *s)
{
	buf_t t;

	buf_init(&t, 0);
	for (; s && *s; s++) {
		if (*s == '\x1b' && s[1] == '[') {
			s += 2;
			while (*s && !isalpha((unsigned char)*s))
				s++;
			if (!*s)
				break;
			continue;
		}
		buf_append(&t, s, 1);
	}
	esc(b, t.data ? t.data : "");
	buf_free(&t);
}

static void html_output(buf_t *b, const json_t *out)
{
	const char *type = str(out, "output_type");
	const json_t *data = json_object_get(out, "data"), *v;
	static const char *const images[] = { "image/png", "image/jpeg", "image/gif", "image/webp", NULL };
	size_t i;

	if (strcmp(type, "stream") == 0) {
		buf_printf(b, "<pre class=\"%s\">", strcmp(str(out, "name"), "stderr") == 0 ? "err" : "out");
		esc_plain(b, str(out, "text"));
		buf_append_str(b, "</pre>");
		return;
	}
	if (strcmp(type, "error") == 0) {
		buf_append_str(b, "<pre class=\"err\">");
		esc(b, str(out, "ename"));
		buf_append_str(b, ": ");
		esc_plain(b, str(out, "evalue"));
		json_array_foreach(json_object_get(out, "traceback"), i, v) {
			buf_append_str(b, "\n");
			esc_plain(b, json_string_value(v));
		}
		buf_append_str(b, "</pre>");
		return;
	}
	for (i = 0; images[i]; i++) {
		const char *img = json_string_value(json_object_get(data, images[i]));

		if (img && is_base64(img)) {
			buf_printf(b, "<img alt=\"%s\" src=\"data:%s;base64,", images[i], images[i]);
			for (const char *p = img; *p; p++)
				if (*p != '\n')
					buf_append(b, p, 1);
			buf_append_str(b, "\">");
			return;
		}
	}
	v = json_object_get(data, "text/plain");
	buf_append_str(b, "<pre>");
	if (json_is_string(v)) {
		esc_plain(b, json_string_value(v));
	} else {
		char *dump = json_dumps(data, JSON_INDENT(1) | JSON_SORT_KEYS);

		esc(b, dump ? dump : "");
		free(dump);
	}
	buf_append_str(b, "</pre>");
}

static void html_outputs(buf_t *b, const json_t *outs)
{
	const json_t *o;
	size_t i;

	if (!json_is_array(outs)) {
		buf_append_str(b, "<em>none</em>");
		return;
	}
	json_array_foreach(outs, i, o)
		html_output(b, o);
}

static void html_cell(buf_t *b, const json_t *c)
{
	const char *verdict = str(c, "verdict");
	const json_t *d, *diff = json_object_get(c, "diff");
	size_t i;

	buf_printf(b, "<tr class=\"%s\"><td class=\"meta\"><b>", verdict);
	esc(b, str(c, "cell_id"));
	buf_printf(b, "</b><br><span class=\"v\">%s</span>", verdict);
	if (json_is_true(json_object_get(c, "source_changed")))
		buf_append_str(b, "<br>the cell's source has changed since");
	if (*str(c, "reason")) {
		buf_append_str(b, "<br><small>");
		esc(b, str(c, "reason"));
		buf_append_str(b, "</small>");
	}
	if (*str(c, "upstream_skipped")) {
		buf_append_str(b, "<br><small>");
		esc(b, str(c, "upstream_skipped"));
		buf_append_str(b, "</small>");
	}
	buf_append_str(b, "</td><td><pre class=\"src\">");
	esc(b, str(c, "code"));
	buf_append_str(b, "</pre></td><td>");
	html_outputs(b, json_object_get(c, "recorded"));
	buf_append_str(b, "</td><td>");
	html_outputs(b, json_object_get(c, "replayed"));
	if (json_array_size(diff)) {
		buf_append_str(b, "<details open><summary>differences</summary><ul>");
		json_array_foreach(diff, i, d) {
			char *ra = json_dumps(json_object_get(d, "recorded"), JSON_ENCODE_ANY);
			char *rb = json_dumps(json_object_get(d, "replayed"), JSON_ENCODE_ANY);

			buf_append_str(b, "<li>");
			esc(b, str(d, "field"));
			buf_append_str(b, ": <code>");
			esc(b, ra ? ra : "");
			buf_append_str(b, "</code> &rarr; <code>");
			esc(b, rb ? rb : "");
			buf_append_str(b, "</code></li>");
			free(ra);
			free(rb);
		}
		buf_append_str(b, "</ul></details>");
	}
	buf_append_str(b, "</td></tr>\n");
}

int replay_report_html(const json_t *report, buf_t *b)
{
	const json_t *c, *counts = json_object_get(report, "counts");
	const char *k;
	json_t *v;
	size_t i;

	buf_append_str(b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>replay of ");
	esc(b, str(report, "path"));
	buf_append_str(b, "</title><style>"
		"body{font:14px sans-serif;margin:1em}table{border-collapse:collapse;width:100%}"
		"td,th{border:1px solid #ccc;vertical-align:top;padding:4px}pre{white-space:pre-wrap;margin:0}"
		".src{background:#f6f6f6}.err{color:#a00}.meta{width:9em}"
		"tr.reproduced .v{color:#080}tr.differs .v,tr.error .v{color:#c00;font-weight:bold}"
		"tr.skipped .v,tr.unrecorded .v{color:#a60}img{max-width:100%}"
		"</style></head><body>\n<h1>Replay of ");
	esc(b, str(report, "path"));
	buf_append_str(b, "</h1>\n<p>version <code>");
	esc(b, str(report, "version"));
	buf_append_str(b, "</code>, replay <code>");
	esc(b, str(report, "id"));
	buf_append_str(b, "</code>: <b>");
	esc(b, str(report, "verdict"));
	buf_append_str(b, "</b> (");
	i = 0;
	json_object_foreach((json_t *)counts, k, v) {
		buf_printf(b, "%s%" JSON_INTEGER_FORMAT " ", i++ ? ", " : "", json_integer_value(v));
		esc(b, k);
	}
	buf_append_str(b, "); started ");
	esc(b, str(report, "started"));
	buf_append_str(b, ", finished ");
	esc(b, str(report, "finished"));
	buf_append_str(b, "; sandbox ");
	esc(b, str(report, "sandbox"));
	buf_append_str(b, "</p>\n<table><tr><th>cell</th><th>code replayed</th><th>recorded</th>"
			  "<th>replayed</th></tr>\n");
	json_array_foreach(json_object_get(report, "cells"), i, c)
		html_cell(b, c);
	return buf_append_str(b, "</table></body></html>\n");
}
