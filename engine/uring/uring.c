// SPDX-License-Identifier: MIT
/*
 * uring.c - the io_uring backend: ring setup (fast flags first, falling back
 * to what the kernel accepts), the wake-up read on the loop's eventfd,
 * polling (submit, wait, reap) and cancel-all for freeing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "epoll/epoll.h"
#include "uring.h"

/* Try the fast setups first, keep the first the kernel accepts. */
static int setup_ring(struct tide_loop *loop, const struct tide_loop_options *o)
{
	static const struct {
		unsigned flags;
		uint32_t tide;
	} tries[] = {
		{ IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			  IORING_SETUP_TASKRUN_FLAG,
		  TIDE_SETUP_DEFER_TASKRUN },
		{ IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
		  TIDE_SETUP_COOP_TASKRUN },
		{ 0, 0 },
	};
	unsigned entries = o->entries ? o->entries : 256;
	int ret = -EINVAL;

	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		struct io_uring_params p;

		if (tries[i].flags && (o->flags & TIDE_LOOP_NO_FAST_FLAGS))
			continue;
		if ((tries[i].flags & IORING_SETUP_DEFER_TASKRUN) &&
		    (o->flags &
		     (TIDE_LOOP_NO_DEFER_TASKRUN | TIDE_LOOP_SQPOLL)))
			continue;
		for (int submit_all = 1; submit_all >= 0; submit_all--) {
			memset(&p, 0, sizeof(p));
			p.flags = tries[i].flags;
			if (submit_all)
				p.flags |= IORING_SETUP_SUBMIT_ALL;
			if (o->cq_entries) {
				p.flags |= IORING_SETUP_CQSIZE;
				p.cq_entries = o->cq_entries;
			}
			if (o->flags & TIDE_LOOP_SQPOLL) {
				p.flags |= IORING_SETUP_SQPOLL;
				p.sq_thread_idle = o->sqpoll_idle_ms ?
							   o->sqpoll_idle_ms :
							   1000;
			}
			ret = tide__sys_setup(entries, &loop->u.ring, &p);
			/* tide__sqe() and tide__reap() index 64-byte SQEs
			 * and 16-byte CQEs */
			if (ret == 0 && (p.flags & (IORING_SETUP_SQE128 |
						    IORING_SETUP_CQE32))) {
				io_uring_queue_exit(&loop->u.ring);
				return -EINVAL;
			}
			if (ret == 0) {
				loop->u.setup_flags = p.flags;
				loop->u.tide_setup = tries[i].tide;
				if (submit_all)
					loop->u.tide_setup |=
						TIDE_SETUP_SUBMIT_ALL;
				if (p.flags & IORING_SETUP_SQPOLL)
					loop->u.tide_setup |= TIDE_SETUP_SQPOLL;
				return 0;
			}
			/* only "this combination is unsupported" falls back */
			if (ret != -EINVAL)
				return ret;
		}
	}
	return ret;
}

static void wake_done(struct tide_loop *loop, struct tide__op *op, int32_t res,
		      uint32_t cflags);

/* A cancel's, a linked timeout's or an injected NOP's completion. */
static void ignore_done(struct tide_loop *loop, struct tide__op *op,
			int32_t res, uint32_t cflags)
{
	(void)loop;
	(void)op;
	(void)res;
	(void)cflags;
}

static int arm_wake(struct tide_loop *loop)
{
	struct io_uring_sqe *sqe = tide__sqe(loop);

	if (!sqe)
		return -ENOMEM;
	io_uring_prep_read(sqe, loop->wake_fd, &loop->u.wake_buf,
			   sizeof(loop->u.wake_buf), 0);
	io_uring_sqe_set_data(sqe, &loop->u.wake_op);
	loop->u.wake_armed = true;
	return 0;
}

static void wake_done(struct tide_loop *loop, struct tide__op *op, int32_t res,
		      uint32_t cflags)
{
	(void)op;
	(void)res;
	(void)cflags;
	loop->u.wake_armed = false;
	/* per-op fallback jobs (LACKS in ops.c) finish on the blocking pool,
	 * which writes the eventfd: the read drained it, now take them */
	tide__ep_reap(loop);
	if ((!loop->core.closing || tide__ep_busy(loop)) && arm_wake(loop))
		tide__warn(loop, "cannot re-arm the wake-up read");
}

/* The opcodes every tide loop needs from the ring itself; without them
 * (kernels before 5.6) the epoll backend serves better. */
