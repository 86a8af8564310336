/*
 * kernels/zsock.c against libzmq: a pyzmq peer (tests/unit/zsock_peer.py,
 * run with /usr/bin/python3) binds ROUTER, PUB and REP sockets, as a kernel
 * does, and zsock connects DEALER, SUB and REQ to them on a uv loop. Also
 * connect-before-bind, queueing, the queue's cap, a peer that dies and comes
 * back, closing from callbacks and with writes pending, and in-process
 * hostile peers that break the protocol. Every wait is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "../../kernels/zmtp_codec.h"
#include "../../kernels/zsock.h"

#define PEER_SCRIPT "tests/unit/zsock_peer.py"
#define WAIT_MS 4000

static uv_loop_t loop;
static uv_timer_t tick;
static void *zctx;
static char dir[64];

/* --- a pyzmq peer in a child process ------------------------------------- */

typedef struct peer {
	uv_process_t proc;
	bool is_running;
	bool has_exited;
} peer_t;

/* Handles live outside the tests' stack frames, so a failed assertion
 * cannot leave libuv pointing into a dead frame. */
static peer_t peer;
static uv_timer_t pinger, later;

static void on_peer_closed(uv_handle_t *h)
{
	peer_t *p = h->data;

	p->is_running = false;
}

static void on_peer_exit(uv_process_t *proc, int64_t status, int sig)
{
	peer_t *p = proc->data;

	(void)status;
	(void)sig;
	p->has_exited = true;
	uv_close((uv_handle_t *)proc, on_peer_closed);
}

#define RUN_UNTIL(cond, ms)                                                   \
	do {                                                                  \
		uint64_t deadline_ = uv_now(&loop) + (ms);                    \
		while (!(cond) && uv_now(&loop) < deadline_)                  \
			uv_run(&loop, UV_RUN_ONCE);                           \
	} while (0)

static void peer_start(peer_t *p, const char *kind, const char *where)
{
	char *args[] = { "/usr/bin/python3", PEER_SCRIPT, (char *)kind, (char *)where, NULL };
	uv_stdio_container_t stdio[3] = {
		{ .flags = UV_IGNORE }, { .flags = UV_IGNORE },
		{ .flags = UV_INHERIT_FD, .data.fd = 2 },
	};
	uv_process_options_t o = { .file = args[0], .args = args, .exit_cb = on_peer_exit,
				   .stdio = stdio, .stdio_count = 3 };

	memset(p, 0, sizeof *p);
	p->proc.data = p;
	assert_int_equal(uv_spawn(&loop, &p->proc, &o), 0);
	p->is_running = true;
}

static void peer_kill(peer_t *p)
{
	if (!p->is_running)
		return;
	if (!p->has_exited)
		uv_process_kill(&p->proc, SIGKILL);
	RUN_UNTIL(!p->is_running, WAIT_MS);
	assert_false(p->is_running);
}

/* Sockets a test opened and has not closed, closed by teardown when an
 * assertion cut the test short. */
static zsock_t *opened[16];

static void close_sock(zsock_t **p)
{
	for (size_t i = 0; i < sizeof opened / sizeof *opened; i++)
		if (opened[i] && opened[i] == *p)
			opened[i] = NULL;
	zsock_close(p);
}

/* --- what a socket received ---------------------------------------------- */

typedef struct rx {
	int count;
	size_t n_frames;           /* of the last message */
	char frame[4][512];        /* its first frames, NUL-terminated, cut */
	size_t len[8];
	int out_of_order;          /* messages "m<i>" not in sequence */
	int next_seq;
	zsock_t **close_self;      /* closed from the callback when set */
	zsock_t **close_other;
} rx_t;

static void on_rx(void *arg, zsock_t *s, const wire_slice_t *f, size_t n)
{
	rx_t *r = arg;

	(void)s;
	r->count++;
	r->n_frames = n;
	for (size_t i = 0; i < n && i < 8; i++) {
		r->len[i] = f[i].len;
		if (i < 4) {
			size_t k = f[i].len < 511 ? f[i].len : 511;

			memcpy(r->frame[i], f[i].data, k);
			r->frame[i][k] = '\0';
		}
	}
	/* DEALER replies are [identity, payload...]: check the sequence */
	if (n >= 2 && r->frame[1][0] == 'm') {
		if (atoi(r->frame[1] + 1) != r->next_seq)
			r->out_of_order++;
		r->next_seq++;
	}
	if (r->close_self)
		close_sock(r->close_self);
	if (r->close_other)
		close_sock(r->close_other);
}

