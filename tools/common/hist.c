// SPDX-License-Identifier: MIT
/* hist.c - log-linear latency histogram; see hist.h. */
#include <string.h>

#include "hist.h"

static unsigned bucket_of(uint64_t v)
{
	unsigned e, sub;

	if (v < HIST_SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);
	sub = (unsigned)(v >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1);
	return HIST_SUB + (e - HIST_SUB_BITS) * HIST_SUB + sub;
}

/* The middle of bucket i: the error is at most half a bucket width. */
static uint64_t bucket_mid(unsigned i)
{
	unsigned k, s;

	if (i < HIST_SUB)
		return i;
	k = (i - HIST_SUB) / HIST_SUB;
	s = (i - HIST_SUB) % HIST_SUB;
	return ((uint64_t)(HIST_SUB + s) << k) + (((uint64_t)1 << k) >> 1);
}

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void hist_record(struct hist *h, uint64_t v)
{
	h->b[bucket_of(v)]++;
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	unsigned i;

	if (!src->count)
		return;
	for (i = 0; i < HIST_BUCKETS; i++)
		dst->b[i] += src->b[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t hist_percentile(const struct hist *h, double pct)
{
	uint64_t want, seen = 0, v;
	unsigned i;

	if (!h->count)
		return 0;
	if (pct <= 0)
		return h->min;
	if (pct >= 100)
		return h->max;
	want = (uint64_t)(pct / 100.0 * (double)h->count + 0.5);
	if (want < 1)
		want = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			v = bucket_mid(i);
			if (v > h->max)
				v = h->max;
			if (v < h->min)
				v = h->min;
			return v;
		}
	}
	return h->max;
}

double hist_mean(const struct hist *h)
{
	return h->count ? (double)(h->sum / (long double)h->count) : 0.0;
}

void hist_summarize(const struct hist *h, struct hist_summary *s)
{
	s->count = h->count;
	s->min = h->count ? h->min : 0;
	s->max = h->max;
	s->mean = hist_mean(h);
	s->p50 = hist_percentile(h, 50);
	s->p90 = hist_percentile(h, 90);
	s->p99 = hist_percentile(h, 99);
	s->p999 = hist_percentile(h, 99.9);
}
