/*
 * err_t: the error object every fallible function can fill.
 *
 * Functions return 0 (or a pointer) on success and a negative code (or NULL)
 * on failure; when the caller passes an err_t, it also gets a human sentence.
 * The sentence is meant to be shown to users as is, so it never contains a
 * secret, a token, or a path on the server's machine that the user did not
 * give us.
 */
#ifndef CELLGATE_ERR_H
#define CELLGATE_ERR_H

#include <stdarg.h>

enum {
	CG_OK = 0,
	CG_EINVAL = -1,   /* malformed input */
	CG_ENOTFOUND = -2,
	CG_ETOOBIG = -3,   /* a size limit was hit */
	CG_EDENIED = -4,    /* authentication or signature failure */
	CG_ECONFLICT = -5,
	CG_ESYS = -6,    /* an OS call failed; errno was reported */
	CG_ESTATE = -7,     /* the object is not in a state that allows this */
};

typedef struct err {
	int code;
	char msg[512];
} err_t;

/* Sets err (if not NULL) and returns code, so callers can `return err_set(...)`. */
int err_set(err_t *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int err_setv(err_t *err, int code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Prefixes an existing message: "context: old message". */
int err_wrap(err_t *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void err_clear(err_t *err);

#endif
