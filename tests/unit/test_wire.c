/*
 * Unit tests for kernels/wire.c: framing, signing, limits, malformed input,
 * and agreement with jupyter_client.session.Session in both directions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../kernels/wire.h"

#define KEY "5ca1ab1e-0ddba11-c0ffee"
#define VECTORS "/usr/bin/python3 tests/unit/wire_vectors.py"

static wire_slice_t S(const char *s)
{
	return (wire_slice_t){ s, strlen(s) };
}

/* Frames of a well-formed message signed with KEY; sig points into a static buffer. */
static size_t good_frames(wire_slice_t *f, const wire_key_t *key, const char *content)
{
	static char sig[WIRE_SIG_HEX_LEN + 1];

	f[0] = S("client-id");
	f[1] = S(WIRE_DELIMITER);
	f[3] = S("{\"msg_id\":\"m1\",\"msg_type\":\"execute_request\",\"session\":\"s1\","
		 "\"username\":\"u\",\"date\":\"2024-01-01T00:00:00Z\",\"version\":\"5.3\"}");
	f[4] = S("{}");
	f[5] = S("{}");
	f[6] = S(content);
	assert_int_equal(wire_sign(key, &f[3], sig), 0);
	f[2] = S(sig);
	return 7;
}

static void test_roundtrip(void **state)
{
	(void)state;
	wire_key_t *key = wire_key_new(KEY, strlen(KEY), NULL);
	wire_slice_t f[16], out[16];
	char sig[WIRE_SIG_HEX_LEN + 1];
	wire_msg_t *m = NULL, *m2 = NULL;
	err_t err = { 0 };
	size_t n = good_frames(f, key, "{\"code\":\"1+1\"}");
	int nout;

	assert_int_equal(wire_decode(f, n, key, NULL, &m, &err), 0);
	assert_int_equal(m->n_ids, 1);
	assert_string_equal(m->ids[0].data, "client-id");
	assert_string_equal(m->msg_id, "m1");
	assert_string_equal(m->msg_type, "execute_request");
	assert_string_equal(m->session, "s1");
	assert_string_equal(m->parent_msg_id, "");
	assert_string_equal(m->content.data, "{\"code\":\"1+1\"}");

	nout = wire_encode(m, key, out, 16, sig);
	assert_int_equal(nout, 7);
	assert_int_equal(out[2].len, 64);
	assert_memory_equal(out[2].data, f[2].data, 64);
	assert_int_equal(wire_decode(out, (size_t)nout, key, NULL, &m2, &err), 0);
	assert_string_equal(m2->msg_id, "m1");
	wire_msg_unref(&m);
	wire_msg_unref(&m2);
	assert_null(m);
	wire_key_free(&key);
	assert_null(key);
}

static void test_bad_signature(void **state)
{
	(void)state;
	wire_key_t *key = wire_key_new(KEY, strlen(KEY), NULL);
	wire_key_t *other = wire_key_new("other", 5, NULL);
	wire_slice_t f[16];
	char sig[WIRE_SIG_HEX_LEN + 1];
	wire_msg_t *m = NULL;
	err_t err = { 0 };
	size_t n = good_frames(f, key, "{}");

	/* one flipped hex digit */
	memcpy(sig, f[2].data, sizeof sig);
	sig[10] = sig[10] == 'a' ? 'b' : 'a';
	f[2] = S(sig);
	assert_int_equal(wire_decode(f, n, key, NULL, &m, &err), CG_EDENIED);
	assert_null(m);
	assert_non_null(strstr(err.msg, "signature"));

	/* right signature, wrong key */
	n = good_frames(f, key, "{}");
	assert_int_equal(wire_decode(f, n, other, NULL, &m, &err), CG_EDENIED);
	/* truncated and missing signatures */
	f[2] = S("abc");
	assert_int_equal(wire_decode(f, n, key, NULL, &m, &err), CG_EDENIED);
	f[2] = S("");
	assert_int_equal(wire_decode(f, n, key, NULL, &m, &err), CG_EDENIED);
	/* content changed after signing */
	n = good_frames(f, key, "{\"a\":1}");
	f[6] = S("{\"a\":2}");
	assert_int_equal(wire_decode(f, n, key, NULL, &m, &err), CG_EDENIED);
	wire_key_free(&key);
	wire_key_free(&other);
}

