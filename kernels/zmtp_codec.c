/*
 * ZMTP 3.0 codec: see zmtp_codec.h. Written from RFC 23 (ZMTP 3.0) and
 * RFC 37 (ZMTP 3.1); comments quote the rules that are easy to miss.
 */
#include "zmtp_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { ST_GREETING, ST_FLAGS, ST_SIZE, ST_BODY };

/* A decoder keeps a big buffer no longer than the message that needed it. */
#define ZMTP_KEEP_BUF (256u << 10)

static void put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* --- encoding ------------------------------------------------------------ */

void zmtp_greeting_encode(uint8_t out[ZMTP_GREETING_LEN])
{
	/* signature: 0xFF, 8 octets of padding (zero: we never speak ZMTP 1.0),
	 * 0x7F; version 3.0; "NULL" zero-padded to 20; as-server 0; filler. */
	memset(out, 0, ZMTP_GREETING_LEN);
	out[0] = 0xFF;
	out[9] = 0x7F;
	out[10] = 3;
	out[11] = 0;
	memcpy(out + 12, "NULL", 4);
}

size_t zmtp_frame_header(uint8_t out[ZMTP_HEADER_MAX], uint64_t len, unsigned flags)
{
	flags &= ZMTP_FLAG_MORE | ZMTP_FLAG_COMMAND;
	if (len <= 255) {
		out[0] = (uint8_t)flags;
		out[1] = (uint8_t)len;
		return 2;
	}
	out[0] = (uint8_t)(flags | ZMTP_FLAG_LONG);
	put_be64(out + 1, len);
	return 9;
}

size_t zmtp_message_wire_size(const wire_slice_t *frames, size_t n)
{
	size_t total = 0;

	for (size_t i = 0; i < n; i++)
		total += (frames[i].len <= 255 ? 2 : 9) + frames[i].len;
	return total;
}

size_t zmtp_message_encode(uint8_t *out, const wire_slice_t *frames, size_t n)
{
	size_t off = 0;

	for (size_t i = 0; i < n; i++) {
		off += zmtp_frame_header(out + off, frames[i].len, i + 1 < n ? ZMTP_FLAG_MORE : 0);
		if (frames[i].len)
			memcpy(out + off, frames[i].data, frames[i].len);
		off += frames[i].len;
	}
	return off;
}

int zmtp_command_encode(uint8_t *out, size_t cap, const char *name, const void *data,
			size_t len)
{
	size_t name_len = strlen(name);
	size_t body = 1 + name_len + len;
	uint8_t hdr[ZMTP_HEADER_MAX];
	size_t h;

	if (name_len == 0 || name_len > 255 || body > ZMTP_MAX_COMMAND)
		return CG_EINVAL;
	h = zmtp_frame_header(hdr, body, ZMTP_FLAG_COMMAND);
	if (h + body > cap)
		return CG_ETOOBIG;
	memcpy(out, hdr, h);
	out[h] = (uint8_t)name_len;
	memcpy(out + h + 1, name, name_len);
	if (len)
		memcpy(out + h + 1 + name_len, data, len);
	return (int)(h + body);
}

/* Appends one property (name, 4-octet big-endian size, value) to p. */
static size_t put_property(uint8_t *p, const char *name, const void *value, size_t len)
{
	size_t n = strlen(name);

	p[0] = (uint8_t)n;
	memcpy(p + 1, name, n);
	put_be32(p + 1 + n, (uint32_t)len);
	if (len)
		memcpy(p + 5 + n, value, len);
	return 5 + n + len;
}

int zmtp_ready_encode(uint8_t *out, size_t cap, const char *socket_type, const void *identity,
		      size_t identity_len)
{
	uint8_t data[2 * (5 + 255) + 255];
	size_t len = 0, type_len = strlen(socket_type);

	if (type_len > 255 || identity_len > ZMTP_IDENTITY_MAX)
		return CG_EINVAL;
	len += put_property(data + len, "Socket-Type", socket_type, type_len);
	if (identity)
		len += put_property(data + len, "Identity", identity, identity_len);
	return zmtp_command_encode(out, cap, "READY", data, len);
}

/* --- parsing ------------------------------------------------------------- */

