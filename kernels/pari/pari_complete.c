/*
 * Completion, inspection and is_complete for the PARI kernel. Names come
 * from PARI's own symbol table (functions_hash), which holds the built-in
 * functions and every name the session has used; help texts are the short
 * descriptions libpari carries for each built-in (what gp's `?name` shows),
 * or addhelp's text, or the value of a user variable.
 */
#include <pari/pari.h>
#include <pari/paripriv.h>

#include <stdlib.h>
#include <string.h>

#include "../kside/kside.h"
#include "pari_kernel.h"

static bool is_ident(unsigned char c)
{
	return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_listed(const entree *ep)
{
	/* EpNEW: a name read once but never given a value. */
	return ep->valence != EpNEW && ep->name[0] != '_';
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *pk_complete(void *ctx, const char *code, size_t cursor)
{
	size_t end = kside_byte_offset(code, cursor), start = end, n = 0, cap = 64;
	const char **names = malloc(cap * sizeof *names);
	json_t *matches = json_array();
	(void)ctx;

	while (start > 0 && is_ident((unsigned char)code[start - 1]))
		start--;
	/* A leading digit is a number, not a name. */
	if (start < end && code[start] >= '0' && code[start] <= '9')
		start = end;
	for (long h = 0; names && start < end && h < functions_tblsz; h++) {
		for (entree *ep = functions_hash[h]; ep; ep = ep->next) {
			if (!is_listed(ep) || strncmp(ep->name, code + start, end - start))
				continue;
			if (n == cap) {
				const char **p = realloc(names, 2 * cap * sizeof *names);

				if (!p)
					break;
				names = p;
				cap *= 2;
			}
			names[n++] = ep->name;
		}
	}
	if (names)
		qsort(names, n, sizeof *names, cmp_str);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(matches, json_string(names[i]));
	free(names);
	return json_pack("{s:o, s:I, s:I, s:{}}", "matches", matches, "cursor_start",
			 (json_int_t)kside_code_points(code, start), "cursor_end",
			 (json_int_t)kside_code_points(code, end), "metadata");
}

json_t *pk_inspect(void *ctx, const char *code, size_t cursor, int detail_level)
{
	size_t at = kside_byte_offset(code, cursor), start = at, end = at;
	char name[128];
	entree *ep;
	char *text = NULL;
	json_t *r;
	(void)ctx;
	(void)detail_level;

	/* The name under the cursor, or the one just before it, or the function
	 * whose argument list the cursor is in ("factor(|"). */
	if (start > 0 && !is_ident((unsigned char)code[start]) && code[start - 1] == '(')
		start = end = start - 1;
	while (start > 0 && is_ident((unsigned char)code[start - 1]))
		start--;
	while (is_ident((unsigned char)code[end]))
		end++;
	if (end == start || end - start >= sizeof name)
		return NULL;
	memcpy(name, code + start, end - start);
	name[end - start] = '\0';
	ep = is_entry(name);
	if (!ep || !is_listed(ep))
		return NULL;
	if (ep->help) {
		text = strdup(ep->help);
	} else if (ep->valence == EpVAR && ep->value) {
		pari_sp av = avma;
		volatile bool ok = true;
		char *value = NULL;

		pari_CATCH(CATCH_ALL) {
			ok = false;
		} pari_TRY {
			value = GENtostr((GEN)ep->value);
		} pari_ENDCATCH;
		if (ok && value) {
			size_t len = strlen(name) + strlen(value) + 8;

			text = malloc(len);
			if (text)
				snprintf(text, len, "%s =\n  %s", name, value);
		}
		set_avma(av);
	}
	if (!text)
		return NULL;
	kside_utf8_scrub(text, strlen(text));
	r = json_pack("{s:b, s:{s:s}, s:{}}", "found", 1, "data", "text/plain", text, "metadata");
	free(text);
	return r;
}

const char *pk_is_complete(void *ctx, const char *code, const char **indent)
{
	long depth = 0;
	bool in_string = false, line_comment = false, block_comment = false;
	size_t len = strlen(code), last = len;
	(void)ctx;

	*indent = "";
	for (size_t i = 0; i < len; i++) {
		char c = code[i];

		if (line_comment) {
			line_comment = c != '\n';
		} else if (block_comment) {
			if (c == '*' && code[i + 1] == '/') {
				block_comment = false;
				i++;
			}
		} else if (in_string) {
			if (c == '\\' && code[i + 1])
				i++;
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
		} else if (c == '\\' && code[i + 1] == '\\') {
			line_comment = true;
			i++;
		} else if (c == '/' && code[i + 1] == '*') {
			block_comment = true;
			i++;
		} else if (c == '(' || c == '[' || c == '{') {
			depth++;
		} else if (c == ')' || c == ']' || c == '}') {
			if (--depth < 0)
				return "invalid";
		}
	}
	if (in_string || block_comment || depth > 0) {
		*indent = depth > 0 ? "  " : "";
		return "incomplete";
	}
	while (last > 0 && (code[last - 1] == ' ' || code[last - 1] == '\t' || code[last - 1] == '\n'))
		last--;
	/* gp continues a line that ends with a backslash; "=" or a binary
	 * operator at the end also wants more. */
	if (last > 0 && !line_comment) {
		char c = code[last - 1];

		if (c == '\\' || c == '=' || c == '+' || c == '*' || c == '/' || c == '^' ||
		    c == ',' || c == '-')
			return "incomplete";
	}
	return "complete";
}
