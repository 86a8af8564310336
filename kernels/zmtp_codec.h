/*
 * ZMTP 3.0 codec (rfc.zeromq.org/spec:23, with the 3.1 additions of
 * spec:37 that a 3.1 peer may use): the greeting, the NULL mechanism's
 * READY and ERROR commands, frame headers, and an incremental decoder that
 * turns a byte stream into greetings, commands and whole multipart messages.
 *
 * Pure code: no sockets, no loop, no logging, so it can be tested byte by
 * byte. kernels/zsock.c drives it over a connection. Everything decoded
 * comes from a kernel and is hostile input: sizes are checked against
 * limits before anything is allocated, and malformed input is an error,
 * never an assertion.
 */
#ifndef CELLGATE_ZMTP_CODEC_H
#define CELLGATE_ZMTP_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"
#include "wire.h"

#define ZMTP_GREETING_LEN 64
#define ZMTP_HEADER_MAX 9          /* flags + 8-byte long size */
#define ZMTP_MAX_FRAMES 128        /* frames in one message, a hard cap */
#define ZMTP_MAX_COMMAND (64u << 10) /* a command body; READY is tiny */
#define ZMTP_IDENTITY_MAX 255

/* Frame flags (the first octet of every frame). */
#define ZMTP_FLAG_MORE 0x01
#define ZMTP_FLAG_LONG 0x02
#define ZMTP_FLAG_COMMAND 0x04

typedef struct zmtp_limits {
	size_t max_frames; /* at most ZMTP_MAX_FRAMES */
	size_t max_frame;  /* bytes in one frame */
	size_t max_msg;    /* bytes in one message, all frames */
} zmtp_limits_t;

/* --- encoding ------------------------------------------------------------ */

/* Our greeting: version 3.0, mechanism NULL, as-server 0. */
void zmtp_greeting_encode(uint8_t out[ZMTP_GREETING_LEN]);

/* Writes a frame header for a body of len bytes; flags is a mix of
 * ZMTP_FLAG_MORE and ZMTP_FLAG_COMMAND (LONG is chosen here). Returns the
 * header length, 2 or 9. */
size_t zmtp_frame_header(uint8_t out[ZMTP_HEADER_MAX], uint64_t len, unsigned flags);

/* Bytes the frames take on the wire, headers included. */
size_t zmtp_message_wire_size(const wire_slice_t *frames, size_t n);

/* Lays the frames out as one message (MORE on all but the last) into out,
 * which holds zmtp_message_wire_size() bytes. Returns the bytes written. */
size_t zmtp_message_encode(uint8_t *out, const wire_slice_t *frames, size_t n);

/* A command frame: name (1-255 letters) and data. Returns the bytes written
 * into out, or CG_ETOOBIG when cap is too small. */
int zmtp_command_encode(uint8_t *out, size_t cap, const char *name, const void *data,
			size_t len);

/* READY with the properties Socket-Type and Identity (which may be empty).
 * Returns the bytes written (frame header included) or CG_ETOOBIG. */
int zmtp_ready_encode(uint8_t *out, size_t cap, const char *socket_type, const void *identity,
		      size_t identity_len);

/* --- parsing ------------------------------------------------------------- */

/* Checks a peer's whole greeting: signature, major version 3 or above,
 * mechanism NULL. *minor gets the peer's minor version. */
int zmtp_greeting_parse(const uint8_t in[ZMTP_GREETING_LEN], unsigned *minor, err_t *err);

/* A command body split into its name and data (both borrowed). */
typedef struct zmtp_command {
	wire_slice_t name;
	wire_slice_t data;
} zmtp_command_t;

int zmtp_command_parse(const void *body, size_t len, zmtp_command_t *out, err_t *err);
bool zmtp_command_is(const zmtp_command_t *cmd, const char *name);

/* The properties of a READY command we use; unknown ones are skipped. */
typedef struct zmtp_ready {
	wire_slice_t socket_type; /* data NULL when absent */
	wire_slice_t identity;
} zmtp_ready_t;

/* Parses the data of a READY command (what follows the name). */
int zmtp_ready_parse(const void *data, size_t len, zmtp_ready_t *out, err_t *err);

/* The reason carried by an ERROR command's data, as a slice of it. */
int zmtp_error_parse(const void *data, size_t len, wire_slice_t *reason, err_t *err);

/* Whether a peer announcing peer_type may talk to our socket type (RFC 37's
 * table, for the client types cellgate uses: DEALER, SUB, REQ). */
bool zmtp_peer_type_ok(const char *ours, const wire_slice_t *peer_type);

/* --- the incremental decoder --------------------------------------------- */

typedef enum zmtp_event {
	ZMTP_NEED_MORE = 0, /* every byte given was consumed, nothing complete */
	ZMTP_GREETING,      /* the peer's greeting: see peer_minor */
	ZMTP_COMMAND,       /* one command: zmtp_decoder_command() */
	ZMTP_MESSAGE,       /* one whole message: zmtp_decoder_frames() */
	ZMTP_DROPPED,       /* a message over the limits was skipped whole */
} zmtp_event_t;

typedef struct zmtp_decoder {
	zmtp_limits_t limits;
	int state;
	uint8_t greeting[ZMTP_GREETING_LEN];
	size_t got;             /* bytes of the greeting or size field so far */
	uint8_t flags;          /* of the frame being read */
	uint8_t size_buf[8];
	uint64_t want;          /* body bytes still to read (or skip) */
	bool is_dropping;       /* skipping the rest of an oversized message */
	bool has_event;         /* the last call returned a command or message */
	unsigned peer_minor;
	/* The current message's frame bodies, back to back in buf. */
	uint8_t *buf;
	size_t len, cap;
	size_t n_frames;
	size_t frame_len[ZMTP_MAX_FRAMES];
	char why[128];          /* the reason for the last ZMTP_DROPPED */
} zmtp_decoder_t;

/* Starts in the greeting state. limits NULL: 128 frames, and the
 * wire_default_limits part and total sizes. */
void zmtp_decoder_init(zmtp_decoder_t *d, const zmtp_limits_t *limits);
/* Back to the greeting state, for a new connection; frees the buffer. */
void zmtp_decoder_reset(zmtp_decoder_t *d);

/*
 * Consumes bytes until one event is complete or the input is exhausted;
 * *used gets the bytes consumed. Returns a zmtp_event_t, or CG_EINVAL
 * (protocol violation) with a sentence in err; after an error the decoder
 * must be reset. What an event points to stays valid until the next call.
 */
int zmtp_decoder_feed(zmtp_decoder_t *d, const void *data, size_t len, size_t *used,
		      err_t *err);

/* After ZMTP_COMMAND: the command's body. */
wire_slice_t zmtp_decoder_command(const zmtp_decoder_t *d);
/* After ZMTP_MESSAGE: fills out[] (ZMTP_MAX_FRAMES slots) and returns the
 * frame count. */
size_t zmtp_decoder_frames(const zmtp_decoder_t *d, wire_slice_t *out);

#endif
