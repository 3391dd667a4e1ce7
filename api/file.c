// SPDX-License-Identifier: MIT
/*
 * file.c - file operations as futures: each is a prepare step that fills an
 * SQE and the shared completion hook tide__op_done().  Arguments the kernel
 * reads at submission (paths, iovec arrays) are copied, because an SQE may
 * wait in the backlog after the caller's call returned.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "future_impl.h"


enum { FULL_READ = 0, FULL_WRITE = 1 };

/* State of read_full/write_full; one slab object. */
struct full {
	char *buf;
	uint64_t len, done, off;
	int fd;
	int dir;
};
_Static_assert(sizeof(struct full) <= TIDE__SLAB_OBJ, "full state");

/* For memcheck only: the kernel filled n bytes of the read buffer(s). */
static void mark_filled(struct tide_future *f, size_t n)
{
	if (f->ext) { /* readv: the copied iovec array */
		const struct iovec *iov = f->ext;

		for (size_t i = 0; n > 0; i++) {
			size_t k = n < iov[i].iov_len ? n : iov[i].iov_len;

			TIDE__MEM_DEFINED(iov[i].iov_base, k);
			n -= k;
		}
	} else {
		TIDE__MEM_DEFINED(f->payload, n);
	}
}

/* The rare cases of a completion: deadline, memcheck, argument copies. */
static int64_t op_done_slow(struct tide_loop *loop, struct tide_future *f,
			    int64_t r)
{
	struct tide__op *op = &f->op;

	if ((op->eflags & TIDE__OP_DEADLINE) && r == -ECANCELED &&
	    !(op->fflags & F_CANCEL))
		r = -ETIMEDOUT; /* the linked timeout fired, not the user */
	if ((op->fflags & F_FILLS) && r > 0)
		mark_filled(f, (size_t)r);
	if (op->fflags & F_EXT_SLAB)
		tide__slab_free(loop, f->ext);
	else if (op->fflags & F_EXT_MALLOC)
		free(f->ext);
	op->fflags &= (uint8_t)~(F_EXT_SLAB | F_EXT_MALLOC);
	f->ext = NULL;
	return r;
}

void tide__op_done(struct tide_loop *loop, struct tide__op *op, int32_t res,
		   uint32_t cflags)
{
	struct tide_future *f = (struct tide_future *)op;
	int64_t r = res;

	(void)cflags;
	if (__builtin_expect((op->eflags & TIDE__OP_DEADLINE) |
				     (op->fflags & (F_FILLS | F_EXT_SLAB |
						    F_EXT_MALLOC)),
			     0))
		r = op_done_slow(loop, f, r);
	tide__op_resolve(loop, f, r, f->payload);
}




struct tide_future *tide_nop(struct tide_loop *loop)
{
	struct io_uring_sqe *sqe;
	struct tide_future *f;

	if (!loop)
		return NULL;
	f = tide__op_start(loop, &sqe, NULL);
	if (!f)
		return NULL;
	io_uring_prep_nop(sqe);
	return tide__op_commit(loop, sqe, f);
}

/* Copy a path into f->ext. */
static int keep_path(struct tide_loop *loop, struct tide_future *f,
		     const char **path)
{
	size_t n = strlen(*path) + 1;
	char *c;

	if (n <= TIDE__SLAB_OBJ) {
		c = tide__slab_alloc(loop);
		f->op.fflags |= F_EXT_SLAB;
	} else {
		c = malloc(n);
		f->op.fflags |= F_EXT_MALLOC;
	}
	if (!c)
		return -ENOMEM;
	memcpy(c, *path, n);
	f->ext = c;
	*path = c;
	return 0;
}

/*
 * Start an op that takes one path: allocation happens before the SQE.
 * *sqe is NULL unless the op is to be prepared; the future returned then is
 * NULL (no loop, no memory) or already failed (-EFAULT for a NULL path).
 */
static struct tide_future *path_op(struct tide_loop *loop, const char **path,
				   struct io_uring_sqe **sqe)
{
	struct tide_future *f;

