/*
 * Inside the egress broker: what egress_broker.c (the proxy: requests,
 * rules, prompts, relaying) and egress_secrets.c (a kernel's read of a
 * named secret) share. Not for anything else: the broker's interface is
 * egress_broker.h.
 *
 * A kernel (ekernel_t) has a listening unix socket the sandbox's relay
 * connects to; each connection (econn_t) carries one proxy request: a
 * CONNECT or a plain http:// request to a destination, or a GET of a
 * secret's URL. Every decision about it is recorded (econn_record: the
 * kernel's decision list, the recorder) and the ones that matter audited
 * (econn_audit); a refusal is an HTTP answer to the kernel (econn_answer).
 */
#ifndef CELLGATE_EGRESS_CONN_H
#define CELLGATE_EGRESS_CONN_H

#include <limits.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "../policy/prompts.h"
#include "../policy/secrets.h"
#include "../sandbox/egress_policy.h"
#include "egress_broker.h"

#define HEAD_MAX 16384          /* a proxy request's head */

typedef struct ekernel ekernel_t;

struct egress_broker {
	uv_loop_t *loop;
	const config_t *cfg;
	ekernel_t *kernels;
	egress_prompter_t prompter;
	bool is_freed;
	egress_decision_fn on_decision; /* the recorder's */
	void *on_decision_ctx;
};

struct ekernel {
	egress_broker_t *b;
	char id[64], spec[KSPEC_NAME_MAX], trust[64];
	char path[PATH_MAX];
	uv_pipe_t listener;
	bool is_listening;
	bool is_gone;
	int refs;          /* the listener while open, and each connection */
	size_t open;       /* connections now */
	uint64_t bytes;    /* both ways, over the kernel's life */
	json_t *decisions;
	json_t *session_allows; /* "host:port" -> the prompt that allowed it */
	json_t *grants;    /* a replay's: "HOST:PORT" it may reach, nothing else */
	struct econn *conns; /* open now */
	ekernel_t *next;
};

typedef struct econn {
	ekernel_t *ek;
	uv_pipe_t client;
	uv_tcp_t upstream;
	uv_getaddrinfo_t gai;
	uv_connect_t creq;
	int pending;       /* open handles and outstanding requests */
	bool has_upstream, is_relaying, is_closing;
	bool client_paused, upstream_paused;
	int eofs;
	char head[HEAD_MAX + 1];
	size_t head_len, body_at;
	char method[16], host[256], target[2048];
	unsigned port;
	bool is_connect;
	bool is_held;      /* waiting for a person's answer to prompt */
	char secret[SECRET_NAME_MAX + 1]; /* a secret's read (SBX_SECRETS_HOST): its name */
	char prompt[40];
	const egress_rule_t *rule; /* the ask rule that held it */
	uint64_t up, down;
	struct addrinfo *ai, *next_ai; /* next_ai: the address to try */
	struct econn *next; /* in ek->conns */
} econn_t;

typedef struct wreq {
	uv_write_t w;
	econn_t *c;
	uv_buf_t buf;
} wreq_t;

/* One decision about c, for the kernel's list and the recorder: verdict
 * ("allow", "deny", "prompt"), the rule that decided (or NULL), why. */
void econn_record(econn_t *c, const char *verdict, const char *rule, const char *why);
/* An audit entry on c's effect, in the name of the kernel's principal. */
void econn_audit(econn_t *c, const char *decision, const char *detail);
/* "network host:port" or "secret NAME": what c asks for, as people read it. */
void econn_effect_of(const econn_t *c, char *out, size_t size);
/* The capability that started the kernel allows c's effect; false after
 * answering 403 when it does not. */
bool econn_token_allows(econn_t *c);
/* Why a held request's prompt p (NULL: gone) did not allow it, for the
 * kernel and the logs; who answered it. */
void econn_refusal(const econn_t *c, const policy_prompt_t *p, const char *who, char *why,
		   size_t size);
/* An HTTP answer to the kernel's request, then the end of the connection. */
void econn_answer(econn_t *c, int status, const char *title, const char *body);
/* Writes to dst: a copy of data, or data itself (freed once written, by
 * cb, which must end in econn_on_written). Non-zero when it cannot. */
int econn_send_copy(econn_t *c, uv_stream_t *dst, const char *data, size_t len);
int econn_send_owned(econn_t *c, uv_stream_t *dst, char *data, size_t len, uv_write_cb cb);
void econn_on_written(uv_write_t *w, int status);
/* Ends the connection once what is queued has been written. */
void econn_end_after_writes(econn_t *c);
void econn_close(econn_t *c);
/* Reading the kernel's side: the buffers and what is done with them. */
void econn_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
void econn_on_client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

/* egress_secrets.c: a request for SBX_SECRETS_HOST (decided, held for a
 * prompt, or answered), and the answer to its prompt. */
void egress_secret_request(econn_t *c);
void egress_secret_settle(econn_t *c, policy_prompt_t *p, const char *who);

#endif
