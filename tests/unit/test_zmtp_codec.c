/*
 * Unit tests for kernels/zmtp_codec.c: the greeting, READY both ways
 * (including bytes captured from libzmq 4.3.4), frame headers, the
 * incremental decoder fed at every split point, limits, and malformed input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/zmtp_codec.h"

/*
 * What a libzmq 4.3.4 socket (pyzmq 24, Debian bookworm) sent to a raw
 * client that connected to it over ipc and sent a ZMTP 3.0 greeting and a
 * READY: its greeting (version 3.1; libzmq puts a ZMTP 1.0 identity length
 * in the padding) and its READY. Captured with a pyzmq ROUTER, PUB and REP.
 */
#define LIBZMQ_GREETING \
	"ff00000000000000017f03014e554c4c00000000000000000000000000000000" \
	"0000000000000000000000000000000000000000000000000000000000000000"
#define LIBZMQ_ROUTER_READY \
	"04290552454144590b536f636b65742d5479706500000006524f555445520849" \
	"64656e7469747900000000"
#define LIBZMQ_PUB_READY "04190552454144590b536f636b65742d5479706500000003505542"
#define LIBZMQ_REP_READY "04190552454144590b536f636b65742d5479706500000003524550"

/* A growing byte string, for streams and event logs. */
typedef struct bytes {
	uint8_t *p;
	size_t len;
} bytes_t;

static void put(bytes_t *b, const void *data, size_t len)
{
	b->p = realloc(b->p, b->len + len + 1);
	assert_non_null(b->p);
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
}

static void put_hex(bytes_t *b, const char *hex)
{
	for (size_t i = 0; hex[i] && hex[i + 1]; i += 2) {
		unsigned v;

		assert_int_equal(sscanf(hex + i, "%2x", &v), 1);
		put(b, &(uint8_t){ (uint8_t)v }, 1);
	}
}

static void put_size(bytes_t *b, size_t v)
{
	put(b, &v, sizeof v);
}

static void put_message(bytes_t *b, const wire_slice_t *f, size_t n)
{
	size_t len = zmtp_message_wire_size(f, n);
	uint8_t *tmp = malloc(len + 1);

	assert_int_equal(zmtp_message_encode(tmp, f, n), len);
	put(b, tmp, len);
	free(tmp);
}

static void put_command(bytes_t *b, const char *name, const void *data, size_t len)
{
	uint8_t tmp[1024];
	int n = zmtp_command_encode(tmp, sizeof tmp, name, data, len);

	assert_true(n > 0);
	put(b, tmp, (size_t)n);
}

static void put_greeting(bytes_t *b)
{
	uint8_t g[ZMTP_GREETING_LEN];

	zmtp_greeting_encode(g);
	put(b, g, sizeof g);
}

/*
 * Feeds data to a decoder in pieces of at most step bytes (0: the split
 * points given) and logs every event as bytes: the event, then for a
 * command its body, for a message its frames. Returns the first error, or
 * 0; the log is what two ways of cutting the same stream must agree on.
 */
static int decode_all(zmtp_decoder_t *d, const uint8_t *data, size_t len, size_t step,
		      size_t split, bytes_t *log)
{
	size_t off = 0;

	while (off < len) {
		size_t end = step ? off + step : (off < split ? split : len);
		size_t used = 0;
		err_t err = { 0 };
		int ev;

		if (end > len)
			end = len;
		ev = zmtp_decoder_feed(d, data + off, end - off, &used, &err);
		assert_true(used <= end - off);
		off += used;
		if (ev < 0)
			return ev;
		assert_true(used > 0);
		if (ev != ZMTP_NEED_MORE)
			put(log, &(uint8_t){ (uint8_t)ev }, 1);
		if (ev == ZMTP_NEED_MORE)
			assert_int_equal(off, end); /* everything given was taken */
		if (ev == ZMTP_GREETING)
			put_size(log, d->peer_minor);
		if (ev == ZMTP_COMMAND) {
			wire_slice_t c = zmtp_decoder_command(d);

			put_size(log, c.len);
			put(log, c.data, c.len);
		}
		if (ev == ZMTP_MESSAGE) {
			wire_slice_t f[ZMTP_MAX_FRAMES];
			size_t n = zmtp_decoder_frames(d, f);

			put_size(log, n);
			for (size_t i = 0; i < n; i++) {
				assert_non_null(f[i].data);
				put_size(log, f[i].len);
				put(log, f[i].data, f[i].len);
			}
		}
	}
	return 0;
}

