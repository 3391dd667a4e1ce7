// SPDX-License-Identifier: MIT
/*
 * tide-probe - what io_uring can do on this machine, and if it cannot be
 * used, why and how to fix it.  A printer over tide_probe_run(3), plus one
 * real submission and completion (a NOP through a tide loop): creating a
 * ring is not enough when a filter denies io_uring_enter(2).
 *
 * Exit status: 0 io_uring works, 1 it does not, 2 bad usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tide.h>

#include "json.h"
#include "out.h"

#define STR2(x) #x
#define STR(x) STR2(x)
#if defined(TIDE_VERSION_STRING)
#define PROBE_VERSION TIDE_VERSION_STRING
#elif defined(TIDE_VERSION_MAJOR) && defined(TIDE_VERSION_MINOR) && \
	defined(TIDE_VERSION_PATCH)
#define PROBE_VERSION           \
	STR(TIDE_VERSION_MAJOR) \
	"." STR(TIDE_VERSION_MINOR) "." STR(TIDE_VERSION_PATCH)
#else
#define PROBE_VERSION "unknown"
#endif

static const char usage[] =
	"Usage: tide-probe [--json]\n"
	"Report what io_uring can do on this machine: kernel release, whether\n"
	"io_uring is usable (and if not, why and how to fix it), the setup\n"
	"flags that work, the supported opcodes and features, the liburing\n"
	"version tide was built with and the loop configuration tide chooses.\n"
	"\n"
	"  -j, --json     print one JSON object instead of tables\n"
	"  -h, --help     print this help and exit\n"
	"  -V, --version  print the version and exit\n"
	"\n"
	"Exit status: 0 io_uring works, 1 it does not, 2 bad usage.\n"
	"See tide-probe(1).\n";

/* TIDE_SETUP_* (what tide_loop_new() chose) by name. */
static const struct {
	uint32_t flag;
	const char *name;
} loop_setup[] = {
	{ TIDE_SETUP_DEFER_TASKRUN, "DEFER_TASKRUN" },
	{ TIDE_SETUP_COOP_TASKRUN, "COOP_TASKRUN" },
	{ TIDE_SETUP_SQPOLL, "SQPOLL" },
	{ TIDE_SETUP_SUBMIT_ALL, "SUBMIT_ALL" },
};

static const char *errname(int err)
{
	const char *n = tide_probe_errno_name(err);

	return n ? n : "unknown error";
}

/* When rings can be created but a submission fails: which errno, and the
 * sentence that replaces the probe's reason. */
static int submit_errno;
static char submit_reason[1024];

/* A NOP submitted and completed through a tide loop: 0, or -errno. */
static int probe_submit(void)
{
	/* io_uring itself: never the epoll fallback */
	struct tide_loop_options o = { .flags = TIDE_LOOP_REQUIRE_URING };
	struct tide_loop *loop;
	struct tide_future *f;
	int64_t res;
	int ret = tide_loop_new(&loop, &o);

	if (ret < 0)
		return ret;
	f = tide_nop(loop);
	if (!f) {
		tide_loop_free(loop);
		return -ENOMEM;
	}
	ret = tide_loop_run_until(loop, f);
	res = tide_future_result(f);
	tide_future_release(f);
	tide_loop_free(loop);
	if (ret < 0)
		return ret;
	return res < 0 ? (int)res : 0;
}

/* Run probe_submit() when the probe found io_uring usable; a failure
 * makes it unusable, with the submission's errno and tide_strerror(). */
static void check_submit(struct tide_probe *p)
{
	int err;

	if (!p->usable)
		return;
	err = probe_submit();
	if (!err)
		return;
	p->usable = 0;
	submit_errno = -err;
	snprintf(submit_reason, sizeof(submit_reason),
		 "a ring can be created, but submitting to it fails "
		 "(io_uring_enter: %s): %s",
		 errname(submit_errno), tide_strerror(err));
}

static const char *reason(const struct tide_probe *p)
{
	return submit_errno ? submit_reason : p->reason;
}

static int error_errno(const struct tide_probe *p)
{
	return submit_errno ? submit_errno : p->env.setup_errno;
}

