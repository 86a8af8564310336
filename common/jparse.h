/*
 * jparse: a faster json_loadb for large documents.
 *
 * jansson's own parser reads one character at a time through a stream
 * with a UTF-8 decoder and copies every string byte by byte into a growing
 * buffer; on a 2 MB notebook that is most of the time a save or a load
 * takes. jparse builds the same jansson tree from the same bytes, but
 * scans strings in runs, checks UTF-8 only where bytes are not ASCII, and
 * hands each string to jansson once.
 *
 * It accepts and refuses what json_loadb(data, len, flags, err) does with
 * flags 0, JSON_REJECT_DUPLICATES and/or JSON_ALLOW_NUL (tests/unit/
 * test_jparse.c compares the two on edge cases and on mutated documents):
 * an object or an array at the top, RFC 8259 strictly, valid UTF-8 without
 * encoded surrogates, paired \u surrogates, integers within json_int_t,
 * reals that do not overflow, no NUL in object keys, at most 2048 levels
 * of nesting. Error texts are its own; line and column are jansson's idea
 * of them (1-based line, column in bytes).
 */
#ifndef CELLGATE_JPARSE_H
#define CELLGATE_JPARSE_H

#include <jansson.h>
#include <stddef.h>

json_t *jparse(const char *data, size_t len, size_t flags, json_error_t *err);

#endif
