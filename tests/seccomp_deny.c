// SPDX-License-Identifier: MIT
/*
 * seccomp_deny.c - run a program under a seccomp filter that answers one
 * io_uring system call with an errno, as container runtimes do, for the
 * tools' shell tests (t_probe.sh, t_cp.sh, t_bench.sh, t_echo.sh):
 *
 *	seccomp_deny setup|enter|register ERRNO PROGRAM [ARG...]
 *
 * Exit 77 (skip) when the filter cannot be installed.
 */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	unsigned nr, err;

	if (argc < 4)
		return 77;
	if (!strcmp(argv[1], "setup"))
		nr = __NR_io_uring_setup;
	else if (!strcmp(argv[1], "enter"))
		nr = __NR_io_uring_enter;
	else if (!strcmp(argv[1], "register"))
		nr = __NR_io_uring_register;
	else
		return 77;
	err = (unsigned)atoi(argv[2]) & SECCOMP_RET_DATA;

	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | err),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = 4, .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		return 77;
	execv(argv[3], argv + 3);
	perror("seccomp_deny: execv");
	return 77;
}
