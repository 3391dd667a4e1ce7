/* SPDX-License-Identifier: MIT */
/*
 * tide/loop.h - the event loop: one per thread, on io_uring or, where
 * io_uring is blocked, on epoll and a thread pool (tide(7), BACKENDS).
 * Include <tide.h> rather than this file.
 */
#ifndef TIDE_LOOP_H
#define TIDE_LOOP_H

#include "tide/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Flags for tide_loop_options.flags. */
enum {
	/* Use a kernel submission-queue polling thread (SQPOLL). */
	TIDE_LOOP_SQPOLL = 1u << 0,
	/* Do not try SINGLE_ISSUER|DEFER_TASKRUN nor COOP_TASKRUN. */
	TIDE_LOOP_NO_FAST_FLAGS = 1u << 1,
	/* Do not try SINGLE_ISSUER|DEFER_TASKRUN (COOP_TASKRUN still tried). */
	TIDE_LOOP_NO_DEFER_TASKRUN = 1u << 2,
	/* Debug checks and warnings (also enabled by TIDE_DEBUG=1). */
	TIDE_LOOP_DEBUG = 1u << 3,
	/* Use the epoll + thread-pool backend even where io_uring works. */
	TIDE_LOOP_EPOLL = 1u << 4,
	/* Fail (as tide_loop_new() did before the fallback existed) rather
	 * than fall back to epoll when io_uring cannot be used. */
	TIDE_LOOP_REQUIRE_URING = 1u << 5,
};

/*
 * Options for tide_loop_new().  A zeroed struct means defaults; unknown flag
 * bits or non-zero reserved fields make tide_loop_new() fail with -EINVAL.
 */
struct tide_loop_options {
	uint32_t flags;	  /* TIDE_LOOP_* */
	uint32_t entries; /* SQ entries; 0 = 256; rounded up to a power of 2 */
	uint32_t cq_entries;	   /* CQ entries; 0 = kernel default (2 x SQ) */
	uint32_t sqpoll_idle_ms;   /* SQPOLL idle time; 0 = 1000 ms */
	uint64_t slow_callback_ns; /* debug: warn above this; 0 = 100 ms */
	uint64_t reserved[4];
};

/* The ring setup that tide_loop_new() chose, reported by tide_loop_config(). */
enum {
	TIDE_SETUP_DEFER_TASKRUN = 1u << 0, /* SINGLE_ISSUER|DEFER_TASKRUN */
	TIDE_SETUP_COOP_TASKRUN = 1u << 1,  /* COOP_TASKRUN|TASKRUN_FLAG */
	TIDE_SETUP_SQPOLL = 1u << 2,
	TIDE_SETUP_SUBMIT_ALL = 1u << 3,
};

/* Backends (tide_loop_config().backend). */
enum {
	TIDE_BACKEND_URING = 0, /* io_uring */
	TIDE_BACKEND_EPOLL = 1, /* epoll + a thread pool for blocking calls */
};

/* Why the loop uses its backend (tide_loop_config().backend_why). */
enum {
	TIDE_BACKEND_WHY_DEFAULT = 0,  /* io_uring works: the fast path */
	TIDE_BACKEND_WHY_OPTION = 1,   /* TIDE_LOOP_EPOLL was given */
	TIDE_BACKEND_WHY_ENV = 2,      /* TIDE_BACKEND=uring|epoll */
	TIDE_BACKEND_WHY_NO_URING = 3, /* io_uring_setup failed: uring_error */
	TIDE_BACKEND_WHY_OLD_KERNEL = 4, /* io_uring lacks what tide needs */
};

struct tide_loop_config {
	uint32_t setup;	     /* TIDE_SETUP_* actually in use (io_uring) */
	uint32_t sq_entries; /* as granted by the kernel (io_uring) */
	uint32_t cq_entries;
	uint32_t features;    /* io_uring feature bits the kernel reported */
	uint32_t wake;	      /* cross-thread wake: 0 = eventfd */
	uint32_t backend;     /* TIDE_BACKEND_* */
	uint32_t backend_why; /* TIDE_BACKEND_WHY_* */
	int32_t uring_error;  /* WHY_NO_URING: io_uring_setup's -errno */
};

