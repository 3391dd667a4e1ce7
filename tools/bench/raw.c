// SPDX-License-Identifier: MIT
/*
 * raw.c - tide-bench's floor: the same workloads on a bare liburing
 * loop written in the tool (the one place a tool talks to liburing), and
 * the psync engine (pread/pwrite in one thread).
 *
 * The raw loop does what a careful hand-written io_uring program does:
 * the ring tide itself would set up (br_init()), qd operations in flight, one
 * io_uring_submit_and_wait() per round that both submits the refills and
 * waits, and batch reaping with io_uring_cq_advance().
 */
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tide.h>

#include "bench.h"

/* liburing 2.3's header may predate these; the kernel's values */
#ifndef IORING_SETUP_COOP_TASKRUN
#define IORING_SETUP_COOP_TASKRUN (1u << 8)
#endif
#ifndef IORING_SETUP_TASKRUN_FLAG
#define IORING_SETUP_TASKRUN_FLAG (1u << 9)
#endif
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1u << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1u << 13)
#endif

/* The ring setup a tide loop for this depth gets (tide_loop_config()),
 * as io_uring_setup(2) flags; 0 when tide is not on io_uring here. */
static int tide_ring_setup(uint32_t qd, struct io_uring_params *p,
			   unsigned *entries)
{
	struct tide_loop_options o;
	struct tide_loop_config cfg;
	struct tide_loop *loop;

	tb_loop_options(qd, &o);
	if (tide_loop_new(&loop, &o) < 0)
		return 0;
	tide_loop_config(loop, &cfg);
	tide_loop_free(loop);
	if (cfg.backend != TIDE_BACKEND_URING || !cfg.sq_entries)
		return 0;
	if (cfg.setup & TIDE_SETUP_DEFER_TASKRUN)
		p->flags |= IORING_SETUP_SINGLE_ISSUER |
			    IORING_SETUP_DEFER_TASKRUN;
	if (cfg.setup & TIDE_SETUP_COOP_TASKRUN)
		p->flags |= IORING_SETUP_COOP_TASKRUN |
			    IORING_SETUP_TASKRUN_FLAG;
	if (cfg.setup & TIDE_SETUP_SQPOLL)
		p->flags |= IORING_SETUP_SQPOLL;
	if (cfg.setup & TIDE_SETUP_SUBMIT_ALL)
		p->flags |= IORING_SETUP_SUBMIT_ALL;
	if (cfg.cq_entries != 2 * cfg.sq_entries) {
		p->flags |= IORING_SETUP_CQSIZE;
		p->cq_entries = cfg.cq_entries;
	}
	*entries = cfg.sq_entries;
	return 1;
}

/*
 * The raw loop's ring is set up exactly as tide's own for the same depth:
 * the same setup flags and ring sizes, and its descriptor registered
 * (io_uring_register_ring_fd(), which tide does too), so that "vs raw"
 * compares the code around the ring, not two different rings.  Where no
 * tide loop runs on io_uring (TIDE_BACKEND=epoll), the fastest flags the
 * kernel takes.
 */
static int br_init(struct io_uring *ring, uint32_t qd)
{
	struct io_uring_params p;
	unsigned entries = qd < 32 ? 32 : qd;
	static const unsigned tries[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	int ret = -EINVAL;

	memset(&p, 0, sizeof(p));
	if (tide_ring_setup(qd, &p, &entries)) {
		ret = io_uring_queue_init_params(entries, ring, &p);
	} else {
		for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
			memset(&p, 0, sizeof(p));
			p.flags = tries[i];
			ret = io_uring_queue_init_params(entries, ring, &p);
			if (ret != -EINVAL)
				break;
		}
	}
	if (ret == 0)
		(void)io_uring_register_ring_fd(ring); /* as tide does */
	return ret;
}

struct br_slot {
	char *buf;
	uint64_t t_sub;
	int is_fsync;
};

