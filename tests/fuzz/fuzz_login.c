/*
 * libFuzzer target for the login's parsers of outside input: the `next`
 * sanitiser, the Cookie header, form bodies, the login cookies' verifiers
 * (the server token's and a capability token's) and the Host and Origin
 * checks. Besides the sanitizers' crashes, it
 * checks the promises each makes (a kept `next` stays a path under the
 * base URL in every layer of decoding; a random cookie never verifies; a
 * foreign Origin is never the server's own) and traps when one breaks.
 *
 *   make fuzz          builds $(BUILD)/fuzz/fuzz_login and runs it a while
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../server/cookie.h"
#include "../../server/form.h"
#include "../../server/login.h"
#include "../../server/origin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                    \
	do {                           \
		if (!(cond))           \
			__builtin_trap(); \
	} while (0)

/* A kept next, and each layer of its decoding, is a path of this server. */
static void check_next(const char *base, const char *in)
{
	char out[LOGIN_NEXT_MAX], layer[LOGIN_NEXT_MAX], prev[LOGIN_NEXT_MAX];
	bool kept = login_next_sanitise(base, in, out, sizeof out);

	if (!kept) {
		CHECK(strcmp(out, base) == 0);
		return;
	}
	CHECK(strncmp(out, base, strlen(base)) == 0 ||
	      strncmp(out, base, strlen(base) - 1) == 0);
	memcpy(prev, out, strlen(out) + 1);
	for (int i = 0; i < 6; i++) {
		CHECK(prev[0] == '/' && prev[1] != '/' && prev[1] != '\\');
		for (const char *p = prev; *p; p++)
			CHECK(*p != '\\' && (unsigned char)*p >= 0x20 && *p != 0x7f);
		if (!form_decode(prev, strlen(prev), false, layer, sizeof layer) ||
		    strcmp(layer, prev) == 0)
			break;
		memcpy(prev, layer, strlen(layer) + 1);
	}
	/* the header value itself: printable ASCII only */
	for (const char *p = out; *p; p++)
		CHECK(*p > 0x20 && *p < 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[COOKIE_KEY_LEN] = { 1, 2, 3 };
	char *s = malloc(size + 1), out[256];

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0'; /* a NUL inside ends the string, as in a header */

	check_next("/", s);
	check_next("/base/", s);

	cookie_get(s, "_xsrf", out, sizeof out);
	cookie_get(s, "cellgate-127-0-0-1-8888", out, sizeof out);
	form_field(s, strlen(s), "password", out, sizeof out);
	form_field(s, strlen(s), "next", out, sizeof out);
	CHECK(!cookie_login_verify(key, s, 1800000000, COOKIE_LOGIN_MAX_AGE));
	{
		char token[COOKIE_CAP_TOKEN_MAX + 1], value[COOKIE_VALUE_MAX];
		const char *got;

		CHECK(!cookie_cap_verify(key, s, 1800000000, COOKIE_LOGIN_MAX_AGE, token,
					 sizeof token));
		/* the input as a token: signed, it comes back whole, and only
		 * under the key it was signed with */
		if (cookie_cap_sign(key, 1800000000, s, value) == 0) {
			static const uint8_t other[COOKIE_KEY_LEN] = { 3, 2, 1 };

			got = cookie_cap_verify(key, value, 1800000000, COOKIE_LOGIN_MAX_AGE, token,
						sizeof token);
			CHECK(got && strcmp(got, s) == 0);
			CHECK(!cookie_cap_verify(other, value, 1800000000, COOKIE_LOGIN_MAX_AGE,
						 token, sizeof token));
		}
	}

	if (origin_is_allowed(s, "127.0.0.1:8888", NULL))
		CHECK(strcasecmp(s, "http://127.0.0.1:8888") == 0 ||
		      strcasecmp(s, "https://127.0.0.1:8888") == 0);
	origin_host_is_allowed(s, "127.0.0.1", "nb.example, other.example:9");
	free(s);
	return 0;
}
