/*
 * libFuzzer target for capability tokens as a client presents them: the
 * text form's decoder, the chain check against a fixed key, the caveats'
 * syntax and evaluation. Nothing here may crash, leak or read out of
 * bounds, whatever the bytes (make fuzz-policy; see policy/module.mk).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../policy/caveat.h"
#include "../../policy/policy.h"
#include "../../policy/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[POLICY_KEY_LEN] = { 7 };
	policy_resource_t res = { .path = "a/b", .branch = "main", .kernelspec = "python3",
				  .trust = "trusted", .effect = "net:x:443", .is_listing = true };
	char why[POLICY_WHY_MAX];
	policy_token_t t;
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (policy_token_decode(&t, text, size, NULL) == 0) {
		char *again = policy_token_encode(&t);

		/* one token, one text form */
		if (!again || strcmp(again, text) != 0)
			abort();
		free(again);
		(void)policy_token_verify(&t, key, sizeof key, NULL);
		for (size_t i = 0; i < t.n_caveats; i++)
			if (policy_caveat_check(t.caveats[i], NULL) == 0)
				(void)policy_caveat_allows(t.caveats[i], POLICY_READ, &res, 1e9, why,
							   sizeof why);
		policy_token_clear(&t);
	}
	/* the input as one caveat too */
	if (policy_caveat_check(text, NULL) == 0)
		(void)policy_caveat_allows(text, POLICY_WRITE, &res, 1e9, why, sizeof why);
	free(text);
	return 0;
}
