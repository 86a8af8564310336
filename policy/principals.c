/*
 * The policy file:
 *
 *   {"principals": {
 *       "alice": {"kind": "researcher", "paths": ["alice", "shared"]},
 *       "ci":    {"kind": "agent", "actions": ["read", "execute"],
 *                 "kernelspecs": ["python3"]}}}
 *
 * A kind brings default actions (researcher: read write execute publish;
 * reviewer: read replay approve; agent: read execute); "actions" replaces
 * them. "paths", "branches", "kernelspecs", "trust" and "effects" narrow
 * like the caveats of the same name; an absent one does not narrow.
 * "ask" lists actions that are allowed only after a principal with
 * approve on the resource answers a prompt (an agent's executions, say).
 * "default_trust" is the trust class its kernels start in when a request
 * names none (kind defaults: agent untrusted, researcher and reviewer
 * trusted); starting one in a weaker class is asked of a person.
 * Anything unknown is an error: a typo must not widen anyone's rights.
 */
#include "principals.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caveat.h"
#include "token.h"

static const struct {
	const char *kind, *actions, *trust;
} kinds[] = {
	{ "researcher", "read,write,execute,publish", "trusted" },
	{ "reviewer", "read,replay,approve", "trusted" },
	{ "agent", "read,execute", "untrusted" },
};

/* JSON field -> caveat key */
static const struct {
	const char *field, *caveat;
} dims[] = {
	{ "actions", "action" }, { "paths", "path" }, { "branches", "branch" },
	{ "kernelspecs", "kernelspec" }, { "trust", "trust" }, { "effects", "effect" },
};

bool policy_name_is_valid(const char *name, size_t len)
{
	if (len == 0 || len > POLICY_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static int add_grant(policy_principal_t *p, const char *caveat, err_t *err)
{
	char **grown = realloc(p->grants, (p->n_grants + 1) * sizeof *grown);

	if (!grown)
		return err_set(err, CG_ESYS, "out of memory");
	p->grants = grown;
	if (!(grown[p->n_grants] = strdup(caveat)))
		return err_set(err, CG_ESYS, "out of memory");
	p->n_grants++;
	return policy_caveat_check(caveat, err);
}

/* A JSON array of strings as one caveat "key=a,b". */
static int grant_from_array(policy_principal_t *p, const char *key, json_t *arr, err_t *err)
{
	char caveat[TOKEN_CAVEAT_MAX + 1];
	size_t len = (size_t)snprintf(caveat, sizeof caveat, "%s=", key), i;
	json_t *v;

	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return err_set(err, CG_EINVAL, "principal %s: \"%ss\" must be a non-empty list of strings",
			       p->name, key);
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);
		int n;

		if (!s || !*s || strchr(s, ','))
			return err_set(err, CG_EINVAL, "principal %s: %s values are non-empty strings "
				       "without commas", p->name, key);
		n = snprintf(caveat + len, sizeof caveat - len, "%s%s", i ? "," : "", s);
		if (n < 0 || (size_t)n >= sizeof caveat - len)
			return err_set(err, CG_ETOOBIG, "principal %s: too many %s values", p->name, key);
		len += (size_t)n;
	}
	if (add_grant(p, caveat, err))
		return err_wrap(err, "principal %s", p->name);
	return 0;
}

static int load_ask(policy_principal_t *p, json_t *arr, err_t *err)
{
	json_t *v;
	size_t i;

	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return err_set(err, CG_EINVAL, "principal %s: \"ask\" must be a list of actions",
			       p->name);
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);
		unsigned a = s ? policy_action_parse(s, strlen(s)) : 0;

		if (!a)
			return err_set(err, CG_EINVAL, "principal %s: \"ask\" takes action names",
				       p->name);
		p->ask |= a;
	}
	return 0;
}

/* "default_trust": a class a client may name (replay is the server's own). */
static int load_default_trust(policy_principal_t *p, json_t *v, err_t *err)
{
	const char *s = json_string_value(v);
	const char *cls = s ? policy_trust_class_name(s) : NULL;

	if (!v)
		return 0;
	if (!cls || strcmp(cls, "replay") == 0)
		return err_set(err, CG_EINVAL, "principal %s: \"default_trust\" is trusted or "
			       "untrusted", p->name);
	p->default_trust = cls;
	return 0;
}

