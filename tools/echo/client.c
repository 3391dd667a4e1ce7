// SPDX-License-Identifier: MIT
/*
 * client.c - tide-echo's client: C connections, each sending a message
 * of S bytes, waiting for all S to come back, checking every byte, and
 * sending the next, until the duration is over.
 *
 * Replies are received with a multishot receive into one buffer ring for
 * all connections; each chunk is copied into the connection's reply buffer
 * and its ring buffer given back at once, so the ring never runs dry for
 * long.  Requests go out with a plain send (resubmitted when short).  This
 * keeps the client cheap, so that a comparison of servers measures the
 * servers and not the client.  Kernels without buffer rings get the stream
 * path (write, then read exactly S).
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <tide.h>

#include "hist.h"
#include "client.h"
#include "json.h"
#include "out.h"

#define CLI_BUFS 1024u
#define CLI_BUF_SIZE 4096u

struct echo_cli;

struct echo_run {
	struct tide_loop *loop;
	struct tide_bufring *br; /* NULL: the stream path */
	struct echo_cli *c;
	const struct echo_opts *o;
	uint64_t deadline, msgs, bytes, errors;
	int live;
	int first_err;		/* the first error's -errno, or 0 */
	const char *first_what; /* ... and what failed */
	struct tide_hist hist;
};

struct echo_cli {
	struct echo_run *r;
	struct tide_stream *s;	  /* stream path */
	struct tide_future *recv; /* ring path: the multishot, while on */
	int fd;
	unsigned char *out, *in;
	uint32_t id, seq;
	size_t sent, got; /* ring path: progress of this message */
	uint64_t t0;
	int parts;
	int64_t res[2];
	bool ending, failed, sending;
};

static volatile sig_atomic_t echo_interrupted;

static void echo_on_signal(int sig)
{
	(void)sig;
	echo_interrupted = 1;
}

void echo_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void cli_next(struct echo_cli *c);

/* The connection is done: close it once nothing is in flight. */
static void cli_finish(struct echo_cli *c)
{
	c->ending = true;
	if (c->recv) {
		tide_future_cancel(c->recv); /* cli_recv_end() comes back */
		return;
	}
	if (c->sending)
		return;
	if (c->s)
		tide_future_release(tide_stream_close(c->s));
	else if (c->fd >= 0) {
		tide_loop_unfix_fd(c->r->loop, c->fd); /* -ENOENT if never */
		close(c->fd);
	}
	c->s = NULL;
	c->fd = -1;
	c->r->live--;
}

/* The first error is the one the summary line names. */
static void run_note(struct echo_run *r, int err, const char *what)
{
	if (!r->first_what) {
		r->first_err = err;
		r->first_what = what;
	}
}

static void cli_fail(struct echo_cli *c, int64_t err, const char *what)
{
	if (!c->failed && !c->ending) {
		c->r->errors++;
		run_note(c->r, (int)err, what);
	}
	c->failed = true;
	if (!c->ending)
		cli_finish(c);
}

/* A whole reply is in: check it, count it, start the next message. */
static void cli_reply(struct echo_cli *c)
{
	struct echo_run *r = c->r;
	size_t n = r->o->size;

	if (memcmp(c->in, c->out, n)) {
		cli_fail(c, 0, "a reply differs from its request");
		return;
	}
	tide_hist_record(&r->hist, tide_now_ns() - c->t0);
	r->msgs++;
	r->bytes += n;
	c->seq++;
	if (tide_now_ns() >= r->deadline || echo_interrupted) {
		cli_finish(c);
		return;
	}
	cli_next(c);
}

/* ---- ring path ---- */

static void cli_send(struct echo_cli *c);

static void cli_sent(void *arg, int64_t res, void *payload)
{
	struct echo_cli *c = arg;

	(void)payload;
	c->sending = false;
	if (c->ending) {
		cli_finish(c);
		return;
	}
	if (res <= 0) {
		cli_fail(c, res ? res : -EPIPE, "sending");
		return;
	}
	c->sent += (size_t)res;
	if (c->sent < c->r->o->size)
		cli_send(c);
	else if (c->got == c->r->o->size)
		cli_reply(c);
}

static void cli_send(struct echo_cli *c)
{
	size_t n = c->r->o->size;

	c->sending = true; /* set first: a continuation may run inline */
	if (tide_future_on_done(tide_send(c->r->loop, c->fd, c->out + c->sent,
					  n - c->sent, 0),
				cli_sent, c)) {
		c->sending = false;
		cli_fail(c, -ENOMEM, "sending");
	}
}

