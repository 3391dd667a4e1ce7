// SPDX-License-Identifier: MIT
/*
 * test_stream_read.c - the stream read path: a read's continuation runs
 * from the completion that brought its bytes (and may close the stream
 * there), a read served from buffered input resolves before
 * tide_stream_read() returns, a chunk larger than the read stays queued in
 * order, cancelled reads leave the stream reusable, and tasks reading a
 * stream; each over a buffer ring and over the stream's own read buffer.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"

/* A stream over one end of a socketpair (the other in *peer), over a ring
 * of count buffers of size bytes (*brp) when brp is not NULL and the
 * kernel has rings; with brp NULL, over its own read buffer. */
static struct tide_stream *pair_stream(struct tide_loop *loop,
				       struct tide_bufring **brp,
				       unsigned count, unsigned size, int *peer)
{
	struct tide_stream_options so = { 0 };
	struct tide_stream *s;
	int sv[2];

	if (brp) {
		struct tide_bufring_options bo = { .count = count,
						   .size = size };
		int ret = tide_bufring_new(loop, brp, &bo);

		if (ret == -EOPNOTSUPP) {
			tide_loop_free(loop);
			skip();
		}
		assert_int_equal(ret, 0);
		so.bufring = *brp;
	}
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(tide_stream_new(loop, sv[0], &so, &s), 0);
	*peer = sv[1];
	return s;
}

static void pair_done(struct tide_loop *loop, struct tide_bufring *br,
		      unsigned count, int peer)
{
	close(peer);
	if (br) {
		/* every lent buffer came back */
		assert_int_equal(tide_bufring_avail(br), count);
		tide_bufring_free(br);
	}
	tide_loop_free(loop);
}

/* ---- a read's continuation closes the stream where it runs ---- */

struct closer {
	struct tide_stream *s;
	char buf[64];
	struct t_seen read, close;
};

static void closer_got(void *arg, int64_t res, void *payload)
{
	struct closer *c = arg;

	(void)payload;
	c->read.res = res;
	c->read.n++;
	/* the stream goes away under the completion that resolved the read
	 * (ASan and valgrind see any touch of it after this) */
	assert_int_equal(tide_future_on_done(tide_stream_close(c->s), t_seen_cb,
					     &c->close),
			 0);
}

static void closes_in_continuation(bool ring, bool eof)
{
	struct tide_loop *loop = t_loop();
	struct tide_bufring *br = NULL;
	struct closer c = { 0 };
	int peer;

	c.s = pair_stream(loop, ring ? &br : NULL, 16, 64, &peer);
	assert_int_equal(
		tide_future_on_done(tide_stream_read(c.s, c.buf, sizeof(c.buf)),
				    closer_got, &c),
		0);
	/* nothing there yet: the read waits */
	assert_int_equal(tide_loop_run_once(loop, 0) >= 0, 1);
	assert_int_equal(c.read.n, 0);
	if (eof)
		assert_int_equal(shutdown(peer, SHUT_WR), 0);
	else
		assert_int_equal(write(peer, "hello", 5), 5);
	while (c.close.n == 0)
		assert_true(tide_loop_run_once(loop, 1) >= 0);
	assert_int_equal(c.read.n, 1);
	assert_int_equal(c.read.res, eof ? 0 : 5);
	if (!eof)
		assert_memory_equal(c.buf, "hello", 5);
	assert_int_equal(c.close.n, 1);
	assert_int_equal(c.close.res, 0);
	pair_done(loop, br, 16, peer);
}

static void test_tide_stream_read_closes_in_continuation_ring(void **state)
{
	(void)state;
	closes_in_continuation(true, false);
}

static void test_tide_stream_read_closes_in_continuation(void **state)
{
	(void)state;
	closes_in_continuation(false, false);
}

static void test_tide_stream_read_closes_at_eof_ring(void **state)
{
	(void)state;
	closes_in_continuation(true, true);
}

static void test_tide_stream_read_closes_at_eof(void **state)
{
	(void)state;
	closes_in_continuation(false, true);
}

/* ---- buffered input: resolved at once, in order, nothing lost ---- */

