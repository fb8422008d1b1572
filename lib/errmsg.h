/* Error detail for library functions that must not print.
 *
 * A failing function returns -errno and, when given a struct errmsg, leaves
 * one lowercase line there naming the object and the reason.  The first
 * message set wins: it is the most specific one. */
#ifndef LAYERFS_ERRMSG_H
#define LAYERFS_ERRMSG_H

struct errmsg {
	char msg[1024];
};

/* Set the message to the formatted text; returns R (a -errno). */
int err_set(struct errmsg *e, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Same, followed by ": " and strerror(-R). */
int err_sys(struct errmsg *e, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Fallback when nothing more specific was recorded. */
const char *err_text(const struct errmsg *e, int r);

#endif
