// SPDX-License-Identifier: MIT
/*
 * tide-gil - the contention lab: run one workload every way (sequential,
 * threads under the emulated global lock, a lock-free thread pool,
 * processes, tide's io_uring loop) and compare, including the behaviours
 * a correct CPython-GIL emulation must reproduce.
 *
 * Exit status: 0 ran, 1 a run failed, 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tide.h>

#include "gil.h"
#include "json.h"

static const char usage[] =
	"Usage: tide-gil [OPTIONS]\n"
	"Run one workload sequentially, in threads under an emulated global\n"
	"lock (CPython's GIL), in a thread pool without a lock, in processes and\n"
	"on tide's io_uring loop, and compare.  See tide-gil(1).\n"
	"\n"
	"  -w, --workload W         cpu (default), io-file, io-net, convoy\n"
	"  -t, --threads N          worker threads (convoy: CPU-bound threads); 2\n"
	"  -n, --count N            cpu: countdown per thread; 200000000\n"
	"  -o, --ops N              io: operations per thread; 20000\n"
	"  -i, --switch-interval T  e.g. 5ms, 100us, 0.005s (bare number: ms); 5ms\n"
	"  -m, --mode M             gil (default) or fifo\n"
	"  -p, --pin P              none (default), split (one core each), same\n"
	"  -r, --repeat R           run each way R times, report the median; 1\n"
	"  -d, --duration S         convoy: seconds per way; 1\n"
	"  -W, --ways LIST          comma-separated subset of sequential,glock,\n"
	"                           pool,processes,uring; default all that apply\n"
	"  -b, --block N            io-file read size, io-net message size;\n"
	"                           4096 and 64\n"
	"  -f, --file PATH          io-file: read this file (default: a temp file)\n"
	"  -j, --json               one JSON object on stdout\n"
	"  -s, --svg FILE           also write a bar chart as SVG\n"
	"  -h, --help               this help\n"
	"\n"
	"Exit status: 0 ran, 1 a run failed, 2 bad usage.\n";

__attribute__((format(printf, 1, 2), noreturn))
static void bad(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tide-gil: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'tide-gil --help'.\n");
	exit(2);
}

static uint64_t num(const char *s, const char *what, uint64_t lo, uint64_t hi)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi) {
		fprintf(stderr, "tide-gil: bad %s '%s': want %llu..%llu\n", what,
			s, (unsigned long long)lo, (unsigned long long)hi);
		exit(2);
	}
	return v;
}

/* "5ms", "100us", "250000ns", "0.005s"; a bare number is milliseconds. */
static uint64_t parse_interval(const char *s)
{
	char *end;
	double v, mul = 1e6;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s)
		bad("bad switch interval '%s' (e.g. 5ms, 100us)", s);
	if (!strcmp(end, "ns"))
		mul = 1;
	else if (!strcmp(end, "us"))
		mul = 1e3;
	else if (!strcmp(end, "ms") || !*end)
		mul = 1e6;
	else if (!strcmp(end, "s"))
		mul = 1e9;
	else
		bad("bad unit in switch interval '%s' (ns, us, ms or s)", s);
	v *= mul;
	if (!(v >= 1000 && v <= 10e9))
		bad("switch interval '%s' out of range (1us..10s)", s);
	return (uint64_t)v;
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
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
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

/* ---- medians ----------------------------------------------------------- */

static double key_of(const struct gil_cfg *c, const struct gil_result *r)
{
	return c->workload == GIL_CONVOY ? (double)r->lat.p50 : r->wall_s;
}

static void pick_median(const struct gil_cfg *c, struct gil_result *runs,
			int n, struct gil_result *out)
{
	int i, j;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && key_of(c, &runs[j]) < key_of(c, &runs[j - 1]); j--) {
			struct gil_result t = runs[j];

			runs[j] = runs[j - 1];
			runs[j - 1] = t;
		}
	*out = runs[n / 2];
}

/* ---- comparisons ------------------------------------------------------- */

struct check {
	char name[96];
	char expected[128];
	char measured[96];
	int verdict; /* 1 pass, 0 fail, -1 information */
};

static struct check checks[16];
static int nchecks;

__attribute__((format(printf, 4, 5)))
static void add_check(int verdict, const char *name, const char *exp,
		      const char *fmt, ...)
{
	struct check *k;
	va_list ap;

	if (nchecks >= 16)
		return;
	k = &checks[nchecks++];
	k->verdict = verdict;
	snprintf(k->name, sizeof(k->name), "%s", name);
	snprintf(k->expected, sizeof(k->expected), "%s", exp);
	va_start(ap, fmt);
	vsnprintf(k->measured, sizeof(k->measured), fmt, ap);
	va_end(ap);
}

