/* SPDX-License-Identifier: MIT */
/*
 * client.h - tide-echo's verifying load generator.
 */
#ifndef TOOLS_ECHO_CLIENT_H
#define TOOLS_ECHO_CLIENT_H

#include <stddef.h>

struct echo_opts {
	const char *addr;
	int threads, conns, json, stats, epoll, tasks;
	size_t size;
	double duration;
};

/* Echo traffic is request/response: Nagle would hold back replies. */
void echo_nodelay(int fd);

/* Run the client of o; the exit status: 0, 1 (nothing worked), 2 (bad
 * address) or 3 (some errors). */
int echo_client_main(const struct echo_opts *o);

#endif /* TOOLS_ECHO_CLIENT_H */
