/* SPDX-License-Identifier: MIT */
/* tasks.h - tide-echo's --tasks server: one task per connection. */
#ifndef TOOLS_ECHO_TASKS_H
#define TOOLS_ECHO_TASKS_H

#include <tide.h>

#include "epoll.h"

/*
 * Listen on *addr (the bound address is written back) and serve each
 * connection in a task of its own, counting into *cnt.  h is filled in and
 * must live until tide_server_free(*out).  Returns 0 or -errno.
 */
int echo_tasks_server(struct tide_loop *loop, struct tide_addr *addr,
		      uint32_t flags, struct echo_counts *cnt,
		      struct tide_task_handler *h, struct tide_server **out);

#endif /* TOOLS_ECHO_TASKS_H */
