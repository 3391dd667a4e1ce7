// SPDX-License-Identifier: MIT
/*
 * stream_sendfile.c - tide_stream_sendfile(): a file range as one entry of
 * the stream's write queue.
 *
 * Large ranges to a socket go file -> pipe -> socket with two splices per
 * pipe-full, so no byte is copied through user space.  The socket side uses
 * SPLICE_F_NONBLOCK and waits for POLLOUT on -EAGAIN: a peer that stops
 * reading then holds a poll, not a kernel worker blocked in splice (seen
 * on 6.18: with a peer that never reads, the io-wq worker sits idle in
 * io_wq_worker while the stream waits for POLLOUT).  Small
 * ranges (one read and one send are cheaper than two splices, which the
 * kernel always runs on workers), non-sockets and backends without splice
 * go through a bounce buffer.  The pipe belongs to the stream and is reused
 * by its next sendfile; one left holding bytes (an error or a cancel in
 * between) is closed, never reused.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "stream_impl.h"

#define SF_CHUNK 65536u /* a pipe's default capacity */
#define SF_SMALL 65536u /* up to this: read + send */

enum sf_stage { SF_READ, SF_SEND, SF_FILL, SF_DRAIN, SF_WAIT };

struct stream_wfile {
	int fd;
	int stage;
	uint64_t off; /* file offset of the next byte to read */
	size_t chunk; /* bytes read (bounce) or in the pipe, unsent */
	size_t sent;  /* of a bounce chunk */
	bool bounce_mode;
	size_t bsize;
	char *bounce;
};

void tide__stream_pipe_close(struct tide_stream *s)
{
	if (s->pipefd[0] >= 0) {
		close(s->pipefd[0]);
		close(s->pipefd[1]);
		s->pipefd[0] = s->pipefd[1] = -1;
	}
}

void tide__stream_file_free(struct tide_stream *s, struct stream_wreq *w)
{
	struct stream_wfile *wf = w->file;

	/* bytes still in the pipe would reach the next sendfile's peer */
	if (!wf->bounce_mode && wf->chunk)
		tide__stream_pipe_close(s);
	free(wf->bounce);
	free(wf);
	w->file = NULL;
}

static void sf_done(void *arg, int64_t res, void *payload);

/* The next step of the head request; false when it could not start. */
static bool sf_start(struct tide_stream *s, struct stream_wreq *w)
{
	struct stream_wfile *wf = w->file;
	size_t left = w->len - w->done;
	struct tide_future *f;

	if (wf->bounce_mode && wf->sent < wf->chunk) {
		wf->stage = SF_SEND;
		if (s->sock)
			f = tide_send(s->loop, s->fd, wf->bounce + wf->sent,
				      wf->chunk - wf->sent, 0);
		else
			f = tide_write(s->loop, s->fd, wf->bounce + wf->sent,
				       wf->chunk - wf->sent, TIDE_OFF_CUR);
	} else if (wf->bounce_mode) {
		wf->stage = SF_READ;
		wf->chunk = wf->sent = 0;
		f = tide_read(s->loop, wf->fd, wf->bounce,
			      left < wf->bsize ? left : wf->bsize, wf->off);
	} else if (wf->stage == SF_WAIT) {
		f = tide_poll(s->loop, s->fd, POLLOUT);
	} else if (wf->chunk) {
		wf->stage = SF_DRAIN;
		f = tide_splice(s->loop, s->pipefd[0], (uint64_t)-1, s->fd,
				(uint64_t)-1, wf->chunk, SPLICE_F_NONBLOCK);
	} else {
		wf->stage = SF_FILL;
		f = tide_splice(s->loop, wf->fd, wf->off, s->pipefd[1],
				(uint64_t)-1, left < SF_CHUNK ? left : SF_CHUNK,
				0);
	}
	s->wop = f;
	if (f && tide_future_on_done(f, sf_done, s) == 0) {
		s->ops++;
		return true;
	}
	s->wop = NULL;
	return false;
}

static bool sf_bounce(struct tide_loop *loop, struct stream_wfile *wf,
		      size_t len)
{
	wf->bsize = len < SF_CHUNK ? len : SF_CHUNK;
	wf->bounce = tide__malloc(loop, wf->bsize);
	wf->bounce_mode = wf->bounce != NULL;
	return wf->bounce_mode;
}

/* No memory to go on with w (the head write).  If none of its bytes went
 * out (nor sit in the pipe), it and the writes behind it fail -ENOMEM and
 * the stream stays writable, as for any write (a caller may queue them
 * again); else no retry could mend it and the failure sticks. */
static void sf_nomem(struct tide_stream *s, struct stream_wreq *w)
{
	if (w->done || w->file->chunk) {
		tide__stream_wfail(s, -ENOMEM);
		return;
	}
	while (s->wq)
		tide__stream_wpop(s, -ENOMEM);
}

