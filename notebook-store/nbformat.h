/*
 * nbformat: .ipynb import and export, nbformat 4.5 exactly.
 *
 * In memory a notebook is a jansson tree in the form Python's nbformat keeps
 * it after reading: multi-line text joined into single strings, transient
 * fields (metadata.orig_nbformat*, metadata.signature, cell metadata.trusted)
 * removed, nbformat_minor 5 and every cell carrying a unique id. On disk it
 * is written byte for byte as `nbformat.write` of Debian's python3-nbformat
 * writes it, so files round-trip through cellgate and Jupyter without a diff.
 */
#ifndef CELLGATE_NBFORMAT_H
#define CELLGATE_NBFORMAT_H

#include <jansson.h>
#include <stddef.h>

#include "../common/buf.h"
#include "../common/err.h"

/* Larger notebook files are refused before parsing. */
#define NBFORMAT_MAX_BYTES ((size_t)256 << 20)
/* nbformat's random_cell_id: the first 8 hex digits of a uuid4. */
#define NBFORMAT_CELL_ID_LEN 8

/*
 * Parses .ipynb bytes (nbformat 4.0 to 4.5) and normalizes them as
 * nbformat_normalize does, except that the cell ids an upgrade (or a
 * repair) draws are derived from the SHA-256 of the bytes and the cell's
 * index: reading the same bytes twice gives the same ids. Caller owns the returned tree; NULL with err set
 * (CG_EINVAL, CG_ETOOBIG) when the bytes are not a notebook cellgate accepts.
 */
json_t *nbformat_read(const char *data, size_t len, err_t *err);

/*
 * Brings a notebook tree (from a file or from a client's JSON) to the
 * in-memory 4.5 form, in place: validates it against the 4.5 schema (ids
 * are not required below 4.5), strips transient fields, joins multi-line
 * text, and, as nbformat does, gives every cell a new random id when the
 * notebook is older than 4.5 and repairs missing or duplicate ids in a 4.5
 * notebook. Unknown metadata is kept. On failure the tree may be partly
 * normalized and err says where the problem is, e.g.
 * "cells[3].source: expected a string or a list of strings".
 */
int nbformat_normalize(json_t *nb, err_t *err);

/* Checks an in-memory notebook against the 4.5 schema; 0 or CG_EINVAL. */
int nbformat_validate(const json_t *nb, err_t *err);

/*
 * Appends the file bytes for nb: nbformat.writes(nb) and the newline that
 * nbformat.write adds. nb is not modified. 0 or a buf_t error code.
 */
int nbformat_write(const json_t *nb, buf_t *out);

/* True when s is a valid 4.5 cell id: 1 to 64 of [A-Za-z0-9_-]. */
int nbformat_is_cell_id(const char *s);

#endif
