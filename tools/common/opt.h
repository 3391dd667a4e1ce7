/* SPDX-License-Identifier: MIT */
/*
 * opt.h - the one strict parser for the tools' numeric options: sizes,
 * counts and durations.  A value is ASCII digits and at most one suffix,
 * nothing else: no sign, no space, no "nan"/"inf", no hex, no exponent,
 * no empty string.  Overflow is an error, never a wrap.
 *
 *	uint64_t qd;
 *	int err = opt_count(optarg, 1, 4096, &qd);
 *	if (err)
 *		return opt_bad("tide-bench", "--qd", optarg, err, "1 to 4096");
 *
 * Each returns 0 with *out set, -EINVAL when the text is malformed or
 * -ERANGE when it overflows or falls outside [min, max]; *out is left alone
 * on error.
 */
#ifndef TOOLS_OPT_H
#define TOOLS_OPT_H

#include <stdint.h>

/* Bytes: digits, then optionally one of k m g t (any case; powers of 1024,
 * as fio), which may be followed by "i" and then "b"/"B"; "B" alone is
 * allowed too: 4096, 4k, 4K, 4KiB, 4kb, 64MiB, 1g, 512B. */
int opt_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* A count: digits, then optionally one of k m g t (any case; powers of
 * 1024, as the sizes, so --qd 1k is 1024). */
int opt_count(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* A duration in nanoseconds: digits, optionally '.' and more digits, then
 * optionally one unit: ns, us, ms, s, m (minutes) or h.  A bare number is
 * in unit_ns (1000000000 for seconds, 1000000 for milliseconds).  Digits
 * below a nanosecond are dropped: "1.5us" is 1500, "0.0000000001s" is 0. */
int opt_duration(const char *s, uint64_t unit_ns, uint64_t min_ns,
		 uint64_t max_ns, uint64_t *out);

/* Why a value was refused, for messages: "not a number (digits and one
 * suffix)" for -EINVAL, "out of range" for -ERANGE. */
const char *opt_why(int err);

/* Print "PROG: bad OPT 'ARG': WHY (want WANT)" on stderr; returns 2, the
 * tools' exit status for bad usage.  want may be NULL. */
int opt_bad(const char *prog, const char *opt, const char *arg, int err,
	    const char *want);

#endif /* TOOLS_OPT_H */
