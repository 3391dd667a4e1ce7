// SPDX-License-Identifier: MIT
/*
 * tide-echo - an RFC 862 echo server on tide's stream/server API (or on
 * plain epoll, for comparison) and a verifying load-generating client.
 *
 *   tide-echo server ADDR [--threads N] [--engine tide|epoll] [--tasks]
 *                    [--stats] [--json]
 *   tide-echo client ADDR [--conns C] [--size S] [--duration T] [--json]
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tide.h>

#include "client.h"
#include "epoll.h"
#include "json.h"
#include "opt.h"
#include "out.h"
#include "tasks.h"

static void echo_usage(FILE *f)
{
	fputs("usage: tide-echo server ADDR [--threads N] [--engine tide|epoll] "
	      "[--tasks] [--stats] [--json]\n"
	      "       tide-echo client ADDR [--conns C] [--size S] "
	      "[--duration SECONDS] [--json]\n"
	      "ADDR: HOST:PORT, [V6]:PORT or unix:/PATH (unix:@NAME abstract)\n",
	      f);
}

/* ---- tide server ---- */

/*
 * Each connection is served straight from a buffer ring: a multishot
 * receive lends one buffer per chunk, the chunk is sent back from that very
 * buffer (no copy, no read request, no promise), and the buffer returns to
 * the ring once its send completed.  One send per connection is in flight
 * (two on one socket could overtake each other); chunks arriving meanwhile
 * wait in a short queue.  The loop submits every send of an iteration with
 * one io_uring_enter.  The stream only owns the descriptor: closing it
 * shuts the socket down and closes it.  Kernels without buffer rings get
 * the plain stream read/write loop instead.
 *
 * The ring is shared fairly: a connection holds at most ECHO_SHARE
 * buffers.  At that many its receive is cancelled (backpressure: the bytes
 * wait in the socket and TCP slows the peer), and it restarts once its
 * sends brought it down to half, so a client that sends and never reads
 * cannot take every buffer from the others.
 */
#define ECHO_BUFS 1024u
#define ECHO_BUF_SIZE 1024u
#define ECHO_SHARE 16u

struct echo_chunk {
	struct echo_chunk *next;
	char *data;
	uint32_t bid, off, len;
};

struct echo_conn;

struct echo_thread {
	pthread_t th;
	struct tide_loop *loop;
	struct tide_server *srv;
	struct tide_bufring *br;
	struct echo_chunk *spare;  /* free chunk records */
	struct echo_conn *starved; /* receives stopped on an empty ring */
	struct tide_addr addr;
	uint32_t flags;
	int err;
	sem_t *ready;
	struct echo_counts cnt;
	bool tasks;			  /* --tasks: a task per connection */
	struct tide_task_handler handler; /* its handler, alive with srv */
};

struct echo_conn {
	struct tide_stream *s;
	struct echo_thread *t;
	int fd;
	bool sending, ended, failed;
	struct tide_future *recv; /* the multishot receive, while on */
	struct echo_chunk *head, *tail;
	struct echo_conn *next_starved;
	bool starved;
	uint32_t held;	   /* ring buffers queued here */
	bool paused;	   /* receive stopped at the share */
	bool pause_cancel; /* recv cancelled to pause */
	char *buf;	   /* the stream path's buffer */
};

static void echo_conn_read(struct echo_conn *c);

static void echo_conn_free(struct echo_conn *c)
{
	tide_future_release(tide_stream_close(c->s));
	free(c->buf);
	free(c);
}

/* ---- ring path ---- */

static void echo_recv_arm(struct echo_conn *c);

/* Give a sent chunk's buffer back and restart receives it was starving. */
static void echo_chunk_done(struct echo_thread *t, struct echo_chunk *ch)
{
	tide_bufring_put(t->br, ch->bid);
	ch->next = t->spare;
	t->spare = ch;
	while (t->starved) {
		struct echo_conn *c = t->starved;

		t->starved = c->next_starved;
		c->starved = false;
		if (!c->paused) /* else echo_conn_resume() restarts it */
			echo_recv_arm(c);
	}
}

