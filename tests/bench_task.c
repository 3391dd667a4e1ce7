// SPDX-License-Identifier: MIT
/*
 * bench_task.c - what a task costs, beside a continuation doing the same
 * work.  Rounds are interleaved (task, continuation, task, ...) and medians
 * printed, one `name value unit` line per figure:
 *
 *   switch_raw        one context switch (tide__ctx_swap), ns
 *   yield_task        task -> loop -> task (tide_task_yield()), ns
 *   yield_cont        a call_soon callback re-queueing itself, ns
 *   spawn_task        spawn + run + finish with a pooled stack, ns
 *   spawn_cont        tide_future_then() on a ready future, ns
 *   await_nop_task    tide_await(tide_nop()) in 32 tasks, ns per NOP
 *   nop_cont          tide_nop() + one on_done continuation, 32 chains
 *   await_ratio       await_nop_task / nop_cont (goal <= 1.3)
 *   mem_conns         tasks blocked in a read on idle TCP connections
 *   mem_rss_total     server RSS with them, MiB (goal < 128 for 10 000)
 *   mem_per_conn      (RSS with them - RSS before) / connections, KiB
 *
 * usage: bench_task [seconds-per-round (0.2)] [rounds (7)] [connections
 * (10000; 0 skips the memory figure)]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <netinet/in.h>
#include <unistd.h>

#include "task_impl.h"

static int BATCH = 32;

static uint64_t round_ns;

/*
 * Costs are this thread's CPU time (user + system, the io_uring_enter()
 * calls included) per operation, not wall time: on a shared, loaded
 * machine a round's wall time counts the time other processes had the
 * CPU, its CPU time does not.  Round lengths are wall time.
 */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
static uint64_t nops; /* operations of the last round */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static struct tide_loop *new_loop(void)
{
	struct tide_loop *loop;
	int ret = tide_loop_new(&loop, NULL);

	if (ret) {
		fprintf(stderr, "bench_task: %s\n", tide_strerror(ret));
		exit(77);
	}
	return loop;
}

/* ---- raw switch ---- */

static struct tide__ctx main_ctx, side_ctx;
static volatile uint64_t side_n;

static void side_entry(void *arg)
{
	(void)arg;
	for (;;) {
		side_n++;
		(void)tide__ctx_swap(&side_ctx, &main_ctx, 0);
	}
}

static double run_switch_raw(void)
{
	static char *stack;
	const uint64_t n = 2000000;
	uint64_t t0;

	if (!stack) {
		stack = malloc(64 * 1024);
		tide__ctx_make(&side_ctx, stack, stack + 64 * 1024, side_entry,
			       NULL);
	}
	t0 = cpu_ns();
	for (uint64_t i = 0; i < n; i++)
		(void)tide__ctx_swap(&main_ctx, &side_ctx, 0);
	/* two switches per iteration */
	return (double)(cpu_ns() - t0) / (double)(2 * n);
}

/* ---- yield vs call_soon ---- */

static uint64_t y_count;
static uint64_t y_deadline;

static int64_t yield_body(void *arg)
{
	(void)arg;
	while (tide_now_ns() < y_deadline) {
		for (int i = 0; i < 64; i++)
			tide_task_yield();
		y_count += 64;
	}
	return 0;
}

static double run_yield_task(void)
{
	struct tide_loop *loop = new_loop();
	uint64_t c0 = cpu_ns();

	y_count = 0;
	y_deadline = tide_now_ns() + round_ns;
	tide_run(loop, yield_body, NULL);
	double ns = (double)(cpu_ns() - c0) / (double)y_count;

	tide_loop_free(loop);
	return ns;
}

static struct tide_loop *c_loop;

static void soon_body(void *arg)
{
	(void)arg;
	if ((++y_count & 63) == 0 && tide_now_ns() >= y_deadline)
		return;
	tide_call_soon(c_loop, soon_body, NULL);
}

