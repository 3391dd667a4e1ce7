#!/bin/sh
# SPDX-License-Identifier: MIT
# t_gil.sh - tide-gil: every workload and way in a short configuration
# prints sane JSON; bad arguments exit 2 with a message.
set -u
gil=${TIDE_BUILD:?}/tide-gil
[ -x "$gil" ] || { echo "no $gil"; exit 1; }
command -v python3 >/dev/null || { echo "python3 missing: skip"; exit 77; }
fail=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

run() { # workload args...
	w=$1; shift
	if ! timeout 60 "$gil" -w "$w" --json "$@" >"$tmp/$w.json" 2>"$tmp/$w.err"; then
		echo "FAIL: tide-gil -w $w $*"; cat "$tmp/$w.err"; fail=1; return
	fi
	python3 - "$tmp/$w.json" "$w" <<'PY' || fail=1
import json, sys
d = json.load(open(sys.argv[1])); w = sys.argv[2]
assert d["workload"] == w and d["threads"] >= 1 and d["switch_interval_ns"] > 0
ways = [r["way"] for r in d["results"]]
want = ["sequential", "glock", "pool", "processes"] + ([] if w == "cpu" else ["uring"])
assert ways == want, ways
for r in d["results"]:
    for k in ("wall_s", "cpu_s", "speedup", "ops_per_sec"):
        assert r[k] is not None and r[k] >= 0, (r["way"], k)
    assert r["wall_s"] > 0 and r["ops_per_sec"] > 0, r["way"]
    if w != "cpu":
        l = r["lat_ns"]; assert 0 < l["p50"] <= l["p99"] <= l["max"], (r["way"], l)
    if r["way"] == "glock":
        for k in ("handoffs_per_s", "drop_requests", "forced_drops", "wait_ns", "hold_ns", "jain_index"):
            assert k in r, k
        assert 0 < r["jain_index"] <= 1.0 + 1e-9
PY
}
run cpu -n 20000000 -i 1ms
run io-file -o 2000
run io-net -o 500
run convoy -t 1 -d 0.2 -i 1ms --pin split

"$gil" -n 1000 -t 2 --svg "$tmp/g.svg" >/dev/null || fail=1
grep -q '<svg' "$tmp/g.svg" || { echo "FAIL: no svg"; fail=1; }

bad() {
	"$gil" "$@" >/dev/null 2>"$tmp/bad.err"; rc=$?
	if [ $rc -ne 2 ] || ! grep -q 'tide-gil:' "$tmp/bad.err"; then
		echo "FAIL: tide-gil $* gave $rc"; cat "$tmp/bad.err"; fail=1
	fi
}
bad -w nope
bad -t 0
bad -i 5parsecs
bad -i 0
bad --ways sequential,bogus
bad -r 0
bad --pin sideways
bad --mode lifo
bad extra-arg
bad --no-such-option
exit $fail