int zmtp_greeting_parse(const uint8_t in[ZMTP_GREETING_LEN], unsigned *minor, err_t *err)
{
	static const uint8_t null_mech[20] = { 'N', 'U', 'L', 'L' };

	/* The padding (octets 1-8) carries no meaning and must not be checked:
	 * libzmq puts a ZMTP 1.0 identity length there. */
	if (in[0] != 0xFF || in[9] != 0x7F)
		return err_set(err, CG_EINVAL, "the peer does not speak ZMTP 3 (bad signature)");
	if (in[10] < 3)
		return err_set(err, CG_EINVAL, "the peer speaks ZMTP %u, 3.0 or later is needed",
			       in[10]);
	if (memcmp(in + 12, null_mech, sizeof null_mech) != 0)
		return err_set(err, CG_EINVAL, "the peer wants a security mechanism other than NULL");
	/* "A peer MUST accept higher protocol versions as valid": a 4.x peer
	 * gets what a 3.1 peer gets. */
	*minor = in[10] > 3 ? 255u : in[11];
	return 0;
}

static bool is_alpha(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

int zmtp_command_parse(const void *body, size_t len, zmtp_command_t *out, err_t *err)
{
	const uint8_t *p = body;
	size_t n;

	if (len < 1 || p[0] == 0 || (size_t)p[0] > len - 1)
		return err_set(err, CG_EINVAL, "a command without a valid name");
	n = p[0];
	for (size_t i = 0; i < n; i++)
		if (!is_alpha(p[1 + i]))
			return err_set(err, CG_EINVAL, "a command name with a non-letter");
	out->name = (wire_slice_t){ p + 1, n };
	out->data = (wire_slice_t){ p + 1 + n, len - 1 - n };
	return 0;
}

bool zmtp_command_is(const zmtp_command_t *cmd, const char *name)
{
	size_t n = strlen(name);

	return cmd->name.len == n && memcmp(cmd->name.data, name, n) == 0;
}

static bool is_name_char(uint8_t c)
{
	return is_alpha(c) || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	       c == '+';
}

static bool name_is(const uint8_t *p, size_t n, const char *name)
{
	/* "The case (upper or lower) of names SHALL NOT be significant." */
	return strlen(name) == n && strncasecmp((const char *)p, name, n) == 0;
}

int zmtp_ready_parse(const void *data, size_t len, zmtp_ready_t *out, err_t *err)
{
	const uint8_t *p = data;
	size_t off = 0;

	memset(out, 0, sizeof *out);
	while (off < len) {
		size_t n = p[off], vlen;
		const uint8_t *name = p + off + 1;

		if (n == 0 || n > len - off - 1 || len - off - 1 - n < 4)
			return err_set(err, CG_EINVAL, "READY: a truncated property");
		for (size_t i = 0; i < n; i++)
			if (!is_name_char(name[i]))
				return err_set(err, CG_EINVAL, "READY: a property name with a bad character");
		off += 1 + n;
		vlen = get_be32(p + off);
		off += 4;
		if (vlen > INT32_MAX || vlen > len - off)
			return err_set(err, CG_EINVAL, "READY: a property value runs past the command");
		if (name_is(name, n, "Socket-Type"))
			out->socket_type = (wire_slice_t){ p + off, vlen };
		else if (name_is(name, n, "Identity"))
			out->identity = (wire_slice_t){ p + off, vlen };
		/* other properties (Resource, X-..., libzmq's user metadata) are
		 * not ours to interpret */
		off += vlen;
	}
	return 0;
}

int zmtp_error_parse(const void *data, size_t len, wire_slice_t *reason, err_t *err)
{
	const uint8_t *p = data;

	if (len < 1 || (size_t)p[0] > len - 1)
		return err_set(err, CG_EINVAL, "ERROR: a truncated reason");
	*reason = (wire_slice_t){ p + 1, p[0] };
	return 0;
}

bool zmtp_peer_type_ok(const char *ours, const wire_slice_t *peer)
{
	/* Rows of RFC 37's table for the socket types a client of ours uses. */
	static const struct {
		const char *ours;
		const char *peers[4];
	} table[] = {
		{ "DEALER", { "REP", "DEALER", "ROUTER", NULL } },
		{ "SUB", { "PUB", "XPUB", NULL } },
		{ "REQ", { "REP", "ROUTER", NULL } },
	};

	if (!peer->data)
		return false;
	for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
		if (strcmp(table[i].ours, ours) != 0)
			continue;
		for (size_t j = 0; table[i].peers[j]; j++) {
			const char *t = table[i].peers[j];

			if (strlen(t) == peer->len && memcmp(t, peer->data, peer->len) == 0)
				return true;
		}
	}
	return false;
}

