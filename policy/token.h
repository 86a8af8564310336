/*
 * Capability tokens in the macaroon style: an identifier, caveats, and a
 * signature chained with HMAC-SHA256 from a root key:
 *
 *     sig_0     = HMAC(root_key, identifier)
 *     sig_{i+1} = HMAC(sig_i, caveat_i)
 *
 * The token carries only the last signature. Adding a caveat needs only
 * the token (attenuation is offline); removing, changing or reordering one
 * needs a signature the holder cannot compute without the root key.
 *
 * Text form: "cg1." then base64url (no padding) of
 *     u8 version (1) | u16 id length | id | u8 caveat count |
 *     (u16 length | caveat)* | 32 bytes signature
 * with big-endian lengths: safe in a header, a query string and a cookie.
 */
#ifndef CELLGATE_POLICY_TOKEN_H
#define CELLGATE_POLICY_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

#define TOKEN_PREFIX "cg1."
#define TOKEN_SIG_LEN 32
#define TOKEN_ID_MAX 128
#define TOKEN_CAVEAT_MAX 1024
#define TOKEN_MAX_CAVEATS 32
#define TOKEN_TEXT_MAX 8192

typedef struct policy_token {
	char id[TOKEN_ID_MAX + 1];
	size_t n_caveats;
	char *caveats[TOKEN_MAX_CAVEATS];
	uint8_t sig[TOKEN_SIG_LEN];
} policy_token_t;

/* A new token with no caveats: sig = HMAC(key, id). */
int policy_token_mint(policy_token_t *t, const uint8_t *key, size_t key_len, const char *id,
		      err_t *err);
/* Appends a caveat (copied) and moves the signature along the chain. */
int policy_token_add_caveat(policy_token_t *t, const char *caveat, err_t *err);
/*
 * Recomputes the chain from key and compares the result with the token's
 * signature in constant time. chain (may be NULL) receives sig_{i+1} for
 * each caveat i: the counters of max-executions caveats are keyed by it.
 */
bool policy_token_verify(const policy_token_t *t, const uint8_t *key, size_t key_len,
			 uint8_t (*chain)[TOKEN_SIG_LEN]);
/* Parses the text form; nothing is verified. Clear t afterwards. */
int policy_token_decode(policy_token_t *t, const char *text, size_t len, err_t *err);
/* The text form. Caller frees. */
char *policy_token_encode(const policy_token_t *t);
void policy_token_clear(policy_token_t *t);

#endif
