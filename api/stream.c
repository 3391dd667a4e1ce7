// SPDX-License-Identifier: MIT
/*
 * stream.c - buffered streams over any descriptor.
 *
 * Input comes either from a multishot receive into a buffer ring (sockets
 * given a ring: one SQE serves every chunk) or from one read/recv at a time
 * into the stream's own buffer.  A pending read request is served by
 * stream_pump() whenever input arrives; writes are queued and one send is
 * in flight at a time, carrying every plain write queued behind the head
 * too (up to STREAM_IOV_MAX, one sendmsg: writes made while a send is out
 * leave together), resubmitting short sends.  Internal operations
 * complete through on_done callbacks; the stream is freed only once every
 * one of them ran (ops == 0), so no callback ever sees a freed stream.
 *
 * The read path is what a task's `tide_await(tide_stream_read(...))` runs
 * per message, so it is short: a read that finds its bytes buffered is
 * resolved before tide_stream_read() returns (the await takes the result
 * without suspending); one that waits has the stream's own cancel handler
 * (no allocation) and is served by the completion that brings its bytes,
 * whose last step runs the read's on_done continuation right there (a
 * task resumes from the receive, as tide__op_resolve() resumes one from an
 * operation), no queueing in between.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stream_impl.h"

#define DEFAULT_READ 16384u

_Static_assert(sizeof(struct stream_wreq) <= TIDE__SLAB_OBJ, "wreq");

static void stream_arm(struct tide_stream *s);
static void stream_close_step(struct tide_stream *s);

/* ---- input: a contiguous run of buffered bytes ---- */

static inline size_t stream_peek(struct tide_stream *s, char **p)
{
	if (s->br) {
		if (s->qfirst == TIDE__BUFRING_NONE)
			return 0;
		*p = (char *)tide__bufring_ptr(s->br, s->qfirst) + s->qoff;
		return s->links[s->qfirst].len - s->qoff;
	}
	*p = s->rbuf + s->rhead;
	return s->rtail - s->rhead;
}

static inline bool stream_buffered(const struct tide_stream *s)
{
	return s->br ? s->qfirst != TIDE__BUFRING_NONE : s->rtail != s->rhead;
}

static void stream_consume(struct tide_stream *s, size_t n)
{
	if (!s->br) {
		s->rhead += (uint32_t)n;
		if (s->rhead == s->rtail)
			s->rhead = s->rtail = 0;
		return;
	}
	uint32_t bid = s->qfirst;

	s->qoff += (uint32_t)n;
	if (s->qoff == s->links[bid].len) {
		s->qfirst = s->links[bid].next;
		if (s->qfirst == TIDE__BUFRING_NONE)
			s->qlast = TIDE__BUFRING_NONE;
		s->qoff = 0;
		s->held--;
		tide_bufring_put(s->br, bid);
	}
}

/* ---- input: each connection's bounded share of a shared ring ---- */

/* Writes are backed up when a ring's share of bytes waits to go out. */
static bool stream_w_backed_up(const struct tide_stream *s)
{
	return !s->rd &&
	       s->wq_bytes >= (size_t)s->share * tide__bufring_size(s->br);
}

/*
 * Pause receiving on a stream that holds its share of the ring, or whose
 * peer does not take what we write while nobody reads (backpressure: the
 * bytes wait in the socket and TCP slows the sender); resume once the
 * reader brought it down to half its share.  So one connection that never
 * reads cannot take every buffer from the others.
 */
static void stream_rx_check(struct tide_stream *s)
{
	if (!s->br || s->closing || s->in_end)
		return;
	if (!s->rx_paused) {
		if (s->held < s->share && !stream_w_backed_up(s))
			return;
		s->rx_paused = true;
		if (s->multi && !s->rx_cancel) {
			s->rx_cancel = true;
			tide_future_cancel(s->multi);
		}
	} else if (s->held <= s->share / 2 && !stream_w_backed_up(s)) {
		s->rx_paused = false;
		stream_arm(s);
	}
}

static void stream_rd_finish(struct tide_stream *s, int64_t res)
{
	struct tide_future *p = s->rd;

	s->rd = NULL;
	tide_promise_resolve(p, res, NULL);
}

/*
 * Where the delimiter ends once take more bytes have been copied to
 * rd_buf + rd_got: a match may start up to dlen - 1 bytes before them.
 * Returns the bytes of the new run that belong to the result, 0 if none.
 */
static size_t stream_find(struct tide_stream *s, size_t take)
{
	size_t from = s->rd_got >= s->dlen - 1 ? s->rd_got - (s->dlen - 1) : 0;
	char *m = memmem(s->rd_buf + from, s->rd_got + take - from, s->dbuf,
			 s->dlen);

	return m ? (size_t)(m - s->rd_buf) + s->dlen - s->rd_got : 0;
}