	*sqe = NULL;
	if (!loop)
		return NULL;
	if (!*path)
		return tide_future_fail(loop, -EFAULT);
	f = tide__future_new(loop, K_OP);
	if (!f)
		return NULL;
	f->op.done = tide__op_done;
	if (keep_path(loop, f, path))
		goto err;
	*sqe = tide__sqe(loop);
	if (!*sqe)
		goto err;
	return f;
err:
	*sqe = NULL;
	tide__future_free(f);
	return NULL;
}

struct tide_future *tide_openat(struct tide_loop *loop, int dfd,
				const char *path, int flags, mode_t mode)
{
	struct io_uring_sqe *sqe;
	struct tide_future *f;

	f = path_op(loop, &path, &sqe);
	if (!sqe)
		return f;
	io_uring_prep_openat(sqe, dfd, path, flags | O_CLOEXEC, mode);
	return tide__op_commit(loop, sqe, f);
}

struct tide_future *tide_close(struct tide_loop *loop, int fd)
{
	struct io_uring_sqe *sqe;
	struct tide_future *f;

	if (!loop)
		return NULL;
	f = tide__op_start(loop, &sqe, NULL);
	if (!f)
		return NULL;
	/* a fixed fd's table slot would keep the file open past the close;
	 * -ENOENT (not fixed) is the common case */
	(void)tide_loop_unfix_fd(loop, fd);
	io_uring_prep_close(sqe, fd);
	return tide__op_commit(loop, sqe, f);
}

static struct tide_future *rw(struct tide_loop *loop, int write, int fd,
			      void *buf, size_t len, uint64_t off,
			      int buf_index, unsigned flags)
{
	struct io_uring_sqe *sqe;
	struct tide_future *f;

	if (!loop)
		return NULL;
	if (!buf && len)
		return tide_future_fail(loop, -EFAULT);
	f = tide__op_start(loop, &sqe, NULL);
	if (!f)
		return NULL;
	if (buf_index < 0) {
		if (write)
			io_uring_prep_write(sqe, fd, buf, tide__clamp_len(len), off);
		else
			io_uring_prep_read(sqe, fd, buf, tide__clamp_len(len), off);
	} else if (write) {
		io_uring_prep_write_fixed(sqe, fd, buf, tide__clamp_len(len), off,
					  buf_index);
	} else {
		io_uring_prep_read_fixed(sqe, fd, buf, tide__clamp_len(len), off,
					 buf_index);
	}
	if (flags & TIDE_FIXED_FILE)
		sqe->flags |= IOSQE_FIXED_FILE;
	else
		tide__sqe_fd(loop, sqe);
	if (!write) {
		f->payload = buf; /* the result's payload is the buffer */
		if (TIDE__UNDER_MEMCHECK())
			f->op.fflags |= F_FILLS;
	}
	return tide__op_commit(loop, sqe, f);
}

struct tide_future *tide_read(struct tide_loop *loop, int fd, void *buf,
			      size_t len, uint64_t off)
{
	return rw(loop, 0, fd, buf, len, off, -1, 0);
}

struct tide_future *tide_write(struct tide_loop *loop, int fd,
			       const void *buf, size_t len, uint64_t off)
{
	return rw(loop, 1, fd, (void *)buf, len, off, -1, 0);
}

struct tide_future *tide_read_fixed(struct tide_loop *loop, int fd, void *buf,
				    size_t len, uint64_t off, int buf_index,
				    unsigned int flags)
{
	if (loop && (buf_index < 0 || (flags & ~(unsigned)TIDE_FIXED_FILE)))
		return tide_future_fail(loop, -EINVAL);
	return rw(loop, 0, fd, buf, len, off, buf_index, flags);
}

struct tide_future *tide_write_fixed(struct tide_loop *loop, int fd,
				     const void *buf, size_t len, uint64_t off,
				     int buf_index, unsigned int flags)
{
	if (loop && (buf_index < 0 || (flags & ~(unsigned)TIDE_FIXED_FILE)))
		return tide_future_fail(loop, -EINVAL);
	return rw(loop, 1, fd, (void *)buf, len, off, buf_index, flags);
}

