/*
 * ZMTP client sockets on the libuv loop (see zsock.h): one stream handle
 * per socket, re-created on every connection attempt; a timer paces the
 * attempts; an outgoing queue of encoded messages survives reconnects.
 *
 * A socket is in one of these states:
 *
 *   WAITING     no connection; the timer will start an attempt
 *   CONNECTING  uv_*_connect issued
 *   HANDSHAKE   connected; greeting and READY sent, the peer's awaited
 *   READY       messages flow both ways
 *   DROPPING    the stream handle is closing; then WAITING again
 *
 * Rules that keep callbacks safe: memory is freed only from uv_close
 * callbacks, once every handle of the socket is closed, so a recv callback
 * may close any socket; a dropped connection bumps `gen`, and the read loop
 * stops when it changes under it; the decoder's buffer (which the frames
 * handed to a callback point into) is reset only when a new connection
 * starts, never while a callback may still be running.
 */
#include "zsock.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "../common/log.h"
#include "zmtp_codec.h"

/* Read buffer shared by every socket of a context: libuv reads one stream
 * at a time and we consume each read before returning. */
#define ZSOCK_READ_BUF (64u << 10)
/* A kernel binds its sockets a moment after it starts, and the connection
 * should follow at once: retry every 5 ms for the first second, then back
 * off, doubling, to 100 ms. */
#define RETRY_FIRST_MS 5
#define RETRY_FAST_FOR_MS 1000
#define RETRY_MAX_MS 100
/* Chunks handed to one uv_write. */
#define WRITE_BATCH 64

enum { ZS_WAITING, ZS_CONNECTING, ZS_HANDSHAKE, ZS_READY, ZS_DROPPING };

typedef struct zsock_ctx {
	unsigned refs;
	char *rbuf;
} zsock_ctx_t;

/* Encoded bytes waiting to be written, data[off..len). */
typedef struct zchunk {
	struct zchunk *next;
	size_t off, len;
	bool is_conn_bound; /* for this connection only: never sent on the next */
	uint8_t data[];
} zchunk_t;

struct zsock {
	uv_loop_t *loop;
	zsock_ctx_t *ctx;
	int type;
	const char *type_name;
	char *endpoint; /* for log lines */
	bool is_tcp;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct sockaddr_storage addr;
	uint8_t identity[ZMTP_IDENTITY_MAX];
	size_t identity_len;
	bool has_identity;
	zsock_recv_fn on_recv;
	void *arg;

	union {
		uv_handle_t handle;
		uv_stream_t stream;
		uv_pipe_t pipe;
		uv_tcp_t tcp;
	} conn;
	uv_connect_t connect_req;
	uv_write_t write_req;
	uv_timer_t timer;
	zmtp_decoder_t dec;

	int state;
	unsigned gen;          /* bumped whenever a connection is dropped */
	bool is_retrying;      /* retry_since is set */
	bool was_ready;        /* ready_at is set */
	uint64_t retry_since;  /* loop time of this run of failed attempts */
	uint64_t ready_at;     /* loop time of the last completed handshake */
	uint64_t retry_ms;
	uint64_t next_retry_ms;

	zchunk_t *queue, **queue_tail; /* not yet handed to libuv */
	zchunk_t *inflight;            /* handed to the one uv_write in flight */
	bool is_writing;
	size_t queued; /* bytes in queue and inflight */

	int pending_closes;
	bool is_closed;
};

static void start_connect(zsock_t *s);
static void flush(zsock_t *s);

/* --- context ------------------------------------------------------------- */

void *zsock_context_new(void)
{
	zsock_ctx_t *c = calloc(1, sizeof *c);

	if (c)
		c->refs = 1;
	return c;
}

static void ctx_unref(zsock_ctx_t *c)
{
	if (c && --c->refs == 0) {
		free(c->rbuf);
		free(c);
	}
}

void zsock_context_free(void **ctx_p)
{
	ctx_unref(*ctx_p);
	*ctx_p = NULL;
}

/* --- the outgoing queue -------------------------------------------------- */

static zchunk_t *chunk_new(size_t len)
{
	zchunk_t *c = malloc(sizeof *c + len);

	if (c) {
		c->next = NULL;
		c->off = 0;
		c->len = len;
		c->is_conn_bound = false;
	}
	return c;
}

