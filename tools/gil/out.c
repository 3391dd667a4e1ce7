// SPDX-License-Identifier: MIT
/*
 * out.c - tide-gil's report: figures over interleaved rounds (median
 * and spread), the built-in checks with their numeric bands and verdicts,
 * and the table, JSON and SVG outputs.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gil.h"
#include "json.h"

enum { GIL_V_OK, GIL_V_DIFFERS, GIL_V_NOISY };
static const char *const gil_verdicts[] = { "ok", "differs", "noisy" };

struct gil_check {
	char name[112];
	char basis[160];   /* where the band comes from */
	double lo, hi;	   /* the band */
	struct gil_stat m; /* the measured value over the rounds */
	int verdict;
	const char *why; /* for noisy */
};

#define GIL_MAX_CHECKS 16
static struct gil_check gil_chk[GIL_MAX_CHECKS];
static int gil_nchk;

/* ---- figures ----------------------------------------------------------- */

static int gil_dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double gil_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), gil_dcmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The interval v[j-1]..v[n-j] (v sorted) holds the true median unless at
 * most j-1 of the n values fall on one side of it: it covers it with
 * probability 1 - 2 P(Binomial(n, 1/2) <= j-1).  Take the narrowest with
 * coverage of at least 90%; under 5 values that is min..max, which covers
 * less (75% from 3 values) and says so in ci_level. */
static void gil_median_ci(const double *v, int n, struct gil_stat *s)
{
	double tail = 0, c = 1, best = 1 - 2 * ldexp(1, -n);
	int j;

	s->ci_lo = v[0];
	s->ci_hi = v[n - 1];
	s->ci_level = n > 1 ? best : 0;
	/* tail = P(Binomial(n, 1/2) <= j-1); c = binomial(n, j-1) */
	for (j = 1; 2 * j <= n; j++) {
		double cover;

		tail += c * ldexp(1, -n);
		cover = 1 - 2 * tail;
		if (cover < 0.90)
			break;
		s->ci_lo = v[j - 1];
		s->ci_hi = v[n - j];
		s->ci_level = cover;
		c = c * (n - j + 1) / j;
	}
}

/* Median, min, max of the finite values of v; s->bad counts the others
 * (a ratio over a round that did no operation). */
static void gil_stat_arr(double *v, int n, struct gil_stat *s)
{
	int i, k = 0;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < n; i++)
		if (isfinite(v[i]))
			v[k++] = v[i];
	s->bad = n - k;
	n = k;
	if (n <= 0)
		return;
	qsort(v, (size_t)n, sizeof(*v), gil_dcmp);
	s->n = n;
	s->lo = v[0];
	s->hi = v[n - 1];
	s->med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	gil_median_ci(v, n, s);
}

/* The figure that decides a way: wall time, or the convoy's IO p50 (s). */
double gil_key(const struct gil_report *rep, const struct gil_result *r)
{
	return rep->c->workload == GIL_CONVOY ? (double)r->lat.p50 / 1e9 :
						r->wall_s;
}

static int gil_wi(const struct gil_report *rep, int way)
{
	int i;

	for (i = 0; i < rep->nways; i++)
		if (rep->way[i] == way)
			return i;
	return -1;
}

void gil_stat_of(const struct gil_report *rep, int wi, int side,
		 double (*fig)(const struct gil_result *), struct gil_stat *s)
{
	double v[GIL_MAX_ROUNDS];
	int k;

	memset(s, 0, sizeof(*s));
	if (wi < 0 || !rep->ran[wi][side])
		return;
	for (k = 0; k < rep->rounds; k++)
		v[k] = fig(&rep->r[wi][side][k]);
	gil_stat_arr(v, rep->rounds, s);
}

/* Per round: speed-up of way wi over sequential on the same side. */
static void gil_speedup(const struct gil_report *rep, int wi, int side,
			struct gil_stat *s)
{
	int si = gil_wi(rep, GIL_SEQ), k,
	    convoy = rep->c->workload == GIL_CONVOY;
	double v[GIL_MAX_ROUNDS];

	memset(s, 0, sizeof(*s));
	if (si < 0 || wi < 0 || !rep->ran[si][side] || !rep->ran[wi][side])
		return;
	for (k = 0; k < rep->rounds; k++) {
		const struct gil_result *a = &rep->r[wi][side][k];
		const struct gil_result *b = &rep->r[si][side][k];

		v[k] = convoy ? a->ops_per_sec / b->ops_per_sec :
				b->wall_s / a->wall_s;
	}
	gil_stat_arr(v, rep->rounds, s);
}

