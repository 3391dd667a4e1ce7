/* SPDX-License-Identifier: MIT */
/*
 * engine.h - the engine's internal seam: loop internals, operation records,
 * SQE acquisition with backlog, submission/reaping, cancellation, slab.
 *
 * Everything io_uring-specific that api/ needs goes through the functions
 * here: get an SQE (tide__sqe), tag it with an operation record
 * (tide__sqe_bind), and receive each CQE in the record's done() hook.
 */
#ifndef TIDE_ENGINE_H
#define TIDE_ENGINE_H

#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "tide.h"

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
/* memcheck cannot see the kernel write through io_uring: tell it */
#define TIDE__MEM_DEFINED(p, n) VALGRIND_MAKE_MEM_DEFINED(p, n)
#define TIDE__UNDER_MEMCHECK() RUNNING_ON_VALGRIND
#endif
#endif
#ifndef TIDE__MEM_DEFINED
#define TIDE__MEM_DEFINED(p, n) ((void)(p), (void)(n))
#define TIDE__UNDER_MEMCHECK() 0
#endif

struct tide__op;

/* Called once per CQE of op; more == 1 when further CQEs will follow. */
typedef void tide__op_fn(struct tide_loop *loop, struct tide__op *op,
			 int32_t res, uint32_t cflags);

/*
 * An operation record: 16 bytes, embedded first in whatever owns the
 * operation (a future).  The engine owns eflags; kind/fflags/aux belong to
 * the owner.
 */
struct tide__op {
	tide__op_fn *done;
	uint8_t eflags;  /* TIDE__OP_* */
	uint8_t kind;    /* owner's */
	uint8_t cont;    /* owner's */
	uint8_t fflags;  /* owner's */
	uint32_t aux;    /* owner's */
};

enum {
	TIDE__OP_CANCELLED_EARLY = 1u << 0, /* cancelled before submission */
	TIDE__OP_DEADLINE = 1u << 1,        /* has a linked timeout */
	TIDE__OP_INTERNAL = 1u << 2,        /* engine's own; not counted */
};

/* A queued callback: continuation dispatch and call_soon share it. */
struct tide__task {
	tide_post_fn *fn;
	void *arg;
};

struct tide__taskq {
	struct tide__task *v;
	uint32_t head, tail, mask; /* head/tail free-running; mask = cap - 1 */
};

#define TIDE__SLAB_OBJ 64u
#define TIDE__SLAB_CHUNK (64u * 1024u)

struct tide__slab {
	void *free;      /* singly linked free objects */
	void *chunks;    /* chunk list (first word of each chunk's header) */
	uint64_t chunks_n;
	uint64_t live;
};

struct tide_loop {
	struct io_uring ring;
	unsigned int setup_flags;   /* IORING_SETUP_* in use */
	uint32_t tide_setup;        /* TIDE_SETUP_* */
	uint32_t opts_flags;
	bool debug;
	bool stop;
	bool closing;
	bool running;
	uint32_t cb_nest;           /* nesting of inline dispatch */
	/* >0 forbids running continuations inline: counts user callbacks
	 * on the stack, +1 outside dispatch, +1 in debug mode */
	uint32_t in_user;
	uint64_t ops_pending;       /* user ops awaiting their final CQE */
	uint64_t holds;             /* promises and other external work */
	uint64_t slow_ns;
	uint64_t wait_cap_ns;       /* 0, or the longest single blocking wait */

	/* SQEs that found the SQ full, submitted in order next iteration */
	struct io_uring_sqe *bl;
	uint32_t bl_head, bl_count, bl_cap;

	struct tide__taskq ready;
	struct tide__slab slab;

	/* cross-thread posts */
	pthread_mutex_t post_lock;
	struct tide__task *posts, *posts_spare;
	uint32_t posts_n, posts_cap, spare_cap;
	int wake_fd;
	bool wake_armed;
	uint64_t wake_buf;
	struct tide__op wake_op;

	struct io_uring_probe *probe;
	struct tide_loop_stats stats;
	unsigned registered_bufs, registered_files;

	/* tide_loop_fix_fd(): a sparse file table of registered_files
	 * slots, slot i holding fd i; a bit per slot in use (fixfd.c) */
	uint64_t *fixmap;

	/* api/task.c's per-loop state (stack pool, live tasks), released by
	 * tasks_free after quiesce, before the slab goes */
	void *tasks;
	void (*tasks_free)(struct tide_loop *loop);
};

/* ---- slab (engine/slab.c) ---- */
/* Out-of-line slow path: add a chunk and take an object from it. */
void *tide__slab_grow(struct tide_loop *loop);
void tide__slab_destroy(struct tide_loop *loop);

static inline void *tide__slab_alloc(struct tide_loop *loop)
{
	void **o = (void **)loop->slab.free;

	if (__builtin_expect(!o, 0))
		return tide__slab_grow(loop);
	loop->slab.free = *o;
	loop->slab.live++;
	return o;
}

