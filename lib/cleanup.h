/* Cleanup attributes: scope-bound release of fds, memory, DIRs and FILEs.
 *
 * Usage:  _cleanup_close_ int fd = open(...);
 *         _cleanup_free_ char *s = strdup(...);
 * Hand ownership out with TAKE_FD(fd) / TAKE_PTR(p), which also disarm the
 * cleanup.  Never jump (goto) across a declaration that carries one. */
#ifndef LAYERFS_CLEANUP_H
#define LAYERFS_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void cleanup_free(void *p) { free(*(void **)p); }
static inline void cleanup_close(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
static inline void cleanup_closedir(DIR **d) { if (*d) closedir(*d); }
static inline void cleanup_fclose(FILE **f) { if (*f) fclose(*f); }

#define _cleanup_(f)       __attribute__((cleanup(f)))
#define _cleanup_free_     _cleanup_(cleanup_free)
#define _cleanup_close_    _cleanup_(cleanup_close)
#define _cleanup_closedir_ _cleanup_(cleanup_closedir)
#define _cleanup_fclose_   _cleanup_(cleanup_fclose)

#define TAKE_PTR(p) ({ __typeof__(p) _t = (p); (p) = NULL; _t; })
#define TAKE_FD(fd) ({ int _t = (fd); (fd) = -1; _t; })

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Retry a syscall-style expression while it fails with EINTR. */
#define RETRY_EINTR(expr) ({ __typeof__(expr) _r; \
	do { _r = (expr); } while (_r == -1 && errno == EINTR); _r; })

#endif
