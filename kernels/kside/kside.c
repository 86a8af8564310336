/*
 * kside: sockets, threads and the send/receive path of the kernel side.
 * The request handlers are in kside_shell.c.
 *
 * IOPub is a PUB socket owned by a proxy thread; every thread publishes
 * through its own inproc PUSH socket, so messages are signed where they are
 * made and no socket is shared between threads. Heartbeat is a ROUTER
 * proxied onto itself (an echo), as ipykernel does.
 */
#include "kside_private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "../../common/util.h"

#define IOPUB_INPROC "inproc://kside-iopub"
#define WAKE_INPROC "inproc://kside-wake"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

size_t kside_byte_offset(const char *code, size_t cursor)
{
	size_t i = 0, cp = 0;

	while (code[i] && cp < cursor) {
		i++;
		while (((unsigned char)code[i] & 0xC0) == 0x80)
			i++;
		cp++;
	}
	return i;
}

size_t kside_code_points(const char *s, size_t bytes)
{
	size_t n = 0;

	for (size_t i = 0; i < bytes; i++)
		n += ((unsigned char)s[i] & 0xC0) != 0x80;
	return n;
}

void kside_utf8_scrub(char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
		bool ok = n > 0 && i + n <= len;

		for (size_t k = 1; ok && k < n; k++)
			ok = ((unsigned char)s[i + k] >> 6) == 2;
		if (ok && c == 0)
			ok = false;
		if (!ok) {
			s[i++] = '?';
			continue;
		}
		i += n;
	}
}

int kside_send(kside_t *ks, void *sock, const wire_msg_t *msg)
{
	wire_slice_t frames[KSIDE_MAX_FRAMES];
	char sig[WIRE_SIG_HEX_LEN + 1];
	int n = wire_encode(msg, ks->key, frames, KSIDE_MAX_FRAMES, sig);

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if (zmq_send(sock, frames[i].data, frames[i].len, i + 1 < n ? ZMQ_SNDMORE : 0) < 0)
			return CG_ESYS;
	}
	return 0;
}

wire_msg_t *kside_recv(kside_t *ks, void *sock)
{
	zmq_msg_t parts[KSIDE_MAX_FRAMES];
	wire_slice_t frames[KSIDE_MAX_FRAMES];
	size_t n = 0;
	bool overflow = false;
	int more = 1;
	size_t more_len = sizeof more;
	wire_msg_t *msg = NULL;
	err_t err = { 0 };

	while (more) {
		zmq_msg_t *p = n < KSIDE_MAX_FRAMES ? &parts[n] : NULL;
		zmq_msg_t spill;

		if (!p)
			p = &spill;
		zmq_msg_init(p);
		if (zmq_msg_recv(p, sock, 0) < 0) {
			zmq_msg_close(p);
			break;
		}
		if (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &more_len))
			more = 0;
		if (p == &spill) {
			overflow = true;
			zmq_msg_close(p);
		} else {
			n++;
		}
	}
	for (size_t i = 0; i < n; i++)
		frames[i] = (wire_slice_t){ zmq_msg_data(&parts[i]), zmq_msg_size(&parts[i]) };
	if (overflow)
		fprintf(stderr, "kside: dropped a message of more than %d frames\n", KSIDE_MAX_FRAMES);
	else if (n && wire_decode(frames, n, ks->key, &wire_default_limits, &msg, &err))
		fprintf(stderr, "kside: dropped a message: %s\n", err.msg);
	for (size_t i = 0; i < n; i++)
		zmq_msg_close(&parts[i]);
	return msg;
}

static wire_msg_t *make_msg(kside_t *ks, const wire_msg_t *parent, const char *type,
			    json_t *content)
{
	char *text = content ? json_dumps(content, JSON_COMPACT) : NULL;
	err_t err = { 0 };
	wire_msg_t *m = NULL;

	json_decref(content);
	if (!text) {
		fprintf(stderr, "kside: cannot encode a %s\n", type);
		return NULL;
	}
	m = wire_msg_new(type, ks->session, "kernel", parent, text, &err);
	if (!m)
		fprintf(stderr, "kside: cannot build a %s: %s\n", type, err.msg);
	free(text);
	return m;
}

