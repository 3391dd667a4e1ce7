// SPDX-License-Identifier: MIT
/*
 * test_fault.c - fault injection itself (engine/core/fault.c): TIDE_FAULT's
 * grammar, that each kind strikes where it should and only where the
 * kernel may (pipe writes up to PIPE_BUF and datagrams are never cut), and
 * that the library absorbs each: epoll retries EINTR and waits after a
 * spurious EAGAIN, streams and servers start a multishot again when it ends
 * early, operations that find the SQ full wait in the backlog, one the
 * kernel cancelled on its own says -ECANCELED having touched nothing (and
 * the library issues its own again, but never one a caller cancelled),
 * and allocations that fail reach the caller as NULL or -ENOMEM with
 * nothing lost for a caller that tries again (the slab, the engine's
 * queues and records, pool jobs, tasks, combinators, posts, sendfile),
 * never after a system call was made; a close needs no memory; a server
 * out of memory keeps trying to accept.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "loop_impl.h"

/* A loop of the current configuration under TIDE_FAULT=spec. */
static struct tide_loop *fault_loop(const char *spec)
{
	struct tide_loop *loop;

	assert_int_equal(setenv("TIDE_FAULT", spec, 1), 0);
	loop = t_loop();
	unsetenv("TIDE_FAULT");
	return loop;
}

static void test_fault_spec_bad(void **state)
{
	static const char *const bad[] = {
		"seed=0",
		"short=5",
		"seed=1,eagain=101",
		"seed=1,bogus=3",
		"seed=1,nomore=x",
		"seed=1,eintr=-1",
		"seed=1,report=2",
		"seed=1,alloc=101",
		"seed=1,cancel=x",
		"seed=1,late",
		"seed=99999999999999999999",
	};
	struct tide_loop *loop;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("TIDE_FAULT", bad[i], 1);
		loop = NULL;
		assert_int_equal(tide_loop_new(&loop, &t_opts), -EINVAL);
		assert_null(loop);
	}
	unsetenv("TIDE_FAULT");
	loop = fault_loop("seed=7,short=0,late=0,eagain=1,eintr=2,nomore=3,"
			  "nomem=4,cancel=5,alloc=6");
	assert_int_equal(loop->fault.short_pct, 0);
	assert_int_equal(loop->fault.eagain_pct, 1);
	assert_int_equal(loop->fault.eintr_pct, 2);
	assert_int_equal(loop->fault.nomore_pct, 3);
	assert_int_equal(loop->fault.nomem_pct, 4);
	assert_int_equal(loop->fault.cancel_pct, 5);
	assert_int_equal(loop->fault.alloc_pct, 6);
	tide_loop_free(loop);
	/* the defaults of the kinds not named */
	loop = fault_loop("seed=7");
	assert_int_equal(loop->fault.short_pct, 25);
	assert_int_equal(loop->fault.late_pct, 25);
	assert_int_equal(loop->fault.eagain_pct, 10);
	assert_int_equal(loop->fault.nomem_pct, 10);
	/* the two kinds a caller sees are off unless named */
	assert_int_equal(loop->fault.cancel_pct, 0);
	assert_int_equal(loop->fault.alloc_pct, 0);
	tide_loop_free(loop);
}

/* short=100 cuts stream transfers but never a pipe write of PIPE_BUF or
 * less (atomic) nor a datagram (a shorter buffer would truncate it). */
static void test_fault_short_only_where_legal(void **state)
{
	struct tide_loop *loop = fault_loop("seed=3,short=100,late=0,eagain=0,"
					    "eintr=0,nomore=0,nomem=0");
	static char big[PIPE_BUF * 2];
	char buf[256], dgram[100];
	int p[2], d[2], s[2];
	uint64_t cut;

	(void)state;
	assert_int_equal(pipe(p), 0);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(t_wait(loop, tide_write(loop, p[1], "hello", 5,
							 (uint64_t)-1)),
				 5);
		assert_int_equal(read(p[0], buf, sizeof(buf)), 5);
	}
	assert_int_equal(loop->fault.shortened, 0);
	/* above PIPE_BUF a pipe write may be cut */
	int64_t n = t_wait(loop, tide_write(loop, p[1], big, sizeof(big),
					    (uint64_t)-1));
	assert_true(n >= 1 && n <= (int64_t)sizeof(big));
	assert_int_equal(loop->fault.shortened, 1);
	close(p[0]);
	close(p[1]);

	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, d), 0);
	memset(dgram, 'd', sizeof(dgram));
	for (int i = 0; i < 50; i++) {
		assert_int_equal(t_wait(loop, tide_send(loop, d[0], dgram,
							sizeof(dgram), 0)),
				 sizeof(dgram));
		assert_int_equal(t_wait(loop, tide_recv(loop, d[1], buf,
							sizeof(buf), 0)),
				 sizeof(dgram));
	}
	assert_int_equal(loop->fault.shortened, 1);
	close(d[0]);
	close(d[1]);

	/* a stream socket is cut */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
	cut = loop->fault.shortened;
	for (int i = 0; i < 20; i++) {
		assert_int_equal(write(s[0], "0123456789", 10), 10);
		n = t_wait(loop, tide_recv(loop, s[1], buf, 10, 0));
		assert_true(n >= 1 && n <= 10);
		while (n < 10) {
			int64_t m = t_wait(loop, tide_recv(loop, s[1], buf + n,
							   10 - (size_t)n, 0));

			assert_true(m >= 1);
			n += m;
		}
		assert_memory_equal(buf, "0123456789", 10);
	}
	assert_true(loop->fault.shortened > cut);
	close(s[0]);
	close(s[1]);
	tide_loop_free(loop);
}

/* epoll: a try-first call that says EINTR is made again at once, one that
 * says EAGAIN waits for readiness; either way the operation completes
 * with the right result. */
static void errno_kind(const char *spec, bool intr)
{
	struct tide_loop *loop = fault_loop(spec);
	struct tide_addr a, peer;
	char buf[64];
	int s[2], p[2], lfd, c, afd;

	bool ep = t_loop_epoll(loop);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
	assert_int_equal(pipe(p), 0);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(
			t_wait(loop, tide_send(loop, s[0], "abc", 3, 0)), 3);
		assert_int_equal(t_wait(loop, tide_recv(loop, s[1], buf,
							sizeof(buf), 0)),
				 3);
		assert_memory_equal(buf, "abc", 3);
		assert_int_equal(t_wait(loop, tide_write(loop, p[1], "xy", 2,
							 (uint64_t)-1)),
				 2);
		assert_int_equal(t_wait(loop,
					tide_read(loop, p[0], buf, sizeof(buf),
						  (uint64_t)-1)),
				 2);
	}
	assert_int_equal(tide_addr_parse(&a, "127.0.0.1:0"), 0);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(tide_bind(lfd, &a), 0);
	assert_int_equal(tide_listen(lfd, 8), 0);
	a.len = sizeof(a.u);
	assert_int_equal(getsockname(lfd, &a.u.sa, &a.len), 0);
	for (int i = 0; i < 5; i++) {
		c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_int_equal(connect(c, &a.u.sa, a.len), 0);
		afd = (int)t_wait(loop, tide_accept(loop, lfd, &peer, 0));
		assert_true(afd >= 0);
		close(afd);
		close(c);
	}
	if (!ep) {
		/* io_uring tries no call itself: nothing was injected */
		assert_int_equal(loop->fault.intr + loop->fault.again, 0);
	} else if (intr) {
		assert_true(loop->fault.intr > 50);
		assert_int_equal(loop->fault.again, 0);
	} else {
		assert_true(loop->fault.again > 50);
		assert_int_equal(loop->fault.intr, 0);
	}
	close(lfd);
	close(s[0]);
	close(s[1]);
	close(p[0]);
	close(p[1]);
	tide_loop_free(loop);
}

