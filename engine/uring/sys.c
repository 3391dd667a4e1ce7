// SPDX-License-Identifier: MIT
/*
 * sys.c - thin wrappers around the calls tests want to intercept
 * (a test binary defines its own tide__sys_setup(), which static linking prefers) to inject ENOSYS, EPERM or ENOMEM.
 */
#include "uring.h"

int tide__sys_setup(unsigned entries, struct io_uring *ring,
		    struct io_uring_params *p)
{
	return io_uring_queue_init_params(entries, ring, p);
}
