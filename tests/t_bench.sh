#!/bin/sh
# SPDX-License-Identifier: MIT
# t_bench.sh - every tide-bench engine runs a short workload whose counts
# add up (bytes = ops x bs, from --json), copy is byte-identical, and every
# bad input gives one line on stderr and status 1 (2 for bad usage).
set -u
B="${TIDE_BUILD:?}/tide-bench"
[ -x "$B" ] || { echo "SKIP: $B not built"; exit 77; }
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
export TIDE_BENCH_QUIET=1
fail() { echo "FAIL: $*"; exit 1; }
num() { # num KEY FILE: first numeric value of "KEY": in the JSON
	sed -n "s/^ *\"$1\": \([0-9.e+-]*\),\{0,1\}$/\1/p" "$2" | head -n 1
}

uring_blocked=
"${TIDE_BUILD}/tide-probe" >/dev/null 2>&1 || uring_blocked=1
"$B" nop --ops 64 --json >"$T/nop.json" 2>"$T/err" ||
	{ grep -qi "io_uring" "$T/err" && { echo "SKIP: io_uring unusable"; exit 77; }; fail "nop: $(cat "$T/err")"; }
[ "$(num ops "$T/nop.json")" = 64 ] || fail "nop ops"
grep -q '"ops_per_sec"' "$T/nop.json" || fail "nop: no ops_per_sec"
grep -q '"bytes_per_future"' "$T/nop.json" || fail "nop: no bytes_per_future"
grep -q '"loop_config"' "$T/nop.json" || fail "nop: no loop_config"
"$B" nop --batch 8 --duration 0.05 --engine all >/dev/null || fail "nop all"
# --rounds: the engines interleaved, each engine's median round, the
# median of the per-round ratios
if [ -z "$uring_blocked" ]; then
	"$B" nop --batch 8 --ops 2000 --engine all --rounds 3 --json \
		>"$T/r.json" 2>"$T/err" || fail "nop rounds: $(cat "$T/err")"
	[ "$(num rounds "$T/r.json")" = 3 ] || fail "nop rounds: no rounds"
	[ "$(grep -c '"rounds": 3' "$T/r.json")" = 3 ] ||
		fail "nop rounds: rounds not in each engine's object"
	[ "$(grep -c '"ratio_to_raw"' "$T/r.json")" = 2 ] ||
		fail "nop rounds: ratio_to_raw"
	[ "$(grep -c '"ops": 2000,' "$T/r.json")" = 2 ] ||
		fail "nop rounds: ops of the median round"
fi

head -c 1048576 /dev/urandom >"$T/f"
if [ -z "$uring_blocked" ]; then
	"$B" read "$T/f" --engine all --bs 4k --qd 4 --ops 200 --rounds 2 \
		>"$T/r.txt" 2>"$T/err" || fail "read rounds: $(cat "$T/err")"
	for e in tide tide-fixed psync pool raw; do
		grep -q "^$e " "$T/r.txt" || fail "read rounds: no $e line"
	done
fi
for e in tide tide-fixed psync pool raw; do
	for mode in read write; do
		for r in "" --rand; do
			"$B" $mode "$T/f" $r --engine $e --bs 4k --qd 4 --ops 300 --json \
				>"$T/o.json" 2>"$T/err"
			st=$?
			# (the pool engine once linked no pool and said "no
			# thread pool": it must run)
			# io_uring blocked (t_fallback.sh): the raw liburing loop and
			# registered buffers cannot run, and say so
			if [ $st != 0 ] && [ -n "$uring_blocked" ] &&
			   { { [ $e = raw ] && grep -qi "io_uring_queue_init: operation not permitted" "$T/err"; } ||
			     { [ $e = tide-fixed ] && grep -q "Operation not supported" "$T/err"; }; }; then
				continue
			fi
			[ $st = 0 ] || fail "$mode $r --engine $e: $(cat "$T/err")"
			ops=$(num ops "$T/o.json"); bytes=$(num bytes "$T/o.json")
			[ "$ops" = 300 ] || fail "$mode $e: ops $ops"
			[ "$bytes" = $((ops * 4096)) ] || fail "$mode $e: bytes $bytes != ops x bs"
			for k in '"engine"' '"iops"' '"bytes_per_sec"' '"seconds"' '"p50"' \
				'"p90"' '"p99"' '"p999"' '"max"'; do
				grep -q "$k" "$T/o.json" || fail "$mode $e: no $k"
			done
		done
	done
