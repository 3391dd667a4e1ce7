// SPDX-License-Identifier: MIT
/*
 * test_backend.c - the backend-neutral pieces under the epoll backend: the
 * timer heap (engine/core/timer.c) and the blocking-call pool
 * (engine/core/blocking.c): ordering, removal, batching of wake-ups,
 * cancellation of queued and running jobs, every system call it carries.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

#include "core.h"
#include "core/blocking.h"
#include "core/timer.h"
#include "epoll/epoll.h"
#include "ops.h"
#include "uring/uring.h"

/* ---- timer heap ---- */

static void test_timer_heap_order(void **state)
{
	struct tide__timer_heap h = { 0 };
	struct tide__timer t[200], *p;
	uint64_t last = 0, seed = 12345;
	unsigned n = 0;

	(void)state;
	for (unsigned i = 0; i < 200; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		tide__timer_init(&t[i]);
		assert_int_equal(tide__timer_add(&h, &t[i], seed >> 40), 0);
		assert_true(tide__timer_armed(&t[i]));
	}
	/* remove every third, from anywhere in the heap */
	for (unsigned i = 0; i < 200; i += 3) {
		tide__timer_del(&h, &t[i]);
		assert_false(tide__timer_armed(&t[i]));
		tide__timer_del(&h, &t[i]); /* idle: no-op */
	}
	assert_int_equal(h.n, 200 - 67);
	while ((p = tide__timer_pop_due(&h, UINT64_MAX))) {
		assert_true(p->when >= last);
		assert_false(tide__timer_armed(p));
		assert_true((p - t) % 3 != 0);
		last = p->when;
		n++;
	}
	assert_int_equal(n, 200 - 67);
	assert_null(tide__timer_first(&h));
	tide__timer_heap_free(&h);
}

static void test_timer_heap_not_due(void **state)
{
	struct tide__timer_heap h = { 0 };
	struct tide__timer a, b;

	(void)state;
	tide__timer_init(&a);
	tide__timer_init(&b);
	assert_int_equal(tide__timer_add(&h, &a, 100), 0);
	assert_int_equal(tide__timer_add(&h, &b, 50), 0);
	assert_ptr_equal(tide__timer_first(&h), &b);
	assert_null(tide__timer_pop_due(&h, 49)); /* nothing due yet */
	assert_ptr_equal(tide__timer_pop_due(&h, 50), &b);
	assert_null(tide__timer_pop_due(&h, 99));
	assert_ptr_equal(tide__timer_pop_due(&h, 1000), &a);
	assert_null(tide__timer_pop_due(&h, UINT64_MAX));
	tide__timer_heap_free(&h);
}

/* ---- blocking pool ---- */

struct job {
	struct tide__bjob j;
	int done;
};

static void job_done(struct tide__bjob *j)
{
	((struct job *)(void *)j)->done++;
}

static void job_init(struct job *x, uint8_t op)
{
	memset(x, 0, sizeof(*x));
	x->j.op = op;
	x->j.fd = x->j.fd2 = -1;
	x->j.done = job_done;
}

/* x: read one byte of fd (a pipe) into *got at the file position. */
static void byte_read(struct job *x, int fd, char *got)
{
	job_init(x, TIDE__B_READ);
	x->j.fd = fd;
	x->j.buf = got;
	x->j.len = 1;
	x->j.off = (uint64_t)-1;
}

/* Wait (bounded) until fd is readable. */
static void wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	assert_int_equal(poll(&p, 1, 10000), 1);
}

static uint64_t read_efd(int efd)
{
	uint64_t v = 0;

	if (read(efd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return 0;
	return v;
}

/* Reap until want jobs came back (each wait bounded). */
static unsigned reap_all(struct tide__blocking *p, int efd, unsigned want)
{
	unsigned got = 0;

	while (got < want) {
		got += tide__blocking_reap(p);
		if (got < want) {
			wait_readable(efd);
			(void)read_efd(efd);
		}
	}
	return got;
}

enum { N = 100 };

static void test_blocking_batches_wakeups(void **state)
{
	struct tide__blocking *p;
	static struct job jobs[N + 2];
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), gate[2], sig[2];
	char c = 'x', got = 0;

	(void)state;
	assert_true(efd >= 0);
	assert_int_equal(pipe(gate), 0);
	assert_int_equal(pipe(sig), 0);
	assert_int_equal(tide__blocking_new(&p, 1, efd), 0);
	assert_int_equal(tide__blocking_threads(p), 1);
	/* one worker: the first job holds it, the rest queue behind */
	byte_read(&jobs[0], gate[0], &got);
	assert_int_equal(tide__blocking_submit(p, &jobs[0].j), 0);
	for (int i = 1; i <= N; i++) {
		job_init(&jobs[i], TIDE__B_NOP);
		assert_int_equal(tide__blocking_submit(p, &jobs[i].j), 0);
	}
	/* the last tells us everything before it is on the done list */
	job_init(&jobs[N + 1], TIDE__B_WRITE);
	jobs[N + 1].j.fd = sig[1];
	jobs[N + 1].j.buf = &c;
	jobs[N + 1].j.len = 1;
	jobs[N + 1].j.off = (uint64_t)-1;
	assert_int_equal(tide__blocking_submit(p, &jobs[N + 1].j), 0);
	assert_int_equal(tide__blocking_busy(p), N + 2);
	assert_int_equal(write(gate[1], &c, 1), 1);
	wait_readable(sig[0]);
	/* N + 1 jobs finished while nobody reaped: one wake-up, not N + 1 */
	assert_int_equal(read_efd(efd), 1);
	assert_int_equal(reap_all(p, efd, N + 2), N + 2);
	for (int i = 0; i < N + 2; i++)
		assert_int_equal(jobs[i].done, 1);
	assert_int_equal(jobs[0].j.res, 1);
	assert_int_equal(got, 'x');
	assert_int_equal(jobs[N + 1].j.res, 1);
	assert_int_equal(tide__blocking_busy(p), 0);
	tide__blocking_free(p);
	close(gate[0]);
	close(gate[1]);
	close(sig[0]);
	close(sig[1]);
	close(efd);
}

static void test_blocking_cancel_queued_and_running(void **state)
{
	struct tide__blocking *p;
	struct job a, b;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), gate[2];
	char c = 'y', got = 0;

	(void)state;
	assert_true(efd >= 0);
	assert_int_equal(pipe(gate), 0);
	assert_int_equal(tide__blocking_new(&p, 1, efd), 0);
	byte_read(&a, gate[0], &got);
	job_init(&b, TIDE__B_NOP);
	assert_int_equal(tide__blocking_submit(p, &a.j), 0);
	assert_int_equal(tide__blocking_submit(p, &b.j), 0);
	/* b is queued behind a (one worker): it comes off the queue */
	assert_true(tide__blocking_cancel(p, &b.j));
	assert_false(tide__blocking_cancel(p, &b.j)); /* only once */
	assert_int_equal(tide__blocking_busy(p), 1);
	/* a may be queued or running; once running, cancel cannot stop it.
	 * Wait until the worker took it (the queue is empty then). */
	while (__atomic_load_n(&a.j.state, __ATOMIC_ACQUIRE) == TIDE__BJ_QUEUED)
		sched_yield();
	assert_false(tide__blocking_cancel(p, &a.j));
	assert_int_equal(write(gate[1], &c, 1), 1);
	assert_int_equal(reap_all(p, efd, 1), 1);
	assert_int_equal(a.done, 1);
	assert_int_equal(a.j.res, 1); /* its own result, not -ECANCELED */
	assert_int_equal(got, 'y');
	assert_int_equal(b.done, 0);
	tide__blocking_free(p);
	close(gate[0]);
	close(gate[1]);
	close(efd);
}

