#!/bin/sh
# SPDX-License-Identifier: MIT
#
# t_task_switch.sh - the tasks' assembly context switch on its own
# (tests/task_switch_check.c with api/task_switch.c, no library): built and
# run natively, then built statically for aarch64 with the cross compiler
# and run under qemu-aarch64, at -O2 and -O0 each.  The aarch64 part skips
# (exit 77, after the native part passed) when aarch64-linux-gnu-gcc or
# qemu-aarch64 is missing (Debian: gcc-aarch64-linux-gnu,
# libc6-dev-arm64-cross, qemu-user).  Exit 0 pass, 77 skip, else fail.

set -u
: "${TIDE_SRC:?}"
cc=${TIDE_CC:-cc}
xcc=${TIDE_AARCH64_CC:-aarch64-linux-gnu-gcc}
qemu=${TIDE_QEMU_AARCH64:-qemu-aarch64}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tide-switch.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
# the switch needs only config.h's TIDE_TASK_UCONTEXT (and compat.h's
# TIDE_CONFIG_VALGRIND): a minimal one, the same for every target
printf '%s\n' '#define TIDE_TASK_UCONTEXT 0' '#define TIDE_CONFIG_VALGRIND 0' \
	>"$tmp/config.h"
srcs="$TIDE_SRC/api/task_switch.c $TIDE_SRC/tests/task_switch_check.c"
flags="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I$TIDE_SRC/api -I$TIDE_SRC/engine -I$tmp"

# build_run NAME CC RUNNER OPT [LDFLAGS]
build_run() {
	# shellcheck disable=SC2086
	$2 $flags $4 -o "$tmp/$1" $srcs ${5:-} >"$tmp/$1.build" 2>&1 ||
		{ cat "$tmp/$1.build" >&2; fail "$1: building with $2 $4"; }
	# shellcheck disable=SC2086
	$3 "$tmp/$1" >"$tmp/$1.out" 2>&1
	rc=$?
	sed "s/^/$1: /" "$tmp/$1.out"
	[ $rc = 0 ] || fail "$1 exited $rc"
	grep -q '^all checks passed$' "$tmp/$1.out" || fail "$1 did not finish"
}

case $(uname -m) in
x86_64 | aarch64)
	build_run native-O2 "$cc" "" -O2
	build_run native-O0 "$cc" "" "-O0 -g"
	;;
*) echo "native: $(uname -m) has no assembly switch; not run" ;;
esac

if ! command -v "$xcc" >/dev/null 2>&1; then
	echo "SKIP aarch64: no $xcc (Debian: gcc-aarch64-linux-gnu libc6-dev-arm64-cross)"
	exit 77
fi
if ! command -v "$qemu" >/dev/null 2>&1; then
	echo "SKIP aarch64: no $qemu (Debian: qemu-user)"
	exit 77
fi
build_run aarch64-O2 "$xcc" "$qemu" -O2 -static
build_run aarch64-O0 "$xcc" "$qemu" "-O0 -g" -static
grep -q '^arch: aarch64,' "$tmp/aarch64-O2.out" ||
	fail "the cross build did not run as an aarch64 program"
echo "the assembly switch passed natively and on aarch64 under $qemu"
