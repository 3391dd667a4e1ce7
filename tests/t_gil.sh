#!/bin/sh
# SPDX-License-Identifier: MIT
# t_gil.sh - tide-gil: every workload in a short configuration prints the
# documented JSON (rounds, spreads, checks with bands and verdicts); runs
# too short to judge say "noisy"; --python runs CPython side by side (or
# says why not); a way that fails, an unreadable --file, a --block larger
# than the file, a full output device all exit non-zero with a reason; bad
# arguments exit 2.  Small sizes throughout: seconds, not minutes.
set -u
gil=${TIDE_BUILD:?}/tide-gil
[ -x "$gil" ] || { echo "no $gil"; exit 1; }
command -v python3 >/dev/null || { echo "python3 missing: skip (the JSON checks need it)"; exit 77; }
fail=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
say() { echo "FAIL: $*"; fail=1; }

# run NAME ARGS...: tide-gil --json ARGS into $tmp/NAME.json, exit 0 wanted
run() {
	n=$1; shift
	if ! timeout 120 "$gil" --json "$@" >"$tmp/$n.json" 2>"$tmp/$n.err"; then
		say "tide-gil $*"; cat "$tmp/$n.err"
	fi
}

# check NAME WORKLOAD PYTHON(0/1) [VERDICT]: the JSON's shape and values
check() {
	python3 - "$tmp/$1.json" "$2" "$3" "${4:-}" <<'PY' || { say "JSON of $1"; cat "$tmp/$1.err"; }
import json, sys
d = json.load(open(sys.argv[1])); w = sys.argv[2]; py = sys.argv[3] == "1"
want_verdict = sys.argv[4]
assert d["workload"] == w and d["threads"] >= 1 and d["switch_interval_ns"] > 0
assert d["rounds"] >= 1 and d["cores"] >= 1 and d["pin"] in ("none", "split", "same")
assert len(d["loadavg"]) == 2 and isinstance(d["calibrated"], bool)
assert d["python"]["ran"] is py, d["python"]
# --call-cost: 0 unless asked; auto (the pyconvoy run) says where it came
# from, and the cost is CPython's extra p50 over the calls per operation
assert isinstance(d["call_cost_ns"], int) and d["call_cost_ns"] >= 0
assert d["call_cost_auto"] is (sys.argv[1].endswith("pyconvoy.json")), d["call_cost_auto"]
if d["call_cost_auto"]:
    f = d["call_cost_from"]
    assert f["python_seq_p50_ns"] > 0 and f["tide_seq_p50_ns"] > 0, f
    assert f["calls_per_op"] == (1 if w == "io-file" else 2), f
    want = max(0, int((f["python_seq_p50_ns"] - f["tide_seq_p50_ns"]) / f["calls_per_op"]))
    assert abs(d["call_cost_ns"] - want) <= 1, (d["call_cost_ns"], want)
else:
    assert "call_cost_from" not in d and d["call_cost_ns"] == 0
if py:
    assert d["python"]["version"].startswith("3."), d["python"]
    if w == "cpu":
        # 3.11+ with a GIL specialises busy_wait; the script makes sure it
        # has before any way is timed (gil_workloads.py: specialise())
        import sysconfig
        sp = d["python"]["specialised"]
        if sys.version_info < (3, 11):
            assert sp is None, sp
        elif not sysconfig.get_config_var("Py_GIL_DISABLED"):
            assert sp is True, sp
        if "glock" in [r["way"] for r in d["results"]]:
            names = [c["name"] for c in d["checks"]]
            assert "(glock / sequential) over CPython's, in CPU time" in names, names
ways = [r["way"] for r in d["results"]]
# where io_uring is blocked (t_fallback's seccomp filter) the default ways
# leave the uring way out and say so on stderr
left_out = "the uring way is left out" in open(sys.argv[1][:-5] + ".err").read()
want = ["sequential", "glock", "pool", "processes"] + ([] if w == "cpu" or left_out else ["uring"])
assert ways == want, ways
for r in d["results"]:
    sides = [r] + ([r["python"]] if r["python"] else [])
    if py and r["way"] in ("sequential", "glock", "processes"):
        assert r["python"] is not None, r["way"]
        # 0 only in a convoy run this short, where a way's IO can starve
        # under load (t_fallback runs the suite twice at once)
        assert r["ratio"] is not None and (r["ratio"] > 0 or w == "convoy"), (r["way"], r["ratio"])
    if not py:
        assert r["python"] is None and r["ratio"] is None
    for s in sides:
        assert s["wall_s"] > 0 and s["ops"] > 0 and s["ops_per_sec"] > 0, r["way"]
        rr = s["wall_s_rounds"]
        assert rr["min"] <= rr["median"] <= rr["max"] and rr["spread"] >= 0, rr
        # null only when no round had a value (a convoy way starved of its
        # IO in a run this short)
        assert s["speedup"] is None or s["speedup"] >= 0, s["speedup"]
        assert s["speedup_exceeds_cores"] in (True, False)
        if w != "cpu":
            l = s["lat_ns"]; assert 0 < l["p50"] <= l["p99"] <= l["max"], (r["way"], l)
    if r["way"] == "sequential":
        assert r["speedup"] == 1, r["speedup"]
    if r["way"] == "glock":
        for k in ("handoffs_per_s", "drop_requests", "forced_drops", "wait_ns",
                  "hold_ns", "jain_index"):
            assert k in r, k
        assert 0 < r["jain_index"] <= 1.0 + 1e-9
assert d["checks"] or w in ("io-file", "io-net"), "no checks"
for c in d["checks"]:
    lo, hi = c["band"]
    assert lo <= hi and c["name"] and c["basis"], c
    m = c["measured"]; assert m["min"] <= m["median"] <= m["max"], c
    # the median's confidence interval: order statistics inside min..max;
    # from n rounds min..max covers it with 1 - 2^(1-n) (0.5 at 2, 0.9375 at 5)
    clo, chi = m["ci"]
    assert m["min"] <= clo <= m["median"] <= chi <= m["max"], c
    n = m["n"]  # the rounds that gave a value
    assert 1 <= n <= d["rounds"], (n, d["rounds"])
    if n <= 5:
        assert (clo, chi) == (m["min"], m["max"]), c
        assert abs(m["ci_level"] - (1 - 2.0 ** (1 - n))) < 1e-9, (n, m["ci_level"])
    assert c["verdict"] in ("ok", "differs", "noisy"), c
    if c["verdict"] == "noisy":
        assert c["why"], c
    if want_verdict:
        assert c["verdict"] == want_verdict, (c["name"], c["verdict"], want_verdict)
PY
}

