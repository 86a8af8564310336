/*
 * Unit tests for server/routes.c: every API path reaches its handler with
 * the right parameters, a known path with another method yields a route
 * that lacks the method (the caller answers 405), and anything else --
 * unknown paths, empty or extra segments -- matches nothing (404). The
 * table itself is checked for shape: absolute patterns, no two routes for
 * one pattern and method, nothing served without the token but the login
 * form and logout, and every route declaring the capability it needs (an
 * action on a resource kind), reads for GET and something stronger for
 * everything else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../server/handlers.h"
#include "../../server/login.h"
#include "../../server/routes.h"

#define ALL_METHODS \
	(HTTP_GET | HTTP_POST | HTTP_PUT | HTTP_PATCH | HTTP_DELETE | HTTP_HEAD | HTTP_OPTIONS)

typedef struct match_result {
	const route_t *route;
	size_t n;
	char p[HTTP_MAX_PARAMS][128]; /* copies: the scratch is freed */
} match_result_t;

/* Matches with a scratch of exactly strlen(path)+1 bytes, as route.h
 * requires, so the sanitizer run catches a write past it. */
static match_result_t match(const char *path, unsigned method)
{
	match_result_t r = { 0 };
	char *scratch = malloc(strlen(path) + 1);
	const char *params[HTTP_MAX_PARAMS] = { NULL };
	size_t n = 99;

	assert_non_null(scratch);
	r.route = route_match(path, method, scratch, params, &n);
	if (r.route) {
		assert_true(n <= HTTP_MAX_PARAMS);
		r.n = n;
		for (size_t i = 0; i < n; i++) {
			assert_non_null(params[i]);
			assert_true(params[i] >= scratch && params[i] <= scratch + strlen(path));
			snprintf(r.p[i], sizeof r.p[i], "%s", params[i]);
		}
	}
	free(scratch);
	return r;
}

typedef struct route_case {
	unsigned method;
	const char *path;
	http_handler_fn handler;
	const char *pattern;
	size_t n;
	const char *p0, *p1;
} route_case_t;

