// SPDX-License-Identifier: MIT
/*
 * bufring.c - provided buffer ring (kernel 5.19).  With liburing 2.4+ the
 * ring comes from io_uring_setup_buf_ring(); liburing 2.3 has no such
 * helper, so there the ring memory is mmap()ed here and registered with
 * io_uring_register_buf_ring() (configure: HAVE_IO_URING_SETUP_BUF_RING).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bufring.h"
#include "compat.h"
#include "uring/uring.h"

#define MAX_BUFS 32768u

struct tide_bufring {
	struct tide_loop *loop;
	struct io_uring_buf_ring *ring;
	size_t ring_bytes;
	char *bufs;
	size_t bufs_bytes;
	uint32_t count, size, mask, avail;
	uint16_t bgid;
	uint16_t uhead; /* user-space consumer's head (no kernel) */
	uint8_t *lent;
	struct tide__bufring_link *links;
	struct tide__bufring_waiter *waiters;
};

/* A process-wide counter is the simplest source of group ids. */
static atomic_uint next_bgid;

static void *map(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int check_opts(const struct tide_bufring_options *o, uint32_t *count,
		      uint32_t *size)
{
	*count = 1024;
	*size = 4096;
	if (!o)
		return 0;
	if (o->reserved[0] || o->reserved[1] || o->count > MAX_BUFS ||
	    o->size > (1u << 30))
		return -EINVAL;
	if (o->count) {
		*count = 1;
		while (*count < o->count)
			*count <<= 1;
	}
	if (o->size)
		*size = o->size;
	return 0;
}

/* Group ids only need to be unique per ring: try the next ids while the
 * kernel answers -EEXIST.  A kernel without buffer rings: -EOPNOTSUPP. */
/* The epoll backend takes buffers from the ring in user space: the ring
 * memory exists, nothing is registered. */
static int ring_map(struct tide_bufring *br)
{
	br->ring = map(br->ring_bytes);
	if (!br->ring)
		return -ENOMEM;
	io_uring_buf_ring_init(br->ring);
	return 0;
}

#if HAVE_IO_URING_SETUP_BUF_RING
static int ring_setup(struct tide_bufring *br)
{
	if (!br->loop->uring)
		return ring_map(br);
	int ret = -EEXIST;

	for (int tries = 0; tries < 64 && ret == -EEXIST; tries++) {
		br->bgid = (uint16_t)atomic_fetch_add(&next_bgid, 1);
		br->ring = io_uring_setup_buf_ring(&br->loop->u.ring, br->count,
						   br->bgid, 0, &ret);
		if (br->ring)
			ret = 0;
	}
	if (ret == -EINVAL || ret == -ENOSYS)
		return -EOPNOTSUPP;
	return ret;
}

static void ring_teardown(struct tide_bufring *br)
{
	if (!br->loop->uring) {
		munmap(br->ring, br->ring_bytes);
		return;
	}
	io_uring_free_buf_ring(&br->loop->u.ring, br->ring, br->count,
			       br->bgid);
}
#else
static int ring_setup(struct tide_bufring *br)
{
	struct io_uring_buf_reg r;
	int ret = ring_map(br);

	if (ret || !br->loop->uring)
		return ret;
	ret = -EEXIST;
	for (int tries = 0; tries < 64 && ret == -EEXIST; tries++) {
		memset(&r, 0, sizeof(r));
		r.ring_addr = (uint64_t)(uintptr_t)br->ring;
		r.ring_entries = br->count;
		r.bgid = (uint16_t)atomic_fetch_add(&next_bgid, 1);
		ret = io_uring_register_buf_ring(&br->loop->u.ring, &r, 0);
		br->bgid = r.bgid;
	}
	if (ret) {
		munmap(br->ring, br->ring_bytes);
		br->ring = NULL;
	}
	if (ret == -EINVAL || ret == -ENOSYS)
		return -EOPNOTSUPP;
	return ret;
}

static void ring_teardown(struct tide_bufring *br)
{
	if (br->loop->uring)
		io_uring_unregister_buf_ring(&br->loop->u.ring, br->bgid);
	munmap(br->ring, br->ring_bytes);
}
#endif

int tide_bufring_new(struct tide_loop *loop, struct tide_bufring **out,
		     const struct tide_bufring_options *opts)
{
	struct tide_bufring *br;
	uint32_t count, size;
	int ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!loop)
		return -EINVAL;
	ret = check_opts(opts, &count, &size);
	if (ret)
		return ret;
	br = calloc(1, sizeof(*br));
	if (!br)
		return -ENOMEM;
	br->loop = loop;
	br->count = count;
	br->size = size;
	br->mask = (uint32_t)io_uring_buf_ring_mask(count);
	br->ring_bytes = (size_t)count * sizeof(struct io_uring_buf);
	br->bufs_bytes = (size_t)count * size;
	ret = -ENOMEM;
	br->lent = calloc(count, 1);
	if (!br->lent)
		goto err_free;
	br->links = calloc(count, sizeof(*br->links));
	if (!br->links)
		goto err_lent;
	br->bufs = map(br->bufs_bytes);
	if (!br->bufs)
		goto err_lent;
	ret = ring_setup(br);
	if (ret)
		goto err_bufs;
	for (uint32_t i = 0; i < count; i++)
		io_uring_buf_ring_add(br->ring, br->bufs + (size_t)i * size,
				      size, (unsigned short)i, (int)br->mask,
				      (int)i);
	io_uring_buf_ring_advance(br->ring, (int)count);
	br->avail = count;
	*out = br;
	return 0;
err_bufs:
	munmap(br->bufs, br->bufs_bytes);
err_lent:
	free(br->links);
	free(br->lent);
err_free:
	free(br);
	return ret;
}