static int load_principal(policy_principal_t *p, const char *name, json_t *obj, err_t *err)
{
	const char *kind, *field;
	json_t *v;
	size_t k;

	if (!policy_name_is_valid(name, strlen(name)))
		return err_set(err, CG_EINVAL, "principal names are 1 to %d of A-Z a-z 0-9 . _ -",
			       POLICY_NAME_MAX);
	snprintf(p->name, sizeof p->name, "%s", name);
	if (!json_is_object(obj))
		return err_set(err, CG_EINVAL, "principal %s must be an object", name);
	kind = json_string_value(json_object_get(obj, "kind"));
	for (k = 0; kind && k < sizeof kinds / sizeof *kinds; k++)
		if (strcmp(kind, kinds[k].kind) == 0)
			break;
	if (!kind || k == sizeof kinds / sizeof *kinds)
		return err_set(err, CG_EINVAL, "principal %s: \"kind\" must be researcher, reviewer "
			       "or agent", name);
	p->kind = kinds[k].kind;
	p->default_trust = kinds[k].trust;
	if (load_ask(p, json_object_get(obj, "ask"), err) ||
	    load_default_trust(p, json_object_get(obj, "default_trust"), err))
		return err->code;
	json_object_foreach(obj, field, v) {
		size_t d;

		if (strcmp(field, "kind") == 0 || strcmp(field, "description") == 0 ||
		    strcmp(field, "ask") == 0 || strcmp(field, "default_trust") == 0)
			continue;
		for (d = 0; d < sizeof dims / sizeof *dims; d++)
			if (strcmp(field, dims[d].field) == 0)
				break;
		if (d == sizeof dims / sizeof *dims)
			return err_set(err, CG_EINVAL, "principal %s: unknown field \"%.64s\"", name,
				       field);
	}
	for (size_t d = 0; d < sizeof dims / sizeof *dims; d++) {
		json_t *arr = json_object_get(obj, dims[d].field);
		char def[128];

		if (!arr && d == 0) {
			snprintf(def, sizeof def, "action=%s", kinds[k].actions);
			if (add_grant(p, def, err))
				return err->code;
			continue;
		}
		if (arr && grant_from_array(p, dims[d].caveat, arr, err))
			return err->code;
	}
	return 0;
}

int policy_principals_load(const char *path, policy_principals_t *out, err_t *err)
{
	json_error_t jerr;
	json_t *root, *all, *obj;
	const char *name;
	int rc = 0;

	memset(out, 0, sizeof *out);
	if (!path)
		return 0;
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return err_set(err, CG_EINVAL, "the policy file %s: line %d: %s", path, jerr.line,
			       jerr.text);
	all = json_object_get(root, "principals");
	if (!json_is_object(root) || !json_is_object(all) || json_object_size(root) != 1) {
		json_decref(root);
		return err_set(err, CG_EINVAL, "the policy file %s must be {\"principals\": {...}}",
			       path);
	}
	out->items = calloc(json_object_size(all) + 1, sizeof *out->items);
	if (!out->items) {
		json_decref(root);
		return err_set(err, CG_ESYS, "out of memory");
	}
	json_object_foreach(all, name, obj) {
		rc = load_principal(&out->items[out->count], name, obj, err);
		out->count++;
		if (rc)
			break;
	}
	json_decref(root);
	if (rc) {
		err_wrap(err, "the policy file %s", path);
		policy_principals_clear(out);
	}
	return rc;
}

const policy_principal_t *policy_principals_find(const policy_principals_t *all, const char *name,
						 size_t len)
{
	for (size_t i = 0; i < all->count; i++)
		if (strlen(all->items[i].name) == len && memcmp(all->items[i].name, name, len) == 0)
			return &all->items[i];
	return NULL;
}

void policy_principals_clear(policy_principals_t *all)
{
	for (size_t i = 0; i < all->count; i++) {
		for (size_t j = 0; j < all->items[i].n_grants; j++)
			free(all->items[i].grants[j]);
		free(all->items[i].grants);
	}
	free(all->items);
	memset(all, 0, sizeof *all);
}
