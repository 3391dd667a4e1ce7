/* SPDX-License-Identifier: MIT */
/*
 * services_impl.h - what services.c shares with the tests: the path check
 * of tide_openat2()'s fallback (no openat2 in the backend or kernel).
 */
#ifndef TIDE_SERVICES_IMPL_H
#define TIDE_SERVICES_IMPL_H

/* 0 when path may be opened beneath dfd under resolve (TIDE_RESOLVE_*),
 * else -EXDEV (absolute, ".."), -ELOOP (a symlink in a directory
 * component), -ENAMETOOLONG, or the error of opening a component. */
int tide__openat2_check(int dfd, const char *path, unsigned resolve);

#endif /* TIDE_SERVICES_IMPL_H */