static struct tide_future *rwv(struct tide_loop *loop, int write, int fd,
			       const struct iovec *iov, int iovcnt,
			       uint64_t off)
{
	struct io_uring_sqe *sqe;
	struct tide_future *f;
	size_t sz = (size_t)iovcnt * sizeof(*iov);
	struct iovec *copy;

	if (!loop)
		return NULL;
	if (iovcnt <= 0 || iovcnt > IOV_MAX)
		return tide_future_fail(loop, -EINVAL);
	if (!iov)
		return tide_future_fail(loop, -EFAULT);
	f = tide__future_new(loop, K_OP);
	if (!f)
		return NULL;
	f->op.done = tide__op_done;
	if (sz <= TIDE__SLAB_OBJ) {
		copy = tide__slab_alloc(loop);
		f->op.fflags |= F_EXT_SLAB;
	} else {
		copy = malloc(sz);
		f->op.fflags |= F_EXT_MALLOC;
	}
	if (!copy)
		goto err;
	f->ext = copy;
	memcpy(copy, iov, sz);
	sqe = tide__sqe(loop);
	if (!sqe)
		goto err;
	if (write)
		io_uring_prep_writev(sqe, fd, copy, (unsigned)iovcnt, off);
	else {
		io_uring_prep_readv(sqe, fd, copy, (unsigned)iovcnt, off);
		if (TIDE__UNDER_MEMCHECK())
			f->op.fflags |= F_FILLS;
	}
	return tide__op_commit(loop, sqe, f);
err:
	tide__future_free(f);
	return NULL;
}

struct tide_future *tide_readv(struct tide_loop *loop, int fd,
			       const struct iovec *iov, int iovcnt,
			       uint64_t off)
{
	return rwv(loop, 0, fd, iov, iovcnt, off);
}

struct tide_future *tide_writev(struct tide_loop *loop, int fd,
				const struct iovec *iov, int iovcnt,
				uint64_t off)
{
	return rwv(loop, 1, fd, iov, iovcnt, off);
}

/* ---- read/write the full length ---- */

static void full_prep(struct io_uring_sqe *sqe, const struct full *s)
{
	uint64_t off = s->off == TIDE_OFF_CUR ? s->off : s->off + s->done;
	unsigned len = tide__clamp_len(s->len - s->done);

	if (s->dir == FULL_WRITE)
		io_uring_prep_write(sqe, s->fd, s->buf + s->done, len, off);
	else
		io_uring_prep_read(sqe, s->fd, s->buf + s->done, len, off);
}

static void full_done(struct tide_loop *loop, struct tide__op *op,
		      int32_t res, uint32_t cflags)
{
	struct tide_future *f = (struct tide_future *)op;
	struct full *s = f->ext;
	struct io_uring_sqe *sqe;
	int64_t r;

	(void)cflags;
	if (res > 0) {
		if (s->dir == FULL_READ)
			TIDE__MEM_DEFINED(s->buf + s->done, (size_t)res);
		s->done += (uint64_t)res;
	}
	if (res < 0)
		r = res;
	else if (res == 0 && s->dir == FULL_READ)
		r = (int64_t)s->done; /* end of file */
	else if (res == 0)
		r = -EIO; /* a write that makes no progress would spin */
	else if (s->done == s->len)
		r = (int64_t)s->done;
	else if (op->fflags & F_CANCEL)
		r = -ECANCELED;
	else if ((sqe = tide__sqe(loop)) != NULL) {
		full_prep(sqe, s);
		tide__sqe_bind(loop, sqe, op);
		return;
	} else
		r = -ENOMEM;
	tide__slab_free(loop, s);
	f->ext = NULL;
	op->fflags &= (uint8_t)~F_EXT_SLAB;
	tide__future_resolve(f, r, NULL);
}