/* Copy buffered input to the read's buffer; true when that ends the read,
 * with its result in *res. */
static bool stream_copy(struct tide_stream *s, int64_t *res)
{
	char *p;
	size_t n;

	while ((n = stream_peek(s, &p)) > 0) {
		size_t room = s->rd_len - s->rd_got;
		size_t take = n < room ? n : room;
		bool hit = false;

		if (s->rd_mode == RD_UNTIL && s->dlen == 1) {
			char *c = memchr(p, s->dbuf[0], take);

			if (c) {
				take = (size_t)(c - p) + 1;
				hit = true;
			}
			memcpy(s->rd_buf + s->rd_got, p, take);
		} else if (s->rd_mode == RD_UNTIL) {
			size_t end;

			/* copy first: the match may straddle earlier bytes */
			memcpy(s->rd_buf + s->rd_got, p, take);
			end = stream_find(s, take);
			if (end) {
				take = end;
				hit = true;
			}
		} else {
			memcpy(s->rd_buf + s->rd_got, p, take);
		}
		s->rd_got += take;
		stream_consume(s, take);
		if (hit) {
			*res = (int64_t)s->rd_got;
			return true;
		}
		if (s->rd_got == s->rd_len) {
			*res = s->rd_mode == RD_UNTIL ? -EMSGSIZE :
							(int64_t)s->rd_got;
			return true;
		}
	}
	return false;
}

/* What stream_serve() found: the read waits, or it is done (and the
 * receive's share is checked, or not: an RD_SOME read that took what
 * there was leaves that to the next read). */
enum { SERVE_WAIT, SERVE_CHECK, SERVE_DONE };

/* Serve the read set up in rd_* (s->rd is not looked at) from buffered
 * input and the input's end. */
static int stream_serve(struct tide_stream *s, int64_t *res)
{
	char *p;

	if (s->rd_mode == RD_PEEK) {
		/* done once anything is buffered */
		if (stream_peek(s, &p) > 0) {
			*res = 1;
			return SERVE_CHECK;
		}
		if (!s->in_end)
			return SERVE_WAIT;
		*res = s->in_err < 0 ? s->in_err : 0;
		return SERVE_CHECK;
	}
	if (stream_copy(s, res))
		return SERVE_CHECK;
	if (s->rd_mode == RD_SOME && s->rd_got > 0) {
		*res = (int64_t)s->rd_got;
		return SERVE_DONE;
	}
	if (!s->in_end)
		return SERVE_WAIT;
	if (s->in_err < 0)
		*res = s->in_err;
	else
		*res = s->rd_got ? -EPIPE : 0;
	return SERVE_DONE;
}

/* A read waits for input: make sure it comes (a paused receive resumes
 * now: the waiting read took every buffer the stream held). */
static inline void stream_want_input(struct tide_stream *s)
{
	if (s->br ? s->multi && !s->rx_paused : s->rop != NULL)
		return; /* the common case: the receive is out already */
	stream_rx_check(s);
	stream_arm(s);
}

/*
 * Input arrived or ended: serve the pending read.  Called only as the last
 * step of a completion callback, which touches nothing after it: the
 * read's continuation runs right here (a task resumes with the bytes),
 * and may close and free the stream.
 */
static void stream_pump(struct tide_stream *s)
{
	struct tide_future *p = s->rd;
	int64_t res;
	int done;

	if (!p) {
		stream_rx_check(s);
		return;
	}
	done = stream_serve(s, &res);
	if (done == SERVE_WAIT) {
		stream_want_input(s);
		return;
	}
	s->rd = NULL;
	if (done == SERVE_CHECK)
		stream_rx_check(s);
	tide__promise_resolve_direct(s->loop, p, res, NULL);
}

/* ---- input: multishot receive into the ring ---- */

static void stream_chunk_in(void *arg, void *data, uint32_t len, unsigned bid)
{
	struct tide_stream *s = arg;

	if (s->closing) {
		tide_bufring_put(s->br, bid);
		return;
	}
	if (s->rd && s->rd_mode == RD_SOME && s->qfirst == TIDE__BUFRING_NONE &&
	    len <= s->rd_len) {
		/* the common case, a reader waiting for whatever comes next:
		 * the chunk goes straight to its buffer, the buffer straight
		 * back to the ring (what queueing and stream_pump() would do,
		 * in fewer steps) */
		struct tide_future *p = s->rd;

		memcpy(s->rd_buf, data, len);
		tide_bufring_put(s->br, bid);
		s->rd = NULL;
		if (len == s->rd_len) /* stream_serve()'s SERVE_CHECK */
			stream_rx_check(s);
		tide__promise_resolve_direct(s->loop, p, len, NULL);
		return;
	}
	/* chained through the ring's own link slot: the queue never fills */
	s->links[bid].next = TIDE__BUFRING_NONE;
	s->links[bid].len = len;
	if (s->qlast == TIDE__BUFRING_NONE)
		s->qfirst = bid;
	else
		s->links[s->qlast].next = bid;
	s->qlast = bid;
	s->held++;
	stream_pump(s);
}

