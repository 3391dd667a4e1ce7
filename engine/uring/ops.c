// SPDX-License-Identifier: MIT
/*
 * ops.c - the operation vocabulary (ops.h), routed to the loop's backend.
 *
 * On io_uring each operation is one SQE filled in place: no copy, no
 * indirect call.  The epoll backend gets the same arguments through its
 * tide__ep_*() function.  An operation the running kernel lacks is carried
 * out the fallback's way for that one operation (the syscall at once, or
 * the blocking pool), as libuv does.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "bufring.h"
#include "epoll/epoll.h"
#include "uring.h"

_Static_assert(TIDE__CQ_BUFFER == IORING_CQE_F_BUFFER &&
		       TIDE__CQ_MORE == IORING_CQE_F_MORE &&
		       TIDE__CQ_NOTIF == IORING_CQE_F_NOTIF &&
		       TIDE__CQ_BID_SHIFT == IORING_CQE_BUFFER_SHIFT,
	       "the engine's completion flags are the kernel's, untranslated");

/* Count op as in flight when the backend took it. */
static inline int accepted(struct tide_loop *loop, struct tide__op *op, int ret)
{
	if (ret == 0) {
		loop->core.ops_pending++;
		tide__op_inflight(op);
	}
	return ret;
}

/* While the loop is being freed, operations complete -ECANCELED unstarted. */
static int refuse(struct tide_loop *loop, struct tide__op *op)
{
	op->eflags |= TIDE__OP_CANCELLED_EARLY;
	return accepted(loop, op,
			tide__complete_later(loop, op, -ECANCELED, 0));
}

/* A result known now (a syscall done inline): delivered next dispatch.
 * Room in the later queue was reserved before the call (LACKS_NOW), so
 * the push cannot fail and a result had is never lost. */
static int finish(struct tide_loop *loop, struct tide__op *op, int res)
{
	return accepted(loop, op, tide__complete_later(loop, op, res, 0));
}

/* Fault injection's "nomem": the SQ is full.  A NOP nobody waits for goes
 * to the backlog, so this operation and every one after it are taken from
 * there until the next submission flushes it, as when the ring is full. */
