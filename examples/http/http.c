// SPDX-License-Identifier: MIT
/*
 * http - a static file server on tide: HTTP/1.1 GET and HEAD, keep-alive
 * and pipelining, bodies up to 16 KiB read in after the header and sent
 * with it in one write, larger ones with tide_stream_sendfile(), files opened
 * with tide_openat2() beneath the root (so "..", absolute paths and
 * symlinks cannot lead out), SIGINT/SIGTERM as futures for a graceful stop.
 *
 *   http [-l ADDR] [-i SECONDS] [-s] ROOT
 *
 * ADDR defaults to 127.0.0.1:8080 (port 0: any); -i is the keep-alive idle
 * limit (default 30 s); -s prints the ring's submissions and system calls
 * per request when it stops.
 *
 * It prints "listening on ADDR" once it accepts connections.  Each
 * connection is a task, a loop that reads top to bottom:
 *   read head -> open file -> [read small body] -> write header
 *   [-> sendfile body] -> read head ...
 * Idle keep-alive connections are found by a sweeper task that wakes once
 * a second (a timer per server, as nginx and libuv keep theirs), not by a
 * timer per request.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tide.h>

#define HEAD_MAX 8192
#define SWEEP_NS 1000000000ull
#define SMALL_BODY 16384 /* bodies up to this go out with the header */

struct conn {
	struct conn *next, *prev; /* every open connection, for the sweep */
	uint64_t since; /* waiting for a request head since sweep tick since - 1
			 * (0: busy) */
	struct tide_stream *s;
	int fd;	       /* the file being sent, or -1 */
	int keep;      /* keep the connection after this response */
	int head_only; /* HEAD: no body */
	off_t size;
	size_t hlen;
	char head[HEAD_MAX];
	char out[512 + SMALL_BODY]; /* the response header (and small body) */
};

static int root_fd;
static struct tide_loop *loop;
static struct tide_signal *sig;
static struct conn *conns;
static uint64_t idle_ns = 30ull * 1000000000ull; /* keep-alive idle limit */
static uint64_t ticks;				 /* sweeps so far */
static uint64_t requests;

static const char *mime(const char *path)
{
	static const char *const map[][2] = {
		{ ".html", "text/html" },	 { ".txt", "text/plain" },
		{ ".css", "text/css" },		 { ".js", "text/javascript" },
		{ ".json", "application/json" }, { ".png", "image/png" },
		{ ".jpg", "image/jpeg" },	 { ".svg", "image/svg+xml" },
	};
	const char *dot = strrchr(path, '.');

	for (size_t i = 0; dot && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(dot, map[i][0]) == 0)
			return map[i][1];
	return "application/octet-stream";
}

/* ---- responses ---- */

/* Send the header in c->out (n bytes) and, for a file, its body: the
 * result of the last write, which says when the whole response went out. */
static int64_t respond(struct conn *c, size_t n)
{
	struct tide_future *w = tide_stream_write(c->s, c->out, n);
	int64_t res;

	if (c->fd >= 0 && !c->head_only) {
		/* in order after the header */
		tide_future_release(w);
		w = tide_stream_sendfile(c->s, c->fd, 0, (size_t)c->size);
	}
	res = tide_await(w);
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	return res;
}

static int64_t respond_error(struct conn *c, int code, const char *why)
{
	static const char body[] = "error\n";
	int n;

	if (code >= 500 || code == 400 || code == 431)
		c->keep = 0; /* we may not know where the next request starts */
	n = snprintf(c->out, sizeof(c->out),
		     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
		     "Content-Length: %zu\r\nConnection: %s\r\n\r\n%s",
		     code, why, sizeof(body) - 1,
		     c->keep ? "keep-alive" : "close",
		     c->head_only ? "" : body);
	return respond(c, (size_t)n);
}

