/* SPDX-License-Identifier: MIT */
/* helpers.h - shared test helpers (t_ prefix). */
#ifndef TIDE_TEST_HELPERS_H
#define TIDE_TEST_HELPERS_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <tide.h>

/* The ring configuration the current pass of t_run_configs() uses. */
extern struct tide_loop_options t_opts;
extern const char *t_config_name;

/* A loop with t_opts; skips the test when io_uring is unusable here. */
struct tide_loop *t_loop(void);

/* Does TIDE_FAULT name cancel (operations may complete -ECANCELED, the
 * kernel having cancelled them before they ran)?  The library issues its
 * own operations again then; one the caller issued is the caller's to
 * redo, as the helpers below do. */
bool t_fault_cancels(void);

/* t_loop() with TIDE_FAULT's cancel off, for tests that assert the exact
 * result of single operations they issue themselves. */
struct tide_loop *t_loop_exact(void);

/* t_wait(tide_connect_timeout()), issued again after an -ECANCELED when
 * t_fault_cancels(): the connected fd, or the error. */
int64_t t_connect(struct tide_loop *loop, const struct tide_addr *a, int type,
		  uint64_t timeout_ns);

/*
 * Must an operation the test issued, which said res, be issued again?
 * Only for exactly -ECANCELED under a cancelling TIDE_FAULT
 * (t_fault_cancels()): the kernel cancelled it before it ran, and it
 * moved nothing.  Not for an operation the test cancels itself: such a
 * site must see its own -ECANCELED, so it stays direct.
 */
bool t_redo(int64_t res);

/* t_wait(loop, f), then release f: the result. */
int64_t t_result(struct tide_loop *loop, struct tide_future *f);

/*
 * res = the result of the operation that the expression issue starts (a
 * future), run to its end with t_result(); issue is evaluated again while
 * t_redo() says so.  T_AWAIT is the same with tide_await(), for tasks.
 */
#define T_OP(res, loop, issue)                     \
	do                                         \
		(res) = t_result((loop), (issue)); \
	while (t_redo(res))
/* T_OP keeping the future: f is the last one issued, resolved, for the
 * caller to read (its payload) and release. */
#define T_OP_KEEP(res, f, loop, issue)       \
	do {                                 \
		(f) = (issue);               \
		(res) = t_wait((loop), (f)); \
	} while (t_redo(res) && (tide_future_release(f), true))
#define T_AWAIT(res, issue)                \
	do                                 \
		(res) = tide_await(issue); \
	while (t_redo(res))

/*
 * Whole transfers, as a real caller makes them: a stream socket or a pipe
 * may move fewer bytes than asked for (TIDE_FAULT's short does it), so
 * each repeats until want bytes moved; every step is redone after an
 * unasked -ECANCELED (t_redo()).  They await with tide_await(), so they
 * work in a task and outside one.
 *
 * t_send_all: tide_send() of buf's len bytes: len, or the first error.
 * t_recv_all: tide_recv() (t_read_all: tide_read() at TIDE_OFF_CUR) into
 * buf of cap bytes until want came, each step offering all the room left,
 * so bytes beyond want show in the count: the count (fewer than want at
 * end of stream), or the first error.
 */
int64_t t_send_all(struct tide_loop *loop, int fd, const void *buf, size_t len);
int64_t t_recv_all(struct tide_loop *loop, int fd, void *buf, size_t cap,
		   size_t want);
int64_t t_read_all(struct tide_loop *loop, int fd, void *buf, size_t cap,
		   size_t want);

/* Run the group once per ring configuration this machine supports
 * (default, COOP_TASKRUN, plain, SQPOLL).  Returns failures. */
int t_run_configs(const char *name, const struct CMUnitTest *tests, size_t n);

/* Run the loop until f resolves; fail the test on error or a hang. */
int64_t t_wait(struct tide_loop *loop, struct tide_future *f);

/* Does loop run on the epoll backend (where io_uring-only machinery,
 * registered resources and fixed descriptors, behaves differently)? */
bool t_loop_epoll(struct tide_loop *loop);

/* Number of open file descriptors of this process. */
int t_count_fds(void);

/* A temporary file of size bytes filled with t_pattern(); path in buf. */
int t_tmpfile(char *path, size_t pathlen, size_t size);
unsigned char t_pattern(uint64_t off);

/*
 * A test that cannot mean anything under valgrind (it reserves file
 * descriptors of its own, so RLIMIT_NOFILE tests see other limits): under
 * make check-valgrind (TIDE_VALGRIND=1) it is reported as skipped; check
 * and check-asan run it.
 */
void t_skip_valgrind(void **state);
#define t_unit_test_no_valgrind(f)                                         \
	{                                                                  \
#f, getenv("TIDE_VALGRIND") ? t_skip_valgrind : (f), NULL, \
			NULL, NULL                                         \
	}

/* What a tide_future_on_done() callback saw: its last result and how many
 * times it ran (t_seen_cb's argument). */
struct t_seen {
	int64_t res;
	int n;
};
void t_seen_cb(void *arg, int64_t res, void *payload);

/* A connected TCP pair on loopback: *x from tide_connect_timeout(), *y
 * from accept(2). */
void t_tcp_pair(struct tide_loop *loop, int *x, int *y);

#define T_RUN(name, tests) \
	t_run_configs(name, tests, sizeof(tests) / sizeof(tests[0]))

#endif
