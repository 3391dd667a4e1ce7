// SPDX-License-Identifier: MIT
/*
 * epoll.c - a conventional level-triggered epoll echo server: read
 * what is there, write it back, wait for EPOLLOUT on a short write.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "epoll.h"

#define EP_MAX_THREADS 256
#define EP_BUF 16384

struct ep_conn {
	int fd;
	uint32_t off, len;
	struct ep_conn *prev, *next;
	char buf[EP_BUF];
};

struct ep_server {
	int lfd, efd, stopfd;
	struct tide_addr addr;
	int reuseport;
	int *err;
	sem_t *ready;
	struct echo_counts *cnt;
	struct ep_conn *conns;
};

static struct ep_server *ep_servers[EP_MAX_THREADS];
static int ep_count;

static void ep_close(struct ep_server *s, struct ep_conn *c)
{
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
}

static int ep_listen(struct ep_server *s)
{
	int one = 1, fd;

	fd = socket(s->addr.u.sa.sa_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (s->addr.u.sa.sa_family != AF_UNIX)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if ((s->reuseport &&
	     setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one))) ||
	    bind(fd, &s->addr.u.sa, s->addr.len) || listen(fd, SOMAXCONN)) {
		one = -errno;
		close(fd);
		return one;
	}
	s->addr.len = sizeof(s->addr.u);
	getsockname(fd, &s->addr.u.sa, &s->addr.len);
	s->lfd = fd;
	return 0;
}

static void ep_accept(struct ep_server *s)
{
	for (;;) {
		int fd = accept4(s->lfd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN };
		struct ep_conn *c;

		if (fd < 0)
			return; /* EAGAIN, or EMFILE: level-triggered retries */
		int one = 1;

		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = malloc(sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->off = c->len = 0;
		c->prev = NULL;
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		ev.data.ptr = c;
		if (epoll_ctl(s->efd, EPOLL_CTL_ADD, fd, &ev)) {
			ep_close(s, c);
			continue;
		}
		s->cnt->conns++;
	}
}

/* Write out c's pending bytes; 1 when all went, 0 when blocked, -1 dead. */
static int ep_flush(struct ep_conn *c)
{
	while (c->off < c->len) {
		ssize_t n = send(c->fd, c->buf + c->off, c->len - c->off,
				 MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		c->off += (uint32_t)n;
	}
	c->off = c->len = 0;
	return 1;
}

static void ep_io(struct ep_server *s, struct ep_conn *c, uint32_t events)
{
	struct epoll_event ev = { .data.ptr = c };
	int r;

	if (c->len == 0) {
		ssize_t n = recv(c->fd, c->buf, EP_BUF, 0);

		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			ep_close(s, c);
			return;
		}
		if (n < 0)
			return;
		s->cnt->msgs++;
		s->cnt->bytes += (uint64_t)n;
		c->len = (uint32_t)n;
	}
	r = ep_flush(c);
	if (r < 0) {
		ep_close(s, c);
		return;
	}
	/* switch interest only on a change: blocked <-> flowing */
	if (r == 0 && !(events & EPOLLOUT)) {
		ev.events = EPOLLOUT;
		epoll_ctl(s->efd, EPOLL_CTL_MOD, c->fd, &ev);
	} else if (r == 1 && (events & EPOLLOUT)) {
		ev.events = EPOLLIN;
		epoll_ctl(s->efd, EPOLL_CTL_MOD, c->fd, &ev);
	}
}

static void *ep_thread(void *arg)
{
	struct ep_server *s = arg;
	struct epoll_event ev[64], e = { .events = EPOLLIN };
	uint64_t deadline = 0;

	*s->err = ep_listen(s);
	s->efd = epoll_create1(EPOLL_CLOEXEC);
	if (!*s->err && s->efd < 0)
		*s->err = -errno;
	if (!*s->err) {
		e.data.ptr = &s->lfd;
		epoll_ctl(s->efd, EPOLL_CTL_ADD, s->lfd, &e);
		e.data.ptr = &s->stopfd;
		epoll_ctl(s->efd, EPOLL_CTL_ADD, s->stopfd, &e);
	}
	sem_post(s->ready);
	if (*s->err) {
		if (s->efd >= 0)
			close(s->efd);
		close(s->stopfd);
		free(s);
		return NULL;
	}
	for (;;) {
		int n = epoll_wait(s->efd, ev, 64, deadline ? 50 : -1);

		if (deadline && (!s->conns || tide_now_ns() > deadline))
			break;
		for (int i = 0; i < n; i++) {
			void *p = ev[i].data.ptr;

			if (p == &s->lfd) {
				ep_accept(s);
			} else if (p == &s->stopfd) {
				/* graceful: no new clients, 2 s for the rest */
				epoll_ctl(s->efd, EPOLL_CTL_DEL, s->stopfd,
					  NULL);
				epoll_ctl(s->efd, EPOLL_CTL_DEL, s->lfd, NULL);
				close(s->lfd);
				deadline = tide_now_ns() + 2000000000ull;
			} else {
				ep_io(s, p, ev[i].events);
			}
		}
	}
	while (s->conns)
		ep_close(s, s->conns);
	close(s->efd);
	close(s->stopfd);
	free(s);
	return NULL;
}

int echo_epoll_start(pthread_t *th, struct tide_addr *addr, int reuseport,
		     int *err, sem_t *ready, struct echo_counts *cnt)
{
	struct ep_server *s;
	int ret;

	if (ep_count >= EP_MAX_THREADS)
		return EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	s->addr = *addr;
	s->reuseport = reuseport;
	s->err = err;
	s->ready = ready;
	s->cnt = cnt;
	s->stopfd = eventfd(0, EFD_CLOEXEC);
	if (s->stopfd < 0) {
		free(s);
		return errno;
	}
	ret = pthread_create(th, NULL, ep_thread, s);
	if (ret) {
		close(s->stopfd);
		free(s);
		return ret;
	}
	ep_servers[ep_count++] = s;
	/* the caller waits on ready before reading the bound address */
	sem_wait(ready);
	*addr = s->addr;
	sem_post(ready);
	return 0;
}

void echo_epoll_stop(int i)
{
	uint64_t one = 1;

	if (i < 0 || i >= ep_count)
		return;
	if (write(ep_servers[i]->stopfd, &one, sizeof(one)) < 0)
		return;
}
