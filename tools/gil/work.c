// SPDX-License-Identifier: MIT
/*
 * gil_work.c - tide-gil's workloads (cpu, io-file, io-net, convoy) and the
 * ways to run them (sequential, glock, pool, processes, uring).
 *
 * Every way runs the same per-thread body; only the lock, the threads and
 * the process boundaries differ.  "sequential" runs the threads' work one
 * after another in one thread that holds a private, uncontended glock, so
 * the lock's own costs (check points, release/re-acquire around calls) are
 * in the baseline and the ratio shows contention alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gil.h"

/* Iterations between check points: ~0.3 us here, the check costs <1 %. */
#define GIL_CHECK_EVERY 1024u
#define GIL_FILE_SIZE (8u << 20)

const char *const gil_way_names[GIL_NWAYS] = {
	"sequential", "glock", "pool", "processes", "uring",
};
const char *const gil_workload_names[GIL_NWORKLOADS] = {
	"cpu", "io-file", "io-net", "convoy",
};

static char gil_tmp_path[64];
static int gil_file_fd = -1;
static uint64_t gil_file_size;

struct gil_w {
	const struct gil_cfg *c;
	struct tide_glock *g;     /* NULL: no lock */
	atomic_int *stop;
	int role;                 /* GIL_R_* */
	int fd;                   /* io-net / convoy: client socket */
	int cpu;                  /* -1: not pinned */
	uint64_t n;               /* countdown or operations */
	uint64_t seed;
	uint64_t ops;
	struct tide_hist *h;
	pthread_t t;
};

enum { GIL_R_CPU, GIL_R_FILE, GIL_R_NET, GIL_R_SPIN };

int gil_way_applies(int workload, int way)
{
	return way != GIL_URING || workload != GIL_CPU;
}

static uint64_t gil_now(void)
{
	return tide_now_ns();
}

static void gil_pin_self(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* The CPU of worker i: split puts the IO side on CPU 0 and the rest after. */
static int gil_cpu_for(const struct gil_cfg *c, int i)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (c->pin == GIL_PIN_NONE || n < 1)
		return -1;
	if (c->pin == GIL_PIN_SAME)
		return 0;
	return (int)(i % n);
}

/* while n > 0: n -= 1, with a check point every GIL_CHECK_EVERY turns. */
static void gil_countdown(struct tide_glock *g, uint64_t n)
{
	while (n > 0) {
		uint64_t k = n < GIL_CHECK_EVERY ? n : GIL_CHECK_EVERY;

		n -= k;
		while (k) {
			k--;
			__asm__ volatile("" : "+r"(k));
		}
		if (g)
			tide_glock_check(g);
	}
}

static void gil_begin(struct tide_glock *g)
{
	if (g)
		tide_glock_blocking_begin(g);
}

static void gil_end(struct tide_glock *g)
{
	if (g)
		tide_glock_blocking_end(g);
}

