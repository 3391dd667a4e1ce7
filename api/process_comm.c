// SPDX-License-Identifier: MIT
/*
 * process_comm.c - tide_process_communicate(): feed stdin, drain stdout and
 * stderr at the same time (so a child blocked on a full pipe always finds
 * a reader), then wait for the exit.  Every step is a future callback; the
 * state counts the callbacks still due and finishes when none is.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "process_impl.h"

#define CHUNK (64u * 1024u)

struct comm;

struct comm_pipe {
	struct comm *c;
	struct tide_stream *s;
	struct tide_future *op; /* the pending read or write */
	char *buf;
	size_t len, cap;
};

struct comm {
	struct tide_process *p;
	struct tide_future *prom;
	struct tide_process_output *out;
	const char *in;
	size_t in_len, limit;
	struct comm_pipe pipe[3];
	struct tide_future *wait;
	unsigned busy; /* callbacks still due */
	int err;       /* first error; stops all I/O */
	bool waited;
};

static void comm_check(struct comm *c);
static void comm_read(struct comm_pipe *cp);

static void comm_finish(struct comm *c, int64_t res)
{
	struct tide_process_output *o = c->out;
	struct tide_future *prom = c->prom;

	if (res >= 0) {
		for (int i = 1; i < 3; i++) {
			struct comm_pipe *cp = &c->pipe[i];

			if (!cp->buf)
				cp->buf = malloc(1);
			if (!cp->buf) {
				res = -ENOMEM;
				break;
			}
			cp->buf[cp->len] = '\0';
		}
	}
	if (res >= 0) {
		*o = (struct tide_process_output){ .out = c->pipe[1].buf,
						   .out_len = c->pipe[1].len,
						   .err = c->pipe[2].buf,
						   .err_len = c->pipe[2].len };
	} else {
		free(c->pipe[1].buf);
		free(c->pipe[2].buf);
	}
	c->p->communicating = false;
	tide__process_unref(c->p);
	free(c);
	tide_promise_resolve(prom, res, res >= 0 ? o : NULL);
}

static void comm_fail(struct comm *c, int err)
{
	if (c->err)
		return;
	c->err = err;
	for (int i = 0; i < 3; i++)
		if (c->pipe[i].op)
			tide_future_cancel(c->pipe[i].op);
	if (c->wait)
		tide_future_cancel(c->wait);
}

static void comm_closed(void *arg, int64_t res, void *payload)
{
	struct comm *c = arg;

	(void)res; /* a close error of a pipe we have drained means nothing */
	(void)payload;
	c->busy--;
	comm_check(c);
}

static void comm_close(struct comm_pipe *cp)
{
	struct comm *c = cp->c;
	struct tide_future *f = tide_stream_close(cp->s);

	cp->s = NULL;
	if (tide_future_on_done(f, comm_closed, c) == 0)
		c->busy++;
	/* else no memory for the future: the stream is closed anyway */
}

static void comm_wrote(void *arg, int64_t res, void *payload)
{
	struct comm_pipe *cp = arg;
	struct comm *c = cp->c;

	(void)payload;
	cp->op = NULL;
	c->busy--;
	/* a child that does not read all its input is not an error */
	if (res < 0 && res != -EPIPE && res != -ECONNRESET && res != -ECANCELED)
		comm_fail(c, (int)res);
	comm_close(cp);
	comm_check(c);
}

static void comm_got(void *arg, int64_t res, void *payload)
{
	struct comm_pipe *cp = arg;
	struct comm *c = cp->c;

	(void)payload;
	cp->op = NULL;
	c->busy--;
	if (res > 0) {
		cp->len += (size_t)res;
		if (c->limit && cp->len > c->limit)
			comm_fail(c, -E2BIG);
	} else if (res < 0) {
		comm_fail(c, (int)res);
	}
	if (res > 0 && !c->err)
		comm_read(cp);
	else
		comm_close(cp);
	comm_check(c);
}

/* Room for the next read: up to CHUNK bytes, one past the limit at most
 * (so that going over it is seen), one byte kept for the terminator. */
