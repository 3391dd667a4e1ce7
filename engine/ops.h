/* SPDX-License-Identifier: MIT */
/*
 * ops.h - the engine's operation vocabulary: the seam between api/ and the
 * backends.
 *
 * api/ starts every kernel-facing operation through one function here,
 * passing plain arguments and an operation record (struct tide__op, embedded
 * first in a future).  The loop's backend carries it out: an SQE on the
 * io_uring backend (engine/uring/), a non-blocking syscall with epoll
 * readiness or a job on the blocking pool on the epoll backend
 * (engine/epoll/).  Completions come back through op->done in the engine's
 * own terms (TIDE__CQ_*), never as IORING_CQE_F_* (on io_uring the bits are
 * numerically the same, so nothing is translated).
 *
 * Contract of every tide__op_*() below:
 * - returns 0: the operation is in flight.  op->done runs on the loop thread
 *   once per completion; every completion but the last carries TIDE__CQ_MORE.
 *   The final completion is delivered only when no thread and no kernel object
 *   can touch the caller's buffers any more (cancellation included).
 * - returns a negative errno (-ENOMEM; -EOPNOTSUPP where the backend cannot do
 *   it at all): nothing was queued and op->done never runs.
 * - while the loop is being freed, operations are accepted and complete with
 *   -ECANCELED.
 * - pointer arguments (buffers, paths, iovec arrays, addresses, msghdr, the
 *   timespec) must stay valid until the final completion.
 * - op->done is never called from inside the tide__op_*() call itself.
 */
#ifndef TIDE_ENGINE_OPS_H
#define TIDE_ENGINE_OPS_H

#include <linux/time_types.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "core.h"

/* ---- flags of the operations ---- */
#define TIDE__RW_FIXED_FILE (1u << 0) /* fd is an index in the file table */
#define TIDE__FSYNC_DATASYNC (1u << 0)
#define TIDE__TIMEOUT_ABS (1u << 0) /* ts is CLOCK_MONOTONIC absolute */

/* ---- files and other blocking calls ---- */
int tide__op_nop(struct tide_loop *loop, struct tide__op *op);
/* buf_index < 0: plain read/write; >= 0: a registered buffer (io_uring
 * only, -EOPNOTSUPP elsewhere).  off == (uint64_t)-1: the file position. */
int tide__op_read(struct tide_loop *loop, struct tide__op *op, int fd,
		  void *buf, unsigned len, uint64_t off, int buf_index,
		  unsigned flags);
int tide__op_write(struct tide_loop *loop, struct tide__op *op, int fd,
		   const void *buf, unsigned len, uint64_t off, int buf_index,
		   unsigned flags);
int tide__op_readv(struct tide_loop *loop, struct tide__op *op, int fd,
		   const struct iovec *iov, unsigned iovcnt, uint64_t off);
int tide__op_writev(struct tide_loop *loop, struct tide__op *op, int fd,
		    const struct iovec *iov, unsigned iovcnt, uint64_t off);
int tide__op_fsync(struct tide_loop *loop, struct tide__op *op, int fd,
		   unsigned flags);
int tide__op_fallocate(struct tide_loop *loop, struct tide__op *op, int fd,
		       int mode, uint64_t off, uint64_t len);
int tide__op_sync_file_range(struct tide_loop *loop, struct tide__op *op,
			     int fd, uint64_t off, uint32_t len,
			     unsigned flags);
int tide__op_statx(struct tide_loop *loop, struct tide__op *op, int dfd,
		   const char *path, int flags, unsigned mask,
		   struct statx *stx);
int tide__op_openat(struct tide_loop *loop, struct tide__op *op, int dfd,
		    const char *path, int flags, mode_t mode);
int tide__op_close(struct tide_loop *loop, struct tide__op *op, int fd);
int tide__op_unlinkat(struct tide_loop *loop, struct tide__op *op, int dfd,
		      const char *path, int flags);
int tide__op_mkdirat(struct tide_loop *loop, struct tide__op *op, int dfd,
		     const char *path, mode_t mode);
int tide__op_renameat(struct tide_loop *loop, struct tide__op *op, int olddfd,
		      const char *oldpath, int newdfd, const char *newpath,
		      unsigned flags);