static void stream_multi_end(void *arg, int64_t res, void *payload)
{
	struct tide_stream *s = arg;

	(void)payload;
	s->multi = NULL;
	s->ops--;
	if (s->closing) {
		stream_close_step(s);
		return;
	}
	if (s->rx_cancel) {
		s->rx_cancel = false;
		if (res == -ECANCELED) {
			/* paused on purpose; resume may have come meanwhile */
			if (!s->rx_paused)
				stream_arm(s);
			return;
		}
	}
	if (res == -ENOBUFS) {
		/* the ring ran dry: the bytes wait in the socket; restart
		 * when a buffer comes back */
		tide__bufring_wait(s->br, &s->waiter);
		return;
	}
	if (res == -EAGAIN || tide__cancel_unasked(s->loop, res, false)) {
		stream_arm(s);
		return;
	}
	s->in_end = true;
	s->in_err = (int)res;
	stream_pump(s);
}

static void stream_rewake(struct tide__bufring_waiter *w)
{
	struct tide_stream *s =
		(struct tide_stream *)((char *)w -
				       offsetof(struct tide_stream, waiter));

	if (!s->closing && !s->in_end && !s->multi)
		stream_arm(s);
}

/* ---- input: one read at a time into rbuf ---- */

static void stream_read_done(void *arg, int64_t res, void *payload)
{
	struct tide_stream *s = arg;

	(void)payload;
	s->rop = NULL;
	s->ops--;
	if (s->closing) {
		stream_close_step(s);
		return;
	}
	if (res > 0) {
		/* memcheck cannot see the kernel's write through the ring */
		TIDE__MEM_DEFINED(s->rbuf + s->rtail, (size_t)res);
		s->rtail += (uint32_t)res;
	} else if (res != -EINTR && res != -EAGAIN &&
		   !tide__cancel_unasked(s->loop, res, false)) {
		/* (only closing cancels rop) */
		s->in_end = true;
		s->in_err = (int)res;
	}
	stream_pump(s);
}

static void stream_arm(struct tide_stream *s)
{
	struct tide_future *f;

	if (s->in_end || s->closing)
		return;
	if (s->br) {
		if (s->multi || s->waiter.queued || s->rx_paused)
			return;
		f = tide_recv_multishot(s->loop, s->fd, s->br, stream_chunk_in,
					s);
		s->multi = f;
		if (f && tide_future_on_done(f, stream_multi_end, s) == 0) {
			s->ops++;
			return;
		}
		s->multi = NULL;
	} else {
		if (s->rop)
			return;
		size_t room = s->rsize - s->rtail;

		if (s->sock)
			f = tide_recv(s->loop, s->fd, s->rbuf + s->rtail, room,
				      0);
		else
			f = tide_read(s->loop, s->fd, s->rbuf + s->rtail, room,
				      TIDE_OFF_CUR);
		s->rop = f;
		if (f && tide_future_on_done(f, stream_read_done, s) == 0) {
			s->ops++;
			return;
		}
		s->rop = NULL;
	}
	/* out of memory: report it to the reader rather than hang (with no
	 * reader, the next read tries again).  A read that took bytes
	 * already cannot give them back: the input ends there, so no later
	 * read can miss them unnoticed. */
	if (!s->rd)
		return;
	if (s->rd_got && s->rd_mode != RD_SOME) {
		s->in_end = true;
		s->in_err = -ENOMEM;
	}
	stream_rd_finish(s, -ENOMEM);
}

/* ---- reads ---- */

static void stream_rd_cancel(void *arg)
{
	struct tide_stream *s = arg;

	if (s->rd)
		stream_rd_finish(s, -ECANCELED);
}

/* stream_read_req() with input buffered or ended: serve the read set up
 * in rd_* now, or leave it pending as p. */
static __attribute__((noinline)) struct tide_future *
stream_read_now(struct tide_stream *s, struct tide_future *p)
{
	int64_t res;
	int done = stream_serve(s, &res);

	if (done == SERVE_WAIT) {
		s->rd = p;
		stream_want_input(s);
		return p;
	}
	/* resolved before the caller sees it, so an await takes the result
	 * without suspending */
	s->rd = NULL;
	if (done == SERVE_CHECK)
		stream_rx_check(s);
	tide_promise_resolve(p, res, NULL);
	return p;
}

