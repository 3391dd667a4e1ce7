// SPDX-License-Identifier: MIT
/*
 * test_probe.c - tide_probe_*: the probe on this machine, the name tables,
 * the predicates, and every branch of the explanation with injected facts
 * (how the disabled/EPERM/ENOMEM paths are tested where io_uring works).
 *
 * This binary defines tide__sys_setup() itself: linked statically, it
 * replaces engine/sys.c's wrapper, so tide_loop_new() failures inside
 * tide_probe_run() can be injected.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include "helpers.h"

#include "uring/uring.h"

static int inject_err;

int tide__sys_setup(unsigned entries, struct io_uring *ring,
		    struct io_uring_params *p)
{
	if (inject_err)
		return inject_err;
	return io_uring_queue_init_params(entries, ring, p);
}

/* Probe, or skip the test with the reason when io_uring is unusable. */
static void probe_or_skip(struct tide_probe *p, uint32_t flags)
{
	assert_int_equal(tide_probe_run(p, flags), 0);
	if (!p->usable) {
		assert_int_not_equal(p->env.setup_errno, 0);
		assert_true(strlen(p->reason) > 0);
		fprintf(stderr, "skipped: io_uring unusable here: %s\n",
			p->reason);
		skip();
	}
}

static bool contains(const char *s, const char *word)
{
	if (!strstr(s, word)) {
		print_error("\"%s\" not found in: %s\n", word, s);
		return false;
	}
	return true;
}

/* ---- tide_probe_run --------------------------------------------------- */

static void test_tide_probe_run_bad_args(void **state)
{
	struct tide_probe p;

	(void)state;
	assert_int_equal(tide_probe_run(NULL, 0), -EINVAL);
	assert_int_equal(tide_probe_run(&p, 1u << 7), -EINVAL);
	assert_int_equal(tide_probe_run(&p, 1u << 31), -EINVAL);
}

static void test_tide_probe_run_success(void **state)
{
	/* static: a skip (io_uring blocked) leaves the test before a free */
	static struct tide_probe probe;
	struct tide_probe *p = &probe;
	struct utsname u;
	int fds = t_count_fds();

	(void)state;
	assert_non_null(p);
	memset(p, 0xa5, sizeof(*p)); /* every field must be written */
	probe_or_skip(p, 0);
	assert_int_equal(uname(&u), 0);
	assert_string_equal(p->kernel, u.release);
	assert_int_equal(p->env.setup_errno, 0);
	assert_true(contains(p->reason, "io_uring works"));

	/* opcodes: NOP always, the count matches the bitmap */
	assert_true(tide_probe_has_op(p, IORING_OP_NOP));
	assert_true(p->ops_len > 0 && p->ops_len <= TIDE_PROBE_OPS_MAX);
	unsigned n = 0;
	for (int op = 0; op < TIDE_PROBE_OPS_MAX; op++)
		n += (unsigned)tide_probe_has_op(p, op);
	assert_int_equal(n, p->ops_count);
	assert_false(tide_probe_has_op(p, (int)p->ops_len));

	/* liburing agrees on every opcode it knows */
	struct io_uring_probe *lp = io_uring_get_probe();
	if (lp) {
		for (int op = 0; op < IORING_OP_LAST; op++)
			assert_int_equal(tide_probe_has_op(p, op),
					 io_uring_opcode_supported(lp, op) ? 1 :
									     0);
		io_uring_free_probe(lp);
	}

	/* setup flags: every known one tried; ok ones have errno 0 */
	assert_true(p->setup_tried & IORING_SETUP_SQPOLL);
	assert_true(p->setup_tried & (1u << 17)); /* HYBRID_IOPOLL */
	assert_int_equal(p->setup_ok & ~p->setup_tried, 0);
	for (int b = 0; b < 32; b++) {
		uint32_t f = 1u << b;

		if (!(p->setup_tried & f))
			continue;
		assert_non_null(tide_probe_setup_name(f));
		if (p->setup_ok & f)
			assert_int_equal(p->setup_errno[b], 0);
		else
			assert_true(p->setup_errno[b] > 0);
	}
	/* the loop's choice matches what the flags allow */
	assert_int_equal(p->loop_errno, 0);
	assert_true(p->loop.sq_entries > 0);
	assert_true(p->loop.cq_entries >= p->loop.sq_entries);
	if (p->loop.setup & TIDE_SETUP_DEFER_TASKRUN)
		assert_true(
			tide_probe_has_setup(p, IORING_SETUP_DEFER_TASKRUN));
	assert_int_equal(p->loop.features, p->features);
	assert_true(tide_probe_has_feature(p, IORING_FEAT_SINGLE_MMAP));

	assert_int_equal(t_count_fds(), fds); /* no ring left open */
}

