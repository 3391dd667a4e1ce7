// SPDX-License-Identifier: MIT
/*
 * fault.c - fault injection on the seam, for tests.  TIDE_FAULT=seed=N
 * [,KIND=P]... in the environment of a process makes each loop it creates
 * inject, each with probability P percent:
 *   short   transfers on sockets and pipes cut short (a read, recv, write or
 *           send asks for 1..len bytes; default 25), which the kernel may
 *           always do there;
 *   late    single-shot completions delivered 1 to 4 dispatches late, so
 *           they arrive out of order with the others (default 25);
 *   eagain  epoll backend: a non-blocking call it tries at once (recv,
 *           send, accept, read/write on a pipe, RWF_NOWAIT on a file ...)
 *           says EAGAIN without being made: the operation must wait for
 *           readiness (or go to the pool) and still complete (default 10);
 *   eintr   the same with EINTR: the call must be made again (default 10);
 *   nomore  a multishot receive or accept ends early after one of its
 *           completions, as the kernel ends them (a receive with -ENOBUFS,
 *           an accept with -EINTR); its owner must start it again and lose
 *           no byte and no connection (default 10);
 *   nomem   io_uring: an SQE cannot be had when an operation starts (the SQ
 *           is full): it and the ones after it wait in the backlog until
 *           the next submission, in order (default 10);
 *   cancel  a single-shot operation (not a timer) is cancelled by the
 *           kernel before it ran (as io-wq does when the thread that
 *           submitted it exits): it completes with -ECANCELED, having
 *           touched nothing.  The library issues its own operations again
 *           (tide__cancel_unasked()); one a caller issued says -ECANCELED
 *           to the caller, who alone can redo it, so this kind is off
 *           unless named (default 0);
 *   alloc   the library's own allocations fail: at each loop turn the
 *           slab's free objects go back to "the system", so an allocation
 *           reuses an object freed in the same turn (never fails, as a
 *           re-arm after a completion) or takes new memory, which fails;
 *           so does every allocation made through tide__malloc(),
 *           tide__calloc() and tide__realloc() (the streams', servers'
 *           and processes' records, the engine's queues, epoll records
 *           and timer heap, the io_uring backlog, pool jobs, tasks,
 *           combinator and sendfile state) and the posts' queue (its own
 *           generator: posters are other threads).  Loop creation and
 *           set-up (the ring, the epoll set, its first hash) are not
 *           faulted: they fail tide_loop_new() on their own.  Public calls
 *           answer NULL or -ENOMEM, always before anything was done (see
 *           tide__later_reserve(), tide__ep_reserve()); off unless named
 *           (default 0).
 * Only what the kernel may legally do is injected, so callers that honour
 * the contracts keep every assertion.  eagain and eintr never strike twice
 * in a row, so every call progresses.  The choices follow from the seed
 * alone: a failure replays.  Both backends pass through here; the io_uring
 * fast path pays nothing (the loop's one "slow" test, which closing and
 * epoll need anyway).
 */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "loop_impl.h"

static uint64_t next(struct tide__fault *f)
{
	uint64_t x = f->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return f->rng = x;
}

static bool chance(struct tide__fault *f, uint32_t pct)
{
	return pct && next(f) % 100 < pct;
}

static const struct {
	const char *name;
	size_t off;
	uint32_t def;
} kinds[] = {
	{ "short", offsetof(struct tide__fault, short_pct), 25 },
	{ "late", offsetof(struct tide__fault, late_pct), 25 },
	{ "eagain", offsetof(struct tide__fault, eagain_pct), 10 },
	{ "eintr", offsetof(struct tide__fault, eintr_pct), 10 },
	{ "nomore", offsetof(struct tide__fault, nomore_pct), 10 },
	{ "nomem", offsetof(struct tide__fault, nomem_pct), 10 },
	{ "cancel", offsetof(struct tide__fault, cancel_pct), 0 },
	{ "alloc", offsetof(struct tide__fault, alloc_pct), 0 },
};

static uint32_t *pct_of(struct tide__fault *f, size_t i)
{
	return (uint32_t *)(void *)((char *)f + kinds[i].off);
}

