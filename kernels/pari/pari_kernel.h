/*
 * The PARI kernel's language services besides execution
 * (kernels/pari/pari_complete.c).
 */
#ifndef CELLGATE_PARI_KERNEL_H
#define CELLGATE_PARI_KERNEL_H

#include <jansson.h>
#include <stddef.h>

/* Names of PARI functions and of the session's variables and functions. */
json_t *pk_complete(void *ctx, const char *code, size_t cursor);
/* The help text of the name at the cursor (gp's short help, or the value). */
json_t *pk_inspect(void *ctx, const char *code, size_t cursor, int detail_level);
/* By brackets, braces, strings and a trailing backslash. */
const char *pk_is_complete(void *ctx, const char *code, const char **indent);

#endif
