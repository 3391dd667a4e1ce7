/* SPDX-License-Identifier: MIT */
/*
 * copy.h - the copy pipeline (copy.c) behind `tide-bench copy` and tide-cp.
 */
#ifndef TOOLS_COPY_H
#define TOOLS_COPY_H

#include <stdint.h>

#include "hist.h"

struct copy_stats {
	uint64_t bytes;
	uint64_t chunks;
	uint64_t ns;
	struct tide_hist lat;      /* per chunk: read issued to write done */
};

/*
 * Copy len bytes from in_fd to out_fd (offset 0 of each) with qd chunks of
 * bs bytes in flight on a tide loop: each chunk is a read then a write of
 * exactly what was read (tide_future_then chain).  Returns 0 when every
 * byte was written, -EIO when the source ended early (short), or -errno;
 * *what names the failed step.
 */
int copy_run(int in_fd, int out_fd, uint64_t len, uint32_t bs, uint32_t qd,
	      struct copy_stats *st, const char **what);

#endif /* TOOLS_COPY_H */
