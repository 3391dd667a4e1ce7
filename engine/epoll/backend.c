// SPDX-License-Identifier: MIT
/*
 * backend.c - the epoll backend's hooks (init, fini, poll, cancel_all,
 * config), its operation records, the descriptor table and readiness
 * dispatch, timers, deadlines and cancellation.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ep_impl.h"

#define HASH_MIN 64u

static struct ep_req *from_timer(struct tide__timer *t)
{
	return (struct ep_req *)(void *)((char *)t -
					 offsetof(struct ep_req, timer));
}

static struct ep_req *from_job(struct tide__bjob *j)
{
	return (struct ep_req *)(void *)((char *)j -
					 offsetof(struct ep_req, job));
}

/* ---- op -> record hash (cancel and deadline find records by op) ---- */

static uint32_t hslot(const struct tide__ep *ep, const struct tide__op *op)
{
	uint64_t h = (uint64_t)(uintptr_t)op * 0x9e3779b97f4a7c15ull;

	return (uint32_t)(h >> 32) & ep->hmask;
}

static int hash_grow(struct tide_loop *loop, struct tide__ep *ep)
{
	uint32_t n = ep->hmask ? (ep->hmask + 1) * 2 : HASH_MIN;
	/* set-up (loop NULL): plain memory, as for the rest of the loop */
	struct ep_req **v = loop ? tide__calloc(loop, n, sizeof(*v)) :
				   calloc(n, sizeof(*v));
	struct ep_req **old = ep->hash;
	uint32_t oldn = ep->hash ? ep->hmask + 1 : 0;

	if (!v)
		return -ENOMEM;
	ep->hash = v;
	ep->hmask = n - 1;
	for (uint32_t i = 0; i < oldn; i++) {
		struct ep_req *r = old[i], *next;

		for (; r; r = next) {
			uint32_t s = hslot(ep, r->op);

			next = r->hnext;
			r->hnext = v[s];
			v[s] = r;
		}
	}
	free(old);
	return 0;
}

static struct ep_req *hash_find(const struct tide__ep *ep,
				const struct tide__op *op)
{
	struct ep_req *r = ep->hash[hslot(ep, op)];

	while (r && r->op != op)
		r = r->hnext;
	return r;
}

static void hash_del(struct tide__ep *ep, struct ep_req *r)
{
	struct ep_req **p = &ep->hash[hslot(ep, r->op)];

	while (*p && *p != r)
		p = &(*p)->hnext;
	if (*p) {
		*p = r->hnext;
		ep->hcount--;
	}
	r->hnext = NULL;
}

/* An io_uring loop sends an operation its kernel lacks here (ops.c's
 * LACKS): it gets the pool part of the state on first use, no epoll set. */
static int lazy_state(struct tide_loop *loop)
{
	struct tide__ep *ep = tide__calloc(loop, 1, sizeof(*ep));

	if (!ep)
		return -ENOMEM;
	ep->epfd = -1;
	if (hash_grow(loop, ep)) {
		free(ep);
		return -ENOMEM;
	}
	loop->ep = ep;
	return 0;
}

struct ep_req *tide__ep_req_new(struct tide_loop *loop, struct tide__op *op,
				uint8_t kind)
{
	struct tide__ep *ep;
	struct ep_req *r;
	uint32_t s;

	if (!loop->ep && lazy_state(loop))
		return NULL;
	ep = loop->ep;
	if (ep->hcount >= ep->hmask + 1 && hash_grow(loop, ep))
		return NULL;
	r = ep->free_reqs;
	if (r)
		ep->free_reqs = r->next;
	else if (!(r = tide__malloc(loop, sizeof(*r))))
		return NULL;
	memset(r, 0, offsetof(struct ep_req, u));
	r->op = op;
	r->loop = loop;
	r->kind = kind;
	r->fd = -1;
	tide__timer_init(&r->timer);
	s = hslot(ep, op);
	r->hnext = ep->hash[s];
	ep->hash[s] = r;
	ep->hcount++;
	ep->live++;
	return r;
}

