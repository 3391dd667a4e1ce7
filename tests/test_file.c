// SPDX-License-Identifier: MIT
/*
 * test_file.c - every file operation on its success and failure paths,
 * short transfers, the full-length helpers, registered buffers and files,
 * deadlines and cancellation.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

static char path[64];
static int fd;

static int setup(void **state)
{
	(void)state;
	fd = t_tmpfile(path, sizeof(path), 8192);
	return fd < 0;
}

static int teardown(void **state)
{
	(void)state;
	close(fd);
	unlink(path);
	return 0;
}

static void test_tide_nop(void **state)
{
	struct tide_loop *loop = t_loop();
	int64_t r;

	(void)state;
	T_OP(r, loop, tide_nop(loop));
	assert_int_equal(r, 0);
	assert_null(tide_nop(NULL));
	tide_loop_free(loop);
}

static void test_tide_openat_close(void **state)
{
	struct tide_loop *loop = t_loop();
	int64_t nfd, r;

	(void)state;
	T_OP(nfd, loop, tide_openat(loop, AT_FDCWD, path, O_RDONLY, 0));
	assert_true(nfd >= 0);
	assert_true(fcntl((int)nfd, F_GETFD) & FD_CLOEXEC); /* always added */
	T_OP(r, loop, tide_close(loop, (int)nfd));
	assert_int_equal(r, 0);
	/* failures */
	T_OP(r, loop,
	     tide_openat(loop, AT_FDCWD, "/nonexistent/tide", O_RDONLY, 0));
	assert_int_equal(r, -ENOENT);
	T_OP(r, loop, tide_openat(loop, AT_FDCWD, NULL, O_RDONLY, 0));
	assert_int_equal(r, -EFAULT);
	T_OP(r, loop, tide_close(loop, (int)nfd)); /* already closed */
	assert_int_equal(r, -EBADF);
	tide_loop_free(loop);
}

/* A descriptor number closed behind tide's back comes back as another
 * kind of file (the epoll backend caches what each number is): a pipe's
 * number as a regular file must be read at the offset asked for, a file's
 * number as a pipe must be read as a pipe (the offset means nothing there,
 * as io_uring ignores it), with plain reads and vectors. */
static void test_tide_read_number_reused(void **state)
{
	struct tide_loop *loop = t_loop();
	struct iovec v[2];
	char buf[16] = "";
	int p[2], num;
	int64_t r;

	(void)state;
	for (int vec = 0; vec < 2; vec++) {
		/* a pipe: its number is learnt as a pipe's */
		assert_int_equal(pipe(p), 0);
		num = p[0];
		assert_int_equal(write(p[1], "x", 1), 1);
		T_OP(r, loop,
		     tide_read(loop, num, buf, sizeof(buf), TIDE_OFF_CUR));
		assert_int_equal(r, 1);
		/* closed behind tide's back; the number is now the file's */
		close(p[1]);
		assert_int_equal(dup2(fd, num), num);
		v[0] = (struct iovec){ buf, 2 };
		v[1] = (struct iovec){ buf + 2, 3 };
		memset(buf, 0, sizeof(buf));
		T_OP(r, loop,
		     vec ? tide_readv(loop, num, v, 2, 1000) :
			   tide_read(loop, num, buf, 5, 1000));
		assert_int_equal(r, 5);
		for (int i = 0; i < 5; i++)
			assert_int_equal((unsigned char)buf[i],
					 t_pattern(1000 + (size_t)i));
		/* a write at an offset lands there, not at the file position */
		T_OP(r, loop,
		     tide_write(loop, num, "ABCDE", 5, 2000 + 10 * vec));
		assert_int_equal(r, 5);
		assert_int_equal(pread(fd, buf, 5, 2000 + 10 * vec), 5);
		assert_memory_equal(buf, "ABCDE", 5);
		/* and back: the file's number becomes a pipe's, with data */
		assert_int_equal(pipe(p), 0);
		assert_int_equal(write(p[1], "pipe!", 5), 5);
		assert_int_equal(dup2(p[0], num), num);
		close(p[0]);
		memset(buf, 0, sizeof(buf));
		T_OP(r, loop,
		     vec ? tide_readv(loop, num, v, 2, 0) :
			   tide_read(loop, num, buf, 5, 0));
		/* a pipe read may come short (TIDE_FAULT's short does it):
		 * the rest follows */
		if (r > 0 && r < 5) {
			int64_t more = t_read_all(loop, num, buf + r,
						  (size_t)(5 - r),
						  (size_t)(5 - r));

			assert_int_equal(more, 5 - r);
			r = 5;
		}
		assert_int_equal(r, 5);
		assert_memory_equal(buf, "pipe!", 5);
		close(p[1]);
		close(num);
	}
	tide_loop_free(loop);
}

