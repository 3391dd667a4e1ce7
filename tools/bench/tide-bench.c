// SPDX-License-Identifier: MIT
/*
 * tide-bench - measure io_uring through tide against the alternatives.
 *
 *	tide-bench nop   [--batch N] [--engine tide|raw|all] [--duration S] [--json]
 *			 [--rounds N]
 *	tide-bench read  [FILE] [--rand] [--bs 4k] [--qd 32] [--size N] [--direct] ...
 *	tide-bench write [FILE] [... --fsync N]
 *	tide-bench copy  SRC DST [--bs 128k] [--qd 8]
 *
 * Option parsing and the run order live here; the engines are in
 * tide.c (tide, tide-fixed, nop), raw.c (raw, psync),
 * pool.c (pool); output in out.c; the file in file.c.
 * tide-bench(1) explains every figure.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tide.h>

#include "bench.h"
#include "opt.h"
#include "out.h"

#define QD_MAX 4096u

static const char *const engine_names[BENCH_E_N] = {
	[BENCH_E_TIDE] = "tide",   [BENCH_E_FIXED] = "tide-fixed",
	[BENCH_E_PSYNC] = "psync", [BENCH_E_POOL] = "pool",
	[BENCH_E_RAW] = "raw",
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tide-bench nop   [--batch N] [--engine E] [--duration S|--ops N] [--json]\n"
		"                        [--rounds N]\n"
		"       tide-bench read  [FILE] [--rand] [--bs SIZE] [--qd N] [--size SIZE]\n"
		"                        [--direct] [--engine E] [--duration S|--ops N] [--json]\n"
		"                        [--rounds N]\n"
		"       tide-bench write [FILE] [same options] [--fsync N]\n"
		"       tide-bench copy  SRC DST [--bs SIZE] [--qd N] [--json]\n"
		"engines: tide tide-fixed psync pool raw all (nop: tide raw all)\n"
		"aliases: --iodepth = --qd, --runtime = --duration, --file FILE, --workers N (pool)\n"
		"see tide-bench(1)\n");
}

static int bad_usage(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static int bad_usage(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "tide-bench: %s (see tide-bench --help)\n", msg);
	return 2;
}

static int parse_engine(const char *s, unsigned *mask)
{
	if (!strcmp(s, "all")) {
		*mask = (1u << BENCH_E_N) - 1;
		return 0;
	}
	for (unsigned i = 0; i < BENCH_E_N; i++)
		if (!strcmp(s, engine_names[i])) {
			*mask = 1u << i;
			return 0;
		}
	return -1;
}

enum {
	OPT_RAND = 256,
	OPT_DIRECT_,
	OPT_FSYNC,
	OPT_DUR,
	OPT_OPS,
	OPT_SIZE,
	OPT_BS,
	OPT_QD,
	OPT_ENGINE,
	OPT_JSON,
	OPT_FILE,
	OPT_WORKERS,
	OPT_HELP,
	OPT_BATCH,
	OPT_SEED,
	OPT_ROUNDS
};

static const struct option long_opts[] = {
	{ "rand", no_argument, NULL, OPT_RAND },
	{ "direct", no_argument, NULL, OPT_DIRECT_ },
	{ "fsync", required_argument, NULL, OPT_FSYNC },
	{ "duration", required_argument, NULL, OPT_DUR },
	{ "runtime", required_argument, NULL, OPT_DUR },
	{ "ops", required_argument, NULL, OPT_OPS },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "bs", required_argument, NULL, OPT_BS },
	{ "qd", required_argument, NULL, OPT_QD },
	{ "iodepth", required_argument, NULL, OPT_QD },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "engine", required_argument, NULL, OPT_ENGINE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "file", required_argument, NULL, OPT_FILE },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "rounds", required_argument, NULL, OPT_ROUNDS },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

#define ROUNDS_MAX 99u

struct cli {
	struct job j;
	unsigned engines;
	unsigned rounds; /* engines run interleaved this many times */
	int json;
	const char *file, *dst;
};

/* A strict numeric value (tools/common/opt.h): 0, or the usage status 2
 * after one line on stderr naming the option, the value and the range. */
