/*
 * Jupyter wire protocol codec: frames <-> wire_msg_t, HMAC-SHA256 signing.
 *
 * Order of checks on decode matters: sizes first (cheap, bounds all later
 * work), then the signature (so an unauthenticated peer cannot make us parse
 * anything), then the JSON parts.
 */
#include "wire.h"

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../common/json_check.h"
#include "../common/util.h"

const wire_limits_t wire_default_limits = {
	.max_identities = 16,
	.max_buffers = 64,
	.max_part = 64u << 20,
	.max_total = 128u << 20,
};

struct wire_key {
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx; /* initialised with the key; duplicated per message */
	bool is_empty;
};

wire_key_t *wire_key_new(const void *key, size_t len, err_t *err)
{
	wire_key_t *k = calloc(1, sizeof *k);
	OSSL_PARAM params[2];

	if (!k) {
		err_set(err, CG_ESYS, "out of memory");
		return NULL;
	}
	k->is_empty = (len == 0);
	if (k->is_empty)
		return k;
	k->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	k->ctx = k->mac ? EVP_MAC_CTX_new(k->mac) : NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!k->ctx || !EVP_MAC_init(k->ctx, key, len, params)) {
		err_set(err, CG_ESYS, "cannot initialise HMAC-SHA256");
		wire_key_free(&k);
		return NULL;
	}
	return k;
}

void wire_key_free(wire_key_t **self_p)
{
	wire_key_t *k = *self_p;

	if (!k)
		return;
	EVP_MAC_CTX_free(k->ctx);
	EVP_MAC_free(k->mac);
	free(k);
	*self_p = NULL;
}

bool wire_key_is_empty(const wire_key_t *key)
{
	return !key || key->is_empty;
}

static int hmac_parts(const wire_key_t *key, const wire_slice_t parts[4], uint8_t mac[32])
{
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(key->ctx);
	size_t outl = 0;
	int ok = ctx != NULL;

	for (int i = 0; ok && i < 4; i++)
		ok = EVP_MAC_update(ctx, parts[i].data, parts[i].len);
	ok = ok && EVP_MAC_final(ctx, mac, &outl, 32) && outl == 32;
	EVP_MAC_CTX_free(ctx);
	return ok ? 0 : CG_ESYS;
}

int wire_sign(const wire_key_t *key, const wire_slice_t parts[4],
	      char out[WIRE_SIG_HEX_LEN + 1])
{
	uint8_t mac[32];

	out[0] = '\0';
	if (wire_key_is_empty(key))
		return 0;
	if (hmac_parts(key, parts, mac))
		return CG_ESYS;
	util_hex_encode(mac, sizeof mac, out);
	return 0;
}

bool wire_verify_signature(const wire_key_t *key, const wire_slice_t parts[4],
			   const void *sig, size_t sig_len)
{
	char expect[WIRE_SIG_HEX_LEN + 1];

	if (wire_key_is_empty(key))
		return true;
	if (sig_len != WIRE_SIG_HEX_LEN || wire_sign(key, parts, expect))
		return false;
	return CRYPTO_memcmp(expect, sig, WIRE_SIG_HEX_LEN) == 0;
}

static int copy_bytes(wire_bytes_t *dst, const void *src, size_t len)
{
	dst->data = malloc(len + 1);
	if (!dst->data)
		return CG_ESYS;
	if (len)
		memcpy(dst->data, src, len);
	dst->data[len] = '\0';
	dst->len = len;
	return 0;
}

static void msg_free(wire_msg_t *m)
{
	for (size_t i = 0; i < m->n_ids; i++)
		free(m->ids[i].data);
	free(m->ids);
	free(m->header.data);
	free(m->parent_header.data);
	free(m->metadata.data);
	free(m->content.data);
	for (size_t i = 0; i < m->n_buffers; i++)
		free(m->buffers[i].data);
	free(m->buffers);
	free(m->msg_id);
	free(m->msg_type);
	free(m->session);
	free(m->parent_msg_id);
	free(m);
}