static int gil_full(ssize_t (*io)(int, void *, size_t), int fd, char *b,
		    size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = io(fd, b + done, len - done);

		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

static ssize_t gil_write(int fd, void *b, size_t n)
{
	return write(fd, b, n);
}

/* One request/response; the lock is left around each call, as CPython's
 * socket methods do. */
static int gil_net_op(struct tide_glock *g, int fd, char *buf, size_t len)
{
	int r;

	gil_begin(g);
	r = gil_full(gil_write, fd, buf, len);
	gil_end(g);
	if (r)
		return r;
	gil_begin(g);
	r = gil_full(read, fd, buf, len);
	gil_end(g);
	return r;
}

static void gil_file_op(struct tide_glock *g, struct gil_w *w, char *buf)
{
	uint64_t blocks = gil_file_size / w->c->block;
	uint64_t off;

	w->seed = w->seed * 6364136223846793005ull + 1442695040888963407ull;
	off = ((w->seed >> 33) % (blocks ? blocks : 1)) * w->c->block;
	gil_begin(g);
	if (pread(gil_file_fd, buf, w->c->block, (off_t)off) < 0)
		perror("tide-gil: pread");
	gil_end(g);
}

static void *gil_body(void *arg)
{
	struct gil_w *w = arg;
	char *buf = malloc(w->c->block);
	uint64_t i, t0;

	gil_pin_self(w->cpu);
	if (!buf)
		return NULL;
	memset(buf, 'x', w->c->block);
	if (w->g)
		tide_glock_acquire(w->g);
	switch (w->role) {
	case GIL_R_CPU:
		gil_countdown(w->g, w->n);
		w->ops = w->n;
		break;
	case GIL_R_SPIN:
		while (!atomic_load_explicit(w->stop, memory_order_relaxed))
			gil_countdown(w->g, GIL_CHECK_EVERY * 16);
		break;
	default:
		for (i = 0; w->stop ? !atomic_load(w->stop) : i < w->n; i++) {
			t0 = gil_now();
			if (w->role == GIL_R_FILE)
				gil_file_op(w->g, w, buf);
			else if (gil_net_op(w->g, w->fd, buf, w->c->block))
				break;
			tide_hist_record(w->h, gil_now() - t0);
			w->ops++;
		}
	}
	if (w->g)
		tide_glock_release(w->g);
	free(buf);
	return NULL;
}

int64_t gil_pool_job(void *arg);
int64_t gil_pool_job(void *arg)
{
	gil_body(arg);
	return 0;
}

/* ---- echo peers for io-net and convoy ---------------------------------- */

struct gil_echo {
	int fd;
	uint32_t len;
	pthread_t t;
};

static void *gil_echo_body(void *arg)
{
	struct gil_echo *e = arg;
	char *buf = malloc(e->len);

	while (buf && gil_full(read, e->fd, buf, e->len) == 0 &&
	       gil_full(gil_write, e->fd, buf, e->len) == 0)
		;
	free(buf);
	return NULL;
}

/* n socket pairs; client ends in fds[], echo threads serve the others. */
static int gil_echo_start(struct gil_echo *e, int *fds, int n, uint32_t len)
{
	int i, sv[2];

	for (i = 0; i < n; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
			return -errno;
		fds[i] = sv[0];
		e[i].fd = sv[1];
		e[i].len = len;
		if (pthread_create(&e[i].t, NULL, gil_echo_body, &e[i])) {
			close(sv[0]);
			close(sv[1]);
			fds[i] = -1;
			return -EAGAIN;
		}
	}
	return 0;
}

static void gil_echo_stop(struct gil_echo *e, int *fds, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (fds[i] < 0)
			continue;
		shutdown(fds[i], SHUT_RDWR);
		pthread_join(e[i].t, NULL);
		close(fds[i]);
		close(e[i].fd);
	}
}

/* ---- setup ------------------------------------------------------------- */

int gil_setup(struct gil_cfg *c, char *err, size_t errlen)
{
	char *buf;
	uint64_t i;

	if (c->workload != GIL_IO_FILE)
		return 0;
	if (c->file) {
		gil_file_fd = open(c->file, O_RDONLY | O_CLOEXEC);
		if (gil_file_fd < 0) {
			snprintf(err, errlen, "cannot open %s: %s", c->file,
				 strerror(errno));
			return -errno;
		}
		gil_file_size = (uint64_t)lseek(gil_file_fd, 0, SEEK_END);
		if (gil_file_size < c->block) {
			snprintf(err, errlen, "%s is shorter than one block", c->file);
			return -EINVAL;
		}
		return 0;
	}
	snprintf(gil_tmp_path, sizeof(gil_tmp_path), "/tmp/tide-gil.XXXXXX");
	gil_file_fd = mkstemp(gil_tmp_path);
	if (gil_file_fd < 0) {
		snprintf(err, errlen, "mkstemp: %s", strerror(errno));
		return -errno;
	}
	buf = malloc(1u << 20);
	if (!buf)
		return -ENOMEM;
	memset(buf, 'g', 1u << 20);
	for (i = 0; i < GIL_FILE_SIZE >> 20; i++)
		if (write(gil_file_fd, buf, 1u << 20) != 1 << 20) {
			snprintf(err, errlen, "writing %s: %s", gil_tmp_path,
				 strerror(errno));
			free(buf);
			return -EIO;
		}
	free(buf);
	gil_file_size = GIL_FILE_SIZE;
	return 0;
}

void gil_teardown(void)
{
	if (gil_file_fd >= 0)
		close(gil_file_fd);
	if (gil_tmp_path[0])
		unlink(gil_tmp_path);
	gil_file_fd = -1;
}