/* The round whose key is the median (for the detail figures). */
const struct gil_result *gil_median_run(const struct gil_report *rep, int wi,
					int side)
{
	int k, best = 0;
	double d, bd = INFINITY;

	for (k = 0; k < rep->rounds; k++) {
		double key = gil_key(rep, &rep->r[wi][side][k]);
		int j, below = 0;

		for (j = 0; j < rep->rounds; j++)
			below += gil_key(rep, &rep->r[wi][side][j]) < key;
		d = fabs(below - (rep->rounds - 1) / 2.0);
		if (d < bd) {
			bd = d;
			best = k;
		}
	}
	return &rep->r[wi][side][best];
}

static double gil_spread(const struct gil_stat *s)
{
	return s->n && s->med > 0 ? (s->hi - s->lo) / 2 / s->med : 0;
}

/* ---- checks ------------------------------------------------------------ */

/* Shortest timed run of the ways compared: too short to mean anything? */
static double gil_min_wall(const struct gil_report *rep)
{
	double m = INFINITY;
	int i, s, k;

	for (i = 0; i < rep->nways; i++)
		for (s = 0; s < GIL_NSIDES; s++)
			for (k = 0; rep->ran[i][s] && k < rep->rounds; k++)
				if (rep->r[i][s][k].wall_s < m)
					m = rep->r[i][s][k].wall_s;
	return m;
}

/* cpu: the share of one CPU the sequential run got, lowest over rounds and
 * sides.  A CPU-bound thread alone should get all of one; less means other
 * programs took the machine and no ratio is to be trusted. */
static double gil_seq_share(const struct gil_report *rep)
{
	int si = gil_wi(rep, GIL_SEQ), s, k;
	double m = INFINITY;

	if (rep->c->workload != GIL_CPU || si < 0)
		return m;
	for (s = 0; s < GIL_NSIDES; s++)
		for (k = 0; rep->ran[si][s] && k < rep->rounds; k++) {
			const struct gil_result *r = &rep->r[si][s][k];

			/* CPython's cpu time ticks in 10 ms */
			if (r->wall_s >= 0.2)
				m = fmin(m, r->cpu_s / r->wall_s);
		}
	return m;
}

/* The check's verdict; busy: a loaded machine (the sequential run's share
 * of a CPU) makes the figure meaningless (wall time) or not (CPU time). */
static void gil_judge(struct gil_report *rep, struct gil_check *k, int busy)
{
	/* a run must last 0.2 s and 20 switch intervals to say anything */
	double floor_s = fmax(0.2, 20.0 * (double)rep->c->interval_ns / 1e9);
	double lo = k->lo, hi = k->hi;

	if (rep->rounds < 2) {
		k->verdict = GIL_V_NOISY;
		k->why = "one round has no spread: use --repeat 3 or more";
	} else if (gil_min_wall(rep) < floor_s) {
		k->verdict = GIL_V_NOISY;
		k->why =
			"runs too short to measure (under 0.2 s or 20 intervals)";
	} else if (busy && gil_seq_share(rep) < 0.85) {
		k->verdict = GIL_V_NOISY;
		k->why =
			"the machine is busy: a sequential run got under 85% of a CPU";
	} else if (k->m.bad || !k->m.n) {
		k->verdict = GIL_V_NOISY;
		k->why = "no value in some round";
	} else if (k->m.ci_lo >= lo && k->m.ci_hi <= hi) {
		k->verdict = GIL_V_OK;
	} else if (k->m.ci_hi < lo || k->m.ci_lo > hi) {
		k->verdict = GIL_V_DIFFERS;
	} else {
		k->verdict = GIL_V_NOISY;
		k->why = "the median's confidence interval crosses the band";
	}
}

static void gil_addv(struct gil_report *rep, const double *v, double lo,
		     double hi, int busy, const char *name, va_list ap)
{
	struct gil_check *k;
	double tmp[GIL_MAX_ROUNDS];

	if (gil_nchk >= GIL_MAX_CHECKS)
		return;
	k = &gil_chk[gil_nchk++];
	memcpy(tmp, v, sizeof(double) * (size_t)rep->rounds);
	gil_stat_arr(tmp, rep->rounds, &k->m);
	k->lo = lo;
	k->hi = hi;
	vsnprintf(k->name, sizeof(k->name), name, ap);
	gil_judge(rep, k, busy);
}

/* A check of wall-time figures: noisy on a busy machine. */
__attribute__((format(printf, 5, 6))) static void
gil_add(struct gil_report *rep, const double *v, double lo, double hi,
	const char *name, ...)
{
	va_list ap;

	va_start(ap, name);
	gil_addv(rep, v, lo, hi, 1, name, ap);
	va_end(ap);
}

