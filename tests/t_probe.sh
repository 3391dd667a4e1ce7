#!/bin/sh
# SPDX-License-Identifier: MIT
# t_probe.sh - tide-probe as a user runs it: tables, --json, --help,
# --version and usage errors.  Env: TIDE_BUILD (tool at $TIDE_BUILD/tide-probe).
# Exit 0 pass, 1 fail, 77 skip.

: "${TIDE_BUILD:?TIDE_BUILD must name the build directory}"
tool=$TIDE_BUILD/tide-probe
tmp=$(mktemp -d "${TMPDIR:-/tmp}/t_probe.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

fail() {
	echo "t_probe: FAIL: $*" >&2
	exit 1
}

[ -x "$tool" ] || fail "$tool is missing or not executable"
if ! command -v python3 >/dev/null 2>&1; then
	echo "t_probe: skipped: python3 is needed to check --json" >&2
	exit 77
fi

# --help and --version: exit 0, text on stdout, nothing on stderr
"$tool" --help >"$tmp/out" 2>"$tmp/err" || fail "--help exited $?"
grep -q '^Usage: tide-probe' "$tmp/out" || fail "--help prints no usage"
grep -q -- '--json' "$tmp/out" || fail "--help does not mention --json"
[ -s "$tmp/err" ] && fail "--help wrote to stderr"
"$tool" -h >/dev/null 2>&1 || fail "-h exited $?"
"$tool" --version >"$tmp/out" 2>&1 || fail "--version exited $?"
grep -q '^tide-probe [0-9]' "$tmp/out" || fail "--version: $(cat "$tmp/out")"

# bad usage: exit 2, one line on stderr naming the option, stdout empty
"$tool" --no-such-option >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] || fail "unknown option exited $rc, want 2"
[ -s "$tmp/out" ] && fail "unknown option wrote to stdout"
[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "unknown option: want one line on stderr"
grep -q -- "--no-such-option" "$tmp/err" || fail "stderr does not name the option"
grep -q -- "--help" "$tmp/err" || fail "stderr gives no --help hint"
"$tool" stray >/dev/null 2>&1
rc=$?
[ $rc -eq 2 ] || fail "stray argument exited $rc, want 2"

# the table
"$tool" >"$tmp/table" 2>"$tmp/err"
rc=$?
case $rc in
0) usable=yes ;;
1) usable=no ;;
*) fail "tide-probe exited $rc" ;;
esac
grep -q '^kernel  *[0-9]' "$tmp/table" || fail "table: no kernel line"
grep -q "^io_uring usable  *$( [ $usable = yes ] && echo yes || echo NO)\$" \
	"$tmp/table" || fail "table: usable line does not match exit status $rc"
grep -q '^liburing  *[0-9]' "$tmp/table" || fail "table: no liburing line"
grep -q '^memlock' "$tmp/table" || fail "table: no memlock line"
grep -q '^seccomp' "$tmp/table" || fail "table: no seccomp line"
if [ $usable = yes ]; then
	[ -s "$tmp/err" ] && fail "usable, yet stderr: $(cat "$tmp/err")"
	for section in '^setup flags' '^opcodes supported' '^features' \
		'^loop configuration' '^  SQPOLL ' ' NOP '; do
		grep -q "$section" "$tmp/table" || fail "table: no '$section'"
	done
else
	grep -q 'not usable' "$tmp/err" || fail "unusable, but no reason on stderr"
	echo "t_probe: note: io_uring is not usable here; checked the report" >&2
fi

# --json: one object that parses, same exit status, the documented keys
"$tool" --json >"$tmp/json" 2>/dev/null
jrc=$?
[ $jrc -eq $rc ] || fail "--json exited $jrc, the table $rc"
python3 -m json.tool "$tmp/json" >/dev/null || fail "--json does not parse"
python3 - "$tmp/json" "$rc" <<'PY' || fail "--json content"
import json, sys
d = json.load(open(sys.argv[1]))
rc = int(sys.argv[2])
assert isinstance(d, dict), "not an object"
for k in ("kernel", "usable", "error", "reason", "io_uring_disabled",
          "seccomp", "memlock", "setup_flags", "opcodes",
          "opcodes_unsupported", "features", "liburing_version", "loop"):
    assert k in d, "missing key " + k
assert d["usable"] is (rc == 0), "usable disagrees with the exit status"
assert set(d["memlock"]) == {"soft", "hard"}
if d["usable"]:
    assert d["error"] is None
    assert "NOP" in d["opcodes"], "NOP not supported?"
    assert not set(d["opcodes"]) & set(d["opcodes_unsupported"])
    assert all(isinstance(v, bool) for v in d["setup_flags"].values())
    assert "SQPOLL" in d["setup_flags"]
    assert isinstance(d["loop"]["setup"], list)
    assert d["loop"]["sq_entries"] > 0
    assert d["loop"]["wake"] in ("eventfd", "msg_ring")
else:
    e = d["error"]
    assert e["errno"] > 0 and e["reason"], "error without a reason"
PY

