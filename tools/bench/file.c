// SPDX-License-Identifier: MIT
/*
 * file.c - tide-bench's target file: open the one given (checking it
 * is a file or device, readable or writable, big enough, O_DIRECT-able) or
 * create, fill and later remove a scratch file.  Every refusal is one line
 * on stderr; the caller exits with status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

static char tmp_path[256];

static int bf_err(const char *path, const char *msg, int err)
{
	if (err)
		fprintf(stderr, "tide-bench: %s: %s: %s\n", path, msg,
			strerror(err));
	else
		fprintf(stderr, "tide-bench: %s: %s\n", path, msg);
	return -1;
}

static int bf_fill(int fd, uint64_t size, const char *path)
{
	const size_t chunk = 1u << 20;
	char *buf = buf_alloc(chunk);
	uint64_t off = 0;

	if (!buf)
		return bf_err(path, "cannot allocate a buffer", ENOMEM);
	while (off < size) {
		size_t n = size - off < chunk ? (size_t)(size - off) : chunk;
		ssize_t w = pwrite(fd, buf, n, (off_t)off);

		if (w <= 0) {
			free(buf);
			return bf_err(path, "cannot write the scratch file",
				      w < 0 ? errno : ENOSPC);
		}
		off += (uint64_t)w;
	}
	free(buf);
	if (fsync(fd) < 0)
		return bf_err(path, "fsync of the scratch file failed", errno);
	return 0;
}

/* O_DIRECT alignment, checked with one real transfer of bs at offset 0. */
static int bf_check_direct(struct job *j, const char *path)
{
	char *buf;
	ssize_t n;
	int e;

	if (j->bs % 512)
		return bf_err(path,
			      "with --direct the block size must be a "
			      "multiple of the sector size (512)",
			      0);
	buf = buf_alloc(j->bs);
	if (!buf)
		return bf_err(path, "cannot allocate a buffer", ENOMEM);
	n = pread(j->fd, buf, j->bs, 0);
	e = errno;
	free(buf);
	if (n < 0 && e == EINVAL) {
		fprintf(stderr,
			"tide-bench: %s: O_DIRECT refused a %u-byte "
			"transfer: the block size must be a multiple of the "
			"device's logical sector size\n",
			path, j->bs);
		return -1;
	}
	return 0;
}

/* Opened with O_NONBLOCK, so a FIFO that slipped past the stat() check
 * cannot block open(2); cleared before any IO. */
static int bf_open(struct job *j, const char *path, int flags, mode_t mode)
{
	int fd, fl;

	flags |= O_NONBLOCK | O_NOCTTY;
	fd = open(path, flags | O_CLOEXEC | (j->direct ? O_DIRECT : 0), mode);

	if (fd < 0 && j->direct && errno == EINVAL) {
		/* the file is fine; the filesystem refuses O_DIRECT */
		fd = open(path, flags | O_CLOEXEC, mode);
		if (fd >= 0) {
			close(fd);
			return bf_err(path,
				      "this filesystem does not support "
				      "O_DIRECT (--direct)",
				      0);
		}
	}
	if (fd < 0)
		return bf_err(path, "cannot open", errno);
	j->fd = fd;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return bf_err(path, "cannot clear O_NONBLOCK", errno);
	return 0;
}

static int bf_not_file(const struct stat *st)
{
	return S_ISFIFO(st->st_mode) || S_ISSOCK(st->st_mode);
}

int file_open(struct job *j, const char *path)
{
	int wr = j->mode == BENCH_WRITE;
	struct stat st;

	j->fd = -1;
	if (!path) {
		snprintf(tmp_path, sizeof(tmp_path), "tide-bench.%ld.tmp",
			 (long)getpid());
		path = tmp_path;
		j->path = path;
		if (!j->size)
			j->size = 64ull << 20;
		if (bf_open(j, path, O_RDWR | O_CREAT | O_EXCL, 0600) < 0)
			return -1;
		if (bf_fill(j->fd, j->size, path) < 0)
			return -1;
		return j->direct ? bf_check_direct(j, path) : 0;
	}
	j->path = path;
	if (stat(path, &st) < 0) {
		if (!(wr && errno == ENOENT))
			return bf_err(path, "cannot open", errno);
	} else if (S_ISDIR(st.st_mode)) {
		return bf_err(path, "is a directory, not a file", 0);
	} else if (bf_not_file(&st)) {
		return bf_err(path, "is a FIFO or socket, not a file or device",
			      0);
	}
	if (bf_open(j, path, wr ? O_WRONLY | O_CREAT : O_RDONLY, 0644) < 0)
		return -1;
	if (fstat(j->fd, &st) < 0)
		return bf_err(path, "cannot stat", errno);
	if (bf_not_file(&st))
		return bf_err(path, "is a FIFO or socket, not a file or device",
			      0);
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
		uint64_t have = (uint64_t)st.st_size;

		if (S_ISBLK(st.st_mode)) {
			off_t e = lseek(j->fd, 0, SEEK_END);

			have = e > 0 ? (uint64_t)e : 0;
		}
		if (!j->size && !have)
			return bf_err(path,
				      wr ? "is empty (zero size); give "
					   "--size to write it" :
					   "is empty (zero "
					   "size): nothing to read",
				      0);
		if (!j->size)
			j->size = have;
		if (!wr && j->size > have) {
			fprintf(stderr,
				"tide-bench: %s: has %llu bytes, fewer "
				"than --size %llu\n",
				path, (unsigned long long)have,
				(unsigned long long)j->size);
			return -1;
		}
	} else if (!j->size) {
		return bf_err(path, "is not a regular file; give --size", 0);
	}
	if (j->size < j->bs) {
		fprintf(stderr,
			"tide-bench: %s: size %llu is smaller than one "
			"block (--bs %u)\n",
			path, (unsigned long long)j->size, j->bs);
		return -1;
	}
	return j->direct && !wr ? bf_check_direct(j, path) : 0;
}

void file_close(struct job *j)
{
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
	if (tmp_path[0]) {
		unlink(tmp_path);
		tmp_path[0] = 0;
	}
}
