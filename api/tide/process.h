/* SPDX-License-Identifier: MIT */
/*
 * tide/process.h - child processes with pipes as streams (asyncio's
 * subprocess for C).  Include <tide.h> rather than this file.
 *
 * A child is started with posix_spawn(3) (glibc runs it as
 * clone(CLONE_VM|CLONE_VFORK): the parent's memory is never copied, and a
 * failed exec is reported to the spawn call itself).  Its exit is watched
 * through a pidfd polled on the ring: no SIGCHLD handler is installed and
 * the loop thread never blocks in waitpid(2).  Where pidfds are missing
 * (Linux < 5.3, or under valgrind 3.19, which lacks the system calls) the
 * exit is polled with waitid(WNOHANG) on a timer backing off from 1 ms to
 * 64 ms, and signals go by pid (still safe: the pid is ours until reaped).
 *
 * Exit status: every wait resolves with the wait status of waitpid(2)
 * (a value >= 0), so the <sys/wait.h> macros apply: WIFEXITED(st) and
 * WEXITSTATUS(st) for a normal exit, WIFSIGNALED(st) and WTERMSIG(st) for a
 * child killed by a signal.
 *
 * Ownership: the caller owns a process from tide_process_spawn() until
 * tide_process_free().  Pipe streams belong to the process until taken
 * with tide_process_stream(); tide_process_free() closes those not taken.
 * Every function is for the loop thread only; free every process before
 * its loop.
 *
 * SIGPIPE: a write to a pipe whose reader has gone raises SIGPIPE in the
 * writing thread, as write(2) does (io_uring does not change that).  An
 * application that writes to a child's stdin pipe and does not want to die
 * with the child should ignore SIGPIPE, or ask for TIDE_STDIO_SOCKET, whose
 * writes use MSG_NOSIGNAL and fail with -EPIPE only.
 */
#ifndef TIDE_PROCESS_H
#define TIDE_PROCESS_H

#include "tide/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tide_process;
struct tide_stream;

/* What a child's fd 0, 1 or 2 is connected to (tide_process_options.stdio). */
enum {
	TIDE_STDIO_INHERIT = 0, /* the parent's descriptor */
	TIDE_STDIO_PIPE = 1,	/* a pipe; the parent's end is a stream */
	TIDE_STDIO_DEVNULL = 2, /* /dev/null */
	TIDE_STDIO_SOCKET = 3,	/* a socketpair end; parent's end is a stream */
};

/* Flags for tide_process_options.flags. */
enum {
	/* tide_process_free() of a running child sends it SIGKILL */
	TIDE_PROCESS_KILL_ON_FREE = 1u << 0,
	/* argv[0] is a path: never search PATH (default: as execvp(3)) */
	TIDE_PROCESS_NO_PATH = 1u << 1,
	/* leave descriptors >= 3 open in the child (default: all closed,
	 * also those the application opened without O_CLOEXEC) */
	TIDE_PROCESS_KEEP_FDS = 1u << 2,
	/* the child leads a new process group (setpgid(0, 0)) */
	TIDE_PROCESS_NEW_PGROUP = 1u << 3,
};

/*
 * Options for tide_process_spawn().  A zeroed struct means: inherit the
 * three standard descriptors, environment and working directory.  Unknown
 * flags, unknown stdio modes or non-zero reserved fields give -EINVAL.
 * The pointers need only live for the call.
 */
struct tide_process_options {
	uint32_t flags;		 /* TIDE_PROCESS_* */
	uint32_t stdio[3];	 /* TIDE_STDIO_* for the child's fd 0, 1, 2 */
	const char *const *envp; /* NULL-terminated; NULL = the parent's */
	const char *cwd;	 /* NULL = the parent's */
	uint32_t read_size;	 /* pipe streams' read buffer; 0 = 64 KiB */
	uint32_t reserved32;
	uint64_t reserved[4];
};

/* Buffers that tide_process_communicate() fills. */
struct tide_process_output {
	char *out;	/* the child's stdout, NUL-terminated; free() it */
	size_t out_len; /* bytes in out, terminator excluded */
	char *err;	/* the child's stderr, NUL-terminated; free() it */
	size_t err_len;
};

