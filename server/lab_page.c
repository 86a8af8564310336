/*
 * The JupyterLab page: /lab and the URLs JupyterLab's router knows
 * (/lab/tree/<path>, /lab/workspaces/<name>[/tree/<path>], /lab/doc/tree/<path>),
 * and / which leads there.
 *
 * The page is a shell: the application is static/main.js, and what it needs
 * to know about this server is the JSON in <script id="jupyter-config-data">,
 * named as jupyterlab_server names it (the *Url keys relative to the base
 * URL, the full* keys absolute).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/buf.h"
#include "app.h"
#include "auth.h"
#include "handlers.h"
#include "lab.h"

/* What Jupyter Server 2 reports as notebookVersion: below 4.0.0 means
 * "Jupyter Server", for which JupyterLab turns chunked uploads on. */
#define NOTEBOOK_VERSION "[2, 14, 0]"

/* The page's own policy. JupyterLab evaluates code (ajv compiles the
 * settings schemas) and injects <style>; a trusted notebook's outputs run
 * their scripts and load libraries from the web (plotly, bokeh), as in
 * Jupyter. What is shut: plugins, <base>, forms to elsewhere, framing by
 * other sites. */
#define LAB_CSP                                                                              \
	"default-src 'self' https: data: blob:; "                                            \
	"script-src 'self' 'unsafe-inline' 'unsafe-eval' https: blob:; "                     \
	"style-src 'self' 'unsafe-inline' https:; img-src 'self' data: blob: https:; "       \
	"font-src 'self' data: https:; connect-src 'self' ws: wss: https:; "                 \
	"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"

/*
 * Plugins of the bundle that need what cellgate does not have: the news
 * and update checks (they fetch from the internet through the server) and
 * the language-server integration (no /lsp/ endpoints). Left out, the
 * features are simply absent, as in a JupyterLab without them.
 */
static json_t *disabled_plugins(void)
{
	return json_pack("[s, s, s]", "@jupyterlab/apputils-extension:announcements",
			 "@jupyterlab/fileeditor-extension:language-server",
			 "@jupyterlab/notebook-extension:language-server");
}

static void set_url(json_t *cfg, const char *base, const char *key, const char *full_key,
		    const char *path)
{
	char full[4096];

	json_object_set_new(cfg, key, json_string(path));
	snprintf(full, sizeof full, "%s%s", base, path + 1);
	json_object_set_new(cfg, full_key, json_string(full));
}

/* Characters a token may hold that need no escaping in a URL or the page:
 * the server's token (hex) and capability tokens (cg1. and base64url). */
#define TOKEN_CHARS \
	"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_.~"
#define TOKEN_TEXT_MAX 8192

/* The token the request was authenticated with (the gate verified it),
 * from the query or the Authorization header; NULL when it came with the
 * login cookie, or the token is not one a page can hold. */
static const char *presented_token(const http_req_t *req, char *out, size_t size)
{
	const char *t = http_query(req, "token");
	size_t len = t ? strlen(t) : 0;

	if (!t || !len)
		t = auth_token_from_header(http_header(req, "authorization"), &len);
	if (!t || !len || len >= size)
		return NULL;
	memcpy(out, t, len);
	out[len] = '\0';
	return strspn(out, TOKEN_CHARS) == len ? out : NULL;
}