static void chunks_free(zsock_t *s, zchunk_t *c)
{
	while (c) {
		zchunk_t *next = c->next;

		s->queued -= c->len;
		free(c);
		c = next;
	}
}

static void queue_push(zsock_t *s, zchunk_t *c)
{
	s->queued += c->len;
	*s->queue_tail = c;
	s->queue_tail = &c->next;
}

/* Drops what belonged to the connection that ended: a message it had
 * begun to write, and its PONGs and subscription. */
static void queue_drop_conn_bound(zsock_t *s)
{
	zchunk_t **pp = &s->queue;

	s->queue_tail = &s->queue;
	while (*pp) {
		zchunk_t *c = *pp;

		if (c->is_conn_bound) {
			*pp = c->next;
			c->next = NULL;
			chunks_free(s, c);
		} else {
			pp = &c->next;
			s->queue_tail = pp;
		}
	}
}

/* --- connection life ----------------------------------------------------- */

static uint64_t backoff(zsock_t *s)
{
	uint64_t now = uv_now(s->loop);

	/* A connection that lived a while starts a fresh run of fast retries;
	 * a peer that keeps dropping us right after the handshake gets the
	 * slow ones. */
	if (s->was_ready && now - s->ready_at >= RETRY_FAST_FOR_MS)
		s->is_retrying = false;
	s->was_ready = false;
	if (!s->is_retrying) {
		s->is_retrying = true;
		s->retry_since = now;
		s->retry_ms = RETRY_FIRST_MS;
	} else if (now - s->retry_since >= RETRY_FAST_FOR_MS) {
		s->retry_ms = s->retry_ms * 2 < RETRY_MAX_MS ? s->retry_ms * 2 : RETRY_MAX_MS;
	}
	return s->retry_ms;
}

static void release(zsock_t *s)
{
	if (--s->pending_closes > 0)
		return;
	chunks_free(s, s->queue);
	chunks_free(s, s->inflight);
	zmtp_decoder_reset(&s->dec);
	ctx_unref(s->ctx);
	free(s->endpoint);
	free(s);
}

static void on_timer_closed(uv_handle_t *h)
{
	release(h->data);
}

static void on_retry(uv_timer_t *t)
{
	zsock_t *s = t->data;

	if (!s->is_closed && s->state == ZS_WAITING)
		start_connect(s);
}

static void on_conn_closed(uv_handle_t *h)
{
	zsock_t *s = h->data;

	if (s->is_closed) {
		release(s);
		return;
	}
	s->state = ZS_WAITING;
	uv_timer_start(&s->timer, on_retry, s->next_retry_ms, 0);
}

/* Ends the current connection (any state but WAITING and DROPPING) and
 * reconnects after retry_ms. Messages in flight on it are lost. */
static void conn_drop(zsock_t *s, uint64_t retry_ms)
{
	if (s->state == ZS_WAITING || s->state == ZS_DROPPING)
		return;
	s->gen++;
	s->state = ZS_DROPPING;
	s->next_retry_ms = retry_ms;
	queue_drop_conn_bound(s);
	/* a pending connect or write gets UV_ECANCELED before on_conn_closed */
	uv_close(&s->conn.handle, on_conn_closed);
}

/* The peer broke the protocol: say so, and reconnect unhurriedly so a
 * misbehaving kernel cannot make us spin. */
static void violation(zsock_t *s, const char *why)
{
	log_warn("zmtp", "%s: %s; reconnecting", s->endpoint, why);
	conn_drop(s, RETRY_MAX_MS);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	zsock_t *s = h->data;

	(void)hint;
	if (!s->ctx->rbuf)
		s->ctx->rbuf = malloc(ZSOCK_READ_BUF);
	*buf = uv_buf_init(s->ctx->rbuf, s->ctx->rbuf ? ZSOCK_READ_BUF : 0);
}

/* Appends a command for this connection only. */
static void send_command(zsock_t *s, const char *name, const void *data, size_t len)
{
	zchunk_t *c = chunk_new(ZMTP_HEADER_MAX + 1 + strlen(name) + len);
	int n;

	if (!c)
		return;
	n = zmtp_command_encode(c->data, c->len, name, data, len);
	if (n < 0) {
		free(c);
		return;
	}
	c->len = (size_t)n;
	c->is_conn_bound = true;
	queue_push(s, c);
	flush(s);
}

