/* SPDX-License-Identifier: MIT */
/*
 * epoll.h - the epoll + thread-pool backend: one function per operation of
 * ops.h (tide__ep_<name>, the same signature as tide__op_<name>), and the
 * backend's hooks (tide__epoll_backend, backend.h).
 *
 * How it works:
 * - Sockets, pipes, ttys and other pollable descriptors: the system call
 *   is tried first (non-blocking); only on EAGAIN does the operation wait,
 *   on a per-descriptor list, for the descriptor's readiness in the loop's
 *   epoll instance, and is then tried again.  Several operations may wait
 *   on one descriptor (a reader and a writer, multishot receive and a
 *   poll ...), in the order they started.
 * - Regular files, block devices, directories and paths: at once with
 *   RWF_NOWAIT when the page cache can answer (as io_uring does before it
 *   hands work to io-wq), else the blocking pool (engine/core/blocking.h);
 *   opening, closing, syncing and the other metadata calls always run on
 *   the pool.  A file is always "ready", so readiness would say nothing.
 * - Timers: a heap in user space (engine/core/timer.h); the loop waits in
 *   epoll_pwait2() (nanoseconds; epoll_wait() with the timeout rounded up
 *   to milliseconds where the kernel or a seccomp filter lacks it).
 *
 * What it does to descriptors it is handed:
 * - recv/send/recvmsg/sendmsg pass MSG_DONTWAIT, so a socket's own mode is
 *   left alone for them, and reads and writes on pipes use RWF_NOWAIT.
 *   accept and connect need the socket itself to be non-blocking, and so
 *   do reads and writes on ttys and other descriptors that refuse
 *   RWF_NOWAIT: for those the backend sets O_NONBLOCK on the open file
 *   description (fcntl F_SETFL, checked before each call, as the number
 *   may name another file by then) and leaves it set.  The flag is shared
 *   with every dup() of the descriptor and with other processes holding
 *   the same file (a tty given to a shell, a pipe's other holders): give
 *   the loop its own descriptor (open it again, or a socket of its own)
 *   when that matters.
 * - A pollable descriptor stays registered with the loop's epoll instance
 *   while tide uses it; the first operation to wait on it after an idle
 *   spell renews the registration (one epoll_ctl()), so a descriptor closed
 *   with close(2) and its number reused is found again.  tide__ep_close()
 *   takes it out before closing and ends the operations still waiting on
 *   it with -ECANCELED.  Closing a descriptor with close(2) while
 *   operations wait on it leaves them waiting until they are cancelled
 *   (streams and servers cancel first).
 * - Multishot accept and receive: one completion per connection or
 *   receive (TIDE__CQ_MORE), up to 32 per readiness event; the receive
 *   takes buffers from the ring in user space (tide__bufring_next/take)
 *   and ends with -ENOBUFS when none is left, as the kernel does.  A
 *   multishot poll completes once per epoll report while the descriptor
 *   is ready (level-triggered), not once per wake-up as on io_uring.
 * - send_zc is a plain send (one completion, no notification; the router
 *   calls tide__ep_send); registered buffers and fixed files are
 *   -EOPNOTSUPP (engine/uring/ops.c answers for them).
 *
 * Cancellation: an operation waiting for readiness or a timer, or queued
 * on the pool, completes -ECANCELED on the next dispatch; one a pool worker
 * is running completes when the call returns, with its own result.
 */
#ifndef TIDE_EPOLL_H
#define TIDE_EPOLL_H

#include "backend.h"

int tide__ep_nop(struct tide_loop *loop, struct tide__op *op);
int tide__ep_read(struct tide_loop *loop, struct tide__op *op, int fd,
		  void *buf, unsigned len, uint64_t off, int buf_index,
		  unsigned flags);
int tide__ep_write(struct tide_loop *loop, struct tide__op *op, int fd,
		   const void *buf, unsigned len, uint64_t off, int buf_index,
		   unsigned flags);
int tide__ep_readv(struct tide_loop *loop, struct tide__op *op, int fd,
		   const struct iovec *iov, unsigned iovcnt, uint64_t off);
int tide__ep_writev(struct tide_loop *loop, struct tide__op *op, int fd,
		    const struct iovec *iov, unsigned iovcnt, uint64_t off);
int tide__ep_fsync(struct tide_loop *loop, struct tide__op *op, int fd,
		   unsigned flags);
int tide__ep_fallocate(struct tide_loop *loop, struct tide__op *op, int fd,
		       int mode, uint64_t off, uint64_t len);
int tide__ep_sync_file_range(struct tide_loop *loop, struct tide__op *op,
			     int fd, uint64_t off, uint32_t len,
			     unsigned flags);
int tide__ep_statx(struct tide_loop *loop, struct tide__op *op, int dfd,
		   const char *path, int flags, unsigned mask,
		   struct statx *stx);
