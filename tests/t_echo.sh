#!/bin/sh
# SPDX-License-Identifier: MIT
# t_echo.sh - tide-echo against clients nobody here wrote (Python's asyncio,
# socat), its own client's --json keys, and graceful SIGTERM/SIGINT exits.
set -u
B=${TIDE_BUILD:-build}
ECHO=$B/tide-echo
[ -x "$ECHO" ] || { echo "skip: $ECHO not built"; exit 77; }
command -v python3 >/dev/null || { echo "skip: python3 missing"; exit 77; }
T=$(mktemp -d) || exit 1
SP=
cleanup() { [ -n "$SP" ] && kill "$SP" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$T/err" ] && cat "$T/err"; exit 1; }

# start_server ARGS...: runs the server, sets SP and ADDR
start_server() {
	# empty the log here, in the parent: otherwise the readiness check can
	# read the previous server's line before the child truncates the file,
	# and signal a server that has not installed its handler yet
	: >"$T/err"
	"$ECHO" server "$@" >"$T/out" 2>"$T/err" &
	SP=$!
	i=0
	# the whole line: stderr is unbuffered and may arrive in pieces
	while ! grep -q "listening on .* (.*)" "$T/err" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && fail "server did not start: $*"
		kill -0 "$SP" 2>/dev/null || fail "server died: $*"
		sleep 0.05
	done
	ADDR=$(sed -n 's/.*listening on \([^ ]*\) .*/\1/p' "$T/err")
}

stop_server() { # SIG
	kill -"$1" "$SP"
	wait "$SP"
	rc=$?
	SP=
	[ $rc -eq 0 ] || fail "server exited $rc on SIG$1"
}

pyclient() { # HOST PORT
	python3 - "$1" "$2" <<'PY'
import asyncio, os, sys
async def one(i):
    r, w = await asyncio.open_connection(sys.argv[1], int(sys.argv[2]))
    for size in (1, 100, 4096, 65536, 1 << 20):
        data = os.urandom(size)
        w.write(data)
        await w.drain()
        got = await r.readexactly(size)
        assert got == data, f"conn {i}: mismatch at size {size}"
    w.write(b"line one\n")
    assert await r.readline() == b"line one\n"
    w.close()
    await w.wait_closed()
async def main():
    await asyncio.gather(*(one(i) for i in range(20)))
asyncio.run(main())
print("python ok")
PY
}

# tasks: the tide server with --tasks (one task per connection)
for engine in tide epoll tasks; do
	case $engine in
	tasks) set -- --engine tide --tasks ;;
	*) set -- --engine "$engine" ;;
	esac
	start_server 127.0.0.1:0 "$@" --stats
	HOST=${ADDR%:*}; PORT=${ADDR##*:}
	pyclient "$HOST" "$PORT" | grep -q "python ok" || fail "asyncio client vs $engine"
	if command -v socat >/dev/null; then
		got=$(printf 'hello from socat\n' | socat -t 2 - "TCP:$ADDR")
		[ "$got" = "hello from socat" ] || fail "socat vs $engine: '$got'"
	fi
	"$ECHO" client "$ADDR" --conns 8 --size 512 --duration 0.3 --json \
		>"$T/json" || fail "tide-echo client vs $engine"
	python3 - "$T/json" <<'PY' || fail "client --json keys"
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("msgs_per_sec", "bytes_per_sec", "conns", "size", "errors", "lat_ns"):
    assert k in d, k
for k in ("p50", "p90", "p99", "p999", "max"):
    assert k in d["lat_ns"], k
assert d["errors"] == 0 and d["conns"] == 8 and d["size"] == 512
assert d["msgs_per_sec"] > 0 and d["lat_ns"]["p50"] <= d["lat_ns"]["max"]
PY
	stop_server TERM
	grep -q "^connections" "$T/out" || fail "--stats output missing"
	conns=$(sed -n 's/^connections *//p' "$T/out")
	[ "$conns" -ge 29 ] || fail "served $conns connections, want >= 29"
done

# --tasks belongs to the tide server only
"$ECHO" client 127.0.0.1:1 --tasks 2>"$T/err"
[ $? -eq 2 ] && grep -q -- "--tasks" "$T/err" || fail "client --tasks not refused"
"$ECHO" server 127.0.0.1:0 --engine epoll --tasks 2>"$T/err"
[ $? -eq 2 ] || fail "--engine epoll --tasks not refused"

# several loops sharing one port, and a Unix socket; SIGINT exits 0 too
start_server 127.0.0.1:0 --threads 1
stop_server INT
P=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_server "127.0.0.1:$P" --threads 2
"$ECHO" client "127.0.0.1:$P" --conns 16 --size 64 --duration 0.2 >/dev/null \
	|| fail "client vs --threads 2"
stop_server INT
start_server "unix:@tide-echo-test-$$"
"$ECHO" client "unix:@tide-echo-test-$$" --conns 4 --size 1000 --duration 0.2 \
	>/dev/null || fail "client over a Unix socket"
stop_server TERM

# the client checks every byte: a server that changes one byte of each
# reply (first connection) or sends one byte too many (second) is caught
python3 - "$T/port" >"$T/bad" 2>&1 <<'PY' &
import socket, sys, threading
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(8)
open(sys.argv[1], "w").write(str(ls.getsockname()[1]))
def serve(c, extra):
    with c:
        while True:
            d = c.recv(65536)
            if not d:
                return
            c.sendall(d + b"!" if extra else bytes([d[0] ^ 1]) + d[1:])
for i in range(2):
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c, i == 1), daemon=True).start()
threading.Event().wait(5)
PY
BP=$!
i=0
while [ ! -s "$T/port" ]; do
	i=$((i + 1))
	[ $i -gt 100 ] && fail "python bad server did not start"
	sleep 0.05
