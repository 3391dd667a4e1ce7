// SPDX-License-Identifier: MIT
/*
 * proxy - a TCP (or Unix socket) proxy on tide: every accepted connection
 * is handled by a task, linear code that connects to the upstream and
 * copies the two streams into each other with tide_stream_copy_bidi(),
 * which passes each side's end of stream on to the other (half-close both
 * ways) and stops both ways on an error.  The main task waits for
 * SIGINT/SIGTERM and stops the server gracefully.
 *
 *   proxy [-l ADDR] UPSTREAM     ADDR defaults to 127.0.0.1:8081
 *
 * It prints "listening on ADDR" once it accepts connections.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tide.h>

#define CONNECT_NS (5ull * 1000000000ull)

#define GRACE_NS (2ull * 1000000000ull)

struct pair {
	struct pair *next, *prev; /* every live pair, for the stop */
	struct tide_stream *client, *up;
};

static struct tide_loop *loop;
static struct tide_addr upstream;
static struct pair *pairs;
static struct tide_signal *sig;
/* the upstream sides receive into a ring too (the server gives the client
 * sides its own): one multishot receive per stream, not a receive per
 * chunk; NULL where the kernel has no buffer rings */
static struct tide_bufring *up_ring;

/* End a stream: in order after a clean copy, with a reset after an error
 * (the peer must not take a cut-off stream for a complete one).  The end
 * runs on by itself; nothing waits for it. */
static void drop(struct tide_stream *s, int error)
{
	if (s)
		tide_future_release(error ? tide_stream_abort(s) :
					    tide_stream_close(s));
}

/* One connection, a task of tide_task_server_new(), top to bottom: connect
 * to the upstream, copy both ways until both ends are done, end the
 * upstream stream; the server ends the client's by the return value (an
 * error: a reset). */
static int64_t pair_task(void *arg, struct tide_stream *client)
{
	struct pair p = { .next = pairs, .client = client };
	int64_t res;

	(void)arg;
	if (pairs)
		pairs->prev = &p;
	pairs = &p;
	res = tide_await(
		tide_connect_timeout(loop, &upstream, SOCK_STREAM, CONNECT_NS));
	if (res < 0) {
		fprintf(stderr, "proxy: upstream: %s\n",
			tide_strerror((int)res));
	} else if (tide_stream_new(
			   loop, (int)res,
			   &(struct tide_stream_options){ .bufring = up_ring },
			   &p.up)) {
		close((int)res);
		res = -ENOMEM;
	} else {
		struct tide_copy_stats st;

		res = tide_await(tide_stream_copy_bidi(p.client, p.up, 0, &st));
	}
	if (p.prev)
		p.prev->next = p.next;
	else
		pairs = p.next;
	if (p.next)
		p.next->prev = p.prev;
	drop(p.up, res < 0);
	return res < 0 ? res : 0;
}

/* Each accepted connection gets a task running pair_task(). */
static const struct tide_task_handler handler = { .fn = pair_task };

/* The grace period is over: stop every copy still running (each task then
 * resets its two streams, which lets the server's stop finish). */
static void cancel_all(void *arg)
{
	(void)arg;
	for (struct pair *p = pairs; p; p = p->next) {
		if (!p->up)
			continue; /* still connecting: ends by itself */
		tide_stream_cancel(p->client, TIDE_STREAM_CANCEL_READ |
						      TIDE_STREAM_CANCEL_WRITE);
		tide_stream_cancel(p->up, TIDE_STREAM_CANCEL_READ |
						  TIDE_STREAM_CANCEL_WRITE);
	}
}

/* The main task: wait for SIGINT/SIGTERM, stop accepting, give the
 * connections GRACE_NS to finish, then cut the rest. */
static int64_t serve(void *arg)
{
	struct tide_server *srv = arg;
	struct tide_future *grace;
	int64_t res;

	res = tide_await(tide_signal_next(sig));
	if (res > 0)
		fprintf(stderr, "proxy: signal %d, stopping\n", (int)res);
	grace = tide_call_later(loop, GRACE_NS, cancel_all, NULL);
	tide_await(tide_server_stop(srv, GRACE_NS));
	tide_future_cancel(grace); /* everything ended in time */
	tide_future_release(grace);
	return 0;
}

int main(int argc, char **argv)
{
	const char *listen = "127.0.0.1:8081";
	int sigs[] = { SIGINT, SIGTERM }, opt;
	int64_t ret;
	struct tide_server *srv;
	struct tide_addr a;
	char text[TIDE_ADDR_STRLEN];

	while ((opt = getopt(argc, argv, "l:h")) != -1) {
		if (opt != 'l') {
			fprintf(stderr, "usage: %s [-l ADDR] UPSTREAM\n",
				argv[0]);
			return opt == 'h' ? 0 : 2;
		}
		listen = optarg;
	}
	if (optind != argc - 1 || tide_addr_parse(&upstream, argv[optind]) ||
	    tide_addr_parse(&a, listen)) {
		fprintf(stderr,
			"usage: %s [-l ADDR] UPSTREAM (numeric "
			"addresses: 127.0.0.1:80, [::1]:80, unix:/path)\n",
			argv[0]);
		return 2;
	}
	ret = tide_loop_new(&loop, NULL);
	if (ret < 0) {
		fprintf(stderr, "proxy: %s\n", tide_strerror((int)ret));
		return 1;
	}
	ret = tide_bufring_new(loop, &up_ring, NULL);
	if (ret == -EOPNOTSUPP)
		ret = 0; /* streams read into their own buffers then */
	if (!ret)
		ret = tide_signal_new(loop, sigs, 2, &sig);
	if (!ret)
		ret = tide_task_server_new(loop, &a, NULL, &handler, &srv);
	if (ret < 0) {
		fprintf(stderr, "proxy: %s: %s\n", listen,
			tide_strerror((int)ret));
		return 1;
	}
	tide_server_addr(srv, &a);
	tide_addr_format(&a, text, sizeof(text));
	printf("listening on %s\n", text);
	fflush(stdout);
	ret = tide_run(loop, serve, srv);
	if (ret < 0)
		fprintf(stderr, "proxy: %s\n", tide_strerror((int)ret));
	tide_server_free(srv);
	tide_signal_free(sig);
	tide_loop_run(loop); /* the last closes */
	tide_bufring_free(up_ring);
	tide_loop_free(loop);
	return ret < 0;
}