/* A check of CPU-time figures: time spent waiting for a CPU is not in
 * them, so other programs' load does not void them. */
__attribute__((format(printf, 5, 6))) static void
gil_add_cpu(struct gil_report *rep, const double *v, double lo, double hi,
	    const char *name, ...)
{
	va_list ap;

	va_start(ap, name);
	gil_addv(rep, v, lo, hi, 0, name, ap);
	va_end(ap);
}

static void gil_basis(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(gil_chk[gil_nchk - 1].basis, sizeof(gil_chk[0].basis), fmt,
		  ap);
	va_end(ap);
}

/* v[k] = key or speed-up figure of (way, side) in round k. */
static int gil_fig(const struct gil_report *rep, int way, int side, int what,
		   double *v)
{
	int wi = gil_wi(rep, way), si = gil_wi(rep, GIL_SEQ), k;

	if (wi < 0 || !rep->ran[wi][side] ||
	    ((what == 1 || what == 3) && (si < 0 || !rep->ran[si][side])))
		return 0;
	for (k = 0; k < rep->rounds; k++) {
		const struct gil_result *a = &rep->r[wi][side][k];

		if (what == 0) /* wall (cpu, io) or IO p50 (convoy) */
			v[k] = gil_key(rep, a);
		else if (what == 1) /* way / sequential, same side */
			v[k] = gil_key(rep, a) /
			       gil_key(rep, &rep->r[si][side][k]);
		else if (what == 3) /* CPU time: way / sequential */
			v[k] = a->cpu_s / rep->r[si][side][k].cpu_s;
		else /* hand-offs per second */
			v[k] = a->handoffs_per_s >= 0 ? a->handoffs_per_s : NAN;
	}
	return 1;
}

/* v[k] = the way's figure (gil_fig()'s what) on tide over CPython's, round
 * by round; 0 when either side did not run. */
static int gil_vs_py(const struct gil_report *rep, int way, int what, double *v)
{
	double b[GIL_MAX_ROUNDS];
	int k;

	if (!gil_fig(rep, way, GIL_TIDE, what, v) ||
	    !gil_fig(rep, way, GIL_PY, what, b))
		return 0;
	for (k = 0; k < rep->rounds; k++)
		v[k] /= b[k];
	return 1;
}

static void gil_checks_cpu(struct gil_report *rep)
{
	const struct gil_cfg *c = rep->c;
	double a[GIL_MAX_ROUNDS], hz = 1e9 / (double)c->interval_ns;
	double m = (double)(c->threads < rep->cores ? c->threads : rep->cores);
	int way;

	if (gil_fig(rep, GIL_GLOCK, GIL_TIDE, 1, a)) {
		gil_add(rep, a, 0.95, 1.25,
			"glock threads / sequential (wall)");
		gil_basis(
			"the lock serialises the work; hand-offs add a little");
	}
	if (gil_vs_py(rep, GIL_GLOCK, 1, a)) {
		gil_add(rep, a, 0.90, 1.10,
			"(glock / sequential) over CPython's (threads / sequential)");
		gil_basis(
			"fidelity goal: within 10%% of CPython %s, same rounds",
			rep->py_version);
	}
	if (gil_vs_py(rep, GIL_GLOCK, 3, a)) {
		gil_add_cpu(rep, a, 0.90, 1.10,
			    "(glock / sequential) over CPython's, in CPU time");
		gil_basis(
			"the lock's CPU cost (wake-ups, hand-offs) over the same "
			"work, waits for a CPU left out: within 10%%");
	}
	for (way = GIL_POOL; way <= GIL_PROC; way++)
		if (gil_fig(rep, way, GIL_TIDE, 1, a)) {
			gil_add(rep, a, 0.9 / m, 1.3 / m,
				"%s / sequential (wall)", gil_way_names[way]);
			gil_basis(
				"1/min(threads, cores) = 1/%.0f, -10%%..+30%%",
				m);
		}
	if (gil_vs_py(rep, GIL_PROC, 1, a)) {
		gil_add(rep, a, 0.85, 1.15,
			"(processes / sequential) over CPython's");
		gil_basis("no lock shared: within 15%% of CPython's");
	}
	if (c->threads < 2)
		return;
	if (gil_fig(rep, GIL_GLOCK, GIL_TIDE, 2, a)) {
		gil_add(rep, a, 0.70 * hz, 1.05 * hz,
			"glock hand-offs per second");
		gil_basis(
			"a little under 1/interval = %.0f/s (each hand-off waits one "
			"interval, then the holder's next check)",
			hz);
	}
	if (gil_vs_py(rep, GIL_GLOCK, 2, a)) {
		gil_add(rep, a, 0.75, 1.25, "glock hand-offs/s over CPython's");
		gil_basis("fidelity goal: within 25%% of CPython %s",
			  rep->py_version);
	}
}

