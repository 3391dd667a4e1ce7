// SPDX-License-Identifier: MIT
/*
 * tide.c - tide-bench's engines on the public tide API: `tide`
 * (tide_read/tide_write futures, one tide_future_on_done continuation each),
 * `tide-fixed` (registered buffers and file, tide_read_fixed/_write_fixed)
 * and `nop` through futures, with the bytes-per-future measurement.
 *
 * Each of qd slots owns a buffer and keeps one operation in flight: its
 * continuation records the latency and issues the slot's next operation,
 * so the loop submits every replacement of one reaping round in one
 * io_uring_enter(2).
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include <tide.h>

#include "bench.h"

struct tb_ctx;

struct tb_slot {
	struct tb_ctx *c;
	char *buf;
	uint64_t t_sub;
	uint32_t idx;
	int is_fsync;
};

struct tb_ctx {
	struct tide_loop *loop;
	const struct job *j;
	struct result *r;
	struct offs offs;
	struct tb_slot *slots;
	uint64_t issued, t0, last_prog;
	uint32_t since_fsync;
	int fixed, stop;
};

static void tb_done(void *arg, int64_t res, void *payload);

static void tb_fail(struct tb_ctx *c, int err, const char *what)
{
	if (!c->r->err) {
		c->r->err = err;
		c->r->err_what = what;
	}
	c->stop = 1;
}

static void tb_issue(struct tb_slot *s, uint64_t now)
{
	struct tb_ctx *c = s->c;
	const struct job *j = c->j;
	struct tide_future *f;
	int wr = j->mode == BENCH_WRITE;

	if (c->stop || should_stop(j, c->issued, c->t0, now))
		return;
	s->is_fsync = 0;
	if (wr && j->fsync_n && c->since_fsync >= j->fsync_n) {
		c->since_fsync = 0;
		s->is_fsync = 1;
		f = tide_fsync(c->loop, j->fd);
	} else {
		uint64_t off = offs_next(&c->offs);

		c->issued++;
		c->since_fsync++;
		if (c->fixed && wr)
			f = tide_write_fixed(c->loop, 0, s->buf, j->bs, off,
					     (int)s->idx, TIDE_FIXED_FILE);
		else if (c->fixed)
			f = tide_read_fixed(c->loop, 0, s->buf, j->bs, off,
					    (int)s->idx, TIDE_FIXED_FILE);
		else if (wr)
			f = tide_write(c->loop, j->fd, s->buf, j->bs, off);
		else
			f = tide_read(c->loop, j->fd, s->buf, j->bs, off);
	}
	s->t_sub = now;
	if (tide_future_on_done(f, tb_done, s))
		tb_fail(c, -ENOMEM, "creating a future");
}

static void tb_done(void *arg, int64_t res, void *payload)
{
	struct tb_slot *s = arg;
	struct tb_ctx *c = s->c;
	uint64_t now = now_ns();

	(void)payload;
	if (s->is_fsync) {
		if (res < 0)
			tb_fail(c, (int)res, "fsync");
		else
			c->r->fsyncs++;
	} else if (res < 0) {
		tb_fail(c, (int)res,
			c->j->mode == BENCH_WRITE ? "write" : "read");
	} else if ((uint64_t)res != c->j->bs) {
		tb_fail(c, -EIO,
			c->j->mode == BENCH_WRITE ? "short write" :
						    "short read");
	} else {
		c->r->ops++;
		c->r->bytes += (uint64_t)res;
		tide_hist_record(&c->r->lat, now - s->t_sub);
	}
	progress(c->j, c->r->engine, c->r->ops, c->t0, now, &c->last_prog);
	tb_issue(s, now);
}

static void note_config(struct tide_loop *loop, struct result *r)
{
	struct tide_loop_config cfg;

	tide_loop_config(loop, &cfg);
	r->has_cfg = 1;
	r->cfg_setup = cfg.setup;
	r->cfg_sq = cfg.sq_entries;
	r->cfg_cq = cfg.cq_entries;
	r->cfg_features = cfg.features;
}

void tb_loop_options(uint32_t qd, struct tide_loop_options *o)
{
	memset(o, 0, sizeof(*o));
	o->entries = qd > 256 ? qd : 0;
}

static int tb_loop_new(struct tide_loop **loop, uint32_t qd, struct result *r)
{
	struct tide_loop_options o;
	int ret;

	tb_loop_options(qd, &o);
	ret = tide_loop_new(loop, &o);
	if (ret < 0) {
		r->err_what = "creating the loop";
		return ret;
	}
	note_config(*loop, r);
	return 0;
}

static int tb_register(struct tb_ctx *c)
{
	struct iovec *iov = calloc(c->j->qd, sizeof(*iov));
	int ret;

	if (!iov)
		return -ENOMEM;
	for (uint32_t i = 0; i < c->j->qd; i++) {
		iov[i].iov_base = c->slots[i].buf;
		iov[i].iov_len = c->j->bs;
	}
	ret = tide_loop_register_buffers(c->loop, iov, c->j->qd);
	free(iov);
	if (ret < 0) {
		c->r->err_what = "registering buffers";
		return ret;
	}
	ret = tide_loop_register_files(c->loop, &c->j->fd, 1);
	if (ret < 0)
		c->r->err_what = "registering the file";
	return ret;
}

int run_tide(const struct job *j, struct result *r, int fixed)
{
	struct tb_ctx c;
	uint64_t t1;
	int ret;

	memset(&c, 0, sizeof(c));
	c.j = j;
	c.r = r;
	c.fixed = fixed;
	offs_init(&c.offs, j);
	ret = tb_loop_new(&c.loop, j->qd, r);
	if (ret < 0)
		return ret;
	ret = -ENOMEM;
	c.slots = calloc(j->qd, sizeof(*c.slots));
	if (!c.slots)
		goto err_loop;
	for (uint32_t i = 0; i < j->qd; i++) {
		c.slots[i].c = &c;
		c.slots[i].idx = i;
		c.slots[i].buf = buf_alloc(j->bs);
		if (!c.slots[i].buf)
			goto err_slots;
	}
	if (fixed) {
		ret = tb_register(&c);
		if (ret < 0)
			goto err_slots;
	}
	usage_begin(r);
	c.t0 = now_ns();
	for (uint32_t i = 0; i < j->qd; i++)
		tb_issue(&c.slots[i], c.t0);
	ret = tide_loop_run(c.loop);
	t1 = now_ns();
	usage_end(r);
	progress_clear(j);
	r->ns = t1 - c.t0;
	{
		struct tide_loop_stats st;

		tide_loop_stats(c.loop, &st);
		r->enter_calls = st.enter_calls;
	}
	if (ret < 0 && !r->err) {
		r->err = ret;
		r->err_what = "running the loop";
	}
	ret = r->err;
err_slots:
	for (uint32_t i = 0; i < j->qd; i++)
		free(c.slots[i].buf);
	free(c.slots);
err_loop:
	tide_loop_free(c.loop);
	return ret;
}

/* ---- nop ------------------------------------------------------------- */

