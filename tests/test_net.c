// SPDX-License-Identifier: MIT
/*
 * test_net.c - socket operations, addresses, resolution, buffer rings,
 * multishot accept and receive, EMFILE back-off.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

static void test_tide_addr_parse_forms(void **state)
{
	struct tide_addr a;
	char buf[TIDE_ADDR_STRLEN];

	(void)state;
	assert_int_equal(tide_addr_parse(&a, "127.0.0.1:8080"), 0);
	assert_int_equal(a.u.sa.sa_family, AF_INET);
	assert_int_equal(tide_addr_format(&a, buf, sizeof(buf)), 14);
	assert_string_equal(buf, "127.0.0.1:8080");
	assert_int_equal(tide_addr_parse(&a, "[::1]:53"), 0);
	assert_int_equal(a.u.sa.sa_family, AF_INET6);
	assert_true(tide_addr_format(&a, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "[::1]:53");
	assert_int_equal(tide_addr_parse(&a, ":99"), 0);
	assert_int_equal(tide_addr_format(&a, buf, sizeof(buf)), 10);
	assert_string_equal(buf, "0.0.0.0:99");
	assert_int_equal(tide_addr_parse(&a, "unix:/tmp/x.sock"), 0);
	assert_int_equal(tide_addr_format(&a, buf, sizeof(buf)), 16);
	assert_string_equal(buf, "unix:/tmp/x.sock");
	assert_int_equal(tide_addr_parse(&a, "unix:@abs"), 0);
	assert_int_equal(tide_addr_format(&a, buf, sizeof(buf)), 9);
	assert_string_equal(buf, "unix:@abs");
	assert_int_equal(tide_addr_format(&a, buf, 4), -ENOSPC);
}

static void test_tide_addr_parse_bad(void **state)
{
	static const char *bad[] = {
		"",	     "1.2.3.4",	      "1.2.3.4:",
		"1.2.3.4:x", "1.2.3.4:65536", "::1:80",
		"[::1]80",   "[zz]:1",	      "host.example:80",
		"unix:",     "1.2.3.4:-1"
	};
	struct tide_addr a;
	char longpath[200];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tide_addr_parse(&a, bad[i]), -EINVAL);
	memset(longpath, 'a', sizeof(longpath));
	memcpy(longpath, "unix:", 5);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(tide_addr_parse(&a, longpath), -ENAMETOOLONG);
	assert_int_equal(tide_addr_parse(NULL, "1.2.3.4:1"), -EINVAL);
	memset(&a, 0, sizeof(a));
	assert_int_equal(tide_addr_format(&a, longpath, 100), -EAFNOSUPPORT);
	assert_int_equal(tide_addr_format(NULL, longpath, 100), -EINVAL);
}

static void test_tide_resolve_localhost(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_future *f = tide_resolve(loop, "localhost:80", SOCK_STREAM);
	struct tide_addr *a;
	int64_t n = t_wait(loop, f);

	(void)state;
	assert_true(n >= 1);
	a = tide_future_payload(f);
	assert_non_null(a);
	assert_true(a[0].u.sa.sa_family == AF_INET ||
		    a[0].u.sa.sa_family == AF_INET6);
	free(a);
	tide_future_release(f);
	f = tide_resolve(loop, "unix:/x", 0);
	assert_int_equal(t_wait(loop, f), 1);
	free(tide_future_payload(f));
	tide_future_release(f);
	assert_int_equal(t_wait(loop, tide_resolve(loop, "nohostport", 0)),
			 -EINVAL);
	assert_int_equal(t_wait(loop, tide_resolve(loop, "a:1", 77)), -EINVAL);
	assert_int_equal(
		t_wait(loop, tide_resolve(loop, "no-such-host.invalid:1", 0)),
		-ENOENT);
	/* a cancelled lookup resolves at once; the thread ends on its own */
	f = tide_resolve(loop, "localhost:1", 0);
	assert_int_equal(tide_future_cancel(f), 0);
	assert_int_equal(t_wait(loop, f), -ECANCELED);
	tide_future_release(f);
	usleep(100000); /* let the thread post before the loop goes */
	tide_loop_run_once(loop, 0);
	tide_loop_free(loop);
}

