/*
 * Jupyter Server features cellgate does not have, answered the way that
 * makes JupyterLab leave them out rather than report an error:
 *
 *   GET /api/nbconvert   {} - no export formats, so "Save and Export
 *                        Notebook As" offers none (Jupyter Server lists
 *                        nbconvert's exporters here).
 *
 * Terminals, the extension manager, news and update checks and the
 * language servers are off in the page config instead (lab_page.c).
 */
#include "handlers.h"

void api_nbconvert_formats(http_req_t *req)
{
	http_respond_json(req, 200, json_object());
}
