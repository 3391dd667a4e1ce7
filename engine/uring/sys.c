// SPDX-License-Identifier: MIT
/*
 * sys.c - thin wrappers around the calls tests want to intercept to inject
 * ENOSYS, EPERM or ENOMEM.  A test replaces one by defining the symbol
 * itself (tests/test_loop.c defines tide__sys_setup): it links the static
 * library, so this object is never pulled in.  Keep only such wrappers in
 * this file, or the test's definition would collide with the others.
 */
#include "uring.h"

int tide__sys_setup(unsigned entries, struct io_uring *ring,
		    struct io_uring_params *p)
{
	return io_uring_queue_init_params(entries, ring, p);
}