static void sq_full(struct tide_loop *loop)
{
	struct io_uring_sqe *sqe = tide__sqe_backlog(loop);

	if (!sqe)
		return;
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data(sqe, &loop->u.ignore_op);
	if (loop->u.ring.features & IORING_FEAT_CQE_SKIP)
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

/* Off the fast path: the loop is closing (operations complete -ECANCELED
 * unstarted, as do those fault injection has the kernel cancel) or injects
 * faults (TIDE__SLOW_CHECK).  1: go on with the operation. */
static __attribute__((noinline, cold)) int slow_path(struct tide_loop *loop,
						     struct tide__op *op,
						     int fd, unsigned *len,
						     unsigned how)
{
	if (loop->core.closing || (!(op->eflags & TIDE__OP_INTERNAL) &&
				   tide__fault_refuse(loop, how)))
		return refuse(loop, op);
	tide__fault_op(loop, op, fd, len, how);
	if (loop->uring && tide__fault_sq_full(loop))
		sq_full(loop);
	return 1;
}

/* Where an operation goes when loop->slow is set: ep, the epoll backend's
 * road, is evaluated only there, and slow_path() is called only while
 * closing or injecting faults (on epoll it would be one call per operation
 * for nothing).  OP_SQE() looks at it only off its fast path; the other
 * operations begin with it.  fd and len (a
 * pointer, or NULL) are what fault injection may cut short; how
 * (TIDE__FAULT_*) says which way the bytes go, or that it is a multishot,
 * which fault injection may end early. */
#define ROUTE_AS(fd, len, how, ep)                                        \
	do {                                                              \
		if (__builtin_expect(loop->slow, 0)) {                    \
			if (loop->slow & TIDE__SLOW_CHECK) {              \
				int r_ = slow_path(loop, op, (fd), (len), \
						   (how));                \
				if (r_ <= 0)                              \
					return r_;                        \
			}                                                 \
			if (!loop->uring)                                 \
				return accepted(loop, op, (ep));          \
		}                                                         \
	} while (0)
#define ROUTE_IN(fd, len, ep) ROUTE_AS(fd, len, TIDE__FAULT_IN, ep)
#define ROUTE_OUT(fd, len, ep) ROUTE_AS(fd, len, TIDE__FAULT_OUT, ep)
#define ROUTE(ep) ROUTE_AS(-1, NULL, TIDE__FAULT_IN, ep)
#define ROUTE_MULTI(ep) ROUTE_AS(-1, NULL, TIDE__FAULT_MULTI, ep)
#define ROUTE_TIME(ep) ROUTE_AS(-1, NULL, TIDE__FAULT_TIME, ep)

/* Count op, bound to sqe, as in flight.  Records started through the
 * vocabulary are always counted: TIDE__OP_INTERNAL marks only the ones the
 * backend submits itself (the wake-up read, the cancel-all). */
static inline void bind_sqe(struct tide_loop *loop, struct tide__op *op,
			    struct io_uring_sqe *sqe)
{
	TIDE__ASSERT(!(op->eflags & TIDE__OP_INTERNAL),
		     "an internal record %p started through ops.h", (void *)op);
	io_uring_sqe_set_data(sqe, op);
	loop->core.ops_pending++;
	tide__op_inflight(op);
}

/* Fill one SQE for op with prep; -ENOMEM when there is none (the backlog
 * cannot grow).  The ring's own SQE needs no NULL test. */
#define SQE(prep) OP_SQE((void)0, prep)

/* The same, for an op on a descriptor that may be fixed in the ring. */
#define SQE_FD(prep) OP_SQE_FD((void)0, prep)

/*
 * An operation whose io_uring road is one SQE, filled by prep, and whose
 * other roads route (a ROUTE_*() statement) takes.  The fast path makes one
 * test, the SQ room's: while loop->slow is set the room is closed
 * (tide__slow_set(), and tide__sqe_slow() keeps it so), so route is looked
 * at only when there is no room, and the epoll backend, fault injection
 * and a closing loop all go that way.
 */
#define OP_SQE(route, prep)                                     \
	do {                                                    \
		struct io_uring_sqe *sqe;                       \
		if (__builtin_expect(tide__sq_room(loop), 1)) { \
			sqe = tide__sq_take(loop);              \
			bind_sqe(loop, op, sqe);                \
			prep;                                   \
			return 0;                               \
		}                                               \
		route;                                          \
		sqe = tide__sqe_slow(loop);                     \
		if (!sqe)                                       \
			return -ENOMEM;                         \
		bind_sqe(loop, op, sqe);                        \
		prep;                                           \
		return 0;                                       \
	} while (0)

#define OP_SQE_FD(route, prep)           \
	OP_SQE(route, {                  \
		prep;                    \
		tide__sqe_fd(loop, sqe); \
	})

/* The kernel lacks opcode: the epoll backend's way for this one op. */
#define LACKS(opcode, ep)                                             \
	do {                                                          \
		if (__builtin_expect(!tide__has_op(loop, opcode), 0)) \
			return accepted(loop, op, (ep));              \
	} while (0)
/* ... or the system call `call` now, counted once (by finish()); -ENOMEM,
 * nothing done, when its result could not be queued. */
#define LACKS_NOW(opcode, call)                                       \
	do {                                                          \
		if (__builtin_expect(!tide__has_op(loop, opcode), 0)) \
			return tide__later_reserve(loop) ?            \
				       -ENOMEM :                      \
				       finish(loop, op, (call));      \
	} while (0)

int tide__op_nop(struct tide_loop *loop, struct tide__op *op)
{
	OP_SQE(ROUTE(tide__ep_nop(loop, op)), io_uring_prep_nop(sqe));
}

static void rw_prep(struct tide_loop *loop, struct io_uring_sqe *sqe,
		    int opcode, int fd, const void *buf, unsigned len,
		    uint64_t off, int buf_index, unsigned flags)
{
	io_uring_prep_rw(opcode, sqe, fd, buf, len, off);
	if (buf_index >= 0)
		sqe->buf_index = (uint16_t)buf_index;
	if (flags & TIDE__RW_FIXED_FILE)
		sqe->flags |= IOSQE_FIXED_FILE;
	else
		tide__sqe_fd(loop, sqe);
}

int tide__op_read(struct tide_loop *loop, struct tide__op *op, int fd,
		  void *buf, unsigned len, uint64_t off, int buf_index,
		  unsigned flags)
{
	/* a fixed file's fd is an index in the table: nothing to look at */
	OP_SQE(ROUTE_IN(fd, (flags & TIDE__RW_FIXED_FILE) ? NULL : &len,
			tide__ep_read(loop, op, fd, buf, len, off, buf_index,
				      flags)),
	       rw_prep(loop, sqe,
		       buf_index < 0 ? IORING_OP_READ : IORING_OP_READ_FIXED,
		       fd, buf, len, off, buf_index, flags));
}

int tide__op_write(struct tide_loop *loop, struct tide__op *op, int fd,
		   const void *buf, unsigned len, uint64_t off, int buf_index,
		   unsigned flags)
{
	/* a fixed file's fd is an index in the table: nothing to look at */
	OP_SQE(ROUTE_OUT(fd, (flags & TIDE__RW_FIXED_FILE) ? NULL : &len,
			 tide__ep_write(loop, op, fd, buf, len, off, buf_index,
					flags)),
	       rw_prep(loop, sqe,
		       buf_index < 0 ? IORING_OP_WRITE : IORING_OP_WRITE_FIXED,
		       fd, buf, len, off, buf_index, flags));
}

int tide__op_readv(struct tide_loop *loop, struct tide__op *op, int fd,
		   const struct iovec *iov, unsigned iovcnt, uint64_t off)
{
	OP_SQE_FD(ROUTE(tide__ep_readv(loop, op, fd, iov, iovcnt, off)),
		  io_uring_prep_readv(sqe, fd, iov, iovcnt, off));
}

int tide__op_writev(struct tide_loop *loop, struct tide__op *op, int fd,
		    const struct iovec *iov, unsigned iovcnt, uint64_t off)
{
	OP_SQE_FD(ROUTE(tide__ep_writev(loop, op, fd, iov, iovcnt, off)),
		  io_uring_prep_writev(sqe, fd, iov, iovcnt, off));
}

int tide__op_fsync(struct tide_loop *loop, struct tide__op *op, int fd,
		   unsigned flags)
{
	OP_SQE_FD(ROUTE(tide__ep_fsync(loop, op, fd, flags)),
		  io_uring_prep_fsync(sqe, fd,
				      (flags & TIDE__FSYNC_DATASYNC) ?
					      IORING_FSYNC_DATASYNC :
					      0));
}

int tide__op_fallocate(struct tide_loop *loop, struct tide__op *op, int fd,
		       int mode, uint64_t off, uint64_t len)
{
	ROUTE(tide__ep_fallocate(loop, op, fd, mode, off, len));
	LACKS(IORING_OP_FALLOCATE,
	      tide__ep_fallocate(loop, op, fd, mode, off, len));
	SQE_FD(io_uring_prep_fallocate(sqe, fd, mode, off, len));
}

int tide__op_sync_file_range(struct tide_loop *loop, struct tide__op *op,
			     int fd, uint64_t off, uint32_t len, unsigned flags)
{
	OP_SQE_FD(
		ROUTE(tide__ep_sync_file_range(loop, op, fd, off, len, flags)),
		io_uring_prep_sync_file_range(sqe, fd, len, off, (int)flags));
}

int tide__op_statx(struct tide_loop *loop, struct tide__op *op, int dfd,
		   const char *path, int flags, unsigned mask,
		   struct statx *stx)
{
	ROUTE(tide__ep_statx(loop, op, dfd, path, flags, mask, stx));
	LACKS(IORING_OP_STATX,
	      tide__ep_statx(loop, op, dfd, path, flags, mask, stx));
	SQE(io_uring_prep_statx(sqe, dfd, path, flags, mask, stx));
}

int tide__op_openat(struct tide_loop *loop, struct tide__op *op, int dfd,
		    const char *path, int flags, mode_t mode)
{
	ROUTE(tide__ep_openat(loop, op, dfd, path, flags, mode));
	LACKS(IORING_OP_OPENAT,
	      tide__ep_openat(loop, op, dfd, path, flags, mode));
	SQE(io_uring_prep_openat(sqe, dfd, path, flags, mode));
}

int tide__op_openat2(struct tide_loop *loop, struct tide__op *op, int dfd,
		     const char *path, struct open_how *how)
{
	ROUTE(tide__ep_openat2(loop, op, dfd, path, how));
	LACKS(IORING_OP_OPENAT2, tide__ep_openat2(loop, op, dfd, path, how));
	SQE(io_uring_prep_openat2(sqe, dfd, path, how));
}

int tide__op_close(struct tide_loop *loop, struct tide__op *op, int fd)
{
	ROUTE(tide__ep_close(loop, op, fd));
	/* close(2) may block (a file's last flush): the pool's way */
	LACKS(IORING_OP_CLOSE, tide__ep_close(loop, op, fd));
	SQE(io_uring_prep_close(sqe, fd));
}

int tide__op_unlinkat(struct tide_loop *loop, struct tide__op *op, int dfd,
		      const char *path, int flags)
{
	ROUTE(tide__ep_unlinkat(loop, op, dfd, path, flags));
	LACKS(IORING_OP_UNLINKAT,
	      tide__ep_unlinkat(loop, op, dfd, path, flags));
	SQE(io_uring_prep_unlinkat(sqe, dfd, path, flags));
}

int tide__op_mkdirat(struct tide_loop *loop, struct tide__op *op, int dfd,
		     const char *path, mode_t mode)
{
	ROUTE(tide__ep_mkdirat(loop, op, dfd, path, mode));
	LACKS(IORING_OP_MKDIRAT, tide__ep_mkdirat(loop, op, dfd, path, mode));
	SQE(io_uring_prep_mkdirat(sqe, dfd, path, mode));
}

int tide__op_renameat(struct tide_loop *loop, struct tide__op *op, int olddfd,
		      const char *oldpath, int newdfd, const char *newpath,
		      unsigned flags)
{
	ROUTE(tide__ep_renameat(loop, op, olddfd, oldpath, newdfd, newpath,
				flags));
	LACKS(IORING_OP_RENAMEAT, tide__ep_renameat(loop, op, olddfd, oldpath,
						    newdfd, newpath, flags));
	SQE(io_uring_prep_renameat(sqe, olddfd, oldpath, newdfd, newpath,
				   (int)flags));
}

int tide__op_splice(struct tide_loop *loop, struct tide__op *op, int fd_in,
		    int64_t off_in, int fd_out, int64_t off_out, unsigned len,
		    unsigned flags)
{
	OP_SQE(ROUTE(tide__ep_splice(loop, op, fd_in, off_in, fd_out, off_out,
				     len, flags)),
	       io_uring_prep_splice(sqe, fd_in, off_in, fd_out, off_out, len,
				    flags));
}

/* ---- sockets ---- */

static int socket_now(int domain, int type, int protocol)
{
	int fd = socket(domain, type, protocol);

	return fd < 0 ? -errno : fd;
}

int tide__op_socket(struct tide_loop *loop, struct tide__op *op, int domain,
		    int type, int protocol)
{
	ROUTE(tide__ep_socket(loop, op, domain, type, protocol));
	/* Linux < 5.19: socket(2) never blocks, so call it here */
	LACKS_NOW(IORING_OP_SOCKET, socket_now(domain, type, protocol));
	SQE(io_uring_prep_socket(sqe, domain, type, protocol, 0));
}

int tide__op_connect(struct tide_loop *loop, struct tide__op *op, int fd,
		     const struct sockaddr *addr, socklen_t len)
{
	OP_SQE_FD(ROUTE(tide__ep_connect(loop, op, fd, addr, len)),
		  io_uring_prep_connect(sqe, fd, addr, len));
}

int tide__op_accept(struct tide_loop *loop, struct tide__op *op, int fd,
		    struct sockaddr *addr, socklen_t *len, int flags)
{
	OP_SQE_FD(ROUTE(tide__ep_accept(loop, op, fd, addr, len, flags)),
		  io_uring_prep_accept(sqe, fd, addr, len, flags));
}

int tide__op_accept_multi(struct tide_loop *loop, struct tide__op *op, int fd,
			  int flags)
{
	OP_SQE_FD(ROUTE_MULTI(tide__ep_accept_multi(loop, op, fd, flags)),
		  io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, flags));
}

