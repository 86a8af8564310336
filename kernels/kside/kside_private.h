/*
 * Shared between kside.c (sockets, threads, sending) and kside_shell.c (the
 * request handlers). Not for backends.
 */
#ifndef CELLGATE_KSIDE_PRIVATE_H
#define CELLGATE_KSIDE_PRIVATE_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include "../wire.h"
#include "kside.h"

#define KSIDE_MAX_FRAMES 96
#define KSIDE_STREAM_FLUSH_BYTES 8192
#define KSIDE_STREAM_FLUSH_NS 50000000ull
/* Text kept per history entry (input and output each). */
#define KSIDE_HISTORY_MAX 1000

typedef struct kside_hist {
	long line;
	char *input;
	char *output; /* text/plain of the result, or NULL */
} kside_hist_t;

typedef struct kside_strbuf {
	char *data;
	size_t len, cap;
} kside_strbuf_t;

struct kside {
	const kside_backend_t *be;
	void *zctx;
	wire_key_t *key;
	char session[40];
	pthread_t main_thread;
	pthread_t hb_thread, iopub_thread, control_thread;
	bool has_hb, has_iopub, has_control;

	/* main thread's sockets */
	void *shell, *stdin_sock, *iopub_push, *wake_pull;
	/* owned by the threads */
	void *hb, *iopub_pull, *iopub_pub, *control, *control_push, *wake_push;

	atomic_bool stopping;
	bool restart;
	volatile sig_atomic_t interrupted;

	/* the shell request being handled */
	wire_msg_t *parent;
	kside_exec_t exec;
	json_t *error_content; /* set by kside_error */
	char *last_result_text;
	kside_strbuf_t streams[2]; /* stdout, stderr */
	uint64_t last_flush_ns;

	long execution_count;
	kside_hist_t *hist;
	size_t n_hist;
};

/* Sends msg on sock (which must belong to the calling thread). */
int kside_send(kside_t *ks, void *sock, const wire_msg_t *msg);
/* Receives and verifies one message; NULL (logged) when it is invalid. */
wire_msg_t *kside_recv(kside_t *ks, void *sock);
/* Reply to parent on sock, with parent's routing identities; content stolen. */
int kside_reply(kside_t *ks, void *sock, const wire_msg_t *parent, const char *type,
		json_t *content);
/* Publish on IOPub through push (the calling thread's inproc socket). */
int kside_publish(kside_t *ks, void *push, const wire_msg_t *parent, const char *type,
		  json_t *content);
int kside_publish_status(kside_t *ks, void *push, const wire_msg_t *parent,
			 const char *state);
void kside_flush_streams(kside_t *ks);

/* kside_shell.c: handles one request from the shell socket. */
void kside_shell_dispatch(kside_t *ks, wire_msg_t *msg);
json_t *kside_kernel_info(kside_t *ks);
void kside_history_clear(kside_t *ks);

#endif