/* Does an epoll loop spill page-cache reads here (two CPUs or more, and
 * not turned off in the environment)? */
static bool spills(void)
{
	const char *e = getenv("TIDE_BLOCKING_SPILL");
	cpu_set_t set;

	if (e && !strcmp(e, "0"))
		return false;
	if (sched_getaffinity(0, sizeof(set), &set))
		return false;
	return CPU_COUNT(&set) > 1;
}

/* Spilling: never on one CPU, never the loop's only operation, at most
 * 5/8 of them with one helper (finished jobs count until reaped), never
 * while a real blocking job is the pool's; a spilled read never blocks a
 * worker (RWF_NOWAIT: -EAGAIN, and the loop makes it a blocking job). */
static void test_blocking_spill_policy(void **state)
{
	struct tide__blocking *p;
	struct job s, x, h;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), gate[2];
	char c = 'z', got = 0;

	(void)state;
	assert_true(efd >= 0);
	assert_int_equal(pipe(gate), 0);
	assert_int_equal(tide__blocking_new(&p, 4, efd), 0);
	assert_false(tide__blocking_may_spill(p, 10)); /* not enabled */
	tide__blocking_spill(p, 1);
	assert_false(tide__blocking_may_spill(p, 10)); /* one CPU */
	tide__blocking_spill(p, 2);
	assert_false(tide__blocking_may_spill(p, 0)); /* the only one */
	assert_true(tide__blocking_may_spill(p, 1));
	/* a spilled read of an empty pipe: -EAGAIN at once, not a worker
	 * blocked for good */
	byte_read(&s, gate[0], &got);
	s.j.spill = 1;
	assert_int_equal(tide__blocking_submit(p, &s.j), 0);
	assert_int_equal(reap_all(p, efd, 1), 1);
	assert_int_equal(s.j.res, -EAGAIN);
	/* one spilled job finished, not reaped: 2 of 3 would be 6/8, no;
	 * 2 of 4 is 4/8, yes */
	job_init(&x, TIDE__B_NOP);
	x.j.spill = 1;
	assert_int_equal(tide__blocking_submit(p, &x.j), 0);
	assert_false(tide__blocking_may_spill(p, 2));
	assert_true(tide__blocking_may_spill(p, 3));
	assert_int_equal(reap_all(p, efd, 1), 1);
	assert_int_equal(x.done, 1);
	/* a blocking job stops it until reaped */
	byte_read(&h, gate[0], &got);
	assert_int_equal(tide__blocking_submit(p, &h.j), 0);
	assert_false(tide__blocking_may_spill(p, 1000));
	assert_int_equal(write(gate[1], &c, 1), 1);
	assert_int_equal(reap_all(p, efd, 1), 1);
	assert_int_equal(h.j.res, 1);
	assert_int_equal(got, 'z');
	assert_true(tide__blocking_may_spill(p, 1));
	/* a spilled job still queued is cancelled like any other */
	job_init(&x, TIDE__B_NOP);
	x.j.spill = 1;
	assert_int_equal(tide__blocking_submit(p, &x.j), 0);
	if (!tide__blocking_cancel(p, &x.j))
		assert_int_equal(reap_all(p, efd, 1), 1);
	assert_int_equal(tide__blocking_busy(p), 0);
	assert_true(tide__blocking_may_spill(p, 1));
	tide__blocking_free(p);
	close(gate[0]);
	close(gate[1]);
	close(efd);
}

