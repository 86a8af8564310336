/*
 * Kernelspec discovery and parsing, following jupyter_client's rules: a
 * name is the directory's name, the first search directory holding a name
 * wins, and kernel.json gives argv, display_name, language, interrupt_mode,
 * env and metadata.
 */
#include "kernelspec.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/log.h"
#include "../common/util.h"

#define KERNEL_JSON_MAX (1u << 20)

bool kspec_is_valid_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= KSPEC_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return name[0] != '.';
}

static int push_dir(char ***dirs, size_t *n, const char *a, const char *b)
{
	char path[4096], **grown;

	if (snprintf(path, sizeof path, "%s%s", a, b ? b : "") >= (int)sizeof path)
		return CG_ETOOBIG;
	grown = realloc(*dirs, (*n + 2) * sizeof *grown);
	if (!grown)
		return CG_ESYS;
	*dirs = grown;
	grown[*n] = strdup(path);
	if (!grown[*n])
		return CG_ESYS;
	grown[++*n] = NULL;
	return 0;
}

char **kspec_search_dirs(const char *extra_dir)
{
	const char *jp = getenv("JUPYTER_PATH"), *home = getenv("HOME");
	const char *xdg = getenv("XDG_DATA_HOME");
	char **dirs = calloc(1, sizeof *dirs);
	size_t n = 0;
	int rc = dirs ? 0 : CG_ESYS;

	if (!rc && jp && *jp) {
		char *copy = strdup(jp), *save = NULL;

		for (char *p = copy ? strtok_r(copy, ":", &save) : NULL; p && !rc;
		     p = strtok_r(NULL, ":", &save))
			rc = push_dir(&dirs, &n, p, "/kernels");
		free(copy);
	}
	if (!rc && xdg && *xdg)
		rc = push_dir(&dirs, &n, xdg, "/jupyter/kernels");
	else if (!rc && home && *home)
		rc = push_dir(&dirs, &n, home, "/.local/share/jupyter/kernels");
	if (!rc && extra_dir)
		rc = push_dir(&dirs, &n, extra_dir, NULL);
	if (!rc)
		rc = push_dir(&dirs, &n, "/usr/local/share/jupyter/kernels", NULL);
	if (!rc)
		rc = push_dir(&dirs, &n, "/usr/share/jupyter/kernels", NULL);
	if (rc)
		kspec_dirs_free(&dirs);
	return dirs;
}

void kspec_dirs_free(char ***dirs_p)
{
	char **dirs = *dirs_p;

	if (!dirs)
		return;
	for (char **d = dirs; *d; d++)
		free(*d);
	free(dirs);
	*dirs_p = NULL;
}

void kspec_clear(kspec_t *s)
{
	if (s->argv) {
		for (size_t i = 0; i < s->argc; i++)
			free(s->argv[i]);
		free(s->argv);
	}
	free(s->dir);
	free(s->display_name);
	free(s->language);
	json_decref(s->env);
	json_decref(s->metadata);
	memset(s, 0, sizeof *s);
}

