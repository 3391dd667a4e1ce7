/* SPDX-License-Identifier: MIT */
/*
 * task_impl.h - the task record, its stacks and the context switch,
 * private to api/task*.c.
 *
 * A task lives at the top of its own stack slot:
 *
 *	lo - guard      lo                               top
 *	| guard pages  | stack, growing down ...  | struct tide_task |
 *
 * Slots come from per-loop batches (one mapping holds many slots, so
 * 100 000 tasks do not need 100 000 mappings) and are pooled for reuse.
 */
#ifndef TIDE_TASK_IMPL_H
#define TIDE_TASK_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "future_impl.h"

#include "task_ctx.h"

/* ---- sanitizers and valgrind ---- */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TIDE__ASAN 1
#endif
#endif
#if !defined(TIDE__ASAN) && defined(__SANITIZE_ADDRESS__)
#define TIDE__ASAN 1
#endif
#ifndef TIDE__ASAN
#define TIDE__ASAN 0
#endif

struct task_loop;
struct fut_rec;
struct fut_track;

/* One mapping holding nslots stack slots of slot bytes each. */
struct task_batch {
	struct task_batch *next;
	void *base;
	size_t len;
	size_t slot;
	uint32_t nslots;
	bool split_guards;
};

enum {
	T_STARTED = 1u << 0,
	T_DONE = 1u << 1,
	T_CANCEL = 1u << 2,   /* cancellation requested, not yet delivered */
	T_AWAITING = 1u << 3, /* suspended in an await */
	T_QUEUED = 1u << 4,   /* runnable: a wake-up is queued */
};

struct tide_task {
	/* hot: what an await and a wake-up touch, in the first cache line */
	struct tide__ctx ctx;	 /* the task's, while it is suspended */
	struct tide__ctx caller; /* whoever resumed it, while it runs */
	struct tide_loop *loop;
	struct tide_future *awaiting; /* unresolved future being awaited */
	void **payload_out;	    /* the suspended await's payload argument */
	struct tide_task *prev_cur; /* current task when this one resumed */
	uint32_t flags;
	unsigned vg_id; /* valgrind stack id */
	/* the rest */
	struct task_loop *tl;
	struct tide_future *promise; /* the task's future */
	tide_task_fn *fn;
	void *arg;
	void *conn;		       /* task_server.c: the connection */
	struct tide_task *next, *prev; /* live tasks of the loop / pool list */
	struct task_batch *batch;
	char *lo;	      /* lowest usable stack byte */
	size_t size;	      /* stack size as requested (rounded) */
	uint64_t resumed_ns;  /* debug: start of this run */
	struct fut_rec *futs; /* debug: futures created while it ran */
	uint64_t id;
#if TIDE__ASAN
	void *fake; /* ASan fake stack while suspended */
	const void *caller_bottom;
	size_t caller_size;
#endif
	char name[TIDE_TASK_NAME_MAX];
};

/* tide_task_spawn() that also returns the task (api/task.c). */
struct tide_future *tide__task_spawn(struct tide_loop *loop, tide_task_fn *fn,
				     void *arg,
				     const struct tide_task_options *opts,
				     struct tide_task **out);

/* ---- stacks (api/task_stack.c) ---- */

/* A slot for a task with a stack of size bytes (page multiple); the
 * returned record sits at the slot's top with lo/size/batch set and the
 * rest zeroed.  NULL for -ENOMEM. */
struct tide_task *tide__stack_get(struct task_loop *tl, size_t size);
/* Return t's slot to its loop's pool. */
void tide__stack_put(struct task_loop *tl, struct tide_task *t);
/* Per-loop pool state. */
struct task_loop *tide__stack_pool_new(struct tide_loop *loop);
/* Unmap every batch of the pool. */
void tide__stack_pool_free(struct task_loop *tl);
/* Install the overflow reporter (once per process) and this thread's
 * alternate signal stack (once per thread). */
void tide__stack_overflow_init(void);
/* The task running on this thread (the overflow reporter reads it).
 * initial-exec: one %fs-relative load, not a __tls_get_addr() call per
 * await in the shared library (libtide is not meant to be dlopen()ed
 * late into a process whose static TLS is used up). */
#define TIDE__TLS_IE __attribute__((tls_model("initial-exec")))
extern _Thread_local struct tide_task *tide__task_cur TIDE__TLS_IE;

/* Per-loop task state (api/task.c owns the list, task_stack.c the pool). */
struct task_pool_class {
	size_t size;
	struct tide_task *hot;	/* free slots with their pages in place */
	struct tide_task *cold; /* free slots whose pages were given back */
	uint32_t hot_n;
};

struct task_loop {
	struct tide_loop *loop; /* whose memory (tide__malloc()) */
	struct tide_task *live; /* started or runnable tasks */
	uint64_t live_n;
	uint64_t next_id;
	struct task_batch *batches;
	struct task_pool_class *cls; /* one per stack size in use */
	uint32_t ncls, cls_cap;
	bool freeing;
	/* a task that has just finished: its slot goes back to the pool
	 * once nothing runs on its stack any more (at the next switch into
	 * a task, spawn or free) */
	struct tide_task *zombie;
	/* debug: futures created in tasks, by address (api/task.c) */
	struct fut_track *track;
};

#endif /* TIDE_TASK_IMPL_H */
