// SPDX-License-Identifier: MIT
/*
 * test_process.c - child processes: echo, a 10 MiB cat round trip, 100 MiB
 * on stdout and stderr at once, signals, exec failures without zombies,
 * 200 children at once without leaked descriptors, bad arguments, kill,
 * cancel and timeout of waits and of communicate, free while running.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

#define MS 1000000ull

/* Valgrind runs clone(CLONE_VM|CLONE_VFORK) as a fork, so glibc's
 * posix_spawn cannot report exec errors there: the child exits 127. */
static void skip_exec_errors_under_valgrind(void)
{
	if (getenv("TIDE_VALGRIND")) {
		fprintf(stderr,
			"skipped: valgrind cannot report exec errors\n");
		skip();
	}
}

/* No child of ours is left, reaped or not. */
static void assert_no_children(void)
{
	int st;

	assert_int_equal(waitpid(-1, &st, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static struct tide_process *spawn(struct tide_loop *loop,
				  const char *const *argv, uint32_t in,
				  uint32_t out, uint32_t err)
{
	struct tide_process_options o = { .stdio = { in, out, err } };
	struct tide_process *p = NULL;

	assert_int_equal(tide_process_spawn(loop, argv, &o, &p), 0);
	assert_non_null(p);
	return p;
}

static void test_tide_process_spawn_echo(void **state)
{
	static const char *const argv[] = { "echo", "hello", "world", NULL };
	struct tide_loop *loop = t_loop();
	struct tide_process *p;
	struct tide_stream *s;
	char line[64];
	int64_t st;

	(void)state;
	p = spawn(loop, argv, TIDE_STDIO_DEVNULL, TIDE_STDIO_PIPE,
		  TIDE_STDIO_INHERIT);
	assert_true(tide_process_pid(p) > 0);
	assert_null(tide_process_stream(p, 0)); /* not a pipe */
	assert_null(tide_process_stream(p, 3));
	s = tide_process_stream(p, 1);
	assert_non_null(s);
	assert_null(tide_process_stream(p, 1)); /* taken */
	assert_int_equal(
		t_wait(loop, tide_stream_read_line(s, line, sizeof(line))), 12);
	assert_memory_equal(line, "hello world\n", 12);
	assert_int_equal(t_wait(loop, tide_stream_read(s, line, sizeof(line))),
			 0);
	assert_int_equal(t_wait(loop, tide_stream_close(s)), 0);
	assert_int_equal(tide_process_status(p), -EAGAIN);
	st = t_wait(loop, tide_process_wait(p));
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(tide_process_status(p), st);
	/* waiting again gives the same status at once; kill finds no one */
	assert_int_equal(t_wait(loop, tide_process_wait(p)), st);
	assert_int_equal(tide_process_kill(p, SIGTERM), -ESRCH);
	tide_process_free(p);
	assert_no_children();
	tide_loop_free(loop);
}

static void test_tide_process_communicate_env_cwd(void **state)
{
	static const char *const argv[] = {
		"sh", "-c", "pwd; echo \"$FOO\"; echo oops >&2; exit 3", NULL
	};
	static const char *const envp[] = { "FOO=bar baz", "PATH=/usr/bin:/bin",
					    NULL };
	struct tide_process_options o = {
		.stdio = { TIDE_STDIO_PIPE, TIDE_STDIO_PIPE, TIDE_STDIO_PIPE },
		.envp = envp,
		.cwd = "/",
	};
	struct tide_loop *loop = t_loop();
	struct tide_process_output out;
	struct tide_process *p;
	int64_t st;

	(void)state;
	assert_int_equal(tide_process_spawn(loop, argv, &o, &p), 0);
	st = t_wait(loop, tide_process_communicate(p, NULL, 0, 0, &out));
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 3);
	assert_string_equal(out.out, "/\nbar baz\n");
	assert_int_equal(out.out_len, 10);
	assert_string_equal(out.err, "oops\n");
	assert_int_equal(out.err_len, 5);
	free(out.out);
	free(out.err);
	/* the pipes went with communicate */
	assert_null(tide_process_stream(p, 1));
	assert_int_equal(t_wait(loop,
				tide_process_communicate(p, NULL, 0, 0, &out)),
			 st);
	assert_string_equal(out.out, "");
	free(out.out);
	free(out.err);
	tide_process_free(p);
	tide_loop_free(loop);
}

static void test_tide_process_communicate_socket(void **state)
{
	static const char *const argv[] = { "cat", NULL };
	struct tide_loop *loop = t_loop();
	struct tide_process_output out;
	struct tide_process *p;

	(void)state;
	p = spawn(loop, argv, TIDE_STDIO_SOCKET, TIDE_STDIO_SOCKET,
		  TIDE_STDIO_DEVNULL);
	assert_int_equal(
		t_wait(loop, tide_process_communicate(p, "abc\n", 4, 16, &out)),
		0);
	assert_string_equal(out.out, "abc\n");
	assert_int_equal(out.err_len, 0);
	free(out.out);
	free(out.err);
	tide_process_free(p);
	tide_loop_free(loop);
}

static void test_tide_process_spawn_enoent(void **state)
{
	static const char *const argv[] = { "tide-no-such-program-xyz", NULL };
	static const char *const abs[] = { "/nonexistent/tide/prog", NULL };
	static const char *const sh[] = { "sh", "-c", "exit 0", NULL };
	struct tide_process_options bad_cwd = { .cwd = "/nonexistent/dir" };
	struct tide_process_options o = {
		.stdio = { TIDE_STDIO_PIPE, TIDE_STDIO_PIPE, TIDE_STDIO_PIPE }
	};
	struct tide_loop *loop;
	struct tide_process *p = (struct tide_process *)&o;
	int fds;

	(void)state;
	skip_exec_errors_under_valgrind();
	loop = t_loop();
	fds = t_count_fds();
	assert_int_equal(tide_process_spawn(loop, argv, &o, &p), -ENOENT);
	assert_null(p);
	o.flags = TIDE_PROCESS_NO_PATH;
	assert_int_equal(tide_process_spawn(loop, abs, &o, &p), -ENOENT);
	assert_int_equal(tide_process_spawn(loop, sh, &o, &p), -ENOENT);
	assert_int_equal(tide_process_spawn(loop, sh, &bad_cwd, &p), -ENOENT);
	assert_null(p);
	assert_no_children();
	assert_int_equal(t_count_fds(), fds);
	tide_loop_free(loop);
}

static void test_tide_process_spawn_eacces(void **state)
{
	char path[64];
	const char *argv[] = { path, NULL };
	struct tide_loop *loop;
	struct tide_process *p = NULL;
	int fd;

	(void)state;
	skip_exec_errors_under_valgrind();
	loop = t_loop();
	fd = t_tmpfile(path, sizeof(path), 16);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(path, 0644), 0);
	if (geteuid() == 0) {
		/* root may exec anything with an x bit: take them all away */
		assert_int_equal(chmod(path, 0600), 0);
	}
	assert_int_equal(tide_process_spawn(loop, argv, NULL, &p), -EACCES);
	assert_null(p);
	assert_no_children();
	unlink(path);
	tide_loop_free(loop);
}

static void test_tide_process_spawn_bad_args(void **state)
{
	static const char *const argv[] = { "true", NULL };
	static const char *const empty[] = { NULL };
	static const char *const blank[] = { "", NULL };
	struct tide_loop *loop = t_loop();
	struct tide_process_options o = { 0 };
	struct tide_process *p = NULL;
	struct tide_process_output out;

	(void)state;
	assert_int_equal(tide_process_spawn(NULL, argv, NULL, &p), -EINVAL);
	assert_int_equal(tide_process_spawn(loop, argv, NULL, NULL), -EINVAL);
	assert_int_equal(tide_process_spawn(loop, NULL, NULL, &p), -EINVAL);
	assert_int_equal(tide_process_spawn(loop, empty, NULL, &p), -EINVAL);
	assert_int_equal(tide_process_spawn(loop, blank, NULL, &p), -EINVAL);
	o.flags = 1u << 31;
	assert_int_equal(tide_process_spawn(loop, argv, &o, &p), -EINVAL);
	o.flags = 0;
	o.stdio[2] = 42;
	assert_int_equal(tide_process_spawn(loop, argv, &o, &p), -EINVAL);
	o.stdio[2] = 0;
	o.reserved[3] = 1;
	assert_int_equal(tide_process_spawn(loop, argv, &o, &p), -EINVAL);
	o.reserved[3] = 0;
	o.reserved32 = 1;
	assert_int_equal(tide_process_spawn(loop, argv, &o, &p), -EINVAL);
	o.reserved32 = 0;
	o.cwd = "";
	assert_int_equal(tide_process_spawn(loop, argv, &o, &p), -EINVAL);
	assert_null(p);
	/* NULL processes */
	assert_null(tide_process_wait(NULL));
	assert_null(tide_process_stream(NULL, 1));
	assert_null(tide_process_communicate(NULL, NULL, 0, 0, &out));
	assert_int_equal(tide_process_kill(NULL, SIGTERM), -EINVAL);
	assert_int_equal(tide_process_pid(NULL), -EINVAL);
	assert_int_equal(tide_process_status(NULL), -EINVAL);
	tide_process_free(NULL);
	/* bad communicate arguments, bad signal */
	assert_int_equal(tide_process_spawn(loop, argv, NULL, &p), 0);
	assert_int_equal(t_wait(loop,
				tide_process_communicate(p, NULL, 0, 0, NULL)),
			 -EINVAL);
	assert_int_equal(t_wait(loop,
				tide_process_communicate(p, NULL, 5, 0, &out)),
			 -EINVAL);
	assert_int_equal(tide_process_kill(p, 12345), -EINVAL);
	assert_int_equal(tide_process_kill(p, 0), 0);
	assert_int_equal(t_wait(loop, tide_process_wait(p)), 0);
	tide_process_free(p);
	assert_no_children();
	tide_loop_free(loop);
}

static void test_tide_process_kill_signal(void **state)
{
	static const char *const argv[] = { "sleep", "60", NULL };
	static const char *const self[] = { "sh", "-c", "kill -TERM $$", NULL };
	struct tide_loop *loop = t_loop();
	struct tide_process *p;
	int64_t st;

	(void)state;
	p = spawn(loop, argv, 0, 0, 0);
	assert_int_equal(tide_process_kill(p, SIGKILL), 0);
	st = t_wait(loop, tide_process_wait(p));
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	assert_int_equal(tide_process_kill(p, SIGKILL), -ESRCH);
	tide_process_free(p);

	p = spawn(loop, self, 0, 0, 0);
	st = t_wait(loop, tide_process_wait(p));
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGTERM);
	tide_process_free(p);
	assert_no_children();
	tide_loop_free(loop);
}

