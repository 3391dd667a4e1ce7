// SPDX-License-Identifier: MIT
/*
 * pool.c - tide-bench's `pool` engine: pread/pwrite run by tide's
 * thread pool (--workers N), qd jobs in flight, each a future on the loop
 * (tide_pool_submit) with one tide_future_on_done continuation, as asyncio
 * code would use run_in_executor for blocking file IO.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tide.h>

#include "bench.h"

struct bp_ctx;

struct bp_slot {
	struct bp_ctx *c;
	char *buf;
	uint64_t off, t_sub;
};

struct bp_ctx {
	struct tide_loop *loop;
	struct tide_pool *pool;
	const struct job *j;
	struct result *r;
	struct offs offs;
	uint64_t issued, t0, last_prog;
	int stop;
};

/* On a worker: one blocking transfer. */
static int64_t bp_job(void *arg)
{
	struct bp_slot *s = arg;
	const struct job *j = s->c->j;
	ssize_t n = j->mode == BENCH_WRITE ?
			    pwrite(j->fd, s->buf, j->bs, (off_t)s->off) :
			    pread(j->fd, s->buf, j->bs, (off_t)s->off);

	return n < 0 ? -errno : n;
}

static void bp_done(void *arg, int64_t res, void *payload);

static void bp_issue(struct bp_slot *s, uint64_t now)
{
	struct bp_ctx *c = s->c;

	if (c->stop || should_stop(c->j, c->issued, c->t0, now))
		return;
	c->issued++;
	s->off = offs_next(&c->offs);
	s->t_sub = now;
	if (tide_future_on_done(tide_pool_submit(c->pool, c->loop, bp_job, s),
				bp_done, s) &&
	    !c->r->err) {
		c->r->err = -ENOMEM;
		c->r->err_what = "creating a future";
		c->stop = 1;
	}
}

static void bp_done(void *arg, int64_t res, void *payload)
{
	struct bp_slot *s = arg;
	struct bp_ctx *c = s->c;
	int wr = c->j->mode == BENCH_WRITE;
	uint64_t now = now_ns();

	(void)payload;
	if (res < 0 || (uint64_t)res != c->j->bs) {
		if (!c->r->err) {
			c->r->err = res < 0 ? (int)res : -EIO;
			c->r->err_what =
				res < 0 ? (wr ? "write" : "read") :
					  (wr ? "short write" : "short read");
		}
		c->stop = 1;
		return;
	}
	c->r->ops++;
	c->r->bytes += (uint64_t)res;
	tide_hist_record(&c->r->lat, now - s->t_sub);
	progress(c->j, "pool", c->r->ops, c->t0, now, &c->last_prog);
	bp_issue(s, now);
}

int run_pool(const struct job *j, struct result *r)
{
	struct tide_pool_options po;
	struct bp_ctx c;
	struct bp_slot *slots;
	int ret;

	if (j->fsync_n) {
		r->err_what = "the pool engine does not do --fsync";
		return -ENOTSUP;
	}
	memset(&c, 0, sizeof(c));
	c.j = j;
	c.r = r;
	offs_init(&c.offs, j);
	ret = tide_loop_new(&c.loop, NULL);
	if (ret < 0) {
		r->err_what = "creating the loop";
		return ret;
	}
	memset(&po, 0, sizeof(po));
	po.threads = j->workers;
	po.queue_capacity = j->qd > 1024 ? j->qd : 0;
	ret = tide_pool_new(&c.pool, &po);
	if (ret < 0) {
		r->err_what = "starting the thread pool";
		goto err_loop;
	}
	ret = -ENOMEM;
	slots = calloc(j->qd, sizeof(*slots));
	if (!slots)
		goto err_pool;
	for (uint32_t i = 0; i < j->qd; i++) {
		slots[i].c = &c;
		if (!(slots[i].buf = buf_alloc(j->bs)))
			goto err_slots;
	}
	usage_begin(r);
	c.t0 = now_ns();
	for (uint32_t i = 0; i < j->qd; i++)
		bp_issue(&slots[i], c.t0);
	ret = tide_loop_run(c.loop);
	r->ns = now_ns() - c.t0;
	usage_end(r);
	progress_clear(j);
	if (ret < 0 && !r->err) {
		r->err = ret;
		r->err_what = "running the loop";
	}
	ret = r->err;
err_slots:
	tide_pool_shutdown(c.pool, TIDE_POOL_DRAIN);
	tide_loop_run(c.loop);
	for (uint32_t i = 0; i < j->qd; i++)
		free(slots[i].buf);
	free(slots);
err_pool:
	tide_pool_free(c.pool);
err_loop:
	tide_loop_free(c.loop);
	return ret;
}
