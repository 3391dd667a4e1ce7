#!/bin/sh
# SPDX-License-Identifier: MIT
# t_fallback.sh - tide where io_uring is blocked: a seccomp filter answers
# io_uring_setup, io_uring_enter and io_uring_register with EPERM (what
# Docker 25+, containerd 2.0 and systemd's SystemCallFilter= do), and inside
# it every test binary and every tool's shell test runs and passes on the
# epoll backend, with no test skipped for lack of io_uring.
# Env: TIDE_BUILD (build directory), TIDE_SRC (source tree).
# Exit 0 pass, 1 fail, 77 skip (no C compiler for the launcher).

: "${TIDE_BUILD:?TIDE_BUILD must name the build directory}"
src=${TIDE_SRC:-$(pwd)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/t_fallback.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

fail() {
	echo "t_fallback: FAIL: $*" >&2
	exit 1
}

# The launcher: the filter, then exec.  A raw BPF program (as t_probe.sh
# builds one), so no libseccomp is needed; other architectures' system
# call numbers are let through untouched.
cat >"$tmp/deny.c" <<'C'
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#endif
int main(int argc, char **argv)
{
	struct sock_filter f[] = {
#ifdef ARCH
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
#endif
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_register, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (argc < 2)
		return 2;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
		perror("deny: seccomp");
		return 77;
	}
	/* the filter must bite: io_uring_setup(2) now says EPERM */
	if (syscall(__NR_io_uring_setup, 1, NULL) != -1 || errno != EPERM) {
		fprintf(stderr, "deny: io_uring_setup not denied\n");
		return 3;
	}
	execvp(argv[1], argv + 1);
	perror(argv[1]);
	return 127;
}
C
if ! ${TIDE_CC:-${CC:-cc}} -o "$tmp/deny" "$tmp/deny.c" 2>"$tmp/cc.err"; then
	echo "t_fallback: skipped: cannot build the seccomp launcher: $(head -n 1 "$tmp/cc.err")" >&2
	exit 77
fi
"$tmp/deny" true
rc=$?
[ $rc -eq 77 ] && { echo "t_fallback: skipped: seccomp filters refused here" >&2; exit 77; }
[ $rc -eq 0 ] || fail "the launcher does not work (exit $rc)"

# tide-probe explains the choice: io_uring unusable, the filter named
"$tmp/deny" "$TIDE_BUILD/tide-probe" >"$tmp/probe" 2>"$tmp/probe.err"
grep -q '^io_uring usable  *NO$' "$tmp/probe" || fail "tide-probe: io_uring not reported unusable"
grep -q 'seccomp filter' "$tmp/probe.err" || fail "tide-probe: the reason is not given"
# and which backend tide takes instead
grep -q '^  backend    epoll (io_uring cannot be used here)' "$tmp/probe" ||
	fail "tide-probe: backend is not epoll: $(grep -A1 '^backend' "$tmp/probe")"

# Every test binary.  io_uring configurations report themselves unsupported
# ("[  SKIP    ] config ..."); the epoll one must run and pass, and no test
# may be skipped but those of io_uring's own machinery: tide_probe_run()
# probes io_uring itself, and the completion queue's overflow has no
# counterpart on epoll.
own='test_tide_probe_run_|test_cq_overflow_survived'
n=0
for t in "$TIDE_BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	timeout -k 10 300 "$tmp/deny" "$t" >"$tmp/$name.log" 2>&1 </dev/null
	rc=$?
	[ $rc -eq 0 ] || { tail -n 20 "$tmp/$name.log" >&2; fail "$name exited $rc under the filter"; }
	grep -q '^\[       OK \]' "$tmp/$name.log" || fail "$name: no test ran"
	if grep -q '^\[ BACKEND  \] io_uring' "$tmp/$name.log"; then
		fail "$name: an io_uring configuration ran under the filter"
	fi
	if grep -q '^\[ BACKEND  \]' "$tmp/$name.log" &&
	   ! grep -q '^\[ BACKEND  \] epoll .* PASS$' "$tmp/$name.log"; then
		fail "$name: the epoll configuration did not pass"
	fi
	skips=$(grep '^\[  SKIPPED \] test_' "$tmp/$name.log" | sort -u |
		grep -Ev "^\[  SKIPPED \] ($own)")
	[ -z "$skips" ] || fail "$name skipped under the filter: $skips"
	n=$((n + 1))
done
[ $n -gt 0 ] || fail "no test binaries in $TIDE_BUILD/tests"

# Every tool's shell test (not this one, not the install test, which
# builds rather than runs tide).  77 (skipped) counts as a failure here.
for t in "$src"/tests/t_*.sh; do
	name=$(basename "$t" .sh)
	case $name in t_fallback | t_install) continue ;; esac
	timeout -k 10 300 "$tmp/deny" "${SHELL:-/bin/sh}" "$t" >"$tmp/$name.log" 2>&1 </dev/null
	rc=$?
	[ $rc -eq 0 ] || { tail -n 20 "$tmp/$name.log" >&2; fail "$name exited $rc under the filter"; }
	n=$((n + 1))
done
echo "t_fallback: $n test programs passed with io_uring denied (epoll backend)"
exit 0