static void test_fault_epoll_eintr_retried(void **state)
{
	(void)state;
	errno_kind("seed=5,short=0,late=0,eagain=0,eintr=100,nomore=0,nomem=0",
		   true);
}

static void test_fault_epoll_eagain_waits(void **state)
{
	(void)state;
	errno_kind("seed=6,short=0,late=0,eagain=100,eintr=0,nomore=0,nomem=0",
		   false);
}

#define NOMORE "seed=11,short=0,late=0,eagain=0,eintr=0,nomore=100,nomem=0"

struct rx {
	struct tide_bufring *br;
	char got[64];
	uint32_t n;
};

static void on_rx(void *arg, void *data, uint32_t len, unsigned bid)
{
	struct rx *r = arg;

	if (r->n + len <= sizeof(r->got))
		memcpy(r->got + r->n, data, len);
	r->n += len;
	assert_int_equal(tide_bufring_put(r->br, bid), 0);
}

/* A raw multishot receive ended early says -ENOBUFS, as the kernel does,
 * though the ring still has buffers: its owner starts it again. */
static void test_fault_nomore_recv_multishot(void **state)
{
	struct tide_loop *loop = fault_loop(NOMORE);
	struct rx r = { 0 };
	struct tide_future *m;
	int s[2];

	(void)state;
	assert_int_equal(tide_bufring_new(loop, &r.br, NULL), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
	assert_int_equal(write(s[0], "first", 5), 5);
	m = tide_recv_multishot(loop, s[1], r.br, on_rx, &r);
	assert_int_equal(t_wait(loop, m), -ENOBUFS);
	assert_int_equal(r.n, 5);
	assert_true(tide_bufring_avail(r.br) > 0);
	assert_int_equal(loop->fault.ended, 1);
	/* started again, it goes on where it stopped */
	assert_int_equal(write(s[0], "second", 6), 6);
	m = tide_recv_multishot(loop, s[1], r.br, on_rx, &r);
	assert_int_equal(t_wait(loop, m), -ENOBUFS);
	assert_int_equal(r.n, 11);
	assert_memory_equal(r.got, "firstsecond", 11);
	/* the owner's own cancel stays -ECANCELED */
	m = tide_recv_multishot(loop, s[1], r.br, on_rx, &r);
	tide_loop_run_once(loop, 0);
	assert_int_equal(tide_future_cancel(m), 0);
	assert_int_equal(t_wait(loop, m), -ECANCELED);
	close(s[0]);
	close(s[1]);
	tide_bufring_free(r.br);
	tide_loop_free(loop);
}

/* Streams read through a multishot receive: ended after every buffer,
 * they start it again and lose no byte. */
static void test_fault_nomore_stream(void **state)
{
	struct tide_loop *loop = fault_loop(NOMORE);
	struct tide_stream *a, *b;
	size_t len = 1u << 20;
	unsigned char *out = malloc(len), *in = malloc(len);
	struct tide_future *w, *r;
	int x, y;

	(void)state;
	assert_non_null(out);
	assert_non_null(in);
	for (size_t i = 0; i < len; i++)
		out[i] = t_pattern(i);
	struct tide_stream_options o = { 0 };
	struct tide_bufring *br;

	assert_int_equal(tide_bufring_new(loop, &br, NULL), 0);
	o.bufring = br;
	t_tcp_pair(loop, &x, &y);
	assert_int_equal(tide_stream_new(loop, x, NULL, &a), 0);
	assert_int_equal(tide_stream_new(loop, y, &o, &b), 0);
	w = tide_stream_write(a, out, len);
	r = tide_stream_read_exactly(b, in, len);
	assert_int_equal(t_wait(loop, r), (int64_t)len);
	assert_int_equal(t_wait(loop, w), (int64_t)len);
	assert_memory_equal(in, out, len);
	assert_true(loop->fault.ended > 0);
	tide_future_release(r);
	tide_future_release(w);
	assert_int_equal(t_wait(loop, tide_stream_close(a)), 0);
	assert_int_equal(t_wait(loop, tide_stream_close(b)), 0);
	tide_bufring_free(br);
	free(out);
	free(in);
	tide_loop_free(loop);
}

static void count_conn(void *arg, struct tide_stream *s)
{
	(*(int *)arg)++;
	tide_future_release(tide_stream_close(s));
}

/* A server's multishot accept ended after every connection (-EINTR)
 * starts again: every client is accepted, none counts as an error. */
static void test_fault_nomore_server(void **state)
{
	struct tide_loop *loop = fault_loop(NOMORE);
	struct tide_server_stats st;
	struct tide_server *srv;
	struct tide_addr a;
	int conns = 0, c[20];

	(void)state;
	assert_int_equal(tide_addr_parse(&a, "127.0.0.1:0"), 0);
	assert_int_equal(
		tide_server_new(loop, &a, NULL, count_conn, &conns, &srv), 0);
	tide_server_addr(srv, &a);
	for (int i = 0; i < 20; i++) {
		c[i] = (int)t_wait(loop,
				   tide_connect_timeout(loop, &a, SOCK_STREAM,
							2000000000ull));
		assert_true(c[i] >= 0);
	}
	/* each connection costs the server one turn at most: bounded */
	for (int i = 0; i < 100000 && conns < 20; i++)
		tide_loop_run_once(loop, 1);
	assert_int_equal(conns, 20);
	tide_server_stats(srv, &st);
	assert_int_equal(st.accepted, 20);
	assert_int_equal(st.accept_errors, 0);
	assert_true(loop->fault.ended > 0);
	assert_int_equal(t_wait(loop, tide_server_stop(srv, 100000000ull)), 0);
	tide_server_free(srv);
	for (int i = 0; i < 20; i++)
		close(c[i]);
	tide_loop_free(loop);
}

/* io_uring: operations that find the SQ full wait in the backlog, in
 * order, and complete (epoll has no SQ: nothing is injected there). */
static void test_fault_nomem_backlog(void **state)
{
	struct tide_loop *loop =
		fault_loop("seed=13,short=0,late=0,eagain=0,eintr=0,nomore=0,"
			   "nomem=100");
	struct tide_future *f[64];
	struct tide_loop_stats ls;
	char buf[8];
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	for (int i = 0; i < 64; i++)
		f[i] = tide_nop(loop);
	for (int i = 0; i < 64; i++) {
		assert_int_equal(t_wait(loop, f[i]), 0);
		tide_future_release(f[i]);
	}
	assert_int_equal(
		t_wait(loop, tide_write(loop, p[1], "ok", 2, (uint64_t)-1)), 2);
	assert_int_equal(t_wait(loop, tide_read(loop, p[0], buf, sizeof(buf),
						(uint64_t)-1)),
			 2);
	tide_loop_stats(loop, &ls);
	if (t_loop_epoll(loop)) {
		/* no SQ there: nothing to fill */
		assert_int_equal(loop->fault.sq_full, 0);
	} else {
		assert_true(loop->fault.sq_full >= 66);
		assert_true(ls.backlog_peak >= 64);
	}
	close(p[0]);
	close(p[1]);
	tide_loop_free(loop);
}

/* cancel=100: every single-shot operation is cancelled by "the kernel"
 * before it runs: -ECANCELED, nothing read, nothing written; a deadline
 * finds nothing to attach to. */
static void test_fault_cancel_before_start(void **state)
{
	struct tide_loop *loop =
		fault_loop("seed=17,short=0,late=0,eagain=0,eintr=0,nomore=0,"
			   "nomem=0,cancel=100");
	char buf[8];
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "kept", 4), 4);
	assert_int_equal(t_wait(loop, tide_read(loop, p[0], buf, sizeof(buf),
						(uint64_t)-1)),
			 -ECANCELED);
	assert_int_equal(
		t_wait(loop, tide_write(loop, p[1], "lost", 4, (uint64_t)-1)),
		-ECANCELED);
	assert_int_equal(t_wait(loop, tide_nop(loop)), -ECANCELED);
	assert_int_equal(read(p[0], buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "kept", 4);
	assert_int_equal(loop->fault.cancelled, 3);
	close(p[0]);
	close(p[1]);
	tide_loop_free(loop);
}

