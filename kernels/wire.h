/*
 * The Jupyter messaging protocol 5.x codec, used by both sides: the server
 * (talking to kernels) and cellgate's native kernels (talking to any client).
 *
 * A message on a ZeroMQ socket is a sequence of frames:
 *
 *     identity* "<IDS|MSG>" signature header parent_header metadata content buffer*
 *
 * The signature is the lowercase hex HMAC-SHA256 of the four JSON parts, keyed
 * with the connection file's key. This module turns frames into a validated
 * wire_msg_t and back, and knows nothing of sockets: the transport hands it
 * byte slices. Every incoming message is size-bounded, its signature checked
 * in constant time, and its four JSON parts validated, before anyone uses it.
 */
#ifndef CELLGATE_WIRE_H
#define CELLGATE_WIRE_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/err.h"

#define WIRE_DELIMITER "<IDS|MSG>"
#define WIRE_PROTOCOL_VERSION "5.3"
#define WIRE_SIG_HEX_LEN 64

typedef struct wire_limits {
	size_t max_identities; /* routing identities before the delimiter */
	size_t max_buffers;    /* binary buffers after the content */
	size_t max_part;       /* one JSON part or buffer, bytes */
	size_t max_total;      /* the whole message, bytes */
} wire_limits_t;

/* 16 identities, 64 buffers, 64 MiB a part, 128 MiB a message. */
extern const wire_limits_t wire_default_limits;

/* A borrowed byte range: what the transport hands the codec. */
typedef struct wire_slice {
	const void *data;
	size_t len;
} wire_slice_t;

/* Owned bytes, NUL-terminated (not counted in len). */
typedef struct wire_bytes {
	char *data;
	size_t len;
} wire_bytes_t;

typedef struct wire_msg {
	unsigned refs;
	size_t n_ids;
	wire_bytes_t *ids;
	wire_bytes_t header, parent_header, metadata, content;
	size_t n_buffers;
	wire_bytes_t *buffers;
	/* Copied out of the validated header and parent header. */
	char *msg_id;
	char *msg_type;
	char *session;       /* "" when absent */
	char *parent_msg_id; /* "" when there is no parent */
} wire_msg_t;

typedef struct wire_key wire_key_t;

/* An HMAC-SHA256 key; an empty key means messages are neither signed nor
 * checked, as jupyter_client does. Caller owns the result. */
wire_key_t *wire_key_new(const void *key, size_t len, err_t *err);
void wire_key_free(wire_key_t **self_p);
bool wire_key_is_empty(const wire_key_t *key);

/* Signs the four parts: out gets 64 hex digits and a NUL ("" for an empty key). */
int wire_sign(const wire_key_t *key, const wire_slice_t parts[4],
	      char out[WIRE_SIG_HEX_LEN + 1]);
/* Constant-time check of a received signature. */
bool wire_verify_signature(const wire_key_t *key, const wire_slice_t parts[4],
			   const void *sig, size_t sig_len);

/*
 * Decodes one multipart message. On success *out is a new message with one
 * reference (caller owns it). Fails with CG_ETOOBIG, CG_EDENIED (bad
 * signature) or CG_EINVAL, with a sentence in err.
 */
int wire_decode(const wire_slice_t *frames, size_t n_frames, const wire_key_t *key,
		const wire_limits_t *limits, wire_msg_t **out, err_t *err);

/*
 * Builds a message from its four JSON parts (validated here, as they may
 * come from a client) plus buffers; identities are added with
 * wire_msg_set_identity. Caller owns the result.
 */
wire_msg_t *wire_msg_from_parts(const wire_slice_t parts[4], const wire_slice_t *buffers,
				size_t n_buffers, const wire_limits_t *limits, err_t *err);

/*
 * Builds a message that cellgate itself originates: a fresh header with
 * msg_id, date and version, the parent's header (or {}), empty metadata,
 * and content_json (which must be a JSON object the caller produced).
 */
wire_msg_t *wire_msg_new(const char *msg_type, const char *session, const char *username,
			 const wire_msg_t *parent, const char *content_json, err_t *err);

int wire_msg_set_identity(wire_msg_t *msg, const void *id, size_t len);

/*
 * Lays the message out as frames for sending: identities, the delimiter,
 * the signature (written into sig), the four parts, the buffers. Returns the
 * frame count, or CG_ETOOBIG if max_frames is too small.
 */
int wire_encode(const wire_msg_t *msg, const wire_key_t *key, wire_slice_t *frames,
		size_t max_frames, char sig[WIRE_SIG_HEX_LEN + 1]);
size_t wire_frame_count(const wire_msg_t *msg);

wire_msg_t *wire_msg_ref(wire_msg_t *msg);
void wire_msg_unref(wire_msg_t **self_p);

/* Total payload bytes (parts and buffers), for accounting and caps. */
size_t wire_msg_size(const wire_msg_t *msg);

#endif