static void on_ready(zsock_t *s, const zmtp_command_t *cmd)
{
	zmtp_ready_t ready;
	err_t err = { 0 };

	if (zmtp_ready_parse(cmd->data.data, cmd->data.len, &ready, &err)) {
		violation(s, err.msg);
		return;
	}
	if (!zmtp_peer_type_ok(s->type_name, &ready.socket_type)) {
		char why[128];

		snprintf(why, sizeof why, "a %s socket cannot talk to a peer of type '%.*s'",
			 s->type_name, ready.socket_type.data ? (int)ready.socket_type.len : 0,
			 ready.socket_type.data ? (const char *)ready.socket_type.data : "");
		violation(s, why);
		return;
	}
	s->state = ZS_READY;
	s->was_ready = true;
	s->ready_at = uv_now(s->loop);
	log_debug("zmtp", "%s: connected to a ZMTP 3.%u %.*s", s->endpoint, s->dec.peer_minor,
		  (int)ready.socket_type.len, (const char *)ready.socket_type.data);
	if (s->type == ZSOCK_SUB) {
		/* Subscribe to everything: ZMTP 3.1 says so with a command, 3.0
		 * with a message whose first octet is 1. */
		if (s->dec.peer_minor >= 1) {
			send_command(s, "SUBSCRIBE", "", 0);
		} else {
			zchunk_t *c = chunk_new(3);

			if (c) {
				c->len = zmtp_message_encode(c->data, &(wire_slice_t){ "\1", 1 }, 1);
				c->is_conn_bound = true;
				queue_push(s, c);
			}
		}
	}
	flush(s);
}

static void on_command(zsock_t *s)
{
	wire_slice_t body = zmtp_decoder_command(&s->dec);
	zmtp_command_t cmd;
	wire_slice_t reason;
	err_t err = { 0 };

	if (zmtp_command_parse(body.data, body.len, &cmd, &err)) {
		violation(s, err.msg);
		return;
	}
	if (zmtp_command_is(&cmd, "ERROR")) {
		if (zmtp_error_parse(cmd.data.data, cmd.data.len, &reason, &err)) {
			violation(s, err.msg);
			return;
		}
		log_warn("zmtp", "%s: the peer refused us: %.*s", s->endpoint, (int)reason.len,
			 (const char *)reason.data);
		conn_drop(s, RETRY_MAX_MS);
	} else if (s->state == ZS_HANDSHAKE) {
		if (zmtp_command_is(&cmd, "READY"))
			on_ready(s, &cmd);
		else
			violation(s, "a command other than READY or ERROR in the NULL handshake");
	} else if (zmtp_command_is(&cmd, "READY")) {
		violation(s, "a second READY");
	} else if (zmtp_command_is(&cmd, "PING")) {
		/* ZMTP 3.1 heartbeat: echo the context (at most 16 octets) */
		if (cmd.data.len < 2 || cmd.data.len > 2 + 16)
			violation(s, "a malformed PING");
		else
			send_command(s, "PONG", (const uint8_t *)cmd.data.data + 2, cmd.data.len - 2);
	}
	/* PONG and commands of later versions carry nothing for a client */
}

