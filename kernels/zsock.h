/*
 * zsock: a ZeroMQ-compatible client socket that lives on the server's libuv
 * loop, speaking ZMTP 3.0 itself (kernels/zmtp_codec.h) instead of linking
 * libzmq, whose I/O thread, C++ runtime and transports cost the idle server
 * about 3 MB of memory.
 *
 * Only what the server needs: it always connects (the kernel binds), over
 * ipc:// (a Unix stream socket) or tcp://IP:PORT, as DEALER, SUB (subscribed
 * to everything) or REQ (relaxed: a new request may go out while one is
 * outstanding). Like libzmq, a socket connects in the background, retries
 * until the kernel has bound, queues what is sent meanwhile (bounded), and
 * reconnects when the connection drops; messages in flight then may be lost.
 * A peer that breaks the protocol is logged and reconnected to.
 */
#ifndef CELLGATE_ZSOCK_H
#define CELLGATE_ZSOCK_H

#include <stddef.h>
#include <uv.h>

#include "../common/err.h"
#include "wire.h"

typedef struct zsock zsock_t;

/* Socket types; the peer must be a compatible one (ROUTER, DEALER or REP
 * for DEALER; PUB or XPUB for SUB; REP or ROUTER for REQ). */
enum { ZSOCK_DEALER = 1, ZSOCK_SUB, ZSOCK_REQ };

/* What zsock_send queues per socket, in bytes, before it refuses. */
#define ZSOCK_MAX_QUEUE (64u << 20)

/* Called once per received multipart message; the slices are valid only
 * during the call. The callback may close the socket. */
typedef void (*zsock_recv_fn)(void *arg, zsock_t *sock, const wire_slice_t *frames,
			      size_t n_frames);

typedef struct zsock_opts {
	int type;             /* ZSOCK_DEALER, ZSOCK_SUB or ZSOCK_REQ */
	const char *endpoint; /* "ipc:///path/k-1" or "tcp://127.0.0.1:5555" */
	const void *identity; /* the routing id a ROUTER sees (at most 255 bytes,
	                       * not starting with 0), or NULL */
	size_t identity_len;
	zsock_recv_fn on_recv;
	void *arg;
} zsock_opts_t;

/* A context shared by every zsock of one process (it holds the read
 * buffer). Caller owns it; sockets still closing keep it alive. */
void *zsock_context_new(void);
void zsock_context_free(void **ctx_p);

/* Creates the socket and starts connecting; fails only on a bad endpoint,
 * type or identity. Caller owns the result. */
zsock_t *zsock_connect(uv_loop_t *loop, void *zctx, const zsock_opts_t *opts, err_t *err);

/* Sends one multipart message without blocking, or queues it until the
 * connection is ready. CG_ETOOBIG when ZSOCK_MAX_QUEUE bytes are already
 * waiting (the peer is not reading, or not there). */
int zsock_send(zsock_t *sock, const wire_slice_t *frames, size_t n_frames);

/* Encodes and sends a wire message, signing it with key. */
int zsock_send_msg(zsock_t *sock, const wire_msg_t *msg, const wire_key_t *key);

/* Closes the socket at once, dropping what is unsent; the memory is freed
 * when libuv has released its handles. Safe from inside any recv callback,
 * for this socket or another. */
void zsock_close(zsock_t **self_p);

#endif
