/* SPDX-License-Identifier: MIT */
/*
 * epoll.h - the epoll + thread-pool backend's operations: the vocabulary
 * of ops.h, argument for argument (send_zc is a plain send here).
 */
#ifndef TIDE_EPOLL_H
#define TIDE_EPOLL_H

#include "ops.h"

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
int tide__ep_close(struct tide_loop *loop, struct tide__op *op, int fd);
int tide__ep_unlinkat(struct tide_loop *loop, struct tide__op *op, int dfd,
		      const char *path, int flags);
int tide__ep_mkdirat(struct tide_loop *loop, struct tide__op *op, int dfd,
		     const char *path, mode_t mode);
int tide__ep_renameat(struct tide_loop *loop, struct tide__op *op,
		      int olddfd, const char *oldpath, int newdfd,
		      const char *newpath, unsigned flags);
int tide__ep_splice(struct tide_loop *loop, struct tide__op *op, int fd_in,
		    int64_t off_in, int fd_out, int64_t off_out, unsigned len,
		    unsigned flags);
int tide__ep_socket(struct tide_loop *loop, struct tide__op *op, int domain,
		    int type, int protocol);
int tide__ep_connect(struct tide_loop *loop, struct tide__op *op, int fd,
		     const struct sockaddr *addr, socklen_t len);
int tide__ep_accept(struct tide_loop *loop, struct tide__op *op, int fd,
		    struct sockaddr *addr, socklen_t *len, int flags);
int tide__ep_accept_multi(struct tide_loop *loop, struct tide__op *op,
			  int fd, int flags);
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

#endif /* TIDE_EPOLL_H */
