// SPDX-License-Identifier: MIT
/* helpers.c - shared test helpers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdbool.h>

#include "helpers.h"

struct tide_loop_options t_opts;
const char *t_config_name = "default";

struct tide_loop *t_loop(void)
{
	struct tide_loop *loop = NULL;
	int ret = tide_loop_new(&loop, &t_opts);

	if (ret == -ENOSYS || ret == -EPERM) {
		/* only an io_uring configuration can fail so */
		fprintf(stderr, "skipped: io_uring unusable here: %s\n",
			tide_strerror(ret));
		skip();
	}
	assert_int_equal(ret, 0);
	assert_non_null(loop);
	return loop;
}

bool t_fault_cancels(void)
{
	const char *e = getenv("TIDE_FAULT"), *c;

	if (!e || !*e)
		return false;
	/* the last cancel=P named wins, as in the library's parser */
	for (c = strstr(e, "cancel="); c && strstr(c + 1, "cancel=");
	     c = strstr(c + 1, "cancel="))
		;
	return c && strtoul(c + 7, NULL, 10) > 0;
}

struct tide_loop *t_loop_exact(void)
{
	const char *e = getenv("TIDE_FAULT");
	struct tide_loop *loop;
	char *saved, spec[160];

	if (!t_fault_cancels())
		return t_loop();
	saved = strdup(e);
	assert_non_null(saved);
	assert_true(strlen(e) + 10 < sizeof(spec));
	snprintf(spec, sizeof(spec), "%s,cancel=0", e);
	setenv("TIDE_FAULT", spec, 1);
	loop = t_loop();
	setenv("TIDE_FAULT", saved, 1);
	free(saved);
	return loop;
}

int64_t t_connect(struct tide_loop *loop, const struct tide_addr *a, int type,
		  uint64_t timeout_ns)
{
	int64_t fd;

	T_OP(fd, loop, tide_connect_timeout(loop, a, type, timeout_ns));
	return fd;
}

bool t_redo(int64_t res)
{
	return res == -ECANCELED && t_fault_cancels();
}

int64_t t_result(struct tide_loop *loop, struct tide_future *f)
{
	int64_t r = t_wait(loop, f);

	tide_future_release(f);
	return r;
}

enum t_way { T_WAY_SEND, T_WAY_RECV, T_WAY_READ };

static struct tide_future *step(struct tide_loop *loop, enum t_way way, int fd,
				char *p, size_t n)
{
	switch (way) {
	case T_WAY_SEND:
		return tide_send(loop, fd, p, n, 0);
	case T_WAY_RECV:
		return tide_recv(loop, fd, p, n, 0);
	case T_WAY_READ:
		break;
	}
	return tide_read(loop, fd, p, n, TIDE_OFF_CUR);
}

/* want bytes through fd, buf having cap bytes of room; see helpers.h. */
static int64_t all(struct tide_loop *loop, enum t_way way, int fd, char *buf,
		   size_t cap, size_t want)
{
	size_t got = 0;
	int64_t r;

	while (got < want) {
		T_AWAIT(r, step(loop, way, fd, buf + got, cap - got));
		if (r < 0)
			return r;
		if (r == 0)
			break; /* end of stream */
		got += (size_t)r;
	}
	return (int64_t)got;
}

int64_t t_send_all(struct tide_loop *loop, int fd, const void *buf, size_t len)
{
	return all(loop, T_WAY_SEND, fd, (char *)(uintptr_t)buf, len, len);
}

int64_t t_recv_all(struct tide_loop *loop, int fd, void *buf, size_t cap,
		   size_t want)
{
	return all(loop, T_WAY_RECV, fd, buf, cap, want);
}

int64_t t_read_all(struct tide_loop *loop, int fd, void *buf, size_t cap,
		   size_t want)
{
	return all(loop, T_WAY_READ, fd, buf, cap, want);
}

void t_skip_valgrind(void **state)
{
	(void)state;
	fprintf(stderr,
		"skipped under valgrind: it reserves descriptors of "
		"its own, so descriptor-limit tests cannot hold there\n");
	skip();
}

int64_t t_wait(struct tide_loop *loop, struct tide_future *f)
{
	assert_non_null(f);
	assert_int_equal(tide_loop_run_until(loop, f), 0);
	return tide_future_result(f);
}

static int config_works(const struct tide_loop_options *o)
{
	struct tide_loop *loop;

	if (tide_loop_new(&loop, o))
		return 0;
	tide_loop_free(loop);
	return 1;
}