static void on_message(zsock_t *s)
{
	wire_slice_t f[ZMTP_MAX_FRAMES];
	size_t n = zmtp_decoder_frames(&s->dec, f);

	if (s->state != ZS_READY) {
		violation(s, "a message before the handshake ended");
		return;
	}
	if (s->type == ZSOCK_REQ) {
		/* A reply comes after the empty delimiter our request carried;
		 * anything else is not a reply, and REQ drops it. */
		if (n < 2 || f[0].len != 0) {
			log_debug("zmtp", "%s: dropped a reply without its delimiter", s->endpoint);
			return;
		}
		s->on_recv(s->arg, s, f + 1, n - 1);
		return;
	}
	s->on_recv(s->arg, s, f, n);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	zsock_t *s = stream->data;
	const uint8_t *p = (const uint8_t *)buf->base;
	size_t off = 0, len = nread > 0 ? (size_t)nread : 0;
	unsigned gen = s->gen;

	if (nread < 0) {
		if (nread != UV_EOF)
			log_debug("zmtp", "%s: %s", s->endpoint, uv_strerror((int)nread));
		conn_drop(s, backoff(s));
		return;
	}
	while (off < len && !s->is_closed && s->gen == gen) {
		err_t err = { 0 };
		size_t used = 0;
		int ev = zmtp_decoder_feed(&s->dec, p + off, len - off, &used, &err);

		off += used;
		switch (ev) {
		case ZMTP_NEED_MORE:
		case ZMTP_GREETING:
			break;
		case ZMTP_COMMAND:
			on_command(s);
			break;
		case ZMTP_MESSAGE:
			on_message(s);
			break;
		case ZMTP_DROPPED:
			log_warn("zmtp", "%s: dropped %s", s->endpoint, s->dec.why);
			break;
		default:
			violation(s, err.msg);
			return;
		}
	}
}

static void on_connect(uv_connect_t *req, int status)
{
	zsock_t *s = req->data;
	uint8_t ready[ZMTP_HEADER_MAX + 64 + ZMTP_IDENTITY_MAX];
	zchunk_t *c;
	int n;

	if (status == UV_ECANCELED || s->is_closed || s->state != ZS_CONNECTING)
		return;
	if (status < 0) {
		conn_drop(s, backoff(s));
		return;
	}
	s->state = ZS_HANDSHAKE;
	zmtp_decoder_reset(&s->dec);
	if (s->is_tcp)
		uv_tcp_nodelay(&s->conn.tcp, 1);
	n = zmtp_ready_encode(ready, sizeof ready, s->type_name,
			      s->has_identity ? s->identity : NULL, s->identity_len);
	c = n > 0 ? chunk_new(ZMTP_GREETING_LEN + (size_t)n) : NULL;
	if (!c || uv_read_start(&s->conn.stream, on_alloc, on_read) < 0) {
		free(c);
		conn_drop(s, RETRY_MAX_MS);
		return;
	}
	/* The greeting and READY go ahead of everything queued, which waits
	 * for the peer's READY (flush holds back what is not conn-bound). */
	zmtp_greeting_encode(c->data);
	memcpy(c->data + ZMTP_GREETING_LEN, ready, (size_t)n);
	c->is_conn_bound = true;
	s->queued += c->len;
	c->next = s->queue;
	s->queue = c;
	if (s->queue_tail == &s->queue)
		s->queue_tail = &c->next;
	flush(s);
}

static void start_connect(zsock_t *s)
{
	int rc = 0;

	s->state = ZS_CONNECTING;
	s->connect_req.data = s;
	if (s->is_tcp) {
		uv_tcp_init(s->loop, &s->conn.tcp);
		s->conn.handle.data = s;
		rc = uv_tcp_connect(&s->connect_req, &s->conn.tcp,
				    (const struct sockaddr *)&s->addr, on_connect);
	} else {
		uv_pipe_init(s->loop, &s->conn.pipe, 0);
		s->conn.handle.data = s;
		uv_pipe_connect(&s->connect_req, &s->conn.pipe, s->path, on_connect);
	}
	if (rc < 0)
		conn_drop(s, backoff(s));
}

/* --- writing ------------------------------------------------------------- */

static void on_written(uv_write_t *req, int status)
{
	zsock_t *s = req->data;
	zchunk_t *done = s->inflight;

	s->inflight = NULL;
	s->is_writing = false;
	chunks_free(s, done);
	if (status < 0) {
		if (status != UV_ECANCELED && !s->is_closed)
			conn_drop(s, backoff(s));
		return;
	}
	flush(s);
}

/* Hands queued chunks to libuv, one uv_write at a time. During the
 * handshake only the connection's own chunks (greeting, READY) may go. */
