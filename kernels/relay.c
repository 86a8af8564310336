/*
 * The relay between clients and a kernel.
 *
 * A client session (the WebSocket's session_id) owns three DEALER sockets,
 * shell, control and stdin, all with the session id as ZeroMQ identity: the
 * kernel's ROUTERs then send each reply, and each input_request, back to the
 * session that asked. IOPub has one SUB per kernel, fanned out to every
 * session. A session whose client went away keeps its sockets and buffers
 * what arrives (bounded) until the client reconnects with the same id, or
 * until it expires.
 */
#include "kernel_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "../common/util.h"

/* --- bounded message queue ------------------------------------------------ */

int msgq_push(msgq_t *q, kchannel_t ch, wire_msg_t *msg, size_t max_msgs, size_t max_bytes)
{
	msgq_item_t *it;
	size_t size = wire_msg_size(msg);

	/* At the cap the oldest go first: the newest output is what matters. */
	while (q->head && (q->count + 1 > max_msgs || q->bytes + size > max_bytes)) {
		wire_msg_t *old = msgq_pop(q, NULL);

		wire_msg_unref(&old);
		q->dropped++;
	}
	if (size > max_bytes) {
		q->dropped++;
		return CG_ETOOBIG;
	}
	it = calloc(1, sizeof *it);
	if (!it)
		return CG_ESYS;
	it->ch = ch;
	it->msg = wire_msg_ref(msg);
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->count++;
	q->bytes += size;
	return 0;
}

wire_msg_t *msgq_pop(msgq_t *q, kchannel_t *ch)
{
	msgq_item_t *it = q->head;
	wire_msg_t *msg;

	if (!it)
		return NULL;
	q->head = it->next;
	if (!q->head)
		q->tail = NULL;
	q->count--;
	q->bytes -= wire_msg_size(it->msg);
	if (ch)
		*ch = it->ch;
	msg = it->msg;
	free(it);
	return msg;
}

void msgq_clear(msgq_t *q)
{
	wire_msg_t *m;

	while ((m = msgq_pop(q, NULL)))
		wire_msg_unref(&m);
	q->dropped = 0;
}

/* --- delivery to clients -------------------------------------------------- */

static void deliver(kclient_t *c, kchannel_t ch, wire_msg_t *msg)
{
	const kmgr_config_t *cfg = &c->k->mgr->cfg;

	if (c->sink) {
		c->sink->deliver(c->ctx, ch, msg);
		return;
	}
	msgq_push(&c->outbox, ch, msg, cfg->buffer_msgs, cfg->buffer_bytes);
}

void relay_iopub(kernel_t *k, wire_msg_t *msg)
{
	for (kclient_t *c = k->clients; c; c = c->next)
		deliver(c, KCH_IOPUB, msg);
}

void relay_broadcast_status(kernel_t *k, const char *state)
{
	char content[64];
	wire_msg_t *msg;

	snprintf(content, sizeof content, "{\"execution_state\":\"%s\"}", state);
	msg = wire_msg_new("status", k->mgr->session, "cellgate", NULL, content, NULL);
	if (msg)
		relay_iopub(k, msg);
	wire_msg_unref(&msg);
}

/* A Jupyter error reply to a request the kernel cannot take, so that an
 * agent gets an answer rather than silence. */
static void reply_error(kclient_t *c, kchannel_t ch, const wire_msg_t *req, const char *ename,
			const char *evalue)
{
	const char *suffix = "_request";
	size_t tl = strlen(req->msg_type), sl = strlen(suffix);
	char reply_type[128];
	json_t *content;
	char *text;
	wire_msg_t *reply;

	if (tl <= sl || strcmp(req->msg_type + tl - sl, suffix) != 0 || tl - sl + 7 > sizeof reply_type)
		return;
	snprintf(reply_type, sizeof reply_type, "%.*s_reply", (int)(tl - sl), req->msg_type);
	content = json_pack("{s:s, s:s, s:s, s:[], s:n}", "status", "error", "ename", ename,
			    "evalue", evalue, "traceback", "execution_count");
	text = content ? json_dumps(content, JSON_COMPACT) : NULL;
	json_decref(content);
	reply = text ? wire_msg_new(reply_type, c->k->mgr->session, "cellgate", req, text, NULL) : NULL;
	free(text);
	if (reply)
		deliver(c, ch, reply);
	wire_msg_unref(&reply);
}