/* A wait that times out or is cancelled leaves the child alone. */
static void test_tide_process_wait_timeout(void **state)
{
	static const char *const argv[] = { "sleep", "60", NULL };
	struct tide_loop *loop = t_loop();
	struct tide_future *w;
	struct tide_process *p;
	int64_t st;

	(void)state;
	p = spawn(loop, argv, 0, 0, 0);
	assert_int_equal(t_wait(loop, tide_future_timeout(tide_process_wait(p),
							  20 * MS)),
			 -ETIMEDOUT);
	assert_int_equal(tide_process_kill(p, 0), 0); /* still alive */
	w = tide_process_wait(p);
	assert_int_equal(tide_future_cancel(w), 0);
	assert_int_equal(t_wait(loop, w), -ECANCELED);
	tide_future_release(w);
	assert_int_equal(tide_process_kill(p, 0), 0);
	assert_int_equal(tide_process_status(p), -EAGAIN);
	/* now the caller chooses to terminate it */
	assert_int_equal(tide_process_kill(p, SIGTERM), 0);
	st = t_wait(loop, tide_process_wait(p));
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
	tide_process_free(p);
	assert_no_children();
	tide_loop_free(loop);
}

/* Timed-out communicate: pipes closed, the child left to the caller. */
static void test_tide_process_communicate_timeout(void **state)
{
	static const char *const argv[] = { "sleep", "60", NULL };
	struct tide_loop *loop = t_loop();
	struct tide_process_output out;
	struct tide_process *p;

	(void)state;
	p = spawn(loop, argv, TIDE_STDIO_PIPE, TIDE_STDIO_PIPE,
		  TIDE_STDIO_PIPE);
	assert_int_equal(t_wait(loop,
				tide_future_timeout(tide_process_communicate(
							    p, "x", 1, 0, &out),
						    20 * MS)),
			 -ETIMEDOUT);
	assert_null(out.out);
	assert_null(out.err);
	assert_int_equal(tide_process_status(p), -EAGAIN);
	assert_int_equal(tide_process_kill(p, SIGKILL), 0);
	assert_true(WIFSIGNALED(t_wait(loop, tide_process_wait(p))));
	tide_process_free(p);
	assert_no_children();
	tide_loop_free(loop);
}

