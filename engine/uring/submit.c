// SPDX-License-Identifier: MIT
/*
 * submit.c - SQE acquisition with backlog, submission, batched reaping,
 * cancellation and linked deadlines.  The only file that touches the SQ and
 * CQ rings directly.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "uring.h"

static struct io_uring_sqe *backlog_push(struct tide_loop *loop)
{
	if (loop->u.bl_count == loop->u.bl_cap) {
		if (loop->u.bl_head > 0) {
			/* slide the live part down before growing */
			uint32_t live = loop->u.bl_count - loop->u.bl_head;

			memmove(loop->u.bl, loop->u.bl + loop->u.bl_head,
				live * sizeof(*loop->u.bl));
			loop->u.bl_head = 0;
			loop->u.bl_count = live;
		}
		if (loop->u.bl_count == loop->u.bl_cap) {
			uint32_t cap = loop->u.bl_cap ? loop->u.bl_cap * 2 : 64;
			struct io_uring_sqe *n;

			n = tide__realloc(loop, loop->u.bl,
					  (size_t)cap * sizeof(*n));
			if (!n)
				return NULL;
			loop->u.bl = n;
			loop->u.bl_cap = cap;
		}
	}
	struct io_uring_sqe *sqe = &loop->u.bl[loop->u.bl_count++];
	uint64_t depth = loop->u.bl_count - loop->u.bl_head;

	/* keep submission order: while anything is backlogged, all is */
	loop->u.sq_limit = loop->u.ring.sq.sqe_tail;

	memset(sqe, 0, sizeof(*sqe));
	if (depth > loop->stats.backlog_peak)
		loop->stats.backlog_peak = depth;
	return sqe;
}

void tide__sqe_refuse(struct io_uring_sqe *sqe, struct tide__op *op)
{
	/* keep order and link flags; the NOP completes as cancelled */
	uint8_t keep = sqe->flags & (IOSQE_IO_LINK | IOSQE_IO_HARDLINK);

	io_uring_prep_nop(sqe);
	sqe->flags = keep;
	io_uring_sqe_set_data(sqe, op);
	op->eflags |= TIDE__OP_CANCELLED_EARLY;
}

struct io_uring_sqe *tide__sqe_backlog(struct tide_loop *loop)
{
	return backlog_push(loop);
}

struct io_uring_sqe *tide__sqe_slow(struct tide_loop *loop)
{
	struct tide__uring *u = &loop->u;
	struct io_uring_sq *sq = &u->ring.sq;

	if (u->bl_count == u->bl_head) {
		/* SQPOLL's thread moves the head on its own: acquire */
		unsigned limit =
			io_uring_smp_load_acquire(sq->khead) + sq->ring_entries;

		if ((int)(limit - sq->sqe_tail) > 0) {
			struct io_uring_sqe *sqe =
				&sq->sqes[sq->sqe_tail++ & sq->ring_mask];

			/* while operations leave the fast path, its room stays
			 * closed (tide__slow_set()): the limit follows the
			 * tail, so that 2^31 SQEs later it cannot wrap open */
			u->sq_limit = loop->slow ? sq->sqe_tail : limit;
			return sqe;
		}
	}
	return backlog_push(loop);
}

/* Length of the link chain starting at backlog index i. */
static uint32_t chain_len(const struct tide_loop *loop, uint32_t i)
{
	uint32_t n = 1;

	while (i + n - 1 < loop->u.bl_count &&
	       (loop->u.bl[i + n - 1].flags &
		(IOSQE_IO_LINK | IOSQE_IO_HARDLINK)))
		n++;
	return n;
}

void tide__backlog_flush(struct tide_loop *loop)
{
	while (loop->u.bl_head < loop->u.bl_count) {
		uint32_t n = chain_len(loop, loop->u.bl_head);

		/* never split a link chain across two submissions */
		if (io_uring_sq_space_left(&loop->u.ring) < n)
			break;
		for (uint32_t k = 0; k < n; k++) {
			struct io_uring_sqe *sqe =
				io_uring_get_sqe(&loop->u.ring);

			memcpy(sqe, &loop->u.bl[loop->u.bl_head++],
			       sizeof(*sqe));
		}
	}
	if (loop->u.bl_head == loop->u.bl_count)
		loop->u.bl_head = loop->u.bl_count = 0;
}

