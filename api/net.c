// SPDX-License-Identifier: MIT
/*
 * net.c - socket operations as futures: each starts one operation of the
 * engine's vocabulary; most complete through tide__op_done(), the multishot
 * ones and zero-copy send have their own completion hooks.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "future_impl.h"
#include "bufring.h"

/* recv completion: payload carries the buffer so memcheck can be told */
static void recv_done(struct tide_loop *loop, struct tide__op *op, int32_t res,
		      uint32_t cflags)
{
	struct tide_future *f = (struct tide_future *)op;

	if (res > 0)
		TIDE__MEM_DEFINED(f->payload, (size_t)res);
	tide__op_done(loop, op, res, cflags);
}

/* recvmsg completion: payload is the msghdr; the kernel wrote into it,
 * its name and control buffers and res bytes of its iovecs */
static void recvmsg_done(struct tide_loop *loop, struct tide__op *op,
			 int32_t res, uint32_t cflags)
{
	struct msghdr *msg = ((struct tide_future *)op)->payload;

	if (res >= 0) {
		size_t n = (size_t)res;

		TIDE__MEM_DEFINED(msg, sizeof(*msg));
		if (msg->msg_name)
			TIDE__MEM_DEFINED(msg->msg_name, msg->msg_namelen);
		if (msg->msg_control)
			TIDE__MEM_DEFINED(msg->msg_control,
					  msg->msg_controllen);
		for (size_t i = 0; i < msg->msg_iovlen && n > 0; i++) {
			size_t k = n < msg->msg_iov[i].iov_len ?
					   n :
					   msg->msg_iov[i].iov_len;

			TIDE__MEM_DEFINED(msg->msg_iov[i].iov_base, k);
			n -= k;
		}
	}
	tide__op_done(loop, op, res, cflags);
}

static bool addr_ok(const struct tide_addr *a)
{
	return a && a->len > 0 && a->len <= sizeof(a->u);
}

struct tide_future *tide_socket(struct tide_loop *loop, int domain, int type,
				int protocol)
{
	struct tide_future *f;

	if (!loop)
		return NULL;
	f = tide__op_new(loop, NULL);
	return f ? tide__op_started(f, tide__op_socket(loop, &f->op, domain,
						       type | SOCK_CLOEXEC,
						       protocol)) :
		   NULL;
}

int tide_bind(int fd, const struct tide_addr *a)
{
	if (!addr_ok(a))
		return -EINVAL;
	return bind(fd, &a->u.sa, a->len) ? -errno : 0;
}

int tide_listen(int fd, int backlog)
{
	return listen(fd, backlog > 0 ? backlog : SOMAXCONN) ? -errno : 0;
}

struct tide_future *tide_connect(struct tide_loop *loop, int fd,
				 const struct tide_addr *a)
{
	struct tide_future *f;
	void *copy;

	if (!loop)
		return NULL;
	if (!addr_ok(a))
		return tide_future_fail(loop, -EINVAL);
	f = tide__op_new(loop, NULL);
	if (!f)
		return NULL;
	/* the kernel reads the address at submission, which may be later */
	copy = a->len <= TIDE__SLAB_OBJ ? tide__slab_alloc(loop) :
					  malloc(a->len);
	if (!copy)
		goto err; /* (no flag yet: nothing for the free to free) */
	f->op.fflags |= a->len <= TIDE__SLAB_OBJ ? TIDE__FF_EXT_SLAB :
						   TIDE__FF_EXT_MALLOC;
	memcpy(copy, &a->u, a->len);
	f->ext = copy;
	return tide__op_started(f, tide__op_connect(loop, &f->op, fd, copy,
						    a->len));
err:
	tide__future_free(f);
	return NULL;
}

struct tide_future *tide_accept(struct tide_loop *loop, int fd,
				struct tide_addr *peer, int flags)
{
	struct tide_future *f;

	if (!loop)
		return NULL;
	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
		return tide_future_fail(loop, -EINVAL);
	f = tide__op_new(loop, NULL);
	if (!f)
		return NULL;
	if (peer) {
		memset(peer, 0, sizeof(*peer));
		peer->len = sizeof(peer->u);
	}
	return tide__op_started(f, tide__op_accept(loop, &f->op, fd,
						   peer ? &peer->u.sa : NULL,
						   peer ? &peer->len : NULL,
						   flags | SOCK_CLOEXEC));
}

