/*
 * The route table: every URL the server answers, with the methods it
 * allows and the handler. Patterns are matched segment by segment:
 * "{name}" takes one segment, "{name*}" the rest of the path (possibly
 * empty); the matched values become http_param(req, 0..).
 */
#ifndef CELLGATE_ROUTES_H
#define CELLGATE_ROUTES_H

#include <stdbool.h>

#include "../policy/policy.h"
#include "http.h"

/*
 * What a route acts on, so the check before dispatch (authz.c) can name
 * the resource from the route's parameters: a kernel id becomes its
 * notebook's path and kernelspec, a version id its notebook's path.
 */
typedef enum route_resource {
	RES_NONE = 0,     /* undeclared: the route-table test fails on it */
	RES_SERVER,       /* the server itself: version, status, identity */
	RES_KERNELSPEC,   /* {name}: one kernelspec; without: the (filtered) list */
	RES_KERNEL,       /* {id}: one kernel; without: the (filtered) list, or a new one */
	RES_SESSION,      /* {id}: one session; without: the (filtered) list, or a new one */
	RES_CONTENTS,     /* {path*}: a workspace path */
	RES_VERSION,      /* {id}: one stored version, by its notebook's path */
	RES_DIFF,         /* ?from=&to=: two stored versions */
	RES_PROMPT,       /* {id}: a pending prompt, by the path it is about */
} route_resource_t;

/* route_t.need besides policy_action_t bits: any valid token will do. */
#define ROUTE_ANY_TOKEN 0x100u
/* ... or none at all (then is_public is true too). */
#define ROUTE_PUBLIC 0x200u

typedef struct route {
	unsigned methods;      /* http_method_t bits */
	const char *pattern;
	http_handler_fn handler;
	bool is_public;        /* served without a token (none yet) */
	unsigned need;         /* the policy action it needs (one bit), or ROUTE_* */
	route_resource_t res;  /* what the action is on */
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
