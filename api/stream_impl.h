/* SPDX-License-Identifier: MIT */
/*
 * stream_impl.h - the stream record, shared by stream.c and server.c.
 */
#ifndef TIDE_STREAM_IMPL_H
#define TIDE_STREAM_IMPL_H

#include "future_impl.h"
#include "bufring.h"

struct stream_wreq;

enum stream_rd_mode { RD_SOME, RD_EXACT, RD_UNTIL };

struct tide_stream {
	struct tide_loop *loop;
	int fd;
	uint32_t flags;            /* TIDE_STREAM_* */
	bool sock;
	bool closing;
	bool shut_done;
	bool in_end;               /* no more input will come */
	int in_err;                /* 0 (EOF) or -errno once in_end */
	int wr_err;                /* first write error */
	uint32_t ops;              /* internal futures whose callback is due */

	/* input from a buffer ring: lent buffers chained through the ring's
	 * link array, qfirst..qlast (TIDE__BUFRING_NONE when empty) */
	struct tide_bufring *br;
	struct tide__bufring_link *links;
	uint32_t qfirst, qlast, qoff;
	struct tide_future *multi;
	struct tide__bufring_waiter waiter;
	/* fairness: at most `share` lent buffers held; receiving pauses at
	 * the share, or while writes are backed up and nobody reads */
	uint32_t held, share;
	bool rx_paused;            /* receiving stopped on purpose */
	bool rx_cancel;            /* multi cancelled to pause */
	size_t wq_bytes;           /* bytes of queued write requests */

	/* input without a ring */
	char *rbuf;
	uint32_t rsize, rhead, rtail;
	struct tide_future *rop;

	/* the pending read */
	struct tide_future *rd;
	char *rd_buf;
	size_t rd_len, rd_got;
	int rd_mode, delim;

	/* writes, in order; the head one is in flight as wop */
	struct stream_wreq *wq, *wq_tail;
	struct tide_future *wop;

	struct tide_future *close_p;

	/* owner hook (the server) */
	void (*on_free)(void *arg, struct tide_stream *s);
	void *hook_arg;
	struct tide_stream *snext, *sprev;
};

#endif /* TIDE_STREAM_IMPL_H */
