// SPDX-License-Identifier: MIT
/*
 * test_services.c - stream sendfile (bounce and splice roads, ordering
 * with writes, short files, a peer that never reads), readiness (one-shot
 * and multishot), signals as futures, openat2 beneath a root, copy_bidi
 * sending straight from ring buffers.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/openat2.h>
#include <sys/syscall.h>

#include "helpers.h"
#include "core/blocking.h"

/* ---- sendfile ---- */

struct sink {
	struct tide_stream *s;
	unsigned char *buf;
	size_t want;
};

/* Header, file range, trailer; the peer checks every byte in order. */
static void sendfile_case(struct tide_loop *loop, bool tcp, size_t fsize,
			  uint64_t off, size_t len)
{
	char path[64];
	int fd = t_tmpfile(path, sizeof(path), fsize);
	struct tide_stream *s, *r;
	int sv[2];
	size_t total = 4 + len + 4;
	unsigned char *in = malloc(total);

	assert_true(fd >= 0);
	assert_non_null(in);
	unlink(path);
	if (tcp)
		t_tcp_pair(loop, &sv[0], &sv[1]);
	else
		assert_int_equal(pipe2(sv, O_CLOEXEC) == 0 ? 0 : -1, 0);
	if (tcp) {
		assert_int_equal(tide_stream_new(loop, sv[0], NULL, &s), 0);
		assert_int_equal(tide_stream_new(loop, sv[1], NULL, &r), 0);
	} else {
		assert_int_equal(tide_stream_new(loop, sv[1], NULL, &s), 0);
		assert_int_equal(tide_stream_new(loop, sv[0], NULL, &r), 0);
	}
	struct tide_future *h = tide_stream_write(s, "HEAD", 4);
	struct tide_future *b = tide_stream_sendfile(s, fd, off, len);
	struct tide_future *t = tide_stream_write(s, "TAIL", 4);
	assert_int_equal(t_wait(loop, tide_stream_read_exactly(r, in, total)),
			 (int64_t)total);
	assert_int_equal(t_wait(loop, h), 4);
	assert_int_equal(t_wait(loop, b), (int64_t)len);
	assert_int_equal(t_wait(loop, t), 4);
	tide_future_release(h);
	tide_future_release(b);
	tide_future_release(t);
	assert_memory_equal(in, "HEAD", 4);
	for (size_t i = 0; i < len; i++)
		if (in[4 + i] != t_pattern(off + i))
			fail_msg("byte %zu differs", i);
	assert_memory_equal(in + 4 + len, "TAIL", 4);
	/* the file position did not move */
	assert_int_equal(lseek(fd, 0, SEEK_CUR), (off_t)fsize);
	assert_int_equal(t_wait(loop, tide_stream_close(s)), 0);
	assert_int_equal(t_wait(loop, tide_stream_close(r)), 0);
	close(fd);
	free(in);
}

static void test_tide_stream_sendfile_small_and_large(void **state)
{
	struct tide_loop *loop = t_loop();

	(void)state;
	sendfile_case(loop, true, 4096, 0, 4096); /* bounce */
	sendfile_case(loop, true, 3u << 20, 777,
		      (3u << 20) - 1000);	       /* splice */
	sendfile_case(loop, false, 300000, 5, 250000); /* a pipe: bounce */
	tide_loop_free(loop);
}

/* Keep-alive: one stream, several large sendfiles reuse its pipe. */
static void test_tide_stream_sendfile_reuse(void **state)
{
	struct tide_loop *loop = t_loop();
	char path[64];
	int fd = t_tmpfile(path, sizeof(path), 200000), x, y;
	struct tide_stream *s, *r;
	unsigned char *in = malloc(200000);

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	t_tcp_pair(loop, &x, &y);
	assert_int_equal(tide_stream_new(loop, x, NULL, &s), 0);
	assert_int_equal(tide_stream_new(loop, y, NULL, &r), 0);
	for (int i = 0; i < 3; i++) {
		struct tide_future *b = tide_stream_sendfile(s, fd, 0, 200000);

		assert_int_equal(
			t_wait(loop, tide_stream_read_exactly(r, in, 200000)),
			200000);
		assert_int_equal(t_wait(loop, b), 200000);
		tide_future_release(b);
		for (size_t k = 0; k < 200000; k++)
			if (in[k] != t_pattern(k))
				fail_msg("round %d byte %zu differs", i, k);
	}
	assert_int_equal(t_wait(loop, tide_stream_close(s)), 0);
	assert_int_equal(t_wait(loop, tide_stream_close(r)), 0);
	close(fd);
	free(in);
	tide_loop_free(loop);
}

