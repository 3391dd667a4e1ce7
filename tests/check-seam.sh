#!/bin/sh
# SPDX-License-Identifier: MIT
#
# check-seam.sh - above the seam (api/) there is no io_uring: no liburing
# call, no IORING_/IOSQE_ constant, no ring struct, no backend test, no
# include of the engine's private loop headers, and struct tide_loop is
# opaque (no loop->field).  DESIGN.md, "The seam".  tide/probe.h describes
# io_uring itself and is exempt.
set -u
cd "${TIDE_SRC:-.}" || exit 1
fail=0

check() { # what pattern
	hits=$(grep -rnE "$2" api --include='*.c' --include='*.h' |
		grep -v '^api/tide/probe.h:')
	if [ -n "$hits" ]; then
		echo "api/ has $1:"
		echo "$hits"
		fail=1
	fi
}

check "io_uring calls" 'io_uring_[a-z_]+ *\('
check "io_uring constants" '\b(IORING|IOSQE)_[A-Z_]+'
check "io_uring structs" 'struct io_uring'
check "includes of liburing or private loop headers" \
	'#include [<"](liburing|loop_impl\.h|uring/|epoll/|backend\.h)'
check "a backend test" '(->uring\b|->be\b|== *TIDE_BACKEND_(URING|EPOLL)\b)'
check "loop internals (struct tide_loop is opaque)" '\bloop->[a-z_]+'
[ $fail -eq 0 ] && echo "api/ speaks only the engine's vocabulary"
exit $fail