static void buffered_in_order(bool ring)
{
	struct tide_loop *loop = t_loop();
	struct tide_bufring *br = NULL;
	struct tide_stream *s;
	struct tide_future *f;
	char buf[8];
	int peer;

	/* 8-byte ring buffers: "abcdefgh" is one lent buffer, read 3 bytes
	 * at a time; the rest stays queued */
	s = pair_stream(loop, ring ? &br : NULL, 16, 8, &peer);
	f = tide_stream_read(s, buf, 3);
	assert_false(tide_future_done(f)); /* nothing buffered: pending */
	assert_int_equal(write(peer, "abcdefgh", 8), 8);
	assert_int_equal(t_wait(loop, f), 3);
	assert_memory_equal(buf, "abc", 3);
	/* the rest is buffered: the read is over before the call returns */
	f = tide_stream_read(s, buf, 3);
	assert_true(tide_future_done(f));
	assert_int_equal(tide_future_result(f), 3);
	tide_future_release(f);
	assert_memory_equal(buf, "def", 3);
	f = tide_stream_read(s, buf, sizeof(buf));
	assert_true(tide_future_done(f));
	assert_int_equal(tide_future_result(f), 2);
	tide_future_release(f);
	assert_memory_equal(buf, "gh", 2);
	/* an exact read of more than there is waits for the rest */
	assert_int_equal(write(peer, "ijk", 3), 3);
	f = tide_stream_read_exactly(s, buf, 5);
	assert_int_equal(write(peer, "lm", 2), 2);
	assert_int_equal(t_wait(loop, f), 5);
	assert_memory_equal(buf, "ijklm", 5);
	/* the end: buffered bytes first, then 0 */
	assert_int_equal(write(peer, "n", 1), 1);
	assert_int_equal(shutdown(peer, SHUT_WR), 0);
	assert_int_equal(t_wait(loop, tide_stream_read(s, buf, sizeof(buf))),
			 1);
	assert_int_equal(buf[0], 'n');
	assert_int_equal(t_wait(loop, tide_stream_read(s, buf, sizeof(buf))),
			 0);
	assert_int_equal(t_wait(loop, tide_stream_close(s)), 0);
	pair_done(loop, br, 16, peer);
}

static void test_tide_stream_read_buffered_in_order_ring(void **state)
{
	(void)state;
	buffered_in_order(true);
}

static void test_tide_stream_read_buffered_in_order(void **state)
{
	(void)state;
	buffered_in_order(false);
}

/* ---- cancelled reads leave the stream as it was ---- */

static void cancel_and_read_again(bool ring)
{
	struct tide_loop *loop = t_loop();
	struct tide_bufring *br = NULL;
	struct tide_stream *s;
	struct tide_future *f;
	char buf[16];
	int peer;

	s = pair_stream(loop, ring ? &br : NULL, 16, 64, &peer);
	for (int round = 0; round < 3; round++) {
		/* a pending read cancelled through its future, then one
		 * cancelled through the stream: each fails alone */
		f = tide_stream_read(s, buf, sizeof(buf));
		assert_false(tide_future_done(f));
		assert_int_equal(tide_future_cancel(f), 0);
		assert_int_equal(t_wait(loop, f), -ECANCELED);
		f = tide_stream_read(s, buf, sizeof(buf));
		assert_int_equal(tide_stream_cancel(s, TIDE_STREAM_CANCEL_READ),
				 1);
		assert_int_equal(t_wait(loop, f), -ECANCELED);
		/* and the next read gets the bytes */
		f = tide_stream_read(s, buf, sizeof(buf));
		assert_int_equal(write(peer, "xyz", 3), 3);
		assert_int_equal(t_wait(loop, f), 3);
		assert_memory_equal(buf, "xyz", 3);
	}
	/* a second pending read is refused, the first one still works */
	f = tide_stream_read(s, buf, sizeof(buf));
	assert_int_equal(t_wait(loop, tide_stream_read(s, buf, 1)), -EBUSY);
	assert_int_equal(write(peer, "q", 1), 1);
	assert_int_equal(t_wait(loop, f), 1);
	/* closing fails the pending read */
	f = tide_stream_read(s, buf, sizeof(buf));
	tide_future_release(tide_stream_close(s));
	assert_int_equal(t_wait(loop, f), -ECANCELED);
	while (tide_loop_pending(loop))
		assert_true(tide_loop_run_once(loop, 1) >= 0);
	pair_done(loop, br, 16, peer);
}

static void test_tide_stream_read_cancel_again_ring(void **state)
{
	(void)state;
	cancel_and_read_again(true);
}

static void test_tide_stream_read_cancel_again(void **state)
{
	(void)state;
	cancel_and_read_again(false);
}

/* A pending read's cancellation is the stream's: the promise API refuses
 * to take it over (it would be the handler of every later read too). */
static void never_called(void *arg)
{
	(void)arg;
	fail();
}

static void test_tide_stream_read_refuses_on_cancel(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_stream *s;
	struct tide_future *f;
	char buf[8];
	int peer;

	(void)state;
	s = pair_stream(loop, NULL, 0, 0, &peer);
	f = tide_stream_read(s, buf, sizeof(buf));
	assert_non_null(f);
	assert_false(tide_future_done(f));
	assert_int_equal(tide_promise_on_cancel(f, never_called, NULL),
			 -EINVAL);
	assert_int_equal(write(peer, "abc", 3), 3);
	assert_int_equal(t_wait(loop, f), 3);
	assert_memory_equal(buf, "abc", 3);
	tide_future_release(f);
	tide_future_release(tide_stream_close(s));
	tide_loop_run(loop);
	pair_done(loop, NULL, 0, peer);
}

