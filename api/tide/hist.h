/* SPDX-License-Identifier: MIT */
/*
 * tide/hist.h - a latency histogram: log-linear buckets with fio's
 * precision, fixed memory, exact count, min, max and mean.  The global
 * lock's statistics and every tide tool report their percentiles through
 * it, so their p99s are comparable.  Include <tide.h> rather than this file.
 *
 * Buckets.  Values below 128 get a bucket each; above, every power of two
 * [2^e, 2^(e+1)) is cut into 64 equal buckets (fio's FIO_IO_U_PLAT_BITS 6,
 * HdrHistogram's idea), so a bucket is at most 1/64 of its lowest value
 * wide.  All of uint64_t is covered: nothing is clipped.
 *
 * Percentile rule (as fio's).  The pct-th percentile is found by nearest
 * rank: r = ceil(pct / 100 * count), at least 1; it is the middle of the
 * bucket that holds the r-th smallest sample, clamped into [min, max].  It
 * is within 1/128 (0.8 %) of the r-th smallest sample (exact below 128).
 * So "p99 = 250 us" means: at least 99 % of the samples were at most about
 * 250 us (the bucket holding the 99th-percentile sample is centred there).
 * pct 0 gives the exact min and pct 100 the exact max.
 *
 * A zeroed struct tide_hist is an empty histogram.  The fields are for
 * reading; change a histogram only through these functions.  Not
 * thread-safe: keep one per thread and merge them.
 */
#ifndef TIDE_HIST_H
#define TIDE_HIST_H

#include "tide/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TIDE_HIST_SUB_BITS 6
#define TIDE_HIST_SUB (1u << TIDE_HIST_SUB_BITS)
/* 64 one-value buckets, then 64 per power of two from 2^6 to 2^63. */
#define TIDE_HIST_BUCKETS \
	(TIDE_HIST_SUB + (64u - TIDE_HIST_SUB_BITS) * TIDE_HIST_SUB)

struct tide_hist {
	uint64_t count;	   /* samples recorded */
	uint64_t min, max; /* exact; both 0 while count is 0 */
	uint64_t sum;	   /* of the samples, modulo 2^64 */
	uint64_t b[TIDE_HIST_BUCKETS];
};

/* What tools print: count, min, max, mean and fio's percentile set. */
struct tide_hist_summary {
	uint64_t count;
	uint64_t min, max;
	double mean;
	uint64_t p50, p90, p99, p999;
};

/* Empty h (the same as zeroing it).  NULL is ignored. */
TIDE_API void tide_hist_init(struct tide_hist *h);

/* Count one sample v.  NULL is ignored. */
TIDE_API void tide_hist_record(struct tide_hist *h, uint64_t v);

/* Add every sample of src to dst.  0, or -EINVAL when either is NULL. */
TIDE_API int tide_hist_merge(struct tide_hist *dst,
			     const struct tide_hist *src);

/* The pct-th percentile (0 <= pct <= 100) into *out, by the rule above; 0
 * when h is empty.  0, or -EINVAL when h or out is NULL or pct is outside
 * [0, 100] or NaN. */
TIDE_API int tide_hist_percentile(const struct tide_hist *h, double pct,
				  uint64_t *out);

/* Fill *s: count, min, max, mean (0 when empty), p50, p90, p99, p99.9.
 * 0, or -EINVAL when h or s is NULL. */
TIDE_API int tide_hist_summary(const struct tide_hist *h,
			       struct tide_hist_summary *s);

#ifdef __cplusplus
}
#endif

#endif /* TIDE_HIST_H */
