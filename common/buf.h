/*
 * buf_t: a growable byte buffer with an explicit length and a hard cap.
 *
 * Every buffer that holds outside input has a cap, so a hostile peer cannot
 * make us allocate without bound: appends past the cap fail with CG_ETOOBIG.
 * The data is always NUL-terminated (not counted in len) so text can be used
 * as a C string.
 */
#ifndef CELLGATE_BUF_H
#define CELLGATE_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct buf {
	char *data;
	size_t len;
	size_t cap;   /* allocated bytes, excluding the NUL */
	size_t limit; /* hard cap on len; 0 means SIZE_MAX */
} buf_t;

void buf_init(buf_t *b, size_t limit);
int buf_reserve(buf_t *b, size_t extra);
int buf_append(buf_t *b, const void *data, size_t len);
int buf_append_str(buf_t *b, const char *s);
int buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal, quotes included. */
int buf_append_json_string(buf_t *b, const char *s, size_t len);
void buf_reset(buf_t *b);
void buf_free(buf_t *b);
/* Hands the data to the caller (who frees it) and leaves b empty. */
char *buf_steal(buf_t *b, size_t *len);

#endif
