#!/bin/sh
# SPDX-License-Identifier: MIT
#
# t_install.sh - make install into a scratch DESTDIR, build a program against
# it with pkg-config, check it runs on the installed libtide.so.0, then make
# uninstall and check nothing is left.  Exit 0 pass, 77 skip, else fail.

set -u
: "${TIDE_SRC:?}" "${TIDE_BUILD:?}"
cc=${TIDE_CC:-cc}
make=${MAKE:-make}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

command -v pkg-config >/dev/null 2>&1 || { echo "SKIP: no pkg-config"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tide-install.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
dest=$tmp/root

# Not under the parent make's jobserver or goals: a plain, serial install.
unset MAKEFLAGS MFLAGS MAKELEVEL
# SAN_CFLAGS as the build was made, or make would see other flags and rebuild.
# an empty directory that was there before: uninstall must leave it
mkdir -p "$dest/usr/share/man/man1"
$make -s -C "$TIDE_SRC" BUILD="$TIDE_BUILD" SAN_CFLAGS="${TIDE_SAN_CFLAGS:-}" DESTDIR="$dest" \
	PREFIX=/usr LIBDIR=/usr/lib INCLUDEDIR=/usr/include MANDIR=/usr/share/man install ||
	fail "make install"

for f in usr/lib/libtide.a usr/lib/libtide.so usr/lib/libtide.so.0 \
	usr/lib/pkgconfig/tide.pc usr/include/tide.h usr/include/tide/version.h; do
	[ -e "$dest/$f" ] || fail "make install did not install /$f"
done

# pkg-config must find tide.pc under DESTDIR and prefix its paths with it.
# /usr/include and /usr/lib count as system directories that pkg-config
# would otherwise drop, and with them the sysroot we need.
export PKG_CONFIG_PATH="$dest/usr/lib/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$dest"
export PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1
flags=$(pkg-config --cflags --libs tide) || fail "pkg-config --cflags --libs tide"
echo "pkg-config: $flags"
case "$flags" in
*"-I$dest/usr/include"*"-L$dest/usr/lib"*) ;;
*) fail "pkg-config flags do not point into DESTDIR: $flags" ;;
esac
[ "$(pkg-config --modversion tide)" = "$(cat "$TIDE_SRC/VERSION")" ] ||
	fail "tide.pc version is not $(cat "$TIDE_SRC/VERSION")"

# The sanitizer runtime must come first when the library was built with it.
# shellcheck disable=SC2086
$cc -std=c11 -Wall -Wextra -Werror ${TIDE_SAN_CFLAGS:-} -o "$tmp/prog" \
	"$TIDE_SRC/tests/install_prog.c" $flags || fail "compile against the installed tide"

readelf -d "$tmp/prog" | grep -q 'NEEDED.*\[libtide\.so\.0\]' ||
	fail "program does not link the shared libtide.so.0"
LD_LIBRARY_PATH="$dest/usr/lib" ldd "$tmp/prog" | grep -q "libtide\.so\.0 => $dest/usr/lib/" ||
	fail "libtide.so.0 does not resolve into DESTDIR"

LD_LIBRARY_PATH="$dest/usr/lib" "$tmp/prog"
rc=$?
case $rc in
0) ;;
77) echo "SKIP: io_uring unusable here"; exit 77 ;;
*) fail "installed program exited $rc" ;;
esac

$make -s -C "$TIDE_SRC" BUILD="$TIDE_BUILD" SAN_CFLAGS="${TIDE_SAN_CFLAGS:-}" DESTDIR="$dest" \
	PREFIX=/usr LIBDIR=/usr/lib INCLUDEDIR=/usr/include MANDIR=/usr/share/man uninstall ||
	fail "make uninstall"
[ -d "$dest/usr/share/man/man1" ] || fail "make uninstall removed a directory it did not create"
left=$(find "$dest" ! -type d)
[ -z "$left" ] || fail "make uninstall left files behind: $left"
# the directories install made are gone too (only empty ones are removed)
for d in usr/lib/pkgconfig usr/include/tide usr/share/man/man3 usr/share/tide; do
	[ ! -d "$dest/$d" ] || fail "make uninstall left the directory $d behind"
done
echo "install, pkg-config build, run and uninstall OK"
