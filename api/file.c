// SPDX-License-Identifier: MIT
/*
 * file.c - file operations as futures: each starts one operation of the
 * engine's vocabulary and completes through the shared hook tide__op_done().
 * Arguments read at submission (paths, iovec arrays) are copied, because an
 * operation may wait in a backlog or a pool queue after the call returned.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
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

	/* the deadline fired: not the user, nor the loop being freed */
	if ((op->eflags & TIDE__OP_DEADLINE) && r == -ECANCELED &&
	    !(op->fflags & TIDE__FF_CANCEL) && !tide__core(loop)->closing)
		r = -ETIMEDOUT;
	if ((op->fflags & TIDE__FF_FILLS) && r > 0)
		mark_filled(f, (size_t)r);
	if (op->fflags & TIDE__FF_EXT_SLAB)
		tide__slab_free(loop, f->ext);
	else if (op->fflags & TIDE__FF_EXT_MALLOC)
		free(f->ext);
	op->fflags &= (uint8_t) ~(TIDE__FF_EXT_SLAB | TIDE__FF_EXT_MALLOC);
	f->ext = NULL;
	return r;
}

/* The rare completion, out of line: the fast path below saves nothing. */
static __attribute__((noinline, cold)) void
op_done_rare(struct tide_loop *loop, struct tide_future *f, int64_t r)
{
	r = op_done_slow(loop, f, r);
	tide__op_resolve(loop, f, r, f->payload);
}

/* The four flag bytes of an op record in one load (eflags, kind, cont,
 * fflags: byte 0 to 3 of the word on a little-endian machine). */
_Static_assert(offsetof(struct tide__op, kind) ==
			       offsetof(struct tide__op, eflags) + 1 &&
		       offsetof(struct tide__op, cont) ==
			       offsetof(struct tide__op, eflags) + 2 &&
		       offsetof(struct tide__op, fflags) ==
			       offsetof(struct tide__op, eflags) + 3 &&
		       __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "tide__op_done() reads the flag bytes as one word");
#define OP_DONE_MASK                                                          \
	(TIDE__OP_DEADLINE | 0xffu << 16 |                                    \
	 (uint32_t)(TIDE__FF_FILLS | TIDE__FF_EXT_SLAB | TIDE__FF_EXT_MALLOC) \
		 << 24)
#define OP_DONE_FAST ((uint32_t)TIDE__FC_DONE << 16)

void tide__op_done(struct tide_loop *loop, struct tide__op *op, int32_t res,
		   uint32_t cflags)
{
	struct tide_future *f = (struct tide_future *)op;
	struct tide__core *c = tide__core(loop);
	uint32_t w;

	(void)cflags;
	memcpy(&w, &op->eflags, sizeof(w));
	/* the common case: no deadline, nothing to fill or free, an on_done
	 * callback that may run now (tide__op_resolve()'s rule) */
	if (__builtin_expect((w & OP_DONE_MASK) == OP_DONE_FAST, 1) &&
	    tide__may_dispatch(c, TIDE__MAX_NEST)) {
		tide_done_fn *fn = (tide_done_fn *)f->fn;
		void *arg = f->arg, *payload = f->payload;

		tide__slab_free(loop, f);
		/* user code on the stack until tide__complete() puts the
		 * count back: the callback is a tail call */
		c->in_user++;
		fn(arg, res, payload);
		return;
	}
	if (__builtin_expect((op->eflags & TIDE__OP_DEADLINE) |
				     (op->fflags &
				      (TIDE__FF_FILLS | TIDE__FF_EXT_SLAB |
				       TIDE__FF_EXT_MALLOC)),
			     0)) {
		op_done_rare(loop, f, res);
		return;
	}
	tide__future_resolve(f, res, f->payload);
}

struct tide_future *tide__op_not_started(struct tide_future *f, int ret)
{
	struct tide_loop *loop = tide__slab_loop(f);

	tide__future_free(f);
	return ret == -ENOMEM ? NULL : tide_future_fail(loop, ret);
}

struct tide_future *tide_nop(struct tide_loop *loop)
{
	struct tide_future *f;

	if (!loop)
		return NULL;
	f = tide__op_new(loop, NULL);
	return f ? tide__op_started(f, tide__op_nop(loop, &f->op)) : NULL;
}