/* Callback and argument of a multishot op, in a slab object at f->ext. */
struct multi {
	void *fn;
	void *arg;
	struct tide_bufring *br;
};

static void multi_end(struct tide_loop *loop, struct tide_future *f,
		      int64_t res)
{
	tide__slab_free(loop, f->ext);
	f->ext = NULL;
	tide__future_resolve(f, res, NULL);
}

static void accept_done(struct tide_loop *loop, struct tide__op *op,
			int32_t res, uint32_t cflags)
{
	struct tide_future *f = (struct tide_future *)op;
	struct multi *m = f->ext;
	bool more = cflags & TIDE__CQ_MORE;

	if (res >= 0 || more) {
		tide__user_enter(loop);
		((tide_accept_fn *)m->fn)(m->arg, res);
		tide__user_leave(loop);
	}
	if (!more)
		multi_end(loop, f, res >= 0 ? -EAGAIN : res);
}

/* A multishot op's future with its callback state; start the op, then
 * multi_started(). */
static struct tide_future *multi_new(struct tide_loop *loop, tide__op_fn *done,
				     void *fn, void *arg,
				     struct tide_bufring *br)
{
	struct tide_future *f = tide__op_new(loop, done);
	struct multi *m;

	if (!f)
		return NULL;
	m = tide__slab_alloc(loop);
	if (!m) {
		tide__future_free(f);
		return NULL;
	}
	*m = (struct multi){ .fn = fn, .arg = arg, .br = br };
	f->ext = m;
	return f;
}

static struct tide_future *multi_started(struct tide_loop *loop,
					 struct tide_future *f, int ret)
{
	if (ret) {
		tide__slab_free(loop, f->ext);
		f->ext = NULL;
	}
	return tide__op_started(f, ret);
}

struct tide_future *tide_accept_multishot(struct tide_loop *loop, int fd,
					  tide_accept_fn *fn, void *arg)
{
	struct tide_future *f;

	if (!loop)
		return NULL;
	if (!fn)
		return tide_future_fail(loop, -EINVAL);
	f = multi_new(loop, accept_done, (void *)fn, arg, NULL);
	return f ? multi_started(loop, f,
				 tide__op_accept_multi(loop, &f->op, fd,
						       SOCK_CLOEXEC)) :
		   NULL;
}

static void recv_multi_done(struct tide_loop *loop, struct tide__op *op,
			    int32_t res, uint32_t cflags)
{
	struct tide_future *f = (struct tide_future *)op;
	struct multi *m = f->ext;
	bool more = cflags & TIDE__CQ_MORE;

	if (res > 0 && (cflags & TIDE__CQ_BUFFER)) {
		unsigned bid = tide__cq_bid(cflags);

		tide__bufring_took(m->br, bid);
		TIDE__MEM_DEFINED(tide__bufring_ptr(m->br, bid), (size_t)res);
		tide__user_enter(loop);
		((tide_recv_fn *)m->fn)(m->arg, tide__bufring_ptr(m->br, bid),
					(uint32_t)res, bid);
		tide__user_leave(loop);
	} else if (res > 0) {
		res = -EIO; /* data without a buffer: cannot happen */
	}
	if (!more)
		multi_end(loop, f, res > 0 ? -EAGAIN : res);
}

struct tide_future *tide_recv_multishot(struct tide_loop *loop, int fd,
					struct tide_bufring *br,
					tide_recv_fn *fn, void *arg)
{
	struct tide_future *f;

	if (!loop)
		return NULL;
	if (!fn || !br || tide__bufring_loop(br) != loop)
		return tide_future_fail(loop, -EINVAL);
	f = multi_new(loop, recv_multi_done, (void *)fn, arg, br);
	return f ? multi_started(loop, f,
				 tide__op_recv_multi(loop, &f->op, fd, br)) :
		   NULL;
}

struct tide_future *tide_recv(struct tide_loop *loop, int fd, void *buf,
			      size_t len, int flags)
{
	struct tide_future *f;

	if (!loop)
		return NULL;
	if (!buf && len)
		return tide_future_fail(loop, -EFAULT);
	f = tide__op_new(loop, recv_done);
	if (!f)
		return NULL;
	f->payload = buf;
	return tide__op_started(f, tide__op_recv(loop, &f->op, fd, buf,
						 tide__clamp_len(len), flags));
}