static void gil_checks_convoy(struct gil_report *rep)
{
	const struct gil_cfg *c = rep->c;
	double a[GIL_MAX_ROUNDS], iv = (double)c->interval_ns / 1e9;
	int k;

	/* Only split placement on two or more CPUs predicts the convoy: on
	 * one CPU the CPU thread cannot run while the IO thread's peer
	 * answers, and unpinned the peer lands either side (tide-gil(1)). */
	if (c->threads >= 1 && c->interval_ns >= 1000000 &&
	    c->pin == GIL_PIN_SPLIT && rep->cores >= 2 &&
	    gil_fig(rep, GIL_GLOCK, GIL_TIDE, 0, a)) {
		for (k = 0; k < rep->rounds; k++)
			a[k] /= iv;
		gil_add(rep, a, 0.8, 2.2,
			"glock IO round trip p50, in switch intervals");
		gil_basis(
			"the lock is left twice per round trip; each time a CPU "
			"thread may take it for one interval: 1 to 2");
	}
	if (gil_vs_py(rep, GIL_GLOCK, 0, a)) {
		gil_add(rep, a, 0.75, 1.25,
			"glock IO p50 over CPython's threads IO p50");
		gil_basis("fidelity goal: within 25%% of CPython %s",
			  rep->py_version);
	}
	if (gil_vs_py(rep, GIL_GLOCK, 1, a)) {
		gil_add(rep, a, 0.75, 1.25,
			"(glock IO p50 / sequential's) over CPython's");
		gil_basis(
			"the lock's own cost, net of the interpreter's per-call "
			"cost: within 25%%");
	}
	if (gil_fig(rep, GIL_URING, GIL_TIDE, 1, a)) {
		gil_add(rep, a, 0.0, 4.0, "uring IO p50 / sequential IO p50");
		gil_basis("no lock on the loop: no interval penalty, under 4x");
	}
}

static void gil_checks_io(struct gil_report *rep)
{
	double a[GIL_MAX_ROUNDS];
	int way;

	for (way = GIL_GLOCK; way <= GIL_PROC; way++)
		if (gil_vs_py(rep, way, 1, a)) {
			gil_add(rep, a, 0.75, 1.25,
				"(%s / sequential) over CPython's",
				gil_way_names[way]);
			gil_basis(
				"the same calls, lock left around each: within 25%%");
		}
}

void gil_checks(struct gil_report *rep)
{
	gil_nchk = 0;
	if (rep->c->workload == GIL_CPU)
		gil_checks_cpu(rep);
	else if (rep->c->workload == GIL_CONVOY)
		gil_checks_convoy(rep);
	else
		gil_checks_io(rep);
}

/* ---- table ------------------------------------------------------------- */

/* 0, or why the output to f failed (ENOSPC on a full disk, not EIO). */
int gil_ferr(FILE *f)
{
	errno = 0;
	if (fflush(f) == EOF || ferror(f))
		return errno ? -errno : -EIO;
	return 0;
}

double gil_f_wall(const struct gil_result *r)
{
	return r->wall_s;
}
double gil_f_p50(const struct gil_result *r)
{
	return (double)r->lat.p50 / 1e3;
}
static double gil_f_hz(const struct gil_result *r)
{
	return r->handoffs_per_s;
}

static int gil_flag(const struct gil_report *rep, const struct gil_stat *sp)
{
	return rep->c->workload != GIL_CONVOY && sp->n &&
	       sp->med > (double)rep->cores * 1.05;
}

/* cpu: 1 when every CPython run's countdown ran specialised from the start
 * of its timed run, 0 when one did not, -1 when no run said. */
static int gil_py_specialised(const struct gil_report *rep)
{
	int i, k, v = -1;

	for (i = 0; i < rep->nways; i++)
		for (k = 0; rep->ran[i][GIL_PY] && k < rep->rounds; k++) {
			int s = rep->r[i][GIL_PY][k].specialised;

			if (s == 0)
				return 0;
			if (s == 1)
				v = 1;
		}
	return v;
}