static const struct gil_result *find(const struct gil_result *res, int n, int way)
{
	int i;

	for (i = 0; i < n; i++)
		if (res[i].way == way)
			return &res[i];
	return NULL;
}

static void compare_cpu(const struct gil_cfg *c, const struct gil_result *res,
			int n)
{
	const struct gil_result *s = find(res, n, GIL_SEQ);
	const struct gil_result *g = find(res, n, GIL_GLOCK);
	const struct gil_result *p;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	double ideal = 1.0 / (double)(c->threads < cores ? c->threads : cores);
	char exp[128];
	int way;

	if (s && g) {
		double q = g->wall_s / s->wall_s;

		add_check(q >= 0.9 && q <= 1.15, "glock threads / sequential (wall)",
			  "0.9-1.15 (CPython 3.11: 0.96-1.13)", "%.3f", q);
	}
	for (way = GIL_POOL; way <= GIL_PROC && s; way++) {
		p = find(res, n, way);
		if (!p)
			continue;
		snprintf(exp, sizeof(exp), "about 1/min(N, cores) = %.2f", ideal);
		add_check(p->wall_s / s->wall_s < ideal * 1.3,
			  way == GIL_POOL ? "pool / sequential (wall)" :
					    "processes / sequential (wall)",
			  exp, "%.3f", p->wall_s / s->wall_s);
	}
	if (g && c->threads >= 2) {
		double want = 1e9 / (double)c->interval_ns;
		double hz = g->gs.handoffs_per_s;

		snprintf(exp, sizeof(exp),
			 "about 1/interval = %.0f/s +-25%% (CPython: ~200/s at 5 ms)",
			 want);
		add_check(c->interval_ns >= 1000000 ?
			  (hz >= want * 0.75 && hz <= want * 1.25) : -1,
			  "glock hand-offs per second", exp, "%.1f/s", hz);
	}
}

static void compare_convoy(const struct gil_cfg *c,
			   const struct gil_result *res, int n)
{
	const struct gil_result *s = find(res, n, GIL_SEQ);
	const struct gil_result *g = find(res, n, GIL_GLOCK);
	const struct gil_result *u = find(res, n, GIL_URING);
	double iv = (double)c->interval_ns;
	char exp[128];

	if (g) {
		/* a round trip releases the lock twice (send, recv) */
		double per = (double)g->lat.p50 / 2.0 / iv;
		int ok = c->threads >= 1 && per >= 0.5 && per <= 1.5;

		add_check(c->interval_ns >= 1000000 ? ok : -1,
			  "glock IO latency per lock release, in intervals",
			  "about 1 (CPython: ~10 ms per round trip at 5 ms)",
			  "%.2f", per);
	}
	if (g && s && g->lat.p50) {
		snprintf(exp, sizeof(exp), "%s",
			 c->interval_ns >= 1000000 ?
			 "hundreds x (CPython: 250-400x at 5 ms)" :
			 "a few x at 0.1 ms (CPython)");
		add_check(-1, "glock IO slowdown vs sequential (p50)", exp,
			  "%.0fx", (double)g->lat.p50 / (double)(s->lat.p50 ? s->lat.p50 : 1));
	}
	if (u && s && s->lat.p50) {
		double q = (double)u->lat.p50 / (double)s->lat.p50;

		add_check(q < 4.0, "uring IO p50 / sequential p50",
			  "no interval penalty (well under 4x)", "%.2fx", q);
	}
}

static void compare_io(const struct gil_result *res, int n)
{
	const struct gil_result *s = find(res, n, GIL_SEQ);
	const struct gil_result *g = find(res, n, GIL_GLOCK);

	if (s && g)
		add_check(-1, "glock threads / sequential (wall)",
			  "near or below 1: the lock is left around each call",
			  "%.3f", g->wall_s / s->wall_s);
}

/* ---- output ------------------------------------------------------------ */

