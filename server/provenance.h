/*
 * Where saves meet execution records: after a version is saved, its outputs
 * are linked to the executions that produced them (notebook-store/records.h)
 * by the recorder's worker, after the records finished before the save.
 */
#ifndef CELLGATE_PROVENANCE_H
#define CELLGATE_PROVENANCE_H

#include "app.h"

/* Never fails or delays the save: a link not made yet is made when the
 * version's provenance (or a replay of it) is first read. */
void provenance_on_save(app_t *app, const char *path, const char *version_id);

#endif