static bool has_basics(const struct tide_loop *loop)
{
	static const int need[] = { IORING_OP_NOP,	    IORING_OP_READ,
				    IORING_OP_WRITE,	    IORING_OP_TIMEOUT,
				    IORING_OP_ASYNC_CANCEL, IORING_OP_POLL_ADD,
				    IORING_OP_RECV,	    IORING_OP_SEND,
				    IORING_OP_ACCEPT,	    IORING_OP_CONNECT };

	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!tide__has_op(loop, need[i]))
			return false;
	return true;
}

static int u_init(struct tide_loop *loop, const struct tide_loop_options *o)
{
	int ret = setup_ring(loop, o);

	if (ret)
		return ret;
	loop->u.probe = io_uring_get_probe_ring(&loop->u.ring);
	if (!has_basics(loop)) {
		ret = -EOPNOTSUPP;
		goto err;
	}
	/* the kernel skips an fget/fput of the ring per enter (5.18) */
	loop->u.ring_fd_registered = io_uring_register_ring_fd(&loop->u.ring) ==
				     1;
	loop->u.ignore_op.done = ignore_done;
	loop->u.ignore_op.eflags = TIDE__OP_INTERNAL;
	loop->u.wake_op.done = wake_done;
	loop->u.wake_op.eflags = TIDE__OP_INTERNAL;
	ret = arm_wake(loop);
	if (ret)
		goto err;
	/* A real enter, submitting the wake-up read: a seccomp filter may deny
	 * io_uring_enter(2) alone (setup allowed), and then this loop could
	 * never run; the epoll backend can.  (SQPOLL submits without enter.) */
	ret = tide__submit(loop, 0);
	if (ret)
		goto err;
	return 0;
err:
	if (loop->u.probe)
		io_uring_free_probe(loop->u.probe);
	loop->u.probe = NULL;
	io_uring_queue_exit(&loop->u.ring);
	return ret;
}

static void u_fini(struct tide_loop *loop)
{
	/* the wake-up read still owns wake_buf: complete it and reap it */
	if (loop->u.wake_armed) {
		uint64_t one = 1;

		if (write(loop->wake_fd, &one, sizeof(one)) < 0 &&
		    errno != EAGAIN)
			tide__warn(loop, "cannot end the wake-up read: %s",
				   strerror(errno));
		while (loop->u.wake_armed && tide__submit(loop, 1) == 0)
			tide__reap(loop);
	}
	tide__ep_release(loop); /* the per-op fallback's pool, if it ran */
	if (loop->u.probe)
		io_uring_free_probe(loop->u.probe);
	io_uring_queue_exit(&loop->u.ring);
	tide__fixfd_free(loop);
	free(loop->u.bl);
}

/*
 * Freeing, and io_uring_enter(2) fails for good (a seccomp filter installed
 * after the loop was made, say): the kernel will take nothing more.  SQEs it
 * never consumed complete here (-ECANCELED), which is exact: nobody else
 * saw their buffers.  Operations it took earlier cannot be reaped without
 * enter; closing the ring makes the kernel cancel them, and they are
 * reported, never waited for (waiting could not end).
 */
static void ring_dead(struct tide_loop *loop, int err)
{
	struct io_uring_sq *sq = &loop->u.ring.sq;
	unsigned head = IO_URING_READ_ONCE(*sq->khead);
	unsigned shift = (loop->u.ring.flags & IORING_SETUP_SQE128) ? 1 : 0;

	loop->u.dead = true;
	for (; head != sq->sqe_tail; head++) {
		struct io_uring_sqe *sqe =
			&sq->sqes[(head & sq->ring_mask) << shift];
		struct tide__op *op =
			(struct tide__op *)(uintptr_t)sqe->user_data;

		if (op) {
			op->eflags |= TIDE__OP_CANCELLED_EARLY;
			tide__complete(loop, op, -ECANCELED, 0);
		}
	}
	sq->sqe_head = sq->sqe_tail;
	if (loop->core.ops_pending)
		fprintf(stderr,
			"tide: io_uring_enter fails while freeing the "
			"loop (%s): %llu operations the kernel took are "
			"cancelled by closing the ring, not reaped\n",
			strerror(-err),
			(unsigned long long)loop->core.ops_pending);
	loop->core.ops_pending = 0;
	loop->u.wake_armed = false;
}

