/* SPDX-License-Identifier: MIT */
/*
 * hist.h - a latency histogram for the tools: log-linear buckets (HDR
 * style: 64 linear sub-buckets per power of two, so a reported percentile
 * is within 1/64 = 1.6 % of the true value, usually 0.8 %), fixed memory
 * (about 30 KiB) whatever the number of samples, exact min, max and mean.
 * Values are nanoseconds (any uint64_t works).  Not thread-safe: keep one
 * per thread and merge them.
 *
 *	struct hist h;
 *	hist_init(&h);
 *	hist_record(&h, ns);
 *	hist_summarize(&h, &s);		// s.p50, s.p99, s.p999, s.max ...
 */
#ifndef TOOLS_HIST_H
#define TOOLS_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 6u
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS (HIST_SUB + (64u - HIST_SUB_BITS) * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t min, max;
	long double sum;
	uint64_t b[HIST_BUCKETS];
};

struct hist_summary {
	uint64_t count;
	uint64_t min, max;
	double mean;
	uint64_t p50, p90, p99, p999;
};

void hist_init(struct hist *h);
void hist_record(struct hist *h, uint64_t v);
/* Add every sample of src to dst. */
void hist_merge(struct hist *dst, const struct hist *src);
/* The value at or below which pct percent (0..100) of samples lie; 0 when
 * empty; never above the exact max nor below the exact min. */
uint64_t hist_percentile(const struct hist *h, double pct);
double hist_mean(const struct hist *h);
void hist_summarize(const struct hist *h, struct hist_summary *s);

#endif /* TOOLS_HIST_H */
