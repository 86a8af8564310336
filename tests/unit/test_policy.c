/*
 * Unit tests for policy/: the token chain (every byte of a token flipped
 * fails; caveats cannot be removed, reordered or changed), what caveats and
 * principals' grants allow, expiry, execution limits shared by attenuated
 * tokens, the root key's mode, and the audit log's chain against a file
 * edited behind sqlite's back (changed, removed, reordered entries).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../policy/audit.h"
#include "../../policy/caveat.h"
#include "../../policy/policy.h"
#include "../../policy/prompts.h"
#include "../../policy/token.h"

typedef struct fixture {
	char dir[64];
	char policy_file[128];
	policy_t *p;
} fixture_t;

static const char policy_json[] =
	"{\"principals\": {"
	" \"alice\": {\"kind\": \"researcher\", \"paths\": [\"alice\", \"shared/data\"]},"
	" \"bot\": {\"kind\": \"agent\", \"kernelspecs\": [\"python3\"]},"
	" \"rev\": {\"kind\": \"reviewer\"},"
	" \"careful\": {\"kind\": \"researcher\", \"default_trust\": \"untrusted\"}}}";

static int setup(void **state)
{
	fixture_t *f = calloc(1, sizeof *f);
	err_t err = { 0 };
	FILE *fp;

	snprintf(f->dir, sizeof f->dir, "/tmp/test-policy-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->policy_file, sizeof f->policy_file, "%s/policy.json", f->dir);
	fp = fopen(f->policy_file, "w");
	fputs(policy_json, fp);
	fclose(fp);
	f->p = policy_open(f->dir, f->policy_file, &err);
	if (!f->p) {
		fprintf(stderr, "policy_open: %s\n", err.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *f = *state;
	char cmd[128];

	policy_close(&f->p);
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static char *mint(fixture_t *f, const char *who, const char *const *caveats, size_t n)
{
	err_t err = { 0 };
	char *t = policy_mint(f->p, who, caveats, n, &err);

	if (!t)
		fail_msg("mint: %s", err.msg);
	return t;
}

static char *attenuate(const char *text, const char *caveat)
{
	policy_token_t t;
	char *out;

	assert_int_equal(policy_token_decode(&t, text, strlen(text), NULL), 0);
	assert_int_equal(policy_token_add_caveat(&t, caveat, NULL), 0);
	out = policy_token_encode(&t);
	policy_token_clear(&t);
	assert_non_null(out);
	return out;
}

static bool allows(fixture_t *f, const char *text, policy_action_t a, const policy_resource_t *res)
{
	policy_cap_t *cap = policy_verify(f->p, text, strlen(text), NULL);
	char why[POLICY_WHY_MAX];
	bool ok;

	assert_non_null(cap);
	ok = policy_allows(cap, a, res, (double)time(NULL), why, sizeof why);
	policy_cap_unref(&cap);
	return ok;
}

static bool verifies(fixture_t *f, const char *text)
{
	policy_cap_t *cap = policy_verify(f->p, text, strlen(text), NULL);
	bool ok = cap != NULL;

	policy_cap_unref(&cap);
	return ok;
}

/* --- the chain ---------------------------------------------------------------- */

static void test_roundtrip(void **state)
{
	fixture_t *f = *state;
	const char *cav[] = { "action=read,write", "path=alice/nb" };
	char *text = mint(f, "alice", cav, 2), *again;
	policy_token_t t;

	assert_true(strncmp(text, "cg1.", 4) == 0);
	/* URL-safe: usable as ?token= and in a cookie without escaping */
	assert_int_equal(strspn(text + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				"0123456789-_"), strlen(text) - 4);
	assert_int_equal(policy_token_decode(&t, text, strlen(text), NULL), 0);
	assert_int_equal(t.n_caveats, 2);
	assert_string_equal(t.caveats[1], "path=alice/nb");
	assert_true(strncmp(t.id, "alice:", 6) == 0);
	again = policy_token_encode(&t);
	assert_string_equal(again, text);
	policy_token_clear(&t);
	assert_true(verifies(f, text));
	free(again);
	free(text);
}

/* One character changed anywhere, to any other character: refused. */
static void test_every_byte_flipped_fails(void **state)
{
	fixture_t *f = *state;
	const char *cav[] = { "action=read", "path=alice" };
	char *text = mint(f, "alice", cav, 2);
	size_t n = strlen(text);

	for (size_t i = 0; i < n; i++) {
		char orig = text[i];

		for (int delta = 1; delta < 4; delta++) {
			text[i] = (char)(orig ^ delta);
			if (text[i] == '\0')
				continue;
			if (verifies(f, text))
				fail_msg("flipping byte %zu (^%d) still verifies", i, delta);
		}
		text[i] = orig;
	}
	/* truncated or extended */
	assert_true(verifies(f, text));
	text[n - 1] = '\0';
	assert_false(verifies(f, text));
	free(text);
}