/* "seed=N,KIND=P...": 0, or -EINVAL for anything else. */
static int parse(struct tide__fault *f, const char *spec)
{
	char buf[128], *save = NULL, *tok;
	uint64_t seed = 0;

	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, spec);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		*pct_of(f, i) = kinds[i].def;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '='), *end;
		unsigned long long v;
		size_t i;

		if (!eq || eq[1] < '0' || eq[1] > '9')
			return -EINVAL;
		errno = 0;
		v = strtoull(eq + 1, &end, 10);
		if (*end || errno)
			return -EINVAL;
		*eq = 0;
		if (strcmp(tok, "seed") == 0) {
			seed = v;
			continue;
		}
		if (strcmp(tok, "report") == 0 && v <= 1) {
			f->report = v;
			continue;
		}
		for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
			if (strcmp(tok, kinds[i].name) == 0)
				break;
		if (i == sizeof(kinds) / sizeof(kinds[0]) || v > 100)
			return -EINVAL;
		*pct_of(f, i) = (uint32_t)v;
	}
	if (!seed)
		return -EINVAL;
	/* splitmix the seed so small seeds give unrelated streams */
	seed += 0x9e3779b97f4a7c15ull;
	seed = (seed ^ (seed >> 30)) * 0xbf58476d1ce4e5b9ull;
	f->rng = (seed ^ (seed >> 27)) | 1;
	f->post_rng = f->rng ^ 0x2545f4914f6cdd1dull;
	return 0;
}

int tide__fault_init(struct tide_loop *loop)
{
	const char *e = getenv("TIDE_FAULT");

	if (!e || !*e)
		return 0;
	if (parse(&loop->fault, e)) {
		fprintf(stderr,
			"tide: TIDE_FAULT=%s: expected seed=N[,KIND=PERCENT]..."
			"[,report=1] with KIND one of short, late, eagain, "
			"eintr, nomore, nomem, cancel, alloc\n",
			e);
		return -EINVAL;
	}
	tide__slow_set(loop, TIDE__SLOW_CHECK);
	return 0;
}

void tide__fault_report(const struct tide_loop *loop)
{
	const struct tide__fault *f = &loop->fault;

	if (!f->rng || !f->report)
		return;
	fprintf(stderr,
		"tide: faults injected (%s): short %llu late %llu eagain %llu "
		"eintr %llu nomore %llu nomem %llu cancel %llu alloc %llu\n",
		loop->be->name, (unsigned long long)f->shortened,
		(unsigned long long)f->delayed, (unsigned long long)f->again,
		(unsigned long long)f->intr, (unsigned long long)f->ended,
		(unsigned long long)f->sq_full,
		(unsigned long long)f->cancelled,
		(unsigned long long)(f->nomem + f->post_nomem));
}

/*
 * May a transfer of len bytes on fd be cut short?  Where the kernel may do
 * it: a stream socket, a pipe read, a pipe write above PIPE_BUF.  Never a
 * datagram (a shorter buffer truncates the message) nor a pipe write of
 * PIPE_BUF or less (POSIX makes it atomic).
 */
static bool may_cut(int fd, unsigned len, bool out)
{
	struct stat st;
	int type = 0;
	socklen_t l = sizeof(type);

	if (fstat(fd, &st))
		return false;
	if (S_ISFIFO(st.st_mode))
		return !out || len > PIPE_BUF;
	return S_ISSOCK(st.st_mode) &&
	       getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) == 0 &&
	       type == SOCK_STREAM;
}

void tide__fault_op(struct tide_loop *loop, struct tide__op *op, int fd,
		    unsigned *len, unsigned how)
{
	struct tide__fault *f = &loop->fault;

	if (!f->rng)
		return;
	if (len && *len > 1 && chance(f, f->short_pct) &&
	    may_cut(fd, *len, how == TIDE__FAULT_OUT)) {
		*len = 1 + (unsigned)(next(f) % *len);
		f->shortened++;
	}
	if (chance(f, f->late_pct)) {
		op->eflags |= TIDE__OP_FAULT_LATE;
		f->delayed++;
	}
	if (how == TIDE__FAULT_MULTI && f->nomore_pct)
		op->eflags |= TIDE__OP_FAULT_MULTI;
}

bool tide__fault_refuse(struct tide_loop *loop, unsigned how)
{
	struct tide__fault *f = &loop->fault;

	if (!f->rng || how == TIDE__FAULT_MULTI || how == TIDE__FAULT_TIME ||
	    !chance(f, f->cancel_pct))
		return false;
	f->cancelled++;
	return true;
}

void tide__fault_turn(struct tide_loop *loop)
{
	struct tide__slab *s = &loop->core.slab;
	void **o = s->free;

	if (!o)
		return;
	/* objects freed since the last turn: a few, so the walk is cheap */
	while (*o)
		o = *o;
	*o = loop->fault.spare;
	loop->fault.spare = s->free;
	s->free = NULL;
}

int tide__fault_slab(struct tide_loop *loop)
{
	struct tide__fault *f = &loop->fault;
	void **o = f->spare;

	if (chance(f, f->alloc_pct)) {
		f->nomem++;
		return -ENOMEM;
	}
	if (!o)
		return 0;
	f->spare = *o;
	*o = NULL;
	loop->core.slab.free = o;
	return 1;
}