int run_raw(const struct job *j, struct result *r)
{
	struct io_uring ring;
	struct offs offs;
	struct br_slot *slots;
	uint64_t issued = 0, t0, now, last = 0;
	uint32_t inflight = 0, since_fsync = 0;
	int wr = j->mode == BENCH_WRITE, stop = 0, ret;

	ret = br_init(&ring, j->qd);
	if (ret < 0) {
		r->err_what = "io_uring_queue_init";
		return ret;
	}
	ret = -ENOMEM;
	slots = calloc(j->qd, sizeof(*slots));
	if (!slots)
		goto err_ring;
	for (uint32_t i = 0; i < j->qd; i++)
		if (!(slots[i].buf = buf_alloc(j->bs)))
			goto err_slots;
	offs_init(&offs, j);
	usage_begin(r);
	t0 = now = now_ns();
	for (uint32_t k = 0; k < j->qd; k++) {
		struct io_uring_sqe *sqe;
		uint64_t off;

		if (should_stop(j, issued, t0, now))
			break;
		sqe = io_uring_get_sqe(&ring);
		off = offs_next(&offs);
		slots[k].t_sub = now;
		if (wr)
			io_uring_prep_write(sqe, j->fd, slots[k].buf, j->bs,
					    off);
		else
			io_uring_prep_read(sqe, j->fd, slots[k].buf, j->bs,
					   off);
		io_uring_sqe_set_data64(sqe, k);
		issued++;
		since_fsync++;
		inflight++;
	}
	for (;;) {
		if (!inflight)
			break;
		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN) {
			r->err = ret;
			r->err_what = "io_uring_submit_and_wait";
			break;
		}
		{
			struct io_uring_cqe *cqe;
			unsigned head, n = 0;

			now = now_ns();
			io_uring_for_each_cqe(&ring, head, cqe) {
				uint64_t k = io_uring_cqe_get_data64(cqe);
				struct br_slot *s = &slots[k];
				int res = cqe->res;
				struct io_uring_sqe *sqe;

				n++;
				inflight--;
				if (s->is_fsync) {
					if (res < 0 && !r->err) {
						r->err = res;
						r->err_what = "fsync";
					}
					r->fsyncs++;
				} else if (res < 0 || (uint32_t)res != j->bs) {
					if (!r->err) {
						r->err = res < 0 ? res : -EIO;
						r->err_what =
							res < 0 ?
								(wr ? "write" :
								      "read") :
								(wr ? "short write" :
								      "short read");
					}
				} else {
					r->ops++;
					r->bytes += (uint64_t)res;
					tide_hist_record(&r->lat,
							 now - s->t_sub);
				}
				if (r->err)
					stop = 1;
				if (stop || should_stop(j, issued, t0, now))
					continue;
				sqe = io_uring_get_sqe(&ring);
				if (!sqe) {
					io_uring_submit(&ring);
					sqe = io_uring_get_sqe(&ring);
				}
				s->t_sub = now;
				s->is_fsync = 0;
				if (wr && j->fsync_n &&
				    since_fsync >= j->fsync_n) {
					since_fsync = 0;
					s->is_fsync = 1;
					io_uring_prep_fsync(sqe, j->fd, 0);
				} else {
					uint64_t off = offs_next(&offs);

					if (wr)
						io_uring_prep_write(sqe, j->fd,
								    s->buf,
								    j->bs, off);
					else
						io_uring_prep_read(sqe, j->fd,
								   s->buf,
								   j->bs, off);
					issued++;
					since_fsync++;
				}
				io_uring_sqe_set_data64(sqe, k);
				inflight++;
			}
			io_uring_cq_advance(&ring, n);
		}
		progress(j, r->engine, r->ops, t0, now, &last);
	}
	r->ns = now_ns() - t0;
	usage_end(r);
	progress_clear(j);
	ret = r->err;
err_slots:
	for (uint32_t i = 0; i < j->qd; i++)
		free(slots[i].buf);
	free(slots);
err_ring:
	io_uring_queue_exit(&ring);
	return ret;
}

int run_nop_raw(const struct job *j, struct result *r)
{
	struct io_uring ring;
	uint64_t issued = 0, t0, now, last = 0;
	uint32_t inflight = 0;
	int ret;

	ret = br_init(&ring, j->qd);
	if (ret < 0) {
		r->err_what = "io_uring_queue_init";
		return ret;
	}
	usage_begin(r);
	t0 = now = now_ns();
	for (uint32_t k = 0; k < j->qd && !should_stop(j, issued, t0, now);
	     k++) {
		io_uring_prep_nop(io_uring_get_sqe(&ring));
		issued++;
		inflight++;
	}
	while (inflight) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;

		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN) {
			r->err = ret;
			r->err_what = "io_uring_submit_and_wait";
			break;
		}
		now = now_ns();
		io_uring_for_each_cqe(&ring, head, cqe) {
			n++;
			inflight--;
			r->ops++;
			if (cqe->res < 0 && !r->err) {
				r->err = cqe->res;
				r->err_what = "nop";
			}
			if (r->err || should_stop(j, issued, t0, now))
				continue;
			io_uring_prep_nop(io_uring_get_sqe(&ring));
			issued++;
			inflight++;
		}
		io_uring_cq_advance(&ring, n);
		progress(j, "raw", r->ops, t0, now, &last);
	}
	r->ns = now_ns() - t0;
	usage_end(r);
	progress_clear(j);
	io_uring_queue_exit(&ring);
	return r->err;
}

int run_psync(const struct job *j, struct result *r)
{
	struct offs offs;
	uint64_t t0, now, t1, last = 0;
	uint32_t since_fsync = 0;
	char *buf = buf_alloc(j->bs);
	int wr = j->mode == BENCH_WRITE;

	if (!buf) {
		r->err_what = "allocating the buffer";
		return -ENOMEM;
	}
	offs_init(&offs, j);
	usage_begin(r);
	t0 = now = now_ns();
	while (!should_stop(j, r->ops, t0, now)) {
		uint64_t off = offs_next(&offs);
		ssize_t n = wr ? pwrite(j->fd, buf, j->bs, (off_t)off) :
				 pread(j->fd, buf, j->bs, (off_t)off);

		t1 = now_ns();
		if (n < 0 || (size_t)n != j->bs) {
			r->err = n < 0 ? -errno : -EIO;
			r->err_what =
				n < 0 ? (wr ? "write" : "read") :
					(wr ? "short write" : "short read");
			break;
		}
		r->ops++;
		r->bytes += (uint64_t)n;
		tide_hist_record(&r->lat, t1 - now);
		now = t1;
		if (wr && j->fsync_n && ++since_fsync >= j->fsync_n) {
			since_fsync = 0;
			if (fsync(j->fd) < 0) {
				r->err = -errno;
				r->err_what = "fsync";
				break;
			}
			r->fsyncs++;
			now = now_ns();
		}
		progress(j, r->engine, r->ops, t0, now, &last);
	}
	r->ns = now_ns() - t0;
	usage_end(r);
	progress_clear(j);
	free(buf);
	return r->err;
}