int tide__op_recv(struct tide_loop *loop, struct tide__op *op, int fd,
		  void *buf, unsigned len, int flags)
{
	OP_SQE_FD(ROUTE_IN(fd, &len,
			   tide__ep_recv(loop, op, fd, buf, len, flags)),
		  io_uring_prep_recv(sqe, fd, buf, len, flags));
}

int tide__op_recv_multi(struct tide_loop *loop, struct tide__op *op, int fd,
			struct tide_bufring *br)
{
	OP_SQE_FD(ROUTE_MULTI(tide__ep_recv_multi(loop, op, fd, br)), {
		io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = tide__bufring_bgid(br);
	});
}

int tide__op_send(struct tide_loop *loop, struct tide__op *op, int fd,
		  const void *buf, unsigned len, int flags)
{
	OP_SQE_FD(ROUTE_OUT(fd, &len,
			    tide__ep_send(loop, op, fd, buf, len, flags)),
		  io_uring_prep_send(sqe, fd, buf, len, flags));
}

int tide__op_send_zc(struct tide_loop *loop, struct tide__op *op, int fd,
		     const void *buf, unsigned len, int flags)
{
	ROUTE(tide__ep_send(loop, op, fd, buf, len, flags));
	if (!tide__has_op(loop, IORING_OP_SEND_ZC))
		return tide__op_send(loop, op, fd, buf, len, flags);
	SQE_FD(io_uring_prep_send_zc(sqe, fd, buf, len, flags, 0));
}