static void test_tide_process_communicate_limit(void **state)
{
	static const char *const argv[] = { "head", "-c", "1000000",
					    "/dev/zero", NULL };
	struct tide_loop *loop = t_loop();
	struct tide_process_output out;
	struct tide_process *p;
	int64_t st;

	(void)state;
	p = spawn(loop, argv, TIDE_STDIO_DEVNULL, TIDE_STDIO_PIPE,
		  TIDE_STDIO_PIPE);
	assert_int_equal(
		t_wait(loop, tide_process_communicate(p, NULL, 0, 65536, &out)),
		-E2BIG);
	assert_null(out.out);
	/* the child sees its pipe closed: SIGPIPE (its default) ends it */
	st = t_wait(loop, tide_process_wait(p));
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE);
	tide_process_free(p);

	/* exactly at the limit is fine */
	p = spawn(loop, argv, TIDE_STDIO_DEVNULL, TIDE_STDIO_PIPE,
		  TIDE_STDIO_PIPE);
	assert_int_equal(t_wait(loop, tide_process_communicate(p, NULL, 0,
							       1000000, &out)),
			 0);
	assert_int_equal(out.out_len, 1000000);
	assert_int_equal(out.err_len, 0);
	free(out.out);
	free(out.err);
	assert_int_equal(
		t_wait(loop, tide_process_communicate(p, NULL, 0, 0, &out)), 0);
	free(out.out);
	free(out.err);
	tide_process_free(p);
	assert_no_children();
	tide_loop_free(loop);
}

