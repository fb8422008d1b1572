/* copyup — time the first write to a lower file through a union mount.
 *
 *   copyup write PATH   open(O_WRONLY), pwrite one byte at offset 0, close
 *   copyup trunc PATH   open(O_WRONLY|O_TRUNC), close
 *
 * Prints the elapsed wall time in milliseconds (CLOCK_MONOTONIC), from
 * before open to after close, which is where a union filesystem copies up.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double ms_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e3 +
           (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "write") && strcmp(argv[1], "trunc"))) {
        fprintf(stderr, "usage: copyup write|trunc PATH\n");
        return 2;
    }
    int trunc = !strcmp(argv[1], "trunc");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int fd = open(argv[2], O_WRONLY | O_CLOEXEC | (trunc ? O_TRUNC : 0));
    if (fd < 0) {
        fprintf(stderr, "copyup: cannot open '%s': %s\n", argv[2], strerror(errno));
        return 1;
    }
    if (!trunc && pwrite(fd, "x", 1, 0) != 1) {
        fprintf(stderr, "copyup: cannot write '%s': %s\n", argv[2], strerror(errno));
        return 1;
    }
    if (close(fd) < 0) {
        fprintf(stderr, "copyup: cannot close '%s': %s\n", argv[2], strerror(errno));
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.3f\n", ms_between(&t0, &t1));
    return 0;
}