int tide__ep_reserve_slow(struct tide_loop *loop)
{
	struct tide__ep *ep = loop->ep;

	if (!ep) {
		if (lazy_state(loop))
			return -ENOMEM;
		ep = loop->ep;
	}
	if (ep->hcount >= ep->hmask + 1 && hash_grow(loop, ep))
		return -ENOMEM;
	if (!ep->free_reqs) {
		struct ep_req *r = tide__malloc(loop, sizeof(*r));

		if (!r)
			return -ENOMEM;
		r->next = NULL;
		ep->free_reqs = r;
	}
	if (tide__timer_reserve(loop, &ep->timers))
		return -ENOMEM;
	return tide__later_reserve(loop);
}

void tide__ep_req_free(struct tide_loop *loop, struct ep_req *r)
{
	struct tide__ep *ep = loop->ep;

	if (ep->running == r)
		ep->running = NULL;
	hash_del(ep, r);
	if (ep->last_req == r)
		ep->last_req = NULL;
	r->next = ep->free_reqs;
	ep->free_reqs = r;
	ep->live--;
}

void tide__ep_finish(struct tide_loop *loop, struct ep_req *r, int32_t res)
{
	struct tide__op *op = r->op;

	tide__timer_del(&loop->ep->timers, &r->timer);
	tide__ep_req_free(loop, r);
	loop->ep->delivered++;
	tide__ep_count_done(loop);
	tide__complete(loop, op, res, 0);
}

int tide__ep_now(struct tide_loop *loop, struct tide__op *op, int32_t res)
{
	int ret = tide__later_push(loop, op, res, 0, 0);

	if (!ret) {
		tide__ep_count_done(loop);
		tide__ep_started(loop, op, NULL);
	}
	return ret;
}

/* ---- descriptor table and readiness ---- */

struct ep_fd *tide__ep_fd_make(struct tide_loop *loop, int fd)
{
	struct tide__ep *ep = loop->ep;
	struct ep_fd *e;
	uint32_t c = (uint32_t)fd / EP_FD_CHUNK;

	/* tide__ep_fd() found no entry for fd >= 0: its chunk is missing */
	if (c >= ep->nfdc) {
		uint32_t n = ep->nfdc ? ep->nfdc : 4;
		struct ep_fd **v;

		while (n <= c)
			n *= 2;
		v = tide__realloc(loop, ep->fdc, (size_t)n * sizeof(*v));
		if (!v)
			return NULL;
		memset(v + ep->nfdc, 0, (size_t)(n - ep->nfdc) * sizeof(*v));
		ep->fdc = v;
		ep->nfdc = n;
	}
	e = tide__calloc(loop, EP_FD_CHUNK, sizeof(*e));
	if (!e)
		return NULL;
	for (uint32_t i = 0; i < EP_FD_CHUNK; i++)
		e[i].reg = EP_UNREG;
	ep->fdc[c] = e;
	return &e[(uint32_t)fd % EP_FD_CHUNK];
}

static void list_add(struct ep_list *l, struct ep_req *r)
{
	r->next = NULL;
	r->prev = l->tail;
	if (l->tail)
		l->tail->next = r;
	else
		l->head = r;
	l->tail = r;
	r->in = l;
}

void tide__ep_list_del(struct ep_req *r)
{
	struct ep_list *l = r->in;

	if (!l)
		return;
	if (r->prev)
		r->prev->next = r->next;
	else
		l->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		l->tail = r->prev;
	r->next = r->prev = NULL;
	r->in = NULL;
}

static int ctl(struct tide__ep *ep, int op, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	return epoll_ctl(ep->epfd, op, fd, &ev) ? -errno : 0;
}