/*
 * Start argv[0] with arguments argv (NULL-terminated, argv[0] not NULL).
 * Without TIDE_PROCESS_NO_PATH, a name without '/' is searched in PATH.
 * Every descriptor tide makes is O_CLOEXEC; the child's signal mask is
 * emptied and SIGPIPE and SIGXFSZ are reset to their default action.
 * Blocks the calling thread only until the child has called exec.
 * Returns 0 and stores the process in *out, or a negative errno: -EINVAL
 * (bad arguments or options), -ENOENT, -EACCES, -ENOEXEC, ... (the child
 * could not exec; it has been reaped already), -EMFILE, -ENOMEM, -EAGAIN.
 * On error no child is left running and no zombie remains.
 */
TIDE_API int tide_process_spawn(struct tide_loop *loop,
				const char *const argv[],
				const struct tide_process_options *opts,
				struct tide_process **out);

/*
 * Take the parent's end of the child's fd (0, 1 or 2) as a stream: the
 * caller owns it from then on and closes it with tide_stream_close().
 * Returns NULL when fd is not a pipe or socket, or was taken already.
 */
TIDE_API struct tide_stream *tide_process_stream(struct tide_process *p,
						 int fd);

/* The child's process id (it stays valid until the child is reaped). */
TIDE_API int tide_process_pid(const struct tide_process *p);

/*
 * Wait for the child to exit: resolves with its wait status (see above),
 * at once when it has been reaped already.  Any number of waits may be
 * pending.  Cancelling a wait (or tide_future_timeout() on it) resolves
 * it with -ECANCELED (-ETIMEDOUT) and does not touch the child: kill it
 * or wait again, as you choose.  -ECHILD when someone else reaped the
 * child (waitpid(-1) elsewhere, SIGCHLD set to SIG_IGN).
 */
TIDE_API struct tide_future *tide_process_wait(struct tide_process *p);

/* Wait status of a reaped child, or -EAGAIN while no wait has seen it
 * exit, -ECHILD when it was reaped elsewhere, -EINVAL for NULL. */
TIDE_API int tide_process_status(const struct tide_process *p);

/*
 * Send signal sig to the child (pidfd_send_signal(2): never to a recycled
 * pid).  sig 0 checks that the child exists.  Returns 0, -ESRCH once the
 * child has been reaped, -EINVAL (bad signal or NULL p), -EPERM.
 */
TIDE_API int tide_process_kill(struct tide_process *p, int sig);

/*
 * asyncio's communicate(): write the len bytes at input to the child's
 * stdin and close it, read its stdout and stderr concurrently until both
 * end, then wait for its exit.  Resolves with the wait status and payload
 * out; out->out and out->err hold what the child wrote (empty strings for
 * descriptors that are not pipes or whose stream was taken).  The pipes it
 * uses are closed at the end and their streams are no longer available.
 * A child that exits without reading all input is not an error.
 *
 * limit caps each of stdout and stderr (0 = no limit): past it, or on any
 * other error, every pipe is closed, out is left empty and the future
 * fails with -E2BIG (or the error) without waiting for the child, which
 * the caller then kills or waits for.  Cancelling (or a timeout) does the
 * same with -ECANCELED (-ETIMEDOUT).  input must live and out must stay
 * valid until the future resolves.  One communicate per process.
 */
TIDE_API struct tide_future *
tide_process_communicate(struct tide_process *p, const void *input, size_t len,
			 size_t limit, struct tide_process_output *out);

/*
 * Free p and close the streams not taken.  A child that has not been
 * reaped is not killed (unless TIDE_PROCESS_KILL_ON_FREE): it is reaped in
 * the background when it exits, which keeps tide_loop_run() running until
 * then; pending waits and communicate still resolve.  A child still
 * running when the loop is freed is left alone (init or the application
 * reaps it).  NULL is ignored.
 */
TIDE_API void tide_process_free(struct tide_process *p);

#ifdef __cplusplus
}
#endif

#endif /* TIDE_PROCESS_H */
