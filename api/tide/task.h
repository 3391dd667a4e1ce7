/* SPDX-License-Identifier: MIT */
/*
 * tide/task.h - tasks: linear code over futures (asyncio's coroutines).
 * Include <tide.h> rather than this file.
 *
 * A task is a function with its own stack that runs on a loop's thread and
 * suspends in tide_await() until a future resolves, so a protocol reads top
 * to bottom:
 *
 *	n = tide_await(tide_stream_read_line(s, line, sizeof(line)));
 *	if (n <= 0)
 *		return n;
 *	tide_await(tide_stream_write(s, line, (size_t)n));
 *
 * The contract, in one place (tide(7) and each page have the long form):
 *  - A task is a future: tide_task_spawn() returns the future of its result
 *    and then, all, any, timeout, shield and cancel apply to it.
 *  - A task runs only on its loop's thread and never migrates; it runs when
 *    the loop dispatches it and only gives the thread back in an await
 *    (tide_await(), tide_task_yield(), tide_task_sleep()).  Thread-locals,
 *    errno included, are the loop thread's; other tasks and callbacks run
 *    during an await, so errno is not preserved across one.
 *  - Cancelling a task's future cancels the future the task awaits at that
 *    moment (down to the kernel as tide_future_cancel() does).  The await
 *    returns -ECANCELED only once the kernel has let go of the operation's
 *    buffers; if the operation completed first, the await returns its real
 *    result (no data or descriptor is lost) and the cancellation stays
 *    pending.  A pending cancellation (also one requested while the task was
 *    runnable, or before it started) is applied to every future the task
 *    awaits until an await returns -ECANCELED: that delivers it.  The task
 *    then decides what to do: clean up and return, or go on.
 *  - tide_future_shield() works as asyncio's shield: awaiting a shielded
 *    future returns -ECANCELED at once on cancellation while the inner
 *    future runs on, detached.
 *  - Outside a task, tide_await() runs the loop until the future resolves
 *    (tide_loop_run_until()); called from a continuation or callback, where
 *    that is impossible, it releases the future and returns -EBUSY.
 */
#ifndef TIDE_TASK_H
#define TIDE_TASK_H

#include "tide/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tide_task;
struct tide_stream;
struct tide_server;
struct tide_server_options;
struct tide_addr;

/* A task's body: its return value (>= 0, or -errno) resolves the task's
 * future. */
typedef int64_t tide_task_fn(void *arg);

/* Default stack: reserved address space; only touched pages use memory. */
#define TIDE_TASK_STACK_DEFAULT (128u * 1024u)
#define TIDE_TASK_STACK_MIN (16u * 1024u)
#define TIDE_TASK_STACK_MAX (1024u * 1024u * 1024u)
#define TIDE_TASK_NAME_MAX 32 /* bytes, the terminating NUL included */

/* Options for tide_task_spawn(); a zeroed struct means defaults. */
struct tide_task_options {
	size_t stack_size; /* 0 = TIDE_TASK_STACK_DEFAULT; rounded up to pages */
	const char *name;  /* copied (truncated); NULL = "task-N" */
	uint64_t reserved[4];
};

/*
 * Start fn(arg) as a task on loop; it first runs in the loop's next
 * dispatch (asyncio's create_task), never inside this call.  Returns the
 * task's future, which resolves with fn's return value; the caller
 * consumes it like any future.  NULL means -ENOMEM (as everywhere); bad
 * options (stack size outside [TIDE_TASK_STACK_MIN, TIDE_TASK_STACK_MAX],
 * reserved fields, NULL fn) give a future failed with -EINVAL.  The stack
 * comes from the loop's pool and returns to it when fn returns.  Loop
 * thread only (a task may spawn tasks).
 */
TIDE_API struct tide_future *
tide_task_spawn(struct tide_loop *loop, tide_task_fn *fn, void *arg,
		const struct tide_task_options *opts);

