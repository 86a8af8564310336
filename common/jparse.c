/* A faster json_loadb (see jparse.h). */
#include "jparse.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH */

typedef struct {
	const unsigned char *start, *p, *end;
	size_t flags;
	int depth;
	json_error_t *err;
	bool failed;
	char *scratch; /* unescaped string bytes */
	size_t scratch_cap;
} jp_t;

static void fail(jp_t *j, const char *what)
{
	json_error_t *e = j->err;
	int line = 1, column = 0;

	if (j->failed)
		return;
	j->failed = true;
	if (!e)
		return;
	for (const unsigned char *q = j->start; q < j->p && q < j->end; q++) {
		if (*q == '\n') {
			line++;
			column = 0;
		} else {
			column++;
		}
	}
	e->line = line;
	e->column = column;
	e->position = (int)(j->p - j->start);
	snprintf(e->source, sizeof e->source, "<buffer>");
	snprintf(e->text, sizeof e->text, "%s", what);
}

static void skip_ws(jp_t *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r'))
		j->p++;
}

/* Length of the valid UTF-8 sequence at s (2..4), or 0. */
static size_t utf8_len(const unsigned char *s, const unsigned char *end)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;

	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if ((size_t)(end - s) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static int scratch_put(jp_t *j, size_t at, const void *data, size_t n)
{
	if (n == 0)
		return 0;
	if (at + n > j->scratch_cap) {
		size_t cap = j->scratch_cap ? j->scratch_cap : 256;
		char *q;

		while (cap < at + n)
			cap *= 2;
		q = realloc(j->scratch, cap);
		if (!q)
			return -1;
		j->scratch = q;
		j->scratch_cap = cap;
	}
	memcpy(j->scratch + at, data, n);
	return 0;
}

static int hex4(const unsigned char *s, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		unsigned char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t utf8_encode(uint32_t cp, unsigned char out[4])
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | (cp >> 6));
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | (cp >> 12));
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | (cp >> 18));
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* One \u escape (p at the 'u'), a surrogate pair taken whole; its UTF-8
 * goes to the scratch at *at. */
static int unescape_u(jp_t *j, size_t *at)
{
	unsigned char enc[4];
	uint32_t cp, lo;

	if (j->end - j->p < 5 || hex4(j->p + 1, &cp)) {
		fail(j, "invalid escape");
		return -1;
	}
	j->p += 5;
	if (cp >= 0xdc00 && cp <= 0xdfff) {
		fail(j, "invalid Unicode: a lone low surrogate");
		return -1;
	}
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' || hex4(j->p + 2, &lo) ||
		    lo < 0xdc00 || lo > 0xdfff) {
			fail(j, "invalid Unicode: a high surrogate without its low one");
			return -1;
		}
		j->p += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (cp == 0 && !(j->flags & JSON_ALLOW_NUL)) {
		fail(j, "\\u0000 is not allowed without JSON_ALLOW_NUL");
		return -1;
	}
	if (scratch_put(j, *at, enc, utf8_encode(cp, enc))) {
		fail(j, "out of memory");
		return -1;
	}
	*at += utf8_encode(cp, enc);
	return 0;
}

/*
 * The string at p (p at the opening quote). Without escapes its bytes are
 * used where they are (*out, *len point into the input); with escapes they
 * are unescaped into the scratch. *has_nul says whether a NUL is in it.
 */
