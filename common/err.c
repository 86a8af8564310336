/* err_t helpers: fill, wrap and clear an error sentence. */
#include "err.h"

#include <stdio.h>
#include <string.h>

int err_setv(err_t *err, int code, const char *fmt, va_list ap)
{
	if (err) {
		err->code = code;
		if (vsnprintf(err->msg, sizeof err->msg, fmt, ap) < 0)
			err->msg[0] = '\0';
	}
	return code;
}

int err_set(err_t *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_setv(err, code, fmt, ap);
	va_end(ap);
	return code;
}

int err_wrap(err_t *err, const char *fmt, ...)
{
	char prefix[128], old[sizeof err->msg - sizeof prefix - 2];
	va_list ap;

	if (!err)
		return CG_EINVAL;
	va_start(ap, fmt);
	if (vsnprintf(prefix, sizeof prefix, fmt, ap) < 0)
		prefix[0] = '\0';
	va_end(ap);
	memcpy(old, err->msg, sizeof old - 1);
	old[sizeof old - 1] = '\0';
	/* prefix, ": " and old fit in msg by construction */
	(void)!snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
	return err->code;
}

void err_clear(err_t *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}