/* --- the incremental decoder --------------------------------------------- */

void zmtp_decoder_init(zmtp_decoder_t *d, const zmtp_limits_t *limits)
{
	memset(d, 0, sizeof *d);
	if (limits) {
		d->limits = *limits;
	} else {
		d->limits.max_frames = ZMTP_MAX_FRAMES;
		d->limits.max_frame = wire_default_limits.max_part;
		d->limits.max_msg = wire_default_limits.max_total;
	}
	if (d->limits.max_frames > ZMTP_MAX_FRAMES || d->limits.max_frames == 0)
		d->limits.max_frames = ZMTP_MAX_FRAMES;
	d->state = ST_GREETING;
}

void zmtp_decoder_reset(zmtp_decoder_t *d)
{
	zmtp_limits_t limits = d->limits;

	free(d->buf);
	zmtp_decoder_init(d, &limits);
}

/* Forgets the message or command handed out by the previous call. */
static void clear_event(zmtp_decoder_t *d)
{
	d->has_event = false;
	d->len = 0;
	d->n_frames = 0;
	if (d->cap > ZMTP_KEEP_BUF) {
		free(d->buf);
		d->buf = NULL;
		d->cap = 0;
	}
}

static bool reserve(zmtp_decoder_t *d, size_t need)
{
	size_t cap = d->cap ? d->cap : 4096;
	uint8_t *p;

	if (need <= d->cap)
		return true;
	while (cap < need && cap < (SIZE_MAX >> 1))
		cap <<= 1;
	if (cap < need)
		cap = need;
	p = realloc(d->buf, cap);
	if (!p)
		return false;
	d->buf = p;
	d->cap = cap;
	return true;
}

static void start_dropping(zmtp_decoder_t *d, const char *why)
{
	d->is_dropping = true;
	d->len = 0;
	d->n_frames = 0;
	snprintf(d->why, sizeof d->why, "%s", why);
}

/* The size field is complete: decide where the body goes. */
static int frame_start(zmtp_decoder_t *d, uint64_t size, err_t *err)
{
	const zmtp_limits_t *l = &d->limits;
	char why[128];

	d->want = size;
	if (d->flags & ZMTP_FLAG_COMMAND) {
		if (size > ZMTP_MAX_COMMAND)
			return err_set(err, CG_EINVAL, "a command of %llu bytes", (unsigned long long)size);
		if (!reserve(d, (size_t)size))
			return err_set(err, CG_ESYS, "out of memory");
		return 0;
	}
	if (d->is_dropping)
		return 0;
	/* Over a limit: skip the message whole and stay in step with the
	 * stream, as libzmq's maximum message size would not. */
	if (d->n_frames >= l->max_frames) {
		snprintf(why, sizeof why, "a message of more than %zu frames", l->max_frames);
		start_dropping(d, why);
	} else if (size > l->max_frame) {
		snprintf(why, sizeof why, "a frame of %llu bytes (at most %zu)",
			 (unsigned long long)size, l->max_frame);
		start_dropping(d, why);
	} else if (size > l->max_msg - d->len) {
		snprintf(why, sizeof why, "a message of more than %zu bytes", l->max_msg);
		start_dropping(d, why);
	} else if (!reserve(d, d->len + (size_t)size)) {
		start_dropping(d, "a message larger than the memory left");
	} else {
		d->frame_len[d->n_frames] = (size_t)size;
	}
	return 0;
}

/* The body is complete: returns the event it finishes, if any. */
static int frame_end(zmtp_decoder_t *d)
{
	d->state = ST_FLAGS;
	if (d->flags & ZMTP_FLAG_COMMAND) {
		d->has_event = true;
		return ZMTP_COMMAND;
	}
	if (d->is_dropping) {
		if (d->flags & ZMTP_FLAG_MORE)
			return ZMTP_NEED_MORE;
		d->is_dropping = false;
		d->has_event = true;
		return ZMTP_DROPPED;
	}
	d->n_frames++;
	if (d->flags & ZMTP_FLAG_MORE)
		return ZMTP_NEED_MORE;
	d->has_event = true;
	return ZMTP_MESSAGE;
}

