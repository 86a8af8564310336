/* Who owns a notebook. See notebook_owner.h. */
#include "notebook_owner.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/log.h"
#include "../notebook-store/store.h"
#include "app.h"
#include "app_store.h"

static bool is_notebook(const char *path)
{
	size_t n = strlen(path);

	return n > 6 && strcmp(path + n - 6, ".ipynb") == 0;
}

/* A regular file at path in the workspace (not followed if a symlink:
 * a link is the workspace's, not a notebook anyone saved). */
static bool file_exists(app_t *app, const char *path)
{
	char full[8192];
	struct stat st;

	if (snprintf(full, sizeof full, "%s/%s", app->cfg.root, path) >= (int)sizeof full)
		return false;
	return lstat(full, &st) == 0 && S_ISREG(st.st_mode);
}

void notebook_owner(app_t *app, const char *path, char *out, size_t size)
{
	char owner[STORE_MAX_PRINCIPAL];
	err_t err = { 0 };
	int rc;

	out[0] = '\0';
	if (!path || !is_notebook(path))
		return;
	rc = app_store_open(app, &err);
	if (rc == 0)
		rc = store_owner(app->store, path, owner, &err);
	if (rc == 0)
		snprintf(out, size, "%s", owner);
	else if (rc == CG_ENOTFOUND && file_exists(app, path))
		snprintf(out, size, "filesystem");
	else if (rc != CG_ENOTFOUND) {
		log_warn("authz", "cannot tell who owns a notebook: %s", err.msg);
		snprintf(out, size, "an owner the store cannot tell");
	}
}
