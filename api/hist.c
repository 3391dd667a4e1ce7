// SPDX-License-Identifier: MIT
/*
 * hist.c - the log-linear histogram of tide/hist.h, shared by the global
 * lock's statistics and (through the public API) every tool.
 */
#include <errno.h>
#include <string.h>

#include "tide/hist.h"

static unsigned bucket_of(uint64_t v)
{
	unsigned e, sub;

	if (v < TIDE_HIST_SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v); /* >= TIDE_HIST_SUB_BITS */
	sub = (unsigned)(v >> (e - TIDE_HIST_SUB_BITS)) & (TIDE_HIST_SUB - 1u);
	return TIDE_HIST_SUB + (e - TIDE_HIST_SUB_BITS) * TIDE_HIST_SUB + sub;
}

/* The middle of bucket i; the top bucket's middle still fits in 64 bits. */
static uint64_t bucket_mid(unsigned i)
{
	unsigned k, s;

	if (i < TIDE_HIST_SUB)
		return i;
	k = (i - TIDE_HIST_SUB) / TIDE_HIST_SUB;
	s = (i - TIDE_HIST_SUB) % TIDE_HIST_SUB;
	return ((uint64_t)(TIDE_HIST_SUB + s) << k) + (((uint64_t)1 << k) >> 1);
}

TIDE_API void tide_hist_init(struct tide_hist *h)
{
	if (h)
		memset(h, 0, sizeof(*h));
}

TIDE_API void tide_hist_record(struct tide_hist *h, uint64_t v)
{
	if (!h)
		return;
	h->b[bucket_of(v)]++;
	if (!h->count || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->count++;
	h->sum += v;
}

TIDE_API int tide_hist_merge(struct tide_hist *dst, const struct tide_hist *src)
{
	if (!dst || !src)
		return -EINVAL;
	if (!src->count)
		return 0;
	for (unsigned i = 0; i < TIDE_HIST_BUCKETS; i++)
		dst->b[i] += src->b[i];
	if (!dst->count || src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	dst->count += src->count;
	dst->sum += src->sum;
	return 0;
}

/* Nearest rank, ceil(pct / 100 * count) in [1, count].  The product is
 * taken in long double and a relative 1e-12 of rounding noise is ignored,
 * so 99 % of 100 samples is rank 99, not 100. */
static uint64_t rank_of(double pct, uint64_t count)
{
	long double x = (long double)pct * (long double)count / 100.0L;
	uint64_t r = (uint64_t)x;

	if (x - (long double)r > 1e-12L * (x > 1.0L ? x : 1.0L))
		r++;
	if (r < 1)
		r = 1;
	return r > count ? count : r;
}

TIDE_API int tide_hist_percentile(const struct tide_hist *h, double pct,
				  uint64_t *out)
{
	uint64_t want, seen = 0, v;

	if (!h || !out || !(pct >= 0.0 && pct <= 100.0))
		return -EINVAL;
	*out = 0;
	if (!h->count)
		return 0;
	if (pct == 0.0 || pct == 100.0) {
		*out = pct == 0.0 ? h->min : h->max;
		return 0;
	}
	want = rank_of(pct, h->count);
	for (unsigned i = 0; i < TIDE_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			v = bucket_mid(i);
			*out = v > h->max ? h->max : v < h->min ? h->min : v;
			return 0;
		}
	}
	*out = h->max; /* counts and buckets disagree: a hand-edited struct */
	return 0;
}

TIDE_API int tide_hist_summary(const struct tide_hist *h,
			       struct tide_hist_summary *s)
{
	if (!h || !s)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	s->count = h->count;
	if (!h->count)
		return 0;
	s->min = h->min;
	s->max = h->max;
	s->mean = (double)h->sum / (double)h->count;
	tide_hist_percentile(h, 50, &s->p50);
	tide_hist_percentile(h, 90, &s->p90);
	tide_hist_percentile(h, 99, &s->p99);
	tide_hist_percentile(h, 99.9, &s->p999);
	return 0;
}