static void test_wrong_key_fails(void **state)
{
	fixture_t *f = *state;
	char *text = mint(f, "alice", NULL, 0);
	uint8_t other[POLICY_KEY_LEN] = { 1, 2, 3 };
	policy_token_t t;

	assert_int_equal(policy_token_decode(&t, text, strlen(text), NULL), 0);
	assert_false(policy_token_verify(&t, other, sizeof other, NULL));
	policy_token_clear(&t);
	free(text);
}

/* Nobody can widen: dropping, reordering or editing a caveat, even with
 * the signature of an earlier step of the chain, breaks verification. */
static void test_widen_attempts_fail(void **state)
{
	fixture_t *f = *state;
	const char *cav[] = { "action=read", "path=alice/a" };
	char *base = mint(f, "alice", cav, 2), *text;
	policy_token_t t, u;

	assert_int_equal(policy_token_decode(&t, base, strlen(base), NULL), 0);
	/* drop the last caveat, keep the signature */
	free(t.caveats[--t.n_caveats]);
	text = policy_token_encode(&t);
	assert_false(verifies(f, text));
	free(text);
	policy_token_clear(&t);

	/* reorder */
	assert_int_equal(policy_token_decode(&t, base, strlen(base), NULL), 0);
	{
		char *tmp = t.caveats[0];

		t.caveats[0] = t.caveats[1];
		t.caveats[1] = tmp;
	}
	text = policy_token_encode(&t);
	assert_false(verifies(f, text));
	free(text);
	policy_token_clear(&t);

	/* edit a value */
	assert_int_equal(policy_token_decode(&t, base, strlen(base), NULL), 0);
	free(t.caveats[0]);
	t.caveats[0] = strdup("action=write");
	text = policy_token_encode(&t);
	assert_false(verifies(f, text));
	free(text);
	policy_token_clear(&t);

	/* another principal's identifier under this chain */
	assert_int_equal(policy_token_decode(&t, base, strlen(base), NULL), 0);
	memcpy(t.id, "bot", 3);
	memmove(t.id + 3, strchr(t.id, ':'), strlen(strchr(t.id, ':')) + 1);
	text = policy_token_encode(&t);
	assert_false(verifies(f, text));
	free(text);
	policy_token_clear(&t);

	/* an attenuated token cannot re-widen by attenuating: adding
	 * action=read,write after action=read still allows read only */
	text = attenuate(base, "action=read,write");
	assert_true(verifies(f, text));
	assert_false(allows(f, text, POLICY_WRITE, &(policy_resource_t){ .path = "alice/a" }));
	assert_true(allows(f, text, POLICY_READ, &(policy_resource_t){ .path = "alice/a" }));
	/* nor by adding a wider path */
	free(text);
	text = attenuate(base, "path=alice");
	assert_false(allows(f, text, POLICY_READ, &(policy_resource_t){ .path = "alice/b" }));
	free(text);
	(void)u;
	free(base);
}

static void test_unknown_principal_and_caveat(void **state)
{
	fixture_t *f = *state;
	err_t err = { 0 };
	char *text = mint(f, "alice", NULL, 0), *bad;
	const char *cav[] = { "color=blue" };

	assert_null(policy_mint(f->p, "mallory", NULL, 0, &err));
	assert_null(policy_mint(f->p, "alice", cav, 1, &err));
	/* a caveat the server does not know, added offline: the token is dead */
	{
		policy_token_t t;

		assert_int_equal(policy_token_decode(&t, text, strlen(text), NULL), 0);
		assert_int_equal(policy_token_add_caveat(&t, "color=blue", NULL), 0);
		bad = policy_token_encode(&t);
		policy_token_clear(&t);
	}
	assert_false(verifies(f, bad));
	assert_false(verifies(f, "cg1."));
	/* a caveat with a NUL inside: the bytes after it would escape the HMAC */
	{
		policy_token_t t;
		const char *nul = "cg1.AQAKYWxpY2U6MDBmZgMAEWFjdGlvbj1yZVFkLHdyaXRlAAhwYXRoTWEvYgASZXhwaXJlc"
				  "zAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

		assert_int_equal(policy_token_decode(&t, nul, strlen(nul), NULL), CG_EINVAL);
	}
	assert_false(verifies(f, "cg1.AAAA"));
	assert_false(verifies(f, "not a token"));
	free(bad);
	free(text);
}

/* --- what caveats and grants allow ------------------------------------------- */