static void test_tide_probe_run_flags(void **state)
{
	struct tide_probe p;

	(void)state;
	probe_or_skip(&p, TIDE_PROBE_NO_SETUP_FLAGS | TIDE_PROBE_NO_LOOP);
	assert_int_equal(p.setup_tried, 0);
	assert_int_equal(p.setup_ok, 0);
	assert_false(tide_probe_has_setup(&p, IORING_SETUP_SQPOLL));
	assert_int_equal(p.loop_errno, ENODATA);
	assert_true(p.ops_count > 0); /* opcodes and features still probed */
	assert_true(p.features != 0);
}

static void test_tide_probe_run_loop_fails(void **state)
{
	struct tide_probe p;

	(void)state;
	inject_err = -EPERM;
	assert_int_equal(tide_probe_run(&p, TIDE_PROBE_NO_SETUP_FLAGS), 0);
	inject_err = 0;
	if (!p.usable) {
		fprintf(stderr, "skipped: io_uring unusable here: %s\n",
			p.reason);
		skip();
	}
	assert_int_equal(p.loop_errno, EPERM);
	assert_int_equal(p.loop.sq_entries, 0);
}

/* ---- tide_probe_env_read ---------------------------------------------- */

static void test_tide_probe_env_read_null(void **state)
{
	(void)state;
	assert_int_equal(tide_probe_env_read(NULL), -EINVAL);
}

static void test_tide_probe_env_read_success(void **state)
{
	struct tide_probe_env env;
	struct rlimit rl;

	(void)state;
	memset(&env, 0x5a, sizeof(env));
	assert_int_equal(tide_probe_env_read(&env), 0);
	assert_true(env.io_uring_disabled >= -1 && env.io_uring_disabled <= 2);
	assert_true(env.seccomp >= -1 && env.seccomp <= 2);
	assert_true(env.in_group >= -1 && env.in_group <= 1);
	assert_true(env.cap_sys_admin >= -1 && env.cap_sys_admin <= 1);
	assert_true(env.setup_errno >= 0);
	assert_int_equal(env.reserved0, 0);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(env.reserved[i], 0);
	assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &rl), 0);
	if (rl.rlim_cur != RLIM_INFINITY)
		assert_int_equal(env.memlock_soft, rl.rlim_cur);
	else
		assert_true(env.memlock_soft == TIDE_PROBE_UNLIMITED);
	assert_true(env.memlock_soft <= env.memlock_hard);
	/* an env read here explains itself without error */
	char buf[512];
	assert_true(tide_probe_explain(&env, buf, sizeof(buf)) > 0);
}

/* ---- tide_probe_explain ----------------------------------------------- */

/* The facts of a normal unprivileged process; tests change one thing. */
static struct tide_probe_env base_env(int err)
{
	struct tide_probe_env e = {
		.setup_errno = err,
		.io_uring_disabled = 0,
		.io_uring_group = -1,
		.in_group = -1,
		.cap_sys_admin = 0,
		.seccomp = 0,
		.memlock_soft = 8u << 20,
		.memlock_hard = 8u << 20,
	};
	return e;
}

static const char *explain(const struct tide_probe_env *e)
{
	static char buf[1024];
	int n = tide_probe_explain(e, buf, sizeof(buf));

	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	return buf;
}

