/*
 * The kernel channels WebSocket: /api/kernels/{id}/channels; and
 * /api/events/subscribe, Jupyter Server's event stream, which JupyterLab
 * keeps open: cellgate emits no events, so that socket stays quiet.
 *
 * One WebSocket carries shell, control, stdin and IOPub for one client
 * session (the `session_id` query parameter), in the legacy JSON protocol or
 * in "v1.kernel.websocket.jupyter.org" when the client asks for it. The
 * upgrade is checked (token, kernel id) before it is accepted, so a bad one
 * gets an HTTP status rather than a WebSocket that closes at once.
 *
 * A message the server cannot take (not JSON, an unknown channel, too big,
 * a kernel that cannot receive) is answered the way Jupyter Server answers
 * errors on this socket: an IOPub `stream` to stderr with the request as
 * parent, plus an error `<type>_reply` and an idle status when the request
 * expected a reply, so a waiting client is released. The socket stays open.
 */
#ifndef CELLGATE_WS_CHANNELS_H
#define CELLGATE_WS_CHANNELS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct app app_t;
typedef struct ws_conn ws_conn_t;
struct lws;

/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: 0 accepts; 1 means an HTTP error was
 * written; -1 hangs up. */
int ws_on_confirm_upgrade(struct lws *wsi, app_t *app);
/* LWS_CALLBACK_ESTABLISHED: attaches to the kernel; -1 refuses. */
int ws_on_established(struct lws *wsi, app_t *app, ws_conn_t **slot);
int ws_on_receive(ws_conn_t *ws, const void *data, size_t len);
int ws_on_writable(ws_conn_t *ws);
void ws_on_closed(ws_conn_t **slot);

#endif
