/* SPDX-License-Identifier: MIT */
/*
 * install_prog.c - built by tests/t_install.sh against an installed copy of
 * tide, found through pkg-config: create a loop, run one NOP to completion.
 * Prints OK and exits 0; exits 77 (skip) when io_uring is unusable here.
 */
#include <stdio.h>
#include <tide.h>

int main(void)
{
	struct tide_loop *loop;
	struct tide_future *f;
	int64_t res;
	int ret;

	ret = tide_loop_new(&loop, NULL);
	if (ret < 0) {
		printf("SKIP: %s\n", tide_strerror(ret));
		return 77;
	}
	f = tide_nop(loop);
	if (!f) {
		fprintf(stderr, "tide_nop failed\n");
		return 1;
	}
	ret = tide_loop_run_until(loop, f);
	res = tide_future_result(f);
	tide_future_release(f);
	tide_loop_free(loop);
	if (ret < 0 || res != 0) {
		fprintf(stderr, "run_until %d, result %lld\n", ret,
			(long long)res);
		return 1;
	}
	printf("OK tide %s\n", TIDE_VERSION_STRING);
	return 0;
}