static struct tide_future *stream_read_req(struct tide_stream *s, void *buf,
					   size_t len, int mode,
					   const void *delim, size_t dlen)
{
	struct tide_future *p;

	if (!s)
		return NULL;
	if (!buf || len == 0)
		return tide_future_fail(s->loop, buf ? -EINVAL : -EFAULT);
	if (s->closing)
		return tide_future_fail(s->loop, -EBADF);
	if (s->rd)
		return tide_future_fail(s->loop, -EBUSY);
	p = tide__future_new(s->loop, TIDE__FK_PROMISE);
	if (!p)
		return NULL;
	s->rd_buf = buf;
	s->rd_len = len;
	s->rd_got = 0;
	s->rd_mode = (uint8_t)mode;
	if (mode == RD_UNTIL) {
		memcpy(s->dbuf, delim, dlen);
		s->dlen = (uint32_t)dlen;
	}
	/* the stream's own cancel handler, no allocation */
	tide__promise_cancel_at(p, &s->rd_cancel);
	if (__builtin_expect(stream_buffered(s) || s->in_end, 0))
		return stream_read_now(s, p);
	/* nothing there yet: the read waits */
	s->rd = p;
	stream_want_input(s);
	return p;
}

/* ---- input without a copy (stream_copy.c) ---- */

struct tide_future *tide__stream_wait_input(struct tide_stream *s)
{
	return stream_read_req(s, s, 1, RD_PEEK, NULL, 0);
}

unsigned tide__stream_peekv(struct tide_stream *s, struct iovec *iov,
			    unsigned max, size_t limit, size_t *total)
{
	unsigned n = 0;
	size_t sum = 0;

	if (!s->br) {
		size_t len = s->rtail - s->rhead;

		if (len > limit)
			len = limit;
		if (len && max) {
			iov[0] = (struct iovec){ s->rbuf + s->rhead, len };
			sum = len;
			n = 1;
		}
	} else {
		uint32_t bid = s->qfirst, off = s->qoff;

		for (; n < max && bid != TIDE__BUFRING_NONE && sum < limit;
		     n++) {
			size_t len = s->links[bid].len - off;

			if (len > limit - sum)
				len = limit - sum;
			iov[n] = (struct iovec){
				(char *)tide__bufring_ptr(s->br, bid) + off, len
			};
			sum += len;
			off = 0;
			bid = s->links[bid].next;
		}
	}
	s->lent = n > 0;
	*total = sum;
	return n;
}

void tide__stream_release(struct tide_stream *s, size_t n)
{
	char *p;

	while (n > 0) {
		size_t k = stream_peek(s, &p);

		if (k == 0)
			break;
		if (k > n)
			k = n;
		stream_consume(s, k);
		n -= k;
	}
	s->lent = false;
	if (s->closing)
		stream_close_step(s);
	else
		stream_rx_check(s); /* buffers came back: resume */
}

struct tide_future *tide_stream_read(struct tide_stream *s, void *buf,
				     size_t len)
{
	return stream_read_req(s, buf, len, RD_SOME, NULL, 0);
}

struct tide_future *tide_stream_read_exactly(struct tide_stream *s, void *buf,
					     size_t len)
{
	return stream_read_req(s, buf, len, RD_EXACT, NULL, 0);
}

struct tide_future *tide_stream_read_until(struct tide_stream *s, void *buf,
					   size_t max, int delim)
{
	unsigned char c = (unsigned char)delim;

	if (s && (delim < 0 || delim > 255))
		return tide_future_fail(s->loop, -EINVAL);
	return stream_read_req(s, buf, max, RD_UNTIL, &c, 1);
}

struct tide_future *tide_stream_read_until_mem(struct tide_stream *s, void *buf,
					       size_t max, const void *delim,
					       size_t dlen)
{
	if (s && (!delim || dlen == 0 || dlen > TIDE_STREAM_DELIM_MAX))
		return tide_future_fail(s->loop, delim ? -EINVAL : -EFAULT);
	return stream_read_req(s, buf, max, RD_UNTIL, delim, dlen);
}

struct tide_future *tide_stream_read_line(struct tide_stream *s, char *buf,
					  size_t max)
{
	return stream_read_req(s, buf, max, RD_UNTIL, "\n", 1);
}

/* ---- writes ---- */

static void stream_wfree(struct tide_stream *s, struct stream_wreq *w)
{
	if (w->file)
		tide__stream_file_free(s, w);
	tide__slab_free(s->loop, w);
}

void tide__stream_wpop(struct tide_stream *s, int64_t res)
{
	struct stream_wreq *w = s->wq;

	s->wq = w->next;
	if (!s->wq)
		s->wq_tail = NULL;
	s->wq_bytes -= w->len;
	tide_promise_resolve(w->p, res, NULL);
	stream_wfree(s, w);
}

