// SPDX-License-Identifier: MIT
/*
 * task_switch_check.c - the tasks' context switch (api/task_switch.c) on its
 * own, without the library, so that it also builds for an architecture this
 * machine cannot run natively (tests/t_task_switch.sh builds it statically
 * for aarch64 and runs it under qemu-aarch64, and natively here).
 *
 * Checks, each with its own message and exit status 1 on failure:
 *  - ping-pong: the main context and two contexts hand a counter round
 *    100 000 times; every context sees the values in order;
 *  - every callee-saved register (x86-64: rbx rbp r12-r15; aarch64:
 *    x19-x29, d8-d15) holds its own value again after a switch out and
 *    back, while the other context had loaded different values into all of
 *    them (an assembly helper loads, switches and stores them);
 *  - floating-point values live across switches in C code, and printf of
 *    doubles on a context's stack (needs 16-byte alignment on x86-64);
 *  - a deep recursion on a context's stack (about 700 KiB of the 1 MiB
 *    stack) returns the right value;
 *  - the stack pointer at a new context's entry is 16-byte aligned.
 * With TIDE_TASK_UCONTEXT=1 (swapcontext) the register check is left out.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task_ctx.h"

#define STACK_SIZE (1024u * 1024u)
#define ROUNDS 100000

static struct tide__ctx main_ctx, ctx_a, ctx_b;
static int failures;

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond) && failures++ < 20) { /* the first 20 */         \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
		}                                                            \
	} while (0)

/* ---- the callee-saved registers ---- */

#if !TIDE_TASK_UCONTEXT
/*
 * regs_switch(save, to, out, seed): keep the caller's callee-saved
 * registers, load seed + 1, seed + 2, ... into every callee-saved register,
 * tide__ctx_switch_asm(save, to), store what the registers hold after the
 * switch back into out[], restore the caller's registers and return.
 */
void regs_switch(void **save, void *to, uint64_t *out, uint64_t seed);
#if defined(__x86_64__)
#define NREGS 6
__asm__(".text\n"
	".globl regs_switch\n"
	".type regs_switch,@function\n"
	"regs_switch:\n"
	"	pushq %rbp\n"
	"	pushq %rbx\n"
	"	pushq %r12\n"
	"	pushq %r13\n"
	"	pushq %r14\n"
	"	pushq %r15\n"
	"	pushq %rdx\n" /* out; 7 pushes: aligned for the call */
	"	leaq 1(%rcx), %rbx\n"
	"	leaq 2(%rcx), %rbp\n"
	"	leaq 3(%rcx), %r12\n"
	"	leaq 4(%rcx), %r13\n"
	"	leaq 5(%rcx), %r14\n"
	"	leaq 6(%rcx), %r15\n"
	"	call tide__ctx_switch_asm\n"
	"	popq %rdx\n"
	"	movq %rbx, 0(%rdx)\n"
	"	movq %rbp, 8(%rdx)\n"
	"	movq %r12, 16(%rdx)\n"
	"	movq %r13, 24(%rdx)\n"
	"	movq %r14, 32(%rdx)\n"
	"	movq %r15, 40(%rdx)\n"
	"	popq %r15\n"
	"	popq %r14\n"
	"	popq %r13\n"
	"	popq %r12\n"
	"	popq %rbx\n"
	"	popq %rbp\n"
	"	ret\n"
	".size regs_switch, .-regs_switch\n");