int t_run_configs(const char *name, const struct CMUnitTest *tests, size_t n)
{
	static const struct {
		const char *name;
		uint32_t flags;
	} cfgs[] = {
		{ "default", TIDE_LOOP_REQUIRE_URING },
		{ "coop",
		  TIDE_LOOP_REQUIRE_URING | TIDE_LOOP_NO_DEFER_TASKRUN },
		{ "plain", TIDE_LOOP_REQUIRE_URING | TIDE_LOOP_NO_FAST_FLAGS },
		{ "sqpoll", TIDE_LOOP_REQUIRE_URING | TIDE_LOOP_SQPOLL },
		{ "epoll", TIDE_LOOP_EPOLL },
	};
	const char *only = getenv("TIDE_TEST_CONFIG");
	const char *fault = getenv("TIDE_FAULT");
	char full[128];
	int fails = 0, ran = 0;
	bool uring_ran = false;

	/* a TIDE_FAULT the library refuses would skip every configuration
	 * and pass: fail instead */
	if (fault && *fault) {
		struct tide_loop_options o = { .flags = TIDE_LOOP_EPOLL };
		struct tide_loop *l;
		int r = tide_loop_new(&l, &o);

		if (r == -EINVAL) {
			printf("[  FAILED  ] TIDE_FAULT=%s is refused\n",
			       fault);
			return 1;
		}
		if (r == 0)
			tide_loop_free(l);
	}

	for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
		memset(&t_opts, 0, sizeof(t_opts));
		t_opts.flags = cfgs[i].flags;
		if (only && strcmp(only, cfgs[i].name))
			continue;
		if (!config_works(&t_opts)) {
			printf("[  SKIP    ] config %s: not supported here\n",
			       cfgs[i].name);
			continue;
		}
		bool epoll = cfgs[i].flags & TIDE_LOOP_EPOLL;
		int f;

		/* valgrind is slow: one io_uring configuration is enough there,
		 * and the epoll backend */
		if (!epoll && uring_ran && getenv("TIDE_VALGRIND"))
			continue;
		t_config_name = cfgs[i].name;
		snprintf(full, sizeof(full), "%s/%s", name, cfgs[i].name);
		f = _cmocka_run_group_tests(full, tests, n, NULL, NULL);
		fails += f;
		/* the summary of make check counts these per backend */
		printf("[ BACKEND  ] %s %s %s\n", epoll ? "epoll" : "io_uring",
		       full, f ? "FAIL" : "PASS");
		ran++;
		uring_ran |= !epoll;
	}
	memset(&t_opts, 0, sizeof(t_opts));
	if (!ran) {
		/* io_uring unusable: run once so each test reports its skip */
		fails += _cmocka_run_group_tests(name, tests, n, NULL, NULL);
	}
	return fails;
}

bool t_loop_epoll(struct tide_loop *loop)
{
	struct tide_loop_config cfg;

	tide_loop_config(loop, &cfg);
	return cfg.backend == TIDE_BACKEND_EPOLL;
}

int t_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

unsigned char t_pattern(uint64_t off)
{
	return (unsigned char)((off * 2654435761u) >> 13);
}

int t_tmpfile(char *path, size_t pathlen, size_t size)
{
	unsigned char buf[4096];
	int fd;

	snprintf(path, pathlen, "/tmp/tide-test-XXXXXX");
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (size_t off = 0; off < size;) {
		size_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);

		for (size_t i = 0; i < n; i++)
			buf[i] = t_pattern(off + i);
		if (write(fd, buf, n) != (ssize_t)n) {
			close(fd);
			unlink(path);
			return -EIO;
		}
		off += n;
	}
	return fd;
}

void t_seen_cb(void *arg, int64_t res, void *payload)
{
	struct t_seen *e = arg;

	(void)payload;
	e->res = res;
	e->n++;
}

void t_tcp_pair(struct tide_loop *loop, int *x, int *y)
{
	struct tide_addr a;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(lfd >= 0);
	assert_int_equal(tide_addr_parse(&a, "127.0.0.1:0"), 0);
	assert_int_equal(tide_bind(lfd, &a), 0);
	assert_int_equal(tide_listen(lfd, 4), 0);
	a.len = sizeof(a.u);
	assert_int_equal(getsockname(lfd, &a.u.sa, &a.len), 0);
	*x = (int)t_connect(loop, &a, SOCK_STREAM, 2000000000ull);
	assert_true(*x >= 0);
	*y = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(*y >= 0);
	close(lfd);
}
