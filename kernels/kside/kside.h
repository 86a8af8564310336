/*
 * kside: the kernel side of the Jupyter protocol, for cellgate's native
 * kernels (PARI, GAP, ...). It reads a connection file, binds the five
 * sockets with libzmq, and speaks the protocol; a language backend fills a
 * kside_backend_t with execute, complete, inspect, is_complete and interrupt
 * and calls kside_run from main().
 *
 * Threads: the main thread runs the shell loop and every backend callback
 * but interrupt. The heartbeat echo, the IOPub publisher (fed through an
 * inproc queue, so any thread may publish) and the control channel run on
 * their own threads. SIGINT is blocked on every thread but the main one, so
 * a signal from the kernel manager (interrupt_mode "signal") always lands
 * where the backend computes; an interrupt_request on control calls
 * backend->interrupt from the control thread (kside_signal_main is the usual
 * implementation).
 *
 * This library links libzmq; it is built only into kernel binaries, never
 * into bin/cellgate.
 */
#ifndef CELLGATE_KSIDE_H
#define CELLGATE_KSIDE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "../../common/err.h"

typedef struct kside kside_t;

/* What the backend learns about one execute_request. */
typedef struct kside_exec {
	bool silent;
	bool store_history;
	bool allow_stdin;
	long execution_count; /* the number this cell gets (already incremented) */
} kside_exec_t;

typedef struct kside_backend {
	void *ctx;
	/* The kernel_info_reply content but protocol_version and status, which
	 * kside adds: implementation, implementation_version, language_info,
	 * banner, help_links. Caller (kside) owns the result. */
	json_t *(*kernel_info)(void *ctx);
	/* Runs a cell. Output goes through kside_stream, kside_display,
	 * kside_result; a failure calls kside_error and returns -1. */
	int (*execute)(void *ctx, kside_t *ks, const char *code, const kside_exec_t *req);
	/* complete_reply content but status: matches, cursor_start, cursor_end,
	 * metadata. cursor is in Unicode code points, as the protocol says. */
	json_t *(*complete)(void *ctx, const char *code, size_t cursor);
	/* inspect_reply content but status: found, data, metadata. */
	json_t *(*inspect)(void *ctx, const char *code, size_t cursor, int detail_level);
	/* "complete", "incomplete", "invalid" or "unknown"; *indent may be set. */
	const char *(*is_complete)(void *ctx, const char *code, const char **indent);
	/* Called from the control thread on interrupt_request. */
	void (*interrupt)(void *ctx, kside_t *ks);
} kside_backend_t;

/* The parsed connection file. */
typedef struct kside_conn {
	char transport[8]; /* "tcp" or "ipc" */
	char ip[256];
	int shell_port, control_port, stdin_port, iopub_port, hb_port;
	char *key; /* caller owns; may be "" */
	size_t key_len;
} kside_conn_t;

int kside_conn_load(const char *path, kside_conn_t *out, err_t *err);
/* "tcp://ip:port" or "ipc://ip-port", as jupyter_client builds them. */
int kside_conn_endpoint(const kside_conn_t *c, int port, char *out, size_t size);
void kside_conn_clear(kside_conn_t *c);

/* Serves until shutdown_request. Returns 0 then, or a negative code. */
int kside_run(const char *connection_file, const kside_backend_t *be, err_t *err);

/* Output of the current request; each goes to IOPub with it as parent.
 * Stream text is buffered and flushed in order with other output. */
void kside_stream(kside_t *ks, const char *name, const char *text, size_t len);
/* data and metadata are stolen (metadata may be NULL). */
void kside_display(kside_t *ks, json_t *data, json_t *metadata);
void kside_result(kside_t *ks, json_t *data, json_t *metadata);
/* Records the error for the reply and publishes it; traceback stolen (may be NULL). */
void kside_error(kside_t *ks, const char *ename, const char *evalue, json_t *traceback);
/* Asks the client for a line (input_request); caller owns the result.
 * NULL when stdin is not allowed for this request or it was interrupted. */
char *kside_input(kside_t *ks, const char *prompt, bool password);
/* Sends sig to the main thread (the one in kside_run). */
int kside_signal_main(kside_t *ks, int sig);
/* True once an interrupt arrived during the current request. */
bool kside_is_interrupted(const kside_t *ks);
/* Replaces bytes that are not UTF-8 (and NULs) with '?', in place: JSON
 * strings must be UTF-8. */
void kside_utf8_scrub(char *s, size_t len);
/* Cursor positions: the protocol counts code points, C strings bytes.
 * The byte offset of code point `cursor` in code (at most its end), and
 * the number of code points in the first `bytes` bytes of s. */
size_t kside_byte_offset(const char *code, size_t cursor);
size_t kside_code_points(const char *s, size_t bytes);

#endif
