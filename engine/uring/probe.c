// SPDX-License-Identifier: MIT
/*
 * probe.c - tide_probe_*: what io_uring can do here and, when it cannot be
 * used, why.  Rings are created with the raw system calls (no mmap is
 * needed to learn features, opcodes or whether a setup flag is accepted),
 * so a probe costs a few syscalls per ring.
 *
 * Names of opcodes, setup flags and features newer than the liburing we
 * build against (Debian's 2.3 stops at SENDMSG_ZC and DEFER_TASKRUN) are
 * known here by number, each with the kernel that added it.
 */
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <liburing.h>

#include "compat.h"
#include "tide.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- names ------------------------------------------------------------ */

/* Opcodes after liburing 2.3's last one (IORING_OP_SENDMSG_ZC = 48): the
 * enum's constant when the liburing we build against has it, else the
 * kernel's number (compat.h). */
_Static_assert(IORING_OP_SENDMSG_ZC == 48, "liburing's opcode enum moved");
enum {
	OP_READ_MULTISHOT =
		TIDE__ENUM_OR(IORING_OP_READ_MULTISHOT, 49),	   /* 6.7 */
	OP_WAITID = TIDE__ENUM_OR(IORING_OP_WAITID, 50),	   /* 6.7 */
	OP_FUTEX_WAIT = TIDE__ENUM_OR(IORING_OP_FUTEX_WAIT, 51),   /* 6.7 */
	OP_FUTEX_WAKE = TIDE__ENUM_OR(IORING_OP_FUTEX_WAKE, 52),   /* 6.7 */
	OP_FUTEX_WAITV = TIDE__ENUM_OR(IORING_OP_FUTEX_WAITV, 53), /* 6.7 */
	OP_FIXED_FD_INSTALL =
		TIDE__ENUM_OR(IORING_OP_FIXED_FD_INSTALL, 54),	     /* 6.8 */
	OP_FTRUNCATE = TIDE__ENUM_OR(IORING_OP_FTRUNCATE, 55),	     /* 6.9 */
	OP_BIND = TIDE__ENUM_OR(IORING_OP_BIND, 56),		     /* 6.11 */
	OP_LISTEN = TIDE__ENUM_OR(IORING_OP_LISTEN, 57),	     /* 6.11 */
	OP_RECV_ZC = TIDE__ENUM_OR(IORING_OP_RECV_ZC, 58),	     /* 6.15 */
	OP_EPOLL_WAIT = TIDE__ENUM_OR(IORING_OP_EPOLL_WAIT, 59),     /* 6.15 */
	OP_READV_FIXED = TIDE__ENUM_OR(IORING_OP_READV_FIXED, 60),   /* 6.15 */
	OP_WRITEV_FIXED = TIDE__ENUM_OR(IORING_OP_WRITEV_FIXED, 61), /* 6.15 */
	OP_PIPE = TIDE__ENUM_OR(IORING_OP_PIPE, 62),		     /* 6.16 */
	OP_NOP128 = TIDE__ENUM_OR(IORING_OP_NOP128, 63),	     /* 6.19 */
	OP_URING_CMD128 = TIDE__ENUM_OR(IORING_OP_URING_CMD128, 64), /* 6.19 */
};