static zsock_t *open_sock(int type, const char *name, const char *identity, rx_t *rx)
{
	char ep[128];
	zsock_opts_t o = { .type = type, .endpoint = ep, .on_recv = on_rx, .arg = rx };
	err_t err = { 0 };
	zsock_t *s;

	if (strstr(name, "://"))
		snprintf(ep, sizeof ep, "%s", name);
	else
		snprintf(ep, sizeof ep, "ipc://%s/%s", dir, name);
	if (identity) {
		o.identity = identity;
		o.identity_len = strlen(identity);
	}
	s = zsock_connect(&loop, zctx, &o, &err);
	assert_non_null(s);
	for (size_t i = 0; i < sizeof opened / sizeof *opened; i++)
		if (!opened[i]) {
			opened[i] = s;
			break;
		}
	return s;
}

static int send_str(zsock_t *s, const char *a, const char *b)
{
	wire_slice_t f[2] = { { a, strlen(a) }, { b, b ? strlen(b) : 0 } };

	return zsock_send(s, f, b ? 2 : 1);
}

/* --- fixtures ------------------------------------------------------------ */

static void on_tick(uv_timer_t *t)
{
	(void)t; /* wakes the loop so RUN_UNTIL sees its deadline */
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/zsock-test-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	uv_loop_init(&loop);
	uv_timer_init(&loop, &tick);
	uv_timer_start(&tick, on_tick, 5, 5);
	zctx = zsock_context_new();
	return zctx ? 0 : -1;
}