/* A listening socket on loopback (family by text); returns its fd. */
static int listener(const char *text, int type, struct tide_addr *bound)
{
	struct tide_addr a;
	int fd;

	assert_int_equal(tide_addr_parse(&a, text), 0);
	fd = socket(a.u.sa.sa_family, type | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(tide_bind(fd, &a), 0);
	if (type == SOCK_STREAM)
		assert_int_equal(tide_listen(fd, 0), 0);
	bound->len = sizeof(bound->u);
	getsockname(fd, &bound->u.sa, &bound->len);
	return fd;
}

static void pingpong(const char *text)
{
	struct tide_loop *loop = t_loop();
	struct tide_addr a, peer;
	int lfd = listener(text, SOCK_STREAM, &a);
	char buf[16];
	int fd, cfd, afd;
	int64_t r;

	T_OP(r, loop, tide_socket(loop, a.u.sa.sa_family, SOCK_STREAM, 0));
	fd = (int)r;
	assert_true(fd >= 0);
	/* the accept waits while the connect is made */
	struct tide_future *acc = tide_accept(loop, lfd, &peer, 0);
	T_OP(r, loop, tide_connect(loop, fd, &a));
	assert_int_equal(r, 0);
	r = t_result(loop, acc);
	if (t_redo(r)) /* it never ran: the connection waits in the queue */
		T_OP(r, loop, tide_accept(loop, lfd, &peer, 0));
	afd = (int)r;
	assert_true(afd >= 0);
	assert_int_equal(peer.u.sa.sa_family, a.u.sa.sa_family);
	cfd = fd;
	assert_int_equal(t_send_all(loop, cfd, "ping", 4), 4);
	assert_int_equal(t_recv_all(loop, afd, buf, sizeof(buf), 4), 4);
	assert_memory_equal(buf, "ping", 4);
	/* no zero-copy for Unix sockets (epoll: send_zc is a plain send) */
	if (a.u.sa.sa_family == AF_UNIX && !t_loop_epoll(loop)) {
		T_OP(r, loop, tide_send_zc(loop, afd, "pong", 4, 0));
		assert_int_equal(r, -EOPNOTSUPP);
	}
	if (a.u.sa.sa_family == AF_UNIX)
		r = t_send_all(loop, afd, "pong", 4);
	else /* one zero-copy send: never cut short by TIDE_FAULT */
		T_OP(r, loop, tide_send_zc(loop, afd, "pong", 4, 0));
	assert_int_equal(r, 4);
	assert_int_equal(t_recv_all(loop, cfd, buf, sizeof(buf), 4), 4);
	assert_memory_equal(buf, "pong", 4);
	T_OP(r, loop, tide_shutdown(loop, cfd, SHUT_WR));
	assert_int_equal(r, 0);
	T_OP(r, loop, tide_recv(loop, afd, buf, sizeof(buf), 0));
	assert_int_equal(r, 0);
	/* the peer is gone: -EPIPE, and no SIGPIPE kills us */
	close(afd);
	T_OP(r, loop, tide_send(loop, cfd, "x", 1, 0));
	assert_int_equal(r, -EPIPE);
	T_OP(r, loop, tide_close(loop, cfd));
	assert_int_equal(r, 0);
	close(lfd);
	tide_loop_free(loop);
}

/* Ports are 1 to 5 decimal digits, nothing else: strtol's whitespace and
 * signs are refused (issue 13, defect 9). */
static void test_tide_addr_parse_port_strict(void **state)
{
	static const char *bad[] = { "1.2.3.4:\t-0",
				     ":\r +3",
				     "1.2.3.4: 80",
				     "1.2.3.4:+80",
				     "1.2.3.4:-0",
				     "1.2.3.4:80 ",
				     "1.2.3.4:\n80",
				     "[::1]: 1",
				     "[::1]:+1",
				     "1.2.3.4:0x50",
				     "1.2.3.4:99999999999999999999",
				     "1.2.3.4:0080x",
				     "1.2.3.4:123456" };
	struct tide_addr a;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tide_addr_parse(&a, bad[i]), -EINVAL);
	assert_int_equal(tide_addr_parse(&a, "1.2.3.4:080"), 0);
	assert_int_equal(ntohs(a.u.in4.sin_port), 80);
	assert_int_equal(tide_addr_parse(&a, "[::1]:65535"), 0);
	assert_int_equal(ntohs(a.u.in6.sin6_port), 65535);
	assert_int_equal(tide_addr_parse(&a, "*:0"), 0);
	assert_int_equal(a.u.in4.sin_port, 0);
}

/* A length beyond the record is never followed (ASan: heap overflow in
 * strnlen before the fix); a full-length path without NUL formats whole. */
