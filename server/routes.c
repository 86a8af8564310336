/* The route table and its matcher. */
#include "routes.h"

#include <string.h>

#include "handlers.h"
#include "login.h"

#define GET HTTP_GET | HTTP_HEAD
#define WRITES HTTP_PUT | HTTP_POST | HTTP_PATCH | HTTP_DELETE

/* Every route declares the capability it needs: an action on a kind of
 * resource. http.c checks it (authz.c) before the handler runs. */
#define R POLICY_READ
#define W POLICY_WRITE
#define X POLICY_EXECUTE
#define ANY ROUTE_ANY_TOKEN

const route_t routes[] = {
	{ GET, "/login", login_page, true, ROUTE_PUBLIC, RES_SERVER },
	{ HTTP_POST, "/login", login_submit, true, ROUTE_PUBLIC, RES_SERVER },
	{ GET, "/logout", logout_page, true, ROUTE_PUBLIC, RES_SERVER },
	{ GET, "/api", api_root, false, ANY, RES_SERVER },
	{ GET, "/api/status", api_status, false, R, RES_SERVER },
	{ GET, "/api/me", api_me, false, ANY, RES_SERVER },
	/* Jupyter's event bus: cellgate emits no events yet; the socket waits */
	{ GET, "/api/events/subscribe", api_events_subscribe_plain, false, ANY, RES_SERVER },
	{ GET, "/api/kernelspecs", api_kernelspecs_list, false, R, RES_KERNELSPEC },
	{ GET, "/api/kernelspecs/{name}", api_kernelspecs_get, false, R, RES_KERNELSPEC },
	{ GET, "/kernelspecs/{name}/{file}", kernelspec_resource, false, R, RES_KERNELSPEC },
	{ GET, "/api/kernels", api_kernels_list, false, R, RES_KERNEL },
	{ HTTP_POST, "/api/kernels", api_kernels_start, false, X, RES_KERNEL },
	{ GET, "/api/kernels/{id}", api_kernel_get, false, R, RES_KERNEL },
	{ HTTP_DELETE, "/api/kernels/{id}", api_kernel_delete, false, X, RES_KERNEL },
	{ HTTP_POST, "/api/kernels/{id}/interrupt", api_kernel_interrupt, false, X, RES_KERNEL },
	{ HTTP_POST, "/api/kernels/{id}/restart", api_kernel_restart, false, X, RES_KERNEL },
	{ GET, "/api/kernels/{id}/channels", api_kernel_channels_plain, false, X, RES_KERNEL },
	{ GET, "/api/sessions", api_sessions_list, false, R, RES_SESSION },
	{ HTTP_POST, "/api/sessions", api_sessions_create, false, X, RES_SESSION },
	{ GET, "/api/sessions/{id}", api_session_get, false, R, RES_SESSION },
	{ HTTP_PATCH, "/api/sessions/{id}", api_session_patch, false, X, RES_SESSION },
	{ HTTP_DELETE, "/api/sessions/{id}", api_session_delete, false, X, RES_SESSION },
	{ GET, "/api/contents", api_contents, false, R, RES_CONTENTS },
	{ WRITES, "/api/contents", api_contents, false, W, RES_CONTENTS },
	{ GET, "/api/contents/{path*}", api_contents, false, R, RES_CONTENTS },
	{ WRITES, "/api/contents/{path*}", api_contents, false, W, RES_CONTENTS },
	{ GET, "/api/cellgate/versions/{path*}", api_versions_log, false, R, RES_CONTENTS },
	{ GET, "/api/cellgate/version/{id}", api_version_get, false, R, RES_VERSION },
	{ GET, "/api/cellgate/branches/{path*}", api_versions_branches, false, R, RES_CONTENTS },
	{ HTTP_POST | HTTP_DELETE, "/api/cellgate/branches/{path*}", api_versions_branches, false,
	  W, RES_CONTENTS },
	{ HTTP_POST, "/api/cellgate/checkout/{path*}", api_versions_checkout, false, W,
	  RES_CONTENTS },
	{ GET, "/api/cellgate/diff", api_versions_diff, false, R, RES_DIFF },
	/* every token sees the prompts it asked, and those it may answer */
	{ GET, "/api/cellgate/prompts", api_prompts_list, false, ANY, RES_SERVER },
	{ GET, "/api/cellgate/prompts/{id}", api_prompt_get, false, ANY, RES_SERVER },
	/* and the same prompts as they change, as Server-Sent Events */
	{ GET, "/api/cellgate/events", api_events, false, ANY, RES_SERVER },
	{ HTTP_POST, "/api/cellgate/prompts/{id}", api_prompt_answer, false, POLICY_APPROVE,
	  RES_PROMPT },
	{ GET, "/api/cellgate/egress", api_egress_get, false, R, RES_KERNEL },
	{ GET, "/api/cellgate/audit", api_audit_log, false, POLICY_ADMIN, RES_SERVER },
	/* secrets: names and values in, names out; values go to kernels only */
	{ GET, "/api/cellgate/secrets", api_secrets, false, POLICY_ADMIN, RES_SERVER },
	{ HTTP_PUT | HTTP_DELETE, "/api/cellgate/secrets/{name}", api_secrets, false, POLICY_ADMIN,
	  RES_SERVER },
	/* provenance is read as its notebook is; an execution record, a replay
	 * and a version's reports are checked again on their notebook's path by
	 * the handler, once it is known (as a new kernel is) */
	{ GET, "/api/cellgate/provenance/{path*}", api_provenance_get, false, R, RES_CONTENTS },
	{ GET, "/api/cellgate/execution/{id}", api_execution_get, false, R, RES_SERVER },
	{ GET, "/api/cellgate/replays", api_replays, false, R, RES_SERVER },
	{ HTTP_POST, "/api/cellgate/replays", api_replays, false, POLICY_REPLAY, RES_SERVER },
	{ GET, "/api/cellgate/replays/{id}", api_replays, false, R, RES_SERVER },
	{ HTTP_DELETE, "/api/cellgate/replays/{id}", api_replays, false, POLICY_REPLAY, RES_SERVER },
	/* publishing a version: the body names the notebook, which the handler
	 * checks (and may ask a person about); reading one is reading its notebook */
	{ GET, "/api/cellgate/publications", api_publications, false, R, RES_SERVER },
	{ HTTP_POST, "/api/cellgate/publications", api_publications, false, POLICY_PUBLISH,
	  RES_SERVER },
	{ GET, "/api/cellgate/publications/{id}", api_publications, false, R, RES_SERVER },
	{ GET, "/files/{path*}", files_get, false, R, RES_CONTENTS },
	{ GET, "/api/nbconvert", api_nbconvert_formats, false, ANY, RES_SERVER },
	/* JupyterLab: the page (it holds the token the request came with), its
	 * API (settings and workspaces are the server's, so writing them needs
	 * write on the server), its files (public, as Jupyter's static files) */
	{ GET, "/", lab_root_redirect, false, ANY, RES_SERVER },
	{ GET, "/lab", lab_page, false, ANY, RES_SERVER },
	{ GET, "/lab/tree", lab_page, false, ANY, RES_SERVER },
	{ GET, "/lab/tree/{path*}", lab_page_tree, false, ANY, RES_SERVER },
	{ GET, "/lab/doc/tree/{path*}", lab_page_doc, false, ANY, RES_SERVER },
	{ GET, "/lab/workspaces/{name}", lab_page_workspace, false, ANY, RES_SERVER },
	{ GET, "/lab/workspaces/{name}/tree/{path*}", lab_page_workspace, false, ANY, RES_SERVER },
	{ GET, "/lab/api/settings", api_lab_settings, false, R, RES_SERVER },
	{ HTTP_PUT, "/lab/api/settings", api_lab_settings, false, W, RES_SERVER },
	{ GET, "/lab/api/settings/{id*}", api_lab_settings, false, R, RES_SERVER },
	{ HTTP_PUT, "/lab/api/settings/{id*}", api_lab_settings, false, W, RES_SERVER },
	{ GET, "/lab/api/workspaces", api_lab_workspaces, false, R, RES_SERVER },
	{ GET, "/lab/api/workspaces/{id}", api_lab_workspaces, false, R, RES_SERVER },
	{ HTTP_PUT | HTTP_DELETE, "/lab/api/workspaces/{id}", api_lab_workspaces, false, W,
	  RES_SERVER },
	{ GET, "/lab/api/translations", api_lab_translations, false, ANY, RES_SERVER },
	{ GET, "/lab/api/translations/{locale}", api_lab_translations, false, ANY, RES_SERVER },
	{ GET, "/lab/api/themes/{path*}", lab_themes, true, ROUTE_PUBLIC, RES_SERVER },
	{ GET, "/static/lab/{path*}", lab_static, true, ROUTE_PUBLIC, RES_SERVER },
};

