/*
 * Macaroon-style tokens: the HMAC chain and the text form. See token.h.
 * Nothing here knows what a caveat means (caveat.c does).
 */
#include "token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_VERSION 1

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int hmac(const uint8_t *key, size_t key_len, const void *data, size_t len,
		uint8_t out[TOKEN_SIG_LEN])
{
	unsigned int n = 0;

	if (!HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &n) || n != TOKEN_SIG_LEN)
		return CG_ESYS;
	return 0;
}

/* Identifiers and caveats are printable ASCII: what a person can read in
 * `cellgate token inspect` is what was signed. */
static bool is_printable(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

int policy_token_mint(policy_token_t *t, const uint8_t *key, size_t key_len, const char *id,
		      err_t *err)
{
	memset(t, 0, sizeof *t);
	if (!is_printable(id, TOKEN_ID_MAX))
		return err_set(err, CG_EINVAL, "a token identifier is 1 to %d printable characters",
			       TOKEN_ID_MAX);
	memcpy(t->id, id, strlen(id) + 1);
	if (hmac(key, key_len, t->id, strlen(t->id), t->sig))
		return err_set(err, CG_ESYS, "cannot compute an HMAC");
	return 0;
}

int policy_token_add_caveat(policy_token_t *t, const char *caveat, err_t *err)
{
	uint8_t next[TOKEN_SIG_LEN];
	char *copy;

	if (t->n_caveats >= TOKEN_MAX_CAVEATS)
		return err_set(err, CG_ETOOBIG, "a token holds at most %d caveats", TOKEN_MAX_CAVEATS);
	if (!is_printable(caveat, TOKEN_CAVEAT_MAX))
		return err_set(err, CG_EINVAL, "a caveat is 1 to %d printable characters",
			       TOKEN_CAVEAT_MAX);
	if (hmac(t->sig, sizeof t->sig, caveat, strlen(caveat), next))
		return err_set(err, CG_ESYS, "cannot compute an HMAC");
	copy = strdup(caveat);
	if (!copy)
		return err_set(err, CG_ESYS, "out of memory");
	t->caveats[t->n_caveats++] = copy;
	memcpy(t->sig, next, sizeof next);
	OPENSSL_cleanse(next, sizeof next);
	return 0;
}

bool policy_token_verify(const policy_token_t *t, const uint8_t *key, size_t key_len,
			 uint8_t (*chain)[TOKEN_SIG_LEN])
{
	uint8_t sig[TOKEN_SIG_LEN];
	bool ok = false;

	if (hmac(key, key_len, t->id, strlen(t->id), sig))
		goto out;
	for (size_t i = 0; i < t->n_caveats; i++) {
		if (hmac(sig, sizeof sig, t->caveats[i], strlen(t->caveats[i]), sig))
			goto out;
		if (chain)
			memcpy(chain[i], sig, sizeof sig);
	}
	ok = CRYPTO_memcmp(sig, t->sig, sizeof sig) == 0;
out:
	OPENSSL_cleanse(sig, sizeof sig);
	return ok;
}

void policy_token_clear(policy_token_t *t)
{
	for (size_t i = 0; i < t->n_caveats; i++)
		free(t->caveats[i]);
	OPENSSL_cleanse(t, sizeof *t);
}

/* --- the text form ---------------------------------------------------------- */

static size_t b64_encode(const uint8_t *in, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t n = len - i < 3 ? len - i : 3;

		if (n > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (n > 2)
			v |= in[i + 2];
		out[o++] = b64url[(v >> 18) & 63];
		out[o++] = b64url[(v >> 12) & 63];
		if (n > 1)
			out[o++] = b64url[(v >> 6) & 63];
		if (n > 2)
			out[o++] = b64url[v & 63];
	}
	out[o] = '\0';
	return o;
}

static int b64_value(char c)
{
	const char *p = c ? strchr(b64url, c) : NULL;

	return p ? (int)(p - b64url) : -1;
}

/* Decodes unpadded base64url; -1 on a bad character or length. Only the
 * canonical encoding is accepted (unused bits zero), so one token has one
 * text form. */
static long b64_decode(const char *in, size_t len, uint8_t *out)
{
	size_t o = 0, i = 0;

	if (len % 4 == 1)
		return -1;
	while (i < len) {
		size_t n = len - i < 4 ? len - i : 4;
		uint32_t v = 0;

		for (size_t j = 0; j < 4; j++) {
			int d = j < n ? b64_value(in[i + j]) : 0;

			if (d < 0)
				return -1;
			v = v << 6 | (uint32_t)d;
		}
		out[o++] = (uint8_t)(v >> 16);
		if (n > 2)
			out[o++] = (uint8_t)(v >> 8);
		if (n > 3)
			out[o++] = (uint8_t)v;
		if ((n == 2 && (v & 0xffff)) || (n == 3 && (v & 0xff)))
			return -1;
		i += n;
	}
	return (long)o;
}

char *policy_token_encode(const policy_token_t *t)
{
	size_t cap = 1 + 2 + TOKEN_ID_MAX + 1 + TOKEN_SIG_LEN, n = 0;
	uint8_t *bin;
	char *text = NULL;

	for (size_t i = 0; i < t->n_caveats; i++)
		cap += 2 + strlen(t->caveats[i]);
	bin = malloc(cap);
	if (!bin)
		return NULL;
	bin[n++] = TOKEN_VERSION;
	bin[n++] = (uint8_t)(strlen(t->id) >> 8);
	bin[n++] = (uint8_t)strlen(t->id);
	memcpy(bin + n, t->id, strlen(t->id));
	n += strlen(t->id);
	bin[n++] = (uint8_t)t->n_caveats;
	for (size_t i = 0; i < t->n_caveats; i++) {
		size_t len = strlen(t->caveats[i]);

		bin[n++] = (uint8_t)(len >> 8);
		bin[n++] = (uint8_t)len;
		memcpy(bin + n, t->caveats[i], len);
		n += len;
	}
	memcpy(bin + n, t->sig, TOKEN_SIG_LEN);
	n += TOKEN_SIG_LEN;
	text = malloc(strlen(TOKEN_PREFIX) + (n + 2) / 3 * 4 + 1);
	if (text) {
		memcpy(text, TOKEN_PREFIX, strlen(TOKEN_PREFIX));
		b64_encode(bin, n, text + strlen(TOKEN_PREFIX));
	}
	free(bin);
	return text;
}

/* A length-prefixed printable string from bin at *pos into a new string. */
static char *take_string(const uint8_t *bin, size_t len, size_t *pos, size_t max)
{
	size_t n;
	char *s;

	if (len - *pos < 2)
		return NULL;
	n = (size_t)bin[*pos] << 8 | bin[*pos + 1];
	*pos += 2;
	if (n == 0 || n > max || len - *pos < n)
		return NULL;
	s = malloc(n + 1);
	if (!s)
		return NULL;
	memcpy(s, bin + *pos, n);
	s[n] = '\0';
	*pos += n;
	/* an embedded NUL would hide bytes from the HMAC: one text, one token */
	if (strlen(s) != n || !is_printable(s, max)) {
		free(s);
		return NULL;
	}
	return s;
}

int policy_token_decode(policy_token_t *t, const char *text, size_t len, err_t *err)
{
	size_t plen = strlen(TOKEN_PREFIX), pos = 0, n_caveats;
	uint8_t *bin = NULL;
	char *id = NULL;
	long n;
	int rc = CG_EINVAL;

	memset(t, 0, sizeof *t);
	if (len <= plen || len > TOKEN_TEXT_MAX || memcmp(text, TOKEN_PREFIX, plen) != 0)
		return err_set(err, CG_EINVAL, "not a cellgate capability token");
	bin = malloc(len);
	if (!bin)
		return err_set(err, CG_ESYS, "out of memory");
	n = b64_decode(text + plen, len - plen, bin);
	if (n < 1 + 2 + 1 + 1 + TOKEN_SIG_LEN || bin[0] != TOKEN_VERSION)
		goto bad;
	pos = 1;
	id = take_string(bin, (size_t)n - TOKEN_SIG_LEN, &pos, TOKEN_ID_MAX);
	if (!id || pos >= (size_t)n - TOKEN_SIG_LEN)
		goto bad;
	memcpy(t->id, id, strlen(id) + 1);
	n_caveats = bin[pos++];
	if (n_caveats > TOKEN_MAX_CAVEATS)
		goto bad;
	for (size_t i = 0; i < n_caveats; i++) {
		char *c = take_string(bin, (size_t)n - TOKEN_SIG_LEN, &pos, TOKEN_CAVEAT_MAX);

		if (!c)
			goto bad;
		t->caveats[t->n_caveats++] = c;
	}
	if (pos != (size_t)n - TOKEN_SIG_LEN)
		goto bad;
	memcpy(t->sig, bin + pos, TOKEN_SIG_LEN);
	rc = 0;
	goto out;
bad:
	err_set(err, CG_EINVAL, "a malformed capability token");
	policy_token_clear(t);
out:
	free(id);
	free(bin);
	return rc;
}