done
# by time, a scratch file, fsync, all engines side by side
"$B" write --size 1m --fsync 16 --duration 0.05 --json >"$T/o.json" || fail "write --fsync"
[ -z "$(ls "$T" | grep tide-bench)" ] || fail "scratch file left behind"
"$B" read "$T/f" --engine all --runtime 0.05 --iodepth 2 --json >"$T/all.json" \
	2>"$T/all.err" || fail "all"
grep -q '"results"' "$T/all.json" || fail "all: no results array"
# each of the 5 engines ran or said why not (a missing pool; raw and
# tide-fixed where io_uring is blocked), and at least tide and psync ran
skipped=$(grep -c 'engine unavailable' "$T/all.err")
[ "$(grep -c '"engine"' "$T/all.json")" -eq $((5 - skipped)) ] ||
	fail "all: engines missing: $(cat "$T/all.err")"
[ "$skipped" -le 3 ] || fail "all: only $((5 - skipped)) engines ran"
"$B" read "$T/f" --engine all --ops 100 | grep -q "vs raw" || fail "table"

# copy
for n in 0 1 4095 4096 1048577; do
	head -c "$n" /dev/urandom >"$T/c$n"
	"$B" copy "$T/c$n" "$T/d$n" --bs 4k --qd 4 --json >"$T/o.json" || fail "copy $n"
	cmp "$T/c$n" "$T/d$n" || fail "copy $n differs"
	[ "$(num bytes "$T/o.json")" = "$n" ] || fail "copy $n: bytes"
done

# bad input
expect() {
	want=$1; shift
	"$@" >/dev/null 2>"$T/err"
	got=$?
	[ "$got" = "$want" ] || fail "$* exited $got, wanted $want: $(cat "$T/err")"
	[ "$(wc -l <"$T/err")" = 1 ] || fail "$*: not one line: $(cat "$T/err")"
}
: >"$T/empty"
mkdir "$T/dir"
expect 1 "$B" read "$T/missing" --ops 1
expect 1 "$B" read "$T/dir" --ops 1
expect 1 "$B" read "$T/empty" --ops 1
expect 1 "$B" read "$T/f" --size 2m --ops 1
expect 1 "$B" copy "$T/missing" "$T/x"
expect 1 "$B" copy "$T/f" "$T/nodir/x"
expect 2 "$B" read "$T/f" --qd 0
expect 2 "$B" read "$T/f" --qd 1000000
expect 2 "$B" read "$T/f" --bs 0
expect 2 "$B" read "$T/f" --bs 4x
expect 2 "$B" read "$T/f" --size 0
expect 2 "$B" read "$T/f" --duration -1
expect 2 "$B" read "$T/f" --engine bogus
expect 2 "$B" read "$T/f" --bogus
expect 2 "$B" bogus
expect 2 "$B"
expect 2 "$B" copy "$T/f"
expect 2 "$B" nop --engine psync
expect 2 "$B" nop --rounds 0
expect 2 "$B" nop --rounds 100
expect 2 "$B" nop --rounds x
expect 2 "$B" copy "$T/f" "$T/g" --rounds 2
# O_DIRECT: a block size off the sector size, or a filesystem without it
expect 1 "$B" read "$T/f" --direct --bs 1000 --ops 1
if [ -w /dev/full ]; then
	expect 1 "$B" write /dev/full --size 1m --ops 10
	grep -q "disk full" "$T/err" || fail "ENOSPC message"