/* A child that exits without reading its input is not an error. */
static void test_tide_process_communicate_unread_input(void **state)
{
	static const char *const argv[] = { "true", NULL };
	static char input[1 << 20];
	struct tide_loop *loop = t_loop();
	struct tide_process_output out;
	struct tide_process *p;

	(void)state;
	p = spawn(loop, argv, TIDE_STDIO_PIPE, TIDE_STDIO_PIPE, 0);
	assert_int_equal(t_wait(loop, tide_process_communicate(p, input,
							       sizeof(input), 0,
							       &out)),
			 0);
	assert_int_equal(out.out_len, 0);
	free(out.out);
	free(out.err);
	tide_process_free(p);
	tide_loop_free(loop);
}

/* Freed while running: not killed by default, killed with KILL_ON_FREE;
 * either way reaped in the background, and the loop runs until then. */
static void test_tide_process_free_running(void **state)
{
	static const char *const argv[] = { "sleep", "0.05", NULL };
	static const char *const forever[] = { "sleep", "60", NULL };
	struct tide_process_options o = { .flags = TIDE_PROCESS_KILL_ON_FREE,
					  .stdio = { TIDE_STDIO_PIPE,
						     TIDE_STDIO_PIPE, 0 } };
	struct tide_loop *loop = t_loop();
	struct tide_process *p;
	struct tide_future *w;

	(void)state;
	p = spawn(loop, argv, TIDE_STDIO_PIPE, TIDE_STDIO_PIPE, 0);
	w = tide_process_wait(p);
	tide_process_free(p); /* the pending wait still resolves */
	assert_int_equal(t_wait(loop, w), 0);
	tide_future_release(w);

	p = spawn(loop, argv, 0, 0, 0);
	tide_process_free(p);
	assert_int_equal(tide_loop_run(loop), 0); /* until it is reaped */
	assert_no_children();

	assert_int_equal(tide_process_spawn(loop, forever, &o, &p), 0);
	tide_process_free(p);
	assert_int_equal(tide_loop_run(loop), 0);
	assert_no_children();
	tide_loop_free(loop);
}

