// SPDX-License-Identifier: MIT
/*
 * server.c - listen, multishot accept, one stream per connection, graceful
 * stop.  Accept failures for lack of descriptors (-EMFILE, -ENFILE) or
 * memory back off exponentially (1 ms .. 1 s) instead of spinning on a
 * connection the kernel keeps offering.  The backoff needs no memory: its
 * timer is the server's own record, and when even the backend cannot start
 * it (no SQE, no memory for its records) the server tries again on the
 * next loop turn through its own post node, so it never stops accepting.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream_impl.h"

#define BACKOFF_MIN_NS 1000000ull
#define BACKOFF_MAX_NS 1000000000ull

struct tide_server {
	struct tide_loop *loop;
	int fd;
	uint32_t flags;
	struct tide_addr addr;
	tide_conn_fn *fn;
	tide_conn_peer_fn *peer_fn;
	void *arg;
	struct tide_bufring *br;
	struct tide_future *acc;      /* multishot accept */
	struct tide_future *deadline; /* graceful stop's limit */
	/* the sleep before accepting again: the server's own timer record
	 * (no allocation), else a post to itself for the next turn */
	struct tide__op boff;
	struct __kernel_timespec boff_ts;
	bool boff_armed;
	bool retry_posted;
	struct tide__post retry;
	uint64_t backoff_ns;
	uint32_t ops; /* futures whose callback is due */
	bool stopping, timed_out;
	struct tide_future *stop_p;
	struct tide_stream *conns;
	struct tide_server_stats st;
};

static bool server_arm(struct tide_server *srv);
static void server_rearm(struct tide_server *srv);

static void server_maybe_done(struct tide_server *srv)
{
	struct tide_future *p = srv->stop_p;

	if (!srv->stopping || !p)
		return;
	if (srv->st.active == 0 && srv->deadline)
		tide_future_cancel(srv->deadline);
	if (srv->st.active || srv->ops)
		return;
	srv->stop_p = NULL;
	tide_promise_resolve(p, srv->timed_out ? -ETIMEDOUT : 0, NULL);
}

static void server_conn_gone(void *arg, struct tide_stream *s)
{
	struct tide_server *srv = arg;

	if (s->sprev)
		s->sprev->snext = s->snext;
	else
		srv->conns = s->snext;
	if (s->snext)
		s->snext->sprev = s->sprev;
	srv->st.active--;
	server_maybe_done(srv);
}

static void server_on_accept(void *arg, int fd)
{
	struct tide_server *srv = arg;
	struct tide_stream_options so = { .bufring = srv->br };
	struct tide_stream *s;

	if (fd < 0) {
		srv->st.accept_errors++;
		return;
	}
	if (srv->stopping || tide_stream_new(srv->loop, fd, &so, &s)) {
		close(fd);
		if (!srv->stopping)
			srv->st.accept_errors++;
		return;
	}
	srv->backoff_ns = 0;
	s->on_free = server_conn_gone;
	s->hook_arg = srv;
	s->snext = srv->conns;
	if (srv->conns)
		srv->conns->sprev = s;
	srv->conns = s;
	srv->st.accepted++;
	srv->st.active++;
	if (srv->peer_fn) {
		struct tide_addr peer = { .len = sizeof(peer.u) };

		/* multishot accept cannot return addresses: ask the socket */
		if (getpeername(s->fd, &peer.u.sa, &peer.len) ||
		    peer.len > sizeof(peer.u))
			peer.len = 0;
		srv->peer_fn(srv->arg, s, &peer);
		return;
	}
	srv->fn(srv->arg, s);
}

static struct tide_server *srv_of_boff(struct tide__op *op)
{
	return (struct tide_server *)(void *)((char *)op -
					      offsetof(struct tide_server,
						       boff));
}