/* Note what fd is registered for (EP_UNREG: nothing), keeping count. */
static void set_reg(struct tide__ep *ep, struct ep_fd *e, uint32_t reg)
{
	ep->nreg +=
		(uint32_t)(reg != EP_UNREG) - (uint32_t)(e->reg != EP_UNREG);
	e->reg = reg;
}

/*
 * Make fd's registration cover what its waiters want.  Level-triggered: a
 * reader's EPOLLIN stays registered after it is served (the next receive
 * usually waits again); it goes when an event finds nobody waiting.
 * EPOLLOUT, almost always true, is dropped as soon as no writer waits.
 * check: the first waiter after an idle spell; the registration is renewed
 * even when it looks right, because the descriptor may have been closed and
 * its number reused behind our back (api/process.c closes pidfds itself,
 * users close sockets) and the kernel then forgot it: EPOLL_CTL_MOD says
 * ENOENT and it is added again.  That costs one epoll_ctl() per wait that
 * starts from idle; a stale registration would cost a hang.
 */
static int update(struct tide_loop *loop, int fd, bool check)
{
	struct tide__ep *ep = loop->ep;
	struct ep_fd *e = tide__ep_fd_at(ep, fd);
	uint32_t want = 0, next;
	int ret;

	for (struct ep_req *r = e->waiters.head; r; r = r->next)
		want |= r->want;
	next = want;
	if (e->reg != EP_UNREG)
		next |= e->reg & EPOLLIN;
	if (e->reg == next && !check)
		return 0;
	if (!next) {
		(void)ctl(ep, EPOLL_CTL_DEL, fd, 0);
		set_reg(ep, e, EP_UNREG);
		return 0;
	}
	if (e->reg == EP_UNREG) {
		ret = ctl(ep, EPOLL_CTL_ADD, fd, next);
		if (ret == -EEXIST)
			ret = ctl(ep, EPOLL_CTL_MOD, fd, next);
	} else {
		ret = ctl(ep, EPOLL_CTL_MOD, fd, next);
		if (ret == -ENOENT) /* closed and reused behind our back */
			ret = ctl(ep, EPOLL_CTL_ADD, fd, next);
	}
	if (ret)
		return ret;
	set_reg(ep, e, next);
	return 0;
}

int tide__ep_wait(struct tide_loop *loop, struct ep_req *r)
{
	struct ep_fd *e = tide__ep_fd(loop, r->fd);
	int ret;

	if (!e)
		return r->fd < 0 ? -EBADF : -ENOMEM;
	bool idle = !e->waiters.head;

	list_add(&e->waiters, r);
	r->state = EP_S_WAITING;
	ret = update(loop, r->fd, idle);
	if (ret) {
		tide__ep_list_del(r);
		if (ret == -EPERM)
			e->kind = EP_FD_BLOCKING;
	}
	return ret;
}

static void end_waiters(struct tide_loop *loop, struct ep_list *l)
{
	struct ep_req *r;

	while ((r = l->head)) {
		tide__ep_list_del(r);
		/* no memory to defer it: it stays, cancellable, rather than
		 * lost (a later event or cancel ends it) */
		if (tide__complete_later(loop, r->op, -ECANCELED, 0)) {
			list_add(l, r);
			return;
		}
		tide__timer_del(&loop->ep->timers, &r->timer);
		tide__ep_req_free(loop, r);
	}
}

void tide__ep_fd_reset(struct tide_loop *loop, int fd)
{
	struct tide__ep *ep = loop->ep;
	struct ep_fd *e;

	e = tide__ep_fd_at(ep, fd);
	if (!e)
		return;
	if (e->reg != EP_UNREG)
		(void)ctl(ep, EPOLL_CTL_DEL, fd, 0);
	set_reg(ep, e, EP_UNREG);
	e->kind = EP_FD_UNKNOWN;
	e->no_nowait = false;
	e->hit = false;
	/* operations still waiting on the old file end now (those the
	 * dispatcher is going through for this fd too: never retried on
	 * whatever file gets the number next) */
	end_waiters(loop, &e->waiters);
	if (ep->pend && ep->pend_fd == fd) {
		end_waiters(loop, ep->pend);
		if (ep->running)
			ep->running->cancel = true; /* a multishot stops */
	}
}

