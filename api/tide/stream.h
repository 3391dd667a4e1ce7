/* SPDX-License-Identifier: MIT */
/*
 * tide/stream.h - buffered byte streams over any descriptor (connected
 * sockets, pipes) and a server helper.  Include <tide.h>.
 *
 * A stream owns its descriptor.  At most one read and any number of writes
 * may be pending at a time; writes go out in the order they were made.
 * Every function is for the loop thread only.  Read and write futures
 * borrow the caller's buffer until they resolve.
 *
 * Memory stays bounded: input is held in the stream's read buffer or in
 * buffers lent by a tide_bufring (the ring running dry stops receiving
 * until the reader catches up: the kernel's flow control then slows the
 * peer); writes are never copied, so a writer that awaits its futures
 * holds at most its own buffers.
 */
#ifndef TIDE_STREAM_H
#define TIDE_STREAM_H

#include "tide/common.h"
#include "tide/net.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tide_stream;
struct tide_server;

enum {
	/* tide_stream_close() does not shutdown(SHUT_WR) a socket first */
	TIDE_STREAM_NO_SHUTDOWN = 1u << 0,
	/* the descriptor is not closed by tide_stream_close() */
	TIDE_STREAM_KEEP_FD = 1u << 1,
};

/* Options for tide_stream_new(); zero means defaults. */
struct tide_stream_options {
	uint32_t flags;      /* TIDE_STREAM_* */
	uint32_t read_size;  /* read buffer without a bufring; 0 = 16 KiB */
	struct tide_bufring *bufring; /* sockets: multishot recv into it */
	uint64_t reserved[4];
};

/*
 * Make a stream over fd, which it owns from then on (closed by
 * tide_stream_close()).  Sockets use recv/send (MSG_NOSIGNAL), anything
 * else read/write at the current position.  With opts->bufring a socket
 * is read by a multishot receive.  Returns 0, -EBADF, -EINVAL (bad
 * options), -ENOMEM; on error fd stays the caller's.
 */
TIDE_API int tide_stream_new(struct tide_loop *loop, int fd,
			     const struct tide_stream_options *opts,
			     struct tide_stream **out);

/* Read up to len (> 0) bytes: result is the count, 0 at end of stream.
 * -EBUSY while another read is pending. */
TIDE_API struct tide_future *tide_stream_read(struct tide_stream *s,
					      void *buf, size_t len);

/* Read exactly len bytes: result len, or -EPIPE when the stream ends
 * first (the bytes that did arrive are in buf), 0 when it ended before
 * the first byte. */
TIDE_API struct tide_future *tide_stream_read_exactly(struct tide_stream *s,
						      void *buf, size_t len);

/*
 * Read up to and including the byte delim into buf (max bytes).  Result is
 * the length, delimiter included; -EMSGSIZE when max bytes came without a
 * delimiter (they are in buf and consumed); 0 at end of stream; -EPIPE when
 * the stream ended inside a line.
 */
TIDE_API struct tide_future *tide_stream_read_until(struct tide_stream *s,
						    void *buf, size_t max,
						    int delim);

/* tide_stream_read_until(s, buf, max, '\n'). */
TIDE_API struct tide_future *tide_stream_read_line(struct tide_stream *s,
						   char *buf, size_t max);

/* Write all len bytes (short writes are resubmitted): result len, or the
 * error (-EPIPE, -ECONNRESET, ...).  buf must live until it resolves. */
TIDE_API struct tide_future *tide_stream_write(struct tide_stream *s,
					       const void *buf, size_t len);

/*
 * Close: wait for queued writes to go out, shutdown(SHUT_WR) a socket
 * (unless TIDE_STREAM_NO_SHUTDOWN), stop receiving, fail a pending read
 * with -ECANCELED, close the descriptor and free s.  Resolves with 0 or the
 * first write error.  s is invalid after the call.
 */
TIDE_API struct tide_future *tide_stream_close(struct tide_stream *s);

/* The stream's descriptor. */
TIDE_API int tide_stream_fd(const struct tide_stream *s);

/* ---- server ----------------------------------------------------------- */

/* Called with each accepted connection's stream, which it owns and must
 * close with tide_stream_close(). */
typedef void tide_conn_fn(void *arg, struct tide_stream *s);

/* As tide_conn_fn, with the connection's peer address (getpeername(2) at
 * accept; peer->len is 0 when the peer was already gone).  peer is valid
 * for the call only. */
typedef void tide_conn_peer_fn(void *arg, struct tide_stream *s,
			       const struct tide_addr *peer);

enum {
	TIDE_SERVER_REUSEPORT = 1u << 0, /* SO_REUSEPORT: one server per loop */
	TIDE_SERVER_NO_BUFRING = 1u << 1, /* plain recv instead of multishot */
};

/* Options for tide_server_new(); zero means defaults. */
struct tide_server_options {
	uint32_t flags;      /* TIDE_SERVER_* */
	int32_t backlog;     /* listen backlog; 0 = SOMAXCONN */
	uint32_t buf_count;  /* bufring buffers; 0 = 1024 */
	uint32_t buf_size;   /* bufring buffer size; 0 = 4096 */
	/* when set, called for each connection instead of fn (which must
	 * then be NULL), with the peer's address */
	tide_conn_peer_fn *conn_peer;
	uint64_t reserved[3];
};

struct tide_server_stats {
	uint64_t accepted;      /* connections handed to the callback */
	uint64_t active;        /* streams not yet closed */
	uint64_t accept_errors; /* -EMFILE and other accept failures */
	uint64_t reserved[5];
};

/*
 * Listen on a (SOCK_STREAM of a's family; an existing Unix socket file is
 * not removed) and call fn(arg, stream) for each connection, or
 * opts->conn_peer(arg, stream, peer) when that is set (fn NULL).  With the
 * buffer ring, each connection holds at most its share of the ring's
 * buffers (1/64, at least 4) and stops receiving at it, or while its writes
 * are backed up and no read is pending, so a client that sends and never
 * reads cannot stall the others.  Returns 0, -EADDRINUSE, -EACCES,
 * -EINVAL, -ENOMEM, ...  Loop thread.
 */
TIDE_API int tide_server_new(struct tide_loop *loop, const struct tide_addr *a,
			     const struct tide_server_options *opts,
			     tide_conn_fn *fn, void *arg,
			     struct tide_server **out);

/* The bound address (with the port the kernel chose for port 0). */
TIDE_API int tide_server_addr(const struct tide_server *srv,
			      struct tide_addr *out);

/*
 * Graceful stop: stop accepting, close the listening socket, wait for the
 * connections' streams to be closed.  After timeout_ns the remaining
 * connections are shut down (their reads see end of stream) and the
 * future resolves once they are closed, with -ETIMEDOUT; else with 0.
 */
TIDE_API struct tide_future *tide_server_stop(struct tide_server *srv,
					      uint64_t timeout_ns);

/* Free a server whose stop future has resolved (or that never accepted).
 * NULL is ignored. */
TIDE_API void tide_server_free(struct tide_server *srv);

/* Copy the server's counters. */
TIDE_API void tide_server_stats(const struct tide_server *srv,
				struct tide_server_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* TIDE_STREAM_H */
