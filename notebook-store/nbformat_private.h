/* Shared between nbformat.c and nbformat_validate.c; not for other folders. */
#ifndef CELLGATE_NBFORMAT_PRIVATE_H
#define CELLGATE_NBFORMAT_PRIVATE_H

#include <jansson.h>
#include <stdbool.h>

#include "../common/err.h"

/* A string or a list of strings. */
bool nbf_is_multiline(const json_t *v);
/* Schema checks; ids are checked only when need_id(s), uniqueness not at all. */
int nbf_check_cell(const json_t *c, const char *where, bool need_id, err_t *err);
int nbf_check_notebook(const json_t *nb, bool need_ids, err_t *err);

#endif