/* Not cached: a number closed behind tide's back may come back as a
 * blocking descriptor, and one blocking accept() would stop the loop.  An
 * fcntl() per accept or connect is cheap next to the connection. */
int tide__ep_set_nonblock(struct tide_loop *loop, int fd)
{
	int fl = fcntl(fd, F_GETFL);

	(void)loop;
	if (fl < 0)
		return -errno;
	if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* Retry every operation waiting on fd that events concern. */
static void dispatch_fd(struct tide_loop *loop, int fd, uint32_t events)
{
	struct tide__ep *ep = loop->ep;
	struct ep_fd *e = tide__ep_fd_at(ep, fd); /* chunks never move */
	struct ep_list pend;
	struct ep_req *r;

	if (!e)
		return;
	if (!e->waiters.head) {
		/* nobody waits: stop hearing about it until someone does */
		(void)ctl(ep, EPOLL_CTL_DEL, fd, 0);
		set_reg(ep, e, EP_UNREG);
		return;
	}
	/* take the list: callbacks may start, cancel or close anything */
	pend = e->waiters;
	e->waiters.head = e->waiters.tail = NULL;
	for (r = pend.head; r; r = r->next)
		r->in = &pend;
	ep->pend = &pend;
	ep->pend_fd = fd;
	while ((r = pend.head)) {
		tide__ep_list_del(r);
		if (!(events & (r->want | EPOLLERR | EPOLLHUP))) {
			list_add(&e->waiters, r);
			continue;
		}
		r->state = EP_S_RUNNING;
		ep->running = r;
		if (tide__ep_retry(loop, r, events)) {
			ep->running = NULL;
			continue;
		}
		ep->running = NULL;
		r->state = EP_S_WAITING;
		list_add(&e->waiters, r);
	}
	ep->pend = NULL;
	if (update(loop, fd, false))
		tide__warn(loop, "epoll_ctl on descriptor %d failed", fd);
}

/* ---- timers ---- */

static uint64_t ts_ns(const struct __kernel_timespec *ts)
{
	if (ts->tv_sec < 0 || ts->tv_nsec < 0)
		return 0;
	return (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
}

int tide__ep_timeout(struct tide_loop *loop, struct tide__op *op,
		     struct __kernel_timespec *ts, unsigned flags)
{
	struct ep_req *r;
	uint64_t when;

	EP_RESERVE(loop);
	if (flags & ~(unsigned)TIDE__TIMEOUT_ABS)
		return -EINVAL;
	r = tide__ep_req_new(loop, op, EP_TIMEOUT);
	if (!r)
		return -ENOMEM;
	when = ts_ns(ts);
	if (!(flags & TIDE__TIMEOUT_ABS))
		when += tide_now_ns();
	if (tide__timer_add(&loop->ep->timers, &r->timer, when)) {
		tide__ep_req_free(loop, r);
		return -ENOMEM;
	}
	r->state = EP_S_WAITING;
	tide__count_timer(loop);
	tide__ep_started(loop, op, r);
	return 0;
}

int tide__ep_deadline(struct tide_loop *loop, struct tide__op *op,
		      struct __kernel_timespec *ts)
{
	struct tide__ep *ep = loop->ep;
	struct ep_req *r = ep->last_req;

	if (ep->last_op != op)
		return -EAGAIN;
	if (!r)
		return 0; /* it has its result already */
	if (tide__timer_armed(&r->timer))
		return -EAGAIN; /* a timeout, or a second deadline */
	if (tide__timer_add(&ep->timers, &r->timer, tide_now_ns() + ts_ns(ts)))
		return -ENOMEM;
	r->deadline = true;
	op->eflags |= TIDE__OP_DEADLINE;
	tide__count_timer(loop);
	ep->last_op = NULL;
	return 0;
}

/*
 * End r early.  now: deliver the -ECANCELED here (the poll hook); else on
 * the next dispatch (inside a tide__op_*() call).  A record being retried
 * is marked for its retry to finish; a running pool job finishes with its
 * own result.  0 or -ENOMEM.
 */
static int cancel_req(struct tide_loop *loop, struct ep_req *r, bool now)
{
	struct tide__ep *ep = loop->ep;
	int fd = r->fd;
	bool listed = r->in != NULL;

	if (r->state == EP_S_RUNNING) {
		r->cancel = true;
		return 0;
	}
	if (r->state == EP_S_POOL) {
		if (!tide__blocking_cancel(ep->pool, &r->job))
			return 0; /* running: its own result comes */
		r->state = EP_S_WAITING;
	}
	if (!now && tide__complete_later(loop, r->op, -ECANCELED, 0)) {
		/* no memory to defer the result: a job taken off the queue
		 * goes back (at its end) and runs after all */
		r->job.spill = 0; /* a blocking job now, counted as one */
		if (r->kind == EP_BLOCKING && tide__ep_pool_submit(loop, r))
			tide__warn(loop,
				   "a cancelled job could not be requeued");
		return -ENOMEM;
	}
	tide__ep_list_del(r);
	if (now) {
		tide__ep_finish(loop, r, -ECANCELED);
	} else {
		tide__ep_count_done(loop);
		tide__timer_del(&ep->timers, &r->timer);
		tide__ep_req_free(loop, r);
	}
	if (listed && tide__ep_fd_at(ep, fd))
		(void)update(loop, fd, false);
	return 0;
}

int tide__ep_cancel(struct tide_loop *loop, struct tide__op *op)
{
	struct ep_req *r = hash_find(loop->ep, op);

	/* not found: finished, its completion already queued */
	return r ? cancel_req(loop, r, false) : 0;
}

static void expire(struct tide_loop *loop)
{
	struct tide__timer *t;
	uint64_t now = tide_now_ns();

	while ((t = tide__timer_pop_due(&loop->ep->timers, now))) {
		struct ep_req *r = from_timer(t);

		if (r->kind == EP_TIMEOUT && !r->deadline)
			tide__ep_finish(loop, r, -ETIME);
		else
			(void)cancel_req(loop, r, true);
	}
}

/* ---- the pool ---- */

static void job_done(struct tide__bjob *j)
{
	struct ep_req *r = from_job(j);
	struct tide_loop *loop = r->loop;
	int32_t res = j->res;

	if (j->op == TIDE__B_OPENAT && res >= 0)
		tide__ep_fd_reset(loop, res);
	if (j->spill && (res = tide__ep_spill_back(loop, r, res)) == 1)
		return;
	if (r->done) /* bytes done inline before the job (file.c) */
		res = res >= 0 ? res + (int32_t)r->done : (int32_t)r->done;
	r->state = EP_S_WAITING;
	tide__ep_finish(loop, r, res);
}

unsigned tide__ep_quota_cpus(const char *cpu_max, const char *quota,
			     const char *period)
{
	long long q, per;
	char word[24];

	if (cpu_max) { /* v2: "max 100000" or "QUOTA PERIOD" */
		if (sscanf(cpu_max, "%23s %lld", word, &per) != 2 ||
		    !strcmp(word, "max") || sscanf(word, "%lld", &q) != 1)
			return 0;
	} else if (!quota || !period || sscanf(quota, "%lld", &q) != 1 ||
		   sscanf(period, "%lld", &per) != 1) {
		return 0;
	}
	if (q <= 0 || per <= 0)
		return 0; /* v1's -1: no limit */
	return q / per >= 4096 ? 4096 : q / per < 1 ? 1 : (unsigned)(q / per);
}

/* The first line of a small file (NULL: none). */
static char *first_line(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "re");
	char *r;

	if (!f)
		return NULL;
	r = fgets(buf, (int)n, f);
	fclose(f);
	return r;
}

/* The tightest CPU quota of this process's cgroup and the ones above it,
 * in whole CPUs (0: none seen), cgroup v2 or v1's cpu controller.  In a
 * container the cgroup namespace shows its own cgroup as "/" at the mount
 * point; without one the path may not exist there, and the mount point's
 * own files are the container's. */
static unsigned cgroup_cpus(void)
{
	char line[512], dir[560], file[600], a[64], b[64], *path = NULL, *c;
	const char *root = NULL;
	unsigned best = 0, n;
	FILE *f = fopen("/proc/self/cgroup", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *ctl = strchr(line, ':'), *p;

		if (!ctl || !(p = strchr(ctl + 1, ':')))
			continue;
		*p++ = '\0';
		p[strcspn(p, "\n")] = '\0';
		if (!strcmp(ctl + 1, "") && !root) { /* v2 */
			root = "/sys/fs/cgroup";
			path = strdup(p);
		} else if (!strcmp(ctl + 1, "cpu") ||
			   !strcmp(ctl + 1, "cpu,cpuacct") ||
			   !strcmp(ctl + 1, "cpuacct,cpu")) {
			root = "/sys/fs/cgroup/cpu"; /* v1 wins over v2's "0::" */
			free(path);
			path = strdup(p);
			break;
		}
	}
	fclose(f);
	if (!path)
		return 0;
	for (;;) {
		bool v2 = !strcmp(root, "/sys/fs/cgroup");

		snprintf(dir, sizeof(dir), "%s%s", root,
			 strcmp(path, "/") ? path : "");
		if (v2) {
			snprintf(file, sizeof(file), "%s/cpu.max", dir);
			c = first_line(file, a, sizeof(a));
			n = c ? tide__ep_quota_cpus(c, NULL, NULL) : 0;
		} else {
			snprintf(file, sizeof(file), "%s/cpu.cfs_quota_us",
				 dir);
			c = first_line(file, a, sizeof(a));
			snprintf(file, sizeof(file), "%s/cpu.cfs_period_us",
				 dir);
			n = c && first_line(file, b, sizeof(b)) ?
				    tide__ep_quota_cpus(NULL, a, b) :
				    0;
		}
		if (n && (!best || n < best))
			best = n;
		if (!strcmp(path, "/") || !(c = strrchr(path, '/')))
			break;
		if (c == path)
			c[1] = '\0'; /* up to "/" */
		else
			*c = '\0';
	}
	free(path);
	return best;
}

/* The CPUs this thread may use: the ones it may run on, at most its
 * cgroup's CPU quota (as the process's first epoll loop found it); 1 when
 * TIDE_BLOCKING_SPILL=0 is in the environment (no page-cache read is
 * spilled to the pool). */
static unsigned spill_cpus(void)
{
	const char *e = getenv("TIDE_BLOCKING_SPILL");
	cpu_set_t set;
	unsigned q;
	long n;

	if (e && !strcmp(e, "0"))
		return 1;
	if (!sched_getaffinity(0, sizeof(set), &set))
		n = CPU_COUNT(&set);
	else /* more CPUs than a cpu_set_t holds */
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n > 4096)
		n = 4096;
	if (n > 1) {
		/* read once per process: three files per loop is not cheap */
		static unsigned cached; /* quota + 1, 0: not read yet */

		q = __atomic_load_n(&cached, __ATOMIC_RELAXED);
		if (!q) {
			q = cgroup_cpus() + 1;
			__atomic_store_n(&cached, q, __ATOMIC_RELAXED);
		}
		q--;
	} else {
		q = 0;
	}
	if (q && q < n)
		n = q;
	return n > 1 ? (unsigned)n : 1;
}