/* Indexed by opcode; the order is the kernel's enum io_uring_op. */
static const char *const op_names[] = {
	[IORING_OP_NOP] = "NOP",
	[IORING_OP_READV] = "READV",
	[IORING_OP_WRITEV] = "WRITEV",
	[IORING_OP_FSYNC] = "FSYNC",
	[IORING_OP_READ_FIXED] = "READ_FIXED",
	[IORING_OP_WRITE_FIXED] = "WRITE_FIXED",
	[IORING_OP_POLL_ADD] = "POLL_ADD",
	[IORING_OP_POLL_REMOVE] = "POLL_REMOVE",
	[IORING_OP_SYNC_FILE_RANGE] = "SYNC_FILE_RANGE",
	[IORING_OP_SENDMSG] = "SENDMSG",
	[IORING_OP_RECVMSG] = "RECVMSG",
	[IORING_OP_TIMEOUT] = "TIMEOUT",
	[IORING_OP_TIMEOUT_REMOVE] = "TIMEOUT_REMOVE",
	[IORING_OP_ACCEPT] = "ACCEPT",
	[IORING_OP_ASYNC_CANCEL] = "ASYNC_CANCEL",
	[IORING_OP_LINK_TIMEOUT] = "LINK_TIMEOUT",
	[IORING_OP_CONNECT] = "CONNECT",
	[IORING_OP_FALLOCATE] = "FALLOCATE",
	[IORING_OP_OPENAT] = "OPENAT",
	[IORING_OP_CLOSE] = "CLOSE",
	[IORING_OP_FILES_UPDATE] = "FILES_UPDATE",
	[IORING_OP_STATX] = "STATX",
	[IORING_OP_READ] = "READ",
	[IORING_OP_WRITE] = "WRITE",
	[IORING_OP_FADVISE] = "FADVISE",
	[IORING_OP_MADVISE] = "MADVISE",
	[IORING_OP_SEND] = "SEND",
	[IORING_OP_RECV] = "RECV",
	[IORING_OP_OPENAT2] = "OPENAT2",
	[IORING_OP_EPOLL_CTL] = "EPOLL_CTL",
	[IORING_OP_SPLICE] = "SPLICE",
	[IORING_OP_PROVIDE_BUFFERS] = "PROVIDE_BUFFERS",
	[IORING_OP_REMOVE_BUFFERS] = "REMOVE_BUFFERS",
	[IORING_OP_TEE] = "TEE",
	[IORING_OP_SHUTDOWN] = "SHUTDOWN",
	[IORING_OP_RENAMEAT] = "RENAMEAT",
	[IORING_OP_UNLINKAT] = "UNLINKAT",
	[IORING_OP_MKDIRAT] = "MKDIRAT",
	[IORING_OP_SYMLINKAT] = "SYMLINKAT",
	[IORING_OP_LINKAT] = "LINKAT",
	[IORING_OP_MSG_RING] = "MSG_RING",
	[IORING_OP_FSETXATTR] = "FSETXATTR",
	[IORING_OP_SETXATTR] = "SETXATTR",
	[IORING_OP_FGETXATTR] = "FGETXATTR",
	[IORING_OP_GETXATTR] = "GETXATTR",
	[IORING_OP_SOCKET] = "SOCKET",
	[IORING_OP_URING_CMD] = "URING_CMD",
	[IORING_OP_SEND_ZC] = "SEND_ZC",
	[IORING_OP_SENDMSG_ZC] = "SENDMSG_ZC",
	[OP_READ_MULTISHOT] = "READ_MULTISHOT",
	[OP_WAITID] = "WAITID",
	[OP_FUTEX_WAIT] = "FUTEX_WAIT",
	[OP_FUTEX_WAKE] = "FUTEX_WAKE",
	[OP_FUTEX_WAITV] = "FUTEX_WAITV",
	[OP_FIXED_FD_INSTALL] = "FIXED_FD_INSTALL",
	[OP_FTRUNCATE] = "FTRUNCATE",
	[OP_BIND] = "BIND",
	[OP_LISTEN] = "LISTEN",
	[OP_RECV_ZC] = "RECV_ZC",
	[OP_EPOLL_WAIT] = "EPOLL_WAIT",
	[OP_READV_FIXED] = "READV_FIXED",
	[OP_WRITEV_FIXED] = "WRITEV_FIXED",
	[OP_PIPE] = "PIPE",
	[OP_NOP128] = "NOP128",
	[OP_URING_CMD128] = "URING_CMD128",
};

/* Setup flags after liburing 2.3's last one (DEFER_TASKRUN = 1 << 13). */
/* liburing 2.3 calls the NO_MMAP address fields resv2; 2.5 (which also
 * brought IORING_SETUP_NO_MMAP) renamed them user_addr */
