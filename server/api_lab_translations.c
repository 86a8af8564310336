/*
 * /lab/api/translations[/<locale>]: JupyterLab's language packs. cellgate
 * ships none, so the list holds English alone and every locale's pack is
 * empty (the interface then stays in English), with jupyterlab_server's
 * message for a locale that is not installed.
 */
#include <string.h>

#include "handlers.h"

void api_lab_translations(http_req_t *req)
{
	const char *locale = http_param(req, 0);

	if (!locale || !*locale) {
		http_respond_json(req, 200, json_pack("{s:{s:{s:s, s:s}}, s:s}", "data", "en",
						      "displayName", "English", "nativeName",
						      "English", "message", ""));
		return;
	}
	if (strcmp(locale, "en") == 0 || strcmp(locale, "default") == 0) {
		http_respond_json(req, 200, json_pack("{s:{}, s:s}", "data", "message", ""));
		return;
	}
	http_respond_json(req, 200, json_pack("{s:{}, s:s++}", "data", "message",
					      "Language pack '", locale, "' not installed!"));
}
