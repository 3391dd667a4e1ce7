// SPDX-License-Identifier: MIT
/*
 * fuzz_options.c - libFuzzer harness for the tools' strict option parser
 * (tools/common/opt.c, included here so the harness needs nothing else).
 *
 * The input is split at its first byte: that byte picks the range and the
 * default unit, the rest (made NUL-terminated) is the option value.  Every
 * call must return 0, -EINVAL or -ERANGE; on error *out is untouched; on
 * success the text is digits plus the allowed suffix characters only, the
 * value is in range, and a suffix-free value equals the digits read
 * independently here.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/common/opt.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SENTINEL 0x5a5a5a5a5a5a5a5aull

static void check(int r, uint64_t v, uint64_t min, uint64_t max)
{
	if (r != 0 && r != -EINVAL && r != -ERANGE)
		abort();
	if (r != 0 && v != SENTINEL)
		abort();
	if (r == 0 && (v < min || v > max))
		abort();
}

/* The value of s when it is nothing but digits that fit; else -1. */
static int plain(const char *s, uint64_t *v)
{
	uint64_t x = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	*v = x;
	return 0;
}

static int only(const char *s, const char *allowed)
{
	return strspn(s, allowed) == strlen(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t defaults[] = { 1, 1000, 1000000, 1000000000 };
	uint64_t min, max, v, p;
	char *s;
	int r;

	if (!size)
		return 0;
	min = data[0] & 1 ? 1 : 0;
	max = data[0] & 2 ? 4096 : UINT64_MAX;
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';

	v = SENTINEL;
	r = opt_size(s, min, max, &v);
	check(r, v, min, max);
	if (r == 0 && !only(s, "0123456789kKmMgGtTiIbB"))
		abort();
	if (plain(s, &p) == 0 && p >= min && p <= max && (r != 0 || v != p))
		abort();

	v = SENTINEL;
	r = opt_count(s, min, max, &v);
	check(r, v, min, max);
	if (r == 0 && !only(s, "0123456789kKmMgGtT"))
		abort();
	if (plain(s, &p) == 0 && p >= min && p <= max && (r != 0 || v != p))
		abort();

	v = SENTINEL;
	r = opt_duration(s, defaults[(data[0] >> 2) & 3], min, max, &v);
	check(r, v, min, max);
	if (r == 0 && !only(s, "0123456789.nsumh"))
		abort();

	(void)opt_why(r);
	free(s);
	return 0;
}
