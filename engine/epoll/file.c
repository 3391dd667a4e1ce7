// SPDX-License-Identifier: MIT
/*
 * file.c - the epoll backend's file and other blocking operations: jobs on
 * the loop's blocking pool (engine/core/blocking.c).  read/write and
 * readv/writev look at the descriptor first: regular files and block
 * devices go to the pool, pipes, sockets and ttys to readiness (net.c).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ep_impl.h"

/* Which road fd's reads and writes take (cached until the descriptor is
 * closed or its number comes back from accept, socket or openat; fresh:
 * look again). */
static uint8_t classify(struct tide_loop *loop, int fd, bool fresh)
{
	struct ep_fd *e = tide__ep_fd(loop, fd);
	struct stat st;
	uint8_t was;

	if (!e)
		return EP_FD_BLOCKING; /* bad fd or no memory: the call says */
	if (e->kind != EP_FD_UNKNOWN && !fresh)
		return e->kind;
	was = e->kind;
	if (fstat(fd, &st) < 0) {
		e->kind = EP_FD_UNKNOWN;
		return EP_FD_BLOCKING; /* not cached: fd is bad right now */
	}
	if (S_ISSOCK(st.st_mode))
		e->kind = EP_FD_SOCKET;
	else if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) ||
		 S_ISDIR(st.st_mode))
		e->kind = EP_FD_BLOCKING;
	else
		e->kind = EP_FD_STREAM;
	if (e->kind != was) {
		e->no_nowait = false;
		e->hit = false;
	}
	return e->kind;
}

static struct ep_req *job(struct tide_loop *loop, struct tide__op *op,
			  uint8_t bop)
{
	struct ep_req *r = tide__ep_req_new(loop, op, EP_BLOCKING);

	if (r) {
		memset(&r->job, 0, sizeof(r->job));
		r->job.op = bop;
		r->job.fd = -1;
		r->job.fd2 = -1;
	}
	return r;
}

static int submit(struct tide_loop *loop, struct ep_req *r)
{
	struct tide__op *op = r->op;
	int ret = tide__ep_pool_submit(loop, r);

	if (ret) {
		tide__ep_req_free(loop, r);
		return ret;
	}
	tide__ep_started(loop, op, r);
	return 0;
}

int tide__ep_nop(struct tide_loop *loop, struct tide__op *op)
{
	EP_RESERVE(loop);
	return tide__ep_now(loop, op, 0);
}

/*
 * A file read or write the page cache can answer at once is done here,
 * as io_uring does before it hands work to its io-wq threads: preadv2() /
 * pwritev2() with RWF_NOWAIT never blocks (EAGAIN instead), and what it
 * could not do goes to the pool.  A short inline transfer is finished by
 * the pool, so a file read is as complete as on io_uring.
 */
static ssize_t try_nowait(struct tide_loop *loop, int fd, bool in,
			  const struct iovec *iov, unsigned cnt, uint64_t off)
{
	struct ep_fd *e = tide__ep_fd(loop, fd);
	off_t o = off == (uint64_t)-1 ? -1 : (off_t)off;
	ssize_t n;

	if (!e || e->no_nowait)
		return -EAGAIN;
	TIDE__EP_SYS(n, loop, tide__ep_rwv2(fd, in, iov, cnt, o, RWF_NOWAIT));
	if (n >= 0)
		return n;
	if (errno == EOPNOTSUPP) {
		e->no_nowait = true;
		return -EAGAIN;
	}
	return -errno;
}

/*
 * Pollable descriptors take readiness, the rest the pool.  The kind is
 * cached per descriptor number, and a number closed behind tide's back may
 * come back as another kind of file: a stale guess shows (ENOTSOCK, epoll
 * refusing a file, EAGAIN from a "file") and the descriptor is looked at
 * again, so a pipe never lands on the pool, where a read could block a
 * worker for good.  A transfer at an offset on what the cache calls a pipe
 * or socket looks again first: a file that got the number would be read at
 * its file position, not at the offset (streams pass TIDE_OFF_CUR, so
 * theirs cost nothing).  Returns 1: take the pool; else the operation's
 * return.
 */
