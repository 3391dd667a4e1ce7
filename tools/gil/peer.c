// SPDX-License-Identifier: MIT
/*
 * peer.c - tide-gil's echo peers: one C thread per socket pair that
 * sends back what it reads, for the emulation's io-net and convoy and for
 * the CPython side alike (the script inherits the client ends).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gil.h"

/* The buffer belongs to the peer's record, not to its thread, so that a
 * forked worker (which has no echo threads) still reaches it. */
struct gil_echo {
	int fd;
	int cpu;
	uint32_t len;
	char *buf;
	pthread_t t;
};

static void *gil_echo_body(void *arg)
{
	struct gil_echo *e = arg;

	gil_pin_self(e->cpu);
	while (gil_full(read, e->fd, e->buf, e->len) == 0 &&
	       gil_full(gil_write, e->fd, e->buf, e->len) == 0)
		;
	return NULL;
}

/*
 * Where the echo peers run.  The peer stands for a server elsewhere, so it
 * must not serve the IO thread while that waits for the lock: under split
 * it shares the last CPU with the CPU-bound threads (it must be scheduled
 * against them, as a real peer's reply takes time), under same CPU 0.
 * Left to the scheduler (none) the peer lands next to the IO thread or
 * not from run to run, and the convoy's latency swings between
 * microseconds and an interval: pin when comparing.
 */
int gil_peer_cpu(const struct gil_cfg *c)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (c->pin == GIL_PIN_NONE || n < 1)
		return -1;
	return c->pin == GIL_PIN_SAME ? 0 : (int)(n - 1);
}

/* n socket pairs; client ends in fds[], echo threads serve the others. */
int gil_peers_start(struct gil_peers *p, int n, uint32_t len, int cpu)
{
	int i, sv[2], rc;

	p->n = 0;
	p->e = calloc((size_t)n + 1, sizeof(*p->e));
	p->fds = calloc((size_t)n + 1, sizeof(int));
	if (!p->e || !p->fds)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
			return -errno;
		p->fds[i] = sv[0];
		p->e[i].fd = sv[1];
		p->e[i].len = len;
		p->e[i].cpu = cpu;
		p->e[i].buf = malloc(len);
		rc = p->e[i].buf ? pthread_create(&p->e[i].t, NULL,
						  gil_echo_body, &p->e[i]) :
				   ENOMEM;
		if (rc) {
			free(p->e[i].buf);
			close(sv[0]);
			close(sv[1]);
			return -rc;
		}
		p->n++;
	}
	return 0;
}

void gil_peers_stop(struct gil_peers *p)
{
	int i;

	for (i = 0; i < p->n; i++) {
		shutdown(p->fds[i], SHUT_RDWR);
		pthread_join(p->e[i].t, NULL);
		close(p->fds[i]);
		close(p->e[i].fd);
		free(p->e[i].buf);
	}
	free(p->e);
	free(p->fds);
	memset(p, 0, sizeof(*p));
}
