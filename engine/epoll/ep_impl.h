/* SPDX-License-Identifier: MIT */
/*
 * ep_impl.h - the epoll backend's private state (loop->ep) and the
 * operation record it keeps for every operation that does not complete at
 * submission.
 */
#ifndef TIDE_EP_IMPL_H
#define TIDE_EP_IMPL_H

#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/blocking.h"
#include "epoll.h"
#include "loop_impl.h"
#include "core/timer.h"

/* What an operation waiting for readiness does when its descriptor is
 * ready (ep_retry() in net.c), or what it waits for. */
enum ep_kind {
	EP_ACCEPT,
	EP_ACCEPT_MULTI,
	EP_CONNECT,
	EP_RECV,
	EP_RECV_MULTI,
	EP_SEND,
	EP_RECVMSG,
	EP_SENDMSG,
	EP_READ, /* read(2) on a pipe, tty ... */
	EP_WRITE,
	EP_READV,
	EP_WRITEV,
	EP_POLL,
	EP_SPLICE,   /* splice with a pipe end not ready */
	EP_TIMEOUT,  /* a timer, no descriptor */
	EP_BLOCKING, /* a job on the pool */
};

enum ep_state {
	EP_S_WAITING, /* on its descriptor's list (or the heap) */
	EP_S_RUNNING, /* being retried by the dispatcher right now */
	EP_S_POOL,    /* job handed to the pool */
};

struct ep_req;

struct ep_list {
	struct ep_req *head, *tail;
};

struct ep_req {
	struct tide__op *op;
	struct tide_loop *loop;
	struct ep_req *next, *prev; /* descriptor list */
	struct ep_list *in;	    /* the list it is on, or NULL */
	struct ep_req *hnext;	    /* op -> req hash chain */
	struct tide__timer timer;   /* a timeout, or the op's deadline */
	uint8_t kind;		    /* enum ep_kind */
	uint8_t state;		    /* enum ep_state */
	bool multi;		    /* poll: multishot */
	bool cancel;		    /* cancel asked while RUNNING */
	bool deadline;		    /* timer is op's deadline */
	uint32_t want;		    /* EPOLLIN / EPOLLOUT ... */
	int fd;
	int flags;
	unsigned done; /* bytes moved so far (MSG_WAITALL,
				       a file read begun inline) */
	union {
		struct {
			void *buf;
			unsigned len;
			struct sockaddr *addr;
			socklen_t *addrlen;
		} io;
		struct msghdr *msg;
		struct tide_bufring *br;
		struct {
			const struct iovec *iov;
			unsigned cnt;
		} v;
		struct {
			int fd_out;
			unsigned len;
			int64_t off_in, off_out;
		} sp;
	} u;
	struct tide__bjob job; /* EP_BLOCKING */
};

/* Per descriptor (tide__ep_fd_at()). */
enum ep_fdkind {
	EP_FD_UNKNOWN,
	EP_FD_SOCKET,	/* S_ISSOCK */
	EP_FD_STREAM,	/* pipe, tty, char device, eventfd ...: pollable */
	EP_FD_BLOCKING, /* regular file, block device, or epoll refuses it */
};

#define EP_UNREG UINT32_MAX

struct ep_fd {
	struct ep_list waiters;
	uint32_t reg;	/* events registered with epoll, EP_UNREG if none */
	uint8_t kind;	/* enum ep_fdkind */
	bool no_nowait; /* RWF_NOWAIT refused (a file's fs, a tty ...) */
	/* the last read tried inline came whole from the page cache: its
	 * reads may be spilled to the pool (file.c) */
	bool hit;
};

