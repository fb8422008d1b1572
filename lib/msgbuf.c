/* The message buffer lib/ functions fill instead of printing. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "msgbuf.h"

int msg_fail(struct msgbuf *m, int err, const char *fmt, ...)
{
	if (m) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(m->text, sizeof(m->text), fmt, ap);
		va_end(ap);
	}
	return err;
}

const char *msg_text(const struct msgbuf *m, int err)
{
	if (m && m->text[0])
		return m->text;
	return strerror(err < 0 ? -err : err);
}