fi
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	chmod 0600 "$T/f"; chmod 0755 "$T"
	expect 1 setpriv --reuid=65534 --regid=65534 --clear-groups "$B" read "$T/f" --ops 1
fi

# copy A A truncated A: refused, also through a hard link and a symlink
head -c 8192 /dev/urandom >"$T/a"
cp "$T/a" "$T/a.orig"
ln "$T/a" "$T/a.hard"
ln -s a "$T/a.soft"
expect 1 "$B" copy "$T/a" "$T/a"
grep -q "same file" "$T/err" || fail "copy A A: $(cat "$T/err")"
expect 1 "$B" copy "$T/a" "$T/a.hard"
expect 1 "$B" copy "$T/a.soft" "$T/a"
expect 1 "$B" copy "$T/a" "$T/a.soft"
cmp "$T/a" "$T/a.orig" || fail "copy onto itself changed the source"

# FIFOs are refused, never waited on in open(2)
mkfifo "$T/fifo"
expect 1 timeout 10 "$B" read "$T/fifo" --ops 1
expect 1 timeout 10 "$B" write "$T/fifo" --size 1m --ops 1
expect 1 timeout 10 "$B" copy "$T/fifo" "$T/x"
expect 1 timeout 10 "$B" copy "$T/a" "$T/fifo"

# hostile numbers: the strict parser's one message, exit 2
for o in --qd --ops --bs --size --duration --fsync --workers --seed; do
	for v in nan ' 1' ' -1' -1 +1 0x10 18014398509481985k 4kk ''; do
		expect 2 "$B" write "$T/f" $o "$v"
		grep -q -- "bad $o" "$T/err" || fail "$o '$v': $(cat "$T/err")"
	done
done
expect 2 "$B" read "$T/f" --qd 4097
grep -q "out of range" "$T/err" || fail "--qd 4097: $(cat "$T/err")"

# a failed write of the results: the errno's message, exit 1
if [ -w /dev/full ]; then
	for a in "" --json; do
		"$B" read "$T/f" --ops 100 $a >/dev/full 2>"$T/err"
		[ $? = 1 ] || fail "read $a >/dev/full: exit status"
		grep -q "writing standard output: No space left on device" "$T/err" ||
			fail "read $a >/dev/full: $(cat "$T/err")"
	done
fi

# io_uring denied by a seccomp filter (EPERM, and Docker's ENOSYS): every
# engine is still tried; psync and pool need no io_uring, tide runs on the
# epoll backend, raw and tide-fixed say "unavailable here"; an engine that
# fails instead is tide_strerror()'s sentence and exit status 1
if ${TIDE_CC:-cc} -o "$T/deny" "${TIDE_SRC:-.}/tests/seccomp_deny.c" 2>/dev/null; then
	for e in 1 38; do
		"$T/deny" setup $e "$B" read "$T/f" --engine all --ops 100 >"$T/out" 2>"$T/err"
		rc=$?
		[ $rc = 77 ] && continue
		grep -q "^psync " "$T/out" || fail "seccomp $e --engine all: psync did not run: $(cat "$T/err")"
		grep -q "^pool " "$T/out" || fail "seccomp $e --engine all: pool did not run: $(cat "$T/err")"
		if [ $rc != 0 ]; then
			[ $rc = 1 ] || fail "seccomp $e --engine all: exit $rc"
			grep -q "engine: .*seccomp" "$T/err" || fail "seccomp $e: $(cat "$T/err")"
		fi
		"$T/deny" setup $e "$B" copy "$T/a" "$T/denied" 2>"$T/err"
		rc=$?
		if [ $rc = 0 ]; then
			cmp "$T/a" "$T/denied" || fail "seccomp $e copy differs"
		else
			[ $rc = 1 ] && grep -q seccomp "$T/err" ||
				fail "seccomp $e copy: exit $rc: $(cat "$T/err")"
		fi
	done
fi
echo "PASS: t_bench"
exit 0