static void test_blocking_run_calls(void **state)
{
	char dir[] = "/tmp/tide_bk.XXXXXX", path[64], path2[64],
	     buf[8] = "abcdefg";
	struct statx stx;
	struct iovec iov[2] = { { buf, 3 }, { buf + 3, 4 } };
	struct job x;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a", dir);
	snprintf(path2, sizeof(path2), "%s/b", dir);
	job_init(&x, TIDE__B_OPENAT);
	x.j.fd = AT_FDCWD;
	x.j.path = path;
	x.j.flags = O_RDWR | O_CREAT | O_CLOEXEC;
	x.j.mode = 0600;
	fd = tide__blocking_run(&x.j);
	assert_true(fd >= 0);
	job_init(&x, TIDE__B_WRITEV);
	x.j.fd = fd;
	x.j.buf = iov;
	x.j.len = 2;
	x.j.off = 0;
	assert_int_equal(tide__blocking_run(&x.j), 7);
	job_init(&x, TIDE__B_FSYNC);
	x.j.fd = fd;
	x.j.flags = 1;
	assert_int_equal(tide__blocking_run(&x.j), 0);
	job_init(&x, TIDE__B_FALLOCATE);
	x.j.fd = fd;
	x.j.len64 = 4096;
	assert_int_equal(tide__blocking_run(&x.j), 0);
	job_init(&x, TIDE__B_STATX);
	x.j.fd = AT_FDCWD;
	x.j.path = path;
	x.j.mode = STATX_SIZE;
	x.j.buf = &stx;
	assert_int_equal(tide__blocking_run(&x.j), 0);
	assert_int_equal(stx.stx_size, 4096);
	memset(buf, 0, sizeof(buf));
	job_init(&x, TIDE__B_READ);
	x.j.fd = fd;
	x.j.buf = buf;
	x.j.len = 7;
	x.j.off = 0;
	assert_int_equal(tide__blocking_run(&x.j), 7);
	assert_memory_equal(buf, "abcdefg", 7);
	job_init(&x, TIDE__B_RENAMEAT);
	x.j.fd = x.j.fd2 = AT_FDCWD;
	x.j.path = path;
	x.j.path2 = path2;
	assert_int_equal(tide__blocking_run(&x.j), 0);
	/* failure paths: the errno comes back negated */
	job_init(&x, TIDE__B_UNLINKAT);
	x.j.fd = AT_FDCWD;
	x.j.path = path;
	assert_int_equal(tide__blocking_run(&x.j), -ENOENT);
	x.j.path = path2;
	assert_int_equal(tide__blocking_run(&x.j), 0);
	job_init(&x, TIDE__B_MKDIRAT);
	x.j.fd = AT_FDCWD;
	x.j.path = dir;
	x.j.mode = 0700;
	assert_int_equal(tide__blocking_run(&x.j), -EEXIST);
	job_init(&x, TIDE__B_CLOSE);
	x.j.fd = fd;
	assert_int_equal(tide__blocking_run(&x.j), 0);
	assert_int_equal(tide__blocking_run(&x.j), -EBADF);
	job_init(&x, TIDE__B_READ);
	x.j.fd = -1;
	x.j.buf = buf;
	x.j.len = 1;
	assert_int_equal(tide__blocking_run(&x.j), -EBADF);
	x.j.op = 200;
	assert_int_equal(tide__blocking_run(&x.j), -EINVAL);
	assert_int_equal(rmdir(dir), 0);
}

static void test_blocking_new_bad_size(void **state)
{
	struct tide__blocking *p = (void *)1;

	(void)state;
	assert_int_equal(tide__blocking_new(&p, 100000, -1), -EINVAL);
	assert_null(p);
	tide__blocking_free(NULL); /* accepted */
}

/* ---- the per-operation fallback ---- */

struct rec {
	struct tide__op op;
	int32_t res;
	int n;
};

static void rec_done(struct tide_loop *loop, struct tide__op *op, int32_t res,
		     uint32_t cflags)
{
	struct rec *r = (struct rec *)(void *)op;

	(void)loop;
	(void)cflags;
	r->res = res;
	r->n++;
}

/*
 * On io_uring, an operation the kernel lacks is handed to the epoll
 * backend's function for it (engine/uring/ops.c): the pool runs it and the
 * ring's wake-up read brings it back.  Called directly here, on whatever
 * backend the default loop has (io_uring, or epoll where it is blocked).
 */
static void test_per_op_fallback_pool(void **state)
{
	struct tide_loop *loop;
	struct statx stx;
	struct rec a = { .op.done = rec_done }, b = { .op.done = rec_done };

	(void)state;
	assert_int_equal(tide_loop_new(&loop, NULL), 0);
	/* what the router does for an accepted operation */
	tide__core(loop)->ops_pending += 2;
	tide__op_inflight(&a.op); /* debug builds check it at completion */
	tide__op_inflight(&b.op);
	assert_int_equal(tide__ep_openat(loop, &a.op, AT_FDCWD, "/dev/null",
					 O_RDONLY | O_CLOEXEC, 0),
			 0);
	assert_int_equal(tide__ep_statx(loop, &b.op, AT_FDCWD,
					"/nonexistent/tide", 0, STATX_SIZE,
					&stx),
			 0);
	assert_int_equal(a.n + b.n, 0); /* never inside the call */
	assert_int_equal(tide_loop_run(loop), 0);
	assert_int_equal(a.n, 1);
	assert_int_equal(b.n, 1);
	assert_true(a.res >= 0);
	assert_int_equal(b.res, -ENOENT);
	assert_int_equal(tide_loop_pending(loop), 0);
	close(a.res);
	tide_loop_free(loop);
}

/*
 * On an io_uring kernel without IORING_OP_CLOSE (< 5.6), SHUTDOWN (< 5.11)
 * or SOCKET (< 5.19) the system call is made at once and its result
 * delivered at the next dispatch; each such operation is counted in flight
 * once (close and shutdown were counted twice: the loop never went idle).
 * The probe of a real loop is edited to say the kernel lacks them; where
 * the default loop is epoll, its own inline calls are held to the same.
 */
static void test_inline_ops_counted_once(void **state)
{
	static const int ops[] = { IORING_OP_CLOSE, IORING_OP_SHUTDOWN,
				   IORING_OP_SOCKET };
	struct tide_loop *loop;
	uint16_t saved[3];
	int p[2], sv[2], fd, i, edit;
	char c;

	(void)state;
	assert_int_equal(tide_loop_new(&loop, NULL), 0);
	edit = loop->uring && loop->u.probe;
	for (i = 0; edit && i < 3; i++) {
		if (ops[i] > loop->u.probe->last_op)
			continue; /* this kernel lacks it: the road is taken */
		saved[i] = loop->u.probe->ops[ops[i]].flags;
		loop->u.probe->ops[ops[i]].flags &=
			(uint16_t)~IO_URING_OP_SUPPORTED;
	}
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	assert_int_equal(t_wait(loop, tide_close(loop, p[0])), 0);
	assert_int_equal(fcntl(p[0], F_GETFD), -1); /* closed */
	assert_int_equal(t_wait(loop, tide_shutdown(loop, sv[0], SHUT_WR)), 0);
	assert_int_equal(read(sv[1], &c, 1), 0); /* end of stream */
	fd = (int)t_wait(loop, tide_socket(loop, AF_UNIX,
					   SOCK_STREAM | SOCK_CLOEXEC, 0));
	assert_true(fd >= 0);
	assert_int_equal(tide_loop_pending(loop), 0);
	assert_int_equal(tide_loop_run(loop), 0); /* idle: returns at once */
	for (i = 0; edit && i < 3; i++)
		if (ops[i] <= loop->u.probe->last_op)
			loop->u.probe->ops[ops[i]].flags = saved[i];
	close(fd);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
	tide_loop_free(loop);
}

