#!/bin/sh
# SPDX-License-Identifier: MIT
# t_http.sh - examples/http against curl: status codes (200, 404, 403 for
# "..", "%2e%2e", absolute-looking and symlinked paths, 405, 400, 431),
# HEAD, keep-alive (several requests on one connection), pipelining, a
# 5 MiB file compared byte for byte, and a graceful stop on SIGTERM.
set -u
B=${TIDE_BUILD:-build}
HTTP=$B/examples/http
[ -x "$HTTP" ] || { echo "skip: $HTTP not built"; exit 77; }
command -v curl >/dev/null || { echo "skip: curl missing (Debian package curl)"; exit 77; }
command -v python3 >/dev/null || { echo "skip: python3 missing"; exit 77; }
T=$(mktemp -d) || exit 1
SP=
cleanup() { [ -n "$SP" ] && kill "$SP" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; cat "$T/out" "$T/err" 2>/dev/null; exit 1; }

mkdir -p "$T/www/sub" "$T/outside"
echo "<h1>tide</h1>" >"$T/www/index.html"
echo "secret" >"$T/outside/secret.txt"
head -c 5242880 /dev/urandom >"$T/www/big.bin"
head -c 4096 /dev/urandom >"$T/www/small.bin"
ln -s ../outside/secret.txt "$T/www/escape"
ln -s small.bin "$T/www/inside-link"

: >"$T/out"
"$HTTP" -l 127.0.0.1:0 -i 1 "$T/www" >"$T/out" 2>"$T/err" &
SP=$!
i=0
while ! grep -q "^listening on .*:[0-9]*$" "$T/out" 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 200 ] && fail "server did not start"
	kill -0 "$SP" 2>/dev/null || {
		grep -q "io_uring" "$T/err" && { echo "skip: $(cat "$T/err")"; exit 77; }
		fail "server died"
	}
	sleep 0.05
done
ADDR=$(sed -n 's/^listening on //p' "$T/out")
U=http://$ADDR

code() { # EXPECTED PATH [curl args]
	want=$1 path=$2
	shift 2
	got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --path-as-is "$@" "$U$path")
	[ "$got" = "$want" ] || fail "$path: status $got, expected $want"
}

code 200 /
code 200 /index.html
code 200 /small.bin
code 404 /missing
code 404 /sub/missing
code 403 /sub                      # a directory
code 403 /../outside/secret.txt    # ".." above the root
code 403 /%2e%2e/outside/secret.txt
code 403 /sub/../../outside/secret.txt
code 403 /escape                   # symlink leading out
code 403 /inside-link              # no symlinks at all
code 405 / -X POST
code 400 /%zz
[ "$(curl -s --max-time 10 "$U/")" = "<h1>tide</h1>" ] || fail "body of /"

# HEAD: the length, no body
h=$(curl -s -I --max-time 10 "$U/big.bin" | tr -d '\r')
echo "$h" | grep -q '^HTTP/1.1 200 OK$' || fail "HEAD status: $h"
echo "$h" | grep -q '^Content-Length: 5242880$' || fail "HEAD length: $h"

# the large file, byte for byte
curl -s --max-time 30 -o "$T/got" "$U/big.bin" || fail "curl big.bin"
cmp -s "$T/got" "$T/www/big.bin" || fail "big.bin differs"

# keep-alive: curl reuses one connection for several URLs
curl -s -v --max-time 30 -o /dev/null -o /dev/null -o /dev/null \
	"$U/small.bin" "$U/big.bin" "$U/missing" 2>"$T/v" || fail "keep-alive curl"
[ "$(grep -c 'Re-using existing connection' "$T/v")" = 2 ] ||
	fail "connection not reused: $(grep -i connection "$T/v")"

# pipelining, an over-long head (431), HTTP/1.0 closing by default
python3 - "${ADDR%:*}" "${ADDR##*:}" "$T/www/small.bin" <<'PY' || fail "python client"
import socket, sys
host, port, small = sys.argv[1], int(sys.argv[2]), open(sys.argv[3], "rb").read()
def conn():
    s = socket.create_connection((host, port), timeout=10)
    return s
def read_all(s):
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            return out
        out += b
s = conn()
s.sendall(b"GET /small.bin HTTP/1.1\r\nHost: x\r\n\r\n" * 3 +
          b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = read_all(s)
assert data.count(b"HTTP/1.1 200 OK") == 4, data[:200]
assert data.count(small) == 3
assert data.endswith(b"<h1>tide</h1>\n")
s = conn()
s.sendall(b"GET / HTTP/1.1\r\nX: " + b"a" * 10000 + b"\r\n\r\n")
assert read_all(s).startswith(b"HTTP/1.1 431 "), "431"
s = conn()
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
d = read_all(s)
assert d.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in d, d
s = conn()
s.sendall(b"garbage\r\n\r\n")
assert read_all(s).startswith(b"HTTP/1.1 400 "), "400"
# idle limit (-i 1): a silent client and a slow head are dropped in ~1-2 s
import time
for first in (b"", b"GET / HT"):
    s = conn()
    s.sendall(first)
    t0 = time.monotonic()
    assert s.recv(100) == b"", "idle connection got data"
    assert time.monotonic() - t0 < 8, "idle connection kept"
# a client that resets in the middle of a large body
s = conn()
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
s.recv(1000)
s.close()
print("python ok")
PY

# still serving after the reset
code 200 /small.bin
kill -TERM "$SP"
wait "$SP"
rc=$?
SP=
[ $rc -eq 0 ] || fail "server exited $rc on SIGTERM"
echo "http example OK"