static void test_malformed(void **state)
{
	(void)state;
	wire_key_t *key = wire_key_new("", 0, NULL); /* unsigned: reach the JSON checks */
	const char *bad_json[] = { "", "{", "[]", "{\"a\":}", "{\"a\":1,}", "nul",
				   "{\"a\":NaN}", "{\"a\":\"\x01\"}", "{\"a\":\"\xc3\"}",
				   "{\"a\":\"\xed\xa0\x80\"}", "{} x" };
	wire_slice_t f[16];
	wire_msg_t *m = NULL;
	err_t err = { 0 };
	size_t n;

	/* no delimiter */
	f[0] = S("a");
	f[1] = S("b");
	assert_int_equal(wire_decode(f, 2, key, NULL, &m, &err), CG_EINVAL);
	assert_non_null(strstr(err.msg, "delimiter"));
	/* delimiter but too few parts */
	f[0] = S(WIRE_DELIMITER);
	f[1] = S("");
	f[2] = S("{}");
	assert_int_equal(wire_decode(f, 3, key, NULL, &m, &err), CG_EINVAL);

	for (size_t i = 0; i < sizeof bad_json / sizeof *bad_json; i++) {
		n = good_frames(f, key, "{}");
		f[6] = S(bad_json[i]);
		assert_int_equal(wire_decode(f, n, key, NULL, &m, &err), CG_EINVAL);
		assert_non_null(strstr(err.msg, "content"));
		assert_null(m);
	}
	/* header without msg_type */
	n = good_frames(f, key, "{}");
	f[3] = S("{\"msg_id\":\"x\"}");
	assert_int_equal(wire_decode(f, n, key, NULL, &m, &err), CG_EINVAL);
	assert_non_null(strstr(err.msg, "msg_type"));
	/* msg_type of the wrong type */
	f[3] = S("{\"msg_id\":\"x\",\"msg_type\":7}");
	assert_int_equal(wire_decode(f, n, key, NULL, &m, &err), CG_EINVAL);
	wire_key_free(&key);
}

static void test_limits(void **state)
{
	(void)state;
	wire_key_t *key = wire_key_new(KEY, strlen(KEY), NULL);
	wire_limits_t lim = { .max_identities = 2, .max_buffers = 1,
			      .max_part = 64, .max_total = 400 };
	wire_slice_t f[24];
	wire_msg_t *m = NULL;
	err_t err = { 0 };
	char big[200];
	size_t n;

	memset(big, 'x', sizeof big);
	n = good_frames(f, key, "{}");
	f[3] = S("{\"msg_id\":\"m\",\"msg_type\":\"t\"}");
	assert_int_equal(wire_decode(f, n, key, &lim, &m, &err), CG_EDENIED); /* re-sign below */
	{
		static char sig[WIRE_SIG_HEX_LEN + 1];
		wire_sign(key, &f[3], sig);
		f[2] = S(sig);
	}
	assert_int_equal(wire_decode(f, n, key, &lim, &m, &err), 0);
	wire_msg_unref(&m);

	/* a part over max_part */
	f[7] = (wire_slice_t){ big, sizeof big };
	assert_int_equal(wire_decode(f, n + 1, key, &lim, &m, &err), CG_ETOOBIG);
	/* too many buffers */
	f[7] = S("b1");
	f[8] = S("b2");
	assert_int_equal(wire_decode(f, n + 2, key, &lim, &m, &err), CG_ETOOBIG);
	/* too many identities: the delimiter is not found within the allowed prefix */
	memmove(&f[3], &f[0], 7 * sizeof *f);
	f[0] = S("i1");
	f[1] = S("i2");
	f[2] = S("i3");
	assert_int_not_equal(wire_decode(f, n + 3, key, &lim, &m, &err), 0);
	assert_null(m);
	wire_key_free(&key);
}

static void test_msg_new(void **state)
{
	(void)state;
	wire_key_t *key = wire_key_new(KEY, strlen(KEY), NULL);
	wire_msg_t *parent = NULL, *m;
	wire_slice_t f[16];
	err_t err = { 0 };
	size_t n = good_frames(f, key, "{}");
	json_t *hdr;

	assert_int_equal(wire_decode(f, n, key, NULL, &parent, &err), 0);
	m = wire_msg_new("status", "sess", "cellgate", parent,
			 "{\"execution_state\":\"idle\"}", &err);
	assert_non_null(m);
	assert_string_equal(m->msg_type, "status");
	assert_string_equal(m->parent_msg_id, "m1");
	assert_int_equal(strlen(m->msg_id), 32);
	hdr = json_loads(m->header.data, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(hdr, "version")), "5.3");
	assert_non_null(json_string_value(json_object_get(hdr, "date")));
	json_decref(hdr);
	/* content that is not an object is refused */
	assert_null(wire_msg_new("status", "s", "u", NULL, "[1]", &err));
	wire_msg_unref(&m);
	wire_msg_unref(&parent);
	wire_key_free(&key);
}