#elif defined(__aarch64__)
#define NREGS 19 /* x19-x29, d8-d15 */
__asm__(".text\n"
	".globl regs_switch\n"
	".type regs_switch,%function\n"
	"regs_switch:\n"
	"	stp x29, x30, [sp, #-176]!\n"
	"	stp x19, x20, [sp, #16]\n"
	"	stp x21, x22, [sp, #32]\n"
	"	stp x23, x24, [sp, #48]\n"
	"	stp x25, x26, [sp, #64]\n"
	"	stp x27, x28, [sp, #80]\n"
	"	stp d8, d9, [sp, #96]\n"
	"	stp d10, d11, [sp, #112]\n"
	"	stp d12, d13, [sp, #128]\n"
	"	stp d14, d15, [sp, #144]\n"
	"	str x2, [sp, #160]\n"
	"	add x19, x3, #1\n"
	"	add x20, x3, #2\n"
	"	add x21, x3, #3\n"
	"	add x22, x3, #4\n"
	"	add x23, x3, #5\n"
	"	add x24, x3, #6\n"
	"	add x25, x3, #7\n"
	"	add x26, x3, #8\n"
	"	add x27, x3, #9\n"
	"	add x28, x3, #10\n"
	"	add x29, x3, #11\n"
	"	add x9, x3, #12\n"
	"	fmov d8, x9\n"
	"	add x9, x3, #13\n"
	"	fmov d9, x9\n"
	"	add x9, x3, #14\n"
	"	fmov d10, x9\n"
	"	add x9, x3, #15\n"
	"	fmov d11, x9\n"
	"	add x9, x3, #16\n"
	"	fmov d12, x9\n"
	"	add x9, x3, #17\n"
	"	fmov d13, x9\n"
	"	add x9, x3, #18\n"
	"	fmov d14, x9\n"
	"	add x9, x3, #19\n"
	"	fmov d15, x9\n"
	"	bl tide__ctx_switch_asm\n"
	"	ldr x2, [sp, #160]\n"
	"	stp x19, x20, [x2, #0]\n"
	"	stp x21, x22, [x2, #16]\n"
	"	stp x23, x24, [x2, #32]\n"
	"	stp x25, x26, [x2, #48]\n"
	"	stp x27, x28, [x2, #64]\n"
	"	str x29, [x2, #80]\n"
	"	str d8, [x2, #88]\n"
	"	str d9, [x2, #96]\n"
	"	str d10, [x2, #104]\n"
	"	str d11, [x2, #112]\n"
	"	str d12, [x2, #120]\n"
	"	str d13, [x2, #128]\n"
	"	str d14, [x2, #136]\n"
	"	str d15, [x2, #144]\n"
	"	ldp x19, x20, [sp, #16]\n"
	"	ldp x21, x22, [sp, #32]\n"
	"	ldp x23, x24, [sp, #48]\n"
	"	ldp x25, x26, [sp, #64]\n"
	"	ldp x27, x28, [sp, #80]\n"
	"	ldp d8, d9, [sp, #96]\n"
	"	ldp d10, d11, [sp, #112]\n"
	"	ldp d12, d13, [sp, #128]\n"
	"	ldp d14, d15, [sp, #144]\n"
	"	ldp x29, x30, [sp], #176\n"
	"	ret\n"
	".size regs_switch, .-regs_switch\n");
#endif

static const char *const reg_names[] = {
#if defined(__x86_64__)
	"rbx", "rbp", "r12", "r13", "r14", "r15",
#else
	"x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28",
	"x29", "d8",  "d9",  "d10", "d11", "d12", "d13", "d14", "d15",
#endif
};

static void check_regs(const char *who, const uint64_t *got, uint64_t seed)
{
	for (unsigned i = 0; i < NREGS; i++)
		CHECK(got[i] == seed + i + 1,
		      "%s: %s is 0x%llx after the switch back, not 0x%llx", who,
		      reg_names[i], (unsigned long long)got[i],
		      (unsigned long long)(seed + i + 1));
}

#define SEED_MAIN 0x1111000000000000ull
#define SEED_CTX 0x7777000000000000ull
#define REG_ROUNDS 1000

static void regs_entry(void *arg)
{
	uint64_t got[NREGS];

	(void)arg;
	for (unsigned r = 0; r < REG_ROUNDS; r++) {
		regs_switch(&ctx_a.sp, main_ctx.sp, got, SEED_CTX + r * 64);
		check_regs("context", got, SEED_CTX + r * 64);
	}
	tide__ctx_swap(&ctx_a, &main_ctx);
	abort(); /* never resumed again */
}

static void test_regs(char *stack)
{
	uint64_t got[NREGS];

	tide__ctx_make(&ctx_a, stack, stack + STACK_SIZE, regs_entry, NULL);
	/* the first switch starts regs_entry; each later one resumes it in
	 * its regs_switch, which loads its own values before switching back */
	for (unsigned r = 0; r <= REG_ROUNDS; r++) {
		regs_switch(&main_ctx.sp, ctx_a.sp, got, SEED_MAIN + r * 64);
		check_regs("main", got, SEED_MAIN + r * 64);
	}
	printf("callee-saved registers: %u round trips, %u registers each: %s\n",
	       REG_ROUNDS + 1, NREGS, failures ? "FAILED" : "ok");
}
#endif /* !TIDE_TASK_UCONTEXT */

/* ---- ping-pong, floating point, values ---- */

static volatile uint64_t counter;
static uint64_t seen_a, seen_b;
static double fsum_a;

static void pingpong_a(void *arg)
{
	double x = *(double *)arg, acc = 0; /* live across every switch */

	for (uint64_t i = 0; i < ROUNDS; i++) {
		CHECK(counter == 3 * i + 1, "a: counter %llu, expected %llu",
		      (unsigned long long)counter,
		      (unsigned long long)(3 * i + 1));
		counter++;
		seen_a++;
		acc += x * (double)i;
		tide__ctx_swap(&ctx_a, &ctx_b);
	}
	fsum_a = acc;
	tide__ctx_swap(&ctx_a, &main_ctx);
	abort();
}