static void flush(zsock_t *s)
{
	uv_buf_t bufs[WRITE_BATCH];
	zchunk_t **tail = &s->inflight;
	unsigned nb = 0;

	if (s->is_closed || s->is_writing || (s->state != ZS_HANDSHAKE && s->state != ZS_READY))
		return;
	while (s->queue && nb < WRITE_BATCH) {
		zchunk_t *c = s->queue;

		if (s->state == ZS_HANDSHAKE && !c->is_conn_bound)
			break;
		s->queue = c->next;
		if (!s->queue)
			s->queue_tail = &s->queue;
		c->next = NULL;
		*tail = c;
		tail = &c->next;
		bufs[nb++] = uv_buf_init((char *)c->data + c->off, (unsigned)(c->len - c->off));
	}
	if (!nb)
		return;
	s->write_req.data = s;
	if (uv_write(&s->write_req, &s->conn.stream, bufs, nb, on_written) < 0) {
		zchunk_t *lost = s->inflight;

		s->inflight = NULL;
		chunks_free(s, lost);
		conn_drop(s, backoff(s));
		return;
	}
	s->is_writing = true;
}

/* Writes what the socket takes now, straight from the caller's frames.
 * Returns the bytes written or a libuv error. */
static int try_write(zsock_t *s, const wire_slice_t *f, size_t n)
{
	uint8_t hdr[ZMTP_MAX_FRAMES + 1][ZMTP_HEADER_MAX];
	uv_buf_t bufs[2 * (ZMTP_MAX_FRAMES + 1)];
	unsigned nb = 0;

	for (size_t i = 0; i < n; i++) {
		size_t h = zmtp_frame_header(hdr[i], f[i].len, i + 1 < n ? ZMTP_FLAG_MORE : 0);

		bufs[nb++] = uv_buf_init((char *)hdr[i], (unsigned)h);
		if (f[i].len)
			bufs[nb++] = uv_buf_init((char *)f[i].data, (unsigned)f[i].len);
	}
	return uv_try_write(&s->conn.stream, bufs, nb);
}

int zsock_send(zsock_t *s, const wire_slice_t *frames, size_t n)
{
	wire_slice_t req[ZMTP_MAX_FRAMES + 1];
	const wire_slice_t *f = frames;
	size_t size, written = 0;
	zchunk_t *c;

	if (!s || s->is_closed)
		return CG_ESTATE;
	if (s->type == ZSOCK_SUB || n == 0 || n > ZMTP_MAX_FRAMES)
		return CG_EINVAL;
	if (s->type == ZSOCK_REQ) {
		/* the envelope: an empty delimiter, then the request */
		req[0] = (wire_slice_t){ "", 0 };
		memcpy(req + 1, frames, n * sizeof *frames);
		f = req;
		n++;
	}
	size = zmtp_message_wire_size(f, n);
	/* uv_buf_t lengths are unsigned int; one message over the cap is let
	 * through an empty queue (the callers bound message sizes) */
	if (size > UINT32_MAX ||
	    (s->queued && (s->queued >= ZSOCK_MAX_QUEUE || size > ZSOCK_MAX_QUEUE - s->queued)))
		return CG_ETOOBIG;
	if (s->state == ZS_READY && !s->is_writing && !s->queue) {
		int rc = try_write(s, f, n);

		if (rc >= 0 && (size_t)rc == size)
			return 0;
		if (rc > 0)
			written = (size_t)rc;
		else if (rc < 0 && rc != UV_EAGAIN)
			conn_drop(s, backoff(s)); /* keep the message for the next connection */
	}
	c = chunk_new(size);
	if (!c) {
		if (written)
			conn_drop(s, backoff(s)); /* half a message is on the wire */
		return CG_ESYS;
	}
	zmtp_message_encode(c->data, f, n);
	/* the rest of a message begun on this connection must end on it */
	c->off = written;
	c->is_conn_bound = written > 0;
	queue_push(s, c);
	flush(s);
	return 0;
}

int zsock_send_msg(zsock_t *s, const wire_msg_t *msg, const wire_key_t *key)
{
	wire_slice_t frames[16 + 6 + 64];
	char sig[WIRE_SIG_HEX_LEN + 1];
	int n = wire_encode(msg, key, frames, sizeof frames / sizeof *frames, sig);

	if (n < 0)
		return n;
	return zsock_send(s, frames, (size_t)n);
}

/* --- create and close ---------------------------------------------------- */