static void op_label(int op, char *buf, size_t len)
{
	const char *n = tide_probe_op_name(op);

	if (n)
		snprintf(buf, len, "%s", n);
	else
		snprintf(buf, len, "OP_%d", op);
}

/* Opcodes to report: what the kernel knows and what tide has names for. */
static int ops_span(const struct tide_probe *p)
{
	int n = (int)p->ops_len;

	while (tide_probe_op_name(n))
		n++;
	return n;
}

static const char *memlock_str(uint64_t v, char *buf, size_t len)
{
	if (v == TIDE_PROBE_UNLIMITED)
		return "unlimited";
	snprintf(buf, len, "%llu", (unsigned long long)v);
	return buf;
}

static const char *seccomp_str(int mode)
{
	switch (mode) {
	case 0:
		return "disabled";
	case 1:
		return "strict";
	case 2:
		return "filter";
	default:
		return "unknown";
	}
}

/* ---- tables ----------------------------------------------------------- */

/* Print names in columns, wrapping at ~78 characters. */
static void print_words(const char *const *w, int n)
{
	int col = 0;

	for (int i = 0; i < n; i++) {
		int len = (int)strlen(w[i]);

		if (col && col + 1 + len > 78) {
			putchar('\n');
			col = 0;
		}
		if (!col) {
			fputs("  ", stdout);
			col = 2;
		} else {
			putchar(' ');
			col++;
		}
		fputs(w[i], stdout);
		col += len;
	}
	if (col)
		putchar('\n');
}

/* Print text wrapped at word boundaries to lines of at most ~78 columns. */
static void print_wrapped(const char *text)
{
	const char *s = text;

	while (*s) {
		size_t n = strlen(s);

		if (n > 78) {
			size_t cut = 78;

			while (cut > 0 && s[cut] != ' ')
				cut--;
			n = cut ? cut : 78;
		}
		printf("%.*s\n", (int)n, s);
		s += n;
		while (*s == ' ')
			s++;
	}
}

static void print_ops(const struct tide_probe *p, int want)
{
	static char labels[TIDE_PROBE_OPS_MAX][24];
	const char *w[TIDE_PROBE_OPS_MAX];
	int n = 0, span = ops_span(p);

	for (int op = 0; op < span; op++) {
		if (tide_probe_has_op(p, op) != want)
			continue;
		op_label(op, labels[op], sizeof(labels[op]));
		w[n++] = labels[op];
	}
	if (n)
		print_words(w, n);
	else
		puts("  (none)");
}

static void print_env(const struct tide_probe *p)
{
	const struct tide_probe_env *e = &p->env;
	char a[32], b[32];

	printf("%-22s %s\n", "kernel", p->kernel[0] ? p->kernel : "unknown");
	printf("%-22s %s\n", "io_uring usable", p->usable ? "yes" : "NO");
	if (submit_errno)
		printf("%-22s %s (%s)\n", "io_uring_enter errno",
		       errname(submit_errno), strerror(submit_errno));
	else if (!p->usable)
		printf("%-22s %s (%s)\n", "io_uring_setup errno",
		       errname(e->setup_errno), strerror(e->setup_errno));
	if (e->io_uring_disabled < 0)
		printf("%-22s %s\n", "io_uring_disabled", "n/a (no sysctl)");
	else
		printf("%-22s %d\n", "io_uring_disabled", e->io_uring_disabled);
	if (e->io_uring_group >= 0)
		printf("%-22s %lld%s\n", "io_uring_group",
		       (long long)e->io_uring_group,
		       e->in_group == 1 ? " (member)" : "");
	else if (e->io_uring_disabled >= 0)
		printf("%-22s %s\n", "io_uring_group", "-1 (none)");
	printf("%-22s %s (%d)\n", "seccomp", seccomp_str(e->seccomp),
	       e->seccomp);
	printf("%-22s soft %s, hard %s\n", "memlock (bytes)",
	       memlock_str(e->memlock_soft, a, sizeof(a)),
	       memlock_str(e->memlock_hard, b, sizeof(b)));
	printf("%-22s %s\n", "liburing", tide_probe_liburing_version());
	putchar('\n');
	print_wrapped(reason(p));
}

