// SPDX-License-Identifier: MIT
/*
 * addr.c - address text forms and name resolution off the loop thread.
 *
 * getaddrinfo(3) blocks for as long as DNS takes, so it runs on a small
 * detached thread that hands its answer back with tide_loop_post(); the
 * loop only ever sees a promise resolve.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "future_impl.h"

/* 1 to 5 decimal digits up to 65535, nothing else: no whitespace, no
 * sign, no base prefix (strtol would take all three). */
static int parse_port(const char *s, in_port_t *port)
{
	uint32_t v = 0;
	size_t i;

	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i == 5)
			return -EINVAL;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	if (i == 0 || v > 65535)
		return -EINVAL;
	*port = htons((uint16_t)v);
	return 0;
}

static int parse_unix(struct tide_addr *a, const char *path)
{
	size_t n = strlen(path);

	if (n == 0)
		return -EINVAL;
	if (n >= sizeof(a->u.un.sun_path))
		return -ENAMETOOLONG;
	a->u.un.sun_family = AF_UNIX;
	memcpy(a->u.un.sun_path, path, n);
	if (path[0] == '@') { /* abstract: leading NUL, no terminator */
		a->u.un.sun_path[0] = '\0';
		a->len =
			(socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				     n + 1);
	}
	return 0;
}

/* Split "host:port" / "[v6]:port" into host (copied to h) and port text. */
static int split_host_port(const char *text, char *h, size_t hsize,
			   const char **port)
{
	const char *colon;
	size_t n;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		n = (size_t)(close - text - 1);
		text++;
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon || memchr(text, ':', (size_t)(colon - text)))
			return -EINVAL; /* bare IPv6 needs brackets */
		n = (size_t)(colon - text);
	}
	if (n >= hsize)
		return -EINVAL;
	memcpy(h, text, n);
	h[n] = '\0';
	*port = colon + 1;
	return 0;
}

int tide_addr_parse(struct tide_addr *out, const char *text)
{
	char host[INET6_ADDRSTRLEN + 8];
	const char *port;
	struct tide_addr a;
	int ret;

	if (!out || !text)
		return -EINVAL;
	memset(&a, 0, sizeof(a));
	if (!strncmp(text, "unix:", 5)) {
		ret = parse_unix(&a, text + 5);
		goto done;
	}
	ret = split_host_port(text, host, sizeof(host), &port);
	if (ret)
		return ret;
	if (text[0] == '[') {
		a.u.in6.sin6_family = AF_INET6;
		a.len = sizeof(a.u.in6);
		if (inet_pton(AF_INET6, host, &a.u.in6.sin6_addr) != 1)
			return -EINVAL;
		ret = parse_port(port, &a.u.in6.sin6_port);
		goto done;
	}
	a.u.in4.sin_family = AF_INET;
	a.len = sizeof(a.u.in4);
	if (!host[0] || !strcmp(host, "*"))
		a.u.in4.sin_addr.s_addr = htonl(INADDR_ANY);
	else if (inet_pton(AF_INET, host, &a.u.in4.sin_addr) != 1)
		return -EINVAL;
	ret = parse_port(port, &a.u.in4.sin_port);
done:
	if (ret == 0)
		*out = a;
	return ret;
}

int tide_addr_format(const struct tide_addr *a, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];
	int n;

	if (!a || !buf)
		return -EINVAL;
	if (a->len == 0)
		return -EAFNOSUPPORT;
	/* the length is the caller's (often the kernel's): never read past
	 * the record it claims to describe */
	if (a->len > sizeof(a->u))
		return -EINVAL;
	switch (a->u.sa.sa_family) {
	case AF_INET:
		if (a->len < sizeof(a->u.in4))
			return -EINVAL;
		inet_ntop(AF_INET, &a->u.in4.sin_addr, host, sizeof(host));
		n = snprintf(buf, size, "%s:%u", host,
			     ntohs(a->u.in4.sin_port));
		break;
	case AF_INET6:
		if (a->len < sizeof(a->u.in6))
			return -EINVAL;
		inet_ntop(AF_INET6, &a->u.in6.sin6_addr, host, sizeof(host));
		n = snprintf(buf, size, "[%s]:%u", host,
			     ntohs(a->u.in6.sin6_port));
		break;
	case AF_UNIX: {
		size_t off = offsetof(struct sockaddr_un, sun_path);
		size_t plen = a->len > off ? a->len - off : 0;
		const char *p = a->u.un.sun_path;

		if (plen > sizeof(a->u.un.sun_path))
			plen = sizeof(a->u.un.sun_path);

		if (plen > 0 && p[0] == '\0') /* abstract */
			n = snprintf(buf, size, "unix:@%.*s", (int)plen - 1,
				     p + 1);
		else
			n = snprintf(buf, size, "unix:%.*s",
				     (int)strnlen(p, plen), p);
		break;
	}
	default:
		return -EAFNOSUPPORT;
	}
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= size)
		return -ENOSPC;
	return n;
}

/* ---- name resolution ---- */

struct resolve_job {
	struct tide_loop *loop;
	struct tide_future *promise; /* NULL once cancelled */
	char *host, *port;
	int socktype;
	int result;
	struct tide_addr *addrs;
	uint64_t loop_id;	/* tide__loop_id(loop) */
	struct tide__post node; /* the hand-back: needs no memory */
};