/* Descriptors not meant for the child do not reach it, even without
 * O_CLOEXEC; KEEP_FDS lets them through.  NEW_PGROUP makes a group. */
static void test_tide_process_spawn_fds_pgroup(void **state)
{
	char script[64];
	const char *const argv[] = { "sh", "-c", script, NULL };
	struct tide_process_options o = { 0 };
	struct tide_loop *loop = t_loop();
	struct tide_process *p;
	int fd = open("/dev/null", O_RDONLY); /* deliberately inheritable */

	(void)state;
	assert_true(fd > 2);
	snprintf(script, sizeof(script), "test -e /proc/self/fd/%d", fd);
	assert_int_equal(tide_process_spawn(loop, argv, &o, &p), 0);
	assert_int_equal(t_wait(loop, tide_process_wait(p)), 1 << 8);
	tide_process_free(p);
	o.flags = TIDE_PROCESS_KEEP_FDS;
	assert_int_equal(tide_process_spawn(loop, argv, &o, &p), 0);
	assert_int_equal(t_wait(loop, tide_process_wait(p)), 0);
	tide_process_free(p);
	close(fd);

	snprintf(script, sizeof(script), "sleep 60");
	o.flags = TIDE_PROCESS_NEW_PGROUP | TIDE_PROCESS_KILL_ON_FREE;
	assert_int_equal(tide_process_spawn(loop, argv, &o, &p), 0);
	/* posix_spawn returns after exec, so this holds at once; valgrind
	 * runs the vfork as a fork, hence the bounded retry */
	for (int i = 0;
	     i < 1000 && getpgid(tide_process_pid(p)) != tide_process_pid(p);
	     i++)
		usleep(1000);
	assert_int_equal(getpgid(tide_process_pid(p)), tide_process_pid(p));
	tide_process_free(p);
	assert_int_equal(tide_loop_run(loop), 0);
	assert_no_children();
	tide_loop_free(loop);
}

/* ---- the big ones, once ---- */

static void test_tide_process_communicate_cat_10mib(void **state)
{
	static const char *const argv[] = { "cat", NULL };
	const size_t n = 10u << 20;
	struct tide_loop *loop = t_loop();
	struct tide_process_output out;
	struct tide_process *p;
	unsigned char *in = malloc(n);

	(void)state;
	assert_non_null(in);
	for (size_t i = 0; i < n; i++)
		in[i] = t_pattern(i);
	p = spawn(loop, argv, TIDE_STDIO_PIPE, TIDE_STDIO_PIPE,
		  TIDE_STDIO_PIPE);
	assert_int_equal(
		t_wait(loop, tide_process_communicate(p, in, n, n + 1, &out)),
		0);
	assert_int_equal(out.out_len, n);
	assert_int_equal(out.err_len, 0);
	assert_memory_equal(out.out, in, n);
	free(out.out);
	free(out.err);
	free(in);
	tide_process_free(p);
	assert_no_children();
	tide_loop_free(loop);
}

struct drain {
	struct tide_stream *s;
	uint64_t got;
	int64_t end;
	bool done;
	char buf[64 * 1024];
};

static void drain_next(struct drain *d);

static void drain_got(void *arg, int64_t res, void *payload)
{
	struct drain *d = arg;

	(void)payload;
	if (res > 0) {
		d->got += (uint64_t)res;
		drain_next(d);
		return;
	}
	d->end = res;
	d->done = true;
}

static void drain_next(struct drain *d)
{
	assert_int_equal(tide_future_on_done(tide_stream_read(d->s, d->buf,
							      sizeof(d->buf)),
					     drain_got, d),
			 0);
}

/* 100 MiB on stdout and 100 MiB on stderr at once: both read
 * concurrently (and discarded), so neither pipe stays full. */