static void on_walk_close(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void fake_stop_if_running(void);

static int teardown(void **state)
{
	uint64_t deadline;
	char cmd[128];
	int rc;

	(void)state;
	if (peer.is_running && !peer.has_exited)
		uv_process_kill(&peer.proc, SIGKILL);
	for (size_t i = 0; i < sizeof opened / sizeof *opened; i++)
		zsock_close(&opened[i]);
	fake_stop_if_running();
	zsock_context_free(&zctx);
	/* every zsock must let go of the loop by itself, soon */
	uv_unref((uv_handle_t *)&tick);
	deadline = uv_now(&loop) + 2000;
	while (uv_loop_alive(&loop) && uv_now(&loop) < deadline)
		uv_run(&loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&tick, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	rc = uv_loop_close(&loop);
	if (rc) {
		fprintf(stderr, "teardown: handles still open\n");
		uv_walk(&loop, on_walk_close, NULL);
		uv_run(&loop, UV_RUN_NOWAIT);
		uv_loop_close(&loop);
	}
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		return -1;
	return rc == 0 ? 0 : -1;
}

/* --- tests against libzmq ------------------------------------------------ */

static void test_dealer_router(void **state)
{
	rx_t rx = { 0 };
	zsock_t *d;
	size_t big_len = 3u << 20;
	char *big = malloc(big_len);

	(void)state;
	peer_start(&peer, "ipc", dir);
	d = open_sock(ZSOCK_DEALER, "router", "cg-client-7", &rx);
	assert_int_equal(send_str(d, "hello", "world"), 0);
	RUN_UNTIL(rx.count >= 1, WAIT_MS);
	assert_int_equal(rx.count, 1);
	assert_int_equal(rx.n_frames, 3);
	assert_string_equal(rx.frame[0], "cg-client-7"); /* what the ROUTER saw */
	assert_string_equal(rx.frame[1], "hello");
	assert_string_equal(rx.frame[2], "world");

	/* a long frame, and an empty one, both ways */
	memset(big, 'B', big_len);
	{
		wire_slice_t f[3] = { { "big", 3 }, { big, big_len }, { "", 0 } };

		assert_int_equal(zsock_send(d, f, 3), 0);
	}
	RUN_UNTIL(rx.count >= 2, WAIT_MS);
	assert_int_equal(rx.count, 2);
	assert_int_equal(rx.n_frames, 4);
	assert_string_equal(rx.frame[1], "big");
	assert_int_equal(rx.len[2], big_len);
	assert_int_equal(rx.len[3], 0);

	/* SUB cannot send */
	{
		rx_t srx = { 0 };
		zsock_t *sub = open_sock(ZSOCK_SUB, "pub", NULL, &srx);

		assert_int_equal(send_str(sub, "x", NULL), CG_EINVAL);
		close_sock(&sub);
		assert_null(sub);
	}
	close_sock(&d);
	peer_kill(&peer);
	free(big);
}

static void test_sub_pub(void **state)
{
	rx_t rx = { 0 };
	zsock_t *s;
	int first;

	(void)state;
	peer_start(&peer, "ipc", dir);
	s = open_sock(ZSOCK_SUB, "pub", NULL, &rx);
	RUN_UNTIL(rx.count >= 1, WAIT_MS);
	assert_int_equal(rx.n_frames, 3);
	assert_string_equal(rx.frame[0], "topic");
	assert_int_equal(rx.len[2], 300);
	assert_int_equal(rx.frame[2][299], 'p');
	first = atoi(rx.frame[1]);
	RUN_UNTIL(rx.count >= 4, WAIT_MS);
	assert_true(rx.count >= 4);
	assert_true(atoi(rx.frame[1]) > first);
	close_sock(&s);
	peer_kill(&peer);
}

static void test_req_rep(void **state)
{
	rx_t rx = { 0 };
	zsock_t *r;

	(void)state;
	peer_start(&peer, "ipc", dir);
	r = open_sock(ZSOCK_REQ, "rep", NULL, &rx);
	assert_int_equal(send_str(r, "ping1", NULL), 0);
	RUN_UNTIL(rx.count >= 1, WAIT_MS);
	assert_int_equal(rx.count, 1);
	assert_int_equal(rx.n_frames, 1); /* the delimiter is stripped */
	assert_string_equal(rx.frame[0], "ping1");
	/* relaxed: a second request while the first is outstanding */
	assert_int_equal(send_str(r, "ping2", "two"), 0);
	assert_int_equal(send_str(r, "ping3", NULL), 0);
	RUN_UNTIL(rx.count >= 3, WAIT_MS);
	assert_int_equal(rx.count, 3);
	assert_string_equal(rx.frame[0], "ping3");
	close_sock(&r);
	peer_kill(&peer);
}

static void on_start_peer(uv_timer_t *t)
{
	peer_start(t->data, "ipc", dir);
}

/* Sockets connect before anyone binds; what they send meanwhile is queued
 * and delivered, in order, once the peer turns up 200 ms later. */
static void test_connect_before_bind(void **state)
{
	rx_t drx = { 0 }, srx = { 0 }, rrx = { 0 };
	zsock_t *d, *s, *r;
	char m[16];

	(void)state;
	d = open_sock(ZSOCK_DEALER, "router", "early-bird", &drx);
	s = open_sock(ZSOCK_SUB, "pub", NULL, &srx);
	r = open_sock(ZSOCK_REQ, "rep", NULL, &rrx);
	for (int i = 0; i < 50; i++) {
		snprintf(m, sizeof m, "m%d", i);
		assert_int_equal(send_str(d, m, "queued"), 0);
	}
	assert_int_equal(send_str(r, "early", NULL), 0);
	uv_timer_init(&loop, &later);
	later.data = &peer;
	uv_timer_start(&later, on_start_peer, 200, 0);
	RUN_UNTIL(drx.count >= 50 && rrx.count >= 1 && srx.count >= 1, WAIT_MS);
	assert_int_equal(drx.count, 50);
	assert_int_equal(drx.out_of_order, 0);
	assert_string_equal(drx.frame[0], "early-bird");
	assert_string_equal(drx.frame[2], "queued");
	assert_int_equal(rrx.count, 1);
	assert_string_equal(rrx.frame[0], "early");
	assert_true(srx.count >= 1);
	uv_close((uv_handle_t *)&later, NULL);
	close_sock(&d);
	close_sock(&s);
	close_sock(&r);
	peer_kill(&peer);
}

/* With nobody there, the queue takes ZSOCK_MAX_QUEUE bytes, then refuses. */
static void test_queue_cap(void **state)
{
	rx_t rx = { 0 };
	zsock_t *d;
	size_t len = 1u << 20;
	char *mb = calloc(1, len);
	wire_slice_t f[1] = { { mb, len } };
	int sent = 0, rc = 0;

	(void)state;
	d = open_sock(ZSOCK_DEALER, "nobody", NULL, &rx);
	while (sent < 200 && (rc = zsock_send(d, f, 1)) == 0)
		sent++;
	assert_int_equal(rc, CG_ETOOBIG);
	assert_true(sent >= 63 && sent <= 64);
	/* a failed attempt or two later, still refused, still alive */
	RUN_UNTIL(false, 30);
	assert_int_equal(zsock_send(d, f, 1), CG_ETOOBIG);
	assert_int_equal(send_str(d, "small", NULL), 0); /* what still fits */
	close_sock(&d); /* frees 64 MiB of queue */

	/* one message over the cap goes into an empty queue; then nothing */
	d = open_sock(ZSOCK_DEALER, "nobody", NULL, &rx);
	mb = realloc(mb, ZSOCK_MAX_QUEUE + 1);
	memset(mb, 0, ZSOCK_MAX_QUEUE + 1);
	f[0] = (wire_slice_t){ mb, ZSOCK_MAX_QUEUE + 1 };
	assert_int_equal(zsock_send(d, f, 1), 0);
	assert_int_equal(send_str(d, "small", NULL), CG_ETOOBIG);
	close_sock(&d);
	free(mb);
}

static void on_ping(uv_timer_t *t)
{
	send_str(t->data, "ping", NULL);
}

/* The peer is killed and comes back: DEALER, SUB and REQ reconnect. */
static void test_reconnect(void **state)
{
	rx_t drx = { 0 }, srx = { 0 }, rrx = { 0 };
	zsock_t *d, *s, *r;
	int d0, s0, r0;

	(void)state;
	peer_start(&peer, "ipc", dir);
	d = open_sock(ZSOCK_DEALER, "router", "phoenix", &drx);
	s = open_sock(ZSOCK_SUB, "pub", NULL, &srx);
	r = open_sock(ZSOCK_REQ, "rep", NULL, &rrx);
	uv_timer_init(&loop, &pinger);
	uv_timer_init(&loop, &later);
	pinger.data = d;
	uv_timer_start(&pinger, on_ping, 0, 50);
	send_str(r, "hb", NULL);
	RUN_UNTIL(drx.count >= 1 && srx.count >= 1 && rrx.count >= 1, WAIT_MS);
	assert_true(drx.count >= 1 && srx.count >= 1 && rrx.count >= 1);

	peer_kill(&peer);
	RUN_UNTIL(false, 100); /* let the sockets notice */
	d0 = drx.count;
	s0 = srx.count;
	r0 = rrx.count;
	later.data = &peer;
	uv_timer_start(&later, on_start_peer, 100, 0);
	send_str(r, "hb-again", NULL);
	RUN_UNTIL(drx.count > d0 + 1 && srx.count > s0 && rrx.count > r0, WAIT_MS);
	assert_true(drx.count > d0 + 1);
	assert_string_equal(drx.frame[0], "phoenix");
	assert_true(srx.count > s0);
	assert_int_equal(rrx.count, r0 + 1);
	assert_string_equal(rrx.frame[0], "hb-again");
	uv_close((uv_handle_t *)&pinger, NULL);
	uv_close((uv_handle_t *)&later, NULL);
	close_sock(&d);
	close_sock(&s);
	close_sock(&r);
	peer_kill(&peer);
}

static void test_tcp(void **state)
{
	rx_t drx = { 0 }, srx = { 0 }, rrx = { 0 };
	zsock_t *d, *s, *r;
	char ep[3][64], path[128];
	int port[3] = { 0 };
	FILE *fp = NULL;

	(void)state;
	/* the peer picks free ports and says which */
	peer_start(&peer, "tcp", dir);
	snprintf(path, sizeof path, "%s/ports", dir);
	RUN_UNTIL(access(path, R_OK) == 0, WAIT_MS);
	fp = fopen(path, "r");
	assert_non_null(fp);
	assert_int_equal(fscanf(fp, "%d %d %d", &port[0], &port[1], &port[2]), 3);
	fclose(fp);
	snprintf(ep[0], sizeof ep[0], "tcp://127.0.0.1:%d", port[0]);
	snprintf(ep[1], sizeof ep[1], "tcp://127.0.0.1:%d", port[1]);
	snprintf(ep[2], sizeof ep[2], "tcp://localhost:%d", port[2]);
	d = open_sock(ZSOCK_DEALER, ep[0], "tcp-client", &drx);
	s = open_sock(ZSOCK_SUB, ep[1], NULL, &srx);
	r = open_sock(ZSOCK_REQ, ep[2], NULL, &rrx);
	assert_int_equal(send_str(d, "over", "tcp"), 0);
	assert_int_equal(send_str(r, "echo", NULL), 0);
	RUN_UNTIL(drx.count >= 1 && srx.count >= 1 && rrx.count >= 1, WAIT_MS);
	assert_int_equal(drx.count, 1);
	assert_string_equal(drx.frame[0], "tcp-client");
	assert_string_equal(drx.frame[2], "tcp");
	assert_true(srx.count >= 1);
	assert_string_equal(rrx.frame[0], "echo");
	close_sock(&d);
	close_sock(&s);
	close_sock(&r);
	peer_kill(&peer);
}

static void test_bad_options(void **state)
{
	zsock_opts_t o = { .type = ZSOCK_DEALER, .on_recv = on_rx };
	char id[300];
	err_t err = { 0 };

	(void)state;
	memset(id, 'i', sizeof id);
	o.endpoint = "inproc://x";
	assert_null(zsock_connect(&loop, zctx, &o, &err));
	o.endpoint = "tcp://example.com:80"; /* no name lookups on the loop */
	assert_null(zsock_connect(&loop, zctx, &o, &err));
	o.endpoint = "tcp://127.0.0.1";
	assert_null(zsock_connect(&loop, zctx, &o, &err));
	o.endpoint = "tcp://127.0.0.1:99999";
	assert_null(zsock_connect(&loop, zctx, &o, &err));
	o.endpoint = "ipc://";
	assert_null(zsock_connect(&loop, zctx, &o, &err));
	memset(id + 1, 'p', sizeof id - 2);
	id[sizeof id - 1] = '\0';
	memcpy(id, "ipc://", 6);
	o.endpoint = id; /* longer than sun_path */
	assert_null(zsock_connect(&loop, zctx, &o, &err));
	o.endpoint = "ipc:///tmp/x";
	o.identity = id;
	o.identity_len = 256;
	assert_null(zsock_connect(&loop, zctx, &o, &err));
	o.identity = "\0abc";
	o.identity_len = 4;
	assert_null(zsock_connect(&loop, zctx, &o, &err));
	o.identity = NULL;
	o.type = 99;
	assert_null(zsock_connect(&loop, zctx, &o, &err));
	/* well-formed ones are accepted, and connect in the background */
	o.type = ZSOCK_REQ;
	o.endpoint = "tcp://[::1]:1";
	{
		zsock_t *s = zsock_connect(&loop, zctx, &o, &err);

		assert_non_null(s);
		RUN_UNTIL(false, 20);
		close_sock(&s);
	}
}

/* A callback closes its own socket and another; neither calls back again. */
static void test_close_in_callback(void **state)
{
	rx_t drx = { 0 }, srx = { 0 };
	zsock_t *d, *s;
	int s0;

	(void)state;
	peer_start(&peer, "ipc", dir);
	d = open_sock(ZSOCK_DEALER, "router", "closer", &drx);
	s = open_sock(ZSOCK_SUB, "pub", NULL, &srx);
	RUN_UNTIL(srx.count >= 1, WAIT_MS);
	drx.close_self = &d;
	drx.close_other = &s;
	/* two replies may arrive in one read: the second must not be delivered */
	assert_int_equal(send_str(d, "one", NULL), 0);
	assert_int_equal(send_str(d, "two", NULL), 0);
	RUN_UNTIL(drx.count >= 1, WAIT_MS);
	assert_null(d);
	assert_null(s);
	s0 = srx.count;
	RUN_UNTIL(false, 150);
	assert_int_equal(drx.count, 1);
	assert_int_equal(srx.count, s0);
	peer_kill(&peer);
}

/* Closing with writes in flight, queued, or while still connecting. */
static void test_close_pending(void **state)
{
	rx_t rx = { 0 }, rx2 = { 0 };
	zsock_t *d, *c;
	size_t len = 4u << 20;
	char *buf = calloc(1, len);
	wire_slice_t f[2] = { { "bulk", 4 }, { buf, len } };

	(void)state;
	peer_start(&peer, "ipc", dir);
	d = open_sock(ZSOCK_DEALER, "router", NULL, &rx);
	assert_int_equal(send_str(d, "hi", NULL), 0);
	RUN_UNTIL(rx.count >= 1, WAIT_MS);
	for (int i = 0; i < 12; i++)
		assert_int_equal(zsock_send(d, f, 2), 0);
	uv_run(&loop, UV_RUN_NOWAIT); /* a write is in flight now */
	close_sock(&d);
	c = open_sock(ZSOCK_DEALER, "nobody-yet", NULL, &rx2);
	assert_int_equal(zsock_send(c, f, 2), 0);
	close_sock(&c);
	RUN_UNTIL(false, 50);
	peer_kill(&peer);
	free(buf);
}

/* --- hostile peers, in process ------------------------------------------- */

typedef struct fake {
	uv_pipe_t server;
	int accepts;
	const uint8_t *script; /* sent to every client that connects */
	size_t script_len;
	bool is_deaf_first;    /* do not read the first connection */
	uv_pipe_t *last;       /* the latest client */
	uint8_t *rec;          /* what the latest client sent */
	size_t rec_len;
} fake_t;

static fake_t fake;
static char fake_marker; /* the data of a fake's client handles */

static void on_fake_client_closed(uv_handle_t *h)
{
	if (fake.last == (uv_pipe_t *)h)
		fake.last = NULL;
	free(h);
}

static void on_fake_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	static char buf[65536];

	(void)h;
	(void)hint;
	*b = uv_buf_init(buf, sizeof buf);
}

static void on_fake_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	if (n < 0) {
		uv_close((uv_handle_t *)st, on_fake_client_closed);
		return;
	}
	if (st == (uv_stream_t *)fake.last && n > 0) {
		fake.rec = realloc(fake.rec, fake.rec_len + (size_t)n);
		memcpy(fake.rec + fake.rec_len, b->base, (size_t)n);
		fake.rec_len += (size_t)n;
	}
}