static void test_tide_stream_sendfile_errors(void **state)
{
	struct tide_loop *loop = t_loop();
	char path[64];
	int fd = t_tmpfile(path, sizeof(path), 1000), x, y;
	struct tide_stream *s, *r;
	char in[1000];

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	t_tcp_pair(loop, &x, &y);
	assert_int_equal(tide_stream_new(loop, x, NULL, &s), 0);
	assert_int_equal(tide_stream_new(loop, y, NULL, &r), 0);
	assert_int_equal(t_wait(loop, tide_stream_sendfile(s, -1, 0, 10)),
			 -EBADF);
	assert_int_equal(t_wait(loop, tide_stream_sendfile(s, fd, 0, 0)), 0);
	/* the file is shorter than asked: what there was went out */
	assert_int_equal(t_wait(loop, tide_stream_sendfile(s, fd, 0, 5000)),
			 -ENODATA);
	assert_int_equal(t_wait(loop, tide_stream_read_exactly(r, in, 1000)),
			 1000);
	assert_int_equal(t_wait(loop, tide_stream_close(s)), -ENODATA);
	assert_int_equal(t_wait(loop, tide_stream_close(r)), 0);
	/* the large road too, and after a half-close */
	t_tcp_pair(loop, &x, &y);
	assert_int_equal(tide_stream_new(loop, x, NULL, &s), 0);
	assert_int_equal(t_wait(loop, tide_stream_sendfile(s, fd, 0, 1u << 20)),
			 -ENODATA);
	assert_int_equal(t_wait(loop, tide_stream_close(s)), -ENODATA);
	t_tcp_pair(loop, &x, &y);
	close(y);
	assert_int_equal(tide_stream_new(loop, x, NULL, &s), 0);
	assert_int_equal(t_wait(loop, tide_stream_shutdown(s)), 0);
	assert_int_equal(t_wait(loop, tide_stream_sendfile(s, fd, 0, 10)),
			 -EPIPE);
	assert_int_equal(t_wait(loop, tide_stream_close(s)), 0);
	assert_null(tide_stream_sendfile(NULL, fd, 0, 1));
	/* a directory cannot be spliced nor read: the read's error */
	t_tcp_pair(loop, &x, &y);
	assert_int_equal(tide_stream_new(loop, x, NULL, &s), 0);
	int dir = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_int_equal(t_wait(loop, tide_stream_sendfile(s, dir, 0, 200000)),
			 -EISDIR);
	close(dir);
	assert_int_equal(t_wait(loop, tide_stream_close(s)), -EISDIR);
	close(y);
	/* sources that are no regular file: whichever road, the bytes */
	const char *dev[] = { "/dev/zero", "/proc/self/maps" };
	for (int i = 0; i < 2; i++) {
		int z = open(dev[i], O_RDONLY | O_CLOEXEC);
		size_t n = i == 0 ? 200000 : 1;
		char *zin = malloc(n);

		assert_true(z >= 0);
		t_tcp_pair(loop, &x, &y);
		assert_int_equal(tide_stream_new(loop, x, NULL, &s), 0);
		assert_int_equal(tide_stream_new(loop, y, NULL, &r), 0);
		struct tide_future *b = tide_stream_sendfile(s, z, 0, n);
		assert_int_equal(t_wait(loop,
					tide_stream_read_exactly(r, zin, n)),
				 (int64_t)n);
		assert_int_equal(t_wait(loop, b), (int64_t)n);
		tide_future_release(b);
		if (i == 0)
			for (size_t k = 0; k < n; k++)
				assert_int_equal(zin[k], 0);
		assert_int_equal(t_wait(loop, tide_stream_close(s)), 0);
		assert_int_equal(t_wait(loop, tide_stream_close(r)), 0);
		close(z);
		free(zin);
	}
	close(fd);
	tide_loop_free(loop);
}

/* A peer that never reads: the splice road waits on POLLOUT, so abort and
 * cancel end it at once. */
