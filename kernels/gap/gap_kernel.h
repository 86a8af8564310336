/*
 * The GAP kernel's language services besides execution
 * (kernels/gap/gap_complete.c), and the one entry into GAP they share with
 * it (kernels/gap/gap_kernel.c).
 */
#ifndef CELLGATE_GAP_KERNEL_H
#define CELLGATE_GAP_KERNEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Global names bound in GAP that start with the word before the cursor. */
json_t *gk_complete(void *ctx, const char *code, size_t cursor);
/* The manual's text for the name at the cursor, or the value's View. */
json_t *gk_inspect(void *ctx, const char *code, size_t cursor, int detail_level);
/* By brackets, strings, block keywords and a missing final ';'. */
const char *gk_is_complete(void *ctx, const char *code, const char **indent);

/* True when the cell's last statement lacks its ';' (GAP's reader would
 * wait for it; a notebook cell has ended). */
bool gk_needs_semicolon(const char *code);

/* The deepest nesting of brackets and blocks in code. GAP's reader
 * recurses on the C stack for each level and has no limit of its own. */
long gk_nesting_depth(const char *code);

/* Evaluates GAP statements with `arg` bound to the GAP variable CG_Arg and
 * returns the string GAP left in CG_Out (or NULL when it is not a string or
 * GAP raised an error). Caller owns the result. */
char *gk_eval_to_string(const char *stmts, const char *arg);

#endif
