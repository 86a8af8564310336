/*
 * The kernel channels WebSocket: upgrade checks, framing in and out, and
 * the bridge to the relay in kernels/. See ws_channels.h.
 */
#include "ws_channels.h"

#include <jansson.h>
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "../common/buf.h"
#include "../common/log.h"
#include "../common/util.h"
#include "app.h"
#include "auth.h"
#include "authz.h"
#include "handlers.h"
#include "http_private.h"
#include "recorder.h"
#include "routes.h"
#include "ws_codec.h"

/* A client that does not read: what we hold for it before we give up. */
#define OUT_QUEUE_MAX ((size_t)256 << 20)
#define SESSION_ID_MAX 127

typedef struct frame {
	struct frame *next;
	bool is_binary;
	buf_t data; /* LWS_PRE bytes of headroom, then the payload */
} frame_t;

struct ws_conn {
	struct lws *wsi;
	app_t *app;
	kclient_t *client;
	policy_cap_t *cap;     /* whose channels these are: executions are counted */
	bool is_v1;
	bool is_events;        /* /api/events/subscribe: no kernel, nothing to send */
	char session_id[SESSION_ID_MAX + 1];
	buf_t rx;              /* the message being received, across fragments */
	bool is_rx_too_big;
	frame_t *head, *tail;  /* waiting to be written */
	size_t queued_bytes;
	int close_code;        /* nonzero: close once the queue is written */
	char close_reason[96];
};

/* --- the upgrade ------------------------------------------------------------ */

/* The upgrade request as an http_req_t (headers, query, route params), or
 * NULL when the path is not a channels or events URL. *status says why it
 * failed; *kid is NULL for the events URL. */
static http_req_t *upgrade_request(struct lws *wsi, app_t *app, const char **kid,
				   int *status, const char **why)
{
	char uri[2048], *scratch;
	const char *path, *params[HTTP_MAX_PARAMS] = { 0 };
	size_t n_params = 0;
	const route_t *route;
	http_req_t *req;

	*status = 404;
	if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0)
		return NULL;
	path = http_strip_base(app, uri);
	if (!path)
		return NULL;
	scratch = malloc(strlen(path) + 1);
	if (!scratch)
		return NULL;
	route = route_match(path, HTTP_GET, scratch, params, &n_params);
	if (!route || !((route->handler == api_kernel_channels_plain && n_params == 1) ||
			(route->handler == api_events_subscribe_plain && n_params == 0))) {
		free(scratch);
		return NULL;
	}
	req = http_req_new(wsi, app, HTTP_GET, path);
	if (req) {
		http_copy_request_headers(req, wsi);
		http_copy_query(req, wsi);
		http_req_adopt_params(req, scratch, params, n_params);
		*kid = n_params ? http_param(req, 0) : NULL;
		*status = auth_ws_status(req, why);
	} else {
		free(scratch);
	}
	return req;
}

static void drop_request(http_req_t *req)
{
	if (!req)
		return;
	http_req_detach(req);
	http_release(req);
}