/* openat2(2); how (struct open_how) must live until completion.  An SQE
 * where io_uring has it, else a blocking-pool job: the system call, or
 * where the kernel lacks it (before 5.6) a walk that keeps to
 * RESOLVE_BENEATH and RESOLVE_NO_SYMLINKS, stricter than the kernel
 * (engine/core/resolve.c). */
struct open_how;
int tide__op_openat2(struct tide_loop *loop, struct tide__op *op, int dfd,
		     const char *path, struct open_how *how);
/* off_* == -1: the descriptor's own position (pipes). */
int tide__op_splice(struct tide_loop *loop, struct tide__op *op, int fd_in,
		    int64_t off_in, int fd_out, int64_t off_out, unsigned len,
		    unsigned flags);

/* ---- sockets ---- */
int tide__op_socket(struct tide_loop *loop, struct tide__op *op, int domain,
		    int type, int protocol);
int tide__op_connect(struct tide_loop *loop, struct tide__op *op, int fd,
		     const struct sockaddr *addr, socklen_t len);
/* addr/len may be NULL. */
int tide__op_accept(struct tide_loop *loop, struct tide__op *op, int fd,
		    struct sockaddr *addr, socklen_t *len, int flags);
/* One completion (TIDE__CQ_MORE) per accepted connection, res = its fd. */
int tide__op_accept_multi(struct tide_loop *loop, struct tide__op *op, int fd,
			  int flags);
int tide__op_recv(struct tide_loop *loop, struct tide__op *op, int fd,
		  void *buf, unsigned len, int flags);
/* One completion per receive, TIDE__CQ_BUFFER set and the buffer's id in
 * the flags; ends (no TIDE__CQ_MORE) with -ENOBUFS when the ring ran dry,
 * 0 at end of stream, or an error. */
int tide__op_recv_multi(struct tide_loop *loop, struct tide__op *op, int fd,
			struct tide_bufring *br);
int tide__op_send(struct tide_loop *loop, struct tide__op *op, int fd,
		  const void *buf, unsigned len, int flags);
/* Zero-copy where the backend has it: the result (with TIDE__CQ_MORE when a
 * notification follows), then a TIDE__CQ_NOTIF completion.  Elsewhere a
 * plain send: one completion. */
int tide__op_send_zc(struct tide_loop *loop, struct tide__op *op, int fd,
		     const void *buf, unsigned len, int flags);
int tide__op_recvmsg(struct tide_loop *loop, struct tide__op *op, int fd,
		     struct msghdr *msg, int flags);
int tide__op_sendmsg(struct tide_loop *loop, struct tide__op *op, int fd,
		     const struct msghdr *msg, int flags);
int tide__op_shutdown(struct tide_loop *loop, struct tide__op *op, int fd,
		      int how);
/* Readiness: res = the poll(2) revents.  multi: a completion per event
 * (TIDE__CQ_MORE) until cancelled. */
int tide__op_poll(struct tide_loop *loop, struct tide__op *op, int fd,
		  unsigned events, bool multi);

/* ---- time and control ---- */
/* Completes with -ETIME when ts passes (0 for ts {0,0} after one loop
 * turn), -ECANCELED when cancelled.  ts is relative unless
 * TIDE__TIMEOUT_ABS (CLOCK_MONOTONIC). */
int tide__op_timeout(struct tide_loop *loop, struct tide__op *op,
		     struct __kernel_timespec *ts, unsigned flags);
/* Give op, just started by the previous tide__op_*() call on this loop, a
 * deadline: after ts (relative) op is cancelled and completes -ECANCELED
 * with TIDE__OP_DEADLINE set in op->eflags.  -EAGAIN when op is not the
 * last operation started (nothing changes then). */
int tide__op_deadline(struct tide_loop *loop, struct tide__op *op,
		      struct __kernel_timespec *ts);
/* Ask for op to end early.  op->done still runs once (with -ECANCELED, or
 * with the result it had when the cancel found it already done).  0 or
 * -ENOMEM. */
int tide__op_cancel(struct tide_loop *loop, struct tide__op *op);

/* ---- registered resources (io_uring only: -EOPNOTSUPP elsewhere) ---- */
int tide__reg_buffers(struct tide_loop *loop, const struct iovec *iov,
		      unsigned n);
int tide__unreg_buffers(struct tide_loop *loop);
int tide__reg_files(struct tide_loop *loop, const int *fds, unsigned n);
int tide__unreg_files(struct tide_loop *loop);

#endif /* TIDE_ENGINE_OPS_H */
