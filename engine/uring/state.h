/* SPDX-License-Identifier: MIT */
/* state.h - the io_uring backend's part of struct tide_loop. */
#ifndef TIDE_URING_STATE_H
#define TIDE_URING_STATE_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "core.h"

struct tide__uring {
	struct io_uring ring;
	/* SQEs may be taken without reading the kernel's head while
	 * ring.sq.sqe_tail is before this: the head seen last, plus the SQ's
	 * size (the head only grows).  Held at the tail while a backlog
	 * exists, so one comparison covers "ring full" and "keep order". */
	unsigned sq_limit;
	unsigned int setup_flags; /* IORING_SETUP_* in use */
	uint32_t tide_setup;	  /* TIDE_SETUP_* */
	bool ring_fd_registered;  /* io_uring_register_ring_fd() worked */

	/* SQEs that found the SQ full, submitted in order next iteration */
	struct io_uring_sqe *bl;
	uint32_t bl_head, bl_count, bl_cap;

	struct io_uring_probe *probe;
	/* the user_data of SQEs whose completion nobody needs (cancels,
	 * linked timeouts, fault injection's NOPs): every CQE has a record,
	 * so reaping tests nothing before the dispatch */
	struct tide__op ignore_op;
	/* the wake-up read on the loop's eventfd */
	struct tide__op wake_op;
	bool wake_armed;
	uint64_t wake_buf;

	/* freeing: the cancel-all request (uring.c) */
	struct tide__op cancel_op;
	bool cancel_inflight;
	bool cancelled_all;
	bool dead;	    /* enter failed for good while freeing */
	bool no_cancel_all; /* kernel before 5.19: one CANCEL_ANY per SQE */

	unsigned registered_bufs, registered_files;
	/* tide_loop_fix_fd(): a sparse file table of registered_files
	 * slots, slot i holding fd i; a bit per slot in use (fixfd.c) */
	uint64_t *fixmap;
};

#endif /* TIDE_URING_STATE_H */
