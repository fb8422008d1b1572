/* Error detail buffer (see errmsg.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errmsg.h"

__attribute__((format(printf, 4, 0)))
static int vset(struct errmsg *e, int r, int with_reason, const char *fmt, va_list ap)
{
	if (!e || e->msg[0])
		return r;
	int n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	if (with_reason && n >= 0 && (size_t)n < sizeof(e->msg))
		snprintf(e->msg + n, sizeof(e->msg) - (size_t)n, ": %s", strerror(-r));
	return r;
}

int err_set(struct errmsg *e, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vset(e, r, 0, fmt, ap);
	va_end(ap);
	return r;
}

int err_sys(struct errmsg *e, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vset(e, r, 1, fmt, ap);
	va_end(ap);
	return r;
}

const char *err_text(const struct errmsg *e, int r)
{
	if (e && e->msg[0])
		return e->msg;
	return strerror(-r);
}
