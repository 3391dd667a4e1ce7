#!/bin/sh
# SPDX-License-Identifier: MIT
# t_proxy.sh - examples/proxy between clients and servers nobody here
# wrote: socat (echo upstream, client), Python sockets with half-close both
# ways and every byte checked, and a graceful stop on SIGTERM; on the
# loop's default backend and again on epoll (TIDE_BACKEND=epoll).
set -u
B=${TIDE_BUILD:-build}
PROXY=$B/examples/proxy
[ -x "$PROXY" ] || { echo "skip: $PROXY not built"; exit 77; }
command -v socat >/dev/null || { echo "skip: socat missing (Debian package socat)"; exit 77; }
command -v python3 >/dev/null || { echo "skip: python3 missing"; exit 77; }

# every check once per backend: the loop's own choice, then epoll
if [ -z "${T_PROXY_PASS:-}" ]; then
	for be in default epoll; do
		echo "== backend $be"
		if [ $be = epoll ]; then
			T_PROXY_PASS=1 TIDE_BACKEND=epoll ${SHELL:-sh} "$0"
		else
			T_PROXY_PASS=1 ${SHELL:-sh} "$0"
		fi
		rc=$?
		[ $rc -eq 0 ] || { echo "FAIL: backend $be (exit $rc)"; exit 1; }
	done
	exit 0
fi
T=$(mktemp -d) || exit 1
PIDS=
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; cat "$T/out" "$T/err" 2>/dev/null; exit 1; }

# an upstream that answers each connection: reads everything until the
# client half-closes, then sends back its SHA-256 and the data reversed,
# then half-closes itself (Python; every byte verified by the client)
python3 - >"$T/up" 2>"$T/up.err" <<'PY' &
import hashlib, socket, threading
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(128)
print(ls.getsockname()[1], flush=True)
def serve(c):
    data = b""
    while True:
        b = c.recv(65536)
        if not b:
            break
        data += b
    c.sendall(hashlib.sha256(data).digest() + data[::-1])
    c.shutdown(socket.SHUT_WR)
    c.recv(1)  # the proxy closes after passing our end of stream on
    c.close()
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
PIDS="$PIDS $!"
i=0
while [ ! -s "$T/up" ]; do
	i=$((i + 1)); [ $i -gt 200 ] && fail "python upstream did not start"; sleep 0.05
done
UP=127.0.0.1:$(cat "$T/up")

: >"$T/out"
"$PROXY" -l 127.0.0.1:0 "$UP" >"$T/out" 2>"$T/err" &
SP=$!
PIDS="$PIDS $SP"
i=0
while ! grep -q "^listening on .*:[0-9]*$" "$T/out" 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 200 ] && fail "proxy did not start"
	kill -0 "$SP" 2>/dev/null || {
		grep -q "io_uring" "$T/err" && { echo "skip: $(cat "$T/err")"; exit 77; }
		fail "proxy died"
	}
	sleep 0.05
done
ADDR=$(sed -n 's/^listening on //p' "$T/out")

# 1. Python clients: send, half-close, read the whole answer, check it
python3 - "${ADDR%:*}" "${ADDR##*:}" <<'PY' || fail "python clients through the proxy"
import hashlib, os, socket, sys, threading
host, port = sys.argv[1], int(sys.argv[2])
errors = []
def one(i):
    try:
        data = os.urandom([0, 1, 4096, 100000, 1 << 20][i % 5])
        s = socket.create_connection((host, port), timeout=20)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)      # half-close towards the server
        got = b""
        while True:
            b = s.recv(65536)
            if not b:                   # the server's half-close came through
                break
            got += b
        assert got[:32] == hashlib.sha256(data).digest(), "digest"
        assert got[32:] == data[::-1], "reversed data"
        s.close()
    except Exception as e:
        errors.append(f"conn {i}: {e!r}")
