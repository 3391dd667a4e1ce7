// SPDX-License-Identifier: MIT
/*
 * tide-bench - measure io_uring through tide against the alternatives.
 *
 *	tide-bench nop   [--batch N] [--engine tide|raw|all] [--duration S] [--json]
 *	tide-bench read  [FILE] [--rand] [--bs 4k] [--qd 32] [--size N] [--direct] ...
 *	tide-bench write [FILE] [... --fsync N]
 *	tide-bench copy  SRC DST [--bs 128k] [--qd 8]
 *
 * Option parsing and the run order live here; the engines are in
 * bench_tide.c (tide, tide-fixed, nop), bench_raw.c (raw, psync),
 * bench_pool.c (pool); output in bench_out.c; the file in bench_file.c.
 * tide-bench(1) explains every figure.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tide.h>

#include "bench.h"

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
"       tide-bench read  [FILE] [--rand] [--bs SIZE] [--qd N] [--size SIZE]\n"
"                        [--direct] [--engine E] [--duration S|--ops N] [--json]\n"
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

/* "4k", "128K", "1m", "1g", "4096", "64MiB": fio's binary suffixes. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (!*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'k': case 'K': mul = 1ull << 10; end++; break;
	case 'm': case 'M': mul = 1ull << 20; end++; break;
	case 'g': case 'G': mul = 1ull << 30; end++; break;
	case 't': case 'T': mul = 1ull << 40; end++; break;
	default: break;
	}
	if (mul > 1 && (*end == 'i' || *end == 'I'))
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end || (v && mul > UINT64_MAX / v))
		return -1;
	*out = v * mul;
	return 0;
}

/* "5", "0.5", "2s", "500ms" */
static int parse_secs(const char *s, uint64_t *ns)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !(v > 0) || v > 1e6)
		return -1;
	if (!strcmp(end, "ms"))
		v /= 1000;
	else if (*end && strcmp(end, "s"))
		return -1;
	*ns = (uint64_t)(v * 1e9);
	return *ns ? 0 : -1;
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

enum { OPT_RAND = 256, OPT_DIRECT_, OPT_FSYNC, OPT_DUR, OPT_OPS, OPT_SIZE, OPT_BS, OPT_QD,
       OPT_ENGINE, OPT_JSON, OPT_FILE, OPT_WORKERS, OPT_HELP, OPT_BATCH, OPT_SEED };

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
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

struct cli {
	struct bench_job j;
	unsigned engines;
	int json;
	const char *file, *dst;
};

static int parse_num(const char *s, uint64_t max, uint64_t *out)
{
	if (parse_size(s, out) < 0 || *out > max)
		return -1;
	return 0;
}

static int parse_args(int argc, char **argv, struct cli *c)
{
	uint64_t v;
	int opt;

	if (argc < 2)
		return bad_usage("missing mode: nop, read, write or copy%s", "");
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
		case OPT_RAND: c->j.rand = 1; break;
		case OPT_DIRECT_: c->j.direct = 1; break;
		case OPT_JSON: c->json = 1; break;
		case OPT_FILE: c->file = optarg; break;
		case OPT_FSYNC:
			if (parse_num(optarg, UINT32_MAX, &v) < 0)
				return bad_usage("bad --fsync '%s'", optarg);
			c->j.fsync_n = (uint32_t)v;
			break;
		case OPT_DUR:
			if (parse_secs(optarg, &c->j.duration_ns) < 0)
				return bad_usage("bad --duration '%s' (seconds > 0)",
						 optarg);
			break;
		case OPT_OPS:
			if (parse_num(optarg, UINT64_MAX, &v) < 0 || !v)
				return bad_usage("bad --ops '%s' (a count > 0)",
						 optarg);
			c->j.ops = v;
			break;
		case OPT_SIZE:
			if (parse_size(optarg, &v) < 0 || !v)
				return bad_usage("bad --size '%s' (bytes > 0, e.g. 1g)",
						 optarg);
			c->j.size = v;
			break;
		case OPT_BS:
			if (parse_num(optarg, 1u << 30, &v) < 0 || !v)
				return bad_usage("bad --bs '%s' (1 to 1g bytes)",
						 optarg);
			c->j.bs = (uint32_t)v;
			break;
		case OPT_QD:
		case OPT_BATCH:
			if (parse_num(optarg, UINT64_MAX, &v) < 0 || !v ||
			    v > QD_MAX)
				return bad_usage("bad queue depth '%s' (1 to 4096)",
						 optarg);
			c->j.qd = (uint32_t)v;
			break;
		case OPT_WORKERS:
			if (parse_num(optarg, 1024, &v) < 0 || !v)
				return bad_usage("bad --workers '%s' (1 to 1024)",
						 optarg);
			c->j.workers = (uint32_t)v;
			break;
		case OPT_SEED:
			if (parse_num(optarg, UINT64_MAX, &v) < 0)
				return bad_usage("bad --seed '%s'", optarg);
			c->j.seed = v;
			break;
		case OPT_ENGINE:
			if (parse_engine(optarg, &c->engines) < 0)
				return bad_usage("unknown engine '%s' (tide, tide-fixed, "
						 "psync, pool, raw, all)", optarg);
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
	struct bench_job *j = &c->j;

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
	if (j->mode == BENCH_NOP &&
	    (c->engines & ~((1u << BENCH_E_TIDE) | (1u << BENCH_E_RAW)))) {
		if (c->engines == (1u << BENCH_E_N) - 1)
			c->engines = (1u << BENCH_E_TIDE) | (1u << BENCH_E_RAW);
		else
			return bad_usage("nop runs on engines tide and raw only%s", "");
	}
	if (j->mode == BENCH_COPY &&
	    (c->engines & ~(1u << BENCH_E_TIDE)))
		return bad_usage("copy runs on engine tide only%s", "");
	if (j->mode == BENCH_NOP && (c->file || j->rand || j->direct ||
				     j->fsync_n || j->size))
		return bad_usage("nop takes no file, --rand, --direct, --fsync "
				 "or --size%s", "");
	if (j->fsync_n && j->mode != BENCH_WRITE)
		return bad_usage("--fsync applies to write only%s", "");
	return 0;
}