static void test_paths_by_component(void **state)
{
	fixture_t *f = *state;
	char *t = mint(f, "alice", NULL, 0);

	assert_true(allows(f, t, POLICY_READ, &(policy_resource_t){ .path = "alice" }));
	assert_true(allows(f, t, POLICY_WRITE, &(policy_resource_t){ .path = "alice/x.ipynb" }));
	assert_true(allows(f, t, POLICY_READ, &(policy_resource_t){ .path = "shared/data/a.csv" }));
	/* a sibling with the same prefix is not inside */
	assert_false(allows(f, t, POLICY_READ, &(policy_resource_t){ .path = "alice-evil/x" }));
	assert_false(allows(f, t, POLICY_READ, &(policy_resource_t){ .path = "alicex" }));
	assert_false(allows(f, t, POLICY_READ, &(policy_resource_t){ .path = "shared/other" }));
	assert_false(allows(f, t, POLICY_READ, &(policy_resource_t){ .path = "" }));
	/* listing the directories on the way down is allowed, nothing else there */
	assert_true(allows(f, t, POLICY_READ, &(policy_resource_t){ .path = "", .is_listing = true }));
	assert_true(allows(f, t, POLICY_READ,
			   &(policy_resource_t){ .path = "shared", .is_listing = true }));
	assert_false(allows(f, t, POLICY_READ,
			    &(policy_resource_t){ .path = "bob", .is_listing = true }));
	/* researchers have no approve by default */
	assert_false(allows(f, t, POLICY_APPROVE, &(policy_resource_t){ .path = "alice/x" }));
	free(t);
}

static void test_grants_and_caveats(void **state)
{
	fixture_t *f = *state;
	const char *cav[] = { "trust=trusted", "effect=net:*.example.org:443" };
	char *bot = mint(f, "bot", cav, 2), *rev = mint(f, "rev", NULL, 0);
	policy_resource_t py = { .kernelspec = "python3", .trust = "trusted" };
	policy_resource_t gap = { .kernelspec = "gap", .trust = "trusted" };
	policy_resource_t vm = { .kernelspec = "python3", .trust = "untrusted" };

	assert_true(allows(f, bot, POLICY_EXECUTE, &py));
	assert_false(allows(f, bot, POLICY_EXECUTE, &gap));
	assert_false(allows(f, bot, POLICY_EXECUTE, &vm));
	/* an agent writes nothing: its kind's default actions */
	assert_false(allows(f, bot, POLICY_WRITE, &(policy_resource_t){ .path = "x" }));
	assert_true(allows(f, bot, POLICY_EXECUTE,
			   &(policy_resource_t){ .effect = "net:pypi.example.org:443" }));
	assert_false(allows(f, bot, POLICY_EXECUTE,
			    &(policy_resource_t){ .effect = "net:evil.com:443" }));
	assert_true(allows(f, rev, POLICY_APPROVE, &(policy_resource_t){ .path = "x" }));
	assert_false(allows(f, rev, POLICY_EXECUTE, &(policy_resource_t){ .path = "x" }));
	free(bot);
	free(rev);
}

/* The workspace scope of text, joined with spaces ("-" for the whole). */
static void scope_of(fixture_t *f, const char *text, char *out, size_t size)
{
	policy_cap_t *cap = policy_verify(f->p, text, strlen(text), NULL);
	err_t err = { 0 };
	char **scope = policy_cap_workspace_scope(cap, 1.0, &err);
	size_t len = 0;

	assert_non_null(cap);
	assert_int_equal(err.code, 0);
	out[0] = '\0';
	if (!scope)
		snprintf(out, size, "-");
	for (size_t i = 0; scope && scope[i]; i++)
		len += (size_t)snprintf(out + len, size - len, "%s%s", i ? " " : "", scope[i]);
	policy_scope_free(scope);
	policy_cap_unref(&cap);
}

static void test_workspace_scope(void **state)
{
	fixture_t *f = *state;
	char *alice = mint(f, "alice", NULL, 0), *bot = mint(f, "bot", NULL, 0), *t;
	policy_cap_t *root;
	char got[512];

	/* the principal's paths; write where it may write */
	scope_of(f, alice, got, sizeof got);
	assert_string_equal(got, "rw:alice rw:shared/data");
	/* nothing narrows a path: all of it (NULL) */
	scope_of(f, bot, got, sizeof got);
	assert_string_equal(got, "-");
	/* a caveat deeper than a grant: the deeper one; one beside: dropped */
	t = attenuate(alice, "path=alice/nb,shared,other");
	scope_of(f, t, got, sizeof got);
	assert_string_equal(got, "rw:alice/nb rw:shared/data");
	free(t);
	/* read only: read-only */
	t = attenuate(alice, "action=read");
	scope_of(f, t, got, sizeof got);
	assert_string_equal(got, "ro:alice ro:shared/data");
	free(t);
	/* two caveats that share nothing: an empty workspace */
	t = attenuate(bot, "path=a");
	free(bot);
	bot = attenuate(t, "path=b");
	free(t);
	scope_of(f, bot, got, sizeof got);
	assert_string_equal(got, "");
	/* a path named twice, and one under another: once */
	t = attenuate(alice, "path=alice,alice/x");
	scope_of(f, t, got, sizeof got);
	assert_string_equal(got, "rw:alice");
	free(t);
	/* the server's token: all of it */
	root = policy_cap_root();
	assert_null(policy_cap_workspace_scope(root, 1.0, NULL));
	policy_cap_unref(&root);
	free(alice);
	free(bot);
}

