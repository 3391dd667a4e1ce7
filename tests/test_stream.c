// SPDX-License-Identifier: MIT
/*
 * test_stream.c - streams and the server helper: echo over every socket
 * family, 1000 concurrent connections with random sizes (every byte
 * checked), peer reset, connect-and-close, over-long lines, buffer ring
 * exhaustion, graceful stop with a deadline, pipes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdbool.h>

#include "helpers.h"

/* ---- an echo handler on the stream API ---- */

struct econn {
	struct tide_stream *s;
	char buf[8192];
};

static uint64_t echo_closed;

static void echo_read(struct econn *c);

static void echo_closed_cb(void *arg, int64_t res, void *payload)
{
	(void)arg;
	(void)res;
	(void)payload;
	echo_closed++;
}

static void echo_finish(struct econn *c)
{
	tide_future_on_done(tide_stream_close(c->s), echo_closed_cb, NULL);
	free(c);
}

static void echo_wrote(void *arg, int64_t res, void *payload)
{
	(void)payload;
	if (res < 0)
		echo_finish(arg);
	else
		echo_read(arg);
}

static void echo_got(void *arg, int64_t res, void *payload)
{
	struct econn *c = arg;

	(void)payload;
	if (res <= 0) {
		echo_finish(c);
		return;
	}
	tide_future_on_done(tide_stream_write(c->s, c->buf, (size_t)res),
			    echo_wrote, c);
}

static void echo_read(struct econn *c)
{
	tide_future_on_done(tide_stream_read(c->s, c->buf, sizeof(c->buf)),
			    echo_got, c);
}

static void echo_conn(void *arg, struct tide_stream *s)
{
	struct econn *c = malloc(sizeof(*c));

	(void)arg;
	assert_non_null(c);
	c->s = s;
	echo_read(c);
}

static struct tide_server *echo_server(struct tide_loop *loop, const char *text,
				       uint32_t flags, struct tide_addr *bound)
{
	struct tide_server_options o = { .flags = flags };
	struct tide_server *srv;
	struct tide_addr a;

	assert_int_equal(tide_addr_parse(&a, text), 0);
	assert_int_equal(tide_server_new(loop, &a, &o, echo_conn, NULL, &srv),
			 0);
	assert_int_equal(tide_server_addr(srv, bound), 0);
	return srv;
}

static void stop_server(struct tide_loop *loop, struct tide_server *srv)
{
	assert_int_equal(t_wait(loop, tide_server_stop(srv, 1000000000ull)), 0);
	tide_server_free(srv);
}

/* ---- a client that sends a pattern and checks the echo ---- */

struct cli {
	struct tide_stream *s;
	unsigned char *out, *in;
	size_t len;
	int seed;
	int64_t wres, rres;
	int done;
	uint64_t *finished;
};

static void cli_fill(struct cli *c)
{
	for (size_t i = 0; i < c->len; i++)
		c->out[i] = (unsigned char)((i * 7 + (size_t)c->seed * 13) ^
					    (i >> 8));
}

static void cli_part(struct cli *c)
{
	if (++c->done == 2)
		(*c->finished)++;
}

static void cli_wrote(void *arg, int64_t res, void *payload)
{
	struct cli *c = arg;

	(void)payload;
	c->wres = res;
	cli_part(c);
}

static void cli_read(void *arg, int64_t res, void *payload)
{
	struct cli *c = arg;

	(void)payload;
	c->rres = res;
	cli_part(c);
}

static struct tide_stream *dial(struct tide_loop *loop,
				const struct tide_addr *a)
{
	struct tide_stream *s;
	int64_t fd = t_connect(loop, a, SOCK_STREAM, 2000000000ull);

	assert_true(fd >= 0);
	assert_int_equal(tide_stream_new(loop, (int)fd, NULL, &s), 0);
	return s;
}

static void cli_start(struct tide_loop *loop, struct cli *c)
{
	c->out = malloc(c->len);
	c->in = malloc(c->len);
	assert_non_null(c->out);
	assert_non_null(c->in);
	cli_fill(c);
	(void)loop;
	assert_int_equal(
		tide_future_on_done(tide_stream_write(c->s, c->out, c->len),
				    cli_wrote, c),
		0);
	assert_int_equal(tide_future_on_done(
				 tide_stream_read_exactly(c->s, c->in, c->len),
				 cli_read, c),
			 0);
}

static void cli_check_free(struct tide_loop *loop, struct cli *c)
{
	assert_int_equal(c->wres, (int64_t)c->len);
	assert_int_equal(c->rres, (int64_t)c->len);
	assert_memory_equal(c->in, c->out, c->len);
	assert_int_equal(t_wait(loop, tide_stream_close(c->s)), 0);
	free(c->in);
	free(c->out);
}

static void run_until_count(struct tide_loop *loop, uint64_t *count,
			    uint64_t want)
{
	uint64_t t0 = tide_now_ns();

	while (*count < want) {
		assert_true(tide_loop_run_once(loop, 1) >= 0);
		assert_true(tide_now_ns() - t0 < 60000000000ull);
	}
}

static void echo_family(const char *text, uint32_t flags)
{
	struct tide_loop *loop = t_loop();
	struct tide_addr a;
	struct tide_server *srv = echo_server(loop, text, flags, &a);
	uint64_t finished = 0;
	struct cli c = { .len = 100000, .seed = 3, .finished = &finished };
	struct tide_server_stats st;

	c.s = dial(loop, &a);
	cli_start(loop, &c);
	run_until_count(loop, &finished, 1);
	cli_check_free(loop, &c);
	stop_server(loop, srv);
	(void)st;
	tide_loop_free(loop);
}

static void test_tide_server_new_echo_ipv4(void **state)
{
	(void)state;
	echo_family("127.0.0.1:0", 0);
	echo_family("127.0.0.1:0", TIDE_SERVER_NO_BUFRING);
}

static void test_tide_server_new_echo_ipv6(void **state)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0);

	(void)state;
	if (fd < 0)
		skip();
	close(fd);
	echo_family("[::1]:0", 0);
}

static void test_tide_server_new_echo_unix(void **state)
{
	char text[64];

	(void)state;
	snprintf(text, sizeof(text), "unix:@tide-test-%d", (int)getpid());
	echo_family(text, 0);
}

static void test_tide_server_new_bad_args(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_server_options o = { .reserved[1] = 1 };
	struct tide_server *srv = (void *)1;
	struct tide_addr a;

	(void)state;
	assert_int_equal(tide_addr_parse(&a, "127.0.0.1:0"), 0);
	assert_int_equal(tide_server_new(loop, &a, &o, echo_conn, NULL, &srv),
			 -EINVAL);
	assert_null(srv);
	assert_int_equal(tide_server_new(loop, &a, NULL, NULL, NULL, &srv),
			 -EINVAL);
	/* a port already taken */
	srv = echo_server(loop, "127.0.0.1:0", 0, &a);
	struct tide_server *srv2;
	assert_int_equal(tide_server_new(loop, &a, NULL, echo_conn, NULL,
					 &srv2),
			 -EADDRINUSE);
	stop_server(loop, srv);
	tide_loop_free(loop);
}

