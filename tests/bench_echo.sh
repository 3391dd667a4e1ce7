#!/bin/sh
# SPDX-License-Identifier: MIT
# bench_echo.sh - tide-echo server vs --engine epoll on loopback (run by
# hand; not part of make check), and tide on its epoll backend
# (TIDE_BACKEND=epoll, "tide-epoll") against the same hand-written engine.
#
#   tests/bench_echo.sh [RUNS] [DURATION]      (defaults 3 and 5 s)
#
# Environment: TIDE_BUILD (build), CONNS ("100 1000"), SIZE (64),
# CALLGRIND (unset; see below), CG_SHORT (1),
# SERVER_CPU (0), CLIENT_CPU (1), IDLE (10000; 0 skips the idle test),
# ENGINES ("tide epoll tide-epoll": the servers run, interleaved; add
# "tasks" for tide-echo server --tasks, one task per connection).
#
# For each connection count it runs tide, epoll, tide, epoll, ... (RUNS of
# each, interleaved so slow drifts of a shared machine hit both alike), the
# server pinned to SERVER_CPU and the same tide-echo client to CLIENT_CPU.
# Server CPU is its threads' run time from /proc/PID/task/*/schedstat (ns),
# read just before the client starts and just after it exits, divided by
# the messages the client counted over that window.  msgs/s and p99 come from the client's --json.
# Then IDLE connections are opened and held idle (by a python3 helper) and
# the server's VmRSS is read from /proc/PID/status.
#
# CALLGRIND=1 counts instead of timing (deterministic, unaffected by the
# machine's load): each server runs under callgrind with its cache
# simulation, once for CG_SHORT seconds (1) and once for DURATION, and the
# difference of the two runs' totals over the difference of their message
# counts (so start-up and connection set-up cancel out) gives, per message,
# the server's instructions (ir_per_msg) and its D1 cache misses, reads
# plus writes (d1miss_per_msg); tasks_ir_ratio and tasks_d1miss_ratio
# compare --tasks with the continuation server.  RUNS is not used.
#
# Output: one "name value unit" line per figure, medians over the runs:
#   echo_c100_tide_cpu_per_msg 4.81 us ... echo_c100_cpu_ratio 1.10 x
# (cpu_ratio = epoll CPU per message / tide CPU per message: the target is
# >= 1.2; msgs_ratio = tide msgs/s / epoll msgs/s; p99_ratio = tide p99 /
# epoll p99; fallback_cpu_ratio = tide-epoll CPU per message / epoll CPU
# per message: the target is <= 1.15; tasks_cpu_ratio = tasks CPU per
# message / tide CPU per message: the target is <= 1.05;
# tasks_cpu_ratio_paired = the median of the per-round ratios, each tasks
# run against the tide run of its round, which a load drifting over the
# runs disturbs less).  Each ratio is
# printed when both of its engines ran.  Per-run figures go to stderr.
set -u
RUNS=${1:-3}
DUR=${2:-5}
B=${TIDE_BUILD:-build}
CONNS=${CONNS:-"100 1000"}
SIZE=${SIZE:-64}
SCPU=${SERVER_CPU:-0}
CCPU=${CLIENT_CPU:-1}
IDLE=${IDLE:-10000}
ENGINES=${ENGINES:-"tide epoll tide-epoll"}

