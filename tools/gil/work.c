// SPDX-License-Identifier: MIT
/*
 * work.c - tide-gil's workloads (cpu, io-file, io-net, convoy) and the
 * ways to run them (sequential, glock, pool, processes, uring).
 *
 * Every way runs the identical per-worker body, gil_body(): take a lock,
 * do the work with a check point every GIL_CHECK_EVERY turns, leave the
 * lock around each blocking call, give the lock back.  Only whose lock it
 * is differs: sequential runs the workers' bodies one after another in one
 * thread under one uncontended lock; glock runs them in threads sharing one
 * lock; pool and processes give each worker a private lock (as separate
 * interpreters with their own GIL), so the lock's own costs are in every
 * figure and the ratios show contention alone.  The uring way does the IO
 * on tide's loop, no lock.
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
#include <sys/stat.h>
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
	"cpu",
	"io-file",
	"io-net",
	"convoy",
};

static char gil_tmp_path[64];
static int gil_file_fd = -1;
static uint64_t gil_file_size;

/* Per worker, in a shared mapping so forked workers report back. */
struct gil_sh {
	struct tide_hist h;
	int err;	  /* first failure, negative errno */
	const char *what; /* the call that failed (a literal) */
};

struct gil_w {
	const struct gil_cfg *c;
	struct tide_glock *g; /* this worker's lock; NULL: none */
	atomic_int *stop;
	int role;   /* GIL_R_* */
	int fd;	    /* io-net / convoy: client socket */
	int cpu;    /* -1: not pinned */
	uint64_t n; /* countdown or operations */
	uint64_t seed;
	struct gil_sh *sh;
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

static void gil_fail(struct gil_w *w, int err, const char *what)
{
	if (!w->sh->err) {
		w->sh->err = err;
		w->sh->what = what;
	}
}

void gil_pin_self(int cpu)
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

int gil_full(ssize_t (*io)(int, void *, size_t), int fd, char *b, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = io(fd, b + done, len - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EPIPE;
		done += (size_t)r;
	}
	return 0;
}

ssize_t gil_write(int fd, void *b, size_t n)
{
	return send(fd, b, n, MSG_NOSIGNAL);
}

/* One request/response; the lock is left around each call, as CPython's
 * socket methods do.  Before each call, holding the lock, the work the
 * interpreter does around it (--call-cost; none by default). */
static int gil_net_op(struct gil_w *w, char *buf, size_t len)
{
	int r;

	gil_countdown(w->g, w->c->call_turns);
	tide_glock_blocking_begin(w->g);
	r = gil_full(gil_write, w->fd, buf, len);
	tide_glock_blocking_end(w->g);
	if (r) {
		gil_fail(w, r, "send");
		return r;
	}
	gil_countdown(w->g, w->c->call_turns);
	tide_glock_blocking_begin(w->g);
	r = gil_full(read, w->fd, buf, len);
	tide_glock_blocking_end(w->g);
	if (r)
		gil_fail(w, r, "recv");
	return r;
}

static uint64_t gil_next_off(struct gil_w *w)
{
	uint64_t blocks = gil_file_size / w->c->block;

	w->seed = w->seed * 6364136223846793005ull + 1442695040888963407ull;
	return ((w->seed >> 33) % (blocks ? blocks : 1)) * w->c->block;
}

static int gil_file_op(struct gil_w *w, char *buf)
{
	off_t off = (off_t)gil_next_off(w);
	ssize_t r;

	gil_countdown(w->g, w->c->call_turns);
	tide_glock_blocking_begin(w->g);
	r = pread(gil_file_fd, buf, w->c->block, off);
	tide_glock_blocking_end(w->g);
	if (r < 0) {
		gil_fail(w, -errno, "pread");
		return -1;
	}
	return 0;
}

static void *gil_body(void *arg)
{
	struct gil_w *w = arg;
	char *buf = malloc(w->c->block);
	uint64_t i, t0;

	gil_pin_self(w->cpu);
	if (!buf) {
		gil_fail(w, -ENOMEM, "malloc");
		return NULL;
	}
	memset(buf, 'x', w->c->block);
	tide_glock_acquire(w->g);
	switch (w->role) {
	case GIL_R_CPU:
		gil_countdown(w->g, w->n);
		break;
	case GIL_R_SPIN:
		while (!atomic_load_explicit(w->stop, memory_order_relaxed))
			gil_countdown(w->g, GIL_CHECK_EVERY * 16);
		break;
	default:
		for (i = 0; w->stop ? !atomic_load(w->stop) : i < w->n; i++) {
			t0 = gil_now();
			if (w->role == GIL_R_FILE ?
				    gil_file_op(w, buf) :
				    gil_net_op(w, buf, w->c->block))
				break;
			tide_hist_record(&w->sh->h, gil_now() - t0);
		}
	}
	tide_glock_release(w->g);
	free(buf);
	return NULL;
}

/* sequential: every worker's body in turn, in this one thread */
static void *gil_seq_body(void *arg)
{
	struct gil_w *w = arg;

	for (; w->role >= 0; w++)
		gil_body(w);
	return NULL;
}

static int64_t gil_pool_job(void *arg)
{
	gil_body(arg);
	return 0;
}

/* ---- setup ------------------------------------------------------------- */

static int gil_open_file(struct gil_cfg *c, char *err, size_t errlen)
{
	struct stat st;
	char *probe;
	ssize_t r;

	gil_file_fd = open(c->file, O_RDONLY | O_CLOEXEC);
	if (gil_file_fd < 0 || fstat(gil_file_fd, &st)) {
		snprintf(err, errlen, "cannot open %s: %s", c->file,
			 strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		snprintf(err, errlen,
			 "%s is %s, not a regular file or block device",
			 c->file,
			 S_ISDIR(st.st_mode) ? "a directory" : "special");
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	}
	gil_file_size = (uint64_t)lseek(gil_file_fd, 0, SEEK_END);
	if (gil_file_size < c->block) {
		snprintf(err, errlen,
			 "%s has %llu bytes, less than one --block of %u",
			 c->file, (unsigned long long)gil_file_size, c->block);
		return -EINVAL;
	}
	probe = malloc(c->block);
	if (!probe)
		return -ENOMEM;
	r = pread(gil_file_fd, probe, c->block, 0);
	free(probe);
	if (r < 0) {
		snprintf(err, errlen, "reading %s: %s", c->file,
			 strerror(errno));
		return -errno;
	}
	return 0;
}

int gil_setup(struct gil_cfg *c, char *err, size_t errlen)
{
	char *buf;
	uint64_t i;

	if (c->workload != GIL_IO_FILE)
		return 0;
	if (c->file)
		return gil_open_file(c, err, errlen);
	snprintf(gil_tmp_path, sizeof(gil_tmp_path), "/tmp/tide-gil.XXXXXX");
	gil_file_fd = mkostemp(gil_tmp_path, O_CLOEXEC);
	if (gil_file_fd < 0) {
		snprintf(err, errlen, "mkstemp: %s", strerror(errno));
		return -errno;
	}
	if (c->block > GIL_FILE_SIZE) {
		snprintf(err, errlen,
			 "--block %u is larger than the %u-byte test file",
			 c->block, GIL_FILE_SIZE);
		return -EINVAL;
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
	gil_tmp_path[0] = 0;
	gil_file_fd = -1;
}

int gil_file_fd_get(uint64_t *size)
{
	*size = gil_file_size;
	return gil_file_fd;
}

/* ---- the uring way ----------------------------------------------------- */

struct gil_ur {
	struct tide_loop *loop;
	struct gil_w *w;
	char *buf;
	uint64_t t0;
	uint64_t *left; /* shared budget; NULL: run until stop */
	int phase;
};

static void gil_ur_next(struct gil_ur *u);

static void gil_ur_submit(struct gil_ur *u, struct tide_future *f,
			  tide_done_fn *fn)
{
	if (tide_future_on_done(f, fn, u))
		gil_fail(u->w, -ENOMEM, "submitting an io_uring operation");
}

static void gil_ur_done(void *arg, int64_t res, void *payload)
{
	struct gil_ur *u = arg;
	struct gil_w *w = u->w;

	(void)payload;
	if (res < 0 || (res == 0 && w->role == GIL_R_NET)) {
		gil_fail(w, res < 0 ? (int)res : -EPIPE,
			 w->role == GIL_R_FILE ? "io_uring read" :
			 u->phase	       ? "io_uring recv" :
						 "io_uring send");
		return;
	}
	if (w->role == GIL_R_NET && u->phase == 0) {
		u->phase = 1;
		gil_ur_submit(u,
			      tide_recv(u->loop, w->fd, u->buf, w->c->block,
					MSG_WAITALL),
			      gil_ur_done);
		return;
	}
	tide_hist_record(&w->sh->h, gil_now() - u->t0);
	gil_ur_next(u);
}

static void gil_ur_next(struct gil_ur *u)
{
	struct gil_w *w = u->w;

	if (u->left ? *u->left == 0 : atomic_load(w->stop))
		return;
	if (u->left)
		(*u->left)--;
	u->t0 = gil_now();
	u->phase = 0;
	if (w->role == GIL_R_NET)
		gil_ur_submit(u,
			      tide_send(u->loop, w->fd, u->buf, w->c->block, 0),
			      gil_ur_done);
	else
		gil_ur_submit(u,
			      tide_read(u->loop, gil_file_fd, u->buf,
					w->c->block, gil_next_off(w)),
			      gil_ur_done);
}

struct gil_urargs {
	struct gil_w *w;
	int n;
};

/* One loop thread, one chain of operations per worker's connection/slot. */
static void *gil_uring_body(void *arg)
{
	struct tide_loop_options lo = { .flags = TIDE_LOOP_REQUIRE_URING };
	struct gil_urargs *a = arg;
	struct gil_w *w = a->w;
	struct tide_loop *loop;
	struct gil_ur *u;
	uint64_t left = 0;
	int i, n = a->n, rc;

	gil_pin_self(w[0].cpu);
	/* the uring way measures io_uring: no falling back to epoll */
	rc = tide_loop_new(&loop, &lo);
	if (rc) {
		gil_fail(w, rc, "creating the io_uring loop");
		return NULL;
	}
	u = calloc((size_t)n, sizeof(*u));
	if (!u)
		gil_fail(w, -ENOMEM, "malloc");
	for (i = 0; u && i < n; i++)
		left += w[i].n;
	for (i = 0; u && i < n; i++) {
		u[i].loop = loop;
		u[i].w = &w[i];
		u[i].buf = calloc(1, w[i].c->block);
		u[i].left = w[i].stop ? NULL : &left;
		if (u[i].buf)
			gil_ur_next(&u[i]);
		else
			gil_fail(&w[i], -ENOMEM, "malloc");
	}
	rc = tide_loop_run(loop);
	if (rc < 0)
		gil_fail(w, rc, "running the io_uring loop");
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
	struct timespec ts = { (time_t)s,
			       (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

struct gil_run {
	const struct gil_cfg *c;
	int way;
	int nw;		   /* workers (convoy: 1 IO + threads CPU) */
	struct gil_w *w;   /* nw + 1 (terminator) */
	struct gil_sh *sh; /* shared mapping, nw entries */
	struct tide_glock **locks;
	struct gil_peers peers;
	atomic_int stop;
};

static int gil_prepare(struct gil_run *x, int way, char *err, size_t errlen)
{
	const struct gil_cfg *c = x->c;
	int convoy = c->workload == GIL_CONVOY, i, rc, shared;
	struct tide_glock_options o = { 0 };

	x->way = way;
	x->nw = convoy ? (way == GIL_SEQ ? 1 : 1 + c->threads) : c->threads;
	x->w = calloc((size_t)x->nw + 1, sizeof(*x->w));
	x->locks = calloc((size_t)x->nw, sizeof(*x->locks));
	x->sh = mmap(NULL, sizeof(*x->sh) * (size_t)x->nw,
		     PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (x->sh == MAP_FAILED)
		x->sh = NULL;
	if (!x->w || !x->sh || !x->locks) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* sequential and glock share one lock; the others have their own */
	shared = way == GIL_SEQ || way == GIL_GLOCK;
	o.mode = c->mode;
	o.interval_ns = c->interval_ns;
	for (i = 0; i < (shared ? 1 : x->nw); i++) {
		rc = tide_glock_new(&x->locks[i], &o);
		if (rc) {
			snprintf(err, errlen, "tide_glock_new: %s",
				 strerror(-rc));
			return rc;
		}
	}
	rc = gil_peers_start(&x->peers,
			     c->workload == GIL_IO_NET ? x->nw :
			     convoy		       ? 1 :
							 0,
			     c->block, gil_peer_cpu(c));
	if (rc) {
		snprintf(err, errlen, "echo peers: %s", strerror(-rc));
		return rc;
	}
	for (i = 0; i < x->nw; i++) {
		struct gil_w *w = &x->w[i];

		tide_hist_init(&x->sh[i].h);
		w->c = c;
		w->sh = &x->sh[i];
		w->g = x->locks[shared ? 0 : i];
		w->cpu = gil_cpu_for(c, i);
		w->seed = (uint64_t)i * 7919u + 1;
		w->fd = i < x->peers.n ? x->peers.fds[i] : -1;
		if (convoy) {
			w->role = i == 0 ? GIL_R_NET : GIL_R_SPIN;
			w->stop = &x->stop;
		} else {
			w->role = c->workload == GIL_CPU     ? GIL_R_CPU :
				  c->workload == GIL_IO_FILE ? GIL_R_FILE :
							       GIL_R_NET;
			w->n = c->workload == GIL_CPU ? c->count : c->ops;
		}
	}
	x->w[x->nw].role = -1;
	return 0;
}

static void gil_cleanup(struct gil_run *x)
{
	int i;

	gil_peers_stop(&x->peers);
	for (i = 0; x->locks && i < x->nw; i++)
		tide_glock_free(x->locks[i]);
	if (x->sh)
		munmap(x->sh, sizeof(*x->sh) * (size_t)x->nw);
	free(x->locks);
	free(x->w);
}

/* The convoy's IO side runs for the duration, then everybody stops. */
static int gil_convoy_io(struct gil_run *x)
{
	pthread_t io;
	int rc = pthread_create(&io, NULL, gil_body, &x->w[0]);

	if (!rc)
		gil_sleep_s(x->c->duration);
	atomic_store(&x->stop, 1);
	if (!rc)
		pthread_join(io, NULL);
	return -rc;
}

static void gil_pool_done(void *arg, int64_t res, void *payload)
{
	(void)res;
	(void)payload;
	(*(int *)arg)--;
}

/* Workers [from, nw) in a tide pool, results back on a loop here. */
static int gil_pool_workers(struct gil_run *x, int from)
{
	struct tide_pool_options po = { 0 };
	struct tide_loop *loop;
	struct tide_pool *pool;
	int i, left = 0, rc;

	po.threads = (uint32_t)(x->nw - from);
	rc = tide_loop_new(&loop, NULL);
	if (rc)
		return rc;
	rc = tide_pool_new(&pool, &po);
	if (rc) {
		tide_loop_free(loop);
		return rc;
	}
	for (i = from; i < x->nw; i++) {
		if (tide_future_on_done(tide_pool_submit(pool, loop,
							 gil_pool_job,
							 &x->w[i]),
					gil_pool_done, &left)) {
			rc = -ENOMEM;
			break;
		}
		left++;
	}
	if (from) {
		int e = gil_convoy_io(x);

		rc = rc ? rc : e;
	}
	while (left > 0 && tide_loop_run_once(loop, 1) >= 0)
		;
	tide_pool_free(pool);
	tide_loop_free(loop);
	return rc;
}

static int gil_processes(struct gil_run *x, int from)
{
	pid_t *pids = calloc((size_t)x->nw, sizeof(pid_t));
	int i, st, rc = 0;

	if (!pids)
		return -ENOMEM;
	for (i = from; i < x->nw && !rc; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			free(pids);
			gil_body(&x->w[i]);
			_exit(0);
		}
		if (pids[i] < 0)
			rc = -errno;
	}
	if (from) {
		int e = gil_convoy_io(x);

		rc = rc ? rc : e;
		for (i = from; i < x->nw; i++)
			if (pids[i] > 0)
				kill(pids[i], SIGKILL);
	}
	for (i = from; i < x->nw; i++)
		if (pids[i] > 0 && waitpid(pids[i], &st, 0) > 0 && !from &&
		    !(WIFEXITED(st) && WEXITSTATUS(st) == 0) && !rc)
			rc = -ECHILD;
	free(pids);
	return rc;
}

/* Threads for workers [from, nw); for the uring way a loop thread too. */
static int gil_threads(struct gil_run *x, int from, int uring)
{
	int convoy = x->c->workload == GIL_CONVOY, i, made, rc = 0;
	struct gil_urargs a = { x->w, convoy ? 1 : x->nw };
	pthread_t ur;

	for (made = from; made < x->nw && !rc; made++)
		rc = pthread_create(&x->w[made].t, NULL, gil_body, &x->w[made]);
	if (rc)
		made--;
	if (uring && !rc)
		rc = pthread_create(&ur, NULL, gil_uring_body, &a);
	if (convoy && !rc)
		gil_sleep_s(x->c->duration);
	atomic_store(&x->stop, 1);
	if (uring && !rc)
		pthread_join(ur, NULL);
	for (i = from; i < made; i++)
		pthread_join(x->w[i].t, NULL);
	return -rc;
}

static void gil_collect(struct gil_run *x, struct gil_result *r, double wall)
{
	const struct gil_cfg *c = x->c;
	struct tide_hist all;
	int i, n = c->workload == GIL_CONVOY ? 1 : x->nw;

	tide_hist_init(&all);
	r->ops = 0;
	for (i = 0; i < n; i++) {
		tide_hist_merge(&all, &x->sh[i].h);
		r->ops += c->workload == GIL_CPU ? x->w[i].n : x->sh[i].h.count;
	}
	r->wall_s = wall;
	r->ops_per_sec = wall > 0 ? (double)r->ops / wall : 0;
	r->has_lat = c->workload != GIL_CPU;
	tide_hist_summary(&all, &r->lat);
	r->handoffs_per_s = -1;
	if (x->way == GIL_GLOCK) {
		r->has_lock = 1;
		tide_glock_stats(x->locks[0], &r->gs);
		r->handoffs_per_s = r->gs.handoffs_per_s;
	}
}

static int gil_first_error(struct gil_run *x, char *err, size_t errlen)
{
	int i;

	for (i = 0; i < x->nw; i++)
		if (x->sh[i].err) {
			snprintf(err, errlen, "%s: %s: %s",
				 gil_way_names[x->way], x->sh[i].what,
				 tide_strerror(x->sh[i].err));
			return x->sh[i].err;
		}
	return 0;
}

static int gil_run_once(const struct gil_cfg *c, int way, struct gil_result *r,
			char *err, size_t errlen)
{
	struct gil_run x = { .c = c };
	struct rusage s0, s1, c0, c1;
	int convoy = c->workload == GIL_CONVOY, from, rc;
	uint64_t t0, t1;

	memset(r, 0, sizeof(*r));
	r->way = way;
	r->specialised = -1; /* an interpreter's state: CPython only */
	rc = gil_prepare(&x, way, err, errlen);
	if (rc)
		goto out;
	/* uring: the loop does the IO; convoy: worker 0 is the IO side */
	from = (way == GIL_URING && !convoy)		      ? x.nw :
	       (convoy && way != GIL_SEQ && way != GIL_GLOCK) ? 1 :
								0;
	getrusage(RUSAGE_SELF, &s0);
	getrusage(RUSAGE_CHILDREN, &c0);
	t0 = gil_now();
	if (way == GIL_POOL) {
		rc = gil_pool_workers(&x, from);
	} else if (way == GIL_PROC) {
		rc = gil_processes(&x, from);
	} else if (way == GIL_SEQ && !convoy) {
		pthread_t t;

		rc = -pthread_create(&t, NULL, gil_seq_body, x.w);
		if (!rc)
			pthread_join(t, NULL);
	} else {
		rc = gil_threads(&x, way == GIL_URING && convoy ? 1 : from,
				 way == GIL_URING);
	}
	t1 = gil_now();
	getrusage(RUSAGE_SELF, &s1);
	getrusage(RUSAGE_CHILDREN, &c1);
	if (rc) {
		snprintf(err, errlen, "%s: %s", gil_way_names[way],
			 tide_strerror(rc));
		goto out;
	}
	rc = gil_first_error(&x, err, errlen);
	if (rc)
		goto out;
	r->cpu_s = gil_tv(s1.ru_utime) - gil_tv(s0.ru_utime) +
		   gil_tv(s1.ru_stime) - gil_tv(s0.ru_stime) +
		   gil_tv(c1.ru_utime) - gil_tv(c0.ru_utime) +
		   gil_tv(c1.ru_stime) - gil_tv(c0.ru_stime);
	r->nvcsw = (s1.ru_nvcsw - s0.ru_nvcsw) + (c1.ru_nvcsw - c0.ru_nvcsw);
	r->nivcsw =
		(s1.ru_nivcsw - s0.ru_nivcsw) + (c1.ru_nivcsw - c0.ru_nivcsw);
	gil_collect(&x, r, (double)(t1 - t0) / 1e9);
out:
	gil_cleanup(&x);
	return rc;
}

int gil_run(const struct gil_cfg *c, int way, struct gil_result *r, char *err,
	    size_t errlen)
{
	struct gil_cfg wc = *c;
	int rc;

	if (c->warmup > 0) {
		wc.count = (uint64_t)((double)c->count * c->warmup) + 1;
		wc.ops = (uint64_t)((double)c->ops * c->warmup) + 1;
		wc.duration = c->duration * c->warmup;
		if (wc.duration < 0.02)
			wc.duration = 0.02;
		rc = gil_run_once(&wc, way, r, err, errlen);
		if (rc)
			return rc;
	}
	return gil_run_once(c, way, r, err, errlen);
}

/* ---- calibration ------------------------------------------------------- */

static uint64_t gil_clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double gil_rate_on(clockid_t clk, double seconds)
{
	struct tide_glock *g;
	uint64_t n = 1u << 16, t0, dt;

	if (tide_glock_new(&g, NULL))
		return 0;
	tide_glock_acquire(g);
	gil_countdown(g, 1u << 22);
	for (;;) {
		t0 = gil_clock_ns(clk);
		gil_countdown(g, n);
		dt = gil_clock_ns(clk) - t0;
		if ((double)dt >= seconds * 1e9 || n >= UINT64_MAX / 4)
			break;
		n *= 2;
	}
	tide_glock_release(g);
	tide_glock_free(g);
	return (double)n * 1e9 / (double)(dt ? dt : 1);
}

double gil_countdown_rate(double seconds)
{
	return gil_rate_on(CLOCK_MONOTONIC, seconds);
}

double gil_countdown_cpu_rate(double seconds)
{
	return gil_rate_on(CLOCK_THREAD_CPUTIME_ID, seconds);
}

double gil_io_rate(const struct gil_cfg *c, double seconds, char *err,
		   size_t errlen)
{
	struct gil_cfg one = *c;
	struct gil_result r;

	one.threads = 1;
	one.warmup = 0;
	for (one.ops = 64;; one.ops *= 2) {
		if (gil_run_once(&one, GIL_SEQ, &r, err, errlen))
			return 0;
		if (r.wall_s >= seconds || one.ops >= (1u << 30))
			break;
	}
	return (double)one.ops / r.wall_s;
}