static struct tide_future *full(struct tide_loop *loop, int dir, int fd,
				void *buf, size_t len, uint64_t off)
{
	struct io_uring_sqe *sqe;
	struct tide_future *f;
	struct full *s;

	if (!loop)
		return NULL;
	if (!buf && len)
		return tide_future_fail(loop, -EFAULT);
	if (len == 0)
		return tide_future_ready(loop, 0, NULL);
	f = tide__future_new(loop, K_OP);
	if (!f)
		return NULL;
	s = tide__slab_alloc(loop);
	if (!s)
		goto err;
	f->ext = s;
	f->op.fflags |= F_EXT_SLAB;
	f->op.done = full_done;
	*s = (struct full){ .buf = buf, .len = len, .off = off, .fd = fd,
			    .dir = dir };
	sqe = tide__sqe(loop);
	if (!sqe)
		goto err;
	full_prep(sqe, s);
	return tide__op_commit(loop, sqe, f);
err:
	tide__future_free(f);
	return NULL;
}

struct tide_future *tide_read_full(struct tide_loop *loop, int fd, void *buf,
				   size_t len, uint64_t off)
{
	return full(loop, FULL_READ, fd, buf, len, off);
}

struct tide_future *tide_write_full(struct tide_loop *loop, int fd,
				    const void *buf, size_t len, uint64_t off)
{
	return full(loop, FULL_WRITE, fd, (void *)buf, len, off);
}

/* ---- metadata and sync ---- */

struct tide_future *tide_fsync(struct tide_loop *loop, int fd)
{
	struct io_uring_sqe *sqe;
	struct tide_future *f;

	if (!loop)
		return NULL;
	f = tide__op_start(loop, &sqe, NULL);
	if (!f)
		return NULL;
	io_uring_prep_fsync(sqe, fd, 0);
	return tide__op_commit(loop, sqe, f);
}

struct tide_future *tide_fdatasync(struct tide_loop *loop, int fd)
{
	struct io_uring_sqe *sqe;
	struct tide_future *f;

	if (!loop)
		return NULL;
	f = tide__op_start(loop, &sqe, NULL);
	if (!f)
		return NULL;
	io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
	return tide__op_commit(loop, sqe, f);
}

struct tide_future *tide_fallocate(struct tide_loop *loop, int fd, int mode,
				   uint64_t off, uint64_t len)
{
	struct io_uring_sqe *sqe;
	struct tide_future *f;

	if (!loop)
		return NULL;
	f = tide__op_start(loop, &sqe, NULL);
	if (!f)
		return NULL;
	io_uring_prep_fallocate(sqe, fd, mode, off, len);
	return tide__op_commit(loop, sqe, f);
}

struct tide_future *tide_sync_file_range(struct tide_loop *loop, int fd,
					 uint64_t off, uint64_t len,
					 unsigned int flags)
{
	struct io_uring_sqe *sqe;
	struct tide_future *f;

	if (!loop)
		return NULL;
	if (len > UINT32_MAX)
		return tide_future_fail(loop, -EINVAL);
	f = tide__op_start(loop, &sqe, NULL);
	if (!f)
		return NULL;
	io_uring_prep_sync_file_range(sqe, fd, (unsigned)len, off, (int)flags);
	return tide__op_commit(loop, sqe, f);
}

static void statx_done(struct tide_loop *loop, struct tide__op *op,
		       int32_t res, uint32_t cflags)
{
	if (res == 0)
		TIDE__MEM_DEFINED(((struct tide_future *)op)->payload,
				  sizeof(struct statx));
	tide__op_done(loop, op, res, cflags);
}

struct tide_future *tide_statx(struct tide_loop *loop, int dfd,
			       const char *path, int flags, unsigned int mask,
			       struct statx *stx)
{
	struct io_uring_sqe *sqe;
	struct tide_future *f;

	if (loop && !stx)
		return tide_future_fail(loop, -EFAULT);
	f = path_op(loop, &path, &sqe);
	if (!sqe)
		return f;
	io_uring_prep_statx(sqe, dfd, path, flags, mask, stx);
	f->payload = stx;
	f->op.done = statx_done;
	return tide__op_commit(loop, sqe, f);
}

struct tide_future *tide_unlinkat(struct tide_loop *loop, int dfd,
				  const char *path, int flags)
{
	struct io_uring_sqe *sqe;
	struct tide_future *f;

	f = path_op(loop, &path, &sqe);
	if (!sqe)
		return f;
	io_uring_prep_unlinkat(sqe, dfd, path, flags);
	return tide__op_commit(loop, sqe, f);
}

