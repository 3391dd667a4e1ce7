/* SPDX-License-Identifier: MIT */
/*
 * tide/net.h - socket operations as futures, addresses, name resolution and
 * the provided buffer ring.  Include <tide.h> rather than this file.
 *
 * The rules of tide/file.h hold here too: each operation returns its future
 * (NULL only when memory for it cannot be had); bad arguments give a future
 * already failed with -EINVAL or -EFAULT; kernel errors arrive as the
 * result.  Addresses and other small argument structs are copied; data
 * buffers, msghdr structures and the memory they point to belong to the
 * kernel until the future resolves, cancellation included.
 *
 * Every send adds MSG_NOSIGNAL: a peer that went away gives -EPIPE, never
 * SIGPIPE.  Every descriptor tide creates has close-on-exec set.
 */
#ifndef TIDE_NET_H
#define TIDE_NET_H

#include "tide/common.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A socket address of any family with its length (a plain struct). */
struct tide_addr {
	socklen_t len; /* bytes of u in use; 0 = no address */
	uint32_t reserved;
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
		struct sockaddr_un un;
		struct sockaddr_storage ss;
	} u;
};

/* Longest text tide_addr_format() writes, terminating NUL included. */
#define TIDE_ADDR_STRLEN 128

/*
 * Parse a numeric address: "1.2.3.4:80", "[::1]:80", ":80" or "*:80" (any
 * IPv4 address), "unix:/path", "unix:@name" (Linux abstract namespace).
 * Host names are not looked up here (see tide_resolve()).  The port is 1
 * to 5 decimal digits (0 to 65535): no sign, no whitespace.  Returns 0, or
 * -EINVAL for text that is none of these, -ENAMETOOLONG for a Unix path
 * that does not fit.  Any thread.
 */
TIDE_API int tide_addr_parse(struct tide_addr *out, const char *text);

/*
 * Write a in the form tide_addr_parse() reads into buf (size bytes, at
 * least TIDE_ADDR_STRLEN is always enough).  Returns the length written
 * (without the NUL), -EAFNOSUPPORT for an unknown family, -EINVAL for a
 * NULL argument or a length a->len that does not fit the family (larger
 * than u, or shorter than sockaddr_in/sockaddr_in6), -ENOSPC when buf is
 * too small.  Never reads past u, whatever a->len says.  Any thread.
 */
TIDE_API int tide_addr_format(const struct tide_addr *a, char *buf,
			      size_t size);

/*
 * Resolve "host:port" (names allowed; "[v6]:port" and "unix:" forms too)
 * with getaddrinfo(3) on a helper thread, so the loop never blocks.  The
 * future resolves with the number of addresses found (>= 1) and a payload
 * that is a malloc(3)ed array of that many struct tide_addr, which the
 * caller frees with free(3).  socktype is SOCK_STREAM, SOCK_DGRAM or 0.
 * Errors: -EINVAL (bad text), -ENOENT (no such name), -EAGAIN (temporary
 * failure), -ENOMEM.  Cancel resolves at once with -ECANCELED; the lookup
 * finishes in the background.  The loop must outlive the lookup: do not
 * free it while a resolve future is pending.
 */
TIDE_API struct tide_future *tide_resolve(struct tide_loop *loop,
					  const char *text, int socktype);

/* ---- socket setup: plain system calls, none of them blocks ---------- */

/*
 * socket(2) as an operation (an io_uring request, or the system call where the
 * kernel or backend lacks it); result is the descriptor.  SOCK_CLOEXEC is added.
 */
TIDE_API struct tide_future *tide_socket(struct tide_loop *loop, int domain,
					 int type, int protocol);

/* bind(2) to a.  Returns 0 or a negative errno.  Any thread. */
TIDE_API int tide_bind(int fd, const struct tide_addr *a);

/* listen(2); backlog <= 0 means SOMAXCONN.  0 or a negative errno. */
TIDE_API int tide_listen(int fd, int backlog);

/* ---- operations ------------------------------------------------------- */

/* connect(2) to a (copied).  Result 0. */
TIDE_API struct tide_future *tide_connect(struct tide_loop *loop, int fd,
					  const struct tide_addr *a);

/*
 * accept4(2): result is the new descriptor (close-on-exec; flags may add
 * SOCK_NONBLOCK).  peer, if not NULL, receives the peer's address and must
 * live until the future resolves.
 */
TIDE_API struct tide_future *tide_accept(struct tide_loop *loop, int fd,
					 struct tide_addr *peer, int flags);

/* Called for every connection a multishot accept takes (fd >= 0) and for
 * every error it reports without stopping (fd < 0, a -errno). */
typedef void tide_accept_fn(void *arg, int fd);

/*
 * Multishot accept: fn(arg, fd) runs on the loop thread for each accepted
 * connection, which then belongs to fn.  The returned future resolves when
 * the kernel ends the multishot: -ECANCELED after tide_future_cancel(), the
 * error that ended it (-EMFILE, -ENFILE, -EBADF, ...), or -EAGAIN when it
 * ended without error and may simply be started again.
 */
TIDE_API struct tide_future *tide_accept_multishot(struct tide_loop *loop,
						   int fd, tide_accept_fn *fn,
						   void *arg);

/* recv(2)/send(2): result is the byte count (recv: 0 = orderly EOF); a
 * recv future's payload is buf. */
TIDE_API struct tide_future *tide_recv(struct tide_loop *loop, int fd,
				       void *buf, size_t len, int flags);
TIDE_API struct tide_future *tide_send(struct tide_loop *loop, int fd,
				       const void *buf, size_t len, int flags);

/* recvmsg(2)/sendmsg(2); msg and everything it points to must live until
 * the future resolves. */