static void test_tide_stream_sendfile_never_reading_peer(void **state)
{
	struct tide_loop *loop = t_loop();
	char path[64];
	size_t big = 16u << 20;
	int fd = t_tmpfile(path, sizeof(path), big), x, y;
	struct tide_stream *s;
	struct t_seen e = { 0 };

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	for (int round = 0; round < 2; round++) {
		t_tcp_pair(loop, &x, &y);
		assert_int_equal(tide_stream_new(loop, x, NULL, &s), 0);
		e.n = 0;
		assert_int_equal(
			tide_future_on_done(tide_stream_sendfile(s, fd, 0, big),
					    t_seen_cb, &e),
			0);
		for (int i = 0; i < 100; i++)
			tide_loop_run_once(loop, 0);
		assert_int_equal(e.n, 0);
		if (round == 0) {
			assert_int_equal(t_wait(loop, tide_stream_abort(s)), 0);
		} else {
			assert_int_equal(
				tide_stream_cancel(s, TIDE_STREAM_CANCEL_WRITE),
				1);
			while (e.n == 0)
				assert_true(tide_loop_run_once(loop, 1) >= 0);
			assert_int_equal(t_wait(loop, tide_stream_close(s)), 0);
		}
		while (e.n == 0)
			assert_true(tide_loop_run_once(loop, 1) >= 0);
		assert_int_equal(e.res, -ECANCELED);
		close(y);
	}
	close(fd);
	tide_loop_free(loop);
}

/* ---- copy_bidi without a copy ---- */

/* The copy sends straight from ring buffers: a small ring (16 x 1 KiB,
 * so each side holds at most a few and receiving pauses and resumes),
 * many small writes that arrive as many chunks, every byte checked both
 * ways, and every buffer back in the ring at the end. */
static void test_tide_stream_copy_bidi_ring(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_bufring_options bo = { .count = 16, .size = 1024 };
	struct tide_stream_options so = { 0 };
	struct tide_copy_stats st = { 0 };
	struct tide_bufring *br = NULL;
	struct tide_future *wx[64];
	struct {
		struct tide_stream *c, *a, *b, *v;
	} p;
	int s1[2], s2[2], ret;
	size_t nx = 64 * 3001, ny = 150001;
	unsigned char *x = malloc(nx), *y = malloc(ny), *in = malloc(nx);
	char one;

	(void)state;
	assert_non_null(x);
	assert_non_null(y);
	assert_non_null(in);
	for (size_t i = 0; i < nx; i++)
		x[i] = (unsigned char)(i * 29 + (i >> 7));
	for (size_t i = 0; i < ny; i++)
		y[i] = (unsigned char)(i * 13 + 1);
	ret = tide_bufring_new(loop, &br, &bo);
	if (ret == -EOPNOTSUPP)
		br = NULL; /* no rings here: the streams' own buffers */
	else
		assert_int_equal(ret, 0);
	so.bufring = br;
	t_tcp_pair(loop, &s1[0], &s1[1]);
	t_tcp_pair(loop, &s2[0], &s2[1]);
	assert_int_equal(tide_stream_new(loop, s1[0], NULL, &p.c), 0);
	assert_int_equal(tide_stream_new(loop, s1[1], &so, &p.a), 0);
	assert_int_equal(tide_stream_new(loop, s2[0], &so, &p.b), 0);
	assert_int_equal(tide_stream_new(loop, s2[1], NULL, &p.v), 0);
	struct tide_future *cp = tide_stream_copy_bidi(p.a, p.b, 0, &st);
	for (size_t i = 0; i < 64; i++)
		wx[i] = tide_stream_write(p.c, x + i * 3001, 3001);
	struct tide_future *wy = tide_stream_write(p.v, y, ny);
	assert_int_equal(t_wait(loop, tide_stream_read_exactly(p.v, in, nx)),
			 (int64_t)nx);
	assert_memory_equal(in, x, nx);
	assert_int_equal(t_wait(loop, tide_stream_read_exactly(p.c, in, ny)),
			 (int64_t)ny);
	assert_memory_equal(in, y, ny);
	/* end both ways: the copy passes each end on and resolves */
	assert_int_equal(t_wait(loop, tide_stream_shutdown(p.c)), 0);
	assert_int_equal(t_wait(loop, tide_stream_read(p.v, &one, 1)), 0);
	assert_int_equal(t_wait(loop, tide_stream_shutdown(p.v)), 0);
	assert_int_equal(t_wait(loop, tide_stream_read(p.c, &one, 1)), 0);
	assert_int_equal(t_wait(loop, cp), (int64_t)(nx + ny));
	assert_int_equal(st.a_to_b, nx);
	assert_int_equal(st.b_to_a, ny);
	for (size_t i = 0; i < 64; i++) {
		assert_int_equal(t_wait(loop, wx[i]), 3001);
		tide_future_release(wx[i]);
	}
	assert_int_equal(t_wait(loop, wy), (int64_t)ny);
	tide_future_release(wy);
	tide_future_release(cp);
	assert_int_equal(t_wait(loop, tide_stream_close(p.c)), 0);
	assert_int_equal(t_wait(loop, tide_stream_close(p.a)), 0);
	assert_int_equal(t_wait(loop, tide_stream_close(p.b)), 0);
	assert_int_equal(t_wait(loop, tide_stream_close(p.v)), 0);
	if (br) {
		/* nothing lent is left behind */
		assert_int_equal(tide_bufring_avail(br), 16);
		tide_bufring_free(br);
	}
	free(x);
	free(y);
	free(in);
	tide_loop_free(loop);
}

