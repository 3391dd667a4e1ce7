// SPDX-License-Identifier: MIT
/*
 * test_fault.c - fault injection itself (engine/core/fault.c): TIDE_FAULT's
 * grammar, that each kind strikes where it should and only where the
 * kernel may (pipe writes up to PIPE_BUF and datagrams are never cut), and
 * that the library absorbs each: epoll retries EINTR and waits after a
 * spurious EAGAIN, streams and servers start a multishot again when it ends
 * early, operations that find the SQ full wait in the backlog, and one the
 * kernel cancelled on its own says -ECANCELED having touched nothing.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
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
			  "nomem=4");
	assert_int_equal(loop->fault.short_pct, 0);
	assert_int_equal(loop->fault.eagain_pct, 1);
	assert_int_equal(loop->fault.eintr_pct, 2);
	assert_int_equal(loop->fault.nomore_pct, 3);
	assert_int_equal(loop->fault.nomem_pct, 4);
	tide_loop_free(loop);
	/* the defaults of the kinds not named */
	loop = fault_loop("seed=7");
	assert_int_equal(loop->fault.short_pct, 25);
	assert_int_equal(loop->fault.late_pct, 25);
	assert_int_equal(loop->fault.eagain_pct, 10);
	assert_int_equal(loop->fault.nomem_pct, 10);
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
	};

	unsetenv("TIDE_FAULT"); /* each test sets its own */
	return T_RUN("fault", tests);
}