/* ---- cancel: the library redoes what it issued itself ---- */

/* The seed of the cancel and alloc tests: TIDE_FAULT_TEST_SEED (a stress
 * run over many seeds), else def. */
static unsigned test_seed(unsigned def)
{
	const char *e = getenv("TIDE_FAULT_TEST_SEED");

	return e && *e ? (unsigned)strtoul(e, NULL, 10) : def;
}

static struct tide_loop *seeded_loop(const char *kinds, unsigned def)
{
	char spec[128];

	snprintf(spec, sizeof(spec), "seed=%u,%s", test_seed(def), kinds);
	return fault_loop(spec);
}

/* f's outcome, seen by a callback that must run exactly once. */
static int64_t once(struct tide_loop *loop, struct tide_future *f)
{
	struct t_seen e = { 0, 0 };
	uint64_t t0 = tide_now_ns();

	assert_non_null(f);
	assert_int_equal(tide_future_on_done(f, t_seen_cb, &e), 0);
	while (e.n == 0) {
		assert_true(tide_loop_run_once(loop, 1) >= 0);
		assert_true(tide_now_ns() - t0 < 60000000000ull);
	}
	assert_true(tide_loop_run_once(loop, 0) >= 0);
	assert_int_equal(e.n, 1);
	return e.res;
}

/* The echo side of the stream tests: reads what comes and writes it back,
 * all in callbacks; a call that returns NULL, or a result of -ENOMEM
 * (nothing moved), is tried again on the next turn. */
struct echo {
	struct tide_loop *loop;
	struct tide_stream *s;
	char buf[4096];
	size_t len; /* bytes in buf still to send back */
	bool eof;
	bool own; /* free the record and close the stream at the end */
	uint64_t echoed;
	int retries;
};

static void echo_go(void *arg);

static void echo_later(struct echo *e)
{
	e->retries++;
	/* queueing it may find no memory too (alloc): again */
	while (tide_call_soon(e->loop, echo_go, e) == -ENOMEM)
		e->retries++;
}

/* echo_go() on the next turn, however often queueing finds no memory. */
static void echo_next(struct echo *e)
{
	int r;

	while ((r = tide_call_soon(e->loop, echo_go, e)) == -ENOMEM)
		e->retries++;
	assert_int_equal(r, 0);
}

static void echo_sent(void *arg, int64_t res, void *payload)
{
	struct echo *e = arg;

	(void)payload;
	if (res == -ENOMEM) {
		echo_later(e);
		return;
	}
	assert_int_equal(res, (int64_t)e->len);
	e->echoed += e->len;
	e->len = 0;
	echo_next(e);
}

static void echo_got(void *arg, int64_t res, void *payload)
{
	struct echo *e = arg;

	(void)payload;
	if (res == -ENOMEM) {
		echo_later(e);
		return;
	}
	if (res == 0 || res == -ECONNRESET) {
		e->eof = true;
		if (e->own) {
			tide_future_release(tide_stream_close(e->s));
			free(e);
		}
		return;
	}
	assert_true(res > 0);
	e->len = (size_t)res;
	echo_next(e);
}

static void echo_go(void *arg)
{
	struct echo *e = arg;
	struct tide_future *f;

	if (e->len)
		f = tide_stream_write(e->s, e->buf, e->len);
	else
		f = tide_stream_read(e->s, e->buf, sizeof(e->buf));
	if (!f) {
		echo_later(e);
		return;
	}
	assert_int_equal(
		tide_future_on_done(f, e->len ? echo_sent : echo_got, e), 0);
}

/* A caller that retries: write all of buf on s, each write again after
 * NULL or -ENOMEM (which say nothing went out).  0, or the error. */
static int64_t write_all(struct tide_loop *loop, struct tide_stream *s,
			 const void *buf, size_t len, int *retries)
{
	struct tide_future *f;
	int64_t r;

	for (;;) {
		f = tide_stream_write(s, buf, len);
		if (!f) {
			(*retries)++;
			assert_true(tide_loop_run_once(loop, 0) >= 0);
			continue;
		}
		r = once(loop, f);
		if (r != -ENOMEM)
			return r == (int64_t)len ? 0 : (r < 0 ? r : -EIO);
		(*retries)++;
	}
}

/* Read exactly len bytes in tide_stream_read() steps, retrying NULL and
 * -ENOMEM.  len, or what ended it (0 for end of stream, -errno). */
static int64_t read_all(struct tide_loop *loop, struct tide_stream *s,
			void *buf, size_t len, int *retries)
{
	size_t got = 0;

	while (got < len) {
		struct tide_future *f =
			tide_stream_read(s, (char *)buf + got, len - got);
		int64_t r;

		if (!f) {
			(*retries)++;
			assert_true(tide_loop_run_once(loop, 0) >= 0);
			continue;
		}
		r = once(loop, f);
		if (r == -ENOMEM) {
			(*retries)++;
			continue;
		}
		if (r <= 0)
			return r;
		got += (size_t)r;
	}
	return (int64_t)got;
}