/* ---- write coalescing ---- */

/* Writes queued while a send is out leave together in one sendmsg: over
 * a SOCK_SEQPACKET pair every send is one packet, so 40 writes made at
 * once arrive as the first alone and then batches of up to 16. */
static void test_tide_stream_write_coalesced(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_future *w[40];
	struct tide_stream *s;
	char buf[4096], want[40 * 3 + 1]; /* + snprintf's NUL */
	const size_t wlen = 40 * 3;
	size_t got = 0;
	int sv[2], packets = 0;

	(void)state;
	assert_int_equal(
		socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(tide_stream_new(loop, sv[0], NULL, &s), 0);
	for (int i = 0; i < 40; i++) {
		snprintf(want + 3 * i, 4, "%03d", i);
		w[i] = tide_stream_write(s, want + 3 * i, 3);
		assert_non_null(w[i]);
	}
	for (int i = 0; i < 40; i++) {
		assert_int_equal(t_wait(loop, w[i]), 3);
		tide_future_release(w[i]);
	}
	while (got < wlen) {
		ssize_t n =
			recv(sv[1], buf + got, sizeof(buf) - got, MSG_DONTWAIT);

		assert_true(n > 0);
		got += (size_t)n;
		packets++;
	}
	assert_int_equal(got, wlen);
	assert_memory_equal(buf, want, wlen);
	assert_true(packets <= 4); /* 1 + 16 + 16 + 7; 40 without it */
	assert_int_equal(t_wait(loop, tide_stream_close(s)), 0);
	close(sv[1]);
	tide_loop_free(loop);
}

/* A write cancelled while it rides in a coalesced send behind a big one
 * that the full socket holds up: the big one goes on and completes, the
 * cancelled one never goes out, the write after it does. */
static void test_tide_stream_write_coalesced_cancel(void **state)
{
	struct tide_loop *loop = t_loop();
	const size_t big = 4u << 20, total = 1 + big + 1;
	struct tide_stream *s, *r;
	unsigned char *b = malloc(big), *in = malloc(total + 1);
	char cbuf[1024], one;
	int sv[2];

	(void)state;
	assert_non_null(b);
	assert_non_null(in);
	for (size_t i = 0; i < big; i++)
		b[i] = t_pattern(i);
	memset(cbuf, 'C', sizeof(cbuf));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	assert_int_equal(tide_stream_new(loop, sv[0], NULL, &s), 0);
	assert_int_equal(tide_stream_new(loop, sv[1], NULL, &r), 0);
	struct tide_future *fa = tide_stream_write(s, "A", 1);
	struct tide_future *fb = tide_stream_write(s, b, big);
	struct tide_future *fc = tide_stream_write(s, cbuf, sizeof(cbuf));
	/* once A went out, B and C are in flight together; nobody reads */
	assert_int_equal(t_wait(loop, fa), 1);
	assert_int_equal(tide_future_cancel(fc), 0);
	struct tide_future *fz = tide_stream_write(s, "Z", 1);
	assert_int_equal(t_wait(loop, tide_stream_read_exactly(r, in, total)),
			 (int64_t)total);
	assert_int_equal(t_wait(loop, fb), (int64_t)big);
	assert_int_equal(t_wait(loop, fc), -ECANCELED);
	assert_int_equal(t_wait(loop, fz), 1);
	assert_int_equal(in[0], 'A');
	for (size_t i = 0; i < big; i++)
		if (in[1 + i] != t_pattern(i))
			fail_msg("byte %zu differs", i);
	assert_int_equal(in[1 + big], 'Z');
	assert_int_equal(t_wait(loop, tide_stream_close(s)), 0);
	/* nothing of C came after */
	assert_int_equal(t_wait(loop, tide_stream_read(r, &one, 1)), 0);
	assert_int_equal(t_wait(loop, tide_stream_close(r)), 0);
	tide_future_release(fa);
	tide_future_release(fb);
	tide_future_release(fc);
	tide_future_release(fz);
	free(b);
	free(in);
	tide_loop_free(loop);
}

/* ---- readiness ---- */

static void count_cb(void *arg, unsigned revents)
{
	if (revents & POLLIN)
		(*(int *)arg)++;
}

static void test_tide_poll(void **state)
{
	struct tide_loop *loop = t_loop_exact();
	int p[2], n = 0;
	char c;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_true(t_wait(loop, tide_poll(loop, p[1], POLLOUT)) & POLLOUT);
	struct tide_future *f = tide_poll(loop, p[0], POLLIN);
	for (int i = 0; i < 10; i++)
		tide_loop_run_once(loop, 0);
	assert_false(tide_future_done(f));
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_true(t_wait(loop, f) & POLLIN);
	tide_future_release(f);
	assert_int_equal(read(p[0], &c, 1), 1);
	/* cancelled, bad descriptor */
	f = tide_poll(loop, p[0], POLLIN);
	assert_int_equal(tide_future_cancel(f), 0);
	assert_int_equal(t_wait(loop, f), -ECANCELED);
	tide_future_release(f);
	assert_int_equal(t_wait(loop, tide_poll(loop, -1, POLLIN)), -EBADF);
	assert_null(tide_poll(NULL, 0, POLLIN));
	/* multishot: one callback per readiness, until cancelled */
	f = tide_poll_multishot(loop, p[0], POLLIN, count_cb, &n);
	for (int i = 0; i < 3; i++) {
		int before = n;

		assert_int_equal(write(p[1], "y", 1), 1);
		while (n == before)
			assert_true(tide_loop_run_once(loop, 1) >= 0);
		assert_int_equal(read(p[0], &c, 1), 1);
	}
	assert_true(n >= 3);
	assert_int_equal(tide_future_cancel(f), 0);
	assert_int_equal(t_wait(loop, f), -ECANCELED);
	tide_future_release(f);
	assert_int_equal(t_wait(loop, tide_poll_multishot(loop, p[0], POLLIN,
							  NULL, NULL)),
			 -EINVAL);
	close(p[0]);
	close(p[1]);
	tide_loop_free(loop);
}

/* ---- signals ---- */

static void test_tide_signal(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_signal *sig;
	struct t_seen e = { 0 };
	int set[] = { SIGUSR1, SIGUSR2 }, bad[] = { SIGUSR1, SIGKILL },
	    junk[] = { 99999 };
	sigset_t old;

	(void)state;
	pthread_sigmask(SIG_BLOCK, NULL, &old);
	assert_int_equal(tide_signal_new(loop, set, 2, &sig), 0);
	/* a signal sent before anyone waits is not lost */
	assert_int_equal(kill(getpid(), SIGUSR2), 0);
	assert_int_equal(t_wait(loop, tide_signal_next(sig)), SIGUSR2);
	struct tide_future *f = tide_signal_next(sig);
	assert_int_equal(t_wait(loop, tide_signal_next(sig)), -EBUSY);
	for (int i = 0; i < 10; i++)
		tide_loop_run_once(loop, 0);
	assert_false(tide_future_done(f));
	assert_int_equal(kill(getpid(), SIGUSR1), 0);
	assert_int_equal(t_wait(loop, f), SIGUSR1);
	tide_future_release(f);
	/* free with a wait pending: it resolves -ECANCELED */
	assert_int_equal(
		tide_future_on_done(tide_signal_next(sig), t_seen_cb, &e), 0);
	tide_loop_run_once(loop, 0);
	tide_signal_free(sig);
	while (e.n == 0)
		assert_true(tide_loop_run_once(loop, 1) >= 0);
	assert_int_equal(e.res, -ECANCELED);
	/* bad arguments */
	assert_int_equal(tide_signal_new(loop, set, 0, &sig), -EINVAL);
	assert_null(sig);
	assert_int_equal(tide_signal_new(loop, bad, 2, &sig), -EINVAL);
	assert_int_equal(tide_signal_new(loop, junk, 1, &sig), -EINVAL);
	assert_int_equal(tide_signal_new(loop, NULL, 1, &sig), -EINVAL);
	assert_int_equal(tide_signal_new(NULL, set, 2, &sig), -EINVAL);
	assert_null(tide_signal_next(NULL));
	tide_signal_free(NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	tide_loop_run(loop);
	tide_loop_free(loop);
}

/* ---- openat2 ---- */

/* Make the tree spec names under root (a mkdtemp() template, filled in):
 * "NAME/" a directory, "NAME=TEXT" a file holding TEXT, "NAME>TARGET" a
 * symbolic link; returns an O_DIRECTORY descriptor of root. */
static int t_tree(char *root, const char *const *spec)
{
	char p[160];
	int dfd;

	assert_non_null(mkdtemp(root));
	for (; *spec; spec++) {
		const char *e = *spec, *eq = strchr(e, '='),
			   *gt = strchr(e, '>');
		size_t n = strlen(e);

		if (gt) {
			snprintf(p, sizeof(p), "%s/%.*s", root, (int)(gt - e),
				 e);
			assert_int_equal(symlink(gt + 1, p), 0);
		} else if (eq) {
			int fd;

			snprintf(p, sizeof(p), "%s/%.*s", root, (int)(eq - e),
				 e);
			fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
			assert_true(fd >= 0);
			assert_int_equal(write(fd, eq + 1, strlen(eq + 1)),
					 (ssize_t)strlen(eq + 1));
			close(fd);
		} else {
			assert_true(n > 0 && e[n - 1] == '/');
			snprintf(p, sizeof(p), "%s/%.*s", root, (int)(n - 1),
				 e);
			assert_int_equal(mkdir(p, 0700), 0);
		}
	}
	dfd = open(root, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	assert_true(dfd >= 0);
	return dfd;
}

/* Remove dir and everything below it (links are removed, not followed). */
static void t_rmtree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];

	while (d && (e = readdir(d))) {
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			t_rmtree(p);
		else
			unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

static void test_tide_openat2(void **state)
{
	struct tide_loop *loop = t_loop_exact();
	char root[] = "/tmp/tide-root-XXXXXX", buf[8];
	int dfd, fd;

	(void)state;
	dfd = t_tree(root, (const char *const[]){ "a/", "a/f=hello", "l>a/f",
						  "out>/etc", NULL });

	fd = (int)t_wait(loop, tide_openat2(loop, dfd, "a/f", O_RDONLY, 0,
					    TIDE_RESOLVE_BENEATH |
						    TIDE_RESOLVE_NO_SYMLINKS));
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 5);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	/* escapes refused */
	assert_int_equal(t_wait(loop, tide_openat2(loop, dfd, "../etc/passwd",
						   O_RDONLY, 0,
						   TIDE_RESOLVE_BENEATH)),
			 -EXDEV);
	assert_int_equal(t_wait(loop,
				tide_openat2(loop, dfd, "/etc/passwd", O_RDONLY,
					     0, TIDE_RESOLVE_BENEATH)),
			 -EXDEV);
	assert_int_equal(t_wait(loop,
				tide_openat2(loop, dfd, "out/passwd", O_RDONLY,
					     0, TIDE_RESOLVE_BENEATH)),
			 -EXDEV);
	assert_int_equal(t_wait(loop, tide_openat2(loop, dfd, "l", O_RDONLY, 0,
						   TIDE_RESOLVE_NO_SYMLINKS)),
			 -ELOOP);
	/* create beneath the root */
	fd = (int)t_wait(loop, tide_openat2(loop, dfd, "a/new",
					    O_CREAT | O_EXCL | O_WRONLY, 0640,
					    TIDE_RESOLVE_BENEATH));
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640 & ~(mode_t)umask(022));
	close(fd);
	/* bad arguments, missing file */
	assert_int_equal(t_wait(loop, tide_openat2(loop, dfd, "a/f", O_RDONLY,
						   0, 1u << 7)),
			 -EINVAL);
	assert_int_equal(t_wait(loop,
				tide_openat2(loop, dfd, NULL, O_RDONLY, 0, 0)),
			 -EFAULT);
	assert_int_equal(t_wait(loop, tide_openat2(loop, dfd, "nope", O_RDONLY,
						   0, TIDE_RESOLVE_BENEATH)),
			 -ENOENT);
	assert_null(tide_openat2(NULL, dfd, "a/f", O_RDONLY, 0, 0));
	t_rmtree(root);
	close(dfd);
	tide_loop_free(loop);
}

/* Does openat2(2) answer here?  (Linux 5.6; not under valgrind, which
 * says ENOSYS: the pool walks then.) */
static bool kernel_has_openat2(void)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC };
	long fd = syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof(how));

	if (fd >= 0)
		close((int)fd);
	return fd >= 0 || errno != ENOSYS;
}