int kside_reply(kside_t *ks, void *sock, const wire_msg_t *parent, const char *type,
		json_t *content)
{
	wire_msg_t *m = make_msg(ks, parent, type, content);
	int rc = CG_EINVAL;

	if (!m)
		return rc;
	rc = 0;
	for (size_t i = 0; i < parent->n_ids && !rc; i++)
		rc = wire_msg_set_identity(m, parent->ids[i].data, parent->ids[i].len);
	if (!rc)
		rc = kside_send(ks, sock, m);
	wire_msg_unref(&m);
	return rc;
}

int kside_publish(kside_t *ks, void *push, const wire_msg_t *parent, const char *type,
		  json_t *content)
{
	wire_msg_t *m = make_msg(ks, parent, type, content);
	char topic[64];
	int rc = CG_EINVAL;

	if (!m)
		return rc;
	/* The topic frame, as ipykernel names it; clients subscribe to "". */
	snprintf(topic, sizeof topic, "kernel.%.8s.%s", ks->session, type);
	rc = wire_msg_set_identity(m, topic, strlen(topic));
	if (!rc)
		rc = kside_send(ks, push, m);
	wire_msg_unref(&m);
	return rc;
}

int kside_publish_status(kside_t *ks, void *push, const wire_msg_t *parent, const char *state)
{
	return kside_publish(ks, push, parent, "status",
			     json_pack("{s:s}", "execution_state", state));
}

/* --- output of the current request ----------------------------------- */

static void flush_stream(kside_t *ks, int which)
{
	kside_strbuf_t *b = &ks->streams[which];

	if (!b->len)
		return;
	kside_utf8_scrub(b->data, b->len);
	kside_publish(ks, ks->iopub_push, ks->parent, "stream",
		      json_pack("{s:s, s:s%}", "name", which ? "stderr" : "stdout",
				"text", b->data, b->len));
	b->len = 0;
	ks->last_flush_ns = now_ns();
}

void kside_flush_streams(kside_t *ks)
{
	flush_stream(ks, 0);
	flush_stream(ks, 1);
}

void kside_stream(kside_t *ks, const char *name, const char *text, size_t len)
{
	int which = strcmp(name, "stderr") == 0;
	kside_strbuf_t *b = &ks->streams[which];

	if (!ks->parent || !len)
		return;
	flush_stream(ks, !which); /* keep stdout and stderr in order */
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + len + 1)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p)
			return;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, text, len);
	b->len += len;
	b->data[b->len] = '\0';
	if (b->len >= KSIDE_STREAM_FLUSH_BYTES ||
	    (memchr(text, '\n', len) && now_ns() - ks->last_flush_ns > KSIDE_STREAM_FLUSH_NS))
		flush_stream(ks, which);
}

void kside_display(kside_t *ks, json_t *data, json_t *metadata)
{
	if (!metadata)
		metadata = json_object();
	if (!ks->parent) {
		json_decref(data);
		json_decref(metadata);
		return;
	}
	kside_flush_streams(ks);
	kside_publish(ks, ks->iopub_push, ks->parent, "display_data",
		      json_pack("{s:o, s:o, s:{}}", "data", data, "metadata", metadata,
				"transient"));
}

void kside_result(kside_t *ks, json_t *data, json_t *metadata)
{
	const char *plain;

	if (!metadata)
		metadata = json_object();
	if (!ks->parent || ks->exec.silent) {
		json_decref(data);
		json_decref(metadata);
		return;
	}
	plain = json_string_value(json_object_get(data, "text/plain"));
	free(ks->last_result_text);
	ks->last_result_text = plain ? strdup(plain) : NULL;
	kside_flush_streams(ks);
	kside_publish(ks, ks->iopub_push, ks->parent, "execute_result",
		      json_pack("{s:I, s:o, s:o}", "execution_count",
				(json_int_t)ks->exec.execution_count, "data", data,
				"metadata", metadata));
}

