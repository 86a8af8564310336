/*
 * The JupyterLab application cellgate serves: its build (web/ ->
 * build/lab, found through the lab-dir setting) and the helpers the /lab
 * handlers share.
 *
 *   LAB_DIR/static/          webpack bundles, with .gz beside text files
 *   LAB_DIR/schemas/<pkg>/   settings schemas, <plugin>.json
 *   LAB_DIR/themes/<pkg>/    theme CSS and assets
 *   LAB_DIR/build.json       {"jupyterlab": "<version>", ...}
 *
 * The user's own lab state (settings overrides, workspaces) lives under
 * STATE/lab/, never in the workspace.
 */
#ifndef CELLGATE_LAB_H
#define CELLGATE_LAB_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"

/* Largest lab asset, settings file or workspace the server reads. */
#define LAB_FILE_MAX (64u << 20)

/* True when the assets are there; otherwise answers 404 with a JSON error
 * that says how to build them, and returns false. */
bool lab_require_assets(http_req_t *req);

/* The JupyterLab version the assets were built from ("" if unknown). */
const char *lab_version(const app_t *app);

/*
 * Sends LAB_DIR/<sub>/<rel>: rel is an URL path checked like a contents
 * path and opened beneath LAB_DIR/<sub> only. Answers 304 on a matching
 * If-None-Match, the .gz twin when the client accepts gzip, and caching
 * headers: immutable for files whose name holds a content hash, no-cache
 * (revalidate with the ETag) otherwise.
 */
void lab_send_file(http_req_t *req, const char *sub, const char *rel);

/* Reads a whole file beneath dir (rel checked like a contents path, hidden
 * names refused) into a NUL-terminated buffer the caller frees. NULL with
 * err set: CG_ENOTFOUND, CG_EINVAL, CG_EDENIED, CG_ETOOBIG, CG_ESYS. */
char *lab_read_file(const char *dir, const char *rel, size_t *len, err_t *err);

/*
 * The request's user's own JupyterLab state (settings, workspaces),
 * created (0700) if missing; the caller frees it. The server's token (and
 * its login cookie) keeps STATE/lab/<sub>; a capability token's principal
 * STATE/lab/principals/p-<name>/<sub>, so one principal's settings and
 * workspaces are never another's (the "p-" keeps a name such as ".."
 * a plain folder name).
 */
char *lab_user_dir(http_req_t *req, const char *sub, err_t *err);

/* Writes data to dir/rel atomically (a temporary file renamed over it),
 * creating rel's parent folders beneath dir. */
int lab_write_file(const char *dir, const char *rel, const char *data, size_t len, err_t *err);

#endif