static void gil_head(const struct gil_report *rep, FILE *f)
{
	const struct gil_cfg *c = rep->c;
	static const char *const pins[] = { "none", "split", "same" };

	fprintf(f,
		"workload %s, %d thread%s, switch interval %.3f ms, mode %s, "
		"pin %s, %ld cores\n",
		gil_workload_names[c->workload], c->threads,
		c->threads == 1 ? "" : "s", (double)c->interval_ns / 1e6,
		c->mode == TIDE_GLOCK_FIFO ? "fifo" : "gil", pins[c->pin],
		rep->cores);
	if (c->workload == GIL_CPU) {
		fprintf(f, "work: countdown of %llu per thread",
			(unsigned long long)c->count);
		if (rep->tide_rate > 0)
			fprintf(f, " (%.2f s alone at %.0f M turns/s)",
				(double)c->count / rep->tide_rate,
				rep->tide_rate / 1e6);
		if (rep->python)
			fprintf(f,
				"; CPython busy_wait(%llu) (%.2f s alone at %.1f M/s)",
				(unsigned long long)c->py_count,
				rep->py_rate > 0 ?
					(double)c->py_count / rep->py_rate :
					0,
				rep->py_rate / 1e6);
		fputc('\n', f);
	} else if (c->workload == GIL_CONVOY) {
		fprintf(f,
			"work: one IO thread's %u-byte round trips next to %d "
			"CPU-bound thread%s, %.2f s per way\n",
			c->block, c->threads, c->threads == 1 ? "" : "s",
			c->duration);
	} else {
		fprintf(f, "work: %llu %s of %u bytes per thread%s\n",
			(unsigned long long)c->ops,
			c->workload == GIL_IO_FILE ? "preads" : "round trips",
			c->block, c->calibrated ? " (calibrated)" : "");
	}
	if (c->workload != GIL_CPU && c->call_cost_ns > 0 && rep->call_auto)
		fprintf(f,
			"call cost: %.2f us of work under the lock before each "
			"IO call (auto: CPython's sequential IO p50 %.1f us - "
			"the emulation's %.1f us, over %d call%s)\n",
			(double)c->call_cost_ns / 1e3, rep->call_py_p50 / 1e3,
			rep->call_tide_p50 / 1e3, GIL_CALLS_PER_OP(c->workload),
			GIL_CALLS_PER_OP(c->workload) == 1 ? "" : "s");
	else if (c->workload != GIL_CPU && c->call_cost_ns > 0)
		fprintf(f,
			"call cost: %.2f us of work under the lock before each "
			"IO call (--call-cost)\n",
			(double)c->call_cost_ns / 1e3);
	else if (c->workload != GIL_CPU)
		fprintf(f,
			"call cost: none (the emulation's IO calls pay no "
			"interpreter work%s)\n",
			rep->call_auto	? "; auto: CPython took no longer" :
			rep->call_no_py ? "; auto: no CPython ran" :
					  "");
	fprintf(f,
		"%d round%s, ways interleaved, each run after a warm-up; "
		"medians, +- = (max - min) / 2 / median\n",
		rep->rounds, rep->rounds == 1 ? "" : "s");
	fprintf(f, "load average %.2f at start, %.2f at end\n", rep->load[0],
		rep->load[1]);
	if (rep->python) {
		int sp = c->workload == GIL_CPU ? gil_py_specialised(rep) : -1;

		fprintf(f, "CPython: %s (%s%s), the same rounds%s\n",
			rep->py_path, rep->py_version,
			rep->py_gil ? "" : ", no GIL",
			sp == 1 ? "; busy_wait specialised in every run" :
			sp == 0 ? "; busy_wait NOT specialised in some runs" :
				  "");
	} else if (rep->py_note[0])
		fprintf(f, "CPython: not run: %s\n", rep->py_note);
	fputc('\n', f);
}

static void gil_cell(FILE *f, const struct gil_stat *s, int prec, int w)
{
	if (!s->n || !isfinite(s->med) || s->med < 0)
		fprintf(f, " %*s", w, "-");
	else
		fprintf(f, " %*.*f", w, prec, s->med);
}

static void gil_cell_pm(FILE *f, const struct gil_stat *s)
{
	if (!s->n || !isfinite(s->med))
		fprintf(f, " %6s", "-");
	else
		fprintf(f, " %5.1f%%", 100 * gil_spread(s));
}