/* --- client sockets ------------------------------------------------------- */

static void on_client_socket(kclient_t *c, kchannel_t ch, const wire_slice_t *f, size_t n)
{
	kernel_t *k = c->k;
	wire_msg_t *msg = NULL;
	err_t err = { 0 };

	if (wire_decode(f, n, k->wkey, NULL, &msg, &err)) {
		log_warn("kernels", "%.8s: dropped a message on %s: %s", k->id, kchannel_name(ch),
			 err.msg);
		return;
	}
	kernel_touch(k);
	if (ch == KCH_SHELL && k->mgr->obs)
		k->mgr->obs->kernel(k->mgr->obs_ctx, k, ch, msg);
	deliver(c, ch, msg);
	wire_msg_unref(&msg);
}

static void on_shell(void *arg, zsock_t *s, const wire_slice_t *f, size_t n)
{
	(void)s;
	on_client_socket(arg, KCH_SHELL, f, n);
}

static void on_control(void *arg, zsock_t *s, const wire_slice_t *f, size_t n)
{
	(void)s;
	on_client_socket(arg, KCH_CONTROL, f, n);
}

static void on_stdin(void *arg, zsock_t *s, const wire_slice_t *f, size_t n)
{
	(void)s;
	on_client_socket(arg, KCH_STDIN, f, n);
}

static void client_free(kclient_t *c)
{
	for (int i = 0; i < KCH_COUNT; i++)
		zsock_close(&c->sock[i]);
	msgq_clear(&c->outbox);
	msgq_clear(&c->inbox);
	free(c);
}

static int client_connect(kclient_t *c, err_t *err)
{
	static const struct {
		kchannel_t ch;
		int port;
		zsock_recv_fn fn;
	} plan[] = {
		{ KCH_SHELL, KCONN_PORT_SHELL, on_shell },
		{ KCH_CONTROL, KCONN_PORT_CONTROL, on_control },
		{ KCH_STDIN, KCONN_PORT_STDIN, on_stdin },
	};
	char ep[256];

	for (size_t i = 0; i < sizeof plan / sizeof *plan; i++) {
		zsock_opts_t o = { .type = ZSOCK_DEALER, .endpoint = ep,
				   .identity = c->session_id, .identity_len = strlen(c->session_id),
				   .on_recv = plan[i].fn, .arg = c };

		kernel_endpoint(c->k, plan[i].port, ep, sizeof ep);
		c->sock[plan[i].ch] = zsock_connect(c->k->mgr->loop, c->k->mgr->zctx, &o, err);
		if (!c->sock[plan[i].ch])
			return err ? err->code : CG_ESYS;
	}
	return 0;
}

static void replay_outbox(kclient_t *c)
{
	kchannel_t ch;
	wire_msg_t *m;

	if (c->outbox.dropped)
		log_warn("kernels", "%.8s: session %.8s missed %zu messages while away", c->k->id,
			 c->session_id, c->outbox.dropped);
	while (c->sink && (m = msgq_pop(&c->outbox, &ch))) {
		c->sink->deliver(c->ctx, ch, m);
		wire_msg_unref(&m);
	}
	c->outbox.dropped = 0;
}

kclient_t *kernel_attach(kernel_t *k, const char *session_id, const kclient_sink_t *sink,
			 void *ctx, err_t *err)
{
	kclient_t *c;

	if (k->is_shutting_down) {
		err_set(err, CG_ESTATE, "the kernel is shutting down");
		return NULL;
	}
	if (!session_id[0] || strlen(session_id) >= SESSION_ID_MAX) {
		err_set(err, CG_EINVAL, "session_id must be 1 to %d bytes", SESSION_ID_MAX - 1);
		return NULL;
	}
	for (c = k->clients; c; c = c->next)
		if (strcmp(c->session_id, session_id) == 0)
			break;
	if (c && c->sink) {
		/* a reconnect with the same id replaces the old connection */
		const kclient_sink_t *old = c->sink;

		c->sink = NULL;
		old->closed(c->ctx, "replaced by a new connection for the same session");
	}
	if (!c) {
		c = calloc(1, sizeof *c);
		if (!c) {
			err_set(err, CG_ESYS, "out of memory");
			return NULL;
		}
		c->k = k;
		snprintf(c->session_id, sizeof c->session_id, "%s", session_id);
		if (client_connect(c, err)) {
			client_free(c);
			return NULL;
		}
		c->next = k->clients;
		k->clients = c;
	}
	c->sink = sink;
	c->ctx = ctx;
	replay_outbox(c);
	return c;
}

