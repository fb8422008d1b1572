/* stattime — time lstat() of many paths.
 *
 *   stattime DIR < names     lstat DIR/NAME for each line of stdin
 *
 * Names are read before the clock starts; prints the elapsed milliseconds
 * (CLOCK_MONOTONIC) for all lstat calls. Fails if any lstat fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: stattime DIR < names\n");
        return 2;
    }
    size_t n = 0, cap = 0;
    char **names = NULL, *line = NULL;
    size_t len = 0;
    ssize_t got;
    while ((got = getline(&line, &len, stdin)) > 0) {
        if (line[got - 1] == '\n')
            line[got - 1] = '\0';
        if (!*line)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            names = realloc(names, cap * sizeof *names);
            if (!names)
                return 1;
        }
        if (asprintf(&names[n++], "%s/%s", argv[1], line) < 0)
            return 1;
    }
    struct timespec t0, t1;
    struct stat st;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; i < n; i++) {
        if (lstat(names[i], &st) < 0) {
            fprintf(stderr, "stattime: cannot stat '%s': %s\n", names[i], strerror(errno));
            return 1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.3f\n", (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
                         (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    return 0;
}
