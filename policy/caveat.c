/*
 * Caveat syntax and evaluation. See caveat.h. Values are parsed on every
 * evaluation: caveats are short and few, and keeping them as the signed
 * text means what is checked is exactly what was signed.
 */
#include "caveat.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"

static const char *const trust_classes[] = { "trusted", "untrusted", "replay" };

typedef enum { K_ACTION, K_PATH, K_BRANCH, K_KERNELSPEC, K_TRUST, K_EFFECT, K_EXPIRES, K_MAXEXEC } caveat_key_t;

static const char *const keys[] = { "action", "path", "branch", "kernelspec", "trust", "effect",
				    "expires", "max-executions" };

#define N_KEYS (sizeof keys / sizeof *keys)

/* The key's index and where its values start; -1 when unknown. */
static int split(const char *caveat, const char **values)
{
	const char *eq = strchr(caveat, '=');

	if (!eq)
		return -1;
	for (size_t i = 0; i < N_KEYS; i++) {
		if (strlen(keys[i]) == (size_t)(eq - caveat) &&
		    strncmp(caveat, keys[i], (size_t)(eq - caveat)) == 0) {
			*values = eq + 1;
			return (int)i;
		}
	}
	return -1;
}

/* Iterates comma-separated values: *v and *n the next one. */
static bool next_value(const char **cursor, const char **v, size_t *n)
{
	const char *s = *cursor, *comma;

	if (!s)
		return false;
	comma = strchr(s, ',');
	*v = s;
	*n = comma ? (size_t)(comma - s) : strlen(s);
	*cursor = comma ? comma + 1 : NULL;
	return true;
}

static bool parse_number(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

/* A path value: relative, no empty, "." or ".." components. */
static bool is_path_value(const char *v, size_t n)
{
	size_t start = 0;

	if (n == 0 || v[0] == '/' || v[n - 1] == '/')
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && v[i] != '/')
			continue;
		if (i == start || (i - start == 1 && v[start] == '.') ||
		    (i - start == 2 && v[start] == '.' && v[start + 1] == '.'))
			return false;
		start = i + 1;
	}
	return true;
}

static bool is_trust_class(const char *v, size_t n)
{
	for (size_t i = 0; i < sizeof trust_classes / sizeof *trust_classes; i++)
		if (strlen(trust_classes[i]) == n && strncmp(v, trust_classes[i], n) == 0)
			return true;
	return false;
}

int policy_caveat_check(const char *caveat, err_t *err)
{
	const char *values, *cursor, *v;
	unsigned long num;
	size_t n;
	int key = split(caveat, &values);

	if (key < 0)
		return err_set(err, CG_EINVAL, "unknown caveat '%.64s': expected action=, path=, "
			       "branch=, kernelspec=, trust=, effect=, expires= or max-executions=",
			       caveat);
	if (key == K_EXPIRES || key == K_MAXEXEC) {
		if (!parse_number(values, key == K_EXPIRES ? 253402300799ul : 1000000000ul, &num))
			return err_set(err, CG_EINVAL, "%s= takes a whole number", keys[key]);
		return 0;
	}
	cursor = values;
	while (next_value(&cursor, &v, &n)) {
		if (n == 0)
			return err_set(err, CG_EINVAL, "%s= has an empty value", keys[key]);
		if (key == K_ACTION && !policy_action_parse(v, n))
			return err_set(err, CG_EINVAL, "unknown action '%.*s': expected read, write, "
				       "execute, replay, approve, publish or admin", (int)(n > 32 ? 32 : n), v);
		if (key == K_PATH && !is_path_value(v, n))
			return err_set(err, CG_EINVAL, "path= takes relative workspace paths without "
				       "empty, '.' or '..' components");
		if (key == K_TRUST && !is_trust_class(v, n))
			return err_set(err, CG_EINVAL, "trust= takes trusted, untrusted or replay");
	}
	return 0;
}

bool policy_path_is_under(const char *path, const char *prefix, size_t n)
{
	return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Is path a proper ancestor of prefix (a directory on the way to it)? */
static bool is_ancestor(const char *path, const char *prefix, size_t n)
{
	size_t len = strlen(path);

	if (len == 0)
		return true;
	return len < n && strncmp(prefix, path, len) == 0 && prefix[len] == '/';
}

static bool value_matches(int key, const char *v, size_t n, const char *want, bool is_listing)
{
	if (key == K_PATH)
		return policy_path_is_under(want, v, n) || (is_listing && is_ancestor(want, v, n));
	if (key == K_EFFECT && memchr(v, '*', n)) {
		char pattern[TOKEN_CAVEAT_MAX + 1];

		snprintf(pattern, sizeof pattern, "%.*s", (int)n, v);
		return fnmatch(pattern, want, FNM_NOESCAPE) == 0;
	}
	return strlen(want) == n && strncmp(want, v, n) == 0;
}

bool policy_caveat_allows(const char *caveat, policy_action_t action, const policy_resource_t *res,
			  double now, char *why, size_t why_size)
{
	const char *values, *cursor, *v, *want = NULL;
	unsigned long num;
	size_t n;
	int key = split(caveat, &values);

	switch (key) {
	case K_ACTION:
		cursor = values;
		while (next_value(&cursor, &v, &n))
			if (policy_action_parse(v, n) == (unsigned)action)
				return true;
		snprintf(why, why_size, "the token allows %s only", values);
		return false;
	case K_EXPIRES:
		if (parse_number(values, ~0ul, &num) && now < (double)num)
			return true;
		snprintf(why, why_size, "the token has expired");
		return false;
	case K_MAXEXEC:
		return true; /* counted where executions happen */
	case K_PATH: want = res->path; break;
	case K_BRANCH: want = res->branch; break;
	case K_KERNELSPEC: want = res->kernelspec; break;
	case K_TRUST: want = res->trust; break;
	case K_EFFECT: want = res->effect; break;
	default:
		snprintf(why, why_size, "the token has a caveat this server does not know");
		return false;
	}
	if (!want)
		return true;
	cursor = values;
	while (next_value(&cursor, &v, &n))
		if (value_matches(key, v, n, want, res->is_listing))
			return true;
	snprintf(why, why_size, "the token allows %s %s only", keys[key], values);
	return false;
}

bool policy_caveat_max_executions(const char *caveat, unsigned long *max)
{
	const char *values;

	return split(caveat, &values) == K_MAXEXEC && parse_number(values, ~0ul, max);
}

bool policy_caveat_expires(const char *caveat, double *at)
{
	const char *values;
	unsigned long v;

	if (split(caveat, &values) != K_EXPIRES || !parse_number(values, ~0ul, &v))
		return false;
	*at = (double)v;
	return true;
}