static void gil_row(const struct gil_report *rep, int wi, FILE *f, int *flagged)
{
	int convoy = rep->c->workload == GIL_CONVOY,
	    cpu = rep->c->workload == GIL_CPU;
	int side;
	struct gil_stat key[2], sp[2], x;

	fprintf(f, "%-11s", gil_way_names[rep->way[wi]]);
	for (side = 0; side < (rep->python ? 2 : 1); side++) {
		const struct gil_result *m =
			rep->ran[wi][side] ? gil_median_run(rep, wi, side) :
					     NULL;

		gil_stat_of(rep, wi, side, convoy ? gil_f_p50 : gil_f_wall,
			    &key[side]);
		gil_speedup(rep, wi, side, &sp[side]);
		if (side)
			fprintf(f, "  |");
		gil_cell(f, &key[side], convoy ? 1 : 3, 9);
		gil_cell_pm(f, &key[side]);
		if (gil_flag(rep, &sp[side])) {
			fprintf(f, " %7.2f!", sp[side].med);
			*flagged = 1;
		} else {
			gil_cell(f, &sp[side], 2, 8);
		}
		if (!m) {
			fprintf(f, " %9s %9s", "-", "-");
			continue;
		}
		if (cpu) {
			gil_stat_of(rep, wi, side, gil_f_hz, &x);
			fprintf(f, " %9.2f", m->cpu_s);
			gil_cell(f, &x, 1, 9);
		} else if (convoy) {
			fprintf(f, " %9.1f %9.1f", (double)m->lat.p99 / 1e3,
				(double)m->lat.max / 1e3);
		} else {
			fprintf(f, " %9.0f %9.1f", m->ops_per_sec,
				(double)m->lat.p50 / 1e3);
		}
	}
	if (rep->python) {
		double q = NAN;

		if (key[1].n && convoy)
			q = key[0].med / key[1].med;
		else if (sp[1].n && sp[0].n)
			q = sp[0].med / sp[1].med;
		if (isfinite(q))
			fprintf(f, "  | %7.2f", q);
		else
			fprintf(f, "  | %7s", "-");
	}
	fputc('\n', f);
}

int gil_print_table(const struct gil_report *rep, FILE *f)
{
	int convoy = rep->c->workload == GIL_CONVOY,
	    cpu = rep->c->workload == GIL_CPU;
	const char *a = convoy ? "IO p50 us" : "wall s",
		   *b = convoy ? "speedup" : "speedup";
	const char *c3 = cpu ? "cpu s" : convoy ? "p99 us" : "ops/s";
	const char *c4 = cpu ? "handoff/s" : convoy ? "max us" : "p50 us";
	int i, side, flagged = 0;

	gil_head(rep, f);
	fprintf(f, "%-11s", "");
	for (side = 0; side < (rep->python ? 2 : 1); side++)
		fprintf(f, "%s %-45s", side ? "  |" : "",
			side ? "CPython" : "tide emulation");
	fprintf(f, "%s\n", rep->python ? "  | tide/CPy" : "");
	fprintf(f, "%-11s", "way");
	for (side = 0; side < (rep->python ? 2 : 1); side++)
		fprintf(f, "%s %9s %6s %8s %9s %9s", side ? "  |" : "", a, "+-",
			b, c3, c4);
	fprintf(f, "%s\n",
		rep->python ? (convoy ? "  |  IO p50" : "  | speedup") : "");
	for (i = 0; i < rep->nways; i++)
		gil_row(rep, i, f, &flagged);
	if (flagged)
		fprintf(f,
			"! speed-up above the %ld cores: a measurement problem "
			"(frequency, placement, noise), not a result\n",
			rep->cores);
	for (i = 0; i < rep->nways; i++) {
		const struct tide_glock_stats *g;

		if (rep->way[i] != GIL_GLOCK || !rep->ran[i][GIL_TIDE])
			continue;
		g = &gil_median_run(rep, i, GIL_TIDE)->gs;
		fprintf(f,
			"\nglock (median round): %.1f hand-offs/s, %llu acquisitions, "
			"%llu drop requests, %llu forced drops, held %.1f%% of wall "
			"time, Jain %.3f\n",
			g->handoffs_per_s, (unsigned long long)g->acquisitions,
			(unsigned long long)g->drop_requests,
			(unsigned long long)g->forced_drops,
			g->held_fraction * 100, g->jain_index);
		fprintf(f,
			"       wait us p50 %.1f p99 %.1f max %.1f; "
			"hold us p50 %.1f p99 %.1f max %.1f\n",
			g->wait_ns.p50 / 1e3, g->wait_ns.p99 / 1e3,
			g->wait_ns.max / 1e3, g->hold_ns.p50 / 1e3,
			g->hold_ns.p99 / 1e3, g->hold_ns.max / 1e3);
	}
	if (gil_nchk)
		fprintf(f,
			"\nchecks (value: median [min..max] over the rounds, the median's confidence interval; band; verdict):\n");
	for (i = 0; i < gil_nchk; i++) {
		const struct gil_check *k = &gil_chk[i];

		fprintf(f,
			"  [%-7s] %s: %.3g [%.3g..%.3g], %.0f%% CI %.3g..%.3g, band %.3g..%.3g\n",
			gil_verdicts[k->verdict], k->name, k->m.med, k->m.lo,
			k->m.hi, 100 * k->m.ci_level, k->m.ci_lo, k->m.ci_hi,
			k->lo, k->hi);
		fprintf(f, "            %s%s%s\n", k->basis,
			k->verdict == GIL_V_NOISY ? "; noisy: " : "",
			k->verdict == GIL_V_NOISY ? k->why : "");
	}
	if (!gil_nchk && rep->c->workload != GIL_CPU &&
	    rep->c->workload != GIL_CONVOY)
		fprintf(f,
			"\nchecks: the IO checks compare with CPython: run with --python\n");
	return gil_ferr(f);
}