/* ---- the epoll backend through the public API ---- */

static struct tide_loop *ep_loop(void)
{
	struct tide_loop_options o = { .flags = TIDE_LOOP_EPOLL };
	struct tide_loop_config cfg;
	struct tide_loop *loop;

	assert_int_equal(tide_loop_new(&loop, &o), 0);
	tide_loop_config(loop, &cfg);
	assert_int_equal(cfg.backend, TIDE_BACKEND_EPOLL);
	assert_int_equal(cfg.backend_why, TIDE_BACKEND_WHY_OPTION);
	return loop;
}

/* A wait that must end: a hang would show as -ETIMEDOUT, not as a stuck
 * test. */
static int64_t bounded(struct tide_loop *loop, struct tide_future *f)
{
	return t_wait(loop, tide_future_timeout(f, 5000000000ull));
}

static bool blocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	assert_true(fl >= 0);
	return !(fl & O_NONBLOCK);
}

/* recv/send use MSG_DONTWAIT and pipes RWF_NOWAIT: the caller's
 * descriptors keep their blocking mode, and a receive that must wait
 * does wait. */
static void test_epoll_keeps_descriptor_modes(void **state)
{
	struct tide_loop *loop = ep_loop();
	struct tide_future *f;
	char buf[8] = { 0 };
	int sv[2], p[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	f = tide_recv(loop, sv[1], buf, sizeof(buf), 0);
	assert_int_equal(tide_loop_run_once(loop, 0) >= 0, 1);
	assert_false(tide_future_done(f)); /* nothing sent yet: it waits */
	assert_int_equal(t_wait(loop, tide_send(loop, sv[0], "ping", 4, 0)), 4);
	assert_int_equal(bounded(loop, f), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_true(blocking(sv[0]));
	assert_true(blocking(sv[1]));

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	f = tide_read(loop, p[0], buf, sizeof(buf), TIDE_OFF_CUR);
	assert_int_equal(tide_loop_run_once(loop, 0) >= 0, 1);
	assert_false(tide_future_done(f));
	assert_int_equal(
		t_wait(loop, tide_write(loop, p[1], "pipe", 4, TIDE_OFF_CUR)),
		4);
	assert_int_equal(bounded(loop, f), 4);
	assert_memory_equal(buf, "pipe", 4);
	assert_true(blocking(p[0]));
	assert_true(blocking(p[1]));
	close(sv[0]);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
	tide_loop_free(loop);
}

/* A descriptor closed with close(2) and its number reused for a new file
 * (what api/process.c does with pidfds, what users do with sockets): the
 * new file is waited on, not the stale registration of the old one. */
static void test_epoll_number_reused_behind_back(void **state)
{
	struct tide_loop *loop = ep_loop();
	struct tide_future *f;
	char buf[4];
	int p[2], q[2], old;

	(void)state;
	for (int round = 0; round < 3; round++) {
		assert_int_equal(pipe2(p, O_CLOEXEC), 0);
		f = tide_read(loop, p[0], buf, sizeof(buf), TIDE_OFF_CUR);
		assert_int_equal(tide_loop_run_once(loop, 0) >= 0, 1);
		assert_int_equal(write(p[1], "a", 1), 1);
		assert_int_equal(bounded(loop, f), 1);
		old = p[0];
		close(p[0]); /* behind the loop's back */
		close(p[1]);
		assert_int_equal(pipe2(q, O_CLOEXEC), 0);
		assert_int_equal(q[0], old); /* the lowest number comes back */
		f = tide_read(loop, q[0], buf, sizeof(buf), TIDE_OFF_CUR);
		assert_int_equal(tide_loop_run_once(loop, 0) >= 0, 1);
		assert_false(tide_future_done(f));
		assert_int_equal(write(q[1], "b", 1), 1);
		assert_int_equal(bounded(loop, f), 1);
		assert_int_equal(buf[0], 'b');
		close(q[0]);
		close(q[1]);
	}
	tide_loop_free(loop);
}

static int unix_listener(struct sockaddr_un *a, int type_flags)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | type_flags, 0);

	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	/* abstract: nothing to unlink */
	snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "tide-bk-%d-%d",
		 (int)getpid(), fd);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)a, sizeof(*a)), 0);
	assert_int_equal(listen(fd, 8), 0);
	return fd;
}

/* accept never blocks the loop, even on a blocking listener whose number
 * was a non-blocking one's a moment ago. */
static void test_epoll_accept_blocking_listener(void **state)
{
	struct tide_loop *loop = ep_loop();
	struct sockaddr_un a;
	struct tide_future *f;
	int l, c, old;

	(void)state;
	for (int round = 0; round < 2; round++) {
		l = unix_listener(&a, 0);
		assert_true(blocking(l));
		f = tide_accept(loop, l, NULL, SOCK_CLOEXEC);
		/* no connection yet: it waits instead of blocking here */
		assert_int_equal(tide_loop_run_once(loop, 0) >= 0, 1);
		assert_false(tide_future_done(f));
		c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)),
				 0);
		old = (int)bounded(loop, f);
		assert_true(old >= 0);
		close(old);
		close(c);
		close(l); /* behind the loop's back; the next round reuses it */
	}
	tide_loop_free(loop);
}

/* A read waiting for readiness, cancelled: -ECANCELED, and the data that
 * comes later is still there for the next reader. */