int tide__ep_pool_make(struct tide_loop *loop)
{
	struct tide__ep *ep = loop->ep;
	int ret;

	if (ep->pool)
		return 0;
	ret = tide__blocking_new(&ep->pool, 0, loop->wake_fd);
	if (ret)
		return ret;
	tide__blocking_spill(ep->pool, ep->cpus);
	return 0;
}

int tide__ep_pool_submit(struct tide_loop *loop, struct ep_req *r)
{
	int ret = tide__ep_pool_make(loop);

	if (ret)
		return ret;
	r->kind = EP_BLOCKING;
	r->job.done = job_done;
	r->job.state = TIDE__BJ_IDLE;
	ret = tide__blocking_submit(loop->ep->pool, &r->job);
	if (!ret)
		r->state = EP_S_POOL;
	return ret;
}

static void ep_cancel_all(struct tide_loop *loop);

/* ---- hooks ---- */

static int ep_init(struct tide_loop *loop, const struct tide_loop_options *o)
{
	struct tide__ep *ep;
	int ret;

	(void)o;
	ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -ENOMEM;
	ep->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ep->epfd < 0) {
		ret = -errno;
		goto err_free;
	}
	loop->ep = ep;
	ep->cpus = spill_cpus();
	ret = hash_grow(NULL, ep);
	if (ret)
		goto err_close;
	ret = ctl(ep, EPOLL_CTL_ADD, loop->wake_fd, EPOLLIN);
	if (ret)
		goto err_hash;
	return 0;
