/*
 * Completion, inspection and is_complete for the GAP kernel. Names are the
 * bound global variables GAP knows (NamesGVars), filtered in GAP by the
 * prefix; inspection shows the reference manual's entry through GAP's own
 * help system (its Pager leaves the text in CG_Help), and falls
 * back to the View of a bound value.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../kside/kside.h"
#include "gap_kernel.h"

#define GK_MAX_MATCHES 500

static bool is_ident(unsigned char c)
{
	return c == '_' || c == '@' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

/* The identifier around byte `at` into name; false when there is none. */
static bool word_at(const char *code, size_t at, bool extend_right, char *name, size_t size,
		    size_t *start_out)
{
	size_t start = at, end = at;

	if (start > 0 && !is_ident((unsigned char)code[start]) && code[start - 1] == '(')
		start = end = start - 1;
	while (start > 0 && is_ident((unsigned char)code[start - 1]))
		start--;
	while (extend_right && is_ident((unsigned char)code[end]))
		end++;
	if (start_out)
		*start_out = start;
	if (end - start >= size)
		return false;
	memcpy(name, code + start, end - start);
	name[end - start] = '\0';
	return true;
}

json_t *gk_complete(void *ctx, const char *code, size_t cursor)
{
	size_t end = kside_byte_offset(code, cursor), start;
	char prefix[128];
	json_t *matches = json_array();
	char *names = NULL;
	(void)ctx;

	if (!word_at(code, end, false, prefix, sizeof prefix, &start) || !prefix[0] ||
	    (prefix[0] >= '0' && prefix[0] <= '9'))
		start = end;
	else
		names = gk_eval_to_string(
			"CG_Out := JoinStringsWithSeparator(Set(Filtered(NamesGVars(), "
			"n -> StartsWith(n, CG_Arg) and IsBoundGlobal(n))), \"\\n\");;",
			prefix);
	if (names) {
		char *save = NULL;
		size_t n = 0;

		for (char *s = strtok_r(names, "\n", &save); s && n < GK_MAX_MATCHES;
		     s = strtok_r(NULL, "\n", &save), n++)
			json_array_append_new(matches, json_string(s));
		free(names);
	}
	return json_pack("{s:o, s:I, s:I, s:{}}", "matches", matches, "cursor_start",
			 (json_int_t)kside_code_points(code, start), "cursor_end",
			 (json_int_t)kside_code_points(code, end), "metadata");
}