static int new_stream(struct tide_loop *loop, int fd,
		      const struct tide_stream_options *o,
		      struct tide_stream **out, int *retries)
{
	int r;

	while ((r = tide_stream_new(loop, fd, o, out)) == -ENOMEM)
		(*retries)++;
	return r;
}

static void close_stream(struct tide_loop *loop, struct tide_stream *s)
{
	/* never NULL: the stream holds its close promise's memory */
	assert_int_equal(once(loop, tide_stream_close(s)), 0);
}

/* Every byte through a stream pair, one stream reading from a buffer
 * ring; the client checks the echo chunk by chunk. */
static void stream_echo(struct tide_loop *loop, size_t total, int *retries)
{
	struct tide_stream_options o = { 0 };
	struct tide_bufring *br;
	struct tide_stream *a;
	struct echo *e = calloc(1, sizeof(*e));
	unsigned char out[3000], in[3000];
	int sv[2];

	assert_non_null(e);
	assert_int_equal(tide_bufring_new(loop, &br, NULL), 0);
	o.bufring = br;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(new_stream(loop, sv[0], NULL, &a, retries), 0);
	e->loop = loop;
	assert_int_equal(new_stream(loop, sv[1], &o, &e->s, retries), 0);
	echo_go(e);
	for (size_t off = 0; off < total; off += sizeof(out)) {
		for (size_t i = 0; i < sizeof(out); i++)
			out[i] = t_pattern(off + i);
		assert_int_equal(write_all(loop, a, out, sizeof(out), retries),
				 0);
		assert_int_equal(read_all(loop, a, in, sizeof(in), retries),
				 sizeof(in));
		assert_memory_equal(in, out, sizeof(out));
	}
	/* the echo side sees the end and stops */
	for (struct tide_future *f = NULL; !f;) {
		f = tide_stream_shutdown(a);
		if (f)
			assert_int_equal(once(loop, f), 0);
	}
	while (!e->eof)
		assert_true(tide_loop_run_once(loop, 1) >= 0);
	assert_int_equal(e->echoed,
			 total - total % sizeof(out) +
				 (total % sizeof(out) ? sizeof(out) : 0));
	*retries += e->retries;
	close_stream(loop, a);
	close_stream(loop, e->s);
	free(e);
	/* the streams are gone once their closes ran */
	for (int i = 0; i < 4; i++)
		assert_true(tide_loop_run_once(loop, 0) >= 0);
	tide_bufring_free(br);
}

/* cancel: a stream's own receives and sends the kernel cancelled before
 * they ran are issued again; every byte arrives, once. */
static void test_fault_cancel_stream_redoes(void **state)
{
	struct tide_loop *loop =
		seeded_loop("short=0,late=10,nomore=10,cancel=40", 19);
	int retries = 0;

	(void)state;
	stream_echo(loop, 300000, &retries);
	assert_int_equal(retries, 0); /* no -ENOMEM without alloc */
	assert_true(loop->fault.cancelled > 0);
	tide_loop_free(loop);
}

/* cancel: a cancel that was asked for is not redone.  A process wait the
 * caller cancels says -ECANCELED and the child runs on; deadlines say
 * -ETIMEDOUT; a stream's read cancelled, or pending at close, says
 * -ECANCELED; freeing the loop ends what is in flight, once each. */
static void test_fault_cancel_asked_is_not_redone(void **state)
{
	struct tide_loop *loop = seeded_loop("cancel=50", 23);
	static const char *const argv[] = { "sleep", "30", NULL };
	struct t_seen rd = { 0, 0 }, wt = { 0, 0 };
	struct tide_process *p;
	struct tide_stream *s;
	struct tide_future *f;
	char buf[16];
	int sv[2];

	(void)state;
	assert_int_equal(tide_process_spawn(loop, argv, NULL, &p), 0);
	f = tide_process_wait(p);
	assert_non_null(f);
	for (int i = 0; i < 5; i++)
		assert_true(tide_loop_run_once(loop, 0) >= 0);
	assert_int_equal(tide_future_cancel(f), 0);
	assert_int_equal(once(loop, f), -ECANCELED);
	assert_int_equal(tide_process_status(p), -EAGAIN);
	assert_int_equal(once(loop, tide_future_timeout(tide_process_wait(p),
							20000000ull)),
			 -ETIMEDOUT);
	assert_int_equal(tide_process_status(p), -EAGAIN);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(tide_stream_new(loop, sv[0], NULL, &s), 0);
	f = tide_stream_read(s, buf, sizeof(buf));
	for (int i = 0; i < 5; i++)
		assert_true(tide_loop_run_once(loop, 0) >= 0);
	assert_int_equal(tide_future_cancel(f), 0);
	assert_int_equal(once(loop, f), -ECANCELED);
	assert_int_equal(once(loop,
			      tide_future_timeout(tide_stream_read(s, buf, 4),
						  20000000ull)),
			 -ETIMEDOUT);
	/* nothing was lost by the cancels: the bytes are read after them */
	assert_int_equal(write(sv[1], "late", 4), 4);
	assert_int_equal(once(loop, tide_stream_read(s, buf, sizeof(buf))), 4);
	assert_memory_equal(buf, "late", 4);
	f = tide_stream_read(s, buf, sizeof(buf));
	assert_int_equal(tide_future_on_done(f, t_seen_cb, &rd), 0);
	assert_int_equal(once(loop, tide_stream_close(s)), 0);
	assert_int_equal(rd.n, 1);
	assert_int_equal(rd.res, -ECANCELED);
	close(sv[1]);

	/* in flight at free: a wait, once, -ECANCELED */
	f = tide_process_wait(p);
	assert_int_equal(tide_future_on_done(f, t_seen_cb, &wt), 0);
	assert_int_equal(tide_process_kill(p, SIGKILL), 0);
	tide_process_free(p);
	tide_loop_free(loop);
	assert_int_equal(wt.n, 1);
	assert_true(wt.res == -ECANCELED ||
		    (WIFSIGNALED(wt.res) && WTERMSIG(wt.res) == SIGKILL));
}

/* ---- alloc: ENOMEM as the public answer ---- */

#define ALLOC_KINDS "short=0,alloc=15"

/* Connections to an echo server whose streams (and everything else) may
 * find no memory: the server drops a connection it cannot serve; the
 * client, retrying, connects again until its echo came back whole. */
static void srv_conn(void *arg, struct tide_stream *s)
{
	struct tide_loop *loop = arg;
	struct echo *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	e->loop = loop;
	e->s = s;
	e->own = true;
	echo_go(e);
}