static int parse_spec(json_t *root, kspec_t *s, err_t *err)
{
	json_t *argv = NULL, *env = NULL, *metadata = NULL;
	const char *display = NULL, *language = "", *mode = "signal";
	json_error_t jerr;
	const char *key;
	json_t *val;
	size_t i;

	if (json_unpack_ex(root, &jerr, 0, "{s:o, s:s, s?s, s?s, s?o, s?o}",
			   "argv", &argv, "display_name", &display, "language", &language,
			   "interrupt_mode", &mode, "env", &env, "metadata", &metadata))
		return err_set(err, CG_EINVAL, "kernel.json: %s", jerr.text);
	if (!json_is_array(argv) || json_array_size(argv) == 0 || json_array_size(argv) > 256)
		return err_set(err, CG_EINVAL, "kernel.json: argv must be a non-empty array");
	if (strcmp(mode, "signal") != 0 && strcmp(mode, "message") != 0)
		return err_set(err, CG_EINVAL, "kernel.json: interrupt_mode must be signal or message");
	if (env && !json_is_object(env))
		return err_set(err, CG_EINVAL, "kernel.json: env must be an object");
	json_object_foreach(env, key, val) {
		if (!json_is_string(val))
			return err_set(err, CG_EINVAL, "kernel.json: env[%s] must be a string", key);
	}
	if (metadata && !json_is_object(metadata))
		return err_set(err, CG_EINVAL, "kernel.json: metadata must be an object");

	s->argc = json_array_size(argv);
	s->argv = calloc(s->argc + 1, sizeof *s->argv);
	if (!s->argv)
		return err_set(err, CG_ESYS, "out of memory");
	json_array_foreach(argv, i, val) {
		if (!json_is_string(val))
			return err_set(err, CG_EINVAL, "kernel.json: argv[%zu] must be a string", i);
		s->argv[i] = strdup(json_string_value(val));
		if (!s->argv[i])
			return err_set(err, CG_ESYS, "out of memory");
	}
	s->display_name = strdup(display);
	s->language = strdup(language);
	s->interrupt_by_message = strcmp(mode, "message") == 0;
	s->env = env ? json_incref(env) : json_object();
	s->metadata = metadata ? json_incref(metadata) : json_object();
	if (!s->display_name || !s->language || !s->env || !s->metadata)
		return err_set(err, CG_ESYS, "out of memory");
	return 0;
}

int kspec_load(const char *dir, const char *name, kspec_t *out, err_t *err)
{
	char path[4096];
	json_error_t jerr;
	struct stat st;
	json_t *root;
	int rc;

	memset(out, 0, sizeof *out);
	if (!kspec_is_valid_name(name))
		return err_set(err, CG_EINVAL, "invalid kernelspec name");
	if (snprintf(path, sizeof path, "%s/kernel.json", dir) >= (int)sizeof path)
		return err_set(err, CG_ETOOBIG, "kernelspec path too long");
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return err_set(err, CG_ENOTFOUND, "no kernel.json");
	if (st.st_size > KERNEL_JSON_MAX)
		return err_set(err, CG_ETOOBIG, "kernel.json is too large");
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return err_set(err, CG_EINVAL, "kernel.json line %d: %s", jerr.line, jerr.text);
	snprintf(out->name, sizeof out->name, "%s", name);
	out->dir = realpath(dir, NULL);
	rc = out->dir ? parse_spec(root, out, err) : err_set(err, CG_ESYS, "cannot resolve kernelspec dir");
	json_decref(root);
	if (rc)
		kspec_clear(out);
	return rc;
}

int kspec_copy(const kspec_t *src, kspec_t *dst)
{
	memset(dst, 0, sizeof *dst);
	memcpy(dst->name, src->name, sizeof dst->name);
	dst->argc = src->argc;
	dst->argv = calloc(src->argc + 1, sizeof *dst->argv);
	dst->dir = strdup(src->dir);
	dst->display_name = strdup(src->display_name);
	dst->language = strdup(src->language);
	dst->interrupt_by_message = src->interrupt_by_message;
	dst->env = json_deep_copy(src->env);
	dst->metadata = json_deep_copy(src->metadata);
	if (!dst->argv || !dst->dir || !dst->display_name || !dst->language || !dst->env ||
	    !dst->metadata)
		goto fail;
	for (size_t i = 0; i < src->argc; i++)
		if (!(dst->argv[i] = strdup(src->argv[i])))
			goto fail;
	return 0;
fail:
	kspec_clear(dst);
	return CG_ESYS;
}

static bool list_has(const kspec_list_t *l, const char *name)
{
	return kspec_find(l, name) != NULL;
}