static void on_fake_written(uv_write_t *w, int status)
{
	(void)status;
	free(w);
}

static void fake_write(uv_pipe_t *c, const void *data, size_t len)
{
	uv_write_t *w = malloc(sizeof *w);
	uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);

	uv_write(w, (uv_stream_t *)c, &b, 1, on_fake_written);
}

static void on_fake_conn(uv_stream_t *server, int status)
{
	uv_pipe_t *c = malloc(sizeof *c);

	(void)server;
	assert_int_equal(status, 0);
	uv_pipe_init(&loop, c, 0);
	c->data = &fake_marker;
	assert_int_equal(uv_accept(server, (uv_stream_t *)c), 0);
	fake.accepts++;
	fake.last = c;
	fake.rec_len = 0;
	if (!(fake.is_deaf_first && fake.accepts == 1))
		uv_read_start((uv_stream_t *)c, on_fake_alloc, on_fake_read);
	fake_write(c, fake.script, fake.script_len);
}

static void fake_start(const char *name, const uint8_t *script, size_t len)
{
	char path[128];

	free(fake.rec);
	memset(&fake, 0, sizeof fake);
	fake.script = script;
	fake.script_len = len;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	uv_pipe_init(&loop, &fake.server, 0);
	assert_int_equal(uv_pipe_bind(&fake.server, path), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&fake.server, 16, on_fake_conn), 0);
}