static void alloc_server(struct tide_loop *loop, int clients, int *retries)
{
	struct tide_server *srv;
	struct tide_server_stats st;
	struct tide_addr a;
	struct tide_future *f;
	int drops = 0;

	assert_int_equal(tide_addr_parse(&a, "127.0.0.1:0"), 0);
	while (tide_server_new(loop, &a, NULL, srv_conn, loop, &srv) == -ENOMEM)
		(*retries)++;
	tide_server_addr(srv, &a);
	for (int i = 0; i < clients; i++) {
		unsigned char out[1500], in[1500];
		struct tide_stream *c;
		int64_t fd, r;

		for (size_t k = 0; k < sizeof(out); k++)
			out[k] = t_pattern((uint64_t)i * 7919 + k);
again:
		while (!(f = tide_connect_timeout(loop, &a, SOCK_STREAM,
						  5000000000ull)))
			(*retries)++;
		fd = once(loop, f);
		if (fd == -ENOMEM) {
			(*retries)++;
			goto again;
		}
		assert_true(fd >= 0);
		assert_int_equal(new_stream(loop, (int)fd, NULL, &c, retries),
				 0);
		r = write_all(loop, c, out, sizeof(out), retries);
		if (r == 0)
			r = read_all(loop, c, in, sizeof(in), retries);
		if (r != (int64_t)sizeof(in)) {
			/* dropped by a server out of memory: again */
			assert_true(r == 0 || r == -ECONNRESET || r == -EPIPE);
			drops++;
			close_stream(loop, c);
			goto again;
		}
		assert_memory_equal(in, out, sizeof(out));
		close_stream(loop, c);
	}
	tide_server_stats(srv, &st);
	/* a connect whose result found no memory came and went too */
	assert_true(st.accepted >= (uint64_t)clients);
	/* each drop was counted as an error: none went unreported */
	assert_true(st.accept_errors >= (uint64_t)drops);
	while (!(f = tide_server_stop(srv, 5000000000ull)))
		(*retries)++;
	assert_int_equal(once(loop, f), 0);
	tide_server_free(srv);
}

/* Children whose output comes through a pipe stream: spawn, read and wait
 * each retried on NULL or -ENOMEM; every output and status exact. */
static void alloc_processes(struct tide_loop *loop, int n, int *retries)
{
	for (int i = 0; i < n; i++) {
		char word[32], got[32];
		const char *argv[] = { "sh", "-c", "printf %s \"$0\"; exit 3",
				       word, NULL };
		struct tide_process_options o = {
			.stdio = { TIDE_STDIO_DEVNULL, TIDE_STDIO_PIPE,
				   TIDE_STDIO_INHERIT },
		};
		struct tide_process *p;
		struct tide_stream *out;
		struct tide_future *f;
		int64_t r, st;
		int len;

		len = snprintf(word, sizeof(word), "child-%d", i);
		while ((r = tide_process_spawn(loop, argv, &o, &p)) == -ENOMEM)
			(*retries)++;
		assert_int_equal(r, 0);
		out = tide_process_stream(p, 1); /* ours to close now */
		assert_non_null(out);
		r = read_all(loop, out, got, (size_t)len, retries);
		assert_int_equal(r, len);
		assert_memory_equal(got, word, (size_t)len);
		close_stream(loop, out);
		while (!(f = tide_process_wait(p)))
			(*retries)++;
		st = once(loop, f);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 3);
		tide_process_free(p);
	}
}

/* A file of size bytes read at offsets, each read retried on NULL; fd
 * comes from t_tmpfile(). */
static void alloc_file(struct tide_loop *loop, int fd, size_t size,
		       int *retries)
{
	unsigned char buf[8192];

	for (size_t off = 0; off < size;) {
		struct tide_future *f =
			tide_read(loop, fd, buf, sizeof(buf), off);
		int64_t r;

		if (!f) {
			(*retries)++;
			continue;
		}
		r = once(loop, f);
		assert_true(r > 0);
		for (int64_t k = 0; k < r; k++)
			assert_int_equal(buf[k], t_pattern(off + (size_t)k));
		off += (size_t)r;
	}
	close(fd);
}

/* alloc: the library's own allocations fail at random.  Every call that
 * could not get memory said so (NULL, -ENOMEM), a caller that tried again
 * got every byte, every future resolved once, nothing leaked (LSan). */
static void test_fault_alloc_retrying_caller(void **state)
{
	struct tide_loop *loop = seeded_loop(ALLOC_KINDS, 29);
	int retries = 0, fd;
	char path[64];

	(void)state;
	stream_echo(loop, 200000, &retries);
	alloc_server(loop, 12, &retries);
	alloc_processes(loop, 6, &retries);
	/* opened last: it takes the number of a pipe or socket a stream
	 * closed, which the epoll backend must notice */
	fd = t_tmpfile(path, sizeof(path), 1u << 18);
	assert_true(fd >= 0);
	unlink(path);
	alloc_file(loop, fd, 1u << 18, &retries);
	assert_true(loop->fault.nomem > 0);
	assert_true(retries > 0);
	tide_loop_free(loop);
}

/* Put n objects on the slab's free list (the only ones an allocation may
 * take under alloc=100), having given the rest back. */
static void free_objects(struct tide_loop *loop, int n)
{
	struct tide_future *f[8];

	loop->fault.alloc_pct = 0;
	for (int i = 0; i < n; i++)
		f[i] = tide_future_ready(loop, 0, NULL);
	loop->fault.alloc_pct = 100;
	tide__fault_turn(loop);
	for (int i = 0; i < n; i++)
		tide_future_release(f[i]);
}

typedef struct tide_future *call_fn(struct tide_stream *s, char *buf);

static struct tide_future *call_read(struct tide_stream *s, char *buf)
{
	return tide_stream_read(s, buf, 16);
}

static struct tide_future *call_read_exactly(struct tide_stream *s, char *buf)
{
	return tide_stream_read_exactly(s, buf, 10);
}

static struct tide_future *call_write(struct tide_stream *s, char *buf)
{
	(void)buf;
	return tide_stream_write(s, "lost", 4);
}

/* call under alloc=100 with the fewest spare objects for which it returns
 * a future: it had memory for its own records and none for the operation
 * it must start, so the future has failed already (whatever the count of
 * records the stream takes today). */
static int64_t starved(struct tide_loop *loop, call_fn *call,
		       struct tide_stream *s, char *buf)
{
	struct tide_future *f = NULL;

	for (int n = 0; n <= 8 && !f; n++) {
		free_objects(loop, n);
		f = call(s, buf);
	}
	loop->fault.alloc_pct = 0;
	assert_non_null(f);
	assert_true(tide_future_done(f));
	return once(loop, f);
}

/* alloc: a stream's receive that cannot be started is reported on the
 * read waiting for it; after part of a read_exactly was taken the input
 * ends -ENOMEM, for this read and the next (no byte skipped unseen).  A
 * write that could not start sent nothing and fails -ENOMEM; the stream
 * stays writable. */
