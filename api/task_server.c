// SPDX-License-Identifier: MIT
/*
 * task_server.c - a server that runs one task per accepted connection, on
 * top of the public tide_server API: the connection callback spawns a task
 * that runs the handler with the stream and ends the stream after it: in
 * order when the handler returns >= 0, with a reset when it returns an
 * error.
 */
#include <errno.h>
#include <stdio.h>

#include "stream_impl.h"
#include "task_impl.h"

static _Thread_local uint64_t conn_seq;

static int64_t conn_task(void *arg)
{
	const struct tide_task_handler *h = arg;
	struct tide_stream *s = tide__task_cur->conn;
	int64_t r = h->fn(h->arg, s);

	/* an error: a reset (the peer must not take a cut-off exchange for a
	 * complete one), else an orderly close.  Either runs on detached; the
	 * server waits for the stream to be freed before its stop resolves */
	tide_future_release(r < 0 ? tide_stream_abort(s) :
				    tide_stream_close(s));
	return r;
}

static void conn_accepted(void *arg, struct tide_stream *s)
{
	const struct tide_task_handler *h = arg;
	struct tide_task_options o = h->task;
	struct tide_future *f;
	struct tide_task *t;
	char name[TIDE_TASK_NAME_MAX];

	if (!o.name) {
		snprintf(name, sizeof(name), "conn-%llu",
			 (unsigned long long)++conn_seq);
		o.name = name;
	}
	f = tide__task_spawn(s->loop, conn_task, (void *)h, &o, &t);
	if (!t) {
		/* no memory for the task: drop the connection */
		tide_future_release(f);
		tide_future_release(tide_stream_close(s));
		return;
	}
	t->conn = s;
	tide_future_release(f);
}

int tide_task_server_new(struct tide_loop *loop, const struct tide_addr *a,
			 const struct tide_server_options *opts,
			 const struct tide_task_handler *h,
			 struct tide_server **out)
{
	struct tide_task_options o;

	if (out)
		*out = NULL;
	if (!loop || !h || !h->fn || !out)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(h->reserved) / sizeof(h->reserved[0]);
	     i++)
		if (h->reserved[i])
			return -EINVAL;
	o = h->task;
	for (size_t i = 0; i < sizeof(o.reserved) / sizeof(o.reserved[0]); i++)
		if (o.reserved[i])
			return -EINVAL;
	if (o.stack_size && (o.stack_size < TIDE_TASK_STACK_MIN ||
			     o.stack_size > TIDE_TASK_STACK_MAX))
		return -EINVAL;
	return tide_server_new(loop, a, opts, conn_accepted, (void *)h, out);
}