struct tide__ep {
	int epfd;
	bool no_pwait2; /* epoll_pwait2() unavailable: ms waits */
	/* per descriptor, in chunks that never move: waiting records point
	 * at their descriptor's list */
	struct ep_fd **fdc;
	uint32_t nfdc;
	struct ep_req **hash; /* op -> req, chained */
	uint32_t hmask, hcount;
	/* descriptors registered with epfd besides the wake-up eventfd
	 * (ep_fd.reg != EP_UNREG): none, and a poll that must not block
	 * has nothing to ask epoll (backend.c's ep_poll()) */
	uint32_t nreg;
	struct ep_req *free_reqs;
	struct tide__timer_heap timers;
	struct tide__blocking *pool;
	unsigned cpus; /* this thread may run on (1: reads never spill) */
	struct tide__op *last_op; /* the op started last (deadline) */
	struct ep_req *last_req;  /* its record, NULL if it completed */
	uint64_t live;		  /* records in use */
	uint32_t delivered;	  /* completions in this poll() */
	struct ep_list *pend;	  /* the list being dispatched, and its fd */
	int pend_fd;
	struct ep_req *running; /* the one being retried */
	struct epoll_event ev[256];
};

#define EP_FD_CHUNK 256u

/* fd's entry, NULL if none was made (tide__ep_fd() makes it). */
static inline struct ep_fd *tide__ep_fd_at(const struct tide__ep *ep, int fd)
{
	uint32_t c = (uint32_t)fd / EP_FD_CHUNK;

	if (fd < 0 || c >= ep->nfdc || !ep->fdc[c])
		return NULL;
	return &ep->fdc[c][(uint32_t)fd % EP_FD_CHUNK];
}

/* backend.c */
/*
 * Room, before an operation does anything, for all it may need once its
 * system call is made and it can no longer be refused: a record, a hash
 * slot, a timer slot (its timeout, or a deadline given after it started)
 * and the later queue (tide__later_reserve()).  0 or -ENOMEM.
 */
int tide__ep_reserve_slow(struct tide_loop *loop);
static inline int tide__ep_reserve(struct tide_loop *loop)
{
	const struct tide__ep *ep = loop->ep;

	/* the usual case: all there, nothing to do */
	if (__builtin_expect(ep && ep->free_reqs && ep->hcount <= ep->hmask &&
				     ep->timers.n < ep->timers.cap &&
				     (uint64_t)loop->later_n +
						     loop->core.ops_pending <
					     loop->later_cap,
			     1))
		return 0;
	return tide__ep_reserve_slow(loop);
}
#define EP_RESERVE(loop)                                         \
	do {                                                     \
		if (__builtin_expect(tide__ep_reserve(loop), 0)) \
			return -ENOMEM;                          \
	} while (0)
struct ep_req *tide__ep_req_new(struct tide_loop *loop, struct tide__op *op,
				uint8_t kind);
void tide__ep_req_free(struct tide_loop *loop, struct ep_req *r);
/* A request finished: unhash, drop its deadline, deliver res (final). */
void tide__ep_finish(struct tide_loop *loop, struct ep_req *r, int32_t res);
/* Remember op as the last started (r NULL: it already completed). */
static inline void tide__ep_started(struct tide_loop *loop, struct tide__op *op,
				    struct ep_req *r)
{
	if (!loop->uring) /* io_uring counts SQEs there */
		loop->stats
			.submitted++; /* tide_loop_stats(): operations started */
	loop->ep->last_op = op;
	loop->ep->last_req = r;
}
/* tide_loop_stats(): a completion (io_uring counts its CQEs itself). */
static inline void tide__ep_count_done(struct tide_loop *loop)
{
	if (!loop->uring)
		loop->stats.completed++;
}

/* Complete op at the next dispatch (result known at submission). */
int tide__ep_now(struct tide_loop *loop, struct tide__op *op, int32_t res);
/* fd's entry, made when there is none; NULL for a bad fd or no memory.
 * tide__ep_fd_make(): the chunk of fd (>= 0), which has none yet. */
struct ep_fd *tide__ep_fd_make(struct tide_loop *loop, int fd);
static inline struct ep_fd *tide__ep_fd(struct tide_loop *loop, int fd)
{
	struct ep_fd *e = tide__ep_fd_at(loop->ep, fd);

	if (__builtin_expect(e != NULL, 1) || fd < 0)
		return e;
	return tide__ep_fd_make(loop, fd);
}
/* Put r on fd's waiting list for r->want; 0 or -errno (-EPERM: fd cannot
 * be polled). */
