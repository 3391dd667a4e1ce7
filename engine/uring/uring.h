/* SPDX-License-Identifier: MIT */
/*
 * uring.h - the io_uring backend's private helpers: SQE acquisition with
 * backlog, binding an SQE to an operation record, fixed descriptors.
 */
#ifndef TIDE_URING_H
#define TIDE_URING_H

#include "loop_impl.h"

/* Slow path of tide__sqe(): refreshes sq_limit from the kernel's head, or
 * backlogs the SQE while the ring is full or a backlog exists. */
struct io_uring_sqe *tide__sqe_slow(struct tide_loop *loop);

/* An SQE from the backlog, as if the SQ were full (fault injection's
 * nomem); every SQE after it comes from there too until the next flush.
 * NULL when the backlog cannot grow. */
struct io_uring_sqe *tide__sqe_backlog(struct tide_loop *loop);

/* An SQE from the SQ ring, or NULL when the cached limit is reached (then
 * tide__sqe_slow()).  tide's rings have 64-byte SQEs and 16-byte CQEs
 * (never SQE128/CQE32: uring.c refuses them). */
static inline bool tide__sq_room(const struct tide_loop *loop)
{
	const struct tide__uring *u = &loop->u;

	return (int)(u->sq_limit - u->ring.sq.sqe_tail) > 0;
}

/* The next SQE of the ring, which tide__sq_room() said is free. */
static inline struct io_uring_sqe *tide__sq_take(struct tide_loop *loop)
{
	struct tide__uring *u = &loop->u;
	unsigned tail = u->ring.sq.sqe_tail;

	u->ring.sq.sqe_tail = tail + 1;
	return &u->ring.sq.sqes[tail & u->ring.sq.ring_mask];
}

static inline struct io_uring_sqe *tide__sqe_fast(struct tide_loop *loop)
{
	if (__builtin_expect(!tide__sq_room(loop), 0))
		return NULL;
	return tide__sq_take(loop);
}

/* An SQE to fill: from the SQ ring, or the backlog when the ring is full.
 * NULL only when the backlog cannot grow (-ENOMEM). */
static inline struct io_uring_sqe *tide__sqe(struct tide_loop *loop)
{
	struct io_uring_sqe *sqe = tide__sqe_fast(loop);

	return __builtin_expect(sqe != NULL, 1) ? sqe : tide__sqe_slow(loop);
}

/* Turn a bound SQE into a NOP that completes op with -ECANCELED. */
void tide__sqe_refuse(struct io_uring_sqe *sqe, struct tide__op *op);

/* Is fd in the loop's fixed table (tide_loop_fix_fd())? */
static inline bool tide__fd_fixed(const struct tide_loop *loop, int fd)
{
	const struct tide__uring *u = &loop->u;

	return __builtin_expect(u->fixmap != NULL, 0) && fd >= 0 &&
	       (uint32_t)fd < u->registered_files &&
	       (u->fixmap[(uint32_t)fd / 64] >> ((uint32_t)fd % 64) & 1);
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

/* Submit what is queued; wait for at least one CQE when wait != 0. */
int tide__submit(struct tide_loop *loop, int wait);
/* The same, waiting at most ns (>= 0) for a completion. */
int tide__submit_until(struct tide_loop *loop, int wait, int64_t ns);
/* Reap every available CQE, dispatching each to its op.  Returns count. */
int tide__reap(struct tide_loop *loop);
/* Flush backlogged SQEs into the SQ ring as far as there is room. */
void tide__backlog_flush(struct tide_loop *loop);
/* tide__op_cancel() and tide__op_deadline() on io_uring (submit.c). */
int tide__uring_cancel(struct tide_loop *loop, struct tide__op *op);
int tide__uring_deadline(struct tide_loop *loop, struct tide__op *op,
			 struct __kernel_timespec *ts);
/* Has the kernel this opcode? */
static inline bool tide__has_op(const struct tide_loop *loop, int op)
{
	return loop->u.probe && io_uring_opcode_supported(loop->u.probe, op);
}

/* ---- thin syscall wrappers (engine/uring/sys.c) ---- */
/* The ring's setup; a test binary may define its own (static linking
 * picks the test's definition over the archive's). */
int tide__sys_setup(unsigned entries, struct io_uring *ring,
		    struct io_uring_params *p);

#endif /* TIDE_URING_H */
