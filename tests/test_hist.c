// SPDX-License-Identifier: MIT
/*
 * test_hist.c - the latency histogram: bucket precision, the nearest-rank
 * percentile rule, merge, summary, and the -EINVAL paths.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "helpers.h"

static struct tide_hist h, h2;

static uint64_t pct(const struct tide_hist *x, double p)
{
	uint64_t v = 12345;

	assert_int_equal(tide_hist_percentile(x, p, &v), 0);
	return v;
}

static void test_tide_hist_init_empty(void **state)
{
	(void)state;
	memset(&h, 0xa5, sizeof(h));
	tide_hist_init(&h);
	assert_int_equal(h.count, 0);
	assert_int_equal(h.min, 0);
	assert_int_equal(h.max, 0);
	assert_int_equal(pct(&h, 50), 0);
	assert_int_equal(pct(&h, 100), 0);
	tide_hist_init(NULL); /* ignored */
}

/* Below 128 every value has its own bucket: percentiles are exact. */
static void test_tide_hist_record_exact_small(void **state)
{
	(void)state;
	tide_hist_init(&h);
	for (uint64_t v = 1; v <= 100; v++)
		tide_hist_record(&h, v);
	tide_hist_record(NULL, 1); /* ignored */
	assert_int_equal(h.count, 100);
	assert_int_equal(h.min, 1);
	assert_int_equal(h.max, 100);
	assert_int_equal(h.sum, 5050);
	assert_int_equal(pct(&h, 50), 50);
	assert_int_equal(pct(&h, 90), 90);
	assert_int_equal(pct(&h, 99), 99); /* rank 99, not 100 */
	assert_int_equal(pct(&h, 99.9), 100);
	assert_int_equal(pct(&h, 0), 1);
	assert_int_equal(pct(&h, 100), 100);
	assert_int_equal(pct(&h, 0.5), 1);
	assert_int_equal(pct(&h, 1), 1);
	assert_int_equal(pct(&h, 1.01), 2);
}

/* Large values: within 1/128 of the sample, and never outside [min, max]. */
static void test_tide_hist_record_precision(void **state)
{
	static const uint64_t vals[] = { 128,	     1000,	4097,
					 65535,	     1000000,	123456789,
					 1ull << 40, UINT64_MAX };

	(void)state;
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		uint64_t v = vals[i], p;

		tide_hist_init(&h);
		tide_hist_record(&h, v);
		tide_hist_record(&h, v * 2 < v ? v : v * 2); /* a larger one */
		tide_hist_record(&h, 0);		     /* a smaller one */
		p = pct(&h, 50); /* rank 2 of 3: the sample v */
		assert_true((p >= v ? p - v : v - p) <= v / 128);
	}
	/* one sample: every percentile is that sample exactly (clamped) */
	tide_hist_init(&h);
	tide_hist_record(&h, 1000001);
	assert_int_equal(pct(&h, 50), 1000001);
	assert_int_equal(pct(&h, 99.9), 1000001);
}

static void test_tide_hist_percentile_bad(void **state)
{
	uint64_t v = 7;

	(void)state;
	tide_hist_init(&h);
	tide_hist_record(&h, 5);
	assert_int_equal(tide_hist_percentile(NULL, 50, &v), -EINVAL);
	assert_int_equal(tide_hist_percentile(&h, 50, NULL), -EINVAL);
	assert_int_equal(tide_hist_percentile(&h, -0.1, &v), -EINVAL);
	assert_int_equal(tide_hist_percentile(&h, 100.1, &v), -EINVAL);
	assert_int_equal(tide_hist_percentile(&h, NAN, &v), -EINVAL);
	assert_int_equal(tide_hist_percentile(&h, INFINITY, &v), -EINVAL);
	assert_int_equal(v, 7); /* untouched on error */
}

static void test_tide_hist_merge(void **state)
{
	(void)state;
	tide_hist_init(&h);
	tide_hist_init(&h2);
	for (uint64_t v = 1; v <= 50; v++)
		tide_hist_record(&h, v);
	for (uint64_t v = 51; v <= 100; v++)
		tide_hist_record(&h2, v);
	assert_int_equal(tide_hist_merge(&h, &h2), 0);
	assert_int_equal(h.count, 100);
	assert_int_equal(h.min, 1);
	assert_int_equal(h.max, 100);
	assert_int_equal(pct(&h, 90), 90);
	/* into an empty one: min comes from src, not the zero */
	tide_hist_init(&h);
	assert_int_equal(tide_hist_merge(&h, &h2), 0);
	assert_int_equal(h.min, 51);
	/* an empty src changes nothing */
	tide_hist_init(&h2);
	assert_int_equal(tide_hist_merge(&h, &h2), 0);
	assert_int_equal(h.count, 50);
	assert_int_equal(h.min, 51);
	assert_int_equal(tide_hist_merge(NULL, &h2), -EINVAL);
	assert_int_equal(tide_hist_merge(&h, NULL), -EINVAL);
}

static void test_tide_hist_summary(void **state)
{
	struct tide_hist_summary s;

	(void)state;
	tide_hist_init(&h);
	assert_int_equal(tide_hist_summary(&h, &s), 0);
	assert_int_equal(s.count, 0);
	assert_true(s.mean == 0.0);
	for (uint64_t v = 1; v <= 1000; v++)
		tide_hist_record(&h, v * 1000);
	assert_int_equal(tide_hist_summary(&h, &s), 0);
	assert_int_equal(s.count, 1000);
	assert_int_equal(s.min, 1000);
	assert_int_equal(s.max, 1000000);
	assert_true(fabs(s.mean - 500500.0) < 1e-6);
	assert_int_equal(s.p50, pct(&h, 50));
	assert_int_equal(s.p90, pct(&h, 90));
	assert_int_equal(s.p99, pct(&h, 99));
	assert_int_equal(s.p999, pct(&h, 99.9));
	/* 99th of 1000 samples is 990000, reported within 1/128 */
	assert_true(s.p99 >= 990000 - 990000 / 128 &&
		    s.p99 <= 990000 + 990000 / 128);
	assert_int_equal(tide_hist_summary(NULL, &s), -EINVAL);
	assert_int_equal(tide_hist_summary(&h, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tide_hist_init_empty),
		cmocka_unit_test(test_tide_hist_record_exact_small),
		cmocka_unit_test(test_tide_hist_record_precision),
		cmocka_unit_test(test_tide_hist_percentile_bad),
		cmocka_unit_test(test_tide_hist_merge),
		cmocka_unit_test(test_tide_hist_summary),
	};

	return cmocka_run_group_tests_name("hist", tests, NULL, NULL);
}