struct tide_future *tide_mkdirat(struct tide_loop *loop, int dfd,
				 const char *path, mode_t mode)
{
	struct io_uring_sqe *sqe;
	struct tide_future *f;

	f = path_op(loop, &path, &sqe);
	if (!sqe)
		return f;
	io_uring_prep_mkdirat(sqe, dfd, path, mode);
	return tide__op_commit(loop, sqe, f);
}

struct tide_future *tide_renameat(struct tide_loop *loop, int olddfd,
				  const char *oldpath, int newdfd,
				  const char *newpath, unsigned int flags)
{
	struct io_uring_sqe *sqe;
	struct tide_future *f;
	size_t a, b;
	char *c;

	if (!loop)
		return NULL;
	if (!oldpath || !newpath)
		return tide_future_fail(loop, -EFAULT);
	a = strlen(oldpath) + 1;
	b = strlen(newpath) + 1;
	f = tide__future_new(loop, K_OP);
	if (!f)
		return NULL;
	f->op.done = tide__op_done;
	c = malloc(a + b);
	if (!c)
		goto err;
	f->ext = c;
	f->op.fflags |= F_EXT_MALLOC;
	memcpy(c, oldpath, a);
	memcpy(c + a, newpath, b);
	sqe = tide__sqe(loop);
	if (!sqe)
		goto err;
	io_uring_prep_renameat(sqe, olddfd, c, newdfd, c + a, (int)flags);
	return tide__op_commit(loop, sqe, f);
err:
	tide__future_free(f);
	return NULL;
}

struct tide_future *tide_splice(struct tide_loop *loop, int fd_in,
				uint64_t off_in, int fd_out, uint64_t off_out,
				size_t len, unsigned int flags)
{
	struct io_uring_sqe *sqe;
	struct tide_future *f;

	if (!loop)
		return NULL;
	f = tide__op_start(loop, &sqe, NULL);
	if (!f)
		return NULL;
	io_uring_prep_splice(sqe, fd_in, (int64_t)off_in, fd_out,
			     (int64_t)off_out, tide__clamp_len(len), flags);
	return tide__op_commit(loop, sqe, f);
}

/* ---- registered resources ---- */

/* One table of each kind per loop: *count records whether it exists. */
static int reg_table(struct tide_loop *loop, unsigned *count, const void *v,
		     unsigned n, int buffers)
{
	int ret;

	if (!loop || !v || n == 0)
		return -EINVAL;
	if (*count)
		return -EBUSY;
	ret = buffers ? io_uring_register_buffers(&loop->ring, v, n) :
			io_uring_register_files(&loop->ring, v, n);
	if (ret == 0)
		*count = n;
	return ret;
}

static int unreg_table(struct tide_loop *loop, unsigned *count, int buffers)
{
	int ret;

	if (!*count)
		return -ENXIO;
	ret = buffers ? io_uring_unregister_buffers(&loop->ring) :
			io_uring_unregister_files(&loop->ring);
	if (ret == 0)
		*count = 0;
	return ret;
}

int tide_loop_register_buffers(struct tide_loop *loop, const struct iovec *iov,
			       unsigned int n)
{
	return reg_table(loop, loop ? &loop->registered_bufs : NULL, iov, n, 1);
}

int tide_loop_unregister_buffers(struct tide_loop *loop)
{
	return loop ? unreg_table(loop, &loop->registered_bufs, 1) : -EINVAL;
}

int tide_loop_register_files(struct tide_loop *loop, const int *fds,
			     unsigned int n)
{
	return reg_table(loop, loop ? &loop->registered_files : NULL, fds, n, 0);
}

int tide_loop_unregister_files(struct tide_loop *loop)
{
	if (loop && loop->fixmap)
		return -EBUSY; /* the table of tide_loop_fix_fd() */
	return loop ? unreg_table(loop, &loop->registered_files, 0) : -EINVAL;
}
