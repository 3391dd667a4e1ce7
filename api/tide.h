/* SPDX-License-Identifier: MIT */
/*
 * tide.h - asyncio for C, on io_uring.  The one header applications include.
 *
 * Sections (one header each under tide/):
 *   tide/version.h  version macros (generated from VERSION by the build)
 *   tide/loop.h     the event loop: creation, running, cross-thread posts
 *   tide/future.h   futures, continuations, promises, combinators, timers
 *   tide/file.h     file operations as futures
 *   tide/probe.h    what io_uring can do on this machine
 *   tide/pool.h     thread pool (run_in_executor)
 *   tide/glock.h    global-lock (GIL) emulation
 *   tide/net.h      sockets, addresses, name resolution, buffer rings
 *   tide/stream.h   buffered streams and servers
 *   tide/hist.h     latency histogram (fio's buckets and percentile rule)
 *   tide/services.h readiness, signals, opening beneath a root
 *
 * tide(7) describes the model; every function has a man page in section 3.
 */
#ifndef TIDE_H
#define TIDE_H

#include "tide/version.h"
#include "tide/common.h"
#include "tide/loop.h"
#include "tide/future.h"
#include "tide/file.h"
#include "tide/probe.h"
#include "tide/pool.h"
#include "tide/glock.h"
#include "tide/net.h"
#include "tide/stream.h"
#include "tide/process.h"
#include "tide/hist.h"
#include "tide/services.h"

#endif /* TIDE_H */