static void server_backoff_done(struct tide_loop *loop, struct tide__op *op,
				int32_t res, uint32_t cflags)
{
	struct tide_server *srv = srv_of_boff(op);

	(void)loop;
	(void)res;
	(void)cflags;
	srv->boff_armed = false;
	srv->ops--;
	/* the loop being freed ends it too (else accept and backoff, each
	 * refused, would follow each other for ever) */
	if (srv->stopping || tide__core(loop)->closing)
		server_maybe_done(srv);
	else
		server_rearm(srv);
}

/* The next loop turn: accept again (or back off again). */
static void server_retry(void *arg)
{
	struct tide_server *srv = arg;

	srv->retry_posted = false;
	srv->ops--;
	tide__unhold(srv->loop);
	if (srv->stopping || tide__core(srv->loop)->closing)
		server_maybe_done(srv);
	else
		server_rearm(srv);
}

/* Out of descriptors or memory: wait, then try again.  Nothing here
 * allocates: the timer is srv->boff; if the backend cannot start even that
 * (it found no memory of its own), the post node srv->retry brings the
 * server back on the next turn, holding the loop meanwhile. */
static void server_backoff(struct tide_server *srv)
{
	srv->st.accept_errors++;
	srv->backoff_ns = srv->backoff_ns ? srv->backoff_ns * 2 :
					    BACKOFF_MIN_NS;
	if (srv->backoff_ns > BACKOFF_MAX_NS)
		srv->backoff_ns = BACKOFF_MAX_NS;
	srv->boff = (struct tide__op){ .done = server_backoff_done };
	srv->boff_ts.tv_sec = (long long)(srv->backoff_ns / 1000000000u);
	srv->boff_ts.tv_nsec = (long long)(srv->backoff_ns % 1000000000u);
	if (tide__op_timeout(srv->loop, &srv->boff, &srv->boff_ts, 0) == 0) {
		srv->boff_armed = true;
		srv->ops++;
		return;
	}
	srv->retry = (struct tide__post){ .fn = server_retry, .arg = srv };
	/* -ESHUTDOWN only: the loop is being freed, nothing to serve */
	if (tide__loop_post_node(srv->loop, tide__loop_id(srv->loop),
				 &srv->retry) == 0) {
		srv->retry_posted = true;
		srv->ops++;
		tide__hold(srv->loop);
	}
}

static void server_accept_end(void *arg, int64_t res, void *payload)
{
	struct tide_server *srv = arg;

	(void)payload;
	srv->acc = NULL;
	srv->ops--;
	if (srv->stopping) {
		server_maybe_done(srv);
		return;
	}
	/* ended by the kernel, or cancelled before it ran: accept again */
	if (res == -EAGAIN || res == -EINTR ||
	    tide__cancel_unasked(srv->loop, res, false)) {
		server_rearm(srv);
		return;
	}
	server_backoff(srv);
}

static bool server_arm(struct tide_server *srv)
{
	struct tide_future *f;

	f = tide_accept_multishot(srv->loop, srv->fd, server_on_accept, srv);
	srv->acc = f;
	if (f && tide_future_on_done(f, server_accept_end, srv) == 0) {
		srv->ops++;
		return true;
	}
	srv->acc = NULL;
	return false;
}

/* Accept again; without memory for it, back off and try later rather
 * than stop accepting without a word. */
static void server_rearm(struct tide_server *srv)
{
	if (!server_arm(srv))
		server_backoff(srv);
}

