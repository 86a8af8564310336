/*
 * /lab/api/settings[/<plugin id>]: JupyterLab's settings, as
 * jupyterlab_server answers them.
 *
 * The schemas ship with the build (LAB_DIR/schemas/<package>/<plugin>.json);
 * the user's overrides are the raw text JupyterLab saves, kept as
 * STATE/lab/user-settings/<package>/<plugin>.jupyterlab-settings, outside
 * the workspace. A plugin is {"id", "raw", "schema", "settings", "version"
 * [, "last_modified", "created"]}; GET of the collection lists every plugin
 * that has a schema ({"settings": [...]}, only ids with ?ids_only=true).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/util.h"
#include "app.h"
#include "handlers.h"
#include "jsonc.h"
#include "lab.h"

/* Larger raw settings than this are refused: they are hand-edited JSON. */
#define RAW_MAX (1u << 20)

#define NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"

/*
 * "<package>:<plugin>" with package "name" or "@scope/name", into the
 * relative file name "<package>/<plugin><ext>". Only names made of npm's
 * package-name characters pass, so the result is a plain path.
 */
static bool plugin_file(const char *id, const char *ext, char *out, size_t size)
{
	const char *colon = strchr(id, ':'), *p = id;
	size_t n;

	if (!colon || colon == id || !colon[1])
		return false;
	if (*p == '@') {
		n = strspn(p + 1, NAME_CHARS);
		if (n == 0 || p[1 + n] != '/')
			return false;
		p += n + 2;
	}
	n = strspn(p, NAME_CHARS);
	if (n == 0 || p + n != colon || p[0] == '.')
		return false;
	n = strspn(colon + 1, NAME_CHARS);
	if (n == 0 || colon[1 + n] != '\0' || colon[1] == '.')
		return false;
	return snprintf(out, size, "%.*s/%s%s", (int)(colon - id), id, colon + 1, ext) <
	       (int)size;
}

static void set_time(json_t *plugin, const char *key, time_t t)
{
	char iso[ISO_TIME_LEN];

	util_iso_time((double)t, iso);
	json_object_set_new(plugin, key, json_string(iso));
}

/* The plugin object for id, or NULL with err set (CG_ENOTFOUND: no schema). */
static json_t *load_plugin(http_req_t *req, const char *id, err_t *err)
{
	const app_t *app = http_app(req);
	char rel[PATH_MAX], schemas[PATH_MAX], *text, *user_dir, path[PATH_MAX * 2];
	json_t *schema, *plugin, *settings;
	size_t len = 0;
	struct stat st;

	if (!plugin_file(id, ".json", rel, sizeof rel)) {
		err_set(err, CG_EINVAL, "not a plugin id: '%s'", id);
		return NULL;
	}
	snprintf(schemas, sizeof schemas, "%s/schemas", app->cfg.lab_dir);
	text = lab_read_file(schemas, rel, &len, NULL);
	schema = text ? json_loadb(text, len, 0, NULL) : NULL;
	free(text);
	if (!json_is_object(schema)) {
		json_decref(schema);
		err_set(err, CG_ENOTFOUND, "no settings schema for plugin '%s'", id);
		return NULL;
	}
	plugin = json_pack("{s:s, s:o, s:s}", "id", id, "schema", schema, "version",
			   lab_version(app));
	plugin_file(id, ".jupyterlab-settings", rel, sizeof rel);
	user_dir = lab_user_dir(req, "user-settings", err);
	text = user_dir ? lab_read_file(user_dir, rel, &len, NULL) : NULL;
	settings = text ? jsonc_loadb(text, len, NULL) : NULL;
	json_object_set_new(plugin, "raw", json_string(text && json_is_object(settings) ? text : "{}"));
	json_object_set_new(plugin, "settings", json_is_object(settings) ? settings : json_object());
	if (!json_is_object(settings))
		json_decref(settings);
	if (text && snprintf(path, sizeof path, "%s/%s", user_dir, rel) > 0 &&
	    stat(path, &st) == 0) {
		set_time(plugin, "last_modified", st.st_mtime);
		set_time(plugin, "created", st.st_ctime);
	}
	free(text);
	if (!user_dir) {
		json_decref(plugin);
		return NULL;
	}
	free(user_dir);
	return plugin;
}