/* Close once the receive has ended and nothing is being sent. */
static void echo_conn_check(struct echo_conn *c)
{
	if (c->failed && c->recv) {
		tide_future_cancel(c->recv); /* echo_recv_end() calls again */
		return;
	}
	if (c->failed && c->starved) {
		struct echo_conn **pp = &c->t->starved;

		while (*pp != c)
			pp = &(*pp)->next_starved;
		*pp = c->next_starved;
		c->starved = false;
	}
	if (c->recv || c->sending || c->starved || (c->head && !c->failed))
		return;
	while (c->head) {
		struct echo_chunk *ch = c->head;

		c->head = ch->next;
		c->held--;
		echo_chunk_done(c->t, ch);
	}
	echo_conn_free(c);
}

/* A chunk went out: restart a receive paused at the share. */
static void echo_conn_resume(struct echo_conn *c)
{
	if (!c->paused || c->held > ECHO_SHARE / 2 || c->failed || c->ended)
		return;
	c->paused = false;
	if (!c->recv && !c->starved)
		echo_recv_arm(c);
}

static void echo_send_head(struct echo_conn *c);

static void echo_sent(void *arg, int64_t res, void *payload)
{
	struct echo_conn *c = arg;
	struct echo_chunk *ch = c->head;

	(void)payload;
	/* c->sending stays set until here: whatever echo_chunk_done()
	 * restarts cannot free c under us */
	if (res <= 0) {
		c->failed = true;
	} else {
		ch->off += (uint32_t)res;
		if (ch->off == ch->len) {
			c->head = ch->next;
			c->held--;
			echo_chunk_done(c->t, ch);
			echo_conn_resume(c);
		}
	}
	c->sending = false;
	if (c->head && !c->failed)
		echo_send_head(c);
	else
		echo_conn_check(c);
}

static void echo_send_head(struct echo_conn *c)
{
	struct echo_chunk *ch = c->head;

	/* set first: a continuation may (rarely) run inline */
	c->sending = true;
	if (tide_future_on_done(tide_send(c->t->loop, c->fd, ch->data + ch->off,
					  ch->len - ch->off, 0),
				echo_sent, c)) {
		c->sending = false;
		c->failed = true;
		echo_conn_check(c);
	}
}

static void echo_got(void *arg, void *data, uint32_t len, unsigned bid)
{
	struct echo_conn *c = arg;
	struct echo_thread *t = c->t;
	struct echo_chunk *ch = t->spare;

	t->cnt.msgs++;
	t->cnt.bytes += len;
	if (ch)
		t->spare = ch->next;
	else
		ch = malloc(sizeof(*ch));
	if (!ch) {
		tide_bufring_put(t->br, bid);
		c->failed = true;
		echo_conn_check(c);
		return;
	}
	*ch = (struct echo_chunk){ .data = data, .bid = bid, .len = len };
	if (c->failed) {
		echo_chunk_done(t, ch);
		return;
	}
	if (c->tail && c->head)
		c->tail->next = ch;
	else
		c->head = ch;
	c->tail = ch;
	if (++c->held >= ECHO_SHARE && !c->paused) {
		/* its sends are backed up: stop taking its bytes */
		c->paused = true;
		if (c->recv && !c->pause_cancel) {
			c->pause_cancel = true;
			tide_future_cancel(c->recv);
		}
	}
	if (!c->sending)
		echo_send_head(c);
}

