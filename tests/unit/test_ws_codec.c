/*
 * Unit tests for server/ws_codec.c: both kernel WebSocket protocols carry a
 * wire message there and back unchanged, the byte layouts are pinned to
 * what Jupyter Server and @jupyterlab/services 7 put on the wire, and every
 * malformed frame is refused with a sentence (keeping the request's header
 * when it could be read, so the server can answer the request).
 *
 * Frames are always decoded from exact-size heap copies, so the sanitizer
 * run catches any read past the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../server/ws_codec.h"

/* Compact JSON, as jansson prints it, so a legacy round trip is byte-exact. */
#define HDR                                                                        \
	"{\"msg_id\":\"m1\",\"msg_type\":\"execute_request\",\"session\":\"s1\"," \
	"\"username\":\"u\",\"date\":\"2024-01-01T00:00:00Z\",\"version\":\"5.3\"}"
#define PARENT "{\"msg_id\":\"p0\",\"msg_type\":\"kernel_info_request\",\"session\":\"s0\"}"
#define META "{\"cellId\":\"c-1\",\"n\":[1,2]}"
#define CONTENT "{\"code\":\"print(\\\"\xe2\x98\x83\\\")\",\"silent\":false}"

static wire_slice_t S(const char *s)
{
	return (wire_slice_t){ s, strlen(s) };
}

