#!/bin/sh
# SPDX-License-Identifier: MIT
#
# t_echo_hog.sh - one client that sends and never reads must not stall the
# other connections of tide-echo server (issue 13, defect 2).  A hog (bash
# writing /dev/zero into a TCP socket it never reads) pushes until the
# server stops taking its bytes (its send queue fills: read from
# /proc/net/tcp); then 50 ordinary clients must keep getting their echoes
# for 2 s.  Before the fix the hog held every ring buffer and the clients
# got nothing.  Exit 0 pass, 77 skip, else fail.
set -u
B=${TIDE_BUILD:-build}
ECHO=$B/tide-echo
[ -x "$ECHO" ] || { echo "skip: $ECHO not built"; exit 77; }
command -v bash >/dev/null || { echo "skip: bash missing"; exit 77; }
[ -r /proc/net/tcp ] || { echo "skip: no /proc/net/tcp"; exit 77; }
T=$(mktemp -d) || exit 1
SP= HP=
cleanup() {
	[ -n "$HP" ] && kill "$HP" 2>/dev/null
	[ -n "$SP" ] && kill "$SP" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; cat "$T/err" "$T/cli.err" 2>/dev/null; exit 1; }

"$ECHO" server 127.0.0.1:0 >"$T/out" 2>"$T/err" &
SP=$!
i=0
while ! grep -q "listening on .* (.*)" "$T/err" 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 200 ] && fail "server did not start"
	kill -0 "$SP" 2>/dev/null || fail "server died"
	sleep 0.05
done
ADDR=$(sed -n 's/.*listening on \([^ ]*\) .*/\1/p' "$T/err")
PORT=${ADDR##*:}
HEXPORT=$(printf '%04X' "$PORT")

# the hog: writes for ever, never reads what is echoed
bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT && exec cat /dev/zero >&3" 2>/dev/null &
HP=$!

# until the server stops taking the hog's bytes: a connection to the
# server's port, established (01), with bytes in its send queue
i=0
while ! awk -v p=":$HEXPORT" '$3 ~ p"$" && $4 == "01" {
		split($5, q, ":"); if (q[1] != "00000000") f = 1 }
		END { exit !f }' /proc/net/tcp; do
	i=$((i + 1))
	[ $i -gt 400 ] && fail "the hog's send queue never filled"
	kill -0 "$HP" 2>/dev/null || fail "the hog died"
	sleep 0.05
done

timeout -k 5 30 "$ECHO" client "$ADDR" --conns 50 --duration 2 --json \
	>"$T/cli.json" 2>"$T/cli.err"
rc=$?
[ $rc -eq 124 ] || [ $rc -eq 137 ] && fail "the clients hung behind the hog"
[ $rc -eq 0 ] || fail "client exit $rc"
msgs=$(sed -n 's/^ *"msgs": \([0-9]*\),*$/\1/p' "$T/cli.json")
errs=$(sed -n 's/^ *"errors": \([0-9]*\),*$/\1/p' "$T/cli.json")
[ -n "$msgs" ] && [ -n "$errs" ] || fail "no msgs/errors in the client's JSON"
echo "50 clients beside a hog: $msgs echoes in 2 s, $errs errors"
[ "$errs" -eq 0 ] || fail "$errs client errors"
# 50 connections, 2 s: even a loaded machine does far more than this
[ "$msgs" -ge 500 ] || fail "only $msgs echoes: the hog stalls the others"
kill -0 "$HP" 2>/dev/null || fail "the hog was dropped: it should be slowed, not cut"
kill "$HP"
wait "$HP" 2>/dev/null
HP=
kill -INT "$SP"
wait "$SP"
rc=$?
SP=
[ $rc -eq 0 ] || fail "server exited $rc"
echo PASS
