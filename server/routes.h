/*
 * The route table: every URL the server answers, with the methods it
 * allows and the handler. Patterns are matched segment by segment:
 * "{name}" takes one segment, "{name*}" the rest of the path (possibly
 * empty); the matched values become http_param(req, 0..).
 */
#ifndef CELLGATE_ROUTES_H
#define CELLGATE_ROUTES_H

#include <stdbool.h>

#include "http.h"

typedef struct route {
	unsigned methods;      /* http_method_t bits */
	const char *pattern;
	http_handler_fn handler;
	bool is_public;        /* served without a token */
} route_t;

extern const route_t routes[];
extern const size_t n_routes;

/*
 * Finds the route for path and method (http_method_t bits). When the path
 * is known but not for this method, returns a route for the path anyway, so
 * the caller can answer 405 rather than 404. Fills params (pointers into
 * scratch, which must hold strlen(path)+1 bytes).
 */
const route_t *route_match(const char *path, unsigned method, char *scratch, const char **params,
			   size_t *n_params);

#endif
