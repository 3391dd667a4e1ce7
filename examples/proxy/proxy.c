// SPDX-License-Identifier: MIT
/*
 * proxy - a TCP (or Unix socket) proxy on tide: every accepted connection
 * is connected to the upstream and the two streams are copied into each
 * other with tide_stream_copy_bidi(), which passes each side's end of
 * stream on to the other (half-close both ways) and stops both ways on an
 * error.  SIGINT/SIGTERM stop it gracefully.
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
	struct tide_copy_stats st;
};

static struct tide_loop *loop;
static struct tide_addr upstream;
static struct pair *pairs;
static struct tide_future *grace;
static int done;

static void pair_free(struct pair *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		pairs = p->next;
	if (p->next)
		p->next->prev = p->prev;
	free(p);
}

static void closed(void *arg, int64_t res, void *payload)
{
	(void)arg;
	(void)res;
	(void)payload;
}

/* End a stream: in order after a clean copy, with a reset after an error
 * (the peer must not take a cut-off stream for a complete one). */
static void drop(struct tide_stream *s, int error)
{
	if (s)
		tide_future_on_done(error ? tide_stream_abort(s)
					  : tide_stream_close(s),
				    closed, NULL);
}

static void copied(void *arg, int64_t res, void *payload)
{
	struct pair *p = arg;

	(void)payload;
	drop(p->client, res < 0);
	drop(p->up, res < 0);
	pair_free(p);
}

static void connected(void *arg, int64_t res, void *payload)
{
	struct pair *p = arg;
	int fd = (int)res;

	(void)payload;
	if (res < 0) {
		fprintf(stderr, "proxy: upstream: %s\n", tide_strerror((int)res));
	} else if (tide_stream_new(loop, fd, NULL, &p->up)) {
		close(fd);
	} else if (tide_future_on_done(tide_stream_copy_bidi(p->client, p->up,
							    0, &p->st),
				       copied, p) == 0) {
		return;
	}
	drop(p->client, 1);
	drop(p->up, 1);
	pair_free(p);
}

static void on_conn(void *arg, struct tide_stream *s)
{
	struct pair *p = calloc(1, sizeof(*p));

	(void)arg;
	if (!p) {
		drop(s, 1);
		return;
	}
	p->client = s;
	p->next = pairs;
	if (pairs)
		pairs->prev = p;
	pairs = p;
	if (tide_future_on_done(tide_connect_timeout(loop, &upstream,
						     SOCK_STREAM, CONNECT_NS),
				connected, p)) {
		drop(s, 1);
		pair_free(p);
	}
}

static void stopped(void *arg, int64_t res, void *payload)
{
	(void)arg;
	(void)res;
	(void)payload;
	tide_future_cancel(grace); /* everything ended in time */
	done = 1;
}

/* The grace period is over: stop every copy still running (each then
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

/* SIGINT/SIGTERM: stop accepting; connections get GRACE_NS to finish. */
static void on_signal(void *arg, int64_t res, void *payload)
{
	(void)payload;
	if (res > 0)
		fprintf(stderr, "proxy: signal %d, stopping\n", (int)res);
	grace = tide_call_later(loop, GRACE_NS, cancel_all, NULL);
	if (tide_future_on_done(tide_server_stop(arg, GRACE_NS), stopped,
				NULL))
		done = 1;
}

int main(int argc, char **argv)
{
	const char *listen = "127.0.0.1:8081";
	int sigs[] = { SIGINT, SIGTERM }, opt, ret;
	struct tide_signal *sig;
	struct tide_server *srv;
	struct tide_addr a;
	char text[TIDE_ADDR_STRLEN];

	while ((opt = getopt(argc, argv, "l:h")) != -1) {
		if (opt != 'l') {
			fprintf(stderr, "usage: %s [-l ADDR] UPSTREAM\n", argv[0]);
			return opt == 'h' ? 0 : 2;
		}
		listen = optarg;
	}
	if (optind != argc - 1 || tide_addr_parse(&upstream, argv[optind]) ||
	    tide_addr_parse(&a, listen)) {
		fprintf(stderr, "usage: %s [-l ADDR] UPSTREAM (numeric "
			"addresses: 127.0.0.1:80, [::1]:80, unix:/path)\n",
			argv[0]);
		return 2;
	}
	ret = tide_loop_new(&loop, NULL);
	if (ret < 0) {
		fprintf(stderr, "proxy: %s\n", tide_strerror(ret));
		return 1;
	}
	ret = tide_signal_new(loop, sigs, 2, &sig);
	if (!ret)
		ret = tide_server_new(loop, &a, NULL, on_conn, NULL, &srv);
	if (ret < 0) {
		fprintf(stderr, "proxy: %s: %s\n", listen, tide_strerror(ret));
		return 1;
	}
	tide_server_addr(srv, &a);
	tide_addr_format(&a, text, sizeof(text));
	printf("listening on %s\n", text);
	fflush(stdout);
	tide_future_on_done(tide_signal_next(sig), on_signal, srv);
	while (!done && tide_loop_run_once(loop, 1) >= 0)
		;
	tide_server_free(srv);
	tide_signal_free(sig);
	tide_future_release(grace);
	tide_loop_run(loop);
	tide_loop_free(loop);
	return 0;
}
