// SPDX-License-Identifier: MIT
/*
 * task_switch.c - the context switch between a task and whoever resumes it.
 *
 * x86-64 and aarch64: save the callee-saved registers on the current stack,
 * store the stack pointer, load the other one, restore, return.  No signal
 * mask and no system call: the floating-point control state (MXCSR, x87
 * control word, FPCR) is the thread's and is shared by its tasks.  Other
 * architectures, or configure --with-task-switch=ucontext, use ucontext.
 *
 * The switch leaves through an indirect jump, not ret, so this object
 * carries no shadow-stack (CET SHSTK) marking and a program linking it
 * runs without user shadow stacks.
 */
#include <stdint.h>
#include <string.h>

#include "task_ctx.h"

#if !TIDE_TASK_UCONTEXT

/* First return address of a new context: calls entry(arg) from the saved
 * registers and traps if it ever returns. */
void tide__ctx_start_asm(void);

#if defined(__x86_64__)
__asm__(".text\n"
	".globl tide__ctx_switch_asm\n"
	".hidden tide__ctx_switch_asm\n"
	".type tide__ctx_switch_asm,@function\n"
	".p2align 4\n"
	"tide__ctx_switch_asm:\n"
	"	pushq %rbp\n"
	"	pushq %rbx\n"
	"	pushq %r12\n"
	"	pushq %r13\n"
	"	pushq %r14\n"
	"	pushq %r15\n"
	"	movq %rsp, (%rdi)\n"
	"	movq %rsi, %rsp\n"
	"	popq %r15\n"
	"	popq %r14\n"
	"	popq %r13\n"
	"	popq %r12\n"
	"	popq %rbx\n"
	"	popq %rbp\n"
	/* jmp, not ret: a ret to another context's address always misses
	 * the return-stack predictor (4 ns instead of 20 per switch here) */
	"	popq %rcx\n"
	"	jmpq *%rcx\n"
	".size tide__ctx_switch_asm, .-tide__ctx_switch_asm\n"
	".globl tide__ctx_start_asm\n"
	".hidden tide__ctx_start_asm\n"
	".type tide__ctx_start_asm,@function\n"
	".p2align 4\n"
	"tide__ctx_start_asm:\n"
	"	.cfi_startproc\n"
	"	.cfi_undefined rip\n" /* backtraces end here */
	"	movq %rbx, %rdi\n"
	"	callq *%r12\n"
	"	ud2\n"
	"	.cfi_endproc\n"
	".size tide__ctx_start_asm, .-tide__ctx_start_asm\n");

/* Saved frame, lowest address first: r15 r14 r13 r12 rbx rbp, return. */
enum { FRAME_R12 = 3, FRAME_RBX = 4, FRAME_RET = 6, FRAME_WORDS = 7 };
#elif defined(__aarch64__)
__asm__(".text\n"
	".globl tide__ctx_switch_asm\n"
	".hidden tide__ctx_switch_asm\n"
	".type tide__ctx_switch_asm,%function\n"
	".p2align 4\n"
	"tide__ctx_switch_asm:\n"
	"	sub sp, sp, #160\n"
	"	stp x19, x20, [sp, #0]\n"
	"	stp x21, x22, [sp, #16]\n"
	"	stp x23, x24, [sp, #32]\n"
	"	stp x25, x26, [sp, #48]\n"
	"	stp x27, x28, [sp, #64]\n"
	"	stp x29, x30, [sp, #80]\n"
	"	stp d8, d9, [sp, #96]\n"
	"	stp d10, d11, [sp, #112]\n"
	"	stp d12, d13, [sp, #128]\n"
	"	stp d14, d15, [sp, #144]\n"
	"	mov x2, sp\n"
	"	str x2, [x0]\n"
	"	mov sp, x1\n"
	"	ldp x19, x20, [sp, #0]\n"
	"	ldp x21, x22, [sp, #16]\n"
	"	ldp x23, x24, [sp, #32]\n"
	"	ldp x25, x26, [sp, #48]\n"
	"	ldp x27, x28, [sp, #64]\n"
	"	ldp x29, x30, [sp, #80]\n"
	"	ldp d8, d9, [sp, #96]\n"
	"	ldp d10, d11, [sp, #112]\n"
	"	ldp d12, d13, [sp, #128]\n"
	"	ldp d14, d15, [sp, #144]\n"
	"	add sp, sp, #160\n"
	"	br x30\n"
	".size tide__ctx_switch_asm, .-tide__ctx_switch_asm\n"
	".globl tide__ctx_start_asm\n"
	".hidden tide__ctx_start_asm\n"
	".type tide__ctx_start_asm,%function\n"
	".p2align 4\n"
	"tide__ctx_start_asm:\n"
	"	.cfi_startproc\n"
	"	.cfi_undefined x30\n"
	"	mov x0, x19\n"
	"	blr x20\n"
	"	brk #0\n"
	"	.cfi_endproc\n"
	".size tide__ctx_start_asm, .-tide__ctx_start_asm\n");

/* Saved frame, lowest address first: x19 x20 ... x28, x29 x30, d8..d15. */
enum {
	FRAME_RBX = 0 /* x19: arg */,
	FRAME_R12 = 1 /* x20: entry */,
	FRAME_RET = 11 /* x30 */,
	FRAME_WORDS = 20
};
#endif

void tide__ctx_make(struct tide__ctx *c, void *lo, void *top,
		    tide__ctx_entry *entry, void *arg)
{
	uintptr_t t = (uintptr_t)top & ~(uintptr_t)15;
	uintptr_t *frame;

	(void)lo;
#if defined(__x86_64__)
	/* after the final ret the stack pointer is 16-byte aligned, as
	 * before a call */
	frame = (uintptr_t *)(t - FRAME_WORDS * sizeof(uintptr_t));
#else
	frame = (uintptr_t *)(t - FRAME_WORDS * sizeof(uintptr_t));
#endif
	memset(frame, 0, FRAME_WORDS * sizeof(uintptr_t));
	frame[FRAME_RBX] = (uintptr_t)arg;
	frame[FRAME_R12] = (uintptr_t)entry;
	frame[FRAME_RET] = (uintptr_t)tide__ctx_start_asm;
	c->sp = frame;
}

#else /* ucontext */

#include <stdlib.h>

/* makecontext() passes int arguments: pointers travel as two halves. */
static void uc_entry(unsigned eh, unsigned el, unsigned ah, unsigned al)
{
	uintptr_t e = ((uintptr_t)eh << 16 << 16) | el;
	uintptr_t a = ((uintptr_t)ah << 16 << 16) | al;

	((tide__ctx_entry *)e)((void *)a);
	abort(); /* entry never returns */
}

void tide__ctx_make(struct tide__ctx *c, void *lo, void *top,
		    tide__ctx_entry *entry, void *arg)
{
	uintptr_t e = (uintptr_t)entry, a = (uintptr_t)arg;

	getcontext(&c->uc);
	c->uc.uc_stack.ss_sp = lo;
	c->uc.uc_stack.ss_size = (size_t)((char *)top - (char *)lo) &
				 ~(size_t)15;
	c->uc.uc_link = NULL;
	makecontext(&c->uc, (void (*)(void))uc_entry, 4,
		    (unsigned)(e >> 16 >> 16), (unsigned)e,
		    (unsigned)(a >> 16 >> 16), (unsigned)a);
}

void tide__ctx_swap(struct tide__ctx *from, struct tide__ctx *to)
{
	swapcontext(&from->uc, &to->uc);
}

#endif
