/* SPDX-License-Identifier: MIT */
/*
 * bufring.h - provided buffer ring (IORING_REGISTER_PBUF_RING), private.
 *
 * The kernel picks a buffer from the ring for each receive and names it in
 * the CQE; the buffer is then "lent" until tide_bufring_put() returns it.
 * Consumers that stopped because the ring ran dry (-ENOBUFS) register a
 * waiter and are called back, synchronously, from the put that refills it.
 */
#ifndef TIDE_BUFRING_H
#define TIDE_BUFRING_H

#include "core.h"

/* Queue link of a lent buffer: a buffer is lent to one consumer at a time,
 * so one slot per buffer lets every consumer chain the buffers it holds
 * without memory of its own. */
struct tide__bufring_link {
	uint32_t next; /* TIDE__BUFRING_NONE ends the chain */
	uint32_t len;
};

#define TIDE__BUFRING_NONE UINT32_MAX

struct tide__bufring_waiter {
	struct tide__bufring_waiter *next;
	void (*fn)(struct tide__bufring_waiter *w);
	bool queued;
};

struct tide_loop *tide__bufring_loop(const struct tide_bufring *br);
uint16_t tide__bufring_bgid(const struct tide_bufring *br);
uint32_t tide__bufring_size(const struct tide_bufring *br);
uint32_t tide__bufring_count(const struct tide_bufring *br);
void *tide__bufring_ptr(const struct tide_bufring *br, unsigned bid);
/* The link array, one entry per buffer (count entries). */
struct tide__bufring_link *tide__bufring_links(const struct tide_bufring *br);
/* The kernel handed out bid (a CQE named it). */
void tide__bufring_took(struct tide_bufring *br, unsigned bid);
/* Loops without io_uring (the epoll backend) consume the ring in user
 * space, as the kernel would: the next buffer (its id in *bid), or NULL
 * when the ring is empty; tide__bufring_take() then consumes it (the
 * receiver still reports it with tide__bufring_took()). */
void *tide__bufring_next(const struct tide_bufring *br, unsigned *bid);
void tide__bufring_take(struct tide_bufring *br);
/* Call w->fn once buffers are available again (at once if they are). */
void tide__bufring_wait(struct tide_bufring *br,
			struct tide__bufring_waiter *w);
void tide__bufring_unwait(struct tide_bufring *br,
			  struct tide__bufring_waiter *w);

#endif /* TIDE_BUFRING_H */
