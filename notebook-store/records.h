/*
 * records: execution records, the links from a version's outputs to the
 * executions that produced them, and replay reports, in the store.
 *
 * An execution record says who ran which code in which kernel session, after
 * which execution of that session (the chain that gives the real execution
 * order), with what status and outputs. Its code and outputs are objects of
 * the store (the same canonical JSON and SHA-256 as a notebook's outputs, so
 * an output saved in a notebook and the one a kernel sent have the same
 * hash). A kernel session (one kernel process) carries the kernelspec, the
 * command, the sandbox and the environment (package versions, hashes of the
 * kernel's files), stored once.
 *
 * When a version is saved, each code cell is linked to the newest record of
 * that cell whose outputs are the cell's outputs; a cell no record produced
 * is "unrecorded". Provenance and staleness are read from those links.
 * Records, links and reports are never updated or deleted (triggers).
 */
#ifndef CELLGATE_RECORDS_H
#define CELLGATE_RECORDS_H

#include <jansson.h>

#include "../common/err.h"
#include "store.h"

/* Longest chain of previous executions walked for one cell. */
#define RECORDS_MAX_CHAIN 10000

/*
 * Writes finished executions, in one transaction. Each element of batch:
 *   {"id", "kernel_session", "previous" (id or null), "principal", "path",
 *    "cell_id", "code", "outputs": [nbformat outputs], "status",
 *    "execution_count" (int or null), "started", "ended", "kernel_claims": [...],
 *    "session": {"id", "kernel_id", "kernelspec", "argv", "sandbox",
 *                "environment", "started", ...}}
 * Code and outputs become objects; the session row is written once.
 * The version the notebook's file showed is added from the checkouts.
 */
int records_write(store_t *s, const json_t *batch, err_t *err);

/* The store's hash of one output (canonical JSON, SHA-256). */
int records_output_hash(const json_t *output, char out[STORE_HASH_LEN]);
/* The hash of a cell's source as a code object. */
int records_code_hash(const char *code, char out[STORE_HASH_LEN]);

/* Links each code cell of a version to the execution that produced its
 * outputs (once; later calls do nothing). */
int records_link_version(store_t *s, const char *version_id, err_t *err);

/*
 * Per-cell provenance of a version: {"version", "path", "cells": [{"index",
 * "cell_id", "state": "recorded"|"unrecorded"|"unexecuted", "stale",
 * "stale_because": [...], "execution": {...}, "after": [...]}]}.
 * Caller owns *out.
 */
int records_provenance(store_t *s, const char *version_id, json_t **out, err_t *err);

/* One execution record with its code, outputs and kernel session. */
int records_execution(store_t *s, const char *exec_id, json_t **out, err_t *err);

/*
 * What a replay of a version runs: {"version", "path", "sessions": [{
 * "kernel_session", "kernelspec", "executions": [{"id", "cell_id", "code",
 * "status", "compare": [cell indices]}]}], "cells": [{"index", "cell_id",
 * "state", "execution", "outputs": [...]}]}, sessions in the order they ran,
 * each chain from its first kept record to the last one a cell needs.
 */
int records_replay_plan(store_t *s, const char *version_id, json_t **out, err_t *err);

/* Stores a finished replay report, linked to its version; immutable. */
int records_replay_save(store_t *s, const char *replay_id, const char *version_id,
			const json_t *report, const char *verdict, err_t *err);
/* The reports of a version, oldest first: [{"id", "verdict", "created"}]. */
int records_replay_list(store_t *s, const char *version_id, json_t **out, err_t *err);
/* {"id", "version", "verdict", "created", "report"}; CG_ENOTFOUND. */
int records_replay_get(store_t *s, const char *replay_id, json_t **out, err_t *err);

#endif
