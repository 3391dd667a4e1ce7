// SPDX-License-Identifier: MIT
/* opt.c - strict numeric option values; see opt.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "opt.h"

/* Leading digits of *sp into *v; at least one.  -EINVAL, -ERANGE or 0. */
static int digits(const char **sp, uint64_t *v)
{
	const char *s = *sp;
	uint64_t x = 0;
	int overflow = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (x > (UINT64_MAX - d) / 10)
			overflow = 1;
		else
			x = x * 10 + d;
	}
	*sp = s;
	*v = x;
	return overflow ? -ERANGE : 0;
}

static uint64_t binary_mul(char c)
{
	switch (c) {
	case 'k':
	case 'K':
		return 1ull << 10;
	case 'm':
	case 'M':
		return 1ull << 20;
	case 'g':
	case 'G':
		return 1ull << 30;
	case 't':
	case 'T':
		return 1ull << 40;
	default:
		return 0;
	}
}

/* v * mul, range-checked, into *out. */
static int finish(uint64_t v, uint64_t mul, uint64_t min, uint64_t max,
		  uint64_t *out)
{
	if (v && mul > UINT64_MAX / v)
		return -ERANGE;
	v *= mul;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* digits then an optional binary suffix; sizes also take [i][bB]. */
static int parse_binary(const char *s, int size, uint64_t min, uint64_t max,
			uint64_t *out)
{
	uint64_t v, mul = 1;
	int err;

	if (!s)
		return -EINVAL;
	err = digits(&s, &v);
	if (err == -EINVAL)
		return err;
	if (binary_mul(*s)) {
		mul = binary_mul(*s++);
		if (size && (*s == 'i' || *s == 'I'))
			s++;
	}
	if (size && (*s == 'b' || *s == 'B'))
		s++;
	if (*s)
		return -EINVAL;
	if (err)
		return err;
	return finish(v, mul, min, max, out);
}

int opt_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	return parse_binary(s, 1, min, max, out);
}

int opt_count(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	return parse_binary(s, 0, min, max, out);
}

static const struct {
	const char *name;
	uint64_t ns;
} units[] = {
	{ "ns", 1 },	     { "us", 1000 },	      { "ms", 1000000 },
	{ "s", 1000000000 }, { "m", 60000000000ull }, { "h", 3600000000000ull },
};

int opt_duration(const char *s, uint64_t unit_ns, uint64_t min_ns,
		 uint64_t max_ns, uint64_t *out)
{
	const char *frac = NULL;
	uint64_t v, ns, part;
	size_t nfrac = 0;
	int err;

	if (!s || !unit_ns)
		return -EINVAL;
	err = digits(&s, &v);
	if (err == -EINVAL)
		return err;
	if (*s == '.') {
		frac = ++s;
		while (*s >= '0' && *s <= '9')
			s++;
		nfrac = (size_t)(s - frac);
		if (!nfrac)
			return -EINVAL;
	}
	if (*s) {
		size_t i;

		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (!strcmp(s, units[i].name))
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			return -EINVAL;
		unit_ns = units[i].ns;
	}
	if (err)
		return err;
	if (v && unit_ns > UINT64_MAX / v)
		return -ERANGE;
	ns = v * unit_ns;
	/* Each unit is a * 10^k ns, so dividing by ten digit by digit is
	 * exact down to the nanosecond; what is left below it is dropped. */
	part = unit_ns;
	for (size_t i = 0; i < nfrac && part; i++) {
		part /= 10;
		if (ns > UINT64_MAX - part * (uint64_t)(frac[i] - '0'))
			return -ERANGE;
		ns += part * (uint64_t)(frac[i] - '0');
	}
	if (ns < min_ns || ns > max_ns)
		return -ERANGE;
	*out = ns;
	return 0;
}

const char *opt_why(int err)
{
	return err == -ERANGE ? "out of range" :
				"not a number (digits and one suffix)";
}

int opt_bad(const char *prog, const char *opt, const char *arg, int err,
	    const char *want)
{
	fprintf(stderr, "%s: bad %s '%s': %s%s%s%s\n", prog, opt,
		arg ? arg : "", opt_why(err), want ? " (want " : "",
		want ? want : "", want ? ")" : "");
	return 2;
}