static void test_greeting(void **state)
{
	uint8_t g[ZMTP_GREETING_LEN], want[ZMTP_GREETING_LEN] = { 0xFF };
	bytes_t lz = { 0 };
	unsigned minor = 99;
	err_t err = { 0 };

	(void)state;
	zmtp_greeting_encode(g);
	want[9] = 0x7F;
	want[10] = 3;
	memcpy(want + 12, "NULL", 4);
	assert_memory_equal(g, want, sizeof g);
	assert_int_equal(zmtp_greeting_parse(g, &minor, &err), 0);
	assert_int_equal(minor, 0);

	put_hex(&lz, LIBZMQ_GREETING);
	assert_int_equal(lz.len, ZMTP_GREETING_LEN);
	assert_int_equal(zmtp_greeting_parse(lz.p, &minor, &err), 0);
	assert_int_equal(minor, 1);

	memcpy(g, lz.p, sizeof g);
	g[10] = 4; /* a later major version is accepted, as 3.1 or above */
	assert_int_equal(zmtp_greeting_parse(g, &minor, &err), 0);
	assert_int_equal(minor, 255);
	g[10] = 2;
	assert_int_equal(zmtp_greeting_parse(g, &minor, &err), CG_EINVAL);
	memcpy(g, lz.p, sizeof g);
	g[9] = 0x7E;
	assert_int_equal(zmtp_greeting_parse(g, &minor, &err), CG_EINVAL);
	memcpy(g, lz.p, sizeof g);
	memcpy(g + 12, "CURVE", 5);
	assert_int_equal(zmtp_greeting_parse(g, &minor, &err), CG_EINVAL);
	assert_non_null(strstr(err.msg, "NULL"));
	memcpy(g, lz.p, sizeof g);
	g[16] = 'X'; /* "NULLX": not NULL either */
	assert_int_equal(zmtp_greeting_parse(g, &minor, &err), CG_EINVAL);
	free(lz.p);
}

static void test_frame_headers(void **state)
{
	uint8_t h[ZMTP_HEADER_MAX];
	static const uint8_t long_hdr[] = { 0x03, 0, 0, 0, 0, 0, 0, 0x01, 0x00 };

	(void)state;
	assert_int_equal(zmtp_frame_header(h, 0, 0), 2);
	assert_int_equal(h[0], 0x00);
	assert_int_equal(h[1], 0);
	assert_int_equal(zmtp_frame_header(h, 255, ZMTP_FLAG_MORE), 2);
	assert_int_equal(h[0], 0x01);
	assert_int_equal(h[1], 255);
	assert_int_equal(zmtp_frame_header(h, 256, ZMTP_FLAG_MORE), 9);
	assert_memory_equal(h, long_hdr, sizeof long_hdr);
	assert_int_equal(zmtp_frame_header(h, 5, ZMTP_FLAG_COMMAND), 2);
	assert_int_equal(h[0], 0x04);
	assert_int_equal(zmtp_frame_header(h, 1000, ZMTP_FLAG_COMMAND), 9);
	assert_int_equal(h[0], 0x06);
	/* LONG is the codec's choice, never the caller's */
	assert_int_equal(zmtp_frame_header(h, 1, ZMTP_FLAG_LONG), 2);
	assert_int_equal(h[0], 0x00);
}

