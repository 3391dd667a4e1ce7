#!/bin/sh
# SPDX-License-Identifier: MIT
#
# check-abi.sh (make check-abi) - the shared library exports exactly the
# public API: every dynamic symbol is a tide_ name (or the TIDE_x.y version
# node of api/libtide.map), no tide__ internal leaks out, the soname is
# libtide.so.MAJOR, every function or object declared with TIDE_API in
# api/tide.h and api/tide/*.h is exported, and nothing else is.
#
#   check-abi.sh --api   print the TIDE_API names declared in the headers
#                        (used by check-man.sh)

set -u
src=${TIDE_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
build=${TIDE_BUILD:-$src/build}

# Names declared with TIDE_API: comments and preprocessor lines are dropped,
# then each declaration runs from TIDE_API to the first ';' or '{'; its name is
# the first identifier before '(' (a function) or else the last one (an object).
api_names() {
	perl -0777 -ne '
		s{/\*.*?\*/}{ }gs; s{//[^\n]*}{}g;
		s{^[ \t]*#(?:[^\n]*\\\n)*[^\n]*}{}mg;
		while (/\bTIDE_API\b([^;{]*)/g) {
			my $d = $1;
			$d =~ s/__attribute__\s*\(\((?:[^()]|\([^()]*\))*\)\)//g;
			if ($d =~ /([A-Za-z_]\w*)\s*\(/) { print "$1\n"; }
			elsif ($d =~ /([A-Za-z_]\w*)\s*(?:\[[^\]]*\]\s*)*$/) { print "$1\n"; }
		}' "$src/api/tide.h" "$src"/api/tide/*.h | sort -u
}

if [ "${1:-}" = --api ]; then
	api_names
	exit
fi

so=$build/libtide.so
[ -e "$so" ] || { echo "check-abi: $so not built (run make)" >&2; exit 1; }
fail=0
bad() {
	echo "check-abi: $*"
	fail=1
}

major=$(cut -d. -f1 "$src/VERSION")
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libtide.so.$major" ] || bad "soname is '$soname', expected libtide.so.$major"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tide-abi.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# "ADDR TYPE NAME@@NODE" (ADDR is absent for some types; take the last two).
nm -D --defined-only "$so" | awk '{ print $(NF-1), $NF }' | sed 's/@.*//' >"$tmp/nm"
awk '$1 == "A" { print $2 }' "$tmp/nm" >"$tmp/nodes"
awk '$1 != "A" { print $2 }' "$tmp/nm" | sort -u >"$tmp/exported"
api_names >"$tmp/api"

while read -r n; do
	case "$n" in
	TIDE_[0-9]*) ;;
	*) bad "unexpected version node or absolute symbol '$n'" ;;
	esac
done <"$tmp/nodes"

while read -r n; do
	case "$n" in
	tide__*) bad "internal symbol $n is exported (mark it static or drop TIDE_API)" ;;
	tide_*) grep -qx "$n" "$tmp/api" ||
		bad "$n is exported but not declared with TIDE_API in api/tide.h or api/tide/*.h" ;;
	*) bad "non-tide symbol $n is exported" ;;
	esac
done <"$tmp/exported"

while read -r n; do
	grep -qx "$n" "$tmp/exported" ||
		bad "$n is declared TIDE_API but not exported by libtide.so (not defined, or static?)"
done <"$tmp/api"

count=$(wc -l <"$tmp/exported")
if [ $fail = 0 ]; then
	echo "check-abi: OK, $count symbols exported, all declared, soname $soname"
fi
exit $fail
