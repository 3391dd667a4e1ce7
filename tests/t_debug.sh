#!/bin/sh
# SPDX-License-Identifier: MIT
#
# t_debug.sh - debug builds check the engine's invariants, release builds
# do not.  Builds the library as configure --enable-debug would (TIDE_DEBUG=1,
# into $TIDE_BUILD/debug, incrementally) and runs, each in a child process:
#   - a program that releases a pending promise twice: the debug build
#     aborts naming the invariant, the release build carries on (exit 0);
#   - one that releases a resolved future twice (a slab object freed
#     twice): the debug build aborts.
# Exit 0 pass, 77 skip, else fail.

set -u
: "${TIDE_SRC:?}" "${TIDE_BUILD:?}"
cc=${TIDE_CC:-cc}
make=${MAKE:-make}
san=${TIDE_SAN_CFLAGS:-}
libs=${TIDE_URING_LIBS:--luring}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tide-debug.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
dbg=$TIDE_BUILD/debug

# configure --enable-debug writes TIDE_DEBUG 1 into config.h; this tree's
# config.h may say 0, so the debug build gets its own copy.
mkdir -p "$dbg" || fail "mkdir $dbg"
sed 's/^#define TIDE_DEBUG 0$/#define TIDE_DEBUG 1/' "$TIDE_SRC/config.h" >"$dbg/config.h.new" &&
	{ cmp -s "$dbg/config.h.new" "$dbg/config.h" && rm -f "$dbg/config.h.new" ||
	  mv -f "$dbg/config.h.new" "$dbg/config.h"; } || fail "debug config.h"
touch "$dbg/config.h"
unset MAKEFLAGS MFLAGS MAKELEVEL
$make -s -C "$TIDE_SRC" BUILD="$dbg" CONFIG_CFLAGS='-O0 -g -DTIDE_DEBUG=1' \
	SAN_CFLAGS="$san" "$dbg/libtide.a" >"$tmp/build.log" 2>&1 ||
	{ cat "$tmp/build.log" >&2; fail "building the debug library"; }

cat >"$tmp/twice.c" <<'PROG'
#include <stdio.h>
#include <string.h>
#include <tide.h>

int main(int argc, char **argv)
{
	struct tide_loop *loop;
	struct tide_future *f;

	if (tide_loop_new(&loop, NULL))
		return 77;
	if (argc > 1 && !strcmp(argv[1], "resolved")) {
		f = tide_future_ready(loop, 1, NULL);
		tide_future_release(f);
		tide_future_release(f); /* the slab object is free already */
	} else {
		f = tide_promise_new(loop);
		tide_future_release(f);
		tide_future_release(f); /* consumed twice */
		tide_promise_resolve(f, 0, NULL);
	}
	tide_loop_free(loop);
	puts("carried on");
	return 0;
}
PROG

build() { # OUT LIBDIR
	$cc -std=c11 $san -I"$TIDE_SRC/api" -I"$1/include" -o "$2" "$tmp/twice.c" \
		"$1/libtide.a" $libs -lpthread || fail "compiling the program against $1"
}
build "$dbg" "$tmp/twice-debug"
build "$TIDE_BUILD" "$tmp/twice-release"

"$tmp/twice-release" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 77 ] && { echo "SKIP: io_uring unusable here"; exit 77; }
[ $rc -eq 0 ] || { cat "$tmp/err" >&2; fail "release build: exit $rc, expected 0"; }
grep -q "carried on" "$tmp/out" || fail "release build did not carry on"
grep -q "invariant broken" "$tmp/err" && fail "release build checked an invariant"

expect_abort() { # ARG WORDS
	"$tmp/twice-debug" $1 >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ $rc -ne 0 ] || fail "debug build, $1: exit 0, expected an abort"
	grep -q "carried on" "$tmp/out" && fail "debug build, $1: carried on"
	grep -q "tide: invariant broken" "$tmp/err" ||
		{ cat "$tmp/err" >&2; fail "debug build, $1: no invariant message"; }
	grep -q "$2" "$tmp/err" ||
		{ cat "$tmp/err" >&2; fail "debug build, $1: message lacks '$2'"; }
	echo "ok: debug build, $1 release: exit $rc, $(grep -o 'invariant broken.*' "$tmp/err" | head -n 1)"
}
expect_abort pending "consumed twice"
expect_abort resolved "used after it was freed"
echo "PASS"
