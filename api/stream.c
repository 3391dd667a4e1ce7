// SPDX-License-Identifier: MIT
/*
 * stream.c - buffered streams over any descriptor.
 *
 * Input comes either from a multishot receive into a buffer ring (sockets
 * given a ring: one SQE serves every chunk) or from one read/recv at a time
 * into the stream's own buffer.  A pending read request is served by
 * stream_pump() whenever input arrives; writes are queued and sent one at a
 * time, resubmitting short sends.  Internal operations complete through
 * on_done callbacks; the stream is freed only once every one of them ran
 * (ops == 0), so no callback ever sees a freed stream.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stream_impl.h"


#define DEFAULT_READ 16384u

struct stream_wreq {
	struct stream_wreq *next;
	struct tide_stream *s;
	struct tide_future *p;
	const char *buf;
	size_t len, done;
	bool cancel;
};
_Static_assert(sizeof(struct stream_wreq) <= TIDE__SLAB_OBJ, "wreq");

static void stream_arm(struct tide_stream *s);
static void stream_close_step(struct tide_stream *s);
static void stream_wkick(struct tide_stream *s);

/* ---- input: a contiguous run of buffered bytes ---- */

static size_t stream_peek(struct tide_stream *s, char **p)
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
		tide_bufring_put(s->br, bid);
	}
}

static void stream_rd_finish(struct tide_stream *s, int64_t res)
{
	struct tide_future *p = s->rd;

	s->rd = NULL;
	tide_promise_resolve(p, res, NULL);
}

/* Serve the pending read from buffered input; returns true when done. */
static bool stream_copy(struct tide_stream *s)
{
	char *p;
	size_t n;

	while ((n = stream_peek(s, &p)) > 0) {
		size_t room = s->rd_len - s->rd_got;
		size_t take = n < room ? n : room;
		char *hit = NULL;

		if (s->rd_mode == RD_UNTIL) {
			hit = memchr(p, s->delim, take);
			if (hit)
				take = (size_t)(hit - p) + 1;
		}
		memcpy(s->rd_buf + s->rd_got, p, take);
		s->rd_got += take;
		stream_consume(s, take);
		if (hit) {
			stream_rd_finish(s, (int64_t)s->rd_got);
			return true;
		}
		if (s->rd_got == s->rd_len) {
			stream_rd_finish(s, s->rd_mode == RD_UNTIL
						    ? -EMSGSIZE
						    : (int64_t)s->rd_got);
			return true;
		}
	}
	return false;
}

static void stream_pump(struct tide_stream *s)
{
	if (!s->rd || stream_copy(s))
		return;
	if (s->rd_mode == RD_SOME && s->rd_got > 0) {
		stream_rd_finish(s, (int64_t)s->rd_got);
		return;
	}
	if (s->in_end) {
		if (s->in_err < 0)
			stream_rd_finish(s, s->in_err);
		else
			stream_rd_finish(s, s->rd_got ? -EPIPE : 0);
		return;
	}
	stream_arm(s);
}

/* ---- input: multishot receive into the ring ---- */