static bool needs_enter(const struct io_uring *ring, unsigned kflags,
			unsigned queued, int wait)
{
	if (wait || (kflags & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN)))
		return true;
	if (!queued)
		return false;
	if (!(ring->flags & IORING_SETUP_SQPOLL))
		return true;
	return kflags & IORING_SQ_NEED_WAKEUP;
}

int tide__submit(struct tide_loop *loop, int wait)
{
	return tide__submit_until(loop, wait, -1);
}

int tide__submit_until(struct tide_loop *loop, int wait, int64_t ns)
{
	struct io_uring *ring = &loop->u.ring;
	unsigned queued = io_uring_sq_ready(ring);
	unsigned kflags = IO_URING_READ_ONCE(*ring->sq.kflags);
	int ret;

	if (__builtin_expect(kflags & IORING_SQ_CQ_OVERFLOW, 0))
		loop->stats.cq_overflows++;
	if (needs_enter(ring, kflags, queued, wait) ||
	    (loop->u.setup_flags & IORING_SETUP_DEFER_TASKRUN))
		loop->stats.enter_calls++;
	if (wait && loop->wait_cap_ns &&
	    (ns < 0 || (uint64_t)ns > loop->wait_cap_ns))
		ns = (int64_t)loop->wait_cap_ns;
	if (wait && ns >= 0) {
		/* the earliest heap timer, or valgrind's cap: with EXT_ARG the
		 * timeout rides on the enter, no SQE */
		struct __kernel_timespec ts = {
			.tv_sec = (long long)(ns / 1000000000),
			.tv_nsec = (long long)(ns % 1000000000),
		};
		struct io_uring_cqe *cqe;

		ret = io_uring_submit_and_wait_timeout(ring, &cqe, 1, &ts,
						       NULL);
		if (ret == -ETIME)
			ret = 0;
		/* valgrind only hands its lock over at blocking calls */
		if (loop->wait_cap_ns)
			sched_yield();
	} else if (wait)
		ret = io_uring_submit_and_wait(ring, 1);
	else if (loop->u.setup_flags & IORING_SETUP_DEFER_TASKRUN)
		ret = io_uring_submit_and_get_events(ring);
	else
		ret = io_uring_submit(ring);
	if (ret >= 0) {
		loop->stats.submitted += (uint64_t)ret;
		return 0;
	}
	/* -EBUSY/-EAGAIN: CQ overflowed or no memory for requests; reaping
	 * makes room and the SQEs stay queued.  -EINTR: a signal. */
	if (ret == -EBUSY || ret == -EAGAIN || ret == -EINTR)
		return 0;
	return ret;
}

int tide__reap(struct tide_loop *loop)
{
	struct io_uring_cq *cq = &loop->u.ring.cq;
	struct io_uring_cqe *cqes = cq->cqes;
	unsigned mask = cq->ring_mask, first = *cq->khead, head = first, tail;
	/* every hook leaves it as it found it (tide__complete_in()) */
	uint32_t in_user = loop->core.in_user;

	/* Callbacks cannot re-enter the loop (tide_loop_run() is -EBUSY
	 * there), so walking the CQ in place and advancing once is safe; the
	 * tail is read again after each batch for what arrived meanwhile. */
	while ((tail = io_uring_smp_load_acquire(cq->ktail)) != head) {
		do {
			/* the CQEs up to the tail or the ring's end, whichever
			 * comes first, walked by pointer */
			unsigned idx = head & mask, run = tail - head;
			const struct io_uring_cqe *cqe = &cqes[idx], *end;

			if (run > mask + 1 - idx)
				run = mask + 1 - idx;
			end = cqe + run;
			head += run;
			do {
				struct tide__op *op =
					(struct tide__op *)(uintptr_t)
						cqe->user_data;

				/* every SQE has a record (u->ignore_op for
				 * cancels and linked timeouts) */
				tide__complete_in(loop, op, cqe->res,
						  cqe->flags, in_user);
			} while (++cqe != end);
		} while (head != tail);
	}
	if (head != first)
		io_uring_smp_store_release(cq->khead, head);
	loop->stats.completed += head - first;
	return (int)(head - first);
}