static void print_table(const struct gil_cfg *c, const struct gil_result *res,
			int n)
{
	int i;

	printf("workload %s, %d thread%s, switch interval %.3f ms, mode %s\n\n",
	       gil_workload_names[c->workload], c->threads,
	       c->threads == 1 ? "" : "s", (double)c->interval_ns / 1e6,
	       c->mode == TIDE_GLOCK_FIFO ? "fifo" : "gil");
	printf("%-11s %9s %9s %8s %12s %10s %10s %10s %8s %8s\n", "way", "wall s",
	       "cpu s", "speedup", "ops/s", "p50 us", "p99 us", "max us",
	       "vcsw", "ivcsw");
	for (i = 0; i < n; i++) {
		const struct gil_result *r = &res[i];

		printf("%-11s %9.3f %9.3f %8.2f %12.0f", gil_way_names[r->way],
		       r->wall_s, r->cpu_s, r->speedup, r->ops_per_sec);
		if (r->has_lat)
			printf(" %10.1f %10.1f %10.1f", (double)r->lat.p50 / 1e3,
			       (double)r->lat.p99 / 1e3, (double)r->lat.max / 1e3);
		else
			printf(" %10s %10s %10s", "-", "-", "-");
		printf(" %8ld %8ld\n", r->nvcsw, r->nivcsw);
	}
	for (i = 0; i < n; i++) {
		const struct tide_glock_stats *g = &res[i].gs;

		if (!res[i].has_lock)
			continue;
		printf("\nglock: %.1f hand-offs/s, %llu acquisitions, %llu drop requests, "
		       "%llu forced drops, held %.1f%% of wall time, Jain %.3f\n",
		       g->handoffs_per_s, (unsigned long long)g->acquisitions,
		       (unsigned long long)g->drop_requests,
		       (unsigned long long)g->forced_drops, g->held_fraction * 100,
		       g->jain_index);
		printf("       wait us p50 %.1f p99 %.1f max %.1f; "
		       "hold us p50 %.1f p99 %.1f max %.1f\n",
		       g->wait_ns.p50 / 1e3, g->wait_ns.p99 / 1e3, g->wait_ns.max / 1e3,
		       g->hold_ns.p50 / 1e3, g->hold_ns.p99 / 1e3, g->hold_ns.max / 1e3);
	}
	if (nchecks)
		printf("\nwhat correct emulation must reproduce:\n");
	for (i = 0; i < nchecks; i++)
		printf("  [%s] %s: %s (expected %s)\n",
		       checks[i].verdict < 0 ? "info" : checks[i].verdict ? " ok " : "DIFF",
		       checks[i].name, checks[i].measured, checks[i].expected);
}

static void json_dist(struct json_writer *w, const char *key, uint64_t p50,
		      uint64_t p99, uint64_t max)
{
	json_key(w, key);
	json_object_begin(w);
	json_key(w, "p50");
	json_uint(w, p50);
	json_key(w, "p99");
	json_uint(w, p99);
	json_key(w, "max");
	json_uint(w, max);
	json_object_end(w);
}

static int print_json(const struct gil_cfg *c, const struct gil_result *res,
		      int n)
{
	struct json_writer w;
	int i;

	json_init(&w, stdout, 1);
	json_object_begin(&w);
	json_key(&w, "workload");
	json_string(&w, gil_workload_names[c->workload]);
	json_key(&w, "threads");
	json_int(&w, c->threads);
	json_key(&w, "switch_interval_ns");
	json_uint(&w, c->interval_ns);
	json_key(&w, "mode");
	json_string(&w, c->mode == TIDE_GLOCK_FIFO ? "fifo" : "gil");
	json_key(&w, "results");
	json_array_begin(&w);
	for (i = 0; i < n; i++) {
		const struct gil_result *r = &res[i];

		json_object_begin(&w);
		json_key(&w, "way");
		json_string(&w, gil_way_names[r->way]);
		json_key(&w, "wall_s");
		json_double(&w, r->wall_s);
		json_key(&w, "cpu_s");
		json_double(&w, r->cpu_s);
		json_key(&w, "speedup");
		json_double(&w, r->speedup);
		json_key(&w, "ops");
		json_uint(&w, r->ops);
		json_key(&w, "ops_per_sec");
		json_double(&w, r->ops_per_sec);
		json_key(&w, "voluntary_csw");
		json_int(&w, r->nvcsw);
		json_key(&w, "involuntary_csw");
		json_int(&w, r->nivcsw);
		if (r->has_lat)
			json_dist(&w, "lat_ns", r->lat.p50, r->lat.p99, r->lat.max);
		if (r->has_lock) {
			const struct tide_glock_stats *g = &r->gs;

			json_key(&w, "handoffs_per_s");
			json_double(&w, g->handoffs_per_s);
			json_key(&w, "acquisitions");
			json_uint(&w, g->acquisitions);
			json_key(&w, "drop_requests");
			json_uint(&w, g->drop_requests);
			json_key(&w, "forced_drops");
			json_uint(&w, g->forced_drops);
			json_dist(&w, "wait_ns", g->wait_ns.p50, g->wait_ns.p99,
				  g->wait_ns.max);
			json_dist(&w, "hold_ns", g->hold_ns.p50, g->hold_ns.p99,
				  g->hold_ns.max);
			json_key(&w, "held_fraction");
			json_double(&w, g->held_fraction);
			json_key(&w, "jain_index");
			json_double(&w, g->jain_index);
		}
		json_object_end(&w);
	}
	json_array_end(&w);
	json_key(&w, "checks");
	json_array_begin(&w);
	for (i = 0; i < nchecks; i++) {
		json_object_begin(&w);
		json_key(&w, "name");
		json_string(&w, checks[i].name);
		json_key(&w, "expected");
		json_string(&w, checks[i].expected);
		json_key(&w, "measured");
		json_string(&w, checks[i].measured);
		json_key(&w, "verdict");
		json_string(&w, checks[i].verdict < 0 ? "info" :
				checks[i].verdict ? "ok" : "differs");
		json_object_end(&w);
	}
	json_array_end(&w);
	json_object_end(&w);
	return json_finish(&w);
}