#ifdef IORING_SETUP_NO_MMAP
#define RING_USER_ADDR user_addr
#else
#define RING_USER_ADDR resv2
#endif
#define SETUP_NO_MMAP (1u << 14)	    /* 6.5 */
#define SETUP_REGISTERED_FD_ONLY (1u << 15) /* 6.5 */
#define SETUP_NO_SQARRAY (1u << 16)	    /* 6.6 */
#define SETUP_HYBRID_IOPOLL (1u << 17)	    /* 6.13 */
#define SETUP_CQE_MIXED (1u << 18)	    /* 6.18 */
#define SETUP_SQE_MIXED (1u << 19)	    /* 6.19 */
#define SETUP_SQ_REWIND (1u << 20)	    /* 7.0 */

/* Indexed by bit number. */
static const char *const setup_names[32] = {
	[0] = "IOPOLL",		/* 5.1 */
	[1] = "SQPOLL",		/* 5.1 */
	[2] = "SQ_AFF",		/* 5.1 */
	[3] = "CQSIZE",		/* 5.5 */
	[4] = "CLAMP",		/* 5.6 */
	[5] = "ATTACH_WQ",	/* 5.6 */
	[6] = "R_DISABLED",	/* 5.10 */
	[7] = "SUBMIT_ALL",	/* 5.18 */
	[8] = "COOP_TASKRUN",	/* 5.19 */
	[9] = "TASKRUN_FLAG",	/* 5.19 */
	[10] = "SQE128",	/* 5.19 */
	[11] = "CQE32",		/* 5.19 */
	[12] = "SINGLE_ISSUER", /* 6.0 */
	[13] = "DEFER_TASKRUN", /* 6.1 */
	[14] = "NO_MMAP",	[15] = "REGISTERED_FD_ONLY",
	[16] = "NO_SQARRAY",	[17] = "HYBRID_IOPOLL",
	[18] = "CQE_MIXED",	[19] = "SQE_MIXED",
	[20] = "SQ_REWIND",
};

/* Indexed by bit number; 13.. are newer than liburing 2.3. */
static const char *const feature_names[32] = {
	[0] = "SINGLE_MMAP",	  /* 5.4 */
	[1] = "NODROP",		  /* 5.5 */
	[2] = "SUBMIT_STABLE",	  /* 5.5 */
	[3] = "RW_CUR_POS",	  /* 5.6 */
	[4] = "CUR_PERSONALITY",  /* 5.6 */
	[5] = "FAST_POLL",	  /* 5.7 */
	[6] = "POLL_32BITS",	  /* 5.9 */
	[7] = "SQPOLL_NONFIXED",  /* 5.11 */
	[8] = "EXT_ARG",	  /* 5.11 */
	[9] = "NATIVE_WORKERS",	  /* 5.12 */
	[10] = "RSRC_TAGS",	  /* 5.13 */
	[11] = "CQE_SKIP",	  /* 5.17 */
	[12] = "LINKED_FILE",	  /* 5.17 */
	[13] = "REG_REG_RING",	  /* 6.3 */
	[14] = "RECVSEND_BUNDLE", /* 6.10 */
	[15] = "MIN_TIMEOUT",	  /* 6.12 */
	[16] = "RW_ATTR",	  /* 6.14 */
	[17] = "NO_IOWAIT",	  /* 6.15 */
};

const char *tide_probe_op_name(int op)
{
	if (op < 0 || (size_t)op >= ARRAY_SIZE(op_names))
		return NULL;
	return op_names[op];
}

static int bit_index(uint32_t flag)
{
	if (flag == 0 || (flag & (flag - 1)))
		return -1;
	return __builtin_ctz(flag);
}

const char *tide_probe_setup_name(uint32_t flag)
{
	int b = bit_index(flag);

	return b < 0 ? NULL : setup_names[b];
}

const char *tide_probe_feature_name(uint32_t flag)
{
	int b = bit_index(flag);

	return b < 0 ? NULL : feature_names[b];
}

