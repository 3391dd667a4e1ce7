/* SPDX-License-Identifier: MIT */
/*
 * epoll.h - tide-echo's plain epoll echo server, the baseline that
 * `tide-echo server --engine epoll` runs for side-by-side comparison.
 */
#ifndef TOOLS_ECHO_EPOLL_H
#define TOOLS_ECHO_EPOLL_H

#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>

#include <tide.h>

struct echo_counts {
	uint64_t conns, msgs, bytes;
};

/* Start server thread number i (in call order) listening on *addr (the
 * bound address is written back); *err gets 0 or -errno before ready is
 * posted.  Returns 0 or an errno from pthread_create. */
int echo_epoll_start(pthread_t *th, struct tide_addr *addr, int reuseport,
		     int *err, sem_t *ready, struct echo_counts *cnt);

/* Ask server thread i to stop gracefully (2 s for clients to hang up). */
void echo_epoll_stop(int i);

#endif /* TOOLS_ECHO_EPOLL_H */
