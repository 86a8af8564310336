/*
 * Where a request says it comes from and goes to: the Host and Origin
 * checks (DESIGN.md, security rule 7).
 *
 * Host: a server bound to a loopback address answers only requests whose
 * Host names the machine as loopback (localhost, 127.x.y.z, [::1], the bind
 * address) or is in --allow-host. A web page elsewhere cannot get a browser
 * to send it any of those (DNS rebinding points a foreign name at
 * 127.0.0.1, but the browser still sends the foreign name).
 *
 * Origin: a browser's Origin must be the Host the request came to (same
 * origin), or be listed in --allow-origin. Callers decide when it matters:
 * WebSocket upgrades and state-changing requests that a cookie, not the
 * token, authenticates.
 */
#ifndef CELLGATE_ORIGIN_H
#define CELLGATE_ORIGIN_H

#include <stdbool.h>

/* True when the server listens on a loopback address (ip as configured). */
bool origin_is_loopback_bind(const char *ip);
/* The Host check: allowed is the --allow-host list (comma-separated, "*" for
 * any), bind_ip the configured address. A missing Host (HTTP/1.0) passes. */
bool origin_host_is_allowed(const char *host, const char *bind_ip, const char *allowed);
/* The Origin check: a missing Origin passes (no browser sent it); "null"
 * does not. allowed is the --allow-origin list (comma-separated, "*"). */
bool origin_is_allowed(const char *origin, const char *host, const char *allowed);

#endif