/* No memory to send the head write: it and the ones behind it fail
 * -ENOMEM.  When none of their bytes went out a caller may queue them
 * again, so the stream stays writable; after part of the head went out,
 * no retry could mend it: the failure sticks, as any write error. */
static void stream_wnomem(struct tide_stream *s)
{
	if (s->wq->done) {
		tide__stream_wfail(s, -ENOMEM);
	} else {
		while (s->wq)
			tide__stream_wpop(s, -ENOMEM);
	}
	tide__stream_wnext(s); /* a pending shutdown or close goes on */
}

/* A write failed: it and every write queued behind it fail so. */
void tide__stream_wfail(struct tide_stream *s, int64_t res)
{
	if (!s->wr_err)
		s->wr_err = (int)res;
	while (s->wq)
		tide__stream_wpop(s, res);
}

/* The write queue ran empty: a pending half-close can happen now. */
static void stream_drained(struct tide_stream *s)
{
	struct tide_future *p = s->shut_p;
	int64_t res;

	if (p) {
		s->shut_p = NULL;
		if (s->wr_err)
			res = s->wr_err;
		else
			res = shutdown(s->fd, SHUT_WR) ? -errno : 0;
		tide_promise_resolve(p, res, NULL);
	}
	if (s->closing)
		stream_close_step(s);
}

/* The head write made progress or ended: start the next step. */
void tide__stream_wnext(struct tide_stream *s)
{
	if (s->wq) {
		tide__stream_wkick(s);
		return;
	}
	if (!s->closing)
		stream_rx_check(s); /* the backlog went out: resume */
	stream_drained(s);	    /* may end a closing stream */
}

/* Take w out of the queue (not the head's successor bookkeeping only:
 * the tail too). */
static void stream_wunlink(struct tide_stream *s, struct stream_wreq *w)
{
	struct stream_wreq **pp;

	for (pp = &s->wq; *pp != w; pp = &(*pp)->next)
		;
	*pp = w->next;
	if (s->wq_tail == w) {
		s->wq_tail = NULL;
		for (struct stream_wreq *x = s->wq; x; x = x->next)
			s->wq_tail = x;
	}
	s->wq_bytes -= w->len;
}

/* Requests the write in flight carries: the head, and with coalescing the
 * ones behind it (0 when nothing is in flight). */
static unsigned stream_winflight(const struct tide_stream *s)
{
	if (!s->wop)
		return 0;
	return s->wbatch ? s->wbatch : 1;
}

/*
 * The write in flight ended: the bytes it sent belong to its requests in
 * queue order.  Those fully sent succeed; a cancelled one not fully sent
 * fails -ECANCELED (what went out stays sent); the first other one stays
 * at the head and goes out again with what is left.
 */
static void stream_wdone(void *arg, int64_t res, void *payload)
{
	struct tide_stream *s = arg;
	unsigned batch = stream_winflight(s);
	struct stream_wreq *w = s->wq, *rest;
	bool cancelled = false;
	size_t left;

	(void)payload;
	s->wop = NULL;
	s->wbatch = 0;
	s->ops--;
	for (unsigned i = 0; i < batch && w; i++, w = w->next)
		cancelled |= w->cancel;
	if (tide__cancel_unasked(s->loop, res, cancelled))
		res = 0; /* nothing went out: the head goes again */
	else if (res == 0)
		res = -EIO; /* no progress: never loop on it */
	if (res < 0 && !(res == -ECANCELED && cancelled)) {
		tide__stream_wfail(s, res);
		tide__stream_wnext(s);
		return;
	}
	left = res > 0 ? (size_t)res : 0;
	while (batch > 0 && (w = s->wq) != NULL) {
		size_t take = w->len - w->done < left ? w->len - w->done : left;

		w->done += take;
		left -= take;
		if (w->done < w->len && !w->cancel)
			break;
		batch--;
		tide__stream_wpop(s, w->done == w->len ? (int64_t)w->len :
							 -ECANCELED);
	}
	/* cancelled ones behind a head that stays were not sent at all */
	for (w = s->wq ? s->wq->next : NULL; batch > 1 && w; w = rest) {
		rest = w->next;
		batch--;
		if (!w->cancel)
			continue;
		stream_wunlink(s, w);
		tide_promise_resolve(w->p, -ECANCELED, NULL);
		stream_wfree(s, w);
	}
	tide__stream_wnext(s);
}

/* Send s->wiov[0..n) in one sendmsg/writev completing in stream_wdone;
 * false when there was no memory for it. */