# Every workload, two rounds, tiny sizes.
run cpu -n 2000000 -r 2 -i 1ms
check cpu cpu 0
run io-file -w io-file -o 300 -r 2
check io-file io-file 0
run io-net -w io-net -o 200 -r 2
check io-net io-net 0
run convoy -w convoy -t 1 -d 0.3 -r 2 -i 1ms --pin split
check convoy convoy 0

# Runs far too short for any conclusion: every verdict must be "noisy".
run tiny -n 1000 -r 3
check tiny cpu 0 noisy
grep -q 'runs too short' "$tmp/tiny.json" || say "tiny -n: no 'too short' reason"
run one -n 1000 -r 1
check one cpu 0 noisy
grep -q 'one round' "$tmp/one.json" || say "-r 1: no 'one round' reason"
"$gil" -n 1000 -r 2 >"$tmp/table" 2>&1 || say "table run"
grep -q '^  \[noisy  \] glock threads / sequential' "$tmp/table" || say "table: no noisy check line"

# CPython side by side.
py=$(command -v python3)
run pycpu -n 2000000 -r 2 --python
check pycpu cpu 1
run pyfile -w io-file -o 300 -r 2 --python "$py"
check pyfile io-file 1
run pynet -w io-net -o 200 -r 2 --python="$py"
check pynet io-net 1
run pyconvoy -w convoy -t 1 -d 0.3 -r 2 --pin split --python --call-cost auto
check pyconvoy convoy 1
# --call-cost T: that much work under the lock before each IO call (two
# per round trip; without it a same-core round trip takes 5 to 10 us here;
# the bound allows the cost's calibration to run at half speed under load)
run cost -w convoy -t 1 -d 0.3 -r 1 --pin same -W sequential --call-cost 50us
python3 - "$tmp/cost.json" <<'PY' || say "--call-cost 50us: convoy round trip"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["call_cost_ns"] == 50000 and d["call_cost_auto"] is False, d
p50 = d["results"][0]["lat_ns"]["p50"]
assert p50 >= 50000, p50
PY
run costf -w io-file -o 300 -r 1 -W sequential --call-cost 20us
python3 - "$tmp/costf.json" <<'PY' || say "--call-cost 20us: io-file pread"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["call_cost_ns"] == 20000, d
p50 = d["results"][0]["lat_ns"]["p50"]
assert p50 >= 10000, p50
PY
"$gil" -w convoy -t 1 -d 0.2 -r 1 -W sequential --call-cost 5us >"$tmp/costt" 2>&1 &&
	grep -q '^call cost: 5.00 us of work under the lock' "$tmp/costt" ||
	{ say "--call-cost table line"; cat "$tmp/costt"; }
