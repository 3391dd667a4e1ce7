/* SPDX-License-Identifier: MIT */
/*
 * compat.h - the one place configure's results reach the code.  configure
 * writes config.h (the Makefile copies it to $(BUILD)/config.h) with every
 * result defined to 0 or 1, so "#if NAME" works and -Wundef catches a typo;
 * no other file includes config.h or tests __has_include.
 *
 * What configure decides:
 *   TIDE_DEBUG                  --enable-debug: the loop's debug checks are
 *                               on by default, and the engine's invariant
 *                               assertions are compiled in
 *   TIDE_CONFIG_VALGRIND        --enable-valgrind (default: on when
 *                               <valgrind/memcheck.h> exists)
 *   TIDE_TASK_UCONTEXT          --with-task-switch=ucontext (default on
 *                               targets without the assembly switch):
 *                               tasks switch with swapcontext()
 *   TIDE_LIBURING_VERSION       "2.3", ...
 *   HAVE_IO_URING_SETUP_BUF_RING  liburing 2.4+'s buffer ring helper
 *   HAVE_IORING_OP_<NAME>       the opcode is in liburing's enum (opcodes
 *                               are enum constants: #ifdef cannot see them)
 * Setup flags and features are macros: code tests them with #ifdef.
 */
#ifndef TIDE_COMPAT_H
#define TIDE_COMPAT_H

#include "config.h"

/*
 * Memory the kernel wrote through io_uring is invisible to memcheck: tell
 * it.  TIDE__UNDER_MEMCHECK() is true when running under valgrind (its
 * client request: a few instructions, no system call, no environment).
 */
#if TIDE_CONFIG_VALGRIND
#include <valgrind/memcheck.h>
#define TIDE__MEM_DEFINED(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED(p, n))
#define TIDE__UNDER_MEMCHECK() (RUNNING_ON_VALGRIND != 0)
#else
#define TIDE__MEM_DEFINED(p, n) ((void)(p), (void)(n))
#define TIDE__UNDER_MEMCHECK() 0
#endif

/*
 * TIDE__ENUM_OR(IORING_OP_X, n): liburing's enum constant when its header
 * has it (HAVE_IORING_OP_X, from configure), else the kernel's number n,
 * for opcodes newer than the liburing we build against.
 */
#define TIDE__ENUM_OR(name, num) TIDE__PICK(HAVE_##name, name, num)
#define TIDE__PICK(have, name, num) TIDE__PICK_(have, name, num)
#define TIDE__PICK_(have, name, num) TIDE__PICK_##have(name, num)
#define TIDE__PICK_0(name, num) (num)
#define TIDE__PICK_1(name, num) (name)

#endif /* TIDE_COMPAT_H */
