#!/bin/sh
# SPDX-License-Identifier: MIT
# t_cp.sh - tide-cp copies byte for byte (sizes 0, 1, 4095, 4096, 1 MiB + 1)
# to the source's end of file, with cp's modes (umask applied, setuid and
# setgid dropped, an existing file's mode kept), into a directory, through a
# temporary file (a failed copy leaves DST as it was), and refuses bad input
# (same file, FIFOs, hostile numbers) with one line on stderr and exit
# status 1 (2 for bad usage).
set -u
umask 022
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

# cp's modes: a new file gets the source's bits less the umask, never
# setuid/setgid; an existing file keeps its own mode
chmod 0644 "$T/src1"
rm -f "$T/m1"; (umask 077; "$CP" "$T/src1" "$T/m1") || fail "copy under umask 077"
[ "$(stat -c %a "$T/m1")" = 600 ] || fail "umask not applied: $(stat -c %a "$T/m1")"
chmod 6755 "$T/src1"
rm -f "$T/m2"; "$CP" "$T/src1" "$T/m2" || fail "copy of a setuid file"
[ "$(stat -c %a "$T/m2")" = 755 ] || fail "setuid/setgid kept: $(stat -c %a "$T/m2")"
chmod 0644 "$T/src1"
printf old >"$T/m3"; chmod 0600 "$T/m3"
"$CP" "$T/src1" "$T/m3" && cmp "$T/src1" "$T/m3" || fail "overwrite m3"
[ "$(stat -c %a "$T/m3")" = 600 ] || fail "existing mode not kept: $(stat -c %a "$T/m3")"
# through a symlink DST: the target is written, the link stays
ln -s m3 "$T/m3.link"
"$CP" "$T/src4095" "$T/m3.link" && cmp "$T/src4095" "$T/m3" || fail "copy through a symlink"
[ -L "$T/m3.link" ] || fail "the symlink was replaced"
# no temporary left behind by any of these
[ -z "$(ls -A "$T" | grep 'tide-cp\.')" ] || fail "temporary left: $(ls -A "$T")"

# st_size is not trusted: /proc files say 0 and have content
if [ -r /proc/self/status ]; then
	"$CP" /proc/self/status "$T/status" || fail "copy of /proc/self/status"
	[ -s "$T/status" ] || fail "/proc/self/status copied as 0 bytes"
	grep -q '^Name:' "$T/status" || fail "/proc/self/status: not its content"
fi

# a copy that fails midway leaves an existing DST intact and no temporary
# (/proc/self/mem is a regular file whose read at offset 0 fails)
if [ -e /proc/self/mem ]; then
	printf keep >"$T/intact"
	"$CP" /proc/self/mem "$T/intact" 2>"$T/err" && fail "copy of /proc/self/mem succeeded"
	[ "$(cat "$T/intact")" = keep ] || fail "a failed copy changed DST"
	[ -z "$(ls -A "$T" | grep 'tide-cp\.')" ] || fail "failed copy left a temporary"
fi

# a huge --qd x --bs is bounded by the file, not allocated up front
# (256 GiB asked; under a 4 GiB address-space limit it must still work)
if [ -z "${TIDE_SAN_CFLAGS:-}" ]; then
	(ulimit -v 4194304; "$CP" --qd 4096 --bs 64m "$T/src4096" "$T/big") ||
		fail "--qd 4096 --bs 64m of a 4 KiB file"
	cmp "$T/src4096" "$T/big" || fail "--qd 4096 --bs 64m copy differs"
fi

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
# the same file through a hard link and a symlink: refused, source intact
cp "$T/src4096" "$T/src4096.orig"
ln "$T/src4096" "$T/hard"
ln -s src4096 "$T/soft"
expect 1 "$CP" "$T/src4096" "$T/hard"
expect 1 "$CP" "$T/soft" "$T/src4096"
expect 1 "$CP" "$T/src4096" "$T/soft"
cmp "$T/src4096" "$T/src4096.orig" || fail "the source changed"
# FIFOs are refused, never waited on in open(2)
mkfifo "$T/fifo"
expect 1 timeout 10 "$CP" "$T/fifo" "$T/x"
grep -q "not a regular file" "$T/err" || fail "FIFO source: $(cat "$T/err")"
expect 1 timeout 10 "$CP" "$T/src1" "$T/fifo"
grep -q "not a regular file" "$T/err" || fail "FIFO destination: $(cat "$T/err")"
ln -s nowhere "$T/dangling"
expect 1 "$CP" "$T/src1" "$T/dangling"
# hostile numbers: the strict parser's one message, exit 2
for v in nan ' 1' ' -1' -1 +1 1e3 0x10 18014398509481985k 4kk ''; do
	expect 2 "$CP" --qd "$v" "$T/src1" "$T/x"
	grep -q -- "bad --qd" "$T/err" || fail "--qd '$v': $(cat "$T/err")"
done
expect 2 "$CP" --bs 65m "$T/src1" "$T/x"
grep -q "out of range" "$T/err" || fail "--bs 65m: $(cat "$T/err")"
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
# io_uring denied by a seccomp filter (EPERM, and Docker's ENOSYS): the
# copy runs on the epoll backend and is exact; if it fails instead, the
# message is tide_strerror()'s sentence and no DST appears
if ${TIDE_CC:-cc} -o "$T/deny" "${TIDE_SRC:-.}/tests/seccomp_deny.c" 2>/dev/null; then
	for e in 1 38; do
		rm -f "$T/denied"
		"$T/deny" setup $e "$CP" "$T/src1048577" "$T/denied" 2>"$T/err"
		rc=$?
		[ $rc = 77 ] && continue
		if [ $rc = 0 ]; then
			cmp "$T/src1048577" "$T/denied" || fail "seccomp errno $e: copy differs"
			continue
		fi
		[ $rc = 1 ] || fail "seccomp errno $e: exit $rc"
		grep -q "seccomp" "$T/err" || fail "seccomp errno $e: $(cat "$T/err")"
		[ ! -e "$T/denied" ] || fail "seccomp errno $e: DST created"
	done
fi
[ -z "$(ls -A "$T" | grep 'tide-cp\.')" ] || fail "temporary left: $(ls -A "$T")"
echo "PASS: t_cp"
exit 0
