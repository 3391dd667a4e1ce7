// SPDX-License-Identifier: MIT
/*
 * fuzz_stream.c - the stream readers against a model.
 *
 * The input is a program: the first byte picks the input path (a buffer
 * ring of 16 x 64 bytes, whose per-stream share pauses and resumes the
 * receive, or a read buffer of 1..64 bytes); then each op either writes a
 * chunk of the input's bytes into the far end of a socketpair, issues one
 * read (tide_stream_read, _read_exactly, _read_until, _read_line) when none
 * is pending, or runs the loop.  At the end the far end shuts down and the
 * stream is drained to end of stream.  Every read result is checked
 * against the bytes written so far: what it may return, which bytes, and
 * what it consumed.  All bytes come out once, in order, and every ring
 * buffer is back after close.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <tide.h>

#include "fuzz.h"

#define SENT_MAX 16384u
#define RING_COUNT 16u

enum { M_SOME, M_EXACT, M_UNTIL };

static struct tide_loop *loop;
static struct tide_bufring *ring;

static struct {
	uint8_t sent[SENT_MAX];
	size_t sent_len, consumed;
	bool eof;
	/* the pending read */
	bool pending;
	int64_t last;
	int mode, delim;
	size_t len;
	char buf[256];
} m;

static void fail(const char *what, int64_t res)
{
	fprintf(stderr,
		"fuzz_stream: %s (result %lld, mode %d, len %zu, "
		"delim %d, written %zu, consumed %zu, eof %d)\n",
		what, (long long)res, m.mode, m.len, m.delim, m.sent_len,
		m.consumed, m.eof);
	abort();
}

static void same(size_t n, int64_t res)
{
	if (memcmp(m.buf, m.sent + m.consumed, n))
		fail("bytes differ from what was written", res);
	m.consumed += n;
}

static void check_until(int64_t res)
{
	size_t rem = m.sent_len - m.consumed;
	size_t look = rem < m.len ? rem : m.len;
	const uint8_t *hit = memchr(m.sent + m.consumed, m.delim, look);

	if (hit) {
		size_t n = (size_t)(hit - (m.sent + m.consumed)) + 1;

		if (res != (int64_t)n)
			fail("read_until: not up to the first delimiter", res);
		same(n, res);
	} else if (rem >= m.len) {
		if (res != -EMSGSIZE)
			fail("read_until: max bytes without delimiter", res);
		same(m.len, res);
	} else if (!m.eof) {
		fail("read_until resolved early", res);
	} else if (res != (rem ? -EPIPE : 0)) {
		fail("read_until at end of stream", res);
	} else {
		same(rem, res);
	}
}

static void on_read(void *arg, int64_t res, void *payload)
{
	size_t rem = m.sent_len - m.consumed;

	(void)arg;
	(void)payload;
	m.pending = false;
	m.last = res;
	switch (m.mode) {
	case M_SOME:
		if (res == 0 && !(m.eof && rem == 0))
			fail("read: 0 before end of stream", res);
		if (res < 0 || (size_t)res > m.len || (size_t)res > rem)
			fail("read: bad count", res);
		same((size_t)res, res);
		break;
	case M_EXACT:
		if (res == (int64_t)m.len) {
			if (rem < m.len)
				fail("read_exactly: more than was written",
				     res);
			same(m.len, res);
		} else if (!m.eof || rem >= m.len) {
			fail("read_exactly: short before end of stream", res);
		} else if (res != (rem ? -EPIPE : 0)) {
			fail("read_exactly at end of stream", res);
		} else {
			same(rem, res);
		}
		break;
	default:
		check_until(res);
	}
}

