/* SPDX-License-Identifier: MIT */
/*
 * hist.h - the tools' latency histogram is the library's struct tide_hist
 * (tide_hist_percentile(3): fio's buckets and nearest-rank rule), so every
 * tool's p99 means the same as the global lock's.  This adds the one
 * convenience the tables want: a percentile as a value.
 */
#ifndef TOOLS_HIST_H
#define TOOLS_HIST_H

#include <tide.h>

/* The pct-th percentile of h, 0 when h is empty (pct is a constant in
 * [0, 100] at every caller, so tide_hist_percentile cannot fail). */
static inline uint64_t hist_pct(const struct tide_hist *h, double pct)
{
	uint64_t v = 0;

	tide_hist_percentile(h, pct, &v);
	return v;
}

#endif /* TOOLS_HIST_H */
