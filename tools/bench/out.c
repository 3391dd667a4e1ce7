// SPDX-License-Identifier: MIT
/*
 * out.c - tide-bench's output: the table (engines side by side, with
 * ratios to the raw liburing floor), the --json object, and the copy mode.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tide.h>

#include "bench.h"
#include "json.h"
#include "out.h"

static const char *mode_name(int m)
{
	switch (m) {
	case BENCH_NOP:
		return "nop";
	case BENCH_READ:
		return "read";
	case BENCH_WRITE:
		return "write";
	default:
		return "copy";
	}
}

static void out_lat(struct json_writer *w, struct tide_hist *h)
{
	json_key(w, "lat_ns");
	json_object_begin(w);
	json_key(w, "p50");
	json_uint(w, hist_pct(h, 50.0));
	json_key(w, "p90");
	json_uint(w, hist_pct(h, 90.0));
	json_key(w, "p99");
	json_uint(w, hist_pct(h, 99.0));
	json_key(w, "p999");
	json_uint(w, hist_pct(h, 99.9));
	json_key(w, "max");
	json_uint(w, h->max);
	json_object_end(w);
}

static void out_json_one(struct json_writer *w, const struct job *j,
			 struct result *r, double ratio, unsigned rounds)
{
	json_object_begin(w);
	json_key(w, "mode");
	json_string(w, mode_name(j->mode));
	json_key(w, "engine");
	json_string(w, r->engine);
	if (rounds > 1) {
		/* the figures are this engine's median round */
		json_key(w, "rounds");
		json_uint(w, rounds);
	}
	json_key(w, "ops");
	json_uint(w, r->ops);
	json_key(w, "seconds");
	json_double(w, (double)r->ns / 1e9);
	if (j->mode == BENCH_NOP) {
		json_key(w, "ops_per_sec");
		json_double(w, per_sec(r->ops, r->ns));
		json_key(w, "batch");
		json_uint(w, j->qd);
		if (r->bytes_per_future > 0) {
			json_key(w, "bytes_per_future");
			json_double(w, r->bytes_per_future);
			json_key(w, "future_record_bytes");
			json_uint(w, 64);
			json_key(w, "heap_bytes_per_future");
			json_double(w, r->heap_per_future);
		}
	} else {
		json_key(w, "iops");
		json_double(w, per_sec(r->ops, r->ns));
		json_key(w, "bytes");
		json_uint(w, r->bytes);
		json_key(w, "bytes_per_sec");
		json_double(w, per_sec(r->bytes, r->ns));
		json_key(w, "bs");
		json_uint(w, j->bs);
		json_key(w, "qd");
		json_uint(w, j->mode == BENCH_WRITE || j->mode == BENCH_READ ?
				     (strcmp(r->engine, "psync") ? j->qd : 1) :
				     j->qd);
		json_key(w, "rand");
		json_bool(w, j->rand);
		json_key(w, "direct");
		json_bool(w, j->direct);
		json_key(w, "size");
		json_uint(w, j->size);
		if (j->fsync_n) {
			json_key(w, "fsyncs");
			json_uint(w, r->fsyncs);
		}
		out_lat(w, &r->lat);
	}
	json_key(w, "cpu_ns_per_op");
	json_double(w, r->ops ? (double)r->cpu_ns / (double)r->ops : 0.0);
	json_key(w, "ctx_switches");
	json_object_begin(w);
	json_key(w, "voluntary");
	json_uint(w, r->vcsw);
	json_key(w, "involuntary");
	json_uint(w, r->ivcsw);
	json_object_end(w);
	if (r->enter_calls) {
		json_key(w, "enter_calls");
		json_uint(w, r->enter_calls);
	}
	if (ratio > 0) {
		json_key(w, "ratio_to_raw");
		json_double(w, ratio);
	}
	if (r->has_cfg) {
		json_key(w, "loop_config");
		json_object_begin(w);
		json_key(w, "defer_taskrun");
		json_bool(w, !!(r->cfg_setup & TIDE_SETUP_DEFER_TASKRUN));
		json_key(w, "coop_taskrun");
		json_bool(w, !!(r->cfg_setup & TIDE_SETUP_COOP_TASKRUN));
		json_key(w, "sqpoll");
		json_bool(w, !!(r->cfg_setup & TIDE_SETUP_SQPOLL));
		json_key(w, "submit_all");
		json_bool(w, !!(r->cfg_setup & TIDE_SETUP_SUBMIT_ALL));
		json_key(w, "sq_entries");
		json_uint(w, r->cfg_sq);
		json_key(w, "cq_entries");
		json_uint(w, r->cfg_cq);
		json_key(w, "features");
		json_uint(w, r->cfg_features);
		json_object_end(w);
	}
	json_object_end(w);
}