struct tide_future *tide_send(struct tide_loop *loop, int fd, const void *buf,
			      size_t len, int flags)
{
	struct tide_future *f;

	if (!loop)
		return NULL;
	if (!buf && len)
		return tide_future_fail(loop, -EFAULT);
	f = tide__op_new(loop, NULL);
	return f ? tide__op_started(f, tide__op_send(loop, &f->op, fd, buf,
						     tide__clamp_len(len),
						     flags | MSG_NOSIGNAL)) :
		   NULL;
}

struct tide_future *tide_recvmsg(struct tide_loop *loop, int fd,
				 struct msghdr *msg, int flags)
{
	struct tide_future *f;

	if (!loop)
		return NULL;
	if (!msg)
		return tide_future_fail(loop, -EFAULT);
	f = tide__op_new(loop, recvmsg_done);
	if (!f)
		return NULL;
	f->payload = msg;
	return tide__op_started(f,
				tide__op_recvmsg(loop, &f->op, fd, msg, flags));
}

struct tide_future *tide_sendmsg(struct tide_loop *loop, int fd,
				 const struct msghdr *msg, int flags)
{
	struct tide_future *f;

	if (!loop)
		return NULL;
	if (!msg)
		return tide_future_fail(loop, -EFAULT);
	f = tide__op_new(loop, NULL);
	return f ? tide__op_started(f, tide__op_sendmsg(loop, &f->op, fd, msg,
							flags | MSG_NOSIGNAL)) :
		   NULL;
}

/*
 * SEND_ZC posts the send's result (with F_MORE when a notification
 * follows) and then a notification CQE once the pages are released; the
 * buffer is the caller's again only after the second one.
 */
static void send_zc_done(struct tide_loop *loop, struct tide__op *op,
			 int32_t res, uint32_t cflags)
{
	struct tide_future *f = (struct tide_future *)op;

	(void)loop;
	if (!(cflags & TIDE__CQ_NOTIF))
		op->aux = (uint32_t)res;
	if (!(cflags & TIDE__CQ_MORE))
		tide__future_resolve(f, (int32_t)op->aux, NULL);
}

struct tide_future *tide_send_zc(struct tide_loop *loop, int fd,
				 const void *buf, size_t len, int flags)
{
	struct tide_future *f;

	if (!loop)
		return NULL;
	if (!buf && len)
		return tide_future_fail(loop, -EFAULT);
	f = tide__op_new(loop, send_zc_done);
	return f ? tide__op_started(f, tide__op_send_zc(loop, &f->op, fd, buf,
							tide__clamp_len(len),
							flags | MSG_NOSIGNAL)) :
		   NULL;
}

struct tide_future *tide_shutdown(struct tide_loop *loop, int fd, int how)
{
	struct tide_future *f;

	if (!loop)
		return NULL;
	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
		return tide_future_fail(loop, -EINVAL);
	f = tide__op_new(loop, NULL);
	return f ? tide__op_started(f,
				    tide__op_shutdown(loop, &f->op, fd, how)) :
		   NULL;
}

/* ---- client helper ---- */

/*
 * tide_connect_timeout()'s state.  The descriptor belongs to the connect
 * until that completes (a queued SQE names it by number), so it is closed
 * only then, whatever happened to the futures around it meanwhile.
 */
struct dial {
	struct tide_future *p; /* the result: a promise */
	struct tide_future *c; /* the connect */
	int fd;
	bool abandoned; /* no memory for the result: nobody wants fd */
};

static void dial_done(void *arg, int64_t res, void *payload)
{
	struct dial *d = arg;

	(void)payload;
	if (res < 0 || d->abandoned)
		close(d->fd);
	tide_promise_resolve(d->p, res < 0 ? res : d->fd, NULL);
	free(d);
}

static void dial_cancel(void *arg)
{
	struct dial *d = arg;

	tide_future_cancel(d->c);
}