static void test_tide_probe_explain_bad_args(void **state)
{
	struct tide_probe_env e = base_env(0);
	char buf[64];

	(void)state;
	assert_int_equal(tide_probe_explain(NULL, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(tide_probe_explain(&e, NULL, 10), -EINVAL);
	e.reserved[3] = 1;
	assert_int_equal(tide_probe_explain(&e, buf, sizeof(buf)), -EINVAL);
	e.reserved[3] = 0;
	e.reserved0 = 1;
	assert_int_equal(tide_probe_explain(&e, buf, sizeof(buf)), -EINVAL);
}

static void test_tide_probe_explain_truncates(void **state)
{
	struct tide_probe_env e = base_env(EPERM);
	char small[16];
	int full;

	(void)state;
	e.io_uring_disabled = 2;
	full = tide_probe_explain(&e, NULL, 0); /* size query */
	assert_true(full > 100);
	memset(small, 'x', sizeof(small));
	assert_int_equal(tide_probe_explain(&e, small, sizeof(small)), full);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_int_equal(strncmp(small, explain(&e), sizeof(small) - 1), 0);
}

static void test_tide_probe_explain_works(void **state)
{
	struct tide_probe_env e = base_env(0);

	(void)state;
	assert_true(contains(explain(&e), "io_uring works"));
	e.io_uring_disabled = 1;
	e.in_group = 1;
	assert_true(contains(explain(&e), "io_uring_group"));
}

static void test_tide_probe_explain_disabled_2(void **state)
{
	struct tide_probe_env e = base_env(EPERM);

	(void)state;
	e.io_uring_disabled = 2;
	e.seccomp = 2; /* the sysctl is named first: it decides */
	const char *s = explain(&e);
	assert_true(contains(s, "kernel.io_uring_disabled is 2"));
	assert_true(contains(s, "sysctl -w kernel.io_uring_disabled=0"));
}

static void test_tide_probe_explain_disabled_1(void **state)
{
	struct tide_probe_env e = base_env(EPERM);

	(void)state;
	e.io_uring_disabled = 1;
	e.io_uring_group = 1234;
	e.in_group = 0;
	const char *s = explain(&e);
	assert_true(contains(s, "kernel.io_uring_disabled is 1"));
	assert_true(contains(s, "group 1234"));
	assert_true(contains(s, "add this user to group 1234"));

	e.io_uring_group = -1; /* the default: no group at all */
	e.in_group = -1;
	s = explain(&e);
	assert_true(contains(s, "kernel.io_uring_group (unset here)"));
	assert_true(contains(s, "CAP_SYS_ADMIN"));
}

static void test_tide_probe_explain_seccomp(void **state)
{
	struct tide_probe_env e = base_env(EPERM);

	(void)state;
	e.seccomp = 2;
	const char *s = explain(&e);
	assert_true(contains(s, "seccomp filter"));
	assert_true(contains(
		s, "io_uring_setup, io_uring_enter and io_uring_register"));
	e.seccomp = 1;
	assert_true(contains(explain(&e), "strict seccomp"));
	/* disabled=1 but privileged: the sysctl is not the cause */
	e.seccomp = 2;
	e.io_uring_disabled = 1;
	e.cap_sys_admin = 1;
	assert_true(contains(explain(&e), "seccomp filter"));
}

static void test_tide_probe_explain_eperm_other(void **state)
{
	struct tide_probe_env e = base_env(EPERM);

	(void)state;
	assert_true(contains(explain(&e), "SELinux"));
}

static void test_tide_probe_explain_enomem(void **state)
{
	struct tide_probe_env e = base_env(ENOMEM);

	(void)state;
	e.memlock_soft = 64 * 1024;
	e.memlock_hard = TIDE_PROBE_UNLIMITED;
	const char *s = explain(&e);
	assert_true(contains(s, "RLIMIT_MEMLOCK"));
	assert_true(contains(s, "64 KiB (soft)"));
	assert_true(contains(s, "unlimited (hard)"));
	assert_true(contains(s, "ulimit -l"));
	e.memlock_soft = 1000;
	assert_true(contains(explain(&e), "1000 bytes"));
}

static void test_tide_probe_explain_enosys(void **state)
{
	struct tide_probe_env e = base_env(ENOSYS);

	(void)state;
	const char *s = explain(&e);
	assert_true(contains(s, "CONFIG_IO_URING"));
	assert_null(strstr(s, "seccomp"));
	e.seccomp = 2;
	assert_true(contains(explain(&e), "seccomp"));
}

static void test_tide_probe_explain_other_errors(void **state)
{
	struct tide_probe_env e = base_env(EMFILE);

	(void)state;
	assert_true(contains(explain(&e), "EMFILE"));
	e.setup_errno = ENFILE;
	assert_true(contains(explain(&e), "ENFILE"));
	e.setup_errno = EINVAL;
	assert_true(contains(explain(&e), "EINVAL"));
	e.setup_errno = EIO;
	assert_true(contains(explain(&e), "EIO"));
	e.setup_errno = 4095; /* no name */
	assert_true(contains(explain(&e), "unknown errno"));
}

/* ---- predicates ------------------------------------------------------- */

static void test_tide_probe_has_op(void **state)
{
	struct tide_probe p = { 0 };

	(void)state;
	p.ops[0] = 1ull << IORING_OP_READ;
	p.ops[3] = 1ull << 63; /* op 255 */
	assert_int_equal(tide_probe_has_op(&p, IORING_OP_READ), 1);
	assert_int_equal(tide_probe_has_op(&p, 255), 1);
	assert_int_equal(tide_probe_has_op(&p, IORING_OP_WRITE), 0);
	assert_int_equal(tide_probe_has_op(NULL, IORING_OP_READ), 0);
	assert_int_equal(tide_probe_has_op(&p, -1), 0);
	assert_int_equal(tide_probe_has_op(&p, 256), 0);
}

static void test_tide_probe_has_setup(void **state)
{
	struct tide_probe p = { 0 };

	(void)state;
	p.setup_tried = IORING_SETUP_SQPOLL | IORING_SETUP_IOPOLL;
	p.setup_ok = IORING_SETUP_SQPOLL;
	assert_int_equal(tide_probe_has_setup(&p, IORING_SETUP_SQPOLL), 1);
	assert_int_equal(tide_probe_has_setup(&p, IORING_SETUP_IOPOLL), 0);
	assert_int_equal(tide_probe_has_setup(&p, 0), 0);
	assert_int_equal(tide_probe_has_setup(&p, IORING_SETUP_SQPOLL |
							  IORING_SETUP_IOPOLL),
			 0);
	assert_int_equal(tide_probe_has_setup(NULL, IORING_SETUP_SQPOLL), 0);
}

static void test_tide_probe_has_feature(void **state)
{
	struct tide_probe p = { 0 };

	(void)state;
	p.features = IORING_FEAT_NODROP | IORING_FEAT_EXT_ARG;
	assert_int_equal(tide_probe_has_feature(&p, IORING_FEAT_NODROP), 1);
	assert_int_equal(tide_probe_has_feature(
				 &p, IORING_FEAT_NODROP | IORING_FEAT_EXT_ARG),
			 1);
	assert_int_equal(tide_probe_has_feature(&p,
						IORING_FEAT_NODROP |
							IORING_FEAT_FAST_POLL),
			 0);
	assert_int_equal(tide_probe_has_feature(&p, 0), 0);
	assert_int_equal(tide_probe_has_feature(NULL, IORING_FEAT_NODROP), 0);
}

/* ---- names ------------------------------------------------------------ */

static void test_tide_probe_op_name(void **state)
{
	(void)state;
	assert_string_equal(tide_probe_op_name(IORING_OP_NOP), "NOP");
	assert_string_equal(tide_probe_op_name(IORING_OP_SENDMSG_ZC),
			    "SENDMSG_ZC");
	/* numbers newer than liburing 2.3, in the kernel's order */
	assert_string_equal(tide_probe_op_name(49), "READ_MULTISHOT");
	assert_string_equal(tide_probe_op_name(51), "FUTEX_WAIT");
	assert_string_equal(tide_probe_op_name(54), "FIXED_FD_INSTALL");
	assert_string_equal(tide_probe_op_name(58), "RECV_ZC");
	assert_string_equal(tide_probe_op_name(62), "PIPE");
	/* no gaps up to the last known one, no duplicates */
	int last = 0;
	while (tide_probe_op_name(last + 1))
		last++;
	assert_true(last >= 62);
	for (int op = 0; op <= last; op++)
		assert_int_equal(
			tide_probe_op_from_name(tide_probe_op_name(op)), op);
	/* failure: unknown numbers */
	assert_null(tide_probe_op_name(-1));
	assert_null(tide_probe_op_name(last + 1));
	assert_null(tide_probe_op_name(255));
	assert_null(tide_probe_op_name(100000));
}

static void test_tide_probe_op_from_name(void **state)
{
	(void)state;
	assert_int_equal(tide_probe_op_from_name("READV"), IORING_OP_READV);
	assert_int_equal(tide_probe_op_from_name("ioring_op_readv"),
			 IORING_OP_READV);
	assert_int_equal(tide_probe_op_from_name("Pipe"), 62);
	assert_int_equal(tide_probe_op_from_name(NULL), -EINVAL);
	assert_int_equal(tide_probe_op_from_name(""), -ENOENT);
	assert_int_equal(tide_probe_op_from_name("IORING_OP_"), -ENOENT);
	assert_int_equal(tide_probe_op_from_name("NOT_AN_OP"), -ENOENT);
}

static void test_tide_probe_setup_name(void **state)
{
	(void)state;
	assert_string_equal(tide_probe_setup_name(IORING_SETUP_IOPOLL),
			    "IOPOLL");
	assert_string_equal(tide_probe_setup_name(IORING_SETUP_DEFER_TASKRUN),
			    "DEFER_TASKRUN");
	assert_string_equal(tide_probe_setup_name(1u << 14), "NO_MMAP");
	assert_string_equal(tide_probe_setup_name(1u << 15),
			    "REGISTERED_FD_ONLY");
	assert_string_equal(tide_probe_setup_name(1u << 16), "NO_SQARRAY");
	assert_string_equal(tide_probe_setup_name(1u << 17), "HYBRID_IOPOLL");
	assert_null(tide_probe_setup_name(0));
	assert_null(tide_probe_setup_name(3));
	assert_null(tide_probe_setup_name(1u << 31));
}

static void test_tide_probe_feature_name(void **state)
{
	(void)state;
	assert_string_equal(tide_probe_feature_name(IORING_FEAT_SINGLE_MMAP),
			    "SINGLE_MMAP");
	assert_string_equal(tide_probe_feature_name(IORING_FEAT_LINKED_FILE),
			    "LINKED_FILE");
	assert_string_equal(tide_probe_feature_name(1u << 13), "REG_REG_RING");
	assert_string_equal(tide_probe_feature_name(1u << 14),
			    "RECVSEND_BUNDLE");
	assert_string_equal(tide_probe_feature_name(1u << 15), "MIN_TIMEOUT");
	assert_string_equal(tide_probe_feature_name(1u << 16), "RW_ATTR");
	assert_string_equal(tide_probe_feature_name(1u << 17), "NO_IOWAIT");
	assert_null(tide_probe_feature_name(0));
	assert_null(tide_probe_feature_name(IORING_FEAT_NODROP |
					    IORING_FEAT_EXT_ARG));
	assert_null(tide_probe_feature_name(1u << 30));
}

static void test_tide_probe_errno_name(void **state)
{
	(void)state;
	assert_string_equal(tide_probe_errno_name(EPERM), "EPERM");
	assert_string_equal(tide_probe_errno_name(-ENOMEM), "ENOMEM");
	assert_string_equal(tide_probe_errno_name(EOPNOTSUPP), "EOPNOTSUPP");
	assert_null(tide_probe_errno_name(0));
	assert_null(tide_probe_errno_name(4095));
}

static void test_tide_probe_liburing_version(void **state)
{
	const char *v = tide_probe_liburing_version();

	(void)state;
	assert_non_null(v);
	assert_non_null(strchr(v, '.'));
	assert_true(v[0] >= '2' && v[0] <= '9'); /* 2.x or newer */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tide_probe_run_bad_args),
		cmocka_unit_test(test_tide_probe_run_success),
		cmocka_unit_test(test_tide_probe_run_flags),
		cmocka_unit_test(test_tide_probe_run_loop_fails),
		cmocka_unit_test(test_tide_probe_env_read_null),
		cmocka_unit_test(test_tide_probe_env_read_success),
		cmocka_unit_test(test_tide_probe_explain_bad_args),
		cmocka_unit_test(test_tide_probe_explain_truncates),
		cmocka_unit_test(test_tide_probe_explain_works),
		cmocka_unit_test(test_tide_probe_explain_disabled_2),
		cmocka_unit_test(test_tide_probe_explain_disabled_1),
		cmocka_unit_test(test_tide_probe_explain_seccomp),
		cmocka_unit_test(test_tide_probe_explain_eperm_other),
		cmocka_unit_test(test_tide_probe_explain_enomem),
		cmocka_unit_test(test_tide_probe_explain_enosys),
		cmocka_unit_test(test_tide_probe_explain_other_errors),
		cmocka_unit_test(test_tide_probe_has_op),
		cmocka_unit_test(test_tide_probe_has_setup),
		cmocka_unit_test(test_tide_probe_has_feature),
		cmocka_unit_test(test_tide_probe_op_name),
		cmocka_unit_test(test_tide_probe_op_from_name),
		cmocka_unit_test(test_tide_probe_setup_name),
		cmocka_unit_test(test_tide_probe_feature_name),
		cmocka_unit_test(test_tide_probe_errno_name),
		cmocka_unit_test(test_tide_probe_liburing_version),
	};

	return cmocka_run_group_tests_name("probe", tests, NULL, NULL);
}
