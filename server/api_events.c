/*
 * GET /api/cellgate/events: a Server-Sent Events stream for connected
 * browsers (text/event-stream), so a prompt reaches a person as it is made.
 *
 *   event: prompt
 *   data: {the prompt's JSON, as GET /api/cellgate/prompts/{id} answers}
 *
 * is sent when a prompt the client may see (asked by it, or one it may
 * answer) is created, answered, taken or times out; on connecting, once
 * for each such prompt pending now. Each event has an id ("RUN-SEQ": the
 * server's run and the change's number); a client that reconnects with
 * Last-Event-ID (EventSource sends it by itself; ?last_event_id= for
 * clients that cannot set headers) gets instead every change it missed
 * that the table still keeps, settled prompts included, in order. A
 * comment line every 15 s keeps
 * proxies from closing an idle stream. ?duration=SECONDS (1 to 3600) ends
 * the stream after that; EventSource reconnects by itself. Each client's
 * unsent bytes are bounded (a client that does not keep up is dropped),
 * and so is the number of clients (503 past it). A client whose token
 * expires is dropped at the next tick.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/buf.h"
#include "../common/util.h"
#include "../notebook-store/pyjson.h"
#include "../policy/prompts.h"
#include "app.h"
#include "authz.h"
#include "handlers.h"

#define EVENTS_CLIENTS_MAX 64
#define EVENTS_BUFFER_MAX (256u << 10)
#define KEEPALIVE_S 15
#define DURATION_MAX_S 3600

typedef struct event_client {
	http_req_t *req;
	double deadline;   /* 0: until the client goes */
	double last_write;
	struct event_client *next;
} event_client_t;

/* Queues text; ends the stream of a client that cannot take it. */
static void send_text(event_client_t *c, const char *text, size_t len)
{
	if (http_stream_write(c->req, text, len, EVENTS_BUFFER_MAX) != 0)
		http_stream_end(c->req);
	c->last_write = util_unix_time();
}

/* The run part of event ids: a Last-Event-ID from before a restart names
 * changes this run never numbered. */
static long long run_id(const app_t *app)
{
	return (long long)(app->started_at * 1000.0);
}

static void send_prompt(event_client_t *c, const policy_prompt_t *p, json_int_t seq)
{
	json_t *j = policy_prompt_json(p);
	char head[96];
	buf_t b;

	snprintf(head, sizeof head, "id: %lld-%lld\nevent: prompt\ndata: ",
		 run_id(http_app(c->req)), (long long)seq);
	buf_init(&b, 0);
	/* compact JSON has no newline: one data line */
	if (j && buf_append_str(&b, head) == 0 && pyjson_dump(j, -1, &b) == 0 &&
	    buf_append_str(&b, "\n\n") == 0)
		send_text(c, b.data, b.len);
	json_decref(j);
	buf_free(&b);
}

static bool is_due(const event_client_t *c, double now)
{
	policy_cap_t *cap = http_cap(c->req);

	return !http_is_open(c->req) || (c->deadline > 0 && now >= c->deadline) ||
	       (cap && !policy_cap_is_live(cap, now, NULL, 0));
}

void events_notify(app_t *app)
{
	double now = util_unix_time();
	json_t *seen = json_object();
	event_client_t **link = &app->event_clients;

	if (!seen || !app->prompts) {
		json_decref(seen);
		return;
	}
	/* what changed since the last call: a prompt new or in another state */
	for (policy_prompt_t *p = policy_prompts_next(app->prompts, NULL); p;
	     p = policy_prompts_next(app->prompts, p)) {
		const char *state = policy_prompt_state_name(p->state);
		json_t *was = json_object_get(app->event_states, p->id);
		json_int_t seq;

		if (was && strcmp(json_string_value(json_array_get(was, 0)), state) == 0) {
			json_object_set(seen, p->id, was);
			continue;
		}
		seq = ++app->event_seq;
		json_object_set_new(seen, p->id, json_pack("[sI]", state, seq));
		for (event_client_t *c = app->event_clients; c; c = c->next) {
			if (http_is_open(c->req) && prompts_visible(c->req, p))
				send_prompt(c, p, seq);
		}
	}
	json_decref(app->event_states);
	app->event_states = seen;
	while (*link) {
		event_client_t *c = *link;

		if (!is_due(c, now)) {
			if (now - c->last_write >= KEEPALIVE_S)
				send_text(c, ": keep-alive\n\n", 14);
			link = &c->next;
			continue;
		}
		*link = c->next;
		http_stream_end(c->req);
		http_release(c->req);
		free(c);
	}
}

