/* The route table and its matcher. */
#include "routes.h"

#include <string.h>

#include "handlers.h"

#define GET HTTP_GET | HTTP_HEAD
#define CONTENTS GET | HTTP_PUT | HTTP_POST | HTTP_PATCH | HTTP_DELETE

const route_t routes[] = {
	{ GET, "/api", api_root, false },
	{ GET, "/api/status", api_status, false },
	{ GET, "/api/me", api_me, false },
	{ GET, "/api/kernelspecs", api_kernelspecs_list, false },
	{ GET, "/api/kernelspecs/{name}", api_kernelspecs_get, false },
	{ GET, "/kernelspecs/{name}/{file}", kernelspec_resource, false },
	{ GET, "/api/kernels", api_kernels_list, false },
	{ HTTP_POST, "/api/kernels", api_kernels_start, false },
	{ GET, "/api/kernels/{id}", api_kernel_get, false },
	{ HTTP_DELETE, "/api/kernels/{id}", api_kernel_delete, false },
	{ HTTP_POST, "/api/kernels/{id}/interrupt", api_kernel_interrupt, false },
	{ HTTP_POST, "/api/kernels/{id}/restart", api_kernel_restart, false },
	{ GET, "/api/kernels/{id}/channels", api_kernel_channels_plain, false },
	{ GET, "/api/sessions", api_sessions_list, false },
	{ HTTP_POST, "/api/sessions", api_sessions_create, false },
	{ GET, "/api/sessions/{id}", api_session_get, false },
	{ HTTP_PATCH, "/api/sessions/{id}", api_session_patch, false },
	{ HTTP_DELETE, "/api/sessions/{id}", api_session_delete, false },
	{ CONTENTS, "/api/contents", api_contents, false },
	{ CONTENTS, "/api/contents/{path*}", api_contents, false },
	{ GET, "/api/cellgate/versions/{path*}", api_versions_log, false },
	{ GET, "/api/cellgate/version/{id}", api_version_get, false },
	{ GET | HTTP_POST | HTTP_DELETE, "/api/cellgate/branches/{path*}", api_versions_branches, false },
	{ HTTP_POST, "/api/cellgate/checkout/{path*}", api_versions_checkout, false },
	{ GET, "/api/cellgate/diff", api_versions_diff, false },
	{ GET, "/api/cellgate/provenance/{path*}", api_provenance_get, false },
	{ GET, "/api/cellgate/execution/{id}", api_execution_get, false },
	{ GET | HTTP_POST, "/api/cellgate/replays", api_replays, false },
	{ GET | HTTP_DELETE, "/api/cellgate/replays/{id}", api_replays, false },
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
