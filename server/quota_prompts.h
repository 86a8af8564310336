/*
 * Time-quota prompts: when a cell passes its per-cell CPU quota
 * (--kernel-cell-cpu) and --cell-cpu-extend is set, a person is asked
 * "extend or interrupt" instead of the cell being interrupted at once. The
 * prompt is made in the name of the principal who started the kernel, on
 * its notebook. allow_once extends that cell's quota by --cell-cpu-extend
 * seconds from now; allow_session does too, and extends every later
 * overrun in that kernel without asking (until it is shut down); deny and
 * the timeout interrupt it as before (the kernel is stopped if the cell
 * goes on past the grace). A cell that ends before the answer withdraws
 * its prompt.
 */
#ifndef CELLGATE_QUOTA_PROMPTS_H
#define CELLGATE_QUOTA_PROMPTS_H

#include <stdbool.h>

#include "../kernels/kernels.h"
#include "app.h"
#include "http.h"

/* kmgr_config_t's on_cell_quota; arg is the app. */
bool quota_prompts_on_cell_quota(void *arg, kernel_t *k);
/* Answers the cells whose prompt is settled, and withdraws the prompts of
 * cells that ended first; prompts_notify calls it first, so waiters and
 * event streams hear of both. */
void quota_prompts_settle(app_t *app);
/* Forgets every waiting cell (the server is stopping). */
void quota_prompts_release(app_t *app);

#endif
