/*
 * replay_report: comparing a replayed cell's outputs with the recorded
 * ones, and the report as a self-contained HTML page.
 *
 * Outputs are compared after normalisation: text has masks applied (hex
 * addresses such as 0x7f3a5c2d10, ISO and clock timestamps, durations such
 * as "12.3 ms" or "1.2s", and any extra regular expressions the reviewer
 * gives), then numbers are compared with a relative and an absolute
 * tolerance; images compare by exact hash (no perceptual fallback); JSON
 * mime types compare structurally; errors by name and masked value (the
 * traceback holds paths and ANSI colour, and is not compared);
 * execution_count is not compared.
 */
#ifndef CELLGATE_REPLAY_REPORT_H
#define CELLGATE_REPLAY_REPORT_H

#include <jansson.h>
#include <stdbool.h>

#include "../common/buf.h"
#include "../common/err.h"

#define REPLAY_MAX_MASKS 16
#define REPLAY_MAX_GRANTS 16

typedef struct replay_opts {
	bool mask_addresses;   /* 0x followed by 6 or more hex digits */
	bool mask_timestamps;  /* 2024-01-31T12:34:56(.123)(Z), 12:34:56 */
	bool mask_durations;   /* 1.5 s, 12ms, 3 µs, 2 seconds */
	double rel_tol;        /* numbers a and b match when |a-b| <= max(rel_tol*max(|a|,|b|), abs_tol) */
	double abs_tol;
	size_t n_masks;
	char *masks[REPLAY_MAX_MASKS]; /* POSIX extended regular expressions */
	size_t n_grants;
	char *grants[REPLAY_MAX_GRANTS]; /* effects the reviewer grants: "HOST:PORT" reachable */
} replay_opts_t;

/* Every default mask on, rel_tol 1e-9, abs_tol 0, no extra masks. */
void replay_opts_defaults(replay_opts_t *o);
/*
 * From a request: {"mask_addresses", "mask_timestamps", "mask_durations":
 * bool, "rel_tol", "abs_tol": number >= 0, "masks": [regex]}; anything
 * absent keeps its default. CG_EINVAL (with the reason) for a bad value or
 * a regular expression that does not compile.
 */
int replay_opts_from_json(replay_opts_t *o, const json_t *j, err_t *err);
/*
 * The effects a replay may use: ["network:HOST:PORT", ...] (HOST a name, an
 * IPv4 address or [IPv6]; PORT 1-65535), at most REPLAY_MAX_GRANTS. NULL
 * grants nothing. CG_EINVAL with the reason for anything else.
 */
int replay_grants_from_json(replay_opts_t *o, const json_t *j, err_t *err);
/* ["network:HOST:PORT", ...] */
json_t *replay_grants_to_json(const replay_opts_t *o);
json_t *replay_opts_to_json(const replay_opts_t *o);
void replay_opts_clear(replay_opts_t *o);

/* text with the masks applied. Caller frees. */
char *replay_mask_text(const char *text, const replay_opts_t *o);
/* True when the masked texts are the same up to the numeric tolerance. */
bool replay_text_equal(const char *a, const char *b, const replay_opts_t *o);

/*
 * Compares two lists of nbformat outputs. Returns true when they match;
 * otherwise *diff (caller owns) lists the differences:
 * [{"output": i, "field": "text" | "data/image/png" | "output_type" | "count" ...,
 *   "recorded": masked text or null, "replayed": ...}].
 */
bool replay_outputs_equal(const json_t *recorded, const json_t *replayed, const replay_opts_t *o,
			  json_t **diff);

/* The report as a self-contained HTML page: no script, no external
 * resource; images inline as data: URLs; everything else escaped. */
int replay_report_html(const json_t *report, buf_t *out);

#endif
