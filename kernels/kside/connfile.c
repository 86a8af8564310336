/*
 * The kernel's side of a Jupyter connection file: transport, address, five
 * ports and the HMAC key. Only hmac-sha256 (or no key) is accepted: that is
 * what kernels/wire.c signs with.
 */
#include "kside.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kside_conn_load(const char *path, kside_conn_t *out, err_t *err)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr);
	const char *transport = "tcp", *ip = "127.0.0.1", *key = "", *scheme = "hmac-sha256";
	int rc = CG_EINVAL;

	memset(out, 0, sizeof *out);
	if (!root)
		return err_set(err, CG_EINVAL, "connection file: %s (line %d)", jerr.text, jerr.line);
	if (json_unpack_ex(root, &jerr, 0,
			   "{s?s, s?s, s:i, s:i, s:i, s:i, s:i, s?s, s?s}",
			   "transport", &transport, "ip", &ip,
			   "shell_port", &out->shell_port, "control_port", &out->control_port,
			   "stdin_port", &out->stdin_port, "iopub_port", &out->iopub_port,
			   "hb_port", &out->hb_port, "key", &key, "signature_scheme", &scheme)) {
		err_set(err, CG_EINVAL, "connection file: %s", jerr.text);
		goto out;
	}
	if (strcmp(transport, "tcp") && strcmp(transport, "ipc")) {
		err_set(err, CG_EINVAL, "connection file: unknown transport \"%s\"", transport);
		goto out;
	}
	if (*key && strcmp(scheme, "hmac-sha256")) {
		err_set(err, CG_EINVAL, "connection file: unsupported signature scheme \"%s\"", scheme);
		goto out;
	}
	if (strlen(ip) >= sizeof out->ip) {
		err_set(err, CG_ETOOBIG, "connection file: ip too long");
		goto out;
	}
	snprintf(out->transport, sizeof out->transport, "%s", transport);
	snprintf(out->ip, sizeof out->ip, "%s", ip);
	out->key_len = strlen(key);
	out->key = strdup(key);
	if (!out->key) {
		err_set(err, CG_ESYS, "out of memory");
		goto out;
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

int kside_conn_endpoint(const kside_conn_t *c, int port, char *out, size_t size)
{
	int n;

	if (!strcmp(c->transport, "ipc"))
		n = snprintf(out, size, "ipc://%s-%d", c->ip, port);
	else
		n = snprintf(out, size, "tcp://%s:%d", c->ip, port);
	return (n < 0 || (size_t)n >= size) ? CG_ETOOBIG : 0;
}

void kside_conn_clear(kside_conn_t *c)
{
	if (!c)
		return;
	free(c->key);
	c->key = NULL;
}
