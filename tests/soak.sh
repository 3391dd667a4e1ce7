#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# soak.sh - tide-echo server under many clients for a given time (not part
# of make check).
#
#   tests/soak.sh [SECONDS] [CLIENTS] [HOGS]      (defaults 60 64 4)
#
# Well-behaved clients exchange random payloads (1 B .. 200 KB, random
# bytes) and verify every byte of every echo; they disconnect at random
# (close, or half-close and wait for the server's end of stream) and some
# reset the connection (RST) with data in flight both ways.  Hogs send as
# fast as the server takes and never read, then reset and start again.
# Every 2 s the server's RSS and descriptor count are sampled.  Prints the
# bytes verified, the errors, RSS and descriptors at start and end; exits 1
# on any error, on a server that died, or on descriptors that did not come
# back.  Needs python3 and a built tree (TIDE_BUILD, default build/).

set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-60}
clients=${2:-64}
hogs=${3:-4}
build=${TIDE_BUILD:-build}
echo_bin=$build/tide-echo
[ -x "$echo_bin" ] || { echo "soak: $echo_bin not built (make first)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "soak: python3 is needed" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tide-soak.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

"$echo_bin" server 127.0.0.1:0 2>"$tmp/server.err" &
pid=$!
for _ in $(seq 100); do
	grep -q "listening on" "$tmp/server.err" && break
	kill -0 "$pid" 2>/dev/null || { cat "$tmp/server.err" >&2; exit 1; }
	sleep 0.1
done
port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$tmp/server.err" | head -n 1)
[ -n "$port" ] || { echo "soak: server did not say where it listens" >&2; cat "$tmp/server.err" >&2; exit 1; }
echo "soak: tide-echo server pid $pid on 127.0.0.1:$port; $dur s, $clients clients, $hogs hogs"

rc=0
python3 - "$port" "$pid" "$dur" "$clients" "$hogs" <<'PY' || rc=$?
import asyncio, os, random, socket, struct, sys, time

port, pid, dur, nclients, nhogs = (int(x) for x in sys.argv[1:6])
st = dict(bytes=0, trips=0, conns=0, closes=0, halfcloses=0, resets=0,
          hog_conns=0, hog_bytes=0, errors=0)
first_errors = []
slowest = [0.0]
samples = []


def error(what):
    st["errors"] += 1
    if len(first_errors) < 10:
        first_errors.append(what)


def sample():
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, StopIteration):
        return None
    return rss, fds


def reset(w):
    sock = w.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    w.transport.abort()


SIZES = [1, 7, 100, 1000, 4096, 16384, 65536, 200000]


async def client(i, deadline):
    rnd = random.Random(i)
    while time.monotonic() < deadline:
        try:
            r, w = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port), 10)
        except Exception as e:
            error(f"client {i}: connect: {e!r}")
            await asyncio.sleep(0.2)
            continue
        st["conns"] += 1
        ok = True
        for _ in range(rnd.randint(1, 40)):
            n = rnd.choice(SIZES)
            data = rnd.randbytes(n)
            t0 = time.monotonic()
            w.write(data)
            if rnd.random() < 0.03:
                # reset with our data on its way and the echo coming back
                await asyncio.sleep(0)
                reset(w)
                st["resets"] += 1
                ok = False
                break
            try:
                got = await asyncio.wait_for(r.readexactly(n), 30)
            except Exception as e:
                error(f"client {i}: echo of {n} bytes: {e!r}")
                ok = False
                w.transport.abort()
                break
            if got != data:
                error(f"client {i}: echo of {n} bytes differs")
                ok = False
                w.transport.abort()
                break
            slowest[0] = max(slowest[0], time.monotonic() - t0)
            st["bytes"] += n
            st["trips"] += 1
            if time.monotonic() >= deadline:
                break
        if not ok:
            continue
        try:
            if rnd.random() < 0.5:
                w.close()
                await asyncio.wait_for(w.wait_closed(), 10)
                st["closes"] += 1
            else:
                w.write_eof()  # the server must answer with its end
                rest = await asyncio.wait_for(r.read(), 10)
                if rest:
                    error(f"client {i}: {len(rest)} bytes after half-close")
                w.close()
                st["halfcloses"] += 1
        except Exception as e:
            error(f"client {i}: closing: {e!r}")


async def hog(i, deadline):
    rnd = random.Random(1000 + i)
    chunk = b"h" * 65536
    while time.monotonic() < deadline:
        try:
            r, w = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port), 10)
        except Exception as e:
            error(f"hog {i}: connect: {e!r}")
            await asyncio.sleep(0.2)
            continue
        st["hog_conns"] += 1
        # asyncio reads at most its 64 KiB limit, then stops reading
        end = min(deadline, time.monotonic() + rnd.uniform(2, 8))
        while time.monotonic() < end:
            before = w.transport.get_write_buffer_size()
            w.write(chunk)
            try:
                await asyncio.wait_for(w.drain(), 0.5)
            except asyncio.TimeoutError:
                pass  # the server stopped taking it: as it should
            except Exception:
                break
            st["hog_bytes"] += max(0, before + len(chunk) -
                                   w.transport.get_write_buffer_size())
        reset(w)


async def sampler(stop):
    while not stop.is_set():
        s = sample()
        if s:
            samples.append(s)
        try:
            await asyncio.wait_for(stop.wait(), 2)
        except asyncio.TimeoutError:
            pass


async def main():
    start = sample()
    if not start:
        print("soak: server not running", file=sys.stderr)
        return 1
    t0 = time.monotonic()
    deadline = t0 + dur
    stop = asyncio.Event()
    samp = asyncio.create_task(sampler(stop))
    await asyncio.gather(*[client(i, deadline) for i in range(nclients)],
                         *[hog(i, deadline) for i in range(nhogs)])
    ran = time.monotonic() - t0
    # the server closes its side of the last connections
    end = sample()
    for _ in range(100):
        end = sample()
        if not end or end[1] <= start[1]:
            break
        await asyncio.sleep(0.1)
    stop.set()
    await samp
    if not end:
        print("soak: the server died", file=sys.stderr)
        return 1
    rss_max = max(s[0] for s in samples + [end])
    fds_max = max(s[1] for s in samples + [end])
    mib = st["bytes"] / 2**20
    print(f"ran             {ran:.0f} s")
    print(f"bytes verified  {st['bytes']} ({mib:.0f} MiB, {mib / ran:.1f} MiB/s), "
          f"{st['trips']} echoes")
    print(f"connections     {st['conns']} ({st['closes']} closed, "
          f"{st['halfcloses']} half-closed, {st['resets']} reset mid-stream)")
    print(f"hogs            {st['hog_conns']} connections, "
          f"{st['hog_bytes'] / 2**20:.0f} MiB taken by the server, never read")
    print(f"slowest echo    {slowest[0] * 1000:.0f} ms")
    print(f"errors          {st['errors']}")
    for e in first_errors:
        print(f"  {e}")
    print(f"server RSS      start {start[0]} KiB, end {end[0]} KiB, max {rss_max} KiB")
    print(f"server fds      start {start[1]}, end {end[1]}, max {fds_max}")
    if st["errors"]:
        return 1
    if end[1] > start[1]:
        print("soak: descriptors did not come back", file=sys.stderr)
        return 1
    return 0

sys.exit(asyncio.run(main()))
PY
kill -INT "$pid" 2>/dev/null || true
src=0
wait "$pid" || src=$?
pid=
if [ $src -ne 0 ]; then
	echo "soak: server exit status $src" >&2
	tail -n 5 "$tmp/server.err" >&2
	rc=1
fi
exit $rc
