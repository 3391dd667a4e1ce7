/* SPDX-License-Identifier: MIT */
/*
 * blocking.h - a pool of worker threads for system calls that block
 * (file IO and metadata), backend neutral: the epoll backend sends every
 * file operation here, and the io_uring backend may send an operation the
 * running kernel lacks.
 *
 * A job is embedded in whatever owns it.  tide__blocking_submit() queues
 * it; a worker runs the system call; the result comes back to the loop
 * thread, where tide__blocking_reap() calls job->done.  Finished jobs are
 * handed back as a batch: a worker writes the loop's eventfd only when the
 * list of finished jobs was empty, so a burst of N completions costs one
 * wake-up, not N.
 *
 * Cancellation: a job still queued is taken off the queue and never runs
 * (tide__blocking_cancel() returns true; the owner completes it with
 * -ECANCELED).  A job a worker has already started is not interrupted: the
 * system call runs to its end and the job completes with the result it
 * had, as io_uring's cancel may find an operation already done.  A call
 * that never returns (open(2) of a FIFO nobody opens for writing) holds the
 * pool, and so the loop's free, until it does.
 *
 * Spilling (tide__blocking_spill()): work the loop could do itself, given
 * to the pool to use the other cores; workers that ran such a job poll
 * for the next before they sleep.
 *
 * Threads: started on demand, up to the pool's size (default 4;
 * TIDE_BLOCKING_THREADS=1..256 in the environment sets it), and joined by
 * tide__blocking_free(), which runs once no job is queued or running.
 */
#ifndef TIDE_CORE_BLOCKING_H
#define TIDE_CORE_BLOCKING_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

enum tide__bop {
	TIDE__B_NOP,
	TIDE__B_READ, /* fd, buf, len, off ((uint64_t)-1: read(2)) */
	TIDE__B_WRITE,
	TIDE__B_READV, /* fd, iov, len = iovcnt, off */
	TIDE__B_WRITEV,
	TIDE__B_FSYNC,		 /* fd, flags & 1: fdatasync */
	TIDE__B_FALLOCATE,	 /* fd, mode = flags, off, len64 */
	TIDE__B_SYNC_FILE_RANGE, /* fd, off, len, flags */
	TIDE__B_STATX,	  /* fd = dfd, path, flags, mode = mask, buf = statx */
	TIDE__B_OPENAT,	  /* fd = dfd, path, flags, mode */
	TIDE__B_CLOSE,	  /* fd */
	TIDE__B_UNLINKAT, /* fd = dfd, path, flags */
	TIDE__B_MKDIRAT,  /* fd = dfd, path, mode */
	TIDE__B_RENAMEAT, /* fd, path, fd2, path2, flags */
	TIDE__B_SPLICE,	  /* fd, off, fd2, off2, len, flags */
	TIDE__B_OPENAT2,  /* fd = dfd, path, buf = struct open_how */
};

enum {
	TIDE__BJ_IDLE,
	TIDE__BJ_QUEUED,
	TIDE__BJ_RUNNING,
	TIDE__BJ_DONE,
};

struct tide__bjob {
	struct tide__bjob *next, *prev; /* queue links (pool-owned) */
	/* on the loop thread, once, after the job ran (not if cancelled) */
	void (*done)(struct tide__bjob *job);
	int32_t res;   /* the call's result or -errno */
	uint8_t op;    /* enum tide__bop */
	uint8_t state; /* TIDE__BJ_*, written under the pool's lock */
	/* work the loop could have done itself (a page-cache read handed
	 * over to use another core, made with RWF_NOWAIT: -EAGAIN rather
	 * than block): it starts and wakes no worker while one is awake,
	 * and waits for it (tide__blocking_spill()) */
	uint8_t spill;
	int fd, fd2;
	int flags;
	unsigned mode;
	unsigned len;
	uint64_t off, off2, len64;
	void *buf;
	const char *path, *path2;
};

struct tide__blocking;

/* A pool whose workers write wake_fd (an eventfd) when a batch is done.
 * threads == 0: the default (TIDE_BLOCKING_THREADS, else 4).  No thread
 * starts before the first job.  0 or -errno. */
int tide__blocking_new(struct tide__blocking **out, unsigned threads,
		       int wake_fd);
/* Queue job (filled in, state IDLE).  0 or -errno (a worker thread could
 * not be started and none runs: nothing was queued). */
int tide__blocking_submit(struct tide__blocking *p, struct tide__bjob *job);
/* Take job off the queue if no worker has started it: true then (done
 * will never run), false when it is running or finished. */
bool tide__blocking_cancel(struct tide__blocking *p, struct tide__bjob *job);
/* Loop thread: call done for every finished job.  Returns how many. */
unsigned tide__blocking_reap(struct tide__blocking *p);
/* Jobs queued or running or finished but not reaped. */
uint64_t tide__blocking_busy(const struct tide__blocking *p);
unsigned tide__blocking_threads(const struct tide__blocking *p);
/*
 * Spilling: on a machine with cpus > 1, a loop may hand the pool work it
 * could do itself (a page-cache read: job->spill set) to use the other
 * cores.  Up to cpus - 1 workers (at most the pool's size) that ran a
 * spilled job poll the queue for the next one for a while before they
 * sleep, and a spilled job wakes no worker while one is awake.  cpus <= 1
 * (the default): nothing spills.
 */
void tide__blocking_spill(struct tide__blocking *p, unsigned cpus);
/* Should the loop, with others operations in flight besides this one,
 * spill this one?  Only while no job of the pool's is a real blocking one
 * (spilled jobs would wait behind it), and never every operation. */
bool tide__blocking_may_spill(const struct tide__blocking *p, uint64_t others);
/* Stop and join the workers; the pool must be idle (busy() == 0). */
void tide__blocking_free(struct tide__blocking *p);
/* Run job's system call on this thread (what a worker does); returns the
 * result or -errno. */
int32_t tide__blocking_run(struct tide__bjob *job);

/* resolve.c: openat2(2) on this thread, the system call where the kernel
 * has it, else a walk keeping to how->resolve (RESOLVE_BENEATH and
 * RESOLVE_NO_SYMLINKS only; stricter than the kernel).  fd or -errno. */
struct open_how;
int tide__openat2_run(int dfd, const char *path, struct open_how *how);
/* The walk alone (tests; kernels without openat2). */
int tide__openat2_walk(int dfd, const char *path, const struct open_how *how);

#endif /* TIDE_CORE_BLOCKING_H */