err_hash:
	free(ep->hash);
err_close:
	close(ep->epfd);
err_free:
	free(ep);
	loop->ep = NULL;
	return ret;
}

static void ep_fini(struct tide_loop *loop)
{
	struct tide__ep *ep = loop->ep;
	struct ep_req *r, *next;

	if (!ep)
		return;
	tide__blocking_free(ep->pool);
	if (ep->epfd >= 0)
		close(ep->epfd);
	for (r = ep->free_reqs; r; r = next) {
		next = r->next;
		free(r);
	}
	tide__timer_heap_free(&ep->timers);
	free(ep->hash);
	for (uint32_t i = 0; i < ep->nfdc; i++)
		free(ep->fdc[i]);
	free(ep->fdc);
	free(ep);
	loop->ep = NULL;
}

static void drain_wake(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
}

/* epoll_pwait2() (Linux 5.11) takes nanoseconds; glibc 2.35 has no
 * wrapper in older headers, so it is called by number. */
static int ep_wait(struct tide__ep *ep, int64_t ns)
{
	int n;

#ifdef SYS_epoll_pwait2
	if (!ep->no_pwait2) {
		struct timespec ts, *tp = NULL;

		if (ns >= 0) {
			ts.tv_sec = (time_t)(ns / 1000000000);
			ts.tv_nsec = (long)(ns % 1000000000);
			tp = &ts;
		}
		n = (int)syscall(SYS_epoll_pwait2, ep->epfd, ep->ev,
				 (int)(sizeof(ep->ev) / sizeof(ep->ev[0])), tp,
				 NULL, 0);
		if (n >= 0 || (errno != ENOSYS && errno != EPERM))
			return n < 0 ? -errno : n;
		ep->no_pwait2 = true;
	}
#endif
	/* milliseconds, rounded up so a timer is never early */
	n = epoll_wait(ep->epfd, ep->ev,
		       (int)(sizeof(ep->ev) / sizeof(ep->ev[0])),
		       ns < 0 ? -1 :
				(int)((ns + 999999) / 1000000 > 86400000 ?
					      86400000 :
					      (ns + 999999) / 1000000));
	return n < 0 ? -errno : n;
}

