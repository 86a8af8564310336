/*
 * Where saves meet execution records: after a version is saved, the
 * recorder's finished records are written and the version's outputs linked
 * to the executions that produced them (notebook-store/records.h).
 */
#ifndef CELLGATE_PROVENANCE_H
#define CELLGATE_PROVENANCE_H

#include "app.h"

/* Never fails the save: a link that cannot be made is logged, and made
 * again (lazily) when the version's provenance is first read. */
void provenance_on_save(app_t *app, const char *version_id);

#endif
