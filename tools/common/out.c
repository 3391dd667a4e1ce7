// SPDX-License-Identifier: MIT
/* out.c - output helpers every tool shares; see out.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "out.h"

static const char *out_prog = "tide";
static int out_closed, out_err;

/*
 * Not a terminal: buffer all of a tool's output (tables and JSON are far
 * smaller) so it is written once, at the close, where the errno of a
 * failing write is still known ("No space left on device", not the
 * "Input/output error" a sticky ferror() leaves behind).
 */
static char out_buf[1 << 20];

int out_close_stdout(void)
{
	if (out_closed)
		return out_err;
	out_closed = 1;
	errno = 0;
	if (fflush(stdout) != 0)
		out_err = errno ? -errno : -EIO;
	else if (ferror(stdout))
		out_err = -EIO;
	/* a closed stdout (>&-) is not an error: there was nothing to lose */
	if (fclose(stdout) != 0 && !out_err && errno != EBADF)
		out_err = errno ? -errno : -EIO;
	return out_err;
}

int out_finish(int err)
{
	int cerr = out_close_stdout();

	if (!err)
		err = cerr;
	if (!err)
		return 0;
	fprintf(stderr, "%s: writing standard output: %s\n", out_prog,
		strerror(-err));
	return 1;
}

static void out_at_exit(void)
{
	int was_closed = out_closed, err = out_close_stdout();

	/* main already closed it and reported the error itself */
	if (err && !was_closed) {
		fprintf(stderr, "%s: writing standard output: %s\n", out_prog,
			strerror(-err));
		_exit(1);
	}
}

void out_check_at_exit(const char *prog)
{
	out_prog = prog;
	if (!isatty(STDOUT_FILENO))
		setvbuf(stdout, out_buf, _IOFBF, sizeof(out_buf));
	atexit(out_at_exit);
}