/* Copy a path into f->ext. */
static int keep_path(struct tide_loop *loop, struct tide_future *f,
		     const char **path)
{
	size_t n = strlen(*path) + 1;
	char *c;

	c = n <= TIDE__SLAB_OBJ ? tide__slab_alloc(loop) : malloc(n);
	if (!c)
		return -ENOMEM; /* (no flag yet: nothing for the free) */
	f->op.fflags |= n <= TIDE__SLAB_OBJ ? TIDE__FF_EXT_SLAB :
					      TIDE__FF_EXT_MALLOC;
	memcpy(c, *path, n);
	f->ext = c;
	*path = c;
	return 0;
}

/*
 * A future for an op that takes one path, with the path copied (*path then
 * points at the copy).  *ready is the future to return instead when the op
 * must not start: NULL (no loop, no memory) or failed (-EFAULT: NULL path).
 */
static struct tide_future *path_op(struct tide_loop *loop, const char **path,
				   struct tide_future **ready)
{
	struct tide_future *f;

	*ready = NULL;
	if (!loop)
		return NULL;
	if (!*path) {
		*ready = tide_future_fail(loop, -EFAULT);
		return NULL;
	}
	f = tide__op_new(loop, NULL);
	if (f && keep_path(loop, f, path)) {
		tide__future_free(f);
		f = NULL;
	}
	return f;
}

struct tide_future *tide_openat(struct tide_loop *loop, int dfd,
				const char *path, int flags, mode_t mode)
{
	struct tide_future *ready, *f = path_op(loop, &path, &ready);

	if (!f)
		return ready;
	return tide__op_started(f, tide__op_openat(loop, &f->op, dfd, path,
						   flags | O_CLOEXEC, mode));
}

struct tide_future *tide_close(struct tide_loop *loop, int fd)
{
	struct tide_future *f;

	if (!loop)
		return NULL;
	f = tide__op_new(loop, NULL);
	if (!f)
		return NULL;
	/* a fixed fd's table slot would keep the file open past the close;
	 * -ENOENT (not fixed) is the common case */
	(void)tide_loop_unfix_fd(loop, fd);
	return tide__op_started(f, tide__op_close(loop, &f->op, fd));
}

static struct tide_future *rw(struct tide_loop *loop, int write, int fd,
			      void *buf, size_t len, uint64_t off,
			      int buf_index, unsigned flags)
{
	struct tide_future *f;
	unsigned eflags = (flags & TIDE_FIXED_FILE) ? TIDE__RW_FIXED_FILE : 0;
	int ret;

	if (!loop)
		return NULL;
	if (!buf && len)
		return tide_future_fail(loop, -EFAULT);
	f = tide__op_new(loop, NULL);
	if (!f)
		return NULL;
	if (write) {
		ret = tide__op_write(loop, &f->op, fd, buf,
				     tide__clamp_len(len), off, buf_index,
				     eflags);
	} else {
		f->payload = buf; /* the result's payload is the buffer */
		if (TIDE__UNDER_MEMCHECK())
			f->op.fflags |= TIDE__FF_FILLS;
		ret = tide__op_read(loop, &f->op, fd, buf, tide__clamp_len(len),
				    off, buf_index, eflags);
	}
	return tide__op_started(f, ret);
}

struct tide_future *tide_read(struct tide_loop *loop, int fd, void *buf,
			      size_t len, uint64_t off)
{
	return rw(loop, 0, fd, buf, len, off, -1, 0);
}

struct tide_future *tide_write(struct tide_loop *loop, int fd, const void *buf,
			       size_t len, uint64_t off)
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
	struct tide_future *f;
	size_t sz = (size_t)iovcnt * sizeof(*iov);
	struct iovec *copy;
	int ret;

	if (!loop)
		return NULL;
	if (iovcnt <= 0 || iovcnt > IOV_MAX)
		return tide_future_fail(loop, -EINVAL);
	if (!iov)
		return tide_future_fail(loop, -EFAULT);
	f = tide__op_new(loop, NULL);
	if (!f)
		return NULL;
	copy = sz <= TIDE__SLAB_OBJ ? tide__slab_alloc(loop) : malloc(sz);
	if (!copy)
		goto err; /* (no flag yet: nothing for the free) */
	f->op.fflags |= sz <= TIDE__SLAB_OBJ ? TIDE__FF_EXT_SLAB :
					       TIDE__FF_EXT_MALLOC;
	f->ext = copy;
	memcpy(copy, iov, sz);
	if (write) {
		ret = tide__op_writev(loop, &f->op, fd, copy, (unsigned)iovcnt,
				      off);
	} else {
		if (TIDE__UNDER_MEMCHECK())
			f->op.fflags |= TIDE__FF_FILLS;
		ret = tide__op_readv(loop, &f->op, fd, copy, (unsigned)iovcnt,
				     off);
	}
	return tide__op_started(f, ret);
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