[ -x "$B/tide-echo" ] || { echo "bench_echo: $B/tide-echo not built" >&2; exit 1; }
command -v taskset >/dev/null || { echo "bench_echo: taskset missing" >&2; exit 1; }
T=$(mktemp -d) || exit 1
# a private copy: a rebuild during the run must not change the binary
cp "$B/tide-echo" "$T/tide-echo" || exit 1
ECHO=$T/tide-echo
HZ=$(getconf CLK_TCK)
SP=
HP=
cleanup() {
	[ -n "$HP" ] && kill "$HP" 2>/dev/null
	[ -n "$SP" ] && kill "$SP" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# fds for IDLE connections (server and helper each hold IDLE of them)
want=$((IDLE + 64))
[ "$(ulimit -n)" -lt "$want" ] && ulimit -n "$want" 2>/dev/null
if [ "$IDLE" -gt 0 ] && [ "$(ulimit -n)" -lt "$want" ]; then
	hard=$(ulimit -Hn)
	echo "bench_echo: ulimit -n is $(ulimit -n) (hard $hard); idle test uses $((hard - 64))" >&2
	ulimit -n "$hard"
	IDLE=$((hard - 64))
fi

start_server() { # ENGINE
	rm -f "$T/err" # the redirection below happens in the child, later
	ADDR=
	case $1 in
	tide-epoll) set -- tide; be=epoll ;;
	tasks) set -- tide --tasks; be= ;;
	*) be= ;;
	esac
	env ${be:+TIDE_BACKEND=$be} taskset -c "$SCPU" "$ECHO" server \
		127.0.0.1:0 --engine "$@" >/dev/null 2>"$T/err" &
	SP=$!
	i=0
	while [ -z "$ADDR" ]; do
		ADDR=$(sed -n 's/.*listening on \([^ ]*\) .*/\1/p' "$T/err" \
			2>/dev/null)
		[ -n "$ADDR" ] && break
		i=$((i + 1))
		if [ $i -gt 200 ] || ! kill -0 "$SP" 2>/dev/null; then
			echo "bench_echo: server did not start" >&2
			cat "$T/err" >&2
			exit 1
		fi
		sleep 0.05
	done
}

stop_server() {
	kill "$SP"
	wait "$SP" 2>/dev/null
	SP=
}

# PID: CPU time in ns of every thread of the process, from schedstat
# (nanoseconds; /proc/PID/stat's ticks are 10 ms, too coarse for the few
# CPU seconds a server gets on a loaded machine); ticks * 1e7 without it
cpu_ns() {
	if [ -r "/proc/$1/schedstat" ]; then
		cat "/proc/$1"/task/*/schedstat 2>/dev/null |
			awk '{ s += $1 } END { printf "%.0f\n", s }'
	else
		awk -v hz="$HZ" '{ printf "%.0f\n", ($14 + $15) * 1e9 / hz }' \
			"/proc/$1/stat"
	fi
}

json_num() { # KEY FILE
	tr -d ' \n' <"$2" | sed -n "s/.*\"$1\":\([0-9.e+]*\).*/\1/p"
}

# one_run ENGINE CONNS: appends "cpu_us_per_msg msgs_per_sec p99_us" to
# $T/ENGINE.CONNS
one_run() {
	start_server "$1"
	c0=$(cpu_ns "$SP")
	taskset -c "$CCPU" "$ECHO" client "$ADDR" --conns "$2" --size "$SIZE" \
		--duration "$DUR" --json >"$T/json"
	rc=$?
	c1=$(cpu_ns "$SP")
	stop_server
	msgs=$(json_num msgs "$T/json")
	mps=$(json_num msgs_per_sec "$T/json")
	p99=$(json_num p99 "$T/json")
	errs=$(json_num errors "$T/json")
	if [ $rc -ne 0 ] || [ -z "$msgs" ] || [ "$msgs" = 0 ]; then
		echo "bench_echo: client failed ($1, $2 conns, rc $rc)" >&2
		cat "$T/json" >&2
		exit 1
	fi
	awk -v t="$((c1 - c0))" -v m="$msgs" -v r="$mps" \
		-v p="$p99" 'BEGIN { printf "%.4f %.0f %.1f\n",
			t / 1e3 / m, r, p / 1e3 }' >>"$T/$1.$2"
	echo "run $1 conns=$2: $(tail -n 1 "$T/$1.$2") (us/msg msgs/s p99_us)" \
	     "errors=$errs" >&2
}