static double run_yield_cont(void)
{
	uint64_t t0;
	double ns;

	c_loop = new_loop();
	/* the task above keeps a promise pending; so does this */
	struct tide_future *p = tide_promise_new(c_loop);

	y_count = 0;
	t0 = cpu_ns();
	y_deadline = tide_now_ns() + round_ns;
	tide_call_soon(c_loop, soon_body, NULL);
	while (tide__taskq_len(&tide__core(c_loop)->ready))
		tide_loop_run_once(c_loop, 0);
	ns = (double)(cpu_ns() - t0) / (double)y_count;
	tide_promise_resolve(p, 0, NULL);
	tide_future_release(p);
	tide_loop_free(c_loop);
	return ns;
}

/* ---- spawn + finish vs then on a ready future ---- */

static int64_t empty_task(void *arg)
{
	return (int64_t)(intptr_t)arg;
}

static struct tide_future *ready_then(struct tide_loop *loop, void *arg,
				      int64_t res, void *payload)
{
	(void)arg;
	(void)payload;
	return tide_future_ready(loop, res, NULL);
}

static double run_spawn(int task)
{
	struct tide_loop *loop = new_loop();
	uint64_t n = 0, t0 = tide_now_ns(), now = t0, c0 = cpu_ns();

	while (now - t0 < round_ns) {
		for (int i = 0; i < 100; i++) {
			struct tide_future *f =
				task ? tide_task_spawn(loop, empty_task, NULL,
						       NULL) :
				       tide_future_then(
					       tide_future_ready(loop, 0, NULL),
					       ready_then, NULL);

			tide_future_release(f);
		}
		tide_loop_run(loop);
		n += 100;
		now = tide_now_ns();
	}
	tide_loop_free(loop);
	nops = n;
	return (double)(cpu_ns() - c0) / (double)n;
}

/* ---- await NOP vs NOP with one continuation ---- */

static int64_t nop_body(void *arg)
{
	struct tide_loop *loop = arg;

	while (tide_now_ns() < y_deadline) {
		for (int i = 0; i < 64; i++)
			tide_await(tide_nop(loop));
		nops += 64;
	}
	return 0;
}

static double run_await_nop(void)
{
	struct tide_loop *loop = new_loop();
	uint64_t c0 = cpu_ns();

	nops = 0;
	y_deadline = tide_now_ns() + round_ns;
	for (int i = 0; i < BATCH; i++)
		tide_future_release(
			tide_task_spawn(loop, nop_body, loop, NULL));
	tide_loop_run(loop);
	double ns = (double)(cpu_ns() - c0) / (double)nops;

	tide_loop_free(loop);
	return ns;
}

static void nop_done(void *arg, int64_t res, void *payload)
{
	struct tide_loop *loop = arg;

	(void)payload;
	if (res < 0)
		return;
	if ((++nops & 63) == 0 && tide_now_ns() >= y_deadline)
		return;
	tide_future_on_done(tide_nop(loop), nop_done, loop);
}

static double run_nop_cont(void)
{
	struct tide_loop *loop = new_loop();
	uint64_t c0 = cpu_ns();

	nops = 0;
	y_deadline = tide_now_ns() + round_ns;
	for (int i = 0; i < BATCH; i++)
		tide_future_on_done(tide_nop(loop), nop_done, loop);
	tide_loop_run(loop);
	double ns = (double)(cpu_ns() - c0) / (double)nops;

	tide_loop_free(loop);
	return ns;
}

/* ---- memory: N tasks blocked in a read on idle connections ---- */

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static uint64_t blocked;

static int64_t idle_conn(void *arg, struct tide_stream *s)
{
	char line[256];

	(void)arg;
	blocked++;
	return tide_await(tide_stream_read_line(s, line, sizeof(line)));
}

static void client(uint16_t port, int n, int go)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char ch;

	for (int i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd < 0 ||
		    connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
			perror("bench_task: client connect");
			_exit(1);
		}
	}
	/* hold the connections until the parent has measured */
	if (read(go, &ch, 1) < 0)
		_exit(1);
	_exit(0);
}