done
for k in 1 2; do
	"$ECHO" client "127.0.0.1:$(cat "$T/port")" --conns 1 --size 100 \
		--duration 0.2 --json >"$T/json"
	rc=$?
	[ $rc -ne 0 ] || fail "client accepted a wrong echo (run $k)"
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["errors"] == 1, d' \
		"$T/json" || fail "client did not count the wrong echo (run $k)"
done
kill "$BP" 2>/dev/null
wait "$BP" 2>/dev/null

# bad input: a clear message and a non-zero status
"$ECHO" server nonsense 2>/dev/null && fail "bad address accepted"
"$ECHO" client 127.0.0.1:1 --conns 1 --duration 0.1 >/dev/null 2>&1 \
	&& fail "refused connection reported success"
"$ECHO" --size 0 client 127.0.0.1:1 2>/dev/null && fail "--size 0 accepted"
# a refused connection: exit 1 and one line saying so (it said nothing)
"$ECHO" client 127.0.0.1:1 --conns 2 --duration 0.1 >/dev/null 2>"$T/cerr"
rc=$?
[ $rc = 1 ] || fail "refused connection: exit $rc"
grep -q "connecting: Connection refused" "$T/cerr" || fail "refused: $(cat "$T/cerr")"
[ "$(wc -l <"$T/cerr")" = 1 ] || fail "refused: not one line: $(cat "$T/cerr")"
# hostile numbers: the strict parser's one message, exit 2
for o in --conns --size --duration --threads; do
	for v in nan ' 1' ' -1' -1 +1 1e3 0x10 18014398509481985k 4kk ''; do
		"$ECHO" client 127.0.0.1:1 $o "$v" >/dev/null 2>"$T/cerr"
		rc=$?
		[ $rc = 2 ] || fail "$o '$v': exit $rc"
		grep -q -- "bad $o '$v'" "$T/cerr" || fail "$o '$v': $(cat "$T/cerr")"
	done
done
start_server 127.0.0.1:0
# a failed write of the results: the errno's message, exit 1 (was 0)
if [ -w /dev/full ]; then
	"$ECHO" client "$ADDR" --conns 2 --duration 0.1 --json >/dev/full 2>"$T/cerr"
	rc=$?
	[ $rc = 1 ] || fail "--json >/dev/full: exit $rc"
	grep -q "writing standard output: No space left on device" "$T/cerr" ||
		fail "--json >/dev/full: $(cat "$T/cerr")"
fi
# io_uring_enter denied (setup allowed): the loop cannot run on io_uring,
# so tide_loop_new() takes the epoll backend and the client works, every
# byte verified (it once printed "errors 0" for a loop that never ran)
# (only where io_uring works: under t_fallback.sh's filter the client runs
# on the epoll backend anyway)
if "$B/tide-probe" >/dev/null 2>&1 &&
   ${TIDE_CC:-cc} -o "$T/deny" "${TIDE_SRC:-.}/tests/seccomp_deny.c" 2>/dev/null; then
	timeout -k 2 20 "$T/deny" enter 1 "$ECHO" client "$ADDR" --conns 2 --duration 0.2 \
		>"$T/cout" 2>"$T/cerr"
	rc=$?
	[ $rc != 124 ] && [ $rc != 137 ] || fail "enter denied: the client hung"
	if [ $rc != 77 ]; then
		[ $rc = 0 ] || fail "enter denied: exit $rc: $(cat "$T/cerr")"
		grep -q 'errors 0' "$T/cout" || fail "enter denied: $(cat "$T/cout")"
		grep -q '^messages/s [1-9]' "$T/cout" || fail "enter denied: no messages: $(cat "$T/cout")"
	fi
fi
stop_server TERM
echo "t_echo: ok"
exit 0
