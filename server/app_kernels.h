/*
 * The kernel manager as the server (and `cellgate replay`) set it up: a
 * runtime directory for the kernels' sockets, the workspace, the paths no
 * sandbox may see (the server's own state), the kernel user and limits.
 */
#ifndef CELLGATE_APP_KERNELS_H
#define CELLGATE_APP_KERNELS_H

#include "app.h"

#define APP_RUNTIME_DIR_LEN 64

typedef struct app app_t;

/* Creates runtime_dir and app->kernels from app->cfg. */
int app_kernels_start(app_t *app, char runtime_dir[APP_RUNTIME_DIR_LEN], err_t *err);

#endif