/* 1000 concurrent connections, log-uniform sizes from 1 B to 1 MiB. */
static void test_tide_stream_many_random(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_addr a;
	struct tide_server *srv;
	struct rlimit rl;
	uint64_t finished = 0;
	const int n = getenv("TIDE_TEST_QUICK") ? 100 : 1000;
	struct cli *c = calloc((size_t)n, sizeof(*c));

	(void)state;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < 2200 && rl.rlim_max >= 2200) {
		rl.rlim_cur = 2200;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < 2200)
		skip();
	srv = echo_server(loop, "127.0.0.1:0", 0, &a);
	srand(42);
	for (int i = 0; i < n; i++) {
		c[i].len = (size_t)1 << (rand() % 21);
		c[i].len += (size_t)rand() % c[i].len;
		if (c[i].len > (1u << 20))
			c[i].len = 1u << 20;
		c[i].seed = i;
		c[i].finished = &finished;
		c[i].s = dial(loop, &a);
	}
	for (int i = 0; i < n; i++)
		cli_start(loop, &c[i]);
	run_until_count(loop, &finished, (uint64_t)n);
	for (int i = 0; i < n; i++)
		cli_check_free(loop, &c[i]);
	stop_server(loop, srv);
	free(c);
	tide_loop_free(loop);
}

/* A small ring under load: -ENOBUFS ends multishots, they re-arm, and
 * no byte goes missing. */
static void test_tide_stream_bufring_exhausted(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_server_options o = { .buf_count = 4, .buf_size = 512 };
	struct tide_server *srv;
	struct tide_addr a, b;
	uint64_t finished = 0;
	struct cli c[8];

	(void)state;
	assert_int_equal(tide_addr_parse(&a, "127.0.0.1:0"), 0);
	assert_int_equal(tide_server_new(loop, &a, &o, echo_conn, NULL, &srv),
			 0);
	tide_server_addr(srv, &b);
	memset(c, 0, sizeof(c));
	for (int i = 0; i < 8; i++) {
		c[i].len = 300000;
		c[i].seed = i + 100;
		c[i].finished = &finished;
		c[i].s = dial(loop, &b);
		cli_start(loop, &c[i]);
	}
	run_until_count(loop, &finished, 8);
	for (int i = 0; i < 8; i++)
		cli_check_free(loop, &c[i]);
	stop_server(loop, srv);
	tide_loop_free(loop);
}

/* The peer resets the connection: the pending read fails with
 * -ECONNRESET, and close still works. */
