// SPDX-License-Identifier: MIT
/*
 * test_stream.c - streams and the server helper: echo over every socket
 * family, 1000 concurrent connections with random sizes (every byte
 * checked), peer reset, connect-and-close, over-long lines, buffer ring
 * exhaustion, graceful stop with a deadline, pipes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

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
	assert_int_equal(tide_server_new(loop, &a, &o, echo_conn, NULL, &srv), 0);
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
		c->out[i] = (unsigned char)((i * 7 + (size_t)c->seed * 13) ^ (i >> 8));
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
	struct tide_future *f = tide_connect_timeout(loop, a, SOCK_STREAM,
						     2000000000ull);
	struct tide_stream *s;
	int64_t fd = t_wait(loop, f);

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
	assert_int_equal(tide_future_on_done(tide_stream_write(c->s, c->out,
								c->len),
					     cli_wrote, c), 0);
	assert_int_equal(tide_future_on_done(tide_stream_read_exactly(c->s, c->in,
								      c->len),
					     cli_read, c), 0);
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
	assert_int_equal(tide_server_new(loop, &a, NULL, echo_conn, NULL, &srv2),
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
	assert_int_equal(tide_server_new(loop, &a, &o, echo_conn, NULL, &srv), 0);
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
	cfd = (int)t_wait(loop, tide_connect_timeout(loop, &a, SOCK_STREAM, 0));
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
		int fd = (int)t_wait(loop, tide_connect_timeout(loop, &a,
							       SOCK_STREAM, 0));
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
	assert_int_equal(t_wait(loop, tide_stream_read_line(s, buf, sizeof(buf))), 3);
	assert_memory_equal(buf, "ab\n", 3);
	/* longer than the maximum: an error, not unbounded memory */
	assert_int_equal(t_wait(loop, tide_stream_read_line(s, buf, sizeof(buf))),
			 -EMSGSIZE);
	assert_int_equal(t_wait(loop, tide_stream_read_until(s, buf, sizeof(buf), '\n')),
			 3);
	assert_memory_equal(buf, "kl\n", 3);
	/* the stream ends inside a line */
	assert_int_equal(t_wait(loop, tide_stream_read_line(s, buf, sizeof(buf))),
			 -EPIPE);
	assert_int_equal(t_wait(loop, tide_stream_read_line(s, buf, sizeof(buf))), 0);
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
	assert_int_equal(t_wait(loop, tide_stream_write(w, "hello world", 11)), 11);
	assert_int_equal(t_wait(loop, tide_stream_read_exactly(r, buf, 5)), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(t_wait(loop, tide_stream_close(w)), 0);
	assert_int_equal(t_wait(loop, tide_stream_read_exactly(r, buf, 10)), -EPIPE);
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
	fd = (int)t_wait(loop, tide_connect_timeout(loop, &a, SOCK_STREAM, 0));
	assert_true(fd >= 0);
	for (tide_server_stats(srv, &st); st.accepted < 1;
	     tide_server_stats(srv, &st))
		tide_loop_run_once(loop, 1);
	assert_int_equal(t_wait(loop, tide_server_stop(srv, 20000000ull)),
			 -ETIMEDOUT);
	tide_server_stats(srv, &st);
	assert_int_equal(st.active, 0);
	/* the listening socket is gone */
	assert_true(t_wait(loop, tide_connect_timeout(loop, &a, SOCK_STREAM, 0)) < 0);
	assert_int_equal(t_wait(loop, tide_server_stop(srv, 0)), -EALREADY);
	tide_server_free(srv);
	close(fd);
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
	assert_int_equal(tide_future_on_done(tide_stream_write(p->s, p->out,
								PING_LEN),
					     ping_wrote, p), 0);
	assert_int_equal(tide_future_on_done(tide_stream_read_exactly(p->s, p->in,
								      PING_LEN),
					     ping_got, p), 0);
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
		idle = hog_push(hog, junk, sizeof(junk), &pushed) ? 0 : idle + 1;
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
						 "127.0.0.1:0" : "[::1]:0"), 0);
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
		assert_true(tide_addr_format(&got.addr, have, sizeof(have)) > 0);
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
	snprintf(path, sizeof(path), "unix:/tmp/tide-peer-%d.sock", (int)getpid());
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
