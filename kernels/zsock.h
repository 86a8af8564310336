/*
 * zsock: a ZeroMQ socket that lives on the server's libuv loop.
 *
 * ZeroMQ exposes a file descriptor (ZMQ_FD) that signals "something may have
 * changed", edge-style: it is only re-armed by ZeroMQ calls on the socket,
 * and a send can consume the notification of pending input. So the rule is:
 * whenever the fd polls readable, and after every send, drain the socket
 * while ZMQ_EVENTS says ZMQ_POLLIN. The post-send check runs from a uv_idle
 * handle, never re-entrantly from inside the caller's send.
 */
#ifndef CELLGATE_ZSOCK_H
#define CELLGATE_ZSOCK_H

#include <stddef.h>
#include <uv.h>

#include "../common/err.h"
#include "wire.h"

typedef struct zsock zsock_t;

/* Called once per received multipart message; the slices are valid only
 * during the call. The callback may close the socket. */
typedef void (*zsock_recv_fn)(void *arg, zsock_t *sock, const wire_slice_t *frames,
			      size_t n_frames);

typedef struct zsock_opts {
	int type;             /* ZMQ_DEALER, ZMQ_SUB, ZMQ_REQ, ... */
	const char *endpoint; /* connected to, e.g. "ipc:///path/k-1" */
	const void *identity; /* ZMQ_ROUTING_ID, or NULL */
	size_t identity_len;
	zsock_recv_fn on_recv;
	void *arg;
} zsock_opts_t;

/* A context shared by every zsock of one process. Caller owns it. */
void *zsock_context_new(void);
void zsock_context_free(void **ctx_p);

/* Creates, connects and starts polling. Caller owns the result. */
zsock_t *zsock_connect(uv_loop_t *loop, void *zctx, const zsock_opts_t *opts, err_t *err);

/* Sends one multipart message without blocking. CG_ETOOBIG when the
 * socket's queue is full (the peer is not reading). */
int zsock_send(zsock_t *sock, const wire_slice_t *frames, size_t n_frames);

/* Encodes and sends a wire message, signing it with key. */
int zsock_send_msg(zsock_t *sock, const wire_msg_t *msg, const wire_key_t *key);

/* Stops polling and closes the ZeroMQ socket at once; the memory is freed
 * when libuv has released its handles. Safe from inside the recv callback. */
void zsock_close(zsock_t **self_p);

#endif