static void test_fault_alloc_stream_reports(void **state)
{
	struct tide_loop *loop = fault_loop("seed=31,short=0,late=0,eagain=0,"
					    "eintr=0,nomore=0,nomem=0");
	struct tide_stream *s;
	char buf[16];
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(tide_stream_new(loop, sv[0], NULL, &s), 0);
	/* memory for the read, none for its receive */
	assert_int_equal(starved(loop, call_read, s, buf), -ENOMEM);
	/* nothing taken: the stream reads on */
	assert_int_equal(write(sv[1], "0123456789", 10), 10);
	assert_int_equal(once(loop, tide_stream_read(s, buf, 4)), 4);
	assert_memory_equal(buf, "0123", 4);
	/* six bytes buffered; a read_exactly of ten takes them, then finds
	 * no memory to receive the rest */
	assert_int_equal(starved(loop, call_read_exactly, s, buf), -ENOMEM);
	assert_int_equal(once(loop, tide_stream_read(s, buf, sizeof(buf))),
			 -ENOMEM);

	/* a write with no memory for its send */
	assert_int_equal(starved(loop, call_write, s, buf), -ENOMEM);
	assert_int_equal(once(loop, tide_stream_write(s, "sent", 4)), 4);
	assert_int_equal(read(sv[1], buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "sent", 4);
	assert_int_equal(once(loop, tide_stream_close(s)), 0);
	close(sv[1]);
	assert_true(loop->fault.nomem >= 3);
	tide_loop_free(loop);
}

/* ---- alloc: the engine's queues and the library's other state ---- */

/* dst = expr, made again after a turn while it says NULL (no memory). */
#define RETRY(dst, loop, retries, expr)                                  \
	do {                                                             \
		while (!((dst) = (expr))) {                              \
			(*(retries))++;                                  \
			assert_true(tide_loop_run_once((loop), 0) >= 0); \
		}                                                        \
	} while (0)

static int64_t job_double(void *arg)
{
	return 2 * (int64_t)(intptr_t)arg;
}

static int64_t task_square(void *arg)
{
	int64_t i = (int64_t)(intptr_t)arg;
	int r;

	/* a yield, which queues the task again, may find no memory */
	while ((r = tide_task_yield()) == -ENOMEM)
		;
	assert_int_equal(r, 0);
	return i * i;
}

struct poster {
	struct tide_loop *loop;
	int n, nomem;
	int got; /* on the loop thread */
};

static void post_count(void *arg)
{
	((struct poster *)arg)->got++;
}

static void *post_thread(void *arg)
{
	struct poster *p = arg;

	for (int i = 0; i < p->n; i++) {
		int r;

		while ((r = tide_loop_post(p->loop, post_count, p)) == -ENOMEM)
			p->nomem++;
		assert_int_equal(r, 0);
	}
	return NULL;
}

/* Timers (the epoll backend's heap and records, the later queue, the
 * io_uring backlog), combinators, pool jobs, tasks, posts and sendfile
 * under alloc: each call that found no memory said so and a retrying
 * caller got every exact result, each future once. */
static void alloc_engine(struct tide_loop *loop, int *retries)
{
	enum { N = 100 }; /* past the first sizes of the epoll hash and heap */
	struct tide_future *f[N];
	struct tide_outcome out[N];
	struct t_seen seen[N];
	struct tide_pool *pool;
	struct tide_pool_options po = { .threads = 2 };
	struct poster ps = { .loop = loop, .n = 3000 };
	pthread_t th;
	uint64_t t0;
	int64_t r;

	/* timers at once: the heap, their records, the later queue grow */
	for (int i = 0; i < N; i++) {
		seen[i] = (struct t_seen){ 0, 0 };
		RETRY(f[i], loop, retries,
		      tide_sleep(loop, 1000000ull * (uint64_t)(i % 5)));
		assert_int_equal(tide_future_on_done(f[i], t_seen_cb, &seen[i]),
				 0);
	}
	t0 = tide_now_ns();
	for (int done = 0; done < N;) {
		done = 0;
		for (int i = 0; i < N; i++)
			done += seen[i].n;
		assert_true(tide_loop_run_once(loop, 1) >= 0);
		assert_true(tide_now_ns() - t0 < 30000000000ull);
	}
	for (int i = 0; i < N; i++) {
		assert_int_equal(seen[i].n, 1);
		assert_int_equal(seen[i].res, 0);
	}

	/* all, any and a timeout over them: each with its own state */
	for (int round = 0; round < 20; round++) {
		struct tide_future *g[3];
		int64_t res;

		for (int i = 0; i < 3; i++)
			RETRY(g[i], loop, retries,
			      tide_future_ready(loop, 10 * round + i, NULL));
		r = -1;
		if (round % 2 == 0) {
			struct tide_future *a = tide_all(loop, g, 3, out);

			if (!a) { /* no memory: the futures went with it */
				(*retries)++;
				continue;
			}
			r = once(loop, a);
			assert_int_equal(r, 0);
			for (int i = 0; i < 3; i++)
				assert_int_equal(out[i].result, 10 * round + i);
		} else {
			struct tide_future *a =
				tide_any(loop, g, 3, TIDE_ANY_CANCEL, out);

			if (!a) {
				(*retries)++;
				continue;
			}
			res = once(loop, a);
			assert_true(res >= 0 && res < 3);
			assert_int_equal(out[res].result, 10 * round + res);
		}
	}
	for (int round = 0; round < 20; round++) {
		struct tide_future *s, *t;

		RETRY(s, loop, retries, tide_sleep(loop, 200000000ull));
		t = tide_future_timeout(s, 1000000ull);
		if (!t) {
			(*retries)++;
			continue;
		}
		assert_int_equal(once(loop, t), -ETIMEDOUT);
	}

	/* pool jobs */
	assert_int_equal(tide_pool_new(&pool, &po), 0);
	for (int i = 0; i < N; i++) {
		RETRY(f[i], loop, retries,
		      tide_pool_submit(pool, loop, job_double,
				       (void *)(intptr_t)i));
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(once(loop, f[i]), 2 * i);
	tide_pool_free(pool);

	/* tasks */
	for (int i = 0; i < 16; i++)
		RETRY(f[i], loop, retries,
		      tide_task_spawn(loop, task_square, (void *)(intptr_t)i,
				      NULL));
	for (int i = 0; i < 16; i++)
		assert_int_equal(once(loop, f[i]), (int64_t)i * i);

	/* posts from another thread: each -ENOMEM posted again */
	assert_int_equal(pthread_create(&th, NULL, post_thread, &ps), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	t0 = tide_now_ns();
	while (ps.got < ps.n) {
		assert_true(tide_loop_run_once(loop, 0) >= 0);
		assert_true(tide_now_ns() - t0 < 30000000000ull);
	}
	assert_int_equal(ps.got, ps.n);
	*retries += ps.nomem;
}

/* Drain what is in fd (non-blocking), checking it against the file from
 * *got on. */
static void drain_check(int fd, size_t *got)
{
	unsigned char buf[8192];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t k = 0; k < n; k++)
			assert_int_equal(buf[k], t_pattern(*got + (size_t)k));
		*got += (size_t)n;
	}
}

/* A file through tide_stream_sendfile() to a socket (splice, or the
 * bounce buffer) and to a pipe (the bounce buffer).  A sendfile that
 * found no memory says -ENOMEM; the caller goes on over a new connection
 * from what the peer got: every byte arrives once, in order, and every
 * future resolves once. */
static void alloc_sendfile(struct tide_loop *loop, int file, size_t size,
			   int *retries)
{
	for (int kind = 0; kind < 2; kind++) {
		size_t got = 0;

		while (got < size) {
			struct tide_stream *s;
			int sv[2], rd;

			if (kind == 0)
				assert_int_equal(socketpair(AF_UNIX,
							    SOCK_STREAM, 0, sv),
						 0);
			else
				assert_int_equal(pipe(sv), 0);
			rd = kind ? sv[0] : sv[1];
			assert_int_equal(new_stream(loop, kind ? sv[1] : sv[0],
						    NULL, &s, retries),
					 0);
			assert_int_equal(fcntl(rd, F_SETFL, O_NONBLOCK), 0);
			while (got < size) {
				size_t len = size - got < 65536 ? size - got :
								  65536;
				size_t at = got;
				struct tide_future *f;
				struct t_seen e = { 0, 0 };
				uint64_t t0 = tide_now_ns();

				RETRY(f, loop, retries,
				      tide_stream_sendfile(s, file, got, len));
				assert_int_equal(
					tide_future_on_done(f, t_seen_cb, &e),
					0);
				while (e.n == 0) {
					drain_check(rd, &got);
					assert_true(tide_loop_run_once(loop,
								       0) >= 0);
					assert_true(tide_now_ns() - t0 <
						    30000000000ull);
				}
				drain_check(rd, &got);
				assert_int_equal(e.n, 1);
				if (e.res == -ENOMEM) {
					(*retries)++;
					assert_true(got < at + len);
					break; /* a new connection */
				}
				assert_int_equal(e.res, (int64_t)len);
				assert_int_equal(got, at + len);
			}
			close_stream(loop, s);
			close(rd);
		}
	}
}

/* Bytes through tide_stream_copy_bidi() between two socket pairs, one way
 * (the other way ends at once): a copy that found no memory fails -ENOMEM
 * and the caller starts again over new connections; what arrived is the
 * start of what was sent, and a copy that succeeded moved it all. */
static void alloc_copy(struct tide_loop *loop, size_t total, int *retries)
{
	for (int attempt = 0;; attempt++) {
		struct tide_stream *a, *b;
		struct tide_copy_stats st;
		struct tide_future *f;
		struct t_seen e = { 0, 0 };
		unsigned char buf[8192];
		size_t sent = 0, got = 0;
		bool shut = false;
		uint64_t t0 = tide_now_ns();
		int p[2], q[2];
		ssize_t n;

		assert_true(attempt < 1000);
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, q), 0);
		assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
		assert_int_equal(fcntl(q[1], F_SETFL, O_NONBLOCK), 0);
		assert_int_equal(new_stream(loop, p[1], NULL, &a, retries), 0);
		assert_int_equal(new_stream(loop, q[0], NULL, &b, retries), 0);
		RETRY(f, loop, retries, tide_stream_copy_bidi(a, b, 0, &st));
		assert_int_equal(tide_future_on_done(f, t_seen_cb, &e), 0);
		while (e.n == 0) {
			if (sent < total) {
				size_t len = total - sent < sizeof(buf) ?
						     total - sent :
						     sizeof(buf);

				for (size_t k = 0; k < len; k++)
					buf[k] = t_pattern(sent + k);
				n = write(p[0], buf, len);
				if (n > 0)
					sent += (size_t)n;
			} else if (!shut) {
				shut = true;
				assert_int_equal(shutdown(p[0], SHUT_WR), 0);
				assert_int_equal(shutdown(q[1], SHUT_WR), 0);
			}
			drain_check(q[1], &got);
			assert_true(tide_loop_run_once(loop, 0) >= 0);
			assert_true(tide_now_ns() - t0 < 30000000000ull);
		}
		drain_check(q[1], &got);
		assert_int_equal(e.n, 1);
		assert_true(got <= sent);
		close_stream(loop, a);
		close_stream(loop, b);
		close(p[0]);
		close(q[1]);
		if (e.res == -ENOMEM) {
			(*retries)++;
			continue;
		}
		assert_int_equal(e.res, (int64_t)total);
		assert_int_equal(got, total);
		assert_int_equal(st.a_to_b, total);
		assert_int_equal(st.b_to_a, 0);
		return;
	}
}