/* ---- the uring way ----------------------------------------------------- */

struct gil_ur {
	struct tide_loop *loop;
	struct gil_w *w;
	char *buf;
	uint64_t t0;
	uint64_t *left;           /* shared budget; NULL: run until stop */
	int phase;
};

static void gil_ur_next(struct gil_ur *u);

static void gil_ur_done(void *arg, int64_t res, void *payload)
{
	struct gil_ur *u = arg;

	(void)payload;
	if (res < 0) {
		fprintf(stderr, "tide-gil: uring op: %s\n", strerror((int)-res));
		return;
	}
	if (u->w->role == GIL_R_NET && u->phase == 0) {
		u->phase = 1;
		tide_future_on_done(tide_recv(u->loop, u->w->fd, u->buf,
					      u->w->c->block, MSG_WAITALL),
				    gil_ur_done, u);
		return;
	}
	tide_hist_record(u->w->h, gil_now() - u->t0);
	u->w->ops++;
	gil_ur_next(u);
}

static void gil_ur_next(struct gil_ur *u)
{
	struct gil_w *w = u->w;
	uint64_t blocks, off;

	if (u->left ? *u->left == 0 : atomic_load(w->stop))
		return;
	if (u->left)
		(*u->left)--;
	u->t0 = gil_now();
	u->phase = 0;
	if (w->role == GIL_R_NET) {
		tide_future_on_done(tide_send(u->loop, w->fd, u->buf,
					      w->c->block, 0),
				    gil_ur_done, u);
		return;
	}
	blocks = gil_file_size / w->c->block;
	w->seed = w->seed * 6364136223846793005ull + 1442695040888963407ull;
	off = ((w->seed >> 33) % (blocks ? blocks : 1)) * w->c->block;
	tide_future_on_done(tide_read(u->loop, gil_file_fd, u->buf, w->c->block,
				      off),
			    gil_ur_done, u);
}

struct gil_urargs {
	struct gil_w *w;
	int n;
};

/* One loop thread, one chain of operations per worker's connection/slot. */
static void *gil_uring_body(void *arg)
{
	struct gil_urargs *a = arg;
	struct gil_w *w = a->w;
	struct tide_loop *loop;
	struct gil_ur *u;
	uint64_t left = 0;
	int i, n = a->n;

	gil_pin_self(w[0].cpu);
	if (tide_loop_new(&loop, NULL))
		return NULL;
	u = calloc((size_t)n, sizeof(*u));
	for (i = 0; u && i < n; i++)
		left += w[i].n;
	for (i = 0; u && i < n; i++) {
		u[i].loop = loop;
		u[i].w = &w[i];
		u[i].buf = calloc(1, w[i].c->block);
		u[i].left = w[i].stop ? NULL : &left;
		if (u[i].buf)
			gil_ur_next(&u[i]);
	}
	tide_loop_run(loop);
	for (i = 0; u && i < n; i++)
		free(u[i].buf);
	free(u);
	tide_loop_free(loop);
	return NULL;
}

/* ---- running a way ----------------------------------------------------- */

static double gil_tv(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void gil_sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	nanosleep(&ts, NULL);
}

static int gil_role(int workload)
{
	return workload == GIL_CPU ? GIL_R_CPU :
	       workload == GIL_IO_FILE ? GIL_R_FILE : GIL_R_NET;
}

struct gil_run {
	const struct gil_cfg *c;
	int way;
	int nw;                   /* workers (convoy: 1 IO + threads CPU) */
	struct gil_w *w;          /* nw + 1 (terminator) */
	struct tide_hist *h;           /* shared mapping, nw entries */
	int *fds;
	struct gil_echo *echo;
	int necho;
	atomic_int stop;
	struct tide_glock *g;
};