static void echo_recv_end(void *arg, int64_t res, void *payload)
{
	struct echo_conn *c = arg;

	(void)payload;
	c->recv = NULL;
	if (c->pause_cancel) {
		c->pause_cancel = false;
		if (res == -ECANCELED && !c->failed && !c->ended) {
			if (!c->paused) /* resumed while the cancel ran */
				echo_recv_arm(c);
			return;
		}
	}
	if (!c->failed && !c->ended) {
		if (c->paused && (res == -ENOBUFS || res == -EAGAIN))
			return; /* echo_conn_resume() restarts it */
		if (res == -ENOBUFS && !tide_bufring_avail(c->t->br)) {
			/* the bytes wait in the socket; a sent chunk's
			 * buffer restarts us */
			c->starved = true;
			c->next_starved = c->t->starved;
			c->t->starved = c;
			return;
		}
		if (res == -ENOBUFS || res == -EAGAIN) {
			echo_recv_arm(c);
			return;
		}
		c->ended = true; /* end of stream, or the socket's error */
	}
	echo_conn_check(c);
}

static void echo_recv_arm(struct echo_conn *c)
{
	struct tide_future *f;

	f = tide_recv_multishot(c->t->loop, c->fd, c->t->br, echo_got, c);
	c->recv = f; /* set first: a continuation may (rarely) run inline */
	if (tide_future_on_done(f, echo_recv_end, c)) {
		c->recv = NULL;
		c->failed = true;
		echo_conn_check(c);
	}
}

/* ---- stream path (no buffer rings) ---- */

static void echo_conn_wrote(void *arg, int64_t res, void *payload)
{
	(void)payload;
	if (res < 0)
		echo_conn_free(arg);
	else
		echo_conn_read(arg);
}

static void echo_conn_got(void *arg, int64_t res, void *payload)
{
	struct echo_conn *c = arg;

	(void)payload;
	if (res <= 0) {
		echo_conn_free(c);
		return;
	}
	c->t->cnt.msgs++;
	c->t->cnt.bytes += (uint64_t)res;
	if (tide_future_on_done(tide_stream_write(c->s, c->buf, (size_t)res),
				echo_conn_wrote, c))
		echo_conn_free(c);
}

static void echo_conn_read(struct echo_conn *c)
{
	if (tide_future_on_done(tide_stream_read(c->s, c->buf, ECHO_BUF_SIZE),
				echo_conn_got, c))
		echo_conn_free(c);
}

static void echo_on_conn(void *arg, struct tide_stream *s)
{
	struct echo_thread *t = arg;
	struct echo_conn *c = calloc(1, sizeof(*c));

	if (c && !t->br)
		c->buf = malloc(ECHO_BUF_SIZE);
	if (!c || (!t->br && !c->buf)) {
		free(c);
		tide_future_release(tide_stream_close(s));
		return;
	}
	c->s = s;
	c->t = t;
	c->fd = tide_stream_fd(s);
	echo_nodelay(c->fd);
	/* no fget/fput per send and receive; closing the stream unfixes it.
	 * Without (an old kernel, a full table) the ops look fd up. */
	(void)tide_loop_fix_fd(t->loop, c->fd);
	t->cnt.conns++;
	if (t->br)
		echo_recv_arm(c);
	else
		echo_conn_read(c);
}

static void echo_stop_post(void *arg)
{
	struct echo_thread *t = arg;

	/* the loop returns once the stop resolves and nothing is pending */
	tide_future_release(tide_server_stop(t->srv, 2000000000ull));
}

static void *echo_tide_thread(void *arg)
{
	struct echo_thread *t = arg;
	struct tide_bufring_options bo = { .count = ECHO_BUFS,
					   .size = ECHO_BUF_SIZE };
	/* connections are read through t->br, never through their stream */
	struct tide_server_options so = { .flags = t->flags,
					  .buf_count = 1,
					  .buf_size = 64 };

	t->err = tide_loop_new(&t->loop, NULL);
	if (!t->err && t->tasks) {
		t->err = echo_tasks_server(t->loop, &t->addr, t->flags, &t->cnt,
					   &t->handler, &t->srv);
		goto ready;
	}
	if (!t->err) {
		t->err = tide_bufring_new(t->loop, &t->br, &bo);
		if (t->err == -EOPNOTSUPP)
			t->err = 0; /* the stream path then */
	}
	if (!t->err)
		t->err = tide_server_new(t->loop, &t->addr, &so, echo_on_conn,
					 t, &t->srv);
	if (!t->err)
		tide_server_addr(t->srv, &t->addr);
ready:
	sem_post(t->ready);
	if (!t->err)
		t->err = tide_loop_run(t->loop);
	tide_server_free(t->srv);
	tide_bufring_free(t->br);
	tide_loop_free(t->loop);
	while (t->spare) {
		struct echo_chunk *ch = t->spare;

		t->spare = ch->next;
		free(ch);
	}
	return NULL;
}

