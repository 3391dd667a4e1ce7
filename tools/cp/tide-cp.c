// SPDX-License-Identifier: MIT
/*
 * tide-cp - copy a file with io_uring through tide: a read/write pipeline
 * of --qd chunks of --bs bytes in flight (tools/common/copy.c) that reads
 * the source to its end of file, into a temporary file in the
 * destination's directory that is renamed over DST only when the copy is
 * complete, so a failed copy never destroys an existing file.  Modes as
 * cp(1) without -p: a new file gets the source's permission bits without
 * setuid/setgid, less the umask; an existing one keeps its own.
 *
 *	tide-cp [--qd N] [--bs SIZE] [--verbose] SRC DST
 *
 * DST may be a directory: the copy goes to DST/basename(SRC), as cp(1).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tide.h>

#include "copy.h"
#include "opt.h"
#include "out.h"

struct cp_job {
	const char *src, *dst; /* as given; dst becomes the final path */
	char dpath[PATH_MAX];  /* DST/basename(SRC), or DST's symlink target */
	char tmp[PATH_MAX];    /* the temporary file, "" when none */
	int in, out;
	struct stat ss;
};

static int cp_usage(const char *msg)
{
	if (msg)
		fprintf(stderr, "tide-cp: %s\n", msg);
	fprintf(msg ? stderr : stdout,
		"usage: tide-cp [--qd N] [--bs SIZE] [--verbose] SRC DST\n");
	return msg ? 2 : 0;
}

static int cp_fail(const char *path, const char *what, int err)
{
	fprintf(stderr, "tide-cp: %s: %s: %s\n", path, what, strerror(err));
	return 1;
}

/* DST names a directory: the copy is DST/basename(SRC). */
static int cp_into_dir(struct cp_job *j)
{
	char base[PATH_MAX];

	snprintf(base, sizeof(base), "%s", j->src);
	if ((size_t)snprintf(j->dpath, sizeof(j->dpath), "%s/%s", j->dst,
			     basename(base)) >= sizeof(j->dpath)) {
		fprintf(stderr, "tide-cp: %s: path too long\n", j->dst);
		return 1;
	}
	j->dst = j->dpath;
	return 0;
}

/* An existing DST that is a symlink: the copy replaces its target, as
 * cp(1) writes through it.  A dangling one is refused. */
static int cp_follow(struct cp_job *j, struct stat *ds)
{
	struct stat ls;
	char real[PATH_MAX];

	if (lstat(j->dst, &ls) < 0 || !S_ISLNK(ls.st_mode))
		return 0;
	if (stat(j->dst, ds) < 0) {
		fprintf(stderr, "tide-cp: %s: a dangling symbolic link\n",
			j->dst);
		return 1;
	}
	if (!realpath(j->dst, real))
		return cp_fail(j->dst, "cannot resolve", errno);
	snprintf(j->dpath, sizeof(j->dpath), "%s", real);
	j->dst = j->dpath;
	return 0;
}

/* A character device as DST (/dev/null, /dev/full) is written in place;
 * opened without blocking, like the source. */
