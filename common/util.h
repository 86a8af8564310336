/*
 * Small helpers every module uses: random identifiers, timestamps in the
 * format Jupyter uses, and constant-time comparison of secrets.
 */
#ifndef CELLGATE_UTIL_H
#define CELLGATE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UUID_STR_LEN 37     /* 36 characters and the NUL */
#define UUID_HEX_LEN 33     /* 32 hex digits and the NUL */
#define ISO_TIME_LEN 40     /* "2024-01-31T12:34:56.123456Z" and the NUL, with room */

/* Fills buf with len bytes from the kernel's CSPRNG; 0 or CG_ESYS. */
int util_random_bytes(void *buf, size_t len);
/* Random version-4 UUID: "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx". */
int util_uuid4(char out[UUID_STR_LEN]);
/* The same 128 random bits as 32 lowercase hex digits, no dashes. */
int util_uuid4_hex(char out[UUID_HEX_LEN]);
/* n random bytes as 2n lowercase hex digits; out holds 2n+1 bytes. */
int util_random_hex(char *out, size_t nbytes);
void util_hex_encode(const uint8_t *in, size_t len, char *out);

/* Wall-clock time as ISO 8601 UTC with microseconds, as Jupyter writes dates. */
void util_iso_time_now(char out[ISO_TIME_LEN]);
void util_iso_time(double unix_seconds, char out[ISO_TIME_LEN]);
double util_unix_time(void);
/* Monotonic clock in nanoseconds, for durations. */
uint64_t util_mono_ns(void);

/* Compares two secrets in time that depends only on their lengths. */
bool util_secret_equal(const char *a, size_t alen, const char *b, size_t blen);

/* True when s is a well-formed UUID (any version), dashed. */
bool util_is_uuid(const char *s);

/* strdup that aborts on allocation failure is not used here: callers check. */
char *util_strndup(const char *s, size_t n);

#endif
