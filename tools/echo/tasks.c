// SPDX-License-Identifier: MIT
/*
 * tasks.c - tide-echo server --tasks: each connection is a task whose
 * whole protocol is the loop below, in linear code.  The stream reads
 * through the server's buffer ring (a multishot receive); each chunk is
 * copied to the task's stack buffer and written back before the next read.
 */
#include "client.h"
#include "tasks.h"

#define TASK_BUF 1024u

static int64_t echo_task_conn(void *arg, struct tide_stream *s)
{
	struct echo_counts *cnt = arg;
	char buf[TASK_BUF];
	int64_t n;
	int fd = tide_stream_fd(s);

	echo_nodelay(fd);
	/* no descriptor lookup per operation; closing the stream unfixes */
	(void)tide_loop_fix_fd(tide_task_loop(NULL), fd);
	cnt->conns++;
	while ((n = tide_await(tide_stream_read(s, buf, sizeof(buf)))) > 0) {
		cnt->msgs++;
		cnt->bytes += (uint64_t)n;
		if (tide_await(tide_stream_write(s, buf, (size_t)n)) < 0)
			break;
	}
	return n; /* the server closes the stream */
}

int echo_tasks_server(struct tide_loop *loop, struct tide_addr *addr,
		      uint32_t flags, struct echo_counts *cnt,
		      struct tide_task_handler *h, struct tide_server **out)
{
	/* the same ring as the continuation server: 1024 x 1 KiB */
	struct tide_server_options so = { .flags = flags,
					  .buf_count = 1024,
					  .buf_size = TASK_BUF };
	int ret;

	*h = (struct tide_task_handler){ .fn = echo_task_conn,
					 .arg = cnt,
					 .task = { .stack_size = 32 * 1024 } };
	ret = tide_task_server_new(loop, addr, &so, h, out);
	if (!ret)
		tide_server_addr(*out, addr);
	return ret;
}