/* Every route of the table, reached by a real request. */
static const route_case_t cases[] = {
	{ HTTP_GET, "/login", login_page, "/login", 0, NULL, NULL },
	{ HTTP_POST, "/login", login_submit, "/login", 0, NULL, NULL },
	{ HTTP_GET, "/logout", logout_page, "/logout", 0, NULL, NULL },
	{ HTTP_GET, "/api", api_root, "/api", 0, NULL, NULL },
	{ HTTP_GET, "/api/status", api_status, "/api/status", 0, NULL, NULL },
	{ HTTP_GET, "/api/me", api_me, "/api/me", 0, NULL, NULL },
	{ HTTP_GET, "/api/kernelspecs", api_kernelspecs_list, "/api/kernelspecs", 0, NULL, NULL },
	{ HTTP_GET, "/api/kernelspecs/python3", api_kernelspecs_get, "/api/kernelspecs/{name}", 1,
	  "python3", NULL },
	{ HTTP_GET, "/kernelspecs/python3/logo-64x64.png", kernelspec_resource,
	  "/kernelspecs/{name}/{file}", 2, "python3", "logo-64x64.png" },
	{ HTTP_GET, "/api/kernels", api_kernels_list, "/api/kernels", 0, NULL, NULL },
	{ HTTP_POST, "/api/kernels", api_kernels_start, "/api/kernels", 0, NULL, NULL },
	{ HTTP_GET, "/api/kernels/4f1c-9a", api_kernel_get, "/api/kernels/{id}", 1, "4f1c-9a", NULL },
	{ HTTP_DELETE, "/api/kernels/4f1c-9a", api_kernel_delete, "/api/kernels/{id}", 1, "4f1c-9a",
	  NULL },
	{ HTTP_POST, "/api/kernels/k1/interrupt", api_kernel_interrupt,
	  "/api/kernels/{id}/interrupt", 1, "k1", NULL },
	{ HTTP_POST, "/api/kernels/k1/restart", api_kernel_restart, "/api/kernels/{id}/restart", 1,
	  "k1", NULL },
	{ HTTP_GET, "/api/kernels/k1/channels", api_kernel_channels_plain,
	  "/api/kernels/{id}/channels", 1, "k1", NULL },
	{ HTTP_GET, "/api/sessions", api_sessions_list, "/api/sessions", 0, NULL, NULL },
	{ HTTP_POST, "/api/sessions", api_sessions_create, "/api/sessions", 0, NULL, NULL },
	{ HTTP_GET, "/api/sessions/s-1", api_session_get, "/api/sessions/{id}", 1, "s-1", NULL },
	{ HTTP_PATCH, "/api/sessions/s-1", api_session_patch, "/api/sessions/{id}", 1, "s-1", NULL },
	{ HTTP_DELETE, "/api/sessions/s-1", api_session_delete, "/api/sessions/{id}", 1, "s-1",
	  NULL },
	{ HTTP_GET, "/api/contents", api_contents, "/api/contents", 0, NULL, NULL },
	{ HTTP_PUT, "/api/contents/", api_contents, "/api/contents", 0, NULL, NULL },
	{ HTTP_GET, "/api/contents/a/b.ipynb", api_contents, "/api/contents/{path*}", 1,
	  "a/b.ipynb", NULL },
	{ HTTP_PATCH, "/api/contents/a/b c.ipynb", api_contents, "/api/contents/{path*}", 1,
	  "a/b c.ipynb", NULL },
	{ HTTP_POST, "/api/contents/d/x.txt/checkpoints/checkpoint", api_contents,
	  "/api/contents/{path*}", 1, "d/x.txt/checkpoints/checkpoint", NULL },
	{ HTTP_DELETE, "/api/contents/dir/", api_contents, "/api/contents/{path*}", 1, "dir", NULL },
	{ HTTP_GET, "/api/cellgate/versions/d/a b.ipynb", api_versions_log,
	  "/api/cellgate/versions/{path*}", 1, "d/a b.ipynb", NULL },
	{ HTTP_GET, "/api/cellgate/version/0123abcd", api_version_get, "/api/cellgate/version/{id}", 1,
	  "0123abcd", NULL },
	{ HTTP_GET, "/api/cellgate/branches/n.ipynb", api_versions_branches,
	  "/api/cellgate/branches/{path*}", 1, "n.ipynb", NULL },
	{ HTTP_POST, "/api/cellgate/branches/d/n.ipynb", api_versions_branches,
	  "/api/cellgate/branches/{path*}", 1, "d/n.ipynb", NULL },
	{ HTTP_DELETE, "/api/cellgate/branches/n.ipynb", api_versions_branches,
	  "/api/cellgate/branches/{path*}", 1, "n.ipynb", NULL },
	{ HTTP_POST, "/api/cellgate/checkout/n.ipynb", api_versions_checkout,
	  "/api/cellgate/checkout/{path*}", 1, "n.ipynb", NULL },
	{ HTTP_GET, "/api/cellgate/diff", api_versions_diff, "/api/cellgate/diff", 0, NULL, NULL },
	{ HTTP_GET, "/api/cellgate/provenance/d/n.ipynb", api_provenance_get,
	  "/api/cellgate/provenance/{path*}", 1, "d/n.ipynb", NULL },
	{ HTTP_GET, "/api/cellgate/execution/0123abcd", api_execution_get,
	  "/api/cellgate/execution/{id}", 1, "0123abcd", NULL },
	{ HTTP_POST, "/api/cellgate/replays", api_replays, "/api/cellgate/replays", 0, NULL, NULL },
	{ HTTP_GET, "/api/cellgate/replays", api_replays, "/api/cellgate/replays", 0, NULL, NULL },
	{ HTTP_DELETE, "/api/cellgate/replays/0123abcd", api_replays,
	  "/api/cellgate/replays/{id}", 1, "0123abcd", NULL },
	{ HTTP_GET, "/api/cellgate/replays/0123abcd", api_replays,
	  "/api/cellgate/replays/{id}", 1, "0123abcd", NULL },
	{ HTTP_POST, "/api/cellgate/publications", api_publications,
	  "/api/cellgate/publications", 0, NULL, NULL },
	{ HTTP_GET, "/api/cellgate/publications", api_publications,
	  "/api/cellgate/publications", 0, NULL, NULL },
	{ HTTP_GET, "/api/cellgate/publications/0123abcd", api_publications,
	  "/api/cellgate/publications/{id}", 1, "0123abcd", NULL },
	{ HTTP_GET, "/api/cellgate/prompts", api_prompts_list, "/api/cellgate/prompts", 0, NULL,
	  NULL },
	{ HTTP_GET, "/api/cellgate/prompts/p-1", api_prompt_get, "/api/cellgate/prompts/{id}", 1,
	  "p-1", NULL },
	{ HTTP_POST, "/api/cellgate/prompts/p-1", api_prompt_answer, "/api/cellgate/prompts/{id}", 1,
	  "p-1", NULL },
	{ HTTP_GET, "/api/cellgate/events", api_events, "/api/cellgate/events", 0, NULL, NULL },
	{ HTTP_GET, "/api/cellgate/audit", api_audit_log, "/api/cellgate/audit", 0, NULL, NULL },
	{ HTTP_GET, "/api/cellgate/secrets", api_secrets, "/api/cellgate/secrets", 0, NULL, NULL },
	{ HTTP_PUT, "/api/cellgate/secrets/DB_PASS", api_secrets, "/api/cellgate/secrets/{name}", 1,
	  "DB_PASS", NULL },
	{ HTTP_GET, "/api/cellgate/egress", api_egress_get, "/api/cellgate/egress", 0, NULL, NULL },
	{ HTTP_GET, "/api/events/subscribe", api_events_subscribe_plain, "/api/events/subscribe", 0,
	  NULL, NULL },
	{ HTTP_GET, "/api/nbconvert", api_nbconvert_formats, "/api/nbconvert", 0, NULL, NULL },
	{ HTTP_GET, "/files/d/a b.png", files_get, "/files/{path*}", 1, "d/a b.png", NULL },
	/* JupyterLab */
	{ HTTP_GET, "/", lab_root_redirect, "/", 0, NULL, NULL },
	{ HTTP_GET, "/lab", lab_page, "/lab", 0, NULL, NULL },
	{ HTTP_GET, "/lab/", lab_page, "/lab", 0, NULL, NULL },
	{ HTTP_GET, "/lab/tree/", lab_page, "/lab/tree", 0, NULL, NULL },
	{ HTTP_GET, "/lab/tree/d/n.ipynb", lab_page_tree, "/lab/tree/{path*}", 1, "d/n.ipynb", NULL },
	{ HTTP_GET, "/lab/doc/tree/n.ipynb", lab_page_doc, "/lab/doc/tree/{path*}", 1, "n.ipynb",
	  NULL },
	{ HTTP_GET, "/lab/workspaces/w1", lab_page_workspace, "/lab/workspaces/{name}", 1, "w1",
	  NULL },
	{ HTTP_GET, "/lab/workspaces/w1/tree/d/n.ipynb", lab_page_workspace,
	  "/lab/workspaces/{name}/tree/{path*}", 2, "w1", "d/n.ipynb" },
	{ HTTP_GET, "/lab/api/settings", api_lab_settings, "/lab/api/settings", 0, NULL, NULL },
	{ HTTP_PUT, "/lab/api/settings/@jupyterlab/notebook-extension:tracker", api_lab_settings,
	  "/lab/api/settings/{id*}", 1, "@jupyterlab/notebook-extension:tracker", NULL },
	{ HTTP_PUT, "/lab/api/settings", api_lab_settings, "/lab/api/settings", 0, NULL, NULL },
	{ HTTP_GET, "/lab/api/settings/@jupyterlab/notebook-extension:tracker", api_lab_settings,
	  "/lab/api/settings/{id*}", 1, "@jupyterlab/notebook-extension:tracker", NULL },
	{ HTTP_GET, "/lab/api/workspaces", api_lab_workspaces, "/lab/api/workspaces", 0, NULL, NULL },
	{ HTTP_GET, "/lab/api/workspaces/default", api_lab_workspaces, "/lab/api/workspaces/{id}",
	  1, "default", NULL },
	{ HTTP_DELETE, "/lab/api/workspaces/default", api_lab_workspaces, "/lab/api/workspaces/{id}",
	  1, "default", NULL },
	{ HTTP_GET, "/lab/api/translations", api_lab_translations, "/lab/api/translations", 0, NULL,
	  NULL },
	{ HTTP_GET, "/lab/api/translations/fr_FR", api_lab_translations,
	  "/lab/api/translations/{locale}", 1, "fr_FR", NULL },
	{ HTTP_GET, "/lab/api/themes/@jupyterlab/theme-dark-extension/index.css", lab_themes,
	  "/lab/api/themes/{path*}", 1, "@jupyterlab/theme-dark-extension/index.css", NULL },
	{ HTTP_GET, "/static/lab/main.js", lab_static, "/static/lab/{path*}", 1, "main.js", NULL },
	/* HEAD is served wherever GET is */
	{ HTTP_HEAD, "/api/kernels", api_kernels_list, "/api/kernels", 0, NULL, NULL },
	{ HTTP_HEAD, "/kernelspecs/py/logo-svg.svg", kernelspec_resource,
	  "/kernelspecs/{name}/{file}", 2, "py", "logo-svg.svg" },
	/* a trailing slash is the same resource, as in Jupyter Server */
	{ HTTP_GET, "/api/", api_root, "/api", 0, NULL, NULL },
	{ HTTP_GET, "/api/kernels/", api_kernels_list, "/api/kernels", 0, NULL, NULL },
	{ HTTP_POST, "/api/kernels/", api_kernels_start, "/api/kernels", 0, NULL, NULL },
	{ HTTP_DELETE, "/api/kernels/k1/", api_kernel_delete, "/api/kernels/{id}", 1, "k1", NULL },
	{ HTTP_POST, "/api/kernels/k1/interrupt/", api_kernel_interrupt,
	  "/api/kernels/{id}/interrupt", 1, "k1", NULL },
	{ HTTP_GET, "/kernelspecs/python3/kernel.js/", kernelspec_resource,
	  "/kernelspecs/{name}/{file}", 2, "python3", "kernel.js" },
};

