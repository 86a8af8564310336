/*
 * /lab/api/workspaces[/<id>]: JupyterLab's workspaces (open tabs and
 * layout), as jupyterlab_server keeps them: {"data": {...}, "metadata":
 * {"id", "last_modified", "created"}}, one file each in
 * STATE/lab/workspaces/<id>.jupyterlab-workspace, outside the workspace.
 * GET of an id never saved answers an empty workspace, as JupyterLab
 * expects on first use.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/util.h"
#include "app.h"
#include "handlers.h"
#include "lab.h"

#define EXT ".jupyterlab-workspace"
#define ID_MAX 128

static bool id_is_valid(const char *id)
{
	size_t n = strlen(id);

	return n > 0 && n <= ID_MAX && id[0] != '.' &&
	       strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static json_t *load(const char *dir, const char *id, err_t *err)
{
	char rel[ID_MAX + sizeof EXT], *text;
	json_t *ws;
	size_t len;

	snprintf(rel, sizeof rel, "%s" EXT, id);
	text = lab_read_file(dir, rel, &len, err);
	if (!text)
		return NULL;
	ws = json_loadb(text, len, 0, NULL);
	free(text);
	if (!json_is_object(ws)) {
		json_decref(ws);
		err_set(err, CG_ESYS, "the stored workspace '%s' is damaged", id);
		return NULL;
	}
	return ws;
}

static void list(http_req_t *req, const char *dir)
{
	json_t *ids = json_array(), *values = json_array();
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort);

	for (int i = 0; i < n; i++) {
		char *name = names[i]->d_name;
		size_t len = strlen(name);
		json_t *ws;

		if (len > strlen(EXT) && strcmp(name + len - strlen(EXT), EXT) == 0) {
			name[len - strlen(EXT)] = '\0';
			ws = id_is_valid(name) ? load(dir, name, NULL) : NULL;
			if (ws) {
				json_array_append_new(ids, json_string(name));
				json_array_append_new(values, ws);
			}
		}
		free(names[i]);
	}
	free(names);
	http_respond_json(req, 200, json_pack("{s:{s:o, s:o}}", "workspaces", "ids", ids, "values",
					      values));
}

static void put(http_req_t *req, const char *dir, const char *id)
{
	json_t *ws = http_body_json(req), *meta, *old;
	char rel[ID_MAX + sizeof EXT], now[ISO_TIME_LEN], *text;
	err_t err = { 0 };

	if (!ws)
		return;
	meta = json_object_get(ws, "metadata");
	if (!json_is_object(json_object_get(ws, "data")) || !json_is_object(meta)) {
		json_decref(ws);
		http_respond_error(req, 400, "a workspace is {\"data\": {...}, \"metadata\": {...}}");
		return;
	}
	if (json_object_get(meta, "id") && (!json_is_string(json_object_get(meta, "id")) ||
					    strcmp(json_string_value(json_object_get(meta, "id")), id))) {
		json_decref(ws);
		http_respond_error(req, 400, "the workspace's metadata.id is not '%s'", id);
		return;
	}
	util_iso_time_now(now);
	old = load(dir, id, NULL);
	json_object_set_new(meta, "id", json_string(id));
	json_object_set_new(meta, "last_modified", json_string(now));
	if (json_is_string(json_object_get(json_object_get(old, "metadata"), "created")))
		json_object_set(meta, "created", json_object_get(json_object_get(old, "metadata"), "created"));
	else
		json_object_set_new(meta, "created", json_string(now));
	json_decref(old);
	text = json_dumps(ws, JSON_COMPACT);
	json_decref(ws);
	snprintf(rel, sizeof rel, "%s" EXT, id);
	if (!text)
		http_respond_error(req, 500, "cannot encode the workspace");
	else if (lab_write_file(dir, rel, text, strlen(text), &err) == 0)
		http_respond_empty(req, 204);
	else
		http_respond_err(req, &err);
	free(text);
}

void api_lab_workspaces(http_req_t *req)
{
	const char *id = http_param(req, 0);
	err_t err = { 0 };
	char *dir = lab_user_dir(req, "workspaces", &err);
	char path[PATH_MAX * 2];
	json_t *ws;

	if (!dir) {
		http_respond_err(req, &err);
		return;
	}
	if (!id || !*id) {
		if (http_method(req) & (HTTP_GET | HTTP_HEAD))
			list(req, dir);
		else
			http_respond_error(req, 405, "%s needs a workspace id",
					   http_method_name(http_method(req)));
	} else if (!id_is_valid(id)) {
		http_respond_error(req, 400, "not a workspace id: letters, digits, '.', '_', '-'");
	} else if (http_method(req) == HTTP_PUT) {
		put(req, dir, id);
	} else if (http_method(req) == HTTP_DELETE) {
		snprintf(path, sizeof path, "%s/%s" EXT, dir, id);
		if (unlink(path) == 0)
			http_respond_empty(req, 204);
		else if (errno == ENOENT)
			http_respond_error(req, 404, "no such workspace: '%s'", id);
		else
			http_respond_error(req, 500, "cannot delete the workspace");
	} else if ((ws = load(dir, id, &err)) != NULL) {
		http_respond_json(req, 200, ws);
	} else if (err.code == CG_ENOTFOUND) {
		http_respond_json(req, 200, json_pack("{s:{}, s:{s:s}}", "data", "metadata", "id", id));
	} else {
		http_respond_err(req, &err);
	}
	free(dir);
}
