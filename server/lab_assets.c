/*
 * The JupyterLab build on disk: finding it, reading files beneath it, and
 * sending them with the headers a browser caches and decompresses by.
 */
#include "lab.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"
#include "contents_path.h"
#include "mime.h"

bool lab_require_assets(http_req_t *req)
{
	const app_t *app = http_app(req);
	char path[PATH_MAX];
	struct stat st;

	if (app->cfg.lab_dir) {
		snprintf(path, sizeof path, "%s/static/main.js", app->cfg.lab_dir);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			return true;
	}
	http_respond_error(req, 404,
			   "the JupyterLab application is not built: run `make` (it builds web/ into "
			   "build/lab) or point --lab-dir at a build");
	return false;
}

const char *lab_version(const app_t *app)
{
	/* read once: the build does not change under a running server */
	static char version[32];
	static bool is_read;
	json_t *build;
	char *text;
	size_t len;

	if (is_read || !app->cfg.lab_dir)
		return version;
	is_read = true;
	text = lab_read_file(app->cfg.lab_dir, "build.json", &len, NULL);
	build = text ? json_loadb(text, len, 0, NULL) : NULL;
	if (json_is_string(json_object_get(build, "jupyterlab")))
		snprintf(version, sizeof version, "%s",
			 json_string_value(json_object_get(build, "jupyterlab")));
	json_decref(build);
	free(text);
	return version;
}

/* Opens dir/rel for reading, confined beneath dir. */
static int open_beneath(const char *dir, const char *rel, struct stat *st, err_t *err)
{
	cpath_root_t root;
	char norm[CPATH_MAX];
	int fd;

	if (cpath_check(rel, strlen(rel), false, norm, err))
		return -1;
	if (cpath_root_open(&root, dir, false, err))
		return -1;
	fd = cpath_open(&root, norm, O_RDONLY, 0, err);
	cpath_root_close(&root);
	if (fd < 0)
		return -1;
	if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		err_set(err, CG_ENOTFOUND, "not a file: '%s'", norm);
		return -1;
	}
	if ((size_t)st->st_size > LAB_FILE_MAX) {
		close(fd);
		err_set(err, CG_ETOOBIG, "'%s' is larger than %u bytes", norm, LAB_FILE_MAX);
		return -1;
	}
	return fd;
}

static char *read_fd(int fd, size_t size, err_t *err)
{
	char *data = malloc(size + 1);
	size_t got = 0;

	if (!data) {
		err_set(err, CG_ESYS, "out of memory");
		return NULL;
	}
	while (got < size) {
		ssize_t n = read(fd, data + got, size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(data);
			err_set(err, CG_ESYS, "cannot read a file: %s", n ? strerror(errno) : "short read");
			return NULL;
		}
		got += (size_t)n;
	}
	data[size] = '\0';
	return data;
}

char *lab_read_file(const char *dir, const char *rel, size_t *len, err_t *err)
{
	struct stat st;
	char *data;
	int fd = open_beneath(dir, rel, &st, err);

	if (fd < 0)
		return NULL;
	data = read_fd(fd, (size_t)st.st_size, err);
	close(fd);
	if (data)
		*len = (size_t)st.st_size;
	return data;
}

/* webpack names chunks and assets <name>.<20 hex digits>.<ext>: such a
 * file never changes, a new build gets a new name. */
static bool has_content_hash(const char *rel)
{
	const char *slash = strrchr(rel, '/'), *name = slash ? slash + 1 : rel;

	for (const char *dot = strchr(name, '.'); dot; dot = strchr(dot + 1, '.')) {
		size_t n = strspn(dot + 1, "0123456789abcdef");

		if (n == 20 && dot[21] == '.')
			return true;
	}
	return false;
}

/* Accept-Encoding names gzip with a quality above zero. */
static bool accepts_gzip(const char *accept)
{
	const char *p = accept;

	while (p && (p = strcasestr(p, "gzip")) != NULL) {
		const char *q = p + 4;

		while (*q == ' ')
			q++;
		if (*q == ';') {
			const char *v = strchr(q, '=');

			if (v && strtod(v + 1, NULL) <= 0)
				return false;
		}
		if (*q == ',' || *q == ';' || *q == '\0')
			return true;
		p = q;
	}
	return false;
}

