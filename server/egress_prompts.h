/*
 * Prompts for the egress broker's held connections (egress-ask rules),
 * made in the name of the principal who started the kernel and answered
 * at /api/cellgate/prompts like any other.
 */
#ifndef CELLGATE_EGRESS_PROMPTS_H
#define CELLGATE_EGRESS_PROMPTS_H

#include "app.h"
#include "http.h"

/* Gives app->egress (when there is one) its prompter. */
void egress_prompts_attach(app_t *app);

#endif