static double us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

static void out_table(const struct job *j, struct result *res, unsigned n,
		      const double *ratio)
{
	if (j->mode == BENCH_NOP) {
		printf("%-10s %14s %10s %9s %10s %8s\n", "engine", "ops/s",
		       "cpu/op ns", "ctxsw", "B/future", "vs raw");
		for (unsigned i = 0; i < n; i++) {
			struct result *r = &res[i];

			printf("%-10s %14.0f %10.1f %9llu ", r->engine,
			       per_sec(r->ops, r->ns),
			       r->ops ? (double)r->cpu_ns / (double)r->ops :
					0.0,
			       (unsigned long long)(r->vcsw + r->ivcsw));
			if (r->bytes_per_future > 0)
				printf("%10.1f ", r->bytes_per_future);
			else
				printf("%10s ", "-");
			if (ratio[i] > 0)
				printf("%7.2fx\n", ratio[i]);
			else
				printf("%8s\n", "-");
		}
		return;
	}
	printf("%s %s, bs %u, qd %u, size %llu%s%s: %s\n",
	       j->rand ? "random" : "sequential", mode_name(j->mode), j->bs,
	       j->qd, (unsigned long long)j->size,
	       j->direct ? ", O_DIRECT" : "", j->fsync_n ? ", fsync" : "",
	       j->path ? j->path : "");
	printf("%-10s %10s %9s %9s %9s %9s %9s %10s %9s %7s %7s\n", "engine",
	       "IOPS", "MB/s", "p50 us", "p90 us", "p99 us", "p99.9 us",
	       "max us", "cpu/op us", "ctxsw", "vs raw");
	for (unsigned i = 0; i < n; i++) {
		struct result *r = &res[i];

		printf("%-10s %10.0f %9.1f %9.1f %9.1f %9.1f %9.1f %10.1f "
		       "%9.2f %7llu ",
		       r->engine, per_sec(r->ops, r->ns),
		       per_sec(r->bytes, r->ns) / 1e6,
		       us(hist_pct(&r->lat, 50.0)), us(hist_pct(&r->lat, 90.0)),
		       us(hist_pct(&r->lat, 99.0)), us(hist_pct(&r->lat, 99.9)),
		       us(r->lat.max),
		       r->ops ? us(r->cpu_ns) / (double)r->ops : 0.0,
		       (unsigned long long)(r->vcsw + r->ivcsw));
		if (ratio[i] > 0)
			printf("%6.2fx\n", ratio[i]);
		else
			printf("%7s\n", "-");
	}
}

int output(const struct job *j, struct result *res, unsigned n, int json,
	   const double *ratios, unsigned rounds);