int tide__op_recvmsg(struct tide_loop *loop, struct tide__op *op, int fd,
		     struct msghdr *msg, int flags)
{
	OP_SQE_FD(ROUTE(tide__ep_recvmsg(loop, op, fd, msg, flags)),
		  io_uring_prep_recvmsg(sqe, fd, msg, (unsigned)flags));
}

int tide__op_sendmsg(struct tide_loop *loop, struct tide__op *op, int fd,
		     const struct msghdr *msg, int flags)
{
	OP_SQE_FD(ROUTE(tide__ep_sendmsg(loop, op, fd, msg, flags)),
		  io_uring_prep_sendmsg(sqe, fd, msg, (unsigned)flags));
}

int tide__op_shutdown(struct tide_loop *loop, struct tide__op *op, int fd,
		      int how)
{
	ROUTE(tide__ep_shutdown(loop, op, fd, how));
	LACKS_NOW(IORING_OP_SHUTDOWN, shutdown(fd, how) ? -errno : 0);
	SQE_FD(io_uring_prep_shutdown(sqe, fd, how));
}

int tide__op_poll(struct tide_loop *loop, struct tide__op *op, int fd,
		  unsigned events, bool multi)
{
	OP_SQE_FD(ROUTE(tide__ep_poll(loop, op, fd, events, multi)), {
		if (multi)
			io_uring_prep_poll_multishot(sqe, fd, events);
		else
			io_uring_prep_poll_add(sqe, fd, events);
	});
}