# The unusable path for real: a seccomp filter that answers io_uring_setup
# with EPERM, as container runtimes do (tests/seccomp_deny.c).  Needs a C
# compiler; skipped without.
if ${TIDE_CC:-cc} -o "$tmp/deny" "${TIDE_SRC:-.}/tests/seccomp_deny.c" 2>/dev/null; then
	"$tmp/deny" setup 1 "$tool" >"$tmp/table" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 77 ]; then
		[ $rc -eq 1 ] || fail "under a denying seccomp filter exited $rc, want 1"
		grep -q '^io_uring usable  *NO$' "$tmp/table" || fail "seccomp: usable not NO"
		grep -q 'EPERM' "$tmp/table" || fail "seccomp: errno not shown"
		grep -q 'seccomp filter' "$tmp/err" || fail "seccomp: reason not on stderr"
		"$tmp/deny" setup 1 "$tool" --json >"$tmp/json" 2>/dev/null
		[ $? -eq 1 ] || fail "seccomp: --json exit status"
		python3 - "$tmp/json" <<'PY' || fail "seccomp: --json content"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["usable"] is False and d["seccomp"] == 2
assert d["error"]["errno"] == 1 and d["error"]["name"] == "EPERM"
assert "seccomp" in d["error"]["reason"]
assert d["opcodes"] == [] and d["loop"] is None
PY
	fi
	# rings can be created but io_uring_enter is denied: a real submission
	# decides, so usable is NO (it said yes), with the enter errno and
	# tide_strerror()'s sentence (only where io_uring works at all)
	[ "$usable" = yes ] || rc=77
	# (bounded: a hang of tide_loop_free() with enter denied is a failure)
	[ "$rc" = 77 ] || {
		timeout -k 2 8 "$tmp/deny" enter 1 "$tool" >"$tmp/table" 2>"$tmp/err"
		rc=$?
	}
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		fail "io_uring_enter denied: tide-probe hung"
	elif [ $rc -ne 77 ]; then
		[ $rc -eq 1 ] || fail "io_uring_enter denied: exited $rc, want 1"
		grep -q '^io_uring usable  *NO$' "$tmp/table" || fail "enter denied: usable not NO"
		grep -q '^io_uring_enter errno  *EPERM' "$tmp/table" || fail "enter denied: errno not shown"
		grep -q 'submitting to it fails' "$tmp/err" || fail "enter denied: no reason on stderr"
		grep -q 'seccomp filter' "$tmp/err" || fail "enter denied: not tide_strerror's sentence"
		timeout -k 2 8 "$tmp/deny" enter 1 "$tool" --json >"$tmp/json" 2>/dev/null
		[ $? -eq 1 ] || fail "enter denied: --json exit status"
		python3 - "$tmp/json" <<'PY' || fail "enter denied: --json content"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["usable"] is False
assert d["error"]["errno"] == 1 and d["error"]["syscall"] == "io_uring_enter"
PY
	fi
	# ENOSYS from a filter (Docker's answer): the sentence names seccomp
	"$tmp/deny" setup 38 "$tool" >/dev/null 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 77 ]; then
		[ $rc -eq 1 ] || fail "ENOSYS filter: exited $rc, want 1"
		grep -q 'seccomp' "$tmp/err" || fail "ENOSYS filter: seccomp not named: $(cat "$tmp/err")"
	fi
else
	echo "t_probe: note: no C compiler, seccomp case not run" >&2
fi

# the backend tide_loop_new() takes, and why: io_uring here, epoll with
# io_uring's setup denied (the fallback)
if [ "$usable" = yes ]; then
	"$tool" >"$tmp/table" 2>/dev/null
	grep -q '^  backend    io_uring (io_uring works here)' "$tmp/table" ||
		fail "backend line: $(grep backend "$tmp/table")"
	grep -q '^  per-op fallback' "$tmp/table" || fail "no per-op fallback line"
	"$tmp/deny" setup 1 "$tool" >"$tmp/table" 2>/dev/null
	grep -q '^  backend    epoll (io_uring cannot be used here)' "$tmp/table" ||
		fail "backend under the filter: $(grep -A1 backend "$tmp/table")"
	"$tmp/deny" setup 1 "$tool" --json >"$tmp/json" 2>/dev/null
	python3 - "$tmp/json" <<'PY' || fail "backend: --json content"
import json, sys
b = json.load(open(sys.argv[1]))["backend"]
assert b["name"] == "epoll" and b["uring_errno"] == 1, b
assert b["fallback_ops"] == [], b
PY
fi

# a failed write of the output: the errno's message, exit 1
if [ -w /dev/full ]; then
	for a in "" --json; do
		"$tool" $a >/dev/full 2>"$tmp/err"
		[ $? -eq 1 ] || fail "tide-probe $a >/dev/full: exit status"
		grep -q 'writing standard output: No space left on device' "$tmp/err" ||
			fail "tide-probe $a >/dev/full: $(cat "$tmp/err")"
		[ "$(wc -l <"$tmp/err")" -le 2 ] || fail "tide-probe $a >/dev/full: too chatty"
	done
fi
exit 0
