/* SPDX-License-Identifier: MIT */
/*
 * gil.h - tide-gil's workloads and ways (tools/gil/work.c), the CPython
 * side (py.c, peer.c) and the report (out.c, svg.c).
 */
#ifndef TOOLS_GIL_H
#define TOOLS_GIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <tide.h>

#include "hist.h"

enum { GIL_CPU, GIL_IO_FILE, GIL_IO_NET, GIL_CONVOY, GIL_NWORKLOADS };
enum { GIL_SEQ, GIL_GLOCK, GIL_POOL, GIL_PROC, GIL_URING, GIL_NWAYS };
enum { GIL_PIN_NONE, GIL_PIN_SPLIT, GIL_PIN_SAME };
enum { GIL_TIDE, GIL_PY, GIL_NSIDES };

#define GIL_MAX_ROUNDS 99
#define GIL_PY_MAX_PEERS 64 /* io-net --python: connections passed on */

struct gil_cfg {
	int workload;
	int threads;	/* workers; convoy: CPU-bound threads */
	uint64_t count; /* cpu: countdown per thread */
	uint64_t ops;	/* io: operations per thread */
	uint64_t interval_ns;
	uint32_t mode; /* TIDE_GLOCK_GIL / TIDE_GLOCK_FIFO */
	int pin;
	double duration;   /* convoy: seconds */
	uint32_t block;	   /* io-file: bytes per read; io-net: message */
	const char *file;  /* io-file: file to read (NULL: a temp file) */
	uint64_t py_count; /* cpu, CPython side: countdown per thread */
	int calibrated;	   /* count / ops were chosen by calibration */
	double warmup;	   /* fraction of the size run untimed first */
	/* The interpreter's work around each IO call, which CPython does
	 * holding its lock: ns per call (GIL_CALL_COST_AUTO: measured against
	 * CPython before the rounds), done as call_turns countdown turns. */
	int64_t call_cost_ns;
	uint64_t call_turns;
};

#define GIL_CALL_COST_AUTO (-1)
/* IO calls per operation: io-net and convoy send then receive. */
#define GIL_CALLS_PER_OP(workload) ((workload) == GIL_IO_FILE ? 1 : 2)

struct gil_result {
	int way;
	double wall_s, cpu_s, speedup, ops_per_sec;
	uint64_t ops;
	long nvcsw, nivcsw;
	int has_lat;
	struct tide_hist_summary lat;
	int has_lock;
	struct tide_glock_stats gs;
	double handoffs_per_s; /* glock way (tide), threads way (CPython); <0: none */
	/* CPython cpu: busy_wait ran specialised from the timed run's start
	 * (1), not (0), no adaptive interpreter or not said (-1) */
	int specialised;
};

/* Everything one invocation measured, for the report. */
struct gil_report {
	const struct gil_cfg *c;
	int rounds;
	int nways;
	int way[GIL_NWAYS];
	int ran[GIL_NWAYS][GIL_NSIDES];
	struct gil_result r[GIL_NWAYS][GIL_NSIDES][GIL_MAX_ROUNDS];
	long cores;
	int python; /* the CPython side ran */
	char py_path[256];
	char py_version[32];
	int py_gil;		   /* 1: the interpreter has a GIL */
	char py_note[600];	   /* why the CPython side did not run */
	double tide_rate, py_rate; /* cpu calibration: countdown turns per s */
	double load[2];		   /* 1-minute load average at start and end */
	/* --call-cost auto: the sequential IO p50 of each side (ns) it came
	 * from; call_auto 0: the cost was given (or 0) */
	int call_auto, call_no_py; /* no_py: auto asked, no CPython found */
	double call_py_p50, call_tide_p50;
};

/* A figure over the rounds. */
struct gil_stat {
	int n, bad; /* finite values used, others left out */
	double med, lo, hi;
	/* A distribution-free confidence interval of the median: order
	 * statistics ci_lo..ci_hi cover the true median with probability
	 * ci_level (at least 0.90 from 5 rounds on; 0.75 from 3). */
	double ci_lo, ci_hi, ci_level;
};