void lab_send_file(http_req_t *req, const char *sub, const char *rel)
{
	const app_t *app = http_app(req);
	const char *type = mime_type_of(rel), *inm = http_header(req, "if-none-match");
	char dir[PATH_MAX], gz[CPATH_MAX + 4], etag[80];
	bool compressible = mime_is_compressible(type), is_gzip = false;
	err_t err = { 0 };
	struct stat st;
	char *data;
	int fd = -1;

	if (!lab_require_assets(req))
		return;
	snprintf(dir, sizeof dir, "%s/%s", app->cfg.lab_dir, sub);
	/* the build writes <file>.gz beside text files that shrink */
	if (compressible && accepts_gzip(http_header(req, "accept-encoding")) &&
	    strlen(rel) < CPATH_MAX) {
		snprintf(gz, sizeof gz, "%s.gz", rel);
		fd = open_beneath(dir, gz, &st, NULL);
		is_gzip = fd >= 0;
	}
	if (fd < 0 && (fd = open_beneath(dir, rel, &st, &err)) < 0) {
		if (err.code == CG_ENOTFOUND)
			http_respond_error(req, 404, "no such file in the JupyterLab build");
		else
			http_respond_err(req, &err);
		return;
	}
	snprintf(etag, sizeof etag, "\"%" PRIx64 "-%" PRIx64 "%s\"", (uint64_t)st.st_size,
		 (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec,
		 is_gzip ? "-gz" : "");
	http_add_header(req, "etag", etag);
	http_add_header(req, "cache-control", has_content_hash(rel)
						     ? "public, max-age=31536000, immutable"
						     : "no-cache");
	if (compressible)
		http_add_header(req, "vary", "Accept-Encoding");
	if (inm && strstr(inm, etag)) {
		close(fd);
		http_respond(req, 304, NULL, NULL, 0);
		return;
	}
	data = read_fd(fd, (size_t)st.st_size, &err);
	close(fd);
	if (!data) {
		http_respond_err(req, &err);
		return;
	}
	if (is_gzip)
		http_add_header(req, "content-encoding", "gzip");
	http_respond(req, 200, type, data, (size_t)st.st_size);
	free(data);
}

/* Creates each folder of path below the state directory (0700). */
static int make_state_dirs(const char *state, char *path, err_t *err)
{
	for (char *s = path + strlen(state) + 1;; s++) {
		char *slash = strchr(s, '/');

		if (slash)
			*slash = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return err_set(err, CG_ESYS, "cannot create the lab state directory: %s",
				       strerror(errno));
		if (!slash)
			return 0;
		*slash = '/';
		s = slash;
	}
}

char *lab_user_dir(http_req_t *req, const char *sub, err_t *err)
{
	const app_t *app = http_app(req);
	const policy_cap_t *cap = http_cap(req);
	char path[PATH_MAX];
	int n;

	if (cap && !policy_cap_is_root(cap))
		n = snprintf(path, sizeof path, "%s/lab/principals/p-%s/%s", app->cfg.state,
			     policy_cap_principal(cap), sub);
	else
		n = snprintf(path, sizeof path, "%s/lab/%s", app->cfg.state, sub);
	if (n < 0 || (size_t)n >= sizeof path) {
		err_set(err, CG_EINVAL, "the state directory's path is too long");
		return NULL;
	}
	if (make_state_dirs(app->cfg.state, path, err))
		return NULL;
	return strdup(path);
}

int lab_write_file(const char *dir, const char *rel, const char *data, size_t len, err_t *err)
{
	char norm[CPATH_MAX], path[PATH_MAX], tmp[PATH_MAX + 16];
	int rc = cpath_check(rel, strlen(rel), false, norm, err), fd;
	size_t done = 0;

	if (rc)
		return rc;
	if (snprintf(path, sizeof path, "%s/%s", dir, norm) >= (int)sizeof path)
		return err_set(err, CG_EINVAL, "the name is too long");
	/* parent folders (package scopes such as @jupyterlab/) */
	for (char *s = path + strlen(dir) + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		rc = mkdir(path, 0700);
		*s = '/';
		if (rc != 0 && errno != EEXIST)
			return err_set(err, CG_ESYS, "cannot create a folder: %s", strerror(errno));
	}
	rc = 0;
	snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return err_set(err, CG_ESYS, "cannot write: %s", strerror(errno));
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = err_set(err, CG_ESYS, "cannot write: %s", strerror(errno));
			break;
		}
		done += (size_t)n;
	}
	if (!rc && fsync(fd) != 0)
		rc = err_set(err, CG_ESYS, "cannot write: %s", strerror(errno));
	close(fd);
	if (!rc && rename(tmp, path) != 0)
		rc = err_set(err, CG_ESYS, "cannot write: %s", strerror(errno));
	if (rc)
		unlink(tmp);
	return rc;
}