/* Start the next read or write of the remainder. */
static int full_next(struct tide_loop *loop, struct tide__op *op,
		     const struct full *s)
{
	uint64_t off = s->off == TIDE_OFF_CUR ? s->off : s->off + s->done;
	unsigned len = tide__clamp_len(s->len - s->done);

	if (s->dir == FULL_WRITE)
		return tide__op_write(loop, op, s->fd, s->buf + s->done, len,
				      off, -1, 0);
	return tide__op_read(loop, op, s->fd, s->buf + s->done, len, off, -1,
			     0);
}

static void full_done(struct tide_loop *loop, struct tide__op *op, int32_t res,
		      uint32_t cflags)
{
	struct tide_future *f = (struct tide_future *)op;
	struct full *s = f->ext;
	int64_t r;

	(void)cflags;
	if (res > 0) {
		if (s->dir == FULL_READ)
			TIDE__MEM_DEFINED(s->buf + s->done, (size_t)res);
		s->done += (uint64_t)res;
	}
	if (res < 0 &&
	    tide__cancel_unasked(loop, res,
				 (op->fflags & TIDE__FF_CANCEL) ||
					 (op->eflags & TIDE__OP_DEADLINE))) {
		/* the kernel cancelled the step before it ran (it moved
		 * nothing): the caller cannot redo a step of its own, and
		 * an -ECANCELED would lose the count of what was done */
		if ((r = full_next(loop, op, s)) == 0)
			return;
	} else if (res < 0)
		r = res;
	else if (res == 0 && s->dir == FULL_READ)
		r = (int64_t)s->done; /* end of file */
	else if (res == 0)
		r = -EIO; /* a write that makes no progress would spin */
	else if (s->done == s->len)
		r = (int64_t)s->done;
	else if (op->fflags & TIDE__FF_CANCEL)
		r = -ECANCELED;
	else if ((r = full_next(loop, op, s)) == 0)
		return;
	tide__slab_free(loop, s);
	f->ext = NULL;
	op->fflags &= (uint8_t)~TIDE__FF_EXT_SLAB;
	tide__future_resolve(f, r, NULL);
}

static struct tide_future *full(struct tide_loop *loop, int dir, int fd,
				void *buf, size_t len, uint64_t off)
{
	struct tide_future *f;
	struct full *s;

	if (!loop)
		return NULL;
	if (!buf && len)
		return tide_future_fail(loop, -EFAULT);
	if (len == 0)
		return tide_future_ready(loop, 0, NULL);
	f = tide__op_new(loop, full_done);
	if (!f)
		return NULL;
	s = tide__slab_alloc(loop);
	if (!s) {
		tide__future_free(f);
		return NULL;
	}
	f->ext = s;
	f->op.fflags |= TIDE__FF_EXT_SLAB;
	*s = (struct full){
		.buf = buf, .len = len, .off = off, .fd = fd, .dir = dir
	};
	return tide__op_started(f, full_next(loop, &f->op, s));
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
	struct tide_future *f;

	if (!loop)
		return NULL;
	f = tide__op_new(loop, NULL);
	return f ? tide__op_started(f, tide__op_fsync(loop, &f->op, fd, 0)) :
		   NULL;
}

struct tide_future *tide_fdatasync(struct tide_loop *loop, int fd)
{
	struct tide_future *f;

	if (!loop)
		return NULL;
	f = tide__op_new(loop, NULL);
	return f ? tide__op_started(f, tide__op_fsync(loop, &f->op, fd,
						      TIDE__FSYNC_DATASYNC)) :
		   NULL;
}