static void test_tide_addr_format_unix_length(void **state)
{
	struct tide_addr *a = malloc(sizeof(*a));
	size_t off = offsetof(struct sockaddr_un, sun_path);
	size_t max = sizeof(a->u.un.sun_path);
	char buf[TIDE_ADDR_STRLEN];

	(void)state;
	assert_non_null(a);
	memset(a, 'p', sizeof(*a));
	a->reserved = 0;
	a->u.un.sun_family = AF_UNIX;
	a->len = (socklen_t)(off + max);
	assert_int_equal(tide_addr_format(a, buf, sizeof(buf)), (int)(5 + max));
	assert_int_equal(strspn(buf + 5, "p"), max);
	a->len = 4096; /* longer than the structure */
	assert_int_equal(tide_addr_format(a, buf, sizeof(buf)), -EINVAL);
	a->len = (socklen_t)sizeof(a->u) + 1;
	assert_int_equal(tide_addr_format(a, buf, sizeof(buf)), -EINVAL);
	a->u.un.sun_path[0] = '\0'; /* abstract, full length */
	a->len = (socklen_t)(off + max);
	assert_int_equal(tide_addr_format(a, buf, sizeof(buf)), (int)(5 + max));
	assert_int_equal(buf[5], '@');
	/* IPv4/IPv6 records shorter than their structure are refused */
	a->u.in4.sin_family = AF_INET;
	a->len = sizeof(a->u.in4) - 1;
	assert_int_equal(tide_addr_format(a, buf, sizeof(buf)), -EINVAL);
	a->u.in6.sin6_family = AF_INET6;
	a->len = sizeof(a->u.in6) - 1;
	assert_int_equal(tide_addr_format(a, buf, sizeof(buf)), -EINVAL);
	free(a);
}

/* The process's threads but io_uring's; say: name each on stderr. */
static int count_threads_say(int say)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *c;

		if (e->d_name[0] == '.')
			continue;
		/* io_uring's SQPOLL and io-wq threads come and go on their own */
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			 e->d_name);
		c = fopen(path, "r");
		if (c) {
			if (!fgets(comm, sizeof(comm), c))
				comm[0] = 0;
			fclose(c);
		}
		n += strncmp(comm, "iou-", 4) != 0;
		if (say) {
			/* and where it waits: the syscall it is in, if any */
			char sc[128] = "";

			snprintf(path, sizeof(path),
				 "/proc/self/task/%s/syscall", e->d_name);
			c = fopen(path, "r");
			if (c) {
				if (!fgets(sc, sizeof(sc), c))
					sc[0] = 0;
				fclose(c);
			}
			fprintf(stderr, "thread %s: %s  syscall: %s", e->d_name,
				comm, sc[0] ? sc : "?\n");
		}
	}
	closedir(d);
	return n;
}

static int count_threads(void)
{
	return count_threads_say(0);
}

/* The lookup thread finishes after its loop was freed: it must neither
 * touch the freed loop nor spin, and it frees its job (LSan checks). */
static void test_tide_resolve_outlives_loop(void **state)
{
	struct timespec ms = { 0, 1000000 };
	int before = count_threads(), i;

	(void)state;
	for (int round = 0; round < 8; round++) {
		struct tide_loop *loop = t_loop();
		struct tide_future *f =
			tide_resolve(loop, "localhost:80", SOCK_STREAM);

		assert_non_null(f);
		tide_future_release(f);
		tide_loop_free(loop);
	}
	/* bounded wait for the detached lookup threads to end (60 s: a
	 * loaded or sandboxed machine can be slow to resolve) */
	for (i = 0; i < 60000 && count_threads() > before; i++)
		nanosleep(&ms, NULL);
	if (count_threads() != before)
		count_threads_say(1); /* which threads stayed, for the log */
	assert_int_equal(count_threads(), before);
}

static void test_tide_connect_tcp4(void **state)
{
	(void)state;
	pingpong("127.0.0.1:0");
}

static void test_tide_connect_tcp6(void **state)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0);

	(void)state;
	if (fd < 0)
		skip();
	close(fd);
	pingpong("[::1]:0");
}

static void test_tide_connect_unix(void **state)
{
	char text[64];

	(void)state;
	snprintf(text, sizeof(text), "unix:@tide-net-%d", (int)getpid());
	pingpong(text);
}