"$gil" -n 2000000 -r 2 --python >"$tmp/pytable" 2>&1 || say "--python table"
grep -q 'CPython: .*3\.' "$tmp/pytable" || say "--python table: no CPython line"
grep -q 'tide/CPy' "$tmp/pytable" || say "--python table: no ratio column"

# CPython's adaptive interpreter: every way's timed run starts with busy_wait
# specialised (3.11 rewrites a function at its 8th call: before the script
# primed it, 4 threads reached that call together and ran specialised while
# sequential ran 3 of its 4 calls generic, 1.4 to 1.6 times slower per turn).
script="${TIDE_SRC:-.}/tools/gil/gil_workloads.py"
want=$("$py" -c 'import sys, sysconfig
print(-1 if sys.version_info < (3, 11) else
      "" if sysconfig.get_config_var("Py_GIL_DISABLED") else 1)')
for way in sequential threads processes; do
	out=$("$py" -S "$script" cpu $way --threads 4 --count 20000) || say "script cpu $way"
	[ -z "$want" ] || echo "$out" | grep -q "specialised=$want " ||
		say "script cpu $way: want specialised=$want: $out"
done
if [ "$want" = 1 ] && ! grep -q 'busy_wait specialised in every run' "$tmp/pytable"; then
	say "--python table: no 'specialised' note"
fi
# 3.11 alone keeps the generic code for 7 calls: without the priming the
# sequential way's timed run starts generic (the old shape), and says so
if "$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
	out=$("$py" -S "$script" cpu sequential --threads 4 --count 20000 --prime-calls 0)
	echo "$out" | grep -q "specialised=0 " || say "--prime-calls 0: $out"
fi
"$py" -S "$script" cpu sequential --prime-calls -1 >/dev/null 2>&1 && say "--prime-calls -1 accepted"

# --call-cost auto without a CPython to measure: none, and the table says why.
PATH=/nonexistent "$gil" -w convoy -t 1 -d 0.2 -r 1 -W sequential --python --call-cost auto \
	>"$tmp/nopyc" 2>&1 && grep -q '^call cost: none .*auto: no CPython ran' "$tmp/nopyc" ||
	{ say "--call-cost auto without python3"; cat "$tmp/nopyc"; }
# python3 missing: said, emulation alone, exit 0.
PATH=/nonexistent "$gil" --json --python -n 1000 -r 2 >"$tmp/nopy.json" 2>"$tmp/nopy.err" ||
	say "--python without python3 exited non-zero"
grep -q 'python3 not found' "$tmp/nopy.err" || say "no 'python3 not found' message"
check nopy cpu 0
grep -q '"note": "python3 not found' "$tmp/nopy.json" || say "JSON lacks the python note"

# A CPython side that fails mid-run, or prints no figures, fails the run.
mkdir -p "$tmp/fake"
cat >"$tmp/fake/gil_workloads.py" <<'PY'
import sys
if sys.argv[1] == "info":
    print("version=3.99.0 gil=1 ncpu=2 implementation=cpython")
elif sys.argv[1] == "calibrate":
    print("rate=1000000")
elif sys.argv[2] == "threads":
    sys.stderr.write("gil_workloads.py: fake failure\n"); sys.exit(1)
else:
    print("nothing useful")
PY
TIDE_GIL_SCRIPTS="$tmp/fake" "$gil" -n 1000 -r 1 -W glock --python >"$tmp/fake.out" 2>"$tmp/fake.err"
[ $? -eq 1 ] && grep -q 'fake failure' "$tmp/fake.err" &&
	grep -q 'CPython cpu glock failed' "$tmp/fake.err" || { say "failing CPython side"; cat "$tmp/fake.err"; }
TIDE_GIL_SCRIPTS="$tmp/fake" "$gil" -n 1000 -r 1 -W sequential --python >"$tmp/fake.out" 2>"$tmp/fake.err"
[ $? -eq 1 ] && grep -q 'no figures in its output' "$tmp/fake.err" ||
	{ say "CPython side without figures"; cat "$tmp/fake.err"; }

# err RC PATTERN ARGS...: exit status RC, PATTERN on stderr, nothing on stdout
err() {
	want=$1 pat=$2; shift 2
	"$gil" "$@" >"$tmp/err.out" 2>"$tmp/err.err"; rc=$?
	if [ $rc -ne "$want" ] || ! grep -q "$pat" "$tmp/err.err"; then
		say "tide-gil $* gave $rc (want $want, '$pat')"; cat "$tmp/err.err"
	fi
}
err 1 'not found' --python /nonexistent/python3 -n 1000
err 1 'does not run' --python /bin/false -n 1000
err 1 'is a directory' -w io-file --file "$tmp" -o 100
[ -s "$tmp/err.out" ] && say "io-file on a directory printed a table"
head -c 100 /dev/zero >"$tmp/small"
err 1 'less than one --block' -w io-file --file "$tmp/small" -o 100
err 1 'larger than the' -w io-file -b 16777216 -o 10
if [ -w /dev/full ]; then
	"$gil" -n 1000 -r 2 >/dev/full 2>"$tmp/full.err"
	[ $? -eq 1 ] && grep -q 'No space left on device' "$tmp/full.err" || say "table >/dev/full"
	"$gil" -n 1000 -r 2 --json >/dev/full 2>"$tmp/full.err"
	[ $? -eq 1 ] && grep -q 'No space left on device' "$tmp/full.err" || say "--json >/dev/full"
	err 1 'No space left on device' -n 1000 -r 2 --svg /dev/full
fi

# The uring way when io_uring is denied (a seccomp filter answering EPERM).
cat >"$tmp/deny.c" <<'C'
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1 /* EPERM */),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = 4, .filter = f };
	if (argc < 2 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		return 77;
	execv(argv[1], argv + 1);
	return 77;
}
C
if ${TIDE_CC:-cc} -o "$tmp/deny" "$tmp/deny.c" 2>/dev/null; then
	"$tmp/deny" "$gil" -w io-file -W uring -o 100 -r 1 >"$tmp/deny.out" 2>"$tmp/deny.err"
	rc=$?
	if [ $rc -ne 77 ]; then
		[ $rc -eq 1 ] || say "uring way under seccomp exited $rc, want 1"
		grep -q 'uring: creating the io_uring loop: .*not permitted' "$tmp/deny.err" ||
			{ say "uring way under seccomp: no reason"; cat "$tmp/deny.err"; }
		[ -s "$tmp/deny.out" ] && say "uring way under seccomp printed a table"
	fi
