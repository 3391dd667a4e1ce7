/* SPDX-License-Identifier: MIT */
/*
 * process_impl.h - the process record, shared by process.c and
 * process_comm.c.
 */
#ifndef TIDE_PROCESS_IMPL_H
#define TIDE_PROCESS_IMPL_H

#include <stdbool.h>

#include "future_impl.h"
#include "tide/process.h"

/*
 * References: the caller's handle (until tide_process_free()), each pending
 * wait, a running communicate and the background reaper.  The record is
 * freed when the last one goes; if the child has not been reaped by then,
 * the reaper takes a reference and polls the pidfd until it exits.
 */
struct tide_process {
	struct tide__op reap_op; /* background reaper after free */
	struct tide_loop *loop;
	int pid;
	int pidfd;
	int status; /* wait status, or -ECHILD; once reaped */
	bool reaped;
	bool freed;
	bool communicating;
	uint32_t flags; /* TIDE_PROCESS_* */
	uint32_t refs;
	struct tide_stream *st[3]; /* parent ends not taken yet */
};

void tide__process_unref(struct tide_process *p);

#endif /* TIDE_PROCESS_IMPL_H */