static bool stream_wsend(struct tide_stream *s, unsigned n)
{
	struct tide_future *f;

	if (s->sock) {
		s->wmsg =
			(struct msghdr){ .msg_iov = s->wiov, .msg_iovlen = n };
		f = tide_sendmsg(s->loop, s->fd, &s->wmsg, 0);
	} else {
		f = tide_writev(s->loop, s->fd, s->wiov, (int)n, TIDE_OFF_CUR);
	}
	s->wop = f;
	if (f && tide_future_on_done(f, stream_wdone, s) == 0) {
		s->ops++;
		return true;
	}
	s->wop = NULL;
	return false;
}

/* What is left of a vectored head write, in one sendmsg/writev. */
static void stream_wkick_vec(struct tide_stream *s, struct stream_wreq *w)
{
	const struct iovec *v = (const struct iovec *)(const void *)w->buf;
	size_t skip = w->done;
	unsigned n = 0;

	for (unsigned i = 0; i < w->iovcnt; i++) {
		if (skip >= v[i].iov_len) {
			skip -= v[i].iov_len;
			continue;
		}
		s->wiov[n].iov_base = (char *)v[i].iov_base + skip;
		s->wiov[n].iov_len = v[i].iov_len - skip;
		skip = 0;
		n++;
	}
	if (stream_wsend(s, n))
		return;
	stream_wnomem(s);
}

/*
 * Writes queued behind the head go out with it, up to STREAM_IOV_MAX of
 * them, in one sendmsg/writev (plain byte writes not cancelled; a file or
 * vectored request ends the run).  False when only the head can go.
 */
static bool stream_wkick_batch(struct tide_stream *s, struct stream_wreq *w)
{
	unsigned n = 0;

	for (struct stream_wreq *x = w; x && n < STREAM_IOV_MAX; x = x->next) {
		if (x->file || x->iovcnt || x->cancel)
			break;
		s->wiov[n].iov_base = (void *)(uintptr_t)(x->buf + x->done);
		s->wiov[n].iov_len = x->len - x->done;
		n++;
	}
	if (n < 2)
		return false;
	if (stream_wsend(s, n)) {
		s->wbatch = (uint8_t)n;
		return true;
	}
	return false; /* no memory for it: the head alone */
}

void tide__stream_wkick(struct tide_stream *s)
{
	struct stream_wreq *w = s->wq;
	struct tide_future *f;

	if (w->file) {
		tide__stream_file_kick(s, w);
		return;
	}
	if (w->iovcnt) {
		stream_wkick_vec(s, w);
		return;
	}
	if (w->next && stream_wkick_batch(s, w))
		return;
	s->wbatch = 1;
	if (s->sock)
		f = tide_send(s->loop, s->fd, w->buf + w->done,
			      w->len - w->done, 0);
	else
		f = tide_write(s->loop, s->fd, w->buf + w->done,
			       w->len - w->done, TIDE_OFF_CUR);
	s->wop = f;
	if (f && tide_future_on_done(f, stream_wdone, s) == 0) {
		s->ops++;
		return;
	}
	s->wop = NULL;
	stream_wnomem(s);
}

static void stream_wcancel(void *arg)
{
	struct stream_wreq *w = arg;
	struct tide_stream *s = w->s;
	unsigned k = stream_winflight(s);

	for (struct stream_wreq *x = s->wq; x && k > 0; x = x->next, k--) {
		if (x == w) {
			/* in flight: the kernel decides; a partial send stays
			 * sent */
			w->cancel = true;
			tide_future_cancel(s->wop);
			return;
		}
	}
	stream_wunlink(s, w);
	tide_promise_resolve(w->p, -ECANCELED, NULL);
	stream_wfree(s, w);
	stream_rx_check(s);
}

/* Queue a write request (w filled by the caller but for s and p). */
struct tide_future *tide__stream_wqueue(struct tide_stream *s,
					struct stream_wreq *w)
{
	struct tide_future *p = tide_promise_new(s->loop);

	if (!p || tide_promise_on_cancel(p, stream_wcancel, w)) {
		tide_future_release(p);
		return NULL;
	}
	w->s = s;
	w->p = p;
	w->next = NULL;
	if (s->wq_tail)
		s->wq_tail->next = w;
	else
		s->wq = w;
	s->wq_tail = w;
	s->wq_bytes += w->len;
	if (!s->wop)
		tide__stream_wkick(s);
	stream_rx_check(s);
	return p;
}

/* Why a write cannot be queued now, or 0. */
int tide__stream_wcheck(struct tide_stream *s)
{
	if (s->closing)
		return -EBADF;
	if (s->wr_err)
		return s->wr_err;
	if (s->wr_shut)
		return -EPIPE;
	return 0;
}