else
	echo "no C compiler: seccomp case skipped"
fi

# SVG: well-formed, titled, axes named; convoy on a log axis.
"$gil" -n 2000000 -r 2 --python --svg "$tmp/cpu.svg" >/dev/null 2>&1 || say "--svg cpu"
"$gil" -w convoy -t 1 -d 0.05 -r 2 --svg "$tmp/convoy.svg" >/dev/null 2>&1 || say "--svg convoy"
python3 - "$tmp/cpu.svg" "$tmp/convoy.svg" <<'PY' || say "SVG content"
import sys, xml.etree.ElementTree as ET
def text(p):
    return " ".join(t.text or "" for t in ET.parse(p).iter() if t.tag.endswith("text"))
a, b = text(sys.argv[1]), text(sys.argv[2])
assert "tide-gil cpu" in a and "wall time, seconds" in a and "CPython" in a, a
assert "tide emulation" in a and "sequential" in a and "glock" in a, a
assert "log scale" in b and "microseconds" in b and "p99" in b, b
PY
if command -v rsvg-convert >/dev/null; then
	rsvg-convert -o "$tmp/convoy.png" "$tmp/convoy.svg" || say "rsvg-convert failed"
fi

# Bad arguments: exit 2 with a message.
bad() {
	"$gil" "$@" >/dev/null 2>"$tmp/bad.err"; rc=$?
	if [ $rc -ne 2 ] || ! grep -q 'tide-gil:' "$tmp/bad.err"; then
		say "tide-gil $* gave $rc"; cat "$tmp/bad.err"
	fi
}
bad -w nope
bad -t 0
bad -i 5parsecs
bad -i 0
bad --ways sequential,bogus
bad -w cpu --ways uring
bad -r 0
bad -r 100
bad --pin sideways
bad --mode lifo
bad --python=
bad -t nan
bad -t ' -1'
bad -n 18014398509481985k
bad -i nan
bad -d nan
bad -d 0
bad -b 17m
bad -o -5
bad extra-arg
bad -w convoy --call-cost nan
bad -w convoy --call-cost 2s
bad -w convoy --call-cost ' -1us'
bad -w convoy --call-cost auto
bad --call-cost 1us
bad --no-such-option
exit $fail