struct tide_future *tide_fallocate(struct tide_loop *loop, int fd, int mode,
				   uint64_t off, uint64_t len)
{
	struct tide_future *f;

	if (!loop)
		return NULL;
	f = tide__op_new(loop, NULL);
	return f ? tide__op_started(f, tide__op_fallocate(loop, &f->op, fd,
							  mode, off, len)) :
		   NULL;
}

struct tide_future *tide_sync_file_range(struct tide_loop *loop, int fd,
					 uint64_t off, uint64_t len,
					 unsigned int flags)
{
	struct tide_future *f;

	if (!loop)
		return NULL;
	if (len > UINT32_MAX)
		return tide_future_fail(loop, -EINVAL);
	f = tide__op_new(loop, NULL);
	return f ? tide__op_started(
			   f, tide__op_sync_file_range(loop, &f->op, fd, off,
						       (uint32_t)len, flags)) :
		   NULL;
}

static void statx_done(struct tide_loop *loop, struct tide__op *op, int32_t res,
		       uint32_t cflags)
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
	struct tide_future *ready, *f;

	if (loop && !stx)
		return tide_future_fail(loop, -EFAULT);
	f = path_op(loop, &path, &ready);
	if (!f)
		return ready;
	f->payload = stx;
	f->op.done = statx_done;
	return tide__op_started(f, tide__op_statx(loop, &f->op, dfd, path,
						  flags, mask, stx));
}

struct tide_future *tide_unlinkat(struct tide_loop *loop, int dfd,
				  const char *path, int flags)
{
	struct tide_future *ready, *f = path_op(loop, &path, &ready);

	if (!f)
		return ready;
	return tide__op_started(f, tide__op_unlinkat(loop, &f->op, dfd, path,
						     flags));
}

struct tide_future *tide_mkdirat(struct tide_loop *loop, int dfd,
				 const char *path, mode_t mode)
{
	struct tide_future *ready, *f = path_op(loop, &path, &ready);

	if (!f)
		return ready;
	return tide__op_started(f, tide__op_mkdirat(loop, &f->op, dfd, path,
						    mode));
}

struct tide_future *tide_renameat(struct tide_loop *loop, int olddfd,
				  const char *oldpath, int newdfd,
				  const char *newpath, unsigned int flags)
{
	struct tide_future *f;
	size_t a, b;
	char *c;

	if (!loop)
		return NULL;
	if (!oldpath || !newpath)
		return tide_future_fail(loop, -EFAULT);
	a = strlen(oldpath) + 1;
	b = strlen(newpath) + 1;
	f = tide__op_new(loop, NULL);
	if (!f)
		return NULL;
	c = malloc(a + b);
	if (!c) {
		tide__future_free(f);
		return NULL;
	}
	f->ext = c;
	f->op.fflags |= TIDE__FF_EXT_MALLOC;
	memcpy(c, oldpath, a);
	memcpy(c + a, newpath, b);
	return tide__op_started(f, tide__op_renameat(loop, &f->op, olddfd, c,
						     newdfd, c + a, flags));
}

struct tide_future *tide_splice(struct tide_loop *loop, int fd_in,
				uint64_t off_in, int fd_out, uint64_t off_out,
				size_t len, unsigned int flags)
{
	struct tide_future *f;

	if (!loop)
		return NULL;
	f = tide__op_new(loop, NULL);
	return f ? tide__op_started(f, tide__op_splice(loop, &f->op, fd_in,
						       (int64_t)off_in, fd_out,
						       (int64_t)off_out,
						       tide__clamp_len(len),
						       flags)) :
		   NULL;
}

/* ---- registered resources ---- */

int tide_loop_register_buffers(struct tide_loop *loop, const struct iovec *iov,
			       unsigned int n)
{
	return loop ? tide__reg_buffers(loop, iov, n) : -EINVAL;
}

int tide_loop_unregister_buffers(struct tide_loop *loop)
{
	return loop ? tide__unreg_buffers(loop) : -EINVAL;
}

int tide_loop_register_files(struct tide_loop *loop, const int *fds,
			     unsigned int n)
{
	return loop ? tide__reg_files(loop, fds, n) : -EINVAL;
}

int tide_loop_unregister_files(struct tide_loop *loop)
{
	return loop ? tide__unreg_files(loop) : -EINVAL;
}