static int cp_open_device(struct cp_job *j)
{
	int fl;

	j->out = open(j->dst, O_WRONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (j->out < 0)
		return cp_fail(j->dst, "cannot open", errno);
	fl = fcntl(j->out, F_GETFL);
	if (fl < 0 || fcntl(j->out, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return cp_fail(j->dst, "cannot clear O_NONBLOCK", errno);
	return 0;
}

/* The temporary file beside DST, with the mode (and, when it can, the
 * owner) the finished copy must have. */
static int cp_open_tmp(struct cp_job *j, const struct stat *ds, int exists)
{
	char dir[PATH_MAX], base[PATH_MAX];
	mode_t mask, mode;

	snprintf(dir, sizeof(dir), "%s", j->dst);
	snprintf(base, sizeof(base), "%s", j->dst);
	if ((size_t)snprintf(j->tmp, sizeof(j->tmp), "%s/.%s.tide-cp.XXXXXX",
			     dirname(dir), basename(base)) >= sizeof(j->tmp)) {
		j->tmp[0] = '\0';
		fprintf(stderr, "tide-cp: %s: path too long\n", j->dst);
		return 1;
	}
	j->out = mkostemp(j->tmp, O_CLOEXEC);
	if (j->out < 0) {
		int err = errno;

		j->tmp[0] = '\0';
		return cp_fail(j->dst, "cannot create", err);
	}
	mask = umask(0);
	umask(mask);
	if (exists) {
		mode = ds->st_mode & (S_IRWXU | S_IRWXG | S_IRWXO | S_ISVTX);
		/* root keeps the owner of the file it replaces */
		if (fchown(j->out, ds->st_uid, ds->st_gid) < 0 &&
		    errno != EPERM)
			return cp_fail(j->dst, "cannot set the owner", errno);
	} else {
		mode = j->ss.st_mode & (S_IRWXU | S_IRWXG | S_IRWXO | S_ISVTX) &
		       ~mask;
	}
	if (fchmod(j->out, mode) < 0)
		return cp_fail(j->dst, "cannot set the mode", errno);
	return 0;
}

/* Everything before the copy: open SRC, decide DST, refuse what cp
 * refuses, open the temporary file. */
static int cp_prepare(struct cp_job *j)
{
	struct stat ds;
	const char *what;
	int exists;

	j->in = copy_open_src(j->src, &j->ss, &what);
	if (j->in < 0) {
		if (j->in == -EISDIR || j->in == -EINVAL) {
			fprintf(stderr, "tide-cp: %s: %s\n", j->src, what);
			return 1;
		}
		return cp_fail(j->src, what, -j->in);
	}
	if (stat(j->dst, &ds) == 0 && S_ISDIR(ds.st_mode) && cp_into_dir(j))
		return 1;
	if (cp_follow(j, &ds))
		return 1;
	if (copy_same_file(&j->ss, j->dst)) {
		fprintf(stderr, "tide-cp: %s and %s are the same file\n",
			j->src, j->dst);
		return 1;
	}
	exists = stat(j->dst, &ds) == 0;
	if (exists && S_ISDIR(ds.st_mode)) {
		fprintf(stderr, "tide-cp: %s: is a directory\n", j->dst);
		return 1;
	}
	if (exists && S_ISCHR(ds.st_mode))
		return cp_open_device(j);
	if (exists && !S_ISREG(ds.st_mode)) {
		fprintf(stderr,
			"tide-cp: %s: not a regular file or a "
			"character device\n",
			j->dst);
		return 1;
	}
	if (cp_open_tmp(j, &ds, exists))
		return 1;
	/* reserve the blocks first: an early, clear ENOSPC, and no block
	 * allocation inside each write (KEEP_SIZE: the copy sets the size) */
	if (j->ss.st_size > 0 &&
	    fallocate(j->out, FALLOC_FL_KEEP_SIZE, 0, j->ss.st_size) < 0 &&
	    errno == ENOSPC)
		return cp_fail(j->dst, "no space left for the copy", errno);
	return 0;
}

/* Close and rename the temporary file over DST: the copy is complete. */
static int cp_commit(struct cp_job *j)
{
	int fd = j->out;

	j->out = -1;
	if (close(fd) < 0)
		return cp_fail(j->dst, "closing", errno);
	if (j->tmp[0] && rename(j->tmp, j->dst) < 0)
		return cp_fail(j->dst, "cannot rename the copy into place",
			       errno);
	j->tmp[0] = '\0';
	return 0;
}

static void cp_cleanup(struct cp_job *j)
{
	if (j->in >= 0)
		close(j->in);
	if (j->out >= 0)
		close(j->out);
	if (j->tmp[0])
		unlink(j->tmp);
}

static int cp_copy(struct cp_job *j, uint32_t qd, uint32_t bs, int verbose)
{
	struct copy_stats st;
	const char *what = NULL;
	int ret;

	memset(&st, 0, sizeof(st));
	ret = copy_run(j->in, j->out, (uint64_t)j->ss.st_size, bs, qd, &st,
		       &what);
	if (ret < 0) {
		/* the loop's errors have their own sentence (seccomp, sysctl,
		 * RLIMIT_MEMLOCK ...) */
		fprintf(stderr, "tide-cp: %s -> %s: %s: %s\n", j->src, j->dst,
			what ? what : "copying",
			what && !strcmp(what, "creating the loop") ?
				tide_strerror(ret) :
				strerror(-ret));
		return 1;
	}
	if (cp_commit(j))
		return 1;
	if (verbose)
		fprintf(stderr,
			"tide-cp: %s -> %s: %llu bytes in %.3f s, "
			"%.1f MB/s (qd %u, bs %u)\n",
			j->src, j->dst, (unsigned long long)st.bytes,
			(double)st.ns / 1e9,
			st.ns ? (double)st.bytes * 1e3 / (double)st.ns : 0.0,
			st.qd, bs);
	return 0;
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
	struct cp_job j = { .in = -1, .out = -1 };
	uint64_t qd = 8, bs = 128u << 10;
	int verbose = 0, opt, err, ret;

	out_check_at_exit("tide-cp");
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'q':
			if ((err = opt_count(optarg, 1, 4096, &qd)))
				return opt_bad("tide-cp", "--qd", optarg, err,
					       "1 to 4096");
			break;
		case 'b':
			if ((err = opt_size(optarg, 1, 64u << 20, &bs)))
				return opt_bad("tide-cp", "--bs", optarg, err,
					       "1 to 64m bytes");
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			return cp_usage(NULL);
		default:
			fprintf(stderr, "tide-cp: bad option '%s'\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (argc - optind != 2)
		return cp_usage("need SRC and DST");
	j.src = argv[optind];
	j.dst = argv[optind + 1];
	ret = cp_prepare(&j);
	if (!ret)
		ret = cp_copy(&j, (uint32_t)qd, (uint32_t)bs, verbose);
	cp_cleanup(&j);
	return ret;
}