static int parse_endpoint(zsock_t *s, const char *ep, err_t *err)
{
	if (strncmp(ep, "ipc://", 6) == 0) {
		size_t len = strlen(ep + 6);

		if (len == 0 || len >= sizeof s->path)
			return err_set(err, CG_EINVAL, "an ipc path must be 1 to %zu bytes",
				       sizeof s->path - 1);
		memcpy(s->path, ep + 6, len + 1);
		return 0;
	}
	if (strncmp(ep, "tcp://", 6) == 0) {
		const char *host = ep + 6, *colon = strrchr(host, ':');
		char h[64], *end;
		size_t hlen;
		unsigned long port;

		if (!colon)
			return err_set(err, CG_EINVAL, "a tcp endpoint needs a port");
		hlen = (size_t)(colon - host);
		if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
			host++;
			hlen -= 2;
		}
		port = strtoul(colon + 1, &end, 10);
		if (hlen == 0 || hlen >= sizeof h || *end || end == colon + 1 || port == 0 ||
		    port > 65535)
			return err_set(err, CG_EINVAL, "a tcp endpoint is tcp://IP:PORT");
		memcpy(h, host, hlen);
		h[hlen] = '\0';
		/* Numeric addresses only: a name lookup would block the loop. */
		if (strcmp(h, "localhost") == 0)
			snprintf(h, sizeof h, "127.0.0.1");
		if (uv_ip4_addr(h, (int)port, (struct sockaddr_in *)&s->addr) != 0 &&
		    uv_ip6_addr(h, (int)port, (struct sockaddr_in6 *)&s->addr) != 0)
			return err_set(err, CG_EINVAL, "a tcp endpoint needs a numeric address");
		s->is_tcp = true;
		return 0;
	}
	return err_set(err, CG_EINVAL, "only ipc:// and tcp:// endpoints are supported");
}

zsock_t *zsock_connect(uv_loop_t *loop, void *zctx, const zsock_opts_t *o, err_t *err)
{
	static const char *names[] = { [ZSOCK_DEALER] = "DEALER", [ZSOCK_SUB] = "SUB",
				       [ZSOCK_REQ] = "REQ" };
	zsock_t *s;

	if (o->type < ZSOCK_DEALER || o->type > ZSOCK_REQ || !o->on_recv || !zctx) {
		err_set(err, CG_EINVAL, "zsock: a DEALER, SUB or REQ socket with a callback");
		return NULL;
	}
	if (o->identity && (o->identity_len > ZMTP_IDENTITY_MAX ||
			    (o->identity_len && ((const uint8_t *)o->identity)[0] == 0))) {
		err_set(err, CG_EINVAL, "zsock: an identity is 0 to 255 bytes, not starting with 0");
		return NULL;
	}
	s = calloc(1, sizeof *s);
	if (!s || !(s->endpoint = strdup(o->endpoint))) {
		free(s);
		err_set(err, CG_ESYS, "out of memory");
		return NULL;
	}
	if (parse_endpoint(s, o->endpoint, err)) {
		free(s->endpoint);
		free(s);
		return NULL;
	}
	s->loop = loop;
	s->ctx = zctx;
	s->ctx->refs++;
	s->type = o->type;
	s->type_name = names[o->type];
	if (o->identity) {
		s->has_identity = true;
		s->identity_len = o->identity_len;
		memcpy(s->identity, o->identity, o->identity_len);
	}
	s->on_recv = o->on_recv;
	s->arg = o->arg;
	s->queue_tail = &s->queue;
	zmtp_decoder_init(&s->dec, NULL);
	uv_timer_init(loop, &s->timer);
	s->timer.data = s;
	start_connect(s);
	return s;
}

void zsock_close(zsock_t **self_p)
{
	zsock_t *s = *self_p;

	if (!s)
		return;
	*self_p = NULL;
	s->is_closed = true;
	s->pending_closes = 1;
	uv_timer_stop(&s->timer);
	uv_close((uv_handle_t *)&s->timer, on_timer_closed);
	if (s->state == ZS_DROPPING) {
		s->pending_closes++; /* on_conn_closed is on its way */
	} else if (s->state != ZS_WAITING) {
		s->pending_closes++;
		s->state = ZS_DROPPING;
		uv_close(&s->conn.handle, on_conn_closed);
	}
	chunks_free(s, s->queue);
	s->queue = NULL;
	s->queue_tail = &s->queue;
}
