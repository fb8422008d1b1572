/* A growable, always NUL-terminated byte buffer. */
#ifndef LAYERFS_STRBUF_H
#define LAYERFS_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
	char *s;      /* NUL-terminated once anything was appended */
	size_t len;
	size_t cap;
};

#define STRBUF_INIT { NULL, 0, 0 }

int sb_grow(struct strbuf *sb, size_t extra);
int sb_append(struct strbuf *sb, const void *data, size_t len);
int sb_puts(struct strbuf *sb, const char *s);
int sb_putc(struct strbuf *sb, char c);
int sb_printf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sb_release(struct strbuf *sb);
/* Hands the string out (never NULL on success; "" when empty). */
char *sb_detach(struct strbuf *sb);

static inline void cleanup_strbuf(struct strbuf *sb) { sb_release(sb); }
#define _cleanup_strbuf_ __attribute__((cleanup(cleanup_strbuf)))

#endif
