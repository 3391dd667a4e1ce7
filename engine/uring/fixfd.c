// SPDX-License-Identifier: MIT
/*
 * fixfd.c - descriptors fixed in the ring.  The first tide_loop_fix_fd()
 * registers a sparse file table as large as RLIMIT_NOFILE allows (kernel
 * 5.19), and slot fd then holds descriptor fd, so operations need no
 * translation: an op whose fd is fixed just gets IOSQE_FIXED_FILE and the
 * kernel skips the fget/fput (an atomic and a cache miss on the file) it
 * otherwise pays per operation.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "uring.h"

/* The kernel takes up to 1 << 20 slots (IORING_MAX_FIXED_FILES), 8 bytes
 * or more each; a process allowed a million descriptors (containers often
 * are) should not pay 8 MiB per loop for it.  Higher fds stay unfixed. */
#define MAX_SLOTS 65536u

static int fix_table(struct tide_loop *loop)
{
	struct rlimit rl;
	uint32_t n = 1024;
	uint64_t *map;
	int ret;

	if (loop->u.registered_files)
		return -EBUSY; /* the ring has one file table */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		n = rl.rlim_cur > MAX_SLOTS ? MAX_SLOTS : (uint32_t)rl.rlim_cur;
	map = calloc((n + 63) / 64, sizeof(*map));
	if (!map)
		return -ENOMEM;
	ret = io_uring_register_files_sparse(&loop->u.ring, n);
	if (ret) {
		free(map);
		return ret == -EINVAL ? -EOPNOTSUPP : ret;
	}
	loop->u.fixmap = map;
	loop->u.registered_files = n;
	return 0;
}

static int set_slot(struct tide_loop *loop, int fd, int file)
{
	int ret = io_uring_register_files_update(&loop->u.ring, (unsigned)fd,
						 &file, 1);

	return ret == 1 ? 0 : ret < 0 ? ret : -EIO;
}

int tide_loop_fix_fd(struct tide_loop *loop, int fd)
{
	int ret;

	if (!loop || fd < 0)
		return -EINVAL;
	if (fcntl(fd, F_GETFD) < 0)
		return -EBADF;
	if (!loop->uring)
		return 0; /* an optimisation io_uring alone has: nothing to do */
	if (!loop->u.fixmap) {
		ret = fix_table(loop);
		if (ret)
			return ret;
	}
	if ((uint32_t)fd >= loop->u.registered_files)
		return -ENOSPC;
	if (tide__fd_fixed(loop, fd))
		return -EEXIST;
	ret = set_slot(loop, fd, fd);
	if (ret)
		return ret;
	loop->u.fixmap[(uint32_t)fd / 64] |= 1ull << ((uint32_t)fd % 64);
	return 0;
}

int tide_loop_unfix_fd(struct tide_loop *loop, int fd)
{
	int ret;

	if (!loop || fd < 0)
		return -EINVAL;
	if (!tide__fd_fixed(loop, fd))
		return -ENOENT;
	/* operations in flight keep their own reference to the file */
	ret = set_slot(loop, fd, -1);
	if (ret)
		return ret;
	loop->u.fixmap[(uint32_t)fd / 64] &= ~(1ull << ((uint32_t)fd % 64));
	return 0;
}

void tide__fixfd_free(struct tide_loop *loop)
{
	free(loop->u.fixmap);
	loop->u.fixmap = NULL;
}