static int scan_string(jp_t *j, const char **out, size_t *len, bool *has_nul)
{
	const unsigned char *run = ++j->p;
	size_t at = 0;
	bool escaped = false;

	*has_nul = false;
	for (;;) {
		const unsigned char *q = j->p;

		/* the common case: printable ASCII */
		while (q < j->end && *q >= 0x20 && *q < 0x80 && *q != '"' && *q != '\\')
			q++;
		j->p = q;
		if (q >= j->end) {
			fail(j, "premature end of input in a string");
			return -1;
		}
		if (*q == '"')
			break;
		if (*q >= 0x80) {
			size_t n = utf8_len(q, j->end);

			if (!n) {
				fail(j, "invalid UTF-8 in a string");
				return -1;
			}
			j->p += n;
			continue;
		}
		if (*q < 0x20) {
			fail(j, "control character in a string");
			return -1;
		}
		/* a backslash: keep what came before it, then the escape */
		if (scratch_put(j, at, run, (size_t)(q - run))) {
			fail(j, "out of memory");
			return -1;
		}
		at += (size_t)(q - run);
		escaped = true;
		if (q + 1 >= j->end) {
			fail(j, "premature end of input in a string");
			return -1;
		}
		j->p = q + 1;
		if (*j->p == 'u') {
			size_t before = at;

			if (unescape_u(j, &at))
				return -1;
			if (memchr(j->scratch + before, 0, at - before))
				*has_nul = true;
		} else {
			char c;

			switch (*j->p) {
			case '"': c = '"'; break;
			case '\\': c = '\\'; break;
			case '/': c = '/'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			default:
				fail(j, "invalid escape");
				return -1;
			}
			if (scratch_put(j, at, &c, 1)) {
				fail(j, "out of memory");
				return -1;
			}
			at++;
			j->p++;
		}
		run = j->p;
	}
	if (!escaped) {
		*out = (const char *)run;
		*len = (size_t)(j->p - run);
	} else {
		if (scratch_put(j, at, run, (size_t)(j->p - run))) {
			fail(j, "out of memory");
			return -1;
		}
		at += (size_t)(j->p - run);
		*out = j->scratch;
		*len = at;
	}
	j->p++; /* the closing quote */
	return 0;
}

static json_t *parse_number(jp_t *j)
{
	const unsigned char *s = j->p, *q = s;
	bool is_real = false;
	char tmp[64], *big = NULL, *num;
	size_t n;
	json_t *v = NULL;

	if (q < j->end && *q == '-')
		q++;
	if (q < j->end && *q == '0') {
		q++;
	} else if (q < j->end && *q >= '1' && *q <= '9') {
		while (q < j->end && *q >= '0' && *q <= '9')
			q++;
	} else {
		fail(j, "invalid token");
		return NULL;
	}
	if (q < j->end && *q == '.') {
		is_real = true;
		q++;
		if (q >= j->end || *q < '0' || *q > '9') {
			j->p = q;
			fail(j, "invalid token");
			return NULL;
		}
		while (q < j->end && *q >= '0' && *q <= '9')
			q++;
	}
	if (q < j->end && (*q == 'e' || *q == 'E')) {
		is_real = true;
		q++;
		if (q < j->end && (*q == '+' || *q == '-'))
			q++;
		if (q >= j->end || *q < '0' || *q > '9') {
			j->p = q;
			fail(j, "invalid token");
			return NULL;
		}
		while (q < j->end && *q >= '0' && *q <= '9')
			q++;
	}
	n = (size_t)(q - s);
	num = n < sizeof tmp ? tmp : (big = malloc(n + 1));
	if (!num) {
		fail(j, "out of memory");
		return NULL;
	}
	memcpy(num, s, n);
	num[n] = '\0';
	errno = 0;
	if (!is_real) {
		long long i = strtoll(num, NULL, 10);

		if (errno == ERANGE)
			fail(j, i < 0 ? "too big negative integer" : "too big integer");
		else
			v = json_integer((json_int_t)i);
	} else {
		double d = strtod(num, NULL);

		if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL))
			fail(j, "real number overflow");
		else
			v = json_real(d);
	}
	free(big);
	if (!v && !j->failed)
		fail(j, "out of memory");
	j->p = q;
	return v;
}

static json_t *parse_value(jp_t *j);

