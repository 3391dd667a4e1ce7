#!/bin/sh
# SPDX-License-Identifier: MIT
# t_cksum.sh - examples/cksum-tree against cksum(1) over a tree of 2000
# files (empty, small, odd sizes, a 20 MiB one, nested, a symlink that is
# not followed), and its errors (missing directory, unreadable file).
set -u
B=$(cd "${TIDE_BUILD:-build}" && pwd) || exit 1
CK=$B/examples/cksum-tree
[ -x "$CK" ] || { echo "skip: $CK not built"; exit 77; }
command -v cksum >/dev/null || { echo "skip: cksum missing"; exit 77; }
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; cat "$T/err" 2>/dev/null; exit 1; }

mkdir -p "$T/tree"
python3 - "$T/tree" <<'PY' || fail "making the tree"
import os, random, sys
random.seed(7)
root = sys.argv[1]
for i in range(2000):
    d = os.path.join(root, f"d{i % 37}", f"e{i % 5}")
    os.makedirs(d, exist_ok=True)
    n = random.choice([0, 1, 255, 256, 4095, 65535, 65536, 65537, random.randrange(300000)])
    with open(os.path.join(d, f"f{i}"), "wb") as f:
        f.write(os.urandom(n))
with open(os.path.join(root, "big"), "wb") as f:
    f.write(os.urandom(20 << 20))
os.symlink("/etc/passwd", os.path.join(root, "link"))
PY
cd "$T" || exit 1
"$CK" tree >"$T/got" 2>"$T/err"
rc=$?
if [ $rc -ne 0 ] && grep -q "io_uring" "$T/err"; then
	echo "skip: $(cat "$T/err")"
	exit 77
fi
[ $rc -eq 0 ] || fail "cksum-tree exited $rc"
find tree -type f | LC_ALL=C sort | xargs cksum >"$T/want"
[ "$(wc -l <"$T/got")" -eq 2001 ] || fail "$(wc -l <"$T/got") lines, expected 2001"
cmp -s "$T/got" "$T/want" || fail "cksum-tree differs from cksum: $(diff "$T/got" "$T/want" | head -5)"
"$CK" -j 1 tree | cmp -s - "$T/want" || fail "-j 1 differs"

# errors: a missing directory, an unreadable file (unless root reads all)
"$CK" missing >/dev/null 2>"$T/err" && fail "missing directory accepted"
grep -q "missing" "$T/err" || fail "missing directory not named"
"$CK" -j 0 tree >/dev/null 2>&1 && fail "-j 0 accepted"
if [ "$(id -u)" -ne 0 ]; then
	chmod 000 tree/big
	"$CK" tree >/dev/null 2>"$T/err" && fail "unreadable file accepted"
	grep -q "tree/big" "$T/err" || fail "unreadable file not named"
fi
echo "cksum-tree example OK"
