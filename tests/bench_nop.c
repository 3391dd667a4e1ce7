// SPDX-License-Identifier: MIT
/*
 * bench_nop.c - NOP throughput: a bare liburing loop, the engine's own op
 * records, futures with one continuation each, and for scale the cheapest
 * future one could write on liburing (a free-list record holding a
 * continuation, one indirect call per completion, no checks at all).
 * Same ring flags and size for all four (the ones tide_loop_new() chose),
 * batch of 32 in flight, rounds interleaved (raw, engine, future, minimal,
 * raw, ...) and medians printed, one `name value unit` line per figure.
 *
 * usage: bench_nop [seconds-per-round (0.3)] [rounds (7)] [batch (32)]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uring/uring.h"

static uint64_t round_ns;
static unsigned batch = 32;

/* ---- bare liburing ---- */

static double run_raw(unsigned flags, unsigned entries)
{
	struct io_uring ring;
	struct io_uring_params p;
	uint64_t ops = 0, t0, now;
	unsigned inflight = 0;

	memset(&p, 0, sizeof(p));
	p.flags = flags;
	if (io_uring_queue_init_params(entries, &ring, &p) < 0)
		return -1;
	/* the peer tide is held to registers its ring fd, as tide does */
	(void)io_uring_register_ring_fd(&ring);
	for (unsigned i = 0; i < batch; i++) {
		io_uring_prep_nop(io_uring_get_sqe(&ring));
		inflight++;
	}
	t0 = now = tide_now_ns();
	while (now - t0 < round_ns) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;

		io_uring_submit_and_wait(&ring, 1);
		io_uring_for_each_cqe(&ring, head, cqe) {
			n++;
			io_uring_prep_nop(io_uring_get_sqe(&ring));
		}
		io_uring_cq_advance(&ring, n);
		ops += n;
		now = tide_now_ns();
	}
	io_uring_queue_exit(&ring);
	(void)inflight;
	return (double)ops * 1e9 / (double)(now - t0);
}

/* ---- the cheapest future: a record from a free list, its continuation,
 * one indirect call; no loop, no state, no error handling ---- */

struct min_fut {
	void (*fn)(void *arg, int64_t res);
	void *arg;
	struct min_fut *next;
};

static struct {
	struct io_uring ring;
	struct min_fut *free;
	uint64_t ops;
} mf;

static __attribute__((noinline)) struct min_fut *min_nop(void)
{
	struct min_fut *f = mf.free;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&mf.ring);

	mf.free = f->next;
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data(sqe, f);
	return f;
}

static __attribute__((noinline)) int
min_on_done(struct min_fut *f, void (*fn)(void *, int64_t), void *arg)
{
	if (!f || !fn)
		return -EINVAL;
	f->fn = fn;
	f->arg = arg;
	return 0;
}

static void min_done(void *arg, int64_t res)
{
	(void)arg;
	if (res < 0)
		return;
	mf.ops++;
	min_on_done(min_nop(), min_done, NULL);
}

static double run_min(unsigned flags, unsigned entries)
{
	struct min_fut *recs;
	struct io_uring_params p;
	uint64_t t0, now;

	memset(&p, 0, sizeof(p));
	p.flags = flags;
	if (io_uring_queue_init_params(entries, &mf.ring, &p) < 0)
		return -1;
	(void)io_uring_register_ring_fd(&mf.ring);
	recs = calloc(batch, sizeof(*recs));
	if (!recs)
		abort();
	mf.free = NULL;
	for (unsigned i = 0; i < batch; i++) {
		recs[i].next = mf.free;
		mf.free = &recs[i];
	}
	for (unsigned i = 0; i < batch; i++)
		min_on_done(min_nop(), min_done, NULL);
	mf.ops = 0;
	t0 = now = tide_now_ns();
	while (now - t0 < round_ns) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;

		io_uring_submit_and_wait(&mf.ring, 1);
		io_uring_for_each_cqe(&mf.ring, head, cqe) {
			struct min_fut *f = io_uring_cqe_get_data(cqe);
			void (*fn)(void *, int64_t) = f->fn;
			void *arg = f->arg;

			n++;
			f->next = mf.free;
			mf.free = f;
			fn(arg, cqe->res);
		}
		io_uring_cq_advance(&mf.ring, n);
		now = tide_now_ns();
	}
	io_uring_queue_exit(&mf.ring);
	free(recs);
	return (double)mf.ops * 1e9 / (double)(now - t0);
}

/* ---- engine op records ---- */

struct eng {
	struct tide_loop *loop;
	uint64_t ops;
};

static struct eng eng;