static void test_ready_roundtrip(void **state)
{
	uint8_t buf[1024];
	zmtp_decoder_t d;
	zmtp_command_t cmd;
	zmtp_ready_t r;
	err_t err = { 0 };
	bytes_t s = { 0 };
	size_t used;
	int n;

	(void)state;
	n = zmtp_ready_encode(buf, sizeof buf, "DEALER", "session-1", 9);
	assert_true(n > 0);
	assert_int_equal(buf[0], ZMTP_FLAG_COMMAND);
	put_greeting(&s);
	put(&s, buf, (size_t)n);
	zmtp_decoder_init(&d, NULL);
	assert_int_equal(zmtp_decoder_feed(&d, s.p, s.len, &used, &err), ZMTP_GREETING);
	assert_int_equal(zmtp_decoder_feed(&d, s.p + used, s.len - used, &used, &err),
			 ZMTP_COMMAND);
	wire_slice_t body = zmtp_decoder_command(&d);
	assert_int_equal(zmtp_command_parse(body.data, body.len, &cmd, &err), 0);
	assert_true(zmtp_command_is(&cmd, "READY"));
	assert_false(zmtp_command_is(&cmd, "READ"));
	assert_int_equal(zmtp_ready_parse(cmd.data.data, cmd.data.len, &r, &err), 0);
	assert_int_equal(r.socket_type.len, 6);
	assert_memory_equal(r.socket_type.data, "DEALER", 6);
	assert_int_equal(r.identity.len, 9);
	assert_memory_equal(r.identity.data, "session-1", 9);
	zmtp_decoder_reset(&d);

	/* no identity: the property is left out */
	n = zmtp_ready_encode(buf, sizeof buf, "SUB", NULL, 0);
	assert_int_equal(zmtp_command_parse(buf + 2, (size_t)n - 2, &cmd, &err), 0);
	assert_int_equal(zmtp_ready_parse(cmd.data.data, cmd.data.len, &r, &err), 0);
	assert_memory_equal(r.socket_type.data, "SUB", 3);
	assert_null(r.identity.data);

	/* a 255-byte identity makes a long command frame */
	memset(buf + 512, 'i', 255);
	n = zmtp_ready_encode(buf, 512, "REQ", buf + 512, 255);
	assert_int_equal(buf[0], ZMTP_FLAG_COMMAND | ZMTP_FLAG_LONG);
	assert_int_equal(zmtp_command_parse(buf + 9, (size_t)n - 9, &cmd, &err), 0);
	assert_int_equal(zmtp_ready_parse(cmd.data.data, cmd.data.len, &r, &err), 0);
	assert_int_equal(r.identity.len, 255);
	assert_int_equal(zmtp_ready_encode(buf, 512, "REQ", buf + 512, 256), CG_EINVAL);
	assert_int_equal(zmtp_ready_encode(buf, 20, "REQ", NULL, 0), CG_ETOOBIG);
	free(s.p);
}

static void check_libzmq_ready(const char *ready_hex, const char *type, bool has_identity)
{
	bytes_t s = { 0 }, log = { 0 };
	zmtp_decoder_t d;
	zmtp_command_t cmd;
	zmtp_ready_t r;
	err_t err = { 0 };
	size_t used, off = 0;
	int ev;

	put_hex(&s, LIBZMQ_GREETING);
	put_hex(&s, ready_hex);
	zmtp_decoder_init(&d, NULL);
	ev = zmtp_decoder_feed(&d, s.p, s.len, &used, &err);
	assert_int_equal(ev, ZMTP_GREETING);
	assert_int_equal(d.peer_minor, 1);
	off += used;
	ev = zmtp_decoder_feed(&d, s.p + off, s.len - off, &used, &err);
	assert_int_equal(ev, ZMTP_COMMAND);
	assert_int_equal(off + used, s.len);
	wire_slice_t body = zmtp_decoder_command(&d);
	assert_int_equal(zmtp_command_parse(body.data, body.len, &cmd, &err), 0);
	assert_true(zmtp_command_is(&cmd, "READY"));
	assert_int_equal(zmtp_ready_parse(cmd.data.data, cmd.data.len, &r, &err), 0);
	assert_int_equal(r.socket_type.len, strlen(type));
	assert_memory_equal(r.socket_type.data, type, strlen(type));
	if (has_identity) {
		assert_non_null(r.identity.data);
		assert_int_equal(r.identity.len, 0); /* libzmq sends an empty one */
	} else {
		assert_null(r.identity.data);
	}
	zmtp_decoder_reset(&d);
	/* and the same bytes one at a time */
	zmtp_decoder_init(&d, NULL);
	assert_int_equal(decode_all(&d, s.p, s.len, 1, 0, &log), 0);
	assert_int_equal(log.p[0], ZMTP_GREETING);
	assert_int_equal(log.p[1 + sizeof(size_t)], ZMTP_COMMAND);
	zmtp_decoder_reset(&d);
	free(log.p);
	free(s.p);
}