TIDE_API struct tide_future *tide_recvmsg(struct tide_loop *loop, int fd,
					  struct msghdr *msg, int flags);
TIDE_API struct tide_future *tide_sendmsg(struct tide_loop *loop, int fd,
					  const struct msghdr *msg, int flags);

/*
 * Zero-copy send where the kernel and backend have it (io_uring), else a plain
 * send.  The future resolves only once the kernel no longer reads buf (its
 * notification arrived), with the byte count.
 */
TIDE_API struct tide_future *tide_send_zc(struct tide_loop *loop, int fd,
					  const void *buf, size_t len,
					  int flags);

/* shutdown(2); how is SHUT_RD, SHUT_WR or SHUT_RDWR.  Result 0. */
TIDE_API struct tide_future *tide_shutdown(struct tide_loop *loop, int fd,
					   int how);

/*
 * Client helper: a socket of a's family and the given type (SOCK_STREAM or
 * SOCK_DGRAM), connected to a within timeout_ns (0 = no timeout).  Result is
 * the connected descriptor, which the caller owns; on failure nothing stays
 * open: -ETIMEDOUT, -ECONNREFUSED, -ENOENT (no Unix socket there), ...
 */
TIDE_API struct tide_future *tide_connect_timeout(struct tide_loop *loop,
						  const struct tide_addr *a,
						  int type,
						  uint64_t timeout_ns);

/* ---- provided buffer ring --------------------------------------------- */

struct tide_bufring;

/* Options for tide_bufring_new(); zero means defaults. */
struct tide_bufring_options {
	uint32_t count; /* buffers; 0 = 1024; rounded up to a power of 2,
			  * at most 32768 */
	uint32_t size;	/* bytes per buffer; 0 = 4096 */
	uint64_t reserved[2];
};

/*
 * Register a ring of provided buffers with loop's io_uring (kernel 5.19).
 * Returns 0 and stores it in *out, or -EINVAL (bad options), -ENOMEM,
 * -EOPNOTSUPP (kernel without buffer rings).  Loop thread.
 */
TIDE_API int tide_bufring_new(struct tide_loop *loop, struct tide_bufring **out,
			      const struct tide_bufring_options *opts);

/*
 * Unregister and free br.  Every multishot receive using it must have
 * ended (its future resolved) first; lent buffers become invalid.  NULL is
 * ignored.  Loop thread.
 */
TIDE_API void tide_bufring_free(struct tide_bufring *br);

/* Give lent buffer bid back to the ring.  Returns 0, -EINVAL for a bid
 * that is not lent.  Streams waiting for buffers are restarted. */
TIDE_API int tide_bufring_put(struct tide_bufring *br, unsigned bid);

/* Buffers currently in the ring (not lent out). */
TIDE_API unsigned tide_bufring_avail(const struct tide_bufring *br);

/* Called for each chunk a multishot receive delivers: len > 0 bytes at data
 * in lent buffer bid, which the callee returns with tide_bufring_put(). */
typedef void tide_recv_fn(void *arg, void *data, uint32_t len, unsigned bid);

/*
 * Multishot receive into br's buffers (kernel 6.0): fn runs for every
 * chunk.  The future resolves when the multishot ends: 0 at orderly EOF,
 * -ENOBUFS when the ring ran dry (start again after buffers came back; no
 * byte is lost), -ECANCELED after cancellation, -EAGAIN when it ended
 * without error, or the socket's error (-ECONNRESET, ...).
 */
TIDE_API struct tide_future *tide_recv_multishot(struct tide_loop *loop, int fd,
						 struct tide_bufring *br,
						 tide_recv_fn *fn, void *arg);

/* ---- socket options ---------------------------------------------------- */

/* Options for tide_sockopt_set()/tide_sockopt_get(); values are ints. */
enum {
	TIDE_SOCKOPT_NODELAY = 1, /* TCP_NODELAY: 1 = no Nagle delay (TCP) */
	TIDE_SOCKOPT_CORK,	  /* TCP_CORK: 1 = hold partial frames (TCP) */
	TIDE_SOCKOPT_KEEPALIVE,	  /* SO_KEEPALIVE: 1 = probe idle peers */
	TIDE_SOCKOPT_KEEPIDLE,	  /* TCP_KEEPIDLE: idle seconds before probes */
	TIDE_SOCKOPT_REUSEADDR,	  /* SO_REUSEADDR */
	TIDE_SOCKOPT_REUSEPORT,	  /* SO_REUSEPORT */
	TIDE_SOCKOPT_RCVBUF,	  /* SO_RCVBUF bytes (get: the kernel's doubled
				   * figure, as getsockopt(2) reports it) */
	TIDE_SOCKOPT_SNDBUF,	  /* SO_SNDBUF bytes (likewise) */
	TIDE_SOCKOPT_LINGER,	  /* SO_LINGER seconds; -1 = off, 0 = close
				   * resets the connection */
};

/*
 * Set option opt (TIDE_SOCKOPT_*) of socket fd to value: setsockopt(2)
 * with the right level and type.  Returns 0, -EINVAL (unknown option or a
 * negative value where none is allowed), -EBADF, -ENOTSOCK, -EOPNOTSUPP
 * (e.g. a TCP option on a Unix socket).  Any thread; no system call but
 * setsockopt(2).
 */
TIDE_API int tide_sockopt_set(int fd, int opt, int value);

/* Read option opt of socket fd into *value (-1 for LINGER off).  Returns
 * 0, -EINVAL, -EFAULT (value NULL), -EBADF, -ENOTSOCK, -EOPNOTSUPP.  Any
 * thread. */
TIDE_API int tide_sockopt_get(int fd, int opt, int *value);

#ifdef __cplusplus
}
#endif

#endif /* TIDE_NET_H */
