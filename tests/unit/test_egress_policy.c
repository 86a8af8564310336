/*
 * Unit tests for sandbox/egress_policy.c (rules and the decision) and
 * sbx_limits_for (limits per trust class and kernelspec).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../sandbox/egress_policy.h"
#include "../../sandbox/sandbox.h"

static void rule(egress_rule_t *r, const char *scope, egress_verdict_t v, const char *text)
{
	err_t err = { 0 };

	assert_int_equal(egress_rule_parse(scope, v, text, r, &err), 0);
}

static void test_parse(void **state)
{
	egress_rule_t r;
	err_t err = { 0 };

	(void)state;
	rule(&r, "", EGRESS_ALLOW, "Example.COM:443");
	assert_string_equal(r.host, "example.com");
	assert_int_equal(r.port_lo, 443);
	assert_int_equal(r.port_hi, 443);
	assert_string_equal(r.text, "egress-allow = Example.COM:443");
	rule(&r, "trust.trusted", EGRESS_DENY, "*.invalid");
	assert_int_equal(r.port_lo, 1);
	assert_int_equal(r.port_hi, 65535);
	assert_string_equal(r.text, "trust.trusted.egress-deny = *.invalid");
	rule(&r, "", EGRESS_ALLOW, "[::1]:8000-8100");
	assert_string_equal(r.host, "::1");
	assert_int_equal(r.port_lo, 8000);
	assert_int_equal(r.port_hi, 8100);
	assert_int_equal(egress_rule_parse("", EGRESS_ALLOW, "", &r, &err), CG_EINVAL);
	assert_int_equal(egress_rule_parse("", EGRESS_ALLOW, "a.com:0", &r, &err), CG_EINVAL);
	assert_int_equal(egress_rule_parse("", EGRESS_ALLOW, "a.com:70000", &r, &err), CG_EINVAL);
	assert_int_equal(egress_rule_parse("", EGRESS_ALLOW, "a.com:9-3", &r, &err), CG_EINVAL);
	assert_int_equal(egress_rule_parse("", EGRESS_ALLOW, "a/b.com", &r, &err), CG_EINVAL);
	assert_int_equal(egress_rule_parse("", EGRESS_ALLOW, "[::1", &r, &err), CG_EINVAL);
}

static void test_decide(void **state)
{
	egress_rule_t r[5];
	const egress_rule_t *m;

	(void)state;
	rule(&r[0], "", EGRESS_ALLOW, "*.example.com:443");
	rule(&r[1], "", EGRESS_DENY, "bad.example.com");
	rule(&r[2], "kernelspec.py", EGRESS_ALLOW, "pypi.org:443");
	rule(&r[3], "trust.untrusted", EGRESS_DENY, "*");
	rule(&r[4], "trust.trusted", EGRESS_ALLOW, "10.0.0.1:80");
	assert_int_equal(egress_decide(r, 5, "py", "trusted", "a.example.com", 443, &m), EGRESS_ALLOW);
	assert_ptr_equal(m, &r[0]);
	/* case and the root's dot do not matter */
	assert_int_equal(egress_decide(r, 5, "py", "trusted", "A.Example.Com.", 443, &m), EGRESS_ALLOW);
	/* a deny wins */
	assert_int_equal(egress_decide(r, 5, "py", "trusted", "bad.example.com", 443, &m), EGRESS_DENY);
	assert_ptr_equal(m, &r[1]);
	/* wrong port, or nothing matching: deny without a rule */
	assert_int_equal(egress_decide(r, 5, "py", "trusted", "a.example.com", 80, &m), EGRESS_DENY);
	assert_null(m);
	assert_int_equal(egress_decide(r, 5, "py", "trusted", "example.com", 443, &m), EGRESS_DENY);
	/* scoped rules apply to their scope only */
	assert_int_equal(egress_decide(r, 5, "py", "trusted", "pypi.org", 443, &m), EGRESS_ALLOW);
	assert_int_equal(egress_decide(r, 5, "r", "trusted", "pypi.org", 443, &m), EGRESS_DENY);
	assert_int_equal(egress_decide(r, 5, "py", "untrusted", "a.example.com", 443, &m), EGRESS_DENY);
	assert_ptr_equal(m, &r[3]);
	assert_int_equal(egress_decide(r, 5, "py", "trusted", "10.0.0.1", 80, &m), EGRESS_ALLOW);
	assert_int_equal(egress_decide(r, 0, "py", "trusted", "a.example.com", 443, &m), EGRESS_DENY);
	assert_int_equal(egress_decide(r, 5, "py", "trusted", "", 443, &m), EGRESS_DENY);
	assert_string_equal(egress_verdict_name(EGRESS_ALLOW), "allow");
}

/* An ask answers prompt; a deny still wins over it, and it narrows an allow. */
static void test_decide_ask(void **state)
{
	egress_rule_t r[4];
	const egress_rule_t *m;

	(void)state;
	rule(&r[0], "", EGRESS_ALLOW, "*.example.com");
	rule(&r[1], "", EGRESS_PROMPT, "up.example.com:443");
	rule(&r[2], "", EGRESS_DENY, "up.example.com:25");
	rule(&r[3], "trust.trusted", EGRESS_PROMPT, "10.0.0.*:*");
	assert_string_equal(r[1].text, "egress-ask = up.example.com:443");
	assert_int_equal(egress_decide(r, 4, "py", "trusted", "up.example.com", 443, &m), EGRESS_PROMPT);
	assert_ptr_equal(m, &r[1]);
	assert_int_equal(egress_decide(r, 4, "py", "trusted", "up.example.com", 80, &m), EGRESS_ALLOW);
	assert_ptr_equal(m, &r[0]);
	assert_int_equal(egress_decide(r, 4, "py", "trusted", "up.example.com", 25, &m), EGRESS_DENY);
	assert_ptr_equal(m, &r[2]);
	assert_int_equal(egress_decide(r, 4, "py", "trusted", "10.0.0.9", 8000, &m), EGRESS_PROMPT);
	assert_int_equal(egress_decide(r, 4, "py", "untrusted", "10.0.0.9", 8000, &m), EGRESS_DENY);
	assert_null(m);
	assert_string_equal(egress_verdict_name(EGRESS_PROMPT), "prompt");
}

static void test_limits_for(void **state)
{
	sbx_limits_t base, out;
	sbx_limit_override_t ov[3] = {
		{ "kernelspec.py", offsetof(sbx_limits_t, memory_bytes), 1 << 20 },
		{ "trust.trusted", offsetof(sbx_limits_t, memory_bytes), 2 << 20 },
		{ "trust.trusted", offsetof(sbx_limits_t, processes), 7 },
	};

	(void)state;
	sbx_limits_defaults(&base);
	sbx_limits_for(&base, ov, 3, "py", "trusted", &out);
	assert_int_equal(out.memory_bytes, 1 << 20); /* the kernelspec wins */
	assert_int_equal(out.processes, 7);
	assert_int_equal(out.open_files, base.open_files);
	sbx_limits_for(&base, ov, 3, "other", "trusted", &out);
	assert_int_equal(out.memory_bytes, 2 << 20);
	sbx_limits_for(&base, ov, 3, "other", "untrusted", &out);
	assert_memory_equal(&out, &base, sizeof out);
	assert_string_equal(sbx_limit_reason(SBX_LIMIT_MEMORY), "out of memory");
	assert_string_equal(sbx_limit_reason(SBX_LIMIT_PROCESSES), "process limit");
	assert_string_equal(sbx_limit_reason(SBX_LIMIT_DISK), "disk quota exceeded");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_decide_ask),
		cmocka_unit_test(test_limits_for),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