int tide_probe_op_from_name(const char *name)
{
	if (!name)
		return -EINVAL;
	if (!strncasecmp(name, "IORING_OP_", 10))
		name += 10;
	for (size_t i = 0; i < ARRAY_SIZE(op_names); i++)
		if (op_names[i] && !strcasecmp(op_names[i], name))
			return (int)i;
	return -ENOENT;
}

static const struct {
	int err;
	const char *name;
} errno_names[] = {
	{ EPERM, "EPERM" },
	{ ENOENT, "ENOENT" },
	{ ESRCH, "ESRCH" },
	{ EINTR, "EINTR" },
	{ EIO, "EIO" },
	{ ENXIO, "ENXIO" },
	{ E2BIG, "E2BIG" },
	{ EBADF, "EBADF" },
	{ EAGAIN, "EAGAIN" },
	{ ENOMEM, "ENOMEM" },
	{ EACCES, "EACCES" },
	{ EFAULT, "EFAULT" },
	{ EBUSY, "EBUSY" },
	{ EEXIST, "EEXIST" },
	{ ENODEV, "ENODEV" },
	{ ENOTDIR, "ENOTDIR" },
	{ EISDIR, "EISDIR" },
	{ EINVAL, "EINVAL" },
	{ ENFILE, "ENFILE" },
	{ EMFILE, "EMFILE" },
	{ EFBIG, "EFBIG" },
	{ ENOSPC, "ENOSPC" },
	{ ESPIPE, "ESPIPE" },
	{ EROFS, "EROFS" },
	{ EPIPE, "EPIPE" },
	{ ERANGE, "ERANGE" },
	{ EDEADLK, "EDEADLK" },
	{ ENOSYS, "ENOSYS" },
	{ EOVERFLOW, "EOVERFLOW" },
	{ ENOTSUP, "EOPNOTSUPP" },
	{ EALREADY, "EALREADY" },
	{ ECANCELED, "ECANCELED" },
	{ ETIMEDOUT, "ETIMEDOUT" },
	{ ECONNREFUSED, "ECONNREFUSED" },
	{ ECONNRESET, "ECONNRESET" },
	{ EADDRINUSE, "EADDRINUSE" },
	{ ENOTCONN, "ENOTCONN" },
	{ ENOBUFS, "ENOBUFS" },
	{ EXDEV, "EXDEV" },
};

const char *tide_probe_errno_name(int err)
{
	int e = err < 0 ? -err : err;

	for (size_t i = 0; i < ARRAY_SIZE(errno_names); i++)
		if (errno_names[i].err == e)
			return errno_names[i].name;
	return NULL;
}

const char *tide_probe_liburing_version(void)
{
	return TIDE_LIBURING_VERSION;
}

int tide_probe_has_op(const struct tide_probe *p, int op)
{
	if (!p || op < 0 || op >= TIDE_PROBE_OPS_MAX)
		return 0;
	return (p->ops[op / 64] >> (op % 64)) & 1;
}

int tide_probe_has_setup(const struct tide_probe *p, uint32_t flag)
{
	if (!p || bit_index(flag) < 0)
		return 0;
	return (p->setup_ok & flag) != 0;
}

int tide_probe_has_feature(const struct tide_probe *p, uint32_t feat)
{
	if (!p || !feat)
		return 0;
	return (p->features & feat) == feat;
}

/* ---- raw rings -------------------------------------------------------- */

static int sys_setup(unsigned entries, struct io_uring_params *p)
{
	int fd = (int)syscall(__NR_io_uring_setup, entries, p);

	return fd < 0 ? -errno : fd;
}

static int sys_register(int fd, unsigned op, void *arg, unsigned nr)
{
	int ret = (int)syscall(__NR_io_uring_register, fd, op, arg, nr);

	return ret < 0 ? -errno : ret;
}

/* ---- environment ------------------------------------------------------ */

/* Read a small integer file such as a sysctl; -1 when unreadable. */
static int64_t read_long(const char *path)
{
	FILE *f = fopen(path, "re");
	long long v;
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "%lld", &v);
	fclose(f);
	return n == 1 ? (int64_t)v : -1;
}

