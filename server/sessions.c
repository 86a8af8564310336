/* The in-memory session table. See sessions.h. */
#include "sessions.h"

#include <stdlib.h>
#include <string.h>

#include "../common/util.h"

struct session {
	char id[UUID_STR_LEN];
	char *path, *name, *type, *kernel_id;
	session_t *next;
};

struct sessions {
	kmgr_t *kernels;
	session_t *head;
};

sessions_t *sessions_new(kmgr_t *kernels)
{
	sessions_t *all = calloc(1, sizeof *all);

	if (all)
		all->kernels = kernels;
	return all;
}

static void session_free(session_t *s)
{
	free(s->path);
	free(s->name);
	free(s->type);
	free(s->kernel_id);
	free(s);
}

void sessions_free(sessions_t **self_p)
{
	sessions_t *all = *self_p;

	if (!all)
		return;
	*self_p = NULL;
	while (all->head) {
		session_t *s = all->head;

		all->head = s->next;
		session_free(s);
	}
	free(all);
}

/* Replaces *field with a copy of value; a NULL value keeps the field. */
static int set_field(char **field, const char *value)
{
	char *copy;

	if (!value)
		return 0;
	copy = strdup(value);
	if (!copy)
		return CG_ESYS;
	free(*field);
	*field = copy;
	return 0;
}

int session_update(session_t *s, const char *path, const char *name, const char *type,
		   const char *kernel_id)
{
	if (set_field(&s->path, path) || set_field(&s->name, name) || set_field(&s->type, type) ||
	    set_field(&s->kernel_id, kernel_id))
		return CG_ESYS;
	return 0;
}

session_t *sessions_add(sessions_t *all, const char *path, const char *name, const char *type,
			const char *kernel_id)
{
	session_t *s = calloc(1, sizeof *s), **tail;

	if (!s)
		return NULL;
	if (util_uuid4(s->id) ||
	    session_update(s, path ? path : "", name ? name : "", type ? type : "", kernel_id)) {
		session_free(s);
		return NULL;
	}
	for (tail = &all->head; *tail; tail = &(*tail)->next)
		;
	*tail = s;
	return s;
}

void sessions_remove(sessions_t *all, session_t *s)
{
	for (session_t **p = &all->head; *p; p = &(*p)->next) {
		if (*p == s) {
			*p = s->next;
			session_free(s);
			return;
		}
	}
}

/* Drops sessions whose kernel has been shut down, as Jupyter Server does. */
static void prune(sessions_t *all)
{
	session_t **p = &all->head;

	while (*p) {
		session_t *s = *p;

		if (!kmgr_find(all->kernels, s->kernel_id)) {
			*p = s->next;
			session_free(s);
		} else {
			p = &s->next;
		}
	}
}

session_t *sessions_next(sessions_t *all, session_t *prev)
{
	if (!prev) {
		prune(all);
		return all->head;
	}
	return prev->next;
}

session_t *sessions_find(sessions_t *all, const char *id)
{
	for (session_t *s = sessions_next(all, NULL); s; s = s->next) {
		if (strcmp(s->id, id) == 0)
			return s;
	}
	return NULL;
}

session_t *sessions_find_path(sessions_t *all, const char *path)
{
	for (session_t *s = sessions_next(all, NULL); s; s = s->next) {
		if (strcmp(s->path, path) == 0)
			return s;
	}
	return NULL;
}

const char *session_id(const session_t *s)
{
	return s->id;
}

const char *session_path(const session_t *s)
{
	return s->path;
}

const char *session_kernel_id(const session_t *s)
{
	return s->kernel_id;
}

json_t *session_model(sessions_t *all, const session_t *s)
{
	kernel_t *k = kmgr_find(all->kernels, s->kernel_id);
	json_t *model = json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", s->id, "path", s->path, "name",
				  s->name, "type", s->type, "kernel",
				  k ? kernel_model(k) : json_null());

	/* older clients (and Jupyter Server) still read "notebook" */
	if (model && strcmp(s->type, "notebook") == 0)
		json_object_set_new(model, "notebook",
				    json_pack("{s:s, s:s}", "path", s->path, "name", s->name));
	return model;
}
