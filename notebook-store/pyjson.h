/*
 * pyjson: writes a jansson tree byte for byte as Python's json.dumps does.
 *
 * Notebook files must match what nbformat.writes produces (sort_keys=True,
 * indent=1, ensure_ascii=False, separators (",", ": ")), so that a notebook
 * saved by cellgate and one saved by Jupyter Server diff cleanly in git.
 * That needs Python's key order (code points, which is UTF-8 byte order),
 * its string escapes, and repr() of floats (shortest round-trip digits,
 * exponent form outside 1e-4 <= |x| < 1e16).
 */
#ifndef CELLGATE_PYJSON_H
#define CELLGATE_PYJSON_H

#include <jansson.h>
#include <stddef.h>

#include "../common/buf.h"

#define PYJSON_FLOAT_LEN 32

/* Python's repr(float(d)) into out; returns its length. */
size_t pyjson_format_float(double d, char out[PYJSON_FLOAT_LEN]);

/*
 * Appends json.dumps(v, sort_keys=True, indent=indent, ensure_ascii=False)
 * to out, with nbformat's separators (",", ": "). indent < 0 means the
 * compact form json.dumps(..., separators=(",", ":")), the store's canonical
 * encoding of objects. 0 or a buf_t error code.
 */
int pyjson_dump(const json_t *v, int indent, buf_t *out);

#endif