static void stream_chunk_in(void *arg, void *data, uint32_t len, unsigned bid)
{
	struct tide_stream *s = arg;

	(void)data;
	if (s->closing) {
		tide_bufring_put(s->br, bid);
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
	if (res == -ENOBUFS) {
		/* the ring ran dry: the bytes wait in the socket; restart
		 * when a buffer comes back */
		tide__bufring_wait(s->br, &s->waiter);
		return;
	}
	if (res == -EAGAIN) {
		stream_arm(s);
		return;
	}
	s->in_end = true;
	s->in_err = (int)res;
	stream_pump(s);
}

static void stream_rewake(struct tide__bufring_waiter *w)
{
	struct tide_stream *s = (struct tide_stream *)((char *)w -
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
	} else if (res != -EINTR && res != -EAGAIN) {
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
		if (s->multi || s->waiter.queued)
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
			f = tide_recv(s->loop, s->fd, s->rbuf + s->rtail, room, 0);
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
	/* out of memory: report it to the reader rather than hang */
	if (s->rd)
		stream_rd_finish(s, -ENOMEM);
}

/* ---- reads ---- */

static void stream_rd_cancel(void *arg)
{
	struct tide_stream *s = arg;

	if (s->rd)
		stream_rd_finish(s, -ECANCELED);
}

static struct tide_future *stream_read_req(struct tide_stream *s, void *buf,
					   size_t len, int mode, int delim)
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
	p = tide_promise_new(s->loop);
	if (!p)
		return NULL;
	if (tide_promise_on_cancel(p, stream_rd_cancel, s)) {
		tide_promise_resolve(p, -ENOMEM, NULL);
		return p;
	}
	s->rd = p;
	s->rd_buf = buf;
	s->rd_len = len;
	s->rd_got = 0;
	s->rd_mode = mode;
	s->delim = delim;
	stream_pump(s);
	return p;
}

struct tide_future *tide_stream_read(struct tide_stream *s, void *buf,
				     size_t len)
{
	return stream_read_req(s, buf, len, RD_SOME, 0);
}

struct tide_future *tide_stream_read_exactly(struct tide_stream *s, void *buf,
					     size_t len)
{
	return stream_read_req(s, buf, len, RD_EXACT, 0);
}

struct tide_future *tide_stream_read_until(struct tide_stream *s, void *buf,
					   size_t max, int delim)
{
	if (s && (delim < 0 || delim > 255))
		return tide_future_fail(s->loop, -EINVAL);
	return stream_read_req(s, buf, max, RD_UNTIL, delim);
}

struct tide_future *tide_stream_read_line(struct tide_stream *s, char *buf,
					  size_t max)
{
	return stream_read_req(s, buf, max, RD_UNTIL, '\n');
}

/* ---- writes ---- */

static void stream_wpop(struct tide_stream *s, int64_t res)
{
	struct stream_wreq *w = s->wq;

	s->wq = w->next;
	if (!s->wq)
		s->wq_tail = NULL;
	tide_promise_resolve(w->p, res, NULL);
	tide__slab_free(s->loop, w);
}

static void stream_wdone(void *arg, int64_t res, void *payload)
{
	struct tide_stream *s = arg;
	struct stream_wreq *w = s->wq;

	(void)payload;
	s->wop = NULL;
	s->ops--;
	if (res == 0 && w->len > w->done)
		res = -EIO; /* no progress: never loop on it */
	if (res == -ECANCELED && w->cancel) {
		stream_wpop(s, -ECANCELED);
	} else if (res < 0) {
		if (!s->wr_err)
			s->wr_err = (int)res;
		while (s->wq)
			stream_wpop(s, res);
	} else {
		w->done += (size_t)res;
		if (w->done == w->len)
			stream_wpop(s, (int64_t)w->len);
	}
	if (s->wq)
		stream_wkick(s);
	else if (s->closing)
		stream_close_step(s);
}

static void stream_wkick(struct tide_stream *s)
{
	struct stream_wreq *w = s->wq;
	struct tide_future *f;

	if (s->sock)
		f = tide_send(s->loop, s->fd, w->buf + w->done, w->len - w->done,
			      0);
	else
		f = tide_write(s->loop, s->fd, w->buf + w->done,
			       w->len - w->done, TIDE_OFF_CUR);
	s->wop = f;
	if (f && tide_future_on_done(f, stream_wdone, s) == 0) {
		s->ops++;
		return;
	}
	s->wop = NULL;
	if (!s->wr_err)
		s->wr_err = -ENOMEM;
	while (s->wq)
		stream_wpop(s, -ENOMEM);
}

static void stream_wcancel(void *arg)
{
	struct stream_wreq *w = arg, **pp;
	struct tide_stream *s = w->s;

	if (w == s->wq && s->wop) {
		/* in flight: the kernel decides; a partial send stays sent */
		w->cancel = true;
		tide_future_cancel(s->wop);
		return;
	}
	for (pp = &s->wq; *pp != w; pp = &(*pp)->next)
		;
	*pp = w->next;
	if (s->wq_tail == w) {
		s->wq_tail = NULL;
		for (struct stream_wreq *x = s->wq; x; x = x->next)
			s->wq_tail = x;
	}
	tide_promise_resolve(w->p, -ECANCELED, NULL);
	tide__slab_free(s->loop, w);
}

struct tide_future *tide_stream_write(struct tide_stream *s, const void *buf,
				      size_t len)
{
	struct stream_wreq *w;
	struct tide_future *p;

	if (!s)
		return NULL;
	if (!buf && len)
		return tide_future_fail(s->loop, -EFAULT);
	if (s->closing)
		return tide_future_fail(s->loop, -EBADF);
	if (s->wr_err)
		return tide_future_fail(s->loop, s->wr_err);
	if (len == 0)
		return tide_future_ready(s->loop, 0, NULL);
	w = tide__slab_alloc(s->loop);
	if (!w)
		return NULL;
	p = tide_promise_new(s->loop);
	if (!p || tide_promise_on_cancel(p, stream_wcancel, w)) {
		tide__slab_free(s->loop, w);
		tide_future_release(p);
		return NULL;
	}
	*w = (struct stream_wreq){ .s = s, .p = p, .buf = buf, .len = len };
	if (s->wq_tail)
		s->wq_tail->next = w;
	else
		s->wq = w;
	s->wq_tail = w;
	if (!s->wop)
		stream_wkick(s);
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
	if (!loop || (o.flags & ~(uint32_t)(TIDE_STREAM_NO_SHUTDOWN |
					     TIDE_STREAM_KEEP_FD)) ||
	    o.reserved[0] || o.reserved[1] || o.reserved[2] || o.reserved[3] ||
	    (o.bufring && tide__bufring_loop(o.bufring) != loop))
		return -EINVAL;
	if (fd < 0 || fstat(fd, &st))
		return -EBADF;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->fd = fd;
	s->flags = o.flags;
	s->sock = S_ISSOCK(st.st_mode);
	s->waiter.fn = stream_rewake;
	s->qfirst = s->qlast = TIDE__BUFRING_NONE;
	if (s->sock && o.bufring) {
		s->br = o.bufring;
		s->links = tide__bufring_links(o.bufring);
	} else {
		s->rsize = o.read_size ? o.read_size : DEFAULT_READ;
		s->rbuf = malloc(s->rsize);
	}
	if (!s->br && !s->rbuf) {
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

	while (s->br && s->qfirst != TIDE__BUFRING_NONE) {
		uint32_t bid = s->qfirst;

		s->qfirst = s->links[bid].next;
		tide_bufring_put(s->br, bid);
	}
	if (!(s->flags & TIDE_STREAM_KEEP_FD)) {
		(void)tide_loop_unfix_fd(s->loop, s->fd); /* -ENOENT: not fixed */
		close(s->fd);
	}
	if (s->on_free)
		s->on_free(s->hook_arg, s);
	free(s->rbuf);
	free(s);
	if (p)
		tide_promise_resolve(p, err == -ECANCELED ? 0 : err, NULL);
}

static void stream_close_step(struct tide_stream *s)
{
	if (s->wq)
		return; /* stream_wdone() calls again once they went out */
	if (!s->shut_done) {
		s->shut_done = true;
		if (s->sock && !(s->flags & TIDE_STREAM_NO_SHUTDOWN) &&
		    !s->wr_err)
			shutdown(s->fd, SHUT_WR);
		if (s->br)
			tide__bufring_unwait(s->br, &s->waiter);
		if (s->multi)
			tide_future_cancel(s->multi);
		if (s->rop)
			tide_future_cancel(s->rop);
	}
	if (s->ops == 0)
		stream_finalize(s);
}

struct tide_future *tide_stream_close(struct tide_stream *s)
{
	struct tide_future *p;

	if (!s)
		return NULL;
	if (s->closing)
		return tide_future_fail(s->loop, -EALREADY);
	p = tide_promise_new(s->loop);
	s->closing = true;
	s->close_p = p;
	if (s->rd)
		stream_rd_finish(s, -ECANCELED);
	stream_close_step(s);
	return p;
}