static int u_poll(struct tide_loop *loop, int wait)
{
	int ret;

	if (__builtin_expect(loop->u.bl_head != loop->u.bl_count, 0))
		tide__backlog_flush(loop);
	if (loop->u.bl_head != loop->u.bl_count || loop->later_n)
		wait = 0; /* SQ full, or completions to deliver: no sleeping */
	/* heap timers (tide__op_timeout) bound the wait; loop->ep exists
	 * only once a timer or a fallback job was started */
	if (__builtin_expect(loop->u.dead, 0))
		return 0;
	ret = tide__submit_until(loop, wait,
				 loop->ep ? tide__ep_timer_wait_ns(loop) : -1);
	if (__builtin_expect(ret < 0, 0)) {
		if (loop->core.closing)
			ring_dead(loop, ret);
		return ret;
	}
	ret = tide__reap(loop);
	if (__builtin_expect(loop->ep != NULL, 0))
		ret += (int)tide__ep_expire(loop);
	return ret;
}

/* Completion of the cancel-all request: remember a kernel without
 * IORING_ASYNC_CANCEL_ALL (before 5.19). */
static void cancel_all_done(struct tide_loop *loop, struct tide__op *op,
			    int32_t res, uint32_t cflags)
{
	(void)op;
	(void)cflags;
	if (res == -EINVAL)
		loop->u.no_cancel_all = true;
	else
		loop->u.cancelled_all = true; /* closing: nothing new starts */
	loop->u.cancel_inflight = false;
}

/*
 * Freeing: operations still in the backlog never reached the kernel, so
 * they complete here and now (-ECANCELED); one ASYNC_CANCEL with
 * CANCEL_ALL|CANCEL_ANY then ends everything the kernel holds (old kernels:
 * one CANCEL_ANY per free SQ slot).  The SQ is submitted first, so a
 * cancel always finds a slot.
 */
static void u_cancel_all(struct tide_loop *loop)
{
	struct tide__uring *u = &loop->u;
	struct io_uring_sqe *sqe;
	unsigned n = 1;

	tide__ep_cancel_own(loop); /* heap timers, queued fallback jobs */
	for (uint32_t i = u->bl_head; i < u->bl_count; i++) {
		struct tide__op *op =
			(struct tide__op *)(uintptr_t)u->bl[i].user_data;

		if (op) {
			op->eflags |= TIDE__OP_CANCELLED_EARLY;
			tide__complete(loop, op, -ECANCELED, 0);
		}
	}
	u->bl_head = u->bl_count = 0;
	if (u->cancel_inflight || u->cancelled_all || u->dead)
		return;
	/* room for the cancel: submit; SQPOLL's thread takes the SQ in its
	 * own time, so wait for it */
	if (io_uring_sq_space_left(&u->ring) == 0)
		(void)tide__submit(loop, 0);
	while ((u->setup_flags & IORING_SETUP_SQPOLL) &&
	       io_uring_sq_space_left(&u->ring) == 0)
		(void)io_uring_sqring_wait(&u->ring);
	if (u->no_cancel_all)
		n = io_uring_sq_space_left(&u->ring);
	u->cancel_op.done = cancel_all_done;
	u->cancel_op.eflags = TIDE__OP_INTERNAL;
	for (unsigned k = 0; k < n; k++) {
		sqe = io_uring_get_sqe(&u->ring);
		if (!sqe)
			break; /* SQPOLL has not consumed the SQ yet: next pass */
		io_uring_prep_cancel64(
			sqe, 0,
			IORING_ASYNC_CANCEL_ANY |
				(u->no_cancel_all ? 0 :
						    IORING_ASYNC_CANCEL_ALL));
		io_uring_sqe_set_data(sqe,
				      u->no_cancel_all ? NULL : &u->cancel_op);
		u->cancel_inflight = !u->no_cancel_all;
	}
}

static void u_config(const struct tide_loop *loop, struct tide_loop_config *cfg)
{
	cfg->setup = loop->u.tide_setup;
	cfg->sq_entries = loop->u.ring.sq.ring_entries;
	cfg->cq_entries = loop->u.ring.cq.ring_entries;
	cfg->features = loop->u.ring.features;
	cfg->wake = 0;
}

const struct tide__backend tide__uring_backend = {
	.name = "io_uring",
	.init = u_init,
	.fini = u_fini,
	.poll = u_poll,
	.cancel_all = u_cancel_all,
	.config = u_config,
};
