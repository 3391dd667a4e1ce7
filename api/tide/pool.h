/* SPDX-License-Identifier: MIT */
/*
 * tide/pool.h - a fixed-size pool of worker threads with a bounded queue:
 * run blocking or CPU-bound functions off the loop thread and get their
 * results back as futures (asyncio's run_in_executor).
 * Include <tide.h> rather than this file.
 *
 * Threads.  tide_pool_submit() runs on the thread of the loop it names (it
 * creates a promise there); the job runs on a worker; its result is posted
 * back to that loop with tide_loop_post() and resolves the future on the
 * loop thread.  tide_pool_post(), tide_pool_stats() and tide_pool_shutdown()
 * may be called from any thread except a worker of the same pool (shutdown
 * and free from a worker return -EDEADLK / are refused).
 *
 * Lifetimes.  arg belongs to the caller and must stay valid until the job
 * has run or was cancelled (the future has resolved).  A loop that has
 * futures of a pool must outlive their delivery: free it only after those
 * futures resolved or after tide_pool_shutdown() returned (posted results
 * then run inside tide_loop_free()).  Do not free the pool while another
 * thread cancels its futures.
 */
#ifndef TIDE_POOL_H
#define TIDE_POOL_H

#include "tide/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A job: runs on a worker; returns a result >= 0 or a negative errno. */
typedef int64_t tide_pool_fn(void *arg);

/* Options for tide_pool_new(); zeroed means defaults. */
struct tide_pool_options {
	uint32_t threads;	 /* workers; 0 = online CPUs; <= 1024 */
	uint32_t queue_capacity; /* queued (not yet running) jobs; 0 = 1024 */
	uint32_t flags;		 /* none defined: must be 0 */
	uint32_t reserved32;	 /* must be 0 */
	uint64_t reserved[4];	 /* must be 0 */
};

/* tide_pool_shutdown() modes */
enum {
	TIDE_POOL_DRAIN = 0, /* run every queued job, then stop */
	TIDE_POOL_ABORT =
		1, /* cancel queued jobs (-ECANCELED); running ones finish */
};

/* Counters and gauges; see tide_pool_stats(3). */
struct tide_pool_stats {
	uint32_t threads;
	uint32_t queue_capacity;
	uint64_t queued;    /* waiting now */
	uint64_t running;   /* running now */
	uint64_t submitted; /* accepted jobs */
	uint64_t completed; /* jobs that ran to their end */
	uint64_t failed;    /* of those, with a negative result */
	uint64_t cancelled; /* removed from the queue before running */
	uint64_t rejected;  /* refused: queue full (-EAGAIN) or shut down */
	uint64_t queue_wait_ns_total; /* submit to start, over started jobs */
	uint64_t queue_wait_ns_max;
	uint64_t run_ns_total; /* time spent running jobs */
	uint64_t reserved[4];
};

/*
 * Start a pool.  opts may be NULL for defaults.  Returns 0 and stores it in
 * *out, -EINVAL for bad options, -ENOMEM, or -EAGAIN when threads cannot be
 * created.  Free it with tide_pool_free().
 */
TIDE_API int tide_pool_new(struct tide_pool **out,
			   const struct tide_pool_options *opts);

/*
 * Queue fn(arg) and return a future on loop that resolves with fn's result
 * (payload: arg).  Never blocks: a full queue gives a future failed with
 * -EAGAIN, a shut-down pool -ESHUTDOWN, bad arguments -EINVAL; NULL only
 * when memory is short (-ENOMEM, see tide/future.h).  Cancelling the future
 * removes a still-queued job (it resolves with -ECANCELED and fn never
 * runs); a running job cannot be stopped and resolves with its result.
 * The hand-back needs no memory, so the future always resolves while loop
 * lives; a job whose loop was freed runs on and its result is dropped.
 * Loop thread of loop only.
 */
TIDE_API struct tide_future *tide_pool_submit(struct tide_pool *pool,
					      struct tide_loop *loop,
					      tide_pool_fn *fn, void *arg);

/*
 * Queue fn(arg) with no future; its result is dropped.  Returns 0, -EAGAIN
 * (queue full), -ESHUTDOWN, -EINVAL or -ENOMEM.  Any thread.
 */
TIDE_API int tide_pool_post(struct tide_pool *pool, tide_pool_fn *fn,
			    void *arg);

/*
 * Stop accepting work and wait for the workers to exit.  TIDE_POOL_DRAIN
 * runs the queued jobs first; TIDE_POOL_ABORT resolves their futures with
 * -ECANCELED (posted to their loops) without running them.  Jobs already
 * running finish either way.  Returns 0, -EINVAL (bad mode or NULL),
 * -EDEADLK from a worker of this pool, -EALREADY when already shut down.
 * Any other thread; blocks until the workers have exited.
 */
TIDE_API int tide_pool_shutdown(struct tide_pool *pool, int mode);

/* Shut down (drain) if needed and free the pool.  NULL is ignored. */
TIDE_API void tide_pool_free(struct tide_pool *pool);

/* Copy the pool's counters into *st.  Any thread. */
TIDE_API void tide_pool_stats(struct tide_pool *pool,
			      struct tide_pool_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* TIDE_POOL_H */
