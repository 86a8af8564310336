/* JSON with comments and trailing commas, reduced to JSON for jansson. */
#include "jsonc.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Copies text into out without comments (each replaced by a space, so
 * tokens stay apart) and without commas that only precede a closing
 * bracket. Strings are copied untouched. Returns the length written.
 */
static size_t strip(const char *text, size_t len, char *out)
{
	size_t n = 0, pending_comma = 0;
	bool has_comma = false;
	char prev = 0; /* the last token character written */

	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		if (c == '"') {
			if (has_comma) {
				out[pending_comma] = ',';
				has_comma = false;
			}
			prev = c;
			out[n++] = c;
			for (i++; i < len; i++) {
				out[n++] = text[i];
				if (text[i] == '\\' && i + 1 < len)
					out[n++] = text[++i];
				else if (text[i] == '"')
					break;
			}
			continue;
		}
		if (c == '/' && i + 1 < len && text[i + 1] == '/') {
			while (i < len && text[i] != '\n')
				i++;
			out[n++] = '\n';
			continue;
		}
		if (c == '/' && i + 1 < len && text[i + 1] == '*') {
			const char *end = NULL;

			for (size_t j = i + 2; j + 1 < len; j++) {
				if (text[j] == '*' && text[j + 1] == '/') {
					end = text + j;
					break;
				}
			}
			if (!end) {
				/* unterminated: leave it for jansson to refuse */
				out[n++] = c;
				continue;
			}
			i = (size_t)(end - text) + 1;
			out[n++] = ' ';
			continue;
		}
		if (c == ',' && (prev == '{' || prev == '[')) {
			/* nothing before it to trail: left for jansson to refuse */
			out[n++] = c;
			prev = c;
			continue;
		}
		if (c == ',') {
			/* decided by the next token: dropped before } or ] */
			if (has_comma)
				out[pending_comma] = ',';
			pending_comma = n;
			has_comma = true;
			out[n++] = ' ';
			continue;
		}
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			if (has_comma && c != '}' && c != ']')
				out[pending_comma] = ',';
			has_comma = false;
			prev = c;
		}
		out[n++] = c;
	}
	if (has_comma)
		out[pending_comma] = ',';
	return n;
}

json_t *jsonc_loadb(const char *text, size_t len, json_error_t *jerr)
{
	char *plain = malloc(len + 1);
	json_t *v;
	size_t n;

	if (!plain) {
		if (jerr)
			snprintf(jerr->text, sizeof jerr->text, "out of memory");
		return NULL;
	}
	n = strip(text, len, plain);
	v = json_loadb(plain, n, JSON_REJECT_DUPLICATES, jerr);
	free(plain);
	return v;
}