static void print_setup(const struct tide_probe *p)
{
	puts("\nsetup flags (each tried alone on a 2-entry ring)");
	for (int b = 0; b < 32; b++) {
		uint32_t f = 1u << b;

		if (!(p->setup_tried & f))
			continue;
		if (p->setup_ok & f)
			printf("  %-20s works\n", tide_probe_setup_name(f));
		else
			printf("  %-20s %s\n", tide_probe_setup_name(f),
			       errname(p->setup_errno[b]));
	}
}

static void print_features(const struct tide_probe *p)
{
	static char unknown[32][16];
	const char *w[32];
	int n = 0;

	for (int b = 0; b < 32; b++) {
		uint32_t f = 1u << b;

		if (!tide_probe_has_feature(p, f))
			continue;
		if (tide_probe_feature_name(f)) {
			w[n++] = tide_probe_feature_name(f);
		} else {
			snprintf(unknown[b], sizeof(unknown[b]), "FEAT_%d", b);
			w[n++] = unknown[b];
		}
	}
	printf("\nfeatures (%d)\n", n);
	if (n)
		print_words(w, n);
	else
		puts("  (none)");
}

static void print_loop(const struct tide_probe *p)
{
	puts("\nloop configuration tide chooses (tide_loop_new defaults)");
	if (p->loop_errno) {
		printf("  none: %s\n", tide_strerror(-p->loop_errno));
		return;
	}
	fputs("  setup      ", stdout);
	int any = 0;
	for (size_t i = 0; i < sizeof(loop_setup) / sizeof(loop_setup[0]);
	     i++) {
		if (!(p->loop.setup & loop_setup[i].flag))
			continue;
		printf("%s%s", any ? " " : "", loop_setup[i].name);
		any = 1;
	}
	puts(any ? "" : "plain");
	printf("  sq_entries %u\n  cq_entries %u\n  wake       %s\n",
	       p->loop.sq_entries, p->loop.cq_entries,
	       p->loop.wake ? "MSG_RING" : "eventfd");
}

/* ---- the backend tide_loop_new() picks, and the per-op fallback ---- */

/* Operations tide carries out the fallback's way (the system call, or the
 * blocking pool) on an io_uring loop whose kernel lacks the opcode. */
static const char *const fallback_ops[] = {
	"OPENAT",  "OPENAT2",  "CLOSE",	   "STATX",  "FALLOCATE", "UNLINKAT",
	"MKDIRAT", "RENAMEAT", "SHUTDOWN", "SOCKET", "SEND_ZC",
};

static const char *backend_why(uint32_t why)
{
	switch (why) {
	case TIDE_BACKEND_WHY_DEFAULT:
		return "io_uring works here";
	case TIDE_BACKEND_WHY_OPTION:
		return "asked for by the program";
	case TIDE_BACKEND_WHY_ENV:
		return "TIDE_BACKEND in the environment";
	case TIDE_BACKEND_WHY_NO_URING:
		return "io_uring cannot be used here";
	case TIDE_BACKEND_WHY_OLD_KERNEL:
		return "this kernel's io_uring lacks operations tide needs";
	}
	return "unknown";
}

/* What a default tide_loop_new() gives here: 0 with *cfg, or -errno. */
static int default_backend(struct tide_loop_config *cfg)
{
	struct tide_loop *loop;
	int ret = tide_loop_new(&loop, NULL);

	if (ret == 0) {
		tide_loop_config(loop, cfg);
		tide_loop_free(loop);
	}
	return ret;
}

