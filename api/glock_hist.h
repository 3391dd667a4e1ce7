/* SPDX-License-Identifier: MIT */
/*
 * glock_hist.h - a small log-linear histogram of nanosecond durations for
 * the engine's statistics: 32 linear sub-buckets per power of two (about 3%
 * relative precision), fixed size, no allocation.  The tools have their own,
 * finer one (tools/hist.c): the library cannot link tools/ code.
 */
#ifndef TIDE_GLOCK_HIST_H
#define TIDE_GLOCK_HIST_H

#include <stdint.h>
#include <string.h>

#define GLOCK_HIST_SUB_BITS 5u
#define GLOCK_HIST_SUB (1u << GLOCK_HIST_SUB_BITS)
#define GLOCK_HIST_N (GLOCK_HIST_SUB + (64u - GLOCK_HIST_SUB_BITS) * GLOCK_HIST_SUB)

struct glock_hist {
	uint64_t count;
	uint64_t sum;
	uint64_t max;
	uint64_t b[GLOCK_HIST_N];
};

static inline unsigned glock_hist_index(uint64_t v)
{
	unsigned e, sub;

	if (v < GLOCK_HIST_SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);
	sub = (unsigned)(v >> (e - GLOCK_HIST_SUB_BITS)) & (GLOCK_HIST_SUB - 1);
	return GLOCK_HIST_SUB + (e - GLOCK_HIST_SUB_BITS) * GLOCK_HIST_SUB + sub;
}

/* Middle of bucket i. */
static inline uint64_t glock_hist_value(unsigned i)
{
	unsigned k, s;

	if (i < GLOCK_HIST_SUB)
		return i;
	k = (i - GLOCK_HIST_SUB) / GLOCK_HIST_SUB;
	s = (i - GLOCK_HIST_SUB) % GLOCK_HIST_SUB;
	return ((uint64_t)(GLOCK_HIST_SUB + s) << k) + (((uint64_t)1 << k) >> 1);
}

static inline void glock_hist_add(struct glock_hist *h, uint64_t v)
{
	h->b[glock_hist_index(v)]++;
	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

/* The value below which a fraction q (0..1) of the samples lie. */
static inline uint64_t glock_hist_quantile(const struct glock_hist *h, double q)
{
	uint64_t want, seen = 0, v;
	unsigned i;

	if (!h->count)
		return 0;
	want = (uint64_t)(q * (double)h->count + 0.5);
	if (want < 1)
		want = 1;
	for (i = 0; i < GLOCK_HIST_N; i++) {
		seen += h->b[i];
		if (seen >= want) {
			v = glock_hist_value(i);
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}

#endif /* TIDE_GLOCK_HIST_H */