static int by_readiness_slow(struct tide_loop *loop, struct tide__op *op,
			     int fd, bool in, const struct iovec *iov,
			     unsigned cnt, uint64_t off, bool single)
{
	int ret;

	if (classify(loop, fd, false) == EP_FD_BLOCKING ||
	    (off != (uint64_t)-1 && classify(loop, fd, true) == EP_FD_BLOCKING))
		return 1;
	ret = tide__ep_stream_rw(loop, op, fd, in, iov, cnt, single);
	if (ret != -EAGAIN)
		return ret;
	if (tide__ep_fd_at(loop->ep, fd)->kind == EP_FD_BLOCKING ||
	    classify(loop, fd, true) == EP_FD_BLOCKING)
		return 1;
	ret = tide__ep_stream_rw(loop, op, fd, in, iov, cnt, single);
	return ret == -EAGAIN ? 1 : ret;
}

/* The usual case first, inline: a descriptor already known as a file. */
static inline int by_readiness(struct tide_loop *loop, struct tide__op *op,
			       int fd, bool in, const struct iovec *iov,
			       unsigned cnt, uint64_t off, bool single)
{
	const struct ep_fd *e = tide__ep_fd_at(loop->ep, fd);

	if (__builtin_expect(e && e->kind == EP_FD_BLOCKING, 1))
		return 1;
	return by_readiness_slow(loop, op, fd, in, iov, cnt, off, single);
}

/* A "file" said EAGAIN to RWF_NOWAIT (a page-cache miss, or a pipe or
 * socket that got the number of a file) or ESPIPE (a pipe or socket that
 * got it, read at an offset).  Which?  (1: the pool.)  A pipe or socket
 * then takes readiness and the offset means nothing, as on io_uring. */
static int recheck(struct tide_loop *loop, struct tide__op *op, int fd, bool in,
		   const struct iovec *iov, unsigned cnt, bool single)
{
	if (classify(loop, fd, true) == EP_FD_BLOCKING)
		return 1;
	return by_readiness(loop, op, fd, in, iov, cnt, (uint64_t)-1, single);
}

/*
 * A read at an offset that the loop could well do itself may go to the
 * pool instead, so that a loop with many reads in flight uses the other
 * cores as pread(2) threads would (tide__blocking_may_spill()).  Only on
 * a descriptor whose last inline read came whole from the page cache (a
 * cold file, O_DIRECT or a file system without RWF_NOWAIT stays on the
 * inline road, whose misses are blocking jobs), and the worker reads with
 * RWF_NOWAIT too: a spilled read never blocks a worker that others wait
 * for (tide__ep_spill_back()).  The operations that count are those the
 * loop has work for: finished but not yet delivered, or on the pool; not
 * those that wait for readiness or a timer.  Reads only: a read at an
 * offset is the same whoever makes it and whenever; writes stay in the
 * order they were made in, as far as the loop goes.  Not under fault
 * injection, whose choices are the loop thread's.
 */
static bool spill(struct tide_loop *loop, int fd, bool in, uint64_t off)
{
	struct tide__ep *ep = loop->ep;
	const struct ep_fd *e;
	uint64_t waiting, busy, others;

	if (!in || off == (uint64_t)-1 || ep->cpus < 2 || loop->fault.rng)
		return false;
	e = tide__ep_fd_at(ep, fd);
	if (!e || !e->hit)
		return false;
	if (!ep->pool && tide__ep_pool_make(loop))
		return false;
	busy = tide__blocking_busy(ep->pool);
	waiting = ep->live > busy ? ep->live - busy : 0;
	others = loop->core.ops_pending > waiting ?
			 loop->core.ops_pending - waiting :
			 0;
	return tide__blocking_may_spill(ep->pool, others);
}