/* ---- JSON -------------------------------------------------------------- */

static void gil_jstat(struct json_writer *w, const char *key,
		      const struct gil_stat *s)
{
	json_key(w, key);
	if (!s->n || !isfinite(s->med)) {
		json_null(w);
		return;
	}
	json_object_begin(w);
	json_key(w, "median");
	json_double(w, s->med);
	json_key(w, "min");
	json_double(w, s->lo);
	json_key(w, "max");
	json_double(w, s->hi);
	json_key(w, "spread");
	json_double(w, gil_spread(s));
	json_key(w, "ci");
	json_array_begin(w);
	json_double(w, s->ci_lo);
	json_double(w, s->ci_hi);
	json_array_end(w);
	json_key(w, "ci_level");
	json_double(w, s->ci_level);
	json_key(w, "n");
	json_uint(w, (uint64_t)s->n);
	json_object_end(w);
}

static void gil_jdist(struct json_writer *w, const char *key, uint64_t p50,
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

/* One side of one way: the median round's figures plus the spreads. */
static void gil_jside(struct json_writer *w, const struct gil_report *rep,
		      int wi, int side)
{
	const struct gil_result *r = gil_median_run(rep, wi, side);
	struct gil_stat st;

	gil_stat_of(rep, wi, side, gil_f_wall, &st);
	json_key(w, "wall_s");
	json_double(w, st.med);
	gil_jstat(w, "wall_s_rounds", &st);
	gil_speedup(rep, wi, side, &st);
	json_key(w, "speedup");
	if (st.n)
		json_double(w, st.med);
	else
		json_null(w);
	json_key(w, "speedup_exceeds_cores");
	json_bool(w, gil_flag(rep, &st));
	json_key(w, "cpu_s");
	json_double(w, r->cpu_s);
	json_key(w, "ops");
	json_uint(w, r->ops);
	json_key(w, "ops_per_sec");
	json_double(w, r->ops_per_sec);
	if (side == GIL_TIDE) {
		json_key(w, "voluntary_csw");
		json_int(w, r->nvcsw);
		json_key(w, "involuntary_csw");
		json_int(w, r->nivcsw);
	}
	if (r->has_lat) {
		gil_jdist(w, "lat_ns", r->lat.p50, r->lat.p99, r->lat.max);
		gil_stat_of(rep, wi, side, gil_f_p50, &st);
		gil_jstat(w, "lat_p50_us_rounds", &st);
	}
	if (r->handoffs_per_s >= 0) {
		json_key(w, "handoffs_per_s");
		json_double(w, r->handoffs_per_s);
	}
	if (r->has_lock) {
		const struct tide_glock_stats *g = &r->gs;

		json_key(w, "acquisitions");
		json_uint(w, g->acquisitions);
		json_key(w, "drop_requests");
		json_uint(w, g->drop_requests);
		json_key(w, "forced_drops");
		json_uint(w, g->forced_drops);
		gil_jdist(w, "wait_ns", g->wait_ns.p50, g->wait_ns.p99,
			  g->wait_ns.max);
		gil_jdist(w, "hold_ns", g->hold_ns.p50, g->hold_ns.p99,
			  g->hold_ns.max);
		json_key(w, "held_fraction");
		json_double(w, g->held_fraction);
		json_key(w, "jain_index");
		json_double(w, g->jain_index);
	}
}

static void gil_jconfig(struct json_writer *w, const struct gil_report *rep)
{
	static const char *const pins[] = { "none", "split", "same" };
	const struct gil_cfg *c = rep->c;

	json_key(w, "workload");
	json_string(w, gil_workload_names[c->workload]);
	json_key(w, "threads");
	json_int(w, c->threads);
	json_key(w, "switch_interval_ns");
	json_uint(w, c->interval_ns);
	json_key(w, "mode");
	json_string(w, c->mode == TIDE_GLOCK_FIFO ? "fifo" : "gil");
	json_key(w, "pin");
	json_string(w, pins[c->pin]);
	json_key(w, "rounds");
	json_int(w, rep->rounds);
	json_key(w, "cores");
	json_int(w, rep->cores);
	json_key(w, c->workload == GIL_CPU    ? "count" :
		    c->workload == GIL_CONVOY ? "duration_s" :
						"ops");
	if (c->workload == GIL_CONVOY)
		json_double(w, c->duration);
	else
		json_uint(w, c->workload == GIL_CPU ? c->count : c->ops);
	json_key(w, "calibrated");
	json_bool(w, c->calibrated);
	json_key(w, "call_cost_ns");
	json_uint(w, c->call_cost_ns > 0 ? (uint64_t)c->call_cost_ns : 0);
	json_key(w, "call_cost_auto");
	json_bool(w, rep->call_auto);
	if (rep->call_auto) {
		json_key(w, "call_cost_from");
		json_object_begin(w);
		json_key(w, "python_seq_p50_ns");
		json_double(w, rep->call_py_p50);
		json_key(w, "tide_seq_p50_ns");
		json_double(w, rep->call_tide_p50);
		json_key(w, "calls_per_op");
		json_int(w, GIL_CALLS_PER_OP(c->workload));
		json_object_end(w);
	}
	json_key(w, "loadavg");
	json_array_begin(w);
	json_double(w, rep->load[0]);
	json_double(w, rep->load[1]);
	json_array_end(w);
	json_key(w, "python");
	json_object_begin(w);
	json_key(w, "ran");
	json_bool(w, rep->python);
	if (rep->python) {
		json_key(w, "path");
		json_string(w, rep->py_path);
		json_key(w, "version");
		json_string(w, rep->py_version);
		json_key(w, "gil");
		json_bool(w, rep->py_gil);
		if (c->workload == GIL_CPU) {
			int sp = gil_py_specialised(rep);

			json_key(w, "count");
			json_uint(w, c->py_count);
			json_key(w, "specialised");
			if (sp < 0)
				json_null(w);
			else
				json_bool(w, sp);
		}
	} else {
		json_key(w, "note");
		json_string(w, rep->py_note[0] ? rep->py_note :
						 "not requested (--python)");
	}
	json_object_end(w);
}

int gil_print_json(const struct gil_report *rep, FILE *f)
{
	struct json_writer w;
	int i, rc;

	json_init(&w, f, 1);
	json_object_begin(&w);
	gil_jconfig(&w, rep);
	json_key(&w, "results");
	json_array_begin(&w);
	for (i = 0; i < rep->nways; i++) {
		struct gil_stat a, b;

		json_object_begin(&w);
		json_key(&w, "way");
		json_string(&w, gil_way_names[rep->way[i]]);
		gil_jside(&w, rep, i, GIL_TIDE);
		json_key(&w, "python");
		if (rep->ran[i][GIL_PY]) {
			json_object_begin(&w);
			gil_jside(&w, rep, i, GIL_PY);
			json_object_end(&w);
		} else {
			json_null(&w);
		}
		/* tide over CPython: IO p50 (convoy) or speed-up */
		json_key(&w, "ratio");
		if (rep->c->workload == GIL_CONVOY) {
			gil_stat_of(rep, i, GIL_TIDE, gil_f_p50, &a);
			gil_stat_of(rep, i, GIL_PY, gil_f_p50, &b);
		} else {
			gil_speedup(rep, i, GIL_TIDE, &a);
			gil_speedup(rep, i, GIL_PY, &b);
		}
		if (a.n && b.n && b.med > 0)
			json_double(&w, a.med / b.med);
		else
			json_null(&w);
		json_object_end(&w);
	}
	json_array_end(&w);
	json_key(&w, "checks");
	json_array_begin(&w);
	for (i = 0; i < gil_nchk; i++) {
		const struct gil_check *k = &gil_chk[i];

		json_object_begin(&w);
		json_key(&w, "name");
		json_string(&w, k->name);
		json_key(&w, "band");
		json_array_begin(&w);
		json_double(&w, k->lo);
		json_double(&w, k->hi);
		json_array_end(&w);
		json_key(&w, "basis");
		json_string(&w, k->basis);
		gil_jstat(&w, "measured", &k->m);
		json_key(&w, "verdict");
		json_string(&w, gil_verdicts[k->verdict]);
		if (k->verdict == GIL_V_NOISY) {
			json_key(&w, "why");
			json_string(&w, k->why);
		}
		json_object_end(&w);
	}
	json_array_end(&w);
	json_object_end(&w);
	errno = 0;
	rc = json_finish(&w);
	/* the writer says EIO for any stream error; errno says which */
	if (rc == -EIO && errno)
		rc = -errno;
	return rc ? rc : gil_ferr(f);
}
