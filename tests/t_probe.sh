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
# with EPERM, as container runtimes do.  Needs a C compiler; skipped without.
cat >"$tmp/deny.c" <<'C'
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
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
if ${CC:-cc} -o "$tmp/deny" "$tmp/deny.c" 2>/dev/null; then
	"$tmp/deny" "$tool" >"$tmp/table" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 77 ]; then
		[ $rc -eq 1 ] || fail "under a denying seccomp filter exited $rc, want 1"
		grep -q '^io_uring usable  *NO$' "$tmp/table" || fail "seccomp: usable not NO"
		grep -q 'EPERM' "$tmp/table" || fail "seccomp: errno not shown"
		grep -q 'seccomp filter' "$tmp/err" || fail "seccomp: reason not on stderr"
		"$tmp/deny" "$tool" --json >"$tmp/json" 2>/dev/null
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
else
	echo "t_probe: note: no C compiler, seccomp case not run" >&2
fi
exit 0