static void print_backend(const struct tide_probe *p)
{
	struct tide_loop_config cfg;
	int ret = default_backend(&cfg), n = 0;

	puts("\nbackend tide_loop_new() uses here");
	if (ret) {
		printf("  none: %s\n", tide_strerror(ret));
		return;
	}
	printf("  backend    %s (%s)\n",
	       cfg.backend == TIDE_BACKEND_EPOLL ? "epoll" : "io_uring",
	       backend_why(cfg.backend_why));
	if (cfg.uring_error)
		printf("  io_uring   %s\n", tide_strerror(cfg.uring_error));
	if (!p->usable || cfg.backend != TIDE_BACKEND_URING)
		return;
	fputs("  per-op fallback (the kernel lacks the opcode):", stdout);
	for (size_t i = 0; i < sizeof(fallback_ops) / sizeof(fallback_ops[0]);
	     i++) {
		int op = tide_probe_op_from_name(fallback_ops[i]);

		if (op < 0 || !tide_probe_has_op(p, op)) {
			printf(" %s", fallback_ops[i]);
			n++;
		}
	}
	puts(n ? "" : " none");
}

static void json_backend(struct json_writer *w, const struct tide_probe *p)
{
	struct tide_loop_config cfg;
	int ret = default_backend(&cfg);

	json_key(w, "backend");
	if (ret) {
		json_null(w);
		return;
	}
	json_object_begin(w);
	json_key(w, "name");
	json_string(w,
		    cfg.backend == TIDE_BACKEND_EPOLL ? "epoll" : "io_uring");
	json_key(w, "why");
	json_string(w, backend_why(cfg.backend_why));
	json_key(w, "uring_errno");
	json_uint(w, (uint64_t)-cfg.uring_error);
	json_key(w, "fallback_ops");
	json_array_begin(w);
	for (size_t i = 0; p->usable && cfg.backend == TIDE_BACKEND_URING &&
			   i < sizeof(fallback_ops) / sizeof(fallback_ops[0]);
	     i++) {
		int op = tide_probe_op_from_name(fallback_ops[i]);

		if (op < 0 || !tide_probe_has_op(p, op))
			json_string(w, fallback_ops[i]);
	}
	json_array_end(w);
	json_object_end(w);
}

static void print_table(const struct tide_probe *p)
{
	print_env(p);
	print_backend(p);
	if (!p->usable)
		return;
	print_setup(p);
	printf("\nopcodes supported (%u of %u the kernel knows)\n",
	       p->ops_count, p->ops_len);
	print_ops(p, 1);
	puts("\nopcodes not supported");
	print_ops(p, 0);
	print_features(p);
	print_loop(p);
}

/* ---- JSON ------------------------------------------------------------- */

static void json_ops(struct json_writer *w, const struct tide_probe *p,
		     int want)
{
	int span = p->usable ? ops_span(p) : 0;
	char label[24];

	json_array_begin(w);
	for (int op = 0; op < span; op++) {
		if (tide_probe_has_op(p, op) != want)
			continue;
		op_label(op, label, sizeof(label));
		json_string(w, label);
	}
	json_array_end(w);
}

static void json_env(struct json_writer *w, const struct tide_probe *p)
{
	const struct tide_probe_env *e = &p->env;

	json_key(w, "kernel");
	json_string(w, p->kernel);
	json_key(w, "usable");
	json_bool(w, p->usable);
	json_key(w, "error");
	if (p->usable) {
		json_null(w);
	} else {
		json_object_begin(w);
		json_key(w, "errno");
		json_int(w, error_errno(p));
		json_key(w, "name");
		json_string(w, tide_probe_errno_name(error_errno(p)));
		json_key(w, "syscall");
		json_string(w,
			    submit_errno ? "io_uring_enter" : "io_uring_setup");
		json_key(w, "reason");
		json_string(w, reason(p));
		json_object_end(w);
	}
	json_key(w, "reason");
	json_string(w, reason(p));
	json_key(w, "io_uring_disabled");
	if (e->io_uring_disabled < 0)
		json_null(w);
	else
		json_int(w, e->io_uring_disabled);
	json_key(w, "io_uring_group");
	if (e->io_uring_group < 0)
		json_null(w);
	else
		json_int(w, e->io_uring_group);
	json_key(w, "seccomp");
	if (e->seccomp < 0)
		json_null(w);
	else
		json_int(w, e->seccomp);
	json_key(w, "memlock");
	json_object_begin(w);
	json_key(w, "soft");
	if (e->memlock_soft == TIDE_PROBE_UNLIMITED)
		json_string(w, "unlimited");
	else
		json_uint(w, e->memlock_soft);
	json_key(w, "hard");
	if (e->memlock_hard == TIDE_PROBE_UNLIMITED)
		json_string(w, "unlimited");
	else
		json_uint(w, e->memlock_hard);
	json_object_end(w);
}