void tide_bufring_free(struct tide_bufring *br)
{
	if (!br)
		return;
	ring_teardown(br);
	munmap(br->bufs, br->bufs_bytes);
	free(br->links);
	free(br->lent);
	free(br);
}

int tide_bufring_put(struct tide_bufring *br, unsigned bid)
{
	if (!br || bid >= br->count || !br->lent[bid])
		return -EINVAL;
	br->lent[bid] = 0;
	io_uring_buf_ring_add(br->ring, br->bufs + (size_t)bid * br->size,
			      br->size, (unsigned short)bid, (int)br->mask, 0);
	io_uring_buf_ring_advance(br->ring, 1);
	br->avail++;
	/* restart consumers that stopped on -ENOBUFS; each may take one
	 * buffer at most before the kernel answers, so wake them all */
	while (br->waiters) {
		struct tide__bufring_waiter *w = br->waiters;

		br->waiters = w->next;
		w->next = NULL;
		w->queued = false;
		w->fn(w);
	}
	return 0;
}

unsigned tide_bufring_avail(const struct tide_bufring *br)
{
	return br ? br->avail : 0;
}

struct tide_loop *tide__bufring_loop(const struct tide_bufring *br)
{
	return br->loop;
}

uint16_t tide__bufring_bgid(const struct tide_bufring *br)
{
	return br->bgid;
}

uint32_t tide__bufring_size(const struct tide_bufring *br)
{
	return br->size;
}

uint32_t tide__bufring_count(const struct tide_bufring *br)
{
	return br->count;
}

void *tide__bufring_ptr(const struct tide_bufring *br, unsigned bid)
{
	return br->bufs + (size_t)bid * br->size;
}

struct tide__bufring_link *tide__bufring_links(const struct tide_bufring *br)
{
	return br->links;
}

void tide__bufring_took(struct tide_bufring *br, unsigned bid)
{
	if (bid < br->count && !br->lent[bid]) {
		br->lent[bid] = 1;
		br->avail--;
	}
}

void *tide__bufring_next(const struct tide_bufring *br, unsigned *bid)
{
	uint16_t tail = __atomic_load_n(&br->ring->tail, __ATOMIC_ACQUIRE);
	const struct io_uring_buf *b;

	if (tail == br->uhead)
		return NULL;
	b = &br->ring->bufs[br->uhead & br->mask];
	*bid = b->bid;
	return (void *)(uintptr_t)b->addr;
}

void tide__bufring_take(struct tide_bufring *br)
{
	br->uhead++;
}

void tide__bufring_wait(struct tide_bufring *br, struct tide__bufring_waiter *w)
{
	if (br->avail > 0) {
		w->fn(w);
		return;
	}
	if (w->queued)
		return;
	w->queued = true;
	w->next = br->waiters;
	br->waiters = w;
}

void tide__bufring_unwait(struct tide_bufring *br,
			  struct tide__bufring_waiter *w)
{
	struct tide__bufring_waiter **p = &br->waiters;

	if (!w->queued)
		return;
	while (*p && *p != w)
		p = &(*p)->next;
	if (*p)
		*p = w->next;
	w->queued = false;
	w->next = NULL;
}