static void test_tide_stream_read_reset(void **state)
{
	struct tide_loop *loop = t_loop();
	int sv[2];
	struct tide_stream *s;
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	char buf[16];
	struct tide_addr a;
	struct tide_server *srv;
	int fd, cfd;

	(void)state;
	/* a TCP pair: only TCP has resets */
	srv = NULL;
	(void)sv;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(tide_addr_parse(&a, "127.0.0.1:0"), 0);
	assert_int_equal(tide_bind(fd, &a), 0);
	assert_int_equal(tide_listen(fd, 4), 0);
	a.len = sizeof(a.u);
	getsockname(fd, &a.u.sa, &a.len);
	cfd = (int)t_connect(loop, &a, SOCK_STREAM, 0);
	assert_true(cfd >= 0);
	int afd = accept(fd, NULL, NULL);
	assert_true(afd >= 0);
	assert_int_equal(tide_stream_new(loop, cfd, NULL, &s), 0);
	struct tide_future *r = tide_stream_read(s, buf, sizeof(buf));
	setsockopt(afd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(afd);
	assert_int_equal(t_wait(loop, r), -ECONNRESET);
	tide_future_release(r);
	assert_int_equal(t_wait(loop, tide_stream_close(s)), 0);
	close(fd);
	(void)srv;
	tide_loop_free(loop);
}

/* Clients that connect and close at once leave no stream behind. */
static void test_tide_server_connect_close(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_addr a;
	struct tide_server *srv;
	struct tide_server_stats st;
	uint64_t before = echo_closed;

	(void)state;
	srv = echo_server(loop, "127.0.0.1:0", 0, &a);
	for (int i = 0; i < 20; i++) {
		int fd = (int)t_connect(loop, &a, SOCK_STREAM, 0);
		assert_true(fd >= 0);
		close(fd);
	}
	run_until_count(loop, &echo_closed, before + 20);
	tide_server_stats(srv, &st);
	assert_int_equal(st.accepted, 20);
	assert_int_equal(st.active, 0);
	stop_server(loop, srv);
	tide_loop_free(loop);
}

static void test_tide_stream_read_line(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_stream *s;
	int sv[2];
	char buf[8];
	const char *msg = "ab\ncdefghijkl\nxy";

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(tide_stream_new(loop, sv[0], NULL, &s), 0);
	assert_int_equal(write(sv[1], msg, strlen(msg)), (ssize_t)strlen(msg));
	close(sv[1]);
	assert_int_equal(
		t_wait(loop, tide_stream_read_line(s, buf, sizeof(buf))), 3);
	assert_memory_equal(buf, "ab\n", 3);
	/* longer than the maximum: an error, not unbounded memory */
	assert_int_equal(t_wait(loop,
				tide_stream_read_line(s, buf, sizeof(buf))),
			 -EMSGSIZE);
	assert_int_equal(
		t_wait(loop, tide_stream_read_until(s, buf, sizeof(buf), '\n')),
		3);
	assert_memory_equal(buf, "kl\n", 3);
	/* the stream ends inside a line */
	assert_int_equal(t_wait(loop,
				tide_stream_read_line(s, buf, sizeof(buf))),
			 -EPIPE);
	assert_int_equal(
		t_wait(loop, tide_stream_read_line(s, buf, sizeof(buf))), 0);
	assert_int_equal(t_wait(loop, tide_stream_read_until(s, buf, 4, 300)),
			 -EINVAL);
	assert_int_equal(t_wait(loop, tide_stream_close(s)), 0);
	tide_loop_free(loop);
}

/* Pipes: read/write instead of recv/send; read_exactly short at EOF. */
static void test_tide_stream_pipe(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_stream *r, *w;
	int p[2];
	char buf[32];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(tide_stream_new(loop, p[0], NULL, &r), 0);
	assert_int_equal(tide_stream_new(loop, p[1], NULL, &w), 0);
	assert_int_equal(tide_stream_fd(r), p[0]);
	assert_int_equal(t_wait(loop, tide_stream_write(w, "hello world", 11)),
			 11);
	assert_int_equal(t_wait(loop, tide_stream_read_exactly(r, buf, 5)), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(t_wait(loop, tide_stream_close(w)), 0);
	assert_int_equal(t_wait(loop, tide_stream_read_exactly(r, buf, 10)),
			 -EPIPE);
	assert_memory_equal(buf, " world", 6);
	assert_int_equal(t_wait(loop, tide_stream_read(r, buf, 10)), 0);
	assert_int_equal(t_wait(loop, tide_stream_close(r)), 0);
	tide_loop_free(loop);
}

static void test_tide_stream_bad_args(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_stream_options o = { .flags = 1u << 20 };
	struct tide_stream *s = (void *)1;
	int sv[2];
	char buf[4];

	(void)state;
	assert_int_equal(tide_stream_new(loop, -1, NULL, &s), -EBADF);
	assert_null(s);
	assert_int_equal(tide_stream_new(loop, 0, &o, &s), -EINVAL);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(tide_stream_new(loop, sv[0], NULL, &s), 0);
	assert_int_equal(t_wait(loop, tide_stream_read(s, NULL, 4)), -EFAULT);
	assert_int_equal(t_wait(loop, tide_stream_read(s, buf, 0)), -EINVAL);
	struct tide_future *r1 = tide_stream_read(s, buf, 4);
	assert_int_equal(t_wait(loop, tide_stream_read(s, buf, 4)), -EBUSY);
	/* close fails the pending read */
	assert_int_equal(t_wait(loop, tide_stream_close(s)), 0);
	assert_int_equal(t_wait(loop, r1), -ECANCELED);
	tide_future_release(r1);
	close(sv[1]);
	assert_null(tide_stream_read(NULL, buf, 4));
	assert_int_equal(tide_stream_fd(NULL), -EINVAL);
	tide_loop_free(loop);
}

/* Cancelling a read; writes to a vanished peer give -EPIPE (no SIGPIPE). */
static void test_tide_stream_write_epipe(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_stream *s;
	int sv[2];
	char buf[4];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(tide_stream_new(loop, sv[0], NULL, &s), 0);
	struct tide_future *r = tide_stream_read(s, buf, 4);
	assert_int_equal(tide_future_cancel(r), 0);
	assert_int_equal(t_wait(loop, r), -ECANCELED);
	tide_future_release(r);
	close(sv[1]);
	assert_int_equal(t_wait(loop, tide_stream_write(s, "x", 1)), -EPIPE);
	assert_int_equal(t_wait(loop, tide_stream_write(s, "x", 1)), -EPIPE);
	assert_int_equal(t_wait(loop, tide_stream_close(s)), -EPIPE);
	tide_loop_free(loop);
}

/* Graceful stop: a connection still open at the deadline is shut down. */
static void test_tide_server_stop_deadline(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_addr a;
	struct tide_server *srv = echo_server(loop, "127.0.0.1:0", 0, &a);
	struct tide_server_stats st;
	int fd;

	(void)state;
	fd = (int)t_connect(loop, &a, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	for (tide_server_stats(srv, &st); st.accepted < 1;
	     tide_server_stats(srv, &st))
		tide_loop_run_once(loop, 1);
	assert_int_equal(t_wait(loop, tide_server_stop(srv, 20000000ull)),
			 -ETIMEDOUT);
	tide_server_stats(srv, &st);
	assert_int_equal(st.active, 0);
	/* the listening socket is gone */
	assert_true(t_connect(loop, &a, SOCK_STREAM, 0) < 0);
	assert_int_equal(t_wait(loop, tide_server_stop(srv, 0)), -EALREADY);
	tide_server_free(srv);
	close(fd);
	tide_loop_free(loop);
}

/* ---- issue 14: protocols, half-close, abort, cancel, copy, options ---- */

static void test_tide_stream_read_until_mem(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_stream *s;
	int sv[2];
	char buf[64];
	const char *p1 = "GET / HTTP/1.1\r\nA: \r\n\rb\r\n\r";
	const char *p2 = "\nBODY";

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(tide_stream_new(loop, sv[0], NULL, &s), 0);
	assert_int_equal(write(sv[1], p1, strlen(p1)), (ssize_t)strlen(p1));
	struct tide_future *r =
		tide_stream_read_until_mem(s, buf, sizeof(buf), "\r\n\r\n", 4);
	/* the first part is in: no delimiter yet (a near miss included) */
	for (int i = 0; i < 20 && !tide_future_done(r); i++)
		tide_loop_run_once(loop, 0);
	assert_false(tide_future_done(r));
	/* the delimiter arrives split across two receives */
	assert_int_equal(write(sv[1], p2, strlen(p2)), (ssize_t)strlen(p2));
	assert_int_equal(t_wait(loop, r), (int64_t)strlen(p1) + 1);
	assert_memory_equal(buf, "GET / HTTP/1.1\r\nA: \r\n\rb\r\n\r\n",
			    strlen(p1) + 1);
	tide_future_release(r);
	/* what followed the delimiter is still there */
	assert_int_equal(t_wait(loop, tide_stream_read_exactly(s, buf, 4)), 4);
	assert_memory_equal(buf, "BODY", 4);
	/* too long without the delimiter: -EMSGSIZE, bounded */
	assert_int_equal(write(sv[1], "0123456789", 10), 10);
	assert_int_equal(
		t_wait(loop, tide_stream_read_until_mem(s, buf, 8, "\r\n", 2)),
		-EMSGSIZE);
	/* bad delimiters */
	assert_int_equal(t_wait(loop,
				tide_stream_read_until_mem(s, buf, 8, "", 0)),
			 -EINVAL);
	assert_int_equal(t_wait(loop, tide_stream_read_until_mem(
					      s, buf, 8, buf,
					      TIDE_STREAM_DELIM_MAX + 1)),
			 -EINVAL);
	assert_int_equal(t_wait(loop,
				tide_stream_read_until_mem(s, buf, 8, NULL, 2)),
			 -EFAULT);
	/* the stream ends inside a record */
	close(sv[1]);
	assert_int_equal(
		t_wait(loop, tide_stream_read_until_mem(s, buf, 8, "\r\n", 2)),
		-EPIPE);
	assert_int_equal(t_wait(loop, tide_stream_close(s)), 0);
	tide_loop_free(loop);
}

/* The same over a buffer ring of 8-byte buffers: the delimiter spans
 * lent buffers, and what follows it stays queued in the ring's buffers. */
static void test_tide_stream_read_until_mem_bufring(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_bufring_options bo = { .count = 64, .size = 8 };
	struct tide_stream_options so = { 0 };
	struct tide_bufring *br;
	struct tide_stream *s;
	const char *msg = "HEAD one\r\n\r\nHEAD two, a longer one\r\n\r\ntail";
	char buf[64];
	int sv[2], ret;

	(void)state;
	ret = tide_bufring_new(loop, &br, &bo);
	if (ret == -EOPNOTSUPP) {
		tide_loop_free(loop);
		skip();
	}
	assert_int_equal(ret, 0);
	so.bufring = br;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(tide_stream_new(loop, sv[0], &so, &s), 0);
	/* byte by byte: every receive is its own lent buffer */
	for (const char *p = msg; *p; p++) {
		assert_int_equal(write(sv[1], p, 1), 1);
		tide_loop_run_once(loop, 0);
	}
	assert_int_equal(t_wait(loop,
				tide_stream_read_until_mem(s, buf, sizeof(buf),
							   "\r\n\r\n", 4)),
			 12);
	assert_memory_equal(buf, "HEAD one\r\n\r\n", 12);
	assert_int_equal(t_wait(loop,
				tide_stream_read_until_mem(s, buf, sizeof(buf),
							   "\r\n\r\n", 4)),
			 26);
	assert_memory_equal(buf, "HEAD two, a longer one\r\n\r\n", 26);
	close(sv[1]);
	assert_int_equal(t_wait(loop,
				tide_stream_read_until_mem(s, buf, sizeof(buf),
							   "\r\n\r\n", 4)),
			 -EPIPE);
	assert_memory_equal(buf, "tail", 4);
	assert_int_equal(t_wait(loop, tide_stream_close(s)), 0);
	assert_int_equal(tide_bufring_avail(br), 64);
	tide_bufring_free(br);
	tide_loop_free(loop);
}

/* A read served from buffered input resolves at once; a deadline on it
 * costs no submission and no timer. */
static void test_tide_future_timeout_resolved_no_sqe(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_loop_stats a, b;
	struct tide_stream *s;
	int sv[2];
	char buf[8];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(tide_stream_new(loop, sv[0], NULL, &s), 0);
	assert_int_equal(write(sv[1], "abcdef", 6), 6);
	assert_int_equal(t_wait(loop, tide_stream_read_exactly(s, buf, 2)), 2);
	for (int i = 0; i < 2; i++) {
		tide_loop_stats(loop, &a);
		struct tide_future *f = tide_future_timeout(
			tide_stream_read_exactly(s, buf, 2), 1000000000ull);
		assert_true(tide_future_done(f));
		assert_int_equal(t_wait(loop, f), 2);
		tide_future_release(f);
		tide_loop_stats(loop, &b);
		assert_int_equal(b.submitted, a.submitted);
		assert_int_equal(b.timers, a.timers);
	}
	/* a ready future, likewise */
	tide_loop_stats(loop, &a);
	struct tide_future *f =
		tide_future_timeout(tide_future_ready(loop, 5, NULL), 1);
	assert_int_equal(t_wait(loop, f), 5);
	tide_future_release(f);
	tide_loop_stats(loop, &b);
	assert_int_equal(b.submitted, a.submitted);
	/* a pending one still gets its deadline */
	f = tide_future_timeout(tide_stream_read(s, buf, 1), 10000000ull);
	assert_int_equal(t_wait(loop, f), -ETIMEDOUT);
	tide_future_release(f);
	close(sv[1]);
	assert_int_equal(t_wait(loop, tide_stream_close(s)), 0);
	tide_loop_free(loop);
}

static int accepted_nodelay = -2;

static void nodelay_conn(void *arg, struct tide_stream *s)
{
	(void)arg;
	assert_int_equal(tide_sockopt_get(tide_stream_fd(s),
					  TIDE_SOCKOPT_NODELAY,
					  &accepted_nodelay),
			 0);
	tide_future_release(tide_stream_close(s));
}

static void test_tide_stream_new_nodelay(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_stream_options no = { .flags = TIDE_STREAM_NAGLE };
	struct tide_stream *s;
	struct tide_server *srv;
	struct tide_addr a;
	int x, y, v, sv[2];

	(void)state;
	/* connect helper and stream: on; TIDE_STREAM_NAGLE keeps it off */
	t_tcp_pair(loop, &x, &y);
	assert_int_equal(tide_sockopt_get(x, TIDE_SOCKOPT_NODELAY, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(tide_sockopt_get(y, TIDE_SOCKOPT_NODELAY, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(tide_stream_new(loop, y, &no, &s), 0);
	assert_int_equal(tide_sockopt_get(y, TIDE_SOCKOPT_NODELAY, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(t_wait(loop, tide_stream_close(s)), 0);
	assert_int_equal(tide_stream_new(loop, x, NULL, &s), 0);
	assert_int_equal(t_wait(loop, tide_stream_close(s)), 0);
	/* the server's accepted connections */
	assert_int_equal(tide_addr_parse(&a, "127.0.0.1:0"), 0);
	assert_int_equal(
		tide_server_new(loop, &a, NULL, nodelay_conn, NULL, &srv), 0);
	assert_int_equal(tide_server_addr(srv, &a), 0);
	x = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(x, &a.u.sa, a.len), 0);
	while (accepted_nodelay == -2)
		assert_true(tide_loop_run_once(loop, 1) >= 0);
	assert_int_equal(accepted_nodelay, 1);
	close(x);
	stop_server(loop, srv);
	/* a Unix socket: no TCP option, still a stream */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(tide_stream_new(loop, sv[0], NULL, &s), 0);
	assert_int_equal(t_wait(loop, tide_stream_close(s)), 0);
	close(sv[1]);
	tide_loop_free(loop);
}

static void test_tide_sockopt_set(void **state)
{
	struct tide_loop *loop = t_loop();
	int x, y, v, sv[2], p[2];

	(void)state;
	t_tcp_pair(loop, &x, &y);
	assert_int_equal(tide_sockopt_set(y, TIDE_SOCKOPT_NODELAY, 1), 0);
	assert_int_equal(tide_sockopt_get(y, TIDE_SOCKOPT_NODELAY, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(tide_sockopt_set(y, TIDE_SOCKOPT_NODELAY, 0), 0);
	assert_int_equal(tide_sockopt_get(y, TIDE_SOCKOPT_NODELAY, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(tide_sockopt_set(y, TIDE_SOCKOPT_KEEPALIVE, 1), 0);
	assert_int_equal(tide_sockopt_get(y, TIDE_SOCKOPT_KEEPALIVE, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(tide_sockopt_set(y, TIDE_SOCKOPT_KEEPIDLE, 30), 0);
	assert_int_equal(tide_sockopt_get(y, TIDE_SOCKOPT_KEEPIDLE, &v), 0);
	assert_int_equal(v, 30);
	assert_int_equal(tide_sockopt_set(y, TIDE_SOCKOPT_SNDBUF, 65536), 0);
	assert_int_equal(tide_sockopt_get(y, TIDE_SOCKOPT_SNDBUF, &v), 0);
	assert_true(v >= 65536); /* the kernel doubles it */
	assert_int_equal(tide_sockopt_set(y, TIDE_SOCKOPT_LINGER, 5), 0);
	assert_int_equal(tide_sockopt_get(y, TIDE_SOCKOPT_LINGER, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(tide_sockopt_set(y, TIDE_SOCKOPT_LINGER, -1), 0);
	assert_int_equal(tide_sockopt_get(y, TIDE_SOCKOPT_LINGER, &v), 0);
	assert_int_equal(v, -1);
	assert_int_equal(tide_sockopt_set(y, TIDE_SOCKOPT_CORK, 1), 0);
	assert_int_equal(tide_sockopt_get(y, TIDE_SOCKOPT_CORK, &v), 0);
	assert_int_equal(v, 1);
	/* failures */
	assert_int_equal(tide_sockopt_set(y, 0, 1), -EINVAL);
	assert_int_equal(tide_sockopt_set(y, 999, 1), -EINVAL);
	assert_int_equal(tide_sockopt_get(y, 999, &v), -EINVAL);
	assert_int_equal(tide_sockopt_get(y, TIDE_SOCKOPT_NODELAY, NULL),
			 -EFAULT);
	assert_int_equal(tide_sockopt_set(y, TIDE_SOCKOPT_LINGER, -2), -EINVAL);
	assert_int_equal(tide_sockopt_set(y, TIDE_SOCKOPT_SNDBUF, -5), -EINVAL);
	assert_int_equal(tide_sockopt_set(-1, TIDE_SOCKOPT_NODELAY, 1), -EBADF);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(tide_sockopt_set(p[0], TIDE_SOCKOPT_NODELAY, 1),
			 -ENOTSOCK);
	assert_int_equal(tide_sockopt_get(p[0], TIDE_SOCKOPT_NODELAY, &v),
			 -ENOTSOCK);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(tide_sockopt_set(sv[0], TIDE_SOCKOPT_NODELAY, 1),
			 -EOPNOTSUPP);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
	close(x);
	close(y);
	tide_loop_free(loop);
}

static void test_tide_stream_shutdown_half_close(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_stream *s, *ps;
	int sv[2], p[2];
	char buf[16];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(tide_stream_new(loop, sv[0], NULL, &s), 0);
	struct tide_future *w = tide_stream_write(s, "abc", 3);
	struct tide_future *sh = tide_stream_shutdown(s);
	assert_int_equal(t_wait(loop, sh), 0);
	assert_int_equal(t_wait(loop, w), 3);
	tide_future_release(w);
	tide_future_release(sh);
	/* the peer reads the bytes, then end of stream */
	assert_int_equal(read(sv[1], buf, sizeof(buf)), 3);
	assert_int_equal(read(sv[1], buf, sizeof(buf)), 0);
	/* reading goes on after the half-close */
	assert_int_equal(write(sv[1], "xyz", 3), 3);
	assert_int_equal(t_wait(loop, tide_stream_read_exactly(s, buf, 3)), 3);
	assert_memory_equal(buf, "xyz", 3);
	assert_int_equal(t_wait(loop, tide_stream_write(s, "x", 1)), -EPIPE);
	assert_int_equal(t_wait(loop, tide_stream_shutdown(s)), -EALREADY);
	assert_int_equal(t_wait(loop, tide_stream_close(s)), 0);
	close(sv[1]);
	/* not a socket */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(tide_stream_new(loop, p[1], NULL, &ps), 0);
	assert_int_equal(t_wait(loop, tide_stream_shutdown(ps)), -ENOTSOCK);
	assert_int_equal(t_wait(loop, tide_stream_close(ps)), 0);
	close(p[0]);
	assert_null(tide_stream_shutdown(NULL));
	tide_loop_free(loop);
}

/* A peer that never reads: writes queue up; abort fails them and the
 * pending half-close, and resets the connection. */
static void test_tide_stream_abort_never_reading_peer(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_stream *s;
	struct t_seen e1 = { 0 }, e2 = { 0 }, e3 = { 0 };
	size_t big = 16u << 20;
	char *data = calloc(1, big);
	char buf[4];
	int x, y;

	(void)state;
	assert_non_null(data);
	t_tcp_pair(loop, &x, &y);
	assert_int_equal(tide_stream_new(loop, x, NULL, &s), 0);
	assert_int_equal(tide_future_on_done(tide_stream_write(s, data, big),
					     t_seen_cb, &e1),
			 0);
	assert_int_equal(tide_future_on_done(tide_stream_write(s, data, 10),
					     t_seen_cb, &e2),
			 0);
	assert_int_equal(tide_future_on_done(tide_stream_shutdown(s), t_seen_cb,
					     &e3),
			 0);
	for (int i = 0; i < 50; i++)
		tide_loop_run_once(loop, 0);
	assert_int_equal(e1.n + e2.n + e3.n, 0); /* stuck: nobody reads */
	assert_int_equal(t_wait(loop, tide_stream_abort(s)), 0);
	while (e1.n + e2.n + e3.n < 3)
		assert_true(tide_loop_run_once(loop, 0) >= 0);
	assert_int_equal(e1.n, 1);
	assert_int_equal(e1.res, -ECANCELED);
	assert_int_equal(e2.res, -ECANCELED);
	assert_int_equal(e3.res, -ECANCELED);
	/* the peer sees a reset once it reads past what arrived */
	ssize_t r;
	while ((r = read(y, data, big)) > 0)
		;
	assert_int_equal(r, -1);
	assert_int_equal(errno, ECONNRESET);
	close(y);
	free(data);
	(void)buf;
	assert_null(tide_stream_abort(NULL));
	tide_loop_free(loop);
}

/* The peer resets: abort of an idle stream, and a second abort/close. */
static void test_tide_stream_abort_resets(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_stream *s, *t;
	char buf[8];
	int x, y;

	(void)state;
	t_tcp_pair(loop, &x, &y);
	assert_int_equal(tide_stream_new(loop, x, NULL, &s), 0);
	assert_int_equal(tide_stream_new(loop, y, NULL, &t), 0);
	struct tide_future *r = tide_stream_read(t, buf, sizeof(buf));
	struct tide_future *rs = tide_stream_read(s, buf, sizeof(buf));
	assert_int_equal(t_wait(loop, tide_stream_abort(s)), 0);
	assert_int_equal(t_wait(loop, rs), -ECANCELED);
	assert_int_equal(t_wait(loop, r), -ECONNRESET);
	tide_future_release(r);
	tide_future_release(rs);
	assert_int_equal(t_wait(loop, tide_stream_close(t)), 0);
	tide_loop_free(loop);
}

static void test_tide_stream_cancel(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_stream *s, *w;
	struct t_seen e = { 0 }, w1 = { 0 }, w2 = { 0 };
	size_t big = 16u << 20;
	char *data = calloc(1, big);
	char buf[8];
	int sv[2], x, y;

	(void)state;
	assert_non_null(data);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(tide_stream_new(loop, sv[0], NULL, &s), 0);
	assert_int_equal(tide_stream_cancel(s, TIDE_STREAM_CANCEL_READ), 0);
	/* a read whose callback is attached */
	assert_int_equal(tide_future_on_done(tide_stream_read(s, buf, 8),
					     t_seen_cb, &e),
			 0);
	tide_loop_run_once(loop, 0);
	assert_int_equal(tide_stream_cancel(s, TIDE_STREAM_CANCEL_READ), 1);
	while (e.n == 0)
		assert_true(tide_loop_run_once(loop, 1) >= 0);
	assert_int_equal(e.res, -ECANCELED);
	/* nothing lost: the stream reads on */
	assert_int_equal(write(sv[1], "hi", 2), 2);
	assert_int_equal(t_wait(loop, tide_stream_read(s, buf, 8)), 2);
	assert_memory_equal(buf, "hi", 2);
	/* bad arguments */
	assert_int_equal(tide_stream_cancel(s, 0), -EINVAL);
	assert_int_equal(tide_stream_cancel(s, 4), -EINVAL);
	assert_int_equal(tide_stream_cancel(NULL, TIDE_STREAM_CANCEL_READ),
			 -EINVAL);
	assert_int_equal(t_wait(loop, tide_stream_close(s)), 0);
	close(sv[1]);
	/* writes stuck on a peer that never reads */
	t_tcp_pair(loop, &x, &y);
	assert_int_equal(tide_stream_new(loop, x, NULL, &w), 0);
	assert_int_equal(tide_future_on_done(tide_stream_write(w, data, big),
					     t_seen_cb, &w1),
			 0);
	assert_int_equal(tide_future_on_done(tide_stream_write(w, data, 100),
					     t_seen_cb, &w2),
			 0);
	for (int i = 0; i < 50; i++)
		tide_loop_run_once(loop, 0);
	assert_int_equal(tide_stream_cancel(w, TIDE_STREAM_CANCEL_WRITE), 2);
	while (w1.n == 0 || w2.n == 0)
		assert_true(tide_loop_run_once(loop, 1) >= 0);
	assert_int_equal(w1.res, -ECANCELED);
	assert_int_equal(w2.res, -ECANCELED);
	/* still usable: a new write goes out behind what was sent */
	while (recv(y, data, big, MSG_DONTWAIT) > 0)
		;
	assert_int_equal(t_wait(loop, tide_stream_write(w, "z", 1)), 1);
	ssize_t got, last = 0;
	while ((got = recv(y, data, big, 0)) > 0) {
		last = got;
		if (data[got - 1] == 'z')
			break;
	}
	assert_true(last > 0);
	assert_int_equal(data[last - 1], 'z');
	assert_int_equal(tide_stream_cancel(w, TIDE_STREAM_CANCEL_WRITE), 0);
	assert_int_equal(t_wait(loop, tide_stream_close(w)), 0);
	close(y);
	free(data);
	tide_loop_free(loop);
}

/* Proxy pair: client c <-> a [copy] b <-> server v, all Unix pairs. */
struct proxy4 {
	struct tide_stream *c, *a, *b, *v;
	int cfd, vfd;
};

static void proxy4_new(struct tide_loop *loop, struct proxy4 *p, bool tcp)
{
	int s1[2], s2[2];

	if (tcp) {
		t_tcp_pair(loop, &s1[0], &s1[1]);
		t_tcp_pair(loop, &s2[0], &s2[1]);
	} else {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s1), 0);
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s2), 0);
	}
	assert_int_equal(tide_stream_new(loop, s1[0], NULL, &p->c), 0);
	assert_int_equal(tide_stream_new(loop, s1[1], NULL, &p->a), 0);
	assert_int_equal(tide_stream_new(loop, s2[0], NULL, &p->b), 0);
	assert_int_equal(tide_stream_new(loop, s2[1], NULL, &p->v), 0);
}

static void test_tide_stream_copy_bidi(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_copy_stats st = { 0 };
	struct proxy4 p;
	size_t nx = 300001, ny = 200003;
	unsigned char *x = malloc(nx), *y = malloc(ny), *in = malloc(nx);
	char one;

	(void)state;
	assert_non_null(x);
	assert_non_null(y);
	assert_non_null(in);
	for (size_t i = 0; i < nx; i++)
		x[i] = (unsigned char)(i * 31 + (i >> 9));
	for (size_t i = 0; i < ny; i++)
		y[i] = (unsigned char)(i * 17 + 5);
	proxy4_new(loop, &p, false);
	struct tide_future *cp = tide_stream_copy_bidi(p.a, p.b, 4096, &st);
	/* client sends x and half-closes */
	struct tide_future *wx = tide_stream_write(p.c, x, nx);
	struct tide_future *shc = tide_stream_shutdown(p.c);
	/* the server sees x, then end of stream, and still answers */
	assert_int_equal(t_wait(loop, tide_stream_read_exactly(p.v, in, nx)),
			 (int64_t)nx);
	assert_memory_equal(in, x, nx);
	assert_int_equal(t_wait(loop, tide_stream_read(p.v, &one, 1)), 0);
	assert_int_equal(t_wait(loop, tide_stream_write(p.v, y, ny)),
			 (int64_t)ny);
	assert_int_equal(t_wait(loop, tide_stream_shutdown(p.v)), 0);
	assert_int_equal(t_wait(loop, tide_stream_read_exactly(p.c, in, ny)),
			 (int64_t)ny);
	assert_memory_equal(in, y, ny);
	assert_int_equal(t_wait(loop, tide_stream_read(p.c, &one, 1)), 0);
	assert_int_equal(t_wait(loop, cp), (int64_t)(nx + ny));
	assert_int_equal(st.a_to_b, nx);
	assert_int_equal(st.b_to_a, ny);
	assert_int_equal(t_wait(loop, wx), (int64_t)nx);
	assert_int_equal(t_wait(loop, shc), 0);
	tide_future_release(cp);
	tide_future_release(wx);
	tide_future_release(shc);
	assert_int_equal(t_wait(loop, tide_stream_close(p.c)), 0);
	assert_int_equal(t_wait(loop, tide_stream_close(p.a)), 0);
	assert_int_equal(t_wait(loop, tide_stream_close(p.b)), 0);
	assert_int_equal(t_wait(loop, tide_stream_close(p.v)), 0);
	free(x);
	free(y);
	free(in);
	tide_loop_free(loop);
}

/* One side resets: the copy stops both ways and reports the error. */
static void test_tide_stream_copy_bidi_reset(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_copy_stats st = { 0 };
	struct proxy4 p;
	char buf[8];

	(void)state;
	proxy4_new(loop, &p, true);
	struct tide_future *cp = tide_stream_copy_bidi(p.a, p.b, 0, &st);
	assert_int_equal(t_wait(loop, tide_stream_write(p.c, "ping", 4)), 4);
	assert_int_equal(t_wait(loop, tide_stream_read_exactly(p.v, buf, 4)),
			 4);
	assert_int_equal(t_wait(loop, tide_stream_abort(p.v)), 0);
	assert_int_equal(t_wait(loop, cp), -ECONNRESET);
	assert_int_equal(st.a_to_b, 4);
	tide_future_release(cp);
	/* the streams are the caller's again: a's peer still works */
	assert_int_equal(t_wait(loop, tide_stream_write(p.a, "ok", 2)), 2);
	assert_int_equal(t_wait(loop, tide_stream_read_exactly(p.c, buf, 2)),
			 2);
	assert_int_equal(t_wait(loop, tide_stream_abort(p.a)), 0);
	assert_int_equal(t_wait(loop, tide_stream_abort(p.b)), 0);
	assert_int_equal(t_wait(loop, tide_stream_abort(p.c)), 0);
	tide_loop_free(loop);
}

/* The far side never reads: the copy's write stalls; a deadline on the
 * copy cancels both ways and reports -ETIMEDOUT, nothing hangs. */
static void test_tide_stream_copy_bidi_never_reading_peer(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_copy_stats st = { 0 };
	size_t big = 64u << 20; /* more than every socket buffer on the way */
	char *data = calloc(1, big);
	struct proxy4 p;

	(void)state;
	assert_non_null(data);
	proxy4_new(loop, &p, true);
	struct tide_future *w = tide_stream_write(p.c, data, big);
	struct tide_future *cp = tide_future_timeout(
		tide_stream_copy_bidi(p.a, p.b, 0, &st), 200000000ull);
	assert_int_equal(t_wait(loop, cp), -ETIMEDOUT);
	assert_true(st.a_to_b < big); /* stalled: the far side never read */
	tide_future_release(cp);
	assert_int_equal(t_wait(loop, tide_stream_abort(p.c)), 0);
	assert_int_equal(t_wait(loop, w), -ECANCELED);
	tide_future_release(w);
	assert_int_equal(t_wait(loop, tide_stream_abort(p.a)), 0);
	assert_int_equal(t_wait(loop, tide_stream_abort(p.b)), 0);
	assert_int_equal(t_wait(loop, tide_stream_abort(p.v)), 0);
	free(data);
	tide_loop_free(loop);
}

static void test_tide_stream_copy_bidi_cancel(void **state)
{
	struct tide_loop *loop = t_loop();
	struct proxy4 p;
	char buf[8];

	(void)state;
	proxy4_new(loop, &p, false);
	/* bad arguments */
	assert_null(tide_stream_copy_bidi(NULL, NULL, 0, NULL));
	assert_int_equal(t_wait(loop,
				tide_stream_copy_bidi(p.a, NULL, 0, NULL)),
			 -EINVAL);
	assert_int_equal(t_wait(loop, tide_stream_copy_bidi(p.a, p.a, 0, NULL)),
			 -EINVAL);
	struct tide_future *r = tide_stream_read(p.a, buf, 1);
	assert_int_equal(t_wait(loop, tide_stream_copy_bidi(p.a, p.b, 0, NULL)),
			 -EBUSY);
	assert_int_equal(tide_future_cancel(r), 0);
	assert_int_equal(t_wait(loop, r), -ECANCELED);
	tide_future_release(r);
	/* idle peers: cancelling stops both directions */
	struct tide_future *cp = tide_stream_copy_bidi(p.a, p.b, 0, NULL);
	for (int i = 0; i < 10; i++)
		tide_loop_run_once(loop, 0);
	assert_int_equal(tide_future_cancel(cp), 0);
	assert_int_equal(t_wait(loop, cp), -ECANCELED);
	tide_future_release(cp);
	/* and the streams read on */
	assert_int_equal(t_wait(loop, tide_stream_write(p.c, "q", 1)), 1);
	assert_int_equal(t_wait(loop, tide_stream_read(p.a, buf, 8)), 1);
	assert_int_equal(buf[0], 'q');
	assert_int_equal(t_wait(loop, tide_stream_close(p.a)), 0);
	assert_int_equal(t_wait(loop, tide_stream_close(p.b)), 0);
	assert_int_equal(t_wait(loop, tide_stream_close(p.c)), 0);
	assert_int_equal(t_wait(loop, tide_stream_close(p.v)), 0);
	tide_loop_free(loop);
}

/* ---- one client that sends and never reads ---- */

#define PING_LEN 100
#define PING_ROUNDS 20
#define PINGERS 50

struct pinger {
	struct tide_stream *s;
	char out[PING_LEN], in[PING_LEN];
	int rounds, err;
	uint64_t t_sent, max_ns;
	int *done;
};

static void ping_send(struct pinger *p);

static void ping_wrote(void *arg, int64_t res, void *payload)
{
	struct pinger *p = arg;

	(void)payload;
	if (res != PING_LEN && !p->err)
		p->err = res < 0 ? (int)res : -EIO;
}

static void ping_got(void *arg, int64_t res, void *payload)
{
	struct pinger *p = arg;
	uint64_t ns = tide_now_ns() - p->t_sent;

	(void)payload;
	if (res != PING_LEN || memcmp(p->in, p->out, PING_LEN)) {
		if (!p->err)
			p->err = res < 0 ? (int)res : -EIO;
		(*p->done)++;
		return;
	}
	if (ns > p->max_ns)
		p->max_ns = ns;
	if (++p->rounds == PING_ROUNDS)
		(*p->done)++;
	else
		ping_send(p);
}

static void ping_send(struct pinger *p)
{
	for (int i = 0; i < PING_LEN; i++)
		p->out[i] = (char)(i ^ p->rounds ^ (int)(uintptr_t)p);
	p->t_sent = tide_now_ns();
	assert_int_equal(
		tide_future_on_done(tide_stream_write(p->s, p->out, PING_LEN),
				    ping_wrote, p),
		0);
	assert_int_equal(tide_future_on_done(tide_stream_read_exactly(
						     p->s, p->in, PING_LEN),
					     ping_got, p),
			 0);
}

/* Push what the socket takes without blocking; true on progress. */
static bool hog_push(int fd, const char *buf, size_t len, uint64_t *total)
{
	bool moved = false;
	ssize_t n;

	while ((n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL)) > 0) {
		*total += (uint64_t)n;
		moved = true;
	}
	return moved;
}

/*
 * One client sends megabytes and never reads; 50 others keep exchanging
 * short messages with the same server (default buffer ring).  The hog's
 * stream may hold only its share of the ring and stops receiving, so the
 * others are served (before the fix the hog took every buffer and the
 * others waited forever).
 */
static void test_tide_server_hog_does_not_stall_others(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_addr a;
	struct tide_server *srv = echo_server(loop, "127.0.0.1:0", 0, &a);
	static struct pinger p[PINGERS];
	static char junk[65536];
	struct tide_future *tick = NULL;
	uint64_t pushed = 0, t0, worst = 0;
	int hog, done = 0, idle = 0;

	(void)state;
	memset(junk, 'h', sizeof(junk));
	hog = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(hog >= 0);
	assert_int_equal(connect(hog, &a.u.sa, a.len), 0);
	/* until the hog can push no more (or 32 MiB went in) */
	for (int i = 0; i < 1000000 && idle < 2000 && pushed < (32u << 20);
	     i++) {
		idle = hog_push(hog, junk, sizeof(junk), &pushed) ? 0 :
								    idle + 1;
		assert_true(tide_loop_run_once(loop, 0) >= 0);
	}
	assert_true(pushed >= (1u << 20));
	memset(p, 0, sizeof(p));
	for (int i = 0; i < PINGERS; i++) {
		p[i].s = dial(loop, &a);
		p[i].done = &done;
		ping_send(&p[i]);
	}
	t0 = tide_now_ns();
	while (done < PINGERS) {
		/* a tick bounds each wait, so a stall fails the test */
		if (!tick || tide_future_done(tick)) {
			tide_future_release(tick);
			tick = tide_sleep(loop, 50000000ull);
		}
		hog_push(hog, junk, sizeof(junk), &pushed);
		assert_true(tide_loop_run_once(loop, 1) >= 0);
		/* generous: a stalled server never gets there at all */
		assert_true(tide_now_ns() - t0 < 30000000000ull);
	}
	tide_future_release(tick);
	for (int i = 0; i < PINGERS; i++) {
		assert_int_equal(p[i].err, 0);
		assert_int_equal(p[i].rounds, PING_ROUNDS);
		if (p[i].max_ns > worst)
			worst = p[i].max_ns;
		assert_int_equal(t_wait(loop, tide_stream_close(p[i].s)), 0);
	}
	print_message("hog pushed %llu KiB; %d clients x %d round trips in "
		      "%.1f ms, slowest round trip %.2f ms\n",
		      (unsigned long long)(pushed >> 10), PINGERS, PING_ROUNDS,
		      (double)(tide_now_ns() - t0) / 1e6, (double)worst / 1e6);
	close(hog);
	stop_server(loop, srv);
	tide_loop_free(loop);
}

/* ---- the peer address handed to the connection callback ---- */

struct peer_got {
	struct tide_addr addr;
	int calls;
};

static void peer_conn(void *arg, struct tide_stream *s,
		      const struct tide_addr *peer)
{
	struct peer_got *g = arg;

	g->addr = *peer;
	g->calls++;
	tide_future_release(tide_stream_close(s));
}

static void peer_round(const char *text, int family)
{
	struct tide_loop *loop = t_loop();
	struct tide_server_options o = { .conn_peer = peer_conn };
	struct peer_got got = { .calls = 0 };
	struct tide_addr a, b, mine = { .len = sizeof(mine.u) };
	struct tide_server *srv;
	char want[TIDE_ADDR_STRLEN], have[TIDE_ADDR_STRLEN];
	int fd;

	assert_int_equal(tide_addr_parse(&a, text), 0);
	assert_int_equal(tide_server_new(loop, &a, &o, NULL, &got, &srv), 0);
	assert_int_equal(tide_server_addr(srv, &b), 0);
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	if (family != AF_UNIX) {
		struct tide_addr any;

		assert_int_equal(tide_addr_parse(&any, family == AF_INET ?
							       "127.0.0.1:0" :
							       "[::1]:0"),
				 0);
		assert_int_equal(bind(fd, &any.u.sa, any.len), 0);
		assert_int_equal(getsockname(fd, &mine.u.sa, &mine.len), 0);
	}
	assert_int_equal(connect(fd, &b.u.sa, b.len), 0);
	while (got.calls < 1)
		assert_true(tide_loop_run_once(loop, 1) >= 0);
	assert_int_equal(got.calls, 1);
	assert_int_equal(got.addr.u.sa.sa_family, family);
	if (family != AF_UNIX) {
		assert_true(tide_addr_format(&mine, want, sizeof(want)) > 0);
		assert_true(tide_addr_format(&got.addr, have, sizeof(have)) >
			    0);
		assert_string_equal(have, want);
	}
	close(fd);
	stop_server(loop, srv);
	tide_loop_free(loop);
}

static void test_tide_server_new_conn_peer(void **state)
{
	char path[64];

	(void)state;
	peer_round("127.0.0.1:0", AF_INET);
	peer_round("[::1]:0", AF_INET6);
	snprintf(path, sizeof(path), "unix:/tmp/tide-peer-%d.sock",
		 (int)getpid());
	unlink(path + 5);
	peer_round(path, AF_UNIX);
	unlink(path + 5);
}

static void test_tide_server_new_conn_peer_bad(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_server_options o = { .conn_peer = peer_conn };
	struct tide_server *srv = (void *)1;
	struct tide_addr a;

	(void)state;
	assert_int_equal(tide_addr_parse(&a, "127.0.0.1:0"), 0);
	/* fn and conn_peer both given */
	assert_int_equal(tide_server_new(loop, &a, &o, echo_conn, NULL, &srv),
			 -EINVAL);
	assert_null(srv);
	o.conn_peer = NULL;
	o.reserved[2] = 1;
	assert_int_equal(tide_server_new(loop, &a, &o, echo_conn, NULL, &srv),
			 -EINVAL);
	tide_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tide_server_new_echo_ipv4),
		cmocka_unit_test(test_tide_server_new_echo_ipv6),
		cmocka_unit_test(test_tide_server_new_echo_unix),
		cmocka_unit_test(test_tide_server_new_bad_args),
		cmocka_unit_test(test_tide_stream_bufring_exhausted),
		cmocka_unit_test(test_tide_stream_read_reset),
		cmocka_unit_test(test_tide_server_connect_close),
		cmocka_unit_test(test_tide_stream_read_line),
		cmocka_unit_test(test_tide_stream_pipe),
		cmocka_unit_test(test_tide_stream_bad_args),
		cmocka_unit_test(test_tide_stream_write_epipe),
		cmocka_unit_test(test_tide_server_stop_deadline),
		cmocka_unit_test(test_tide_stream_read_until_mem),
		cmocka_unit_test(test_tide_stream_read_until_mem_bufring),
		cmocka_unit_test(test_tide_future_timeout_resolved_no_sqe),
		cmocka_unit_test(test_tide_stream_new_nodelay),
		cmocka_unit_test(test_tide_sockopt_set),
		cmocka_unit_test(test_tide_stream_shutdown_half_close),
		cmocka_unit_test(test_tide_stream_abort_never_reading_peer),
		cmocka_unit_test(test_tide_stream_abort_resets),
		cmocka_unit_test(test_tide_stream_cancel),
		cmocka_unit_test(test_tide_stream_copy_bidi),
		cmocka_unit_test(test_tide_stream_copy_bidi_reset),
		cmocka_unit_test(test_tide_stream_copy_bidi_cancel),
		cmocka_unit_test(test_tide_stream_copy_bidi_never_reading_peer),
		cmocka_unit_test(test_tide_server_hog_does_not_stall_others),
		cmocka_unit_test(test_tide_server_new_conn_peer),
		cmocka_unit_test(test_tide_server_new_conn_peer_bad),
	};
	const struct CMUnitTest big[] = {
		cmocka_unit_test(test_tide_stream_many_random),
	};
	int fails = T_RUN("stream", tests);

	/* the big one once, with the default ring setup */
	fails += cmocka_run_group_tests_name("stream_many", big, NULL, NULL);
	return fails;
}