const size_t n_routes = sizeof routes / sizeof *routes;

/* Matches one pattern; params point into scratch (a copy of path). */
static bool match(const char *pattern, const char *path, char *scratch, const char **params,
		  size_t *n_params)
{
	const char *p = pattern, *s;
	size_t n = 0;

	memcpy(scratch, path, strlen(path) + 1);
	s = scratch;
	/* a trailing slash is the same resource, as in Jupyter Server */
	if (strlen(scratch) > 1 && scratch[strlen(scratch) - 1] == '/')
		scratch[strlen(scratch) - 1] = '\0';
	while (*p) {
		if (*p == '{') {
			const char *close = strchr(p, '}');
			bool rest = close && close[-1] == '*';
			char *end;

			if (!close || n >= HTTP_MAX_PARAMS)
				return false;
			if (rest) {
				params[n++] = s;
				s += strlen(s);
			} else {
				end = strchr(s, '/');
				if (end == s || !*s)
					return false;
				params[n++] = s;
				if (end) {
					*end = '\0';
					s = end + 1;
					if (close[1] != '/')
						return false;
					p = close + 2;
					continue;
				}
				s += strlen(s);
			}
			p = close + 1;
			continue;
		}
		if (*p != *s)
			return false;
		p++;
		s++;
	}
	if (*s)
		return false;
	*n_params = n;
	return true;
}

const route_t *route_match(const char *path, unsigned method, char *scratch, const char **params,
			   size_t *n_params)
{
	const route_t *path_only = NULL;

	for (size_t i = 0; i < n_routes; i++) {
		if (path_only && !(routes[i].methods & method))
			continue;
		if (!match(routes[i].pattern, path, scratch, params, n_params))
			continue;
		if (routes[i].methods & method)
			return &routes[i];
		path_only = &routes[i];
	}
	/* the path is known but not for this method: the caller answers 405 */
	if (path_only)
		match(path_only->pattern, path, scratch, params, n_params);
	return path_only;
}
