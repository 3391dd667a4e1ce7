// SPDX-License-Identifier: MIT
/* TEMPORARY until the epoll backend lands: every operation declines. */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "epoll/epoll.h"
#include "backend.h"

int tide__ep_nop(struct tide_loop *loop, struct tide__op *op)
{
	return -EOPNOTSUPP;
}

int tide__ep_read(struct tide_loop *loop, struct tide__op *op, int fd,
		  void *buf, unsigned len, uint64_t off, int buf_index,
		  unsigned flags)
{
	return -EOPNOTSUPP;
}

int tide__ep_write(struct tide_loop *loop, struct tide__op *op, int fd,
		   const void *buf, unsigned len, uint64_t off, int buf_index,
		   unsigned flags)
{
	return -EOPNOTSUPP;
}

int tide__ep_readv(struct tide_loop *loop, struct tide__op *op, int fd,
		   const struct iovec *iov, unsigned iovcnt, uint64_t off)
{
	return -EOPNOTSUPP;
}

int tide__ep_writev(struct tide_loop *loop, struct tide__op *op, int fd,
		    const struct iovec *iov, unsigned iovcnt, uint64_t off)
{
	return -EOPNOTSUPP;
}

int tide__ep_fsync(struct tide_loop *loop, struct tide__op *op, int fd,
		   unsigned flags)
{
	return -EOPNOTSUPP;
}

int tide__ep_fallocate(struct tide_loop *loop, struct tide__op *op, int fd,
		       int mode, uint64_t off, uint64_t len)
{
	return -EOPNOTSUPP;
}

int tide__ep_sync_file_range(struct tide_loop *loop, struct tide__op *op,
			     int fd, uint64_t off, uint32_t len,
			     unsigned flags)
{
	return -EOPNOTSUPP;
}

int tide__ep_statx(struct tide_loop *loop, struct tide__op *op, int dfd,
		   const char *path, int flags, unsigned mask,
		   struct statx *stx)
{
	return -EOPNOTSUPP;
}

int tide__ep_openat(struct tide_loop *loop, struct tide__op *op, int dfd,
		    const char *path, int flags, mode_t mode)
{
	return -EOPNOTSUPP;
}

int tide__ep_close(struct tide_loop *loop, struct tide__op *op, int fd)
{
	return -EOPNOTSUPP;
}

int tide__ep_unlinkat(struct tide_loop *loop, struct tide__op *op, int dfd,
		      const char *path, int flags)
{
	return -EOPNOTSUPP;
}

int tide__ep_mkdirat(struct tide_loop *loop, struct tide__op *op, int dfd,
		     const char *path, mode_t mode)
{
	return -EOPNOTSUPP;
}

int tide__ep_renameat(struct tide_loop *loop, struct tide__op *op,
		      int olddfd, const char *oldpath, int newdfd,
		      const char *newpath, unsigned flags)
{
	return -EOPNOTSUPP;
}

int tide__ep_splice(struct tide_loop *loop, struct tide__op *op, int fd_in,
		    int64_t off_in, int fd_out, int64_t off_out, unsigned len,
		    unsigned flags)
{
	return -EOPNOTSUPP;
}

int tide__ep_socket(struct tide_loop *loop, struct tide__op *op, int domain,
		    int type, int protocol)
{
	return -EOPNOTSUPP;
}

int tide__ep_connect(struct tide_loop *loop, struct tide__op *op, int fd,
		     const struct sockaddr *addr, socklen_t len)
{
	return -EOPNOTSUPP;
}

int tide__ep_accept(struct tide_loop *loop, struct tide__op *op, int fd,
		    struct sockaddr *addr, socklen_t *len, int flags)
{
	return -EOPNOTSUPP;
}

int tide__ep_accept_multi(struct tide_loop *loop, struct tide__op *op,
			  int fd, int flags)
{
	return -EOPNOTSUPP;
}

int tide__ep_recv(struct tide_loop *loop, struct tide__op *op, int fd,
		  void *buf, unsigned len, int flags)
{
	return -EOPNOTSUPP;
}

int tide__ep_recv_multi(struct tide_loop *loop, struct tide__op *op, int fd,
			struct tide_bufring *br)
{
	return -EOPNOTSUPP;
}

int tide__ep_send(struct tide_loop *loop, struct tide__op *op, int fd,
		  const void *buf, unsigned len, int flags)
{
	return -EOPNOTSUPP;
}

int tide__ep_recvmsg(struct tide_loop *loop, struct tide__op *op, int fd,
		     struct msghdr *msg, int flags)
{
	return -EOPNOTSUPP;
}

int tide__ep_sendmsg(struct tide_loop *loop, struct tide__op *op, int fd,
		     const struct msghdr *msg, int flags)
{
	return -EOPNOTSUPP;
}

int tide__ep_shutdown(struct tide_loop *loop, struct tide__op *op, int fd,
		      int how)
{
	return -EOPNOTSUPP;
}

int tide__ep_poll(struct tide_loop *loop, struct tide__op *op, int fd,
		  unsigned events, bool multi)
{
	return -EOPNOTSUPP;
}

int tide__ep_timeout(struct tide_loop *loop, struct tide__op *op,
		     struct __kernel_timespec *ts, unsigned flags)
{
	return -EOPNOTSUPP;
}

int tide__ep_deadline(struct tide_loop *loop, struct tide__op *op,
		      struct __kernel_timespec *ts)
{
	return -EOPNOTSUPP;
}

int tide__ep_cancel(struct tide_loop *loop, struct tide__op *op)
{
	return -EOPNOTSUPP;
}

static int e_init(struct tide_loop *l, const struct tide_loop_options *o)
{
	(void)l; (void)o;
	return -ENOSYS;
}
static void e_fini(struct tide_loop *l) { (void)l; }
static int e_poll(struct tide_loop *l, int w) { (void)l; (void)w; return 0; }
static void e_cancel_all(struct tide_loop *l) { (void)l; }
static void e_config(const struct tide_loop *l, struct tide_loop_config *c) { (void)l; (void)c; }
const struct tide__backend tide__epoll_backend = { "epoll", e_init, e_fini, e_poll, e_cancel_all, e_config };