static void test_tide_process_stdout_stderr_100mib(void **state)
{
	static const char *const argv[] = {
		"sh", "-c",
		"head -c 104857600 /dev/zero & head -c 104857600 /dev/zero >&2; "
		"wait",
		NULL
	};
	struct tide_loop *loop = t_loop();
	struct drain *d = calloc(2, sizeof(*d));
	struct tide_process *p;

	(void)state;
	assert_non_null(d);
	p = spawn(loop, argv, TIDE_STDIO_DEVNULL, TIDE_STDIO_PIPE,
		  TIDE_STDIO_PIPE);
	for (int i = 0; i < 2; i++) {
		d[i].s = tide_process_stream(p, i + 1);
		drain_next(&d[i]);
	}
	assert_int_equal(t_wait(loop, tide_process_wait(p)), 0);
	while (!d[0].done || !d[1].done)
		assert_true(tide_loop_run_once(loop, 1) >= 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(d[i].end, 0);
		assert_int_equal(d[i].got, 104857600ull);
		assert_int_equal(t_wait(loop, tide_stream_close(d[i].s)), 0);
	}
	free(d);
	tide_process_free(p);
	assert_no_children();
	tide_loop_free(loop);
}

#define MANY 200

static void test_tide_process_spawn_200(void **state)
{
	static const char *const argv[] = { "sh", "-c", "echo $$", NULL };
	struct tide_process_output *out = calloc(MANY, sizeof(*out));
	struct tide_process **p = calloc(MANY, sizeof(*p));
	struct tide_future **f = calloc(MANY, sizeof(*f));
	struct tide_outcome *res = calloc(MANY, sizeof(*res));
	struct tide_loop *loop = t_loop();
	int fds = t_count_fds();

	(void)state;
	assert_true(out && p && f && res);
	for (int i = 0; i < MANY; i++) {
		p[i] = spawn(loop, argv, TIDE_STDIO_DEVNULL, TIDE_STDIO_PIPE,
			     TIDE_STDIO_PIPE);
		f[i] = tide_process_communicate(p[i], NULL, 0, 64, &out[i]);
	}
	/* while they run: two pipes each, and a pidfd where there are pidfds */
	assert_true(t_count_fds() >= fds + 2 * MANY);
	assert_int_equal(t_wait(loop, tide_all(loop, f, MANY, res)), 0);
	for (int i = 0; i < MANY; i++) {
		char pid[16];

		assert_int_equal(res[i].result, 0);
		snprintf(pid, sizeof(pid), "%d\n", tide_process_pid(p[i]));
		assert_string_equal(out[i].out, pid);
		free(out[i].out);
		free(out[i].err);
		tide_process_free(p[i]);
	}
	assert_int_equal(tide_loop_run(loop), 0);
	assert_no_children();
	assert_int_equal(t_count_fds(), fds);
	free(out);
	free(p);
	free(f);
	free(res);
	tide_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tide_process_spawn_echo),
		cmocka_unit_test(test_tide_process_communicate_env_cwd),
		cmocka_unit_test(test_tide_process_communicate_socket),
		cmocka_unit_test(test_tide_process_spawn_enoent),
		cmocka_unit_test(test_tide_process_spawn_eacces),
		cmocka_unit_test(test_tide_process_spawn_bad_args),
		cmocka_unit_test(test_tide_process_kill_signal),
		cmocka_unit_test(test_tide_process_wait_timeout),
		cmocka_unit_test(test_tide_process_communicate_timeout),
		cmocka_unit_test(test_tide_process_communicate_limit),
		cmocka_unit_test(test_tide_process_communicate_unread_input),
		cmocka_unit_test(test_tide_process_free_running),
		cmocka_unit_test(test_tide_process_spawn_fds_pgroup),
	};
	const struct CMUnitTest big[] = {
		cmocka_unit_test(test_tide_process_communicate_cat_10mib),
		cmocka_unit_test(test_tide_process_stdout_stderr_100mib),
		cmocka_unit_test(test_tide_process_spawn_200),
	};
	int fails;

	/* writes to a child that has gone give -EPIPE, not death */
	signal(SIGPIPE, SIG_IGN);
	fails = T_RUN("process", tests);
	/* the big ones once, with the default ring setup */
	fails += cmocka_run_group_tests_name("process_big", big, NULL, NULL);
	return fails;
}
