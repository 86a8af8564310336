/*
 * The cell-level diff of two notebooks (see nbdiff.h). Linear in the number
 * of cells but for the moved-cell search, which is O(n log n).
 */
#include "nbdiff.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *cell_id(const json_t *cell)
{
	return json_string_value(json_object_get(cell, "id"));
}

/* id -> index, for the cells that have an id (the first of duplicates). */
static json_t *index_by_id(const json_t *cells)
{
	json_t *map = json_object(), *cell;
	size_t i;

	if (!map)
		return NULL;
	json_array_foreach(cells, i, cell) {
		const char *id = cell_id(cell);

		if (id && !json_object_get(map, id))
			json_object_set_new(map, id, json_integer((json_int_t)i));
	}
	return map;
}

static bool field_differs(const json_t *a, const json_t *b, const char *key)
{
	const json_t *x = json_object_get(a, key), *y = json_object_get(b, key);

	if (!x || !y)
		return x != y;
	return !json_equal((json_t *)x, (json_t *)y);
}

static json_t *pair(const char *id, size_t from, size_t to)
{
	return json_pack("{s:s, s:I, s:I}", "id", id, "from_index", (json_int_t)from, "to_index",
			 (json_int_t)to);
}

/*
 * keep[k] = true for the members of one longest strictly increasing
 * subsequence of pos[0..n): the cells that did not move.
 */
static int longest_increasing(const size_t *pos, size_t n, bool *keep)
{
	size_t *tail = calloc(n + 1, sizeof *tail), *prev = calloc(n + 1, sizeof *prev), len = 0;

	if (!tail || !prev) {
		free(tail);
		free(prev);
		return -1;
	}
	for (size_t k = 0; k < n; k++) {
		size_t lo = 0, hi = len;

		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (pos[tail[mid]] < pos[k])
				lo = mid + 1;
			else
				hi = mid;
		}
		prev[k] = lo ? tail[lo - 1] : (size_t)-1;
		tail[lo] = k;
		if (lo == len)
			len++;
	}
	for (size_t k = len ? tail[len - 1] : (size_t)-1; k != (size_t)-1; k = prev[k])
		keep[k] = true;
	free(tail);
	free(prev);
	return 0;
}

json_t *nbdiff(const json_t *from, const json_t *to)
{
	const json_t *ca = json_object_get(from, "cells"), *cb = json_object_get(to, "cells");
	json_t *ia = index_by_id(ca), *ib = index_by_id(cb), *out = NULL, *cell;
	json_t *added, *removed, *moved, *src, *outs, *meta;
	size_t na = json_array_size(ca), nc = 0, unchanged = 0, i;
	size_t *common_a = calloc(na + 1, sizeof *common_a), *pos = calloc(na + 1, sizeof *pos);
	bool *keep = calloc(na + 1, sizeof *keep);

	if (!ia || !ib || !common_a || !pos || !keep)
		goto out;
	out = json_pack("{s:[], s:[], s:[], s:[], s:[], s:[], s:b}", "added", "removed", "moved",
			"source_changed", "outputs_changed", "metadata_changed",
			"notebook_metadata_changed",
			field_differs(from, to, "metadata") ||
				field_differs(from, to, "nbformat_minor"));
	if (!out)
		goto out;
	added = json_object_get(out, "added");
	removed = json_object_get(out, "removed");
	moved = json_object_get(out, "moved");
	src = json_object_get(out, "source_changed");
	outs = json_object_get(out, "outputs_changed");
	meta = json_object_get(out, "metadata_changed");
	json_array_foreach(ca, i, cell) {
		const char *id = cell_id(cell);
		json_t *j = id ? json_object_get(ib, id) : NULL;

		/* only the first of duplicate ids is matched */
		if (!j || json_integer_value(json_object_get(ia, id)) != (json_int_t)i) {
			json_array_append_new(removed, json_pack("{s:s?, s:I}", "id", id, "index", (json_int_t)i));
			continue;
		}
		common_a[nc] = i;
		pos[nc++] = (size_t)json_integer_value(j);
	}
	json_array_foreach(cb, i, cell) {
		const char *id = cell_id(cell);
		json_t *j = id ? json_object_get(ia, id) : NULL;

		if (!j || json_integer_value(json_object_get(ib, id)) != (json_int_t)i)
			json_array_append_new(added, json_pack("{s:s?, s:I}", "id", id, "index", (json_int_t)i));
	}
	if (longest_increasing(pos, nc, keep)) {
		json_decref(out);
		out = NULL;
		goto out;
	}
	for (size_t k = 0; k < nc; k++) {
		const json_t *a = json_array_get(ca, common_a[k]), *b = json_array_get(cb, pos[k]);
		const char *id = cell_id(a);
		bool same = keep[k];

		if (!keep[k])
			json_array_append_new(moved, pair(id, common_a[k], pos[k]));
		if (field_differs(a, b, "source")) {
			json_array_append_new(src, pair(id, common_a[k], pos[k]));
			same = false;
		}
		if (field_differs(a, b, "outputs") || field_differs(a, b, "execution_count")) {
			json_array_append_new(outs, pair(id, common_a[k], pos[k]));
			same = false;
		}
		if (field_differs(a, b, "cell_type") || field_differs(a, b, "metadata") ||
		    field_differs(a, b, "attachments")) {
			json_array_append_new(meta, pair(id, common_a[k], pos[k]));
			same = false;
		}
		unchanged += same;
	}
	json_object_set_new(out, "unchanged", json_integer((json_int_t)unchanged));
out:
	json_decref(ia);
	json_decref(ib);
	free(common_a);
	free(pos);
	free(keep);
	return out;
}
