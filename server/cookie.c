/* The Cookie header, the cookie secret, and the signed login cookie. */
#include "cookie.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/buf.h"
#include "../common/util.h"

#define SECRET_FILE "cookie_secret"
#define NONCE_HEX 32
#define MAC_HEX 64

const char *cookie_get(const char *header, const char *name, char *out, size_t n)
{
	size_t nlen = strlen(name);
	const char *p = header;

	while (p && *p) {
		const char *end, *v;
		size_t vlen;

		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		end = strchr(p, ';');
		if (!end)
			end = p + strlen(p);
		if ((size_t)(end - p) > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			v = p + nlen + 1;
			vlen = (size_t)(end - v);
			while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
				vlen--;
			if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
				v++;
				vlen -= 2;
			}
			if (vlen >= n)
				return NULL;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return out;
		}
		p = end;
	}
	return NULL;
}

char *cookie_set_value(const char *name, const char *value, const char *path, const char *attrs)
{
	buf_t b;

	buf_init(&b, 0);
	/* built whole or not at all: a cut value could lose HttpOnly */
	if (buf_printf(&b, "%s=%s; Path=%s%s", name, value, path, attrs)) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}

/* --- the secret --------------------------------------------------------- */

static int hex_decode(const char *hex, size_t nbytes, uint8_t *out)
{
	for (size_t i = 0; i < nbytes; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

static int secret_create(int dirfd, uint8_t secret[COOKIE_KEY_LEN], err_t *err)
{
	char hex[2 * COOKIE_KEY_LEN + 2];
	int fd;
	ssize_t n;

	if (util_random_bytes(secret, COOKIE_KEY_LEN))
		return err_set(err, CG_ESYS, "cannot make a cookie secret");
	util_hex_encode(secret, COOKIE_KEY_LEN, hex);
	hex[2 * COOKIE_KEY_LEN] = '\n';
	hex[2 * COOKIE_KEY_LEN + 1] = '\0';
	fd = openat(dirfd, SECRET_FILE, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(err, CG_ESYS, "cannot create the cookie secret: %s", strerror(errno));
	n = write(fd, hex, strlen(hex));
	if (close(fd) != 0 || n != (ssize_t)strlen(hex)) {
		unlinkat(dirfd, SECRET_FILE, 0);
		return err_set(err, CG_ESYS, "cannot write the cookie secret");
	}
	return 0;
}

static int secret_read(int fd, uint8_t secret[COOKIE_KEY_LEN], err_t *err)
{
	char hex[2 * COOKIE_KEY_LEN + 8];
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid())
		return err_set(err, CG_EDENIED, "the cookie secret is not a file of this user");
	if (st.st_mode & 077)
		return err_set(err, CG_EDENIED,
			       "the cookie secret is readable by others (mode %o); chmod 600 it",
			       (unsigned)(st.st_mode & 0777));
	n = read(fd, hex, sizeof hex - 1);
	if (n < 2 * COOKIE_KEY_LEN)
		return err_set(err, CG_EINVAL, "the cookie secret is too short");
	hex[n] = '\0';
	if (hex_decode(hex, COOKIE_KEY_LEN, secret))
		return err_set(err, CG_EINVAL, "the cookie secret is not hex");
	return 0;
}

int cookie_secret_load(const char *state_dir, uint8_t secret[COOKIE_KEY_LEN], err_t *err)
{
	int dirfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd, rc;

	if (dirfd < 0)
		return err_set(err, CG_ESYS, "cannot open the state directory: %s", strerror(errno));
	fd = openat(dirfd, SECRET_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		rc = secret_create(dirfd, secret, err);
	} else if (fd < 0) {
		rc = err_set(err, CG_ESYS, "cannot read the cookie secret: %s", strerror(errno));
	} else {
		rc = secret_read(fd, secret, err);
		close(fd);
	}
	close(dirfd);
	return rc;
}

void cookie_key_derive(const uint8_t secret[COOKIE_KEY_LEN], const char *token,
		       uint8_t key[COOKIE_KEY_LEN])
{
	static const char label[] = "cellgate login cookie v1";
	uint8_t msg[sizeof label + SHA256_DIGEST_LENGTH];
	unsigned len = COOKIE_KEY_LEN;

	memcpy(msg, label, sizeof label);
	SHA256((const unsigned char *)token, strlen(token), msg + sizeof label);
	HMAC(EVP_sha256(), secret, COOKIE_KEY_LEN, msg, sizeof msg, key, &len);
	OPENSSL_cleanse(msg, sizeof msg);
}

/* --- the login cookie ---------------------------------------------------- */

static void mac_hex(const uint8_t key[COOKIE_KEY_LEN], const char *data, size_t len,
		    char out[MAC_HEX + 1])
{
	uint8_t mac[SHA256_DIGEST_LENGTH];
	unsigned mlen = sizeof mac;

	HMAC(EVP_sha256(), key, COOKIE_KEY_LEN, (const unsigned char *)data, len, mac, &mlen);
	util_hex_encode(mac, sizeof mac, out);
}

int cookie_login_sign(const uint8_t key[COOKIE_KEY_LEN], long long issued,
		      char out[COOKIE_LOGIN_MAX])
{
	char nonce[NONCE_HEX + 1], mac[MAC_HEX + 1];
	int n;

	if (issued < 0 || util_random_hex(nonce, NONCE_HEX / 2))
		return CG_ESYS;
	n = snprintf(out, COOKIE_LOGIN_MAX, "1.%lld.%s", issued, nonce);
	mac_hex(key, out, (size_t)n, mac);
	snprintf(out + n, COOKIE_LOGIN_MAX - (size_t)n, ".%s", mac);
	return 0;
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

bool cookie_login_verify(const uint8_t key[COOKIE_KEY_LEN], const char *value, long long now,
			 long long max_age)
{
	const char *issued_s, *nonce, *mac;
	char expect[MAC_HEX + 1], *end;
	long long issued;
	size_t len;

	if (!value || strncmp(value, "1.", 2) != 0)
		return false;
	len = strlen(value);
	if (len < 2 + 1 + 1 + NONCE_HEX + 1 + MAC_HEX || len >= COOKIE_LOGIN_MAX)
		return false;
	issued_s = value + 2;
	mac = value + len - MAC_HEX;
	nonce = mac - 1 - NONCE_HEX;
	if (mac[-1] != '.' || nonce[-1] != '.' || !all_hex(nonce, NONCE_HEX) ||
	    !all_hex(mac, MAC_HEX) || issued_s[0] < '0' || issued_s[0] > '9')
		return false;
	errno = 0;
	issued = strtoll(issued_s, &end, 10);
	if (errno || end != nonce - 1)
		return false;
	mac_hex(key, value, (size_t)(mac - 1 - value), expect);
	if (CRYPTO_memcmp(expect, mac, MAC_HEX) != 0)
		return false;
	return issued <= now + 60 && now - issued <= max_age;
}

/* --- the capability cookie ---------------------------------------------------- */

/* Token characters a cookie value may hold as they are (RFC 6265 cookie-octet). */
static bool is_cookie_safe(const char *s)
{
	for (; *s; s++)
		if (*s <= ' ' || *s >= 0x7f || *s == '"' || *s == ',' || *s == ';' || *s == '\\')
			return false;
	return true;
}

int cookie_cap_sign(const uint8_t key[COOKIE_KEY_LEN], long long issued, const char *token,
		    char out[COOKIE_VALUE_MAX])
{
	char mac[MAC_HEX + 1];
	int n;

	if (issued < 0 || !token || !*token || strlen(token) > COOKIE_CAP_TOKEN_MAX ||
	    !is_cookie_safe(token))
		return CG_EINVAL;
	n = snprintf(out, COOKIE_VALUE_MAX, "2.%lld.%s", issued, token);
	mac_hex(key, out, (size_t)n, mac);
	snprintf(out + n, COOKIE_VALUE_MAX - (size_t)n, ".%s", mac);
	return 0;
}

const char *cookie_cap_verify(const uint8_t key[COOKIE_KEY_LEN], const char *value, long long now,
			      long long max_age, char *token, size_t n)
{
	const char *mac, *tok;
	char expect[MAC_HEX + 1], *end;
	long long issued;
	size_t len, tlen;

	if (!value || strncmp(value, "2.", 2) != 0 || value[2] < '0' || value[2] > '9')
		return NULL;
	len = strlen(value);
	if (len < 2 + 1 + 1 + 1 + 1 + MAC_HEX || len >= COOKIE_VALUE_MAX)
		return NULL;
	mac = value + len - MAC_HEX;
	if (mac[-1] != '.' || !all_hex(mac, MAC_HEX))
		return NULL;
	errno = 0;
	issued = strtoll(value + 2, &end, 10);
	if (errno || *end != '.' || end + 1 >= mac - 1)
		return NULL;
	tok = end + 1;
	tlen = (size_t)(mac - 1 - tok);
	mac_hex(key, value, (size_t)(mac - 1 - value), expect);
	if (CRYPTO_memcmp(expect, mac, MAC_HEX) != 0 || issued > now + 60 ||
	    now - issued > max_age || tlen >= n)
		return NULL;
	memcpy(token, tok, tlen);
	token[tlen] = '\0';
	return token;
}

void cookie_login_name(const char *host, char out[COOKIE_NAME_MAX])
{
	size_t n = strlen("cellgate-");

	memcpy(out, "cellgate-", n);
	for (const char *h = host ? host : "localhost"; *h && n < COOKIE_NAME_MAX - 1; h++) {
		char c = *h >= 'A' && *h <= 'Z' ? (char)(*h + 32) : *h;

		out[n++] = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
				   ? c
				   : '-';
	}
	out[n] = '\0';
}