static void test_tide_sendmsg_udp_and_unix_dgram(void **state)
{
	struct tide_loop *loop = t_loop();
	char unix_text[64];
	const char *texts[2] = { "127.0.0.1:0", unix_text };
	int64_t r;

	(void)state;
	/* the process's own name: runs side by side (make -j check's fault
	 * runs) must not share it */
	snprintf(unix_text, sizeof(unix_text), "unix:@tide-dgram-%d",
		 (int)getpid());
	for (int k = 0; k < 2; k++) {
		struct tide_addr a;
		int rfd = listener(texts[k], SOCK_DGRAM, &a), sfd;
		char out[] = "datagram", in[32];
		struct iovec ov = { out, 8 }, iv = { in, sizeof(in) };
		struct msghdr sm = { .msg_name = &a.u,
				     .msg_namelen = a.len,
				     .msg_iov = &ov,
				     .msg_iovlen = 1 };
		struct msghdr rm = { .msg_iov = &iv, .msg_iovlen = 1 };

		T_OP(r, loop,
		     tide_socket(loop, a.u.sa.sa_family, SOCK_DGRAM, 0));
		sfd = (int)r;
		assert_true(sfd >= 0);
		/* datagrams: never cut short */
		T_OP(r, loop, tide_sendmsg(loop, sfd, &sm, 0));
		assert_int_equal(r, 8);
		T_OP(r, loop, tide_recvmsg(loop, rfd, &rm, 0));
		assert_int_equal(r, 8);
		assert_memory_equal(in, "datagram", 8);
		close(sfd);
		close(rfd);
	}
	T_OP(r, loop, tide_sendmsg(loop, 0, NULL, 0));
	assert_int_equal(r, -EFAULT);
	T_OP(r, loop, tide_recvmsg(loop, 0, NULL, 0));
	assert_int_equal(r, -EFAULT);
	tide_loop_free(loop);
}

static void test_tide_net_bad_args(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_addr a = { 0 };
	char b[4] = {
		0
	}; /* the epoll backend makes the call: valgrind checks it */
	int64_t r;

	(void)state;
	assert_null(tide_socket(NULL, AF_INET, SOCK_STREAM, 0));
	T_OP(r, loop, tide_socket(loop, 12345, SOCK_STREAM, 0));
	assert_true(r < 0);
	T_OP(r, loop, tide_connect(loop, 0, &a));
	assert_int_equal(r, -EINVAL);
	T_OP(r, loop, tide_connect(loop, 0, NULL));
	assert_int_equal(r, -EINVAL);
	assert_int_equal(tide_bind(-1, &a), -EINVAL);
	assert_int_equal(tide_listen(-1, 0), -EBADF);
	T_OP(r, loop, tide_accept(loop, -1, NULL, 0));
	assert_int_equal(r, -EBADF);
	T_OP(r, loop, tide_accept(loop, 0, NULL, 1 << 30));
	assert_int_equal(r, -EINVAL);
	T_OP(r, loop, tide_recv(loop, -1, b, 4, 0));
	assert_int_equal(r, -EBADF);
	T_OP(r, loop, tide_send(loop, -1, b, 4, 0));
	assert_int_equal(r, -EBADF);
	T_OP(r, loop, tide_recv(loop, 0, NULL, 4, 0));
	assert_int_equal(r, -EFAULT);
	T_OP(r, loop, tide_send(loop, 0, NULL, 4, 0));
	assert_int_equal(r, -EFAULT);
	T_OP(r, loop, tide_send_zc(loop, -1, b, 4, 0));
	assert_int_equal(r, -EBADF);
	T_OP(r, loop, tide_shutdown(loop, -1, SHUT_RD));
	assert_int_equal(r, -EBADF);
	T_OP(r, loop, tide_shutdown(loop, 0, 9));
	assert_int_equal(r, -EINVAL);
	T_OP(r, loop, tide_accept_multishot(loop, 0, NULL, NULL));
	assert_int_equal(r, -EINVAL);
	T_OP(r, loop, tide_recv_multishot(loop, 0, NULL, NULL, NULL));
	assert_int_equal(r, -EINVAL);
	tide_loop_free(loop);
}

static void test_tide_connect_timeout_refused_and_timeout(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_addr a;
	int lfd = listener("127.0.0.1:0", SOCK_STREAM, &a);
	int fds;

	(void)state;
	close(lfd); /* nobody listens there now */
	fds = t_count_fds();
	assert_int_equal(t_connect(loop, &a, SOCK_STREAM, 1000000000ull),
			 -ECONNREFUSED);
	/* a non-routable address (TEST-NET-1) never answers */
	assert_int_equal(tide_addr_parse(&a, "192.0.2.1:9"), 0);
	int64_t r = t_connect(loop, &a, SOCK_STREAM, 30000000ull);
	/* sandboxes may answer for it instead */
	if (r != -ETIMEDOUT && r != -ENETUNREACH && r != -EHOSTUNREACH &&
	    r != -ECONNREFUSED)
		fail_msg("connect to 192.0.2.1: %lld", (long long)r);
	assert_int_equal(t_count_fds(), fds); /* nothing stays open */
	assert_int_equal(t_connect(loop, &a, 99, 0), -EINVAL);
	tide_loop_free(loop);
}

/*
 * The timeout branch on loopback: a listener that never accepts, with its
 * accept queue full, drops further SYNs, so a connect to it hangs in
 * SYN_SENT until the deadline cancels it.
 */
