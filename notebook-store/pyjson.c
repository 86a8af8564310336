/*
 * Python-compatible JSON emitter (see pyjson.h). Only what json.dumps does
 * with the options nbformat uses; input is a jansson tree, so NaN and
 * infinities (which jansson cannot hold) never reach it.
 */
#include "pyjson.h"
#include "../common/err.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads "%.*e" output: sign, digits without the dot, decimal exponent. */
static size_t split_e(const char *s, char *digits, int *exp10)
{
	size_t n = 0;

	if (*s == '-')
		s++;
	for (; *s && *s != 'e'; s++)
		if (*s != '.')
			digits[n++] = *s;
	digits[n] = '\0';
	*exp10 = *s == 'e' ? atoi(s + 1) : 0;
	return n;
}

/* Adds one unit in the last place of a digit string; returns its new exponent shift (0 or 1). */
static int increment_digits(char *digits, size_t n)
{
	for (size_t i = n; i-- > 0;) {
		if (digits[i] != '9') {
			digits[i]++;
			return 0;
		}
		digits[i] = '0';
	}
	memmove(digits + 1, digits, n + 1);
	digits[0] = '1';
	digits[n] = '\0'; /* keep n digits: 99 -> 10 with exponent + 1 */
	return 1;
}

static int round_trips(const char *digits, int exp10, double d)
{
	char tmp[64];

	if (snprintf(tmp, sizeof tmp, "%s%c.%se%d", d < 0 ? "-" : "", digits[0], digits + 1, exp10) < 0)
		return 0;
	return strtod(tmp, NULL) == d;
}

/*
 * The shortest digit string that reads back as d. The correctly rounded
 * p-digit decimal is the nearest one, so it round-trips whenever any p-digit
 * string does, except just above a power of two, where the interval that
 * reads back as d is narrower below d than above it: there the next p-digit
 * decimal up may round-trip while the nearest does not, and David Gay's
 * algorithm (which Python uses) picks it. Both are tried.
 */
static size_t shortest_digits(double d, char digits[24], int *exp10)
{
	char tmp[64], up[24];
	size_t n = 0;
	int e = 0;

	for (int p = 1; p <= 17; p++) {
		snprintf(tmp, sizeof tmp, "%.*e", p - 1, d);
		n = split_e(tmp, digits, &e);
		if (strtod(tmp, NULL) == d)
			break;
		memcpy(up, digits, n + 1);
		int eu = e + increment_digits(up, n);

		if (round_trips(up, eu, d)) {
			memcpy(digits, up, n + 1);
			e = eu;
			break;
		}
	}
	while (n > 1 && digits[n - 1] == '0')
		digits[--n] = '\0';
	*exp10 = e;
	return n;
}

size_t pyjson_format_float(double d, char out[PYJSON_FLOAT_LEN])
{
	char digits[24];
	size_t n, o = 0;
	int e, decpt;

	if (isnan(d))
		return (size_t)snprintf(out, PYJSON_FLOAT_LEN, "NaN");
	if (isinf(d))
		return (size_t)snprintf(out, PYJSON_FLOAT_LEN, "%s", d < 0 ? "-Infinity" : "Infinity");
	if (d == 0)
		return (size_t)snprintf(out, PYJSON_FLOAT_LEN, "%s", signbit(d) ? "-0.0" : "0.0");
	n = shortest_digits(d, digits, &e);
	decpt = e + 1;  /* d = 0.DIGITS * 10^decpt */
	if (d < 0)
		out[o++] = '-';
	if (decpt <= -4 || decpt > 16) {
		out[o++] = digits[0];
		if (n > 1) {
			out[o++] = '.';
			memcpy(out + o, digits + 1, n - 1);
			o += n - 1;
		}
		o += (size_t)snprintf(out + o, PYJSON_FLOAT_LEN - o, "e%c%02d", e < 0 ? '-' : '+', abs(e));
		return o;
	}
	if (decpt <= 0) {
		out[o++] = '0';
		out[o++] = '.';
		for (int i = 0; i < -decpt; i++)
			out[o++] = '0';
		memcpy(out + o, digits, n);
		o += n;
	} else if ((size_t)decpt >= n) {
		memcpy(out + o, digits, n);
		o += n;
		for (size_t i = n; i < (size_t)decpt; i++)
			out[o++] = '0';
		out[o++] = '.';
		out[o++] = '0';
	} else {
		memcpy(out + o, digits, (size_t)decpt);
		o += (size_t)decpt;
		out[o++] = '.';
		memcpy(out + o, digits + decpt, n - (size_t)decpt);
		o += n - (size_t)decpt;
	}
	out[o] = '\0';
	return o;
}

#define ONES ((uint64_t)0x0101010101010101ull)
#define HIGHS ((uint64_t)0x8080808080808080ull)

/* Whether any of the 8 bytes in w is below 0x20, '"' or '\\' (the
 * classic bit tricks: a byte below n borrows into its high bit). */
