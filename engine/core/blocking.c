// SPDX-License-Identifier: MIT
/*
 * blocking.c - the blocking-call pool (see blocking.h).
 *
 * One lock guards the queue, the list of finished jobs and the counters; a
 * condition variable wakes idle workers.  Workers are detached from nothing:
 * tide__blocking_free() sets stop, wakes them all and joins each.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "blocking.h"

#define MAX_THREADS 256u
#define DEFAULT_THREADS 4u
/* How long a worker that ran a spilled job polls for the next: about a
 * turn of a loop busy with page-cache reads */
#define SPIN_NS 50000u

struct tide__blocking {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct tide__bjob *qhead, *qtail; /* queued, FIFO */
	struct tide__bjob *dhead, *dtail; /* finished, not reaped */
	unsigned max, started, idle;
	unsigned spinning; /* workers polling qlen before they sleep */
	unsigned helpers;  /* at most this many spin (0: none spills) */
	uint64_t qlen;	   /* queued; read without the lock by spinners */
	bool stop;
	bool any_done; /* peeked without the lock */
	int wake_fd;
	pthread_t *tids;
	/* written by the loop thread only (under the lock), read by it
	 * without: on a line of their own, away from the lock's */
	uint64_t busy __attribute__((aligned(64))); /* queued + running +
						       finished */
	uint64_t hard; /* of those, the jobs that are not spilled */
};

static unsigned env_threads(void)
{
	const char *e = getenv("TIDE_BLOCKING_THREADS");
	char *end;
	unsigned long v;

	if (!e || !*e)
		return DEFAULT_THREADS;
	v = strtoul(e, &end, 10);
	if (*end || v < 1 || v > MAX_THREADS)
		return DEFAULT_THREADS;
	return (unsigned)v;
}

/* The lock is held for a few stores at a time, by the loop and by
 * workers on other cores: an adaptive mutex spins a little before it
 * sleeps, so a brush between the two costs no futex wait and wake. */
static int init_lock(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	int ret = pthread_mutexattr_init(&a);

	if (ret)
		return -ret;
	(void)pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
	ret = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return -ret;
}

int tide__blocking_new(struct tide__blocking **out, unsigned threads,
		       int wake_fd)
{
	struct tide__blocking *p;
	int ret;

	*out = NULL;
	if (threads > MAX_THREADS)
		return -EINVAL;
	/* aligned: busy and hard keep a cache line of their own */
	p = aligned_alloc(64, (sizeof(*p) + 63) & ~(size_t)63);
	if (!p)
		return -ENOMEM;
	memset(p, 0, sizeof(*p));
	p->max = threads ? threads : env_threads();
	p->wake_fd = wake_fd;
	p->tids = calloc(p->max, sizeof(*p->tids));
	if (!p->tids) {
		ret = -ENOMEM;
		goto err_free;
	}
	ret = init_lock(&p->lock);
	if (ret)
		goto err_tids;
	ret = -pthread_cond_init(&p->cond, NULL);
	if (ret)
		goto err_mutex;
	*out = p;
	return 0;
err_mutex:
	pthread_mutex_destroy(&p->lock);
err_tids:
	free(p->tids);
err_free:
	free(p);
	return ret;
}

static const char *opt_path(const char *p)
{
	return p ? p : "";
}

/* A spilled read (at an offset) from the page cache only: EAGAIN when it
 * would block, as on the loop's own road; a kernel or file system without
 * RWF_NOWAIT says so with EAGAIN too, and the job goes on as a blocking
 * one (the loop sees to it). */
static long read_nowait(struct tide__bjob *j)
{
	struct iovec v = { .iov_base = j->buf, .iov_len = j->len };
	long r;

#if defined(SYS_preadv2) && __SIZEOF_LONG__ == 8
	r = syscall(SYS_preadv2, j->fd, &v, 1ul, (unsigned long)j->off, 0ul,
		    RWF_NOWAIT);
#else
	r = preadv2(j->fd, &v, 1, (off_t)j->off, RWF_NOWAIT);
#endif
	if (r < 0 && (errno == EOPNOTSUPP || errno == ENOSYS))
		errno = EAGAIN;
	return r;
}

