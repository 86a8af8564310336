/* /api/kernels: list, start, get, shut down, interrupt, restart. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "authz.h"
#include "contents_path.h"
#include "handlers.h"
#include "kernel_start.h"

/* The kernel the route names, or NULL after answering 404. */
static kernel_t *named_kernel(http_req_t *req)
{
	kernel_t *k = kmgr_find(http_app(req)->kernels, http_param(req, 0));

	if (!k)
		http_respond_error(req, 404, "no such kernel: %s", http_param(req, 0));
	return k;
}

void api_kernels_list(http_req_t *req)
{
	kmgr_t *mgr = http_app(req)->kernels;
	json_t *list = json_array();

	for (kernel_t *k = kmgr_next(mgr, NULL); k; k = kmgr_next(mgr, k)) {
		policy_resource_t res;
		char path[CPATH_MAX];

		/* a narrowed token sees the kernels of the notebooks it may read */
		authz_kernel_resource(http_app(req), k, &res, path, sizeof path);
		if (authz_may(req, POLICY_READ, &res))
			json_array_append_new(list, kernel_model(k));
	}
	http_respond_json(req, 200, list);
}

static void respond_created(http_req_t *req, kernel_t *k, void *arg)
{
	char location[128];

	(void)arg;
	if (!k)
		return;
	snprintf(location, sizeof location, "%sapi/kernels/%s", http_app(req)->cfg.base_url,
		 kernel_id(k));
	http_add_header(req, "location", location);
	http_respond_json(req, 201, kernel_model(k));
}

void api_kernels_start(http_req_t *req)
{
	size_t len = 0;
	json_t *body = NULL;
	const char *name, *path, *trust = NULL;
	char *def = NULL, msg[256];

	/* the body is optional: no body starts the default kernel */
	http_body(req, &len);
	if (len && !(body = http_body_json(req)))
		return;
	if (!json_is_optional_string(json_object_get(body, "name")) ||
	    !json_is_optional_string(json_object_get(body, "path"))) {
		http_respond_error(req, 400, "\"name\" and \"path\" must be strings");
		json_decref(body);
		return;
	}
	/* cellgate's own: {"cellgate": {"trust_class": "untrusted"}} */
	if (kernel_trust_parse(json_object_get(body, "cellgate"), &trust, msg, sizeof msg)) {
		http_respond_error(req, 400, "%s", msg);
		json_decref(body);
		return;
	}
	name = json_string_value(json_object_get(body, "name"));
	path = json_string_value(json_object_get(body, "path"));
	if (!name || !*name)
		name = def = kernel_default_spec(http_app(req)->kernels);
	if (!name)
		http_respond_error(req, 404, "there is no kernelspec to start");
	else
		kernel_start_for(req, name, path, path, trust, 404, respond_created, NULL);
	free(def);
	json_decref(body);
}

void api_kernel_get(http_req_t *req)
{
	kernel_t *k = named_kernel(req);

	if (k)
		http_respond_json(req, 200, kernel_model(k));
}

static void respond_gone(void *arg, int status, const char *message)
{
	http_req_t *req = arg;

	(void)status;
	(void)message;
	http_respond_empty(req, 204);
	http_release(req);
}

void api_kernel_delete(http_req_t *req)
{
	kernel_t *k = named_kernel(req);

	if (!k)
		return;
	http_defer(req);
	kernel_shutdown(k, respond_gone, req);
}

void api_kernel_interrupt(http_req_t *req)
{
	kernel_t *k = named_kernel(req);
	err_t err = { 0 };

	if (!k)
		return;
	if (kernel_interrupt(k, &err))
		http_respond_err(req, &err);
	else
		http_respond_empty(req, 204);
}

typedef struct restart_op {
	http_req_t *req;
	char kernel_id[64];
} restart_op_t;

static void respond_restarted(void *arg, int status, const char *message)
{
	restart_op_t *op = arg;
	kernel_t *k = kmgr_find(http_app(op->req)->kernels, op->kernel_id);

	if (status == 0 && k)
		http_respond_json(op->req, 200, kernel_model(k));
	else
		http_respond_error(op->req, 500, "the kernel did not restart: %s",
				   message ? message : "it is gone");
	http_release(op->req);
	free(op);
}

void api_kernel_restart(http_req_t *req)
{
	kernel_t *k = named_kernel(req);
	restart_op_t *op;
	err_t err = { 0 };

	if (!k)
		return;
	op = calloc(1, sizeof *op);
	if (!op) {
		http_respond_error(req, 500, "out of memory");
		return;
	}
	op->req = req;
	snprintf(op->kernel_id, sizeof op->kernel_id, "%s", kernel_id(k));
	http_defer(req);
	if (kernel_restart(k, respond_restarted, op, &err)) {
		http_respond_err(req, &err);
		http_release(req);
		free(op);
	}
}

/* The channels URL without a WebSocket upgrade. */
void api_kernel_channels_plain(http_req_t *req)
{
	if (!named_kernel(req))
		return;
	http_respond_error(req, 400, "this URL takes a WebSocket upgrade");
}