static int server_listen(struct tide_server *srv, const struct tide_addr *a,
			 int backlog)
{
	int one = 1, fd;

	fd = socket(a->u.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (a->u.sa.sa_family != AF_UNIX)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if ((srv->flags & TIDE_SERVER_REUSEPORT) &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		goto err;
	if (bind(fd, &a->u.sa, a->len) || listen(fd, backlog))
		goto err;
	srv->addr.len = sizeof(srv->addr.u);
	if (getsockname(fd, &srv->addr.u.sa, &srv->addr.len))
		goto err;
	srv->fd = fd;
	return 0;
err:
	one = -errno;
	close(fd);
	return one;
}

int tide_server_new(struct tide_loop *loop, const struct tide_addr *a,
		    const struct tide_server_options *opts, tide_conn_fn *fn,
		    void *arg, struct tide_server **out)
{
	struct tide_server_options o = { 0 };
	struct tide_server *srv;
	int ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (opts)
		o = *opts;
	if (!loop || !fn == !o.conn_peer || !a || a->len == 0 ||
	    a->len > sizeof(a->u) ||
	    (o.flags &
	     ~(uint32_t)(TIDE_SERVER_REUSEPORT | TIDE_SERVER_NO_BUFRING)) ||
	    o.backlog < 0 || o.reserved[0] || o.reserved[1] || o.reserved[2])
		return -EINVAL;
	srv = tide__fault_nomem(loop) ? NULL : calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->loop = loop;
	srv->flags = o.flags;
	srv->fn = fn;
	srv->peer_fn = o.conn_peer;
	srv->arg = arg;
	if (!(o.flags & TIDE_SERVER_NO_BUFRING)) {
		struct tide_bufring_options bo = { .count = o.buf_count,
						   .size = o.buf_size };

		ret = tide_bufring_new(loop, &srv->br, &bo);
		if (ret && ret != -EOPNOTSUPP)
			goto err_free;
	}
	ret = server_listen(srv, a, o.backlog > 0 ? o.backlog : SOMAXCONN);
	if (ret)
		goto err_br;
	if (!server_arm(srv)) {
		ret = -ENOMEM;
		goto err_close;
	}
	*out = srv;
	return 0;
err_close:
	close(srv->fd);
err_br:
	tide_bufring_free(srv->br);
err_free:
	free(srv);
	return ret;
}

int tide_server_addr(const struct tide_server *srv, struct tide_addr *out)
{
	if (!srv || !out)
		return -EINVAL;
	*out = srv->addr;
	return 0;
}

static void server_deadline_done(void *arg, int64_t res, void *payload)
{
	struct tide_server *srv = arg;

	(void)payload;
	srv->deadline = NULL;
	srv->ops--;
	if (res == 0 && srv->st.active) {
		/* time is up: every reader sees end of stream now */
		srv->timed_out = true;
		for (struct tide_stream *s = srv->conns; s; s = s->snext)
			shutdown(s->fd, SHUT_RDWR);
	}
	server_maybe_done(srv);
}

struct tide_future *tide_server_stop(struct tide_server *srv,
				     uint64_t timeout_ns)
{
	struct tide_future *p, *d;

	if (!srv)
		return NULL;
	if (srv->stopping)
		return tide_future_fail(srv->loop, -EALREADY);
	p = tide_promise_new(srv->loop);
	if (!p)
		return NULL;
	srv->stopping = true;
	srv->stop_p = p;
	if (srv->acc)
		tide_future_cancel(srv->acc);
	/* no memory to cancel it: it ends by itself, in a second at most */
	if (srv->boff_armed)
		(void)tide__op_cancel(srv->loop, &srv->boff);
	/* the kernel holds its own reference while the cancel completes */
	close(srv->fd);
	srv->fd = -1;
	if (srv->st.active) {
		d = tide_sleep(srv->loop, timeout_ns);
		srv->deadline = d;
		if (d && tide_future_on_done(d, server_deadline_done, srv) == 0)
			srv->ops++;
		else
			srv->deadline = NULL;
	}
	server_maybe_done(srv);
	return p;
}

void tide_server_free(struct tide_server *srv)
{
	if (!srv)
		return;
	if (srv->fd >= 0)
		close(srv->fd);
	if (srv->st.active || srv->ops) {
		/* misuse: streams or operations still use the ring, so it
		 * is left alone rather than freed under them */
		for (struct tide_stream *s = srv->conns; s; s = s->snext)
			s->on_free = NULL;
		free(srv);
		return;
	}
	tide_bufring_free(srv->br);
	free(srv);
}

void tide_server_stats(const struct tide_server *srv,
		       struct tide_server_stats *st)
{
	if (!srv || !st)
		return;
	*st = srv->st;
}
