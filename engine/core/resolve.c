// SPDX-License-Identifier: MIT
/*
 * resolve.c - openat2(2) as a blocking-pool job (the epoll backend, and
 * io_uring kernels without IORING_OP_OPENAT2): the real system call where
 * the kernel has it (5.6), else a walk in user space that keeps to the
 * resolve restrictions.
 *
 * The walk opens one component at a time relative to the descriptor of
 * the directory before it (O_PATH | O_NOFOLLOW), never a whole path, so a
 * rename meanwhile cannot lead it elsewhere: every step is checked on
 * the object it will use.  It is stricter than the kernel: with
 * RESOLVE_BENEATH it refuses every ".." and absolute path, and every
 * symlink (the kernel follows those that stay beneath; -EXDEV here, as
 * the kernel says for a way out); with RESOLVE_NO_SYMLINKS every symlink
 * gives -ELOOP.  The last component is opened with O_NOFOLLOW.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "blocking.h"

#ifndef SYS_openat2
#define SYS_openat2 437 /* the same number on every architecture */
#endif

/* Set once the kernel said ENOSYS: no need to ask again. */
static atomic_bool no_openat2;

static int open_err(int fd)
{
	return fd < 0 ? -errno : fd;
}

/* The next directory: comp (n bytes) opened beneath dir, refused if a
 * symlink or not a directory.  A descriptor, or -errno. */
static int walk_dir(int dir, const char *comp, size_t n, int symlink_err)
{
	char name[NAME_MAX + 1];
	struct stat st;
	int next;

	if (n > NAME_MAX)
		return -ENAMETOOLONG;
	memcpy(name, comp, n);
	name[n] = '\0';
	next = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (next < 0)
		return -errno;
	if (fstat(next, &st) < 0) {
		int err = -errno;

		close(next);
		return err;
	}
	if (!S_ISDIR(st.st_mode)) {
		close(next);
		return S_ISLNK(st.st_mode) ? symlink_err : -ENOTDIR;
	}
	return next;
}

int tide__openat2_walk(int dfd, const char *path, const struct open_how *how)
{
	const bool beneath = how->resolve & RESOLVE_BENEATH;
	const int symlink_err = (how->resolve & RESOLVE_NO_SYMLINKS) ? -ELOOP :
								       -EXDEV;
	const int flags = (int)how->flags;
	const char *p = path;
	int dir = dfd, ret;

	if (how->resolve & ~(uint64_t)(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS))
		return -EINVAL; /* the walk knows these two only */
	if (!how->resolve)
		return open_err(openat(dfd, path, flags, (mode_t)how->mode));
	if (!*path)
		return -ENOENT;
	if (*path == '/') {
		if (beneath)
			return -EXDEV;
		dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dir < 0)
			return -errno;
	}
	for (;;) {
		const char *e;
		size_t n;

		while (*p == '/')
			p++;
		if (!*p) { /* ended on a directory ("a/", "a/.", ".") */
			ret = open_err(
				openat(dir, ".", flags, (mode_t)how->mode));
			break;
		}
		e = strchrnul(p, '/');
		n = (size_t)(e - p);
		if (n == 1 && p[0] == '.') {
			p = e;
			continue;
		}
		if (beneath && n == 2 && p[0] == '.' && p[1] == '.') {
			ret = -EXDEV;
			break;
		}
		if (!*e) { /* the last component, no trailing slash */
			if (n > NAME_MAX) {
				ret = -ENAMETOOLONG;
				break;
			}
			ret = open_err(openat(dir, p, flags | O_NOFOLLOW,
					      (mode_t)how->mode));
			if (ret == -ELOOP)
				ret = symlink_err;
			break;
		}
		ret = walk_dir(dir, p, n, symlink_err);
		if (ret < 0)
			break;
		if (dir != dfd)
			close(dir);
		dir = ret;
		p = e;
	}
	if (dir != dfd)
		close(dir);
	return ret;
}

int tide__openat2_run(int dfd, const char *path, struct open_how *how)
{
	if (!atomic_load_explicit(&no_openat2, memory_order_relaxed)) {
		long r = syscall(SYS_openat2, dfd, path, how, sizeof(*how));

		if (r >= 0)
			return (int)r;
		if (errno != ENOSYS)
			return -errno;
		atomic_store_explicit(&no_openat2, true, memory_order_relaxed);
	}
	return tide__openat2_walk(dfd, path, how);
}
