/*
 * json_check: validates JSON text without building a tree.
 *
 * Kernels and clients are hostile input: every JSON part of every message is
 * validated before it is forwarded, but most of them are forwarded as bytes,
 * so building a jansson tree for each would be wasted work on the hot path.
 * This checker is strict RFC 8259 (no NaN, no trailing commas, no comments),
 * checks UTF-8 (a text WebSocket frame must be valid UTF-8 or the browser
 * drops the connection), bounds nesting depth, and allocates nothing.
 */
#ifndef CELLGATE_JSON_CHECK_H
#define CELLGATE_JSON_CHECK_H

#include <stddef.h>

#include "err.h"

#define JSON_CHECK_MAX_DEPTH 256

/* 0 when s[0..len) is one JSON value, optionally surrounded by whitespace. */
int json_check(const char *s, size_t len, err_t *err);
/* The same, and the value must be an object. */
int json_check_object(const char *s, size_t len, err_t *err);
/* Checks that s[0..len) is valid UTF-8 (no overlongs, no surrogates). */
int utf8_check(const char *s, size_t len);

#endif