static void read_status(struct tide_probe_env *env)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];

	env->seccomp = -1;
	env->cap_sys_admin = -1;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long caps;
		int mode;

		if (sscanf(line, "Seccomp: %d", &mode) == 1)
			env->seccomp = mode;
		else if (sscanf(line, "CapEff: %llx", &caps) == 1)
			env->cap_sys_admin = (caps >> 21) &
					     1; /* CAP_SYS_ADMIN */
	}
	fclose(f);
}

static int caller_in_group(gid_t gid)
{
	gid_t groups[256];
	int n;

	if (getegid() == gid || getgid() == gid)
		return 1;
	n = getgroups((int)ARRAY_SIZE(groups), groups);
	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

int tide_probe_env_read(struct tide_probe_env *env)
{
	struct io_uring_params p;
	struct rlimit rl;
	int fd;

	if (!env)
		return -EINVAL;
	memset(env, 0, sizeof(*env));

	memset(&p, 0, sizeof(p));
	fd = sys_setup(2, &p);
	if (fd >= 0)
		close(fd);
	env->setup_errno = fd < 0 ? -fd : 0;

	env->io_uring_disabled =
		(int32_t)read_long("/proc/sys/kernel/io_uring_disabled");
	env->io_uring_group = read_long("/proc/sys/kernel/io_uring_group");
	env->in_group = env->io_uring_group >= 0 ?
				caller_in_group((gid_t)env->io_uring_group) :
				-1;
	read_status(env);

	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0) {
		env->memlock_soft = rl.rlim_cur == RLIM_INFINITY ?
					    TIDE_PROBE_UNLIMITED :
					    (uint64_t)rl.rlim_cur;
		env->memlock_hard = rl.rlim_max == RLIM_INFINITY ?
					    TIDE_PROBE_UNLIMITED :
					    (uint64_t)rl.rlim_max;
	}
	return 0;
}

/* ---- the explanation -------------------------------------------------- */

/* snprintf-like appender that keeps counting past the end of buf. */
struct text {
	char *buf;
	size_t len;
	size_t pos;
};

static void __attribute__((format(printf, 2, 3)))
put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	size_t room = t->pos < t->len ? t->len - t->pos : 0;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? t->buf + t->pos : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->pos += (size_t)n;
}

static void put_size(struct text *t, uint64_t v)
{
	if (v == TIDE_PROBE_UNLIMITED)
		put(t, "unlimited");
	else if (v >= 1024 && v % 1024 == 0)
		put(t, "%llu KiB", (unsigned long long)(v / 1024));
	else
		put(t, "%llu bytes", (unsigned long long)v);
}

static void explain_eperm(struct text *t, const struct tide_probe_env *e)
{
	if (e->io_uring_disabled == 2) {
		put(t, "io_uring is disabled for every process: the sysctl "
		       "kernel.io_uring_disabled is 2. Fix: as root run "
		       "'sysctl -w kernel.io_uring_disabled=0' (or 1 together "
		       "with kernel.io_uring_group set to a group of this "
		       "user); make it permanent in /etc/sysctl.d/.");
		return;
	}
	if (e->io_uring_disabled == 1 && e->in_group != 1 &&
	    e->cap_sys_admin != 1) {
		put(t, "io_uring is restricted: the sysctl "
		       "kernel.io_uring_disabled is 1, so only processes ");
		if (e->io_uring_group >= 0)
			put(t, "in group %lld (kernel.io_uring_group) ",
			    (long long)e->io_uring_group);
		else
			put(t, "in kernel.io_uring_group (unset here) ");
		put(t, "or with CAP_SYS_ADMIN may create rings, and this one "
		       "is neither. Fix: ");
		if (e->io_uring_group >= 0)
			put(t, "add this user to group %lld and log in again, ",
			    (long long)e->io_uring_group);
		else
			put(t, "set kernel.io_uring_group to a group of this "
			       "user, ");
		put(t, "or as root run 'sysctl -w "
		       "kernel.io_uring_disabled=0'.");
		return;
	}
	if (e->seccomp == 2) {
		put(t, "a seccomp filter denies io_uring_setup(2) (Seccomp: 2 "
		       "in /proc/self/status): container runtimes (Docker, "
		       "Podman, containerd) and systemd's SystemCallFilter= "
		       "block io_uring by default. Fix: allow io_uring_setup, "
		       "io_uring_enter and io_uring_register in the seccomp "
		       "profile (e.g. docker run --security-opt "
		       "seccomp=<profile>) or run outside the sandbox.");
		return;
	}
	if (e->seccomp == 1) {
		put(t, "the process runs in strict seccomp mode (Seccomp: 1), "
		       "which allows only read, write, exit and sigreturn. "
		       "Fix: create the ring before entering strict mode, or "
		       "do not use strict mode.");
		return;
	}
	put(t, "io_uring_setup(2) failed with EPERM although neither "
	       "kernel.io_uring_disabled nor seccomp forbids it: a security "
	       "module (SELinux, AppArmor) or a sandbox denies it. Fix: "
	       "check the audit log (ausearch -m avc, dmesg) and allow "
	       "io_uring in that policy.");
}