static int bad_value(const char *opt, const char *arg, int err,
		     const char *want)
{
	return opt_bad("tide-bench", opt, arg, err, want);
}

static int parse_args(int argc, char **argv, struct cli *c)
{
	uint64_t v;
	int opt, err;

	if (argc < 2)
		return bad_usage("missing mode: nop, read, write or copy%s",
				 "");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		exit(0);
	}
	if (!strcmp(argv[1], "nop"))
		c->j.mode = BENCH_NOP;
	else if (!strcmp(argv[1], "read"))
		c->j.mode = BENCH_READ;
	else if (!strcmp(argv[1], "write"))
		c->j.mode = BENCH_WRITE;
	else if (!strcmp(argv[1], "copy"))
		c->j.mode = BENCH_COPY;
	else
		return bad_usage("unknown mode '%s' (nop, read, write, copy)",
				 argv[1]);
	optind = 2;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (opt) {
		case OPT_RAND:
			c->j.rand = 1;
			break;
		case OPT_DIRECT_:
			c->j.direct = 1;
			break;
		case OPT_JSON:
			c->json = 1;
			break;
		case OPT_FILE:
			c->file = optarg;
			break;
		case OPT_FSYNC:
			if ((err = opt_count(optarg, 0, UINT32_MAX, &v)))
				return bad_value(
					"--fsync", optarg, err,
					"a count of writes, 0 = never");
			c->j.fsync_n = (uint32_t)v;
			break;
		case OPT_DUR:
			if ((err = opt_duration(optarg, 1000000000ull, 1,
						1000000 * 1000000000ull,
						&c->j.duration_ns)))
				return bad_value(
					"--duration", optarg, err,
					"seconds > 0, e.g. 5, 0.5, 500ms");
			break;
		case OPT_OPS:
			if ((err = opt_count(optarg, 1, UINT64_MAX, &v)))
				return bad_value("--ops", optarg, err,
						 "a count > 0");
			c->j.ops = v;
			break;
		case OPT_SIZE:
			if ((err = opt_size(optarg, 1, UINT64_MAX, &v)))
				return bad_value("--size", optarg, err,
						 "bytes > 0, e.g. 1g");
			c->j.size = v;
			break;
		case OPT_BS:
			if ((err = opt_size(optarg, 1, 1u << 30, &v)))
				return bad_value("--bs", optarg, err,
						 "1 to 1g bytes");
			c->j.bs = (uint32_t)v;
			break;
		case OPT_QD:
		case OPT_BATCH:
			if ((err = opt_count(optarg, 1, QD_MAX, &v)))
				return bad_value(opt == OPT_QD ? "--qd" :
								 "--batch",
						 optarg, err, "1 to 4096");
			c->j.qd = (uint32_t)v;
			break;
		case OPT_WORKERS:
			if ((err = opt_count(optarg, 1, 1024, &v)))
				return bad_value("--workers", optarg, err,
						 "1 to 1024");
			c->j.workers = (uint32_t)v;
			break;
		case OPT_SEED:
			if ((err = opt_count(optarg, 0, UINT64_MAX, &v)))
				return bad_value("--seed", optarg, err,
						 "a number");
			c->j.seed = v;
			break;
		case OPT_ROUNDS:
			if ((err = opt_count(optarg, 1, ROUNDS_MAX, &v)))
				return bad_value("--rounds", optarg, err,
						 "1 to 99");
			c->rounds = (unsigned)v;
			break;
		case OPT_ENGINE:
			if (parse_engine(optarg, &c->engines) < 0)
				return bad_usage(
					"unknown engine '%s' (tide, tide-fixed, "
					"psync, pool, raw, all)",
					optarg);
			break;
		case 'h':
		case OPT_HELP:
			usage(stdout);
			exit(0);
		default:
			return bad_usage("bad option '%s'", argv[optind - 1]);
		}
	}
	if (c->j.mode == BENCH_COPY) {
		if (argc - optind != 2)
			return bad_usage("copy needs SRC and DST%s", "");
		c->file = argv[optind];
		c->dst = argv[optind + 1];
	} else if (argc - optind == 1 && c->j.mode != BENCH_NOP && !c->file) {
		c->file = argv[optind];
	} else if (argc - optind > 0) {
		return bad_usage("unexpected argument '%s'", argv[optind]);
	}
	return 0;
}

