/* SPDX-License-Identifier: MIT */
/*
 * task_ctx.h - the context switch of tasks (api/task_switch.c), private to
 * api/task*.c.  Needs nothing but config.h (through engine/compat.h), so
 * tests/task_switch_check.c builds the switch alone, also for another
 * architecture (tests/t_task_switch.sh: aarch64 under qemu).
 */
#ifndef TIDE_TASK_CTX_H
#define TIDE_TASK_CTX_H

#include "compat.h"

/* The context switch: assembly on x86-64 and aarch64, ucontext elsewhere
 * or with configure --with-task-switch=ucontext (TIDE_TASK_UCONTEXT, from
 * config.h through engine/compat.h). */
#if !TIDE_TASK_UCONTEXT && !defined(__x86_64__) && !defined(__aarch64__)
#error "no assembly context switch for this target: configure --with-task-switch=ucontext"
#endif

#if TIDE_TASK_UCONTEXT
#include <ucontext.h>
struct tide__ctx {
	ucontext_t uc;
};
#else
struct tide__ctx {
	void *sp; /* saved stack pointer; registers are on that stack */
};
#endif

typedef void tide__ctx_entry(void *arg);

/* Prepare c so that the first switch to it calls entry(arg) on the stack
 * [lo, top); entry must never return. */
void tide__ctx_make(struct tide__ctx *c, void *lo, void *top,
		    tide__ctx_entry *entry, void *arg);
/* Save the current context in from and continue in to. */
#if TIDE_TASK_UCONTEXT
void tide__ctx_swap(struct tide__ctx *from, struct tide__ctx *to);
#else
void tide__ctx_switch_asm(void **save_sp, void *new_sp);
static inline void tide__ctx_swap(struct tide__ctx *from, struct tide__ctx *to)
{
	tide__ctx_switch_asm(&from->sp, to->sp);
}
#endif

#endif /* TIDE_TASK_CTX_H */
