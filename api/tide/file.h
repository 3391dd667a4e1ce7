/* SPDX-License-Identifier: MIT */
/*
 * tide/file.h - file operations as futures.  Include <tide.h>.
 *
 * Each function queues one io_uring operation and returns its future (NULL
 * only when memory for the future cannot be had; see tide/future.h).  Bad
 * arguments give a future already failed with -EINVAL (-EFAULT for a NULL
 * buffer, path, iovec array or statx pointer); kernel errors arrive
 * as the future's result (-EBADF, -ENOENT, ...).  Paths, iovec arrays and
 * other small argument structs are copied: they need to live only for the
 * call.  Data buffers (buf, the memory iov points to, *stx) belong to the
 * kernel until the future resolves, cancellation included.
 *
 * Offsets are in bytes; TIDE_OFF_CUR uses and advances the file position.
 * Read and write lengths above 0x7ffff000 (the kernel's per-call maximum)
 * are clamped: plain reads and writes may be short, and say so in their
 * result; tide_read_full()/tide_write_full() resubmit the remainder.
 */
#ifndef TIDE_FILE_H
#define TIDE_FILE_H

#include "tide/common.h"

#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TIDE_OFF_CUR ((uint64_t)-1)

/* flags for the _fixed operations */
enum {
	TIDE_FIXED_FILE =
		1u << 0, /* fd is an index from tide_loop_register_files() */
};

struct statx;

/* Complete with 0 after a round trip through the ring. */
TIDE_API struct tide_future *tide_nop(struct tide_loop *loop);

/* openat(2): result is the new descriptor.  O_CLOEXEC is always added. */
TIDE_API struct tide_future *tide_openat(struct tide_loop *loop, int dfd,
					 const char *path, int flags,
					 mode_t mode);

/* close(2). */
TIDE_API struct tide_future *tide_close(struct tide_loop *loop, int fd);

/* pread(2)/pwrite(2): result is the byte count (0 = end of file). */
TIDE_API struct tide_future *tide_read(struct tide_loop *loop, int fd,
				       void *buf, size_t len, uint64_t off);
TIDE_API struct tide_future *tide_write(struct tide_loop *loop, int fd,
					const void *buf, size_t len,
					uint64_t off);

/* preadv(2)/pwritev(2); 1 <= iovcnt <= IOV_MAX, the array is copied. */
TIDE_API struct tide_future *tide_readv(struct tide_loop *loop, int fd,
					const struct iovec *iov, int iovcnt,
					uint64_t off);
TIDE_API struct tide_future *tide_writev(struct tide_loop *loop, int fd,
					 const struct iovec *iov, int iovcnt,
					 uint64_t off);

/* Read or write exactly len bytes, resubmitting after short transfers.
 * Result is len, or fewer when a read hits end of file, or -errno. */
TIDE_API struct tide_future *tide_read_full(struct tide_loop *loop, int fd,
					    void *buf, size_t len,
					    uint64_t off);
TIDE_API struct tide_future *tide_write_full(struct tide_loop *loop, int fd,
					     const void *buf, size_t len,
					     uint64_t off);

/* fsync(2), fdatasync(2). */
TIDE_API struct tide_future *tide_fsync(struct tide_loop *loop, int fd);
TIDE_API struct tide_future *tide_fdatasync(struct tide_loop *loop, int fd);

/* fallocate(2). */
TIDE_API struct tide_future *tide_fallocate(struct tide_loop *loop, int fd,
					    int mode, uint64_t off,
					    uint64_t len);

/* statx(2) into *stx; payload is stx. */
TIDE_API struct tide_future *tide_statx(struct tide_loop *loop, int dfd,
					const char *path, int flags,
					unsigned int mask, struct statx *stx);

/* unlinkat(2), renameat2(2), mkdirat(2). */
TIDE_API struct tide_future *tide_unlinkat(struct tide_loop *loop, int dfd,
					   const char *path, int flags);
TIDE_API struct tide_future *tide_renameat(struct tide_loop *loop, int olddfd,
					   const char *oldpath, int newdfd,
					   const char *newpath,
					   unsigned int flags);
TIDE_API struct tide_future *tide_mkdirat(struct tide_loop *loop, int dfd,
					  const char *path, mode_t mode);

/* sync_file_range(2). */
TIDE_API struct tide_future *tide_sync_file_range(struct tide_loop *loop,
						  int fd, uint64_t off,
						  uint64_t len,
						  unsigned int flags);

/* splice(2); an offset of TIDE_OFF_CUR means "no offset" (pipes). */
TIDE_API struct tide_future *tide_splice(struct tide_loop *loop, int fd_in,
					 uint64_t off_in, int fd_out,
					 uint64_t off_out, size_t len,
					 unsigned int flags);

/*
 * Registered resources.  tide_loop_register_buffers() pins iov[0..n) for
 * tide_read_fixed()/tide_write_fixed(), whose buf/len must lie inside
 * buffer buf_index.  tide_loop_register_files() registers fds[0..n); with
 * TIDE_FIXED_FILE an operation's fd is an index into that table.  Only one
 * table of each kind at a time (-EBUSY); unregistering with nothing
 * registered gives -ENXIO.  Return 0 or -errno.  Loop thread only.
 */
TIDE_API int tide_loop_register_buffers(struct tide_loop *loop,
					const struct iovec *iov,
					unsigned int n);
TIDE_API int tide_loop_unregister_buffers(struct tide_loop *loop);
TIDE_API int tide_loop_register_files(struct tide_loop *loop, const int *fds,
				      unsigned int n);
TIDE_API int tide_loop_unregister_files(struct tide_loop *loop);

/*
 * Fix descriptor fd in loop's ring: the ring keeps its own reference to the
 * file, and every later socket operation, tide_read() and tide_write() on
 * fd uses it instead of looking fd up (no fget/fput per operation), with
 * no change for the caller.  The first call registers a sparse file table
 * of RLIMIT_NOFILE slots, at most 65536 (this and
 * tide_loop_register_files() exclude each other: -EBUSY).  Returns 0,
 * -EINVAL (fd < 0), -EBADF (fd not open), -EEXIST (already fixed),
 * -ENOSPC (fd beyond the table), -EOPNOTSUPP (kernel without sparse
 * tables, before 5.19), -ENOMEM.
 *
 * The ring's reference keeps the socket open after close(2): call
 * tide_loop_unfix_fd() before closing fd yourself.  tide_close(),
 * tide_stream_close() and freeing the loop do it for you.  Unfix returns
 * 0 or -ENOENT (not fixed).  Operations in flight are not disturbed.  Loop
 * thread only.
 */
TIDE_API int tide_loop_fix_fd(struct tide_loop *loop, int fd);
TIDE_API int tide_loop_unfix_fd(struct tide_loop *loop, int fd);

TIDE_API struct tide_future *tide_read_fixed(struct tide_loop *loop, int fd,
					     void *buf, size_t len,
					     uint64_t off, int buf_index,
					     unsigned int flags);
TIDE_API struct tide_future *tide_write_fixed(struct tide_loop *loop, int fd,
					      const void *buf, size_t len,
					      uint64_t off, int buf_index,
					      unsigned int flags);

#ifdef __cplusplus
}
#endif

#endif /* TIDE_FILE_H */
