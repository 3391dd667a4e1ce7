/* SPDX-License-Identifier: MIT */
/*
 * bench.h - shared between tide-bench's parts (the files of tools/bench/): the
 * workload description, one engine run's result, and the engines.  Only
 * tide-bench links these objects, so the names need no prefix.
 */
#ifndef TOOLS_BENCH_H
#define TOOLS_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "hist.h"
#include "copy.h"

enum mode { BENCH_NOP = 1, BENCH_READ, BENCH_WRITE, BENCH_COPY };

enum engine {
	BENCH_E_TIDE = 0,
	BENCH_E_FIXED,
	BENCH_E_PSYNC,
	BENCH_E_POOL,
	BENCH_E_RAW,
	BENCH_E_N,
};

/* What to run; filled by the option parser, read by every engine. */
struct job {
	int mode;	      /* BENCH_* */
	int rand;	      /* random offsets (else sequential) */
	int direct;	      /* file opened with O_DIRECT */
	uint32_t bs;	      /* block size, bytes */
	uint32_t qd;	      /* in-flight operations (nop: --batch) */
	uint32_t fsync_n;     /* write: fsync after every N writes; 0 = never */
	uint32_t workers;     /* pool engine threads */
	uint64_t size;	      /* bytes of the file the offsets cover */
	uint64_t ops;	      /* stop after this many ops; 0 = by time */
	uint64_t duration_ns; /* stop after this long (when ops == 0) */
	int fd;		      /* the open file (read/write) */
	const char *path;
	int progress; /* progress line on stderr */
	uint64_t seed;
};

/* One engine's figures. */
struct result {
	const char *engine;
	uint64_t ops;	/* completed operations counted in the figures */
	uint64_t bytes; /* bytes transferred by them */
	uint64_t fsyncs;
	uint64_t ns;	      /* wall time of the measured phase */
	uint64_t cpu_ns;      /* user + system CPU of the process in it */
	uint64_t vcsw, ivcsw; /* voluntary / involuntary context switches */
	uint64_t enter_calls; /* io_uring_enter(2) calls, when known */
	struct tide_hist lat; /* per-op latency, submit to completion */
	int err;	      /* 0, or the first -errno an op failed with */
	const char *err_what; /* which step failed */
	/* tide engines: the loop configuration (tide_loop_config) */
	int has_cfg;
	uint32_t cfg_setup, cfg_sq, cfg_cq, cfg_features;
	/* nop only */
	double bytes_per_future; /* resident bytes per pending future */
	double heap_per_future;	 /* heap address space per pending future */
};

/* Engines: 0 on success with *r filled, or -errno with r->err_what set.
 * An op that fails ends the run: r->err holds its error. */
int run_tide(const struct job *j, struct result *r, int fixed);
int run_psync(const struct job *j, struct result *r);
int run_pool(const struct job *j, struct result *r);
int run_raw(const struct job *j, struct result *r);
/* nop through the public future API; also measures bytes per future. */
int run_nop_tide(const struct job *j, struct result *r);
int run_nop_raw(const struct job *j, struct result *r);

/* n per second over ns nanoseconds (0 for an empty run). */
static inline double per_sec(uint64_t n, uint64_t ns)
{
	return ns ? (double)n * 1e9 / (double)ns : 0.0;
}

/* The options every tide engine's loop gets for depth qd (the raw
 * engines set their ring up as that loop's). */
struct tide_loop_options;
void tb_loop_options(uint32_t qd, struct tide_loop_options *o);

/* Helpers (util.c). */
uint64_t now_ns(void);
void usage_begin(struct result *r);
void usage_end(struct result *r);
/* Next offset: sequential wraps at size, random is bs-aligned in [0, size). */
struct offs {
	uint64_t next, blocks, state;
	uint32_t bs;
	int rand;
};
void offs_init(struct offs *o, const struct job *j);
uint64_t offs_next(struct offs *o);
/* Is the run over after issuing `issued` ops at time now?  Inline: every
 * engine asks it once per operation, and nop measures little else. */
static inline int should_stop(const struct job *j, uint64_t issued, uint64_t t0,
			      uint64_t now)
{
	if (j->ops)
		return issued >= j->ops;
	return now - t0 >= j->duration_ns;
}
/* Progress line on stderr (no-op unless j->progress), at most 4 per second. */
void progress(const struct job *j, const char *engine, uint64_t ops,
	      uint64_t t0, uint64_t now, uint64_t *last);
void progress_clear(const struct job *j);
/* Page-aligned buffer of n bytes filled with a pattern, or NULL. */
void *buf_alloc(size_t n);

/* The target file (file.c): open j->path-to-be, or create a scratch
 * file when path is NULL.  0, or -1 after one line on stderr. */
int file_open(struct job *j, const char *path);
/* Close it; a scratch file is removed. */
void file_close(struct job *j);

#endif /* TOOLS_BENCH_H */