static void test_libzmq_ready(void **state)
{
	wire_slice_t t;

	(void)state;
	check_libzmq_ready(LIBZMQ_ROUTER_READY, "ROUTER", true);
	check_libzmq_ready(LIBZMQ_PUB_READY, "PUB", false);
	check_libzmq_ready(LIBZMQ_REP_READY, "REP", false);

	t = (wire_slice_t){ "ROUTER", 6 };
	assert_true(zmtp_peer_type_ok("DEALER", &t));
	assert_true(zmtp_peer_type_ok("REQ", &t));
	assert_false(zmtp_peer_type_ok("SUB", &t));
	t = (wire_slice_t){ "PUB", 3 };
	assert_true(zmtp_peer_type_ok("SUB", &t));
	assert_false(zmtp_peer_type_ok("DEALER", &t));
	assert_false(zmtp_peer_type_ok("REQ", &t));
	t = (wire_slice_t){ "XPUB", 4 };
	assert_true(zmtp_peer_type_ok("SUB", &t));
	t = (wire_slice_t){ "REP", 3 };
	assert_true(zmtp_peer_type_ok("REQ", &t));
	t = (wire_slice_t){ "REPX", 3 }; /* a prefix is compared by its length */
	assert_true(zmtp_peer_type_ok("REQ", &t));
	t = (wire_slice_t){ "REPX", 4 };
	assert_false(zmtp_peer_type_ok("REQ", &t));
	t = (wire_slice_t){ "rep", 3 }; /* socket types are upper case */
	assert_false(zmtp_peer_type_ok("REQ", &t));
	t = (wire_slice_t){ NULL, 0 }; /* no Socket-Type at all */
	assert_false(zmtp_peer_type_ok("REQ", &t));
	t = (wire_slice_t){ "PUB", 3 };
	assert_false(zmtp_peer_type_ok("ROUTER", &t));
}

/* A stream exercising every framing case: greeting, READY, a multipart
 * message with empty, short, 255-, 256-byte and long frames, a command
 * between messages, a one-frame message, an empty one-frame message. */
static void build_stream(bytes_t *s, uint8_t *big, size_t big_len)
{
	uint8_t ready[512];
	int n = zmtp_ready_encode(ready, sizeof ready, "ROUTER", "", 0);
	static uint8_t b255[255], b256[256];
	wire_slice_t m1[6], m2[1] = { { "x", 1 } }, m3[1] = { { "", 0 } };

	memset(b255, 'a', sizeof b255);
	memset(b256, 'b', sizeof b256);
	for (size_t i = 0; i < big_len; i++)
		big[i] = (uint8_t)(i * 7 + 3);
	m1[0] = (wire_slice_t){ "", 0 };
	m1[1] = (wire_slice_t){ "<IDS|MSG>", 9 };
	m1[2] = (wire_slice_t){ b255, sizeof b255 };
	m1[3] = (wire_slice_t){ b256, sizeof b256 };
	m1[4] = (wire_slice_t){ big, big_len };
	m1[5] = (wire_slice_t){ "end", 3 };
	put_greeting(s);
	put(s, ready, (size_t)n);
	put_message(s, m1, 6);
	put_command(s, "PING", "\0\0ctx", 5);
	put_message(s, m2, 1);
	put_message(s, m3, 1);
}