int tide__ep_openat(struct tide_loop *loop, struct tide__op *op, int dfd,
		    const char *path, int flags, mode_t mode);
struct open_how;
int tide__ep_openat2(struct tide_loop *loop, struct tide__op *op, int dfd,
		     const char *path, struct open_how *how);
int tide__ep_close(struct tide_loop *loop, struct tide__op *op, int fd);
int tide__ep_unlinkat(struct tide_loop *loop, struct tide__op *op, int dfd,
		      const char *path, int flags);
int tide__ep_mkdirat(struct tide_loop *loop, struct tide__op *op, int dfd,
		     const char *path, mode_t mode);
int tide__ep_renameat(struct tide_loop *loop, struct tide__op *op, int olddfd,
		      const char *oldpath, int newdfd, const char *newpath,
		      unsigned flags);
int tide__ep_splice(struct tide_loop *loop, struct tide__op *op, int fd_in,
		    int64_t off_in, int fd_out, int64_t off_out, unsigned len,
		    unsigned flags);

int tide__ep_socket(struct tide_loop *loop, struct tide__op *op, int domain,
		    int type, int protocol);
int tide__ep_connect(struct tide_loop *loop, struct tide__op *op, int fd,
		     const struct sockaddr *addr, socklen_t len);
int tide__ep_accept(struct tide_loop *loop, struct tide__op *op, int fd,
		    struct sockaddr *addr, socklen_t *len, int flags);
int tide__ep_accept_multi(struct tide_loop *loop, struct tide__op *op, int fd,
			  int flags);
int tide__ep_recv(struct tide_loop *loop, struct tide__op *op, int fd,
		  void *buf, unsigned len, int flags);
int tide__ep_recv_multi(struct tide_loop *loop, struct tide__op *op, int fd,
			struct tide_bufring *br);
int tide__ep_send(struct tide_loop *loop, struct tide__op *op, int fd,
		  const void *buf, unsigned len, int flags);
int tide__ep_recvmsg(struct tide_loop *loop, struct tide__op *op, int fd,
		     struct msghdr *msg, int flags);
int tide__ep_sendmsg(struct tide_loop *loop, struct tide__op *op, int fd,
		     const struct msghdr *msg, int flags);
int tide__ep_shutdown(struct tide_loop *loop, struct tide__op *op, int fd,
		      int how);
int tide__ep_poll(struct tide_loop *loop, struct tide__op *op, int fd,
		  unsigned events, bool multi);

int tide__ep_timeout(struct tide_loop *loop, struct tide__op *op,
		     struct __kernel_timespec *ts, unsigned flags);
int tide__ep_deadline(struct tide_loop *loop, struct tide__op *op,
		      struct __kernel_timespec *ts);
int tide__ep_cancel(struct tide_loop *loop, struct tide__op *op);

/*
 * An io_uring loop whose kernel lacks an operation hands it to the
 * tide__ep_*() function (engine/uring/ops.c, LACKS): the blocking pool then
 * runs it and writes the loop's eventfd.  The io_uring backend calls
 * tide__ep_reap() when its wake-up read completes (it delivers the finished
 * jobs), keeps that read armed while tide__ep_busy(), even when closing, and
 * calls tide__ep_release() from its fini (nothing left in flight then).
 */
unsigned tide__ep_reap(struct tide_loop *loop);
/*
 * Timers of io_uring loops live in the same user-space heap
 * (tide__ep_timeout()): arming and cancelling costs no system call, and
 * the ring's wait is bounded by the earliest deadline (EXT_ARG, no SQE).
 * tide__ep_timer_wait_ns(): nanoseconds to the earliest, 0 if due, -1 if
 * none.  tide__ep_expire(): deliver the due ones, returns how many.
 * tide__ep_owns(): op is one of the backend's records (cancel goes here,
 * not to the kernel).  tide__ep_cancel_own(): free's cancel of them all.
 */
int64_t tide__ep_timer_wait_ns(const struct tide_loop *loop);
unsigned tide__ep_expire(struct tide_loop *loop);
bool tide__ep_owns(const struct tide_loop *loop, const struct tide__op *op);
void tide__ep_cancel_own(struct tide_loop *loop);
bool tide__ep_busy(const struct tide_loop *loop);
/* A cgroup CPU quota in whole CPUs, rounded down, at least 1 (0: no limit
 * or not understood): v2's cpu.max text, or else v1's cpu.cfs_quota_us
 * and cpu.cfs_period_us (-1: no limit).  Page-cache reads spill to the
 * pool only where the quota leaves a CPU to spare (file.c). */
unsigned tide__ep_quota_cpus(const char *cpu_max, const char *quota,
			     const char *period);
void tide__ep_release(struct tide_loop *loop);

#endif /* TIDE_EPOLL_H */