/*
 * Suspend the calling task until f resolves; return f's result.  A future
 * that has resolved already is read at once, without suspending (as
 * asyncio awaits a done future).  Consumes f (NULL gives -ENOMEM).  f must belong to the task's loop (else -EXDEV,
 * f untouched) and not be consumed already (-EINVAL).  Outside a task:
 * see the contract above (run the loop until f resolves; -EBUSY from a
 * callback; the errors of tide_loop_run_until(), f released).
 */
TIDE_API int64_t tide_await(struct tide_future *f);

/* tide_await() that also stores f's payload in *payload (NULL on error). */
TIDE_API int64_t tide_await_payload(struct tide_future *f, void **payload);

/*
 * Let the loop run everything else that is ready, then continue (asyncio's
 * sleep(0)).  Returns 0, -ECANCELED (a cancellation is delivered), -EPERM
 * outside a task, -ENOMEM.
 */
TIDE_API int tide_task_yield(void);

/* tide_await(tide_sleep(loop, ns)) on the task's loop: 0, -ECANCELED,
 * -ENOMEM, or -EPERM outside a task. */
TIDE_API int tide_task_sleep(uint64_t ns);

/* The task running on this thread, or NULL outside tasks. */
TIDE_API struct tide_task *tide_task_current(void);

/* A task's name (for debug output); t == NULL means the current task.
 * NULL outside tasks.  The string lives as long as the task. */
TIDE_API const char *tide_task_name(const struct tide_task *t);

/* A task's loop; t == NULL means the current task.  NULL outside tasks. */
TIDE_API struct tide_loop *tide_task_loop(const struct tide_task *t);

/*
 * asyncio.run: spawn fn(arg) as a task, run the loop until it finishes and
 * return its result.  With loop == NULL a loop with default options is
 * created for the call; when the main task has finished, the other tasks
 * still alive on it are cancelled and run until they finish, and the loop
 * is freed.  With a loop, other tasks are left as they are.  Returns fn's
 * result, or tide_loop_new()'s error, -ENOMEM, -EINVAL (NULL fn), -EBUSY
 * inside a task or a callback.  A task waiting for a promise nobody
 * resolves keeps it waiting, as tide_loop_run_until() does.
 */
TIDE_API int64_t tide_run(struct tide_loop *loop, tide_task_fn *fn, void *arg);

/* ---- one task per connection ------------------------------------------ */

/*
 * The body of a connection's task: runs with the accepted stream, which
 * the server ends when fn returns; fn must not close it.  The return value
 * decides how: >= 0 closes it in order (queued writes go out, then
 * shutdown and close: tide_stream_close()); a negative errno resets it
 * (tide_stream_abort(): queued writes are dropped, the peer sees
 * ECONNRESET).  It is also the task's result.
 */
typedef int64_t tide_task_conn_fn(void *arg, struct tide_stream *s);

/* What tide_task_server_new() runs per connection.  Caller-owned: it must
 * live until tide_server_free(). */
struct tide_task_handler {
	tide_task_conn_fn *fn;
	void *arg;
	struct tide_task_options task; /* per-connection task options */
	uint64_t reserved[4];
};

/*
 * tide_server_new() that runs h->fn(h->arg, stream) in a new task for
 * each accepted connection (named "conn-N" unless h->task.name is set).
 * Stop and free the server as usual: tide_server_stop() waits for the
 * connections' tasks to return (their streams are closed then).  Returns
 * 0, tide_server_new()'s errors, -EINVAL for a NULL handler or fn,
 * non-zero reserved fields or bad task options.
 */
TIDE_API int tide_task_server_new(struct tide_loop *loop,
				  const struct tide_addr *a,
				  const struct tide_server_options *opts,
				  const struct tide_task_handler *h,
				  struct tide_server **out);

#ifdef __cplusplus
}
#endif

#endif /* TIDE_TASK_H */