/* alloc: every path added to it (see fault.c) under a caller that
 * retries. */
static void test_fault_alloc_engine_retrying(void **state)
{
	struct tide_loop *loop = seeded_loop("short=0,alloc=20", 37);
	int retries = 0, fd;
	char path[64];

	(void)state;
	alloc_engine(loop, &retries);
	fd = t_tmpfile(path, sizeof(path), 300000);
	assert_true(fd >= 0);
	unlink(path);
	alloc_sendfile(loop, fd, 300000, &retries);
	close(fd);
	/* a copy ends at its first -ENOMEM, and each chunk takes several
	 * allocations: fewer failures, or it would hardly ever get through */
	loop->fault.alloc_pct = 5;
	alloc_copy(loop, 100000, &retries);
	assert_true(loop->fault.nomem + loop->fault.post_nomem > 0);
	assert_true(retries > 0);
	tide_loop_free(loop);
}

/* alloc=100: an operation whose system call the epoll backend makes at
 * once (a receive with the bytes there) finds no memory for what it needs
 * afterwards before it makes the call: refused, the bytes stay in the
 * socket for the next one. */
static void test_fault_alloc_inline_result_kept(void **state)
{
	struct tide_loop *loop = fault_loop("seed=41,short=0,late=0,eagain=0,"
					    "eintr=0,nomore=0,nomem=0");
	struct tide_future *f = NULL;
	char buf[16];
	int sv[2], n;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[1], "kept", 4), 4);
	/* one object for the future, none for anything else */
	free_objects(loop, 1);
	f = tide_recv(loop, sv[0], buf, sizeof(buf), 0);
	loop->fault.alloc_pct = 0;
	if (t_loop_epoll(loop)) {
		assert_null(f);
		n = (int)recv(sv[0], buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
		assert_int_equal(n, 4);
		f = tide_recv(loop, sv[0], buf, sizeof(buf), 0);
	}
	/* io_uring: the receive went to the kernel, no memory needed */
	assert_int_equal(once(loop, f), 4);
	assert_memory_equal(buf, "kept", 4);
	close(sv[0]);
	close(sv[1]);
	tide_loop_free(loop);
}

/* alloc=100: close and abort need no memory (the stream keeps its close
 * promise's from the start): a future, resolved once, the stream gone. */