/* ---- time and control ---- */

int tide__op_timeout(struct tide_loop *loop, struct tide__op *op,
		     struct __kernel_timespec *ts, unsigned flags)
{
	ROUTE_TIME(tide__ep_timeout(loop, op, ts, flags));
	/* the user-space heap (engine/core/timer.c) where the ring's wait can
	 * take a timeout without an SQE (IORING_FEAT_EXT_ARG, 5.11): arming
	 * and cancelling a timer then costs no system call */
	if (__builtin_expect(loop->u.ring.features & IORING_FEAT_EXT_ARG, 1))
		return accepted(loop, op,
				tide__ep_timeout(loop, op, ts, flags));
	loop->stats.timers++;
	SQE(io_uring_prep_timeout(
		sqe, ts, 0,
		(flags & TIDE__TIMEOUT_ABS) ? IORING_TIMEOUT_ABS : 0));
}

int tide__op_deadline(struct tide_loop *loop, struct tide__op *op,
		      struct __kernel_timespec *ts)
{
	if (loop->core.closing)
		return -EAGAIN; /* op was refused; it needs no deadline */
	if (!loop->uring)
		return tide__ep_deadline(loop, op, ts);
	return tide__uring_deadline(loop, op, ts);
}

int tide__op_cancel(struct tide_loop *loop, struct tide__op *op)
{
	tide__fault_owner_cancel(loop, op);
	if (!loop->uring || tide__ep_owns(loop, op))
		return tide__ep_cancel(loop, op); /* a heap timer, a pool job */
	return tide__uring_cancel(loop, op);
}

/* ---- registered resources ---- */

/* One table of each kind per loop: *count records whether it exists. */
static int reg_table(struct tide_loop *loop, unsigned *count, const void *v,
		     unsigned n, int buffers)
{
	int ret;

	if (!v || n == 0)
		return -EINVAL;
	if (!loop->uring)
		return -EOPNOTSUPP;
	if (*count)
		return -EBUSY;
	ret = buffers ? io_uring_register_buffers(&loop->u.ring, v, n) :
			io_uring_register_files(&loop->u.ring, v, n);
	if (ret == 0)
		*count = n;
	return ret;
}

static int unreg_table(struct tide_loop *loop, unsigned *count, int buffers)
{
	int ret;

	if (!loop->uring)
		return -EOPNOTSUPP;
	if (!*count)
		return -ENXIO;
	ret = buffers ? io_uring_unregister_buffers(&loop->u.ring) :
			io_uring_unregister_files(&loop->u.ring);
	if (ret == 0)
		*count = 0;
	return ret;
}

int tide__reg_buffers(struct tide_loop *loop, const struct iovec *iov,
		      unsigned n)
{
	return reg_table(loop, &loop->u.registered_bufs, iov, n, 1);
}

int tide__unreg_buffers(struct tide_loop *loop)
{
	return unreg_table(loop, &loop->u.registered_bufs, 1);
}

int tide__reg_files(struct tide_loop *loop, const int *fds, unsigned n)
{
	return reg_table(loop, &loop->u.registered_files, fds, n, 0);
}

int tide__unreg_files(struct tide_loop *loop)
{
	if (loop->u.fixmap)
		return -EBUSY; /* the table of tide_loop_fix_fd() */
	return unreg_table(loop, &loop->u.registered_files, 0);
}
