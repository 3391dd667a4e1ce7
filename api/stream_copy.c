// SPDX-License-Identifier: MIT
/*
 * stream_copy.c - tide_stream_copy_bidi(): two pumps over a pair of
 * streams, one each way.  A pump waits for input on its source, then
 * sends everything buffered there (up to the buffer size) straight from
 * the source's own buffers - the ring buffers a multishot receive filled,
 * or the stream's read buffer - as one sendmsg, and gives the input back
 * once it went out: no copy through a user buffer, and chunks that
 * arrived while a send was in flight go out together in the next.  End
 * of stream on one side half-closes the other; an error either way
 * cancels the other pump through tide_stream_cancel(), so the result
 * comes only once neither pump has an operation left and no input is
 * lent out.
 */
#include <errno.h>
#include <stdlib.h>

#include "stream_impl.h"

#define DEFAULT_COPY 65536u /* bytes per send at most */

enum pump_state { P_READ, P_WRITE, P_SHUT, P_DONE };

struct pump {
	struct copy *c;
	struct tide_stream *src, *dst;
	struct iovec iov[STREAM_IOV_MAX]; /* src's input, being sent */
	size_t lent;			  /* bytes in iov */
	uint64_t bytes;
	int state;
};

struct copy {
	struct tide_future *p;
	struct tide_copy_stats *st;
	struct pump dir[2];
	size_t size;
	int err;
	int running; /* pumps not P_DONE */
};

static void pump_read(struct pump *u);

static void copy_finish(struct copy *c)
{
	struct tide_future *p = c->p;
	int64_t res = c->err ? c->err :
			       (int64_t)(c->dir[0].bytes + c->dir[1].bytes);

	if (c->st) {
		c->st->a_to_b = c->dir[0].bytes;
		c->st->b_to_a = c->dir[1].bytes;
	}
	free(c);
	tide_promise_resolve(p, res, NULL);
}

/* Stop the pump in whatever it waits for; its callback then ends it. */
static void pump_cancel(struct pump *u)
{
	if (u->state == P_READ)
		tide_stream_cancel(u->src, TIDE_STREAM_CANCEL_READ);
	else if (u->state == P_WRITE || u->state == P_SHUT)
		tide_stream_cancel(u->dst, TIDE_STREAM_CANCEL_WRITE);
}

/* running counts the live pumps plus a hold taken while a cancel may
 * complete the other pump inline and so bring running to zero */
static void copy_put(struct copy *c)
{
	if (--c->running == 0)
		copy_finish(c);
}

static void pump_end(struct pump *u, int err)
{
	struct copy *c = u->c;

	u->state = P_DONE;
	if (err && !c->err) {
		c->err = err;
		c->running++;
		pump_cancel(&c->dir[u == &c->dir[0]]);
		copy_put(c);
	}
	copy_put(c);
}

static void pump_shut_done(void *arg, int64_t res, void *payload)
{
	struct pump *u = arg;

	(void)payload;
	/* the peer may have gone already: its own side reports that */
	if (res == -ENOTCONN || res == -EPIPE || res == -ECONNRESET)
		res = 0;
	pump_end(u, (int)res);
}

static void pump_wrote(void *arg, int64_t res, void *payload)
{
	struct pump *u = arg;

	(void)payload;
	/* the input goes back to src whatever happened; what went out is
	 * consumed (all of it unless the write failed) */
	tide__stream_release(u->src, res < 0 ? 0 : u->lent);
	u->lent = 0;
	if (res < 0) {
		pump_end(u, (int)res);
		return;
	}
	u->bytes += (uint64_t)res;
	if (u->c->err) {
		pump_end(u, 0);
		return;
	}
	pump_read(u);
}

static void pump_got(void *arg, int64_t res, void *payload)
{
	struct pump *u = arg;
	struct tide_future *f;
	unsigned n;

	(void)payload;
	if (res < 0 || u->c->err) {
		pump_end(u, res < 0 ? (int)res : 0);
		return;
	}
	if (res == 0) {
		if (!u->dst->sock) {
			pump_end(u, 0);
			return;
		}
		u->state = P_SHUT;
		f = tide_stream_shutdown(u->dst);
		if (tide_future_on_done(f, pump_shut_done, u))
			pump_end(u, -ENOMEM);
		return;
	}
	u->state = P_WRITE;
	n = tide__stream_peekv(u->src, u->iov, STREAM_IOV_MAX, u->c->size,
			       &u->lent);
	f = tide__stream_writev(u->dst, u->iov, n, u->lent);
	if (tide_future_on_done(f, pump_wrote, u)) {
		tide__stream_release(u->src, 0);
		pump_end(u, -ENOMEM);
	}
}

static void pump_read(struct pump *u)
{
	struct tide_future *f;

	u->state = P_READ;
	f = tide__stream_wait_input(u->src);
	if (tide_future_on_done(f, pump_got, u))
		pump_end(u, -ENOMEM);
}

static void copy_cancel(void *arg)
{
	struct copy *c = arg;

	if (!c->err)
		c->err = -ECANCELED;
	c->running++;
	pump_cancel(&c->dir[0]);
	pump_cancel(&c->dir[1]);
	copy_put(c);
}

struct tide_future *tide_stream_copy_bidi(struct tide_stream *a,
					  struct tide_stream *b,
					  size_t buf_size,
					  struct tide_copy_stats *st)
{
	struct tide_future *p;
	struct copy *c;
	size_t size = buf_size ? buf_size : DEFAULT_COPY;

	if (!a && !b)
		return NULL;
	if (!a || !b || a == b || a->loop != b->loop)
		return tide_future_fail(a ? a->loop : b->loop, -EINVAL);
	if (a->closing || b->closing)
		return tide_future_fail(a->loop, -EBADF);
	if (a->rd || b->rd)
		return tide_future_fail(a->loop, -EBUSY);
	if (size > ((size_t)1 << 30))
		return tide_future_fail(a->loop, -EINVAL);
	c = tide__malloc(a->loop, sizeof(*c));
	if (!c)
		return NULL;
	p = tide_promise_new(a->loop);
	if (!p || tide_promise_on_cancel(p, copy_cancel, c)) {
		tide_future_release(p);
		free(c);
		return NULL;
	}
	c->p = p;
	c->st = st;
	c->size = size;
	c->err = 0;
	c->running = 2;
	c->dir[0] = (struct pump){ .c = c, .src = a, .dst = b };
	c->dir[1] = (struct pump){ .c = c, .src = b, .dst = a };
	pump_read(&c->dir[0]);
	/* the first could not wait (no memory): it cancelled a pump that had
	 * not started, so this one must not start either (else it waits for
	 * input that nothing will send, for ever) */
	if (c->err)
		pump_end(&c->dir[1], 0);
	else
		pump_read(&c->dir[1]);
	return p;
}
