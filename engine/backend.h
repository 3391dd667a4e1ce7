/* SPDX-License-Identifier: MIT */
/*
 * backend.h - what a backend gives the loop core (engine/core/loop.c).
 *
 * The core owns creation, the run loop, the ready queue, cross-thread posts
 * (an eventfd, wake_fd), the deferred-completion queue and freeing.  A
 * backend carries out operations (the tide__op_*() vocabulary of ops.h, one
 * function each: tide__uring_* inline in engine/uring/, tide__ep_* in
 * engine/epoll/) and implements the hooks below.  engine/core/ops.c routes
 * each operation: io_uring inline, everything else through the backend's
 * function.
 */
#ifndef TIDE_ENGINE_BACKEND_H
#define TIDE_ENGINE_BACKEND_H

#include "ops.h"

struct tide_loop_options;
struct tide_loop_config;

struct tide__backend {
	const char *name; /* "io_uring", "epoll" */
	/* Set up the backend's state in loop.  Must make poll() return when
	 * loop->wake_fd becomes readable (and drain it).  0 or -errno. */
	int (*init)(struct tide_loop *loop, const struct tide_loop_options *o);
	/* Release everything; called when nothing is in flight any more. */
	void (*fini)(struct tide_loop *loop);
	/* Start what was queued; when wait, block until at least one
	 * completion, a wake-up or a timer; deliver every completion that is
	 * ready through tide__complete().  Returns how many were delivered,
	 * or -errno for a fatal error. */
	int (*poll)(struct tide_loop *loop, int wait);
	/* Freeing: ask every operation in flight to end (each still
	 * completes through tide__complete()). */
	void (*cancel_all)(struct tide_loop *loop);
	/* Fill the backend's part of tide_loop_config(). */
	void (*config)(const struct tide_loop *loop,
		       struct tide_loop_config *cfg);
};

extern const struct tide__backend tide__uring_backend;
extern const struct tide__backend tide__epoll_backend;

#endif /* TIDE_ENGINE_BACKEND_H */
