/*
 * Encoders and decoders for the two kernel WebSocket protocols (see
 * ws_codec.h). Offsets and counts from the client are checked before any
 * of them is used to index the frame.
 */
#include "ws_codec.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void put_u32be(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_u32be(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_u64le(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64le(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int headroom_init(buf_t *out, size_t headroom, size_t need)
{
	int rc = buf_reserve(out, headroom + need);

	if (!rc) {
		memset(out->data + out->len, 0, headroom);
		out->len += headroom;
	}
	return rc;
}

/* --- encoding ------------------------------------------------------------- */

static int legacy_json(const wire_msg_t *m, kchannel_t ch, bool with_buffers_key, buf_t *out)
{
	int rc = buf_append_str(out, "{\"header\":");

	rc = rc ? rc : buf_append(out, m->header.data, m->header.len);
	rc = rc ? rc : buf_append_str(out, ",\"msg_id\":");
	rc = rc ? rc : buf_append_json_string(out, m->msg_id, strlen(m->msg_id));
	rc = rc ? rc : buf_append_str(out, ",\"msg_type\":");
	rc = rc ? rc : buf_append_json_string(out, m->msg_type, strlen(m->msg_type));
	rc = rc ? rc : buf_append_str(out, ",\"parent_header\":");
	rc = rc ? rc : buf_append(out, m->parent_header.data, m->parent_header.len);
	rc = rc ? rc : buf_append_str(out, ",\"metadata\":");
	rc = rc ? rc : buf_append(out, m->metadata.data, m->metadata.len);
	rc = rc ? rc : buf_append_str(out, ",\"content\":");
	rc = rc ? rc : buf_append(out, m->content.data, m->content.len);
	if (with_buffers_key)
		rc = rc ? rc : buf_append_str(out, ",\"buffers\":[]");
	rc = rc ? rc : buf_append_str(out, ",\"channel\":\"");
	rc = rc ? rc : buf_append_str(out, kchannel_name(ch));
	return rc ? rc : buf_append_str(out, "\"}");
}

int ws_encode_legacy(const wire_msg_t *m, kchannel_t ch, size_t headroom, buf_t *out,
		     bool *is_binary)
{
	size_t n = m->n_buffers + 1, json_start, offsets_at;
	int rc;

	*is_binary = m->n_buffers > 0;
	rc = headroom_init(out, headroom, wire_msg_size(m) + 256);
	if (rc || !*is_binary)
		return rc ? rc : legacy_json(m, ch, true, out);
	/* binary: uint32 count, uint32 offsets, the JSON, the buffers */
	offsets_at = out->len;
	rc = buf_reserve(out, 4 * (n + 1));
	if (rc)
		return rc;
	out->len += 4 * (n + 1);
	json_start = out->len;
	rc = legacy_json(m, ch, false, out);
	if (rc)
		return rc;
	put_u32be((uint8_t *)out->data + offsets_at, (uint32_t)n);
	put_u32be((uint8_t *)out->data + offsets_at + 4, (uint32_t)(json_start - offsets_at));
	for (size_t i = 0; i < m->n_buffers; i++) {
		if (out->len - offsets_at > UINT32_MAX)
			return CG_ETOOBIG;
		put_u32be((uint8_t *)out->data + offsets_at + 4 * (i + 2),
			  (uint32_t)(out->len - offsets_at));
		rc = buf_append(out, m->buffers[i].data, m->buffers[i].len);
		if (rc)
			return rc;
	}
	return 0;
}

int ws_encode_v1(const wire_msg_t *m, kchannel_t ch, size_t headroom, buf_t *out)
{
	const char *chan = kchannel_name(ch);
	const wire_bytes_t *parts[4] = { &m->header, &m->parent_header, &m->metadata, &m->content };
	size_t n = 6 + m->n_buffers, base, pos;
	int rc = headroom_init(out, headroom, 8 * (n + 1) + strlen(chan) + wire_msg_size(m));

	if (rc)
		return rc;
	base = out->len;
	out->len += 8 * (n + 1);
	put_u64le((uint8_t *)out->data + base, n);
	pos = 8 * (n + 1);
	put_u64le((uint8_t *)out->data + base + 8, pos);
	rc = buf_append_str(out, chan);
	for (size_t i = 0; !rc && i < 4 + m->n_buffers; i++) {
		const wire_bytes_t *b = i < 4 ? parts[i] : &m->buffers[i - 4];

		put_u64le((uint8_t *)out->data + base + 8 * (i + 2), out->len - base);
		rc = buf_append(out, b->data, b->len);
	}
	if (!rc)
		put_u64le((uint8_t *)out->data + base + 8 * (n), out->len - base);
	return rc;
}

/* --- decoding ------------------------------------------------------------- */

void ws_decoded_clear(ws_decoded_t *d)
{
	wire_msg_unref(&d->msg);
	free(d->header_json);
	memset(d, 0, sizeof *d);
}

static int set_channel(ws_decoded_t *out, const char *name, size_t len, err_t *err)
{
	/* iopub parses: the server refuses it with its own message */
	if (kchannel_parse(name, len, &out->channel) != 0)
		return err_set(err, CG_EINVAL, "unknown channel \"%.*s\": expected shell, control or stdin",
			       (int)(len > 32 ? 32 : len), name);
	out->has_channel = true;
	return 0;
}

/* Serialises one member of the client's message for the kernel: an
 * object, or {} when absent or null (parent_header and metadata). */
