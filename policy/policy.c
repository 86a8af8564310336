/*
 * The policy object: root key, principals, token verification into
 * capabilities, decisions, execution counters. See policy.h.
 */
#include "policy.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "caveat.h"
#include "principals.h"
#include "rootkey.h"
#include "token.h"

typedef struct exec_count {
	uint8_t key[TOKEN_SIG_LEN];
	unsigned long count;
} exec_count_t;

struct policy {
	uint8_t key[POLICY_KEY_LEN];
	policy_principals_t principals;
	exec_count_t *counts;
	size_t n_counts;
};

typedef struct exec_limit {
	uint8_t key[TOKEN_SIG_LEN];
	unsigned long max;
} exec_limit_t;

struct policy_cap {
	int refs;
	char principal[POLICY_NAME_MAX + 1];
	const char *kind;
	bool is_root;
	char **caveats;       /* the principal's grants, then the token's */
	size_t n_caveats;
	exec_limit_t *limits; /* one per max-executions caveat of the token */
	size_t n_limits;
	unsigned ask;         /* actions that need a person's approval */
	const char *default_trust; /* static; NULL for the root */
	char token_id[TOKEN_ID_MAX + 1];
};

static const char *const action_names[] = { "read", "write", "execute", "replay",
					    "approve", "publish", "admin" };

const char *policy_action_name(policy_action_t a)
{
	for (size_t i = 0; i < sizeof action_names / sizeof *action_names; i++)
		if ((unsigned)a == 1u << i)
			return action_names[i];
	return "?";
}

unsigned policy_action_parse(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof action_names / sizeof *action_names; i++)
		if (strlen(action_names[i]) == len && strncmp(name, action_names[i], len) == 0)
			return 1u << i;
	return 0;
}

policy_t *policy_open(const char *state_dir, const char *policy_file, err_t *err)
{
	policy_t *p = calloc(1, sizeof *p);

	if (!p) {
		err_set(err, CG_ESYS, "out of memory");
		return NULL;
	}
	if (policy_root_key(state_dir, true, p->key, err) ||
	    policy_principals_load(policy_file, &p->principals, err)) {
		policy_close(&p);
		return NULL;
	}
	return p;
}

void policy_close(policy_t **self_p)
{
	policy_t *p = self_p ? *self_p : NULL;

	if (!p)
		return;
	policy_principals_clear(&p->principals);
	free(p->counts);
	OPENSSL_cleanse(p->key, sizeof p->key);
	free(p);
	*self_p = NULL;
}

size_t policy_principal_count(const policy_t *p)
{
	return p->principals.count;
}

/* --- capabilities ------------------------------------------------------------ */

static int cap_add_caveat(policy_cap_t *cap, const char *caveat)
{
	char **grown = realloc(cap->caveats, (cap->n_caveats + 1) * sizeof *grown);

	if (!grown)
		return CG_ESYS;
	cap->caveats = grown;
	if (!(grown[cap->n_caveats] = strdup(caveat)))
		return CG_ESYS;
	cap->n_caveats++;
	return 0;
}

policy_cap_t *policy_cap_root(void)
{
	policy_cap_t *cap = calloc(1, sizeof *cap);

	if (!cap)
		return NULL;
	cap->refs = 1;
	cap->is_root = true;
	cap->kind = "root";
	snprintf(cap->principal, sizeof cap->principal, "server-token");
	return cap;
}

policy_cap_t *policy_cap_ref(policy_cap_t *cap)
{
	if (cap)
		cap->refs++;
	return cap;
}

void policy_cap_unref(policy_cap_t **cap_p)
{
	policy_cap_t *cap = cap_p ? *cap_p : NULL;

	if (!cap)
		return;
	*cap_p = NULL;
	if (--cap->refs > 0)
		return;
	for (size_t i = 0; i < cap->n_caveats; i++)
		free(cap->caveats[i]);
	free(cap->caveats);
	free(cap->limits);
	free(cap);
}

const char *policy_cap_principal(const policy_cap_t *cap)
{
	return cap->principal;
}

const char *policy_cap_kind(const policy_cap_t *cap)
{
	return cap->kind;
}

bool policy_cap_is_root(const policy_cap_t *cap)
{
	return cap->is_root;
}

bool policy_cap_must_ask(const policy_cap_t *cap, policy_action_t action)
{
	return cap && !cap->is_root && (cap->ask & (unsigned)action);
}

const char *policy_cap_default_trust(const policy_cap_t *cap)
{
	return cap && !cap->is_root ? cap->default_trust : NULL;
}

static const char *const trust_classes[] = { "trusted", "untrusted", "replay" };

int policy_trust_rank(const char *cls)
{
	for (size_t i = 0; cls && i < sizeof trust_classes / sizeof *trust_classes; i++)
		if (strcmp(cls, trust_classes[i]) == 0)
			return (int)i;
	return -1;
}

const char *policy_trust_class_name(const char *cls)
{
	int r = policy_trust_rank(cls);

	return r < 0 ? NULL : trust_classes[r];
}