static void cli_got(void *arg, void *data, uint32_t len, unsigned bid)
{
	struct echo_cli *c = arg;
	size_t n = c->r->o->size;

	if (c->ending || c->got + len > n) {
		/* bytes nobody asked for: the server is not echoing */
		tide_bufring_put(c->r->br, bid);
		cli_fail(c, 0, "bytes nobody asked for arrived");
		return;
	}
	memcpy(c->in + c->got, data, len);
	tide_bufring_put(c->r->br, bid);
	c->got += len;
	if (c->got == n && c->sent == n)
		cli_reply(c);
}

static void cli_recv_arm(struct echo_cli *c);

static void cli_recv_end(void *arg, int64_t res, void *payload)
{
	struct echo_cli *c = arg;

	(void)payload;
	c->recv = NULL;
	if (c->ending) {
		cli_finish(c);
		return;
	}
	/* the ring ran dry (every chunk is given back at once, so it has
	 * buffers again) or the multishot ended quietly: go on */
	if (res == -ENOBUFS || res == -EAGAIN) {
		cli_recv_arm(c);
		return;
	}
	/* EOF before the reply, or the socket's error */
	cli_fail(c, res, res < 0 ? "receiving" : "the server closed early");
}

static void cli_recv_arm(struct echo_cli *c)
{
	struct tide_future *f;

	f = tide_recv_multishot(c->r->loop, c->fd, c->r->br, cli_got, c);
	c->recv = f; /* set first: a continuation may run inline */
	if (tide_future_on_done(f, cli_recv_end, c)) {
		c->recv = NULL;
		cli_fail(c, -ENOMEM, "receiving");
	}
}

/* ---- stream path ---- */

static void cli_part(void *arg, int64_t res, void *payload)
{
	struct echo_cli *c = arg;
	size_t n = c->r->o->size;

	(void)payload;
	c->res[c->parts++] = res;
	if (c->parts < 2)
		return;
	if (c->res[0] != (int64_t)n || c->res[1] != (int64_t)n) {
		int64_t e = c->res[0] < 0 ? c->res[0] : c->res[1];

		cli_fail(c, e < 0 ? e : 0,
			 e < 0 ? "exchanging a message" :
				 "the server closed early");
		return;
	}
	cli_reply(c);
}

static void cli_next(struct echo_cli *c)
{
	size_t n = c->r->o->size;

	for (size_t i = 0; i < n; i++)
		c->out[i] = (unsigned char)(c->id * 131u + c->seq * 7u + i);
	c->t0 = tide_now_ns();
	if (c->r->br) {
		c->sent = c->got = 0;
		cli_send(c);
		return;
	}
	c->parts = 0;
	if (tide_future_on_done(tide_stream_write(c->s, c->out, n), cli_part,
				c) ||
	    tide_future_on_done(tide_stream_read_exactly(c->s, c->in, n),
				cli_part, c))
		cli_fail(c, -ENOMEM, "exchanging a message");
}

static void cli_connected(void *arg, int64_t res, void *payload)
{
	struct echo_cli *c = arg;

	(void)payload;
	if (res >= 0 && !c->r->br &&
	    tide_stream_new(c->r->loop, (int)res, NULL, &c->s)) {
		close((int)res);
		res = -ENOMEM;
	}
	if (res < 0) {
		c->r->errors++;
		run_note(c->r, (int)res, "connecting");
		c->r->live--;
		return;
	}
	c->fd = (int)res;
	echo_nodelay(c->fd);
	if (c->r->br) {
		(void)tide_loop_fix_fd(c->r->loop, c->fd); /* optional */
		cli_recv_arm(c);
	}
	if (!c->failed)
		cli_next(c);
}

/* ---- report ---- */

static int echo_report(const struct echo_run *r, double secs)
{
	const struct tide_hist *h = &r->hist;
	double mps = secs > 0 ? (double)r->msgs / secs : 0;
	double bps = secs > 0 ? (double)r->bytes * 2 / secs : 0;
	static const struct {
		const char *key;
		double pct;
	} p[] = { { "p50", 50 },
		  { "p90", 90 },
		  { "p99", 99 },
		  { "p999", 99.9 },
		  { "max", 100 } };

	if (r->o->json) {
		struct json_writer w;

		json_init(&w, stdout, 1);
		json_object_begin(&w);
		json_key(&w, "msgs_per_sec");
		json_double(&w, mps);
		json_key(&w, "bytes_per_sec");
		json_double(&w, bps);
		json_key(&w, "conns");
		json_int(&w, r->o->conns);
		json_key(&w, "size");
		json_uint(&w, r->o->size);
		json_key(&w, "duration_sec");
		json_double(&w, secs);
		json_key(&w, "msgs");
		json_uint(&w, r->msgs);
		json_key(&w, "errors");
		json_uint(&w, r->errors);
		json_key(&w, "lat_ns");
		json_object_begin(&w);
		for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
			json_key(&w, p[i].key);
			json_uint(&w, h->count ?
					      (i == 4 ? h->max :
							hist_pct(h, p[i].pct)) :
					      0);
		}
		json_object_end(&w);
		json_object_end(&w);
		return json_finish(&w);
	}
	printf("conns %d  size %zu  duration %.2f s  errors %llu\n",
	       r->o->conns, r->o->size, secs, (unsigned long long)r->errors);
	printf("messages/s %.0f  MB/s %.2f (both directions)\n", mps,
	       bps / 1e6);
	printf("latency us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
	       h->count ? hist_pct(h, 50) / 1e3 : 0,
	       h->count ? hist_pct(h, 90) / 1e3 : 0,
	       h->count ? hist_pct(h, 99) / 1e3 : 0,
	       h->count ? hist_pct(h, 99.9) / 1e3 : 0, (double)h->max / 1e3);
	return 0;
}