static void test_expiry(void **state)
{
	fixture_t *f = *state;
	char past[64], future[64];
	const char *p[] = { past }, *fu[] = { future };
	char *dead, *live;
	policy_cap_t *cap;
	char why[POLICY_WHY_MAX] = "";

	snprintf(past, sizeof past, "expires=%lld", (long long)time(NULL) - 1);
	snprintf(future, sizeof future, "expires=%lld", (long long)time(NULL) + 3600);
	dead = mint(f, "alice", p, 1);
	live = mint(f, "alice", fu, 1);
	cap = policy_verify(f->p, dead, strlen(dead), NULL);
	assert_non_null(cap);
	assert_false(policy_allows(cap, POLICY_READ, &(policy_resource_t){ .path = "alice" },
				   (double)time(NULL), why, sizeof why));
	assert_non_null(strstr(why, "expired"));
	policy_cap_unref(&cap);
	assert_true(allows(f, live, POLICY_READ, &(policy_resource_t){ .path = "alice" }));
	/* a later expiry added offline does not extend the first */
	{
		char later[64];
		char *t;

		snprintf(later, sizeof later, "expires=%lld", (long long)time(NULL) + 86400 * 365);
		t = attenuate(dead, later);
		assert_false(allows(f, t, POLICY_READ, &(policy_resource_t){ .path = "alice" }));
		free(t);
	}
	free(dead);
	free(live);
}

static void test_max_executions_shared(void **state)
{
	fixture_t *f = *state;
	const char *cav[] = { "max-executions=2" };
	char *t = mint(f, "bot", cav, 1), *narrower = attenuate(t, "kernelspec=python3");
	policy_cap_t *a = policy_verify(f->p, t, strlen(t), NULL);
	policy_cap_t *b = policy_verify(f->p, narrower, strlen(narrower), NULL);
	char why[POLICY_WHY_MAX];

	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(policy_count_execution(f->p, a, why, sizeof why), 0);
	/* the attenuated token counts against the same limit */
	assert_int_equal(policy_count_execution(f->p, b, why, sizeof why), 0);
	assert_int_equal(policy_count_execution(f->p, a, why, sizeof why), CG_EDENIED);
	assert_int_equal(policy_count_execution(f->p, b, why, sizeof why), CG_EDENIED);
	policy_cap_unref(&a);
	policy_cap_unref(&b);
	free(narrower);
	free(t);
}

static void test_caveat_syntax(void **state)
{
	(void)state;
	static const char *good[] = { "action=read", "action=read,execute", "path=a/b,c",
				      "expires=0", "max-executions=5", "trust=replay",
				      "branch=main", "kernelspec=python3", "effect=secret:db" };
	static const char *bad[] = { "action=", "action=fly", "path=/abs", "path=a/../b",
				     "path=a//b", "path=a/", "path=.", "expires=soon",
				     "max-executions=-1", "trust=maybe", "=x", "noequals",
				     "branch=a,,b", "paths=a" };

	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		if (policy_caveat_check(good[i], NULL))
			fail_msg("%s refused", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (!policy_caveat_check(bad[i], NULL))
			fail_msg("%s accepted", bad[i]);
}

static void test_root_cap_and_key_mode(void **state)
{
	fixture_t *f = *state;
	policy_cap_t *root = policy_cap_root();
	char key[128], why[POLICY_WHY_MAX];
	err_t err = { 0 };
	struct stat st;
	policy_t *again;

	assert_true(policy_allows(root, POLICY_ADMIN, NULL, 0, why, sizeof why));
	policy_cap_unref(&root);
	snprintf(key, sizeof key, "%s/policy.key", f->dir);
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, POLICY_KEY_LEN);
	/* a key others can read is not used */
	chmod(key, 0644);
	again = policy_open(f->dir, f->policy_file, &err);
	assert_null(again);
	assert_non_null(strstr(err.msg, "readable by others"));
	chmod(key, 0600);
}