/* Every "<package>:<plugin>" with a schema, sorted. */
static json_t *schema_ids(const app_t *app)
{
	char schemas[PATH_MAX], dir[PATH_MAX * 2];
	json_t *ids = json_array();
	struct dirent **top = NULL, **scoped = NULL, **files = NULL;
	int n_top, n_scoped, n_files;

	snprintf(schemas, sizeof schemas, "%s/schemas", app->cfg.lab_dir);
	n_top = scandir(schemas, &top, NULL, alphasort);
	for (int i = 0; i < n_top; i++) {
		const char *name = top[i]->d_name;
		bool is_scope = name[0] == '@';

		/* a scope holds packages, a package holds schemas */
		snprintf(dir, sizeof dir, "%s/%s", schemas, name);
		n_scoped = name[0] == '.' ? 0 : is_scope ? scandir(dir, &scoped, NULL, alphasort) : 1;
		for (int j = 0; j < n_scoped; j++) {
			char pkg[NAME_MAX * 2 + 2], pdir[PATH_MAX * 3];

			if (is_scope && scoped[j]->d_name[0] == '.') {
				free(scoped[j]);
				continue;
			}
			snprintf(pkg, sizeof pkg, "%s%s%s", name, is_scope ? "/" : "",
				 is_scope ? scoped[j]->d_name : "");
			snprintf(pdir, sizeof pdir, "%s/%s", schemas, pkg);
			n_files = scandir(pdir, &files, NULL, alphasort);
			for (int k = 0; k < n_files; k++) {
				const char *f = files[k]->d_name;
				size_t len = strlen(f);
				char id[sizeof pkg + NAME_MAX + 2];

				if (f[0] != '.' && len > 5 && strcmp(f + len - 5, ".json") == 0) {
					snprintf(id, sizeof id, "%s:%.*s", pkg, (int)(len - 5), f);
					json_array_append_new(ids, json_string(id));
				}
				free(files[k]);
			}
			free(files);
			if (is_scope)
				free(scoped[j]);
		}
		if (is_scope && n_scoped > 0)
			free(scoped);
		free(top[i]);
	}
	free(top);
	return ids;
}

static void settings_list(http_req_t *req)
{
	const app_t *app = http_app(req);
	const char *ids_only = http_query(req, "ids_only");
	bool only_ids = ids_only && (strcmp(ids_only, "true") == 0 || strcmp(ids_only, "1") == 0);
	json_t *ids = schema_ids(app), *list = json_array(), *id;
	size_t i;

	json_array_foreach(ids, i, id) {
		json_t *plugin = only_ids ? json_pack("{s:O}", "id", id)
					  : load_plugin(req, json_string_value(id), NULL);

		if (plugin)
			json_array_append_new(list, plugin);
	}
	json_decref(ids);
	http_respond_json(req, 200, json_pack("{s:o}", "settings", list));
}

static void settings_put(http_req_t *req, const char *id)
{
	json_t *body = http_body_json(req), *raw, *parsed;
	char rel[PATH_MAX], *user_dir;
	json_error_t jerr;
	err_t err = { 0 };
	json_t *plugin;

	if (!body)
		return;
	raw = json_object_get(body, "raw");
	if (!json_is_string(raw)) {
		json_decref(body);
		http_respond_error(req, 400, "the body must be {\"raw\": <settings text>}");
		return;
	}
	if (json_string_length(raw) > RAW_MAX) {
		json_decref(body);
		http_respond_error(req, 413, "raw settings are larger than %u bytes", RAW_MAX);
		return;
	}
	parsed = jsonc_loadb(json_string_value(raw), json_string_length(raw), &jerr);
	if (!json_is_object(parsed)) {
		json_decref(body);
		if (parsed)
			http_respond_error(req, 400, "the settings must be an object");
		else
			http_respond_error(req, 400, "invalid settings at line %d: %s", jerr.line,
					   jerr.text);
		json_decref(parsed);
		return;
	}
	json_decref(parsed);
	/* only plugins that exist get settings */
	plugin = load_plugin(req, id, &err);
	json_decref(plugin);
	plugin_file(id, ".jupyterlab-settings", rel, sizeof rel);
	user_dir = plugin ? lab_user_dir(req, "user-settings", &err) : NULL;
	if (user_dir && lab_write_file(user_dir, rel, json_string_value(raw), json_string_length(raw),
				       &err) == 0)
		http_respond_empty(req, 204);
	else
		http_respond_err(req, &err);
	free(user_dir);
	json_decref(body);
}

void api_lab_settings(http_req_t *req)
{
	const char *id = http_param(req, 0);
	err_t err = { 0 };
	json_t *plugin;

	if (!lab_require_assets(req))
		return;
	if (!id || !*id) {
		if (http_method(req) == HTTP_PUT)
			http_respond_error(req, 405, "PUT needs a plugin id");
		else
			settings_list(req);
		return;
	}
	if (http_method(req) == HTTP_PUT) {
		settings_put(req, id);
		return;
	}
	plugin = load_plugin(req, id, &err);
	if (plugin)
		http_respond_json(req, 200, plugin);
	else
		http_respond_err(req, &err);
}
