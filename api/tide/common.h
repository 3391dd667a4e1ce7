/* SPDX-License-Identifier: MIT */
/*
 * tide/common.h - export macro and forward declarations shared by every
 * public tide header.  Include <tide.h> rather than this file.
 */
#ifndef TIDE_COMMON_H
#define TIDE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) && __GNUC__ >= 4
#define TIDE_API __attribute__((visibility("default")))
#else
#define TIDE_API
#endif

#if defined(__GNUC__)
#define TIDE_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define TIDE_WARN_UNUSED
#endif

#ifdef __cplusplus
extern "C" {
#endif

struct tide_loop;
struct tide_future;
struct tide_pool;
struct tide_glock;

/* A function posted to a loop from any thread, or called soon/later on it. */
typedef void tide_post_fn(void *arg);

#ifdef __cplusplus
}
#endif

#endif /* TIDE_COMMON_H */
