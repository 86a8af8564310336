/*
 * URL encoding: percent-decoding, and fields of an
 * application/x-www-form-urlencoded body (the login form).
 */
#ifndef CELLGATE_FORM_H
#define CELLGATE_FORM_H

#include <stdbool.h>
#include <stddef.h>

/* Decodes %XX escapes (and '+' as space when is_form) of in[0..len) into
 * out (n bytes, NUL-terminated); a malformed escape is kept as is. False
 * when out is too small or the result would hold a NUL byte. */
bool form_decode(const char *in, size_t len, bool is_form, char *out, size_t n);
/* The decoded value of the first field called name in a form body; out
 * holds n bytes. NULL when absent, too long, or holding a NUL. */
const char *form_field(const char *body, size_t len, const char *name, char *out, size_t n);
/* Percent-encodes s for a query value (all but A-Z a-z 0-9 - . _ ~ /);
 * false when out (n bytes) is too small. */
bool form_encode(const char *s, char *out, size_t n);

#endif
