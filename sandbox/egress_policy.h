/*
 * Egress policy: may a kernel's sandbox connect to host:port?
 *
 * Rules come from the configuration, each an allow, an ask or a deny of a
 * host glob and a port range, for every kernel or for one trust class or
 * kernelspec. egress_decide is the one function the broker calls; an ask
 * rule answers EGRESS_PROMPT: the broker holds the connection until a
 * person answers a prompt (server/egress_prompts.c).
 */
#ifndef CELLGATE_EGRESS_POLICY_H
#define CELLGATE_EGRESS_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/err.h"
#include "sandbox.h"

typedef enum egress_verdict { EGRESS_DENY, EGRESS_ALLOW, EGRESS_PROMPT } egress_verdict_t;

typedef struct egress_rule {
	char scope[SBX_SCOPE_MAX]; /* "" (every kernel), "trust.CLASS" or "kernelspec.NAME" */
	egress_verdict_t verdict;  /* what a match answers */
	char host[256];            /* lowercase glob: * and ? */
	unsigned port_lo, port_hi; /* 1..65535 */
	char text[384];            /* as configured, to name the rule in answers and logs */
} egress_rule_t;

/*
 * Parses "HOST[:PORT]" (PORT a number, LO-HI, or *; no port means any;
 * an IPv6 address in brackets) into out. CG_EINVAL with a sentence when
 * it is not a rule.
 */
int egress_rule_parse(const char *scope, egress_verdict_t verdict, const char *text, egress_rule_t *out,
		      err_t *err);

/*
 * The verdict for host:port from a kernel of kernelspec and trust_class:
 * a matching deny wins over any ask, an ask over any allow (so an ask
 * narrows a wide allow); nothing matching is a deny (with *rule NULL). *rule, when not NULL, gets the rule that decided.
 */
egress_verdict_t egress_decide(const egress_rule_t *rules, size_t n, const char *kernelspec,
			       const char *trust_class, const char *host, unsigned port,
			       const egress_rule_t **rule);

/* "allow", "deny", "prompt". */
const char *egress_verdict_name(egress_verdict_t v);

#endif
