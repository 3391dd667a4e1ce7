// SPDX-License-Identifier: MIT
/*
 * copy.c - the copy pipeline behind `tide-bench copy` and tide-cp:
 * up to qd chunks in flight, each one future chain
 *
 *	tide_read_full(src, chunk) -> then: tide_write_full(dst, what was read)
 *	                           -> on_done: account, start the next chunk
 *
 * so a chunk's data is written exactly as read and a failed read skips its
 * write (the error travels down the chain).  The copy ends at the source's
 * end of file (a read that comes back short), not at its recorded size, so
 * /proc files and files that grow or shrink meanwhile copy correctly.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tide.h>

#include "copy.h"

struct cp_ctx;

struct cp_slot {
	struct cp_ctx *c;
	char *buf;
	uint64_t off, t_sub;
	uint32_t want;
};

struct cp_ctx {
	struct tide_loop *loop;
	struct copy_stats *st;
	int in_fd, out_fd;
	uint32_t bs;
	uint64_t next;	  /* offset of the next chunk to read */
	uint64_t end;	  /* lowest offset a short read ended at */
	uint64_t max_end; /* highest offset data was written up to */
	int eof;	  /* a read came back short: issue no more */
	int err;
	const char *what;
};

static void cp_start(struct cp_slot *s);

static void cp_fail(struct cp_ctx *c, int err, const char *what)
{
	if (!c->err) {
		c->err = err;
		c->what = what;
	}
}

static struct tide_future *cp_write(struct tide_loop *loop, void *arg,
				    int64_t res, void *payload)
{
	struct cp_slot *s = arg;
	struct cp_ctx *c = s->c;

	(void)payload;
	if ((uint64_t)res < s->want) {
		/* end of file here (for now: the pass after this one tells) */
		c->eof = 1;
		if (s->off + (uint64_t)res < c->end)
			c->end = s->off + (uint64_t)res;
	}
	if (res == 0)
		return tide_future_ready(loop, 0, NULL);
	return tide_write_full(loop, c->out_fd, s->buf, (size_t)res, s->off);
}

static void cp_done(void *arg, int64_t res, void *payload)
{
	struct cp_slot *s = arg;
	struct cp_ctx *c = s->c;

	(void)payload;
	if (res < 0) {
		/* a read error skipped the write; say which side failed */
		cp_fail(c, (int)res, "copying");
		return;
	}
	if (res > 0) {
		c->st->chunks++;
		if (s->off + (uint64_t)res > c->max_end)
			c->max_end = s->off + (uint64_t)res;
		tide_hist_record(&c->st->lat, tide_now_ns() - s->t_sub);
	}
	cp_start(s);
}

static void cp_start(struct cp_slot *s)
{
	struct cp_ctx *c = s->c;
	struct tide_future *f;

	if (c->err || c->eof)
		return;
	if (c->next > UINT64_MAX - c->bs) {
		cp_fail(c, -EFBIG, "copying");
		return;
	}
	s->off = c->next;
	s->want = c->bs;
	c->next += c->bs;
	s->t_sub = tide_now_ns();
	f = tide_read_full(c->loop, c->in_fd, s->buf, s->want, s->off);
	f = tide_future_then(f, cp_write, s);
	if (tide_future_on_done(f, cp_done, s))
		cp_fail(c, -ENOMEM, "creating a future");
}

/* One pass from offset start to the end of file as the reads see it. */
static int cp_pass(struct cp_ctx *c, struct cp_slot *slots, uint32_t n,
		   uint64_t start)
{
	int ret;

	c->next = start;
	c->end = UINT64_MAX;
	c->max_end = start;
	c->eof = 0;
	for (uint32_t i = 0; i < n; i++)
		cp_start(&slots[i]);
	ret = tide_loop_run(c->loop);
	if (ret < 0)
		cp_fail(c, ret, "running the loop");
	c->st->passes++;
	return c->err;
}