static bool needs_escape8(uint64_t w)
{
	uint64_t quote = w ^ (ONES * '"'), bslash = w ^ (ONES * '\\');

	return (((w - ONES * 0x20) & ~w) | ((quote - ONES) & ~quote) | ((bslash - ONES) & ~bslash)) &
	       HIGHS;
}

/* json.encoder's py_encode_basestring: only '"', '\\' and C0 controls are escaped. */
static int dump_string(buf_t *b, const char *s, size_t len)
{
	size_t run = 0;
	int rc;

	if ((rc = buf_append(b, "\"", 1)))
		return rc;
	for (size_t i = 0; i < len; i++) {
		unsigned char c;
		const char *esc = NULL;
		char u[8];

		/* most text needs no escape: skip it eight bytes at a time */
		while (i + 8 <= len) {
			uint64_t w;

			memcpy(&w, s + i, 8);
			if (needs_escape8(w))
				break;
			i += 8;
		}
		if (i >= len)
			break;
		c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		default:
			snprintf(u, sizeof u, "\\u%04x", c);
			esc = u;
		}
		if ((rc = buf_append(b, s + run, i - run)) || (rc = buf_append_str(b, esc)))
			return rc;
		run = i + 1;
	}
	if ((rc = buf_append(b, s + run, len - run)))
		return rc;
	return buf_append(b, "\"", 1);
}

static int newline(buf_t *b, int indent, int level)
{
	static const char spaces[64] = "                                                                ";
	size_t n;
	int rc;

	if (indent < 0)
		return 0;
	if ((rc = buf_append(b, "\n", 1)))
		return rc;
	/* in runs: one append per line, not one per space */
	for (n = (size_t)indent * (size_t)level; n; ) {
		size_t k = n < sizeof spaces ? n : sizeof spaces;

		if ((rc = buf_append(b, spaces, k)))
			return rc;
		n -= k;
	}
	return 0;
}

typedef struct key {
	const char *s;
	size_t len;
	json_t *v;
} key_t_;

/* Python compares str by code point; UTF-8 byte order is the same order. */
static int key_cmp(const void *a, const void *b)
{
	const key_t_ *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->s, y->s, n);

	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

static int dump_value(buf_t *b, const json_t *v, int indent, int level);

static int dump_object(buf_t *b, const json_t *v, int indent, int level)
{
	size_t n = json_object_size(v), i = 0;
	key_t_ *keys;
	const char *k;
	json_t *val;
	int rc = 0;

	if (n == 0)
		return buf_append_str(b, "{}");
	keys = calloc(n, sizeof *keys);
	if (!keys)
		return CG_ESYS;
	json_object_foreach((json_t *)v, k, val) {
		keys[i].s = k;
		keys[i].len = json_object_iter_key_len(json_object_key_to_iter(k));
		keys[i].v = val;
		i++;
	}
	qsort(keys, n, sizeof *keys, key_cmp);
	if ((rc = buf_append(b, "{", 1)))
		goto out;
	for (i = 0; i < n; i++) {
		if (i && (rc = buf_append(b, ",", 1)))
			goto out;
		if ((rc = newline(b, indent, level + 1)) ||
		    (rc = dump_string(b, keys[i].s, keys[i].len)) ||
		    (rc = buf_append(b, ": ", indent < 0 ? 1 : 2)) ||
		    (rc = dump_value(b, keys[i].v, indent, level + 1)))
			goto out;
	}
	if ((rc = newline(b, indent, level)))
		goto out;
	rc = buf_append(b, "}", 1);
out:
	free(keys);
	return rc;
}

static int dump_array(buf_t *b, const json_t *v, int indent, int level)
{
	size_t n = json_array_size(v);
	int rc;

	if (n == 0)
		return buf_append_str(b, "[]");
	if ((rc = buf_append(b, "[", 1)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (i && (rc = buf_append(b, ",", 1)))
			return rc;
		if ((rc = newline(b, indent, level + 1)) ||
		    (rc = dump_value(b, json_array_get(v, i), indent, level + 1)))
			return rc;
	}
	if ((rc = newline(b, indent, level)))
		return rc;
	return buf_append(b, "]", 1);
}

static int dump_value(buf_t *b, const json_t *v, int indent, int level)
{
	char num[PYJSON_FLOAT_LEN];

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return dump_object(b, v, indent, level);
	case JSON_ARRAY:
		return dump_array(b, v, indent, level);
	case JSON_STRING:
		return dump_string(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	case JSON_REAL:
		return buf_append(b, num, pyjson_format_float(json_real_value(v), num));
	case JSON_TRUE:
		return buf_append_str(b, "true");
	case JSON_FALSE:
		return buf_append_str(b, "false");
	case JSON_NULL:
		return buf_append_str(b, "null");
	}
	return CG_EINVAL;
}

int pyjson_dump(const json_t *v, int indent, buf_t *out)
{
	return dump_value(out, v, indent, 0);
}