void events_release(app_t *app)
{
	while (app->event_clients) {
		event_client_t *c = app->event_clients;

		app->event_clients = c->next;
		http_stream_end(c->req);
		http_release(c->req);
		free(c);
	}
	json_decref(app->event_states);
	app->event_states = NULL;
}

static size_t count_clients(const app_t *app)
{
	size_t n = 0;

	for (const event_client_t *c = app->event_clients; c; c = c->next)
		n++;
	return n;
}

static json_int_t event_seq_of(const app_t *app, const policy_prompt_t *p)
{
	return json_integer_value(json_array_get(json_object_get(app->event_states, p->id), 1));
}

/*
 * The last event a reconnecting client heard: its seq, or -1 when it
 * names none this run numbered (none given, another run's, malformed,
 * or ahead of this run's count).
 */
static json_int_t last_heard(const http_req_t *req)
{
	const app_t *app = http_app(req);
	const char *v = http_header(req, "last-event-id");
	long long run, seq;
	int used = 0;

	if (!v)
		v = http_query(req, "last_event_id");
	if (!v || sscanf(v, "%lld-%lld%n", &run, &seq, &used) != 2 || v[used] != '\0' ||
	    run != run_id(app) || seq < 0 || seq > app->event_seq)
		return -1;
	return (json_int_t)seq;
}

typedef struct missed {
	json_int_t seq;
	const policy_prompt_t *p;
} missed_t;

static int by_seq(const void *a, const void *b)
{
	json_int_t x = ((const missed_t *)a)->seq, y = ((const missed_t *)b)->seq;

	return (x > y) - (x < y);
}

/* What a new stream hears first: every change after the one it last
 * heard, in order; or, when it heard none of this run, what is pending. */
static void send_snapshot(event_client_t *c)
{
	app_t *app = http_app(c->req);
	json_int_t last = last_heard(c->req);
	missed_t *missed = calloc(PROMPTS_MAX, sizeof *missed);
	size_t n = 0;

	if (!missed)
		return;
	for (policy_prompt_t *p = policy_prompts_next(app->prompts, NULL); p && n < PROMPTS_MAX;
	     p = policy_prompts_next(app->prompts, p)) {
		json_int_t seq = event_seq_of(app, p);
		bool wanted = last >= 0 ? seq > last : p->state == PROMPT_PENDING;

		if (wanted && prompts_visible(c->req, p))
			missed[n++] = (missed_t){ seq, p };
	}
	qsort(missed, n, sizeof *missed, by_seq);
	for (size_t i = 0; i < n; i++)
		send_prompt(c, missed[i].p, missed[i].seq);
	free(missed);
}

void api_events(http_req_t *req)
{
	static const char hello[] = "retry: 3000\n: cellgate prompts\n\n";
	app_t *app = http_app(req);
	const char *v = http_query(req, "duration");
	event_client_t *c;
	long duration = 0;
	char *end;

	if (v) {
		duration = strtol(v, &end, 10);
		if (!*v || *end || duration < 1 || duration > DURATION_MAX_S) {
			http_respond_error(req, 400, "\"duration\" must be a number of seconds from 1 "
					   "to %d", DURATION_MAX_S);
			return;
		}
	}
	if (app->is_stopping) {
		http_respond_error(req, 503, "the server is stopping");
		return;
	}
	if (count_clients(app) >= EVENTS_CLIENTS_MAX || !(c = calloc(1, sizeof *c))) {
		http_respond_error(req, 503, "too many event streams are open");
		return;
	}
	/* the others hear of what changed before this one takes its snapshot */
	authz_prompts_expire(app);
	events_notify(app);
	c->req = req;
	c->deadline = duration ? util_unix_time() + (double)duration : 0;
	http_defer(req);
	http_stream_start(req, "text/event-stream");
	send_text(c, hello, sizeof hello - 1);
	send_snapshot(c);
	c->next = app->event_clients;
	app->event_clients = c;
}
