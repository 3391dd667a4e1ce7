/* SPDX-License-Identifier: MIT */
/*
 * debug.h - the engine's invariants, checked in debug builds.
 *
 * configure --enable-debug defines TIDE_DEBUG=1: then TIDE__ASSERT() aborts
 * with a message naming the broken invariant and where it broke.  Release
 * builds compile the checks out (the condition is not evaluated), so they
 * may be placed on hot paths.  These catch the engine's and the caller's
 * bugs (a future consumed or released twice, a slab object freed twice,
 * ops_pending going negative, a completion for a record not in flight),
 * never runtime errors, which are returned as -errno.
 */
#ifndef TIDE_DEBUG_H
#define TIDE_DEBUG_H

#include <stdio.h>
#include <stdlib.h>

#include "compat.h" /* configure --enable-debug: TIDE_DEBUG 1 */

#ifndef TIDE_DEBUG
#define TIDE_DEBUG 0
#endif

#if TIDE_DEBUG
#define TIDE__ASSERT(cond, fmt, ...)                                       \
	do {                                                               \
		if (__builtin_expect(!(cond), 0)) {                        \
			fprintf(stderr,                                    \
				"tide: invariant broken (%s:%d, %s): " fmt \
				"\n",                                      \
				__FILE__, __LINE__, #cond, __VA_ARGS__);   \
			abort();                                           \
		}                                                          \
	} while (0)
#else
#define TIDE__ASSERT(cond, fmt, ...) \
	do {                         \
		if (0 && (cond)) {   \
		}                    \
	} while (0)
#endif

#endif /* TIDE_DEBUG_H */
