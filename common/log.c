/* Leveled logging to stderr. */
#include "log.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static enum log_level current = LOG_INFO;

void log_set_level(enum log_level level)
{
	current = level;
}

enum log_level log_get_level(void)
{
	return current;
}

int log_parse_level(const char *name, enum log_level *out)
{
	static const char *names[] = { "debug", "info", "warn", "error" };

	for (int i = 0; i < 4; i++) {
		if (strcmp(name, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void log_msg(enum log_level level, const char *module, const char *fmt, ...)
{
	static const char tag[] = "DIWE";
	char when[ISO_TIME_LEN], line[2048];
	va_list ap;

	if (level < current)
		return;
	util_iso_time_now(when);
	va_start(ap, fmt);
	if (vsnprintf(line, sizeof line, fmt, ap) < 0)
		line[0] = '\0';
	va_end(ap);
	/* One fprintf per line keeps lines whole when several processes share stderr. */
	fprintf(stderr, "[%c %.19s %s] %s\n", tag[level], when, module, line);
}