static void test_bad_policy_files(void **state)
{
	fixture_t *f = *state;
	static const char *bad[] = {
		"{\"principals\": {\"a\": {\"kind\": \"wizard\"}}}",
		"{\"principals\": {\"a\": {\"kind\": \"agent\", \"actoins\": [\"read\"]}}}",
		"{\"principals\": {\"a b\": {\"kind\": \"agent\"}}}",
		"{\"principals\": {\"a\": {\"kind\": \"agent\", \"paths\": [\"../x\"]}}}",
		"{\"principals\": {\"a\": {\"kind\": \"agent\", \"actions\": []}}}",
		"{\"principals\": {\"a\": {\"kind\": \"agent\", \"default_trust\": \"replay\"}}}",
		"{\"principals\": {\"a\": {\"kind\": \"agent\", \"default_trust\": \"weak\"}}}",
		"{\"principals\": {\"a\": {\"kind\": \"agent\", \"default_trust\": 1}}}",
		"{\"people\": {}}",
		"{\"principals\": ",
	};
	char path[160];

	snprintf(path, sizeof path, "%s/bad.json", f->dir);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		FILE *fp = fopen(path, "w");
		err_t err = { 0 };
		policy_t *p;

		fputs(bad[i], fp);
		fclose(fp);
		p = policy_open(f->dir, path, &err);
		if (p)
			fail_msg("accepted: %s", bad[i]);
		assert_true(err.msg[0] != '\0');
	}
}

/* --- prompts ------------------------------------------------------------------- */

static policy_cap_t *verified(fixture_t *f, const char *text)
{
	policy_cap_t *cap = policy_verify(f->p, text, strlen(text), NULL);

	assert_non_null(cap);
	return cap;
}

static void test_prompts_once_session_deny(void **state)
{
	fixture_t *f = *state;
	char *t1 = mint(f, "bot", NULL, 0), *t2 = mint(f, "bot", NULL, 0);
	policy_cap_t *a = verified(f, t1), *b = verified(f, t2);
	policy_prompts_t *all = policy_prompts_new(60);
	const policy_prompt_t *p, *again, *took = NULL;
	policy_prompt_t *mut;
	bool is_new;

	assert_non_null(all);
	assert_false(policy_prompts_take(all, policy_cap_token_id(a), POLICY_EXECUTE, "/nb", NULL));
	p = policy_prompts_ask(all, a, POLICY_EXECUTE, "/nb", "nb", "POST /api/kernels", 100, &is_new,
			       NULL);
	assert_non_null(p);
	assert_true(is_new);
	assert_int_equal(p->state, PROMPT_PENDING);
	again = policy_prompts_ask(all, a, POLICY_EXECUTE, "/nb", "nb", "POST /api/kernels", 101,
				   &is_new, NULL);
	assert_ptr_equal(again, p);
	assert_false(is_new);
	mut = policy_prompts_find(all, p->id);
	assert_int_equal(policy_prompts_answer(mut, "maybe", "rev", 102, NULL), CG_EINVAL);
	assert_int_equal(policy_prompts_answer(mut, "allow_once", "rev", 102, NULL), 0);
	assert_int_equal(policy_prompts_answer(mut, "deny", "rev", 103, NULL), CG_ESTATE);
	/* another token of the same principal, another action or resource: no */
	assert_false(policy_prompts_take(all, policy_cap_token_id(b), POLICY_EXECUTE, "/nb", NULL));
	assert_false(policy_prompts_take(all, policy_cap_token_id(a), POLICY_WRITE, "/nb", NULL));
	assert_false(policy_prompts_take(all, policy_cap_token_id(a), POLICY_EXECUTE, "/nb2", NULL));
	assert_true(policy_prompts_take(all, policy_cap_token_id(a), POLICY_EXECUTE, "/nb", &took));
	assert_ptr_equal(took, p);
	assert_int_equal(p->state, PROMPT_USED);
	assert_false(policy_prompts_take(all, policy_cap_token_id(a), POLICY_EXECUTE, "/nb", NULL));
	/* for the session: as often as asked */
	p = policy_prompts_ask(all, a, POLICY_EXECUTE, "/nb", "nb", "x", 110, &is_new, NULL);
	assert_true(is_new);
	assert_int_equal(policy_prompts_answer(policy_prompts_find(all, p->id), "allow_session", "rev",
					       111, NULL), 0);
	for (int i = 0; i < 3; i++)
		assert_true(policy_prompts_take(all, policy_cap_token_id(a), POLICY_EXECUTE, "/nb",
						NULL));
	/* denied: nothing to take; the denial is given once, to the same token */
	p = policy_prompts_ask(all, b, POLICY_EXECUTE, "/nb", "nb", "x", 120, &is_new, NULL);
	assert_int_equal(policy_prompts_answer(policy_prompts_find(all, p->id), "deny", "rev", 121,
					       NULL), 0);
	assert_false(policy_prompts_take(all, policy_cap_token_id(b), POLICY_EXECUTE, "/nb", NULL));
	assert_false(policy_prompts_take_refusal(all, policy_cap_token_id(a), POLICY_EXECUTE, "/nb",
						 NULL));
	took = NULL;
	assert_true(policy_prompts_take_refusal(all, policy_cap_token_id(b), POLICY_EXECUTE, "/nb",
						&took));
	assert_ptr_equal(took, p);
	assert_false(policy_prompts_take_refusal(all, policy_cap_token_id(b), POLICY_EXECUTE, "/nb",
						 NULL));
	policy_prompts_free(&all);
	assert_null(all);
	policy_cap_unref(&a);
	policy_cap_unref(&b);
	free(t1);
	free(t2);
}

