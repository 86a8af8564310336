/* Content types by file extension: the web's usual table, small and fixed. */
#include "mime.h"

#include <string.h>
#include <strings.h>

static const struct {
	const char *ext, *type;
} types[] = {
	{ "html", "text/html; charset=utf-8" },
	{ "htm", "text/html; charset=utf-8" },
	{ "js", "text/javascript; charset=utf-8" },
	{ "mjs", "text/javascript; charset=utf-8" },
	{ "css", "text/css; charset=utf-8" },
	{ "json", "application/json" },
	{ "map", "application/json" },
	{ "ipynb", "application/x-ipynb+json" },
	{ "txt", "text/plain; charset=utf-8" },
	{ "md", "text/markdown; charset=utf-8" },
	{ "csv", "text/csv; charset=utf-8" },
	{ "tsv", "text/tab-separated-values; charset=utf-8" },
	{ "py", "text/x-python; charset=utf-8" },
	{ "xml", "application/xml" },
	{ "svg", "image/svg+xml" },
	{ "png", "image/png" },
	{ "jpg", "image/jpeg" },
	{ "jpeg", "image/jpeg" },
	{ "gif", "image/gif" },
	{ "webp", "image/webp" },
	{ "ico", "image/x-icon" },
	{ "bmp", "image/bmp" },
	{ "pdf", "application/pdf" },
	{ "woff", "font/woff" },
	{ "woff2", "font/woff2" },
	{ "ttf", "font/ttf" },
	{ "otf", "font/otf" },
	{ "eot", "application/vnd.ms-fontobject" },
	{ "wasm", "application/wasm" },
	{ "zip", "application/zip" },
	{ "gz", "application/gzip" },
	{ "mp3", "audio/mpeg" },
	{ "wav", "audio/wav" },
	{ "mp4", "video/mp4" },
	{ "webm", "video/webm" },
};

const char *mime_type_of(const char *name)
{
	const char *slash = strrchr(name, '/');
	const char *dot = strrchr(slash ? slash + 1 : name, '.');

	for (size_t i = 0; dot && i < sizeof types / sizeof *types; i++) {
		if (strcasecmp(dot + 1, types[i].ext) == 0)
			return types[i].type;
	}
	return "application/octet-stream";
}

bool mime_is_compressible(const char *type)
{
	return strncmp(type, "text/", 5) == 0 || strncmp(type, "application/json", 16) == 0 ||
	       strcmp(type, "image/svg+xml") == 0 || strcmp(type, "application/xml") == 0 ||
	       strcmp(type, "font/ttf") == 0 || strcmp(type, "application/vnd.ms-fontobject") == 0 ||
	       strcmp(type, "application/x-ipynb+json") == 0;
}
