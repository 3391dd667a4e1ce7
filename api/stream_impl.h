/* SPDX-License-Identifier: MIT */
/*
 * stream_impl.h - the stream record, shared by stream.c and server.c.
 */
#ifndef TIDE_STREAM_IMPL_H
#define TIDE_STREAM_IMPL_H

#include "future_impl.h"
#include "bufring.h"

#include <stddef.h>
#include <sys/socket.h>
#include <sys/uio.h>

struct stream_wfile;

/* A queued write: bytes at buf, or (file != NULL) a file's range. */
struct stream_wreq {
	struct stream_wreq *next;
	struct tide_stream *s;
	struct tide_future *p;
	const char *buf;
	size_t len, done;
	struct stream_wfile *file;
	bool cancel;
	/* > 0: buf is an array of iovcnt struct iovec (len their total),
	 * sent with one sendmsg/writev */
	uint8_t iovcnt;
};

/* The most iovecs a vectored write request carries. */
#define STREAM_IOV_MAX 16u

/* RD_PEEK: resolve once input is buffered (1), without taking it. */
enum stream_rd_mode { RD_SOME, RD_EXACT, RD_UNTIL, RD_PEEK };

struct tide_stream {
	/* hot: what a read and a chunk arriving for it touch, in the first
	 * cache line (the record is cache-line aligned: tide_stream_new());
	 * the rest of the read state and the ring's share in the second */
	_Alignas(64) struct tide_loop *loop;
	struct tide_bufring *br;
	struct tide_future *multi;
	/* the pending read */
	struct tide_future *rd;
	char *rd_buf;
	size_t rd_len, rd_got;
	/* input from a buffer ring: lent buffers chained through the ring's
	 * link array, qfirst..qlast (TIDE__BUFRING_NONE when empty) */
	uint32_t qfirst;
	uint8_t rd_mode; /* enum stream_rd_mode */
	bool closing;
	bool in_end;	/* no more input will come */
	bool rx_paused; /* receiving stopped on purpose */

	struct tide__cancel rd_cancel; /* rd's cancel handler */
	struct tide__bufring_link *links;
	uint32_t qlast, qoff;
	/* fairness: at most `share` lent buffers held; receiving pauses at
	 * the share, or while writes are backed up and nobody reads */
	uint32_t held, share;
	size_t wq_bytes; /* bytes of queued write requests */
	bool rx_cancel;	 /* multi cancelled to pause */
	int fd;
	uint32_t ops; /* internal futures whose callback is due */

	/* input without a ring */
	char *rbuf;
	uint32_t rsize, rhead, rtail;
	struct tide_future *rop;

	uint32_t flags; /* TIDE_STREAM_* */
	bool sock;
	bool shut_done;
	bool wr_shut; /* tide_stream_shutdown() called */
	bool aborted; /* tide_stream_abort() called */
	int in_err;   /* 0 (EOF) or -errno once in_end */
	int wr_err;   /* first write error */
	struct tide__bufring_waiter waiter;
	uint32_t dlen; /* delimiter length (RD_UNTIL) */
	char dbuf[TIDE_STREAM_DELIM_MAX];

	/* writes, in order; the head one (and those coalesced with it,
	 * wbatch) in flight as wop */
	struct stream_wreq *wq, *wq_tail;
	struct tide_future *wop;
	/* a vectored head write, or queued writes coalesced: what is left
	 * of them, as sent */
	struct iovec wiov[STREAM_IOV_MAX];
	struct msghdr wmsg;
	uint8_t wbatch; /* requests the write in flight carries (coalesced) */
	/* input lent out by tide__stream_peekv() (copy_bidi sends from
	 * it): the stream is not freed until it is given back */
	bool lent;

	int pipefd[2]; /* sendfile's pipe; -1 until needed */
	struct tide_future *close_p;
	/* the memory of close_p, a slab object taken at creation so that
	 * closing never needs an allocation (tide_stream_close()) */
	void *close_mem;
	struct tide_future *shut_p; /* tide_stream_shutdown()'s future */

	/* owner hook (the server) */
	void (*on_free)(void *arg, struct tide_stream *s);
	void *hook_arg;
	struct tide_stream *snext, *sprev;
};

_Static_assert(offsetof(struct tide_stream, rx_paused) < 64 &&
		       offsetof(struct tide_stream, ops) + sizeof(uint32_t) <=
			       128,
	       "the hot part of a stream is one cache line, the rest of its "
	       "input state the next");

/* stream.c: the write queue, for stream_sendfile.c */
struct tide_future *tide__stream_wqueue(struct tide_stream *s,
					struct stream_wreq *w);
int tide__stream_wcheck(struct tide_stream *s);
void tide__stream_wkick(struct tide_stream *s);
void tide__stream_wpop(struct tide_stream *s, int64_t res);
void tide__stream_wfail(struct tide_stream *s, int64_t res);
void tide__stream_wnext(struct tide_stream *s);

/* stream.c: input without a copy, for stream_copy.c.  wait_input
 * resolves 1 once input is buffered (0 at its end, or -errno), as a
 * pending read (tide_stream_cancel() cancels it); peekv lends up to max
 * runs of at most limit bytes in all, in order; release gives the lent
 * input back, the first n bytes consumed. */
struct tide_future *tide__stream_wait_input(struct tide_stream *s);
unsigned tide__stream_peekv(struct tide_stream *s, struct iovec *iov,
			    unsigned max, size_t limit, size_t *total);
void tide__stream_release(struct tide_stream *s, size_t n);
/* Queue a write of iovcnt (<= STREAM_IOV_MAX) runs, total bytes in all;
 * iov must live until the future resolves. */
struct tide_future *tide__stream_writev(struct tide_stream *s,
					const struct iovec *iov,
					unsigned iovcnt, size_t total);

/* stream_sendfile.c */
void tide__stream_file_kick(struct tide_stream *s, struct stream_wreq *w);
void tide__stream_file_free(struct tide_stream *s, struct stream_wreq *w);
void tide__stream_pipe_close(struct tide_stream *s);

#endif /* TIDE_STREAM_IMPL_H */