/* Hand a read to the pool as a spilled job; false (nothing done) if it
 * cannot be, and the loop reads it itself. */
static bool spill_read(struct tide_loop *loop, struct tide__op *op, int fd,
		       void *buf, unsigned len, uint64_t off)
{
	struct ep_req *r = job(loop, op, TIDE__B_READ);

	if (!r)
		return false;
	r->job.spill = 1;
	r->job.fd = fd;
	r->job.buf = buf;
	r->job.len = len;
	r->job.off = off;
	if (tide__ep_pool_submit(loop, r)) {
		tide__ep_req_free(loop, r);
		return false;
	}
	tide__ep_started(loop, op, r);
	return true;
}

int32_t tide__ep_spill_back(struct tide_loop *loop, struct ep_req *r,
			    int32_t res)
{
	struct tide__bjob *j = &r->job;
	struct ep_fd *e = tide__ep_fd_at(loop->ep, j->fd);
	uint8_t kind;
	int ret;

	j->spill = 0;
	if (res == -ESPIPE) {
		kind = classify(loop, j->fd, true);
		if (kind == EP_FD_BLOCKING)
			return res;
		r->kind = kind == EP_FD_SOCKET ? EP_RECV : EP_READ;
		r->fd = j->fd;
		r->want = EPOLLIN;
		r->u.io.buf = j->buf;
		r->u.io.len = j->len;
		ret = tide__ep_wait(loop, r);
		return ret ? ret : 1;
	}
	if (res != -EAGAIN && (res <= 0 || (unsigned)res == j->len))
		return res;
	/* not (all) in the page cache: the rest is a blocking read */
	if (e)
		e->hit = false;
	if (res > 0) {
		j->buf = (char *)j->buf + res;
		j->len -= (unsigned)res;
		j->off += (uint64_t)res;
	}
	ret = tide__ep_pool_submit(loop, r);
	if (ret)
		return res > 0 ? res : ret;
	r->done = res > 0 ? (unsigned)res : 0; /* added to the job's result */
	return 1;
}

static inline void note_hit(struct tide_loop *loop, int fd, bool hit)
{
	struct ep_fd *e = tide__ep_fd_at(loop->ep, fd);

	if (e)
		e->hit = hit;
}

static int rw(struct tide_loop *loop, struct tide__op *op, int fd, bool in,
	      void *buf, unsigned len, uint64_t off, int buf_index,
	      unsigned flags)
{
	struct iovec one = { .iov_base = buf, .iov_len = len };
	struct ep_req *r;
	ssize_t n;

	int ret;

	if (buf_index >= 0 || (flags & TIDE__RW_FIXED_FILE))
		return -EOPNOTSUPP; /* registered buffers, fixed files */
	ret = by_readiness(loop, op, fd, in, &one, 1, off, true);
	if (ret != 1)
		return ret;
	if (spill(loop, fd, in, off) && spill_read(loop, op, fd, buf, len, off))
		return 0;
	n = try_nowait(loop, fd, in, &one, 1, off);
	if (in)
		note_hit(loop, fd, n == (ssize_t)len);
	if ((n == -EAGAIN || n == -ESPIPE) &&
	    (ret = recheck(loop, op, fd, in, &one, 1, true)) != 1)
		return ret;
	if (n != -EAGAIN && (n < 0 || (unsigned)n == len || n == 0))
		return tide__ep_now(loop, op,
				    (int32_t)(n > INT32_MAX ? INT32_MAX : n));
	if (n < 0)
		n = 0;
	r = job(loop, op, in ? TIDE__B_READ : TIDE__B_WRITE);
	if (!r)
		return -ENOMEM;
	r->done = (unsigned)n; /* added to the pool's result */
	r->job.fd = fd;
	r->job.buf = (char *)buf + n;
	r->job.len = len - (unsigned)n;
	r->job.off = off == (uint64_t)-1 ? off : off + (uint64_t)n;
	return submit(loop, r);
}

