/*
 * The JupyterLab build's files: /static/lab/<file> (the bundles) and
 * /lab/api/themes/<package>/<file> (theme CSS, loaded by a <link> the theme
 * manager adds). Both are public, as in Jupyter Server: they hold no user
 * data, and a <script> or <link> sends no token.
 */
#include "handlers.h"
#include "lab.h"

void lab_static(http_req_t *req)
{
	lab_send_file(req, "static", http_param(req, 0));
}

void lab_themes(http_req_t *req)
{
	lab_send_file(req, "themes", http_param(req, 0));
}