const char *policy_cap_token_id(const policy_cap_t *cap)
{
	return cap->is_root ? "server-token" : cap->token_id;
}

/* The principal an identifier "name:nonce" names. */
static const policy_principal_t *principal_of(const policy_t *p, const char *id)
{
	const char *colon = strchr(id, ':');

	if (!colon)
		return NULL;
	return policy_principals_find(&p->principals, id, (size_t)(colon - id));
}

policy_cap_t *policy_verify(const policy_t *p, const char *text, size_t len, err_t *err)
{
	uint8_t chain[TOKEN_MAX_CAVEATS][TOKEN_SIG_LEN];
	const policy_principal_t *who;
	policy_token_t t;
	policy_cap_t *cap = NULL;

	if (policy_token_decode(&t, text, len, err))
		return NULL;
	if (!policy_token_verify(&t, p->key, sizeof p->key, chain)) {
		err_set(err, CG_EDENIED, "the token's signature does not verify");
		goto out;
	}
	who = principal_of(p, t.id);
	if (!who) {
		err_set(err, CG_EDENIED, "the token's principal is not declared");
		goto out;
	}
	cap = calloc(1, sizeof *cap);
	if (!cap || !(cap->limits = calloc(t.n_caveats + 1, sizeof *cap->limits)))
		goto oom;
	cap->refs = 1;
	cap->kind = who->kind;
	cap->ask = who->ask;
	cap->default_trust = who->default_trust;
	snprintf(cap->principal, sizeof cap->principal, "%s", who->name);
	snprintf(cap->token_id, sizeof cap->token_id, "%s", t.id);
	for (size_t i = 0; i < who->n_grants; i++)
		if (cap_add_caveat(cap, who->grants[i]))
			goto oom;
	for (size_t i = 0; i < t.n_caveats; i++) {
		exec_limit_t *l = &cap->limits[cap->n_limits];

		if (policy_caveat_check(t.caveats[i], err)) {
			policy_cap_unref(&cap);
			goto out;
		}
		if (cap_add_caveat(cap, t.caveats[i]))
			goto oom;
		if (policy_caveat_max_executions(t.caveats[i], &l->max)) {
			memcpy(l->key, chain[i], TOKEN_SIG_LEN);
			cap->n_limits++;
		}
	}
	goto out;
oom:
	err_set(err, CG_ESYS, "out of memory");
	policy_cap_unref(&cap);
out:
	OPENSSL_cleanse(chain, sizeof chain);
	policy_token_clear(&t);
	return cap;
}

bool policy_allows(const policy_cap_t *cap, policy_action_t action, const policy_resource_t *res,
		   double now, char *why, size_t why_size)
{
	static const policy_resource_t none = { 0 };

	if (!cap) {
		snprintf(why, why_size, "no capability");
		return false;
	}
	if (cap->is_root)
		return true;
	for (size_t i = 0; i < cap->n_caveats; i++)
		if (!policy_caveat_allows(cap->caveats[i], action, res ? res : &none, now, why,
					  why_size))
			return false;
	return true;
}

void policy_scope_free(char **scope)
{
	for (size_t i = 0; scope && scope[i]; i++)
		free(scope[i]);
	free(scope);
}

/* Adds "rw:path" or "ro:path" for candidate c if cap reaches it, and no
 * path already in scope is an ancestor of it (nor the same). */
static int scope_add(char ***scope, size_t *n, const policy_cap_t *cap, const char *c,
		     double now)
{
	policy_resource_t res = { .path = c };
	const char *mode = policy_allows(cap, POLICY_WRITE, &res, now, NULL, 0) ? "rw:" :
			   policy_allows(cap, POLICY_READ, &res, now, NULL, 0) ||
			   policy_allows(cap, POLICY_EXECUTE, &res, now, NULL, 0) ? "ro:" : NULL;
	char **grown;

	if (!mode)
		return 0;
	for (size_t i = 0; i < *n; i++)
		if (policy_path_is_under(c, (*scope)[i] + 3, strlen((*scope)[i] + 3)))
			return 0;
	if (!(grown = realloc(*scope, (*n + 2) * sizeof *grown)))
		return CG_ESYS;
	*scope = grown;
	if (!(grown[*n] = malloc(strlen(c) + 4)))
		return CG_ESYS;
	sprintf(grown[*n], "%s%s", mode, c);
	grown[++*n] = NULL;
	return 0;
}

static size_t depth_of(const char *path)
{
	size_t d = 0;

	for (; *path; path++)
		d += *path == '/';
	return d;
}

/* Shallowest first, then by name: the scope comes out the same each time. */
static int by_depth(const void *a, const void *b)
{
	const char *p = *(char *const *)a, *q = *(char *const *)b;
	size_t x = depth_of(p), y = depth_of(q);

	return x != y ? (x > y) - (x < y) : strcmp(p, q);
}

/* Every path the caveats name, each alternative of each path= caveat;
 * NULL-terminated, *n of them. NULL when out of memory. */