/* Answer GET/HEAD for the file at c->head (a path beneath the root). */
static int64_t send_file(struct conn *c)
{
	struct stat st;
	int64_t res;
	int n;

	res = tide_await(
		tide_openat2(loop, root_fd, c->head, O_RDONLY, 0,
			     TIDE_RESOLVE_BENEATH | TIDE_RESOLVE_NO_SYMLINKS));
	if (res == -ENOENT || res == -ENOTDIR)
		return respond_error(c, 404, "Not Found");
	if (res == -EXDEV || res == -ELOOP || res == -EACCES)
		return respond_error(c, 403, "Forbidden");
	if (res < 0)
		return respond_error(c, 500, "Internal Server Error");
	c->fd = (int)res;
	/* fstat(2) of an open file never waits for the disk */
	if (fstat(c->fd, &st) || !S_ISREG(st.st_mode)) {
		close(c->fd);
		c->fd = -1;
		return respond_error(c, 403, "Forbidden");
	}
	c->size = st.st_size;
	n = snprintf(c->out, sizeof(c->out),
		     "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
		     "Content-Length: %lld\r\nConnection: %s\r\n\r\n",
		     mime(c->head), (long long)c->size,
		     c->keep ? "keep-alive" : "close");
	if (c->head_only || c->size == 0 || c->size > SMALL_BODY)
		return respond(c, (size_t)n); /* header, then sendfile */
	/* a small file read in after the header: one write, one TCP segment */
	res = tide_await(
		tide_read(loop, c->fd, c->out + n, (size_t)c->size, 0));
	close(c->fd);
	c->fd = -1;
	if (res != (int64_t)c->size) /* changed under us: cannot answer */
		return res < 0 ? res : -EIO;
	return respond(c, (size_t)n + (size_t)c->size);
}

/* ---- requests ---- */