/* GAPDoc's text manuals carry terminal escapes (ESC [ ... letter). */
static void strip_ansi(char *s)
{
	char *w = s;

	for (char *r = s; *r;) {
		if (r[0] == '\033' && r[1] == '[') {
			r += 2;
			while (*r && !((*r >= 'A' && *r <= 'Z') || (*r >= 'a' && *r <= 'z')))
				r++;
			if (*r)
				r++;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
}

json_t *gk_inspect(void *ctx, const char *code, size_t cursor, int detail_level)
{
	char name[128];
	char *text;
	json_t *r;
	(void)ctx;
	(void)detail_level;

	if (!word_at(code, kside_byte_offset(code, cursor), true, name, sizeof name, NULL) || !name[0])
		return NULL;
	/* Only names GAP has bound: HELP would otherwise match manual sections
	 * for any word. The exact manual entry is preferred; when several match,
	 * the first is the one GAP's ?name would show after the menu. GAP's
	 * matching ignores case ("f" finds <F>): an entry whose heading lacks the
	 * name as typed is not it. */
	text = gk_eval_to_string(
		"if IsBoundGlobal(CG_Arg) then\n"
		"  CG_Help := fail;\n"
		"  HELP(CG_Arg);\n"
		"  if IsString(CG_Help) and StartsWith(CG_Help, \"Help: several entries\") then\n"
		"    HELP(\"1\");\n"
		"  fi;\n"
		"  CG_Out := CG_Help;\n"
		"  if IsString(CG_Out) and PositionSublist(CG_Out{[1 .. Minimum(200, Length(CG_Out))]}, CG_Arg) = fail then\n"
		"    CG_Out := fail;\n"
		"  fi;\n"
		"  if CG_Out = fail then\n"
		"    CG_Out := CG_View(ValueGlobal(CG_Arg));\n"
		"    if IsFunction(ValueGlobal(CG_Arg)) and IsString(CG_Out) then\n"
		"      CG_Out := Concatenation(CG_Out, \"\\n\", String(FilenameFunc(ValueGlobal(CG_Arg))),\n"
		"                \":\", String(StartlineFunc(ValueGlobal(CG_Arg))));\n"
		"    fi;\n"
		"  fi;\n"
		"fi;;",
		name);
	if (!text)
		return NULL;
	strip_ansi(text);
	kside_utf8_scrub(text, strlen(text));
	r = json_pack("{s:b, s:{s:s}, s:{}}", "found", 1, "data", "text/plain", text, "metadata");
	free(text);
	return r;
}

static bool keyword_at(const char *code, size_t i, const char *kw)
{
	size_t n = strlen(kw);

	return strncmp(code + i, kw, n) == 0 && (i == 0 || !is_ident((unsigned char)code[i - 1])) &&
	       !is_ident((unsigned char)code[i + n]);
}

/* Scans code as GAP's reader would for brackets, strings, comments and
 * block keywords; *last gets the last character outside comments and
 * *deepest the deepest nesting of brackets and blocks together. */
static const char *scan(const char *code, char *last, long *deepest)
{
	long depth = 0, blocks = 0;
	bool in_string = false, in_char = false, comment = false;
	size_t len = strlen(code);

	*last = 0;
	*deepest = 0;
	for (size_t i = 0; i < len; i++) {
		char c = code[i];

		if (depth + blocks > *deepest)
			*deepest = depth + blocks;

		if (comment) {
			comment = c != '\n';
			continue;
		}
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '#')
			*last = c;
		if (in_string || in_char) {
			if (c == '\\' && code[i + 1])
				i++;
			else if ((in_string && c == '"') || (in_char && c == '\''))
				in_string = in_char = false;
		} else if (c == '"') {
			in_string = true;
		} else if (c == '\'') {
			in_char = true;
		} else if (c == '#') {
			comment = true;
		} else if (c == '(' || c == '[' || c == '{') {
			depth++;
		} else if (c == ')' || c == ']' || c == '}') {
			if (--depth < 0)
				return "invalid";
		} else if (keyword_at(code, i, "function") || keyword_at(code, i, "do") ||
			   keyword_at(code, i, "if") || keyword_at(code, i, "repeat")) {
			blocks++;
		} else if (keyword_at(code, i, "end") || keyword_at(code, i, "od") ||
			   keyword_at(code, i, "fi") || keyword_at(code, i, "until")) {
			if (--blocks < 0)
				return "invalid";
		}
	}
	if (in_string || in_char || depth > 0 || blocks > 0)
		return "incomplete";
	return "complete";
}

const char *gk_is_complete(void *ctx, const char *code, const char **indent)
{
	char last;
	long deepest;
	const char *verdict = scan(code, &last, &deepest);
	(void)ctx;

	*indent = strcmp(verdict, "incomplete") == 0 ? "  " : "";
	/* A trailing binary operator or ":=" wants more; a missing final ';'
	 * does not, execution supplies it. */
	if (strcmp(verdict, "complete") == 0 &&
	    (last == '=' || last == '+' || last == '*' || last == '/' || last == '^' ||
	     last == ',' || last == '-'))
		return "incomplete";
	return verdict;
}

bool gk_needs_semicolon(const char *code)
{
	char last;
	long deepest;

	scan(code, &last, &deepest);
	return last != 0 && last != ';';
}

long gk_nesting_depth(const char *code)
{
	char last;
	long deepest;

	scan(code, &last, &deepest);
	return deepest;
}
