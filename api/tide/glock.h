/* SPDX-License-Identifier: MIT */
/*
 * tide/glock.h - a global lock with CPython's "new GIL" semantics (3.2+),
 * or a plain fair FIFO lock, instrumented for measuring contention.
 * Include <tide.h> rather than this file.
 *
 * Model.  Threads run "inside" the lock between tide_glock_acquire() and
 * tide_glock_release(), and call tide_glock_check() often from their work
 * loop (the interpreter's eval breaker).  A thread that wants the lock waits
 * one switch interval; if the lock has not changed hands meanwhile it sets a
 * drop request, which the holder honours at its next check point.  Around
 * blocking calls a thread leaves the lock with tide_glock_blocking_begin()
 * and comes back with tide_glock_blocking_end() (Py_BEGIN/END_ALLOW_THREADS).
 *
 * Threads are identified implicitly: the first call from a thread gives it
 * a slot in the lock's table (up to tide_glock_options.max_threads; later
 * threads share one overflow slot for per-thread statistics).  Every
 * function here may be called from any thread; the lock's calls are paired
 * per thread (a thread releases only what it acquired).  The lock must not
 * be freed while any thread uses it.
 */
#ifndef TIDE_GLOCK_H
#define TIDE_GLOCK_H

#include "tide/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* tide_glock_options.mode */
enum {
	TIDE_GLOCK_GIL = 0,  /* CPython's new GIL: timed drop requests */
	TIDE_GLOCK_FIFO = 1, /* fair: FIFO tickets, direct hand-off */
};

/* tide_glock_options.flags */
enum {
	/* GIL mode: do not wait, after a requested drop, until another thread
	 * has taken the lock (CPython built without FORCE_SWITCHING). */
	TIDE_GLOCK_NO_FORCE_SWITCH = 1u << 0,
};

#define TIDE_GLOCK_DEFAULT_INTERVAL_NS 5000000ull /* 5 ms, like CPython */

/* Options for tide_glock_new(); zeroed means defaults. */
struct tide_glock_options {
	uint32_t mode;	      /* TIDE_GLOCK_GIL (default) or TIDE_GLOCK_FIFO */
	uint32_t flags;	      /* TIDE_GLOCK_* flags */
	uint64_t interval_ns; /* switch interval; 0 = 5 ms; at least 1000 */
	uint32_t max_threads; /* per-thread statistics slots; 0 = 64, <= 4096 */
	uint32_t reserved32;  /* must be 0 */
	uint64_t reserved[4]; /* must be 0 */
};

/* A distribution of durations in nanoseconds; the percentiles follow
 * tide_hist_percentile(3)'s rule (fio's buckets, within 0.8 %). */
struct tide_glock_dist {
	uint64_t count;
	uint64_t p50, p90, p99, max;
	uint64_t mean;
};

/* Counters since tide_glock_new(); see tide_glock_stats(3). */
struct tide_glock_stats {
	uint64_t acquisitions; /* times a thread took the lock */
	uint64_t releases;     /* times a thread gave it up */
	uint64_t handoffs; /* acquisitions by a thread other than the last holder */
	uint64_t drop_requests; /* drop requests set by waiters that timed out */
	uint64_t forced_drops; /* releases made while a drop request was pending
				    (forced switching: the releaser lets a waiter in first) */
	uint64_t check_drops;  /* releases made by tide_glock_check() */
	uint64_t blocking;     /* tide_glock_blocking_begin() calls */
	uint64_t wall_ns;      /* time since tide_glock_new() */
	uint64_t held_ns;      /* total time the lock was held */
	double held_fraction;  /* held_ns / wall_ns */
	double handoffs_per_s; /* handoffs / wall time */
	struct tide_glock_dist wait_ns; /* time from asking to holding */
	struct tide_glock_dist hold_ns; /* time from taking to releasing */
	uint32_t threads;  /* slots in use (overflow slot included) */
	uint32_t waiters;  /* threads waiting for the lock now */
	double jain_index; /* Jain's fairness of held time over threads */
	uint64_t reserved[4];
};

/* Per-thread figures, from tide_glock_thread_stats(). */
struct tide_glock_thread_stats {
	int32_t tid; /* gettid() of the thread; -1 = overflow slot */
	uint32_t slot;
	uint64_t acquisitions;
	uint64_t held_ns;
	uint64_t wait_ns;
	double share; /* held_ns over all threads' held_ns */
	uint64_t reserved[2];
};

/*
 * Create a lock, not held by anyone.  opts may be NULL for defaults.
 * Returns 0 and stores it in *out, -EINVAL for bad options (unknown mode
 * or flags, interval below 1000 ns, non-zero reserved fields), -ENOMEM.
 * Free it with tide_glock_free().
 */
TIDE_API int tide_glock_new(struct tide_glock **out,
			    const struct tide_glock_options *opts);

/* Free a lock nobody holds or waits for.  NULL is ignored. */
TIDE_API void tide_glock_free(struct tide_glock *g);

/*
 * Take the lock, blocking as long as needed.  Returns 0, -EDEADLK when the
 * calling thread holds it already, -EINVAL for NULL.
 */
TIDE_API int tide_glock_acquire(struct tide_glock *g);

/*
 * Give the lock up.  In GIL mode with forced switching, when a drop request
 * is pending this waits until another thread has taken the lock.  Returns
 * 0, -EPERM when the calling thread does not hold it, -EINVAL for NULL.
 */
TIDE_API int tide_glock_release(struct tide_glock *g);

/*
 * The eval-breaker check point: cheap (one relaxed atomic load) unless a
 * drop request is pending; then release (forced switching: until another
 * thread took over) and re-acquire.  Holder only.  Returns 1 when the lock
 * was dropped and re-taken, 0 when nothing was requested, -EPERM when the
 * caller does not hold the lock.
 */
TIDE_API int tide_glock_check(struct tide_glock *g);

/* Leave the lock around a blocking call (Py_BEGIN_ALLOW_THREADS) and come
 * back (Py_END_ALLOW_THREADS).  Same returns as release/acquire. */
TIDE_API int tide_glock_blocking_begin(struct tide_glock *g);
TIDE_API int tide_glock_blocking_end(struct tide_glock *g);

/* Set the switch interval (sys.setswitchinterval); any thread.  Takes
 * effect at waiters' next wait.  Returns 0 or -EINVAL (below 1000 ns). */
TIDE_API int tide_glock_set_interval(struct tide_glock *g,
				     uint64_t interval_ns);

/* The switch interval in nanoseconds. */
TIDE_API uint64_t tide_glock_interval(const struct tide_glock *g);

/* Copy the counters into *st (a consistent snapshot).  Any thread. */
TIDE_API void tide_glock_stats(struct tide_glock *g,
			       struct tide_glock_stats *st);

/*
 * Copy up to n per-thread records into out[], in slot order.  Returns the
 * number of slots in use (may exceed n), or -EINVAL.  Any thread.
 */
TIDE_API int tide_glock_thread_stats(struct tide_glock *g,
				     struct tide_glock_thread_stats *out,
				     size_t n);

#ifdef __cplusplus
}
#endif

#endif /* TIDE_GLOCK_H */