wire_msg_t *wire_msg_ref(wire_msg_t *msg)
{
	if (msg)
		msg->refs++;
	return msg;
}

void wire_msg_unref(wire_msg_t **self_p)
{
	wire_msg_t *m = *self_p;

	if (!m)
		return;
	*self_p = NULL;
	if (--m->refs == 0)
		msg_free(m);
}

size_t wire_msg_size(const wire_msg_t *m)
{
	size_t n = m->header.len + m->parent_header.len + m->metadata.len + m->content.len;

	for (size_t i = 0; i < m->n_buffers; i++)
		n += m->buffers[i].len;
	return n;
}

/* A string member of a parsed header, copied; "" when absent. */
static char *header_string(json_t *obj, const char *name, bool *present)
{
	json_t *v = json_object_get(obj, name);
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;

	if (present)
		*present = s != NULL;
	return util_strndup(s ? s : "", s ? json_string_length(v) : 0);
}

/*
 * Validates the four JSON parts and extracts what routing needs. The header
 * must carry string msg_id and msg_type; the other parts must be objects.
 */
static int check_parts(wire_msg_t *m, err_t *err)
{
	static const char *names[] = { "header", "parent_header", "metadata", "content" };
	wire_bytes_t *parts[] = { &m->header, &m->parent_header, &m->metadata, &m->content };
	json_t *hdr = NULL, *parent = NULL;
	bool has_id = false, has_type = false;
	int rc = CG_EINVAL;

	for (int i = 0; i < 4; i++) {
		if (json_check_object(parts[i]->data, parts[i]->len, err))
			return err_wrap(err, "%s", names[i]);
	}
	hdr = json_loadb(m->header.data, m->header.len, 0, NULL);
	parent = json_loadb(m->parent_header.data, m->parent_header.len, 0, NULL);
	if (!hdr || !parent) {
		err_set(err, CG_EINVAL, "header: not decodable");
		goto out;
	}
	m->msg_id = header_string(hdr, "msg_id", &has_id);
	m->msg_type = header_string(hdr, "msg_type", &has_type);
	m->session = header_string(hdr, "session", NULL);
	m->parent_msg_id = header_string(parent, "msg_id", NULL);
	if (!m->msg_id || !m->msg_type || !m->session || !m->parent_msg_id) {
		err_set(err, CG_ESYS, "out of memory");
		goto out;
	}
	if (!has_id || !has_type || !m->msg_id[0] || !m->msg_type[0]) {
		err_set(err, CG_EINVAL, "header: msg_id and msg_type must be non-empty strings");
		goto out;
	}
	rc = 0;
out:
	json_decref(hdr);
	json_decref(parent);
	return rc;
}

static int check_sizes(const wire_slice_t *frames, size_t n, size_t delim,
		       const wire_limits_t *lim, err_t *err)
{
	size_t total = 0;

	if (delim > lim->max_identities)
		return err_set(err, CG_ETOOBIG, "more than %zu routing identities",
			       lim->max_identities);
	if (n - delim - 6 > lim->max_buffers)
		return err_set(err, CG_ETOOBIG, "more than %zu buffers", lim->max_buffers);
	for (size_t i = 0; i < n; i++) {
		if (frames[i].len > lim->max_part)
			return err_set(err, CG_ETOOBIG, "frame %zu is larger than %zu bytes",
				       i, lim->max_part);
		total += frames[i].len;
	}
	if (total > lim->max_total)
		return err_set(err, CG_ETOOBIG, "message is larger than %zu bytes",
			       lim->max_total);
	return 0;
}

static wire_msg_t *msg_alloc(size_t n_ids, size_t n_buffers)
{
	wire_msg_t *m = calloc(1, sizeof *m);

	if (!m)
		return NULL;
	m->refs = 1;
	m->ids = n_ids ? calloc(n_ids, sizeof *m->ids) : NULL;
	m->buffers = n_buffers ? calloc(n_buffers, sizeof *m->buffers) : NULL;
	if ((n_ids && !m->ids) || (n_buffers && !m->buffers)) {
		free(m->ids);
		free(m->buffers);
		free(m);
		return NULL;
	}
	m->n_ids = n_ids;
	m->n_buffers = n_buffers;
	return m;
}