/* The class a kernel gets without asking: the kind's, or "default_trust". */
static void test_default_trust_classes(void **state)
{
	fixture_t *f = *state;
	static const struct {
		const char *who, *cls;
	} want[] = { { "alice", "trusted" }, { "rev", "trusted" }, { "bot", "untrusted" },
		     { "careful", "untrusted" } };
	policy_cap_t *root = policy_cap_root();

	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		char *t = mint(f, want[i].who, NULL, 0);
		policy_cap_t *cap = verified(f, t);

		assert_string_equal(policy_cap_default_trust(cap), want[i].cls);
		policy_cap_unref(&cap);
		free(t);
	}
	/* the server's token: the kernelspec says */
	assert_null(policy_cap_default_trust(root));
	policy_cap_unref(&root);
	assert_true(policy_trust_rank("trusted") < policy_trust_rank("untrusted"));
	assert_true(policy_trust_rank("untrusted") < policy_trust_rank("replay"));
	assert_int_equal(policy_trust_rank("Trusted"), -1);
	assert_int_equal(policy_trust_rank(NULL), -1);
	assert_null(policy_trust_class_name("purple"));
	assert_string_equal(policy_trust_class_name("untrusted"), "untrusted");
}

/* A refusal (deny, timeout) is told to the next identical ask once; the
 * one after asks anew. Only the last answer to the question counts. */
static void test_prompts_refusal_told_once(void **state)
{
	fixture_t *f = *state;
	char *t1 = mint(f, "bot", NULL, 0);
	policy_cap_t *a = verified(f, t1);
	policy_prompts_t *all = policy_prompts_new(5);
	const char *tid = policy_cap_token_id(a), *v1 = "/nb version 1", *v2 = "/nb version 2";
	const policy_prompt_t *p, *told = NULL;
	bool is_new;

	p = policy_prompts_ask(all, a, POLICY_PUBLISH, v1, "nb", "x", 100, &is_new, NULL);
	/* pending: nothing to tell */
	assert_false(policy_prompts_take_refusal(all, tid, POLICY_PUBLISH, v1, NULL));
	assert_int_equal(policy_prompts_answer(policy_prompts_find(all, p->id), "deny", "rev", 101,
					       NULL), 0);
	/* another resource or action is another question */
	assert_false(policy_prompts_take_refusal(all, tid, POLICY_PUBLISH, v2, NULL));
	assert_false(policy_prompts_take_refusal(all, tid, POLICY_WRITE, v1, NULL));
	assert_true(policy_prompts_take_refusal(all, tid, POLICY_PUBLISH, v1, &told));
	assert_ptr_equal(told, p);
	assert_false(policy_prompts_take_refusal(all, tid, POLICY_PUBLISH, v1, NULL));
	/* asked again: a new prompt; it times out, which is told the same way */
	p = policy_prompts_ask(all, a, POLICY_PUBLISH, v1, "nb", "x", 110, &is_new, NULL);
	assert_true(is_new);
	assert_int_equal(policy_prompts_expire(all, 116, NULL, NULL), 1);
	assert_true(policy_prompts_take_refusal(all, tid, POLICY_PUBLISH, v1, &told));
	assert_ptr_equal(told, p);
	assert_int_equal(told->state, PROMPT_TIMED_OUT);
	/* an allow after a denial: the denial is old news */
	p = policy_prompts_ask(all, a, POLICY_PUBLISH, v2, "nb", "x", 120, &is_new, NULL);
	assert_int_equal(policy_prompts_answer(policy_prompts_find(all, p->id), "deny", "rev", 121,
					       NULL), 0);
	p = policy_prompts_ask(all, a, POLICY_PUBLISH, v2, "nb", "x", 122, &is_new, NULL);
	assert_true(is_new);
	assert_int_equal(policy_prompts_answer(policy_prompts_find(all, p->id), "allow_once", "rev",
					       123, NULL), 0);
	assert_false(policy_prompts_take_refusal(all, tid, POLICY_PUBLISH, v2, NULL));
	assert_true(policy_prompts_take(all, tid, POLICY_PUBLISH, v2, NULL));
	policy_prompts_free(&all);
	policy_cap_unref(&a);
	free(t1);
}

/* An effect's prompt: one per ask (each held connection its own), never
 * taken by an action's ask, bounded with the principal's others. */