static int comm_room(struct comm *c, struct comm_pipe *cp, size_t *room)
{
	size_t want = CHUNK;

	if (c->limit && c->limit < SIZE_MAX && c->limit + 1 - cp->len < want)
		want = c->limit + 1 - cp->len;
	if (cp->cap - cp->len < want + 1) {
		size_t cap = cp->cap ? cp->cap : CHUNK;
		char *b;

		while (cap - cp->len < want + 1)
			cap *= 2;
		b = realloc(cp->buf, cap);
		if (!b)
			return -ENOMEM;
		cp->buf = b;
		cp->cap = cap;
	}
	*room = want;
	return 0;
}

static void comm_read(struct comm_pipe *cp)
{
	struct comm *c = cp->c;
	struct tide_future *f;
	size_t room;
	int ret;

	ret = comm_room(c, cp, &room);
	if (ret) {
		comm_fail(c, ret);
		comm_close(cp);
		return;
	}
	f = tide_stream_read(cp->s, cp->buf + cp->len, room);
	cp->op = f;
	if (tide_future_on_done(f, comm_got, cp)) {
		cp->op = NULL;
		comm_fail(c, -ENOMEM);
		comm_close(cp);
		return;
	}
	c->busy++;
}

static void comm_waited(void *arg, int64_t res, void *payload)
{
	struct comm *c = arg;

	(void)payload;
	c->wait = NULL;
	c->busy--;
	if (res < 0)
		comm_fail(c, (int)res);
	comm_check(c);
}

/* Called after every callback: wait once all pipes are done, finish once
 * nothing is due. */
static void comm_check(struct comm *c)
{
	if (c->busy)
		return;
	if (c->err) {
		comm_finish(c, c->err);
		return;
	}
	if (c->waited) {
		comm_finish(c, tide_process_status(c->p));
		return;
	}
	c->waited = true;
	c->wait = tide_process_wait(c->p);
	if (tide_future_on_done(c->wait, comm_waited, c)) {
		c->wait = NULL;
		comm_finish(c, -ENOMEM);
		return;
	}
	c->busy++;
}

static void comm_cancel(void *arg)
{
	struct comm *c = arg;

	comm_fail(c, -ECANCELED);
}

static void comm_start(struct comm *c)
{
	struct comm_pipe *in = &c->pipe[0];

	c->busy++; /* hold off comm_check() until everything is started */
	if (in->s && c->in_len) {
		in->op = tide_stream_write(in->s, c->in, c->in_len);
		if (tide_future_on_done(in->op, comm_wrote, in) == 0) {
			c->busy++;
		} else {
			in->op = NULL;
			comm_fail(c, -ENOMEM);
			comm_close(in);
		}
	} else if (in->s) {
		comm_close(in); /* no input: end of file at once */
	}
	for (int i = 1; i < 3; i++) {
		if (!c->pipe[i].s)
			continue;
		if (c->err)
			comm_close(&c->pipe[i]);
		else
			comm_read(&c->pipe[i]);
	}
	c->busy--;
	comm_check(c);
}

struct tide_future *tide_process_communicate(struct tide_process *p,
					     const void *input, size_t len,
					     size_t limit,
					     struct tide_process_output *out)
{
	struct comm *c;
	struct tide_future *prom;

	if (!p)
		return NULL;
	if (!out || (!input && len))
		return tide_future_fail(p->loop, -EINVAL);
	if (p->communicating)
		return tide_future_fail(p->loop, -EBUSY);
	*out = (struct tide_process_output){ 0 };
	c = tide__fault_nomem(p->loop) ? NULL : calloc(1, sizeof(*c));
	prom = tide_promise_new(p->loop);
	if (!c || !prom || tide_promise_on_cancel(prom, comm_cancel, c)) {
		free(c);
		if (prom) { /* a pending promise would hold the loop */
			tide_promise_resolve(prom, -ENOMEM, NULL);
			tide_future_result(prom);
			tide_future_release(prom);
		}
		return NULL;
	}
	c->p = p;
	c->prom = prom;
	c->out = out;
	c->in = input;
	c->in_len = len;
	c->limit = limit;
	for (int i = 0; i < 3; i++) {
		c->pipe[i].c = c;
		c->pipe[i].s = tide_process_stream(p, i);
	}
	p->refs++;
	p->communicating = true;
	comm_start(c);
	return prom;
}