int wire_decode(const wire_slice_t *frames, size_t n, const wire_key_t *key,
		const wire_limits_t *lim, wire_msg_t **out, err_t *err)
{
	const size_t dlen = sizeof WIRE_DELIMITER - 1;
	wire_msg_t *m = NULL;
	size_t delim = SIZE_MAX;
	int rc;

	*out = NULL;
	if (!lim)
		lim = &wire_default_limits;
	for (size_t i = 0; i < n && i <= lim->max_identities; i++) {
		if (frames[i].len == dlen && memcmp(frames[i].data, WIRE_DELIMITER, dlen) == 0) {
			delim = i;
			break;
		}
	}
	if (delim == SIZE_MAX)
		return err_set(err, CG_EINVAL, "no <IDS|MSG> delimiter");
	if (n - delim < 6)
		return err_set(err, CG_EINVAL, "expected signature and 4 JSON parts after the "
			       "delimiter, got %zu frames", n - delim - 1);
	rc = check_sizes(frames, n, delim, lim, err);
	if (rc)
		return rc;
	if (!wire_verify_signature(key, &frames[delim + 2], frames[delim + 1].data,
				   frames[delim + 1].len))
		return err_set(err, CG_EDENIED, "bad message signature");

	m = msg_alloc(delim, n - delim - 6);
	if (!m)
		return err_set(err, CG_ESYS, "out of memory");
	rc = 0;
	for (size_t i = 0; !rc && i < delim; i++)
		rc = copy_bytes(&m->ids[i], frames[i].data, frames[i].len);
	rc = rc ? rc : copy_bytes(&m->header, frames[delim + 2].data, frames[delim + 2].len);
	rc = rc ? rc : copy_bytes(&m->parent_header, frames[delim + 3].data, frames[delim + 3].len);
	rc = rc ? rc : copy_bytes(&m->metadata, frames[delim + 4].data, frames[delim + 4].len);
	rc = rc ? rc : copy_bytes(&m->content, frames[delim + 5].data, frames[delim + 5].len);
	for (size_t i = 0; !rc && i < m->n_buffers; i++)
		rc = copy_bytes(&m->buffers[i], frames[delim + 6 + i].data, frames[delim + 6 + i].len);
	if (rc) {
		err_set(err, CG_ESYS, "out of memory");
		goto fail;
	}
	rc = check_parts(m, err);
	if (rc)
		goto fail;
	*out = m;
	return 0;
fail:
	msg_free(m);
	return rc;
}

wire_msg_t *wire_msg_from_parts(const wire_slice_t parts[4], const wire_slice_t *buffers,
				size_t n_buffers, const wire_limits_t *lim, err_t *err)
{
	wire_bytes_t *dst[4];
	size_t total = 0;
	wire_msg_t *m;
	int rc = 0;

	if (!lim)
		lim = &wire_default_limits;
	if (n_buffers > lim->max_buffers) {
		err_set(err, CG_ETOOBIG, "more than %zu buffers", lim->max_buffers);
		return NULL;
	}
	for (size_t i = 0; i < 4 + n_buffers; i++) {
		size_t len = i < 4 ? parts[i].len : buffers[i - 4].len;

		if (len > lim->max_part) {
			err_set(err, CG_ETOOBIG, "a message part is larger than %zu bytes",
				lim->max_part);
			return NULL;
		}
		total += len;
	}
	if (total > lim->max_total) {
		err_set(err, CG_ETOOBIG, "message is larger than %zu bytes", lim->max_total);
		return NULL;
	}
	m = msg_alloc(0, n_buffers);
	if (!m) {
		err_set(err, CG_ESYS, "out of memory");
		return NULL;
	}
	dst[0] = &m->header;
	dst[1] = &m->parent_header;
	dst[2] = &m->metadata;
	dst[3] = &m->content;
	for (int i = 0; !rc && i < 4; i++)
		rc = copy_bytes(dst[i], parts[i].data, parts[i].len);
	for (size_t i = 0; !rc && i < n_buffers; i++)
		rc = copy_bytes(&m->buffers[i], buffers[i].data, buffers[i].len);
	if (rc)
		err_set(err, CG_ESYS, "out of memory");
	else
		rc = check_parts(m, err);
	if (rc) {
		msg_free(m);
		return NULL;
	}
	return m;
}

