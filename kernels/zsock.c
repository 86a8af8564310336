/*
 * ZeroMQ sockets on the libuv loop: uv_poll on ZMQ_FD plus a uv_idle that
 * re-checks ZMQ_EVENTS after sends (see zsock.h for why).
 */
#include "zsock.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "../common/log.h"

/* Frames of one message we accept; more is a hostile or broken peer. */
#define ZSOCK_MAX_FRAMES 128
/* Messages drained per wake-up before yielding to the rest of the loop. */
#define ZSOCK_BATCH 64
/* Reconnect quickly: a kernel binds its sockets a moment after it starts. */
#define ZSOCK_RECONNECT_MS 5

struct zsock {
	void *zs;
	uv_poll_t poll;
	uv_idle_t idle;
	zsock_recv_fn on_recv;
	void *arg;
	int pending_closes; /* libuv handles still to be released */
	bool is_closed;
	bool in_drain;
};

void *zsock_context_new(void)
{
	void *ctx = zmq_ctx_new();

	if (ctx) {
		zmq_ctx_set(ctx, ZMQ_IO_THREADS, 1);
		zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, 8192);
		/* a process-wide context must not block exit on unsent messages */
		zmq_ctx_set(ctx, ZMQ_BLOCKY, 0);
	}
	return ctx;
}

void zsock_context_free(void **ctx_p)
{
	if (*ctx_p) {
		zmq_ctx_term(*ctx_p);
		*ctx_p = NULL;
	}
}

static bool has_input(zsock_t *s)
{
	int events = 0;
	size_t len = sizeof events;

	if (zmq_getsockopt(s->zs, ZMQ_EVENTS, &events, &len) != 0)
		return false;
	return (events & ZMQ_POLLIN) != 0;
}

/* Receives one whole multipart message and hands it to the callback.
 * Returns false when nothing was waiting. */
static bool recv_one(zsock_t *s)
{
	zmq_msg_t parts[ZSOCK_MAX_FRAMES], overflow;
	wire_slice_t slices[ZSOCK_MAX_FRAMES];
	size_t n = 0, dropped = 0;
	int more = 1;

	while (more) {
		/* Past the cap, keep receiving into a scratch frame to stay in sync
		 * with the message boundary, then drop the whole message. */
		zmq_msg_t *m = n < ZSOCK_MAX_FRAMES ? &parts[n] : &overflow;

		zmq_msg_init(m);
		if (zmq_msg_recv(m, s->zs, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(m);
			for (size_t i = 0; i < n; i++)
				zmq_msg_close(&parts[i]);
			return false;
		}
		more = zmq_msg_more(m);
		if (m == &overflow) {
			zmq_msg_close(m);
			dropped++;
			continue;
		}
		slices[n] = (wire_slice_t){ zmq_msg_data(m), zmq_msg_size(m) };
		n++;
	}
	if (dropped)
		log_warn("zmq", "dropped a message of more than %d frames", ZSOCK_MAX_FRAMES);
	else
		s->on_recv(s->arg, s, slices, n);
	for (size_t i = 0; i < n; i++)
		zmq_msg_close(&parts[i]);
	return true;
}

static void on_idle(uv_idle_t *h);

static void drain(zsock_t *s)
{
	if (s->in_drain)
		return;
	s->in_drain = true;
	for (int i = 0; i < ZSOCK_BATCH && !s->is_closed; i++) {
		if (!has_input(s) || !recv_one(s))
			break;
	}
	/* More may be waiting that the fd will not announce again: come back on
	 * the next loop iteration rather than starving other sockets. */
	if (!s->is_closed && has_input(s))
		uv_idle_start(&s->idle, on_idle);
	s->in_drain = false;
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	(void)status;
	(void)events;
	drain(h->data);
}

static void on_idle(uv_idle_t *h)
{
	zsock_t *s = h->data;

	uv_idle_stop(h);
	if (!s->is_closed)
		drain(s);
}

static void set_opt_int(void *zs, int opt, int value)
{
	zmq_setsockopt(zs, opt, &value, sizeof value);
}

zsock_t *zsock_connect(uv_loop_t *loop, void *zctx, const zsock_opts_t *o, err_t *err)
{
	zsock_t *s = calloc(1, sizeof *s);
	int fd = -1;
	size_t len = sizeof fd;

	if (!s) {
		err_set(err, CG_ESYS, "out of memory");
		return NULL;
	}
	s->on_recv = o->on_recv;
	s->arg = o->arg;
	s->zs = zmq_socket(zctx, o->type);
	if (!s->zs) {
		err_set(err, CG_ESYS, "zmq_socket: %s", zmq_strerror(errno));
		free(s);
		return NULL;
	}
	set_opt_int(s->zs, ZMQ_LINGER, 0);
	set_opt_int(s->zs, ZMQ_RECONNECT_IVL, ZSOCK_RECONNECT_MS);
	set_opt_int(s->zs, ZMQ_SNDHWM, 10000);
	set_opt_int(s->zs, ZMQ_RCVHWM, 10000);
	if (o->type == ZMQ_SUB)
		zmq_setsockopt(s->zs, ZMQ_SUBSCRIBE, "", 0);
	if (o->type == ZMQ_REQ) {
		/* a lost heartbeat reply must not wedge the socket */
		set_opt_int(s->zs, ZMQ_REQ_RELAXED, 1);
		set_opt_int(s->zs, ZMQ_REQ_CORRELATE, 1);
	}
	if (o->identity)
		zmq_setsockopt(s->zs, ZMQ_ROUTING_ID, o->identity, o->identity_len);
	if (zmq_connect(s->zs, o->endpoint) != 0 ||
	    zmq_getsockopt(s->zs, ZMQ_FD, &fd, &len) != 0) {
		err_set(err, CG_ESYS, "zmq_connect: %s", zmq_strerror(errno));
		zmq_close(s->zs);
		free(s);
		return NULL;
	}
	uv_poll_init(loop, &s->poll, fd);
	uv_idle_init(loop, &s->idle);
	s->poll.data = s;
	s->idle.data = s;
	uv_poll_start(&s->poll, UV_READABLE, on_poll);
	return s;
}

int zsock_send(zsock_t *s, const wire_slice_t *f, size_t n)
{
	int rc = 0;

	if (s->is_closed)
		return CG_ESTATE;
	for (size_t i = 0; i < n; i++) {
		int flags = ZMQ_DONTWAIT | (i + 1 < n ? ZMQ_SNDMORE : 0);

		if (zmq_send(s->zs, f[i].data, f[i].len, flags) < 0) {
			/* ZeroMQ sends multipart messages atomically: a failure on the
			 * first frame drops the whole message, never half of it. */
			rc = errno == EAGAIN ? CG_ETOOBIG : CG_ESYS;
			break;
		}
	}
	uv_idle_start(&s->idle, on_idle);
	return rc;
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

static void on_handle_closed(uv_handle_t *h)
{
	zsock_t *s = h->data;

	if (--s->pending_closes == 0)
		free(s);
}

void zsock_close(zsock_t **self_p)
{
	zsock_t *s = *self_p;

	if (!s)
		return;
	*self_p = NULL;
	s->is_closed = true;
	uv_poll_stop(&s->poll);
	uv_idle_stop(&s->idle);
	zmq_close(s->zs);
	s->zs = NULL;
	s->pending_closes = 2;
	uv_close((uv_handle_t *)&s->poll, on_handle_closed);
	uv_close((uv_handle_t *)&s->idle, on_handle_closed);
}