static int ep_poll(struct tide_loop *loop, int wait)
{
	struct tide__ep *ep = loop->ep;
	int64_t ns = 0;
	int n;

	/* deferred completions (cancel_all() queues them) are work: no
	 * blocking until the core delivered them */
	if (wait && !loop->later_n) {
		struct tide__timer *t = tide__timer_first(&ep->timers);

		ns = -1;
		if (t) {
			uint64_t now = tide_now_ns();

			ns = t->when > now ? (int64_t)(t->when - now) : 0;
		}
		if (loop->wait_cap_ns &&
		    (ns < 0 || (uint64_t)ns > loop->wait_cap_ns))
			ns = (int64_t)loop->wait_cap_ns;
	}
	ep->delivered = 0;
	if (ns == 0 && !ep->nreg) {
		/* nothing to wait for and nothing registered but the wake-up
		 * eventfd: pool results and posts are read without it (it
		 * stays readable, and is drained by the next wait that
		 * blocks), so a turn of file IO costs no epoll_wait() */
		n = 0;
	} else {
		n = ep_wait(ep, ns);
		loop->stats.enter_calls++; /* the backend's blocking call */
	}
	if (n == -EINTR)
		n = 0;
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		int fd = ep->ev[i].data.fd;

		if (fd == loop->wake_fd)
			drain_wake(fd); /* before the pool's list is read */
		else
			dispatch_fd(loop, fd, ep->ev[i].events);
	}
	if (ep->pool)
		tide__blocking_reap(ep->pool);
	if (tide__timer_first(&ep->timers))
		expire(loop);
	return (int)ep->delivered;
}