/*
 * An SQE for a cancel: when the SQ is full and the backlog cannot grow (no
 * memory), what is queued goes to the kernel now and the backlog moves up,
 * for as long as the kernel takes SQEs.  A cancel must not fail for want of
 * memory: its callers (a stream closing, a deadline) would wait for ever.
 */
static struct io_uring_sqe *cancel_sqe(struct tide_loop *loop)
{
	struct io_uring_sq *sq = &loop->u.ring.sq;
	struct io_uring_sqe *sqe;
	uint32_t head, left;

	while (!(sqe = tide__sqe(loop))) {
		/* while the loop is freed the cancel-all walks the backlog:
		 * it must not move under it (and every op is being cancelled) */
		if (loop->core.closing)
			return NULL;
		head = io_uring_smp_load_acquire(sq->khead);
		left = loop->u.bl_count - loop->u.bl_head;
		if (tide__submit(loop, 0) < 0)
			return NULL;
		/* SQPOLL's thread takes them on its own time: wait until the
		 * head it publishes shows room (the kernel's own view of the
		 * head, which ends the wait, moves a little earlier) */
		while ((loop->u.setup_flags & IORING_SETUP_SQPOLL) &&
		       !io_uring_sq_space_left(&loop->u.ring)) {
			int rc;

			/* a thread that cannot post completions takes none */
			if (IO_URING_READ_ONCE(*sq->kflags) &
			    IORING_SQ_CQ_OVERFLOW)
				return NULL;
			rc = io_uring_sqring_wait(&loop->u.ring);

			if (rc < 0 && rc != -EINTR)
				return NULL;
		}
		tide__backlog_flush(loop);
		if (io_uring_smp_load_acquire(sq->khead) == head &&
		    loop->u.bl_count - loop->u.bl_head == left)
			return NULL; /* the kernel took nothing (CQ overflow) */
	}
	return sqe;
}

int tide__uring_cancel(struct tide_loop *loop, struct tide__op *op)
{
	struct io_uring_sqe *sqe;

	for (uint32_t i = loop->u.bl_head; i < loop->u.bl_count; i++) {
		sqe = &loop->u.bl[i];
		if (sqe->user_data != (uint64_t)(uintptr_t)op)
			continue;
		/* never reached the kernel */
		tide__sqe_refuse(sqe, op);
		return 0;
	}
	sqe = cancel_sqe(loop);
	if (!sqe)
		return -ENOMEM;
	io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op, 0);
	io_uring_sqe_set_data(sqe, &loop->u.ignore_op);
	if (loop->u.ring.features & IORING_FEAT_CQE_SKIP)
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	return 0;
}

int tide__uring_deadline(struct tide_loop *loop, struct tide__op *op,
			 struct __kernel_timespec *ts)
{
	struct io_uring *ring = &loop->u.ring;
	struct io_uring_sqe *last, *sqe;
	uint64_t ud = (uint64_t)(uintptr_t)op;

	if (loop->u.bl_count > loop->u.bl_head) {
		last = &loop->u.bl[loop->u.bl_count - 1];
		if (last->user_data != ud || (last->flags & IOSQE_IO_LINK))
			return -EAGAIN;
		sqe = backlog_push(loop);
		if (!sqe)
			return -ENOMEM;
		last = &loop->u.bl[loop->u.bl_count - 2]; /* push may move it */
	} else {
		if (ring->sq.sqe_tail == ring->sq.sqe_head ||
		    !io_uring_sq_space_left(ring))
			return -EAGAIN;
		last = &ring->sq.sqes[(ring->sq.sqe_tail - 1) &
				      ring->sq.ring_mask];
		if (last->user_data != ud || (last->flags & IOSQE_IO_LINK))
			return -EAGAIN;
		sqe = io_uring_get_sqe(ring);
	}
	last->flags |= IOSQE_IO_LINK;
	io_uring_prep_link_timeout(sqe, ts, 0);
	io_uring_sqe_set_data(sqe, &loop->u.ignore_op);
	op->eflags |= TIDE__OP_DEADLINE;
	return 0;
}