void kside_error(kside_t *ks, const char *ename, const char *evalue, json_t *traceback)
{
	json_t *c;

	if (!traceback)
		traceback = json_array();
	if (!ks->parent) {
		json_decref(traceback);
		return;
	}
	kside_flush_streams(ks);
	c = json_pack("{s:s, s:s, s:o}", "ename", ename, "evalue", evalue, "traceback", traceback);
	if (!c)
		return;
	json_decref(ks->error_content);
	ks->error_content = c;
	kside_publish(ks, ks->iopub_push, ks->parent, "error", json_deep_copy(c));
}

char *kside_input(kside_t *ks, const char *prompt, bool password)
{
	char *answer = NULL;

	if (!ks->parent || !ks->exec.allow_stdin)
		return NULL;
	kside_flush_streams(ks);
	if (kside_reply(ks, ks->stdin_sock, ks->parent, "input_request",
			json_pack("{s:s, s:b}", "prompt", prompt, "password", password)))
		return NULL;
	while (!answer && !ks->interrupted && !atomic_load(&ks->stopping)) {
		zmq_pollitem_t it = { ks->stdin_sock, 0, ZMQ_POLLIN, 0 };
		wire_msg_t *m;
		const char *value;

		if (zmq_poll(&it, 1, 100) <= 0)
			continue;
		m = kside_recv(ks, ks->stdin_sock);
		if (!m)
			continue;
		if (!strcmp(m->msg_type, "input_reply")) {
			json_t *c = json_loadb(m->content.data, m->content.len, 0, NULL);

			value = json_string_value(json_object_get(c, "value"));
			answer = strdup(value ? value : "");
			json_decref(c);
		}
		wire_msg_unref(&m);
	}
	return answer;
}

int kside_signal_main(kside_t *ks, int sig)
{
	return pthread_kill(ks->main_thread, sig) ? CG_ESYS : 0;
}

bool kside_is_interrupted(const kside_t *ks)
{
	return ks->interrupted != 0;
}

/* --- threads ---------------------------------------------------------- */

static void *hb_main(void *arg)
{
	kside_t *ks = arg;

	zmq_proxy(ks->hb, ks->hb, NULL); /* returns when the context terminates */
	zmq_close(ks->hb);
	return NULL;
}

static void *iopub_main(void *arg)
{
	kside_t *ks = arg;

	zmq_proxy(ks->iopub_pull, ks->iopub_pub, NULL);
	zmq_close(ks->iopub_pull);
	zmq_close(ks->iopub_pub);
	return NULL;
}

static void control_handle(kside_t *ks, wire_msg_t *m)
{
	void *push = ks->control_push;

	kside_publish_status(ks, push, m, "busy");
	if (!strcmp(m->msg_type, "kernel_info_request")) {
		kside_reply(ks, ks->control, m, "kernel_info_reply", kside_kernel_info(ks));
	} else if (!strcmp(m->msg_type, "interrupt_request")) {
		ks->interrupted = 1;
		if (ks->be->interrupt)
			ks->be->interrupt(ks->be->ctx, ks);
		else
			kside_signal_main(ks, SIGINT);
		kside_reply(ks, ks->control, m, "interrupt_reply", json_pack("{s:s}", "status", "ok"));
	} else if (!strcmp(m->msg_type, "shutdown_request")) {
		json_t *c = json_loadb(m->content.data, m->content.len, 0, NULL);
		bool restart = json_is_true(json_object_get(c, "restart"));

		json_decref(c);
		ks->restart = restart;
		kside_reply(ks, ks->control, m, "shutdown_reply",
			    json_pack("{s:s, s:b}", "status", "ok", "restart", restart));
		atomic_store(&ks->stopping, true);
		zmq_send(ks->wake_push, "x", 1, ZMQ_DONTWAIT);
	} else {
		fprintf(stderr, "kside: no handler for %s on control\n", m->msg_type);
	}
	kside_publish_status(ks, push, m, "idle");
}

