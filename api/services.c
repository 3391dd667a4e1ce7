// SPDX-License-Identifier: MIT
/*
 * services.c - readiness (one-shot and multishot poll), signals through a
 * signalfd polled on the loop, and openat2 with resolve restrictions (the
 * engine runs it: io_uring's openat2, else a pool job, see
 * engine/core/resolve.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "future_impl.h"

/* ---- readiness ---- */

struct tide_future *tide_poll(struct tide_loop *loop, int fd, unsigned events)
{
	struct tide_future *f;

	if (!loop)
		return NULL;
	if (fd < 0)
		return tide_future_fail(loop, -EBADF);
	f = tide__op_new(loop, NULL);
	return f ? tide__op_started(f, tide__op_poll(loop, &f->op, fd, events,
						     false)) :
		   NULL;
}

struct poll_multi {
	tide_poll_fn *fn;
	void *arg;
};

static void poll_multi_done(struct tide_loop *loop, struct tide__op *op,
			    int32_t res, uint32_t cflags)
{
	struct tide_future *f = (struct tide_future *)op;
	struct poll_multi *m = f->ext;
	bool more = cflags & TIDE__CQ_MORE;

	if (res >= 0) {
		tide__user_enter(loop);
		m->fn(m->arg, (unsigned)res);
		tide__user_leave(loop);
	}
	if (!more) {
		tide__slab_free(loop, m);
		f->ext = NULL;
		tide__future_resolve(f, res >= 0 ? -EAGAIN : res, NULL);
	}
}

struct tide_future *tide_poll_multishot(struct tide_loop *loop, int fd,
					unsigned events, tide_poll_fn *fn,
					void *arg)
{
	struct tide_future *f;
	struct poll_multi *m;
	int ret;

	if (!loop)
		return NULL;
	if (!fn)
		return tide_future_fail(loop, -EINVAL);
	if (fd < 0)
		return tide_future_fail(loop, -EBADF);
	f = tide__op_new(loop, poll_multi_done);
	if (!f)
		return NULL;
	m = tide__slab_alloc(loop);
	if (!m) {
		tide__future_free(f);
		return NULL;
	}
	m->fn = fn;
	m->arg = arg;
	f->ext = m;
	ret = tide__op_poll(loop, &f->op, fd, events, true);
	if (ret) {
		tide__slab_free(loop, m);
		f->ext = NULL;
	}
	return tide__op_started(f, ret);
}

/* ---- signals ---- */

struct tide_signal {
	struct tide_loop *loop;
	int fd;
	struct tide_future *wait; /* the poll in flight */
	struct tide_future *next; /* the caller's promise */
	bool freeing;
};

static void signal_wait(struct tide_signal *sig);

static void signal_ready(void *arg, int64_t res, void *payload)
{
	struct tide_signal *sig = arg;
	struct tide_future *p = sig->next;
	struct signalfd_siginfo si;
	ssize_t n;

	(void)payload;
	sig->wait = NULL;
	if (sig->freeing) {
		close(sig->fd);
		free(sig);
		return;
	}
	if (tide__cancel_unasked(sig->loop, res,
				 p->op.fflags & TIDE__FF_CANCEL)) {
		signal_wait(sig); /* cancelled before it ran: poll again */
		return;
	}
	if (res < 0) {
		sig->next = NULL;
		tide_promise_resolve(p, res, NULL);
		return;
	}
	/* readable: the read cannot block (the descriptor is non-blocking) */
	n = read(sig->fd, &si, sizeof(si));
	if (n == (ssize_t)sizeof(si)) {
		sig->next = NULL;
		tide_promise_resolve(p, (int64_t)si.ssi_signo, NULL);
	} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
		sig->next = NULL;
		tide_promise_resolve(p, -errno, NULL);
	} else {
		signal_wait(sig); /* another reader took it: wait again */
	}
}

static void signal_wait(struct tide_signal *sig)
{
	struct tide_future *f = tide_poll(sig->loop, sig->fd, POLLIN);

	sig->wait = f;
	if (tide_future_on_done(f, signal_ready, sig)) {
		sig->wait = NULL;
		if (sig->next) {
			struct tide_future *p = sig->next;

			sig->next = NULL;
			tide_promise_resolve(p, -ENOMEM, NULL);
		}
	}
}

