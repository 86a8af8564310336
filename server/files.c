/*
 * /files/<path>: a workspace file as it is, for the browser (images in
 * Markdown, "Download", "Open in New Browser Tab"), as Jupyter Server's
 * FilesHandler. The path is confined to the workspace like every contents
 * path (contents_path.c). The answer runs sandboxed (a file of the
 * workspace is anyone's HTML), is not type-sniffed, and with ?download=1 is
 * an attachment.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"
#include "contents_path.h"
#include "handlers.h"
#include "mime.h"

/* The answer is built in memory: larger files are for the contents API. */
#define FILES_MAX (256u << 20)

static bool wants_download(const char *v)
{
	return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
}

/* Content-Disposition for name: a plain ASCII fallback and the exact
 * name percent-encoded (RFC 6266, RFC 8187). */
static void add_disposition(http_req_t *req, const char *rel)
{
	const char *slash = strrchr(rel, '/'), *name = slash ? slash + 1 : rel;
	char value[1200], plain[256], enc[900];
	size_t p = 0, e = 0;

	for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
		bool safe = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			    (*c >= '0' && *c <= '9') || strchr("._-", *c);

		if (p + 1 < sizeof plain)
			plain[p++] = safe ? (char)*c : '_';
		if (e + 4 < sizeof enc)
			e += (size_t)(safe ? snprintf(enc + e, sizeof enc - e, "%c", *c)
					   : snprintf(enc + e, sizeof enc - e, "%%%02X", *c));
	}
	plain[p] = enc[e] = '\0';
	snprintf(value, sizeof value, "attachment; filename=\"%s\"; filename*=UTF-8''%s", plain, enc);
	http_add_header(req, "content-disposition", value);
}

void files_get(http_req_t *req)
{
	app_t *app = http_app(req);
	const char *path = http_param(req, 0), *inm = http_header(req, "if-none-match");
	char rel[CPATH_MAX], etag[80];
	cpath_root_t root;
	err_t err = { 0 };
	struct stat st;
	char *data;
	size_t got = 0;
	int fd;

	if (cpath_check(path, strlen(path), app->cfg.allow_hidden, rel, &err) ||
	    cpath_root_open(&root, app->cfg.root, app->cfg.allow_hidden, &err)) {
		http_respond_err(req, &err);
		return;
	}
	fd = cpath_open(&root, rel, O_RDONLY | O_NONBLOCK, 0, &err);
	cpath_root_close(&root);
	if (fd < 0) {
		http_respond_err(req, &err);
		return;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		http_respond_error(req, 404, "not a file: '%s'", rel);
		return;
	}
	if ((size_t)st.st_size > FILES_MAX) {
		close(fd);
		http_respond_error(req, 413, "'%s' is larger than %u bytes; use the contents API", rel,
				   FILES_MAX);
		return;
	}
	http_add_header(req, "content-security-policy", "sandbox allow-scripts");
	http_add_header(req, "x-content-type-options", "nosniff");
	http_add_header(req, "cache-control", "private, no-cache");
	snprintf(etag, sizeof etag, "\"%" PRIx64 "-%" PRIx64 "\"", (uint64_t)st.st_size,
		 (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec);
	http_add_header(req, "etag", etag);
	if (wants_download(http_query(req, "download")))
		add_disposition(req, rel);
	if (inm && strstr(inm, etag)) {
		close(fd);
		http_respond(req, 304, NULL, NULL, 0);
		return;
	}
	data = malloc((size_t)st.st_size + 1);
	while (data && got < (size_t)st.st_size) {
		ssize_t n = read(fd, data + got, (size_t)st.st_size - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!data || got != (size_t)st.st_size)
		http_respond_error(req, 500, "cannot read '%s'", rel);
	else
		http_respond(req, 200, mime_type_of(rel), data, got);
	free(data);
}
