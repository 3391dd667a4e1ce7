// SPDX-License-Identifier: MIT
/*
 * test_tools.c - tools/common's strict option parser: what it accepts, and
 * every hostile value issue 13 found (nan, spaces, signs, wrapping
 * suffixes, hex, exponents, empty strings).
 */
#include <errno.h>
#include <string.h>

#include "helpers.h"
#include "opt.h"

#define U64 UINT64_MAX

static void size_ok(const char *s, uint64_t want)
{
	uint64_t v = 0;

	if (opt_size(s, 0, U64, &v) != 0 || v != want)
		fail_msg("opt_size(\"%s\") = %llu, want %llu", s,
			 (unsigned long long)v, (unsigned long long)want);
}

static void size_bad(const char *s, int err)
{
	uint64_t v = 42;
	int r = opt_size(s, 0, U64, &v);

	if (r != err || v != 42)
		fail_msg("opt_size(\"%s\") = %d (v %llu), want %d",
			 s ? s : "NULL", r, (unsigned long long)v, err);
}

static void test_opt_size_accepts(void **state)
{
	(void)state;
	size_ok("0", 0);
	size_ok("4096", 4096);
	size_ok("007", 7);
	size_ok("4k", 4096);
	size_ok("4K", 4096);
	size_ok("4KiB", 4096);
	size_ok("4kb", 4096);
	size_ok("4Ki", 4096);
	size_ok("64MiB", 64ull << 20);
	size_ok("1g", 1ull << 30);
	size_ok("2T", 2ull << 40);
	size_ok("512B", 512);
	size_ok("18446744073709551615", U64);
	size_ok("16777215t", 16777215ull << 40);
}

static void test_opt_size_rejects(void **state)
{
	static const char *const bad[] = {
		"",    " 1",   "1 ",  "-1",   "+1",    " -1",	"nan", "NaN",
		"inf", "0x10", "1e3", "1.5k", "4kk",   "4kib2", "4 k", "k",
		"4p",  "4Bi",  "4iB", "\t-0", "1,000", "٣",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		size_bad(bad[i], -EINVAL);
	size_bad(NULL, -EINVAL);
	/* overflow is an error, never a wrap */
	size_bad("18446744073709551616", -ERANGE);
	size_bad("99999999999999999999999", -ERANGE);
	size_bad("18014398509481985k", -ERANGE);
	size_bad("16777216t", -ERANGE);
	/* a malformed overflow is malformed */
	size_bad("99999999999999999999999x", -EINVAL);
}

static void test_opt_count_range(void **state)
{
	uint64_t v = 42;

	(void)state;
	assert_int_equal(opt_count("1k", 1, 4096, &v), 0);
	assert_int_equal(v, 1024);
	assert_int_equal(opt_count("4096", 1, 4096, &v), 0);
	assert_int_equal(v, 4096);
	v = 42;
	assert_int_equal(opt_count("4097", 1, 4096, &v), -ERANGE);
	assert_int_equal(opt_count("0", 1, 4096, &v), -ERANGE);
	assert_int_equal(opt_count("5k", 1, 4096, &v), -ERANGE);
	assert_int_equal(opt_count("1KiB", 1, 4096, &v),
			 -EINVAL); /* sizes only */
	assert_int_equal(opt_count("1b", 1, 4096, &v), -EINVAL);
	assert_int_equal(opt_count(" -1", 0, U64, &v), -EINVAL);
	assert_int_equal(opt_count("nan", 0, U64, &v), -EINVAL);
	assert_int_equal(v, 42);
}

static void dur_ok(const char *s, uint64_t unit, uint64_t want)
{
	uint64_t v = 0;

	if (opt_duration(s, unit, 0, U64, &v) != 0 || v != want)
		fail_msg("opt_duration(\"%s\") = %llu, want %llu", s,
			 (unsigned long long)v, (unsigned long long)want);
}

static void test_opt_duration_accepts(void **state)
{
	(void)state;
	dur_ok("5", 1000000000, 5000000000ull);
	dur_ok("0.5", 1000000000, 500000000);
	dur_ok("2s", 1000000000, 2000000000);
	dur_ok("500ms", 1000000000, 500000000);
	dur_ok("1.5us", 1000000000, 1500);
	dur_ok("250000ns", 1000000000, 250000);
	dur_ok("5", 1000000, 5000000); /* a bare number in ms */
	dur_ok("0.005s", 1000000, 5000000);
	dur_ok("1.25m", 1000000000, 75000000000ull);
	dur_ok("2h", 1000000000, 7200000000000ull);
	dur_ok("0.0000000001s", 1000000000, 0); /* below a nanosecond */
	dur_ok("0.123456789123s", 1000000000, 123456789);
}

static void test_opt_duration_rejects(void **state)
{
	static const char *const bad[] = {
		"",	".5", "5.",   "5..1", "1.2.3", " 1",
		"-1",	"+1", "nan",  "inf",  "1e3",   "5 s",
		"5sec", "5S", "5ms ", "0x5",  "5mss",  "1.5.s",
	};
	uint64_t v = 42;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (opt_duration(bad[i], 1000000000, 0, U64, &v) != -EINVAL)
			fail_msg("opt_duration(\"%s\") accepted", bad[i]);
	assert_int_equal(opt_duration(NULL, 1, 0, U64, &v), -EINVAL);
	assert_int_equal(opt_duration("1", 0, 0, U64, &v), -EINVAL);
	assert_int_equal(opt_duration("18446744074s", 1, 0, U64, &v), -ERANGE);
	assert_int_equal(opt_duration("5124096h", 1, 0, U64, &v), -ERANGE);
	assert_int_equal(opt_duration("99999999999999999999", 1, 0, U64, &v),
			 -ERANGE);
	assert_int_equal(opt_duration("0", 1000000000, 1, U64, &v), -ERANGE);
	assert_int_equal(opt_duration("2s", 1000000000, 1, 1000000000, &v),
			 -ERANGE);
	assert_int_equal(v, 42);
}

static void test_opt_why(void **state)
{
	(void)state;
	assert_string_equal(opt_why(-ERANGE), "out of range");
	assert_non_null(strstr(opt_why(-EINVAL), "not a number"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opt_size_accepts),
		cmocka_unit_test(test_opt_size_rejects),
		cmocka_unit_test(test_opt_count_range),
		cmocka_unit_test(test_opt_duration_accepts),
		cmocka_unit_test(test_opt_duration_rejects),
		cmocka_unit_test(test_opt_why),
	};

	return cmocka_run_group_tests_name("tools", tests, NULL, NULL);
}