static int gil_prepare(struct gil_run *x, int way, char *err, size_t errlen)
{
	const struct gil_cfg *c = x->c;
	int convoy = c->workload == GIL_CONVOY, i, rc;
	struct tide_glock_options o = { 0 };

	x->way = way;
	x->nw = convoy ? (way == GIL_SEQ ? 1 : 1 + c->threads) :
		(way == GIL_SEQ ? 1 : c->threads);
	x->w = calloc((size_t)x->nw + 1, sizeof(*x->w));
	x->h = mmap(NULL, sizeof(struct tide_hist) * (size_t)x->nw,
		    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	x->fds = calloc((size_t)x->nw, sizeof(int));
	x->echo = calloc((size_t)x->nw, sizeof(*x->echo));
	if (!x->w || x->h == MAP_FAILED || !x->fds || !x->echo) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (way == GIL_SEQ || way == GIL_GLOCK) {
		o.mode = c->mode;
		o.interval_ns = c->interval_ns;
		rc = tide_glock_new(&x->g, &o);
		if (rc) {
			snprintf(err, errlen, "tide_glock_new: %s", strerror(-rc));
			return rc;
		}
	}
	x->necho = (c->workload == GIL_IO_NET) ? x->nw : convoy ? 1 : 0;
	for (i = 0; i < x->nw; i++)
		x->fds[i] = -1;
	rc = gil_echo_start(x->echo, x->fds, x->necho, c->block);
	if (rc) {
		snprintf(err, errlen, "echo peers: %s", strerror(-rc));
		return rc;
	}
	for (i = 0; i < x->nw; i++) {
		struct gil_w *w = &x->w[i];

		tide_hist_init(&x->h[i]);
		w->c = c;
		w->g = x->g;
		w->h = &x->h[i];
		w->cpu = gil_cpu_for(c, i);
		w->seed = (uint64_t)i * 7919u + 1;
		w->fd = i < x->necho ? x->fds[i] : -1;
		if (convoy) {
			w->role = i == 0 ? GIL_R_NET : GIL_R_SPIN;
			w->stop = &x->stop;
		} else {
			w->role = gil_role(c->workload);
			w->n = c->workload == GIL_CPU ? c->count : c->ops;
			if (way == GIL_SEQ)
				w->n *= (uint64_t)c->threads;
		}
	}
	x->w[x->nw].role = -1;
	return 0;
}

static void gil_cleanup(struct gil_run *x)
{
	if (x->fds)
		gil_echo_stop(x->echo, x->fds, x->necho);
	tide_glock_free(x->g);
	if (x->h && x->h != MAP_FAILED)
		munmap(x->h, sizeof(struct tide_hist) * (size_t)x->nw);
	free(x->w);
	free(x->fds);
	free(x->echo);
}

static void gil_pool_done(void *arg, int64_t res, void *payload)
{
	(void)res;
	(void)payload;
	(*(int *)arg)--;
}

/* Workers [from, nw) in a tide pool, results back on a loop here. */
static int gil_pool_workers(struct gil_run *x, int from, int convoy_io)
{
	struct tide_pool_options po = { 0 };
	struct tide_loop *loop;
	struct tide_pool *pool;
	pthread_t io;
	int i, left = x->nw - from, rc;

	po.threads = (uint32_t)left;
	rc = tide_loop_new(&loop, NULL);
	if (rc)
		return rc;
	rc = tide_pool_new(&pool, &po);
	if (rc) {
		tide_loop_free(loop);
		return rc;
	}
	if (convoy_io)
		pthread_create(&io, NULL, gil_body, &x->w[0]);
	for (i = from; i < x->nw; i++)
		tide_future_on_done(tide_pool_submit(pool, loop, gil_pool_job,
						     &x->w[i]),
				    gil_pool_done, &left);
	if (convoy_io) {
		gil_sleep_s(x->c->duration);
		atomic_store(&x->stop, 1);
		pthread_join(io, NULL);
	}
	while (left > 0 && tide_loop_run_once(loop, 1) >= 0)
		;
	tide_pool_free(pool);
	tide_loop_free(loop);
	return 0;
}

static int gil_processes(struct gil_run *x, int from)
{
	pid_t *pids = calloc((size_t)x->nw, sizeof(pid_t));
	pthread_t io;
	int i, st;

	if (!pids)
		return -ENOMEM;
	for (i = from; i < x->nw; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			gil_body(&x->w[i]);
			_exit(0);
		}
	}
	if (from) {
		pthread_create(&io, NULL, gil_body, &x->w[0]);
		gil_sleep_s(x->c->duration);
		atomic_store(&x->stop, 1);
		pthread_join(io, NULL);
		for (i = from; i < x->nw; i++)
			if (pids[i] > 0)
				kill(pids[i], SIGKILL);
	}
	for (i = from; i < x->nw; i++)
		if (pids[i] > 0)
			waitpid(pids[i], &st, 0);
	free(pids);
	return 0;
}