static void test_epoll_cancel_waiting_read(void **state)
{
	struct tide_loop *loop = ep_loop();
	struct tide_future *f;
	char buf[4], c = 0;
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	f = tide_read(loop, p[0], buf, sizeof(buf), TIDE_OFF_CUR);
	assert_int_equal(tide_loop_run_once(loop, 0) >= 0, 1);
	assert_int_equal(tide_future_cancel(f), 0);
	assert_int_equal(t_wait(loop, f), -ECANCELED);
	assert_int_equal(write(p[1], "z", 1), 1);
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, 'z');
	close(p[0]);
	close(p[1]);
	tide_loop_free(loop);
}

/* Timers in the user-space heap: a sleep never ends early, a timeout
 * cancels the read it guards (-ETIMEDOUT) and the loop frees cleanly. */
static void test_epoll_timers(void **state)
{
	struct tide_loop *loop = ep_loop();
	struct tide_future *f;
	uint64_t t0;
	char buf[4];
	int p[2];

	(void)state;
	t0 = tide_now_ns();
	assert_int_equal(t_wait(loop, tide_sleep(loop, 2000000)), 0);
	assert_true(tide_now_ns() - t0 >= 2000000);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	f = tide_future_timeout(
		tide_read(loop, p[0], buf, sizeof(buf), TIDE_OFF_CUR), 1000000);
	assert_int_equal(t_wait(loop, f), -ETIMEDOUT);
	close(p[0]);
	close(p[1]);
	tide_loop_free(loop);
}

/* The descriptor table grows while operations wait on it (the records
 * point at their descriptor's list: it must not move). */
static void test_epoll_table_grows_while_waiting(void **state)
{
	enum { NFD = 600 };
	struct tide_loop *loop = ep_loop();
	struct tide_future *lo, *hi;
	static int extra[NFD];
	char a = 0, b = 0;
	int p[2], q[2];

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	lo = tide_read(loop, p[0], &a, 1, TIDE_OFF_CUR);
	assert_int_equal(tide_loop_run_once(loop, 0) >= 0, 1);
	for (int i = 0; i < NFD; i++) {
		extra[i] = fcntl(p[1], F_DUPFD_CLOEXEC, 0);
		assert_true(extra[i] >= 0);
	}
	assert_int_equal(pipe2(q, O_CLOEXEC), 0);
	assert_true(q[0] > NFD);
	hi = tide_read(loop, q[0], &b, 1, TIDE_OFF_CUR);
	assert_int_equal(tide_loop_run_once(loop, 0) >= 0, 1);
	assert_int_equal(write(p[1], "l", 1), 1);
	assert_int_equal(write(q[1], "h", 1), 1);
	assert_int_equal(bounded(loop, lo), 1);
	assert_int_equal(bounded(loop, hi), 1);
	assert_int_equal(a, 'l');
	assert_int_equal(b, 'h');
	for (int i = 0; i < NFD; i++)
		close(extra[i]);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	tide_loop_free(loop);
}

/* Multishot poll on the epoll backend: a completion (TIDE__CQ_MORE) per
 * report while readable, a final -ECANCELED once cancelled; one-shot poll
 * on a regular file: ready at once, as poll(2) says. */
struct mpoll {
	struct tide__op op;
	int fd;
	int more, final;
	int32_t last;
};

static void mpoll_done(struct tide_loop *loop, struct tide__op *op, int32_t res,
		       uint32_t cflags)
{
	struct mpoll *m = (struct mpoll *)(void *)op;
	char c;

	(void)loop;
	m->last = res;
	if (cflags & TIDE__CQ_MORE) {
		m->more++;
		assert_true(res & POLLIN);
		assert_int_equal(read(m->fd, &c, 1), 1); /* not readable now */
	} else {
		m->final++;
	}
}

static void test_epoll_poll_multishot_and_file(void **state)
{
	struct tide_loop *loop = ep_loop();
	struct mpoll m = { .op.done = mpoll_done },
		     f = { .op.done = mpoll_done };
	char path[] = "/tmp/tide_bk_poll.XXXXXX";
	int p[2], fd;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	m.fd = p[0];
	assert_int_equal(tide__op_poll(loop, &m.op, p[0], POLLIN, true), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(write(p[1], "x", 1), 1);
		while (m.more == i)
			assert_true(tide_loop_run_once(loop, 1) >= 0);
		assert_int_equal(m.more, i + 1);
	}
	assert_int_equal(tide_loop_run_once(loop, 0) >= 0, 1);
	assert_int_equal(m.more, 3); /* drained: no report until the next */
	assert_int_equal(tide__op_cancel(loop, &m.op), 0);
	assert_int_equal(tide_loop_run(loop), 0);
	assert_int_equal(m.final, 1);
	assert_int_equal(m.last, -ECANCELED);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(
		tide__op_poll(loop, &f.op, fd, POLLIN | POLLOUT, false), 0);
	assert_int_equal(f.final, 0); /* never inside the call */
	assert_int_equal(tide_loop_run(loop), 0);
	assert_int_equal(f.final, 1);
	assert_int_equal(f.last, POLLIN | POLLOUT);
	close(fd);
	close(p[0]);
	close(p[1]);
	tide_loop_free(loop);
}

/* A chain of page-cache reads, each issued by the previous one's
 * continuation, until stop is set (or cap reads: the test fails). */
struct rchain {
	struct tide_loop *loop;
	int fd;
	char buf[512];
	uint64_t n, cap;
	int64_t bad; /* a read that did not return the whole block */
	const bool *stop;
	void (*at)(struct rchain *c); /* after each read, when set */
};

static void rchain_next(void *arg, int64_t res, void *payload)
{
	struct rchain *c = arg;

	(void)payload;
	if (res != (int64_t)sizeof(c->buf))
		c->bad = res ? res : -1;
	if (c->bad || ++c->n >= c->cap || *c->stop)
		return;
	if (c->at)
		c->at(c);
	assert_int_equal(tide_future_on_done(tide_read(c->loop, c->fd, c->buf,
						       sizeof(c->buf),
						       (c->n % 64) * 512),
					     rchain_next, c),
			 0);
}

static void rchain_start(struct rchain *c)
{
	assert_int_equal(tide_future_on_done(tide_read(c->loop, c->fd, c->buf,
						       sizeof(c->buf), 0),
					     rchain_next, c),
			 0);
}