static void check_case(const route_case_t *c)
{
	match_result_t r = match(c->path, c->method);

	if (!r.route)
		fail_msg("%s (method %u) matched nothing", c->path, c->method);
	assert_ptr_equal(r.route->handler, c->handler);
	assert_string_equal(r.route->pattern, c->pattern);
	assert_true(r.route->methods & c->method);
	assert_int_equal(r.n, c->n);
	if (c->n > 0)
		assert_string_equal(r.p[0], c->p0);
	if (c->n > 1)
		assert_string_equal(r.p[1], c->p1);
}

static void test_every_route(void **state)
{
	(void)state;
	bool is_hit[128] = { false };

	assert_true(n_routes <= 128);
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		match_result_t r = match(cases[i].path, cases[i].method);

		check_case(&cases[i]);
		is_hit[r.route - routes] = true;
	}
	/* the cases cover the whole table: a new route needs a case here */
	for (size_t i = 0; i < n_routes; i++)
		if (!is_hit[i])
			fail_msg("route %s has no test case", routes[i].pattern);
	assert_int_equal(n_routes, 69);
}

/* Every route declares what it needs: one policy action on a resource kind,
 * or ROUTE_ANY_TOKEN. A route added without a declaration fails here. */
static void test_every_route_declares_a_capability(void **state)
{
	(void)state;

	for (size_t i = 0; i < n_routes; i++) {
		const route_t *r = &routes[i];
		unsigned action = r->need & POLICY_ALL_ACTIONS;

		if (r->need == 0 || r->res == RES_NONE)
			fail_msg("route %s declares no capability", r->pattern);
		if (r->need & ROUTE_PUBLIC) {
			assert_true(r->is_public);
			continue;
		}
		assert_false(r->is_public);
		if (r->need == ROUTE_ANY_TOKEN)
			continue;
		/* exactly one action */
		if (action == 0 || (action & (action - 1)) || (r->need & ~POLICY_ALL_ACTIONS))
			fail_msg("route %s must need exactly one action", r->pattern);
		/* reading never changes anything; a route that can is not a read */
		if (r->methods & (HTTP_POST | HTTP_PUT | HTTP_PATCH | HTTP_DELETE))
			assert_int_not_equal(action, POLICY_READ);
	}
}