static void test_split_everywhere(void **state)
{
	enum { BIG = 1000 };
	uint8_t *big = malloc(BIG);
	bytes_t s = { 0 }, ref = { 0 };
	zmtp_decoder_t d;

	(void)state;
	build_stream(&s, big, BIG);
	zmtp_decoder_init(&d, NULL);
	assert_int_equal(decode_all(&d, s.p, s.len, 0, s.len, &ref), 0);
	/* greeting, command, message, command, message, message */
	assert_int_equal(ref.p[0], ZMTP_GREETING);

	for (size_t k = 0; k <= s.len; k++) {
		bytes_t log = { 0 };

		zmtp_decoder_reset(&d);
		assert_int_equal(decode_all(&d, s.p, s.len, 0, k, &log), 0);
		assert_int_equal(log.len, ref.len);
		assert_memory_equal(log.p, ref.p, ref.len);
		free(log.p);
	}
	for (size_t step = 1; step <= 17; step++) {
		bytes_t log = { 0 };

		zmtp_decoder_reset(&d);
		assert_int_equal(decode_all(&d, s.p, s.len, step, 0, &log), 0);
		assert_int_equal(log.len, ref.len);
		assert_memory_equal(log.p, ref.p, ref.len);
		free(log.p);
	}
	/* the first message, checked against what was encoded */
	{
		size_t used, off = 0;
		err_t err = { 0 };
		wire_slice_t f[ZMTP_MAX_FRAMES];
		int ev;

		zmtp_decoder_reset(&d);
		do {
			ev = zmtp_decoder_feed(&d, s.p + off, s.len - off, &used, &err);
			off += used;
		} while (ev != ZMTP_MESSAGE);
		assert_int_equal(zmtp_decoder_frames(&d, f), 6);
		assert_int_equal(f[0].len, 0);
		assert_memory_equal(f[1].data, "<IDS|MSG>", 9);
		assert_int_equal(f[2].len, 255);
		assert_int_equal(f[3].len, 256);
		assert_int_equal(f[4].len, BIG);
		assert_memory_equal(f[4].data, big, BIG);
		assert_memory_equal(f[5].data, "end", 3);
	}
	zmtp_decoder_reset(&d);
	free(ref.p);
	free(s.p);
	free(big);
}

static void test_long_frames(void **state)
{
	size_t big_len = 3u << 20;
	uint8_t *big = malloc(big_len);
	bytes_t s = { 0 }, log = { 0 };
	zmtp_decoder_t d;
	wire_slice_t f[2];
	size_t off = 0, used;
	err_t err = { 0 };
	int ev;

	(void)state;
	for (size_t i = 0; i < big_len; i++)
		big[i] = (uint8_t)(i >> 3);
	put_greeting(&s);
	f[0] = (wire_slice_t){ big, big_len };
	f[1] = (wire_slice_t){ big + 1, 70000 };
	put_message(&s, f, 2);
	assert_int_equal(s.len, 64 + 9 + big_len + 9 + 70000);
	zmtp_decoder_init(&d, NULL);
	/* in 64 KiB reads, as zsock does */
	while (off < s.len) {
		size_t end = off + 65536 < s.len ? off + 65536 : s.len;

		ev = zmtp_decoder_feed(&d, s.p + off, end - off, &used, &err);
		assert_true(ev >= 0);
		off += used;
		if (ev == ZMTP_MESSAGE)
			break;
	}
	assert_int_equal(off, s.len);
	assert_int_equal(zmtp_decoder_frames(&d, f), 2);
	assert_int_equal(f[0].len, big_len);
	assert_memory_equal(f[0].data, big, big_len);
	assert_int_equal(f[1].len, 70000);
	assert_memory_equal(f[1].data, big + 1, 70000);
	/* the big buffer is given back after the message */
	assert_int_equal(zmtp_decoder_feed(&d, "", 0, &used, &err), ZMTP_NEED_MORE);
	assert_null(d.buf);
	zmtp_decoder_reset(&d);
	free(log.p);
	free(s.p);
	free(big);
}

/* Feeds greeting + extra and returns the first error (or last event). */
static int feed_after_greeting(const void *extra, size_t len, err_t *err)
{
	bytes_t s = { 0 };
	zmtp_decoder_t d;
	size_t off = 0, used;
	int ev = 0;

	put_greeting(&s);
	put(&s, extra, len);
	zmtp_decoder_init(&d, NULL);
	while (off < s.len) {
		ev = zmtp_decoder_feed(&d, s.p + off, s.len - off, &used, err);
		off += used;
		if (ev < 0)
			break;
	}
	zmtp_decoder_reset(&d);
	free(s.p);
	return ev;
}