static void put_u32be(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
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

/* An exact-size heap copy (never 0 bytes, so malloc cannot return NULL). */
static uint8_t *dup_bytes(const void *p, size_t len)
{
	uint8_t *d = malloc(len ? len : 1);

	assert_non_null(d);
	if (len)
		memcpy(d, p, len);
	return d;
}

static wire_msg_t *msg_of(const char *hdr, const char *parent, const char *meta,
			  const char *content, const wire_slice_t *bufs, size_t nb)
{
	wire_slice_t parts[4] = { S(hdr), S(parent), S(meta), S(content) };
	err_t err = { 0 };
	wire_msg_t *m = wire_msg_from_parts(parts, bufs, nb, NULL, &err);

	if (!m)
		fail_msg("wire_msg_from_parts: %s", err.msg);
	return m;
}

static void assert_bytes(const wire_bytes_t *b, const void *data, size_t len)
{
	assert_int_equal(b->len, len);
	assert_memory_equal(b->data, data, len);
	assert_int_equal(b->data[len], '\0');
}

static void assert_same_msg(const wire_msg_t *got, const wire_msg_t *want)
{
	assert_bytes(&got->header, want->header.data, want->header.len);
	assert_bytes(&got->parent_header, want->parent_header.data, want->parent_header.len);
	assert_bytes(&got->metadata, want->metadata.data, want->metadata.len);
	assert_bytes(&got->content, want->content.data, want->content.len);
	assert_int_equal(got->n_buffers, want->n_buffers);
	for (size_t i = 0; i < want->n_buffers; i++)
		assert_bytes(&got->buffers[i], want->buffers[i].data, want->buffers[i].len);
	assert_string_equal(got->msg_id, want->msg_id);
	assert_string_equal(got->msg_type, want->msg_type);
	assert_string_equal(got->session, want->session);
	assert_string_equal(got->parent_msg_id, want->parent_msg_id);
	assert_int_equal(got->n_ids, 0);
}

/* Three buffers: text, empty, and bytes that are neither UTF-8 nor NUL-free. */
static const char bin_buf[] = { 0x00, (char)0xff, (char)0xc3, 0x28, 0x00 };
static const wire_slice_t three_bufs[3] = {
	{ "abc", 3 },
	{ "", 0 },
	{ bin_buf, sizeof bin_buf },
};

/*
 * The v1 frame built independently of the codec, as @jupyterlab/services 7
 * (serializeV1KernelWebsocketJupyterOrg) and Jupyter Server lay it out:
 * n = 6 + nbuffers as uint64 LE, then n uint64 LE offsets -- where the
 * channel, header, parent_header, metadata, content and each buffer start,
 * and finally where the last part ends -- then the parts back to back.
 * Caller owns the result.
 */
static uint8_t *v1_layout(const char *channel, const char *const parts[4],
			  const wire_slice_t *bufs, size_t nb, size_t *len)
{
	wire_slice_t seq[5 + 64];
	size_t n = 6 + nb, pos = 8 * (n + 1), k = 0;
	uint8_t *f;

	assert_true(nb <= 64);
	seq[k++] = S(channel);
	for (int i = 0; i < 4; i++)
		seq[k++] = S(parts[i]);
	for (size_t i = 0; i < nb; i++)
		seq[k++] = bufs[i];
	*len = pos;
	for (size_t i = 0; i < k; i++)
		*len += seq[i].len;
	f = calloc(1, *len);
	assert_non_null(f);
	put_u64le(f, n);
	for (size_t i = 0; i < k; i++) {
		put_u64le(f + 8 * (i + 1), pos);
		memcpy(f + pos, seq[i].data, seq[i].len);
		pos += seq[i].len;
	}
	put_u64le(f + 8 * n, pos); /* the n-th offset: the end of the last part */
	assert_int_equal(pos, *len);
	return f;
}

/* The legacy binary frame as Jupyter Server's serialize_binary_message
 * builds it: uint32 BE count n = 1 + nbuffers, n uint32 BE offsets (where
 * the JSON and each buffer start), the JSON, the buffers. */
static uint8_t *legacy_layout(const char *json, const wire_slice_t *bufs, size_t nb,
			      size_t *len)
{
	size_t n = 1 + nb, pos = 4 * (n + 1);
	uint8_t *f;

	*len = pos + strlen(json);
	for (size_t i = 0; i < nb; i++)
		*len += bufs[i].len;
	f = calloc(1, *len);
	assert_non_null(f);
	put_u32be(f, (uint32_t)n);
	put_u32be(f + 4, (uint32_t)pos);
	memcpy(f + pos, json, strlen(json));
	pos += strlen(json);
	for (size_t i = 0; i < nb; i++) {
		put_u32be(f + 4 * (i + 2), (uint32_t)pos);
		memcpy(f + pos, bufs[i].data, bufs[i].len);
		pos += bufs[i].len;
	}
	return f;
}

static int decode_v1_copy(const void *frame, size_t len, const wire_limits_t *lim,
			  ws_decoded_t *d, err_t *err)
{
	uint8_t *copy = dup_bytes(frame, len);
	int rc = ws_decode_v1(copy, len, lim, d, err);

	free(copy);
	return rc;
}

static int decode_legacy_copy(const void *frame, size_t len, bool is_binary,
			      const wire_limits_t *lim, ws_decoded_t *d, err_t *err)
{
	uint8_t *copy = dup_bytes(frame, len);
	int rc = ws_decode_legacy(copy, len, is_binary, lim, d, err);

	free(copy);
	return rc;
}

/* --- v1 ------------------------------------------------------------------- */

/* A literal frame, offsets worked out by hand: the format cannot drift
 * without this test noticing. */
static void test_v1_pinned_literal(void **state)
{
	(void)state;
	static const char hdr[] = "{\"msg_id\":\"a\",\"msg_type\":\"b\"}";
	static const uint8_t table[64] = {
		7, 0, 0, 0, 0, 0, 0, 0,   /* 7 offsets: 6 + 1 buffer */
		64, 0, 0, 0, 0, 0, 0, 0,  /* channel "shell" */
		69, 0, 0, 0, 0, 0, 0, 0,  /* header, 29 bytes */
		98, 0, 0, 0, 0, 0, 0, 0,  /* parent_header {} */
		100, 0, 0, 0, 0, 0, 0, 0, /* metadata {} */
		102, 0, 0, 0, 0, 0, 0, 0, /* content {} */
		104, 0, 0, 0, 0, 0, 0, 0, /* buffer "XY" */
		106, 0, 0, 0, 0, 0, 0, 0, /* end */
	};
	uint8_t frame[106];
	wire_slice_t parts[4] = { S(hdr), S("{}"), S("{}"), S("{}") }, xy = S("XY");
	wire_msg_t *m;
	ws_decoded_t d;
	err_t err = { 0 };
	buf_t out;

	assert_int_equal(strlen(hdr), 29);
	memcpy(frame, table, 64);
	memcpy(frame + 64, "shell", 5);
	memcpy(frame + 69, hdr, 29);
	memcpy(frame + 98, "{}{}{}XY", 8);

	m = wire_msg_from_parts(parts, &xy, 1, NULL, &err);
	assert_non_null(m);
	buf_init(&out, 0);
	assert_int_equal(ws_encode_v1(m, KCH_SHELL, 0, &out), 0);
	assert_int_equal(out.len, sizeof frame);
	assert_memory_equal(out.data, frame, sizeof frame);

	assert_int_equal(decode_v1_copy(frame, sizeof frame, NULL, &d, &err), 0);
	assert_int_equal(d.channel, KCH_SHELL);
	assert_true(d.has_channel);
	assert_same_msg(d.msg, m);
	ws_decoded_clear(&d);
	assert_null(d.msg);
	assert_null(d.header_json);
	buf_free(&out);
	wire_msg_unref(&m);
}

/* Encoding matches the independent layout for every channel, with and
 * without buffers, after the requested headroom. */
static void test_v1_encode_layout(void **state)
{
	(void)state;
	const char *parts[4] = { HDR, PARENT, META, CONTENT };
	const size_t headroom = 16;

	for (int ch = 0; ch < KCH_COUNT; ch++) {
		for (size_t nb = 0; nb <= 3; nb += 3) {
			wire_msg_t *m = msg_of(HDR, PARENT, META, CONTENT, three_bufs, nb);
			size_t len;
			uint8_t *want = v1_layout(kchannel_name((kchannel_t)ch), parts, three_bufs,
						  nb, &len);
			static const uint8_t zeros[16];
			buf_t out;

			buf_init(&out, 0);
			assert_int_equal(ws_encode_v1(m, (kchannel_t)ch, headroom, &out), 0);
			assert_int_equal(out.len, headroom + len);
			assert_memory_equal(out.data, zeros, headroom);
			assert_memory_equal(out.data + headroom, want, len);
			assert_int_equal(get_u64le(want), 6 + nb);
			buf_free(&out);
			free(want);
			wire_msg_unref(&m);
		}
	}
}

static void test_v1_roundtrip(void **state)
{
	(void)state;
	static const kchannel_t chans[] = { KCH_SHELL, KCH_CONTROL, KCH_STDIN };

	for (size_t c = 0; c < sizeof chans / sizeof *chans; c++) {
		for (size_t nb = 0; nb <= 3; nb++) {
			wire_msg_t *m = msg_of(HDR, PARENT, META, CONTENT, three_bufs, nb);
			ws_decoded_t d;
			err_t err = { 0 };
			buf_t out;

			buf_init(&out, 0);
			assert_int_equal(ws_encode_v1(m, chans[c], 7, &out), 0);
			assert_int_equal(decode_v1_copy(out.data + 7, out.len - 7, NULL, &d, &err), 0);
			assert_true(d.has_channel);
			assert_int_equal(d.channel, chans[c]);
			assert_same_msg(d.msg, m);
			assert_string_equal(d.msg->msg_id, "m1");
			assert_string_equal(d.msg->msg_type, "execute_request");
			assert_string_equal(d.msg->session, "s1");
			assert_string_equal(d.msg->parent_msg_id, "p0");
			ws_decoded_clear(&d);
			buf_free(&out);
			wire_msg_unref(&m);
		}
	}
}

/* What the browser sends (parts from JSON.stringify) decodes to those bytes. */
static void test_v1_decode_client_frame(void **state)
{
	(void)state;
	const char *parts[4] = { HDR, "{}", "{}", "{\"comm_id\":\"c\",\"data\":{}}" };
	size_t len;
	uint8_t *f = v1_layout("control", parts, three_bufs, 3, &len);
	ws_decoded_t d;
	err_t err = { 0 };

	assert_int_equal(decode_v1_copy(f, len, NULL, &d, &err), 0);
	assert_int_equal(d.channel, KCH_CONTROL);
	assert_bytes(&d.msg->header, HDR, strlen(HDR));
	assert_bytes(&d.msg->parent_header, "{}", 2);
	assert_bytes(&d.msg->metadata, "{}", 2);
	assert_bytes(&d.msg->content, parts[3], strlen(parts[3]));
	assert_int_equal(d.msg->n_buffers, 3);
	assert_bytes(&d.msg->buffers[0], "abc", 3);
	assert_bytes(&d.msg->buffers[1], "", 0);
	assert_bytes(&d.msg->buffers[2], bin_buf, sizeof bin_buf);
	assert_string_equal(d.msg->parent_msg_id, "");
	ws_decoded_clear(&d);
	free(f);
}

/* Decodes f (len bytes) expecting failure with `want` in the message;
 * returns the header kept for the error reply (caller frees), or NULL. */
static char *v1_fails(const uint8_t *f, size_t len, const wire_limits_t *lim, const char *want)
{
	ws_decoded_t d;
	err_t err = { 0 };
	char *hdr;
	int rc = decode_v1_copy(f, len, lim, &d, &err);

	if (rc == 0)
		fail_msg("decoded although it should not (expected \"%s\")", want);
	assert_null(d.msg);
	if (!strstr(err.msg, want))
		fail_msg("error \"%s\" does not mention \"%s\"", err.msg, want);
	hdr = d.header_json;
	d.header_json = NULL;
	ws_decoded_clear(&d);
	return hdr;
}

static void test_v1_malformed_framing(void **state)
{
	(void)state;
	const char *parts[4] = { HDR, "{}", "{}", "{}" };
	size_t len;
	uint8_t *good = v1_layout("shell", parts, three_bufs, 2, &len);
	uint8_t *f = dup_bytes(good, len), big[8 * 72];
	wire_limits_t lim = wire_default_limits;

	/* shorter than the count */
	assert_null(v1_fails(good, 0, NULL, "too short"));
	assert_null(v1_fails(good, 7, NULL, "too short"));

	/* every truncation fails: the last offset says where the frame ends */
	for (size_t cut = 8; cut < len; cut++)
		free(v1_fails(good, cut, NULL, "v1 message"));

	/* offset counts: too few, more than 64 buffers, huge, and one whose
	 * table size would overflow 64 bits */
	static const uint64_t bad_counts[] = { 0, 5, 6 + 65, UINT64_MAX, (UINT64_C(1) << 61) - 1 };
	for (size_t i = 0; i < sizeof bad_counts / sizeof *bad_counts; i++) {
		memcpy(f, good, len);
		put_u64le(f, bad_counts[i]);
		assert_null(v1_fails(f, len, NULL, "bad offset count"));
	}
	/* 71 offsets with a frame big enough to hold the table: still too many */
	memset(big, 0, sizeof big);
	put_u64le(big, 6 + 65);
	for (size_t i = 0; i < 71; i++)
		put_u64le(big + 8 * (i + 1), sizeof big);
	assert_null(v1_fails(big, sizeof big, NULL, "bad offset count"));
	/* a count whose table does not fit the frame */
	memcpy(f, good, len);
	put_u64le(f, len / 8);
	assert_null(v1_fails(f, len, NULL, "bad offset count"));
	/* more buffers than the limits allow */
	lim.max_buffers = 1;
	assert_null(v1_fails(good, len, &lim, "bad offset count"));
	/* a limit above 64 buffers does not lift the codec's own cap of 64 */
	lim.max_buffers = 1000;
	assert_null(v1_fails(big, sizeof big, &lim, "bad offset count"));

	/* offsets: the channel inside the offset table, out of order, past the end */
	memcpy(f, good, len);
	put_u64le(f + 8, 8);
	assert_null(v1_fails(f, len, NULL, "bad offsets"));
	memcpy(f, good, len);
	put_u64le(f + 8 * 3, get_u64le(good + 8 * 2) - 1); /* parent_header before header */
	assert_null(v1_fails(f, len, NULL, "bad offsets"));
	memcpy(f, good, len);
	put_u64le(f + 8 * 4, get_u64le(good + 8 * 5) + 1); /* metadata after content */
	assert_null(v1_fails(f, len, NULL, "bad offsets"));
	memcpy(f, good, len);
	put_u64le(f + 8 * 8, len + 1); /* the end past the frame */
	assert_null(v1_fails(f, len, NULL, "bad offsets"));
	memcpy(f, good, len);
	put_u64le(f + 8 * 8, UINT64_MAX);
	assert_null(v1_fails(f, len, NULL, "bad offsets"));

	free(f);
	free(good);
}

static void test_v1_malformed_content(void **state)
{
	(void)state;
	const char *no_type = "{\"msg_id\":\"x\",\"session\":\"s\"}";
	const char *ok[4] = { HDR, "{}", "{}", "{}" };
	const char *p[4];
	wire_limits_t lim = wire_default_limits;
	size_t len;
	uint8_t *f;
	char *hdr;

	/* channels the client may not name */
	static const char *bad_chans[] = { "foo", "", "Shell", "shell ", "hb" };
	for (size_t i = 0; i < sizeof bad_chans / sizeof *bad_chans; i++) {
		f = v1_layout(bad_chans[i], ok, NULL, 0, &len);
		free(v1_fails(f, len, NULL, "unknown channel"));
		free(f);
	}

	/* a long channel name is quoted only in part */
	{
		char chan[101];
		ws_decoded_t d;
		err_t err = { 0 };

		memset(chan, 'x', 100);
		chan[100] = '\0';
		f = v1_layout(chan, ok, NULL, 0, &len);
		assert_int_not_equal(decode_v1_copy(f, len, NULL, &d, &err), 0);
		chan[32] = '\0';
		assert_non_null(strstr(err.msg, chan));
		chan[32] = 'x';
		chan[33] = '\0';
		assert_null(strstr(err.msg, chan));
		ws_decoded_clear(&d);
		free(f);
	}

	/* header without msg_type: refused, but the header is kept for the reply */
	memcpy(p, ok, sizeof p);
	p[0] = no_type;
	f = v1_layout("shell", p, NULL, 0, &len);
	hdr = v1_fails(f, len, NULL, "msg_type");
	assert_non_null(hdr);
	assert_string_equal(hdr, no_type);
	free(hdr);
	free(f);

	/* header that is a JSON array, and one that is not JSON */
	p[0] = "[1,2]";
	f = v1_layout("shell", p, NULL, 0, &len);
	free(v1_fails(f, len, NULL, "header"));
	free(f);
	p[0] = "{\"msg_id\":";
	f = v1_layout("shell", p, NULL, 0, &len);
	free(v1_fails(f, len, NULL, "header"));
	free(f);

	/* content that is not JSON, with a readable header: the header is kept */
	memcpy(p, ok, sizeof p);
	p[3] = "{\"code\":1,}";
	f = v1_layout("stdin", p, NULL, 0, &len);
	hdr = v1_fails(f, len, NULL, "content");
	assert_non_null(hdr);
	assert_string_equal(hdr, HDR);
	free(hdr);
	free(f);

	/* metadata and parent_header must be objects too */
	memcpy(p, ok, sizeof p);
	p[2] = "null";
	f = v1_layout("shell", p, NULL, 0, &len);
	free(v1_fails(f, len, NULL, "metadata"));
	free(f);
	memcpy(p, ok, sizeof p);
	p[1] = "";
	f = v1_layout("shell", p, NULL, 0, &len);
	free(v1_fails(f, len, NULL, "parent_header"));
	free(f);

	/* over the limits: a part, the whole message; exactly at the limit passes */
	f = v1_layout("shell", ok, three_bufs, 3, &len);
	{
		size_t total = strlen(HDR) + 2 + 2 + 2 + 3 + 0 + sizeof bin_buf;
		ws_decoded_t d;
		err_t err = { 0 };

		lim.max_total = total;
		assert_int_equal(decode_v1_copy(f, len, &lim, &d, &err), 0);
		ws_decoded_clear(&d);
		lim.max_total = total - 1;
		hdr = v1_fails(f, len, &lim, "larger than");
		assert_non_null(hdr);
		assert_string_equal(hdr, HDR);
		free(hdr);
		lim = wire_default_limits;
		lim.max_part = strlen(HDR) - 1;
		free(v1_fails(f, len, &lim, "larger than"));
	}
	free(f);
}

/* --- legacy ----------------------------------------------------------------- */

static void test_legacy_encode_text(void **state)
{
	(void)state;
	static const char want[] =
		"{\"header\":" HDR ",\"msg_id\":\"m1\",\"msg_type\":\"execute_request\","
		"\"parent_header\":" PARENT ",\"metadata\":" META ",\"content\":" CONTENT
		",\"buffers\":[],\"channel\":\"iopub\"}";
	wire_msg_t *m = msg_of(HDR, PARENT, META, CONTENT, NULL, 0);
	static const uint8_t zeros[4];
	bool is_binary = true;
	buf_t out;

	buf_init(&out, 0);
	assert_int_equal(ws_encode_legacy(m, KCH_IOPUB, 4, &out, &is_binary), 0);
	assert_false(is_binary);
	assert_int_equal(out.len, 4 + strlen(want));
	assert_memory_equal(out.data, zeros, 4);
	assert_memory_equal(out.data + 4, want, strlen(want));
	buf_free(&out);
	wire_msg_unref(&m);
}

static void test_legacy_encode_binary(void **state)
{
	(void)state;
	static const char json[] =
		"{\"header\":" HDR ",\"msg_id\":\"m1\",\"msg_type\":\"execute_request\","
		"\"parent_header\":" PARENT ",\"metadata\":" META ",\"content\":" CONTENT
		",\"channel\":\"shell\"}";
	wire_msg_t *m = msg_of(HDR, PARENT, META, CONTENT, three_bufs, 3);
	size_t len;
	uint8_t *want = legacy_layout(json, three_bufs, 3, &len);
	bool is_binary = false;
	buf_t out;

	buf_init(&out, 0);
	assert_int_equal(ws_encode_legacy(m, KCH_SHELL, 3, &out, &is_binary), 0);
	assert_true(is_binary);
	assert_int_equal(out.len, 3 + len);
	assert_memory_equal(out.data + 3, want, len);
	/* the first words, spelled out: 4 parts, the JSON right after the table */
	assert_memory_equal(out.data + 3, "\0\0\0\x04\0\0\0\x14", 8);
	buf_free(&out);
	free(want);
	wire_msg_unref(&m);
}

static void test_legacy_roundtrip(void **state)
{
	(void)state;
	static const kchannel_t chans[] = { KCH_SHELL, KCH_CONTROL, KCH_STDIN };

	for (size_t c = 0; c < sizeof chans / sizeof *chans; c++) {
		for (size_t nb = 0; nb <= 3; nb++) {
			wire_msg_t *m = msg_of(HDR, PARENT, META, CONTENT, three_bufs, nb);
			ws_decoded_t d;
			err_t err = { 0 };
			bool is_binary;
			buf_t out;

			buf_init(&out, 0);
			assert_int_equal(ws_encode_legacy(m, chans[c], 5, &out, &is_binary), 0);
			assert_int_equal(is_binary, nb > 0);
			assert_int_equal(decode_legacy_copy(out.data + 5, out.len - 5, is_binary, NULL,
							    &d, &err), 0);
			assert_true(d.has_channel);
			assert_int_equal(d.channel, chans[c]);
			assert_same_msg(d.msg, m);
			ws_decoded_clear(&d);
			buf_free(&out);
			wire_msg_unref(&m);
		}
	}
}

/* What @jupyterlab/services sends with the default protocol. */
static void test_legacy_decode_client(void **state)
{
	(void)state;
	ws_decoded_t d;
	err_t err = { 0 };
	size_t len;
	uint8_t *f;

	/* no channel: Jupyter Server takes it as shell; parent_header null and
	 * metadata absent become {} */
	static const char text[] = "{\"header\":" HDR ",\"parent_header\":null,\"content\":{},"
				   "\"buffers\":[]}";
	assert_int_equal(decode_legacy_copy(text, strlen(text), false, NULL, &d, &err), 0);
	assert_int_equal(d.channel, KCH_SHELL);
	assert_bytes(&d.msg->header, HDR, strlen(HDR));
	assert_bytes(&d.msg->parent_header, "{}", 2);
	assert_bytes(&d.msg->metadata, "{}", 2);
	assert_bytes(&d.msg->content, "{}", 2);
	assert_int_equal(d.msg->n_buffers, 0);
	ws_decoded_clear(&d);

	/* serializeBinary: the JSON without "buffers", then the buffers */
	static const char json[] = "{\"header\":" HDR ",\"parent_header\":{},\"metadata\":{},"
				   "\"content\":{\"comm_id\":\"c\"},\"channel\":\"control\"}";
	f = legacy_layout(json, three_bufs, 3, &len);
	assert_int_equal(decode_legacy_copy(f, len, true, NULL, &d, &err), 0);
	assert_int_equal(d.channel, KCH_CONTROL);
	assert_bytes(&d.msg->content, "{\"comm_id\":\"c\"}", 15);
	assert_int_equal(d.msg->n_buffers, 3);
	assert_bytes(&d.msg->buffers[0], "abc", 3);
	assert_bytes(&d.msg->buffers[1], "", 0);
	assert_bytes(&d.msg->buffers[2], bin_buf, sizeof bin_buf);
	ws_decoded_clear(&d);
	free(f);

	/* a binary frame with no buffers at all is still a message */
	f = legacy_layout(json, NULL, 0, &len);
	assert_int_equal(decode_legacy_copy(f, len, true, NULL, &d, &err), 0);
	assert_int_equal(d.msg->n_buffers, 0);
	ws_decoded_clear(&d);
	free(f);
}

/* Decodes expecting failure with `want` in the message; returns the kept
 * header (caller frees) or NULL. */
static char *legacy_fails(const void *f, size_t len, bool is_binary, const wire_limits_t *lim,
			  const char *want)
{
	ws_decoded_t d;
	err_t err = { 0 };
	char *hdr;
	int rc = decode_legacy_copy(f, len, is_binary, lim, &d, &err);

	if (rc == 0)
		fail_msg("decoded although it should not (expected \"%s\")", want);
	assert_null(d.msg);
	if (!strstr(err.msg, want))
		fail_msg("error \"%s\" does not mention \"%s\"", err.msg, want);
	hdr = d.header_json;
	d.header_json = NULL;
	ws_decoded_clear(&d);
	return hdr;
}

static char *text_fails(const char *text, const char *want)
{
	return legacy_fails(text, strlen(text), false, NULL, want);
}

static void test_legacy_malformed_json(void **state)
{
	(void)state;
	char *hdr;

	assert_null(text_fails("", "not JSON"));
	assert_null(text_fails("hello", "not JSON"));
	assert_null(text_fails("{\"header\":", "not JSON"));
	assert_null(text_fails("[{\"header\":{}}]", "must be a JSON object"));
	assert_null(text_fails("{\"content\":{},\"channel\":\"shell\"}", "the message has no header"));
	assert_null(text_fails("{\"header\":null,\"content\":{}}", "the message has no header"));
	assert_null(text_fails("{\"header\":[1],\"content\":{}}", "header must be an object"));

	/* the header was readable: it is kept, re-serialised compactly */
	hdr = text_fails("{\"header\": " HDR ", \"channel\":\"shell\"}", "the message has no content");
	assert_non_null(hdr);
	assert_string_equal(hdr, HDR);
	free(hdr);
	hdr = text_fails("{\"header\":" HDR ",\"content\":{},\"channel\":\"foo\"}", "unknown channel \"foo\"");
	assert_non_null(hdr);
	assert_string_equal(hdr, HDR);
	free(hdr);
	hdr = text_fails("{\"header\":" HDR ",\"content\":{},\"channel\":7}", "channel must be a string");
	assert_non_null(hdr);
	free(hdr);
	hdr = text_fails("{\"header\":{\"msg_id\":\"x\"},\"content\":{}}", "msg_type");
	assert_non_null(hdr);
	assert_string_equal(hdr, "{\"msg_id\":\"x\"}");
	free(hdr);
	hdr = text_fails("{\"header\":" HDR ",\"content\":\"x\"}", "content must be an object");
	assert_non_null(hdr);
	free(hdr);
	hdr = text_fails("{\"header\":" HDR ",\"content\":{},\"metadata\":[]}", "metadata must be an object");
	assert_non_null(hdr);
	free(hdr);
}

static void test_legacy_malformed_binary(void **state)
{
	(void)state;
	static const char json[] = "{\"header\":" HDR ",\"content\":{},\"channel\":\"shell\"}";
	wire_limits_t lim = wire_default_limits;
	size_t len, last_start;
	uint8_t *good = legacy_layout(json, three_bufs, 3, &len), *f = dup_bytes(good, len);

	assert_null(legacy_fails(good, 0, true, NULL, "too short"));
	assert_null(legacy_fails(good, 7, true, NULL, "too short"));
	/* the last buffer has no end offset, so only cuts before it are detectable */
	last_start = len - sizeof bin_buf;
	for (size_t cut = 8; cut < last_start; cut++)
		free(legacy_fails(good, cut, true, NULL, "binary message"));

	/* part counts: none, more than 64 buffers, huge */
	static const uint32_t bad_counts[] = { 0, 66, UINT32_MAX };
	for (size_t i = 0; i < sizeof bad_counts / sizeof *bad_counts; i++) {
		memcpy(f, good, len);
		put_u32be(f, bad_counts[i]);
		assert_null(legacy_fails(f, len, true, NULL, "bad part count"));
	}
	/* a table (count and two offsets) larger than the 8-byte frame */
	assert_null(legacy_fails("\0\0\0\x02\0\0\0\x08", 8, true, NULL, "bad part count"));
	lim.max_buffers = 2;
	assert_null(legacy_fails(good, len, true, &lim, "bad part count"));
	/* a limit above 64 buffers does not lift the codec's own cap of 64:
	 * 65 buffers, each one byte, after the JSON */
	{
		wire_slice_t many[65];
		size_t mlen;
		uint8_t *mf;

		for (size_t i = 0; i < 65; i++)
			many[i] = (wire_slice_t){ "b", 1 };
		mf = legacy_layout(json, many, 65, &mlen);
		lim.max_buffers = 1000;
		assert_null(legacy_fails(mf, mlen, true, &lim, "bad part count"));
		/* 64 is fine */
		put_u32be(mf, 65);
		{
			ws_decoded_t d;
			err_t err = { 0 };

			assert_int_equal(decode_legacy_copy(mf, mlen, true, &lim, &d, &err), 0);
			assert_int_equal(d.msg->n_buffers, 64);
			ws_decoded_clear(&d);
		}
		free(mf);
	}

	/* offsets: into the table, out of order, past the end */
	memcpy(f, good, len);
	put_u32be(f + 4, 4);
	assert_null(legacy_fails(f, len, true, NULL, "bad offsets"));
	memcpy(f, good, len);
	put_u32be(f + 8, 20 + 3); /* buffer 0 starting inside the JSON... */
	put_u32be(f + 12, 20 + 1); /* ...and buffer 1 before it */
	assert_null(legacy_fails(f, len, true, NULL, "bad offsets"));
	memcpy(f, good, len);
	put_u32be(f + 16, (uint32_t)len + 1);
	assert_null(legacy_fails(f, len, true, NULL, "bad offsets"));

	/* over the limits */
	lim = wire_default_limits;
	lim.max_part = 4;
	free(legacy_fails(good, len, true, &lim, "larger than"));
	lim = wire_default_limits;
	lim.max_total = strlen(HDR) + 2 + 2 + 2 + 3 + sizeof bin_buf - 1;
	free(legacy_fails(good, len, true, &lim, "larger than"));
	lim.max_total++;
	{
		ws_decoded_t d;
		err_t err = { 0 };

		assert_int_equal(decode_legacy_copy(good, len, true, &lim, &d, &err), 0);
		ws_decoded_clear(&d);
	}
	free(f);
	free(good);
}

/* --- iopub and the header kept for the reply (known bugs) ---------------- */

/*
 * BUG (server/ws_codec.c, set_channel): the codec refuses "iopub" as an
 * unknown channel, so the server's own check (server/ws_channels.c,
 * handle_message: `d.channel == KCH_IOPUB` -> "InvalidChannel", "clients
 * cannot send on the iopub channel") is dead code, and the client is told
 * `unknown channel "iopub"` instead. The channel is known; sending on it is
 * what is not allowed.
 */
static void test_iopub_is_decodable(void **state)
{
	(void)state;
	const char *parts[4] = { HDR, "{}", "{}", "{}" };
	static const char text[] = "{\"header\":" HDR ",\"content\":{},\"channel\":\"iopub\"}";
	ws_decoded_t d;
	err_t err = { 0 };
	size_t len;
	uint8_t *f;

	f = v1_layout("iopub", parts, NULL, 0, &len);
	assert_int_equal(decode_v1_copy(f, len, NULL, &d, &err), 0);
	assert_true(d.has_channel);
	assert_int_equal(d.channel, KCH_IOPUB);
	ws_decoded_clear(&d);
	free(f);
	assert_int_equal(decode_legacy_copy(text, strlen(text), false, NULL, &d, &err), 0);
	assert_int_equal(d.channel, KCH_IOPUB);
	ws_decoded_clear(&d);
}

/*
 * BUG (server/ws_codec.c, ws_decode_v1): when the channel is refused, the
 * decoder returns before it copies the header, so a v1 client that sends
 * a request on an unknown channel (or iopub) gets no `*_reply` with status
 * "error" -- docs/protocol.md promises one whenever the header could be
 * read, and the legacy decoder does keep it (test_legacy_malformed_json).
 */
static void test_v1_bad_channel_keeps_header(void **state)
{
	(void)state;
	const char *parts[4] = { HDR, "{}", "{}", "{}" };
	size_t len;
	uint8_t *f;
	char *hdr;

	f = v1_layout("foo", parts, NULL, 0, &len);
	hdr = v1_fails(f, len, NULL, "unknown channel");
	free(f);
	assert_non_null(hdr);
	assert_string_equal(hdr, HDR);
	free(hdr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_pinned_literal),
		cmocka_unit_test(test_v1_encode_layout),
		cmocka_unit_test(test_v1_roundtrip),
		cmocka_unit_test(test_v1_decode_client_frame),
		cmocka_unit_test(test_v1_malformed_framing),
		cmocka_unit_test(test_v1_malformed_content),
		cmocka_unit_test(test_legacy_encode_text),
		cmocka_unit_test(test_legacy_encode_binary),
		cmocka_unit_test(test_legacy_roundtrip),
		cmocka_unit_test(test_legacy_decode_client),
		cmocka_unit_test(test_legacy_malformed_json),
		cmocka_unit_test(test_legacy_malformed_binary),
		cmocka_unit_test(test_iopub_is_decodable),
		cmocka_unit_test(test_v1_bad_channel_keeps_header),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