static void close_fake_clients(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (h->type == UV_NAMED_PIPE && h->data == &fake_marker && !uv_is_closing(h))
		uv_close(h, on_fake_client_closed);
}

static void fake_stop(void)
{
	uv_close((uv_handle_t *)&fake.server, NULL);
	uv_walk(&loop, close_fake_clients, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	free(fake.rec);
	fake.rec = NULL;
}

static void fake_stop_if_running(void)
{
	if (uv_is_active((uv_handle_t *)&fake.server))
		fake_stop();
}

/* Decodes what the fake's latest client sent, as a log of "G", "C<name>"
 * and "M<frame>|<frame>" entries separated by spaces. */
static void fake_decode(char *out, size_t size)
{
	zmtp_decoder_t d;
	size_t off = 0, used, o = 0;
	err_t err = { 0 };

	zmtp_decoder_init(&d, NULL);
	out[0] = '\0';
	while (off < fake.rec_len && o + 64 < size) {
		int ev = zmtp_decoder_feed(&d, fake.rec + off, fake.rec_len - off, &used, &err);

		off += used;
		if (ev < 0) {
			o += (size_t)snprintf(out + o, size - o, "error:%s ", err.msg);
			break;
		}
		if (ev == ZMTP_GREETING) {
			o += (size_t)snprintf(out + o, size - o, "G%u ", d.peer_minor);
		} else if (ev == ZMTP_COMMAND) {
			wire_slice_t b = zmtp_decoder_command(&d);
			zmtp_command_t c;

			assert_int_equal(zmtp_command_parse(b.data, b.len, &c, &err), 0);
			o += (size_t)snprintf(out + o, size - o, "C%.*s ", (int)c.name.len,
					      (const char *)c.name.data);
		} else if (ev == ZMTP_MESSAGE) {
			wire_slice_t f[ZMTP_MAX_FRAMES];
			size_t n = zmtp_decoder_frames(&d, f);

			o += (size_t)snprintf(out + o, size - o, "M");
			for (size_t i = 0; i < n && o + 40 < size; i++)
				o += (size_t)snprintf(out + o, size - o, "%s%.*s", i ? "|" : "",
						      f[i].len > 20 ? 20 : (int)f[i].len,
						      (const char *)f[i].data);
			o += (size_t)snprintf(out + o, size - o, " ");
		}
	}
	zmtp_decoder_reset(&d);
}

static size_t handshake(uint8_t *out, const char *type)
{
	int n;

	zmtp_greeting_encode(out);
	n = zmtp_ready_encode(out + ZMTP_GREETING_LEN, 512, type, NULL, 0);
	assert_true(n > 0);
	return ZMTP_GREETING_LEN + (size_t)n;
}

static void test_hostile_garbage(void **state)
{
	static const uint8_t http[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
	rx_t rx = { 0 };
	zsock_t *d;

	(void)state;
	fake_start("garbage", http, sizeof http - 1);
	d = open_sock(ZSOCK_DEALER, "garbage", "x", &rx);
	assert_int_equal(send_str(d, "anyone?", NULL), 0);
	/* refused, warned, reconnected: about every 100 ms, never faster */
	RUN_UNTIL(fake.accepts >= 3, WAIT_MS);
	assert_true(fake.accepts >= 3);
	RUN_UNTIL(false, 200);
	assert_true(fake.accepts <= 7);
	assert_int_equal(rx.count, 0);
	close_sock(&d);
	fake_stop();
}

static void test_hostile_wrong_type(void **state)
{
	static uint8_t script[1024];
	rx_t rx = { 0 };
	zsock_t *d;
	size_t len = handshake(script, "PUB"); /* a DEALER cannot talk to PUB */
	wire_slice_t m = { "leak", 4 };

	(void)state;
	len += zmtp_message_encode(script + len, &m, 1);
	fake_start("wrongtype", script, len);
	d = open_sock(ZSOCK_DEALER, "wrongtype", NULL, &rx);
	RUN_UNTIL(fake.accepts >= 2, WAIT_MS);
	assert_true(fake.accepts >= 2);
	assert_int_equal(rx.count, 0);
	close_sock(&d);
	fake_stop();
}

static void test_hostile_error_command(void **state)
{
	static uint8_t script[1024];
	rx_t rx = { 0 };
	zsock_t *d;
	size_t len;
	int n;

	(void)state;
	zmtp_greeting_encode(script);
	n = zmtp_command_encode(script + ZMTP_GREETING_LEN, 512, "ERROR", "\x07go away", 8);
	assert_true(n > 0);
	len = ZMTP_GREETING_LEN + (size_t)n;
	fake_start("error", script, len);
	d = open_sock(ZSOCK_REQ, "error", NULL, &rx);
	RUN_UNTIL(fake.accepts >= 2, WAIT_MS);
	assert_true(fake.accepts >= 2);
	assert_int_equal(rx.count, 0);
	close_sock(&d);
	fake_stop();
}

/* A message over the frame cap is dropped whole; the connection stays and
 * the next message arrives. A 3.1 PING is answered without disturbing it. */
static void test_hostile_oversized(void **state)
{
	static uint8_t script[8192];
	wire_slice_t many[200], ok[2] = { { "still", 5 }, { "here", 4 } };
	rx_t rx = { 0 };
	zsock_t *d;
	size_t len = handshake(script, "ROUTER");
	int n;

	(void)state;
	for (int i = 0; i < 200; i++)
		many[i] = (wire_slice_t){ "f", 1 };
	len += zmtp_message_encode(script + len, many, 200);
	n = zmtp_command_encode(script + len, 64, "PING", "\0\0ctx", 5);
	len += (size_t)n;
	len += zmtp_message_encode(script + len, ok, 2);
	fake_start("oversized", script, len);
	d = open_sock(ZSOCK_DEALER, "oversized", NULL, &rx);
	RUN_UNTIL(rx.count >= 1, WAIT_MS);
	RUN_UNTIL(false, 150);
	assert_int_equal(rx.count, 1);
	assert_int_equal(rx.n_frames, 2);
	assert_string_equal(rx.frame[0], "still");
	assert_int_equal(fake.accepts, 1);
	{
		char log[256];

		fake_decode(log, sizeof log);
		assert_string_equal(log, "G0 CREADY CPONG ");
		assert_memory_equal(fake.rec + fake.rec_len - 3, "ctx", 3); /* echoed */
	}
	close_sock(&d);
	fake_stop();
}

/* A REP's reply comes after the empty delimiter; a message without it is
 * not a reply and REQ drops it. */
static void test_req_needs_delimiter(void **state)
{
	static uint8_t script[512];
	wire_slice_t bare[1] = { { "bare", 4 } }, good[2] = { { "", 0 }, { "good", 4 } };
	rx_t rx = { 0 };
	zsock_t *r;
	size_t len = handshake(script, "REP");

	(void)state;
	len += zmtp_message_encode(script + len, bare, 1);
	len += zmtp_message_encode(script + len, good, 2);
	fake_start("rep", script, len);
	r = open_sock(ZSOCK_REQ, "rep", NULL, &rx);
	assert_int_equal(send_str(r, "q", NULL), 0);
	RUN_UNTIL(rx.count >= 1, WAIT_MS);
	RUN_UNTIL(false, 50);
	assert_int_equal(rx.count, 1);
	assert_int_equal(rx.n_frames, 1);
	assert_string_equal(rx.frame[0], "good");
	/* and what REQ sent carries the delimiter */
	{
		char log[256];

		fake_decode(log, sizeof log);
		assert_string_equal(log, "G0 CREADY M|q ");
	}
	close_sock(&r);
	fake_stop();
}

/* Subscribing: a message frame 0x01 for a ZMTP 3.0 publisher, the
 * SUBSCRIBE command for 3.1 (libzmq itself always says 3.1). */
static void test_subscribe_by_version(void **state)
{
	static uint8_t script[512];
	static const uint8_t frame[] = { 0x00, 0x01, 0x01 };
	rx_t rx = { 0 };
	zsock_t *s;
	char log[512];
	size_t len = handshake(script, "PUB");

	(void)state;
	fake_start("pub30", script, len);
	s = open_sock(ZSOCK_SUB, "pub30", NULL, &rx);
	RUN_UNTIL(fake.rec_len >= 64 + 27 + 3, WAIT_MS);
	RUN_UNTIL(false, 20);
	fake_decode(log, sizeof log);
	assert_string_equal(log, "G0 CREADY M\x01 ");
	assert_memory_equal(fake.rec + fake.rec_len - 3, frame, 3);
	close_sock(&s);
	fake_stop();

	script[11] = 1; /* version 3.1 */
	fake_start("pub31", script, len);
	s = open_sock(ZSOCK_SUB, "pub31", NULL, &rx);
	RUN_UNTIL(fake.rec_len >= 64 + 27 + 12, WAIT_MS);
	RUN_UNTIL(false, 20);
	fake_decode(log, sizeof log);
	assert_string_equal(log, "G0 CREADY CSUBSCRIBE ");
	close_sock(&s);
	fake_stop();
}

/* Two messages in one read; the callback closes the socket on the first,
 * and the second is never delivered. */
static void test_close_in_callback_same_read(void **state)
{
	static uint8_t script[512];
	wire_slice_t one = { "one", 3 }, two = { "two", 3 };
	rx_t rx = { 0 };
	zsock_t *d;
	size_t len = handshake(script, "ROUTER");

	(void)state;
	len += zmtp_message_encode(script + len, &one, 1);
	len += zmtp_message_encode(script + len, &two, 1);
	fake_start("twice", script, len);
	d = open_sock(ZSOCK_DEALER, "twice", NULL, &rx);
	rx.close_self = &d;
	RUN_UNTIL(rx.count >= 1, WAIT_MS);
	RUN_UNTIL(false, 50);
	assert_int_equal(rx.count, 1);
	assert_string_equal(rx.frame[0], "one");
	assert_null(d);
	fake_stop();
}

/* What was begun or meant for one connection never reaches the next: a
 * message cut off mid-write and a PONG queued behind it are dropped with
 * the connection, and the next one carries a clean stream. */
static void test_next_connection_is_clean(void **state)
{
	static uint8_t script[512], ping[32];
	size_t big_len = 8u << 20;
	char *big = malloc(big_len);
	wire_slice_t f[1] = { { big, big_len } };
	rx_t rx = { 0 };
	zsock_t *d;
	char log[512];
	size_t len = handshake(script, "ROUTER");
	int n = zmtp_command_encode(ping, sizeof ping, "PING", "\0\0hb", 4);

	(void)state;
	memset(big, 'X', big_len);
	fake.is_deaf_first = true;
	fake_start("clean", script, len);
	fake.is_deaf_first = true;
	d = open_sock(ZSOCK_DEALER, "clean", "same-id", &rx);
	RUN_UNTIL(fake.accepts == 1, WAIT_MS);
	RUN_UNTIL(false, 50); /* handshake done */
	assert_int_equal(zsock_send(d, f, 1), 0); /* the deaf peer takes a part */
	RUN_UNTIL(false, 20);
	fake_write(fake.last, ping, (size_t)n); /* PONG now waits behind the rest */
	RUN_UNTIL(false, 30);
	uv_close((uv_handle_t *)fake.last, on_fake_client_closed);
	RUN_UNTIL(fake.accepts == 2, WAIT_MS);
	assert_int_equal(fake.accepts, 2);
	assert_int_equal(send_str(d, "marker", NULL), 0);
	RUN_UNTIL(fake.rec_len >= 64 + 40 + 8, WAIT_MS);
	RUN_UNTIL(false, 30);
	fake_decode(log, sizeof log);
	assert_string_equal(log, "G0 CREADY Mmarker ");
	close_sock(&d);
	fake_stop();
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dealer_router, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sub_pub, setup, teardown),
		cmocka_unit_test_setup_teardown(test_req_rep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_before_bind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_in_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_wrong_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_error_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_oversized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_req_needs_delimiter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subscribe_by_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_in_callback_same_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_next_connection_is_clean, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