/* The refusals every road gives alike (io_uring's openat2, the pool's
 * system call on epoll), and what only the kernel allows: a symlink that
 * stays beneath, which the user-space walk refuses. */
static void test_tide_openat2_refusals_both_roads(void **state)
{
	struct tide_loop *loop = t_loop_exact();
	char root[] = "/tmp/tide-rr-XXXXXX";
	const unsigned B = TIDE_RESOLVE_BENEATH, N = TIDE_RESOLVE_NO_SYMLINKS;
	int dfd, fd;

	(void)state;
	dfd = t_tree(root, (const char *const[]){ "d/", "d/f=", "ld>d", "up>..",
						  NULL });

	/* a symlink in a directory component */
	assert_int_equal(
		t_wait(loop, tide_openat2(loop, dfd, "ld/f", O_RDONLY, 0, N)),
		-ELOOP);
	assert_int_equal(t_wait(loop, tide_openat2(loop, dfd, "ld/f", O_RDONLY,
						   0, B | N)),
			 -ELOOP);
	/* ".." inside the path, through a symlink, or a way out */
	assert_int_equal(t_wait(loop, tide_openat2(loop, dfd, "d/../../x",
						   O_RDONLY, 0, B)),
			 -EXDEV);
	assert_int_equal(
		t_wait(loop, tide_openat2(loop, dfd, "up/x", O_RDONLY, 0, B)),
		-EXDEV);
	/* a component that is not a directory */
	assert_int_equal(t_wait(loop, tide_openat2(loop, dfd, "d/f/x", O_RDONLY,
						   0, B | N)),
			 -ENOTDIR);
	fd = (int)t_wait(loop, tide_openat2(loop, dfd, "d/", O_RDONLY, 0, B));
	assert_true(fd >= 0);
	close(fd);
	/* a symlink that stays beneath: the kernel follows it (io_uring's
	 * op; the pool's system call), the pool's walk (no openat2 system
	 * call: old kernels, valgrind) refuses it */
	fd = (int)t_wait(loop, tide_openat2(loop, dfd, "ld/f", O_RDONLY, 0, B));
	if (!t_loop_epoll(loop) || kernel_has_openat2()) {
		assert_true(fd >= 0);
		close(fd);
	} else {
		assert_int_equal(fd, -EXDEV);
	}
	t_rmtree(root);
	close(dfd);
	tide_loop_free(loop);
}

