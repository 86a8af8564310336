/*
 * Kernel messages on the WebSocket, in the two protocols Jupyter Server
 * speaks:
 *
 * - legacy (no subprotocol): a JSON text frame {"header", "parent_header",
 *   "metadata", "content", "channel", "buffers", ...}, or, when the message
 *   has binary buffers, a binary frame: uint32 BE count n, n uint32 BE
 *   offsets, the JSON, then the buffers.
 * - "v1.kernel.websocket.jupyter.org": a binary frame: uint64 LE count n,
 *   n uint64 LE offsets, then channel, header, parent_header, metadata,
 *   content and buffers back to back; the JSON parts stay the bytes the
 *   kernel signed, so nothing is re-serialised.
 *
 * Encoding writes after `headroom` bytes (libwebsockets needs LWS_PRE in
 * front of what it sends). Decoding validates everything and produces a
 * wire message ready to sign and send to the kernel.
 */
#ifndef CELLGATE_WS_CODEC_H
#define CELLGATE_WS_CODEC_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/buf.h"
#include "../kernels/kernels.h"

#define WS_V1_PROTOCOL "v1.kernel.websocket.jupyter.org"

/* out is appended to (after headroom bytes); *is_binary tells the frame type. */
int ws_encode_legacy(const wire_msg_t *msg, kchannel_t ch, size_t headroom, buf_t *out,
		     bool *is_binary);
int ws_encode_v1(const wire_msg_t *msg, kchannel_t ch, size_t headroom, buf_t *out);

typedef struct ws_decoded {
	kchannel_t channel;
	wire_msg_t *msg;       /* caller owns */
	/* When decoding failed after the header was readable, what we know of
	 * the request, so the error can be answered as its reply. */
	char *header_json;     /* caller owns, may be NULL */
	bool has_channel;
} ws_decoded_t;

int ws_decode_legacy(const void *data, size_t len, bool is_binary, const wire_limits_t *lim,
		     ws_decoded_t *out, err_t *err);
int ws_decode_v1(const void *data, size_t len, const wire_limits_t *lim, ws_decoded_t *out,
		 err_t *err);
void ws_decoded_clear(ws_decoded_t *d);

#endif