static void pingpong_b(void *arg)
{
	(void)arg;
	for (uint64_t i = 0; i < ROUNDS; i++) {
		CHECK(counter == 3 * i + 2, "b: counter %llu, expected %llu",
		      (unsigned long long)counter,
		      (unsigned long long)(3 * i + 2));
		counter++;
		seen_b++;
		tide__ctx_swap(&ctx_b, &main_ctx);
	}
	abort(); /* main stops resuming b after ROUNDS */
}

static void test_pingpong(char *stack_a, char *stack_b)
{
	double x = 0.5, expect = 0;

	counter = 0;
	tide__ctx_make(&ctx_a, stack_a, stack_a + STACK_SIZE, pingpong_a, &x);
	tide__ctx_make(&ctx_b, stack_b, stack_b + STACK_SIZE, pingpong_b, NULL);
	for (uint64_t i = 0; i < ROUNDS; i++) {
		CHECK(counter == 3 * i, "main: counter %llu, expected %llu",
		      (unsigned long long)counter, (unsigned long long)(3 * i));
		counter++;
		/* main -> a -> b -> main */
		tide__ctx_swap(&main_ctx, &ctx_a);
		expect += x * (double)i;
	}
	tide__ctx_swap(&main_ctx, &ctx_a); /* a stores its sum and returns */
	CHECK(seen_a == ROUNDS && seen_b == ROUNDS,
	      "a ran %llu times, b %llu, expected %u each",
	      (unsigned long long)seen_a, (unsigned long long)seen_b, ROUNDS);
	CHECK(fsum_a == expect, "a's floating-point sum %.17g, expected %.17g",
	      fsum_a, expect);
	printf("ping-pong: %u rounds of main -> a -> b -> main: %s\n", ROUNDS,
	       failures ? "FAILED" : "ok");
}

/* ---- a deep call on a context's stack ---- */

#define DEPTH 2000 /* frames of about 350 bytes: ~700 KiB of 1 MiB */

static uint64_t deep(unsigned n, uint64_t acc)
{
	volatile unsigned char pad[300]; /* keeps each frame on the stack */

	pad[n % sizeof(pad)] = (unsigned char)n;
	if (n == 0)
		return acc;
	/* the addition after the call keeps it from being a tail call */
	return deep(n - 1, acc * 31 + n) + pad[n % sizeof(pad)];
}

static uint64_t deep_result;
static int entry_misaligned;
static char printed[64];

static void deep_entry(void *arg)
{
	/* the frame pointer is the stack pointer at the call plus the return
	 * address (x86-64) or the frame record (aarch64): 16-byte aligned if
	 * the entry was called as the ABI says; printf of doubles below needs
	 * it too (aligned spills) */
	entry_misaligned = ((uintptr_t)__builtin_frame_address(0) & 15) != 0;
	deep_result = deep(*(unsigned *)arg, 1);
	snprintf(printed, sizeof(printed), "%.3f %.1f", 3.14159, 2.5e10);
	tide__ctx_swap(&ctx_a, &main_ctx);
	abort();
}

static void test_deep(char *stack)
{
	unsigned depth = DEPTH;
	uint64_t expect = deep(DEPTH, 1); /* the same on the main stack */

	deep_result = 0;
	tide__ctx_make(&ctx_a, stack, stack + STACK_SIZE, deep_entry, &depth);
	tide__ctx_swap(&main_ctx, &ctx_a);
	CHECK(deep_result == expect,
	      "deep(%u) on the context gave %llu, not %llu", DEPTH,
	      (unsigned long long)deep_result, (unsigned long long)expect);
	CHECK(!entry_misaligned,
	      "a new context's frame is not 16-byte aligned");
	CHECK(strcmp(printed, "3.142 25000000000.0") == 0,
	      "printf of doubles on the context gave \"%s\"", printed);
	printf("deep call: %u frames on a %u KiB context stack, printf of "
	       "doubles there: %s\n",
	       DEPTH, STACK_SIZE / 1024, failures ? "FAILED" : "ok");
}

int main(void)
{
	char *a = malloc(STACK_SIZE), *b = malloc(STACK_SIZE);

	if (!a || !b) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
#if defined(__x86_64__)
	printf("arch: x86-64, ");
#elif defined(__aarch64__)
	printf("arch: aarch64, ");
#else
	printf("arch: other, ");
#endif
	printf("switch: %s\n", TIDE_TASK_UCONTEXT ? "ucontext" : "assembly");
	test_pingpong(a, b);
#if !TIDE_TASK_UCONTEXT
	test_regs(a);
#endif
	test_deep(b);
	free(a);
	free(b);
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("all checks passed\n");
	return 0;
}
