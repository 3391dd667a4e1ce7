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
	/* leave Nagle's algorithm on: tide_stream_new() otherwise sets
	 * TCP_NODELAY on a TCP socket */
	TIDE_STREAM_NAGLE = 1u << 2,
};

/* The longest delimiter tide_stream_read_until_mem() accepts. */
#define TIDE_STREAM_DELIM_MAX 64

/* Options for tide_stream_new(); zero means defaults. */
struct tide_stream_options {
	uint32_t flags;	    /* TIDE_STREAM_* */
	uint32_t read_size; /* read buffer without a bufring; 0 = 16 KiB */
	struct tide_bufring *bufring; /* sockets: multishot recv into it */
	uint64_t reserved[4];
};

/*
 * Make a stream over fd, which it owns from then on (closed by
 * tide_stream_close()).  Sockets use recv/send (MSG_NOSIGNAL), anything
 * else read/write at the current position.  With opts->bufring a socket
 * is read by a multishot receive.  A TCP socket gets TCP_NODELAY unless
 * opts->flags has TIDE_STREAM_NAGLE.  Returns 0, -EBADF, -EINVAL (bad
 * options), -ENOMEM; on error fd stays the caller's.
 */
TIDE_API int tide_stream_new(struct tide_loop *loop, int fd,
			     const struct tide_stream_options *opts,
			     struct tide_stream **out);

/* Read up to len (> 0) bytes: result is the count, 0 at end of stream.
 * -EBUSY while another read is pending. */
TIDE_API struct tide_future *tide_stream_read(struct tide_stream *s, void *buf,
					      size_t len);

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
TIDE_API struct tide_future *
tide_stream_read_until(struct tide_stream *s, void *buf, size_t max, int delim);

/*
 * As tide_stream_read_until() for a delimiter of dlen bytes (1 ..
 * TIDE_STREAM_DELIM_MAX, copied), e.g. "\r\n\r\n": the result counts the
 * bytes up to and including the first occurrence, even one split across
 * reads.  Bytes of buf past the result are unspecified.  -EINVAL for a bad
 * delimiter.
 */
TIDE_API struct tide_future *tide_stream_read_until_mem(struct tide_stream *s,
							void *buf, size_t max,
							const void *delim,
							size_t dlen);

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

/*
 * sendfile: write len bytes of file fd from offset off (the file position
 * is not used nor moved), in order with the stream's other writes (asyncio's
 * loop.sendfile, libuv's uv_fs_sendfile).  Above 64 KiB on a socket the
 * bytes go file -> pipe -> socket by splice(2), never through user space
 * (the stream keeps one pipe for it); smaller ranges, other backends and
 * non-sockets go through a bounce buffer (read + send).  A socket whose
 * buffer is full is waited for without holding a kernel worker.  Result
 * len, -ENODATA when the file ends first (what was sent stays sent), or the
 * write's error.  fd must stay open until the future resolves.
 */
TIDE_API struct tide_future *tide_stream_sendfile(struct tide_stream *s, int fd,
						  uint64_t off, size_t len);

/*
 * Half-close: once the writes queued so far went out, shutdown(SHUT_WR) the
 * socket, so the peer reads end of stream; reading goes on.  Resolves with
 * 0, the first write error, or shutdown's error (-ENOTCONN).  Writes made
 * after it fail with -EPIPE.  -EALREADY when called twice, -ENOTSOCK for a
 * stream that is not a socket, -EBADF once closing.
 */
TIDE_API struct tide_future *tide_stream_shutdown(struct tide_stream *s);

/*
 * Abort: queued writes fail with -ECANCELED (one in flight once the kernel
 * let go of its buffer), a pending read with -ECANCELED, a TCP connection
 * is reset (SO_LINGER 0: the peer sees -ECONNRESET), and the descriptor is
 * closed and s freed, as tide_stream_close() does.  Resolves with 0.
 */
TIDE_API struct tide_future *tide_stream_abort(struct tide_stream *s);

enum {
	TIDE_STREAM_CANCEL_READ = 1u << 0,  /* the pending read */
	TIDE_STREAM_CANCEL_WRITE = 1u << 1, /* every queued write */
};

/*
 * Cancel the pending read and/or the queued writes of s, whoever holds
 * their futures (callbacks attached or not).  Each resolves with
 * -ECANCELED: the read at once (input keeps arriving into the stream's
 * buffer, nothing is lost), a write in flight once the kernel let go of
 * it (bytes already sent stay sent; a write that completed in the race
 * keeps its result).  Returns how many futures were cancelled (0: none was
 * pending), -EINVAL for bad arguments.  The stream stays usable.
 */
TIDE_API int tide_stream_cancel(struct tide_stream *s, unsigned what);

/* The stream's descriptor. */
TIDE_API int tide_stream_fd(const struct tide_stream *s);

/* Byte counts of tide_stream_copy_bidi(). */
struct tide_copy_stats {
	uint64_t a_to_b; /* bytes read from a and written to b */
	uint64_t b_to_a;
	uint64_t reserved[2];
};

/*
 * Proxy helper (tokio's copy_bidirectional): copy a's input to b and b's
 * input to a until both reach end of stream.  When one side ends, the
 * other is half-closed after the bytes in flight went out
 * (tide_stream_shutdown(); not for a non-socket), and the copy the other
 * way goes on.  On an error either way, the other direction is cancelled
 * and the future resolves with that error once both stopped.  Resolves
 * with the total bytes copied, or -errno; *st (may be NULL, must live
 * until then) gets the counts.  No copy through user space: each way
 * sends what the source holds straight from its buffers (ring buffers or
 * its read buffer), at most buf_size bytes (0 = 64 KiB) per sendmsg, and
 * gives them back once sent.  While it runs nobody else reads a or b,
 * writes to them or closes them.  The
 * streams are not closed.  Cancel it to stop both directions
 * (-ECANCELED).  -EINVAL for a == b or NULL.
 */
TIDE_API struct tide_future *tide_stream_copy_bidi(struct tide_stream *a,
						   struct tide_stream *b,
						   size_t buf_size,
						   struct tide_copy_stats *st);

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
	uint32_t flags;	    /* TIDE_SERVER_* */
	int32_t backlog;    /* listen backlog; 0 = SOMAXCONN */
	uint32_t buf_count; /* bufring buffers; 0 = 1024 */
	uint32_t buf_size;  /* bufring buffer size; 0 = 4096 */
	/* when set, called for each connection instead of fn (which must
	 * then be NULL), with the peer's address */
	tide_conn_peer_fn *conn_peer;
	uint64_t reserved[3];
};

struct tide_server_stats {
	uint64_t accepted;	/* connections handed to the callback */
	uint64_t active;	/* streams not yet closed */
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