extern const char *const gil_way_names[GIL_NWAYS];
extern const char *const gil_workload_names[GIL_NWORKLOADS];

/* 1 when way applies to the workload (uring: IO workloads only). */
int gil_way_applies(int workload, int way);

/* Prepare shared state (the file); 0 or a negative errno, why in err. */
int gil_setup(struct gil_cfg *c, char *err, size_t errlen);
void gil_teardown(void);
/* The io-file descriptor and size (after gil_setup). */
int gil_file_fd_get(uint64_t *size);

/* Countdown turns per second of one thread under an uncontended lock,
 * measured for about `seconds`. */
double gil_countdown_rate(double seconds);
/* The same per second of this thread's CPU time: what a turn costs when
 * it runs, however busy the machine (--call-cost). */
double gil_countdown_cpu_rate(double seconds);
/* io: sequential operations per second, measured for about `seconds`;
 * 0 and a message in err when the operation fails. */
double gil_io_rate(const struct gil_cfg *c, double seconds, char *err,
		   size_t errlen);

/* Run one way once (after an untimed warm-up of c->warmup of the size).
 * 0, or a negative errno with a message in err. */
int gil_run(const struct gil_cfg *c, int way, struct gil_result *r, char *err,
	    size_t errlen);

/* Pin the calling thread to cpu (-1: leave it). */
void gil_pin_self(int cpu);
/* All of len bytes through io (read, gil_write); 0, -errno, -EPIPE at EOF. */
int gil_full(ssize_t (*io)(int, void *, size_t), int fd, char *b, size_t len);
/* send(2) without SIGPIPE, shaped like write(2). */
ssize_t gil_write(int fd, void *b, size_t n);

/* Echo peers (peer.c), shared with the CPython side. */
struct gil_echo;
struct gil_peers {
	struct gil_echo *e;
	int *fds; /* client ends */
	int n;
};
int gil_peers_start(struct gil_peers *p, int n, uint32_t len, int cpu);
/* The CPU of the echo peers for c->pin, or -1. */
int gil_peer_cpu(const struct gil_cfg *c);
void gil_peers_stop(struct gil_peers *p);

/* CPython side (py.c).  gil_py_find: resolve the interpreter (path NULL:
 * python3 on PATH) and the script, read its version; 0 or -errno with
 * why in rep->py_note. */
int gil_py_find(struct gil_report *rep, const char *path, const char *argv0);
/* CPython's countdown turns per second (calibrate). */
double gil_py_rate(const struct gil_report *rep, char *err, size_t errlen);
/* 1 when the CPython side has an equivalent of this way. */
int gil_py_has_way(const struct gil_report *rep, int way);
int gil_py_run(const struct gil_report *rep, int way, struct gil_result *r,
	       char *err, size_t errlen);

/* Report (out.c, svg.c).  gil_median sorts v (n >= 1). */
double gil_median(double *v, int n);
void gil_stat_of(const struct gil_report *rep, int wi, int side,
		 double (*fig)(const struct gil_result *), struct gil_stat *s);
double gil_key(const struct gil_report *rep, const struct gil_result *r);
void gil_checks(struct gil_report *rep);
int gil_print_table(const struct gil_report *rep, FILE *f);
int gil_print_json(const struct gil_report *rep, FILE *f);
int gil_write_svg(const struct gil_report *rep, const char *path);
/* For svg.c: the round whose key is the median; the figures of a run
 * (wall seconds, IO p50 in microseconds); 0 or -errno of a stream. */
const struct gil_result *gil_median_run(const struct gil_report *rep, int wi,
					int side);
double gil_f_wall(const struct gil_result *r);
double gil_f_p50(const struct gil_result *r);
int gil_ferr(FILE *f);

#endif /* TOOLS_GIL_H */
