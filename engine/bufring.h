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

#include "engine.h"

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
/* The kernel handed out bid (a CQE named it). */
void tide__bufring_took(struct tide_bufring *br, unsigned bid);
/* Call w->fn once buffers are available again (at once if they are). */
void tide__bufring_wait(struct tide_bufring *br,
			struct tide__bufring_waiter *w);
void tide__bufring_unwait(struct tide_bufring *br,
			  struct tide__bufring_waiter *w);

#endif /* TIDE_BUFRING_H */