int bench_output(const struct bench_job *j, struct bench_result *res,
		 unsigned n, int json);

static int run_one(struct bench_job *j, unsigned e, struct bench_result *r)
{
	memset(r, 0, sizeof(*r));
	bench_hist_init(&r->lat);
	r->engine = engine_names[e];
	if (j->mode == BENCH_NOP)
		return e == BENCH_E_RAW ? bench_run_nop_raw(j, r)
					: bench_run_nop_tide(j, r);
	switch (e) {
	case BENCH_E_TIDE: return bench_run_tide(j, r, 0);
	case BENCH_E_FIXED: return bench_run_tide(j, r, 1);
	case BENCH_E_PSYNC: return bench_run_psync(j, r);
	case BENCH_E_POOL: return bench_run_pool(j, r);
	default: return bench_run_raw(j, r);
	}
}

static void report_err(const struct bench_job *j, const struct bench_result *r,
		       int err)
{
	const char *what = r->err_what ? r->err_what : "running";

	if (err == -ENOSPC && j->mode == BENCH_WRITE)
		fprintf(stderr, "tide-bench: %s: %s: disk full (%s)\n",
			j->path ? j->path : "-", what, strerror(-err));
	else if (err == -EINVAL && j->direct)
		fprintf(stderr, "tide-bench: %s: %s: %s (O_DIRECT needs "
			"sector-aligned block size and offsets)\n",
			j->path ? j->path : "-", what, strerror(-err));
	else
		fprintf(stderr, "tide-bench: %s engine: %s: %s\n", r->engine,
			what, strerror(-err));
}

int bench_copy_main(struct bench_job *j, const char *src, const char *dst,
		    int json);

int main(int argc, char **argv)
{
	struct bench_result res[BENCH_E_N];
	struct cli c;
	unsigned n = 0;
	int ret, status = 0;

	memset(&c, 0, sizeof(c));
	c.j.fd = -1;
	ret = parse_args(argc, argv, &c);
	if (!ret)
		ret = check_args(&c);
	if (ret)
		return ret;
	c.j.progress = isatty(STDERR_FILENO) && !getenv("TIDE_BENCH_QUIET");
	if (c.j.mode == BENCH_COPY)
		return bench_copy_main(&c.j, c.file, c.dst, c.json);
	if (c.j.mode != BENCH_NOP && bench_file_open(&c.j, c.file) < 0) {
		bench_file_close(&c.j);
		return 1;
	}
	for (unsigned e = 0; e < BENCH_E_N; e++) {
		if (!(c.engines & (1u << e)))
			continue;
		ret = run_one(&c.j, e, &res[n]);
		if (ret == -ENOTSUP && e == BENCH_E_POOL &&
		    c.engines != (1u << e)) {
			/* pool is optional in "all" when the library lacks it */
			fprintf(stderr, "tide-bench: pool engine unavailable, "
				"skipped\n");
			continue;
		}
		if (ret < 0 && c.engines != (1u << e) &&
		    ((e == BENCH_E_RAW && (ret == -EPERM || ret == -ENOSYS)) ||
		     (e == BENCH_E_FIXED && ret == -EOPNOTSUPP))) {
			/* io_uring blocked here (tide runs on epoll): "all"
			 * runs the engines that work */
			fprintf(stderr, "tide-bench: %s engine unavailable "
				"here (%s), skipped\n", engine_names[e],
				strerror(-ret));
			continue;
		}
		if (ret < 0) {
			report_err(&c.j, &res[n], ret);
			status = 1;
			break;
		}
		n++;
	}
	bench_file_close(&c.j);
	if (n && !status && bench_output(&c.j, res, n, c.json) < 0)
		status = 1;
	return status;
}
