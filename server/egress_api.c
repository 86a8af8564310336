/* GET /api/cellgate/egress?kernel=ID: a kernel's egress decisions, newest
 * last, with its open connections and bytes so far. */
#include <string.h>

#include "app.h"
#include "egress_broker.h"
#include "handlers.h"

void api_egress_get(http_req_t *req)
{
	app_t *app = http_app(req);
	const char *id = http_query(req, "kernel");
	json_t *report;

	if (!id || !*id) {
		http_respond_error(req, 400, "the kernel query parameter is required");
		return;
	}
	if (!kmgr_find(app->kernels, id)) {
		http_respond_error(req, 404, "no such kernel");
		return;
	}
	report = egress_broker_report(app->egress, id);
	if (!report)
		report = json_pack("{s:s, s:[], s:i, s:i, s:b}", "kernel", id, "decisions",
				   "open_connections", 0, "bytes", 0, "enabled", 0);
	http_respond_json(req, 200, report);
}