static void test_tide_connect_timeout_expires(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_addr a;
	int lfd = listener("127.0.0.1:0", SOCK_STREAM, &a);
	int filler[4], fds;
	uint64_t t0;
	int64_t r;

	(void)state;
	assert_int_equal(listen(lfd, 0), 0);
	for (int i = 0; i < 4; i++) {
		filler[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		assert_true(filler[i] >= 0);
		/* EINPROGRESS for the ones the full queue ignores */
		(void)connect(filler[i], &a.u.sa, a.len);
	}
	usleep(50000);
	fds = t_count_fds();
	t0 = tide_now_ns();
	r = t_connect(loop, &a, SOCK_STREAM, 100000000ull);
	assert_int_equal(r, -ETIMEDOUT);
	assert_true(tide_now_ns() - t0 >= 90000000ull);
	assert_int_equal(t_count_fds(), fds); /* the socket was closed */
	for (int i = 0; i < 4; i++)
		close(filler[i]);
	close(lfd);
	tide_loop_free(loop);
}

/* ---- multishot ---- */

struct acc_state {
	int n, fds[8], errs;
};

static void on_acc(void *arg, int fd)
{
	struct acc_state *s = arg;

	if (fd < 0) {
		s->errs++;
		return;
	}
	if (s->n < 8)
		s->fds[s->n++] = fd;
	else
		close(fd);
}

/* The kernel may end a multishot accept on its own (TIDE_FAULT's nomore
 * does, with -EINTR as the kernel says): a user re-arms it, as here. */
static struct tide_future *accept_rearm(struct tide_loop *loop,
					struct tide_future *m, int lfd,
					struct acc_state *st)
{
	if (!tide_future_done(m))
		return m;
	assert_int_equal(t_wait(loop, m), -EINTR);
	tide_future_release(m);
	m = tide_accept_multishot(loop, lfd, on_acc, st);
	assert_non_null(m);
	return m;
}

static void test_tide_accept_multishot_many(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_addr a;
	int lfd = listener("127.0.0.1:0", SOCK_STREAM, &a);
	struct acc_state st = { 0 };
	struct tide_future *m = tide_accept_multishot(loop, lfd, on_acc, &st);
	int c[5];

	(void)state;
	for (int i = 0; i < 5; i++) {
		c[i] = (int)t_connect(loop, &a, SOCK_STREAM, 0);
		assert_true(c[i] >= 0);
		m = accept_rearm(loop, m, lfd, &st);
	}
	while (st.n < 5) {
		tide_loop_run_once(loop, 1);
		m = accept_rearm(loop, m, lfd, &st);
	}
	assert_int_equal(st.n, 5);
	m = accept_rearm(loop, m, lfd, &st);
	assert_false(tide_future_done(m));
	assert_int_equal(tide_future_cancel(m), 0);
	assert_int_equal(t_wait(loop, m), -ECANCELED);
	tide_future_release(m);
	for (int i = 0; i < 5; i++) {
		close(c[i]);
		close(st.fds[i]);
	}
	close(lfd);
	tide_loop_free(loop);
}

struct rx {
	struct tide_bufring *br;
	char data[1 << 16];
	size_t got;
	int hold; /* keep buffers lent (to drain the ring) */
	unsigned held[64];
	int nheld;
};

static void on_rx(void *arg, void *data, uint32_t len, unsigned bid)
{
	struct rx *r = arg;

	assert_true(r->got + len <= sizeof(r->data));
	memcpy(r->data + r->got, data, len);
	r->got += len;
	if (r->hold && r->nheld < 64)
		r->held[r->nheld++] = bid;
	else
		assert_int_equal(tide_bufring_put(r->br, bid), 0);
}

static void test_tide_recv_multishot_enobufs(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_bufring_options bo = { .count = 2, .size = 64 };
	struct rx *r = calloc(1, sizeof(*r));
	int sv[2];
	char msg[256];

	(void)state;
	assert_int_equal(tide_bufring_new(loop, &r->br, &bo), 0);
	assert_int_equal(tide_bufring_avail(r->br), 2);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (char)i;
	assert_int_equal(write(sv[1], msg, sizeof(msg)), (ssize_t)sizeof(msg));
	r->hold = 1;
	struct tide_future *m =
		tide_recv_multishot(loop, sv[0], r->br, on_rx, r);
	/* two 64-byte buffers, then the ring is dry; the kernel may end a
	 * multishot with -ENOBUFS before that (TIDE_FAULT's nomore does):
	 * while buffers are left, a user starts it again */
	int64_t res = t_wait(loop, m);

	tide_future_release(m);
	while (res == -ENOBUFS && tide_bufring_avail(r->br) > 0) {
		m = tide_recv_multishot(loop, sv[0], r->br, on_rx, r);
		res = t_wait(loop, m);
		tide_future_release(m);
	}
	assert_int_equal(res, -ENOBUFS);
	assert_int_equal(r->got, 128);
	assert_int_equal(tide_bufring_avail(r->br), 0);
	for (int i = 0; i < r->nheld; i++)
		assert_int_equal(tide_bufring_put(r->br, r->held[i]), 0);
	assert_int_equal(tide_bufring_put(r->br, r->held[0]), -EINVAL);
	r->hold = 0;
	/* re-armed: the rest arrives, nothing lost; EOF ends it */
	close(sv[1]);
	do { /* a ring of two may run dry again: re-arm as documented */
		m = tide_recv_multishot(loop, sv[0], r->br, on_rx, r);
		res = t_wait(loop, m);
		tide_future_release(m);
	} while (res == -ENOBUFS);
	assert_int_equal(res, 0);
	assert_int_equal(r->got, sizeof(msg));
	assert_memory_equal(r->data, msg, sizeof(msg));
	close(sv[0]);
	tide_bufring_free(r->br);
	free(r);
	tide_loop_free(loop);
}

static void test_tide_bufring_new_bad(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_bufring_options bo = { .count = 1u << 20 };
	struct tide_bufring *br = (void *)1;

	(void)state;
	assert_int_equal(tide_bufring_new(loop, &br, &bo), -EINVAL);
	assert_null(br);
	bo.count = 0;
	bo.reserved[0] = 1;
	assert_int_equal(tide_bufring_new(loop, &br, &bo), -EINVAL);
	assert_int_equal(tide_bufring_new(NULL, &br, NULL), -EINVAL);
	assert_int_equal(tide_bufring_put(NULL, 0), -EINVAL);
	assert_int_equal(tide_bufring_new(loop, &br, NULL), 0);
	assert_int_equal(tide_bufring_avail(br), 1024);
	assert_int_equal(tide_bufring_put(br, 5000), -EINVAL);
	tide_bufring_free(br);
	tide_bufring_free(NULL);
	tide_loop_free(loop);
}

static void close_conn(void *arg, struct tide_stream *s)
{
	(void)arg;
	tide_future_release(tide_stream_close(s));
}

/* EMFILE on accept with a low descriptor limit: the server reports it,
 * backs off instead of spinning, and accepts again once fds are free. */
static void test_tide_server_emfile(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_addr a;
	struct tide_server *srv;
	struct tide_server_stats st;
	struct rlimit old, low;
	int fds[64], n = 0, c;

	(void)state;
	assert_int_equal(tide_addr_parse(&a, "127.0.0.1:0"), 0);
	assert_int_equal(
		tide_server_new(loop, &a, NULL, close_conn, NULL, &srv), 0);
	tide_server_addr(srv, &a);
	c = socket(AF_INET, SOCK_STREAM, 0);
	getrlimit(RLIMIT_NOFILE, &old);
	low = old;
	low.rlim_cur = (rlim_t)t_count_fds() + 32;
	setrlimit(RLIMIT_NOFILE, &low);
	/* use up every descriptor */
	while (n < 64 && (fds[n] = dup(0)) >= 0)
		n++;
	int cr = connect(c, &a.u.sa, a.len); /* into the kernel backlog */
	uint64_t iters0 = 0;
	struct tide_loop_stats ls;
	tide_loop_stats(loop, &ls);
	iters0 = ls.iterations;
	assert_int_equal(t_wait(loop, tide_sleep(loop, 50000000ull)), 0);
	tide_server_stats(srv, &st);
	tide_loop_stats(loop, &ls);
	/* restore before asserting, so a failure leaves the rest working */
	while (n > 0)
		close(fds[--n]);
	setrlimit(RLIMIT_NOFILE, &old);
	assert_int_equal(cr, 0);
	assert_true(st.accept_errors >= 1);
	assert_int_equal(st.accepted, 0);
	/* backing off: a handful of retries in 50 ms, not a spin */
	assert_true(ls.iterations - iters0 < 200);
	for (tide_server_stats(srv, &st); st.accepted < 1;
	     tide_server_stats(srv, &st))
		tide_loop_run_once(loop, 1);
	close(c);
	assert_int_equal(t_wait(loop, tide_server_stop(srv, 100000000ull)), 0);
	tide_server_free(srv);
	tide_loop_free(loop);
}

/* ---- descriptors fixed in the ring ---- */

struct fix_rx {
	char got[64];
	uint32_t n;
	struct tide_bufring *br;
};

static void fix_on_rx(void *arg, void *data, uint32_t len, unsigned bid)
{
	struct fix_rx *r = arg;

	if (r->n + len <= sizeof(r->got))
		memcpy(r->got + r->n, data, len);
	r->n += len;
	tide_bufring_put(r->br, bid);
}

/* A multishot receive the kernel ended early (-ENOBUFS though the ring has
 * buffers: TIDE_FAULT's nomore) is started again, as a user must. */
static struct tide_future *fix_rearm(struct tide_loop *loop,
				     struct tide_future *m, int fd,
				     struct fix_rx *rx)
{
	if (!tide_future_done(m))
		return m;
	assert_int_equal(t_wait(loop, m), -ENOBUFS);
	tide_future_release(m);
	m = tide_recv_multishot(loop, fd, rx->br, fix_on_rx, rx);
	assert_non_null(m);
	return m;
}

static void test_tide_loop_fix_fd_ops(void **state)
{
	struct tide_loop *loop = t_loop();
	struct fix_rx rx = { .n = 0 };
	struct tide_future *m;
	char buf[16];
	int64_t r;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	assert_int_equal(tide_loop_fix_fd(loop, sv[0]), 0);
	/* epoll: fixing is a no-op, so there is nothing to find twice */
	assert_int_equal(tide_loop_fix_fd(loop, sv[0]),
			 t_loop_epoll(loop) ? 0 : -EEXIST);
	/* send, recv, multishot recv and shutdown on the fixed descriptor */
	assert_int_equal(t_send_all(loop, sv[0], "hello", 5), 5);
	assert_int_equal(t_recv_all(loop, sv[1], buf, sizeof(buf), 5), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(t_send_all(loop, sv[1], "abc", 3), 3);
	assert_int_equal(t_recv_all(loop, sv[0], buf, sizeof(buf), 3), 3);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(tide_bufring_new(loop, &rx.br, NULL), 0);
	m = tide_recv_multishot(loop, sv[0], rx.br, fix_on_rx, &rx);
	assert_int_equal(t_send_all(loop, sv[1], "0123456789", 10), 10);
	while (rx.n < 10) {
		assert_true(tide_loop_run_once(loop, 1) >= 0);
		m = fix_rearm(loop, m, sv[0], &rx);
	}
	assert_memory_equal(rx.got, "0123456789", 10);
	T_OP(r, loop, tide_shutdown(loop, sv[1], SHUT_WR));
	assert_int_equal(r, 0);
	/* EOF ends the multishot (perhaps after an early end or more) */
	int64_t res;

	while ((res = t_wait(loop, m)) == -ENOBUFS) {
		tide_future_release(m);
		m = tide_recv_multishot(loop, sv[0], rx.br, fix_on_rx, &rx);
	}
	assert_int_equal(res, 0);
	tide_future_release(m);
	assert_int_equal(rx.n, 10);
	tide_bufring_free(rx.br);
	T_OP(r, loop, tide_write(loop, sv[0], "w", 1, 0));
	assert_int_equal(r, 1);
	T_OP(r, loop, tide_read(loop, sv[1], buf, 1, 0));
	assert_int_equal(r, 1);
	T_OP(r, loop, tide_shutdown(loop, sv[0], SHUT_WR));
	assert_int_equal(r, 0);
	T_OP(r, loop, tide_recv(loop, sv[1], buf, 1, 0));
	assert_int_equal(r, 0);
	/* unfix, then close(2): the ring no longer holds the socket open */
	assert_int_equal(tide_loop_unfix_fd(loop, sv[0]),
			 t_loop_epoll(loop) ? -ENOENT : 0);
	assert_int_equal(tide_loop_unfix_fd(loop, sv[0]), -ENOENT);
	close(sv[0]);
	T_OP(r, loop, tide_send(loop, sv[1], "x", 1, 0));
	assert_int_equal(r, -EPIPE);
	close(sv[1]);
	tide_loop_free(loop);
}

/* tide_close() and tide_stream_close() unfix before closing, so the peer
 * sees the end; the loop's free drops what is still fixed. */
static void test_tide_loop_fix_fd_close_paths(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_stream *s;
	int64_t r;
	char c;
	int a[2], b[2], d[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a),
			 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b),
			 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, d),
			 0);
	assert_int_equal(tide_loop_fix_fd(loop, a[0]), 0);
	T_OP(r, loop, tide_close(loop, a[0]));
	assert_int_equal(r, 0);
	assert_int_equal(tide_loop_unfix_fd(loop, a[0]), -ENOENT);
	assert_int_equal(read(a[1], &c, 1), 0);
	assert_int_equal(tide_stream_new(loop, b[0], NULL, &s), 0);
	assert_int_equal(tide_loop_fix_fd(loop, b[0]), 0);
	assert_int_equal(t_wait(loop, tide_stream_write(s, "s", 1)), 1);
	assert_int_equal(t_wait(loop, tide_stream_close(s)), 0);
	assert_int_equal(read(b[1], &c, 1), 1);
	assert_int_equal(read(b[1], &c, 1), 0);
	assert_int_equal(tide_loop_unfix_fd(loop, b[0]), -ENOENT);
	assert_int_equal(tide_loop_fix_fd(loop, d[0]), 0);
	close(d[0]); /* wrong order on purpose: the table keeps it open */
	if (t_loop_epoll(loop)) { /* no table: the number is gone */
		T_OP(r, loop, tide_send(loop, d[0], "z", 1, 0));
		assert_int_equal(r, -EBADF);
		assert_int_equal(read(d[1], &c, 1), 0);
		tide_loop_free(loop);
	} else {
		/* ops on the number still reach it: proof they use the table */
		T_OP(r, loop, tide_send(loop, d[0], "z", 1, 0));
		assert_int_equal(r, 1);
		assert_int_equal(read(d[1], &c, 1), 1);
		assert_int_equal(c, 'z');
		tide_loop_free(loop);
		assert_int_equal(read(d[1], &c, 1), 0);
	}
	close(a[1]);
	close(b[1]);
	close(d[1]);
}

