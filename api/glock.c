// SPDX-License-Identifier: MIT
/*
 * glock.c - global-lock emulation with CPython's "new GIL" behaviour, and a
 * fair FIFO lock to compare it with.
 *
 * GIL mode follows the algorithm of CPython's Python/ceval_gil.c (3.2+):
 *  - "locked" is a flag guarded by mu; waiters sleep on cond with a timeout
 *    of one switch interval.  A waiter whose wait timed out while the lock
 *    stayed with the same holder (switch_number unchanged) sets the drop
 *    request.  Each wait starts a fresh interval, so a waiter that loses the
 *    race after a release waits a whole interval again.
 *  - a release signals one waiter (not first come, first served: whoever
 *    gets mu first after the release wins, possibly the releaser itself).
 *  - the holder sees the request only at tide_glock_check(), a relaxed load.
 *  - forced switching: a thread that releases while a drop request is
 *    pending clears it and waits on switch_cond until last_holder is
 *    someone else, so it cannot grab the lock straight back.
 * FIFO mode hands the lock to waiters in ticket order; drop requests work
 * the same way so that CPU-bound threads still take turns.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tide.h"
#include "tide/hist.h"

#define GLOCK_MIN_INTERVAL 1000ull
#define GLOCK_MAX_THREADS 4096u

struct glock_slot {
	int32_t tid;
	uint64_t acquisitions;
	uint64_t held_ns;
	uint64_t wait_ns;
};

struct tide_glock {
	pthread_mutex_t mu;
	pthread_cond_t cond; /* lock released (GIL: signal one) */
	pthread_mutex_t switch_mu;
	pthread_cond_t switch_cond;   /* last_holder changed */
	atomic_uint drop_request;     /* the eval breaker */
	atomic_uintptr_t holder;      /* identity of the holder, 0 = none */
	atomic_uintptr_t last_holder; /* written under switch_mu (GIL mode) */
	_Atomic uint64_t interval_ns;
	uint32_t mode;
	uint32_t flags;
	uint64_t id; /* for the per-thread slot cache */

	/* under mu */
	int locked;
	uint64_t switch_number;
	uint64_t next_ticket, serving; /* FIFO mode */
	uint64_t held_since;
	uint32_t holder_slot;
	uint32_t nslots, max_threads;
	uint32_t waiters;
	uint64_t created_ns;
	uint64_t acquisitions, releases, handoffs, drop_requests;
	uint64_t check_drops, blocking, held_ns, forced_drops;
	struct tide_hist wait_h, hold_h;
	struct glock_slot *slots; /* max_threads + 1 (overflow) */
};

static atomic_uint_fast64_t glock_ids = 1;
static _Thread_local uint64_t tls_gid;
static _Thread_local uint32_t tls_slot;
static _Thread_local char tls_me; /* its address names the thread */