static int run_memory(int n)
{
	struct tide_loop *loop = new_loop();
	struct tide_task_handler h = { .fn = idle_conn };
	struct tide_server *srv;
	struct tide_addr a;
	struct rlimit rl;
	long before, with;
	int go[2], status;
	pid_t pid;
	char port[16];

	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < (rlim_t)n + 64) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < (rlim_t)n + 64) {
			/* the machine's limit, not a failure of tide */
			printf("mem_conns skipped: RLIMIT_NOFILE %llu is too low "
			       "for %d connections (pass fewer as 3rd argument)\n",
			       (unsigned long long)rl.rlim_cur, n);
			tide_loop_free(loop);
			return 0;
		}
	}
	tide_addr_parse(&a, "127.0.0.1:0");
	if (tide_task_server_new(loop, &a, NULL, &h, &srv)) {
		fprintf(stderr, "bench_task: cannot listen\n");
		return 1;
	}
	tide_server_addr(srv, &a);
	tide_addr_format(&a, port, sizeof(port)); /* "127.0.0.1:PORT" */
	before = rss_kib();
	if (pipe(go))
		return 1;
	pid = fork();
	if (pid == 0) {
		close(go[1]);
		client((uint16_t)atoi(strrchr(port, ':') + 1), n, go[0]);
	}
	close(go[0]);
	while (blocked < (uint64_t)n)
		if (tide_loop_run_once(loop, 1) < 0)
			break;
	with = rss_kib();
	printf("mem_conns %d tasks\n", n);
	printf("mem_rss_before %.1f MiB\n", (double)before / 1024);
	printf("mem_rss_total %.1f MiB\n", (double)with / 1024);
	printf("mem_per_conn %.2f KiB\n", (double)(with - before) / n);
	close(go[1]);
	waitpid(pid, &status, 0);
	tide_await(tide_server_stop(srv, 1000000000ull));
	tide_server_free(srv);
	tide_loop_free(loop);
	return 0;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 0.2;
	int rounds = argc > 2 ? atoi(argv[2]) : 7;
	int conns = argc > 3 ? atoi(argv[3]) : 10000;
	double sw[64], yt[64], yc[64], st[64], sc[64], at[64], nc[64],
		ratio[64];

	if (rounds < 1 || rounds > 64 || secs <= 0) {
		fprintf(stderr,
			"usage: bench_task [seconds] [rounds <= 64] [conns]\n");
		return 2;
	}
	round_ns = (uint64_t)(secs * 1e9);
	if (getenv("BENCH_TASK_BATCH"))
		BATCH = atoi(getenv("BENCH_TASK_BATCH"));
	if (argc > 4) {
		/* one figure alone, for profiling: await | cont | spawn */
		for (int r = 0; r < rounds; r++) {
			double ns = !strcmp(argv[4], "await") ?
					    run_await_nop() :
				    !strcmp(argv[4], "spawn") ? run_spawn(1) :
								run_nop_cont();

			/* the count lets instruction counters (callgrind)
			 * give a cost per operation */
			printf("%s %.1f ns (%llu ops)\n", argv[4], ns,
			       (unsigned long long)nops);
		}
		return 0;
	}
	for (int r = 0; r < rounds; r++) {
		sw[r] = run_switch_raw();
		yt[r] = run_yield_task();
		yc[r] = run_yield_cont();
		st[r] = run_spawn(1);
		sc[r] = run_spawn(0);
		at[r] = run_await_nop();
		nc[r] = run_nop_cont();
		ratio[r] = at[r] / nc[r];
	}
	printf("switch_raw %.1f ns\n", median(sw, rounds));
	printf("yield_task %.1f ns\n", median(yt, rounds));
	printf("yield_cont %.1f ns\n", median(yc, rounds));
	printf("spawn_task %.1f ns\n", median(st, rounds));
	printf("spawn_cont %.1f ns\n", median(sc, rounds));
	printf("await_nop_task %.1f ns\n", median(at, rounds));
	printf("nop_cont %.1f ns\n", median(nc, rounds));
	printf("await_ratio %.3f x (median of per-round ratios; goal <= 1.3)\n",
	       median(ratio, rounds));
	fflush(stdout);
	return conns > 0 ? run_memory(conns) : 0;
}
