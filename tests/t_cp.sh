#!/bin/sh
# SPDX-License-Identifier: MIT
# t_cp.sh - tide-cp copies byte for byte (sizes 0, 1, 4095, 4096, 1 MiB + 1),
# keeps the mode, copies into a directory, and refuses bad input with one
# line on stderr and exit status 1 (2 for bad usage).
set -u
CP="${TIDE_BUILD:?}/tide-cp"
[ -x "$CP" ] || { echo "SKIP: $CP not built"; exit 77; }
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$CP" "${TIDE_SRC:-.}/VERSION" "$T/probe" 2>"$T/err" ||
	{ grep -qi "io_uring" "$T/err" && { echo "SKIP: io_uring unusable"; exit 77; }; }

for n in 0 1 4095 4096 1048577; do
	head -c "$n" /dev/urandom >"$T/src$n"
	chmod 0640 "$T/src$n"
	for qd in 1 8; do
		rm -f "$T/dst$n"
		"$CP" --qd $qd --bs 4096 "$T/src$n" "$T/dst$n" || fail "copy of $n bytes (qd $qd)"
		cmp "$T/src$n" "$T/dst$n" || fail "copy of $n bytes differs (qd $qd)"
		[ "$(stat -c %a "$T/dst$n")" = 640 ] || fail "mode not kept ($n bytes)"
	done
done
# default depth and block size, and --verbose reports MB/s
"$CP" --verbose "$T/src1048577" "$T/dstv" 2>"$T/err" || fail "verbose copy"
grep -q "MB/s" "$T/err" || fail "--verbose prints no MB/s"
cmp "$T/src1048577" "$T/dstv" || fail "default copy differs"
# overwriting a longer file truncates it
"$CP" "$T/src1" "$T/dstv" && cmp "$T/src1" "$T/dstv" || fail "overwrite"
# into a directory
mkdir "$T/dir"
"$CP" "$T/src4095" "$T/dir" && cmp "$T/src4095" "$T/dir/src4095" || fail "into dir"

# bad input: one line on stderr, status 1 (2 for usage)
expect() {
	want=$1; shift
	"$@" >/dev/null 2>"$T/err"
	got=$?
	[ "$got" = "$want" ] || fail "$* exited $got, wanted $want"
	[ "$(wc -l <"$T/err")" = 1 ] || [ "$want" = 2 ] || fail "$*: not one line: $(cat "$T/err")"
	[ -s "$T/err" ] || fail "$*: nothing on stderr"
}
expect 1 "$CP" "$T/missing" "$T/x"
expect 1 "$CP" "$T/dir" "$T/x"
expect 1 "$CP" "$T/src1" "$T/nodir/x"
expect 1 "$CP" "$T/src1" "$T/src1"
expect 2 "$CP" "$T/src1"
expect 2 "$CP" --qd 0 "$T/src1" "$T/x"
expect 2 "$CP" --qd 100000000 "$T/src1" "$T/x"
expect 2 "$CP" --bs 0 "$T/src1" "$T/x"
expect 2 "$CP" --bogus "$T/src1" "$T/x"
if [ -w /dev/full ]; then
	expect 1 "$CP" "$T/src4096" /dev/full
fi
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	chmod 0600 "$T/src1"; chmod 0755 "$T"
	expect 1 setpriv --reuid=65534 --regid=65534 --clear-groups "$CP" "$T/src1" /tmp/tide-cp-$$
fi
echo "PASS: t_cp"
exit 0
