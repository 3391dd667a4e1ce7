#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""gil_workloads.py - tide-gil's workloads run by CPython itself.

tide-gil --python runs this script once per way and round, interleaved
with its own emulation, and reads one line of key=value pairs from it.
The bodies mirror tools/gil/work.c: the same countdown (the seed's
busy_wait), the same pread offsets, the same request/response over a
socket whose echo peer is a C thread inside tide-gil (so both sides talk
to the identical peer), the same placement of threads on CPUs.

    gil_workloads.py info
    gil_workloads.py calibrate [--seconds S]
    gil_workloads.py WORKLOAD WAY [options]     (see --help)

WORKLOAD is cpu, io-file, io-net or convoy; WAY is sequential, threads
(under the GIL) or processes.  Each run first specialises the countdown
(see specialise()), then does an untimed warm-up of the same body (a tenth
of the size), then the timed run.
"""
import argparse
import array
import os
import signal
import socket
import sys
import threading
import time

_MASK = (1 << 64) - 1


def busy_wait(n):
    while n > 0:
        n -= 1


# CPython 3.11 rewrites a function's bytecode into its adaptive form
# ("quickening") at the 8th call, or at the 8th JUMP_BACKWARD; busy_wait's
# loop jumps back with POP_JUMP_BACKWARD_IF_TRUE, which does not count, so a
# call of busy_wait runs the generic bytecode for all its turns unless 7
# calls came before it, and the specialised form (BINARY_OP_SUBTRACT_INT,
# COMPARE_OP_INT_JUMP: 1.4 to 1.6 times as fast here) from the 8th
# call on, in every thread at once (the code object is shared).  Before
# this, the ways differed in that alone: after the warm-up's 4 calls, 4
# threads reached the 8th call at once and ran specialised while sequential
# ran 3 of its 4 calls generic, so threads "beat" sequential by 20%, and
# every forked worker ran generic.  3.12 and later specialise within the first
# call.  So every run calls it PRIME_CALLS times first, in the main thread
# before any way starts (forked workers inherit the rewritten code).
PRIME_CALLS = 32
PRIME_TURNS = 1000


def specialise(calls):
    for _ in range(calls):
        busy_wait(PRIME_TURNS)


def specialised(f):
    """1 when f's n -= 1 runs as CPython's specialised int subtraction,
    0 when not (yet), -1 where there is no adaptive interpreter (before
    3.11; free-threaded 3.13 has one but does not specialise: 0)."""
    import dis   # only here: not part of any timed run
    try:
        ops = [i.opname for i in dis.get_instructions(f, adaptive=True)]
    except TypeError:
        return -1
    return int("BINARY_OP_SUBTRACT_INT" in ops)


def ncpu():
    return os.cpu_count() or 1


def cpu_for(pin, i):
    """The CPU of worker i, as gil_cpu_for() in work.c."""
    if pin == "none":
        return None
    if pin == "same":
        return 0
    return i % ncpu()


def pin_self(cpu):
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})   # 0: the calling thread


def gil_enabled():
    f = getattr(sys, "_is_gil_enabled", None)
    return 1 if f is None else int(bool(f()))


def summary(lat):
    if not lat:
        return {}
    lat = sorted(lat)
    n = len(lat)
    return {"p50": lat[n // 2], "p99": lat[min(n - 1, (n * 99) // 100)],
            "max": lat[-1]}


# ---- bodies ---------------------------------------------------------------

def body_cpu(a, i, n, out):
    pin_self(cpu_for(a.pin, i))
    busy_wait(n)


def body_file(a, i, n, out):
    pin_self(cpu_for(a.pin, i))
    blocks = max(1, a.file_size // a.block)
    seed = i * 7919 + 1
    lat = out.setdefault(i, [])
    fd, block, pread, now = a.file_fd, a.block, os.pread, time.perf_counter_ns
    for _ in range(n):
        seed = (seed * 6364136223846793005 + 1442695040888963407) & _MASK
        off = ((seed >> 33) % blocks) * block
        t0 = now()
        pread(fd, block, off)
        lat.append(now() - t0)


def net_op(sock, buf, view, block):
    sock.sendall(buf)
    got = 0
    while got < block:
        r = sock.recv_into(view[got:], block - got)
        if r <= 0:
            raise ConnectionError("echo peer closed the connection")
        got += r


def body_net(a, i, n, out, stop=None):
    pin_self(cpu_for(a.pin, i))
    sock = socket.socket(fileno=os.dup(a.fds[i]))
    buf = b"x" * a.block
    view = memoryview(bytearray(a.block))
    lat = out.setdefault(i, [])
    now = time.perf_counter_ns
    try:
        k = 0
        while (not stop[0]) if stop else k < n:
            t0 = now()
            net_op(sock, buf, view, a.block)
            lat.append(now() - t0)
            k += 1
    finally:
        sock.close()


BODIES = {"cpu": body_cpu, "io-file": body_file, "io-net": body_net}


# ---- ways -----------------------------------------------------------------

def run_threads(fn, args_list):
    errs = []

    def wrap(args):
        try:
            fn(*args)
        except Exception as e:   # report, do not print a traceback per thread
            errs.append(e)

    ts = [threading.Thread(target=wrap, args=(x,)) for x in args_list]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errs:
        raise errs[0]


def run_processes(a, n, out):
    """Fork one child per worker; latencies come back over a pipe as raw
    64-bit integers (milliseconds to pass, not the seconds text would
    take).  Returns when the last child is done, before decoding."""
    kids = []
    for i in range(a.threads):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            code = 0
            try:
                mine = {}
                BODIES[a.workload](a, i, n, mine)
                data = memoryview(array.array("q", mine.get(i, [])).tobytes())
                while data:
                    data = data[os.write(w, data[:1 << 20]):]
            except Exception as e:
                sys.stderr.write("gil_workloads.py: child %d: %s\n" % (i, e))
                code = 1
            os._exit(code)
        os.close(w)
        kids.append((pid, r, i))
    bad, raw = 0, {}
    for pid, r, i in kids:
        chunks = []
        while True:
            b = os.read(r, 1 << 20)
            if not b:
                break
            chunks.append(b)
        os.close(r)
        _, st = os.waitpid(pid, 0)
        bad |= st != 0
        raw[i] = b"".join(chunks)
    done = time.perf_counter_ns()
    if bad:
        raise RuntimeError("a worker process failed")
    for i, b in raw.items():
        v = array.array("q")
        v.frombytes(b)
        out[i] = list(v)
    return done


def run_way(a, way, n):
    """Run the way; (latencies per worker, end time or None)."""
    out = {}
    fn = BODIES[a.workload]
    if way == "sequential":
        run_threads(lambda: [fn(a, i, n, out) for i in range(a.threads)], [()])
    elif way == "threads":
        run_threads(fn, [(a, i, n, out) for i in range(a.threads)])
    else:
        return out, run_processes(a, n, out)
    return out, None


def convoy(a, way, duration):
    """IO thread (worker 0) next to a.threads CPU-bound spinners."""
    stop = [False]
    out = {}

    def spin(i):
        pin_self(cpu_for(a.pin, i))
        while not stop[0]:
            busy_wait(16384)

    kids, ts = [], []
    if way != "sequential":
        for i in range(1, a.threads + 1):
            if way == "threads":
                ts.append(threading.Thread(target=spin, args=(i,)))
                ts[-1].start()
            else:
                pid = os.fork()
                if pid == 0:
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)
                    spin(i)
                    os._exit(0)
                kids.append(pid)
    io = threading.Thread(target=body_net, args=(a, 0, 0, out, stop))
    io.start()
    time.sleep(duration)
    stop[0] = True
    io.join()
    for t in ts:
        t.join()
    for pid in kids:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return out


def cpu_seconds():
    """CPU time of this process and its waited-for children: getrusage's
    microseconds, not os.times()'s 10 ms ticks (5% of a 0.2 s run)."""
    try:
        import resource
    except ImportError:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system
    s, c = (resource.getrusage(w) for w in
            (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def handoffs(a, seconds):
    """Hand-offs per second between a.threads CPU-bound threads: each
    thread notes when it finds itself the new holder (a check every 200
    turns, a few microseconds here, far below a switch interval)."""
    owner = [None]
    count = [0]
    end = time.perf_counter() + seconds

    def spin(i):
        pin_self(cpu_for(a.pin, i))
        me = object()
        clock = time.perf_counter
        while True:
            k = 200
            while k > 0:
                k -= 1
            if owner[0] is not me:
                owner[0] = me
                count[0] += 1
            if clock() >= end:
                break

    t0 = time.perf_counter()
    run_threads(spin, [(i,) for i in range(a.threads)])
    return max(0, count[0] - 1) / (time.perf_counter() - t0)


def emit(d):
    sys.stdout.write(" ".join("%s=%s" % kv for kv in d.items()) + "\n")
    sys.stdout.flush()


def main():
    p = argparse.ArgumentParser(prog="gil_workloads.py")
    p.add_argument("workload",
                   choices=["info", "calibrate", "cpu", "io-file", "io-net",
                            "convoy"])
    p.add_argument("way", nargs="?", default="sequential",
                   choices=["sequential", "threads", "processes"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--count", type=int, default=1000000)
    p.add_argument("--ops", type=int, default=1000)
    p.add_argument("--interval", type=float, default=0.005)
    p.add_argument("--block", type=int, default=64)
    p.add_argument("--pin", choices=["none", "split", "same"], default="none")
    p.add_argument("--duration", type=float, default=1.0)
    p.add_argument("--fds", default="")
    p.add_argument("--file-fd", type=int, default=-1)
    p.add_argument("--file-size", type=int, default=0)
    p.add_argument("--seconds", type=float, default=0.3)
    p.add_argument("--handoff-seconds", type=float, default=0.0)
    p.add_argument("--warmup", type=float, default=0.1)
    p.add_argument("--prime-calls", type=int, default=PRIME_CALLS,
                   help="short busy_wait calls before anything else, so "
                        "that CPython specialises it (0: none, as before)")
    a = p.parse_args()
    if a.prime_calls < 0:
        p.error("--prime-calls must be 0 or more")
    a.fds = [int(x) for x in a.fds.split(",") if x]
    sys.setswitchinterval(a.interval)

    if a.workload == "info":
        emit({"version": "%d.%d.%d" % sys.version_info[:3],
              "gil": gil_enabled(), "ncpu": ncpu(),
              "implementation": sys.implementation.name,
              "executable": sys.executable})
        return 0
    specialise(a.prime_calls)
    if a.workload == "calibrate":
        busy_wait(200000)
        n = 100000
        while True:
            t0 = time.perf_counter()
            busy_wait(n)
            dt = time.perf_counter() - t0
            if dt >= a.seconds:
                break
            n *= 2
        emit({"rate": "%.0f" % (n / dt), "specialised": specialised(busy_wait)})
        return 0

    size = a.count if a.workload == "cpu" else a.ops
    res = {}
    try:
        if a.workload == "convoy":
            if a.warmup > 0:
                convoy(a, a.way, max(0.02, a.duration * a.warmup))
            c0, t0 = cpu_seconds(), time.perf_counter_ns()
            out = convoy(a, a.way, a.duration)
            t1 = time.perf_counter_ns()
        else:
            if a.warmup > 0:
                run_way(a, a.way, int(size * a.warmup) + 1)
            if a.workload == "cpu":   # at the start of the timed run
                res["specialised"] = specialised(busy_wait)
            c0, t0 = cpu_seconds(), time.perf_counter_ns()
            out, t1 = run_way(a, a.way, size)
            t1 = t1 or time.perf_counter_ns()
        res["wall_s"] = "%.6f" % ((t1 - t0) / 1e9)
        res["cpu_s"] = "%.6f" % (cpu_seconds() - c0)
    except (OSError, RuntimeError, ConnectionError) as e:
        sys.stderr.write("gil_workloads.py: %s %s: %s\n" % (a.workload, a.way, e))
        return 1
    lat = [x for k in sorted(out) for x in out[k]] if a.workload != "cpu" else []
    if a.workload == "cpu":
        res["ops"] = size * a.threads
    else:
        res["ops"] = len(lat)
        res.update(("lat_" + k, v) for k, v in summary(lat).items())
    if a.way == "threads" and a.handoff_seconds > 0 and a.threads >= 2:
        res["handoffs_per_s"] = "%.1f" % handoffs(a, a.handoff_seconds)
    emit(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
