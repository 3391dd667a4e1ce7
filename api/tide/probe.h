/* SPDX-License-Identifier: MIT */
/*
 * tide/probe.h - what io_uring can do on this machine, and if it cannot be
 * used, why.  tide-probe(1) is a thin printer on top of this section.
 * Include <tide.h> rather than this file.
 *
 * Every function here may be called from any thread and needs no loop.
 * Result structs are plain data owned by the caller; the strings the
 * *_name() functions return are static.
 */
#ifndef TIDE_PROBE_H
#define TIDE_PROBE_H

#include "tide/common.h"
#include "tide/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A resource limit with no bound (RLIM_INFINITY). */
#define TIDE_PROBE_UNLIMITED UINT64_MAX

/*
 * The facts that decide whether io_uring can be used here.  Filled by
 * tide_probe_env_read(); tide_probe_explain() turns them into a sentence.
 * Zero-initialise before filling it by hand; reserved fields must stay 0.
 */
struct tide_probe_env {
	int32_t setup_errno;	   /* io_uring_setup(2) errno, 0 = it worked */
	int32_t io_uring_disabled; /* kernel.io_uring_disabled: 0, 1, 2;
				      -1 = no such sysctl (kernel < 6.6) */
	int64_t io_uring_group; /* kernel.io_uring_group; -1 = none/unknown */
	int32_t in_group; /* caller is in io_uring_group: 1, 0, -1 unknown */
	int32_t cap_sys_admin; /* CAP_SYS_ADMIN effective: 1, 0, -1 unknown */
	int32_t seccomp;       /* "Seccomp:" of /proc/self/status: 0 off,
				      1 strict, 2 filter; -1 unknown */
	uint32_t reserved0;
	uint64_t memlock_soft; /* RLIMIT_MEMLOCK, bytes or TIDE_PROBE_UNLIMITED */
	uint64_t memlock_hard;
	uint64_t reserved[4];
};

/* Flags for tide_probe_run(). */
enum {
	/* Do not try each setup flag (saves ~20 short-lived rings). */
	TIDE_PROBE_NO_SETUP_FLAGS = 1u << 0,
	/* Do not create a tide loop to report its configuration. */
	TIDE_PROBE_NO_LOOP = 1u << 1,
};

/* Opcodes are 8 bits wide in an SQE. */
#define TIDE_PROBE_OPS_MAX 256

/* Everything tide_probe_run() learns. */
struct tide_probe {
	char kernel[65]; /* uname(2) release, e.g. "6.18.0" */
	uint8_t usable;	 /* 1 when a ring could be created */
	uint8_t reserved0[6];
	struct tide_probe_env env;
	char reason[512]; /* tide_probe_explain() of env (truncated) */

	uint32_t features;	 /* IORING_FEAT_* from io_uring_setup(2) */
	uint32_t setup_tried;	 /* IORING_SETUP_* bits tried, one by one */
	uint32_t setup_ok;	 /* ... of which a ring could be created */
	int32_t setup_errno[32]; /* per bit number: 0 or the errno */

	uint32_t ops_len;   /* opcodes the kernel knows (last_op + 1) */
	uint32_t ops_count; /* opcodes it supports */
	uint64_t ops[TIDE_PROBE_OPS_MAX / 64]; /* bitmap of supported opcodes */

	int32_t loop_errno; /* tide_loop_new() errno, 0 = loop valid */
	uint32_t reserved1;
	struct tide_loop_config loop; /* what tide_loop_new(NULL options) chose */
	uint64_t reserved[8];
};

/*
 * Probe this machine: kernel release, the environment (see
 * tide_probe_env_read()), and when io_uring works its features, the
 * supported opcodes (IORING_REGISTER_PROBE), every known setup flag tried
 * alone on a 2-entry ring (with the companion flags it requires), and the
 * configuration a default tide_loop_new() chooses.  flags: TIDE_PROBE_*.
 * Returns 0 with *out filled, also when io_uring is unusable (out->usable
 * is then 0 and out->reason says why), or -EINVAL for a NULL out or
 * unknown flags.  Creates and destroys rings and a loop on the calling
 * thread; takes milliseconds (SQPOLL threads are started and stopped).
 */
TIDE_API int tide_probe_run(struct tide_probe *out, uint32_t flags);

/*
 * Fill *env: try io_uring_setup(2) once, read kernel.io_uring_disabled and
 * kernel.io_uring_group, the caller's groups and CAP_SYS_ADMIN, the seccomp
 * mode and RLIMIT_MEMLOCK.  Facts that cannot be read are -1.  Returns 0 or
 * -EINVAL for a NULL env.
 */
TIDE_API int tide_probe_env_read(struct tide_probe_env *env);

/*
 * Write into buf (at most len bytes, always NUL-terminated when len > 0) one
 * or two sentences saying whether io_uring is usable given env and, when it
 * is not, the cause and the fix.  A pure function of *env: tests and
 * applications may fill env by hand.  Returns the length of the full text
 * (like snprintf(3); larger than len - 1 means truncated), or -EINVAL when
 * env is NULL, its reserved fields are not zero, or buf is NULL with len > 0.
 */
TIDE_API int tide_probe_explain(const struct tide_probe_env *env, char *buf,
				size_t len);

/* 1 when the kernel supports opcode op (an IORING_OP_* number), else 0;
 * also 0 for a NULL p or op outside 0..255. */
TIDE_API int tide_probe_has_op(const struct tide_probe *p, int op);

/* 1 when a ring could be created with the IORING_SETUP_* flag (one bit),
 * else 0 (also for flags not tried, more than one bit, or NULL p). */
TIDE_API int tide_probe_has_setup(const struct tide_probe *p, uint32_t flag);

/* 1 when the kernel reports the IORING_FEAT_* bits in feat (all of them,
 * feat != 0), else 0 (also for a NULL p). */
TIDE_API int tide_probe_has_feature(const struct tide_probe *p, uint32_t feat);

/*
 * Names without prefix, as the kernel spells them ("READV", "SQPOLL",
 * "NODROP"), for every opcode, setup flag and feature bit known when this
 * tide was written (opcodes to Linux 6.19, setup flags to 7.0), including
 * those newer than the liburing tide was built with.  NULL when
 * the number is unknown (print it as OP_<n>) or, for flags, when flag is not
 * exactly one bit.  The strings are static.
 */
TIDE_API const char *tide_probe_op_name(int op);
TIDE_API const char *tide_probe_setup_name(uint32_t flag);
TIDE_API const char *tide_probe_feature_name(uint32_t flag);

/* The opcode called name ("READV", "IORING_OP_READV", any case), or
 * -ENOENT when unknown, -EINVAL when name is NULL. */
TIDE_API int tide_probe_op_from_name(const char *name);

/* The symbolic name of an errno ("EPERM" for EPERM or -EPERM), NULL when
 * unknown.  Static string. */
TIDE_API const char *tide_probe_errno_name(int err);

/* The liburing version tide was built against, e.g. "2.3".  Static. */
TIDE_API const char *tide_probe_liburing_version(void);

#ifdef __cplusplus
}
#endif

#endif /* TIDE_PROBE_H */