void tide__stream_file_kick(struct tide_stream *s, struct stream_wreq *w)
{
	struct stream_wfile *wf = w->file;

	if (sf_start(s, w))
		return;
	/* no splice here (or no memory): the bounce buffer, if nothing is
	 * in the pipe yet */
	if (!wf->bounce_mode && wf->chunk == 0 &&
	    sf_bounce(s->loop, wf, w->len) && sf_start(s, w))
		return;
	sf_nomem(s, w);
	tide__stream_wnext(s);
}

#define SF_GOES_ON INT64_MAX

/* A step finished: account for it; returns the request's final result,
 * or SF_GOES_ON. */
static int64_t sf_step(struct stream_wreq *w, int64_t res)
{
	struct stream_wfile *wf = w->file;

	switch (wf->stage) {
	case SF_READ:
	case SF_FILL:
		if (res == 0)
			return -ENODATA; /* the file is shorter than asked */
		wf->chunk = (size_t)res;
		wf->off += (uint64_t)res;
		break;
	case SF_SEND:
		wf->sent += (size_t)res;
		w->done += (size_t)res;
		break;
	case SF_DRAIN:
		wf->chunk -= (size_t)res;
		w->done += (size_t)res;
		break;
	default: /* SF_WAIT: writable again */
		wf->stage = SF_DRAIN;
		break;
	}
	return w->done == w->len ? (int64_t)w->len : SF_GOES_ON;
}

static void sf_done(void *arg, int64_t res, void *payload)
{
	struct tide_stream *s = arg;
	struct stream_wreq *w = s->wq;
	struct stream_wfile *wf = w->file;

	(void)payload;
	s->wop = NULL;
	s->ops--;
	if ((res == -EINVAL || res == -EOPNOTSUPP) && wf->stage == SF_FILL &&
	    !wf->bounce_mode && !w->cancel) {
		/* a source splice cannot read (not a regular file, a file
		 * system without splice_read): the bounce road instead, if
		 * there is memory for its buffer */
		res = sf_bounce(s->loop, wf, w->len - w->done) ? SF_GOES_ON :
								 -ENOMEM;
	} else if (tide__cancel_unasked(s->loop, res, w->cancel)) {
		res = SF_GOES_ON; /* nothing moved: the same step again */
	} else if (res == -EAGAIN && wf->stage == SF_DRAIN && !w->cancel) {
		wf->stage = SF_WAIT; /* the socket is full: wait, then drain */
		res = SF_GOES_ON;
	} else if (res >= 0) {
		if (wf->stage == SF_WAIT && (res & (POLLERR | POLLHUP)) &&
		    !(res & POLLOUT))
			res = -EPIPE;
		else
			res = sf_step(w, res);
	}
	if (w->cancel && (res < 0 || res == SF_GOES_ON))
		tide__stream_wpop(s, -ECANCELED); /* what went out stays sent */
	else if (res == -ENOMEM)
		sf_nomem(s, w);
	else if (res < 0)
		tide__stream_wfail(s, res);
	else if (res != SF_GOES_ON)
		tide__stream_wpop(s, res);
	tide__stream_wnext(s);
}

struct tide_future *tide_stream_sendfile(struct tide_stream *s, int fd,
					 uint64_t off, size_t len)
{
	struct stream_wfile *wf;
	struct stream_wreq *w;
	struct tide_future *p;
	int err;

	if (!s)
		return NULL;
	if (fd < 0)
		return tide_future_fail(s->loop, -EBADF);
	err = tide__stream_wcheck(s);
	if (err)
		return tide_future_fail(s->loop, err);
	if (len == 0)
		return tide_future_ready(s->loop, 0, NULL);
	wf = tide__calloc(s->loop, 1, sizeof(*wf));
	w = wf ? tide__slab_alloc(s->loop) : NULL;
	if (!w) {
		free(wf);
		return NULL;
	}
	wf->fd = fd;
	wf->off = off;
	if (s->sock && len > SF_SMALL && s->pipefd[0] < 0 &&
	    pipe2(s->pipefd, O_CLOEXEC) < 0)
		s->pipefd[0] = s->pipefd[1] = -1;
	if ((!s->sock || len <= SF_SMALL || s->pipefd[0] < 0) &&
	    !sf_bounce(s->loop, wf, len)) {
		free(wf);
		tide__slab_free(s->loop, w);
		return NULL;
	}
	*w = (struct stream_wreq){ .len = len, .file = wf };
	p = tide__stream_wqueue(s, w);
	if (!p) {
		free(wf->bounce);
		free(wf);
		tide__slab_free(s->loop, w);
	}
	return p;
}