/* ---- tasks ---- */

struct treader {
	struct tide_stream *s;
	int peer;
	char got[64];
	size_t len;
};

/* Reads until the end, then closes the stream itself: the last resume
 * comes from the completion that reported the end. */
static int64_t reader_task(void *arg)
{
	struct treader *r = arg;
	int64_t n;

	while ((n = tide_await(tide_stream_read(
			r->s, r->got + r->len, sizeof(r->got) - r->len))) > 0) {
		r->len += (size_t)n;
		/* the peer sends the next piece once this one is in */
		if (r->len < 12) {
			char c = (char)('a' + r->len);

			if (write(r->peer, &c, 1) != 1)
				return -EIO;
		} else if (shutdown(r->peer, SHUT_WR)) {
			return -EIO;
		}
	}
	if (n < 0)
		return n;
	return tide_await(tide_stream_close(r->s)) < 0 ? -EIO : (int64_t)r->len;
}

static void task_reads(bool ring)
{
	struct tide_loop *loop = t_loop();
	struct tide_bufring *br = NULL;
	struct treader r = { 0 };
	struct tide_future *f;

	r.s = pair_stream(loop, ring ? &br : NULL, 16, 64, &r.peer);
	f = tide_task_spawn(loop, reader_task, &r, NULL);
	assert_int_equal(write(r.peer, "a", 1), 1);
	assert_int_equal(t_wait(loop, f), 12);
	assert_int_equal(r.len, 12);
	assert_memory_equal(r.got, "abcdefghijkl", 12);
	pair_done(loop, br, 16, r.peer);
}

static void test_tide_stream_read_in_task_ring(void **state)
{
	(void)state;
	task_reads(true);
}

static void test_tide_stream_read_in_task(void **state)
{
	(void)state;
	task_reads(false);
}

/* A task cancelled while it awaits a stream read sees -ECANCELED, and the
 * stream reads on for the next reader. */
static int64_t cancelled_reader(void *arg)
{
	struct treader *r = arg;

	return tide_await(tide_stream_read(r->s, r->got, sizeof(r->got)));
}

static void task_cancelled(bool ring)
{
	struct tide_loop *loop = t_loop();
	struct tide_bufring *br = NULL;
	struct treader r = { 0 };
	struct tide_future *f;

	r.s = pair_stream(loop, ring ? &br : NULL, 16, 64, &r.peer);
	f = tide_task_spawn(loop, cancelled_reader, &r, NULL);
	for (int i = 0; i < 3; i++)
		assert_true(tide_loop_run_once(loop, 0) >= 0);
	assert_false(tide_future_done(f));
	assert_int_equal(tide_future_cancel(f), 0);
	assert_int_equal(t_wait(loop, f), -ECANCELED);
	f = tide_task_spawn(loop, cancelled_reader, &r, NULL);
	assert_int_equal(write(r.peer, "after", 5), 5);
	assert_int_equal(t_wait(loop, f), 5);
	assert_memory_equal(r.got, "after", 5);
	assert_int_equal(t_wait(loop, tide_stream_close(r.s)), 0);
	pair_done(loop, br, 16, r.peer);
}

static void test_tide_stream_read_task_cancelled_ring(void **state)
{
	(void)state;
	task_cancelled(true);
}

static void test_tide_stream_read_task_cancelled(void **state)
{
	(void)state;
	task_cancelled(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_tide_stream_read_closes_in_continuation_ring),
		cmocka_unit_test(test_tide_stream_read_closes_in_continuation),
		cmocka_unit_test(test_tide_stream_read_closes_at_eof_ring),
		cmocka_unit_test(test_tide_stream_read_closes_at_eof),
		cmocka_unit_test(test_tide_stream_read_buffered_in_order_ring),
		cmocka_unit_test(test_tide_stream_read_buffered_in_order),
		cmocka_unit_test(test_tide_stream_read_cancel_again_ring),
		cmocka_unit_test(test_tide_stream_read_cancel_again),
		cmocka_unit_test(test_tide_stream_read_refuses_on_cancel),
		cmocka_unit_test(test_tide_stream_read_in_task_ring),
		cmocka_unit_test(test_tide_stream_read_in_task),
		cmocka_unit_test(test_tide_stream_read_task_cancelled_ring),
		cmocka_unit_test(test_tide_stream_read_task_cancelled),
	};

	return T_RUN("stream_read", tests);
}
