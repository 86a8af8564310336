/* The notebook store, opened lazily. See app_store.h. */
#include "app_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/log.h"
#include "contents.h"

/* The store lives in the state directory, never in the workspace. */
static int store_path(const app_t *app, char *out, size_t size, err_t *err)
{
	if (snprintf(out, size, "%s/store.sqlite", app->cfg.state) >= (int)size)
		return err_set(err, CG_EINVAL, "the state directory's path is too long");
	return 0;
}

int app_store_check(app_t *app, err_t *err)
{
	char path[4096], why[sizeof err->msg] = "";
	int fds[2], status = 0;
	ssize_t n;
	pid_t pid;

	if (store_path(app, path, sizeof path, err))
		return err->code;
	if (pipe(fds) != 0)
		return err_set(err, CG_ESYS, "cannot check the store: pipe failed");
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return err_set(err, CG_ESYS, "cannot check the store: fork failed");
	}
	if (pid == 0) {
		err_t child_err = { 0 };
		store_t *s = store_open(path, &child_err);

		close(fds[0]);
		if (!s && write(fds[1], child_err.msg, strlen(child_err.msg)) < 0)
			_exit(2);
		if (s) {
			err_t rerr = { 0 };

			app->store = s;
			if (contents_reconcile_all(app, &rerr))
				log_warn("store", "working copies not reconciled at start: %s", rerr.msg);
			app->store = NULL;
		}
		store_close(&s);
		_exit(s || !child_err.code ? 0 : 1);
	}
	close(fds[1]);
	n = read(fds[0], why, sizeof why - 1);
	close(fds[0]);
	why[n > 0 ? n : 0] = '\0';
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return err_set(err, CG_ESYS, "cannot open the store %s: %s", path,
			       why[0] ? why : "the check failed");
	return 0;
}

bool app_store_ready(http_req_t *req)
{
	app_t *app = http_app(req);
	char path[4096];
	err_t err = { 0 };

	if (app->store)
		return true;
	if (store_path(app, path, sizeof path, &err) == 0)
		app->store = store_open(path, &err);
	if (!app->store) {
		log_error("store", "cannot open the store: %s", err.msg);
		http_respond_error(req, 500, "the notebook store is unavailable");
		return false;
	}
	return true;
}

int app_store_open(app_t *app, err_t *err)
{
	char path[4096];

	if (app->store)
		return 0;
	if (store_path(app, path, sizeof path, err))
		return err->code;
	app->store = store_open(path, err);
	return app->store ? 0 : (err->code ? err->code : CG_ESYS);
}

void app_store_close(app_t *app)
{
	store_close(&app->store);
}
