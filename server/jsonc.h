/*
 * JSON with comments: what JupyterLab writes as a plugin's raw settings
 * (JSON5 in principle, in practice JSON with // and block comments and
 * trailing commas). jsonc_loadb accepts that subset; anything else of JSON5
 * (unquoted keys, single quotes, hex numbers) is refused as invalid.
 */
#ifndef CELLGATE_JSONC_H
#define CELLGATE_JSONC_H

#include <jansson.h>
#include <stddef.h>

/* The value text holds, or NULL with jerr set (jerr may be NULL). */
json_t *jsonc_loadb(const char *text, size_t len, json_error_t *jerr);

#endif