static void signal_cancel(void *arg)
{
	struct tide_signal *sig = arg;

	if (sig->wait)
		tide_future_cancel(sig->wait);
}

int tide_signal_new(struct tide_loop *loop, const int *signals, size_t n,
		    struct tide_signal **out)
{
	struct tide_signal *sig;
	sigset_t real;
	int fd, ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!loop || !signals || n == 0)
		return -EINVAL;
	sigemptyset(&real);
	for (size_t i = 0; i < n; i++)
		if (signals[i] == SIGKILL || signals[i] == SIGSTOP ||
		    sigaddset(&real, signals[i]))
			return -EINVAL;
	sig = calloc(1, sizeof(*sig));
	if (!sig)
		return -ENOMEM;
	ret = pthread_sigmask(SIG_BLOCK, &real, NULL);
	if (ret) {
		free(sig);
		return -ret;
	}
	fd = signalfd(-1, &real, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		free(sig);
		return ret;
	}
	sig->loop = loop;
	sig->fd = fd;
	*out = sig;
	return 0;
}

struct tide_future *tide_signal_next(struct tide_signal *sig)
{
	struct tide_future *p;

	if (!sig)
		return NULL;
	if (sig->next)
		return tide_future_fail(sig->loop, -EBUSY);
	p = tide_promise_new(sig->loop);
	if (!p)
		return NULL;
	if (tide_promise_on_cancel(p, signal_cancel, sig)) {
		tide_future_release(p);
		return NULL;
	}
	sig->next = p;
	signal_wait(sig);
	return p;
}

void tide_signal_free(struct tide_signal *sig)
{
	struct tide_future *p;

	if (!sig)
		return;
	p = sig->next;
	sig->next = NULL;
	if (p)
		tide_promise_resolve(p, -ECANCELED, NULL);
	if (sig->wait) {
		/* the poll still names the descriptor: close it once the
		 * kernel let go (signal_ready) */
		sig->freeing = true;
		tide_future_cancel(sig->wait);
		return;
	}
	close(sig->fd);
	free(sig);
}

/* ---- openat2 ---- */

struct openat2_args {
	struct open_how how;
	char path[]; /* copied: read when the kernel starts the open */
};

struct tide_future *tide_openat2(struct tide_loop *loop, int dfd,
				 const char *path, int flags, mode_t mode,
				 unsigned resolve)
{
	struct openat2_args *a;
	struct tide_future *f;
	size_t n;

	if (!loop)
		return NULL;
	if (!path)
		return tide_future_fail(loop, -EFAULT);
	if (resolve &
	    ~(unsigned)(TIDE_RESOLVE_BENEATH | TIDE_RESOLVE_NO_SYMLINKS))
		return tide_future_fail(loop, -EINVAL);
	n = strlen(path) + 1;
	f = tide__op_new(loop, NULL);
	a = f ? malloc(sizeof(*a) + n) : NULL;
	if (!a) {
		if (f)
			tide__future_free(f);
		return NULL;
	}
	memset(&a->how, 0, sizeof(a->how));
	a->how.flags = (uint64_t)(unsigned)(flags | O_CLOEXEC);
	if (flags & (O_CREAT | O_TMPFILE))
		a->how.mode = mode;
	if (resolve & TIDE_RESOLVE_BENEATH)
		a->how.resolve |= RESOLVE_BENEATH;
	if (resolve & TIDE_RESOLVE_NO_SYMLINKS)
		a->how.resolve |= RESOLVE_NO_SYMLINKS;
	memcpy(a->path, path, n);
	f->ext = a;
	f->op.fflags |= TIDE__FF_EXT_MALLOC;
	/* io_uring's openat2, or a pool job (the system call, or a walk
	 * where the kernel lacks it): never on the loop thread */
	return tide__op_started(f, tide__op_openat2(loop, &f->op, dfd, a->path,
						    &a->how));
}