static void json_loop(struct json_writer *w, const struct tide_probe *p)
{
	json_key(w, "loop");
	if (p->loop_errno) {
		json_null(w);
		return;
	}
	json_object_begin(w);
	json_key(w, "setup");
	json_array_begin(w);
	for (size_t i = 0; i < sizeof(loop_setup) / sizeof(loop_setup[0]); i++)
		if (p->loop.setup & loop_setup[i].flag)
			json_string(w, loop_setup[i].name);
	json_array_end(w);
	json_key(w, "sq_entries");
	json_uint(w, p->loop.sq_entries);
	json_key(w, "cq_entries");
	json_uint(w, p->loop.cq_entries);
	json_key(w, "wake");
	json_string(w, p->loop.wake ? "msg_ring" : "eventfd");
	json_object_end(w);
}

static int print_json(const struct tide_probe *p)
{
	struct json_writer w;

	json_init(&w, stdout, 1);
	json_object_begin(&w);
	json_env(&w, p);

	json_key(&w, "setup_flags");
	json_object_begin(&w);
	for (int b = 0; b < 32; b++) {
		uint32_t f = 1u << b;

		if (!(p->setup_tried & f))
			continue;
		json_key(&w, tide_probe_setup_name(f));
		json_bool(&w, tide_probe_has_setup(p, f));
	}
	json_object_end(&w);

	json_key(&w, "setup_errors");
	json_object_begin(&w);
	for (int b = 0; b < 32; b++) {
		uint32_t f = 1u << b;

		if (!(p->setup_tried & f) || (p->setup_ok & f))
			continue;
		json_key(&w, tide_probe_setup_name(f));
		json_string(&w, errname(p->setup_errno[b]));
	}
	json_object_end(&w);

	json_key(&w, "opcodes");
	json_ops(&w, p, 1);
	json_key(&w, "opcodes_unsupported");
	json_ops(&w, p, 0);

	json_key(&w, "features");
	json_array_begin(&w);
	for (int b = 0; b < 32; b++) {
		uint32_t f = 1u << b;
		char label[16];

		if (!tide_probe_has_feature(p, f))
			continue;
		snprintf(label, sizeof(label), "FEAT_%d", b);
		json_string(&w, tide_probe_feature_name(f) ?
					tide_probe_feature_name(f) :
					label);
	}
	json_array_end(&w);

	json_key(&w, "liburing_version");
	json_string(&w, tide_probe_liburing_version());
	json_loop(&w, p);
	json_backend(&w, p);
	json_object_end(&w);
	return json_finish(&w);
}

int main(int argc, char **argv)
{
	struct tide_probe p;
	int json = 0, ret;

	out_check_at_exit("tide-probe");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-j") || !strcmp(a, "--json")) {
			json = 1;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage, stdout);
			return 0;
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			printf("tide-probe %s (liburing %s)\n", PROBE_VERSION,
			       tide_probe_liburing_version());
			return 0;
		} else {
			fprintf(stderr,
				"tide-probe: %s '%s'; try 'tide-probe "
				"--help'\n",
				a[0] == '-' ? "unknown option" :
					      "unexpected argument",
				a);
			return 2;
		}
	}

	ret = tide_probe_run(&p, 0);
	if (ret < 0) {
		fprintf(stderr, "tide-probe: %s\n", tide_strerror(ret));
		return 1;
	}
	check_submit(&p);
	ret = json ? print_json(&p) : (print_table(&p), 0);
	if (out_finish(ret))
		return 1;
	if (!p.usable)
		fprintf(stderr, "tide-probe: io_uring is not usable: %s\n",
			reason(&p));
	return p.usable ? 0 : 1;
}