static int gil_threads(struct gil_run *x, int from, int uring)
{
	int convoy = x->c->workload == GIL_CONVOY, i;
	pthread_t ur;

	for (i = from; i < x->nw; i++)
		pthread_create(&x->w[i].t, NULL, gil_body, &x->w[i]);
	if (uring) {
		/* convoy: the IO worker alone; else every worker's chain */
		struct gil_urargs a = { x->w, convoy ? 1 : x->nw };

		pthread_create(&ur, NULL, gil_uring_body, &a);
		if (convoy) {
			gil_sleep_s(x->c->duration);
			atomic_store(&x->stop, 1);
		}
		pthread_join(ur, NULL);
	} else if (convoy) {
		gil_sleep_s(x->c->duration);
		atomic_store(&x->stop, 1);
	}
	for (i = from; i < x->nw; i++)
		pthread_join(x->w[i].t, NULL);
	return 0;
}

static void gil_collect(struct gil_run *x, struct gil_result *r, double wall)
{
	const struct gil_cfg *c = x->c;
	struct tide_hist all;
	int i, n = c->workload == GIL_CONVOY ? 1 : x->nw;

	tide_hist_init(&all);
	r->ops = 0;
	for (i = 0; i < n; i++) {
		tide_hist_merge(&all, &x->h[i]);
		r->ops += c->workload == GIL_CPU ? x->w[i].n : x->h[i].count;
	}
	r->wall_s = wall;
	r->ops_per_sec = wall > 0 ? (double)r->ops / wall : 0;
	r->has_lat = c->workload != GIL_CPU;
	tide_hist_summary(&all, &r->lat);
	if (x->way == GIL_GLOCK) {
		r->has_lock = 1;
		tide_glock_stats(x->g, &r->gs);
	}
}

int gil_run(const struct gil_cfg *c, int way, struct gil_result *r,
	    char *err, size_t errlen)
{
	struct gil_run x = { .c = c };
	struct rusage s0, s1, c0, c1;
	int convoy = c->workload == GIL_CONVOY, from, rc;
	uint64_t t0, t1;

	memset(r, 0, sizeof(*r));
	r->way = way;
	rc = gil_prepare(&x, way, err, errlen);
	if (rc)
		goto out;
	/* uring: the loop does the IO; convoy: worker 0 is the IO side */
	from = (way == GIL_URING && !convoy) ? x.nw :
	       (convoy && way != GIL_SEQ && way != GIL_GLOCK) ? 1 : 0;
	getrusage(RUSAGE_SELF, &s0);
	getrusage(RUSAGE_CHILDREN, &c0);
	t0 = gil_now();
	if (way == GIL_POOL)
		rc = gil_pool_workers(&x, from, convoy);
	else if (way == GIL_PROC)
		rc = gil_processes(&x, from);
	else
		rc = gil_threads(&x, way == GIL_URING && convoy ? 1 : from,
				 way == GIL_URING);
	t1 = gil_now();
	getrusage(RUSAGE_SELF, &s1);
	getrusage(RUSAGE_CHILDREN, &c1);
	if (rc) {
		snprintf(err, errlen, "%s: %s", gil_way_names[way], strerror(-rc));
		goto out;
	}
	r->cpu_s = gil_tv(s1.ru_utime) - gil_tv(s0.ru_utime) +
		   gil_tv(s1.ru_stime) - gil_tv(s0.ru_stime) +
		   gil_tv(c1.ru_utime) - gil_tv(c0.ru_utime) +
		   gil_tv(c1.ru_stime) - gil_tv(c0.ru_stime);
	r->nvcsw = (s1.ru_nvcsw - s0.ru_nvcsw) + (c1.ru_nvcsw - c0.ru_nvcsw);
	r->nivcsw = (s1.ru_nivcsw - s0.ru_nivcsw) + (c1.ru_nivcsw - c0.ru_nivcsw);
	gil_collect(&x, r, (double)(t1 - t0) / 1e9);
out:
	gil_cleanup(&x);
	return rc;
}