/* Counters since tide_loop_new(); see tide_loop_stats(3). */
struct tide_loop_stats {
	uint64_t submitted;    /* SQEs handed to the kernel */
	uint64_t completed;    /* CQEs reaped */
	uint64_t enter_calls;  /* system calls that waited or submitted */
	uint64_t backlog_peak; /* most SQEs ever waiting for SQ space */
	uint64_t cq_overflows; /* times the kernel reported CQ overflow (nothing lost) */
	uint64_t timers;     /* timers armed */
	uint64_t posts;	     /* cross-thread posts run */
	uint64_t iterations; /* loop iterations */
	uint64_t reserved[4];
};

/*
 * Create a loop.  opts may be NULL for defaults.  The loop runs on io_uring
 * when it can be used; otherwise (ENOSYS, EPERM from seccomp or the
 * kernel.io_uring_disabled sysctl, ENOMEM from RLIMIT_MEMLOCK, a kernel
 * without what tide needs) on epoll and a thread pool, with the same API.
 * TIDE_BACKEND=uring|epoll in the environment or TIDE_LOOP_EPOLL force one;
 * tide_loop_config() says which was chosen and why.
 * Returns 0 and stores the loop in *out, or a negative errno: -EINVAL (bad
 * options or TIDE_BACKEND value), -ENOMEM, -EMFILE; with
 * TIDE_LOOP_REQUIRE_URING (or TIDE_BACKEND=uring) the errors of io_uring's
 * setup: -ENOSYS (no io_uring in this kernel), -EPERM (io_uring disabled by
 * sysctl kernel.io_uring_disabled or denied by seccomp), -ENOMEM (often
 * RLIMIT_MEMLOCK on old kernels).  tide_strerror() explains each.
 * The loop belongs to the calling thread from then on.
 */
TIDE_API int tide_loop_new(struct tide_loop **out,
			   const struct tide_loop_options *opts);

/*
 * Free a loop.  Pending operations are cancelled and reaped first, so no
 * buffer is touched by the kernel after this returns; futures still held by
 * the caller become invalid.  Loop thread only.  NULL is ignored.
 */
TIDE_API void tide_loop_free(struct tide_loop *loop);

/* Run until no operation, timer, continuation or unresolved promise is
 * pending, or until tide_loop_stop().  Returns 0, -EINVAL for NULL, -EBUSY
 * when called from a continuation, or a negative errno from the ring. */
TIDE_API int tide_loop_run(struct tide_loop *loop);

/* Run one iteration: submit, reap what is ready, run continuations.  With
 * wait != 0 block until at least one completion arrives (returns at once
 * when nothing is pending).  Returns the number of completions handled or a
 * negative errno. */
TIDE_API int tide_loop_run_once(struct tide_loop *loop, int wait);

/* Make tide_loop_run() return after the current continuation.  Loop thread. */
TIDE_API void tide_loop_stop(struct tide_loop *loop);

/* Number of operations, timers, queued continuations and unresolved
 * promises still pending (what keeps tide_loop_run() running). */
TIDE_API uint64_t tide_loop_pending(const struct tide_loop *loop);

/*
 * Run fn(arg) on the loop's thread at its next iteration.  Callable from any
 * thread, including the loop's own; wakes a loop blocked in the kernel.
 * Returns 0, -EINVAL (NULL loop or fn), -ENOMEM, or -ESHUTDOWN once
 * tide_loop_free() has begun.  Every accepted post runs exactly once, also
 * when the loop is freed first (then it runs inside tide_loop_free()).  A
 * post racing tide_loop_free() on another thread either is accepted (and
 * runs) or fails with -ESHUTDOWN; it never touches freed memory.  Once free has
 * returned the pointer may name a new loop, so a poster stops at the first
 * -ESHUTDOWN.  A post alone does not keep tide_loop_run() running: hold a
 * promise for work that another thread will finish.
 */
TIDE_API int tide_loop_post(struct tide_loop *loop, tide_post_fn *fn,
			    void *arg);

/* Copy the configuration chosen at creation into *cfg. */
TIDE_API void tide_loop_config(const struct tide_loop *loop,
			       struct tide_loop_config *cfg);

/* Copy the loop's counters into *st. */
TIDE_API void tide_loop_stats(const struct tide_loop *loop,
			      struct tide_loop_stats *st);

/* Monotonic clock (CLOCK_MONOTONIC) in nanoseconds, the clock timers use. */
TIDE_API uint64_t tide_now_ns(void);

/*
 * A sentence for a negative errno returned by tide: for the errors of
 * tide_loop_new() it says why io_uring is unusable here and what to do.
 * Never NULL; the string is static.
 */
TIDE_API const char *tide_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* TIDE_LOOP_H */