int tide__ep_read(struct tide_loop *loop, struct tide__op *op, int fd,
		  void *buf, unsigned len, uint64_t off, int buf_index,
		  unsigned flags)
{
	EP_RESERVE(loop);
	return rw(loop, op, fd, true, buf, len, off, buf_index, flags);
}

int tide__ep_write(struct tide_loop *loop, struct tide__op *op, int fd,
		   const void *buf, unsigned len, uint64_t off, int buf_index,
		   unsigned flags)
{
	EP_RESERVE(loop);
	return rw(loop, op, fd, false, (void *)(uintptr_t)buf, len, off,
		  buf_index, flags);
}

static int rwv(struct tide_loop *loop, struct tide__op *op, int fd, bool in,
	       const struct iovec *iov, unsigned cnt, uint64_t off)
{
	struct ep_req *r;
	ssize_t n;
	int ret = by_readiness(loop, op, fd, in, iov, cnt, off, false);

	if (ret != 1)
		return ret;
	/* all or nothing inline: a vector is not split between the two */
	n = try_nowait(loop, fd, in, iov, cnt, off);
	if ((n == -EAGAIN || n == -ESPIPE) &&
	    (ret = recheck(loop, op, fd, in, iov, cnt, false)) != 1)
		return ret;
	if (n != -EAGAIN) {
		size_t total = 0;

		for (unsigned i = 0; i < cnt; i++)
			total += iov[i].iov_len;
		if (n < 0 || n == 0 || (size_t)n == total)
			return tide__ep_now(
				loop, op,
				(int32_t)(n > INT32_MAX ? INT32_MAX : n));
		/* short: the pool does it again from the start (reads are
		 * idempotent at an offset; a write at the file position is
		 * not, so only offset writes are redone) */
		if (!in && off == (uint64_t)-1)
			return tide__ep_now(loop, op, (int32_t)n);
	}
	r = job(loop, op, in ? TIDE__B_READV : TIDE__B_WRITEV);
	if (!r)
		return -ENOMEM;
	r->job.fd = fd;
	r->job.buf = (void *)(uintptr_t)iov;
	r->job.len = cnt;
	r->job.off = off;
	return submit(loop, r);
}

int tide__ep_readv(struct tide_loop *loop, struct tide__op *op, int fd,
		   const struct iovec *iov, unsigned iovcnt, uint64_t off)
{
	EP_RESERVE(loop);
	return rwv(loop, op, fd, true, iov, iovcnt, off);
}

int tide__ep_writev(struct tide_loop *loop, struct tide__op *op, int fd,
		    const struct iovec *iov, unsigned iovcnt, uint64_t off)
{
	EP_RESERVE(loop);
	return rwv(loop, op, fd, false, iov, iovcnt, off);
}

int tide__ep_fsync(struct tide_loop *loop, struct tide__op *op, int fd,
		   unsigned flags)
{
	struct ep_req *r;

	EP_RESERVE(loop);
	r = job(loop, op, TIDE__B_FSYNC);
	if (!r)
		return -ENOMEM;
	r->job.fd = fd;
	r->job.flags = (flags & TIDE__FSYNC_DATASYNC) ? 1 : 0;
	return submit(loop, r);
}

int tide__ep_fallocate(struct tide_loop *loop, struct tide__op *op, int fd,
		       int mode, uint64_t off, uint64_t len)
{
	struct ep_req *r;

	EP_RESERVE(loop);
	r = job(loop, op, TIDE__B_FALLOCATE);
	if (!r)
		return -ENOMEM;
	r->job.fd = fd;
	r->job.flags = mode;
	r->job.off = off;
	r->job.len64 = len;
	return submit(loop, r);
}

int tide__ep_sync_file_range(struct tide_loop *loop, struct tide__op *op,
			     int fd, uint64_t off, uint32_t len, unsigned flags)
{
	struct ep_req *r;

	EP_RESERVE(loop);
	r = job(loop, op, TIDE__B_SYNC_FILE_RANGE);
	if (!r)
		return -ENOMEM;
	r->job.fd = fd;
	r->job.off = off;
	r->job.len = len;
	r->job.flags = (int)flags;
	return submit(loop, r);
}