struct tn_ctx {
	struct tide_loop *loop;
	const struct job *j;
	uint64_t issued, done, t0, now, last_prog;
	int stop, err;
};

static void tn_done(void *arg, int64_t res, void *payload);

/* Inline in tn_done(): the raw engine's loop issues in place, too. */
static inline __attribute__((always_inline)) void tn_issue(struct tn_ctx *c)
{
	if (c->stop)
		return;
	/* time is read, and progress shown, once every 64 operations: nop
	 * is all overhead (the raw engine does both once per batch) */
	if ((c->issued & 63) == 0) {
		c->now = now_ns();
		progress(c->j, "tide", c->done, c->t0, c->now, &c->last_prog);
	}
	if (should_stop(c->j, c->issued, c->t0, c->now)) {
		c->stop = 1;
		return;
	}
	c->issued++;
	if (tide_future_on_done(tide_nop(c->loop), tn_done, c)) {
		c->err = -ENOMEM;
		c->stop = 1;
	}
}

static void tn_done(void *arg, int64_t res, void *payload)
{
	struct tn_ctx *c = arg;

	(void)payload;
	if (res < 0 && !c->err) {
		c->err = (int)res;
		c->stop = 1;
	}
	c->done++;
	tn_issue(c);
}

static void tn_count(void *arg, int64_t res, void *payload)
{
	(void)res;
	(void)payload;
	(*(uint64_t *)arg)++;
}

static uint64_t heap_used(void)
{
	struct mallinfo2 mi = mallinfo2();

	return (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
}

static uint64_t rss_bytes(void)
{
	unsigned long long size = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%llu %llu", &size, &res) != 2)
		res = 0;
	fclose(f);
	return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

/*
 * Memory per pending future with its on_done continuation: the slope of
 * resident memory (and of heap address space) between n1 and n2 futures
 * held pending at once, which spreads the loop's slab chunks over their
 * objects.  Promises stand in for operations here because an operation
 * future is the same single slab object (the engine's op record is
 * embedded in it) and promises touch no SQ ring pages, which would be
 * counted otherwise.
 */
static void tn_bytes_per_future(struct result *r)
{
	const uint32_t n1 = 8192, n2 = 8192 + 65536;
	struct tide_future **p = calloc(n2, sizeof(*p));
	struct tide_loop *loop;
	uint64_t m1 = 0, m2, h1 = 0, h2, cnt = 0;

	if (!p || tide_loop_new(&loop, NULL) < 0) {
		free(p);
		return;
	}
	memset(p, 0xff, n2 * sizeof(*p)); /* fault the array in beforehand */
	for (uint32_t i = 0; i < n2; i++) {
		if (i == n1) {
			m1 = rss_bytes();
			h1 = heap_used();
		}
		p[i] = tide_promise_new(loop);
		tide_future_on_done(p[i], tn_count, &cnt);
	}
	m2 = rss_bytes();
	h2 = heap_used();
	for (uint32_t i = 0; i < n2; i++)
		tide_promise_resolve(p[i], 0, NULL);
	tide_loop_run(loop);
	tide_loop_free(loop);
	free(p);
	if (cnt != n2)
		return;
	if (m2 > m1)
		r->bytes_per_future = (double)(m2 - m1) / (double)(n2 - n1);
	if (h2 > h1)
		r->heap_per_future = (double)(h2 - h1) / (double)(n2 - n1);
}

int run_nop_tide(const struct job *j, struct result *r)
{
	struct tn_ctx c;
	struct tide_loop_stats st;
	int ret;

	memset(&c, 0, sizeof(c));
	c.j = j;
	tn_bytes_per_future(r);
	ret = tb_loop_new(&c.loop, j->qd, r);
	if (ret < 0)
		return ret;
	usage_begin(r);
	c.t0 = c.now = now_ns();
	for (uint32_t i = 0; i < j->qd; i++)
		tn_issue(&c);
	ret = tide_loop_run(c.loop);
	r->ns = now_ns() - c.t0;
	usage_end(r);
	progress_clear(j);
	tide_loop_stats(c.loop, &st);
	r->enter_calls = st.enter_calls;
	tide_loop_free(c.loop);
	r->ops = c.done;
	if (ret < 0)
		c.err = ret;
	if (c.err) {
		r->err = c.err;
		r->err_what = "nop";
	}
	return c.err;
}