static int send_now(kclient_t *c, kchannel_t ch, wire_msg_t *msg, err_t *err)
{
	int rc = zsock_send_msg(c->sock[ch], msg, c->k->wkey);

	if (rc == CG_ETOOBIG)
		return err_set(err, rc, "the kernel is not reading its %s channel", kchannel_name(ch));
	if (rc)
		return err_set(err, rc, "cannot send to the kernel");
	return 0;
}

static void observe(kclient_t *c, kchannel_t ch, const wire_msg_t *msg)
{
	const kmgr_t *m = c->k->mgr;

	if (m->obs && m->obs->request)
		m->obs->request(m->obs_ctx, c->k, c, ch, msg);
}

int kclient_send(kclient_t *c, kchannel_t ch, wire_msg_t *msg, err_t *err)
{
	kernel_t *k = c->k;
	const kmgr_config_t *cfg = &k->mgr->cfg;

	if (ch == KCH_IOPUB || ch >= KCH_COUNT)
		return err_set(err, CG_EINVAL, "clients cannot send on %s", kchannel_name(ch));
	kernel_touch(k);
	if (k->phase == PHASE_DEAD && !k->is_restarting) {
		char why[600];

		snprintf(why, sizeof why, "%s; restart the kernel", k->reason ? k->reason : "the kernel is dead");
		reply_error(c, ch, msg, "KernelDead", why);
		return 0;
	}
	if (!kernel_is_ready(k) || c->inbox.head) {
		if (msgq_push(&c->inbox, ch, msg, cfg->buffer_msgs, cfg->buffer_bytes))
			return err_set(err, CG_ETOOBIG, "too many messages waiting for the kernel");
		observe(c, ch, msg);
		return 0;
	}
	int rc = send_now(c, ch, msg, err);

	if (rc)
		return rc;
	observe(c, ch, msg);
	return 0;
}

void relay_kernel_ready(kernel_t *k)
{
	for (kclient_t *c = k->clients; c; c = c->next) {
		kchannel_t ch;
		wire_msg_t *m;

		while ((m = msgq_pop(&c->inbox, &ch))) {
			err_t err = { 0 };

			if (send_now(c, ch, m, &err))
				log_warn("kernels", "%.8s: %s", k->id, err.msg);
			wire_msg_unref(&m);
		}
	}
}

void relay_kernel_died(kernel_t *k, const char *reason)
{
	char why[600];

	snprintf(why, sizeof why, "%s; restart the kernel", reason);
	/* requests that were waiting for the kernel get an answer, not silence */
	for (kclient_t *c = k->clients; c; c = c->next) {
		kchannel_t ch;
		wire_msg_t *m;

		while ((m = msgq_pop(&c->inbox, &ch))) {
			reply_error(c, ch, m, "KernelDead", why);
			wire_msg_unref(&m);
		}
	}
}

void kclient_detach(kclient_t **self_p)
{
	kclient_t *c = *self_p;

	if (!c)
		return;
	*self_p = NULL;
	c->sink = NULL;
	c->ctx = NULL;
	c->detached_at = util_unix_time();
}

kernel_t *kclient_kernel(const kclient_t *c)
{
	return c->k;
}

void kclient_set_principal(kclient_t *c, const char *principal)
{
	snprintf(c->principal, sizeof c->principal, "%s", principal ? principal : "");
}

const char *kclient_principal(const kclient_t *c)
{
	return c->principal;
}

void relay_close_all(kernel_t *k, const char *why)
{
	while (k->clients) {
		kclient_t *c = k->clients;

		k->clients = c->next;
		if (c->sink)
			c->sink->closed(c->ctx, why);
		client_free(c);
	}
}

void relay_sweep(kernel_t *k, double now)
{
	kclient_t **p = &k->clients;

	while (*p) {
		kclient_t *c = *p;

		if (!c->sink && now - c->detached_at > k->mgr->cfg.detached_ttl_s) {
			*p = c->next;
			client_free(c);
		} else {
			p = &c->next;
		}
	}
}

size_t relay_connections(const kernel_t *k)
{
	size_t n = 0;

	for (const kclient_t *c = k->clients; c; c = c->next)
		n += c->sink != NULL;
	return n;
}
