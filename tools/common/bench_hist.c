// SPDX-License-Identifier: MIT
/*
 * bench_hist.c - log-linear latency histogram (HdrHistogram's idea with 6
 * bits of sub-bucket precision): values below 64 get one bucket each, then
 * every power of two is split into 64 equal buckets.
 */
#include <string.h>

#include "bench_hist.h"

void bench_hist_init(struct bench_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

static uint32_t bucket_of(uint64_t v)
{
	unsigned msb;

	if (v < BENCH_HIST_SUB)
		return (uint32_t)v;
	msb = 63u - (unsigned)__builtin_clzll(v); /* >= 6 */
	return (msb - 5u) * BENCH_HIST_SUB +
	       (uint32_t)((v >> (msb - 6u)) & (BENCH_HIST_SUB - 1u));
}

/* Upper edge of a bucket, so percentiles never under-report. */
static uint64_t bucket_top(uint32_t i)
{
	uint32_t g = i / BENCH_HIST_SUB, s = i % BENCH_HIST_SUB;
	unsigned msb = g + 5u;

	if (g == 0)
		return s;
	return ((uint64_t)(BENCH_HIST_SUB + s + 1u) << (msb - 6u)) - 1u;
}

void bench_hist_add(struct bench_hist *h, uint64_t v)
{
	uint32_t i = bucket_of(v);

	if (i >= BENCH_HIST_BUCKETS)
		i = BENCH_HIST_BUCKETS - 1;
	h->b[i]++;
	h->n++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
	if (v < h->min)
		h->min = v;
}

uint64_t bench_hist_pct(const struct bench_hist *h, double pct)
{
	uint64_t want, seen = 0;

	if (!h->n)
		return 0;
	want = (uint64_t)((double)h->n * pct / 100.0 + 0.5);
	if (want < 1)
		want = 1;
	for (uint32_t i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			uint64_t t = bucket_top(i);

			return t < h->max ? t : h->max;
		}
	}
	return h->max;
}