static int echo_print_stats(const struct echo_opts *o,
			    const struct echo_counts *c)
{
	if (o->json) {
		struct json_writer w;

		json_init(&w, stdout, 1);
		json_object_begin(&w);
		json_key(&w, "connections");
		json_uint(&w, c->conns);
		json_key(&w, "messages");
		json_uint(&w, c->msgs);
		json_key(&w, "bytes");
		json_uint(&w, c->bytes);
		json_object_end(&w);
		return json_finish(&w);
	}
	printf("connections %llu\nmessages    %llu\nbytes       %llu\n",
	       (unsigned long long)c->conns, (unsigned long long)c->msgs,
	       (unsigned long long)c->bytes);
	return 0;
}

static volatile sig_atomic_t srv_signal;

static void srv_on_signal(int sig)
{
	srv_signal = sig;
}

static void srv_signal_setup(sigset_t *ss)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = srv_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(ss);
	sigaddset(ss, SIGINT);
	sigaddset(ss, SIGTERM);
	pthread_sigmask(SIG_BLOCK, ss, NULL);
}

/* The signal that asked us to stop, whichever thread it reached. */
static int srv_signal_wait(const sigset_t *ss)
{
	while (!srv_signal) {
		struct timespec ts = { 0, 100000000 };
		int sig = sigtimedwait(ss, NULL, &ts);

		if (sig > 0)
			return sig;
	}
	return srv_signal;
}

static int echo_server_main(const struct echo_opts *o)
{
	struct echo_thread *t = calloc((size_t)o->threads, sizeof(*t));
	struct echo_counts sum = { 0 };
	char text[TIDE_ADDR_STRLEN];
	struct tide_addr a;
	sigset_t ss;
	sem_t ready;
	int bad = 0, ret;

	if (!t)
		return 1;
	ret = tide_addr_parse(&a, o->addr);
	if (ret) {
		fprintf(stderr, "tide-echo: bad address '%s': %s\n", o->addr,
			strerror(-ret));
		return 2;
	}
	/*
	 * A shell starts a background job with SIGINT ignored, and an ignored
	 * signal that arrives before it is blocked is lost: install a handler
	 * first, then block, and wait below on both the flag and sigwait.
	 */
	srv_signal_setup(&ss);
	sem_init(&ready, 0, 0);
	for (int i = 0; i < o->threads && !bad; i++) {
		t[i].addr = a;
		t[i].ready = &ready;
		t[i].flags = o->threads > 1 ? TIDE_SERVER_REUSEPORT : 0;
		t[i].tasks = o->tasks;
		ret = o->epoll ? echo_epoll_start(&t[i].th, &t[i].addr,
						  o->threads > 1, &t[i].err,
						  &ready, &t[i].cnt) :
				 pthread_create(&t[i].th, NULL,
						echo_tide_thread, &t[i]);
		if (ret) {
			t[i].err = -ret;
			bad = 1;
			break;
		}
		sem_wait(&ready);
		if (t[i].err) {
			fprintf(stderr, "tide-echo: cannot listen on %s: %s\n",
				o->addr, tide_strerror(t[i].err));
			bad = 1;
		}
		a = t[i].addr; /* threads after the first share its port */
	}
	if (!bad) {
		tide_addr_format(&a, text, sizeof(text));
		fprintf(stderr,
			"tide-echo: listening on %s (%s, %d thread%s)\n", text,
			o->epoll ? "epoll" :
			o->tasks ? "tide tasks" :
				   "tide",
			o->threads, o->threads > 1 ? "s" : "");
		(void)srv_signal_wait(&ss);
	}
	for (int i = 0; i < o->threads; i++) {
		if (!t[i].th)
			continue;
		if (!t[i].err) {
			if (o->epoll)
				echo_epoll_stop(i);
			else
				tide_loop_post(t[i].loop, echo_stop_post,
					       &t[i]);
		}
		pthread_join(t[i].th, NULL);
		sum.conns += t[i].cnt.conns;
		sum.msgs += t[i].cnt.msgs;
		sum.bytes += t[i].cnt.bytes;
	}
	if (!bad && o->stats && out_finish(echo_print_stats(o, &sum)))
		bad = 1;
	free(t);
	return bad ? 1 : 0;
}