static void test_tide_read_write(void **state)
{
	struct tide_loop *loop = t_loop();
	char buf[100], out[100];
	int64_t r;

	(void)state;
	T_OP(r, loop, tide_read(loop, fd, buf, sizeof(buf), 1000));
	assert_int_equal(r, sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal((unsigned char)buf[i], t_pattern(1000 + i));
	/* a short read at end of file is reported as such */
	T_OP(r, loop, tide_read(loop, fd, buf, sizeof(buf), 8192 - 10));
	assert_int_equal(r, 10);
	T_OP(r, loop, tide_read(loop, fd, buf, sizeof(buf), 8192));
	assert_int_equal(r, 0);
	memset(out, 'w', sizeof(out));
	T_OP(r, loop, tide_write(loop, fd, out, sizeof(out), 50));
	assert_int_equal(r, sizeof(out));
	assert_int_equal(pread(fd, buf, sizeof(buf), 50), sizeof(buf));
	assert_memory_equal(buf, out, sizeof(out));
	/* failures */
	T_OP(r, loop, tide_read(loop, -1, buf, sizeof(buf), 0));
	assert_int_equal(r, -EBADF);
	T_OP(r, loop, tide_write(loop, 9999, buf, sizeof(buf), 0));
	assert_int_equal(r, -EBADF);
	T_OP(r, loop, tide_read(loop, fd, NULL, 10, 0));
	assert_int_equal(r, -EFAULT);
	T_OP(r, loop, tide_write(loop, fd, NULL, 10, 0));
	assert_int_equal(r, -EFAULT);
	tide_loop_free(loop);
}

/* A readv into a (10 bytes) and b (20) whose array is cleared as soon as
 * the call returned: the operation must have copied it. */
static struct tide_future *readv_cleared(struct tide_loop *loop, char *a,
					 char *b, struct iovec *iov)
{
	struct tide_future *f;

	iov[0] = (struct iovec){ a, 10 };
	iov[1] = (struct iovec){ b, 20 };
	f = tide_readv(loop, fd, iov, 2, 0);
	memset(iov, 0, 2 * sizeof(*iov));
	return f;
}

static void test_tide_readv_writev(void **state)
{
	struct tide_loop *loop = t_loop();
	char a[10], b[20], c[3][5];
	struct iovec iov[8];
	int64_t r;

	(void)state;
	T_OP(r, loop, readv_cleared(loop, a, b, iov));
	assert_int_equal(r, 30);
	assert_int_equal((unsigned char)b[19], t_pattern(29));
	/* more iovecs than fit a slab object go through malloc */
	for (int i = 0; i < 8; i++)
		iov[i] = (struct iovec){ c[i % 3], 5 };
	memcpy(c, "aaaaabbbbbccccc", 15);
	T_OP(r, loop, tide_writev(loop, fd, iov, 3, 4000));
	assert_int_equal(r, 15);
	T_OP(r, loop, tide_readv(loop, fd, iov, 8, 0));
	assert_int_equal(r, 40);
	/* failures */
	T_OP(r, loop, tide_readv(loop, fd, iov, 0, 0));
	assert_int_equal(r, -EINVAL);
	T_OP(r, loop, tide_writev(loop, fd, NULL, 1, 0));
	assert_int_equal(r, -EFAULT);
	T_OP(r, loop, tide_writev(loop, -1, iov, 1, 0));
	assert_int_equal(r, -EBADF);
	tide_loop_free(loop);
}

static void test_tide_read_full_write_full(void **state)
{
	struct tide_loop *loop = t_loop();
	size_t n = 1 << 20;
	char *big = malloc(n), *back = malloc(n);
	struct tide_future *w, *r;
	int p[2];

	(void)state;
	for (size_t i = 0; i < n; i++)
		big[i] = (char)t_pattern(i);
	assert_int_equal(pipe(p), 0);
	/* a pipe holds 64 KiB: both sides go in many short steps; they
	 * issue each step again when the kernel cancelled it before it ran
	 * (TIDE_FAULT's cancel), so they never say -ECANCELED unasked */
	w = tide_write_full(loop, p[1], big, n, TIDE_OFF_CUR);
	r = tide_read_full(loop, p[0], back, n, TIDE_OFF_CUR);
	assert_int_equal(t_wait(loop, w), n);
	assert_int_equal(t_wait(loop, r), n);
	assert_memory_equal(big, back, n);
	tide_future_release(w);
	tide_future_release(r);
	/* end of file ends a full read early with the count */
	r = tide_read_full(loop, fd, back, n, 8000);
	assert_int_equal(t_wait(loop, r), 192);
	tide_future_release(r);
	r = tide_read_full(loop, fd, back, 0, 0);
	assert_int_equal(t_wait(loop, r), 0);
	tide_future_release(r);
	/* failures */
	r = tide_read_full(loop, -1, back, 10, 0);
	assert_int_equal(t_wait(loop, r), -EBADF);
	tide_future_release(r);
	close(p[0]);
	w = tide_write_full(loop, p[1], big, 10, TIDE_OFF_CUR);
	assert_int_equal(t_wait(loop, w), -EPIPE);
	tide_future_release(w);
	w = tide_write_full(loop, p[1], NULL, 10, TIDE_OFF_CUR);
	assert_int_equal(t_wait(loop, w), -EFAULT);
	tide_future_release(w);
	close(p[1]);
	free(big);
	free(back);
	tide_loop_free(loop);
}

static void test_tide_fsync_fdatasync_fallocate(void **state)
{
	struct tide_loop *loop = t_loop();
	struct stat st;
	int64_t r;

	(void)state;
	T_OP(r, loop, tide_fsync(loop, fd));
	assert_int_equal(r, 0);
	T_OP(r, loop, tide_fdatasync(loop, fd));
	assert_int_equal(r, 0);
	T_OP(r, loop, tide_fallocate(loop, fd, 0, 0, 65536));
	assert_int_equal(r, 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 65536);
	T_OP(r, loop, tide_sync_file_range(loop, fd, 0, 4096, 0));
	assert_int_equal(r, 0);
	/* failures */
	T_OP(r, loop, tide_fsync(loop, -1));
	assert_int_equal(r, -EBADF);
	T_OP(r, loop, tide_fdatasync(loop, -1));
	assert_int_equal(r, -EBADF);
	T_OP(r, loop, tide_fallocate(loop, fd, 0x7fff, 0, 10)); /* bad mode */
	assert_true(r < 0);
	T_OP(r, loop,
	     tide_sync_file_range(loop, fd, 0, 10, 0xff)); /* bad flags */
	assert_int_equal(r, -EINVAL);
	T_OP(r, loop, tide_sync_file_range(loop, fd, 0, 1ull << 33, 0));
	assert_int_equal(r, -EINVAL);
	tide_loop_free(loop);
}

static void test_tide_statx(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_future *f;
	struct statx stx;
	int64_t r;

	(void)state;
	T_OP_KEEP(r, f, loop,
		  tide_statx(loop, AT_FDCWD, path, 0, STATX_SIZE, &stx));
	assert_int_equal(r, 0);
	assert_ptr_equal(tide_future_payload(f), &stx);
	assert_int_equal(stx.stx_size, 8192);
	tide_future_release(f);
	T_OP(r, loop,
	     tide_statx(loop, AT_FDCWD, "/nonexistent/x", 0, STATX_SIZE, &stx));
	assert_int_equal(r, -ENOENT);
	T_OP(r, loop, tide_statx(loop, AT_FDCWD, path, 0, STATX_SIZE, NULL));
	assert_int_equal(r, -EFAULT);
	T_OP(r, loop,
	     tide_statx(loop, AT_FDCWD, path, 0x7fffffff, STATX_SIZE, &stx));
	assert_int_equal(r, -EINVAL);
	tide_loop_free(loop);
}

static void test_tide_mkdirat_renameat_unlinkat(void **state)
{
	struct tide_loop *loop = t_loop();
	char dir[96], a[128], b[128];
	int64_t r;
	int tfd;

	(void)state;
	snprintf(dir, sizeof(dir), "%s.d", path);
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	T_OP(r, loop, tide_mkdirat(loop, AT_FDCWD, dir, 0700));
	assert_int_equal(r, 0);
	T_OP(r, loop, tide_mkdirat(loop, AT_FDCWD, dir, 0700));
	assert_int_equal(r, -EEXIST);
	tfd = open(a, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(tfd >= 0);
	close(tfd);
	T_OP(r, loop, tide_renameat(loop, AT_FDCWD, a, AT_FDCWD, b, 0));
	assert_int_equal(r, 0);
	assert_int_equal(access(b, F_OK), 0);
	T_OP(r, loop, tide_renameat(loop, AT_FDCWD, a, AT_FDCWD, b, 0));
	assert_int_equal(r, -ENOENT);
	T_OP(r, loop, tide_renameat(loop, AT_FDCWD, NULL, AT_FDCWD, b, 0));
	assert_int_equal(r, -EFAULT);
	T_OP(r, loop, tide_unlinkat(loop, AT_FDCWD, b, 0));
	assert_int_equal(r, 0);
	T_OP(r, loop, tide_unlinkat(loop, AT_FDCWD, b, 0));
	assert_int_equal(r, -ENOENT);
	T_OP(r, loop, tide_unlinkat(loop, AT_FDCWD, dir, 0)); /* a directory */
	assert_int_equal(r, -EISDIR);
	T_OP(r, loop, tide_unlinkat(loop, AT_FDCWD, dir, AT_REMOVEDIR));
	assert_int_equal(r, 0);
	T_OP(r, loop, tide_mkdirat(loop, AT_FDCWD, NULL, 0700));
	assert_int_equal(r, -EFAULT);
	tide_loop_free(loop);
}

static void test_tide_splice(void **state)
{
	struct tide_loop *loop = t_loop();
	char buf[64];
	int64_t r;
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	T_OP(r, loop, tide_splice(loop, fd, 100, p[1], TIDE_OFF_CUR, 64, 0));
	assert_int_equal(r, 64);
	assert_int_equal(read(p[0], buf, 64), 64);
	assert_int_equal((unsigned char)buf[0], t_pattern(100));
	T_OP(r, loop,
	     tide_splice(loop, -1, TIDE_OFF_CUR, p[1], TIDE_OFF_CUR, 64, 0));
	assert_int_equal(r, -EBADF);
	close(p[0]);
	close(p[1]);
	tide_loop_free(loop);
}

static void test_tide_fixed_buffers_and_files(void **state)
{
	struct tide_loop *loop = t_loop();
	static char bufs[2][4096];
	struct iovec iov[2] = { { bufs[0], 4096 }, { bufs[1], 4096 } };
	char other[16];
	int64_t r;

	(void)state;
	if (t_loop_epoll(loop)) { /* io_uring only: refused, documented */
		assert_int_equal(tide_loop_register_buffers(loop, iov, 2),
				 -EOPNOTSUPP);
		assert_int_equal(tide_loop_unregister_buffers(loop),
				 -EOPNOTSUPP);
		assert_int_equal(tide_loop_register_files(loop, &fd, 1),
				 -EOPNOTSUPP);
		/* the engine refuses the operation: a failed future says why */
		T_OP(r, loop,
		     tide_read_fixed(loop, fd, bufs[1], 4096, 4096, 1, 0));
		assert_int_equal(r, -EOPNOTSUPP);
		tide_loop_free(loop);
		return;
	}
	assert_int_equal(tide_loop_unregister_buffers(loop), -ENXIO);
	assert_int_equal(tide_loop_register_buffers(loop, iov, 2), 0);
	assert_int_equal(tide_loop_register_buffers(loop, iov, 2), -EBUSY);
	T_OP(r, loop, tide_read_fixed(loop, fd, bufs[1], 4096, 4096, 1, 0));
	assert_int_equal(r, 4096);
	assert_int_equal((unsigned char)bufs[1][0], t_pattern(4096));
	memset(bufs[0], 'f', 100);
	T_OP(r, loop, tide_write_fixed(loop, fd, bufs[0], 100, 0, 0, 0));
	assert_int_equal(r, 100);
	/* a buffer outside the registered one is refused by the kernel */
	T_OP(r, loop, tide_read_fixed(loop, fd, other, sizeof(other), 0, 0, 0));
	assert_int_equal(r, -EFAULT);
	T_OP(r, loop, tide_read_fixed(loop, fd, bufs[0], 10, 0, -1, 0));
	assert_int_equal(r, -EINVAL);
	T_OP(r, loop, tide_read_fixed(loop, fd, bufs[0], 10, 0, 0, 0x80));
	assert_int_equal(r, -EINVAL);
	/* registered files: index 0 is fd */
	assert_int_equal(tide_loop_register_files(loop, &fd, 1), 0);
	assert_int_equal(tide_loop_register_files(loop, &fd, 1), -EBUSY);
	T_OP(r, loop,
	     tide_read_fixed(loop, 0, bufs[0], 64, 4096, 0, TIDE_FIXED_FILE));
	assert_int_equal(r, 64);
	T_OP(r, loop,
	     tide_read_fixed(loop, 5, bufs[0], 64, 0, 0, TIDE_FIXED_FILE));
	assert_int_equal(r, -EBADF);
	assert_int_equal(tide_loop_unregister_files(loop), 0);
	assert_int_equal(tide_loop_unregister_files(loop), -ENXIO);
	assert_int_equal(tide_loop_unregister_buffers(loop), 0);
	assert_int_equal(tide_loop_register_buffers(loop, NULL, 1), -EINVAL);
	assert_int_equal(tide_loop_register_files(loop, NULL, 1), -EINVAL);
	assert_int_equal(tide_loop_register_buffers(NULL, iov, 1), -EINVAL);
	tide_loop_free(loop);
}

static void test_deadline_and_cancel(void **state)
{
	struct tide_loop *loop = t_loop();
	struct tide_future *f;
	char buf[8];
	int64_t r;
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	T_OP(r, loop,
	     tide_future_timeout(tide_read(loop, p[0], buf, 8, TIDE_OFF_CUR),
				 5000000));
	assert_int_equal(r, -ETIMEDOUT);
	/* cancelled on purpose: its own -ECANCELED, never issued again */
	f = tide_read(loop, p[0], buf, 8, TIDE_OFF_CUR);
	assert_int_equal(tide_future_cancel(f), 0);
	assert_int_equal(t_wait(loop, f), -ECANCELED);
	tide_future_release(f);
	close(p[0]);
	close(p[1]);
	tide_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tide_nop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tide_openat_close, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tide_read_write, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tide_read_number_reused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_tide_readv_writev, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tide_read_full_write_full,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_tide_fsync_fdatasync_fallocate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tide_statx, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_tide_mkdirat_renameat_unlinkat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tide_splice, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_tide_fixed_buffers_and_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline_and_cancel, setup,
						teardown),
	};

	/* a write to a pipe without readers raises SIGPIPE, as write(2) does */
	signal(SIGPIPE, SIG_IGN);
	return T_RUN("file", tests);
}