static void *control_main(void *arg)
{
	kside_t *ks = arg;
	uint64_t stop_seen = 0;

	for (;;) {
		zmq_pollitem_t it = { ks->control, 0, ZMQ_POLLIN, 0 };
		int rc = zmq_poll(&it, 1, 100);

		if (rc < 0 && zmq_errno() == ETERM)
			break;
		if (rc > 0) {
			wire_msg_t *m = kside_recv(ks, ks->control);

			if (m)
				control_handle(ks, m);
			wire_msg_unref(&m);
		}
		if (atomic_load(&ks->stopping)) {
			/* A cell that does not end is not a reason to outlive a
			 * shutdown: the reply has gone, give the sockets a moment. */
			if (!stop_seen)
				stop_seen = now_ns();
			else if (now_ns() - stop_seen > 2000000000ull)
				_exit(0);
		}
	}
	zmq_close(ks->control);
	zmq_close(ks->control_push);
	zmq_close(ks->wake_push);
	return NULL;
}

/* --- setup and the main loop ------------------------------------------ */

static void *open_socket(kside_t *ks, int type, const char *endpoint, bool connect,
			 err_t *err)
{
	void *s = zmq_socket(ks->zctx, type);
	int linger = 1000;

	if (!s) {
		err_set(err, CG_ESYS, "zmq_socket: %s", zmq_strerror(zmq_errno()));
		return NULL;
	}
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
	if ((connect ? zmq_connect(s, endpoint) : zmq_bind(s, endpoint)) < 0) {
		err_set(err, CG_ESYS, "%s %s: %s", connect ? "connect" : "bind", endpoint,
			zmq_strerror(zmq_errno()));
		zmq_close(s);
		return NULL;
	}
	return s;
}

static int open_sockets(kside_t *ks, const kside_conn_t *c, err_t *err)
{
	char ep[320];
	struct {
		void **sock;
		int type;
		int port;
	} binds[] = {
		{ &ks->shell, ZMQ_ROUTER, c->shell_port },
		{ &ks->control, ZMQ_ROUTER, c->control_port },
		{ &ks->stdin_sock, ZMQ_ROUTER, c->stdin_port },
		{ &ks->iopub_pub, ZMQ_PUB, c->iopub_port },
		{ &ks->hb, ZMQ_ROUTER, c->hb_port },
	};

	for (size_t i = 0; i < sizeof binds / sizeof binds[0]; i++) {
		if (kside_conn_endpoint(c, binds[i].port, ep, sizeof ep))
			return err_set(err, CG_ETOOBIG, "endpoint too long");
		*binds[i].sock = open_socket(ks, binds[i].type, ep, false, err);
		if (!*binds[i].sock)
			return CG_ESYS;
	}
	ks->iopub_pull = open_socket(ks, ZMQ_PULL, IOPUB_INPROC, false, err);
	ks->wake_pull = ks->iopub_pull ? open_socket(ks, ZMQ_PULL, WAKE_INPROC, false, err) : NULL;
	ks->iopub_push = ks->wake_pull ? open_socket(ks, ZMQ_PUSH, IOPUB_INPROC, true, err) : NULL;
	ks->control_push = ks->iopub_push ? open_socket(ks, ZMQ_PUSH, IOPUB_INPROC, true, err) : NULL;
	ks->wake_push = ks->control_push ? open_socket(ks, ZMQ_PUSH, WAKE_INPROC, true, err) : NULL;
	return ks->wake_push ? 0 : CG_ESYS;
}