static void test_prompts_for_effects(void **state)
{
	fixture_t *f = *state;
	char *t = mint(f, "bot", NULL, 0);
	policy_cap_t *a = verified(f, t);
	policy_prompts_t *all = policy_prompts_new(10);
	policy_effect_ask_t q = { .principal = "bot", .token_id = policy_cap_token_id(a),
				  .effect = "network h.example:443", .kernel = "k1",
				  .execution = "m1", .path = "nb", .request = "CONNECT h.example:443" };
	const policy_prompt_t *p, *p2;
	json_t *j;
	err_t err = { 0 };
	bool is_new;

	p = policy_prompts_ask_effect(all, &q, 100, &err);
	assert_non_null(p);
	p2 = policy_prompts_ask_effect(all, &q, 100, &err);
	assert_non_null(p2);
	assert_string_not_equal(p->id, p2->id);
	assert_string_equal(policy_prompt_action_name(p), "effect");
	j = policy_prompt_json(p);
	assert_string_equal(json_string_value(json_object_get(j, "action")), "effect");
	assert_string_equal(json_string_value(json_object_get(j, "effect")), "network h.example:443");
	assert_string_equal(json_string_value(json_object_get(j, "kernel")), "k1");
	assert_string_equal(json_string_value(json_object_get(j, "execution")), "m1");
	assert_string_equal(json_string_value(json_object_get(j, "path")), "nb");
	assert_string_equal(json_string_value(json_object_get(j, "state")), "pending");
	json_decref(j);
	assert_int_equal(policy_prompts_answer(policy_prompts_find(all, p->id), "allow_session", "r",
					       101, NULL), 0);
	/* withdrawn while pending only; then it cannot be answered */
	assert_false(policy_prompts_withdraw(policy_prompts_find(all, p->id), 101));
	assert_true(policy_prompts_withdraw(policy_prompts_find(all, p2->id), 101));
	assert_string_equal(policy_prompt_state_name(p2->state), "withdrawn");
	assert_int_equal(policy_prompts_answer(policy_prompts_find(all, p2->id), "deny", "r", 102,
					       NULL), CG_ESTATE);
	/* an action's ask with the same words is another prompt, and takes nothing */
	assert_false(policy_prompts_take(all, policy_cap_token_id(a), 0, "network h.example:443",
					 NULL));
	p = policy_prompts_ask(all, a, POLICY_EXECUTE, "network h.example:443", "nb", "x", 102,
			       &is_new, NULL);
	assert_true(is_new);
	assert_string_equal(policy_prompt_action_name(p), "execute");
	/* pending effects count against the principal's bound */
	for (int i = 1; i < PROMPTS_MAX_PENDING; i++)
		assert_non_null(policy_prompts_ask_effect(all, &q, 103, NULL));
	assert_null(policy_prompts_ask_effect(all, &q, 103, &err));
	assert_int_equal(err.code, CG_ETOOBIG);
	assert_int_equal(policy_prompts_expire(all, 200, NULL, NULL), PROMPTS_MAX_PENDING);
	policy_prompts_free(&all);
	policy_cap_unref(&a);
	free(t);
}

static void count_expired(void *arg, const policy_prompt_t *p)
{
	(void)p;
	(*(int *)arg)++;
}

static void test_prompts_time_out_and_are_bounded(void **state)
{
	fixture_t *f = *state;
	char *t = mint(f, "bot", NULL, 0), res[32];
	policy_cap_t *a = verified(f, t);
	policy_prompts_t *all = policy_prompts_new(10);
	const policy_prompt_t *p;
	err_t err = { 0 };
	bool is_new;
	int n = 0;

	p = policy_prompts_ask(all, a, POLICY_EXECUTE, "/x", NULL, "x", 100, &is_new, NULL);
	assert_int_equal(policy_prompts_expire(all, 109, count_expired, &n), 0);
	assert_int_equal(policy_prompts_expire(all, 110, count_expired, &n), 1);
	assert_int_equal(n, 1);
	assert_int_equal(p->state, PROMPT_TIMED_OUT);
	/* too late to answer; asking again is a new prompt */
	assert_int_equal(policy_prompts_answer(policy_prompts_find(all, p->id), "allow_once", "r",
					       111, NULL), CG_ESTATE);
	/* a principal with too many waiting is denied, not asked */
	for (int i = 0; i < PROMPTS_MAX_PENDING; i++) {
		snprintf(res, sizeof res, "/nb%d", i);
		assert_non_null(policy_prompts_ask(all, a, POLICY_EXECUTE, res, NULL, "x", 200,
						   &is_new, NULL));
	}
	assert_null(policy_prompts_ask(all, a, POLICY_EXECUTE, "/one-more", NULL, "x", 200, &is_new,
				       &err));
	assert_int_equal(err.code, CG_ETOOBIG);
	policy_prompts_free(&all);
	policy_cap_unref(&a);
	free(t);
}

/* --- the audit log ----------------------------------------------------------- */