int tide__ep_statx(struct tide_loop *loop, struct tide__op *op, int dfd,
		   const char *path, int flags, unsigned mask,
		   struct statx *stx)
{
	struct ep_req *r;

	EP_RESERVE(loop);
	r = job(loop, op, TIDE__B_STATX);
	if (!r)
		return -ENOMEM;
	r->job.fd = dfd;
	r->job.path = path;
	r->job.flags = flags;
	r->job.mode = mask;
	r->job.buf = stx;
	return submit(loop, r);
}

int tide__ep_openat(struct tide_loop *loop, struct tide__op *op, int dfd,
		    const char *path, int flags, mode_t mode)
{
	struct ep_req *r;

	EP_RESERVE(loop);
	r = job(loop, op, TIDE__B_OPENAT);
	if (!r)
		return -ENOMEM;
	r->job.fd = dfd;
	r->job.path = path;
	r->job.flags = flags;
	r->job.mode = mode;
	return submit(loop, r);
}

/* On the pool like every open: the resolution touches the disk, and its
 * checks and the open stay together on one thread (resolve.c). */
int tide__ep_openat2(struct tide_loop *loop, struct tide__op *op, int dfd,
		     const char *path, struct open_how *how)
{
	struct ep_req *r;

	EP_RESERVE(loop);
	r = job(loop, op, TIDE__B_OPENAT2);
	if (!r)
		return -ENOMEM;
	r->job.fd = dfd;
	r->job.path = path;
	r->job.buf = how;
	return submit(loop, r);
}

int tide__ep_close(struct tide_loop *loop, struct tide__op *op, int fd)
{
	uint8_t kind = EP_FD_UNKNOWN;
	struct tide__ep *ep;
	struct ep_req *r;

	EP_RESERVE(loop);
	ep = loop->ep;
	if (tide__ep_fd_at(ep, fd))
		kind = tide__ep_fd_at(ep, fd)->kind;
	/* out of the epoll set while the number still names the file */
	tide__ep_fd_reset(loop, fd);
	if (kind == EP_FD_SOCKET || kind == EP_FD_STREAM)
		return tide__ep_now(loop, op, close(fd) ? -errno : 0);
	r = job(loop, op, TIDE__B_CLOSE);
	if (!r)
		return -ENOMEM;
	r->job.fd = fd;
	return submit(loop, r);
}

int tide__ep_unlinkat(struct tide_loop *loop, struct tide__op *op, int dfd,
		      const char *path, int flags)
{
	struct ep_req *r;

	EP_RESERVE(loop);
	r = job(loop, op, TIDE__B_UNLINKAT);
	if (!r)
		return -ENOMEM;
	r->job.fd = dfd;
	r->job.path = path;
	r->job.flags = flags;
	return submit(loop, r);
}

int tide__ep_mkdirat(struct tide_loop *loop, struct tide__op *op, int dfd,
		     const char *path, mode_t mode)
{
	struct ep_req *r;

	EP_RESERVE(loop);
	r = job(loop, op, TIDE__B_MKDIRAT);
	if (!r)
		return -ENOMEM;
	r->job.fd = dfd;
	r->job.path = path;
	r->job.mode = mode;
	return submit(loop, r);
}

int tide__ep_renameat(struct tide_loop *loop, struct tide__op *op, int olddfd,
		      const char *oldpath, int newdfd, const char *newpath,
		      unsigned flags)
{
	struct ep_req *r;

	EP_RESERVE(loop);
	r = job(loop, op, TIDE__B_RENAMEAT);
	if (!r)
		return -ENOMEM;
	r->job.fd = olddfd;
	r->job.path = oldpath;
	r->job.fd2 = newdfd;
	r->job.path2 = newpath;
	r->job.flags = (int)flags;
	return submit(loop, r);
}
