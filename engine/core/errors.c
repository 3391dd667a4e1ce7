// SPDX-License-Identifier: MIT
/*
 * errors.c - tide_strerror(): negative errnos as sentences that say why and
 * what to do, with the reasons io_uring can be unusable spelled out.
 */
#include <errno.h>
#include <string.h>

#include "loop_impl.h"

static const struct {
	int err;
	const char *text;
} msgs[] = {
	{ ENOSYS, "io_uring is not available: the kernel was built without "
		  "CONFIG_IO_URING (or is older than 5.1), or a seccomp filter "
		  "answers the io_uring system calls with ENOSYS (Docker's "
		  "default profile does); run tide-probe to see which, then "
		  "use a kernel with io_uring enabled or allow "
		  "io_uring_setup/io_uring_enter/io_uring_register" },
	{ EPERM,
	  "operation not permitted; from tide_loop_new() it means "
	  "io_uring is not permitted here: the sysctl "
	  "kernel.io_uring_disabled is 1 or 2, or a seccomp filter "
	  "(container runtime, systemd SystemCallFilter) denies it; run "
	  "tide-probe to see which, then set kernel.io_uring_disabled=0 "
	  "(or add this user to kernel.io_uring_group) or allow the "
	  "io_uring_setup/io_uring_enter/io_uring_register system calls" },
	{ ENOMEM, "out of memory: on kernels before 5.12 io_uring rings count "
		  "against RLIMIT_MEMLOCK, so raise it (ulimit -l) or use "
		  "fewer entries" },
	{ EINVAL, "invalid argument: an unknown flag, a non-zero reserved "
		  "field, or a value out of range" },
	{ EMFILE, "too many open files in this process (ulimit -n)" },
	{ ENFILE, "too many open files in the system" },
	{ ECANCELED, "operation cancelled" },
	{ ETIMEDOUT, "operation timed out" },
	{ EDEADLK, "the loop went idle while the awaited future was still "
		   "pending: nothing could resolve it" },
	{ EALREADY, "the future has already resolved" },
	{ EBUSY, "resource busy (from tide_loop_run*: the loop is already "
		 "running, called from a continuation?)" },
	{ EINTR, "interrupted (from tide_loop_run_until: the loop was "
		 "stopped)" },
};

const char *tide_strerror(int err)
{
	int e = err < 0 ? -err : err;

	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++)
		if (msgs[i].err == e)
			return msgs[i].text;
	/* strerror() of glibc returns static strings for known errnos */
	return e ? strerror(e) : "success";
}