struct tide_future *tide_connect_timeout(struct tide_loop *loop,
					 const struct tide_addr *a, int type,
					 uint64_t timeout_ns)
{
	struct tide_future *p, *f;
	struct dial *d;
	int fd;

	if (!loop)
		return NULL;
	if (!addr_ok(a) || (type != SOCK_STREAM && type != SOCK_DGRAM &&
			    type != SOCK_SEQPACKET))
		return tide_future_fail(loop, -EINVAL);
	fd = socket(a->u.sa.sa_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return tide_future_fail(loop, -errno);
	if (type == SOCK_STREAM && a->u.sa.sa_family != AF_UNIX)
		(void)tide_sockopt_set(fd, TIDE_SOCKOPT_NODELAY, 1);
	/* what can fail for memory, before the connect starts */
	d = malloc(sizeof(*d));
	if (d)
		d->c = NULL;
	p = d ? tide_promise_new(loop) : NULL;
	if (p && tide_promise_on_cancel(p, dial_cancel, d) == 0)
		d->c = tide_connect(loop, fd, a);
	if (!p || !d->c) {
		if (p) { /* a pending promise would hold the loop */
			tide_promise_resolve(p, -ENOMEM, NULL);
			tide_future_result(p);
			tide_future_release(p);
		}
		free(d);
		close(fd);
		return NULL;
	}
	*d = (struct dial){ .p = p, .c = d->c, .fd = fd };
	(void)tide_future_on_done(d->c, dial_done, d); /* fresh: cannot fail */
	if (!timeout_ns)
		return p;
	f = tide_future_timeout(p, timeout_ns);
	if (!f) {
		/* p went with the failure; the connect ends, then fd */
		d->abandoned = true;
		tide_future_cancel(d->c);
	}
	return f;
}

/* ---- socket options ---- */

struct sockopt_def {
	int level, name;
	bool negative_ok;
};

static const struct sockopt_def sockopts[] = {
	[TIDE_SOCKOPT_NODELAY] = { IPPROTO_TCP, TCP_NODELAY, false },
	[TIDE_SOCKOPT_CORK] = { IPPROTO_TCP, TCP_CORK, false },
	[TIDE_SOCKOPT_KEEPALIVE] = { SOL_SOCKET, SO_KEEPALIVE, false },
	[TIDE_SOCKOPT_KEEPIDLE] = { IPPROTO_TCP, TCP_KEEPIDLE, false },
	[TIDE_SOCKOPT_REUSEADDR] = { SOL_SOCKET, SO_REUSEADDR, false },
	[TIDE_SOCKOPT_REUSEPORT] = { SOL_SOCKET, SO_REUSEPORT, false },
	[TIDE_SOCKOPT_RCVBUF] = { SOL_SOCKET, SO_RCVBUF, false },
	[TIDE_SOCKOPT_SNDBUF] = { SOL_SOCKET, SO_SNDBUF, false },
	[TIDE_SOCKOPT_LINGER] = { SOL_SOCKET, SO_LINGER, true },
};

static const struct sockopt_def *sockopt_find(int opt)
{
	if (opt <= 0 || (size_t)opt >= sizeof(sockopts) / sizeof(sockopts[0]))
		return NULL;
	return &sockopts[opt];
}

/* A TCP-level option on a socket of another protocol: the kernel says
 * EOPNOTSUPP (Unix) or ENOPROTOOPT (UDP); report one error for both. */
static int sockopt_err(int err)
{
	return err == ENOPROTOOPT ? -EOPNOTSUPP : -err;
}

int tide_sockopt_set(int fd, int opt, int value)
{
	const struct sockopt_def *d = sockopt_find(opt);
	struct linger lg;
	const void *p = &value;
	socklen_t len = sizeof(value);

	if (!d || (value < 0 && !(d->negative_ok && value == -1)))
		return -EINVAL;
	if (opt == TIDE_SOCKOPT_LINGER) {
		lg.l_onoff = value >= 0;
		lg.l_linger = value >= 0 ? value : 0;
		p = &lg;
		len = sizeof(lg);
	}
	if (setsockopt(fd, d->level, d->name, p, len))
		return sockopt_err(errno);
	return 0;
}

int tide_sockopt_get(int fd, int opt, int *value)
{
	const struct sockopt_def *d = sockopt_find(opt);
	struct linger lg;
	int v = 0;
	socklen_t len;

	if (!d)
		return -EINVAL;
	if (!value)
		return -EFAULT;
	if (opt == TIDE_SOCKOPT_LINGER) {
		len = sizeof(lg);
		if (getsockopt(fd, d->level, d->name, &lg, &len))
			return sockopt_err(errno);
		*value = lg.l_onoff ? lg.l_linger : -1;
		return 0;
	}
	len = sizeof(v);
	if (getsockopt(fd, d->level, d->name, &v, &len))
		return sockopt_err(errno);
	*value = v;
	return 0;
}