/* 32 KiB of t_pattern(), just written: in the page cache. */
static int scratch_file(void)
{
	char path[64];
	int fd = t_tmpfile(path, sizeof(path), 64 * 512);

	assert_true(fd >= 0);
	unlink(path);
	return fd;
}

/* buf holds t_pattern() from off on, n bytes. */
static bool is_pattern(const char *buf, uint64_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] != t_pattern(off + i))
			return false;
	return true;
}

struct turns_ctx {
	bool done;
	int sp1; /* the peer of the socket the test receives on */
};

static void turns_mark(void *arg, int64_t res, void *payload)
{
	struct turns_ctx *t = arg;

	(void)payload;
	assert_int_equal(res, 1);
	t->done = true;
}

static void turns_fsync_done(void *arg, int64_t res, void *payload)
{
	(void)payload;
	assert_int_equal(res, 0);
	*(bool *)arg = true;
}

static void turns_posted(void *arg)
{
	*(bool *)arg = true;
}

static struct turns_ctx *turns_peer;

/* 50 reads into the chain, the peer sends the byte being waited for. */
static void turns_send_at_50(struct rchain *c)
{
	if (c->n == 50)
		assert_int_equal(write(turns_peer->sp1, "x", 1), 1);
}

static void *turns_poster(void *arg)
{
	struct tide_loop *loop = ((void **)arg)[0];

	assert_int_equal(tide_loop_post(loop, turns_posted, ((void **)arg)[1]),
			 0);
	return NULL;
}

/*
 * Page-cache reads complete at once on epoll: a turn with nothing but
 * them skips epoll_wait() (nothing is registered but the wake-up
 * eventfd).  What that skip must not lose, while the reads keep every
 * turn busy: a socket that becomes readable (registered, so the turns
 * ask epoll again), a pool job's result and a cross-thread post (both
 * read without the eventfd).
 */
static void test_epoll_file_turns_skip_wait(void **state)
{
	struct tide_loop *loop = ep_loop();
	struct tide_loop_stats st0, st1;
	struct turns_ctx t = { 0 };
	bool never = false, fsynced = false, posted = false;
	struct rchain c = { .loop = loop, .cap = 1000, .stop = &never };
	char byte;
	int sp[2];
	pthread_t th;
	void *targs[2] = { loop, &posted };

	(void)state;
	c.fd = scratch_file();
	/* only file reads: far fewer waits than turns */
	tide_loop_stats(loop, &st0);
	rchain_start(&c);
	assert_int_equal(tide_loop_run(loop), 0);
	tide_loop_stats(loop, &st1);
	assert_int_equal(c.bad, 0);
	assert_int_equal(c.n, 1000);
	assert_true(st1.iterations - st0.iterations >= 1000);
	assert_true((st1.enter_calls - st0.enter_calls) * 10 <
		    st1.iterations - st0.iterations);

	/* a receive waits on a socket while the reads keep the loop busy */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp),
			 0);
	t.sp1 = sp[1];
	turns_peer = &t;
	assert_int_equal(
		tide_future_on_done(tide_recv(loop, sp[0], &byte, 1, 0),
				    turns_mark, &t),
		0);
	c = (struct rchain){ .loop = loop,
			     .fd = c.fd,
			     .cap = 100000,
			     .stop = &t.done,
			     .at = turns_send_at_50 };
	rchain_start(&c);
	assert_int_equal(tide_loop_run(loop), 0);
	assert_true(t.done);
	assert_int_equal(c.bad, 0);
	assert_true(c.n < 100000);

	/* a pool job (fsync) and a post from another thread, both while the
	 * reads run and nothing is registered */
	assert_int_equal(tide_future_on_done(tide_fsync(loop, c.fd),
					     turns_fsync_done, &fsynced),
			 0);
	c = (struct rchain){
		.loop = loop, .fd = c.fd, .cap = 10000000, .stop = &fsynced
	};
	rchain_start(&c);
	assert_int_equal(tide_loop_run(loop), 0);
	assert_true(fsynced);
	assert_int_equal(c.bad, 0);
	assert_true(c.n < 10000000);
	assert_int_equal(pthread_create(&th, NULL, turns_poster, targs), 0);
	c = (struct rchain){
		.loop = loop, .fd = c.fd, .cap = 10000000, .stop = &posted
	};
	rchain_start(&c);
	assert_int_equal(tide_loop_run(loop), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(posted);
	assert_int_equal(c.bad, 0);
	assert_true(c.n < 10000000);
	close(sp[0]);
	close(sp[1]);
	close(c.fd);
	tide_loop_free(loop);
}

/* In a child: preadv2/pwritev2 answer ENOSYS (a kernel before 4.6, or a
 * seccomp policy that does not know them); file and pipe reads and writes
 * on epoll still work (without RWF_NOWAIT).  Exit 0 when they do. */
static int rwv2_enosys_child(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_preadv2, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_pwritev2, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]),
				   .filter = f };
	struct tide_loop_options o = { .flags = TIDE_LOOP_EPOLL };
	struct tide_loop *loop;
	char buf[16] = { 0 };
	int fd = scratch_file(), p[2];

	if (pipe2(p, O_CLOEXEC) || write(p[1], "pipe!", 5) != 5)
		return 2;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		return 77;
	if (tide_loop_new(&loop, &o))
		return 3;
	if (t_wait(loop, tide_read(loop, fd, buf, 8, 0)) != 8 ||
	    !is_pattern(buf, 0, 8))
		return 4;
	if (t_wait(loop, tide_write(loop, fd, "abc", 3, 0)) != 3 ||
	    t_wait(loop, tide_read(loop, fd, buf, 4, 0)) != 4 ||
	    memcmp(buf, "abc", 3) || !is_pattern(buf + 3, 3, 1))
		return 5;
	if (t_wait(loop, tide_read(loop, p[0], buf, sizeof(buf),
				   TIDE_OFF_CUR)) != 5 ||
	    memcmp(buf, "pipe!", 5))
		return 6;
	if (t_wait(loop, tide_write(loop, p[1], "again", 5, TIDE_OFF_CUR)) !=
		    5 ||
	    read(p[0], buf, 5) != 5 || memcmp(buf, "again", 5))
		return 7;
	tide_loop_free(loop);
	return 0;
}

