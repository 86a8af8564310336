/*
 * libwebsockets glue: one callback for every connection, which hands HTTP
 * reasons to http.c and WebSocket reasons to ws_channels.c. Two protocols
 * share it: the first ("http") is what lws picks for plain HTTP and for a
 * WebSocket that names no subprotocol (Jupyter's legacy JSON protocol); the
 * second is Jupyter's v1 binary protocol, picked when the client offers it.
 */
#include "lws.h"

#include <libwebsockets.h>
#include <string.h>

#include "../common/log.h"
#include "app.h"
#include "http_private.h"
#include "ws_channels.h"
#include "ws_codec.h"

/* lws keeps one of these per connection and protocol. */
typedef struct conn {
	http_req_t *req;
	ws_conn_t *ws;
} conn_t;

static int on_event(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	app_t *app = lws_context_user(lws_get_context(wsi));
	conn_t *c = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return http_on_request(wsi, app, &c->req, in);
	case LWS_CALLBACK_HTTP_BODY:
		return http_on_body(c->req, in, len);
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return http_on_body_complete(c->req);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return http_on_writable(wsi, &c->req);
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (c)
			http_on_closed(&c->req);
		return 0;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return ws_on_confirm_upgrade(wsi, app);
	case LWS_CALLBACK_ESTABLISHED:
		return ws_on_established(wsi, app, &c->ws);
	case LWS_CALLBACK_RECEIVE:
		return c->ws ? ws_on_receive(c->ws, in, len) : -1;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return c->ws ? ws_on_writable(c->ws) : -1;
	case LWS_CALLBACK_CLOSED:
		ws_on_closed(&c->ws);
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
	{ "http", on_event, sizeof(conn_t), 65536, 0, NULL, 0 },
	{ WS_V1_PROTOCOL, on_event, sizeof(conn_t), 65536, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void lws_log(int level, const char *line)
{
	size_t n = strlen(line);

	while (n && line[n - 1] == '\n')
		n--;
	log_msg(level == LLL_ERR ? LOG_ERROR : LOG_WARN, "lws", "%.*s", (int)n, line);
}

int listener_start(app_t *app, err_t *err)
{
	struct lws_context_creation_info info;
	void *loops[1] = { app->loop };

	lws_set_log_level(LLL_ERR | (log_get_level() <= LOG_DEBUG ? LLL_WARN : 0), lws_log);
	memset(&info, 0, sizeof info);
	info.port = app->cfg.port;
	info.iface = app->cfg.ip;
	info.protocols = protocols;
	info.user = app;
	info.foreign_loops = loops;
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8 |
		       LWS_SERVER_OPTION_DISABLE_IPV6;
	/* tokens, cookies and XSRF headers outgrow lws's 1 KiB default */
	info.max_http_header_data = 16384;
	info.pt_serv_buf_size = 16384;
	/* lws sizes its fd tables by this (by RLIMIT_NOFILE when 0): resident
	 * memory an idle server need not hold */
	info.fd_limit_per_thread = (unsigned)app->cfg.max_fds;
	info.timeout_secs = 30;
	info.count_threads = 1;
	info.vhost_name = "cellgate";
	app->lws = lws_create_context(&info);
	if (!app->lws)
		return err_set(err, CG_ESYS, "cannot listen on %s:%d", app->cfg.ip, app->cfg.port);
	return 0;
}

void listener_stop(app_t *app)
{
	if (!app->lws)
		return;
	lws_context_destroy(app->lws);
	app->lws = NULL;
}
