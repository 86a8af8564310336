/* GET /api/cellgate/egress?kernel=ID: a kernel's egress decisions, newest
 * last, with its open connections and bytes so far. */
#include <string.h>

#include "app.h"
#include "authz.h"
#include "contents_path.h"
#include "egress_broker.h"
#include "handlers.h"

void api_egress_get(http_req_t *req)
{
	app_t *app = http_app(req);
	const char *id = http_query(req, "kernel");
	kernel_t *k;
	policy_resource_t res = { 0 };
	char path[CPATH_MAX] = "";
	json_t *report;

	if (!id || !*id) {
		http_respond_error(req, 400, "the kernel query parameter is required");
		return;
	}
	k = kmgr_find(app->kernels, id);
	if (!k) {
		http_respond_error(req, 404, "no such kernel");
		return;
	}
	/* the route asked for read on kernels; this is the kernel */
	authz_kernel_resource(app, k, &res, path, sizeof path);
	if (!authz_require(req, POLICY_READ, &res))
		return;
	report = egress_broker_report(app->egress, id);
	if (!report)
		report = json_pack("{s:s, s:[], s:i, s:i, s:b}", "kernel", id, "decisions",
				   "open_connections", 0, "bytes", 0, "enabled", 0);
	http_respond_json(req, 200, report);
}
