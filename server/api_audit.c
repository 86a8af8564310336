/*
 * GET /api/cellgate/audit: the audit log for principals with admin
 * (routes.c), as `cellgate audit log|verify` shows it.
 *
 *   ?since=SEQ   entries after SEQ (default 0)
 *   ?limit=N     at most N, 1 to 10000 (default 1000)
 *   ?verify=1    also walk the chain: {"intact", "entries", "first_bad", "message"}
 */
#include <stdlib.h>
#include <string.h>

#include "../policy/audit.h"
#include "app.h"
#include "authz.h"
#include "handlers.h"

static bool query_number(http_req_t *req, const char *name, long long lo, long long hi,
			 long long dflt, long long *out)
{
	const char *v = http_query(req, name);
	char *end;

	*out = dflt;
	if (!v)
		return true;
	*out = strtoll(v, &end, 10);
	if (!*v || *end || *out < lo || *out > hi) {
		http_respond_error(req, 400, "\"%s\" must be a number from %lld to %lld", name, lo, hi);
		return false;
	}
	return true;
}

void api_audit_log(http_req_t *req)
{
	app_t *app = http_app(req);
	long long since, limit, verify;
	json_t *entries = NULL, *out;
	err_t err = { 0 };

	if (!query_number(req, "since", 0, 1LL << 62, 0, &since) ||
	    !query_number(req, "limit", 1, 10000, 1000, &limit) ||
	    !query_number(req, "verify", 0, 1, 0, &verify))
		return;
	if (!app->audit && !(app->audit = policy_audit_open(app->cfg.state, &err))) {
		http_respond_error(req, 500, "the audit log is unavailable");
		return;
	}
	if (policy_audit_list(app->audit, since, (size_t)limit, &entries, &err)) {
		http_respond_error(req, 500, "the audit log cannot be read");
		return;
	}
	out = json_pack("{s:o}", "entries", entries);
	if (verify) {
		int64_t n = 0, bad = 0;
		int rc = policy_audit_verify(app->audit, &n, &bad, &err);

		json_object_set_new(out, "verified",
				    json_pack("{s:b, s:I, s:I, s:s}", "intact", rc == 0, "entries",
					      (json_int_t)n, "first_bad", (json_int_t)bad, "message",
					      rc ? err.msg : ""));
	}
	http_respond_json(req, 200, out);
}