static char **named_paths(const policy_cap_t *cap, size_t *n)
{
	char **all = calloc(1, sizeof *all), **grown;

	*n = 0;
	for (size_t i = 0; all && i < cap->n_caveats; i++) {
		const char *v = cap->caveats[i];

		if (strncmp(v, "path=", 5) != 0)
			continue;
		for (v += 5; *v; v += *v == ',') {
			size_t len = strcspn(v, ",");

			if (!(grown = realloc(all, (*n + 2) * sizeof *grown)) ||
			    !(grown[*n] = strndup(v, len))) {
				policy_scope_free(grown ? grown : all);
				return NULL;
			}
			all = grown;
			all[++*n] = NULL;
			v += len;
		}
	}
	return all;
}

/*
 * The region every path caveat allows is made of paths some caveat names
 * (the deeper of two that nest), so trying each named path against all
 * the caveats finds it: shallowest first, so that a path under one
 * already in scope is not added again.
 */
char **policy_cap_workspace_scope(const policy_cap_t *cap, double now, err_t *err)
{
	char **named, **scope = NULL;
	size_t n_named, n = 0;
	int rc = 0;

	if (!cap || cap->is_root)
		return NULL;
	if (!(named = named_paths(cap, &n_named))) {
		err_set(err, CG_ESYS, "out of memory");
		return NULL;
	}
	if (n_named == 0) {
		policy_scope_free(named);
		return NULL;
	}
	qsort(named, n_named, sizeof *named, by_depth);
	for (size_t i = 0; rc == 0 && i < n_named; i++)
		rc = scope_add(&scope, &n, cap, named[i], now);
	policy_scope_free(named);
	if (rc == 0 && !scope && !(scope = calloc(1, sizeof *scope)))
		rc = CG_ESYS;
	if (rc) {
		policy_scope_free(scope);
		err_set(err, CG_ESYS, "out of memory");
		return NULL;
	}
	return scope;
}

bool policy_cap_is_live(const policy_cap_t *cap, double now, char *why, size_t why_size)
{
	double at;

	for (size_t i = 0; cap && i < cap->n_caveats; i++) {
		if (policy_caveat_expires(cap->caveats[i], &at) && now >= at) {
			snprintf(why, why_size, "the token has expired");
			return false;
		}
	}
	return cap != NULL;
}

int policy_count_execution(policy_t *p, const policy_cap_t *cap, char *why, size_t why_size)
{
	exec_count_t *found[TOKEN_MAX_CAVEATS];

	/* check every limit first: a refused execution counts nowhere */
	for (size_t i = 0; i < cap->n_limits; i++) {
		found[i] = NULL;
		for (size_t j = 0; j < p->n_counts; j++)
			if (CRYPTO_memcmp(p->counts[j].key, cap->limits[i].key, TOKEN_SIG_LEN) == 0)
				found[i] = &p->counts[j];
		if ((found[i] ? found[i]->count : 0) >= cap->limits[i].max) {
			snprintf(why, why_size, "the token's %lu executions are used up",
				 cap->limits[i].max);
			return CG_EDENIED;
		}
	}
	for (size_t i = 0; i < cap->n_limits; i++) {
		if (!found[i]) {
			exec_count_t *grown = realloc(p->counts, (p->n_counts + 1) * sizeof *grown);

			if (!grown) {
				snprintf(why, why_size, "out of memory");
				return CG_ESYS;
			}
			p->counts = grown;
			/* the array moved: find the earlier ones again */
			for (size_t j = 0; j < i; j++)
				for (size_t m = 0; m < p->n_counts; m++)
					if (memcmp(grown[m].key, cap->limits[j].key, TOKEN_SIG_LEN) == 0)
						found[j] = &grown[m];
			memcpy(grown[p->n_counts].key, cap->limits[i].key, TOKEN_SIG_LEN);
			grown[p->n_counts].count = 0;
			found[i] = &grown[p->n_counts++];
		}
	}
	for (size_t i = 0; i < cap->n_limits; i++)
		found[i]->count++;
	return 0;
}

char *policy_mint(const policy_t *p, const char *principal, const char *const *caveats,
		  size_t n_caveats, err_t *err)
{
	char id[TOKEN_ID_MAX + 1], nonce[33];
	policy_token_t t;
	char *text = NULL;

	if (!policy_principals_find(&p->principals, principal, strlen(principal))) {
		err_set(err, CG_ENOTFOUND, "no principal %s is declared in the policy file", principal);
		return NULL;
	}
	if (util_random_hex(nonce, 16)) {
		err_set(err, CG_ESYS, "cannot generate a token identifier");
		return NULL;
	}
	snprintf(id, sizeof id, "%s:%s", principal, nonce);
	if (policy_token_mint(&t, p->key, sizeof p->key, id, err))
		return NULL;
	for (size_t i = 0; i < n_caveats; i++)
		if (policy_caveat_check(caveats[i], err) || policy_token_add_caveat(&t, caveats[i], err))
			goto out;
	text = policy_token_encode(&t);
	if (!text)
		err_set(err, CG_ESYS, "out of memory");
out:
	policy_token_clear(&t);
	return text;
}