/* The open runs off the loop thread on every backend: an open of a FIFO
 * that waits for a writer leaves the loop free to run other futures. */
static void test_tide_openat2_does_not_block_the_loop(void **state)
{
	struct tide_loop *loop = t_loop_exact();
	char root[] = "/tmp/tide-ff-XXXXXX", p[128];
	struct tide_future *f;
	int dfd, w, fd;

	(void)state;
	assert_non_null(mkdtemp(root));
	snprintf(p, sizeof(p), "%s/fifo", root);
	assert_int_equal(mkfifo(p, 0600), 0);
	dfd = open(root, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	assert_true(dfd >= 0);
	f = tide_openat2(loop, dfd, "fifo", O_RDONLY, 0,
			 TIDE_RESOLVE_BENEATH | TIDE_RESOLVE_NO_SYMLINKS);
	assert_non_null(f);
	/* the loop turns while the open waits (and has submitted it); the
	 * pool's open waits for the writer, io_uring's first try opens
	 * without waiting (O_NONBLOCK, dropped once open) */
	assert_int_equal(t_wait(loop, tide_nop(loop)), 0);
	if (t_loop_epoll(loop))
		assert_false(tide_future_done(f));
	w = open(p, O_WRONLY | O_CLOEXEC); /* meets the pending reader */
	assert_true(w >= 0);
	fd = (int)t_wait(loop, f);
	assert_true(fd >= 0);
	assert_int_equal(write(w, "x", 1), 1);
	char c;
	assert_int_equal(read(fd, &c, 1), 1);
	assert_int_equal(c, 'x');
	close(fd);
	close(w);
	tide_future_release(f);
	unlink(p);
	rmdir(root);
	close(dfd);
	tide_loop_free(loop);
}

/* The user-space walk (kernels without openat2), called directly:
 * stricter than the kernel, every ".." and every symlink refused, one
 * component at a time. */
static int walk(int dfd, const char *path, int flags, uint64_t resolve)
{
	struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC),
				.resolve = resolve };

	if (flags & O_CREAT)
		how.mode = 0600;
	return tide__openat2_walk(dfd, path, &how);
}