struct tide_future *tide_stream_write(struct tide_stream *s, const void *buf,
				      size_t len)
{
	struct stream_wreq *w;
	struct tide_future *p;
	int err;

	if (!s)
		return NULL;
	if (!buf && len)
		return tide_future_fail(s->loop, -EFAULT);
	err = tide__stream_wcheck(s);
	if (err)
		return tide_future_fail(s->loop, err);
	if (len == 0)
		return tide_future_ready(s->loop, 0, NULL);
	w = tide__slab_alloc(s->loop);
	if (!w)
		return NULL;
	*w = (struct stream_wreq){ .buf = buf, .len = len };
	p = tide__stream_wqueue(s, w);
	if (!p)
		tide__slab_free(s->loop, w);
	return p;
}

struct tide_future *tide__stream_writev(struct tide_stream *s,
					const struct iovec *iov,
					unsigned iovcnt, size_t total)
{
	struct stream_wreq *w;
	struct tide_future *p;
	int err = tide__stream_wcheck(s);

	if (err)
		return tide_future_fail(s->loop, err);
	if (iovcnt == 0 || iovcnt > STREAM_IOV_MAX || total == 0)
		return tide_future_fail(s->loop, -EINVAL);
	w = tide__slab_alloc(s->loop);
	if (!w)
		return NULL;
	*w = (struct stream_wreq){ .buf = (const char *)(const void *)iov,
				   .len = total,
				   .iovcnt = (uint8_t)iovcnt };
	p = tide__stream_wqueue(s, w);
	if (!p)
		tide__slab_free(s->loop, w);
	return p;
}

/* ---- life cycle ---- */

