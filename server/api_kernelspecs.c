/* /api/kernelspecs and the kernelspec resources (logos) under /kernelspecs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "authz.h"
#include "handlers.h"
#include "mime.h"
#include "kernel_start.h"

/* Logos and the like are small; anything bigger is not a kernelspec resource. */
#define RESOURCE_MAX ((size_t)4 << 20)

void api_kernelspecs_list(http_req_t *req)
{
	app_t *app = http_app(req);
	kspec_list_t *specs = kmgr_kernelspecs(app->kernels);
	char *def = kernel_default_spec(app->kernels);
	json_t *all = json_object();

	const char *shown_default = NULL;

	for (size_t i = 0; specs && i < specs->count; i++) {
		policy_resource_t res = { .kernelspec = specs->items[i].name, .trust = "trusted" };
		policy_resource_t strong = { .kernelspec = specs->items[i].name, .trust = "untrusted" };

		/* a narrowed token sees the kernelspecs it may start, in a class a
		 * client may name (a trust= caveat may leave only one of them) */
		if (!authz_may(req, POLICY_EXECUTE, &res) && !authz_may(req, POLICY_EXECUTE, &strong))
			continue;
		json_object_set_new(all, specs->items[i].name,
				    kspec_to_json(&specs->items[i], app->cfg.base_url));
		if (!shown_default || (def && strcmp(def, specs->items[i].name) == 0))
			shown_default = specs->items[i].name;
	}
	http_respond_json(req, 200, json_pack("{s:s?, s:o}", "default", shown_default, "kernelspecs",
					      all));
	free(def);
	kspec_list_free(&specs);
}

void api_kernelspecs_get(http_req_t *req)
{
	app_t *app = http_app(req);
	kspec_list_t *specs = kmgr_kernelspecs(app->kernels);
	const kspec_t *spec = kspec_find(specs, http_param(req, 0));

	if (spec)
		http_respond_json(req, 200, kspec_to_json(spec, app->cfg.base_url));
	else
		http_respond_error(req, 404, "no such kernelspec: %s", http_param(req, 0));
	kspec_list_free(&specs);
}

static char *read_small_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && (size_t)n <= RESOURCE_MAX &&
	    fseek(f, 0, SEEK_SET) == 0) {
		data = malloc((size_t)n + 1);
		if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
			free(data);
			data = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return data;
}

void kernelspec_resource(http_req_t *req)
{
	app_t *app = http_app(req);
	kspec_list_t *specs = kmgr_kernelspecs(app->kernels);
	const kspec_t *spec = kspec_find(specs, http_param(req, 0));
	err_t err = { 0 };
	char *path = spec ? kspec_resource_path(spec, http_param(req, 1), &err) : NULL;
	char *data = NULL;
	size_t len = 0;

	if (path)
		data = read_small_file(path, &len);
	if (data) {
		http_add_header(req, "cache-control", "max-age=3600");
		http_respond(req, 200, mime_type_of(path), data, len);
	} else {
		http_respond_error(req, 404, "no such kernelspec resource");
	}
	free(data);
	free(path);
	kspec_list_free(&specs);
}
