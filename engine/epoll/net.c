// SPDX-License-Identifier: MIT
/*
 * net.c - the epoll backend's readiness operations: sockets, and reads and
 * writes on pipes, ttys and other pollable descriptors.  Each is tried at
 * once; only EAGAIN makes it wait for readiness (tide__ep_wait()), and the
 * dispatcher calls tide__ep_retry() when the descriptor is ready.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bufring.h"
#include "ep_impl.h"

/* Operations retried per readiness event of one multishot operation, so
 * one busy descriptor cannot hold the loop. */
#define MULTI_BATCH 32

/* (EINTR never comes out of TIDE__EP_SYS(): it makes the call again.) */
static bool would_block(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK;
}

static int32_t res_of(ssize_t n)
{
	if (n < 0)
		return -errno;
	return n > INT32_MAX ? INT32_MAX : (int32_t)n;
}

/* r could not be done at once: wait for its descriptor.  On error nothing
 * is queued unless the error is the operation's own result. */
static int park(struct tide_loop *loop, struct ep_req *r)
{
	struct tide__op *op = r->op;
	int ret = tide__ep_wait(loop, r);

	if (!ret) {
		tide__ep_started(loop, op, r);
		return 0;
	}
	tide__ep_req_free(loop, r);
	if (ret == -ENOMEM)
		return ret;
	return tide__ep_now(loop, op, ret); /* -EBADF ...: its result */
}

static struct ep_req *req(struct tide_loop *loop, struct tide__op *op,
			  uint8_t kind, int fd, uint32_t want)
{
	struct ep_req *r = tide__ep_req_new(loop, op, kind);

	if (r) {
		r->fd = fd;
		r->want = want;
	}
	return r;
}

/* ---- sockets ---- */

int tide__ep_socket(struct tide_loop *loop, struct tide__op *op, int domain,
		    int type, int protocol)
{
	int fd;

	EP_RESERVE(loop);
	fd = socket(domain, type, protocol);
	if (fd < 0)
		return tide__ep_now(loop, op, -errno);
	tide__ep_fd_reset(loop, fd);
	return tide__ep_now(loop, op, fd);
}

static int connect_check(int fd)
{
	int err = 0;
	socklen_t l = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
		return -errno;
	return -err;
}

int tide__ep_connect(struct tide_loop *loop, struct tide__op *op, int fd,
		     const struct sockaddr *addr, socklen_t len)
{
	struct ep_req *r;
	int ret;

	EP_RESERVE(loop);
	ret = tide__ep_set_nonblock(loop, fd);
	if (ret)
		return ret == -ENOMEM ? ret : tide__ep_now(loop, op, ret);
	if (connect(fd, addr, len) == 0)
		return tide__ep_now(loop, op, 0);
	ret = errno;
	if (ret != EINPROGRESS && ret != EAGAIN && ret != EINTR)
		return tide__ep_now(loop, op, -ret);
	r = req(loop, op, EP_CONNECT, fd, EPOLLOUT);
	if (!r)
		return -ENOMEM;
	/* AF_UNIX says EAGAIN when the listener's queue is full: connect
	 * again when writable; TCP's EINPROGRESS ends in SO_ERROR */
	r->flags = ret == EAGAIN;
	r->u.io.addr = (struct sockaddr *)(uintptr_t)addr;
	r->u.io.len = len;
	return park(loop, r);
}