int32_t tide__blocking_run(struct tide__bjob *j)
{
	long r;
	loff_t oi, oo;

	switch (j->op) {
	case TIDE__B_NOP:
		r = 0;
		break;
	case TIDE__B_READ:
		if (j->spill) {
			r = read_nowait(j);
			break;
		}
		r = j->off == (uint64_t)-1 ?
			    read(j->fd, j->buf, j->len) :
			    pread(j->fd, j->buf, j->len, (off_t)j->off);
		break;
	case TIDE__B_WRITE:
		r = j->off == (uint64_t)-1 ?
			    write(j->fd, j->buf, j->len) :
			    pwrite(j->fd, j->buf, j->len, (off_t)j->off);
		break;
	case TIDE__B_READV:
		r = j->off == (uint64_t)-1 ?
			    readv(j->fd, j->buf, (int)j->len) :
			    preadv(j->fd, j->buf, (int)j->len, (off_t)j->off);
		break;
	case TIDE__B_WRITEV:
		r = j->off == (uint64_t)-1 ?
			    writev(j->fd, j->buf, (int)j->len) :
			    pwritev(j->fd, j->buf, (int)j->len, (off_t)j->off);
		break;
	case TIDE__B_FSYNC:
		r = (j->flags & 1) ? fdatasync(j->fd) : fsync(j->fd);
		break;
	case TIDE__B_FALLOCATE:
		r = fallocate(j->fd, j->flags, (off_t)j->off, (off_t)j->len64);
		break;
	case TIDE__B_SYNC_FILE_RANGE:
		r = sync_file_range(j->fd, (off_t)j->off, j->len,
				    (unsigned)j->flags);
		break;
	case TIDE__B_STATX:
		r = statx(j->fd, opt_path(j->path), j->flags, j->mode, j->buf);
		break;
	case TIDE__B_OPENAT:
		r = openat(j->fd, opt_path(j->path), j->flags, (mode_t)j->mode);
		break;
	case TIDE__B_CLOSE:
		/* close(2) releases the descriptor even when it fails (EINTR
		 * included), so it is never retried */
		r = close(j->fd);
		break;
	case TIDE__B_UNLINKAT:
		r = unlinkat(j->fd, opt_path(j->path), j->flags);
		break;
	case TIDE__B_MKDIRAT:
		r = mkdirat(j->fd, opt_path(j->path), (mode_t)j->mode);
		break;
	case TIDE__B_RENAMEAT:
		r = syscall(SYS_renameat2, j->fd, opt_path(j->path), j->fd2,
			    opt_path(j->path2), (unsigned)j->flags);
		break;
	case TIDE__B_SPLICE:
		oi = (loff_t)j->off;
		oo = (loff_t)j->off2;
		r = splice(j->fd, (int64_t)j->off == -1 ? NULL : &oi, j->fd2,
			   (int64_t)j->off2 == -1 ? NULL : &oo, j->len,
			   (unsigned)j->flags);
		break;
	case TIDE__B_OPENAT2:
		return tide__openat2_run(j->fd, opt_path(j->path), j->buf);
	default:
		return -EINVAL;
	}
	if (r < 0)
		return -errno;
	return r > INT32_MAX ? INT32_MAX : (int32_t)r;
}

static void wake(int fd)
{
	uint64_t one = 1;
	ssize_t w;

	do
		w = write(fd, &one, sizeof(one));
	while (w < 0 && errno == EINTR);
}

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Poll for a job for up to SPIN_NS before sleeping on the condition
 * variable (called with the lock, returns with it).  A loop that spills a
 * steady stream of page-cache reads then pays no futex wake-up and no
 * context switch per job: submit() does not signal while a worker spins.
 */
static void spin(struct tide__blocking *p)
{
	uint64_t end;
	unsigned i = 0;

	p->spinning++;
	pthread_mutex_unlock(&p->lock);
	end = mono_ns() + SPIN_NS;
	while (!__atomic_load_n(&p->qlen, __ATOMIC_RELAXED) &&
	       !__atomic_load_n(&p->stop, __ATOMIC_RELAXED)) {
		relax();
		if (++i % 64 == 0 && mono_ns() >= end)
			break;
	}
	pthread_mutex_lock(&p->lock);
	p->spinning--;
}