static int check_args(struct cli *c)
{
	struct job *j = &c->j;

	if (!j->bs)
		j->bs = j->mode == BENCH_COPY ? 128u << 10 : 4096;
	if (!j->qd)
		j->qd = j->mode == BENCH_COPY ? 8 : 32;
	if (!j->workers)
		j->workers = 4;
	if (!j->duration_ns)
		j->duration_ns = 5000000000ull;
	if (!c->engines)
		c->engines = 1u << BENCH_E_TIDE;
	if (!c->rounds)
		c->rounds = 1;
	if (j->mode == BENCH_COPY && c->rounds > 1)
		return bad_usage("--rounds applies to nop, read and write%s",
				 "");
	if (j->mode == BENCH_NOP &&
	    (c->engines & ~((1u << BENCH_E_TIDE) | (1u << BENCH_E_RAW)))) {
		if (c->engines == (1u << BENCH_E_N) - 1)
			c->engines = (1u << BENCH_E_TIDE) | (1u << BENCH_E_RAW);
		else
			return bad_usage(
				"nop runs on engines tide and raw only%s", "");
	}
	if (j->mode == BENCH_COPY && (c->engines & ~(1u << BENCH_E_TIDE)))
		return bad_usage("copy runs on engine tide only%s", "");
	if (j->mode == BENCH_NOP &&
	    (c->file || j->rand || j->direct || j->fsync_n || j->size))
		return bad_usage("nop takes no file, --rand, --direct, --fsync "
				 "or --size%s",
				 "");
	if (j->fsync_n && j->mode != BENCH_WRITE)
		return bad_usage("--fsync applies to write only%s", "");
	return 0;
}

int output(const struct job *j, struct result *res, unsigned n, int json,
	   const double *ratios, unsigned rounds);

static int run_one(struct job *j, unsigned e, struct result *r)
{
	memset(r, 0, sizeof(*r));
	tide_hist_init(&r->lat);
	r->engine = engine_names[e];
	if (j->mode == BENCH_NOP)
		return e == BENCH_E_RAW ? run_nop_raw(j, r) :
					  run_nop_tide(j, r);
	switch (e) {
	case BENCH_E_TIDE:
		return run_tide(j, r, 0);
	case BENCH_E_FIXED:
		return run_tide(j, r, 1);
	case BENCH_E_PSYNC:
		return run_psync(j, r);
	case BENCH_E_POOL:
		return run_pool(j, r);
	default:
		return run_raw(j, r);
	}
}

static void report_err(const struct job *j, const struct result *r, int err)
{
	const char *what = r->err_what ? r->err_what : "running";

	if (err == -ENOSPC && j->mode == BENCH_WRITE)
		fprintf(stderr, "tide-bench: %s: %s: disk full (%s)\n",
			j->path ? j->path : "-", what, strerror(-err));
	else if (err == -EINVAL && j->direct)
		fprintf(stderr,
			"tide-bench: %s: %s: %s (O_DIRECT needs "
			"sector-aligned block size and offsets)\n",
			j->path ? j->path : "-", what, strerror(-err));
	else if (err == -EPERM || err == -ENOSYS)
		/* io_uring denied or missing: the one explanation */
		fprintf(stderr, "tide-bench: %s engine: %s: %s\n", r->engine,
			what, tide_strerror(err));
	else
		fprintf(stderr, "tide-bench: %s engine: %s: %s\n", r->engine,
			what, strerror(-err));
}

int copy_main(struct job *j, const char *src, const char *dst, int json);

/* Unavailable here, in a run of several engines: skipped, not failed. */
static bool skippable(const struct cli *c, unsigned e, int ret)
{
	return c->engines != (1u << e) &&
	       ((e == BENCH_E_POOL && ret == -ENOTSUP) ||
		(e == BENCH_E_RAW && (ret == -EPERM || ret == -ENOSYS)) ||
		(e == BENCH_E_FIXED && ret == -EOPNOTSUPP));
}

