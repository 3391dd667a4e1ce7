// SPDX-License-Identifier: MIT
/*
 * fuzz_addr.c - tide_addr_parse() and tide_addr_format().
 *
 * The input is used twice:
 *  - as text: whatever parses must format, and the text formatted must
 *    parse back to the same address and format to the same text again;
 *  - as a raw struct tide_addr (any length, any family) in a heap block of
 *    exactly its size: formatting must never read past it, and what it
 *    writes is a NUL-terminated string of the length it returns.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tide.h>

#include "fuzz.h"

static void check(int ok, const char *what, const char *text)
{
	if (!ok) {
		fprintf(stderr, "fuzz_addr: %s (input \"%s\")\n", what, text);
		abort();
	}
}

static void round_trip(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	char out[TIDE_ADDR_STRLEN], again[TIDE_ADDR_STRLEN];
	struct tide_addr a, b;
	int n, m, r;

	if (!text)
		return;
	memcpy(text, data, size);
	text[size] = '\0';
	r = tide_addr_parse(&a, text);
	check(r == 0 || r == -EINVAL || r == -ENAMETOOLONG, "parse errno",
	      text);
	if (r == 0) {
		check(a.len > 0 && a.len <= sizeof(a.u), "parsed length", text);
		n = tide_addr_format(&a, out, sizeof(out));
		check(n > 0 && (size_t)n == strlen(out), "format of parsed",
		      text);
		check(tide_addr_parse(&b, out) == 0, "reparse", out);
		check(a.len == b.len && !memcmp(&a.u, &b.u, a.len),
		      "round trip changed the address", out);
		m = tide_addr_format(&b, again, sizeof(again));
		check(m == n && !strcmp(out, again), "format is stable", out);
		/* too small a buffer is -ENOSPC, never an overflow */
		check(tide_addr_format(&a, out, (size_t)n) == -ENOSPC,
		      "short buffer", text);
	}
	free(text);
}

static void raw_format(const uint8_t *data, size_t size)
{
	struct tide_addr *a;
	char out[TIDE_ADDR_STRLEN];
	int n;

	if (size < sizeof(*a))
		return;
	a = malloc(sizeof(*a));
	if (!a)
		return;
	memcpy(a, data, sizeof(*a));
	memset(out, 'x', sizeof(out));
	n = tide_addr_format(a, out, sizeof(out));
	if (n >= 0)
		check((size_t)n < sizeof(out) && strlen(out) == (size_t)n,
		      "raw format length", "(raw)");
	free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	round_trip(data, size);
	raw_format(data, size);
	return 0;
}