static int gai_errno(int rc)
{
	switch (rc) {
	case EAI_AGAIN:
		return -EAGAIN;
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_NONAME:
	case EAI_NODATA:
	case EAI_ADDRFAMILY:
		return -ENOENT;
	case EAI_SERVICE:
	case EAI_SOCKTYPE:
	case EAI_FAMILY:
	case EAI_BADFLAGS:
		return -EINVAL;
	default:
		return -EIO;
	}
}

static void job_free(struct resolve_job *j)
{
	free(j->addrs);
	free(j->host);
	free(j);
}

/* Loop thread: hand the answer over (or drop it after a cancel). */
static void resolve_deliver(void *arg)
{
	struct resolve_job *j = arg;

	if (j->promise) {
		/* a released promise hands its payload to nobody: keep the
		 * array here, to be freed below */
		bool wanted = !(j->promise->op.fflags & TIDE__FF_RELEASED);

		tide_promise_resolve(j->promise, j->result,
				     j->result > 0 && wanted ? j->addrs : NULL);
		if (j->result > 0 && wanted)
			j->addrs = NULL;
	}
	job_free(j);
}

static void resolve_cancel(void *arg)
{
	struct resolve_job *j = arg;
	struct tide_future *p = j->promise;

	j->promise = NULL;
	tide_promise_resolve(p, -ECANCELED, NULL);
}

static void *resolve_thread(void *arg)
{
	struct resolve_job *j = arg;
	struct addrinfo hints, *res = NULL, *ai;
	int rc, n = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = j->socktype;
	hints.ai_flags = AI_ADDRCONFIG;
	rc = getaddrinfo(j->host[0] ? j->host : NULL, j->port, &hints, &res);
	if (rc) {
		j->result = rc == EAI_SYSTEM ? -errno : gai_errno(rc);
		goto post;
	}
	for (ai = res; ai; ai = ai->ai_next)
		n++;
	j->addrs = calloc((size_t)n, sizeof(*j->addrs));
	if (!j->addrs) {
		j->result = -ENOMEM;
		goto post;
	}
	n = 0;
	for (ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(j->addrs[n].u))
			continue;
		/* getaddrinfo lists an address once per socket type */
		if (!j->socktype && ai->ai_socktype != SOCK_STREAM)
			continue;
		memcpy(&j->addrs[n].u, ai->ai_addr, ai->ai_addrlen);
		j->addrs[n].len = ai->ai_addrlen;
		n++;
	}
	j->result = n > 0 ? n : -ENOENT;
post:
	if (res)
		freeaddrinfo(res);
	/* fails only when the loop was freed meanwhile, its promise with it */
	j->node.fn = resolve_deliver;
	j->node.arg = j;
	if (tide__loop_post_node(j->loop, j->loop_id, &j->node))
		job_free(j);
	return NULL;
}

static int resolve_unix(struct tide_loop *loop, const char *text,
			struct tide_future **out)
{
	struct tide_addr *a = calloc(1, sizeof(*a));
	int ret;

	if (!a)
		return -ENOMEM;
	ret = tide_addr_parse(a, text);
	if (ret) {
		free(a);
		return ret;
	}
	*out = tide_future_ready(loop, 1, a);
	if (!*out)
		free(a);
	return 0;
}

static struct tide_future *start_job(struct tide_loop *loop,
				     struct resolve_job *j)
{
	pthread_attr_t attr;
	pthread_t th;
	int rc;

	j->promise = tide_promise_new(loop);
	if (!j->promise)
		return NULL;
	if (tide_promise_on_cancel(j->promise, resolve_cancel, j))
		goto err;
	if (pthread_attr_init(&attr))
		goto err;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	rc = pthread_create(&th, &attr, resolve_thread, j);
	pthread_attr_destroy(&attr);
	if (rc)
		goto err;
	return j->promise;
err:
	tide_promise_resolve(j->promise, -EAGAIN, NULL);
	return j->promise;
}

struct tide_future *tide_resolve(struct tide_loop *loop, const char *text,
				 int socktype)
{
	struct tide_future *f = NULL;
	struct resolve_job *j;
	const char *port;
	size_t n;
	int ret;

	if (!loop)
		return NULL;
	if (!text || (socktype != 0 && socktype != SOCK_STREAM &&
		      socktype != SOCK_DGRAM))
		return tide_future_fail(loop, -EINVAL);
	if (!strncmp(text, "unix:", 5)) {
		ret = resolve_unix(loop, text, &f);
		return ret ? tide_future_fail(loop, ret) : f;
	}
	n = strlen(text) + 1;
	j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->host = malloc(n + 1);
	if (!j->host) {
		free(j);
		return NULL;
	}
	ret = split_host_port(text, j->host, n, &port);
	if (ret || !*port) {
		free(j->host);
		free(j);
		return tide_future_fail(loop, -EINVAL);
	}
	/* the port text follows the host in the same allocation */
	j->port = j->host + strlen(j->host) + 1;
	memmove(j->port, port, strlen(port) + 1);
	j->loop = loop;
	j->loop_id = tide__loop_id(loop);
	j->socktype = socktype;
	f = start_job(loop, j);
	if (!f || tide_future_done(f)) {
		free(j->host);
		free(j);
	}
	return f;
}