int output(const struct job *j, struct result *res, unsigned n, int json,
	   const double *ratios, unsigned rounds)
{
	double ratio[BENCH_E_N] = { 0 };
	double floor = 0;

	for (unsigned i = 0; i < n; i++)
		if (!strcmp(res[i].engine, "raw"))
			floor = per_sec(res[i].ops, res[i].ns);
	for (unsigned i = 0; i < n && n > 1 && floor > 0; i++)
		ratio[i] = ratios ? ratios[i] :
				    per_sec(res[i].ops, res[i].ns) / floor;
	if (json) {
		struct json_writer w;

		json_init(&w, stdout, 1);
		if (n == 1) {
			out_json_one(&w, j, &res[0], 0, rounds);
		} else {
			json_object_begin(&w);
			json_key(&w, "mode");
			json_string(&w, mode_name(j->mode));
			if (rounds > 1) {
				json_key(&w, "rounds");
				json_uint(&w, rounds);
			}
			json_key(&w, "results");
			json_array_begin(&w);
			for (unsigned i = 0; i < n; i++)
				out_json_one(&w, j, &res[i], ratio[i], rounds);
			json_array_end(&w);
			json_object_end(&w);
		}
		return json_finish(&w);
	}
	out_table(j, res, n, ratio);
	errno = 0;
	if (fflush(stdout))
		return errno ? -errno : -EIO;
	return ferror(stdout) ? -EIO : 0;
}

/* The copy's destination: refused when it is the source (through hard
 * links and symlinks: truncating it would destroy the source), a FIFO or a
 * socket (never blocks in open); created or truncated otherwise. */
static int copy_open_dst(const char *dst, const struct stat *src)
{
	struct stat ds;
	int fd, fl;

	if (copy_same_file(src, dst)) {
		fprintf(stderr,
			"tide-bench: copy: the source and %s are the "
			"same file\n",
			dst);
		return -1;
	}
	if (stat(dst, &ds) == 0 && !S_ISREG(ds.st_mode) &&
	    !S_ISCHR(ds.st_mode) && !S_ISBLK(ds.st_mode)) {
		fprintf(stderr, "tide-bench: %s: %s\n", dst,
			S_ISDIR(ds.st_mode) ?
				"is a directory" :
				"is a FIFO or socket, not a file");
		return -1;
	}
	fd = open(dst,
		  O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NONBLOCK |
			  O_NOCTTY,
		  0600);
	if (fd < 0) {
		fprintf(stderr, "tide-bench: %s: cannot create: %s\n", dst,
			strerror(errno));
		return -1;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		fprintf(stderr, "tide-bench: %s: %s\n", dst, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* tide-bench copy SRC DST */
int copy_main(struct job *j, const char *src, const char *dst, int json);
int copy_main(struct job *j, const char *src, const char *dst, int json)
{
	struct result r;
	struct copy_stats st;
	const char *what = NULL;
	struct stat sb;
	int in, out, ret;

	memset(&r, 0, sizeof(r));
	memset(&st, 0, sizeof(st));
	in = copy_open_src(src, &sb, &what);
	if (in < 0) {
		if (in == -EISDIR || in == -EINVAL)
			fprintf(stderr, "tide-bench: %s: %s\n", src, what);
		else
			fprintf(stderr, "tide-bench: %s: %s: %s\n", src, what,
				strerror(-in));
		return 1;
	}
	out = copy_open_dst(dst, &sb);
	if (out < 0) {
		close(in);
		return 1;
	}
	usage_begin(&r);
	ret = copy_run(in, out, (uint64_t)sb.st_size, j->bs, j->qd, &st, &what);
	usage_end(&r);
	close(in);
	if (close(out) < 0 && !ret) {
		ret = -errno;
		what = "closing the destination";
	}
	if (ret < 0) {
		fprintf(stderr, "tide-bench: copy %s to %s: %s: %s\n", src, dst,
			what ? what : "copying",
			what && strstr(what, "loop") ? tide_strerror(ret) :
						       strerror(-ret));
		return 1;
	}
	r.engine = "tide";
	r.ops = st.chunks;
	r.bytes = st.bytes;
	r.ns = st.ns;
	r.lat = st.lat;
	j->size = st.bytes;
	j->path = dst;
	return out_finish(output(j, &r, 1, json, NULL, 1));
}