static void eng_done(struct tide_loop *loop, struct tide__op *op, int32_t res,
		     uint32_t cflags)
{
	(void)cflags;
	if (res < 0)
		return; /* cancelled by tide_loop_free() */
	eng.ops++;
	if (tide__op_nop(loop, op))
		abort();
}

static double run_engine(void)
{
	struct tide__op *ops;
	uint64_t t0, now;

	if (tide_loop_new(&eng.loop, NULL))
		return -1;
	ops = calloc(batch, sizeof(*ops));
	for (unsigned i = 0; i < batch; i++) {
		ops[i].done = eng_done;
		if (tide__op_nop(eng.loop, &ops[i]))
			abort();
	}
	eng.ops = 0;
	t0 = now = tide_now_ns();
	while (now - t0 < round_ns) {
		tide_loop_run_once(eng.loop, 1);
		now = tide_now_ns();
	}
	double rate = (double)eng.ops * 1e9 / (double)(now - t0);

	tide_loop_free(eng.loop); /* cancels the ones in flight */
	free(ops);
	return rate;
}

/* ---- futures with a continuation each ---- */

static uint64_t fut_ops;

static void fut_done(void *arg, int64_t res, void *payload)
{
	struct tide_loop *loop = arg;

	(void)payload;
	if (res < 0)
		return;
	fut_ops++;
	tide_future_on_done(tide_nop(loop), fut_done, loop);
}

static double run_future(void)
{
	struct tide_loop *loop;
	uint64_t t0, now;

	if (tide_loop_new(&loop, NULL))
		return -1;
	for (unsigned i = 0; i < batch; i++)
		tide_future_on_done(tide_nop(loop), fut_done, loop);
	fut_ops = 0;
	t0 = now = tide_now_ns();
	while (now - t0 < round_ns) {
		tide_loop_run_once(loop, 1);
		now = tide_now_ns();
	}
	double rate = (double)fut_ops * 1e9 / (double)(now - t0);

	tide_loop_free(loop);
	return rate;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 0.3;
	int rounds = argc > 2 ? atoi(argv[2]) : 7;
	struct tide_loop *probe;
	double raw[64], eng_r[64], fut[64], mfut[64], ratio_e[64], ratio_f[64],
		ratio_m[64];
	unsigned flags, entries;

	if (argc > 3)
		batch = (unsigned)atoi(argv[3]);
	if (secs <= 0 || rounds < 1 || rounds > 64 || batch < 1 ||
	    batch > 4096) {
		fprintf(stderr,
			"usage: bench_nop [seconds] [rounds<=64] [batch]\n");
		return 2;
	}
	round_ns = (uint64_t)(secs * 1e9);
	if (tide_loop_new(&probe, NULL)) {
		fprintf(stderr, "bench_nop: io_uring unusable here\n");
		return 77;
	}
	/* the raw loop gets exactly the ring tide chose */
	flags = probe->u.setup_flags & ~(unsigned)IORING_SETUP_CQSIZE;
	entries = probe->u.ring.sq.ring_entries;
	tide_loop_free(probe);

	/* warm-up: page in the slab, rings and code */
	round_ns /= 4;
	run_raw(flags, entries);
	run_engine();
	run_future();
	run_min(flags, entries);
	round_ns *= 4;
	for (int r = 0; r < rounds; r++) {
		raw[r] = run_raw(flags, entries);
		eng_r[r] = run_engine();
		fut[r] = run_future();
		mfut[r] = run_min(flags, entries);
		if (raw[r] <= 0 || eng_r[r] <= 0 || fut[r] <= 0 ||
		    mfut[r] <= 0) {
			fprintf(stderr, "bench_nop: ring setup failed\n");
			return 1;
		}
		ratio_e[r] = eng_r[r] / raw[r];
		ratio_f[r] = fut[r] / raw[r];
		ratio_m[r] = mfut[r] / raw[r];
	}
	printf("setup_flags 0x%x hex\n", flags);
	printf("batch %u ops\n", batch);
	printf("nop_raw_liburing %.0f ops/s\n", median(raw, rounds));
	printf("nop_engine %.0f ops/s\n", median(eng_r, rounds));
	printf("nop_future %.0f ops/s\n", median(fut, rounds));
	printf("engine_vs_raw %.3f ratio\n", median(ratio_e, rounds));
	printf("future_vs_raw %.3f ratio\n", median(ratio_f, rounds));
	/* for scale: what a future with no checks at all costs */
	printf("nop_minimal_future %.0f ops/s\n", median(mfut, rounds));
	printf("minimal_future_vs_raw %.3f ratio\n", median(ratio_m, rounds));
	/* future + op record + on_done continuation share one slab object */
	printf("bytes_per_future %u bytes\n", TIDE__SLAB_OBJ);
	return 0;
}
