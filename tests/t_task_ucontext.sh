#!/bin/sh
# SPDX-License-Identifier: MIT
#
# t_task_ucontext.sh - the tasks' portable context switch works: builds the
# library and test_task as configure --with-task-switch=ucontext would
# (TIDE_TASK_UCONTEXT=1, into $TIDE_BUILD/ucontext, incrementally) and runs
# test_task there.  Exit 0 pass, 77 skip, else fail.

set -u
: "${TIDE_SRC:?}" "${TIDE_BUILD:?}"
make=${MAKE:-make}
san=${TIDE_SAN_CFLAGS:-}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

out=$TIDE_BUILD/ucontext
mkdir -p "$out" || fail "mkdir $out"
# this tree's config.h may say 0 (the assembly switch): the ucontext build
# gets its own copy, rewritten only when it changes (incremental builds)
sed 's/^#define TIDE_TASK_UCONTEXT 0$/#define TIDE_TASK_UCONTEXT 1/' \
	"$TIDE_SRC/config.h" >"$out/config.h.new" || fail "ucontext config.h"
grep -q '^#define TIDE_TASK_UCONTEXT 1$' "$out/config.h.new" ||
	fail "config.h has no TIDE_TASK_UCONTEXT line: re-run ./configure"
if cmp -s "$out/config.h.new" "$out/config.h"; then
	rm -f "$out/config.h.new"
else
	mv -f "$out/config.h.new" "$out/config.h" || fail "ucontext config.h"
fi
touch "$out/config.h"
unset MAKEFLAGS MFLAGS MAKELEVEL
$make -s -C "$TIDE_SRC" BUILD="$out" SAN_CFLAGS="$san" \
	"$out/tests/test_task" >"$out/build.log" 2>&1 ||
	{ cat "$out/build.log" >&2; fail "building test_task with the ucontext switch"; }

# the switch in that build must be swapcontext(), not the assembly one
nm "$out/obj/api/task_switch.o" >"$out/nm.txt" 2>&1 || fail "nm task_switch.o"
grep -q ' U swapcontext$' "$out/nm.txt" ||
	fail "the ucontext build's task_switch.o does not call swapcontext()"
if grep -q 'tide__ctx_switch_asm' "$out/nm.txt"; then
	fail "the ucontext build's task_switch.o still has the assembly switch"
fi

"$out/tests/test_task"
rc=$?
[ $rc = 0 ] || fail "test_task with the ucontext switch exited $rc"
echo "test_task passed with the ucontext task switch"