static void scan_dir(kspec_list_t *l, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char sub[4096];
		kspec_t spec, *grown;
		err_t err = { 0 };

		if (!kspec_is_valid_name(e->d_name) || list_has(l, e->d_name))
			continue;
		if (snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name) >= (int)sizeof sub)
			continue;
		if (kspec_load(sub, e->d_name, &spec, &err)) {
			if (err.code != CG_ENOTFOUND)
				log_warn("kernelspec", "skipping %s: %s", sub, err.msg);
			continue;
		}
		grown = realloc(l->items, (l->count + 1) * sizeof *grown);
		if (!grown) {
			kspec_clear(&spec);
			break;
		}
		l->items = grown;
		l->items[l->count++] = spec;
	}
	closedir(d);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const kspec_t *)a)->name, ((const kspec_t *)b)->name);
}

kspec_list_t *kspec_discover(char *const *dirs)
{
	kspec_list_t *l = calloc(1, sizeof *l);

	if (!l)
		return NULL;
	for (size_t i = 0; dirs && dirs[i]; i++)
		scan_dir(l, dirs[i]);
	if (l->count)
		qsort(l->items, l->count, sizeof *l->items, by_name);
	return l;
}

void kspec_list_free(kspec_list_t **self_p)
{
	kspec_list_t *l = *self_p;

	if (!l)
		return;
	for (size_t i = 0; i < l->count; i++)
		kspec_clear(&l->items[i]);
	free(l->items);
	free(l);
	*self_p = NULL;
}

const kspec_t *kspec_find(const kspec_list_t *l, const char *name)
{
	for (size_t i = 0; l && i < l->count; i++)
		if (strcmp(l->items[i].name, name) == 0)
			return &l->items[i];
	return NULL;
}

/* Resource files Jupyter Server advertises: logos, kernel.js, kernel.css. */
static bool is_resource(const char *file)
{
	return strncmp(file, "logo-", 5) == 0 || strcmp(file, "kernel.js") == 0 ||
	       strcmp(file, "kernel.css") == 0;
}

static json_t *resources_json(const kspec_t *s, const char *base_url)
{
	json_t *res = json_object();
	DIR *d = opendir(s->dir);
	struct dirent *e;

	while (res && d && (e = readdir(d))) {
		char url[512], key[256];
		const char *dot;

		if (!is_resource(e->d_name) || e->d_name[0] == '.')
			continue;
		dot = strrchr(e->d_name, '.');
		snprintf(key, sizeof key, "%.*s",
			 (int)(strncmp(e->d_name, "logo-", 5) == 0 && dot ? dot - e->d_name
									 : (long)strlen(e->d_name)),
			 e->d_name);
		snprintf(url, sizeof url, "%skernelspecs/%s/%s", base_url, s->name, e->d_name);
		json_object_set_new(res, key, json_string(url));
	}
	if (d)
		closedir(d);
	return res;
}

json_t *kspec_to_json(const kspec_t *s, const char *base_url)
{
	json_t *argv = json_array();

	for (size_t i = 0; argv && i < s->argc; i++)
		json_array_append_new(argv, json_string(s->argv[i]));
	return json_pack("{s:s, s:{s:o, s:s, s:s, s:s, s:O, s:O}, s:o}",
			 "name", s->name,
			 "spec", "argv", argv, "display_name", s->display_name,
			 "language", s->language,
			 "interrupt_mode", s->interrupt_by_message ? "message" : "signal",
			 "env", s->env, "metadata", s->metadata,
			 "resources", resources_json(s, base_url));
}

char *kspec_resource_path(const kspec_t *s, const char *file, err_t *err)
{
	char path[4096];
	struct stat st;

	if (!file[0] || file[0] == '.' || strchr(file, '/') || strlen(file) > 255) {
		err_set(err, CG_EINVAL, "invalid resource name");
		return NULL;
	}
	if (snprintf(path, sizeof path, "%s/%s", s->dir, file) >= (int)sizeof path ||
	    lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
		err_set(err, CG_ENOTFOUND, "no such kernelspec resource");
		return NULL;
	}
	return strdup(path);
}

const char *kspec_trust_class(const kspec_t *spec)
{
	json_t *cg = json_object_get(spec->metadata, "cellgate");
	const char *t = json_string_value(json_object_get(cg, "trust_class"));

	return t && *t ? t : "trusted";
}