static char *member_text(json_t *msg, const char *name, bool is_required, err_t *err)
{
	json_t *v = json_object_get(msg, name);

	if (!v || json_is_null(v)) {
		if (is_required) {
			err_set(err, CG_EINVAL, "the message has no %s", name);
			return NULL;
		}
		return strdup("{}");
	}
	if (!json_is_object(v)) {
		err_set(err, CG_EINVAL, "%s must be an object", name);
		return NULL;
	}
	return json_dumps(v, JSON_COMPACT);
}

static int decode_legacy_json(const char *data, size_t len, const wire_slice_t *buffers,
			      size_t n_buffers, const wire_limits_t *lim, ws_decoded_t *out,
			      err_t *err)
{
	json_error_t jerr;
	json_t *msg = json_loadb(data, len, 0, &jerr), *chan;
	char *parts[4] = { NULL };
	static const char *names[4] = { "header", "parent_header", "metadata", "content" };
	wire_slice_t slices[4];
	int rc = 0;

	if (!msg)
		return err_set(err, CG_EINVAL, "not JSON: %s at position %d", jerr.text, jerr.position);
	if (!json_is_object(msg)) {
		json_decref(msg);
		return err_set(err, CG_EINVAL, "the message must be a JSON object");
	}
	/* Jupyter Server takes a message without a channel as shell */
	chan = json_object_get(msg, "channel");
	if (!chan)
		rc = set_channel(out, "shell", 5, err);
	else if (!json_is_string(chan))
		rc = err_set(err, CG_EINVAL, "channel must be a string");
	else
		rc = set_channel(out, json_string_value(chan), json_string_length(chan), err);
	for (int i = 0; i < 4; i++) {
		parts[i] = member_text(msg, names[i], i == 0 || i == 3, rc ? NULL : err);
		if (!parts[i] && !rc)
			rc = CG_EINVAL;
		slices[i] = (wire_slice_t){ parts[i], parts[i] ? strlen(parts[i]) : 0 };
	}
	if (parts[0])
		out->header_json = strdup(parts[0]);
	if (!rc) {
		out->msg = wire_msg_from_parts(slices, buffers, n_buffers, lim, err);
		if (!out->msg)
			rc = err ? err->code : CG_EINVAL;
	}
	for (int i = 0; i < 4; i++)
		free(parts[i]);
	json_decref(msg);
	return rc;
}

int ws_decode_legacy(const void *data, size_t len, bool is_binary, const wire_limits_t *lim,
		     ws_decoded_t *out, err_t *err)
{
	const uint8_t *p = data;
	wire_slice_t buffers[64];
	uint32_t n, start, end;

	memset(out, 0, sizeof *out);
	if (!lim)
		lim = &wire_default_limits;
	if (!is_binary)
		return decode_legacy_json(data, len, NULL, 0, lim, out, err);
	if (len < 8)
		return err_set(err, CG_EINVAL, "binary message too short");
	n = get_u32be(p);
	if (n < 1 || n - 1 > lim->max_buffers || n - 1 > 64 || (size_t)4 * (n + 1) > len)
		return err_set(err, CG_EINVAL, "binary message: bad part count %u", n);
	for (uint32_t i = 0; i < n; i++) {
		start = get_u32be(p + 4 * (i + 1));
		end = i + 1 < n ? get_u32be(p + 4 * (i + 2)) : (uint32_t)len;
		if (start < 4 * (n + 1) || start > end || end > len)
			return err_set(err, CG_EINVAL, "binary message: bad offsets");
		if (i > 0)
			buffers[i - 1] = (wire_slice_t){ p + start, end - start };
	}
	start = get_u32be(p + 4);
	end = n > 1 ? get_u32be(p + 8) : (uint32_t)len;
	return decode_legacy_json((const char *)p + start, end - start, buffers, n - 1, lim, out, err);
}

int ws_decode_v1(const void *data, size_t len, const wire_limits_t *lim, ws_decoded_t *out,
		 err_t *err)
{
	const uint8_t *p = data;
	uint64_t n, off[6 + 64 + 1];
	wire_slice_t parts[4], buffers[64];
	size_t n_buffers;

	memset(out, 0, sizeof *out);
	if (!lim)
		lim = &wire_default_limits;
	if (len < 8)
		return err_set(err, CG_EINVAL, "v1 message too short");
	n = get_u64le(p);
	if (n < 6 || n - 6 > lim->max_buffers || n - 6 > 64 || 8 * (n + 1) > len)
		return err_set(err, CG_EINVAL, "v1 message: bad offset count");
	for (uint64_t i = 0; i < n; i++) {
		off[i] = get_u64le(p + 8 * (i + 1));
		if (off[i] > len || (i == 0 && off[i] < 8 * (n + 1)) || (i > 0 && off[i] < off[i - 1]))
			return err_set(err, CG_EINVAL, "v1 message: bad offsets");
	}
	for (int i = 0; i < 4; i++)
		parts[i] = (wire_slice_t){ p + off[i + 1], off[i + 2] - off[i + 1] };
	/* the last offset ends the content when there are no buffers */
	n_buffers = (size_t)(n - 6);
	for (size_t i = 0; i < n_buffers; i++)
		buffers[i] = (wire_slice_t){ p + off[5 + i], off[6 + i] - off[5 + i] };
	/* kept first, so that even a bad channel is answered as a reply */
	out->header_json = parts[0].len < 65536 ? strndup(parts[0].data, parts[0].len) : NULL;
	if (set_channel(out, (const char *)p + off[0], off[1] - off[0], err))
		return CG_EINVAL;
	out->msg = wire_msg_from_parts(parts, buffers, n_buffers, lim, err);
	return out->msg ? 0 : CG_EINVAL;
}
