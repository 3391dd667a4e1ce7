// SPDX-License-Identifier: MIT
/*
 * tasks.c - tide-echo server --tasks: each connection is a task whose
 * whole protocol is the loop below, in linear code.  The stream reads
 * through the server's buffer ring (a multishot receive); each chunk is
 * copied to the task's stack buffer and sent back with an awaited
 * tide_send() before the next read, as the continuation server sends
 * each chunk with tide_send() (a tide_stream_write() would add a queued
 * request and a promise per message, which the comparison is not about;
 * nothing else writes the socket, so there is no order to keep).
 */
#include <errno.h>

#include "client.h"
#include "tasks.h"

#define TASK_BUF 1024u

/* Send all n bytes (a short send sends the rest); 0 or -errno. */
static int64_t send_all(struct tide_loop *loop, int fd, const char *p, size_t n)
{
	while (n) {
		int64_t r = tide_await(tide_send(loop, fd, p, n, 0));

		if (r <= 0)
			return r < 0 ? r : -EIO;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int64_t echo_task_conn(void *arg, struct tide_stream *s)
{
	struct echo_counts *cnt = arg;
	struct tide_loop *loop = tide_task_loop(NULL);
	char buf[TASK_BUF];
	int64_t n;
	int fd = tide_stream_fd(s);

	echo_nodelay(fd);
	/* no descriptor lookup per operation; closing the stream unfixes */
	(void)tide_loop_fix_fd(loop, fd);
	cnt->conns++;
	while ((n = tide_await(tide_stream_read(s, buf, sizeof(buf)))) > 0) {
		cnt->msgs++;
		cnt->bytes += (uint64_t)n;
		if (send_all(loop, fd, buf, (size_t)n) < 0)
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