static uintptr_t self_id(void)
{
	return (uintptr_t)&tls_me;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int valid_options(const struct tide_glock_options *o)
{
	unsigned i;

	if (o->mode > TIDE_GLOCK_FIFO ||
	    (o->flags & ~TIDE_GLOCK_NO_FORCE_SWITCH))
		return 0;
	if (o->interval_ns && o->interval_ns < GLOCK_MIN_INTERVAL)
		return 0;
	if (o->max_threads > GLOCK_MAX_THREADS || o->reserved32)
		return 0;
	for (i = 0; i < sizeof(o->reserved) / sizeof(o->reserved[0]); i++)
		if (o->reserved[i])
			return 0;
	return 1;
}

static int init_sync(struct tide_glock *g)
{
	pthread_condattr_t ca;
	int err;

	err = pthread_condattr_init(&ca);
	if (err)
		return -err;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	err = pthread_mutex_init(&g->mu, NULL);
	if (err)
		goto out_attr;
	err = pthread_cond_init(&g->cond, &ca);
	if (err)
		goto err_mu;
	err = pthread_mutex_init(&g->switch_mu, NULL);
	if (err)
		goto err_cond;
	err = pthread_cond_init(&g->switch_cond, &ca);
	if (err)
		goto err_switch_mu;
	pthread_condattr_destroy(&ca);
	return 0;

err_switch_mu:
	pthread_mutex_destroy(&g->switch_mu);
err_cond:
	pthread_cond_destroy(&g->cond);
err_mu:
	pthread_mutex_destroy(&g->mu);
out_attr:
	pthread_condattr_destroy(&ca);
	return -err;
}

TIDE_API int tide_glock_new(struct tide_glock **out,
			    const struct tide_glock_options *opts)
{
	struct tide_glock_options o = { 0 };
	struct tide_glock *g;
	int err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (opts)
		o = *opts;
	if (!valid_options(&o))
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->max_threads = o.max_threads ? o.max_threads : 64;
	g->slots = calloc(g->max_threads + 1u, sizeof(*g->slots));
	if (!g->slots) {
		err = -ENOMEM;
		goto err_free;
	}
	err = init_sync(g);
	if (err)
		goto err_slots;
	g->mode = o.mode;
	g->flags = o.flags;
	atomic_init(&g->interval_ns, o.interval_ns ?
					     o.interval_ns :
					     TIDE_GLOCK_DEFAULT_INTERVAL_NS);
	g->id = atomic_fetch_add(&glock_ids, 1);
	g->created_ns = now_ns();
	*out = g;
	return 0;

err_slots:
	free(g->slots);
err_free:
	free(g);
	return err;
}

TIDE_API void tide_glock_free(struct tide_glock *g)
{
	if (!g)
		return;
	pthread_cond_destroy(&g->switch_cond);
	pthread_mutex_destroy(&g->switch_mu);
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->mu);
	free(g->slots);
	free(g);
}

/* The calling thread's statistics slot; the first call registers it. */
static uint32_t self_slot(struct tide_glock *g)
{
	int32_t tid;
	uint32_t i;

	if (tls_gid == g->id)
		return tls_slot;
	tid = (int32_t)gettid();
	pthread_mutex_lock(&g->mu);
	for (i = 0; i < g->nslots; i++)
		if (g->slots[i].tid == tid)
			break;
	if (i == g->nslots) {
		if (g->nslots < g->max_threads) {
			g->slots[i].tid = tid;
			g->nslots++;
		} else {
			i = g->max_threads;
			g->slots[i].tid = -1;
		}
	}
	pthread_mutex_unlock(&g->mu);
	tls_gid = g->id;
	tls_slot = i;
	return i;
}

static void deadline_after(struct timespec *ts, uint64_t ns)
{
	uint64_t t = now_ns() + ns;

	ts->tv_sec = (time_t)(t / 1000000000ull);
	ts->tv_nsec = (long)(t % 1000000000ull);
}

/*
 * One timed wait of a full interval on cond (mu held).  When it times out
 * and the lock is still with the same holder, ask the holder to drop it.
 */
static void wait_interval(struct tide_glock *g)
{
	uint64_t saved = g->switch_number;
	struct timespec ts;
	int rc;

	deadline_after(&ts, atomic_load_explicit(&g->interval_ns,
						 memory_order_relaxed));
	rc = pthread_cond_timedwait(&g->cond, &g->mu, &ts);
	if (rc == ETIMEDOUT && g->locked && g->switch_number == saved &&
	    !atomic_load_explicit(&g->drop_request, memory_order_relaxed)) {
		atomic_store_explicit(&g->drop_request, 1,
				      memory_order_relaxed);
		g->drop_requests++;
	}
}

static int force_switching(const struct tide_glock *g)
{
	return g->mode == TIDE_GLOCK_GIL &&
	       !(g->flags & TIDE_GLOCK_NO_FORCE_SWITCH);
}

