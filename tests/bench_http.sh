#!/bin/sh
# SPDX-License-Identifier: MIT
# bench_http.sh - the examples against the servers people use (run by hand;
# not part of make check).
#
#   tests/bench_http.sh [RUNS] [DURATION]      (defaults 3 and 5 s)
#
# Needs: wrk, nginx (nginx-light), socat, taskset.  Environment: TIDE_BUILD
# (build), SERVER_CPU (0), CLIENT_CPU (1), WHAT ("http4k http50m proxy").
#
#  http4k, http50m: build/examples/http against nginx (one process:
#    master_process off, worker_processes 1, sendfile on, access_log off,
#    unlimited keep-alive requests), each pinned to SERVER_CPU, serving the
#    same 4 KiB or 50 MiB file to `wrk -t1 -c50` pinned to CLIENT_CPU.
#    Figure: requests/s (wrk's "Requests/sec") for 4 KiB; MB/s (wrk's
#    "Transfer/sec", which counts bodies still in flight) for 50 MiB.
#  proxy: build/examples/proxy against `socat TCP-LISTEN:...,fork,nodelay
#    TCP:...,nodelay`, each pinned to SERVER_CPU, in front of a tide-echo
#    server (ECHO_OPTS, default "--engine epoll": its 16 KiB reads echo a
#    4 KiB message in one piece; the ring server's 1 KiB buffers,
#    ECHO_OPTS="", echo it in 1 KiB pieces: four segments per reply for
#    the proxy, and CLIENT_CPU then saturates first);
#    `tide-echo client --conns 100 --size 4096` (client and echo server
#    pinned to CLIENT_CPU).  Figures: messages/s through the proxy,
#    and the proxy's CPU per message: all of SERVER_CPU's busy time during
#    the run (socat's processes and the kernel's TCP work there included)
#    over the messages; each run also prints how busy CLIENT_CPU was (near
#    100%: the client side set the pace, and msg/s compares it, not the
#    proxies).
#
# Runs alternate (tide, other, tide, other, ...) so that slow drifts of a
# shared machine hit both alike; each figure is the median of RUNS, with
# the spread (min..max) and the load average before the runs.  Output:
#   http4k_tide 81234 req/s (min..max) ... http4k_ratio 1.31 x
set -u
RUNS=${1:-3}
DUR=${2:-5}
B=${TIDE_BUILD:-build}
SCPU=${SERVER_CPU:-0}
CCPU=${CLIENT_CPU:-1}
WHAT=${WHAT:-"http4k http50m proxy"}
ECHO_OPTS=${ECHO_OPTS-"--engine epoll"}

need() { command -v "$1" >/dev/null || { echo "bench_http: $1 missing ($2)" >&2; exit 1; }; }
need wrk "apt-get install wrk"
need nginx "apt-get install nginx-light"
need socat "apt-get install socat"
need taskset "util-linux"
for p in examples/http examples/proxy tide-echo; do
	[ -x "$B/$p" ] || { echo "bench_http: $B/$p not built (make)" >&2; exit 1; }
done
T=$(mktemp -d) || exit 1
# private copies: a rebuild during the run must not change the binaries
cp "$B/examples/http" "$B/examples/proxy" "$B/tide-echo" "$T/" || exit 1
PIDS=
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

