// SPDX-License-Identifier: MIT
/*
 * tide-gil - the contention lab: run one workload every way (sequential,
 * threads under the emulated global lock, a pool of threads with private
 * locks, processes, tide's io_uring loop) in interleaved rounds, optionally
 * beside CPython running the same workload (--python), and check what a
 * faithful CPython-GIL emulation must reproduce against stated bands.
 * Workloads: work.c; CPython: py.c, peer.c and gil_workloads.py;
 * report: out.c and svg.c.
 *
 * Exit status: 0 ran, 1 a run failed, 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tide.h>

#include "gil.h"
#include "opt.h"

static const char usage[] =
	"Usage: tide-gil [OPTIONS] [--python [PATH]]\n"
	"Run one workload sequentially, in threads under an emulated global\n"
	"lock (CPython's GIL), in a thread pool without a lock, in processes and\n"
	"on tide's io_uring loop, in interleaved rounds, and compare; with\n"
	"--python, beside CPython running the same workload.  See tide-gil(1).\n"
	"\n"
	"  -w, --workload W         cpu (default), io-file, io-net, convoy\n"
	"  -t, --threads N          worker threads (convoy: CPU-bound threads); 2\n"
	"  -n, --count N            cpu: countdown per thread; default calibrated\n"
	"                           so sequential runs min(N, cores) seconds\n"
	"  -o, --ops N              io: operations per thread; calibrated alike\n"
	"  -i, --switch-interval T  e.g. 5ms, 100us, 0.005s (bare number: ms); 5ms\n"
	"  -m, --mode M             gil (default) or fifo\n"
	"  -p, --pin P              none (default), split (one core each), same\n"
	"  -r, --repeat R           rounds, ways interleaved; medians; 3\n"
	"  -d, --duration S         convoy: seconds per way and round; 1\n"
	"  -W, --ways LIST          comma-separated subset of sequential,glock,\n"
	"                           pool,processes,uring; default all that apply\n"
	"  -b, --block N            io-file read size, io-net message size;\n"
	"                           4096 and 64\n"
	"  -f, --file PATH          io-file: read this file (default: a temp file)\n"
	"  -P, --python [PATH]      also run it in CPython (default: python3)\n"
	"  -C, --call-cost T|auto   io: the interpreter's work under the lock\n"
	"                           before each IO call, e.g. 2us (bare number:\n"
	"                           us); auto (with --python): CPython's extra\n"
	"                           time per call, measured first; default 0\n"
	"  -j, --json               one JSON object on stdout\n"
	"  -s, --svg FILE           also write the picture as SVG\n"
	"  -h, --help               this help\n"
	"\n"
	"Exit status: 0 ran, 1 a run failed, 2 bad usage.\n";

__attribute__((format(printf, 1, 2), noreturn)) static void bad(const char *fmt,
								...)
{
	va_list ap;

	fprintf(stderr, "tide-gil: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'tide-gil --help'.\n");
	exit(2);
}

/* The strict parsers of tools/common/opt.h; bad values exit 2. */
static uint64_t num(const char *s, const char *what, uint64_t lo, uint64_t hi)
{
	char want[64];
	uint64_t v;
	int err = opt_count(s, lo, hi, &v);

	if (err) {
		snprintf(want, sizeof(want), "%llu to %llu",
			 (unsigned long long)lo, (unsigned long long)hi);
		exit(opt_bad("tide-gil", what, s, err, want));
	}
	return v;
}

/* "5ms", "100us", "250000ns", "0.005s"; a bare number is milliseconds. */
static uint64_t parse_interval(const char *s)
{
	uint64_t v;
	int err = opt_duration(s, 1000000, 1000, 10000000000ull, &v);

	if (err)
		exit(opt_bad(
			"tide-gil", "--switch-interval", s, err,
			"1us to 10s, e.g. 5ms, 100us; a bare number is ms"));
	return v;
}

static int lookup(const char *s, const char *const *names, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

static unsigned parse_ways(const char *list)
{
	char buf[256], *tok, *save = NULL;
	unsigned mask = 0;
	int w;

	if (strlen(list) >= sizeof(buf))
		bad("--ways list too long: '%s'", list);
	strcpy(buf, list);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		w = lookup(tok, gil_way_names, GIL_NWAYS);
		if (w < 0)
			bad("unknown way '%s' (sequential, glock, pool, processes, uring)",
			    tok);
		mask |= 1u << w;
	}
	if (!mask)
		bad("empty --ways list '%s'", list);
	return mask;
}

/* ---- main -------------------------------------------------------------- */

struct gil_opts {
	unsigned ways;
	int ways_set; /* -W given: a way that cannot run is an error */
	int repeat, json, python, n_set, o_set, call_set;
	const char *svg, *py_path;
};

