// SPDX-License-Identifier: MIT
/*
 * task_stack.c - task stacks: mapped in batches, a guard below each stack,
 * committed lazily (only touched pages count), pooled per loop; and the
 * stack-overflow reporter (a SIGSEGV handler on an alternate stack).
 *
 * Guards: MADV_GUARD_INSTALL (Linux 6.13) makes guard pages without
 * splitting the mapping, so a batch of 64 stacks stays one mapping and
 * 100 000 tasks fit under vm.max_map_count (65530).  Older kernels get
 * mprotect(PROT_NONE) guards, two mappings per stack.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "task_impl.h"

/* valgrind is told where each stack lies (engine/compat.h decides) */
#if TIDE_CONFIG_VALGRIND
#include <valgrind/valgrind.h>
#define TASK_VALGRIND 1
#else
#define TASK_VALGRIND 0
#endif

#if TIDE__ASAN
#include <sanitizer/asan_interface.h>
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

/* Guard below each stack: 16 KiB, so a frame of a few KiB that skips
 * past the stack's end still lands in it. */
#define GUARD (16u * 1024u)
/* Address space per batch; at least one slot. */
#define BATCH_BYTES (8u * 1024u * 1024u)
/* Free slots per size class that keep their pages (a few pages each:
 * ~8 MiB at most); more give them back, one madvise() each. */
#define HOT_MAX 1024u

_Thread_local struct tide_task *tide__task_cur TIDE__TLS_IE;

static size_t page_size(void)
{
	static size_t ps;

	if (!ps)
		ps = (size_t)sysconf(_SC_PAGESIZE);
	return ps;
}

struct task_loop *tide__stack_pool_new(struct tide_loop *loop)
{
	struct task_loop *tl = tide__calloc(loop, 1, sizeof(*tl));

	if (tl)
		tl->loop = loop;
	return tl;
}

static void slot_vg_register(struct tide_task *t)
{
#if TASK_VALGRIND
	t->vg_id = VALGRIND_STACK_REGISTER(t->lo, (char *)t);
#else
	(void)t;
#endif
}

static void slot_vg_deregister(struct tide_task *t)
{
#if TASK_VALGRIND
	VALGRIND_STACK_DEREGISTER(t->vg_id);
#else
	(void)t;
#endif
}

/*
 * Slots are page multiples, so records (and the hot top of each stack) at
 * the same place in every slot would all fall into the same cache sets:
 * a hundred tasks taking turns then miss the cache on every switch.  Each
 * slot's top is moved down by a different multiple of 64 bytes (its
 * "colour"), up to COLOURS * 64 bytes.
 */
#define COLOURS 64u

/* The task record at the top of slot i of b. */
static struct tide_task *slot_task(struct task_batch *b, uint32_t i)
{
	char *end = (char *)b->base + (size_t)(i + 1) * b->slot;
	uintptr_t rec = ((uintptr_t)end - sizeof(struct tide_task)) &
			~(uintptr_t)63;

	return (struct tide_task *)(rec - (uintptr_t)(i * 7 % COLOURS) * 64);
}

static struct task_pool_class *pool_class(struct task_loop *tl, size_t size)
{
	struct task_pool_class *c;

	for (uint32_t i = 0; i < tl->ncls; i++)
		if (tl->cls[i].size == size)
			return &tl->cls[i];
	if (tl->ncls == tl->cls_cap) {
		uint32_t cap = tl->cls_cap ? tl->cls_cap * 2 : 4;

		c = tide__realloc(tl->loop, tl->cls, cap * sizeof(*c));
		if (!c)
			return NULL;
		tl->cls = c;
		tl->cls_cap = cap;
	}
	c = &tl->cls[tl->ncls++];
	*c = (struct task_pool_class){ .size = size };
	return c;
}

