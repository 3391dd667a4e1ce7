#!/bin/sh
# SPDX-License-Identifier: MIT
# bench_read.sh - page-cache random reads on tide's epoll backend against
# fio's psync with as many threads as the backend's pool has (run by hand;
# not part of make check).
#
#   tests/bench_read.sh [RUNS] [DURATION]      (defaults 5 and 2 s)
#
# Environment: TIDE_BUILD (build), FILE (a 64 MiB scratch file, made when
# missing, kept), BS (4k), QD (32), THREADS (TIDE_BLOCKING_THREADS, else 4:
# the pool's size, and fio's numjobs).
#
# Each round runs fio (--ioengine=psync --numjobs=THREADS --invalidate=0),
# then TIDE_BACKEND=epoll tide-bench read --rand --engine tide, then the
# same with TIDE_BLOCKING_SPILL=0 (every page-cache read on the loop's own
# thread), the file read through right before each so that it is in the
# page cache.  Output: one "name value unit" line per figure, medians over
# the rounds; read_fallback_ratio is the median of the rounds' tide/fio
# ratios (the target is >= 0.8).
set -eu

RUNS=${1:-5}
DUR=${2:-2}
B=${TIDE_BUILD:-build}
BS=${BS:-4k}
QD=${QD:-32}
THREADS=${THREADS:-${TIDE_BLOCKING_THREADS:-4}}
FILE=${FILE:-${TMPDIR:-/tmp}/tide-bench-read.dat}

command -v fio >/dev/null || { echo "bench_read.sh: fio is needed (Debian: fio)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "bench_read.sh: python3 is needed" >&2; exit 2; }
[ -x "$B/tide-bench" ] || { echo "bench_read.sh: no $B/tide-bench (make first)" >&2; exit 2; }
if [ ! -s "$FILE" ]; then
	dd if=/dev/urandom of="$FILE" bs=1M count=64 status=none
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT INT TERM

warm() { cat "$FILE" >/dev/null; }

fio_iops() {
	warm
	fio --name=psync --filename="$FILE" --rw=randread --bs="$BS" \
		--ioengine=psync --invalidate=0 --numjobs="$THREADS" \
		--group_reporting --time_based --runtime="$DUR" \
		--output-format=json |
		python3 -c 'import json,sys; print(int(json.load(sys.stdin)["jobs"][0]["read"]["iops"]))'
}

tide_iops() {
	warm
	env "$@" TIDE_BACKEND=epoll TIDE_BLOCKING_THREADS="$THREADS" \
		"$B/tide-bench" read "$FILE" --rand --bs "$BS" --qd "$QD" \
		--engine tide --duration "$DUR" --json |
		python3 -c 'import json,sys; print(int(json.load(sys.stdin)["iops"]))'
}

i=0
while [ "$i" -lt "$RUNS" ]; do
	f=$(fio_iops)
	t=$(tide_iops TIDE_BLOCKING_SPILL=1)
	n=$(tide_iops TIDE_BLOCKING_SPILL=0)
	echo "run $i: fio_psync_x$THREADS $f tide_epoll $t tide_epoll_nospill $n" >&2
	echo "$f $t $n" >>"$out"
	i=$((i + 1))
done

python3 - "$out" "$THREADS" <<'EOF'
import statistics, sys
rows = [list(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
th = sys.argv[2]
med = lambda v: statistics.median(v)
print("read_fio_psync_x%s_iops %d IOPS" % (th, med([r[0] for r in rows])))
print("read_tide_epoll_iops %d IOPS" % med([r[1] for r in rows]))
print("read_tide_epoll_nospill_iops %d IOPS" % med([r[2] for r in rows]))
print("read_fallback_ratio %.3f x" % med([r[1] / r[0] for r in rows]))
print("read_fallback_nospill_ratio %.3f x" % med([r[2] / r[0] for r in rows]))
EOF