/* What some routes need, spelled out: a change here is a policy change. */
static void test_capabilities(void **state)
{
	(void)state;
	static const struct {
		unsigned method;
		const char *path;
		unsigned need;
		route_resource_t res;
	} want[] = {
		{ HTTP_GET, "/api/me", ROUTE_ANY_TOKEN, RES_SERVER },
		{ HTTP_GET, "/api/status", POLICY_READ, RES_SERVER },
		{ HTTP_GET, "/api/contents/a.ipynb", POLICY_READ, RES_CONTENTS },
		{ HTTP_PUT, "/api/contents/a.ipynb", POLICY_WRITE, RES_CONTENTS },
		{ HTTP_DELETE, "/api/contents/a", POLICY_WRITE, RES_CONTENTS },
		{ HTTP_POST, "/api/kernels", POLICY_EXECUTE, RES_KERNEL },
		{ HTTP_GET, "/api/kernels/k1/channels", POLICY_EXECUTE, RES_KERNEL },
		{ HTTP_GET, "/api/kernelspecs", POLICY_READ, RES_KERNELSPEC },
		{ HTTP_POST, "/api/sessions", POLICY_EXECUTE, RES_SESSION },
		{ HTTP_GET, "/api/cellgate/version/0123", POLICY_READ, RES_VERSION },
		{ HTTP_GET, "/api/cellgate/diff", POLICY_READ, RES_DIFF },
		{ HTTP_POST, "/api/cellgate/prompts/p1", POLICY_APPROVE, RES_PROMPT },
		{ HTTP_GET, "/api/cellgate/audit", POLICY_ADMIN, RES_SERVER },
		{ HTTP_POST, "/api/cellgate/publications", POLICY_PUBLISH, RES_SERVER },
		{ HTTP_GET, "/api/cellgate/publications/0123", POLICY_READ, RES_SERVER },
		{ HTTP_GET, "/api/cellgate/secrets", POLICY_ADMIN, RES_SERVER },
		{ HTTP_PUT, "/api/cellgate/secrets/k", POLICY_ADMIN, RES_SERVER },
		{ HTTP_DELETE, "/api/cellgate/secrets/k", POLICY_ADMIN, RES_SERVER },
		{ HTTP_GET, "/api/cellgate/events", ROUTE_ANY_TOKEN, RES_SERVER },
		{ HTTP_POST, "/api/cellgate/checkout/a.ipynb", POLICY_WRITE, RES_CONTENTS },
		{ HTTP_DELETE, "/api/cellgate/branches/a.ipynb", POLICY_WRITE, RES_CONTENTS },
	};

	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		match_result_t r = match(want[i].path, want[i].method);

		assert_non_null(r.route);
		if (r.route->need != want[i].need || r.route->res != want[i].res)
			fail_msg("%s: needs %#x on %d, expected %#x on %d", want[i].path,
				 r.route->need, r.route->res, want[i].need, want[i].res);
	}
}

