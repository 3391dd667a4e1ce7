/* SPDX-License-Identifier: MIT */
/*
 * valgrind_compat.h - memcheck client requests, when valgrind's headers
 * exist: memcheck cannot see the kernel (or a pool thread's syscall) write
 * into a buffer through io_uring, so completions tell it.
 */
#ifndef TIDE_VALGRIND_COMPAT_H
#define TIDE_VALGRIND_COMPAT_H

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define TIDE__MEM_DEFINED(p, n) VALGRIND_MAKE_MEM_DEFINED(p, n)
#define TIDE__UNDER_MEMCHECK() RUNNING_ON_VALGRIND
#endif
#endif
#ifndef TIDE__MEM_DEFINED
#define TIDE__MEM_DEFINED(p, n) ((void)(p), (void)(n))
#define TIDE__UNDER_MEMCHECK() 0
#endif

#endif /* TIDE_VALGRIND_COMPAT_H */
