/*
 * The server's notebook store, opened when first needed.
 *
 * Opening sqlite and running the schema's migrations touches about a
 * megabyte of library code; a server that has not yet saved or read a
 * notebook has no use for it, so it is not paid for at start. The store is
 * still checked at start, in a short-lived child process, so a store that
 * cannot be opened stops the server at once with the reason; the same child
 * reconciles the working copies with the store (contents_reconcile_all)
 * before the server answers anything.
 */
#ifndef CELLGATE_APP_STORE_H
#define CELLGATE_APP_STORE_H

#include <stdbool.h>

#include "app.h"
#include "http.h"

/* Opens and migrates the store in a child process, reconciles the working
 * copies there, and reports whether the store opened. */
int app_store_check(app_t *app, err_t *err);
/* Makes app->store usable; false after answering req with a 500. */
bool app_store_ready(http_req_t *req);
/* The same outside a request (replay jobs, the CLI). */
int app_store_open(app_t *app, err_t *err);
void app_store_close(app_t *app);

#endif