static void close_if(void **s)
{
	if (*s)
		zmq_close(*s);
	*s = NULL;
}

int kside_run(const char *connection_file, const kside_backend_t *be, err_t *err)
{
	kside_t ks_storage, *ks = &ks_storage;
	kside_conn_t conn;
	sigset_t intr, old;
	int rc;

	memset(ks, 0, sizeof *ks);
	ks->be = be;
	ks->main_thread = pthread_self();
	if (util_uuid4(ks->session))
		return err_set(err, CG_ESYS, "no randomness for a session id");
	rc = kside_conn_load(connection_file, &conn, err);
	if (rc)
		return rc;
	ks->key = wire_key_new(conn.key, conn.key_len, err);
	if (!ks->key) {
		kside_conn_clear(&conn);
		return CG_EINVAL;
	}

	/* Every thread made from here on (ours and libzmq's) blocks SIGINT. */
	sigemptyset(&intr);
	sigaddset(&intr, SIGINT);
	pthread_sigmask(SIG_BLOCK, &intr, &old);
	ks->zctx = zmq_ctx_new();
	rc = ks->zctx ? open_sockets(ks, &conn, err) : err_set(err, CG_ESYS, "zmq_ctx_new failed");
	if (!rc) {
		ks->has_hb = !pthread_create(&ks->hb_thread, NULL, hb_main, ks);
		ks->has_iopub = !pthread_create(&ks->iopub_thread, NULL, iopub_main, ks);
		ks->has_control = !pthread_create(&ks->control_thread, NULL, control_main, ks);
		if (!ks->has_hb || !ks->has_iopub || !ks->has_control)
			rc = err_set(err, CG_ESYS, "cannot start the kernel's threads");
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	kside_conn_clear(&conn);

	/* Clients learn the kernel is up from this first status. */
	if (!rc)
		kside_publish_status(ks, ks->iopub_push, NULL, "starting");
	while (!rc && !atomic_load(&ks->stopping)) {
		zmq_pollitem_t items[] = {
			{ ks->shell, 0, ZMQ_POLLIN, 0 },
			{ ks->wake_pull, 0, ZMQ_POLLIN, 0 },
		};

		if (zmq_poll(items, 2, -1) < 0) {
			if (zmq_errno() == EINTR)
				continue;
			rc = err_set(err, CG_ESYS, "zmq_poll: %s", zmq_strerror(zmq_errno()));
			break;
		}
		if (items[0].revents & ZMQ_POLLIN) {
			wire_msg_t *m = kside_recv(ks, ks->shell);

			if (m)
				kside_shell_dispatch(ks, m);
			wire_msg_unref(&m);
		}
	}

	atomic_store(&ks->stopping, true);
	close_if(&ks->shell);
	close_if(&ks->stdin_sock);
	close_if(&ks->iopub_push);
	close_if(&ks->wake_pull);
	if (ks->zctx) {
		if (!ks->has_hb)
			close_if(&ks->hb);
		if (!ks->has_iopub) {
			close_if(&ks->iopub_pull);
			close_if(&ks->iopub_pub);
		}
		if (!ks->has_control) {
			close_if(&ks->control);
			close_if(&ks->control_push);
			close_if(&ks->wake_push);
		}
		zmq_ctx_shutdown(ks->zctx);
		if (ks->has_hb)
			pthread_join(ks->hb_thread, NULL);
		if (ks->has_iopub)
			pthread_join(ks->iopub_thread, NULL);
		if (ks->has_control)
			pthread_join(ks->control_thread, NULL);
		zmq_ctx_term(ks->zctx);
	}
	for (int i = 0; i < 2; i++)
		free(ks->streams[i].data);
	free(ks->last_result_text);
	json_decref(ks->error_content);
	kside_history_clear(ks);
	wire_key_free(&ks->key);
	return rc;
}