/* Did the source grow past end while the pass ran (data written beyond a
 * short read, or a size now larger)?  Then copy again from end. */
static int cp_grew(const struct cp_ctx *c)
{
	struct stat sb;

	if (c->max_end > c->end)
		return 1;
	return fstat(c->in_fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
	       (uint64_t)sb.st_size > c->end;
}

static uint32_t cp_depth(uint64_t size_hint, uint32_t bs, uint32_t qd)
{
	uint64_t need = size_hint / bs + 1; /* +1: the read that sees EOF */
	uint64_t fit = COPY_MAX_INFLIGHT / bs;

	if (need < qd)
		qd = (uint32_t)need;
	if (fit < qd)
		qd = (uint32_t)fit;
	return qd ? qd : 1;
}

static int cp_slots_alloc(struct cp_ctx *c, struct cp_slot **out, uint32_t n)
{
	struct cp_slot *slots = calloc(n, sizeof(*slots));
	long pg = sysconf(_SC_PAGESIZE);

	if (!slots)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		slots[i].c = c;
		/* page-aligned: O_DIRECT-safe */
		if (posix_memalign((void **)&slots[i].buf,
				   pg > 0 ? (size_t)pg : 4096u, c->bs)) {
			while (i--)
				free(slots[i].buf);
			free(slots);
			return -ENOMEM;
		}
	}
	*out = slots;
	return 0;
}

int copy_run(int in_fd, int out_fd, uint64_t size_hint, uint32_t bs,
	     uint32_t qd, struct copy_stats *st, const char **what)
{
	struct tide_loop_options o;
	struct cp_ctx c;
	struct cp_slot *slots;
	struct stat sb;
	uint64_t t0, start = 0;
	int ret;

	if (!bs || !qd)
		return -EINVAL;
	memset(&c, 0, sizeof(c));
	c.st = st;
	c.in_fd = in_fd;
	c.out_fd = out_fd;
	c.bs = bs;
	st->qd = cp_depth(size_hint, bs, qd);
	memset(&o, 0, sizeof(o));
	o.entries = st->qd > 256 ? st->qd : 0;
	*what = "creating the loop";
	ret = tide_loop_new(&c.loop, &o);
	if (ret < 0)
		return ret;
	*what = "allocating buffers";
	ret = cp_slots_alloc(&c, &slots, st->qd);
	if (ret < 0)
		goto err_loop;
	t0 = tide_now_ns();
	while (!(ret = cp_pass(&c, slots, st->qd, start)) && cp_grew(&c))
		start = c.end;
	st->ns = tide_now_ns() - t0;
	*what = c.what;
	if (!ret) {
		st->bytes = c.end;
		/* a pass that ran ahead of a shrinking source wrote past its
		 * end: cut there */
		if (fstat(out_fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    (uint64_t)sb.st_size > c.end &&
		    ftruncate(out_fd, (off_t)c.end)) {
			ret = -errno;
			*what = "cutting the destination at the source's end";
		}
	}
	for (uint32_t i = 0; i < st->qd; i++)
		free(slots[i].buf);
	free(slots);
err_loop:
	tide_loop_free(c.loop);
	return ret;
}

int copy_open_src(const char *path, struct stat *st, const char **what)
{
	int fd, fl;

	*what = "cannot open";
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	*what = "cannot stat";
	if (fstat(fd, st) < 0)
		goto err;
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		*what = S_ISDIR(st->st_mode) ? "is a directory" :
					       "not a regular file";
		return S_ISDIR(st->st_mode) ? -EISDIR : -EINVAL;
	}
	*what = "cannot clear O_NONBLOCK";
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		goto err;
	return fd;
err:
	fl = -errno;
	close(fd);
	return fl;
}

int copy_same_file(const struct stat *src, const char *dst)
{
	struct stat ds;

	return stat(dst, &ds) == 0 && ds.st_dev == src->st_dev &&
	       ds.st_ino == src->st_ino;
}