static void test_get_and_post_differ(void **state)
{
	(void)state;
	match_result_t get = match("/api/kernels", HTTP_GET);
	match_result_t post = match("/api/kernels", HTTP_POST);

	assert_non_null(get.route);
	assert_non_null(post.route);
	assert_ptr_not_equal(get.route, post.route);
	assert_ptr_equal(get.route->handler, api_kernels_list);
	assert_ptr_equal(post.route->handler, api_kernels_start);
	assert_false(get.route->methods & HTTP_POST);
	assert_false(post.route->methods & HTTP_GET);
}

/* A known path with a method it does not take: a route comes back, for
 * the caller's 405, and it does not allow the method. */
static void test_wrong_method(void **state)
{
	(void)state;
	static const struct {
		unsigned method;
		const char *path, *pattern, *p0;
	} wrong[] = {
		{ HTTP_PUT, "/api/kernels", "/api/kernels", NULL },
		{ HTTP_DELETE, "/api/kernels", "/api/kernels", NULL },
		{ HTTP_POST, "/api", "/api", NULL },
		{ HTTP_POST, "/api/kernels/k1", "/api/kernels/{id}", "k1" },
		{ HTTP_PATCH, "/api/kernels/k1/", "/api/kernels/{id}", "k1" },
		{ HTTP_GET, "/api/kernels/k1/interrupt", "/api/kernels/{id}/interrupt", "k1" },
		{ HTTP_GET, "/api/kernels/k1/restart", "/api/kernels/{id}/restart", "k1" },
		{ HTTP_POST, "/api/kernels/k1/channels", "/api/kernels/{id}/channels", "k1" },
		{ HTTP_PUT, "/api/sessions/s1", "/api/sessions/{id}", "s1" },
		{ HTTP_DELETE, "/api/kernelspecs/python3", "/api/kernelspecs/{name}", "python3" },
		{ HTTP_POST, "/kernelspecs/python3/logo-64x64.png", "/kernelspecs/{name}/{file}",
		  "python3" },
		{ HTTP_OPTIONS, "/api/status", "/api/status", NULL },
		/* a secret's value never comes back out of the API */
		{ HTTP_GET, "/api/cellgate/secrets/k", "/api/cellgate/secrets/{name}", "k" },
	};

	for (size_t i = 0; i < sizeof wrong / sizeof *wrong; i++) {
		match_result_t r = match(wrong[i].path, wrong[i].method);

		if (!r.route)
			fail_msg("%s (method %u): expected a route for 405", wrong[i].path,
				 wrong[i].method);
		assert_string_equal(r.route->pattern, wrong[i].pattern);
		assert_false(r.route->methods & wrong[i].method);
		/* the parameters are those of this path, not of a route tried after */
		if (wrong[i].p0) {
			assert_true(r.n >= 1);
			assert_string_equal(r.p[0], wrong[i].p0);
		}
	}
}

