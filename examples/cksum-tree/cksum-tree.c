// SPDX-License-Identifier: MIT
/*
 * cksum-tree - POSIX cksum(1) of every regular file under a directory,
 * many files at once: the tree walk runs on a thread pool (it blocks on the
 * disk), each file is read 64 KiB at a time through the loop's ring, and
 * each chunk's CRC is computed on the pool while other files' reads run.
 * Output is cksum's, one line per file, sorted by path:
 *
 *   cksum-tree [-j N] DIR      N files in flight (default 16)
 *
 * Same lines as: find DIR -type f | LC_ALL=C sort | xargs cksum
 *
 * Written with tasks: a main task awaits the walk, then N worker tasks
 * each sum one file after another in linear code (open, then read a chunk
 * and await its CRC until the end).
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tide.h>

#define CHUNK 65536u

struct file {
	char *path;
	uint64_t size;
	uint32_t crc;
	int err;
};

struct job {
	struct file *f;
	int fd;
	uint64_t off;
	size_t n; /* bytes in buf */
	unsigned char buf[CHUNK];
};

static struct tide_loop *loop;
static struct tide_pool *pool;
static struct file *files;
static size_t nfiles, cap, next_file, limit = 16;
static uint32_t table[256];
static const char *root;

/* ---- the CRC of cksum(1): CRC-32/POSIX, length appended ---- */

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i << 24;

		for (int k = 0; k < 8; k++)
			c = c & 0x80000000u ? (c << 1) ^ 0x04c11db7u : c << 1;
		table[i] = c;
	}
}

static uint32_t crc_add(uint32_t crc, const unsigned char *p, size_t n)
{
	while (n--)
		crc = (crc << 8) ^ table[(crc >> 24) ^ *p++];
	return crc;
}

static uint32_t crc_end(uint32_t crc, uint64_t len)
{
	for (; len; len >>= 8) {
		unsigned char b = (unsigned char)len;

		crc = crc_add(crc, &b, 1);
	}
	return ~crc;
}

/* ---- the walk, on the pool ---- */

static int walk_one(const char *path, const struct stat *st, int type,
		    struct FTW *ftw)
{
	(void)ftw;
	if (type != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	if (nfiles == cap) {
		struct file *v = realloc(files, (cap = cap ? cap * 2 : 256) *
							sizeof(*v));

		if (!v)
			return -1;
		files = v;
	}
	files[nfiles].path = strdup(path);
	if (!files[nfiles].path)
		return -1;
	files[nfiles].size = 0;
	files[nfiles].crc = 0;
	files[nfiles].err = 0;
	nfiles++;
	return 0;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct file *)a)->path,
		      ((const struct file *)b)->path);
}

static int64_t walk(void *arg)
{
	(void)arg;
	if (nftw(root, walk_one, 64, FTW_PHYS))
		return errno ? -errno : -ENOMEM;
	qsort(files, nfiles, sizeof(*files), by_path);
	return (int64_t)nfiles;
}

/* ---- one file: read a chunk, CRC it on the pool, repeat ---- */

static int64_t crc_chunk(void *arg)
{
	struct job *j = arg;

	j->f->crc = crc_add(j->f->crc, j->buf, j->n);
	return 0;
}

/* Sum one file into f: 0, or the -errno that stopped it. */
static int64_t sum_file(struct job *j, struct file *f)
{
	int64_t res;
	uint64_t off = 0;

	res = tide_await(tide_openat(loop, AT_FDCWD, f->path, O_RDONLY, 0));
	if (res < 0)
		return res;
	j->f = f;
	j->fd = (int)res;
	while ((res = tide_await(tide_read(loop, j->fd, j->buf, CHUNK, off))) >
	       0) {
		j->n = (size_t)res;
		off += (uint64_t)res;
		f->size += (uint64_t)res;
		res = tide_await(tide_pool_submit(pool, loop, crc_chunk, j));
		if (res < 0)
			break;
	}
	close(j->fd);
	if (res == 0)
		f->crc = crc_end(f->crc, f->size);
	return res;
}

/* A worker task: take the next file until none are left. */
static int64_t worker(void *arg)
{
	struct job *j = malloc(sizeof(*j));

	(void)arg;
	if (!j)
		return -ENOMEM; /* the other workers take the files */
	while (next_file < nfiles) {
		struct file *f = &files[next_file++];

		f->err = (int)sum_file(j, f);
	}
	free(j);
	return 0;
}

/* The main task: walk the tree on the pool, then run N workers. */
static int64_t cksum_tree(void *arg)
{
	size_t n = limit;
	struct tide_future **w;
	int64_t res;

	(void)arg;
	res = tide_await(tide_pool_submit(pool, loop, walk, NULL));
	if (res < 0)
		return res;
	if (n > nfiles)
		n = nfiles;
	w = calloc(n ? n : 1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		w[i] = tide_task_spawn(loop, worker, NULL, NULL);
	for (size_t i = 0; i < n; i++)
		tide_await(w[i]); /* NULL: -ENOMEM, the others work on */
	free(w);
	for (; next_file < nfiles; next_file++) /* no worker at all */
		files[next_file].err = -ENOMEM;
	return 0;
}

int main(int argc, char **argv)
{
	int opt, ret, status = 0;

	while ((opt = getopt(argc, argv, "j:h")) != -1) {
		if (opt == 'j' && atoi(optarg) > 0) {
			limit = (size_t)atoi(optarg);
		} else {
			fprintf(stderr, "usage: %s [-j N] DIR\n", argv[0]);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: %s [-j N] DIR\n", argv[0]);
		return 2;
	}
	root = argv[optind];
	crc_init();
	ret = tide_loop_new(&loop, NULL);
	if (ret == 0)
		ret = tide_pool_new(&pool, NULL);
	if (ret < 0) {
		fprintf(stderr, "cksum-tree: %s\n", tide_strerror(ret));
		return 1;
	}
	ret = (int)tide_run(loop, cksum_tree, NULL);
	if (ret < 0) { /* the walk's error (or no memory for the tasks) */
		fprintf(stderr, "cksum-tree: %s: %s\n", root,
			tide_strerror(ret));
		status = 1;
	}
	for (size_t i = 0; i < nfiles; i++) {
		if (ret < 0) {
			/* no lines after a failed walk */
		} else if (files[i].err) {
			fprintf(stderr, "cksum-tree: %s: %s\n", files[i].path,
				tide_strerror(files[i].err));
			status = 1;
		} else {
			printf("%u %llu %s\n", files[i].crc,
			       (unsigned long long)files[i].size,
			       files[i].path);
		}
		free(files[i].path);
	}
	free(files);
	tide_pool_free(pool);
	tide_loop_free(loop);
	return status;
}
