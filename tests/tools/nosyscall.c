/* nosyscall NR[,NR...] PROGRAM [ARG...]: run PROGRAM with the listed system
 * calls failing with ENOSYS, as on a kernel that predates them (a seccomp
 * filter, inherited by the program's children). */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define MAX_CALLS 16

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: nosyscall NR[,NR...] PROGRAM [ARG...]\n");
		return 2;
	}
	long nr[MAX_CALLS];
	int n = 0;
	for (char *s = strtok(argv[1], ","); s && n < MAX_CALLS; s = strtok(NULL, ","))
		nr[n++] = strtol(s, NULL, 10);
	struct sock_filter f[3 + 2 * MAX_CALLS];
	int k = 0;
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
	for (int i = 0; i < n; i++) {
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (__u32)nr[i], 0, 1);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
	}
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = { .len = (unsigned short)k, .filter = f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
		perror("nosyscall: seccomp");
		return 1;
	}
	execvp(argv[2], argv + 2);
	perror(argv[2]);
	return 127;
}