static void test_tide_loop_fix_fd_bad(void **state)
{
	struct tide_loop *loop = t_loop();
	struct rlimit old, low;
	int sv[2], high;

	(void)state;
	assert_int_equal(tide_loop_fix_fd(NULL, 0), -EINVAL);
	assert_int_equal(tide_loop_fix_fd(loop, -1), -EINVAL);
	assert_int_equal(tide_loop_unfix_fd(NULL, 0), -EINVAL);
	assert_int_equal(tide_loop_unfix_fd(loop, -3), -EINVAL);
	assert_int_equal(tide_loop_unfix_fd(loop, 0), -ENOENT);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	close(sv[1]);
	assert_int_equal(tide_loop_fix_fd(loop, sv[1]), -EBADF);
	if (t_loop_epoll(loop)) { /* no file table: a no-op success */
		assert_int_equal(tide_loop_register_files(loop, &sv[0], 1),
				 -EOPNOTSUPP);
		assert_int_equal(tide_loop_fix_fd(loop, sv[0]), 0);
		assert_int_equal(tide_loop_unfix_fd(loop, sv[0]), -ENOENT);
		close(sv[0]);
		tide_loop_free(loop);
		return;
	}
	/* one file table per ring */
	assert_int_equal(tide_loop_register_files(loop, &sv[0], 1), 0);
	assert_int_equal(tide_loop_fix_fd(loop, sv[0]), -EBUSY);
	assert_int_equal(tide_loop_unregister_files(loop), 0);
	/* the table is as large as RLIMIT_NOFILE at the first fix */
	high = fcntl(sv[0], F_DUPFD_CLOEXEC, 200);
	assert_true(high >= 200);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = 128;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	assert_int_equal(tide_loop_fix_fd(loop, sv[0]), 0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(tide_loop_fix_fd(loop, high), -ENOSPC);
	assert_int_equal(tide_loop_register_files(loop, &sv[0], 1), -EBUSY);
	assert_int_equal(tide_loop_unregister_files(loop), -EBUSY);
	assert_int_equal(tide_loop_unfix_fd(loop, sv[0]), 0);
	close(high);
	close(sv[0]);
	tide_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tide_addr_parse_forms),
		cmocka_unit_test(test_tide_addr_parse_bad),
		cmocka_unit_test(test_tide_addr_parse_port_strict),
		cmocka_unit_test(test_tide_addr_format_unix_length),
		cmocka_unit_test(test_tide_resolve_localhost),
		cmocka_unit_test(test_tide_resolve_outlives_loop),
		cmocka_unit_test(test_tide_connect_tcp4),
		cmocka_unit_test(test_tide_connect_tcp6),
		cmocka_unit_test(test_tide_connect_unix),
		cmocka_unit_test(test_tide_sendmsg_udp_and_unix_dgram),
		cmocka_unit_test(test_tide_net_bad_args),
		cmocka_unit_test(test_tide_connect_timeout_refused_and_timeout),
		cmocka_unit_test(test_tide_connect_timeout_expires),
		cmocka_unit_test(test_tide_accept_multishot_many),
		cmocka_unit_test(test_tide_recv_multishot_enobufs),
		cmocka_unit_test(test_tide_bufring_new_bad),
		cmocka_unit_test(test_tide_loop_fix_fd_ops),
		cmocka_unit_test(test_tide_loop_fix_fd_close_paths),
		cmocka_unit_test(test_tide_loop_fix_fd_bad),
		t_unit_test_no_valgrind(test_tide_server_emfile),
	};

	return T_RUN("net", tests);
}
