/* SPDX-License-Identifier: MIT */
/* gil.h - tide-gil's workloads and ways (tools/gil/work.c). */
#ifndef TOOLS_GIL_H
#define TOOLS_GIL_H

#include <stdint.h>

#include <tide.h>

#include "hist.h"

enum { GIL_CPU, GIL_IO_FILE, GIL_IO_NET, GIL_CONVOY, GIL_NWORKLOADS };
enum { GIL_SEQ, GIL_GLOCK, GIL_POOL, GIL_PROC, GIL_URING, GIL_NWAYS };
enum { GIL_PIN_NONE, GIL_PIN_SPLIT, GIL_PIN_SAME };

struct gil_cfg {
	int workload;
	int threads;           /* workers; convoy: CPU-bound threads */
	uint64_t count;        /* cpu: countdown per thread */
	uint64_t ops;          /* io: operations per thread */
	uint64_t interval_ns;
	uint32_t mode;         /* TIDE_GLOCK_GIL / TIDE_GLOCK_FIFO */
	int pin;
	double duration;       /* convoy: seconds */
	uint32_t block;        /* io-file: bytes per read; io-net: message */
	const char *file;      /* io-file: file to read (NULL: a temp file) */
};

struct gil_result {
	int way;
	double wall_s, cpu_s, speedup, ops_per_sec;
	uint64_t ops;
	long nvcsw, nivcsw;
	int has_lat;
	struct tide_hist_summary lat;
	int has_lock;
	struct tide_glock_stats gs;
};

extern const char *const gil_way_names[GIL_NWAYS];
extern const char *const gil_workload_names[GIL_NWORKLOADS];

/* 1 when way applies to the workload (uring: IO workloads only). */
int gil_way_applies(int workload, int way);

/* Prepare shared state (the temp file); 0 or a negative errno. */
int gil_setup(struct gil_cfg *c, char *err, size_t errlen);
void gil_teardown(void);

/* Run one way once.  0, or a negative errno with a message in err. */
int gil_run(const struct gil_cfg *c, int way, struct gil_result *r,
	    char *err, size_t errlen);

#endif /* TOOLS_GIL_H */