/* --- agreement with jupyter_client ------------------------------------- */

static unsigned char *b64dec(const char *s, size_t *len)
{
	size_t n = strlen(s);
	unsigned char *out = malloc(n + 1);
	int r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);

	assert_true(r >= 0);
	/* EVP_DecodeBlock counts padding as data */
	while (n && s[n - 1] == '=') {
		n--;
		r--;
	}
	*len = (size_t)r;
	return out;
}

static char *b64enc(const void *data, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

static void test_against_jupyter_client(void **state)
{
	(void)state;
	wire_key_t *key = wire_key_new(KEY, strlen(KEY), NULL);
	FILE *p = popen(VECTORS " make", "r");
	char line[65536], path[] = "/tmp/cellgate-wire-XXXXXX";
	int fd = mkstemp(path), count = 0;
	FILE *ours = fdopen(fd, "w");

	assert_non_null(p);
	while (fgets(line, sizeof line, p)) {
		json_t *v = json_loads(line, 0, NULL), *frames;
		wire_slice_t f[16], out[16];
		unsigned char *raw[16];
		char sig[WIRE_SIG_HEX_LEN + 1];
		wire_msg_t *m = NULL;
		err_t err = { 0 };
		size_t n, i;
		int nout;

		assert_non_null(v);
		frames = json_object_get(v, "frames");
		n = json_array_size(frames);
		for (i = 0; i < n; i++) {
			size_t len;

			raw[i] = b64dec(json_string_value(json_array_get(frames, i)), &len);
			f[i] = (wire_slice_t){ raw[i], len };
		}
		/* jupyter_client's signature verifies with our HMAC, and ours equals theirs */
		assert_int_equal(wire_decode(f, n, key, NULL, &m, &err), 0);
		assert_string_equal(m->msg_type, json_string_value(json_object_get(v, "msg_type")));
		assert_string_equal(m->msg_id, json_string_value(json_object_get(v, "msg_id")));
		assert_int_equal(m->n_ids, json_integer_value(json_object_get(v, "n_ids")));
		nout = wire_encode(m, key, out, 16, sig);
		assert_memory_equal(sig, f[m->n_ids + 1].data, 64);

		/* and what we encode, jupyter_client accepts (checked below) */
		fputs("{\"frames\":[", ours);
		for (i = 0; i < (size_t)nout; i++) {
			char *e = b64enc(out[i].data, out[i].len);

			fprintf(ours, "%s\"%s\"", i ? "," : "", e);
			free(e);
		}
		fputs("]}\n", ours);
		for (i = 0; i < n; i++)
			free(raw[i]);
		wire_msg_unref(&m);
		json_decref(v);
		count++;
	}
	assert_int_equal(pclose(p), 0);
	assert_int_equal(count, 3);
	fclose(ours);

	{
		char cmd[256];
		int checked = 0;

		snprintf(cmd, sizeof cmd, VECTORS " check %s", path);
		p = popen(cmd, "r");
		assert_non_null(p);
		while (fgets(line, sizeof line, p)) {
			json_t *v = json_loads(line, 0, NULL);

			assert_non_null(v);
			if (checked == 1)
				assert_non_null(strstr(line, "\\u2603"));
			if (checked == 2) {
				assert_int_equal(json_integer_value(json_object_get(v, "n_buffers")), 2);
				assert_int_equal(json_array_size(json_object_get(v, "ids")), 2);
				assert_true(strlen(json_string_value(json_object_get(v, "parent_msg_id"))) > 0);
			}
			json_decref(v);
			checked++;
		}
		assert_int_equal(pclose(p), 0);
		assert_int_equal(checked, 3);
	}
	unlink(path);
	wire_key_free(&key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_bad_signature),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_msg_new),
		cmocka_unit_test(test_against_jupyter_client),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