/* Map a batch of slots for stacks of size bytes and put them in c->cold. */
static int batch_new(struct task_loop *tl, struct task_pool_class *c,
		     size_t size)
{
	/* the record shares the stack's top page(s) */
	size_t rec = (sizeof(struct tide_task) + 63) & ~(size_t)63;
	size_t ps = page_size();
	size_t slot =
		GUARD + ((size + rec + COLOURS * 64 + ps - 1) & ~(ps - 1));
	uint32_t n = slot >= BATCH_BYTES ? 1 : (uint32_t)(BATCH_BYTES / slot);
	struct task_batch *b = tide__malloc(tl->loop, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->slot = slot;
	b->nslots = n;
	b->len = slot * n;
	b->split_guards = false;
	b->base = mmap(NULL, b->len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
		       -1, 0);
	if (b->base == MAP_FAILED) {
		free(b);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		char *g = (char *)b->base + (size_t)i * slot;

		if (!b->split_guards &&
		    madvise(g, GUARD, MADV_GUARD_INSTALL) == 0)
			continue;
		/* no lightweight guards on this kernel: mprotect them all */
		b->split_guards = true;
		if (mprotect(g, GUARD, PROT_NONE) != 0) {
			munmap(b->base, b->len);
			free(b);
			return -ENOMEM;
		}
	}
	for (uint32_t i = n; i-- > 0;) {
		struct tide_task *t = slot_task(b, i);

		/* pages are untouched until a task runs: cold */
		t->batch = b;
		t->lo = (char *)b->base + (size_t)i * slot + GUARD;
		t->size = size;
		slot_vg_register(t);
		t->next = c->cold;
		c->cold = t;
	}
	b->next = tl->batches;
	tl->batches = b;
	return 0;
}

struct tide_task *tide__stack_get(struct task_loop *tl, size_t size)
{
	struct task_pool_class *c = pool_class(tl, size);
	struct tide_task *t, keep;

	if (!c)
		return NULL;
	if (c->hot) {
		t = c->hot;
		c->hot = t->next;
		c->hot_n--;
	} else {
		if (!c->cold && batch_new(tl, c, size))
			return NULL;
		t = c->cold;
		c->cold = t->next;
	}
	keep = *t;
#if TIDE__ASAN
	/* frames of the slot's previous task may still be poisoned */
	__asan_unpoison_memory_region(t->lo, (size_t)((char *)t - t->lo));
#endif
	memset(t, 0, sizeof(*t));
	t->batch = keep.batch;
	t->lo = keep.lo;
	t->size = keep.size;
	t->vg_id = keep.vg_id;
	return t;
}

void tide__stack_put(struct task_loop *tl, struct tide_task *t)
{
	struct task_pool_class *c = pool_class(tl, t->size);

	/* the class exists: t came from it */
	if (c->hot_n < HOT_MAX) {
		t->next = c->hot;
		c->hot = t;
		c->hot_n++;
		return;
	}
	/* give the pages back but keep the reservation; the record at the
	 * top is rewritten by the next tide__stack_get() (guards survive
	 * MADV_DONTNEED) */
	{
		struct tide_task keep = *t;
		size_t ps = page_size();
		uintptr_t end = (uintptr_t)t & ~(uintptr_t)(ps - 1);

		if (end > (uintptr_t)t->lo)
			madvise(t->lo, end - (uintptr_t)t->lo, MADV_DONTNEED);
		*t = keep;
	}
	t->next = c->cold;
	c->cold = t;
}

void tide__stack_pool_free(struct task_loop *tl)
{
	struct task_batch *b, *n;

	for (b = tl->batches; b; b = n) {
		n = b->next;
		for (uint32_t i = 0; i < b->nslots; i++)
			slot_vg_deregister(slot_task(b, i));
		munmap(b->base, b->len);
		free(b);
	}
	free(tl->cls);
	free(tl);
}

/* ---- overflow reporter ---- */

static struct sigaction prev_segv;
static pthread_once_t segv_once = PTHREAD_ONCE_INIT;
static pthread_key_t altstack_key;
static _Thread_local bool altstack_done;

#define ALTSTACK_SIZE (64u * 1024u)

static void put_str(char *buf, size_t *n, size_t cap, const char *s)
{
	while (*s && *n < cap)
		buf[(*n)++] = *s++;
}

static void put_num(char *buf, size_t *n, size_t cap, uint64_t v)
{
	char d[24];
	int k = 0;

	do
		d[k++] = (char)('0' + v % 10);
	while ((v /= 10) && k < 24);
	while (k && *n < cap)
		buf[(*n)++] = d[--k];
}

static void segv_handler(int sig, siginfo_t *si, void *uc)
{
	struct tide_task *t = tide__task_cur;
	char *a = si ? (char *)si->si_addr : NULL;

	if (t && a && a >= t->lo - GUARD && a < t->lo) {
		char msg[160];
		size_t n = 0;
		ssize_t w;

		put_str(msg, &n, sizeof(msg), "tide: task ");
		if (t->name[0]) {
			put_str(msg, &n, sizeof(msg), t->name);
		} else {
			put_str(msg, &n, sizeof(msg), "task-");
			put_num(msg, &n, sizeof(msg), t->id);
		}
		put_str(msg, &n, sizeof(msg), " overflowed its ");
		put_num(msg, &n, sizeof(msg), t->size);
		put_str(msg, &n, sizeof(msg), "-byte stack\n");
		w = write(2, msg, n);
		(void)w;
		signal(SIGABRT, SIG_DFL);
		abort();
	}
	/* not ours: hand it on */
	if (prev_segv.sa_flags & SA_SIGINFO) {
		prev_segv.sa_sigaction(sig, si, uc);
		return;
	}
	if (prev_segv.sa_handler == SIG_DFL ||
	    prev_segv.sa_handler == SIG_IGN) {
		/* returning re-executes the fault with the default action */
		signal(sig, SIG_DFL);
		return;
	}
	prev_segv.sa_handler(sig);
}

static void altstack_release(void *p)
{
	stack_t ss = { .ss_flags = SS_DISABLE };

	sigaltstack(&ss, NULL);
	munmap(p, ALTSTACK_SIZE);
}

static void key_create(void)
{
	if (pthread_key_create(&altstack_key, altstack_release) != 0)
		altstack_key = (pthread_key_t)-1;
}

/* Install the handler unless it is in place; the one found is chained.
 * Checked at each loop's first task, so a program (or a test harness)
 * that replaced the handler since gets it back, still chained. */
static void segv_install(void)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct sigaction sa, cur;

	pthread_mutex_lock(&lock);
	if (sigaction(SIGSEGV, NULL, &cur) == 0 &&
	    (!(cur.sa_flags & SA_SIGINFO) ||
	     cur.sa_sigaction != segv_handler)) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = segv_handler;
		sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSEGV, &sa, &cur) == 0)
			prev_segv = cur;
	}
	pthread_mutex_unlock(&lock);
}

void tide__stack_overflow_init(void)
{
	stack_t old, ss;
	void *p;

	pthread_once(&segv_once, key_create);
	segv_install();
	if (altstack_done)
		return;
	altstack_done = true;
	/* a thread that has one already (ASan gives each its own) keeps it */
	if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE))
		return;
	p = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return; /* no report on overflow, still a crash */
	ss = (stack_t){ .ss_sp = p, .ss_size = ALTSTACK_SIZE };
	if (sigaltstack(&ss, NULL) != 0) {
		munmap(p, ALTSTACK_SIZE);
		return;
	}
	if (altstack_key != (pthread_key_t)-1)
		pthread_setspecific(altstack_key, p);
}
