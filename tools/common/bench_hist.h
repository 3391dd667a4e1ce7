/* SPDX-License-Identifier: MIT */
/*
 * bench_hist.h - tide-bench's latency histogram: log-linear buckets (64
 * sub-buckets per power of two, so any percentile is within 1.6 % of the
 * true value), fixed memory (about 30 KiB) whatever the sample count.
 */
#ifndef TOOLS_BENCH_HIST_H
#define TOOLS_BENCH_HIST_H

#include <stdint.h>

#define BENCH_HIST_SUB 64u
#define BENCH_HIST_BUCKETS (BENCH_HIST_SUB * 58u)

struct bench_hist {
	uint64_t n, max, min;
	uint64_t sum;
	uint32_t b[BENCH_HIST_BUCKETS];
};

void bench_hist_init(struct bench_hist *h);
void bench_hist_add(struct bench_hist *h, uint64_t v);
/* The value below which pct percent of the samples fall (0 when empty). */
uint64_t bench_hist_pct(const struct bench_hist *h, double pct);

#endif /* TOOLS_BENCH_HIST_H */