int tide__ep_wait(struct tide_loop *loop, struct ep_req *r);
/* Forget what is known of fd (a new file got its number, or closing). */
void tide__ep_fd_reset(struct tide_loop *loop, int fd);
void tide__ep_list_del(struct ep_req *r);
/* Hand r's job to the pool (creating it); 0 or -errno. */
int tide__ep_pool_submit(struct tide_loop *loop, struct ep_req *r);
/* file.c: a spilled read (job.spill) came back with res.  When it could
 * not be done from the page cache (-EAGAIN, or short), the rest goes to
 * the pool as a blocking job; when its number is a pipe's or a socket's
 * now (-ESPIPE: closed behind tide's back), r waits for readiness there,
 * as the read would have done inline.  Returns 1 when r goes on that way,
 * else the result to complete r with (res, or the error that stopped the
 * road it was to take). */
int32_t tide__ep_spill_back(struct tide_loop *loop, struct ep_req *r,
			    int32_t res);
/* Make the loop's pool (loop->ep->pool) if there is none; 0 or -errno. */
int tide__ep_pool_make(struct tide_loop *loop);
int tide__ep_set_nonblock(struct tide_loop *loop, int fd);

/* A completion with more to follow (multishot). */
static inline void tide__ep_more(struct tide_loop *loop, struct ep_req *r,
				 int32_t res, uint32_t cflags)
{
	loop->ep->delivered++;
	tide__ep_count_done(loop);
	tide__complete(loop, r->op, res, cflags | TIDE__CQ_MORE);
}

/*
 * n = call, a non-blocking system call tried by the backend: a signal's
 * EINTR makes it again at once; fault injection (engine/core/fault.c) may
 * skip it and fake EAGAIN or EINTR.
 */
#define TIDE__EP_SYS(n, loop, call)                  \
	do {                                         \
		do {                                 \
			if (tide__fault_errno(loop)) \
				(n) = -1;            \
			else                         \
				(n) = (call);        \
		} while ((n) < 0 && errno == EINTR); \
	} while (0)

/*
 * preadv2(2) or pwritev2(2) at off (-1: the file position) with flags,
 * as the system call itself where longs are 64 bits.  glibc's wrappers
 * are cancellation points, which in a process with threads costs two
 * atomic operations around every call; the backend's calls never block,
 * so none of them needs to be one.  A kernel (or a seccomp policy) without
 * the call says EOPNOTSUPP, as the wrappers do for non-zero flags, so
 * that callers take their road without RWF_NOWAIT.
 */
static inline ssize_t tide__ep_rwv2(int fd, bool in, const struct iovec *iov,
				    unsigned cnt, off_t off, int flags)
{
#if defined(SYS_preadv2) && defined(SYS_pwritev2) && __SIZEOF_LONG__ == 8
	/* the offset is two longs, low word first: on a 64-bit kernel the
	 * low one holds all of it and the high one is ignored */
	ssize_t n = syscall(in ? SYS_preadv2 : SYS_pwritev2, fd, iov,
			    (unsigned long)cnt, (unsigned long)off, 0ul, flags);

	if (n < 0 && errno == ENOSYS)
		errno = EOPNOTSUPP;
	return n;
#else
	return in ? preadv2(fd, iov, (int)cnt, off, flags) :
		    pwritev2(fd, iov, (int)cnt, off, flags);
#endif
}

/* net.c: try r's call again now that its descriptor is ready.  Returns
 * true when r is finished (and freed), false when it waits on. */
bool tide__ep_retry(struct tide_loop *loop, struct ep_req *r, uint32_t ev);
/* read/write/readv/writev on a pollable descriptor (kind SOCKET or STREAM,
 * its table entry exists).  single: iov is one buffer on the caller's
 * stack (copied); else the caller's array, valid until completion.
 * -EAGAIN: nothing done, the cached kind of fd was stale (file.c looks
 * again and takes the right road). */
int tide__ep_stream_rw(struct tide_loop *loop, struct tide__op *op, int fd,
		       bool in, const struct iovec *iov, unsigned cnt,
		       bool single);

#endif /* TIDE_EP_IMPL_H */