static json_t *parse_object(jp_t *j)
{
	json_t *obj = json_object();

	j->p++;
	skip_ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return obj;
	}
	for (;;) {
		const char *k;
		size_t klen;
		bool nul;
		char *key;
		json_t *v;

		skip_ws(j);
		if (j->p >= j->end || *j->p != '"') {
			fail(j, "string or '}' expected");
			goto fail;
		}
		if (scan_string(j, &k, &klen, &nul))
			goto fail;
		if (nul) {
			fail(j, "NUL byte in object key not supported");
			goto fail;
		}
		/* the value may reuse the scratch: keep the key apart */
		key = malloc(klen + 1);
		if (!key) {
			fail(j, "out of memory");
			goto fail;
		}
		memcpy(key, k, klen);
		key[klen] = '\0';
		if ((j->flags & JSON_REJECT_DUPLICATES) && json_object_getn(obj, key, klen)) {
			free(key);
			fail(j, "duplicate object key");
			goto fail;
		}
		skip_ws(j);
		if (j->p >= j->end || *j->p != ':') {
			free(key);
			fail(j, "':' expected");
			goto fail;
		}
		j->p++;
		v = parse_value(j);
		if (!v || json_object_setn_new_nocheck(obj, key, klen, v)) {
			free(key);
			if (!j->failed)
				fail(j, "out of memory");
			goto fail;
		}
		free(key);
		skip_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			return obj;
		}
		fail(j, "'}' expected");
		goto fail;
	}
fail:
	json_decref(obj);
	return NULL;
}

static json_t *parse_array(jp_t *j)
{
	json_t *arr = json_array();

	j->p++;
	skip_ws(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		return arr;
	}
	for (;;) {
		json_t *v = parse_value(j);

		if (!v || json_array_append_new(arr, v)) {
			if (!j->failed)
				fail(j, "out of memory");
			json_decref(arr);
			return NULL;
		}
		skip_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == ']') {
			j->p++;
			return arr;
		}
		fail(j, "']' expected");
		json_decref(arr);
		return NULL;
	}
}

static json_t *literal(jp_t *j, const char *word, json_t *v)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0) {
		fail(j, "invalid token");
		return NULL;
	}
	j->p += n;
	return v;
}

static json_t *parse_value(jp_t *j)
{
	json_t *v;

	skip_ws(j);
	if (j->p >= j->end) {
		fail(j, "premature end of input");
		return NULL;
	}
	/* as jansson counts it: every value, scalars too, is a level */
	if (j->depth + 1 > MAX_DEPTH) {
		fail(j, "maximum parsing depth reached");
		return NULL;
	}
	switch (*j->p) {
	case '{':
	case '[':
		j->depth++;
		v = *j->p == '{' ? parse_object(j) : parse_array(j);
		j->depth--;
		return v;
	case '"': {
		const char *s;
		size_t n;
		bool nul;

		if (scan_string(j, &s, &n, &nul))
			return NULL;
		v = json_stringn_nocheck(s, n);
		if (!v)
			fail(j, "out of memory");
		return v;
	}
	case 't': return literal(j, "true", json_true());
	case 'f': return literal(j, "false", json_false());
	case 'n': return literal(j, "null", json_null());
	default: return parse_number(j);
	}
}

json_t *jparse(const char *data, size_t len, size_t flags, json_error_t *err)
{
	jp_t j = { .start = (const unsigned char *)data, .p = (const unsigned char *)data,
		   .end = (const unsigned char *)data + len, .flags = flags, .err = err };
	json_t *v = NULL;

	if (err)
		memset(err, 0, sizeof *err);
	if (!data) {
		fail(&j, "no input");
		return NULL;
	}
	skip_ws(&j);
	if (j.p >= j.end || (*j.p != '{' && *j.p != '[')) {
		fail(&j, "'[' or '{' expected");
		goto out;
	}
	v = parse_value(&j);
	if (v) {
		skip_ws(&j);
		if (j.p != j.end) {
			fail(&j, "end of file expected");
			json_decref(v);
			v = NULL;
		}
	}
out:
	free(j.scratch);
	return v;
}