bool tide__fault_nomem(struct tide_loop *loop)
{
	struct tide__fault *f = &loop->fault;

	if (!f->alloc_pct || !chance(f, f->alloc_pct))
		return false;
	f->nomem++;
	return true;
}

bool tide__fault_nomem_post(struct tide_loop *loop)
{
	struct tide__fault *f = &loop->fault;
	uint64_t x = f->post_rng;

	if (!f->alloc_pct)
		return false;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	f->post_rng = x;
	if (x % 100 >= f->alloc_pct)
		return false;
	f->post_nomem++;
	return true;
}

void *tide__malloc(struct tide_loop *loop, size_t n)
{
	if (__builtin_expect(loop->fault.alloc_pct != 0, 0) &&
	    tide__fault_nomem(loop))
		return NULL;
	return malloc(n);
}

void *tide__calloc(struct tide_loop *loop, size_t k, size_t n)
{
	if (__builtin_expect(loop->fault.alloc_pct != 0, 0) &&
	    tide__fault_nomem(loop))
		return NULL;
	return calloc(k, n);
}

void *tide__realloc(struct tide_loop *loop, void *p, size_t n)
{
	if (__builtin_expect(loop->fault.alloc_pct != 0, 0) &&
	    tide__fault_nomem(loop))
		return NULL;
	return realloc(p, n);
}

bool tide__fault_sq_full(struct tide_loop *loop)
{
	struct tide__fault *f = &loop->fault;

	if (!f->rng || !chance(f, f->nomem_pct))
		return false;
	f->sq_full++;
	return true;
}

bool tide__fault_errno_slow(struct tide_loop *loop)
{
	struct tide__fault *f = &loop->fault;

	if (f->errno_last) {
		f->errno_last = false;
		return false;
	}
	if (chance(f, f->eintr_pct)) {
		f->intr++;
		errno = EINTR;
	} else if (chance(f, f->eagain_pct)) {
		f->again++;
		errno = EAGAIN;
	} else {
		return false;
	}
	f->errno_last = true;
	return true;
}

/*
 * A multishot completion with more to come: perhaps end the operation here.
 * It is cancelled (through the backend, as its owner would), the
 * completions already on their way are delivered as usual, and the final
 * -ECANCELED becomes what the kernel says when it ends a multishot on its
 * own: -ENOBUFS for a receive (the buffer ring ran dry), -EINTR for an
 * accept.  One at a time per loop.
 */
static void maybe_end(struct tide_loop *loop, struct tide__op *op,
		      uint32_t cflags)
{
	struct tide__fault *f = &loop->fault;

	if (f->ending_op || loop->core.closing ||
	    (op->eflags & TIDE__OP_DEADLINE) || !chance(f, f->nomore_pct))
		return;
	if (tide__op_cancel(loop, op))
		return;
	f->ending_op = op;
	f->ending_user = false;
	f->ending_recv = cflags & TIDE__CQ_BUFFER;
	f->ended++;
}

static int32_t ended(struct tide_loop *loop, struct tide__op *op, int32_t res)
{
	struct tide__fault *f = &loop->fault;

	op->eflags &= (uint8_t)~TIDE__OP_FAULT_MULTI;
	if (f->ending_op != op)
		return res;
	f->ending_op = NULL;
	if (res != -ECANCELED || f->ending_user || loop->core.closing)
		return res;
	return f->ending_recv ? -ENOBUFS : -EINTR;
}

void tide__complete_odd(struct tide_loop *loop, struct tide__op *op,
			int32_t res, uint32_t cflags)
{
	if (op->eflags & TIDE__OP_FAULT_LATE) {
		op->eflags &= (uint8_t)~TIDE__OP_FAULT_LATE;
		/* only a final completion: the items of a multishot stream
		 * stay in order */
		if (!(cflags & TIDE__CQ_MORE) &&
		    tide__later_push(loop, op, res, cflags,
				     1 + (uint32_t)(next(&loop->fault) % 4)) ==
			    0)
			return;
	}
	if (op->eflags & TIDE__OP_FAULT_MULTI) {
		if (cflags & TIDE__CQ_MORE)
			maybe_end(loop, op, cflags);
		else
			res = ended(loop, op, res);
	}
	if (op->eflags & TIDE__OP_CANCELLED_EARLY) {
		/* cleared: an owner may start the same record again */
		op->eflags &= (uint8_t)~TIDE__OP_CANCELLED_EARLY;
		res = -ECANCELED;
	}
	tide__op_retire(loop, op, cflags);
	op->done(loop, op, res, cflags);
}