median() { # FILE COLUMN
	awk -v k="$2" '{ print $k }' "$1" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
			else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# cg_run ENGINE CONNS SECONDS: "messages Ir D1mr D1mw" of one run of the
# server under callgrind
cg_run() {
	x=
	[ "$1" = tasks ] && x=--tasks
	rm -f "$T/err" "$T/cg"
	taskset -c "$SCPU" valgrind --tool=callgrind --cache-sim=yes \
		--callgrind-out-file="$T/cg" "$ECHO" server 127.0.0.1:0 \
		--engine tide $x >/dev/null 2>"$T/err" &
	SP=$!
	ADDR=
	i=0
	while [ -z "$ADDR" ]; do
		sleep 0.2
		ADDR=$(sed -n 's/.*listening on \([^ ]*\) .*/\1/p' "$T/err")
		i=$((i + 1))
		if [ $i -gt 300 ] || ! kill -0 "$SP" 2>/dev/null; then
			echo "bench_echo: server did not start under valgrind" >&2
			cat "$T/err" >&2
			exit 1
		fi
	done
	taskset -c "$CCPU" "$ECHO" client "$ADDR" --conns "$2" --size "$SIZE" \
		--duration "$3" --json >"$T/json" || {
		echo "bench_echo: client failed ($1, $2 conns)" >&2
		exit 1
	}
	stop_server
	awk -v m="$(json_num msgs "$T/json")" '
		/^events:/ { for (i = 2; i <= NF; i++) ev[$i] = i }
		/^(summary|totals):/ { for (i = 2; i <= NF; i++) v[i] = $i }
		END { print m, v[ev["Ir"]], v[ev["D1mr"]], v[ev["D1mw"]] }' "$T/cg"
}

if [ -n "${CALLGRIND:-}" ]; then
	command -v valgrind >/dev/null || { echo "bench_echo: valgrind missing" >&2; exit 1; }
	SHORT=${CG_SHORT:-1}
	for c in $CONNS; do
		for e in $ENGINES; do
			case $e in
			tide | tasks) ;;
			*) echo "bench_echo: CALLGRIND=1 counts tide and tasks; not $e" >&2
			   continue ;;
			esac
			a=$(cg_run "$e" "$c" "$SHORT") || exit 1
			b=$(cg_run "$e" "$c" "$DUR") || exit 1
			echo "callgrind $e conns=$c: $a / $b (msgs Ir D1mr D1mw)" >&2
			echo "$a $b" | awk -v e="$e" -v c="$c" '{
				m = $5 - $1
				if ($5 < 2 * $1) {
					print "bench_echo: the long run did not get twice the " \
					      "messages of the short one (a loaded machine?): " \
					      "run again, or with a longer DURATION" > "/dev/stderr"
					exit 1
				}
				printf "echo_c%s_%s_ir_per_msg %.1f instr\n", c, e, ($6 - $2) / m
				printf "echo_c%s_%s_d1miss_per_msg %.2f misses\n", c, e,
					($7 + $8 - $3 - $4) / m }' >"$T/cg.one" || exit 1
			cat "$T/cg.one"
			cat "$T/cg.one" >>"$T/cg.$c"
		done
		awk -v c="$c" '{ v[$1] = $2 }
			END { t = "echo_c" c "_tide_"; k = "echo_c" c "_tasks_"
			if ((t "ir_per_msg") in v && (k "ir_per_msg") in v) {
				printf "echo_c%s_tasks_ir_ratio %.3f x\n", c,
					v[k "ir_per_msg"] / v[t "ir_per_msg"]
				printf "echo_c%s_tasks_d1miss_ratio %.3f x\n", c,
					v[k "d1miss_per_msg"] / v[t "d1miss_per_msg"] } }' \
			"$T/cg.$c"
	done
	exit 0
fi