static void take(struct tide_glock *g, uintptr_t me, uint32_t slot)
{
	uint64_t t0 = now_ns(), t1, ticket;

	pthread_mutex_lock(&g->mu);
	if (g->mode == TIDE_GLOCK_FIFO) {
		ticket = g->next_ticket++;
		g->waiters++;
		while (g->serving != ticket)
			wait_interval(g);
		g->waiters--;
	} else if (g->locked) {
		g->waiters++;
		while (g->locked)
			wait_interval(g);
		g->waiters--;
	}
	if (force_switching(g))
		pthread_mutex_lock(&g->switch_mu);
	g->locked = 1;
	atomic_store_explicit(&g->holder, me, memory_order_relaxed);
	if (atomic_load_explicit(&g->last_holder, memory_order_relaxed) != me) {
		if (atomic_load_explicit(&g->last_holder, memory_order_relaxed))
			g->handoffs++;
		atomic_store_explicit(&g->last_holder, me,
				      memory_order_relaxed);
		g->switch_number++;
	}
	if (force_switching(g)) {
		pthread_cond_signal(&g->switch_cond);
		pthread_mutex_unlock(&g->switch_mu);
	}
	atomic_store_explicit(&g->drop_request, 0, memory_order_relaxed);
	t1 = now_ns();
	g->acquisitions++;
	tide_hist_record(&g->wait_h, t1 - t0);
	g->slots[slot].acquisitions++;
	g->slots[slot].wait_ns += t1 - t0;
	g->held_since = t1;
	g->holder_slot = slot;
	pthread_mutex_unlock(&g->mu);
}

static void drop(struct tide_glock *g, uintptr_t me)
{
	uint64_t hold;
	int forced;

	pthread_mutex_lock(&g->mu);
	hold = now_ns() - g->held_since;
	tide_hist_record(&g->hold_h, hold);
	g->slots[g->holder_slot].held_ns += hold;
	g->held_ns += hold;
	g->releases++;
	/* a release while a drop is requested is a forced switch, whether or
	 * not the waiter has taken over by the time we look again below */
	forced = force_switching(g) &&
		 atomic_load_explicit(&g->drop_request, memory_order_relaxed);
	if (forced)
		g->forced_drops++;
	g->locked = 0;
	atomic_store_explicit(&g->holder, 0, memory_order_relaxed);
	if (g->mode == TIDE_GLOCK_FIFO) {
		g->serving++;
		pthread_cond_broadcast(&g->cond);
	} else {
		pthread_cond_signal(&g->cond);
	}
	pthread_mutex_unlock(&g->mu);

	if (!forced)
		return;
	pthread_mutex_lock(&g->switch_mu);
	if (atomic_load_explicit(&g->last_holder, memory_order_relaxed) == me) {
		atomic_store_explicit(&g->drop_request, 0,
				      memory_order_relaxed);
		/* A request means a waiter exists, so somebody takes over. */
		while (atomic_load_explicit(&g->last_holder,
					    memory_order_relaxed) == me)
			pthread_cond_wait(&g->switch_cond, &g->switch_mu);
	}
	pthread_mutex_unlock(&g->switch_mu);
}

TIDE_API int tide_glock_acquire(struct tide_glock *g)
{
	uintptr_t me = self_id();

	if (!g)
		return -EINVAL;
	if (atomic_load_explicit(&g->holder, memory_order_relaxed) == me)
		return -EDEADLK;
	take(g, me, self_slot(g));
	return 0;
}

TIDE_API int tide_glock_release(struct tide_glock *g)
{
	uintptr_t me = self_id();

	if (!g)
		return -EINVAL;
	if (atomic_load_explicit(&g->holder, memory_order_relaxed) != me)
		return -EPERM;
	drop(g, me);
	return 0;
}

TIDE_API int tide_glock_check(struct tide_glock *g)
{
	uintptr_t me;

	if (__builtin_expect(!g, 0))
		return -EINVAL;
	if (__builtin_expect(!atomic_load_explicit(&g->drop_request,
						   memory_order_relaxed),
			     1))
		return 0;
	me = self_id();
	if (atomic_load_explicit(&g->holder, memory_order_relaxed) != me)
		return -EPERM;
	pthread_mutex_lock(&g->mu);
	g->check_drops++;
	pthread_mutex_unlock(&g->mu);
	drop(g, me);
	take(g, me, self_slot(g));
	return 1;
}