static void start_read(struct tide_stream *s, int mode, size_t len, int delim,
		       bool line)
{
	struct tide_future *f;

	m.mode = mode;
	m.len = len;
	m.delim = delim;
	m.pending = true;
	if (mode == M_SOME)
		f = tide_stream_read(s, m.buf, len);
	else if (mode == M_EXACT)
		f = tide_stream_read_exactly(s, m.buf, len);
	else if (line)
		f = tide_stream_read_line(s, m.buf, len);
	else
		f = tide_stream_read_until(s, m.buf, len, delim);
	if (tide_future_on_done(f, on_read, NULL))
		fail("no memory for a read", -ENOMEM);
}

static void run(int wait)
{
	if (tide_loop_run_once(loop, wait) < 0)
		fail("loop iteration failed", 0);
}

/* Write what the socket takes without blocking (a paused stream with no
 * read pending takes nothing, and many tiny writes fill a socketpair
 * long before its byte limit); what does not fit is not sent at all. */
static void put(int fd, const uint8_t *p, size_t n)
{
	int stuck = 0;

	if (n > SENT_MAX - m.sent_len)
		n = SENT_MAX - m.sent_len;
	while (n && stuck < 4) {
		ssize_t w = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			stuck++;
			run(0);
			continue;
		}
		if (w <= 0)
			fail("write to the socketpair failed", w);
		memcpy(m.sent + m.sent_len, p, (size_t)w);
		m.sent_len += (size_t)w;
		p += w;
		n -= (size_t)w;
		stuck = 0;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct tide_bufring_options bo = { .count = RING_COUNT, .size = 64 };
	int r;

	(void)argc;
	(void)argv;
	r = tide_loop_new(&loop, NULL);
	if (r) {
		fprintf(stderr,
			"fuzz_stream: skipped, no usable io_uring: %s\n",
			tide_strerror(r));
		exit(77);
	}
	if (tide_bufring_new(loop, &ring, &bo))
		ring = NULL; /* old kernel: the read-buffer path only */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tide_stream_options so = { 0 };
	struct tide_stream *s;
	size_t i = 1;
	int sv[2];

	if (size < 1)
		return 0;
	memset(&m, 0, sizeof(m));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		fail("socketpair", -1);
	if ((data[0] & 1) && ring)
		so.bufring = ring;
	else
		so.read_size = 1u + ((data[0] >> 1) & 63u);
	if (tide_stream_new(loop, sv[0], &so, &s))
		fail("tide_stream_new", -1);
	while (i < size) {
		uint8_t op = data[i++] % 6;
		uint8_t a = i < size ? data[i++] : 0;

		switch (op) {
		case 0: {
			size_t n = a % 65u;

			if (n > size - i)
				n = size - i;
			put(sv[1], data + i, n);
			i += n;
			break;
		}
		case 1:
			if (!m.pending)
				start_read(s, M_SOME, 1u + a % 80u, 0, false);
			break;
		case 2:
			if (!m.pending)
				start_read(s, M_EXACT, 1u + a % 200u, 0, false);
			break;
		case 3: {
			uint8_t b = i < size ? data[i++] : 0;

			if (!m.pending)
				start_read(s, M_UNTIL, 1u + b % 100u, a, false);
			break;
		}
		case 4:
			if (!m.pending)
				start_read(s, M_UNTIL, 1u + a % 100u, '\n',
					   true);
			break;
		default:
			for (int k = 0; k <= a % 4; k++)
				run(0);
		}
		run(0);
	}
	/* end of stream: everything left comes out, then 0 */
	shutdown(sv[1], SHUT_WR);
	m.eof = true;
	while (m.pending)
		run(1);
	do {
		start_read(s, M_SOME, 64, 0, false);
		while (m.pending)
			run(1);
	} while (m.last > 0);
	if (m.consumed != m.sent_len)
		fail("bytes left unread", 0);
	tide_future_release(tide_stream_close(s));
	while (tide_loop_pending(loop))
		run(1);
	if (ring && tide_bufring_avail(ring) != RING_COUNT)
		fail("ring buffers not returned after close", 0);
	close(sv[1]);
	return 0;
}