/* Horizontal bars: wall time, or IO p50 latency for convoy. */
static int write_svg(const char *path, const struct gil_cfg *c,
		     const struct gil_result *res, int n)
{
	int convoy = c->workload == GIL_CONVOY, i, rc;
	double v, max = 0;
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	for (i = 0; i < n; i++) {
		v = convoy ? (double)res[i].lat.p50 / 1e3 : res[i].wall_s;
		if (v > max)
			max = v;
	}
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" "
		   "height=\"%d\" font-family=\"sans-serif\" font-size=\"13\">\n",
		60 + 30 * n);
	fprintf(f, "<text x=\"10\" y=\"22\">tide-gil %s, %d threads, interval "
		   "%.3f ms: %s</text>\n",
		gil_workload_names[c->workload], c->threads,
		(double)c->interval_ns / 1e6,
		convoy ? "IO round-trip p50 (us)" : "wall time (s)");
	for (i = 0; i < n; i++) {
		v = convoy ? (double)res[i].lat.p50 / 1e3 : res[i].wall_s;
		fprintf(f, "<text x=\"10\" y=\"%d\">%s</text>"
			   "<rect x=\"100\" y=\"%d\" width=\"%.1f\" height=\"20\" "
			   "fill=\"%s\"/><text x=\"%.1f\" y=\"%d\">%.3g</text>\n",
			55 + 30 * i, gil_way_names[res[i].way], 40 + 30 * i,
			max > 0 ? 420 * v / max : 0,
			res[i].way == GIL_GLOCK ? "#c0392b" : "#2e86c1",
			max > 0 ? 105 + 420 * v / max : 105, 55 + 30 * i, v);
	}
	fprintf(f, "</svg>\n");
	rc = ferror(f) ? -EIO : 0;
	if (fclose(f))
		rc = -EIO;
	return rc;
}

/* ---- main -------------------------------------------------------------- */

