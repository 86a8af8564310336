/*
 * nbdiff: cells matched by id; added, removed, moved (the fewest that
 * explain the new order), source, outputs and metadata changes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../notebook-store/nbdiff.h"

/* A notebook whose cells are named by the characters of ids, each with
 * source "s<id>". */
static json_t *nb_of(const char *ids)
{
	json_t *cells = json_array();

	for (const char *p = ids; *p; p++) {
		char id[2] = { *p, 0 }, src[8];

		snprintf(src, sizeof src, "s%c", *p);
		json_array_append_new(cells, json_pack("{s:s, s:s, s:s, s:{}, s:n, s:[]}", "id", id,
						       "cell_type", "code", "source", src, "metadata",
						       "execution_count", "outputs"));
	}
	return json_pack("{s:o, s:{}, s:i, s:i}", "cells", cells, "metadata", "nbformat", 4,
			 "nbformat_minor", 5);
}

static const char *ids_of(const json_t *list, char *out)
{
	size_t i;
	json_t *v;

	out[0] = '\0';
	json_array_foreach(list, i, v)
		strncat(out, json_string_value(json_object_get(v, "id")), 1);
	return out;
}

static void check(const char *from, const char *to, const char *added, const char *removed,
		  const char *moved, int unchanged)
{
	json_t *a = nb_of(from), *b = nb_of(to), *d = nbdiff(a, b);
	char buf[64];

	assert_non_null(d);
	assert_string_equal(ids_of(json_object_get(d, "added"), buf), added);
	assert_string_equal(ids_of(json_object_get(d, "removed"), buf), removed);
	assert_string_equal(ids_of(json_object_get(d, "moved"), buf), moved);
	assert_int_equal(json_integer_value(json_object_get(d, "unchanged")), unchanged);
	json_decref(a);
	json_decref(b);
	json_decref(d);
}

static void test_order_and_membership(void **state)
{
	(void)state;
	check("abc", "abc", "", "", "", 3);
	check("", "", "", "", "", 0);
	check("", "ab", "ab", "", "", 0);
	check("ab", "", "", "ab", "", 0);
	check("abc", "acd", "d", "b", "", 2);
	/* one cell moved to the front is one move, not four */
	check("abcde", "eabcd", "", "", "e", 4);
	/* a swap moves one of the two */
	check("ab", "ba", "", "", "a", 1);
	/* reversal: all but one moved */
	check("abcd", "dcba", "", "", "abc", 1);
}

static void test_changes(void **state)
{
	json_t *a = nb_of("abc"), *b = nb_of("abc"), *d;
	char buf[64];

	(void)state;
	json_object_set_new(json_array_get(json_object_get(b, "cells"), 0), "source", json_string("new"));
	json_object_set_new(json_array_get(json_object_get(b, "cells"), 1), "execution_count", json_integer(3));
	json_object_set_new(json_array_get(json_object_get(b, "cells"), 2), "metadata",
			    json_pack("{s:b}", "collapsed", 1));
	json_object_set_new(json_object_get(b, "metadata"), "title", json_string("t"));
	d = nbdiff(a, b);
	assert_string_equal(ids_of(json_object_get(d, "source_changed"), buf), "a");
	assert_string_equal(ids_of(json_object_get(d, "outputs_changed"), buf), "b");
	assert_string_equal(ids_of(json_object_get(d, "metadata_changed"), buf), "c");
	assert_int_equal(json_integer_value(json_object_get(d, "unchanged")), 0);
	assert_true(json_is_true(json_object_get(d, "notebook_metadata_changed")));
	json_decref(a);
	json_decref(b);
	json_decref(d);
}

static void test_cells_without_ids(void **state)
{
	json_t *a = nb_of("ab"), *b = nb_of("ab"), *d;
	char buf[64];

	(void)state;
	/* a cell without an id cannot be matched: removed and added */
	json_object_del(json_array_get(json_object_get(a, "cells"), 0), "id");
	json_object_del(json_array_get(json_object_get(b, "cells"), 0), "id");
	d = nbdiff(a, b);
	assert_int_equal(json_array_size(json_object_get(d, "added")), 1);
	assert_int_equal(json_array_size(json_object_get(d, "removed")), 1);
	assert_string_equal(ids_of(json_object_get(d, "moved"), buf), "");
	assert_int_equal(json_integer_value(json_object_get(d, "unchanged")), 1);
	json_decref(a);
	json_decref(b);
	json_decref(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_membership),
		cmocka_unit_test(test_changes),
		cmocka_unit_test(test_cells_without_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