static bool retry_connect(struct tide_loop *loop, struct ep_req *r, uint32_t ev)
{
	int err;

	if (r->flags) {
		if (connect(r->fd, r->u.io.addr, (socklen_t)r->u.io.len) == 0 ||
		    errno == EISCONN)
			err = 0;
		else if (would_block(errno) || errno == EALREADY ||
			 errno == EINPROGRESS || errno == EINTR)
			return false;
		else
			err = -errno;
	} else {
		err = connect_check(r->fd);
		if (!err && !(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return false;
	}
	tide__ep_finish(loop, r, err);
	return true;
}

int tide__ep_accept(struct tide_loop *loop, struct tide__op *op, int fd,
		    struct sockaddr *addr, socklen_t *len, int flags)
{
	struct ep_req *r;
	int ret, nfd;

	EP_RESERVE(loop);
	ret = tide__ep_set_nonblock(loop, fd);
	if (ret)
		return ret == -ENOMEM ? ret : tide__ep_now(loop, op, ret);
	TIDE__EP_SYS(nfd, loop, accept4(fd, addr, len, flags));
	if (nfd >= 0) {
		tide__ep_fd_reset(loop, nfd);
		return tide__ep_now(loop, op, nfd);
	}
	if (!would_block(errno) && errno != ECONNABORTED)
		return tide__ep_now(loop, op, -errno);
	r = req(loop, op, EP_ACCEPT, fd, EPOLLIN);
	if (!r)
		return -ENOMEM;
	r->flags = flags;
	r->u.io.addr = addr;
	r->u.io.addrlen = len;
	return park(loop, r);
}

int tide__ep_accept_multi(struct tide_loop *loop, struct tide__op *op, int fd,
			  int flags)
{
	struct ep_req *r;
	int ret;

	EP_RESERVE(loop);
	ret = tide__ep_set_nonblock(loop, fd);
	if (ret)
		return ret == -ENOMEM ? ret : tide__ep_now(loop, op, ret);
	/* no attempt now: connections already queued make the listener
	 * readable, and the first epoll_wait() reports it */
	r = req(loop, op, EP_ACCEPT_MULTI, fd, EPOLLIN);
	if (!r)
		return -ENOMEM;
	r->flags = flags;
	return park(loop, r);
}

static bool retry_accept(struct tide_loop *loop, struct ep_req *r)
{
	for (int i = 0; i < MULTI_BATCH; i++) {
		int nfd;

		TIDE__EP_SYS(nfd, loop,
			     accept4(r->fd,
				     r->kind == EP_ACCEPT ? r->u.io.addr : NULL,
				     r->kind == EP_ACCEPT ? r->u.io.addrlen :
							    NULL,
				     r->flags));
		if (nfd < 0) {
			if (errno == ECONNABORTED)
				continue;
			if (would_block(errno))
				return false;
			tide__ep_finish(loop, r, -errno);
			return true;
		}
		tide__ep_fd_reset(loop, nfd);
		if (r->kind == EP_ACCEPT) {
			tide__ep_finish(loop, r, nfd);
			return true;
		}
		tide__ep_more(loop, r, nfd, 0);
		if (r->cancel) {
			tide__ep_finish(loop, r, -ECANCELED);
			return true;
		}
	}
	return false;
}

/* recv/send keep the socket's own mode: MSG_DONTWAIT per call.  send
 * never raises SIGPIPE (MSG_NOSIGNAL), as on io_uring. */
static ssize_t do_recv(struct tide_loop *loop, int fd, void *buf, size_t len,
		       int flags)
{
	ssize_t n;

	TIDE__EP_SYS(n, loop, recv(fd, buf, len, flags | MSG_DONTWAIT));
	return n;
}

static ssize_t do_send(struct tide_loop *loop, int fd, const void *buf,
		       size_t len, int flags)
{
	ssize_t n;

	TIDE__EP_SYS(n, loop,
		     send(fd, buf, len, flags | MSG_DONTWAIT | MSG_NOSIGNAL));
	return n;
}

static ssize_t do_recvmsg(struct tide_loop *loop, int fd, struct msghdr *msg,
			  int flags)
{
	ssize_t n;

	TIDE__EP_SYS(n, loop, recvmsg(fd, msg, flags | MSG_DONTWAIT));
	return n;
}

static ssize_t do_sendmsg(struct tide_loop *loop, int fd,
			  const struct msghdr *msg, int flags)
{
	ssize_t n;

	TIDE__EP_SYS(n, loop,
		     sendmsg(fd, msg, flags | MSG_DONTWAIT | MSG_NOSIGNAL));
	return n;
}

/* A receive or send at once; waits (kind, want) on EAGAIN.  MSG_WAITALL
 * keeps going until len bytes, end of stream or an error. */
static int sock_io(struct tide_loop *loop, struct tide__op *op, uint8_t kind,
		   int fd, void *buf, unsigned len, int flags)
{
	bool in = kind == EP_RECV;
	ssize_t n = in ? do_recv(loop, fd, buf, len, flags) :
			 do_send(loop, fd, buf, len, flags);
	struct ep_req *r;

	if (n < 0 && !would_block(errno))
		return tide__ep_now(loop, op, -errno);
	if (n == 0 && len)
		return tide__ep_now(loop, op, 0);
	if (n > 0 && (!(flags & MSG_WAITALL) || (unsigned)n == len))
		return tide__ep_now(loop, op, res_of(n));
	r = req(loop, op, kind, fd, in ? EPOLLIN : EPOLLOUT);
	if (!r)
		return -ENOMEM;
	r->flags = flags;
	r->u.io.buf = buf;
	r->u.io.len = len;
	r->done = n > 0 ? (unsigned)n : 0;
	return park(loop, r);
}

int tide__ep_recv(struct tide_loop *loop, struct tide__op *op, int fd,
		  void *buf, unsigned len, int flags)
{
	EP_RESERVE(loop);
	return sock_io(loop, op, EP_RECV, fd, buf, len, flags);
}

int tide__ep_send(struct tide_loop *loop, struct tide__op *op, int fd,
		  const void *buf, unsigned len, int flags)
{
	EP_RESERVE(loop);
	return sock_io(loop, op, EP_SEND, fd, (void *)(uintptr_t)buf, len,
		       flags);
}

static bool retry_sock_io(struct tide_loop *loop, struct ep_req *r)
{
	char *p = (char *)r->u.io.buf + r->done;
	unsigned left = r->u.io.len - r->done;
	ssize_t n = r->kind == EP_RECV ?
			    do_recv(loop, r->fd, p, left, r->flags) :
			    do_send(loop, r->fd, p, left, r->flags);

	if (n < 0) {
		if (would_block(errno))
			return false;
		/* bytes already moved are the result, as the kernel does */
		tide__ep_finish(loop, r, r->done ? (int32_t)r->done : -errno);
		return true;
	}
	r->done += (unsigned)n;
	if (n > 0 && (r->flags & MSG_WAITALL) && r->done < r->u.io.len)
		return false;
	tide__ep_finish(loop, r, res_of((ssize_t)r->done));
	return true;
}

int tide__ep_recvmsg(struct tide_loop *loop, struct tide__op *op, int fd,
		     struct msghdr *msg, int flags)
{
	struct ep_req *r;
	ssize_t n;

	EP_RESERVE(loop);
	n = do_recvmsg(loop, fd, msg, flags);
	if (n >= 0 || !would_block(errno))
		return tide__ep_now(loop, op, res_of(n));
	r = req(loop, op, EP_RECVMSG, fd, EPOLLIN);
	if (!r)
		return -ENOMEM;
	r->flags = flags;
	r->u.msg = msg;
	return park(loop, r);
}

int tide__ep_sendmsg(struct tide_loop *loop, struct tide__op *op, int fd,
		     const struct msghdr *msg, int flags)
{
	struct ep_req *r;
	ssize_t n;

	EP_RESERVE(loop);
	n = do_sendmsg(loop, fd, msg, flags);
	if (n >= 0 || !would_block(errno))
		return tide__ep_now(loop, op, res_of(n));
	r = req(loop, op, EP_SENDMSG, fd, EPOLLOUT);
	if (!r)
		return -ENOMEM;
	r->flags = flags;
	r->u.msg = (struct msghdr *)(uintptr_t)msg;
	return park(loop, r);
}

static bool retry_msg(struct tide_loop *loop, struct ep_req *r)
{
	ssize_t n = r->kind == EP_RECVMSG ?
			    do_recvmsg(loop, r->fd, r->u.msg, r->flags) :
			    do_sendmsg(loop, r->fd, r->u.msg, r->flags);

	if (n < 0 && would_block(errno))
		return false;
	tide__ep_finish(loop, r, res_of(n));
	return true;
}

int tide__ep_recv_multi(struct tide_loop *loop, struct tide__op *op, int fd,
			struct tide_bufring *br)
{
	struct ep_req *r;

	EP_RESERVE(loop);
	r = req(loop, op, EP_RECV_MULTI, fd, EPOLLIN);
	if (!r)
		return -ENOMEM;
	r->u.br = br;
	return park(loop, r);
}

/* The kernel's multishot receive, in user space: a buffer from the ring
 * per receive; -ENOBUFS ends it when the ring is empty. */
static bool retry_recv_multi(struct tide_loop *loop, struct ep_req *r)
{
	struct tide_bufring *br = r->u.br;

	for (int i = 0; i < MULTI_BATCH; i++) {
		unsigned bid;
		void *p = tide__bufring_next(br, &bid);
		ssize_t n;

		if (!p) {
			tide__ep_finish(loop, r, -ENOBUFS);
			return true;
		}
		n = do_recv(loop, r->fd, p, tide__bufring_size(br), 0);
		if (n < 0 && would_block(errno))
			return false;
		if (n <= 0) {
			tide__ep_finish(loop, r, res_of(n));
			return true;
		}
		tide__bufring_take(br);
		tide__ep_more(loop, r, res_of(n),
			      TIDE__CQ_BUFFER | bid << TIDE__CQ_BID_SHIFT);
		if (r->cancel) {
			tide__ep_finish(loop, r, -ECANCELED);
			return true;
		}
		/* a short receive drained the socket: the level-triggered
		 * registration reports more when it comes, so no recv() is
		 * spent to hear EAGAIN */
		if ((size_t)n < tide__bufring_size(br))
			return false;
	}
	return false;
}

int tide__ep_shutdown(struct tide_loop *loop, struct tide__op *op, int fd,
		      int how)
{
	EP_RESERVE(loop);
	return tide__ep_now(loop, op, shutdown(fd, how) ? -errno : 0);
}

int tide__ep_poll(struct tide_loop *loop, struct tide__op *op, int fd,
		  unsigned events, bool multi)
{
	struct ep_req *r;
	int ret;

	EP_RESERVE(loop);
	r = req(loop, op, EP_POLL, fd,
		events & (EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP));
	if (!r)
		return -ENOMEM;
	r->multi = multi;
	ret = tide__ep_wait(loop, r);
	if (!ret) {
		tide__ep_started(loop, op, r);
		return 0;
	}
	tide__ep_req_free(loop, r);
	if (ret == -ENOMEM)
		return ret;
	/* epoll refuses regular files: they are always ready, as poll(2)
	 * says */
	if (ret == -EPERM)
		return tide__ep_now(loop, op,
				    (int32_t)(events & (POLLIN | POLLOUT)));
	return tide__ep_now(loop, op, ret);
}

static bool retry_poll(struct tide_loop *loop, struct ep_req *r, uint32_t ev)
{
	/* the EPOLL* bits are the poll(2) bits */
	int32_t revents = (int32_t)(ev & (r->want | EPOLLERR | EPOLLHUP));

	if (!revents)
		return false;
	if (!r->multi) {
		tide__ep_finish(loop, r, revents);
		return true;
	}
	tide__ep_more(loop, r, revents, 0);
	if (r->cancel) {
		tide__ep_finish(loop, r, -ECANCELED);
		return true;
	}
	return false;
}

/* ---- read/write on pollable descriptors (file.c routes them here) ---- */

/* Without touching the descriptor's flags where the kernel can: pipes
 * take RWF_NOWAIT (Linux 5.8 and later); others (ttys ...) get O_NONBLOCK,
 * checked before every call since the number may name another file now
 * (a blocking read would stop the loop). */
static ssize_t stream_io(struct tide_loop *loop, int fd, bool in,
			 const struct iovec *iov, unsigned cnt)
{
	struct ep_fd *e = tide__ep_fd_at(loop->ep, fd);
	ssize_t n;
	int ret;

	if (!e->no_nowait) {
		TIDE__EP_SYS(n, loop,
			     tide__ep_rwv2(fd, in, iov, cnt, -1, RWF_NOWAIT));
		if (n >= 0 || errno != EOPNOTSUPP)
			return n;
		e->no_nowait = true;
	}
	ret = tide__ep_set_nonblock(loop, fd);
	if (ret) {
		errno = -ret;
		return -1;
	}
	TIDE__EP_SYS(n, loop,
		     in ? readv(fd, iov, (int)cnt) : writev(fd, iov, (int)cnt));
	return n;
}

int tide__ep_stream_rw(struct tide_loop *loop, struct tide__op *op, int fd,
		       bool in, const struct iovec *iov, unsigned cnt,
		       bool single)
{
	struct ep_fd *e = tide__ep_fd_at(loop->ep, fd); /* made by file.c */
	struct ep_req *r;
	ssize_t n;
	int ret;

	if (e->kind == EP_FD_SOCKET && single) {
		n = in ? do_recv(loop, fd, iov->iov_base, iov->iov_len, 0) :
			 do_send(loop, fd, iov->iov_base, iov->iov_len, 0);
		if (n < 0 && errno == ENOTSOCK) {
			/* the number was a socket's once: look again */
			e->kind = EP_FD_UNKNOWN;
			return -EAGAIN;
		}
	} else {
		n = stream_io(loop, fd, in, iov, cnt);
	}
	if (n >= 0 || !would_block(errno))
		return tide__ep_now(loop, op, res_of(n));
	r = req(loop, op, in ? EP_READV : EP_WRITEV, fd,
		in ? EPOLLIN : EPOLLOUT);
	if (!r)
		return -ENOMEM;
	r->u.v.iov = iov;
	r->u.v.cnt = cnt;
	if (single) { /* a single buffer: keep it in the record */
		r->kind = e->kind == EP_FD_SOCKET ? (in ? EP_RECV : EP_SEND) :
						    (in ? EP_READ : EP_WRITE);
		r->u.io.buf = iov->iov_base;
		r->u.io.len = (unsigned)iov->iov_len;
	}
	ret = tide__ep_wait(loop, r);
	if (!ret) {
		tide__ep_started(loop, op, r);
		return 0;
	}
	tide__ep_req_free(loop, r);
	if (ret == -EPERM)
		return -EAGAIN; /* not pollable (kind BLOCKING now): the pool */
	if (ret == -ENOMEM)
		return ret;
	return tide__ep_now(loop, op, ret);
}

static bool retry_stream(struct tide_loop *loop, struct ep_req *r)
{
	bool in = r->kind == EP_READ || r->kind == EP_READV;
	struct iovec one;
	const struct iovec *iov = r->u.v.iov;
	unsigned cnt = r->u.v.cnt;
	ssize_t n;

	if (r->kind == EP_READ || r->kind == EP_WRITE) {
		one.iov_base = r->u.io.buf;
		one.iov_len = r->u.io.len;
		iov = &one;
		cnt = 1;
	}
	n = stream_io(loop, r->fd, in, iov, cnt);
	if (n < 0 && would_block(errno))
		return false;
	tide__ep_finish(loop, r, res_of(n));
	return true;
}

/* ---- splice with a pipe end (the pool would block on an empty pipe) ---- */

int tide__ep_splice(struct tide_loop *loop, struct tide__op *op, int fd_in,
		    int64_t off_in, int fd_out, int64_t off_out, unsigned len,
		    unsigned flags)
{
	loff_t oi = off_in, oo = off_out;
	ssize_t n;
	struct pollfd p[2] = { { .fd = fd_in, .events = POLLIN },
			       { .fd = fd_out, .events = POLLOUT } };
	struct ep_req *r;

	EP_RESERVE(loop);
	/* both ends' entries now: the wait may move to either (retry) */
	if ((fd_in >= 0 && !tide__ep_fd(loop, fd_in)) ||
	    (fd_out >= 0 && !tide__ep_fd(loop, fd_out)))
		return -ENOMEM;
	TIDE__EP_SYS(n, loop,
		     splice(fd_in, off_in == -1 ? NULL : &oi, fd_out,
			    off_out == -1 ? NULL : &oo, len,
			    flags | SPLICE_F_NONBLOCK));
	if (n >= 0 || !would_block(errno))
		return tide__ep_now(loop, op, res_of(n));
	r = req(loop, op, EP_SPLICE, fd_in, EPOLLIN);
	if (!r)
		return -ENOMEM;
	/* wait on whichever end is not ready */
	if (poll(p, 2, 0) > 0 && (p[0].revents & POLLIN)) {
		r->fd = fd_out;
		r->want = EPOLLOUT;
	}
	r->flags = (int)flags;
	r->u.sp.fd_out = fd_out;
	r->u.sp.len = len;
	r->u.sp.off_in = off_in;
	r->u.sp.off_out = off_out;
	r->done = (unsigned)fd_in;
	return park(loop, r);
}

static bool retry_splice(struct tide_loop *loop, struct ep_req *r)
{
	int fd_in = (int)r->done, fd_out = r->u.sp.fd_out;
	loff_t oi = r->u.sp.off_in, oo = r->u.sp.off_out;
	ssize_t n;
	struct pollfd p[2] = { { .fd = fd_in, .events = POLLIN },
			       { .fd = fd_out, .events = POLLOUT } };

	TIDE__EP_SYS(n, loop,
		     splice(fd_in, r->u.sp.off_in == -1 ? NULL : &oi, fd_out,
			    r->u.sp.off_out == -1 ? NULL : &oo, r->u.sp.len,
			    (unsigned)r->flags | SPLICE_F_NONBLOCK));
	if (n >= 0 || !would_block(errno)) {
		tide__ep_finish(loop, r, res_of(n));
		return true;
	}
	/* the other end may be the one that blocks now: move there */
	if (poll(p, 2, 0) > 0) {
		int fd = (p[0].revents & POLLIN) ? fd_out : fd_in;

		if (fd != r->fd) {
			r->fd = fd;
			r->want = fd == fd_in ? EPOLLIN : EPOLLOUT;
			r->state = EP_S_WAITING;
			if (tide__ep_wait(loop, r)) {
				tide__ep_finish(loop, r, -EAGAIN);
			}
			return true; /* on another list now */
		}
	}
	return false;
}

bool tide__ep_retry(struct tide_loop *loop, struct ep_req *r, uint32_t ev)
{
	switch (r->kind) {
	case EP_ACCEPT:
	case EP_ACCEPT_MULTI:
		return retry_accept(loop, r);
	case EP_CONNECT:
		return retry_connect(loop, r, ev);
	case EP_RECV:
	case EP_SEND:
		return retry_sock_io(loop, r);
	case EP_RECVMSG:
	case EP_SENDMSG:
		return retry_msg(loop, r);
	case EP_RECV_MULTI:
		return retry_recv_multi(loop, r);
	case EP_READ:
	case EP_WRITE:
	case EP_READV:
	case EP_WRITEV:
		return retry_stream(loop, r);
	case EP_POLL:
		return retry_poll(loop, r, ev);
	case EP_SPLICE:
		return retry_splice(loop, r);
	default:
		tide__ep_finish(loop, r, -EINVAL);
		return true;
	}
}
