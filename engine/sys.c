// SPDX-License-Identifier: MIT
/*
 * sys.c - thin wrappers around the calls tests want to intercept
 * (-Wl,--wrap=tide__sys_setup) to inject ENOSYS, EPERM or ENOMEM.
 */
#include "engine.h"

int tide__sys_setup(unsigned entries, struct io_uring *ring,
		    struct io_uring_params *p)
{
	return io_uring_queue_init_params(entries, ring, p);
}
