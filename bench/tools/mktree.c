/* mktree — create a large tree of empty files quickly.
 *
 *   mktree DIR NDIRS FILES_PER_DIR
 *
 * Creates DIR/dNNNN/fNNNN (empty regular files). DIR must not exist.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: mktree DIR NDIRS FILES_PER_DIR\n");
        return 2;
    }
    long ndirs = atol(argv[2]), per = atol(argv[3]);
    if (mkdir(argv[1], 0755) < 0) {
        fprintf(stderr, "mktree: cannot create '%s': %s\n", argv[1], strerror(errno));
        return 1;
    }
    int top = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (top < 0)
        return 1;
    char name[32];
    for (long d = 0; d < ndirs; d++) {
        snprintf(name, sizeof name, "d%04ld", d);
        if (mkdirat(top, name, 0755) < 0)
            return 1;
        int dfd = openat(top, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
            return 1;
        for (long f = 0; f < per; f++) {
            snprintf(name, sizeof name, "f%04ld", f);
            int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            if (fd < 0) {
                fprintf(stderr, "mktree: cannot create '%s': %s\n", name, strerror(errno));
                return 1;
            }
            close(fd);
        }
        close(dfd);
    }
    close(top);
    return 0;
}
