/* Host allow-list and same-origin checks. See origin.h. */
#include "origin.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#define HOST_MAX 256

/* True when the comma-separated list holds item (case-insensitive) or "*". */
static bool list_has(const char *list, const char *item, size_t len)
{
	const char *p = list;

	while (p && *p) {
		const char *end = strchr(p, ','), *e;

		if (!end)
			end = p + strlen(p);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		e = end;
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((e - p == 1 && *p == '*') ||
		    ((size_t)(e - p) == len && strncasecmp(p, item, len) == 0))
			return true;
		p = *end ? end + 1 : end;
	}
	return false;
}

static bool is_loopback_v4(const char *name)
{
	struct in_addr a;

	return inet_pton(AF_INET, name, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

bool origin_is_loopback_bind(const char *ip)
{
	return is_loopback_v4(ip) || strcmp(ip, "::1") == 0 || strcasecmp(ip, "localhost") == 0;
}

/* The host name of a Host header value, without port or brackets. */
static bool host_name(const char *host, char out[HOST_MAX])
{
	size_t n;

	if (host[0] == '[') {
		const char *close = strchr(host, ']');

		if (!close || (close[1] && close[1] != ':'))
			return false;
		n = (size_t)(close - host - 1);
		host++;
	} else {
		const char *colon = strchr(host, ':');

		n = colon ? (size_t)(colon - host) : strlen(host);
	}
	if (n == 0 || n >= HOST_MAX)
		return false;
	memcpy(out, host, n);
	out[n] = '\0';
	return true;
}

bool origin_host_is_allowed(const char *host, const char *bind_ip, const char *allowed)
{
	char name[HOST_MAX];

	if (!host)
		return true;
	if (list_has(allowed, host, strlen(host)))
		return true;
	if (!host_name(host, name))
		return false;
	return strcasecmp(name, "localhost") == 0 || is_loopback_v4(name) ||
	       strcmp(name, "::1") == 0 || strcasecmp(name, bind_ip) == 0 ||
	       list_has(allowed, name, strlen(name));
}

bool origin_is_allowed(const char *origin, const char *host, const char *allowed)
{
	const char *rest;

	if (!origin)
		return true;
	if (list_has(allowed, origin, strlen(origin)))
		return true;
	if (!host)
		return false;
	if (strncasecmp(origin, "http://", 7) == 0)
		rest = origin + 7;
	else if (strncasecmp(origin, "https://", 8) == 0)
		rest = origin + 8;
	else
		return false;
	return strcasecmp(rest, host) == 0;
}