/* One line on stderr when anything failed: how many connections, and the
 * first error (the loop's errors have tide_strerror()'s sentence). */
static void echo_errors(const struct echo_run *r, int loop_err)
{
	if (loop_err) {
		fprintf(stderr, "tide-echo: running the loop: %s\n",
			tide_strerror(loop_err));
		return;
	}
	if (!r->errors)
		return;
	fprintf(stderr,
		"tide-echo: %llu error%s against %s (%llu messages "
		"exchanged); the first: %s%s%s\n",
		(unsigned long long)r->errors, r->errors == 1 ? "" : "s",
		r->o->addr, (unsigned long long)r->msgs,
		r->first_what ? r->first_what : "unknown",
		r->first_err ? ": " : "",
		r->first_err ? strerror(-r->first_err) : "");
}

/* ---- main ---- */

static int cli_start_all(struct echo_run *r, const struct tide_addr *a)
{
	const struct echo_opts *o = r->o;

	r->c = calloc((size_t)o->conns, sizeof(*r->c));
	if (!r->c)
		return -ENOMEM;
	for (int i = 0; i < o->conns; i++) {
		struct echo_cli *c = &r->c[i];

		c->r = r;
		c->id = (uint32_t)i;
		c->fd = -1;
		c->out = malloc(o->size);
		c->in = malloc(o->size);
		if (!c->out || !c->in ||
		    tide_future_on_done(tide_connect_timeout(r->loop, a,
							     SOCK_STREAM,
							     5000000000ull),
					cli_connected, c)) {
			r->errors++;
			run_note(r, -ENOMEM, "connecting");
			continue;
		}
		r->live++;
	}
	return 0;
}

int echo_client_main(const struct echo_opts *o)
{
	struct echo_run r = { .o = o };
	struct tide_bufring_options bo = { .count = CLI_BUFS,
					   .size = CLI_BUF_SIZE };
	struct tide_addr a;
	uint64_t t0;
	int ret, loop_err = 0, out_err;

	ret = tide_addr_parse(&a, o->addr);
	if (ret) {
		fprintf(stderr, "tide-echo: bad address '%s': %s\n", o->addr,
			strerror(-ret));
		return 2;
	}
	signal(SIGINT, echo_on_signal);
	signal(SIGTERM, echo_on_signal);
	signal(SIGPIPE, SIG_IGN);
	ret = tide_loop_new(&r.loop, NULL);
	if (ret) {
		fprintf(stderr, "tide-echo: %s\n", tide_strerror(ret));
		return 1;
	}
	ret = tide_bufring_new(r.loop, &r.br, &bo);
	if (ret && ret != -EOPNOTSUPP) {
		fprintf(stderr, "tide-echo: buffer ring: %s\n",
			tide_strerror(ret));
		tide_loop_free(r.loop);
		return 1;
	}
	tide_hist_init(&r.hist);
	t0 = tide_now_ns();
	r.deadline = t0 + (uint64_t)(o->duration * 1e9);
	if (cli_start_all(&r, &a)) {
		fprintf(stderr, "tide-echo: %s\n", tide_strerror(-ENOMEM));
		tide_bufring_free(r.br);
		tide_loop_free(r.loop);
		return 1;
	}
	while (r.live > 0 && (ret = tide_loop_run_once(r.loop, 1)) >= 0)
		;
	if (ret < 0)
		loop_err = ret; /* e.g. io_uring_enter denied: no exchange */
	else
		tide_loop_run(r.loop); /* let the closes finish */
	/* no figures from a loop that could not run: they would be zeros */
	out_err = loop_err ?
			  0 :
			  echo_report(&r, (double)(tide_now_ns() - t0) / 1e9);
	echo_errors(&r, loop_err);
	for (int i = 0; i < o->conns; i++) {
		free(r.c[i].out);
		free(r.c[i].in);
	}
	free(r.c);
	tide_bufring_free(r.br);
	tide_loop_free(r.loop);
	if (out_finish(out_err) || loop_err || (r.errors && !r.msgs))
		return 1;
	return r.errors ? 3 : 0;
}
