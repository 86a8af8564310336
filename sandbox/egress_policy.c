/* Egress rules and the decision. See egress_policy.h. */
#include "egress_policy.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_port(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	v = strtoul(s, &end, 10);
	if (*end || v < 1 || v > 65535)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int parse_ports(const char *s, egress_rule_t *r)
{
	char lo[8];
	const char *dash = strchr(s, '-');

	if (strcmp(s, "*") == 0) {
		r->port_lo = 1;
		r->port_hi = 65535;
		return 0;
	}
	if (!dash)
		return parse_port(s, &r->port_lo) || (r->port_hi = r->port_lo, 0);
	if ((size_t)(dash - s) >= sizeof lo)
		return -1;
	snprintf(lo, sizeof lo, "%.*s", (int)(dash - s), s);
	if (parse_port(lo, &r->port_lo) || parse_port(dash + 1, &r->port_hi) ||
	    r->port_lo > r->port_hi)
		return -1;
	return 0;
}

int egress_rule_parse(const char *scope, egress_verdict_t verdict, const char *text, egress_rule_t *out,
		      err_t *err)
{
	const char *host = text, *colon, *port = NULL;
	size_t hl;

	memset(out, 0, sizeof *out);
	snprintf(out->scope, sizeof out->scope, "%s", scope ? scope : "");
	out->verdict = verdict;
	snprintf(out->text, sizeof out->text, "%s%s%s = %s", out->scope, out->scope[0] ? "." : "",
		 verdict == EGRESS_ALLOW ? "egress-allow" :
		 verdict == EGRESS_PROMPT ? "egress-ask" : "egress-deny", text);
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close || (close[1] && close[1] != ':'))
			return err_set(err, CG_EINVAL, "egress rule %s: bad IPv6 address", text);
		host = text + 1;
		hl = (size_t)(close - host);
		port = close[1] ? close + 2 : NULL;
	} else {
		colon = strrchr(text, ':');
		hl = colon ? (size_t)(colon - text) : strlen(text);
		port = colon ? colon + 1 : NULL;
	}
	if (hl == 0 || hl >= sizeof out->host)
		return err_set(err, CG_EINVAL, "egress rule %s: no host", text);
	for (size_t i = 0; i < hl; i++) {
		unsigned char c = (unsigned char)host[i];

		if (!isalnum(c) && !strchr(".-_*?:", c))
			return err_set(err, CG_EINVAL, "egress rule %s: bad character in the host",
				       text);
		out->host[i] = (char)tolower(c);
	}
	if (!port) {
		out->port_lo = 1;
		out->port_hi = 65535;
	} else if (parse_ports(port, out) != 0) {
		return err_set(err, CG_EINVAL, "egress rule %s: bad port (N, LO-HI or *)", text);
	}
	return 0;
}

static bool applies(const egress_rule_t *r, const char *kernelspec, const char *trust_class)
{
	if (!r->scope[0])
		return true;
	if (strncmp(r->scope, "trust.", 6) == 0)
		return trust_class && strcmp(r->scope + 6, trust_class) == 0;
	if (strncmp(r->scope, "kernelspec.", 11) == 0)
		return kernelspec && strcmp(r->scope + 11, kernelspec) == 0;
	return false;
}

static bool matches(const egress_rule_t *r, const char *host, unsigned port)
{
	return port >= r->port_lo && port <= r->port_hi && fnmatch(r->host, host, 0) == 0;
}

egress_verdict_t egress_decide(const egress_rule_t *rules, size_t n, const char *kernelspec,
			       const char *trust_class, const char *host, unsigned port,
			       const egress_rule_t **rule)
{
	char h[256];
	size_t len = strlen(host);

	if (rule)
		*rule = NULL;
	/* one spelling: lowercase, without the root's trailing dot */
	if (len == 0 || len >= sizeof h)
		return EGRESS_DENY;
	for (size_t i = 0; i <= len; i++)
		h[i] = (char)tolower((unsigned char)host[i]);
	if (h[len - 1] == '.')
		h[len - 1] = '\0';
	/* denies first: a deny wins; then asks, so an ask narrows an allow */
	static const egress_verdict_t order[] = { EGRESS_DENY, EGRESS_PROMPT, EGRESS_ALLOW };

	for (size_t pass = 0; pass < sizeof order / sizeof *order; pass++) {
		for (size_t i = 0; i < n; i++) {
			if (rules[i].verdict != order[pass] ||
			    !applies(&rules[i], kernelspec, trust_class) || !matches(&rules[i], h, port))
				continue;
			if (rule)
				*rule = &rules[i];
			return order[pass];
		}
	}
	return EGRESS_DENY;
}

const char *egress_verdict_name(egress_verdict_t v)
{
	return v == EGRESS_ALLOW ? "allow" : v == EGRESS_PROMPT ? "prompt" : "deny";
}