static json_t *page_config(const app_t *app, const char *token, const char *mode,
			   const char *workspace, const char *tree_path)
{
	const char *base = app->cfg.base_url;
	char static_url[4096];
	json_t *cfg = json_object();

	snprintf(static_url, sizeof static_url, "%sstatic/lab", base);
	json_object_set_new(cfg, "appName", json_string("JupyterLab"));
	json_object_set_new(cfg, "appNamespace", json_string("lab"));
	json_object_set_new(cfg, "appVersion", json_string(lab_version(app)));
	json_object_set_new(cfg, "baseUrl", json_string(base));
	json_object_set_new(cfg, "wsUrl", json_string(""));
	/* the token this request came with, never the server's own: a page
	 * loaded with a narrowed capability token must not hand out a wider
	 * one. A page loaded with the login cookie gets none; the browser's
	 * requests then carry the cookie and the _xsrf double submit. */
	json_object_set_new(cfg, "token", json_string(token ? token : ""));
	/* the WebSockets carry the token too, so they work without a cookie */
	json_object_set_new(cfg, "appendToken", json_string("true"));
	set_url(cfg, base, "appUrl", "fullAppUrl", "/lab");
	set_url(cfg, base, "treeUrl", "fullTreeUrl", "/lab/tree");
	set_url(cfg, base, "settingsUrl", "fullSettingsUrl", "/lab/api/settings");
	set_url(cfg, base, "themesUrl", "fullThemesUrl", "/lab/api/themes");
	set_url(cfg, base, "workspacesApiUrl", "fullWorkspacesApiUrl", "/lab/api/workspaces");
	set_url(cfg, base, "translationsApiUrl", "fullTranslationsApiUrl", "/lab/api/translations");
	set_url(cfg, base, "listingsUrl", "fullListingsUrl", "/lab/api/listings");
	set_url(cfg, base, "licensesUrl", "fullLicensesUrl", "/lab/api/licenses");
	set_url(cfg, base, "labextensionsUrl", "fullLabextensionsUrl", "/lab/extensions");
	json_object_set_new(cfg, "staticUrl", json_string("/static/lab"));
	json_object_set_new(cfg, "fullStaticUrl", json_string(static_url));
	json_object_set_new(cfg, "federated_extensions", json_array());
	json_object_set_new(cfg, "disabledExtensions", disabled_plugins());
	json_object_set_new(cfg, "deferredExtensions", json_array());
	json_object_set_new(cfg, "mode", json_string(mode));
	json_object_set_new(cfg, "workspace", json_string(workspace));
	json_object_set_new(cfg, "treePath", json_string(tree_path));
	json_object_set_new(cfg, "terminalsAvailable", json_false());
	json_object_set_new(cfg, "notebookVersion", json_string(NOTEBOOK_VERSION));
	json_object_set_new(cfg, "buildAvailable", json_false());
	json_object_set_new(cfg, "buildCheck", json_false());
	json_object_set_new(cfg, "devMode", json_false());
	json_object_set_new(cfg, "cacheFiles", json_false());
	json_object_set_new(cfg, "quitButton", json_false());
	json_object_set_new(cfg, "notebookStartsKernel", json_true());
	json_object_set_new(cfg, "exposeAppInBrowser",
			    json_boolean(getenv("CELLGATE_LAB_EXPOSE_APP") != NULL));
	json_object_set_new(cfg, "allow_hidden_files", json_boolean(app->cfg.allow_hidden));
	json_object_set_new(cfg, "serverRoot", json_string(""));
	return cfg;
}

/* The config JSON inside <script>: '<' escaped so no "</script>" or
 * "<!--" in a tree path can end the element early. */
static int append_script_json(buf_t *b, const json_t *cfg)
{
	char *text = json_dumps(cfg, JSON_COMPACT | JSON_ESCAPE_SLASH);
	int rc = text ? 0 : -1;

	for (const char *c = text; !rc && *c; c++)
		rc = *c == '<' ? buf_append_str(b, "\\u003c") : buf_append(b, c, 1);
	free(text);
	return rc;
}

static void send_page(http_req_t *req, const char *mode, const char *workspace,
		      const char *tree_path)
{
	const app_t *app = http_app(req);
	char token[TOKEN_TEXT_MAX];
	json_t *cfg;
	buf_t page;
	int rc;

	if (!lab_require_assets(req))
		return;
	cfg = page_config(app, presented_token(req, token, sizeof token), mode, workspace,
			  tree_path ? tree_path : "");
	buf_init(&page, 0);
	rc = buf_append_str(&page, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
				   "<meta charset=\"utf-8\">\n"
				   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
				   "<title>JupyterLab</title>\n"
				   /* no /favicon.ico request */
				   "<link rel=\"icon\" href=\"data:,\">\n"
				   "<script id=\"jupyter-config-data\" type=\"application/json\">");
	rc = rc ? rc : append_script_json(&page, cfg);
	rc = rc ? rc : buf_printf(&page, "</script>\n<script src=\"%sstatic/lab/main.js\" defer></script>\n"
					 "</head>\n<body>\n</body>\n</html>\n", app->cfg.base_url);
	json_decref(cfg);
	if (rc) {
		buf_free(&page);
		http_respond_error(req, 500, "out of memory");
		return;
	}
	/* the page holds the token: never stored, never framed elsewhere */
	http_add_header(req, "content-security-policy", LAB_CSP);
	http_respond(req, 200, "text/html; charset=utf-8", page.data, page.len);
	buf_free(&page);
}

void lab_page(http_req_t *req)
{
	send_page(req, "multiple-document", "default", NULL);
}

void lab_page_tree(http_req_t *req)
{
	send_page(req, "multiple-document", "default", http_param(req, 0));
}

void lab_page_doc(http_req_t *req)
{
	send_page(req, "single-document", "default", http_param(req, 0));
}

void lab_page_workspace(http_req_t *req)
{
	send_page(req, "multiple-document", http_param(req, 0), http_param(req, 1));
}

/* / -> /lab, keeping a (valid) token given in the URL so the next page gets it. */
void lab_root_redirect(http_req_t *req)
{
	const app_t *app = http_app(req);
	const char *token = http_query(req, "token");
	buf_t loc;

	buf_init(&loc, 0);
	buf_printf(&loc, "%slab", app->cfg.base_url);
	/* only characters a token may hold are passed on into the header */
	if (token && *token && strspn(token, TOKEN_CHARS) == strlen(token) &&
	    auth_token_is_valid(app, token, strlen(token)))
		buf_printf(&loc, "?token=%s", token);
	http_add_header(req, "location", loc.data ? loc.data : "/lab");
	http_respond(req, 302, "text/plain; charset=utf-8", "", 0);
	buf_free(&loc);
}