/* ---- arguments ---- */

/* A strict count (tools/common/opt.h) in [lo, hi]; on a bad one, one line
 * on stderr and the usage status. */
static int echo_count(const char *opt, const char *s, uint64_t lo, uint64_t hi,
		      uint64_t *v)
{
	char want[64];
	int err = opt_count(s, lo, hi, v);

	if (!err)
		return 0;
	snprintf(want, sizeof(want), "%llu to %llu", (unsigned long long)lo,
		 (unsigned long long)hi);
	return opt_bad("tide-echo", opt, s, err, want);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "threads", required_argument, NULL, 't' },
		{ "engine", required_argument, NULL, 'e' },
		{ "stats", no_argument, NULL, 's' },
		{ "tasks", no_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'j' },
		{ "conns", required_argument, NULL, 'c' },
		{ "size", required_argument, NULL, 'z' },
		{ "duration", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct echo_opts o = {
		.threads = 1, .conns = 10, .size = 64, .duration = 5
	};
	int c, server, err;
	uint64_t v;

	out_check_at_exit("tide-echo");
	while ((c = getopt_long(argc, argv, "t:e:sjc:z:d:h", lo, NULL)) != -1) {
		switch (c) {
		case 't':
			if (echo_count("--threads", optarg, 1, 256, &v))
				return 2;
			o.threads = (int)v;
			break;
		case 'e':
			if (!strcmp(optarg, "epoll"))
				o.epoll = 1;
			else if (strcmp(optarg, "tide"))
				goto bad;
			break;
		case 's':
			o.stats = 1;
			break;
		case 'T':
			o.tasks = 1;
			break;
		case 'j':
			o.json = 1;
			break;
		case 'c':
			if (echo_count("--conns", optarg, 1, 1000000, &v))
				return 2;
			o.conns = (int)v;
			break;
		case 'z':
			if ((err = opt_size(optarg, 1, 64u << 20, &v)))
				return opt_bad("tide-echo", "--size", optarg,
					       err, "1 to 64m bytes");
			o.size = (size_t)v;
			break;
		case 'd':
			if ((err = opt_duration(optarg, 1000000000ull, 0,
						1000000 * 1000000000ull, &v)))
				return opt_bad("tide-echo", "--duration",
					       optarg, err,
					       "seconds, e.g. 5, 0.5, 500ms");
			o.duration = (double)v / 1e9;
			break;
		case 'h':
			echo_usage(stdout);
			return 0;
		default:
			echo_usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2)
		goto usage;
	server = !strcmp(argv[optind], "server");
	if (!server && strcmp(argv[optind], "client"))
		goto usage;
	if (o.tasks && (!server || o.epoll)) {
		fprintf(stderr,
			"tide-echo: --tasks is an option of the tide "
			"server (not of the client nor of --engine epoll)\n");
		return 2;
	}
	o.addr = argv[optind + 1];
	return server ? echo_server_main(&o) : echo_client_main(&o);
bad:
	fprintf(stderr, "tide-echo: bad value '%s' for --%s\n", optarg,
		c == 't' ? "threads" :
		c == 'e' ? "engine" :
		c == 'c' ? "conns" :
		c == 'z' ? "size" :
			   "duration");
	return 2;
usage:
	echo_usage(stderr);
	return 2;
}