static void expect_fd(int fd)
{
	assert_true(fd >= 0);
	close(fd);
}

static void test_tide__openat2_walk(void **state)
{
	char root[] = "/tmp/tide-wk-XXXXXX", p[160], longc[300];
	const uint64_t B = RESOLVE_BENEATH, N = RESOLVE_NO_SYMLINKS;
	int dfd, fd;
	char buf[8];

	(void)state;
	dfd = t_tree(root, (const char *const[]){ "a/", "a/f=hello", "la>a",
						  "lf>a/f", NULL });

	fd = walk(dfd, "a/f", O_RDONLY, B | N);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
	close(fd);
	expect_fd(walk(dfd, "./a//f", O_RDONLY, B | N));
	expect_fd(walk(dfd, "a/", O_RDONLY | O_DIRECTORY, B | N));
	expect_fd(walk(dfd, ".", O_RDONLY | O_DIRECTORY, B));
	assert_int_equal(walk(dfd, "../x", O_RDONLY, B), -EXDEV);
	assert_int_equal(walk(dfd, "a/../../x", O_RDONLY, B), -EXDEV);
	assert_int_equal(walk(dfd, "a/..", O_RDONLY, B), -EXDEV);
	assert_int_equal(walk(dfd, "/etc/passwd", O_RDONLY, B), -EXDEV);
	/* symlinks: -ELOOP with NO_SYMLINKS, -EXDEV with BENEATH alone */
	assert_int_equal(walk(dfd, "la/f", O_RDONLY, N), -ELOOP);
	assert_int_equal(walk(dfd, "la/f", O_RDONLY, B), -EXDEV);
	assert_int_equal(walk(dfd, "lf", O_RDONLY, N), -ELOOP);
	assert_int_equal(walk(dfd, "lf", O_RDONLY, B), -EXDEV);
	assert_int_equal(walk(dfd, "la/", O_RDONLY, N), -ELOOP);
	/* O_PATH | O_NOFOLLOW names the link itself, as the kernel does */
	expect_fd(walk(dfd, "lf", O_PATH | O_NOFOLLOW, N));
	/* the open's own errors */
	assert_int_equal(walk(dfd, "nope/f", O_RDONLY, N), -ENOENT);
	assert_int_equal(walk(dfd, "a/f/x", O_RDONLY, N), -ENOTDIR);
	assert_int_equal(walk(dfd, "", O_RDONLY, N), -ENOENT);
	memset(longc, 'x', sizeof(longc) - 3);
	longc[sizeof(longc) - 3] = '/';
	longc[sizeof(longc) - 2] = 'f';
	longc[sizeof(longc) - 1] = '\0';
	assert_int_equal(walk(dfd, longc, O_RDONLY, N), -ENAMETOOLONG);
	longc[sizeof(longc) - 3] = 'x';
	assert_int_equal(walk(dfd, longc, O_RDONLY, N), -ENAMETOOLONG);
	/* a bit the walk does not know */
	assert_int_equal(walk(dfd, "a/f", O_RDONLY, RESOLVE_NO_XDEV), -EINVAL);
	/* create beneath; absolute paths are fine without BENEATH */
	expect_fd(walk(dfd, "a/new", O_CREAT | O_EXCL | O_WRONLY, B | N));
	snprintf(p, sizeof(p), "%s/a/new", root);
	expect_fd(walk(dfd, p, O_RDONLY, N));
	assert_int_equal(unlink(p), 0);
	/* ".." without BENEATH is only a directory */
	snprintf(p, sizeof(p), "a/../a/f");
	expect_fd(walk(dfd, p, O_RDONLY, N));
	/* without restrictions nothing is refused */
	expect_fd(walk(dfd, "la/f", O_RDONLY, 0));
	/* the pool's job: the system call here, or the walk */
	fd = tide__openat2_run(dfd, "a/f",
			       &(struct open_how){ .flags = O_RDONLY,
						   .resolve = B | N });
	expect_fd(fd);
	assert_int_equal(
		tide__openat2_run(dfd, "../x",
				  &(struct open_how){ .flags = O_RDONLY,
						      .resolve = B }),
		-EXDEV);
	close(dfd);
	t_rmtree(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tide_stream_sendfile_small_and_large),
		cmocka_unit_test(test_tide_stream_sendfile_reuse),
		cmocka_unit_test(test_tide_stream_sendfile_errors),
		cmocka_unit_test(test_tide_stream_sendfile_never_reading_peer),
		cmocka_unit_test(test_tide_stream_copy_bidi_ring),
		cmocka_unit_test(test_tide_stream_write_coalesced),
		cmocka_unit_test(test_tide_stream_write_coalesced_cancel),
		cmocka_unit_test(test_tide_poll),
		cmocka_unit_test(test_tide_signal),
		cmocka_unit_test(test_tide_openat2),
		cmocka_unit_test(test_tide_openat2_refusals_both_roads),
		cmocka_unit_test(test_tide_openat2_does_not_block_the_loop),
		cmocka_unit_test(test_tide__openat2_walk),
	};

	return T_RUN("services", tests);
}