/* Writes a JSON error as the answer to the upgrade request. */
static int refuse_upgrade(struct lws *wsi, int status, const char *message)
{
	unsigned char hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *p = start;
	unsigned char *end = hdr + sizeof hdr - 1;
	unsigned char body[LWS_PRE + 2048];
	json_t *err = json_pack("{s:s, s:s}", "message", message, "reason",
				http_status_phrase(status));
	char *text = err ? json_dumps(err, JSON_COMPACT) : NULL;
	int n = text ? snprintf((char *)body + LWS_PRE, sizeof body - LWS_PRE, "%s", text) : -1;

	free(text);
	json_decref(err);
	if (n < 0 || (size_t)n >= sizeof body - LWS_PRE)
		return -1;
	if (lws_add_http_common_headers(wsi, (unsigned)status, "application/json",
					(lws_filepos_t)n, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	if (lws_write(wsi, body + LWS_PRE, (size_t)n, LWS_WRITE_HTTP_FINAL) != n)
		return -1;
	return 1;
}

/* The request's capability; the server's own credentials are root. */
static policy_cap_t *ws_cap_of(http_req_t *req)
{
	if (!http_cap(req))
		http_set_cap(req, policy_cap_root());
	return http_cap(req);
}

int ws_on_confirm_upgrade(struct lws *wsi, app_t *app)
{
	const char *kid = NULL, *why = "";
	int status, rc = 0;
	http_req_t *req = upgrade_request(wsi, app, &kid, &status, &why);
	kernel_t *k = req && status == 0 && kid ? kmgr_find(app->kernels, kid) : NULL;
	char message[POLICY_WHY_MAX + 700];

	if (app->is_stopping)
		rc = refuse_upgrade(wsi, 503, "the server is stopping");
	else if (!req)
		rc = refuse_upgrade(wsi, 404, "not found");
	else if (status == 403)
		rc = refuse_upgrade(wsi, 403, why);
	else if (kid && !k)
		rc = refuse_upgrade(wsi, 404, "no such kernel");
	/* the events socket (no kernel) needs only a live token, as /api/me */
	else if (!k && !policy_cap_is_live(ws_cap_of(req), util_unix_time(), message,
					   sizeof message))
		rc = refuse_upgrade(wsi, 403, message);
	else if (k && (status = authz_kernel_channels(app, ws_cap_of(req), k, message,
							sizeof message)))
		rc = refuse_upgrade(wsi, status, message);
	drop_request(req);
	return rc;
}

/* --- to the client -------------------------------------------------------- */

static void queue_frame(ws_conn_t *ws, frame_t *f)
{
	if (ws->close_code) {
		buf_free(&f->data);
		free(f);
		return;
	}
	if (ws->tail)
		ws->tail->next = f;
	else
		ws->head = f;
	ws->tail = f;
	ws->queued_bytes += f->data.len;
	if (ws->queued_bytes > OUT_QUEUE_MAX) {
		log_warn("ws", "session %.8s reads too slowly; closing it", ws->session_id);
		ws->close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
		snprintf(ws->close_reason, sizeof ws->close_reason, "client too slow");
	}
	lws_callback_on_writable(ws->wsi);
}

static void deliver(void *ctx, kchannel_t ch, wire_msg_t *msg)
{
	ws_conn_t *ws = ctx;
	frame_t *f = calloc(1, sizeof *f);
	int rc;

	if (!f)
		return;
	buf_init(&f->data, 0);
	if (ws->is_v1) {
		f->is_binary = true;
		rc = ws_encode_v1(msg, ch, LWS_PRE, &f->data);
	} else {
		rc = ws_encode_legacy(msg, ch, LWS_PRE, &f->data, &f->is_binary);
	}
	if (rc) {
		log_warn("ws", "cannot encode a %s message", msg->msg_type);
		buf_free(&f->data);
		free(f);
		return;
	}
	queue_frame(ws, f);
}

/* The kernel is gone or another connection took this session over. */
static void on_client_closed(void *ctx, const char *why)
{
	ws_conn_t *ws = ctx;

	ws->client = NULL;
	if (!ws->close_code) {
		ws->close_code = LWS_CLOSE_STATUS_NORMAL;
		snprintf(ws->close_reason, sizeof ws->close_reason, "%s", why);
	}
	lws_callback_on_writable(ws->wsi);
}

static const kclient_sink_t sink = { deliver, on_client_closed };

int ws_on_writable(ws_conn_t *ws)
{
	frame_t *f = ws->head;

	if (f) {
		size_t len = f->data.len - LWS_PRE;
		int n = lws_write(ws->wsi, (unsigned char *)f->data.data + LWS_PRE, len,
				  f->is_binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);

		ws->head = f->next;
		if (!ws->head)
			ws->tail = NULL;
		ws->queued_bytes -= f->data.len;
		buf_free(&f->data);
		free(f);
		if (n < (int)len)
			return -1;
		if (ws->head) {
			lws_callback_on_writable(ws->wsi);
			return 0;
		}
	}
	if (ws->close_code) {
		lws_close_reason(ws->wsi, (enum lws_close_status)ws->close_code,
				 (unsigned char *)ws->close_reason, strlen(ws->close_reason));
		return -1;
	}
	return 0;
}

/* --- errors, answered on the socket ----------------------------------------- */

static void send_synthetic(ws_conn_t *ws, kchannel_t ch, const char *type, const wire_msg_t *parent,
			   json_t *content)
{
	char *text = json_dumps(content, JSON_COMPACT);
	const char *session = parent && parent->session[0] ? parent->session : ws->session_id;
	wire_msg_t *msg = text ? wire_msg_new(type, session, "cellgate", parent, text, NULL) : NULL;

	if (msg)
		deliver(ws, ch, msg);
	wire_msg_unref(&msg);
	free(text);
	json_decref(content);
}

/* The request's header as a parent, when it could be read. */
static wire_msg_t *parent_from_header(const char *header_json)
{
	wire_slice_t parts[4] = { { header_json, strlen(header_json) },
				  { "{}", 2 }, { "{}", 2 }, { "{}", 2 } };

	return wire_msg_from_parts(parts, NULL, 0, NULL, NULL);
}

static bool is_request(const wire_msg_t *m, size_t *stem)
{
	size_t n = strlen(m->msg_type);

	*stem = n > 8 ? n - 8 : 0;
	return n > 8 && strcmp(m->msg_type + n - 8, "_request") == 0;
}

/*
 * Tells the client its message was refused: stderr on IOPub, as Jupyter
 * Server does, and for a request a `<type>_reply` with status "error" and an
 * idle status, which is what a client waits for before it moves on.
 */
static void report_error(ws_conn_t *ws, const char *header_json, kchannel_t ch,
			 const char *ename, const char *message)
{
	wire_msg_t *parent = header_json ? parent_from_header(header_json) : NULL;
	char text[768], reply_type[128];
	size_t stem;

	log_info("ws", "session %.8s: %s", ws->session_id, message);
	snprintf(text, sizeof text, "cellgate: %s\n", message);
	send_synthetic(ws, KCH_IOPUB, "stream", parent,
		       json_pack("{s:s, s:s}", "name", "stderr", "text", text));
	if (parent && is_request(parent, &stem) && stem < sizeof reply_type - 7) {
		snprintf(reply_type, sizeof reply_type, "%.*s_reply", (int)stem, parent->msg_type);
		send_synthetic(ws, ch == KCH_IOPUB ? KCH_SHELL : ch, reply_type, parent,
			       json_pack("{s:s, s:s, s:s, s:[]}", "status", "error", "ename",
					 ename, "evalue", message, "traceback"));
		send_synthetic(ws, KCH_IOPUB, "status", parent,
			       json_pack("{s:s}", "execution_state", "idle"));
	}
	wire_msg_unref(&parent);
}

/* --- from the client -------------------------------------------------------- */

static void handle_message(ws_conn_t *ws, const void *data, size_t len, bool is_binary)
{
	wire_limits_t lim = wire_default_limits;
	ws_decoded_t d;
	err_t err = { 0 };
	char why[POLICY_WHY_MAX];
	int rc;

	lim.max_total = ws->app->cfg.max_ws_message_bytes;
	if (ws->is_v1)
		rc = ws_decode_v1(data, len, &lim, &d, &err);
	else
		rc = ws_decode_legacy(data, len, is_binary, &lim, &d, &err);
	if (rc) {
		report_error(ws, d.header_json, d.has_channel ? d.channel : KCH_SHELL,
			     "InvalidMessage", err.msg);
	} else if (d.channel == KCH_IOPUB) {
		report_error(ws, d.header_json, KCH_SHELL, "InvalidChannel",
			     "clients cannot send on the iopub channel");
	} else if (!ws->client) {
		report_error(ws, d.header_json, d.channel, "KernelGone",
			     "the kernel is no longer running");
	} else if (d.channel == KCH_SHELL && strcmp(d.msg->msg_type, "execute_request") == 0 &&
		   !authz_count_execution(ws->app, ws->cap, kclient_kernel(ws->client), why,
					  sizeof why)) {
		recorder_denied(ws->app->recorder, kclient_kernel(ws->client), ws->client, d.msg, why);
		report_error(ws, d.header_json, d.channel, "ExecutionLimit", why);
	} else if (kclient_send(ws->client, d.channel, d.msg, &err)) {
		report_error(ws, d.header_json, d.channel, "KernelUnavailable", err.msg);
	}
	ws_decoded_clear(&d);
}

int ws_on_receive(ws_conn_t *ws, const void *data, size_t len)
{
	struct lws *wsi = ws->wsi;
	bool is_end = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;

	/* the events socket is one-way, as in Jupyter Server */
	if (ws->is_events)
		return 0;
	if (!ws->is_rx_too_big && buf_append(&ws->rx, data, len))
		ws->is_rx_too_big = true;
	if (!is_end)
		return 0;
	if (ws->is_rx_too_big) {
		char message[128];

		snprintf(message, sizeof message, "a message was larger than %zu bytes and was dropped",
			 ws->app->cfg.max_ws_message_bytes);
		report_error(ws, NULL, KCH_SHELL, "MessageTooBig", message);
	} else {
		handle_message(ws, ws->rx.data, ws->rx.len, lws_frame_is_binary(wsi));
	}
	buf_reset(&ws->rx);
	ws->is_rx_too_big = false;
	return 0;
}

/* --- the connection's life ---------------------------------------------------- */

static void choose_session_id(ws_conn_t *ws, const char *requested)
{
	if (requested && *requested && strlen(requested) <= SESSION_ID_MAX) {
		snprintf(ws->session_id, sizeof ws->session_id, "%s", requested);
		return;
	}
	/* Jupyter Server makes one up too when the client sends none */
	util_uuid4(ws->session_id);
}

int ws_on_established(struct lws *wsi, app_t *app, ws_conn_t **slot)
{
	const char *kid = NULL, *why = "", *protocol = lws_get_protocol(wsi)->name;
	int status;
	http_req_t *req = upgrade_request(wsi, app, &kid, &status, &why);
	kernel_t *k = req && status == 0 && kid ? kmgr_find(app->kernels, kid) : NULL;
	bool is_events = req && status == 0 && !kid;
	ws_conn_t *ws;
	err_t err = { 0 };

	if (!k && !is_events) {
		drop_request(req);
		return -1;
	}
	ws = calloc(1, sizeof *ws);
	if (!ws) {
		drop_request(req);
		return -1;
	}
	ws->wsi = wsi;
	ws->app = app;
	ws->is_v1 = strcmp(protocol, WS_V1_PROTOCOL) == 0;
	buf_init(&ws->rx, app->cfg.max_ws_message_bytes);
	choose_session_id(ws, http_query(req, "session_id"));
	ws->cap = policy_cap_ref(ws_cap_of(req));
	drop_request(req);
	*slot = ws;
	/* cellgate emits no Jupyter events (yet): the subscriber just waits */
	ws->is_events = is_events;
	if (is_events)
		return 0;
	ws->client = kernel_attach(k, ws->session_id, &sink, ws, &err);
	if (!ws->client) {
		log_warn("ws", "cannot attach to kernel %.8s: %s", kernel_id(k), err.msg);
		ws_on_closed(slot);
		return -1;
	}
	/* who runs code here, for the execution records */
	kclient_set_principal(ws->client, policy_cap_principal(ws->cap));
	log_debug("ws", "session %.8s attached to kernel %.8s (%s)", ws->session_id,
		  kernel_id(kclient_kernel(ws->client)), ws->is_v1 ? "v1" : "legacy");
	return 0;
}

void ws_on_closed(ws_conn_t **slot)
{
	ws_conn_t *ws = *slot;

	if (!ws)
		return;
	*slot = NULL;
	if (ws->client)
		kclient_detach(&ws->client);
	while (ws->head) {
		frame_t *f = ws->head;

		ws->head = f->next;
		buf_free(&f->data);
		free(f);
	}
	buf_free(&ws->rx);
	policy_cap_unref(&ws->cap);
	free(ws);
}