static void test_malformed(void **state)
{
	err_t err = { 0 };
	zmtp_decoder_t d;
	size_t used;
	uint8_t g[ZMTP_GREETING_LEN];
	zmtp_command_t cmd;
	zmtp_ready_t r;
	wire_slice_t reason;

	(void)state;
	/* reserved flag bits */
	assert_int_equal(feed_after_greeting("\x08\x00", 2, &err), CG_EINVAL);
	assert_non_null(strstr(err.msg, "reserved"));
	/* a command with MORE */
	assert_int_equal(feed_after_greeting("\x05\x01\x00", 3, &err), CG_EINVAL);
	/* a command between two frames of a message */
	assert_int_equal(feed_after_greeting("\x01\x01x\x04\x01\x00", 6, &err), CG_EINVAL);
	assert_non_null(strstr(err.msg, "inside"));
	/* a long size with the top bit set */
	assert_int_equal(feed_after_greeting("\x02\x80\0\0\0\0\0\0\0", 9, &err), CG_EINVAL);
	/* an oversized command */
	assert_int_equal(feed_after_greeting("\x06\0\0\0\0\0\x10\0\0", 9, &err), CG_EINVAL);

	/* an HTTP client, or ZMTP 2: rejected at the first octets that show it,
	 * not after 64 that never come */
	zmtp_decoder_init(&d, NULL);
	assert_int_equal(zmtp_decoder_feed(&d, "G", 1, &used, &err), CG_EINVAL);
	zmtp_decoder_reset(&d);
	memset(g, 0, sizeof g);
	g[0] = 0xFF;
	g[9] = 0x7F;
	g[10] = 1; /* ZMTP 2.0 sends 0xFF pad 0x7F 0x01, then waits */
	assert_int_equal(zmtp_decoder_feed(&d, g, 11, &used, &err), CG_EINVAL);
	zmtp_decoder_reset(&d);
	g[10] = 3;
	assert_int_equal(zmtp_decoder_feed(&d, g, 12, &used, &err), ZMTP_NEED_MORE);
	assert_int_equal(used, 12);
	/* the mechanism must be NULL */
	memcpy(g + 12, "PLAIN", 5);
	assert_int_equal(zmtp_decoder_feed(&d, g + 12, sizeof g - 12, &used, &err), CG_EINVAL);
	zmtp_decoder_reset(&d);

	/* commands: name length 0, past the end, or not letters */
	assert_int_equal(zmtp_command_parse("", 0, &cmd, &err), CG_EINVAL);
	assert_int_equal(zmtp_command_parse("\0", 1, &cmd, &err), CG_EINVAL);
	assert_int_equal(zmtp_command_parse("\x06READY", 6, &cmd, &err), CG_EINVAL);
	assert_int_equal(zmtp_command_parse("\x02R1", 3, &cmd, &err), CG_EINVAL);
	assert_int_equal(zmtp_command_parse("\x05READY", 6, &cmd, &err), 0);
	assert_int_equal(cmd.data.len, 0);

	/* READY properties: truncated name, value size past the end, empty
	 * name, bad name character; unknown names are skipped, case ignored */
	assert_int_equal(zmtp_ready_parse("\x0bSocket", 7, &r, &err), CG_EINVAL);
	assert_int_equal(zmtp_ready_parse("\x01X\0\0\0\x05" "abc", 9, &r, &err), CG_EINVAL);
	assert_int_equal(zmtp_ready_parse("\x01X\0\0", 4, &r, &err), CG_EINVAL);
	assert_int_equal(zmtp_ready_parse("\x00\0\0\0\0", 5, &r, &err), CG_EINVAL);
	assert_int_equal(zmtp_ready_parse("\x01 \0\0\0\0", 6, &r, &err), CG_EINVAL);
	assert_int_equal(zmtp_ready_parse("\x01X\x80\0\0\0", 6, &r, &err), CG_EINVAL);
	assert_int_equal(zmtp_ready_parse("\x05X-Foo\0\0\0\x01z\x0bsocket-TYPE\0\0\0\x03PUB",
					  10 + 1 + 12 + 4 + 3, &r, &err), 0);
	assert_int_equal(r.socket_type.len, 3);
	assert_memory_equal(r.socket_type.data, "PUB", 3);
	assert_int_equal(zmtp_ready_parse("", 0, &r, &err), 0);
	assert_null(r.socket_type.data);

	/* ERROR */
	assert_int_equal(zmtp_error_parse("\x03" "bad", 4, &reason, &err), 0);
	assert_int_equal(reason.len, 3);
	assert_int_equal(zmtp_error_parse("\x09" "bad", 4, &reason, &err), CG_EINVAL);
	assert_int_equal(zmtp_error_parse("", 0, &reason, &err), CG_EINVAL);
}

