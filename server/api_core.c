/* /api, /api/status, /api/me and /api/events. */
#include <string.h>

#include "../common/util.h"
#include "../policy/policy.h"
#include "app.h"
#include "handlers.h"
#include "recorder.h"

/* The Jupyter Server REST API version cellgate speaks. */
#define API_VERSION "2.0.0"
#define CELLGATE_VERSION "0.1.0"

void api_root(http_req_t *req)
{
	http_respond_json(req, 200, json_pack("{s:s, s:s}", "version", API_VERSION, "cellgate",
					      CELLGATE_VERSION));
}

void api_status(http_req_t *req)
{
	app_t *app = http_app(req);
	char started[ISO_TIME_LEN], last[ISO_TIME_LEN];

	json_t *st;

	util_iso_time(app->started_at, started);
	util_iso_time(app->last_activity, last);
	st = json_pack("{s:s, s:s, s:I, s:I}", "started", started, "last_activity", last, "kernels",
		       (json_int_t)kmgr_count(app->kernels), "connections",
		       (json_int_t)kmgr_connections(app->kernels));
	/* cellgate's own: execution records kept, in flight, failed */
	if (st && app->recorder)
		json_object_set_new(st, "recorder", recorder_stats(app->recorder));
	http_respond_json(req, 200, st);
}

/*
 * Grants what ?permissions= asks about: every action on every resource,
 * since one token is one user with full rights until capabilities narrow
 * it (the policy issue).
 */
static json_t *permissions(const char *query)
{
	json_t *asked = query ? json_loads(query, 0, NULL) : NULL;
	json_t *out = json_object();
	const char *resource;
	json_t *actions;

	if (json_is_object(asked)) {
		json_object_foreach(asked, resource, actions) {
			if (json_is_array(actions))
				json_object_set(out, resource, actions);
		}
	}
	json_decref(asked);
	return out;
}

void api_me(http_req_t *req)
{
	policy_cap_t *cap = http_cap(req);
	/* the server's own token is "cellgate"; a capability token is its principal */
	const char *who = cap && !policy_cap_is_root(cap) ? policy_cap_principal(cap) : "cellgate";
	const char *kind = cap ? policy_cap_kind(cap) : "root";
	char initials[2] = { (char)(who[0] >= 'a' && who[0] <= 'z' ? who[0] - 32 : who[0]), 0 };
	json_t *identity = json_pack("{s:s, s:s, s:s, s:s, s:n, s:n}", "username", who,
				     "name", who, "display_name", who, "initials",
				     initials, "avatar_url", "color");

	http_respond_json(req, 200, json_pack("{s:o, s:o, s:{s:s, s:s}}", "identity", identity,
					      "permissions",
					      permissions(http_query(req, "permissions")),
					      "cellgate", "principal", who, "kind", kind));
}

/* /api/events/subscribe without an upgrade: the socket is in ws_channels.c. */
void api_events_subscribe_plain(http_req_t *req)
{
	http_respond_error(req, 400, "this URL takes a WebSocket upgrade");
}