TIDE_API int tide_glock_blocking_begin(struct tide_glock *g)
{
	int err = tide_glock_release(g);

	if (!err) {
		pthread_mutex_lock(&g->mu);
		g->blocking++;
		pthread_mutex_unlock(&g->mu);
	}
	return err;
}

TIDE_API int tide_glock_blocking_end(struct tide_glock *g)
{
	return tide_glock_acquire(g);
}

TIDE_API int tide_glock_set_interval(struct tide_glock *g, uint64_t interval_ns)
{
	if (!g || interval_ns < GLOCK_MIN_INTERVAL)
		return -EINVAL;
	atomic_store(&g->interval_ns, interval_ns);
	return 0;
}

TIDE_API uint64_t tide_glock_interval(const struct tide_glock *g)
{
	return g ? atomic_load(&((struct tide_glock *)g)->interval_ns) : 0;
}

static void fill_dist(struct tide_glock_dist *d, const struct tide_hist *h)
{
	d->count = h->count;
	tide_hist_percentile(h, 50, &d->p50);
	tide_hist_percentile(h, 90, &d->p90);
	tide_hist_percentile(h, 99, &d->p99);
	d->max = h->max;
	d->mean = h->count ? h->sum / h->count : 0;
}

/* Jain's index (sum x)^2 / (n sum x^2) over the slots that took the lock. */
static double jain(const struct glock_slot *s, uint32_t n)
{
	double sum = 0, sq = 0;
	uint32_t i, k = 0;

	for (i = 0; i < n; i++) {
		double x = (double)s[i].held_ns;

		if (!s[i].acquisitions)
			continue;
		sum += x;
		sq += x * x;
		k++;
	}
	if (!k || sq == 0)
		return k ? 1.0 : 0.0;
	return sum * sum / ((double)k * sq);
}

static uint32_t slots_used(const struct tide_glock *g)
{
	return g->nslots + (g->slots[g->max_threads].tid == -1 ? 1u : 0u);
}

TIDE_API void tide_glock_stats(struct tide_glock *g,
			       struct tide_glock_stats *st)
{
	uint32_t used;

	if (!g || !st)
		return;
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&g->mu);
	st->acquisitions = g->acquisitions;
	st->releases = g->releases;
	st->handoffs = g->handoffs;
	st->drop_requests = g->drop_requests;
	st->forced_drops = g->forced_drops;
	st->check_drops = g->check_drops;
	st->blocking = g->blocking;
	st->wall_ns = now_ns() - g->created_ns;
	st->held_ns = g->held_ns;
	fill_dist(&st->wait_ns, &g->wait_h);
	fill_dist(&st->hold_ns, &g->hold_h);
	used = slots_used(g);
	st->threads = used;
	st->waiters = g->waiters;
	/* registered threads only: the overflow slot mixes many threads */
	st->jain_index = jain(g->slots, g->nslots);
	pthread_mutex_unlock(&g->mu);
	if (st->wall_ns) {
		st->held_fraction = (double)st->held_ns / (double)st->wall_ns;
		st->handoffs_per_s =
			(double)st->handoffs * 1e9 / (double)st->wall_ns;
	}
}

TIDE_API int tide_glock_thread_stats(struct tide_glock *g,
				     struct tide_glock_thread_stats *out,
				     size_t n)
{
	uint64_t total = 0;
	uint32_t used, i, k;

	if (!g || (n && !out))
		return -EINVAL;
	pthread_mutex_lock(&g->mu);
	used = slots_used(g);
	for (i = 0; i <= g->max_threads; i++)
		total += g->slots[i].held_ns;
	for (k = 0; k < used && k < n; k++) {
		i = k < g->nslots ? k : g->max_threads;
		memset(&out[k], 0, sizeof(out[k]));
		out[k].tid = g->slots[i].tid;
		out[k].slot = i;
		out[k].acquisitions = g->slots[i].acquisitions;
		out[k].held_ns = g->slots[i].held_ns;
		out[k].wait_ns = g->slots[i].wait_ns;
		out[k].share =
			total ? (double)g->slots[i].held_ns / (double)total : 0;
	}
	pthread_mutex_unlock(&g->mu);
	return (int)used;
}
