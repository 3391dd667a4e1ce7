// SPDX-License-Identifier: MIT
/*
 * svg.c - tide-gil --svg: wall time per way (cpu, io) or the convoy's
 * IO latency on a log axis, the emulation's bar beside CPython's, medians
 * with the rounds' min..max as whiskers; title, axis, units and legend.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "gil.h"

#define SVG_W 820
#define SVG_X0 150 /* plot area */
#define SVG_X1 720
#define SVG_BAR 16

static const char *const gil_side_color[GIL_NSIDES] = { "#2e86c1", "#e67e22" };

struct gil_axis {
	int log;
	double lo, hi; /* value range of the axis */
};

static double gil_x(const struct gil_axis *ax, double v)
{
	double t;

	if (ax->log)
		t = (log10(fmax(v, ax->lo)) - log10(ax->lo)) /
		    (log10(ax->hi) - log10(ax->lo));
	else
		t = v / ax->hi;
	return SVG_X0 + (SVG_X1 - SVG_X0) * fmin(fmax(t, 0), 1);
}

static void gil_ticks(FILE *f, const struct gil_axis *ax, int y)
{
	double step, v;

	fprintf(f,
		"<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n",
		SVG_X0, y, SVG_X1, y);
	if (ax->log) {
		for (v = ax->lo; v <= ax->hi * 1.0001; v *= 10)
			fprintf(f,
				"<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
				"stroke=\"#ccc\"/><text x=\"%.1f\" y=\"%d\" "
				"text-anchor=\"middle\">%g</text>\n",
				gil_x(ax, v), 70, gil_x(ax, v), y, gil_x(ax, v),
				y + 16, v);
		return;
	}
	step = pow(10, floor(log10(ax->hi / 5)));
	if (ax->hi / step > 10)
		step *= ax->hi / step > 25 ? 5 : 2;
	for (v = 0; v <= ax->hi * 1.0001; v += step)
		fprintf(f,
			"<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
			"stroke=\"#ccc\"/><text x=\"%.1f\" y=\"%d\" "
			"text-anchor=\"middle\">%g</text>\n",
			gil_x(ax, v), 70, gil_x(ax, v), y, gil_x(ax, v), y + 16,
			v);
}

static void gil_svg_axis(const struct gil_report *rep, struct gil_axis *ax)
{
	int convoy = rep->c->workload == GIL_CONVOY, i, s, k;
	double hi = 0, lo = INFINITY;

	for (i = 0; i < rep->nways; i++)
		for (s = 0; s < GIL_NSIDES; s++)
			for (k = 0; rep->ran[i][s] && k < rep->rounds; k++) {
				const struct gil_result *r = &rep->r[i][s][k];
				double v = convoy ? (double)r->lat.p99 / 1e3 :
						    r->wall_s;
				double l = convoy ? (double)r->lat.p50 / 1e3 :
						    v;

				hi = fmax(hi, v);
				if (l > 0)
					lo = fmin(lo, l);
			}
	ax->log = convoy;
	if (convoy) {
		ax->lo = pow(10, floor(log10(isfinite(lo) ? lo : 1)));
		ax->hi = pow(10, ceil(log10(hi > ax->lo ? hi : ax->lo * 10)));
	} else {
		double step = pow(10, floor(log10(hi > 0 ? hi : 1)));

		ax->lo = 0;
		ax->hi = ceil((hi > 0 ? hi : 1) / step * 2) * step / 2;
	}
}

