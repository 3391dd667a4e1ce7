// SPDX-License-Identifier: MIT
/*
 * copy.c - the copy pipeline behind `tide-bench copy` and tide-cp:
 * qd chunks in flight, each one future chain
 *
 *	tide_read_full(src, chunk) -> then: tide_write_full(dst, what was read)
 *	                           -> on_done: account, start the next chunk
 *
 * so a chunk's data is written exactly as read, a short source is noticed
 * (the read returns fewer bytes than the file had), and a failed read
 * skips its write (the error travels down the chain).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tide.h>

#include "copy.h"

struct bc_ctx;

struct bc_slot {
	struct bc_ctx *c;
	char *buf;
	uint64_t off, t_sub;
	uint32_t want;
};

struct bc_ctx {
	struct tide_loop *loop;
	struct copy_stats *st;
	int in_fd, out_fd;
	uint32_t bs;
	uint64_t len, next;
	int err;
	const char *what;
};

static void bc_start(struct bc_slot *s);

/* A page-aligned chunk buffer (O_DIRECT-safe), or NULL. */
static void *bc_buf_alloc(size_t n)
{
	long pg = sysconf(_SC_PAGESIZE);
	void *p;

	if (posix_memalign(&p, pg > 0 ? (size_t)pg : 4096u, n ? n : 1))
		return NULL;
	return p;
}

static void bc_fail(struct bc_ctx *c, int err, const char *what)
{
	if (!c->err) {
		c->err = err;
		c->what = what;
	}
}

static struct tide_future *bc_write(struct tide_loop *loop, void *arg,
				    int64_t res, void *payload)
{
	struct bc_slot *s = arg;

	(void)payload;
	if ((uint64_t)res != s->want) {
		/* the source ended before its recorded size: a short copy */
		bc_fail(s->c, -EIO, "reading the source (it shrank)");
		return tide_future_fail(loop, -EIO);
	}
	return tide_write_full(loop, s->c->out_fd, s->buf, s->want, s->off);
}

static void bc_done(void *arg, int64_t res, void *payload)
{
	struct bc_slot *s = arg;
	struct bc_ctx *c = s->c;

	(void)payload;
	if (res < 0) {
		/* a read error skipped the write; say which side failed */
		bc_fail(c, (int)res, "copying");
		return;
	}
	if ((uint64_t)res != s->want) {
		bc_fail(c, -EIO, "writing the destination (short write)");
		return;
	}
	c->st->bytes += (uint64_t)res;
	c->st->chunks++;
	tide_hist_record(&c->st->lat, tide_now_ns() - s->t_sub);
	bc_start(s);
}

static void bc_start(struct bc_slot *s)
{
	struct bc_ctx *c = s->c;
	struct tide_future *f;

	if (c->err || c->next >= c->len)
		return;
	s->off = c->next;
	s->want = c->len - s->off < c->bs ? (uint32_t)(c->len - s->off) : c->bs;
	c->next += s->want;
	s->t_sub = tide_now_ns();
	f = tide_read_full(c->loop, c->in_fd, s->buf, s->want, s->off);
	f = tide_future_then(f, bc_write, s);
	if (tide_future_on_done(f, bc_done, s))
		bc_fail(c, -ENOMEM, "creating a future");
}

int copy_run(int in_fd, int out_fd, uint64_t len, uint32_t bs, uint32_t qd,
	      struct copy_stats *st, const char **what)
{
	struct tide_loop_options o;
	struct bc_ctx c;
	struct bc_slot *slots;
	uint64_t t0;
	int ret;

	memset(&c, 0, sizeof(c));
	c.st = st;
	c.in_fd = in_fd;
	c.out_fd = out_fd;
	c.bs = bs;
	c.len = len;
	memset(&o, 0, sizeof(o));
	o.entries = qd > 256 ? qd : 0;
	*what = "creating the loop";
	ret = tide_loop_new(&c.loop, &o);
	if (ret < 0)
		return ret;
	*what = "allocating buffers";
	ret = -ENOMEM;
	slots = calloc(qd, sizeof(*slots));
	if (!slots)
		goto err_loop;
	for (uint32_t i = 0; i < qd; i++) {
		slots[i].c = &c;
		if (!(slots[i].buf = bc_buf_alloc(bs)))
			goto err_slots;
	}
	t0 = tide_now_ns();
	for (uint32_t i = 0; i < qd; i++)
		bc_start(&slots[i]);
	ret = tide_loop_run(c.loop);
	st->ns = tide_now_ns() - t0;
	if (ret < 0)
		bc_fail(&c, ret, "running the loop");
	if (!c.err && st->bytes != len)
		bc_fail(&c, -EIO, "copying (short)");
	ret = c.err;
	*what = c.what;
err_slots:
	for (uint32_t i = 0; i < qd; i++)
		free(slots[i].buf);
	free(slots);
err_loop:
	tide_loop_free(c.loop);
	return ret;
}