static void test_no_match(void **state)
{
	(void)state;
	static const char *paths[] = {
		"",
		"/apix",
		"/API",
		"api",
		"/api//",
		"//api",
		"/api/kernel",
		"/api/kernelsx",
		"/api/kernels//",
		"/api/kernels//interrupt",
		"/api/kernels//interrupt/",
		"/api/kernels/k1//",
		"/api/kernels/k1//interrupt",
		"/api/kernels/k1/interrupt/x",
		"/api/kernels/k1/interrupts",
		"/api/kernels/k1/channels/extra",
		"/api/kernels/k1/x/interrupt",
		"/api/sessions/s1/extra",
		"/api/sessions//",
		"/api/kernelspecs/python3/extra",
		"/kernelspecs",
		"/kernelspecs/python3",
		"/kernelspecs/python3/",
		"/kernelspecs//logo-64x64.png",
		"/kernelspecs/python3//",
		"/kernelspecs/python3/a/b",
		"/kernelspecs/python3/../../etc/passwd",
		"/labx",
		"/lab/api",
		"/lab/api/settingsx",
		"/lab/api/workspaces/a/b",
		"/lab/workspaces",
		"/lab/workspaces/w/x",
		"/static/lab",
		"/static/labx/main.js",
		"/files",
	};
	static const unsigned methods[] = { HTTP_GET, HTTP_POST, HTTP_DELETE, HTTP_PATCH,
					    HTTP_PUT, HTTP_HEAD, HTTP_OPTIONS };

	for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
		for (size_t j = 0; j < sizeof methods / sizeof *methods; j++) {
			match_result_t r = match(paths[i], methods[j]);

			if (r.route)
				fail_msg("%s (method %u) matched %s", paths[i], methods[j],
					 r.route->pattern);
		}
	}
}