for c in $CONNS; do
	r=0
	while [ $r -lt "$RUNS" ]; do
		for e in $ENGINES; do
			one_run "$e" "$c"
		done
		r=$((r + 1))
	done
	for e in $ENGINES; do
		echo "echo_c${c}_${e}_cpu_per_msg $(median "$T/$e.$c" 1) us"
		echo "echo_c${c}_${e}_msgs_per_sec $(median "$T/$e.$c" 2) msg/s"
		echo "echo_c${c}_${e}_p99 $(median "$T/$e.$c" 3) us"
	done
	[ -f "$T/tide.$c" ] && [ -f "$T/epoll.$c" ] &&
	awk -v tc="$(median "$T/tide.$c" 1)" -v ec="$(median "$T/epoll.$c" 1)" \
	    -v tm="$(median "$T/tide.$c" 2)" -v em="$(median "$T/epoll.$c" 2)" \
	    -v tp="$(median "$T/tide.$c" 3)" -v ep="$(median "$T/epoll.$c" 3)" \
	    -v c="$c" 'BEGIN {
		printf "echo_c%s_cpu_ratio %.3f x\n", c, ec / tc
		printf "echo_c%s_msgs_ratio %.3f x\n", c, tm / em
		printf "echo_c%s_p99_ratio %.3f x\n", c, tp / ep }'
	[ -f "$T/tide-epoll.$c" ] && [ -f "$T/epoll.$c" ] &&
	awk -v fc="$(median "$T/tide-epoll.$c" 1)" -v ec="$(median "$T/epoll.$c" 1)" \
	    -v c="$c" 'BEGIN {
		printf "echo_c%s_fallback_cpu_ratio %.3f x\n", c, fc / ec }'
	[ -f "$T/tasks.$c" ] && [ -f "$T/tide.$c" ] &&
	awk -v kc="$(median "$T/tasks.$c" 1)" -v tc="$(median "$T/tide.$c" 1)" \
	    -v c="$c" 'BEGIN {
		printf "echo_c%s_tasks_cpu_ratio %.3f x\n", c, kc / tc }' &&
	paste -d ' ' "$T/tasks.$c" "$T/tide.$c" |
		awk '{ printf "%.4f\n", $1 / $4 }' >"$T/paired.$c" &&
	echo "echo_c${c}_tasks_cpu_ratio_paired $(median "$T/paired.$c" 1) x"
done

[ "$IDLE" -gt 0 ] || exit 0
command -v python3 >/dev/null || { echo "bench_echo: python3 missing, no idle test" >&2; exit 0; }

# idle ENGINE: $T/rss gets the VmRSS (KiB) of a server holding IDLE idle
# connections
idle() {
	start_server "$1"
	host=${ADDR%:*}
	port=${ADDR##*:}
	python3 - "$host" "$port" "$IDLE" >"$T/helper" 2>&1 <<'PY' &
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
socks = []
for i in range(n):
    s = socket.create_connection((host, port))
    socks.append(s)
print("connected", flush=True)
time.sleep(3600)
PY
	HP=$!
	i=0
	# wait until the server holds every connection as a descriptor
	while [ "$(ls "/proc/$SP/fd" | wc -l)" -lt "$IDLE" ]; do
		i=$((i + 1))
		if [ $i -gt 1200 ] || ! kill -0 "$HP" 2>/dev/null; then
			echo "bench_echo: idle connections did not open" >&2
			cat "$T/helper" >&2
			exit 1
		fi
		sleep 0.1
	done
	sleep 1
	rss=$(sed -n 's/^VmRSS:[^0-9]*\([0-9]*\).*/\1/p' "/proc/$SP/status")
	kill "$HP"
	wait "$HP" 2>/dev/null
	HP=
	stop_server
	echo "$rss" >"$T/rss"
}

for e in $ENGINES; do
	idle "$e"
	awk -v k="$(cat "$T/rss")" -v e="$e" -v n="$IDLE" \
		'BEGIN { printf "echo_idle%s_%s_rss %.1f MiB\n", n, e, k / 1024 }'
done
exit 0