static double rate(const struct result *r)
{
	return per_sec(r->ops, r->ns);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The middle of v[0..n) (sorted in place); the lower middle for even n. */
static double median_of(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[(n - 1) / 2];
}

/*
 * Engine e's median round of all[round][engine]: the round whose rate is
 * the median, so that its other figures (latency, CPU) come from one real
 * run; and, with raw run too, the median of the per-round ratios, each
 * round's engine against the raw run beside it.
 */
static void pick_median(struct result (*all)[BENCH_E_N], unsigned rounds,
			unsigned e, int with_raw, struct result *out,
			double *ratio)
{
	double v[ROUNDS_MAX], mid;
	unsigned k;

	for (k = 0; k < rounds; k++)
		v[k] = rate(&all[k][e]);
	mid = median_of(v, rounds);
	for (k = 0; k < rounds && rate(&all[k][e]) != mid; k++)
		;
	*out = all[k < rounds ? k : 0][e];
	*ratio = 0;
	if (!with_raw)
		return;
	for (k = 0; k < rounds; k++) {
		double raw = rate(&all[k][BENCH_E_RAW]);

		v[k] = raw > 0 ? rate(&all[k][e]) / raw : 0;
	}
	*ratio = median_of(v, rounds);
}

int main(int argc, char **argv)
{
	struct result res[BENCH_E_N], (*all)[BENCH_E_N];
	double ratio[BENCH_E_N];
	struct cli c;
	unsigned n = 0, live;
	int ret, status = 0;

	out_check_at_exit("tide-bench");
	memset(&c, 0, sizeof(c));
	c.j.fd = -1;
	ret = parse_args(argc, argv, &c);
	if (!ret)
		ret = check_args(&c);
	if (ret)
		return ret;
	c.j.progress = isatty(STDERR_FILENO) && !getenv("TIDE_BENCH_QUIET");
	if (c.j.mode == BENCH_COPY)
		return copy_main(&c.j, c.file, c.dst, c.json);
	all = calloc(c.rounds, sizeof(*all));
	if (!all) {
		fprintf(stderr, "tide-bench: %s\n", strerror(ENOMEM));
		return 1;
	}
	if (c.j.mode != BENCH_NOP && file_open(&c.j, c.file) < 0) {
		file_close(&c.j);
		free(all);
		return 1;
	}
	/* rounds interleave the engines (tide, raw, tide, raw, ...): on a
	 * noisy machine a ratio means something only side by side */
	live = c.engines;
	for (unsigned k = 0; k < c.rounds; k++) {
		for (unsigned e = 0; e < BENCH_E_N; e++) {
			struct result *r = &all[k][e];

			if (!(live & (1u << e)))
				continue;
			ret = run_one(&c.j, e, r);
			if (ret < 0 && skippable(&c, e, ret)) {
				/* io_uring blocked here (tide runs on
				 * epoll), or the pool asked for --fsync:
				 * "all" runs the engines that work */
				fprintf(stderr,
					"tide-bench: %s engine unavailable "
					"here (%s), skipped\n",
					engine_names[e],
					e == BENCH_E_POOL && r->err_what ?
						r->err_what :
						strerror(-ret));
				live &= ~(1u << e);
				continue;
			}
			if (ret < 0) {
				/* the other engines still run: psync and
				 * pool need no io_uring when a filter
				 * denies it */
				report_err(&c.j, r, ret);
				live &= ~(1u << e);
				status = 1;
			}
		}
	}
	file_close(&c.j);
	for (unsigned e = 0; e < BENCH_E_N; e++) {
		if (!(live & (1u << e)))
			continue;
		pick_median(all, c.rounds, e, !!(live & (1u << BENCH_E_RAW)),
			    &res[n], &ratio[n]);
		n++;
	}
	free(all);
	if (n && out_finish(output(&c.j, res, n, c.json,
				   c.rounds > 1 ? ratio : NULL, c.rounds)))
		status = 1;
	return status;
}