static void ep_cancel_all(struct tide_loop *loop)
{
	struct tide__ep *ep = loop->ep;

	for (uint32_t i = 0; i <= ep->hmask; i++) {
		struct ep_req *r = ep->hash[i], *next;

		for (; r; r = next) {
			next = r->hnext;
			/* -ENOMEM: it stays, and the next pass asks again */
			(void)cancel_req(loop, r, false);
		}
	}
}

static void ep_config(const struct tide_loop *loop,
		      struct tide_loop_config *cfg)
{
	(void)loop;
	cfg->setup = 0;
	cfg->sq_entries = 0;
	cfg->cq_entries = 0;
	cfg->features = 0;
	cfg->wake = 0;
}

int64_t tide__ep_timer_wait_ns(const struct tide_loop *loop)
{
	const struct tide__ep *ep = loop->ep;
	struct tide__timer *t;
	uint64_t now;

	if (!ep || !(t = tide__timer_first(&ep->timers)))
		return -1;
	now = tide_now_ns();
	return t->when > now ? (int64_t)(t->when - now) : 0;
}

unsigned tide__ep_expire(struct tide_loop *loop)
{
	struct tide__ep *ep = loop->ep;

	if (!ep || !tide__timer_first(&ep->timers))
		return 0;
	ep->delivered = 0;
	expire(loop);
	return ep->delivered;
}

bool tide__ep_owns(const struct tide_loop *loop, const struct tide__op *op)
{
	return loop->ep && hash_find(loop->ep, op) != NULL;
}

void tide__ep_cancel_own(struct tide_loop *loop)
{
	if (loop->ep)
		ep_cancel_all(loop);
}

unsigned tide__ep_reap(struct tide_loop *loop)
{
	struct tide__ep *ep = loop->ep;

	return ep && ep->pool ? tide__blocking_reap(ep->pool) : 0;
}

bool tide__ep_busy(const struct tide_loop *loop)
{
	const struct tide__ep *ep = loop->ep;

	return ep && ep->pool && tide__blocking_busy(ep->pool);
}

void tide__ep_release(struct tide_loop *loop)
{
	ep_fini(loop);
}

const struct tide__backend tide__epoll_backend = {
	.name = "epoll",
	.init = ep_init,
	.fini = ep_fini,
	.poll = ep_poll,
	.cancel_all = ep_cancel_all,
	.config = ep_config,
};