ts = [threading.Thread(target=one, args=(i,)) for i in range(50)]
for t in ts: t.start()
for t in ts: t.join()
assert not errors, errors
print("python ok")
PY

# 2. socat as the client: stdin is sent and half-closed (-t lets the
# answer arrive), and the answer's tail is the input reversed
printf 'abc' | socat -t 5 - "TCP:$ADDR" >"$T/socat" || fail "socat client"
[ "$(tail -c 3 "$T/socat")" = "cba" ] || fail "socat answer: $(od -c "$T/socat" | head -3)"

# 3. socat as the upstream (an echo), through a second proxy
# socat cannot report a port it chose: take a free one first
EP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
socat "TCP-LISTEN:$EP,bind=127.0.0.1,fork,reuseaddr" EXEC:cat &
PIDS="$PIDS $!"
i=0
until python3 -c "import socket; socket.create_connection(('127.0.0.1', $EP), timeout=1)" 2>/dev/null; do
	i=$((i + 1)); [ $i -gt 100 ] && fail "socat echo did not start"; sleep 0.05
done
: >"$T/out2"
"$PROXY" -l 127.0.0.1:0 "127.0.0.1:$EP" >"$T/out2" 2>>"$T/err" &
SP2=$!
PIDS="$PIDS $SP2"
i=0
while ! grep -q "^listening on" "$T/out2" 2>/dev/null; do
	i=$((i + 1)); [ $i -gt 200 ] && fail "second proxy did not start"; sleep 0.05
done
A2=$(sed -n 's/^listening on //p' "$T/out2")
head -c 300000 /dev/urandom >"$T/in"
socat -t 10 - "TCP:$A2" <"$T/in" >"$T/echoed" || fail "socat through proxy to socat"
cmp -s "$T/in" "$T/echoed" || fail "socat echo through the proxy differs"

# 4. an upstream that is not there: the client is dropped, the proxy lives
DEAD=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
: >"$T/out3"
"$PROXY" -l 127.0.0.1:0 "127.0.0.1:$DEAD" >"$T/out3" 2>"$T/err3" &
SP3=$!
PIDS="$PIDS $SP3"
i=0
while ! grep -q "^listening on" "$T/out3" 2>/dev/null; do
	i=$((i + 1)); [ $i -gt 200 ] && fail "third proxy did not start"; sleep 0.05
done
A3=$(sed -n 's/^listening on //p' "$T/out3")
got=$(printf 'x' | socat -t 5 - "TCP:$A3" 2>/dev/null | wc -c)
[ "$got" -eq 0 ] || fail "dead upstream: got $got bytes"
grep -q "upstream:" "$T/err3" || fail "dead upstream not reported"
# ... and the client's connection ends with a reset, not an end of stream
# (the connection task returns the error: tide_task_server_new resets)
python3 - "${A3%:*}" "${A3##*:}" <<'PY' || fail "dead upstream: the client was not reset"
import socket, sys
# the reset can come before connect() returns on this side, or after
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
    s.sendall(b"x")
    got = s.recv(100)
except ConnectionResetError:
    sys.exit(0)
print("recv gave %r, not a reset" % got, file=sys.stderr)
sys.exit(1)
PY

# 5. a stop with a connection still open: the proxy gives it its grace
# period (2 s), then resets it, and exits 0
python3 - "${ADDR%:*}" "${ADDR##*:}" <<'PY' &
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
s.sendall(b"held open")
try:
    s.recv(100)  # the proxy ends us when it stops
except OSError:
    pass
PY
HOLD=$!
PIDS="$PIDS $HOLD"
sleep 0.3
t0=$(date +%s)
for p in $SP $SP2 $SP3; do
	kill -TERM "$p"
	wait "$p"
	rc=$?
	[ $rc -eq 0 ] || fail "proxy exited $rc on SIGTERM"
done
[ $(($(date +%s) - t0)) -lt 10 ] || fail "stop with an open connection took too long"
wait "$HOLD"
echo "proxy example OK"