wire_msg_t *wire_msg_new(const char *msg_type, const char *session, const char *username,
			 const wire_msg_t *parent, const char *content_json, err_t *err)
{
	char msg_id[UUID_HEX_LEN], date[ISO_TIME_LEN];
	json_t *hdr;
	char *hdr_text;
	wire_slice_t parts[4];
	wire_msg_t *m;

	if (util_uuid4_hex(msg_id)) {
		err_set(err, CG_ESYS, "no randomness for a message id");
		return NULL;
	}
	util_iso_time_now(date);
	hdr = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "msg_id", msg_id,
			"msg_type", msg_type, "username", username, "session", session,
			"date", date, "version", WIRE_PROTOCOL_VERSION);
	hdr_text = hdr ? json_dumps(hdr, JSON_COMPACT) : NULL;
	json_decref(hdr);
	if (!hdr_text) {
		err_set(err, CG_EINVAL, "cannot build a message header");
		return NULL;
	}
	parts[0] = (wire_slice_t){ hdr_text, strlen(hdr_text) };
	parts[1] = parent ? (wire_slice_t){ parent->header.data, parent->header.len }
			  : (wire_slice_t){ "{}", 2 };
	parts[2] = (wire_slice_t){ "{}", 2 };
	parts[3] = (wire_slice_t){ content_json, strlen(content_json) };
	m = wire_msg_from_parts(parts, NULL, 0, NULL, err);
	free(hdr_text);
	return m;
}

int wire_msg_set_identity(wire_msg_t *m, const void *id, size_t len)
{
	wire_bytes_t *ids = realloc(m->ids, (m->n_ids + 1) * sizeof *ids);

	if (!ids)
		return CG_ESYS;
	m->ids = ids;
	if (copy_bytes(&ids[m->n_ids], id, len))
		return CG_ESYS;
	m->n_ids++;
	return 0;
}

size_t wire_frame_count(const wire_msg_t *m)
{
	return m->n_ids + 6 + m->n_buffers;
}

int wire_encode(const wire_msg_t *m, const wire_key_t *key, wire_slice_t *f,
		size_t max, char sig[WIRE_SIG_HEX_LEN + 1])
{
	size_t n = 0;

	if (wire_frame_count(m) > max)
		return CG_ETOOBIG;
	for (size_t i = 0; i < m->n_ids; i++)
		f[n++] = (wire_slice_t){ m->ids[i].data, m->ids[i].len };
	f[n++] = (wire_slice_t){ WIRE_DELIMITER, sizeof WIRE_DELIMITER - 1 };
	f[n++] = (wire_slice_t){ sig, 0 };
	f[n++] = (wire_slice_t){ m->header.data, m->header.len };
	f[n++] = (wire_slice_t){ m->parent_header.data, m->parent_header.len };
	f[n++] = (wire_slice_t){ m->metadata.data, m->metadata.len };
	f[n++] = (wire_slice_t){ m->content.data, m->content.len };
	for (size_t i = 0; i < m->n_buffers; i++)
		f[n++] = (wire_slice_t){ m->buffers[i].data, m->buffers[i].len };
	if (wire_sign(key, &f[m->n_ids + 2], sig))
		return CG_ESYS;
	f[m->n_ids + 1].len = strlen(sig);
	return (int)n;
}