static void parse(int argc, char **argv, struct gil_cfg *c, unsigned *ways,
		  int *repeat, int *json, const char **svg)
{
	static const struct option lo[] = {
		{ "workload", 1, NULL, 'w' }, { "threads", 1, NULL, 't' },
		{ "count", 1, NULL, 'n' }, { "ops", 1, NULL, 'o' },
		{ "switch-interval", 1, NULL, 'i' }, { "mode", 1, NULL, 'm' },
		{ "pin", 1, NULL, 'p' }, { "repeat", 1, NULL, 'r' },
		{ "duration", 1, NULL, 'd' }, { "ways", 1, NULL, 'W' },
		{ "block", 1, NULL, 'b' }, { "file", 1, NULL, 'f' },
		{ "json", 0, NULL, 'j' }, { "svg", 1, NULL, 's' },
		{ "help", 0, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	static const char *const pins[] = { "none", "split", "same" };
	static const char *const modes[] = { "gil", "fifo" };
	int opt, block_set = 0;
	char *end;

	while ((opt = getopt_long(argc, argv, "w:t:n:o:i:m:p:r:d:W:b:f:js:h",
				  lo, NULL)) != -1) {
		switch (opt) {
		case 'w':
			c->workload = lookup(optarg, gil_workload_names, GIL_NWORKLOADS);
			if (c->workload < 0)
				bad("unknown workload '%s' (cpu, io-file, io-net, convoy)",
				    optarg);
			break;
		case 't': c->threads = (int)num(optarg, "--threads", 1, 256); break;
		case 'n': c->count = num(optarg, "--count", 1, UINT64_MAX / 256); break;
		case 'o': c->ops = num(optarg, "--ops", 1, 1000000000); break;
		case 'i': c->interval_ns = parse_interval(optarg); break;
		case 'm':
			if (lookup(optarg, modes, 2) < 0)
				bad("unknown mode '%s' (gil, fifo)", optarg);
			c->mode = (uint32_t)lookup(optarg, modes, 2);
			break;
		case 'p':
			c->pin = lookup(optarg, pins, 3);
			if (c->pin < 0)
				bad("unknown placement '%s' (none, split, same)", optarg);
			break;
		case 'r': *repeat = (int)num(optarg, "--repeat", 1, 99); break;
		case 'd':
			errno = 0;
			c->duration = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(c->duration > 0) ||
			    c->duration > 3600)
				bad("bad --duration '%s': want seconds, 0 < S <= 3600",
				    optarg);
			break;
		case 'W': *ways = parse_ways(optarg); break;
		case 'b':
			c->block = (uint32_t)num(optarg, "--block", 1, 1u << 24);
			block_set = 1;
			break;
		case 'f': c->file = optarg; break;
		case 'j': *json = 1; break;
		case 's': *svg = optarg; break;
		case 'h': fputs(usage, stdout); exit(0);
		default: fputs("Try 'tide-gil --help'.\n", stderr); exit(2);
		}
	}
	if (optind < argc)
		bad("unexpected argument '%s'", argv[optind]);
	if (!block_set)
		c->block = c->workload == GIL_IO_FILE ? 4096 : 64;
	if (c->file && c->workload != GIL_IO_FILE)
		bad("--file '%s' applies to the io-file workload only", c->file);
}

int main(int argc, char **argv)
{
	struct gil_cfg c = { .workload = GIL_CPU, .threads = 2,
			     .count = 200000000, .ops = 20000,
			     .interval_ns = TIDE_GLOCK_DEFAULT_INTERVAL_NS,
			     .duration = 1.0 };
	struct gil_result res[GIL_NWAYS], runs[99];
	unsigned ways = (1u << GIL_NWAYS) - 1;
	int repeat = 1, json = 0, n = 0, way, k, rc, status = 0;
	const char *svg = NULL;
	char err[256] = "";
	double base = 0;

	parse(argc, argv, &c, &ways, &repeat, &json, &svg);
	if (c.workload == GIL_IO_NET && c.ops == 20000)
		c.ops = 5000;
	rc = gil_setup(&c, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "tide-gil: %s\n", err);
		return 1;
	}
	for (way = 0; way < GIL_NWAYS; way++) {
		if (!(ways & (1u << way)) || !gil_way_applies(c.workload, way))
			continue;
		for (k = 0; k < repeat; k++) {
			if (isatty(2) && !json)
				fprintf(stderr, "\rrunning %s %d/%d   ",
					gil_way_names[way], k + 1, repeat);
			rc = gil_run(&c, way, &runs[k], err, sizeof(err));
			if (rc) {
				fprintf(stderr, "\ntide-gil: %s\n", err);
				gil_teardown();
				return 1;
			}
		}
		pick_median(&c, runs, repeat, &res[n++]);
	}
	if (isatty(2) && !json)
		fprintf(stderr, "\r%40s\r", "");
	for (k = 0; k < n; k++)
		if (res[k].way == GIL_SEQ)
			base = c.workload == GIL_CONVOY ? res[k].ops_per_sec :
							  res[k].wall_s;
	for (k = 0; k < n; k++) {
		if (base <= 0)
			res[k].speedup = NAN;
		else if (c.workload == GIL_CONVOY)
			res[k].speedup = res[k].ops_per_sec / base;
		else
			res[k].speedup = res[k].wall_s > 0 ? base / res[k].wall_s : 0;
	}
	if (c.workload == GIL_CPU)
		compare_cpu(&c, res, n);
	else if (c.workload == GIL_CONVOY)
		compare_convoy(&c, res, n);
	else
		compare_io(res, n);
	if (json)
		status = print_json(&c, res, n) ? 1 : 0;
	else
		print_table(&c, res, n);
	if (svg && (rc = write_svg(svg, &c, res, n))) {
		fprintf(stderr, "tide-gil: writing %s: %s\n", svg, strerror(-rc));
		status = 1;
	}
	gil_teardown();
	return status;
}