static void gil_svg_bar(FILE *f, const struct gil_report *rep,
			const struct gil_axis *ax, int wi, int side, int y)
{
	int convoy = rep->c->workload == GIL_CONVOY;
	struct gil_stat s;
	double x;

	gil_stat_of(rep, wi, side, convoy ? gil_f_p50 : gil_f_wall, &s);
	x = gil_x(ax, s.med);
	fprintf(f,
		"<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n",
		SVG_X0, y, x - SVG_X0, SVG_BAR, gil_side_color[side]);
	/* whisker: the rounds' min..max */
	fprintf(f,
		"<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#000\"/>"
		"<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#000\"/>"
		"<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#000\"/>\n",
		gil_x(ax, s.lo), y + SVG_BAR / 2, gil_x(ax, s.hi),
		y + SVG_BAR / 2, gil_x(ax, s.lo), y + 4, gil_x(ax, s.lo),
		y + SVG_BAR - 4, gil_x(ax, s.hi), y + 4, gil_x(ax, s.hi),
		y + SVG_BAR - 4);
	if (convoy) {
		const struct gil_result *m = gil_median_run(rep, wi, side);
		double p = gil_x(ax, (double)m->lat.p99 / 1e3);

		fprintf(f,
			"<path d=\"M%.1f %d l5 %d l-5 %d l-5 %d z\" fill=\"#222\"/>\n",
			p, y, SVG_BAR / 2, SVG_BAR / 2, -SVG_BAR / 2);
		x = fmax(x, p);
	}
	fprintf(f, "<text x=\"%.1f\" y=\"%d\">", fmax(x, gil_x(ax, s.hi)) + 8,
		y + SVG_BAR - 3);
	if (!convoy)
		fprintf(f, "%.3g s</text>\n", s.med);
	else if (s.med < 1000)
		fprintf(f, "p50 %.1f us</text>\n", s.med);
	else
		fprintf(f, "p50 %.2f ms</text>\n", s.med / 1e3);
}

int gil_write_svg(const struct gil_report *rep, const char *path)
{
	int convoy = rep->c->workload == GIL_CONVOY, i, s, y, h, rows = 0, rc;
	struct gil_axis ax;
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	for (i = 0; i < rep->nways; i++)
		rows += rep->ran[i][GIL_TIDE] + rep->ran[i][GIL_PY];
	h = 150 + rows * (SVG_BAR + 4) + rep->nways * 14;
	gil_svg_axis(rep, &ax);
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		"font-family=\"sans-serif\" font-size=\"12\">\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n",
		SVG_W, h);
	fprintf(f,
		"<text x=\"10\" y=\"22\" font-size=\"16\" font-weight=\"bold\">"
		"tide-gil %s: %s, %d thread%s, switch interval %g ms</text>\n",
		gil_workload_names[rep->c->workload],
		convoy ? "the IO thread's round-trip latency" :
			 "wall time per way",
		rep->c->threads, rep->c->threads == 1 ? "" : "s",
		(double)rep->c->interval_ns / 1e6);
	fprintf(f,
		"<text x=\"10\" y=\"40\">%s; median of %d round%s, whisker: "
		"min-max over the rounds%s</text>\n",
		convoy ? "bar: p50, diamond: p99 of the median round" :
			 "shorter is faster",
		rep->rounds, rep->rounds == 1 ? "" : "s",
		rep->c->workload == GIL_CPU && rep->python ?
			"; CPython counts its own calibrated busy_wait(n)" :
			"");
	for (s = 0; s < (rep->python ? 2 : 1); s++)
		fprintf(f,
			"<rect x=\"%d\" y=\"50\" width=\"12\" height=\"12\" fill=\"%s\"/>"
			"<text x=\"%d\" y=\"60\">%s%s</text>\n",
			10 + 200 * s, gil_side_color[s], 28 + 200 * s,
			s ? "CPython " : "tide emulation",
			s ? rep->py_version : "");
	y = 80 + rows * (SVG_BAR + 4) + rep->nways * 14;
	gil_ticks(f, &ax, y);
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
		(SVG_X0 + SVG_X1) / 2, y + 36,
		convoy ? "IO round-trip latency, microseconds (log scale)" :
			 "wall time, seconds");
	y = 80;
	for (i = 0; i < rep->nways; i++) {
		int y0 = y;

		for (s = 0; s < GIL_NSIDES; s++) {
			if (!rep->ran[i][s])
				continue;
			gil_svg_bar(f, rep, &ax, i, s, y);
			y += SVG_BAR + 4;
		}
		fprintf(f,
			"<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n",
			SVG_X0 - 8, (y0 + y) / 2 + 2,
			gil_way_names[rep->way[i]]);
		y += 14;
	}
	fprintf(f, "</svg>\n");
	rc = gil_ferr(f);
	if (fclose(f) && !rc)
		rc = -errno;
	return rc;
}