/* Decode %XX in place; -1 for a bad escape or a NUL byte. */
static int unescape(char *p)
{
	char *o = p;

	for (; *p; p++) {
		if (*p == '%') {
			unsigned v;

			if (!isxdigit((unsigned char)p[1]) ||
			    !isxdigit((unsigned char)p[2]) ||
			    sscanf(p + 1, "%2x", &v) != 1 || v == 0)
				return -1;
			*o++ = (char)v;
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return 0;
}

/* Does the header block (after the request line) say "Connection: tok"? */
static int conn_header(const char *h, const char *tok)
{
	for (const char *l = strstr(h, "\r\n"); l; l = strstr(l + 2, "\r\n")) {
		const char *v = l + 2;

		if (strncasecmp(v, "Connection:", 11) == 0) {
			v += 11;
			while (*v == ' ' || *v == '\t')
				v++;
			return strncasecmp(v, tok, strlen(tok)) == 0;
		}
	}
	return 0;
}

/* Parse the request head in c->head (c->hlen bytes) and answer it. */
static int64_t handle(struct conn *c)
{
	char *method = c->head, *target, *version, *sp;
	const char *path;

	requests++;
	c->head[c->hlen] = '\0';
	c->head_only = 0;
	c->keep = 1;
	sp = strchr(method, ' ');
	target = sp ? sp + 1 : NULL;
	sp = target ? strchr(target, ' ') : NULL;
	version = sp ? sp + 1 : NULL;
	if (!version || strncmp(version, "HTTP/1.", 7) ||
	    (version[7] != '0' && version[7] != '1') || version[8] != '\r')
		return respond_error(c, 400, "Bad Request");
	*strchr(method, ' ') = '\0';
	*sp = '\0';
	if (version[7] == '0')
		c->keep = conn_header(version, "keep-alive");
	else
		c->keep = !conn_header(version, "close");
	if (strcmp(method, "HEAD") == 0)
		c->head_only = 1;
	else if (strcmp(method, "GET") != 0)
		return respond_error(c, 405, "Method Not Allowed");
	if ((sp = strchr(target, '?')))
		*sp = '\0';
	if (target[0] != '/' || unescape(target))
		return respond_error(c, 400, "Bad Request");
	path = target[1] ? target + 1 : "index.html";
	/* the head buffer is free now: keep the path there for mime() */
	memmove(c->head, path, strlen(path) + 1);
	return send_file(c);
}

/* ---- connections ---- */

/* One connection, a task of tide_task_server_new(): read a request head,
 * answer it, again while the client keeps the connection.  The
 * connection's state lives on the task's stack. */
static int64_t conn_task(void *arg, struct tide_stream *s)
{
	struct conn c = { .next = conns, .s = s, .fd = -1 };
	int64_t res;
	int reset;

	(void)arg;
	if (conns)
		conns->prev = &c;
	conns = &c;
	for (;;) {
		c.since = ticks + 1;
		res = tide_await(tide_stream_read_until_mem(
			c.s, c.head, HEAD_MAX - 1, "\r\n\r\n", 4));
		c.since = 0;
		if (res == -EMSGSIZE) {
			res = respond_error(&c, 431,
					    "Request Header Fields Too Large");
			reset = res < 0;
			break;
		}
		if (res <= 0) {
			/* 0: the client closed between requests; -ECANCELED:
			 * idle (closed in order); else a reset or a broken
			 * head (reset) */
			reset = res < 0 && res != -EPIPE && res != -ECANCELED;
			break;
		}
		c.hlen = (size_t)res;
		res = handle(&c);
		reset = res < 0;
		if (reset || !c.keep)
			break;
	}
	if (c.prev)
		c.prev->next = c.next;
	else
		conns = c.next;
	if (c.next)
		c.next->prev = c.prev;
	/* the server ends the stream: an error return resets it (a client
	 * must not take a cut-off answer for a whole one), 0 closes it in
	 * order */
	return reset ? -ECONNABORTED : 0;
}

/* Once a second: connections idle past idle_ns lose their pending read
 * (their task then sees -ECANCELED and closes them).  Idleness counts
 * sweeps, not the clock: a loop held up for seconds (a loaded machine)
 * must not drop a request that arrived meanwhile and was not read yet.
 * Cancelling this task ends it. */
static int64_t sweep_task(void *arg)
{
	uint64_t limit = idle_ns / SWEEP_NS;

	(void)arg;
	while (tide_task_sleep(SWEEP_NS) == 0) {
		ticks++;
		for (struct conn *c = conns; c; c = c->next)
			if (c->since && ticks - (c->since - 1) > limit)
				tide_stream_cancel(c->s,
						   TIDE_STREAM_CANCEL_READ);
	}
	return 0;
}

/* Each accepted connection gets a task running conn_task(). */
static const struct tide_task_handler handler = { .fn = conn_task };

/* ---- main ---- */

/* The main task: sweep idle connections until SIGINT/SIGTERM, then stop
 * accepting and give open connections 2 s. */
static int64_t serve(void *arg)
{
	struct tide_server *srv = arg;
	struct tide_future *sweeper =
		tide_task_spawn(loop, sweep_task, NULL, NULL);
	int64_t res;

	res = tide_await(tide_signal_next(sig));
	if (res > 0)
		fprintf(stderr, "http: signal %d, stopping\n", (int)res);
	tide_future_cancel(sweeper);
	tide_await(sweeper);
	tide_await(tide_server_stop(srv, 2000000000ull));
	return 0;
}

int main(int argc, char **argv)
{
	const char *listen = "127.0.0.1:8080";
	int sigs[] = { SIGINT, SIGTERM }, opt, ret, stats = 0;
	struct tide_server *srv;
	struct tide_addr a;
	char text[TIDE_ADDR_STRLEN];

	while ((opt = getopt(argc, argv, "l:i:sh")) != -1) {
		if (opt == 's') {
			stats = 1;
		} else if (opt == 'l') {
			listen = optarg;
		} else if (opt == 'i' && atoi(optarg) > 0) {
			idle_ns = (uint64_t)atoi(optarg) * 1000000000ull;
		} else {
			fprintf(stderr,
				"usage: %s [-l ADDR] [-i SECONDS] [-s] ROOT\n",
				argv[0]);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: %s [-l ADDR] [-i SECONDS] [-s] ROOT\n",
			argv[0]);
		return 2;
	}
	root_fd = open(argv[optind], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0) {
		fprintf(stderr, "http: %s: %s\n", argv[optind],
			strerror(errno));
		return 1;
	}
	if (tide_addr_parse(&a, listen)) {
		fprintf(stderr, "http: bad address %s\n", listen);
		return 2;
	}
	ret = tide_loop_new(&loop, NULL);
	if (ret < 0) {
		fprintf(stderr, "http: %s\n", tide_strerror(ret));
		return 1;
	}
	ret = tide_signal_new(loop, sigs, 2, &sig);
	if (!ret)
		ret = tide_task_server_new(loop, &a, NULL, &handler, &srv);
	if (ret < 0) {
		fprintf(stderr, "http: %s: %s\n", listen, tide_strerror(ret));
		return 1;
	}
	tide_server_addr(srv, &a);
	tide_addr_format(&a, text, sizeof(text));
	printf("listening on %s\n", text);
	fflush(stdout);
	tide_run(loop, serve, srv);
	if (stats && requests) {
		struct tide_loop_stats st;

		tide_loop_stats(loop, &st);
		fprintf(stderr,
			"http: %llu requests, %.2f submissions and %.2f "
			"io_uring_enter calls per request\n",
			(unsigned long long)requests,
			(double)st.submitted / (double)requests,
			(double)st.enter_calls / (double)requests);
	}
	tide_server_free(srv);
	tide_signal_free(sig);
	tide_loop_run(loop); /* the last closes */
	tide_loop_free(loop);
	close(root_fd);
	return 0;
}
