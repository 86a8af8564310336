/*
 * Where a login may lead: the `next` sanitiser (login.h). Kept apart from
 * the handlers so that it can be tested and fuzzed on its own.
 */
#include "login.h"

#include <stdio.h>
#include <string.h>

#include "form.h"

/* Layers of percent-encoding looked through: "%25252f" is three. */
#define DECODE_ROUNDS 4

/* The checks every decoding of next must pass. */
static bool next_layer_is_safe(const char *s)
{
	if (s[0] != '/')
		return false;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f || c == '\\')
			return false;
		if (c == '/' && p[1] == '/')
			return false;
		/* a ".." segment would climb out of the base URL */
		if (c == '/' && p[1] == '.' && p[2] == '.' &&
		    (p[3] == '/' || p[3] == '\0' || p[3] == '?' || p[3] == '#'))
			return false;
	}
	return true;
}

/* The raw value percent-encoded where a Location header needs it. */
static bool encode_location(const char *s, char *out, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		bool plain = c > 0x20 && c < 0x7f && !strchr("\"<>`{}|^", c);

		if (o + (plain ? 1 : 3) >= n)
			return false;
		if (plain) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return true;
}

static bool next_is_safe(const char *base_url, const char *next)
{
	char layer[2][LOGIN_NEXT_MAX];
	size_t blen = strlen(base_url);
	const char *cur = next;

	if (!next || !*next || strlen(next) >= LOGIN_NEXT_MAX)
		return false;
	/* under the base URL: "/base/..." or "/base" itself */
	if (strncmp(next, base_url, blen) != 0 &&
	    !(strncmp(next, base_url, blen - 1) == 0 && next[blen - 1] == '\0'))
		return false;
	for (int i = 0; i < DECODE_ROUNDS; i++) {
		char *out = layer[i % 2];

		if (!next_layer_is_safe(cur))
			return false;
		/* a NUL byte inside is refused too */
		if (!form_decode(cur, strlen(cur), false, out, sizeof layer[0]))
			return false;
		if (strcmp(out, cur) == 0)
			return true;
		cur = out;
	}
	/* still changing after that many layers: not a path anyone typed */
	return false;
}

bool login_next_sanitise(const char *base_url, const char *next, char *out, size_t n)
{
	if (next_is_safe(base_url, next) && encode_location(next, out, n))
		return true;
	snprintf(out, n, "%s", base_url);
	return false;
}
