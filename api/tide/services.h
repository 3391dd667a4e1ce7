/* SPDX-License-Identifier: MIT */
/*
 * tide/services.h - what a service needs beside streams: readiness on any
 * descriptor, signals as futures, and opening files beneath a root.
 * Include <tide.h> rather than this file.
 */
#ifndef TIDE_SERVICES_H
#define TIDE_SERVICES_H

#include "tide/common.h"

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- readiness ---------------------------------------------------------- */

/*
 * One-shot readiness (asyncio's add_reader/add_writer for one event, libuv's
 * uv_poll): resolves with the poll(2) revents of fd once one of events
 * (POLLIN, POLLOUT, POLLPRI, ...) holds; POLLERR and POLLHUP are always
 * reported.  Cancel it to stop waiting (-ECANCELED).  Loop thread.
 */
TIDE_API struct tide_future *tide_poll(struct tide_loop *loop, int fd,
				       unsigned events);

/* Called with the revents of each readiness event of a multishot poll. */
typedef void tide_poll_fn(void *arg, unsigned revents);

/*
 * Multishot readiness: fn(arg, revents) runs on the loop thread each time
 * fd becomes ready (edge by edge, as the kernel reports it), until the
 * returned future is cancelled (-ECANCELED) or the kernel ends it (-EAGAIN:
 * start again; or the error).  -EINVAL for a NULL fn.
 */
TIDE_API struct tide_future *tide_poll_multishot(struct tide_loop *loop, int fd,
						 unsigned events,
						 tide_poll_fn *fn, void *arg);

/* ---- signals ------------------------------------------------------------ */

struct tide_signal;

/*
 * Receive the n signals in signals[] (SIGINT, SIGTERM, ...) as futures
 * (asyncio's add_signal_handler, libuv's uv_signal): blocks them in the
 * calling thread (pthread_sigmask), so they queue for a signalfd(2)
 * instead of running a handler.  Other threads must block them too (block
 * them before creating threads) or the kernel may deliver them there.
 * Returns 0, -EINVAL (NULL argument, n == 0, a number that is no signal,
 * SIGKILL or SIGSTOP), -ENOMEM, -EMFILE.  Loop thread.
 */
TIDE_API int tide_signal_new(struct tide_loop *loop, const int *signals,
			     size_t n, struct tide_signal **out);

/*
 * The next signal: resolves with its number (SIGINT, ...).  A signal that
 * arrived before the call is not lost: it waits in the kernel.  -EBUSY
 * while another tide_signal_next() is pending.
 */
TIDE_API struct tide_future *tide_signal_next(struct tide_signal *sig);

/*
 * Stop: a pending tide_signal_next() resolves with -ECANCELED, the
 * signalfd is closed and sig is freed once the kernel let go of it.  The
 * signals stay blocked (unblock them with pthread_sigmask(3) if wanted).
 * NULL is ignored.  Loop thread.
 */
TIDE_API void tide_signal_free(struct tide_signal *sig);

/* ---- opening beneath a root ---------------------------------------------- */

enum {
	/* no ".." above dfd, no absolute path, no symlink leading out */
	TIDE_RESOLVE_BENEATH = 1u << 0,
	/* no symbolic link anywhere in the path */
	TIDE_RESOLVE_NO_SYMLINKS = 1u << 1,
};

/*
 * openat2(2) with resolve restrictions (TIDE_RESOLVE_*), for serving files
 * from a root safely: a request for "../etc/passwd" or through a symlink
 * fails instead of escaping.  Never on the loop thread: io_uring's
 * openat2, or the openat2 system call on the blocking pool (epoll
 * backend, rings without the op).  Only where the kernel has no openat2
 * (before 5.6) the pool walks the path one component at a time, stricter
 * than the kernel: it refuses every ".." component and absolute path
 * (BENEATH) and any symlink in the path (NO_SYMLINKS, and BENEATH too),
 * opening each component with O_NOFOLLOW.  Result: the descriptor
 * (close-on-exec).  Errors: -EXDEV (the path leaves dfd), -ELOOP (a
 * symlink with NO_SYMLINKS), -EINVAL (unknown resolve bits), the open's
 * errors (-ENOENT, -EACCES, ...).  path is copied.
 */
TIDE_API struct tide_future *tide_openat2(struct tide_loop *loop, int dfd,
					  const char *path, int flags,
					  mode_t mode, unsigned resolve);

#ifdef __cplusplus
}
#endif

#endif /* TIDE_SERVICES_H */
