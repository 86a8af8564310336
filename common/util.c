/* Identifiers, timestamps and secret comparison. */
#include "util.h"
#include "err.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

int util_random_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return CG_ESYS;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void util_hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * len] = '\0';
}

int util_random_hex(char *out, size_t nbytes)
{
	uint8_t raw[64];

	if (nbytes > sizeof raw || util_random_bytes(raw, nbytes))
		return CG_ESYS;
	util_hex_encode(raw, nbytes, out);
	return 0;
}

static int uuid_bytes(uint8_t b[16])
{
	if (util_random_bytes(b, 16))
		return CG_ESYS;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	return 0;
}

int util_uuid4_hex(char out[UUID_HEX_LEN])
{
	uint8_t b[16];

	if (uuid_bytes(b))
		return CG_ESYS;
	util_hex_encode(b, 16, out);
	return 0;
}

int util_uuid4(char out[UUID_STR_LEN])
{
	char hex[UUID_HEX_LEN];

	if (util_uuid4_hex(hex))
		return CG_ESYS;
	snprintf(out, UUID_STR_LEN, "%.8s-%.4s-%.4s-%.4s-%.12s",
		 hex, hex + 8, hex + 12, hex + 16, hex + 20);
	return 0;
}

double util_unix_time(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void util_iso_time(double t, char out[ISO_TIME_LEN])
{
	time_t secs = (time_t)t;
	long usec = (long)((t - (double)secs) * 1e6);
	struct tm tm;

	if (usec < 0)
		usec = 0;
	if (usec > 999999)
		usec = 999999;
	gmtime_r(&secs, &tm);
	snprintf(out, ISO_TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
		 (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100, tm.tm_mday % 100,
		 tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100, usec);
}

void util_iso_time_now(char out[ISO_TIME_LEN])
{
	util_iso_time(util_unix_time(), out);
}

uint64_t util_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool util_secret_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	/* Length is not secret (tokens have a fixed, public format); content is. */
	if (alen != blen || alen == 0)
		return false;
	return CRYPTO_memcmp(a, b, alen) == 0;
}

bool util_is_uuid(const char *s)
{
	for (int i = 0; i < 36; i++) {
		char c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			     (c >= 'A' && c <= 'F'))) {
			return false;
		}
	}
	return s[36] == '\0';
}

char *util_strndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}