static int check_greeting_prefix(const zmtp_decoder_t *d, err_t *err)
{
	/* Fail on the first octets that give an old or foreign peer away,
	 * rather than wait for a 64-octet greeting it will never send. */
	if (d->got >= 1 && d->greeting[0] != 0xFF)
		return err_set(err, CG_EINVAL, "the peer does not speak ZMTP 3 (bad signature)");
	if (d->got >= 10 && d->greeting[9] != 0x7F)
		return err_set(err, CG_EINVAL, "the peer does not speak ZMTP 3 (bad signature)");
	if (d->got >= 11 && d->greeting[10] < 3)
		return err_set(err, CG_EINVAL, "the peer speaks ZMTP %u, 3.0 or later is needed",
			       d->greeting[10]);
	return 0;
}

int zmtp_decoder_feed(zmtp_decoder_t *d, const void *data, size_t len, size_t *used,
		      err_t *err)
{
	const uint8_t *p = data;
	size_t i = 0, n;
	int rc = ZMTP_NEED_MORE;

	if (d->has_event)
		clear_event(d);
	while (i < len && rc == ZMTP_NEED_MORE) {
		switch (d->state) {
		case ST_GREETING:
			n = ZMTP_GREETING_LEN - d->got;
			n = n < len - i ? n : len - i;
			memcpy(d->greeting + d->got, p + i, n);
			d->got += n;
			i += n;
			if ((rc = check_greeting_prefix(d, err)) < 0)
				goto out;
			if (d->got < ZMTP_GREETING_LEN)
				break;
			if ((rc = zmtp_greeting_parse(d->greeting, &d->peer_minor, err)) < 0)
				goto out;
			d->state = ST_FLAGS;
			rc = ZMTP_GREETING;
			break;
		case ST_FLAGS:
			d->flags = p[i++];
			if (d->flags & ~(ZMTP_FLAG_MORE | ZMTP_FLAG_LONG | ZMTP_FLAG_COMMAND)) {
				rc = err_set(err, CG_EINVAL, "a frame with reserved flag bits set (0x%02x)",
					     d->flags);
				goto out;
			}
			if ((d->flags & ZMTP_FLAG_COMMAND) &&
			    ((d->flags & ZMTP_FLAG_MORE) || d->n_frames || d->is_dropping)) {
				rc = err_set(err, CG_EINVAL, "a command inside a multipart message");
				goto out;
			}
			d->state = ST_SIZE;
			d->got = 0;
			break;
		case ST_SIZE: {
			size_t need = d->flags & ZMTP_FLAG_LONG ? 8 : 1;
			uint64_t size;

			n = need - d->got;
			n = n < len - i ? n : len - i;
			memcpy(d->size_buf + d->got, p + i, n);
			d->got += n;
			i += n;
			if (d->got < need)
				break;
			size = need == 8 ? get_be64(d->size_buf) : d->size_buf[0];
			if (size >> 63) {
				rc = err_set(err, CG_EINVAL, "a frame size beyond 2^63-1");
				goto out;
			}
			if ((rc = frame_start(d, size, err)) < 0)
				goto out;
			d->state = ST_BODY;
			if (d->want == 0)
				rc = frame_end(d);
			break;
		}
		case ST_BODY:
			n = d->want < len - i ? (size_t)d->want : len - i;
			if (!d->is_dropping) {
				memcpy(d->buf + d->len, p + i, n);
				d->len += n;
			}
			d->want -= n;
			i += n;
			if (d->want == 0)
				rc = frame_end(d);
			break;
		}
	}
out:
	*used = i;
	return rc;
}

/* An empty message or command may leave buf NULL; slices never are. */
static const uint8_t *base_of(const zmtp_decoder_t *d)
{
	return d->buf ? d->buf : (const uint8_t *)"";
}

wire_slice_t zmtp_decoder_command(const zmtp_decoder_t *d)
{
	return (wire_slice_t){ base_of(d), d->len };
}

size_t zmtp_decoder_frames(const zmtp_decoder_t *d, wire_slice_t *out)
{
	const uint8_t *base = base_of(d);
	size_t off = 0;

	for (size_t i = 0; i < d->n_frames; i++) {
		out[i] = (wire_slice_t){ base + off, d->frame_len[i] };
		off += d->frame_len[i];
	}
	return d->n_frames;
}
