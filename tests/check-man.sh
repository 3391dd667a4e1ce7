#!/bin/sh
# SPDX-License-Identifier: MIT
#
# check-man.sh (make check-man) - the manual covers the API and its examples
# work:
#  1. every function declared with TIDE_API in the headers, and every symbol
#     libtide.so exports, has man/man3/NAME.3 (a ".so man3/other.3" alias
#     counts when other.3 exists);
#  2. every page under man/ lints clean with mandoc -Tlint -Wwarning;
#  3. every EXAMPLES section with a main() is extracted, compiled against the
#     build with -Wall -Werror, and run under timeout 30 in a scratch
#     directory (exit 77 from the example means skip).
# Each problem is printed as "check-man: PAGE: what".  Exit 0 pass, 1 fail,
# 77 when everything that could be checked passed but mandoc is missing.

set -u
src=${TIDE_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
build=${TIDE_BUILD:-$src/build}
cc=${TIDE_CC:-cc}
fail=0
bad() {
	echo "check-man: $*"
	fail=1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tide-man.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
cd "$src/man" || exit 1

# ---- 1. coverage
{
	sh "$src/tests/check-abi.sh" --api
	if [ -e "$build/libtide.so" ]; then
		nm -D --defined-only "$build/libtide.so" |
			awk '$(NF-1) != "A" { sub(/@.*/, "", $NF); print $NF }'
	fi
} | sort -u >"$tmp/names"
while read -r n; do
	p=man3/$n.3
	if [ ! -f "$p" ]; then
		bad "$n has no man page (expected man/$p)"
		continue
	fi
	target=$(sed -n 's/^\.so[ \t]\{1,\}//p' "$p" | head -n 1)
	if [ -n "$target" ] && [ ! -f "$target" ]; then
		bad "$p: .so target $target does not exist"
	fi
done <"$tmp/names"

pages=$(ls man1/*.1 man3/*.3 man7/*.7 2>/dev/null)

# ---- 2. lint
lint=1
if ! command -v mandoc >/dev/null 2>&1; then
	echo "check-man: mandoc not installed (Debian package: mandoc); lint skipped"
	lint=0
fi
for p in $pages; do
	[ $lint = 1 ] || break
	# mandoc resolves ".so man3/x.3" from the current directory (man/).
	# Allowed: ".so is fragile, better use ln(1)": mandoc prefers aliases
	# as symlinks, but .so pages are the house style (STYLE.md, as in
	# liburing) and install as plain files; the target is checked above.
	out=$(mandoc -Tlint -Wwarning "$p" 2>&1 | grep -v 'WARNING: \.so is fragile, better use ln(1)')
	if [ -n "$out" ]; then
		bad "$p: mandoc -Tlint -Wwarning:"
		printf '%s\n' "$out" | sed 's/^/    /'
	fi
done

# ---- 3. examples
# Print the C program in PAGE's EXAMPLES section: the .EX/.EE (or .nf/.fi)
# blocks up to and including the one holding main(), so an "output" block
# after the program is left out; without such blocks, the whole section's
# text lines.  Escapes are undone (\- \e \(aq \(dq \fB ...).  Exit 1 when
# there is no main().
extract() {
	perl -ne '
		BEGIN {
			%g = (aq => "\x27", dq => "\"", ga => "`", ti => "~", ha => "^",
			      rs => "\\", lq => "\"", rq => "\"", oq => "\x27", cq => "\x27",
			      em => "--", en => "-", mi => "-", hy => "-", pl => "+",
			      eq => "=", lt => "<", gt => ">", ba => "|", br => "|",
			      sl => "/", bu => "*", "co" => "(c)");
			%c = (e => "\\", "\\" => "\\", "-" => "-", "&" => "", " " => " ",
			      "~" => " ", "|" => "", "^" => "", "0" => " ", ":" => "",
			      "%" => "", c => "");
		}
		sub unesc {
			my $s = shift;
			$s =~ s{\\(?:\((..)|\[([^\]]*)\]|\*\((..)|\*(.)|f\((..)|f\[[^\]]*\]|f(.)|(.))}{
				defined $1 ? ($g{$1} // "") :
				defined $2 ? ($g{$2} // "") :
				defined $7 ? ($c{$7} // $7) : ""
			}ge;
			return $s;
		}
		if (/^\.SH\s+"?EXAMPLES?"?\s*$/) { $in = 1; next; }
		next unless $in;
		if (/^\.SH\b/) { $in = 0; next; }
		if (/^\.(EX|nf)\b/) { $blk = 1; $cur = ""; $nblk++; next; }
		if (/^\.(EE|fi)\b/) {
			$blk = 0;
			if (!$done) { $code .= $cur; $done = 1 if $cur =~ /\bmain\s*\(/; }
			next;
		}
		next if /^[.\x27]/;
		$_ = unesc($_);
		if ($blk) { $cur .= $_; } else { $text .= $_; }
		END {
			my $prog = $nblk ? $code : $text;
			exit 1 unless $prog =~ /\bmain\s*\(/;
			print $prog;
		}' "$1"
}

ran=0
for p in $pages; do
	grep -q '^\.SH[ \t]\{1,\}"\{0,1\}EXAMPLES\{0,1\}' "$p" || continue
	name=$(echo "$p" | tr '/.' '__')
	extract "$p" >"$tmp/$name.c" || continue
	if ! $cc -std=c11 -Wall -Werror ${TIDE_SAN_CFLAGS:-} -I"$src/api" -I"$build/include" \
		-o "$tmp/$name" "$tmp/$name.c" "$build/libtide.a" ${TIDE_URING_LIBS:--luring} \
		-lpthread -lm >"$tmp/$name.log" 2>&1; then
		bad "$p: EXAMPLES program does not compile:"
		sed 's/^/    /' "$tmp/$name.log"
		continue
	fi
	mkdir "$tmp/$name.d"
	(cd "$tmp/$name.d" && timeout -k 5 30 "$tmp/$name" </dev/null >"$tmp/$name.out" 2>&1)
	rc=$?
	case $rc in
	0) ran=$((ran + 1)) ;;
	77) echo "check-man: $p: example skipped itself (exit 77)" ;;
	124 | 137) bad "$p: EXAMPLES program timed out after 30s" ;;
	*)
		bad "$p: EXAMPLES program exited $rc:"
		tail -n 20 "$tmp/$name.out" | sed 's/^/    /'
		;;
	esac
done

n=$(echo $pages | wc -w)
if [ $fail = 0 ]; then
	echo "check-man: OK, $(wc -l <"$tmp/names") names covered, $n pages, $ran examples run"
	[ $lint = 1 ] || exit 77
fi
exit $fail