static void explain_enomem(struct text *t, const struct tide_probe_env *e)
{
	put(t, "io_uring_setup(2) failed with ENOMEM: before Linux 5.12 "
	       "ring memory counts against RLIMIT_MEMLOCK, here ");
	put_size(t, e->memlock_soft);
	put(t, " (soft) / ");
	put_size(t, e->memlock_hard);
	put(t, " (hard). Fix: raise it (ulimit -l, LimitMEMLOCK= in a "
	       "systemd unit, memlock in /etc/security/limits.conf), use "
	       "fewer entries, or use a newer kernel");
	if (e->memlock_soft >= (8u << 20))
		put(t, "; with a limit this large the machine is more likely "
		       "short of memory");
	put(t, ".");
}

int tide_probe_explain(const struct tide_probe_env *env, char *buf, size_t len)
{
	struct text t = { .buf = buf, .len = len };

	if (!env || (!buf && len))
		return -EINVAL;
	if (env->reserved0)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(env->reserved); i++)
		if (env->reserved[i])
			return -EINVAL;
	if (len)
		buf[0] = '\0';

	switch (env->setup_errno) {
	case 0:
		put(&t, "io_uring works: io_uring_setup(2) succeeded.");
		if (env->io_uring_disabled == 1)
			put(&t, " (kernel.io_uring_disabled is 1, but this "
				"process is in kernel.io_uring_group or has "
				"CAP_SYS_ADMIN.)");
		break;
	case EPERM:
		explain_eperm(&t, env);
		break;
	case ENOSYS:
		put(&t, "io_uring_setup(2) failed with ENOSYS: ");
		if (env->seccomp == 2)
			put(&t,
			    "a seccomp filter is active (Seccomp: 2) and "
			    "some runtimes answer denied calls with ENOSYS; "
			    "otherwise ");
		put(&t,
		    "this kernel has no io_uring (older than 5.1, or "
		    "built without CONFIG_IO_URING; some distributions "
		    "also boot with it compiled out). Fix: use a kernel "
		    "with CONFIG_IO_URING=y, 5.19 or newer for tide's fast "
		    "paths%s.",
		    env->seccomp == 2 ? ", or allow io_uring_setup, "
					"io_uring_enter and io_uring_register "
					"in the seccomp profile" :
					"");
		break;
	case ENOMEM:
		explain_enomem(&t, env);
		break;
	case EMFILE:
	case ENFILE:
		put(&t,
		    "io_uring_setup(2) failed with %s: no file descriptor "
		    "is left for the ring. Fix: close descriptors or raise "
		    "the limit (ulimit -n, fs.file-max).",
		    env->setup_errno == EMFILE ? "EMFILE" : "ENFILE");
		break;
	case EINVAL:
		put(&t, "io_uring_setup(2) rejected a minimal ring with "
			"EINVAL: the kernel's io_uring is too old or "
			"restricted. Fix: use Linux 5.19 or newer.");
		break;
	default: {
		const char *name = tide_probe_errno_name(env->setup_errno);

		put(&t,
		    "io_uring_setup(2) failed with %s (%s). Fix: see "
		    "io_uring_setup(2) for this error.",
		    name ? name : "an unknown errno",
		    strerror(env->setup_errno));
		break;
	}
	}
	return t.pos > INT32_MAX ? INT32_MAX : (int)t.pos;
}

