/*
 * A non-allocating JSON validator: a small state machine with an explicit
 * stack of open containers, so hostile nesting cannot exhaust the C stack.
 */
#include "json_check.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef struct {
	const unsigned char *s;
	size_t len, pos;
	err_t *err;
} scan_t;

static int fail(scan_t *sc, const char *what)
{
	return err_set(sc->err, CG_EINVAL, "invalid JSON at byte %zu: %s",
		       sc->pos, what);
}

/* Length of the UTF-8 sequence at s (1..4), or 0 when it is invalid. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;

	if (c < 0x80)
		return 1;
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
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0; /* overlong or out of range */
	if (cp >= 0xd800 && cp <= 0xdfff)
		return 0; /* UTF-16 surrogates are not characters */
	return n;
}

int utf8_check(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;

	for (size_t i = 0; i < len;) {
		size_t n;

		if (s[i] < 0x80) {
			i++;
			continue;
		}
		n = utf8_seq(s + i, len - i);
		if (!n)
			return CG_EINVAL;
		i += n;
	}
	return 0;
}

static void skip_ws(scan_t *sc)
{
	while (sc->pos < sc->len) {
		unsigned char c = sc->s[sc->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		sc->pos++;
	}
}

static bool is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int scan_string(scan_t *sc)
{
	sc->pos++; /* opening quote */
	while (sc->pos < sc->len) {
		unsigned char c = sc->s[sc->pos];

		if (c == '"') {
			sc->pos++;
			return 0;
		}
		if (c < 0x20)
			return fail(sc, "control character in string");
		if (c == '\\') {
			if (sc->pos + 1 >= sc->len)
				return fail(sc, "unterminated escape");
			c = sc->s[sc->pos + 1];
			if (c == 'u') {
				if (sc->pos + 6 > sc->len)
					return fail(sc, "short \\u escape");
				for (size_t i = 2; i < 6; i++)
					if (!is_hex(sc->s[sc->pos + i]))
						return fail(sc, "bad \\u escape");
				sc->pos += 6;
			} else if (strchr("\"\\/bfnrt", c) && c) {
				sc->pos += 2;
			} else {
				return fail(sc, "bad escape");
			}
			continue;
		}
		if (c < 0x80) {
			sc->pos++;
		} else {
			size_t n = utf8_seq(sc->s + sc->pos, sc->len - sc->pos);

			if (!n)
				return fail(sc, "invalid UTF-8");
			sc->pos += n;
		}
	}
	return fail(sc, "unterminated string");
}

static size_t digits(scan_t *sc)
{
	size_t start = sc->pos;

	while (sc->pos < sc->len && sc->s[sc->pos] >= '0' && sc->s[sc->pos] <= '9')
		sc->pos++;
	return sc->pos - start;
}

static int scan_number(scan_t *sc)
{
	if (sc->s[sc->pos] == '-')
		sc->pos++;
	if (sc->pos < sc->len && sc->s[sc->pos] == '0') {
		sc->pos++;
	} else if (!digits(sc)) {
		return fail(sc, "bad number");
	}
	if (sc->pos < sc->len && sc->s[sc->pos] == '.') {
		sc->pos++;
		if (!digits(sc))
			return fail(sc, "bad fraction");
	}
	if (sc->pos < sc->len && (sc->s[sc->pos] == 'e' || sc->s[sc->pos] == 'E')) {
		sc->pos++;
		if (sc->pos < sc->len && (sc->s[sc->pos] == '+' || sc->s[sc->pos] == '-'))
			sc->pos++;
		if (!digits(sc))
			return fail(sc, "bad exponent");
	}
	return 0;
}

static int scan_literal(scan_t *sc, const char *word)
{
	size_t n = strlen(word);

	if (sc->len - sc->pos < n || memcmp(sc->s + sc->pos, word, n) != 0)
		return fail(sc, "unexpected character");
	sc->pos += n;
	return 0;
}

/* A scalar value or the opening of a container, which it pushes. */
static int scan_value_start(scan_t *sc, char *stack, size_t *depth)
{
	unsigned char c;

	skip_ws(sc);
	if (sc->pos >= sc->len)
		return fail(sc, "unexpected end");
	c = sc->s[sc->pos];
	switch (c) {
	case '{':
	case '[':
		if (*depth >= JSON_CHECK_MAX_DEPTH)
			return fail(sc, "nested too deeply");
		stack[(*depth)++] = (char)c;
		sc->pos++;
		return 1; /* container opened */
	case '"':
		return scan_string(sc);
	case 't':
		return scan_literal(sc, "true");
	case 'f':
		return scan_literal(sc, "false");
	case 'n':
		return scan_literal(sc, "null");
	default:
		if (c == '-' || (c >= '0' && c <= '9'))
			return scan_number(sc);
		return fail(sc, "unexpected character");
	}
}

static int scan_key(scan_t *sc)
{
	int rc;

	skip_ws(sc);
	if (sc->pos >= sc->len || sc->s[sc->pos] != '"')
		return fail(sc, "expected a string key");
	rc = scan_string(sc);
	if (rc)
		return rc;
	skip_ws(sc);
	if (sc->pos >= sc->len || sc->s[sc->pos] != ':')
		return fail(sc, "expected ':'");
	sc->pos++;
	return 0;
}

static int scan(scan_t *sc)
{
	char stack[JSON_CHECK_MAX_DEPTH];
	size_t depth = 0;
	int rc = scan_value_start(sc, stack, &depth);

	if (rc < 0)
		return rc;
	/* After a container opened (rc == 1): expect its first member or its end. */
	while (depth) {
		char top = stack[depth - 1];
		unsigned char c;

		skip_ws(sc);
		if (sc->pos >= sc->len)
			return fail(sc, "unexpected end");
		c = sc->s[sc->pos];
		if (rc == 1 && ((top == '{' && c == '}') || (top == '[' && c == ']'))) {
			sc->pos++;
			depth--;
			rc = 0;
			continue;
		}
		if (rc == 0) {
			/* after a member: ',' or the close */
			if ((top == '{' && c == '}') || (top == '[' && c == ']')) {
				sc->pos++;
				depth--;
				continue;
			}
			if (c != ',')
				return fail(sc, "expected ',' or a closing bracket");
			sc->pos++;
		}
		if (top == '{') {
			rc = scan_key(sc);
			if (rc)
				return rc;
		}
		rc = scan_value_start(sc, stack, &depth);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int json_check(const char *s, size_t len, err_t *err)
{
	scan_t sc = { (const unsigned char *)s, len, 0, err };
	int rc = scan(&sc);

	if (rc)
		return rc;
	skip_ws(&sc);
	if (sc.pos != sc.len)
		return fail(&sc, "trailing characters");
	return 0;
}

int json_check_object(const char *s, size_t len, err_t *err)
{
	size_t i = 0;

	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	if (i >= len || s[i] != '{')
		return err_set(err, CG_EINVAL, "expected a JSON object");
	return json_check(s, len, err);
}
