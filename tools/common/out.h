/* SPDX-License-Identifier: MIT */
/*
 * out.h - output helpers every tool shares.
 */
#ifndef TOOLS_OUT_H
#define TOOLS_OUT_H

/*
 * Check standard output at exit: flush and close it, and when that fails
 * (a full disk, a closed pipe, /dev/full) print "PROG: writing standard
 * output: <strerror of the failing write>" on stderr and exit 1 whatever
 * main returned.  Call once, first thing in main(); it uses atexit().
 */
void out_check_at_exit(const char *prog);

/* Flush and close stdout now: 0, or -errno of the failure (-EIO when an
 * earlier write failed and the errno is gone). */
int out_close_stdout(void);

/* End of a tool's output: close stdout and, when that or err (what the
 * caller's own writing returned, e.g. json_finish()) failed, print "PROG:
 * writing standard output: <strerror>" for the first failure.  Returns 0,
 * or 1 after the message. */
int out_finish(int err);

#endif /* TOOLS_OUT_H */
