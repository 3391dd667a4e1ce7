/* SPDX-License-Identifier: MIT */
/*
 * copy.h - the copy pipeline (copy.c) behind `tide-bench copy` and tide-cp,
 * and the checks both make before it runs.
 */
#ifndef TOOLS_COPY_H
#define TOOLS_COPY_H

#include <stdint.h>
#include <sys/stat.h>

#include "hist.h"

/* Buffers in flight are capped at this many bytes whatever --qd x --bs
 * asks: the depth is lowered to fit (at least one chunk). */
#define COPY_MAX_INFLIGHT (256u << 20)

struct copy_stats {
	uint64_t bytes;	 /* size of the copy: the source up to its end */
	uint64_t chunks; /* chunks written, rewrites after growth included */
	uint64_t passes; /* 1, or more when the source grew meanwhile */
	uint32_t qd;	 /* the depth used */
	uint64_t ns;
	struct tide_hist lat; /* per chunk: read issued to write done */
};

/*
 * Copy in_fd to out_fd (both from offset 0) until the source's end of
 * file, whatever its size said: chunks of bs bytes, up to qd in flight
 * (fewer when size_hint, the source's st_size, needs fewer, and within
 * COPY_MAX_INFLIGHT) on a tide loop; each chunk is a read, then a write of
 * exactly what was read.  A source that grew during the copy is copied
 * again from where its end had been, until a pass sees no growth; a
 * regular destination is then cut at the source's end.  Returns 0 with
 * st->bytes the copy's size, or a negative errno with *what naming the
 * step (creating the loop: see tide_strerror()).
 */
int copy_run(int in_fd, int out_fd, uint64_t size_hint, uint32_t bs,
	     uint32_t qd, struct copy_stats *st, const char **what);

/*
 * Open path as a copy's source without ever blocking (O_NONBLOCK: a FIFO
 * is refused, not waited on in open(2)), and refuse anything but a regular
 * file.  Returns the descriptor (blocking mode restored) with *st filled,
 * or a negative errno with *what set: -EISDIR "is a directory", -EINVAL
 * "not a regular file", else the open/stat error.
 */
int copy_open_src(const char *path, struct stat *st, const char **what);

/* Is dst (followed through symlinks) the same file as the source st
 * (same device and inode: hard links and symlinks included)? */
int copy_same_file(const struct stat *src, const char *dst);

#endif /* TOOLS_COPY_H */