static inline void tide__slab_free(struct tide_loop *loop, void *p)
{
	void **o = (void **)p;

	*o = loop->slab.free;
	loop->slab.free = o;
	loop->slab.live--;
}

/* The loop that owns a slab object (chunks are aligned to their size). */
static inline struct tide_loop *tide__slab_loop(const void *p)
{
	uintptr_t c = (uintptr_t)p & ~(uintptr_t)(TIDE__SLAB_CHUNK - 1);
	return *(struct tide_loop **)c;
}

/* ---- submission (engine/submit.c) ---- */
/* Slow path of tide__sqe(): the SQ is full or a backlog exists. */
struct io_uring_sqe *tide__sqe_backlog(struct tide_loop *loop);

/* An SQE to fill: from the SQ ring, or the backlog when the ring is full.
 * NULL only when the backlog cannot grow (-ENOMEM). */
static inline struct io_uring_sqe *tide__sqe(struct tide_loop *loop)
{
	if (__builtin_expect(loop->bl_count == loop->bl_head, 1)) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);

		if (__builtin_expect(sqe != NULL, 1))
			return sqe;
	}
	/* keep submission order: once anything is backlogged, all is */
	return tide__sqe_backlog(loop);
}

/* Turn a bound SQE into a NOP that completes op with -ECANCELED. */
void tide__sqe_refuse(struct io_uring_sqe *sqe, struct tide__op *op);

/* Attach op to sqe: its CQE(s) go to op->done; counts op as pending.
 * While the loop is being freed, the op is refused (-ECANCELED) instead. */
static inline void tide__sqe_bind(struct tide_loop *loop,
				  struct io_uring_sqe *sqe, struct tide__op *op)
{
	io_uring_sqe_set_data(sqe, op);
	if (!(op->eflags & TIDE__OP_INTERNAL))
		loop->ops_pending++;
	if (__builtin_expect(loop->closing, 0))
		tide__sqe_refuse(sqe, op);
}

/* Cancel op (IORING_OP_ASYNC_CANCEL, or in the backlog directly).  op's
 * done() still runs once the kernel lets go.  0 or -ENOMEM. */
int tide__cancel(struct tide_loop *loop, struct tide__op *op);
/* Link a timeout to op's still unsubmitted SQE, so the kernel cancels op
 * (-ECANCELED in its CQE) after ts.  ts must live until submission.
 * -EAGAIN when op's SQE is no longer the last one queued. */
int tide__link_timeout(struct tide_loop *loop, struct tide__op *op,
		       struct __kernel_timespec *ts);
/* Submit what is queued; wait for at least one CQE when wait != 0. */
int tide__submit(struct tide_loop *loop, int wait);
/* Reap every available CQE, dispatching each to its op.  Returns count. */
int tide__reap(struct tide_loop *loop);
/* Flush backlogged SQEs into the SQ ring as far as there is room. */
void tide__backlog_flush(struct tide_loop *loop);
/* Has the kernel this opcode? */
bool tide__has_op(const struct tide_loop *loop, int op);

/* ---- descriptors fixed in the ring (engine/fixfd.c) ---- */
/* Is fd in the loop's fixed table (tide_loop_fix_fd())? */
static inline bool tide__fd_fixed(const struct tide_loop *loop, int fd)
{
	return __builtin_expect(loop->fixmap != NULL, 0) && fd >= 0 &&
	       (uint32_t)fd < loop->registered_files &&
	       (loop->fixmap[(uint32_t)fd / 64] >> ((uint32_t)fd % 64) & 1);
}

/* For an op whose sqe->fd may be fixed: use the registered file (no
 * fget/fput per operation) when it is. */
static inline void tide__sqe_fd(const struct tide_loop *loop,
				struct io_uring_sqe *sqe)
{
	if (tide__fd_fixed(loop, sqe->fd))
		sqe->flags |= IOSQE_FIXED_FILE;
}

void tide__fixfd_free(struct tide_loop *loop);

/* ---- tasks and loop (engine/loop.c) ---- */
int tide__taskq_push(struct tide__taskq *q, tide_post_fn *fn, void *arg);
static inline uint32_t tide__taskq_len(const struct tide__taskq *q)
{
	return q->tail - q->head;
}
/* One loop iteration (tide_loop_run_once() without resetting stop). */
int tide__iterate(struct tide_loop *loop, int wait);
/* Queue fn(arg) for this loop's dispatch (loop thread only). */
int tide__defer(struct tide_loop *loop, tide_post_fn *fn, void *arg);
/* Run a user callback with the bookkeeping debug mode needs. */
void tide__warn(struct tide_loop *loop, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline void tide__hold(struct tide_loop *loop) { loop->holds++; }
static inline void tide__unhold(struct tide_loop *loop) { loop->holds--; }

/* ---- thin syscall wrappers (engine/sys.c), interceptable in tests ---- */
int tide__sys_setup(unsigned entries, struct io_uring *ring,
		    struct io_uring_params *p);

#endif /* TIDE_ENGINE_H */