/* The pattern with each "{x}" replaced by "v<k>". */
static void instantiate(const char *pattern, char *out, size_t cap)
{
	size_t o = 0;
	int k = 0;

	for (const char *p = pattern; *p; p++) {
		if (*p == '{') {
			const char *close = strchr(p, '}');
			int w;

			assert_non_null(close);
			w = snprintf(out + o, cap - o, "v%d", k++);
			assert_true(w > 0 && (size_t)w < cap - o);
			o += (size_t)w;
			p = close;
			continue;
		}
		assert_true(o + 1 < cap);
		out[o++] = *p;
	}
	out[o] = '\0';
}

/* The table's shape, and each route reached for each of its methods
 * through a path made from its own pattern; the other methods get a route
 * for 405 that lacks them. */
static void test_table(void **state)
{
	(void)state;

	for (size_t i = 0; i < n_routes; i++) {
		const route_t *r = &routes[i];
		unsigned all = 0;
		char path[256];

		assert_non_null(r->pattern);
		if (r->pattern[0] != '/')
			fail_msg("route %s does not start with /", r->pattern);
		assert_non_null(r->handler);
		assert_int_not_equal(r->methods, 0);
		assert_int_equal(r->methods & ~(unsigned)ALL_METHODS, 0);
		/* docs/protocol.md: every URL needs credentials but the login
		 * form and logout (auth.h), which no handler trusts, what a
		 * <script> or <link> of the page fetches */
		if (r->is_public && strcmp(r->pattern, "/login") != 0 &&
		    strcmp(r->pattern, "/logout") != 0 &&
		    strcmp(r->pattern, "/static/lab/{path*}") != 0 &&
		    strcmp(r->pattern, "/lab/api/themes/{path*}") != 0)
			fail_msg("%s is served without the token", r->pattern);
		for (size_t j = 0; j < n_routes; j++) {
			if (j == i || strcmp(routes[j].pattern, r->pattern) != 0)
				continue;
			if (routes[j].methods & r->methods)
				fail_msg("%s: two routes share a method", r->pattern);
			all |= routes[j].methods;
		}
		all |= r->methods;

		instantiate(r->pattern, path, sizeof path);
		for (unsigned m = 1; m <= HTTP_OPTIONS; m <<= 1) {
			match_result_t got = match(path, m);

			assert_non_null(got.route);
			assert_string_equal(got.route->pattern, r->pattern);
			if (!(all & m)) {
				assert_false(got.route->methods & m);
				continue;
			}
			if (!(r->methods & m))
				continue;
			assert_ptr_equal(got.route, r);
			for (size_t k = 0; k < got.n; k++) {
				char want[24];

				snprintf(want, sizeof want, "v%zu", k);
				assert_string_equal(got.p[k], want);
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_route),
		cmocka_unit_test(test_every_route_declares_a_capability),
		cmocka_unit_test(test_capabilities),
		cmocka_unit_test(test_get_and_post_differ),
		cmocka_unit_test(test_wrong_method),
		cmocka_unit_test(test_no_match),
		cmocka_unit_test(test_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