static void test_fault_alloc_close_never_fails(void **state)
{
	struct tide_loop *loop = fault_loop("seed=43,short=0,late=0,eagain=0,"
					    "eintr=0,nomore=0,nomem=0");
	struct tide_stream *s[2];
	struct tide_future *f;
	int sv[2], fds = t_count_fds();
	char c;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(tide_stream_new(loop, sv[0], NULL, &s[0]), 0);
	assert_int_equal(tide_stream_new(loop, sv[1], NULL, &s[1]), 0);
	free_objects(loop, 0);
	f = tide_stream_close(s[0]);
	assert_non_null(f);
	loop->fault.alloc_pct = 0;
	assert_int_equal(once(loop, f), 0);
	/* the peer sees the end: the descriptor is closed */
	assert_int_equal(read(sv[1], &c, 1), 0);
	free_objects(loop, 0);
	f = tide_stream_abort(s[1]);
	assert_non_null(f);
	loop->fault.alloc_pct = 0;
	assert_int_equal(once(loop, f), 0);
	assert_int_equal(t_count_fds(), fds);
	/* a stream with no memory for the promise kept for it is not made */
	free_objects(loop, 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(tide_stream_new(loop, sv[0], NULL, &s[0]), -ENOMEM);
	loop->fault.alloc_pct = 0;
	close(sv[0]);
	close(sv[1]);
	tide_loop_free(loop);
}

/*
 * A cancel needs no memory.  On io_uring it finds the SQ full of reads not
 * yet submitted and no memory for the backlog (alloc=100, the backlog never
 * allocated): what is queued goes to the kernel and the cancel gets its
 * SQE (it said -ENOMEM, and a stream closing through such a cancel waited
 * for ever); on epoll 64 reads wait for readiness and one is cancelled.
 */
static void test_fault_alloc_cancel_full_sq(void **state)
{
	struct tide_loop *loop = fault_loop("seed=44,short=0,late=0,eagain=0,"
					    "eintr=0,nomore=0,nomem=0");
	struct tide_future *f[4096];
	char buf[4096];
	int p[2], n = 0;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	while (loop->uring ? io_uring_sq_space_left(&loop->u.ring) > 0 :
			     n < 64) {
		assert_true(n < 4096);
		f[n] = tide_read(loop, p[0], &buf[n], 1, TIDE_OFF_CUR);
		assert_non_null(f[n]);
		n++;
	}
	if (loop->uring)
		assert_int_equal(loop->u.bl_cap, 0); /* nothing backlogged */
	else
		assert_int_equal(tide_loop_run_once(loop, 0) >= 0, 1);
	free_objects(loop, 0);
	assert_int_equal(tide_future_cancel(f[0]), 0);
	loop->fault.alloc_pct = 0;
	assert_int_equal(t_wait(loop, f[0]), -ECANCELED);
	memset(buf, 0, sizeof(buf));
	for (int i = 1; i < n; i++)
		assert_int_equal(write(p[1], "x", 1), 1);
	for (int i = 1; i < n; i++) {
		assert_int_equal(t_wait(loop, f[i]), 1);
		assert_int_equal(buf[i], 'x');
	}
	close(p[0]);
	close(p[1]);
	tide_loop_free(loop);
}

/* A connection the server must accept and echo. */
static void served(struct tide_loop *loop, const struct tide_addr *a,
		   uint64_t limit_ns)
{
	struct tide_stream *c;
	struct tide_future *f;
	char in[5];
	int64_t fd;
	int retries = 0;

	fd = once(loop, tide_connect_timeout(loop, a, SOCK_STREAM, limit_ns));
	assert_true(fd >= 0);
	assert_int_equal(tide_stream_new(loop, (int)fd, NULL, &c), 0);
	assert_int_equal(write_all(loop, c, "hello", 5, &retries), 0);
	f = tide_future_timeout(tide_stream_read_exactly(c, in, 5), limit_ns);
	assert_int_equal(once(loop, f), 5);
	assert_memory_equal(in, "hello", 5);
	assert_int_equal(once(loop, tide_stream_close(c)), 0);
}

/*
 * A server whose accept cannot be started again, nor the sleep it backs off
 * with, keeps trying until memory is back (before, it stopped accepting for
 * good).  On epoll the backend's want of memory is made at will: alloc=100
 * with the later queue at its capacity refuses every operation before it
 * starts; nomore=100 ends the accept after each connection, so it must be
 * started again.  (io_uring's equivalent, a full SQ behind a backlog that
 * cannot grow, cannot be held across turns from a test.)
 */
static void test_fault_alloc_server_accepts_again(void **state)
{
	struct tide_loop *loop = fault_loop("seed=47,short=0,late=0,eagain=0,"
					    "eintr=0,nomore=100,nomem=0");
	struct tide_server_stats st;
	struct tide_server *srv;
	struct tide_addr a;
	uint64_t t0;
	int fd;
	char c;

	(void)state;
	if (!t_loop_epoll(loop)) {
		tide_loop_free(loop);
		skip();
	}
	assert_int_equal(tide_addr_parse(&a, "127.0.0.1:0"), 0);
	assert_int_equal(tide_server_new(loop, &a, NULL, srv_conn, loop, &srv),
			 0);
	tide_server_addr(srv, &a);
	served(loop, &a, 5000000000ull);
	/* no memory from now on, and no room left in the later queue: no
	 * operation can start */
	free_objects(loop, 0);
	loop->later_cap = loop->later_n;
	/* a plain connect: dropped (no memory for its stream); the accept
	 * ends (nomore) and cannot be started again, nor its backoff */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, &a.u.sa, a.len), 0);
	t0 = tide_now_ns();
	do {
		assert_true(tide_loop_run_once(loop, 0) >= 0);
		tide_server_stats(srv, &st);
		assert_true(tide_now_ns() - t0 < 10000000000ull);
	} while (st.accept_errors < 3);
	assert_int_equal(recv(fd, &c, 1, 0), 0);
	close(fd);
	loop->fault.alloc_pct = 0;
	/* memory is back: the server accepts again */
	served(loop, &a, 5000000000ull);
	tide_server_stats(srv, &st);
	assert_int_equal(st.accepted, 2);
	assert_int_equal(once(loop, tide_server_stop(srv, 1000000000ull)), 0);
	tide_server_free(srv);
	tide_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fault_spec_bad),
		cmocka_unit_test(test_fault_short_only_where_legal),
		cmocka_unit_test(test_fault_epoll_eintr_retried),
		cmocka_unit_test(test_fault_epoll_eagain_waits),
		cmocka_unit_test(test_fault_nomore_recv_multishot),
		cmocka_unit_test(test_fault_nomore_stream),
		cmocka_unit_test(test_fault_nomore_server),
		cmocka_unit_test(test_fault_nomem_backlog),
		cmocka_unit_test(test_fault_cancel_before_start),
		cmocka_unit_test(test_fault_cancel_stream_redoes),
		cmocka_unit_test(test_fault_cancel_asked_is_not_redone),
		cmocka_unit_test(test_fault_alloc_retrying_caller),
		cmocka_unit_test(test_fault_alloc_stream_reports),
		cmocka_unit_test(test_fault_alloc_engine_retrying),
		cmocka_unit_test(test_fault_alloc_inline_result_kept),
		cmocka_unit_test(test_fault_alloc_close_never_fails),
		cmocka_unit_test(test_fault_alloc_cancel_full_sq),
		cmocka_unit_test(test_fault_alloc_server_accepts_again),
	};

	unsetenv("TIDE_FAULT"); /* each test sets its own */
	return T_RUN("fault", tests);
}