int tide_stream_new(struct tide_loop *loop, int fd,
		    const struct tide_stream_options *opts,
		    struct tide_stream **out)
{
	struct tide_stream_options o = { 0 };
	struct tide_stream *s;
	struct stat st;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (opts)
		o = *opts;
	if (!loop ||
	    (o.flags & ~(uint32_t)(TIDE_STREAM_NO_SHUTDOWN |
				   TIDE_STREAM_KEEP_FD | TIDE_STREAM_NAGLE)) ||
	    o.reserved[0] || o.reserved[1] || o.reserved[2] || o.reserved[3] ||
	    (o.bufring && tide__bufring_loop(o.bufring) != loop))
		return -EINVAL;
	if (fd < 0 || fstat(fd, &st))
		return -EBADF;
	if (tide__fault_nomem(loop))
		return -ENOMEM;
	/* cache-line aligned, so its hot part is two lines */
	s = aligned_alloc(_Alignof(struct tide_stream), sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->fd = fd;
	s->flags = o.flags;
	s->sock = S_ISSOCK(st.st_mode);
	if (s->sock && !(o.flags & TIDE_STREAM_NAGLE)) {
		/* small writes go out at once (what request/response and
		 * proxies expect); other families refuse it, harmlessly */
		int one = 1;

		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				 sizeof(one));
	}
	s->waiter.fn = stream_rewake;
	s->rd_cancel = (struct tide__cancel){ stream_rd_cancel, s };
	s->pipefd[0] = s->pipefd[1] = -1;
	s->qfirst = s->qlast = TIDE__BUFRING_NONE;
	if (s->sock && o.bufring) {
		uint32_t n = tide__bufring_count(o.bufring);

		s->br = o.bufring;
		s->links = tide__bufring_links(o.bufring);
		/* 1/64 of the ring (16 of the server's 1024), at least 4,
		 * at most half a small ring */
		s->share = n / 64 < 4 ? 4 : n / 64;
		if (s->share > n / 2)
			s->share = n / 2 ? n / 2 : 1;
	} else {
		s->rsize = o.read_size ? o.read_size : DEFAULT_READ;
		s->rbuf = tide__malloc(loop, s->rsize);
	}
	s->close_mem = s->br || s->rbuf ? tide__slab_alloc(loop) : NULL;
	if (!s->close_mem) {
		free(s->rbuf);
		free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

int tide_stream_fd(const struct tide_stream *s)
{
	return s ? s->fd : -EINVAL;
}

static void stream_finalize(struct tide_stream *s)
{
	struct tide_future *p = s->close_p;
	int err = s->wr_err;
	bool s_aborted = s->aborted;

	while (s->br && s->qfirst != TIDE__BUFRING_NONE) {
		uint32_t bid = s->qfirst;

		s->qfirst = s->links[bid].next;
		tide_bufring_put(s->br, bid);
	}
	tide__stream_pipe_close(s);
	if (!(s->flags & TIDE_STREAM_KEEP_FD)) {
		(void)tide_loop_unfix_fd(s->loop,
					 s->fd); /* -ENOENT: not fixed */
		close(s->fd);
	}
	if (s->on_free)
		s->on_free(s->hook_arg, s);
	free(s->rbuf);
	free(s);
	if (p)
		tide_promise_resolve(
			p, err == -ECANCELED || s_aborted ? 0 : err, NULL);
}

static void stream_close_step(struct tide_stream *s)
{
	if (s->wq)
		return; /* stream_wdone() calls again once they went out */
	if (!s->shut_done) {
		s->shut_done = true;
		if (s->sock && !(s->flags & TIDE_STREAM_NO_SHUTDOWN) &&
		    !s->wr_err && !s->wr_shut)
			shutdown(s->fd, SHUT_WR);
		if (s->br)
			tide__bufring_unwait(s->br, &s->waiter);
		if (s->multi)
			tide_future_cancel(s->multi);
		if (s->rop)
			tide_future_cancel(s->rop);
	}
	if (s->ops == 0 && !s->lent)
		stream_finalize(s);
}

/* The close promise, in the memory kept for it since creation: the object
 * goes back to the slab and the promise takes it again at once (the free
 * list is LIFO, and nothing runs in between), so a close never finds
 * itself without memory. */
static struct tide_future *close_promise(struct tide_stream *s)
{
	struct tide_future *p;
	void *mem = s->close_mem;

	s->close_mem = NULL;
	tide__slab_free(s->loop, mem);
	p = tide_promise_new(s->loop);
	TIDE__ASSERT(p == mem, "stream %p: close promise %p not in %p",
		     (void *)s, (void *)p, mem);
	return p;
}

struct tide_future *tide_stream_close(struct tide_stream *s)
{
	struct tide_future *p;

	if (!s)
		return NULL;
	if (s->closing)
		return tide_future_fail(s->loop, -EALREADY);
	p = close_promise(s);
	s->closing = true;
	s->close_p = p;
	if (s->rd)
		stream_rd_finish(s, -ECANCELED);
	stream_close_step(s);
	return p;
}

/* ---- half-close, abort, cancellation ---- */

struct tide_future *tide_stream_shutdown(struct tide_stream *s)
{
	struct tide_future *p;

	if (!s)
		return NULL;
	if (s->closing)
		return tide_future_fail(s->loop, -EBADF);
	if (!s->sock)
		return tide_future_fail(s->loop, -ENOTSOCK);
	if (s->wr_shut)
		return tide_future_fail(s->loop, -EALREADY);
	p = tide_promise_new(s->loop);
	if (!p)
		return NULL;
	s->wr_shut = true;
	s->shut_p = p;
	if (!s->wq)
		stream_drained(s);
	return p;
}

/* Cancel every queued write: those in flight through the kernel, the
 * others at once.  Returns how many. */
static int stream_cancel_writes(struct tide_stream *s)
{
	unsigned k = stream_winflight(s);
	struct stream_wreq *w = s->wq, *last = NULL, *rest;
	bool cancel_op = false;
	int n = 0;

	if (!w)
		return 0;
	if (k == 0)
		k = 1; /* the head is always under way */
	for (; w && k > 0; w = w->next, k--) {
		if (!w->cancel) {
			w->cancel = true;
			cancel_op = true;
			n++;
		}
		last = w;
	}
	rest = last->next;
	last->next = NULL;
	s->wq_tail = last;
	if (cancel_op && s->wop)
		tide_future_cancel(s->wop);
	while (rest) {
		struct stream_wreq *x = rest;

		rest = x->next;
		s->wq_bytes -= x->len;
		tide_promise_resolve(x->p, -ECANCELED, NULL);
		stream_wfree(s, x);
		n++;
	}
	return n;
}

int tide_stream_cancel(struct tide_stream *s, unsigned what)
{
	int n = 0;

	if (!s || !what ||
	    (what &
	     ~(unsigned)(TIDE_STREAM_CANCEL_READ | TIDE_STREAM_CANCEL_WRITE)))
		return -EINVAL;
	if ((what & TIDE_STREAM_CANCEL_READ) && s->rd) {
		stream_rd_finish(s, -ECANCELED);
		n++;
	}
	if (what & TIDE_STREAM_CANCEL_WRITE)
		n += stream_cancel_writes(s);
	return n;
}

struct tide_future *tide_stream_abort(struct tide_stream *s)
{
	struct tide_future *p;

	if (!s)
		return NULL;
	if (s->closing)
		return tide_future_fail(s->loop, -EALREADY);
	if (s->sock) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		(void)setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	p = close_promise(s);
	s->flags |= TIDE_STREAM_NO_SHUTDOWN;
	s->aborted = true;
	s->closing = true;
	s->close_p = p;
	if (s->rd)
		stream_rd_finish(s, -ECANCELED);
	stream_cancel_writes(s);
	if (s->shut_p) {
		struct tide_future *sp = s->shut_p;

		s->shut_p = NULL;
		tide_promise_resolve(sp, -ECANCELED, NULL);
	}
	stream_close_step(s);
	return p;
}
