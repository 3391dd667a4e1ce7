// SPDX-License-Identifier: MIT
/*
 * fault.c - fault injection on the seam, for tests: TIDE_FAULT=seed=N
 * [,short=P][,late=P] in the environment of a process makes each loop it
 * creates
 *   - cut transfers on sockets and pipes short (a read, recv, write or send
 *     asks for 1..len bytes; P percent of them, default 25), which the
 *     kernel may always do there, and
 *   - deliver single-shot completions 1 to 4 dispatches late, so they
 *     arrive out of order with the others (P percent, default 25).
 * Only what the kernel may legally do is injected, so callers that honour
 * the contracts (short transfers on streams, completion order) keep every
 * assertion.  The choices follow from the seed alone: a failure replays.
 * Both backends pass through here; the io_uring fast path pays nothing
 * (the loop's one "slow" test, which closing and epoll need anyway).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* "seed=N,short=P,late=P": 0, or -EINVAL for anything else. */
static int parse(struct tide__fault *f, const char *spec)
{
	char buf[128], *save = NULL, *tok;
	uint64_t seed = 0;

	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, spec);
	f->short_pct = 25;
	f->late_pct = 25;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '='), *end;
		unsigned long long v;

		if (!eq || eq[1] < '0' || eq[1] > '9')
			return -EINVAL;
		v = strtoull(eq + 1, &end, 10);
		if (*end)
			return -EINVAL;
		*eq = 0;
		if (strcmp(tok, "seed") == 0)
			seed = v;
		else if (strcmp(tok, "short") == 0 && v <= 100)
			f->short_pct = (uint32_t)v;
		else if (strcmp(tok, "late") == 0 && v <= 100)
			f->late_pct = (uint32_t)v;
		else
			return -EINVAL;
	}
	if (!seed)
		return -EINVAL;
	/* splitmix the seed so small seeds give unrelated streams */
	seed += 0x9e3779b97f4a7c15ull;
	seed = (seed ^ (seed >> 30)) * 0xbf58476d1ce4e5b9ull;
	f->rng = (seed ^ (seed >> 27)) | 1;
	return 0;
}

int tide__fault_init(struct tide_loop *loop)
{
	const char *e = getenv("TIDE_FAULT");

	if (!e || !*e)
		return 0;
	if (parse(&loop->fault, e)) {
		fprintf(stderr,
			"tide: TIDE_FAULT=%s: expected "
			"seed=N[,short=PERCENT][,late=PERCENT]\n",
			e);
		return -EINVAL;
	}
	loop->slow = true;
	return 0;
}

void tide__fault_op(struct tide_loop *loop, struct tide__op *op, int fd,
		    unsigned *len)
{
	struct tide__fault *f = &loop->fault;
	struct stat st;

	if (!f->rng)
		return;
	if (len && *len > 1 && chance(f, f->short_pct) && fstat(fd, &st) == 0 &&
	    (S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode))) {
		*len = 1 + (unsigned)(next(f) % *len);
		f->shortened++;
	}
	if (chance(f, f->late_pct)) {
		op->eflags |= TIDE__OP_FAULT_LATE;
		f->delayed++;
	}
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
	if (op->eflags & TIDE__OP_CANCELLED_EARLY)
		res = -ECANCELED;
	tide__op_retire(loop, op, cflags);
	op->done(loop, op, res, cflags);
}
