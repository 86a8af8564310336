/*
 * The listening socket: a libwebsockets context on the server's libuv loop,
 * serving HTTP (http.c) and the kernel channels WebSocket (ws_channels.c)
 * on one port.
 */
#ifndef CELLGATE_LWS_H
#define CELLGATE_LWS_H

#include "../common/err.h"

typedef struct app app_t;

/* Starts listening on app->cfg.ip:port; sets app->lws. */
int listener_start(app_t *app, err_t *err);
/* Closes every connection and the listener. */
void listener_stop(app_t *app);

#endif
