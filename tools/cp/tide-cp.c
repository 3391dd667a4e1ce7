// SPDX-License-Identifier: MIT
/*
 * tide-cp - copy a file with io_uring through tide: a read/write pipeline
 * of --qd chunks of --bs bytes in flight (tools/common/copy.c), the mode of
 * the source preserved, every byte accounted for, MB/s with --verbose.
 *
 *	tide-cp [--qd N] [--bs SIZE] [--verbose] SRC DST
 *
 * DST may be a directory: the copy goes to DST/basename(SRC), as cp(1).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tide.h>

#include "copy.h"

static int cp_usage(const char *msg)
{
	if (msg)
		fprintf(stderr, "tide-cp: %s\n", msg);
	fprintf(msg ? stderr : stdout,
		"usage: tide-cp [--qd N] [--bs SIZE] [--verbose] SRC DST\n");
	return msg ? 2 : 0;
}

static int cp_num(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	if (*end == 'k' || *end == 'K') {
		v <<= 10;
		end++;
	} else if (*end == 'm' || *end == 'M') {
		v <<= 20;
		end++;
	}
	if (*end || !v || v > max)
		return -1;
	*out = v;
	return 0;
}

static int cp_fail(const char *path, const char *what, int err)
{
	fprintf(stderr, "tide-cp: %s: %s: %s\n", path, what, strerror(err));
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "qd", required_argument, NULL, 'q' },
		{ "iodepth", required_argument, NULL, 'q' },
		{ "bs", required_argument, NULL, 'b' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t qd = 8, bs = 128u << 10, v;
	int verbose = 0, opt, in, out, ret;
	char dpath[PATH_MAX];
	const char *src, *dst, *what = NULL;
	struct copy_stats st;
	struct stat ss, ds;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'q':
			if (cp_num(optarg, 4096, &v) < 0)
				return cp_usage("bad --qd (1 to 4096)");
			qd = v;
			break;
		case 'b':
			if (cp_num(optarg, 64u << 20, &v) < 0)
				return cp_usage("bad --bs (1 to 64m bytes)");
			bs = v;
			break;
		case 'v': verbose = 1; break;
		case 'h': return cp_usage(NULL);
		default:
			fprintf(stderr, "tide-cp: bad option '%s'\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (argc - optind != 2)
		return cp_usage("need SRC and DST");
	src = argv[optind];
	dst = argv[optind + 1];
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return cp_fail(src, "cannot open", errno);
	if (fstat(in, &ss) < 0)
		return cp_fail(src, "cannot stat", errno);
	if (S_ISDIR(ss.st_mode)) {
		fprintf(stderr, "tide-cp: %s: is a directory\n", src);
		return 1;
	}
	if (!S_ISREG(ss.st_mode)) {
		fprintf(stderr, "tide-cp: %s: not a regular file\n", src);
		return 1;
	}
	if (stat(dst, &ds) == 0 && S_ISDIR(ds.st_mode)) {
		char tmp[PATH_MAX];

		snprintf(tmp, sizeof(tmp), "%s", src);
		if ((size_t)snprintf(dpath, sizeof(dpath), "%s/%s", dst,
				     basename(tmp)) >= sizeof(dpath)) {
			fprintf(stderr, "tide-cp: %s: path too long\n", dst);
			return 1;
		}
		dst = dpath;
	}
	if (stat(dst, &ds) == 0 && ds.st_dev == ss.st_dev &&
	    ds.st_ino == ss.st_ino) {
		fprintf(stderr, "tide-cp: %s and %s are the same file\n", src,
			dst);
		return 1;
	}
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		   ss.st_mode & 07777);
	if (out < 0)
		return cp_fail(dst, "cannot create", errno);
	/* open() applied the umask; the copy gets the source's exact mode
	 * (a device given as DST keeps its own) */
	if (fstat(out, &ds) < 0)
		return cp_fail(dst, "cannot stat", errno);
	if (S_ISREG(ds.st_mode) && fchmod(out, ss.st_mode & 07777) < 0)
		return cp_fail(dst, "cannot set the mode", errno);
	/* reserve the blocks first: an early, clear ENOSPC, and no block
	 * allocation inside each write (KEEP_SIZE: the size check below
	 * still catches a short copy) */
	if (S_ISREG(ds.st_mode) && ss.st_size > 0 &&
	    fallocate(out, FALLOC_FL_KEEP_SIZE, 0, ss.st_size) < 0 &&
	    errno == ENOSPC)
		return cp_fail(dst, "no space left for the copy", errno);
	memset(&st, 0, sizeof(st));
	tide_hist_init(&st.lat);
	ret = copy_run(in, out, (uint64_t)ss.st_size, (uint32_t)bs,
			(uint32_t)qd, &st, &what);
	close(in);
	if (!ret && fstat(out, &ds) < 0)
		ret = -errno;
	if (!ret && S_ISREG(ds.st_mode) && ds.st_size != ss.st_size) {
		ret = -EIO;
		what = "the copy's size differs from the source (short)";
	}
	if (close(out) < 0 && !ret) {
		ret = -errno;
		what = "closing";
	}
	if (ret < 0) {
		fprintf(stderr, "tide-cp: %s -> %s: %s: %s\n", src, dst,
			what ? what : "copying", strerror(-ret));
		return 1;
	}
	if (verbose)
		fprintf(stderr, "tide-cp: %s -> %s: %llu bytes in %.3f s, "
			"%.1f MB/s (qd %llu, bs %llu)\n", src, dst,
			(unsigned long long)st.bytes, (double)st.ns / 1e9,
			st.ns ? (double)st.bytes * 1e3 / (double)st.ns : 0.0,
			(unsigned long long)qd, (unsigned long long)bs);
	return 0;
}
