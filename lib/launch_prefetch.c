/* Reading the command ahead (see launch_prefetch.h). */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "launch_exec.h"
#include "launch_mount.h"
#include "launch_prefetch.h"
#include "launch_trace.h"

/* A larger file is read this far only: the start of a big program
 * touches a part of it, which its own faults fetch. */
#define PREFETCH_MAX (8u << 20)
/* Read by the kernel's readahead in pieces of 128 KiB in any case. */
#define PREFETCH_CHUNK (1u << 17)

/* The PATH the command will search (its environment's, else the default
 * exec_command sets). */
static const char *command_path(const struct launch_spec *s)
{
	for (char **e = s->env; e && *e; e++)
		if (!strncmp(*e, "PATH=", 5))
			return *e + 5;
	return DEFAULT_PATH;
}

/* Open NAME as execvp would find it: a path with a slash as it is (from
 * the working directory when relative), else the first regular file of
 * that name in a PATH directory. */
static int open_command(int rootfd, const struct launch_spec *s, const char *name)
{
	char p[4096];
	const int flags = O_RDONLY | O_NONBLOCK | O_NOCTTY;
	int fd = -1;
	if (strchr(name, '/')) {
		if (name[0] == '/')
			snprintf(p, sizeof(p), "%s", name);
		else
			snprintf(p, sizeof(p), "%s/%s", s->workdir ? s->workdir : "/", name);
		return root_open(rootfd, p, flags, &fd) < 0 ? -1 : fd;
	}
	const char *dirs = command_path(s);
	while (*dirs) {
		size_t l = strcspn(dirs, ":");
		struct stat st;
		snprintf(p, sizeof(p), "%.*s/%s", (int)l, l ? dirs : ".", name);
		if (root_open(rootfd, p, flags, &fd) == 0) {
			if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
				return fd;
			close(fd);
		}
		dirs += l + (dirs[l] == ':');
	}
	return -1;
}

/* Read FD to its end (at most PREFETCH_MAX, and no further once told to
 * stop).  An ELF file's interpreter path, if any, is left in INTERP. */
static void read_all(struct prefetch *p, int fd, char *interp, size_t len)
{
	struct stat st;
	interp[0] = 0;
	_cleanup_free_ char *buf = malloc(PREFETCH_CHUNK);
	if (!buf || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	size_t total = 0;
	Elf64_Ehdr eh;
	bool elf = false;
	for (ssize_t n; total < PREFETCH_MAX && !atomic_load(&p->stop) &&
			(n = read(fd, buf, PREFETCH_CHUNK)) > 0;) {
		if (total == 0 && (size_t)n >= sizeof(eh)) {
			memcpy(&eh, buf, sizeof(eh));
			elf = !memcmp(eh.e_ident, ELFMAG, SELFMAG) && eh.e_ident[EI_CLASS] == ELFCLASS64;
		}
		total += (size_t)n;
	}
	if (!elf || eh.e_phentsize != sizeof(Elf64_Phdr))
		return;
	for (unsigned k = 0; k < eh.e_phnum; k++) {
		Elf64_Phdr ph;
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + k * sizeof(ph))) != sizeof(ph))
			return;
		if (ph.p_type != PT_INTERP || ph.p_filesz == 0 || ph.p_filesz >= len)
			continue;
		ssize_t n = pread(fd, interp, ph.p_filesz, (off_t)ph.p_offset);
		interp[n > 0 ? n : 0] = 0;
		return;
	}
}

static void *prefetch_main(void *arg)
{
	struct prefetch *p = arg;
	const struct launch_spec *s = p->spec;
	char root[4200], interp[256];
	snprintf(root, sizeof(root), "%s/merged", s->cdir);
	_cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0 || !s->argv || !s->argv[0] || !s->argv[0][0])
		return NULL;
	_cleanup_close_ int fd = open_command(rootfd, s, s->argv[0]);
	if (fd < 0)
		return NULL;
	read_all(p, fd, interp, sizeof(interp));
	_cleanup_close_ int ifd = -1;
	if (interp[0] && root_open(rootfd, interp, O_RDONLY | O_NONBLOCK | O_NOCTTY, &ifd) == 0)
		read_all(p, ifd, interp, sizeof(interp));
	trace_mark("holder", "command read ahead");
	return NULL;
}

void prefetch_start(struct prefetch *p, const struct launch_spec *spec)
{
	/* The thread takes no signal: the holder's own handling stays as it is. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	p->spec = spec;
	atomic_init(&p->stop, false);
	p->started = pthread_create(&p->thread, NULL, prefetch_main, p) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void prefetch_end(struct prefetch *p)
{
	/* A command that has already ended needs no more of its file. */
	atomic_store(&p->stop, true);
	if (p->started)
		pthread_join(p->thread, NULL);
	p->started = false;
}
