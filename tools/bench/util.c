// SPDX-License-Identifier: MIT
/*
 * util.c - small helpers every tide-bench engine shares: clock,
 * resource usage, offsets, stop condition, progress line, buffers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t tv_ns(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * 1000000000ull +
	       (uint64_t)tv->tv_usec * 1000ull;
}

/* Usage of the whole process: the pool engine's workers count too. */
void usage_begin(struct result *r)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	r->cpu_ns = tv_ns(&ru.ru_utime) + tv_ns(&ru.ru_stime);
	r->vcsw = (uint64_t)ru.ru_nvcsw;
	r->ivcsw = (uint64_t)ru.ru_nivcsw;
}

void usage_end(struct result *r)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	r->cpu_ns = tv_ns(&ru.ru_utime) + tv_ns(&ru.ru_stime) - r->cpu_ns;
	r->vcsw = (uint64_t)ru.ru_nvcsw - r->vcsw;
	r->ivcsw = (uint64_t)ru.ru_nivcsw - r->ivcsw;
}

void offs_init(struct offs *o, const struct job *j)
{
	o->next = 0;
	o->bs = j->bs ? j->bs : 1;
	o->blocks = j->size / o->bs;
	if (!o->blocks)
		o->blocks = 1;
	o->state = j->seed ? j->seed : 0x9e3779b97f4a7c15ull;
	o->rand = j->rand;
}

uint64_t offs_next(struct offs *o)
{
	uint64_t b;

	if (o->rand) {
		/* xorshift64*: cheap, and uniform enough for block picks */
		o->state ^= o->state >> 12;
		o->state ^= o->state << 25;
		o->state ^= o->state >> 27;
		b = (o->state * 0x2545f4914f6cdd1dull) % o->blocks;
	} else {
		b = o->next++;
		if (o->next == o->blocks)
			o->next = 0;
	}
	return b * o->bs;
}

void progress(const struct job *j, const char *engine, uint64_t ops,
	      uint64_t t0, uint64_t now, uint64_t *last)
{
	double s;

	if (!j->progress || now - *last < 250000000ull)
		return;
	*last = now;
	s = (double)(now - t0) / 1e9;
	fprintf(stderr, "\r%-10s %6.1f s  %12llu ops  %12.0f ops/s ", engine, s,
		(unsigned long long)ops, s > 0 ? (double)ops / s : 0.0);
	fflush(stderr);
}

void progress_clear(const struct job *j)
{
	if (j->progress)
		fprintf(stderr, "\r%60s\r", "");
}

void *buf_alloc(size_t n)
{
	long pg = sysconf(_SC_PAGESIZE);
	void *p;

	if (pg <= 0)
		pg = 4096;
	if (!n)
		n = 1;
	if (posix_memalign(&p, (size_t)pg, n))
		return NULL;
	/* a pattern, not zeroes: writes must carry real data */
	for (size_t i = 0; i < n; i++)
		((unsigned char *)p)[i] = (unsigned char)(i * 131 + 7);
	return p;
}