/* Over a limit, a message is skipped whole and the stream stays in step. */
static void test_limits(void **state)
{
	zmtp_limits_t lim = { .max_frames = 4, .max_frame = 100, .max_msg = 150 };
	bytes_t s = { 0 }, log = { 0 };
	uint8_t b[101];
	wire_slice_t f[5], ok = { "ok", 2 };
	zmtp_decoder_t d;
	size_t off = 0;
	int drops = 0, msgs = 0;

	(void)state;
	memset(b, 'z', sizeof b);
	put_greeting(&s);
	for (int i = 0; i < 5; i++)
		f[i] = (wire_slice_t){ b, 1 };
	put_message(&s, f, 5); /* 5 frames */
	put_message(&s, &ok, 1);
	f[0] = (wire_slice_t){ b, 101 };
	put_message(&s, f, 2); /* a 101-byte frame */
	put_message(&s, &ok, 1);
	f[0] = (wire_slice_t){ b, 100 };
	f[1] = (wire_slice_t){ b, 60 };
	put_message(&s, f, 2); /* 160 bytes */
	f[1] = (wire_slice_t){ b, 50 };
	put_message(&s, f, 2); /* exactly 150: fine */
	f[0] = (wire_slice_t){ b, 1 };
	put_message(&s, f, 4); /* exactly 4 frames: fine */

	zmtp_decoder_init(&d, &lim);
	assert_int_equal(decode_all(&d, s.p, s.len, 7, 0, &log), 0);
	zmtp_decoder_reset(&d);
	while (off < log.len) {
		uint8_t ev = log.p[off++];
		size_t n, len;

		if (ev == ZMTP_GREETING) {
			off += sizeof(size_t);
		} else if (ev == ZMTP_DROPPED) {
			drops++;
		} else {
			assert_int_equal(ev, ZMTP_MESSAGE);
			msgs++;
			memcpy(&n, log.p + off, sizeof n);
			off += sizeof n;
			for (size_t i = 0; i < n; i++) {
				memcpy(&len, log.p + off, sizeof len);
				off += sizeof len + len;
			}
		}
	}
	assert_int_equal(drops, 3);
	assert_int_equal(msgs, 4);

	/* and the reason is given */
	zmtp_decoder_init(&d, &lim);
	{
		bytes_t s2 = { 0 };
		size_t used, o = 0;
		err_t err = { 0 };
		int ev;

		put_greeting(&s2);
		f[0] = (wire_slice_t){ b, 101 };
		put_message(&s2, f, 1);
		do {
			ev = zmtp_decoder_feed(&d, s2.p + o, s2.len - o, &used, &err);
			o += used;
		} while (ev == ZMTP_GREETING || ev == ZMTP_NEED_MORE);
		assert_int_equal(ev, ZMTP_DROPPED);
		assert_non_null(strstr(d.why, "101 bytes"));
		free(s2.p);
	}
	zmtp_decoder_reset(&d);
	free(log.p);
	free(s.p);
}

static void test_encode_sizes(void **state)
{
	uint8_t b[300], out[700];
	wire_slice_t f[3] = { { "", 0 }, { b, 255 }, { b, 256 } };
	uint8_t cmd[16];

	(void)state;
	memset(b, 1, sizeof b);
	assert_int_equal(zmtp_message_wire_size(f, 3), 2 + 257 + 265);
	assert_int_equal(zmtp_message_encode(out, f, 3), 2 + 257 + 265);
	assert_int_equal(out[0], ZMTP_FLAG_MORE);
	assert_int_equal(out[2], ZMTP_FLAG_MORE);
	assert_int_equal(out[3], 255);
	assert_int_equal(out[2 + 257], ZMTP_FLAG_LONG); /* last: no MORE */
	assert_int_equal(zmtp_command_encode(cmd, sizeof cmd, "SUBSCRIBE", "", 0), 12);
	assert_memory_equal(cmd, "\x04\x0a\x09SUBSCRIBE", 12);
	assert_int_equal(zmtp_command_encode(cmd, 11, "SUBSCRIBE", "", 0), CG_ETOOBIG);
	assert_int_equal(zmtp_command_encode(cmd, sizeof cmd, "", "", 0), CG_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greeting),
		cmocka_unit_test(test_frame_headers),
		cmocka_unit_test(test_ready_roundtrip),
		cmocka_unit_test(test_libzmq_ready),
		cmocka_unit_test(test_split_everywhere),
		cmocka_unit_test(test_long_frames),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_encode_sizes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