freeport() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
waitport() { # PORT
	i=0
	until python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), timeout=1)" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && { echo "bench_http: nothing listens on $1" >&2; exit 1; }
		sleep 0.05
	done
}
stop() { # PID
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
median() { sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.0f (%.0f..%.0f)", m, v[1], v[NR] }'; }
med() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

mkdir -p "$T/www"
head -c 4096 /dev/urandom >"$T/www/f4k"
head -c 52428800 /dev/urandom >"$T/www/f50m"

# ---- servers ----
start_tide_http() { # PORT
	taskset -c "$SCPU" "$T/http" -l "127.0.0.1:$1" "$T/www" >/dev/null 2>"$T/http.err" &
	SP=$!
	waitport "$1"
}
start_nginx() { # PORT
	cat >"$T/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $T/nginx.pid;
error_log $T/nginx.err;
events { worker_connections 4096; }
http {
	access_log off;
	sendfile on;
	keepalive_requests 100000000;
	keepalive_timeout 65;
	client_body_temp_path $T/ngx_body;
	proxy_temp_path $T/ngx_proxy;
	fastcgi_temp_path $T/ngx_fcgi;
	uwsgi_temp_path $T/ngx_uwsgi;
	scgi_temp_path $T/ngx_scgi;
	server {
		listen 127.0.0.1:$1;
		root $T/www;
	}
}
EOF
	taskset -c "$SCPU" nginx -c "$T/nginx.conf" -p "$T" 2>"$T/nginx.start" &
	SP=$!
	waitport "$1"
}

run_wrk() { # URL UNIT -> req/s, or MB/s for UNIT MB (partial bodies count)
	taskset -c "$CCPU" wrk -t1 -c50 -d"${DUR}s" "$1" 2>&1 |
		awk -v u="$2" '
		u != "MB" && /^Requests\/sec:/ { print $2 }
		u == "MB" && /^Transfer\/sec:/ {
			v = $2; m = 1
			if (v ~ /GB$/) m = 1024; else if (v ~ /KB$/) m = 1 / 1024; else if (v ~ /B$/ && v !~ /MB$/) m = 1 / 1048576
			sub(/[KMG]?B$/, "", v); printf "%.1f\n", v * m
		}'
}

bench_http() { # NAME FILE UNIT
	name=$1 file=$2 unit=$3
	: >"$T/$name.tide"
	: >"$T/$name.nginx"
	echo "== $name: load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
	for r in $(seq "$RUNS"); do
		for srv in tide nginx; do
			port=$(freeport)
			if [ $srv = tide ]; then start_tide_http "$port"; else start_nginx "$port"; fi
			curl -s -o /dev/null "http://127.0.0.1:$port/$file" # warm the cache
			v=$(run_wrk "http://127.0.0.1:$port/$file" "$unit")
			stop "$SP"
			echo "  run $r $srv: ${v:-0} $unit/s" >&2
			echo "${v:-0}" >>"$T/$name.$srv"
		done
	done
	t=$(med <"$T/$name.tide")
	n=$(med <"$T/$name.nginx")
	echo "${name}_tide $(median <"$T/$name.tide") $unit/s"
	echo "${name}_nginx $(median <"$T/$name.nginx") $unit/s"
	awk -v t="$t" -v n="$n" -v nm="$name" 'BEGIN { printf "%s_ratio %.2f x (tide/nginx)\n", nm, (n > 0) ? t / n : 0 }'
}

cpu_busy() { # CPU -> busy clock ticks so far (user nice system irq softirq steal)
	awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

bench_proxy() {
	: >"$T/proxy.tide"
	: >"$T/proxy.socat"
	: >"$T/proxycpu.tide"
	: >"$T/proxycpu.socat"
	hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
	echo "== proxy: load $(cut -d' ' -f1-3 /proc/loadavg), echo server: tide-echo server $ECHO_OPTS" >&2
	eport=$(freeport)
	taskset -c "$CCPU" "$T/tide-echo" server "127.0.0.1:$eport" $ECHO_OPTS >/dev/null 2>&1 &
	EP=$!
	PIDS="$PIDS $EP"
	waitport "$eport"
	for r in $(seq "$RUNS"); do
		for srv in tide socat; do
			port=$(freeport)
			if [ $srv = tide ]; then
				taskset -c "$SCPU" "$T/proxy" -l "127.0.0.1:$port" "127.0.0.1:$eport" >/dev/null 2>&1 &
			else
				taskset -c "$SCPU" socat "TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr,nodelay,backlog=1024" \
					"TCP:127.0.0.1:$eport,nodelay" &
			fi
			SP=$!
			waitport "$port"
			s0=$(cpu_busy "$SCPU") c0=$(cpu_busy "$CCPU") w0=$(date +%s%N)
			v=$(taskset -c "$CCPU" "$T/tide-echo" client "127.0.0.1:$port" --conns 100 \
				--size 4096 --duration "$DUR" --json 2>/dev/null |
				python3 -c 'import json,sys; print(int(json.load(sys.stdin)["msgs_per_sec"]))' 2>/dev/null)
			s1=$(cpu_busy "$SCPU") c1=$(cpu_busy "$CCPU") w1=$(date +%s%N)
			# the proxy's CPU (all of SERVER_CPU: socat's processes, the
			# kernel's TCP work there) per message, and how busy the
			# client's CPU was: near 100% means the client side set the pace
			awk -v s="$((s1 - s0))" -v c="$((c1 - c0))" -v w="$((w1 - w0))" \
			    -v hz="$hz" -v m="${v:-0}" -v d="$DUR" -v srv="$srv" -v r="$r" \
			    'BEGIN { ns = m > 0 ? s * 1e9 / hz / (m * d) : 0
				printf "%.0f\n", ns > "/dev/stdout"
				printf "  run %s %s: proxy CPU %.0f ns/msg, client CPU busy %.0f%%\n", r, srv, ns,
					100 * c / hz / (w / 1e9) > "/dev/stderr" }' >>"$T/proxycpu.$srv"
			# socat's children belong to its process group-less tree: end them too
			pkids=$(ps -o pid= --ppid "$SP" 2>/dev/null)
			stop "$SP"
			for k in $pkids; do kill "$k" 2>/dev/null; done
			echo "  run $r $srv: ${v:-0} msg/s" >&2
			echo "${v:-0}" >>"$T/proxy.$srv"
		done
	done
	stop "$EP"
	t=$(med <"$T/proxy.tide")
	s=$(med <"$T/proxy.socat")
	echo "proxy_tide $(median <"$T/proxy.tide") msg/s"
	echo "proxy_socat $(median <"$T/proxy.socat") msg/s"
	awk -v t="$t" -v s="$s" 'BEGIN { printf "proxy_ratio %.2f x (tide/socat)\n", (s > 0) ? t / s : 0 }'
	t=$(med <"$T/proxycpu.tide")
	s=$(med <"$T/proxycpu.socat")
	echo "proxy_tide_cpu_per_msg $(median <"$T/proxycpu.tide") ns"
	echo "proxy_socat_cpu_per_msg $(median <"$T/proxycpu.socat") ns"
	awk -v t="$t" -v s="$s" 'BEGIN { printf "proxy_cpu_ratio %.2f x (socat/tide CPU per message)\n", (t > 0) ? s / t : 0 }'
}

for w in $WHAT; do
	case $w in
	http4k) bench_http http4k f4k req ;;
	http50m) bench_http http50m f50m MB ;;
	proxy) bench_proxy ;;
	*) echo "bench_http: unknown WHAT entry $w" >&2; exit 2 ;;
	esac
done
