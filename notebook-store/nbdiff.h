/*
 * nbdiff: what changed between two versions of a notebook, cell by cell.
 *
 * Cells are matched by id (nbformat 4.5 ids are stable across saves), so an
 * edited cell is "changed", not "removed and added". Cells kept in both
 * whose order changed are "moved": the fewest that explain the new order
 * (those outside a longest increasing run of their new positions).
 */
#ifndef CELLGATE_NBDIFF_H
#define CELLGATE_NBDIFF_H

#include <jansson.h>

/*
 * Compares two in-memory 4.5 notebooks. Returns, caller owning it:
 *   {"added":   [{"id", "index"}],            index in `to`
 *    "removed": [{"id", "index"}],            index in `from`
 *    "moved":           [{"id", "from_index", "to_index"}],
 *    "source_changed":  [...same shape],
 *    "outputs_changed": [...]                 outputs or execution_count
 *    "metadata_changed":[...]                 cell_type, metadata, attachments
 *    "unchanged": n,                          cells in both, not moved, equal
 *    "notebook_metadata_changed": bool}
 * NULL when out of memory.
 */
json_t *nbdiff(const json_t *from, const json_t *to);

#endif