static void parse(int argc, char **argv, struct gil_cfg *c, struct gil_opts *o)
{
	static const struct option lo[] = {
		{ "workload", 1, NULL, 'w' },
		{ "threads", 1, NULL, 't' },
		{ "count", 1, NULL, 'n' },
		{ "ops", 1, NULL, 'o' },
		{ "switch-interval", 1, NULL, 'i' },
		{ "mode", 1, NULL, 'm' },
		{ "pin", 1, NULL, 'p' },
		{ "repeat", 1, NULL, 'r' },
		{ "duration", 1, NULL, 'd' },
		{ "ways", 1, NULL, 'W' },
		{ "block", 1, NULL, 'b' },
		{ "file", 1, NULL, 'f' },
		{ "json", 0, NULL, 'j' },
		{ "svg", 1, NULL, 's' },
		{ "python", 2, NULL, 'P' },
		{ "call-cost", 1, NULL, 'C' },
		{ "help", 0, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const pins[] = { "none", "split", "same" };
	static const char *const modes[] = { "gil", "fifo" };
	int opt, block_set = 0;

	while ((opt = getopt_long(argc, argv, "w:t:n:o:i:m:p:r:d:W:b:f:js:PC:h",
				  lo, NULL)) != -1) {
		switch (opt) {
		case 'w':
			c->workload = lookup(optarg, gil_workload_names,
					     GIL_NWORKLOADS);
			if (c->workload < 0)
				bad("unknown workload '%s' (cpu, io-file, io-net, convoy)",
				    optarg);
			break;
		case 't':
			c->threads = (int)num(optarg, "--threads", 1, 256);
			break;
		case 'n':
			c->count = num(optarg, "--count", 1, UINT64_MAX / 256);
			o->n_set = 1;
			break;
		case 'o':
			c->ops = num(optarg, "--ops", 1, 1000000000);
			o->o_set = 1;
			break;
		case 'i':
			c->interval_ns = parse_interval(optarg);
			break;
		case 'm':
			if (lookup(optarg, modes, 2) < 0)
				bad("unknown mode '%s' (gil, fifo)", optarg);
			c->mode = (uint32_t)lookup(optarg, modes, 2);
			break;
		case 'p':
			c->pin = lookup(optarg, pins, 3);
			if (c->pin < 0)
				bad("unknown placement '%s' (none, split, same)",
				    optarg);
			break;
		case 'r':
			o->repeat =
				(int)num(optarg, "--repeat", 1, GIL_MAX_ROUNDS);
			break;
		case 'd': {
			uint64_t ns;
			int err = opt_duration(optarg, 1000000000ull, 1000000,
					       3600000000000ull, &ns);

			if (err)
				exit(opt_bad(
					"tide-gil", "--duration", optarg, err,
					"1ms to 3600s; a bare number is seconds"));
			c->duration = (double)ns / 1e9;
			break;
		}
		case 'W':
			o->ways = parse_ways(optarg);
			o->ways_set = 1;
			break;
		case 'b': {
			uint64_t v;
			int err = opt_size(optarg, 1, 1u << 24, &v);

			if (err)
				exit(opt_bad("tide-gil", "--block", optarg, err,
					     "1 to 16MiB, e.g. 4096, 4k"));
			c->block = (uint32_t)v;
			block_set = 1;
			break;
		}
		case 'f':
			c->file = optarg;
			break;
		case 'j':
			o->json = 1;
			break;
		case 's':
			o->svg = optarg;
			break;
		case 'P':
			o->python = 1;
			/* "--python PATH": a following word that is no option */
			if (!optarg && optind < argc && argv[optind][0] != '-')
				optarg = argv[optind++];
			o->py_path = optarg;
			if (o->py_path && !*o->py_path)
				bad("empty --python path");
			break;
		case 'C': {
			uint64_t ns;
			int err;

			o->call_set = 1;
			if (!strcmp(optarg, "auto")) {
				c->call_cost_ns = GIL_CALL_COST_AUTO;
				break;
			}
			err = opt_duration(optarg, 1000, 0, 1000000000, &ns);
			if (err)
				exit(opt_bad(
					"tide-gil", "--call-cost", optarg, err,
					"auto, or 0 to 1s, e.g. 2us; a bare "
					"number is us"));
			c->call_cost_ns = (int64_t)ns;
			break;
		}
		case 'h':
			fputs(usage, stdout);
			exit(fflush(stdout) ? 1 : 0);
		default:
			fputs("Try 'tide-gil --help'.\n", stderr);
			exit(2);
		}
	}
	if (optind < argc)
		bad("unexpected argument '%s'", argv[optind]);
	if (!block_set)
		c->block = c->workload == GIL_IO_FILE ? 4096 : 64;
	if (o->python && c->workload == GIL_IO_NET &&
	    c->threads > GIL_PY_MAX_PEERS)
		bad("--python: io-net takes at most %d threads",
		    GIL_PY_MAX_PEERS);
	if (c->file && c->workload != GIL_IO_FILE)
		bad("--file '%s' applies to the io-file workload only",
		    c->file);
	if (o->call_set && c->workload == GIL_CPU)
		bad("--call-cost applies to the IO workloads (io-file, io-net, "
		    "convoy)");
	if (c->call_cost_ns == GIL_CALL_COST_AUTO && !o->python)
		bad("--call-cost auto measures CPython: it needs --python");
}

static void progress(const struct gil_opts *o, const char *fmt, ...)
{
	va_list ap;

	if (o->json || !isatty(2))
		return;
	fprintf(stderr, "\r%-60s\r", "");
	if (!fmt)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/* Sizes: each way should run about a second or more (see tide-gil(1)). */
static int calibrate(struct gil_cfg *c, struct gil_report *rep,
		     const struct gil_opts *o, char *err, size_t errlen)
{
	double m = (double)(c->threads < rep->cores ? c->threads : rep->cores);
	double per_thread = m / c->threads, rate;

	if (c->workload == GIL_CPU) {
		progress(o, "calibrating the countdown ...");
		rep->tide_rate = gil_countdown_rate(0.2);
		if (!(rep->tide_rate > 0)) {
			snprintf(err, errlen, "calibration failed");
			return -EINVAL;
		}
		if (!o->n_set) {
			c->count = (uint64_t)(rep->tide_rate * per_thread) + 1;
			c->calibrated = 1;
		}
		if (rep->python) {
			rep->py_rate = gil_py_rate(rep, err, errlen);
			if (!(rep->py_rate > 0))
				return -EINVAL;
			c->py_count =
				(uint64_t)((double)c->count * rep->py_rate /
					   rep->tide_rate) +
				1;
		}
	} else if (c->workload != GIL_CONVOY && !o->o_set) {
		progress(o, "calibrating %s ...",
			 gil_workload_names[c->workload]);
		rate = gil_io_rate(c, 0.2, err, errlen);
		if (!(rate > 0))
			return -EIO;
		c->ops = (uint64_t)(rate * per_thread) + 1;
		c->calibrated = 1;
	}
	return 0;
}

#define CALL_RUNS 5

/*
 * --call-cost auto: the sequential way's IO p50 on each side, five short
 * runs each, interleaved; what CPython takes more per operation is its
 * interpreter's work around the calls (the C body does none), spread over
 * the operation's calls.  Then the cost in countdown turns.
 */
static int calibrate_call_cost(struct gil_cfg *c, struct gil_report *rep,
			       const struct gil_opts *o, char *err,
			       size_t errlen)
{
	const struct gil_cfg *saved = rep->c;
	struct gil_cfg one = *c;
	struct gil_result r;
	double t[CALL_RUNS], p[CALL_RUNS], rate, extra;
	int k, rc = 0;

	if (c->call_cost_ns == GIL_CALL_COST_AUTO && !rep->python) {
		c->call_cost_ns = 0; /* no CPython found: the emulation alone */
		rep->call_no_py = 1;
	}
	if (c->workload == GIL_CPU || c->call_cost_ns == 0) {
		c->call_cost_ns = 0;
		return 0;
	}
	if (c->call_cost_ns == GIL_CALL_COST_AUTO) {
		progress(o, "measuring CPython's cost per IO call ...");
		one.threads = c->workload == GIL_CONVOY ? c->threads : 1;
		one.duration = c->duration < 0.4 ? c->duration : 0.4;
		one.ops = c->ops / 4 + 64;
		one.call_cost_ns = 0;
		one.call_turns = 0;
		rep->c = &one;
		for (k = 0; k < CALL_RUNS && !rc; k++) {
			rc = gil_run(&one, GIL_SEQ, &r, err, errlen);
			t[k] = (double)r.lat.p50;
			if (!rc)
				rc = gil_py_run(rep, GIL_SEQ, &r, err, errlen);
			p[k] = (double)r.lat.p50;
		}
		rep->c = saved;
		if (rc)
			return rc;
		rep->call_auto = 1;
		rep->call_tide_p50 = gil_median(t, CALL_RUNS);
		rep->call_py_p50 = gil_median(p, CALL_RUNS);
		extra = (rep->call_py_p50 - rep->call_tide_p50) /
			GIL_CALLS_PER_OP(c->workload);
		c->call_cost_ns = extra > 0 ? (int64_t)extra : 0;
	}
	if (c->call_cost_ns > 0) {
		rate = gil_countdown_cpu_rate(0.1);
		if (!(rate > 0)) {
			snprintf(err, errlen, "calibration failed");
			return -EINVAL;
		}
		c->call_turns =
			(uint64_t)((double)c->call_cost_ns * rate / 1e9) + 1;
	}
	return 0;
}

static int run_rounds(struct gil_report *rep, const struct gil_opts *o,
		      char *err, size_t errlen)
{
	const struct gil_cfg *c = rep->c;
	int k, i, rc;

	for (k = 0; k < rep->rounds; k++)
		for (i = 0; i < rep->nways; i++) {
			int way = rep->way[i];

			progress(o, "round %d/%d: %s", k + 1, rep->rounds,
				 gil_way_names[way]);
			rc = gil_run(c, way, &rep->r[i][GIL_TIDE][k], err,
				     errlen);
			if (rc)
				return rc;
			rep->ran[i][GIL_TIDE] = 1;
			if (!rep->python || !gil_py_has_way(rep, way))
				continue;
			progress(o, "round %d/%d: %s (CPython)", k + 1,
				 rep->rounds, gil_way_names[way]);
			rc = gil_py_run(rep, way, &rep->r[i][GIL_PY][k], err,
					errlen);
			if (rc)
				return rc;
			rep->ran[i][GIL_PY] = 1;
		}
	progress(o, NULL);
	return 0;
}

static struct gil_report rep;

static double loadavg(void)
{
	double l[1];

	return getloadavg(l, 1) == 1 ? l[0] : -1;
}

/*
 * The default set of ways leaves out the uring way where io_uring cannot be
 * used (a seccomp filter, the sysctl), saying why, as tide-bench --engine
 * all does; asked for with -W it fails the run instead.  Returns the way's
 * bit when it is to be left out.
 */
static unsigned uring_unusable(void)
{
	struct tide_loop_options lo = { .flags = TIDE_LOOP_REQUIRE_URING };
	struct tide_loop *loop;
	int rc = tide_loop_new(&loop, &lo);

	if (rc == 0) {
		tide_loop_free(loop);
		return 0;
	}
	fprintf(stderr, "tide-gil: the uring way is left out: %s\n",
		tide_strerror(rc));
	return 1u << GIL_URING;
}

int main(int argc, char **argv)
{
	struct gil_cfg c = { .workload = GIL_CPU,
			     .threads = 2,
			     .count = 200000000,
			     .ops = 20000,
			     .interval_ns = TIDE_GLOCK_DEFAULT_INTERVAL_NS,
			     .duration = 1.0,
			     .warmup = 0.1 };
	struct gil_opts o = { .ways = (1u << GIL_NWAYS) - 1, .repeat = 3 };
	char err[512] = "";
	int way, rc, status = 0;

	parse(argc, argv, &c, &o);
	rep.c = &c;
	rep.rounds = o.repeat;
	rep.cores = sysconf(_SC_NPROCESSORS_ONLN);
	if (rep.cores < 1)
		rep.cores = 1;
	if (!o.ways_set && gil_way_applies(c.workload, GIL_URING))
		o.ways &= ~uring_unusable();
	for (way = 0; way < GIL_NWAYS; way++)
		if ((o.ways & (1u << way)) && gil_way_applies(c.workload, way))
			rep.way[rep.nways++] = way;
	if (!rep.nways)
		bad("no way of --ways applies to the %s workload",
		    gil_workload_names[c.workload]);
	if (o.python) {
		rc = gil_py_find(&rep, o.py_path, argv[0]);
		if (rc && o.py_path) {
			fprintf(stderr, "tide-gil: --python: %s\n",
				rep.py_note);
			return 1;
		}
		if (rc)
			fprintf(stderr,
				"tide-gil: %s: running the emulation alone\n",
				rep.py_note);
		rep.python = !rc;
	}
	rep.load[0] = loadavg();
	rc = gil_setup(&c, err, sizeof(err));
	/* the call cost first: the sizes are chosen with it paid */
	if (!rc)
		rc = calibrate_call_cost(&c, &rep, &o, err, sizeof(err));
	if (!rc)
		rc = calibrate(&c, &rep, &o, err, sizeof(err));
	if (!rc)
		rc = run_rounds(&rep, &o, err, sizeof(err));
	if (rc) {
		progress(&o, NULL);
		fprintf(stderr, "tide-gil: %s\n", err);
		gil_teardown();
		return 1;
	}
	rep.load[1] = loadavg();
	gil_checks(&rep);
	rc = o.json ? gil_print_json(&rep, stdout) :
		      gil_print_table(&rep, stdout);
	if (rc) {
		fprintf(stderr, "tide-gil: writing the %s: %s\n",
			o.json ? "JSON" : "table", strerror(-rc));
		status = 1;
	}
	if (o.svg && (rc = gil_write_svg(&rep, o.svg))) {
		fprintf(stderr, "tide-gil: writing %s: %s\n", o.svg,
			strerror(-rc));
		status = 1;
	}
	gil_teardown();
	return status;
}