static policy_audit_t *audit_with_entries(fixture_t *f, int n)
{
	err_t err = { 0 };
	policy_audit_t *a = policy_audit_open(f->dir, &err);
	char res[32];

	assert_non_null(a);
	for (int i = 0; i < n; i++) {
		snprintf(res, sizeof res, "/nb%d.ipynb", i);
		assert_int_equal(policy_audit_append(a, "alice", "write", res, i % 2 ? "allow" : "deny",
						     "PUT /api/contents", &err), 0);
	}
	return a;
}

static void sql(fixture_t *f, const char *stmt)
{
	char path[128];
	sqlite3 *db;

	snprintf(path, sizeof path, "%s/store.sqlite", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, stmt, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", stmt, sqlite3_errmsg(db));
	sqlite3_close(db);
}

static int64_t verify_bad(policy_audit_t *a)
{
	int64_t n = 0, bad = 0;
	err_t err = { 0 };

	if (policy_audit_verify(a, &n, &bad, &err) == 0)
		return 0;
	return bad;
}

static void test_audit_intact(void **state)
{
	fixture_t *f = *state;
	policy_audit_t *a = audit_with_entries(f, 5);
	int64_t n = 0, bad = -1;
	json_t *list = NULL;

	assert_int_equal(policy_audit_verify(a, &n, &bad, NULL), 0);
	assert_int_equal(n, 5);
	assert_int_equal(policy_audit_list(a, 2, 2, &list, NULL), 0);
	assert_int_equal(json_array_size(list), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "seq")), 3);
	json_decref(list);
	/* the triggers refuse edits through sqlite */
	{
		char path[128];
		sqlite3 *db;

		snprintf(path, sizeof path, "%s/store.sqlite", f->dir);
		sqlite3_open(path, &db);
		assert_int_not_equal(sqlite3_exec(db, "UPDATE policy_audit SET decision='allow'",
						  NULL, NULL, NULL), SQLITE_OK);
		assert_int_not_equal(sqlite3_exec(db, "DELETE FROM policy_audit WHERE seq=2", NULL,
						  NULL, NULL), SQLITE_OK);
		sqlite3_close(db);
	}
	assert_int_equal(verify_bad(a), 0);
	policy_audit_close(&a);
}

#define UNGUARD "DROP TRIGGER policy_audit_no_update; DROP TRIGGER policy_audit_no_delete;"

static void test_audit_altered(void **state)
{
	fixture_t *f = *state;
	policy_audit_t *a = audit_with_entries(f, 5);

	sql(f, UNGUARD "UPDATE policy_audit SET decision='allow' WHERE seq=3");
	assert_int_equal(verify_bad(a), 3);
	policy_audit_close(&a);
}

static void test_audit_altered_and_rehashed(void **state)
{
	fixture_t *f = *state;
	policy_audit_t *a = audit_with_entries(f, 5);

	/* a forger who recomputes entry 2's hash still breaks entry 3's link */
	sql(f, UNGUARD "UPDATE policy_audit SET principal='mallory', hash='"
	       "00000000000000000000000000000000000000000000000000000000000000ff' WHERE seq=2");
	assert_int_equal(verify_bad(a), 2);
	policy_audit_close(&a);
}

static void test_audit_deleted(void **state)
{
	fixture_t *f = *state;
	policy_audit_t *a = audit_with_entries(f, 5);

	sql(f, UNGUARD "DELETE FROM policy_audit WHERE seq=2");
	assert_int_equal(verify_bad(a), 3);
	policy_audit_close(&a);
}

static void test_audit_last_deleted(void **state)
{
	fixture_t *f = *state;
	policy_audit_t *a = audit_with_entries(f, 5);

	sql(f, UNGUARD "DELETE FROM policy_audit WHERE seq=5");
	assert_int_equal(verify_bad(a), 5);
	policy_audit_close(&a);
}

static void test_audit_reordered(void **state)
{
	fixture_t *f = *state;
	policy_audit_t *a = audit_with_entries(f, 5);

	sql(f, UNGUARD "UPDATE policy_audit SET seq=100 WHERE seq=2;"
	       "UPDATE policy_audit SET seq=2 WHERE seq=3;"
	       "UPDATE policy_audit SET seq=3 WHERE seq=100");
	assert_int_equal(verify_bad(a), 2);
	policy_audit_close(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_byte_flipped_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_widen_attempts_fail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_principal_and_caveat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paths_by_component, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grants_and_caveats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_workspace_scope, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_executions_shared, setup, teardown),
		cmocka_unit_test(test_caveat_syntax),
		cmocka_unit_test_setup_teardown(test_root_cap_and_key_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_policy_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prompts_once_session_deny, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prompts_refusal_told_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prompts_for_effects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_trust_classes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prompts_time_out_and_are_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_intact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_altered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_altered_and_rehashed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_deleted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_last_deleted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_reordered, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