static void test_epoll_rwv2_enosys(void **state)
{
	pid_t pid;
	int st;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(rwv2_enosys_child());
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip(); /* no seccomp here */
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* Timers live in the user-space heap on both backends: on io_uring (with
 * EXT_ARG) a sleep and its cancellation cost no SQE at all. */
static void test_timers_cost_no_sqe(void **state)
{
	enum { NT = 100 };
	struct tide_loop_stats st0, st1;
	struct tide_loop_config cfg;
	struct tide_future *f[NT], *longf;
	struct tide_loop *loop;
	bool count;

	(void)state;
	assert_int_equal(tide_loop_new(&loop, NULL), 0);
	tide_loop_config(loop, &cfg);
	count = cfg.backend == TIDE_BACKEND_URING &&
		(cfg.features & IORING_FEAT_EXT_ARG);
	assert_int_equal(t_wait(loop, tide_nop(loop)),
			 0); /* first submit done */
	tide_loop_stats(loop, &st0);
	for (int i = 0; i < NT; i++)
		f[i] = tide_sleep(loop, 1000u * (unsigned)(i % 7));
	longf = tide_sleep(loop, 10000000000ull);
	for (int i = 0; i < NT; i++)
		assert_int_equal(t_wait(loop, f[i]), 0);
	assert_int_equal(tide_future_cancel(longf), 0);
	assert_int_equal(t_wait(loop, longf), -ECANCELED);
	tide_loop_stats(loop, &st1);
	assert_true(st1.timers - st0.timers >= NT + 1);
	if (count)
		assert_int_equal(st1.submitted - st0.submitted, 0);
	assert_int_equal(tide_loop_pending(loop), 0);
	tide_loop_free(loop);
}

enum { SQD = 32, SBS = 4096, SFILE = 1 << 20 };

/* Page-cache reads at an offset, 32 in flight: on two CPUs part of them
 * go to the pool (spilled) and part are read inline; every byte comes
 * back where it belongs, and a cancelled one either ends -ECANCELED with
 * its buffer left alone or has its whole result. */
static void test_epoll_spilled_reads_verified(void **state)
{
	struct tide_loop *loop = ep_loop();
	static char buf[SQD][SBS];
	struct tide_future *f[SQD];
	uint64_t seed = 99, off[SQD];
	unsigned spilled_rounds = 0, cancelled = 0;
	char path[64];
	int fd = t_tmpfile(path, sizeof(path), SFILE);

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	for (int round = 0; round < 200; round++) {
		for (int i = 0; i < SQD; i++) {
			seed = seed * 6364136223846793005ull +
			       1442695040888963407ull;
			off[i] = (seed >> 33) % (SFILE - SBS);
			memset(buf[i], 0x5a, SBS);
			f[i] = tide_read(loop, fd, buf[i], SBS, off[i]);
			assert_non_null(f[i]);
		}
		/* nothing ran yet: jobs on the pool are the spilled ones (the
		 * file was just written, its pages are cached) */
		spilled_rounds += tide__ep_busy(loop);
		for (int i = round % 5; i < SQD; i += 5)
			assert_int_equal(tide_future_cancel(f[i]), 0);
		for (int i = 0; i < SQD; i++) {
			int64_t r = bounded(loop, f[i]);

			if (r == -ECANCELED) {
				cancelled++;
				for (int k = 0; k < SBS; k++)
					assert_int_equal(buf[i][k], 0x5a);
				continue;
			}
			assert_int_equal(r, SBS);
			assert_true(is_pattern(buf[i], off[i], SBS));
		}
		/* bounded()'s last timer goes at the next turn */
		for (int t = 0; t < 100 && tide_loop_pending(loop); t++)
			assert_true(tide_loop_run_once(loop, 0) >= 0);
		assert_int_equal(tide_loop_pending(loop), 0);
	}
	if (spills())
		assert_true(spilled_rounds > 100);
	else
		assert_int_equal(spilled_rounds, 0);
	/* the inline ones are done before a cancel can find them: some of
	 * the cancels must have found a queued job, unless nothing spilled */
	if (spills())
		assert_true(cancelled > 0);
	close(fd);
	tide_loop_free(loop);
}

/* A number the loop knows as a file's is a pipe's now (closed behind
 * tide's back), and the read at an offset is spilled to the pool, where
 * preadv2(2) says ESPIPE: the read waits for the pipe instead, as it does
 * when tried inline. */
static void test_epoll_spilled_read_number_reused(void **state)
{
	struct tide_loop *loop = ep_loop();
	struct tide_future *first, *f;
	char buf[8], other[8];
	int p[2], fd, fd2, num;
	char path[64];

	(void)state;
	fd2 = t_tmpfile(path, sizeof(path), 4096);
	assert_true(fd2 >= 0);
	unlink(path);
	fd = t_tmpfile(path, sizeof(path), 4096);
	assert_true(fd >= 0);
	unlink(path);
	num = fd;
	for (int round = 0; round < 3; round++) {
		/* learnt as a file whose reads come from the page cache */
		assert_int_equal(bounded(loop, tide_read(loop, num, buf, 5, 7)),
				 5);
		assert_true(is_pattern(buf, 7, 5));
		assert_int_equal(pipe(p), 0);
		assert_int_equal(dup2(p[0], num), num); /* the file is gone */
		close(p[0]);
		/* read inline, undelivered: the next one has company */
		first = tide_read(loop, fd2, other, 5, 0);
		assert_non_null(first);
		f = tide_read(loop, num, buf, 5, 100);
		assert_non_null(f);
		assert_int_equal(tide__ep_busy(loop), spills());
		assert_int_equal(tide_loop_run_once(loop, 0) >= 0, 1);
		assert_int_equal(write(p[1], "pipe!", 5), 5);
		assert_int_equal(bounded(loop, f), 5);
		assert_memory_equal(buf, "pipe!", 5);
		assert_int_equal(bounded(loop, first), 5);
		assert_true(is_pattern(other, 0, 5));
		close(p[1]);
		/* and a file again */
		fd = t_tmpfile(path, sizeof(path), 4096);
		assert_true(fd >= 0);
		unlink(path);
		assert_int_equal(dup2(fd, num), num);
		close(fd);
	}
	close(num);
	close(fd2);
	tide_loop_free(loop);
}

/* A spilled read whose pages are not in the cache (a part of the file
 * dropped with POSIX_FADV_DONTNEED) comes back -EAGAIN from the worker's
 * RWF_NOWAIT and is read as a blocking job: the caller gets the data. */
static void test_epoll_spilled_read_cache_miss(void **state)
{
	struct tide_loop *loop = ep_loop();
	static char a[SBS], b[SBS];
	struct tide_future *fa, *fb;
	char path[64];
	int fd = t_tmpfile(path, sizeof(path), SFILE);
	unsigned missed = 0;

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(fsync(fd), 0); /* clean pages can be dropped */
	for (int round = 0; round < 8; round++) {
		uint64_t boff = SFILE / 2 + (uint64_t)round * 16 * SBS;

		assert_int_equal(bounded(loop, tide_read(loop, fd, a, SBS, 0)),
				 SBS);
		assert_int_equal(posix_fadvise(fd, (off_t)boff, 16 * SBS,
					       POSIX_FADV_DONTNEED),
				 0);
		fa = tide_read(loop, fd, a, SBS, 0); /* inline, undelivered */
		fb = tide_read(loop, fd, b, SBS, boff);
		assert_non_null(fa);
		assert_non_null(fb);
		missed += tide__ep_busy(loop);
		assert_int_equal(bounded(loop, fb), SBS);
		assert_true(is_pattern(b, boff, SBS));
		assert_int_equal(bounded(loop, fa), SBS);
		assert_true(is_pattern(a, 0, SBS));
	}
	/* every read of b went to the pool: spilled, or a blocking job
	 * after the inline road's miss */
	assert_int_equal(missed, 8);
	close(fd);
	tide_loop_free(loop);
}

/* tide_loop_free() with spilled reads queued and running: it returns only
 * when no worker can write the buffers any more (a read a worker started
 * finishes, a queued one is cancelled), and nothing touches them after. */
static void test_epoll_free_with_spilled_reads(void **state)
{
	static char buf[SQD][SBS];
	char path[64];
	int fd = t_tmpfile(path, sizeof(path), SFILE);

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	for (int round = 0; round < 50; round++) {
		struct tide_loop *loop = ep_loop();

		/* the first read learns the file as a page-cache one */
		assert_int_equal(bounded(loop,
					 tide_read(loop, fd, buf[0], SBS, 0)),
				 SBS);
		for (int i = 0; i < SQD; i++)
			assert_non_null(tide_read(loop, fd, buf[i], SBS,
						  (uint64_t)i * SBS));
		tide_loop_free(loop);
		memset(buf, 0x3c, sizeof(buf));
		usleep(1000);
		for (int i = 0; i < SQD; i++)
			for (int k = 0; k < SBS; k++)
				assert_int_equal(buf[i][k], 0x3c);
	}
	close(fd);
}

/* cgroup CPU quotas read as whole CPUs: v2's cpu.max and v1's pair. */
static void test_epoll_quota_cpus(void **state)
{
	(void)state;
	assert_int_equal(tide__ep_quota_cpus("max 100000\n", NULL, NULL), 0);
	assert_int_equal(tide__ep_quota_cpus("200000 100000\n", NULL, NULL), 2);
	assert_int_equal(tide__ep_quota_cpus("150000 100000", NULL, NULL), 1);
	assert_int_equal(tide__ep_quota_cpus("50000 100000", NULL, NULL), 1);
	assert_int_equal(tide__ep_quota_cpus("", NULL, NULL), 0);
	assert_int_equal(tide__ep_quota_cpus("junk", NULL, NULL), 0);
	assert_int_equal(tide__ep_quota_cpus("0 100000", NULL, NULL), 0);
	assert_int_equal(tide__ep_quota_cpus(NULL, "-1\n", "100000\n"), 0);
	assert_int_equal(tide__ep_quota_cpus(NULL, "400000\n", "100000\n"), 4);
	assert_int_equal(tide__ep_quota_cpus(NULL, "400000", "0"), 0);
	assert_int_equal(tide__ep_quota_cpus(NULL, NULL, "100000"), 0);
	assert_int_equal(tide__ep_quota_cpus("999999999999 1", NULL, NULL),
			 4096);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timer_heap_order),
		cmocka_unit_test(test_timer_heap_not_due),
		cmocka_unit_test(test_blocking_batches_wakeups),
		cmocka_unit_test(test_blocking_cancel_queued_and_running),
		cmocka_unit_test(test_blocking_spill_policy),
		cmocka_unit_test(test_blocking_run_calls),
		cmocka_unit_test(test_blocking_new_bad_size),
		cmocka_unit_test(test_per_op_fallback_pool),
		cmocka_unit_test(test_inline_ops_counted_once),
		cmocka_unit_test(test_epoll_keeps_descriptor_modes),
		cmocka_unit_test(test_epoll_number_reused_behind_back),
		cmocka_unit_test(test_epoll_accept_blocking_listener),
		cmocka_unit_test(test_epoll_cancel_waiting_read),
		cmocka_unit_test(test_epoll_timers),
		cmocka_unit_test(test_epoll_table_grows_while_waiting),
		cmocka_unit_test(test_epoll_poll_multishot_and_file),
		cmocka_unit_test(test_epoll_file_turns_skip_wait),
		cmocka_unit_test(test_epoll_rwv2_enosys),
		cmocka_unit_test(test_epoll_spilled_reads_verified),
		cmocka_unit_test(test_epoll_spilled_read_number_reused),
		cmocka_unit_test(test_epoll_spilled_read_cache_miss),
		cmocka_unit_test(test_epoll_free_with_spilled_reads),
		cmocka_unit_test(test_epoll_quota_cpus),
		cmocka_unit_test(test_timers_cost_no_sqe),
	};

	return cmocka_run_group_tests_name("backend", tests, NULL, NULL);
}