static void *worker(void *arg)
{
	struct tide__blocking *p = arg;
	struct tide__bjob *j;
	bool was_empty, spilled = false;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		if (spilled && !p->qhead && !p->stop &&
		    p->spinning < p->helpers)
			spin(p);
		while (!p->qhead && !p->stop) {
			p->idle++;
			pthread_cond_wait(&p->cond, &p->lock);
			p->idle--;
		}
		if (!p->qhead)
			break; /* stop, and nothing left to run */
		j = p->qhead;
		p->qhead = j->next;
		if (p->qhead)
			p->qhead->prev = NULL;
		else
			p->qtail = NULL;
		__atomic_store_n(&p->qlen, p->qlen - 1, __ATOMIC_RELAXED);
		__atomic_store_n(&j->state, TIDE__BJ_RUNNING, __ATOMIC_RELEASE);
		spilled = j->spill;
		pthread_mutex_unlock(&p->lock);

		j->res = tide__blocking_run(j);

		pthread_mutex_lock(&p->lock);
		__atomic_store_n(&j->state, TIDE__BJ_DONE, __ATOMIC_RELEASE);
		j->next = NULL;
		was_empty = !p->dhead;
		if (p->dtail)
			p->dtail->next = j;
		else
			p->dhead = j;
		p->dtail = j;
		__atomic_store_n(&p->any_done, true, __ATOMIC_RELEASE);
		/* one wake-up per batch: the loop drains the eventfd before it
		 * takes the list, so a job added after that is never missed */
		if (was_empty)
			wake(p->wake_fd);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Start a worker if every started one is busy.  Called with the lock. */
static int grow(struct tide__blocking *p)
{
	sigset_t all, old;
	int ret;

	/* the job about to be queued and those queued need a worker each */
	if (p->qlen + 1 <= p->idle + p->spinning || p->started >= p->max)
		return 0;
	/* workers never take the process's signals */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&p->tids[p->started], NULL, worker, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		return p->started ? 0 : -ret; /* the others will get to it */
	p->started++;
	return 0;
}

/* A spilled job waits for the workers awake (running or spinning) when
 * there are as many as the helpers.  Called with the lock. */
static bool spill_waits(const struct tide__blocking *p)
{
	return p->started - p->idle >= p->helpers;
}

int tide__blocking_submit(struct tide__blocking *p, struct tide__bjob *j)
{
	int ret;

	pthread_mutex_lock(&p->lock);
	ret = j->spill && spill_waits(p) ? 0 : grow(p);
	if (ret) {
		pthread_mutex_unlock(&p->lock);
		return ret;
	}
	j->state = TIDE__BJ_QUEUED;
	j->next = NULL;
	j->prev = p->qtail;
	if (p->qtail)
		p->qtail->next = j;
	else
		p->qhead = j;
	p->qtail = j;
	__atomic_store_n(&p->qlen, p->qlen + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&p->busy, p->busy + 1, __ATOMIC_RELAXED);
	if (!j->spill)
		p->hard++;
	/* a spinning worker takes it without a wake-up; a spilled job waits
	 * for any worker that is awake (waking another for it would cost
	 * more than the read) */
	if (p->qlen > p->spinning && !(j->spill && spill_waits(p)))
		pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

bool tide__blocking_cancel(struct tide__blocking *p, struct tide__bjob *j)
{
	bool found = false;

	pthread_mutex_lock(&p->lock);
	if (j->state == TIDE__BJ_QUEUED) {
		if (j->prev)
			j->prev->next = j->next;
		else
			p->qhead = j->next;
		if (j->next)
			j->next->prev = j->prev;
		else
			p->qtail = j->prev;
		j->next = j->prev = NULL;
		__atomic_store_n(&p->qlen, p->qlen - 1, __ATOMIC_RELAXED);
		j->state = TIDE__BJ_IDLE;
		__atomic_store_n(&p->busy, p->busy - 1, __ATOMIC_RELAXED);
		if (!j->spill)
			p->hard--;
		found = true;
	}
	pthread_mutex_unlock(&p->lock);
	return found;
}

unsigned tide__blocking_reap(struct tide__blocking *p)
{
	struct tide__bjob *j, *next;
	unsigned n = 0, hard = 0;

	if (!__atomic_load_n(&p->any_done, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&p->lock);
	j = p->dhead;
	p->dhead = p->dtail = NULL;
	p->any_done = false;
	for (next = j; next; next = next->next) {
		n++;
		hard += !next->spill;
	}
	/* busy drops before done runs: done may free the owner, or
	 * submit again */
	__atomic_store_n(&p->busy, p->busy - n, __ATOMIC_RELAXED);
	p->hard -= hard;
	pthread_mutex_unlock(&p->lock);
	for (; j; j = next) {
		next = j->next;
		j->next = NULL;
		j->state = TIDE__BJ_IDLE;
		j->done(j);
	}
	return n;
}

uint64_t tide__blocking_busy(const struct tide__blocking *p)
{
	return __atomic_load_n(&p->busy, __ATOMIC_RELAXED);
}

void tide__blocking_spill(struct tide__blocking *p, unsigned cpus)
{
	pthread_mutex_lock(&p->lock);
	p->helpers = cpus > 1 ? cpus - 1 : 0;
	if (p->helpers > p->max)
		p->helpers = p->max;
	pthread_mutex_unlock(&p->lock);
}

/*
 * With h helpers, the pool's share of the loop's operations in flight
 * (this one included) may reach 5h/(5h+3): 5/8 with one.  A worker's
 * pread(2) is a little cheaper than the loop's own RWF_NOWAIT preadv2(2)
 * plus the loop's share of the hand-off, so an even split leaves the
 * worker waiting; measured with tide-bench read --qd 32 on two cores,
 * 4/8 gave 1.21-1.24 M reads/s, 5/8 and 6/8 1.40-1.45 M, 7/8 1.41 M.
 * Never all of them: a loop whose every operation is on the pool sleeps
 * in epoll_wait() and is woken per batch.
 */
bool tide__blocking_may_spill(const struct tide__blocking *p, uint64_t others)
{
	uint64_t h = p->helpers;

	return h && !p->hard &&
	       (p->busy + 1) * (5 * h + 3) <= (others + 1) * 5 * h;
}

unsigned tide__blocking_threads(const struct tide__blocking *p)
{
	return p->max;
}

void tide__blocking_free(struct tide__blocking *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	__atomic_store_n(&p->stop, true, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->started; i++)
		pthread_join(p->tids[i], NULL);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p->tids);
	free(p);
}
