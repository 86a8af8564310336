/*
 * Kernelspecs: what kernels exist and how to start them.
 *
 * A kernelspec is a directory named for the kernel holding kernel.json and
 * optional resources (logos, kernel.js). They are found, as Jupyter finds
 * them, in JUPYTER_PATH, the user's data directory, the system data
 * directories, and cellgate's own build directory; the first directory that
 * holds a name wins. Discovery reads the disk on every call, so a kernel
 * installed while the server runs shows up without a restart.
 */
#ifndef CELLGATE_KERNELSPEC_H
#define CELLGATE_KERNELSPEC_H

#include <jansson.h>
#include <stdbool.h>

#include "../common/err.h"

#define KSPEC_NAME_MAX 64

typedef struct kspec {
	char name[KSPEC_NAME_MAX];
	char *dir;          /* absolute path of the kernelspec directory */
	char **argv;        /* NULL-terminated; "{connection_file}" is substituted at launch */
	size_t argc;
	char *display_name;
	char *language;
	bool interrupt_by_message; /* interrupt_mode "message"; otherwise SIGINT */
	json_t *env;        /* object of strings, may be empty */
	json_t *metadata;   /* object, may be empty */
} kspec_t;

typedef struct kspec_list {
	kspec_t *items;
	size_t count;
} kspec_list_t;

/* The directories searched, in order; caller owns the NULL-terminated
 * array and its strings (free with kspec_dirs_free). extra_dir, when not
 * NULL, is searched after JUPYTER_PATH and the user directory. */
char **kspec_search_dirs(const char *extra_dir);
void kspec_dirs_free(char ***dirs_p);

/* Every valid kernelspec in dirs. Invalid ones are skipped with a warning
 * in the log. Caller owns the list. */
kspec_list_t *kspec_discover(char *const *dirs);
void kspec_list_free(kspec_list_t **self_p);
const kspec_t *kspec_find(const kspec_list_t *list, const char *name);
/* The trust class the kernelspec asks for (metadata.cellgate.trust_class),
 * "trusted" when it names none. Borrowed from spec. */
const char *kspec_trust_class(const kspec_t *spec);

/* Parses one kernelspec directory. Caller owns *out (kspec_clear). */
int kspec_load(const char *dir, const char *name, kspec_t *out, err_t *err);
void kspec_clear(kspec_t *spec);
int kspec_copy(const kspec_t *src, kspec_t *dst);

/* True for names Jupyter accepts: [a-zA-Z0-9._-]{1,63}. */
bool kspec_is_valid_name(const char *name);

/* The Jupyter Server model: {"name", "spec": {...}, "resources": {...}}.
 * Caller owns the result. */
json_t *kspec_to_json(const kspec_t *spec, const char *base_url);

/* Resolves a resource file of a kernelspec (e.g. "logo-64x64.png") to an
 * absolute path inside its directory, refusing anything that is not a plain
 * file name. Caller owns the result. */
char *kspec_resource_path(const kspec_t *spec, const char *file, err_t *err);

#endif