/* ---- setup flags, one at a time --------------------------------------- */

enum { HOW_PLAIN, HOW_SQ_AFF, HOW_CQSIZE, HOW_ATTACH, HOW_NO_MMAP };

/* Each flag with the companions the kernel requires for it to be valid. */
static const struct {
	uint32_t flag;
	uint32_t with;
	uint8_t how;
} tries[] = {
	/* accepted at setup; I/O on files without ->iopoll then fails */
	{ IORING_SETUP_IOPOLL, 0, HOW_PLAIN },
	{ IORING_SETUP_SQPOLL, 0, HOW_PLAIN },
	{ IORING_SETUP_SQ_AFF, IORING_SETUP_SQPOLL, HOW_SQ_AFF },
	{ IORING_SETUP_CQSIZE, 0, HOW_CQSIZE },
	{ IORING_SETUP_CLAMP, 0, HOW_PLAIN },
	{ IORING_SETUP_ATTACH_WQ, 0, HOW_ATTACH },
	{ IORING_SETUP_R_DISABLED, 0, HOW_PLAIN },
	{ IORING_SETUP_SUBMIT_ALL, 0, HOW_PLAIN },
	{ IORING_SETUP_COOP_TASKRUN, 0, HOW_PLAIN },
	{ IORING_SETUP_TASKRUN_FLAG, IORING_SETUP_COOP_TASKRUN, HOW_PLAIN },
	{ IORING_SETUP_SQE128, 0, HOW_PLAIN },
	{ IORING_SETUP_CQE32, 0, HOW_PLAIN },
	{ IORING_SETUP_SINGLE_ISSUER, 0, HOW_PLAIN },
	{ IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_SINGLE_ISSUER, HOW_PLAIN },
	{ SETUP_NO_MMAP, 0, HOW_NO_MMAP },
	{ SETUP_REGISTERED_FD_ONLY, SETUP_NO_MMAP, HOW_NO_MMAP },
	{ SETUP_NO_SQARRAY, 0, HOW_PLAIN },
	{ SETUP_HYBRID_IOPOLL, IORING_SETUP_IOPOLL, HOW_PLAIN },
	{ SETUP_CQE_MIXED, 0, HOW_PLAIN },
	{ SETUP_SQE_MIXED, 0, HOW_PLAIN },
	{ SETUP_SQ_REWIND, SETUP_NO_SQARRAY, HOW_PLAIN },
};

/* Drop a ring that REGISTERED_FD_ONLY left in our registered-ring table;
 * any ring fd of ours can name the table. */
static void unregister_ring(int base_fd, int index)
{
	struct io_uring_rsrc_update upd = { .offset = (uint32_t)index };

	sys_register(base_fd, IORING_UNREGISTER_RING_FDS, &upd, 1);
}

/* 0 when a 2-entry ring with flag (and its companions) can be created. */
static int try_setup(size_t i, int base_fd)
{
	struct io_uring_params p;
	long page = sysconf(_SC_PAGESIZE);
	void *mem = MAP_FAILED;
	int cpu, fd;

	memset(&p, 0, sizeof(p));
	p.flags = tries[i].flag | tries[i].with;
	if (p.flags & IORING_SETUP_SQPOLL)
		p.sq_thread_idle = 10;
	switch (tries[i].how) {
	case HOW_SQ_AFF:
		cpu = sched_getcpu();
		p.sq_thread_cpu = cpu < 0 ? 0 : (uint32_t)cpu;
		break;
	case HOW_CQSIZE:
		p.cq_entries = 8;
		break;
	case HOW_ATTACH:
		p.wq_fd = (uint32_t)base_fd;
		break;
	case HOW_NO_MMAP:
		/* The rings (cq_off) and the SQE array (sq_off) live in
		 * memory we give, one page each: enough for 2 entries. */
		if (page <= 0)
			page = 4096;
		mem = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED)
			return ENOMEM;
		p.cq_off.RING_USER_ADDR = (uint64_t)(uintptr_t)mem;
		p.sq_off.RING_USER_ADDR =
			(uint64_t)(uintptr_t)mem + (uint64_t)page;
		break;
	default:
		break;
	}

	fd = sys_setup(2, &p);
	if (fd >= 0) {
		/* with REGISTERED_FD_ONLY the result is a registered-ring
		 * index, not a descriptor: never close() it */
		if (p.flags & SETUP_REGISTERED_FD_ONLY)
			unregister_ring(base_fd, fd);
		else
			close(fd);
	}
	if (mem != MAP_FAILED)
		munmap(mem, 2 * (size_t)page);
	return fd < 0 ? -fd : 0;
}

static void probe_setup_flags(struct tide_probe *out, int base_fd)
{
	for (size_t i = 0; i < ARRAY_SIZE(tries); i++) {
		int b = bit_index(tries[i].flag);
		int err = try_setup(i, base_fd);

		out->setup_tried |= tries[i].flag;
		out->setup_errno[b] = err;
		if (!err)
			out->setup_ok |= tries[i].flag;
	}
}

/* ---- opcodes ---------------------------------------------------------- */

static void probe_ops(struct tide_probe *out, int fd)
{
	size_t sz = sizeof(struct io_uring_probe) +
		    TIDE_PROBE_OPS_MAX * sizeof(struct io_uring_probe_op);
	struct io_uring_probe *pr = calloc(1, sz);

	if (!pr)
		return;
	if (sys_register(fd, IORING_REGISTER_PROBE, pr, TIDE_PROBE_OPS_MAX) >=
	    0) {
		out->ops_len = pr->ops_len;
		for (unsigned i = 0; i < pr->ops_len; i++) {
			if (!(pr->ops[i].flags & IO_URING_OP_SUPPORTED))
				continue;
			out->ops[i / 64] |= 1ull << (i % 64);
			out->ops_count++;
		}
	}
	free(pr);
}

static void probe_loop(struct tide_probe *out)
{
	struct tide_loop_options o = { .flags = TIDE_LOOP_REQUIRE_URING };
	struct tide_loop *loop = NULL;
	int ret = tide_loop_new(&loop, &o);

	if (ret < 0) {
		out->loop_errno = -ret;
		return;
	}
	tide_loop_config(loop, &out->loop);
	tide_loop_free(loop);
}

int tide_probe_run(struct tide_probe *out, uint32_t flags)
{
	struct io_uring_params p;
	struct utsname u;
	int fd;

	if (!out || (flags & ~(uint32_t)(TIDE_PROBE_NO_SETUP_FLAGS |
					 TIDE_PROBE_NO_LOOP)))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (uname(&u) == 0)
		snprintf(out->kernel, sizeof(out->kernel), "%s", u.release);
	tide_probe_env_read(&out->env);

	memset(&p, 0, sizeof(p));
	fd = out->env.setup_errno ? -out->env.setup_errno : sys_setup(2, &p);
	if (fd < 0) {
		out->env.setup_errno = -fd; /* also if it changed meanwhile */
	} else {
		out->usable = 1;
		out->features = p.features;
		probe_ops(out, fd);
		if (!(flags & TIDE_PROBE_NO_SETUP_FLAGS))
			probe_setup_flags(out, fd);
		close(fd);
	}
	tide_probe_explain(&out->env, out->reason, sizeof(out->reason));

	if (flags & TIDE_PROBE_NO_LOOP)
		out->loop_errno = ENODATA;
	else
		probe_loop(out);
	return 0;
}
