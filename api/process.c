// SPDX-License-Identifier: MIT
/*
 * process.c - child processes: spawn with posix_spawn (vfork semantics in
 * glibc, so a large parent is never copied and exec errors come back to
 * the caller), pidfd for signals and exit, a poll on the pidfd as the wait
 * operation, and reaping with waitid(P_PIDFD, WNOHANG), which cannot block
 * once the pidfd is readable.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "process_impl.h"

#define PIPE_READ_SIZE (64u * 1024u)
#define STDIN_READ_SIZE 4096u

extern char **environ;

/* ---- reaping ---- */

/* The waitpid(2)-style status of a waitid(2) result. */
static int encode_status(const siginfo_t *si)
{
	switch (si->si_code) {
	case CLD_EXITED:
		return (si->si_status & 0xff) << 8;
	case CLD_DUMPED:
		return (si->si_status & 0x7f) | 0x80;
	default: /* CLD_KILLED */
		return si->si_status & 0x7f;
	}
}

/* Reap the child if it has exited; never blocks. */
static void proc_reap(struct tide_process *p)
{
	siginfo_t si;
	int ret;

	if (p->reaped)
		return;
	memset(&si, 0, sizeof(si));
	/* without a pidfd the pid is still ours: only we reap it */
	if (p->pidfd >= 0)
		ret = waitid((idtype_t)P_PIDFD, (id_t)p->pidfd, &si,
			     WEXITED | WNOHANG);
	else
		ret = waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG);
	if (ret < 0) {
		if (errno == ECHILD) { /* someone else reaped it */
			p->reaped = true;
			p->status = -ECHILD;
		}
		return;
	}
	if (si.si_pid == 0)
		return; /* still running */
	p->reaped = true;
	p->status = encode_status(&si);
}

/* Without pidfds (Linux < 5.3, or valgrind 3.19, which lacks the system
 * calls) exits are polled with a timer: 1, 2, 4 ... 64 ms, then 64 ms. */
static struct __kernel_timespec backoff[] = {
	{ 0, 1000000 },	 { 0, 2000000 },  { 0, 4000000 },  { 0, 8000000 },
	{ 0, 16000000 }, { 0, 32000000 }, { 0, 64000000 },
};
#define BACKOFF_N (sizeof(backoff) / sizeof(backoff[0]))

/* Poll the pidfd for the child's exit with op (or, without a pidfd, arm
 * the next backoff timer; op->aux counts the steps).  0 or -ENOMEM. */
static int poll_arm(struct tide_process *p, struct tide__op *op)
{
	struct __kernel_timespec *ts = &backoff[op->aux];

	if (p->pidfd >= 0)
		return tide__op_poll(p->loop, op, p->pidfd, POLLIN, false);
	if (op->aux < BACKOFF_N - 1)
		op->aux++;
	return tide__op_timeout(p->loop, op, ts, 0);
}

/* Did the poll (or backoff timer) of a wait complete normally? */
static bool fired(const struct tide_process *p, int32_t res)
{
	return res >= 0 || (p->pidfd < 0 && res == -ETIME);
}

static void proc_destroy(struct tide_process *p)
{
	if (p->pidfd >= 0)
		close(p->pidfd);
	free(p);
}

static void reaper_done(struct tide_loop *loop, struct tide__op *op,
			int32_t res, uint32_t cflags)
{
	struct tide_process *p = (struct tide_process *)op;

	(void)loop;
	(void)cflags;
	proc_reap(p);
	/* a poll the kernel cancelled before it ran is made again; else
	 * the loop is being freed, and the child is left to init */
	if (!p->reaped &&
	    (fired(p, res) || tide__cancel_unasked(loop, res, false)) &&
	    poll_arm(p, &p->reap_op) == 0)
		return;
	tide__process_unref(p);
}

void tide__process_unref(struct tide_process *p)
{
	if (--p->refs)
		return;
	proc_reap(p);
	if (!p->reaped) {
		/* freed while the child runs: reap it in the background */
		p->refs = 1;
		p->reap_op.done = reaper_done;
		p->reap_op.aux = 0;
		if (poll_arm(p, &p->reap_op) == 0)
			return;
	}
	proc_destroy(p);
}

/* ---- waits ---- */

static void wait_done(struct tide_loop *loop, struct tide__op *op, int32_t res,
		      uint32_t cflags)
{
	struct tide_future *f = (struct tide_future *)op;
	struct tide_process *p = f->payload;
	int64_t r = res;

	(void)cflags;
	proc_reap(p);
	if (p->reaped) {
		/* also after a cancel that lost the race: keep the status */
		r = p->status;
	} else if (fired(p, res) && (op->fflags & TIDE__FF_CANCEL)) {
		r = -ECANCELED;
	} else if (fired(p, res) ||
		   tide__cancel_unasked(loop, res,
					(op->fflags & TIDE__FF_CANCEL) ||
						(op->eflags &
						 TIDE__OP_DEADLINE))) {
		/* the backoff timer, readable but not reapable (not
		 * expected for a child on Linux 5.3+), or a poll the kernel
		 * cancelled before it ran: poll again */
		if (poll_arm(p, op) == 0)
			return;
		r = -ENOMEM;
	}
	f->payload = NULL;
	tide__process_unref(p);
	tide__future_resolve(f, r, NULL);
}

struct tide_future *tide_process_wait(struct tide_process *p)
{
	struct tide_future *f;

	if (!p)
		return NULL;
	proc_reap(p);
	if (p->reaped)
		return p->status < 0 ?
			       tide_future_fail(p->loop, p->status) :
			       tide_future_ready(p->loop, p->status, NULL);
	f = tide__future_new(p->loop, TIDE__FK_OP);
	if (!f)
		return NULL;
	f->op.done = wait_done;
	f->payload = p;
	if (poll_arm(p, &f->op)) {
		tide__future_free(f);
		return NULL;
	}
	p->refs++;
	return f;
}

int tide_process_status(const struct tide_process *p)
{
	if (!p)
		return -EINVAL;
	return p->reaped ? p->status : -EAGAIN;
}

int tide_process_kill(struct tide_process *p, int sig)
{
	if (!p)
		return -EINVAL;
	if (p->reaped)
		return -ESRCH;
	if (p->pidfd < 0) /* unreaped, so the pid is still our child's */
		return kill(p->pid, sig) < 0 ? -errno : 0;
	if (pidfd_send_signal(p->pidfd, sig, NULL, 0) < 0)
		return -errno;
	return 0;
}

int tide_process_pid(const struct tide_process *p)
{
	return p ? p->pid : -EINVAL;
}

struct tide_stream *tide_process_stream(struct tide_process *p, int fd)
{
	struct tide_stream *s;

	if (!p || fd < 0 || fd > 2)
		return NULL;
	s = p->st[fd];
	p->st[fd] = NULL;
	return s;
}

/* ---- spawn ---- */

static int check_options(const char *const argv[],
			 const struct tide_process_options *o)
{
	const uint32_t known = TIDE_PROCESS_KILL_ON_FREE |
			       TIDE_PROCESS_NO_PATH | TIDE_PROCESS_KEEP_FDS |
			       TIDE_PROCESS_NEW_PGROUP;

	if (!argv || !argv[0] || !argv[0][0])
		return -EINVAL;
	if ((o->flags & ~known) || o->reserved32 || o->reserved[0] ||
	    o->reserved[1] || o->reserved[2] || o->reserved[3])
		return -EINVAL;
	for (int i = 0; i < 3; i++)
		if (o->stdio[i] > TIDE_STDIO_SOCKET)
			return -EINVAL;
	if (o->cwd && !o->cwd[0])
		return -EINVAL;
	return 0;
}

/* Move fd to a number >= 3 so that dup2() onto 0..2 cannot clobber it. */
static int lift_fd(int *fd)
{
	int n;

	if (*fd > 2)
		return 0;
	n = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
	if (n < 0)
		return -errno;
	close(*fd);
	*fd = n;
	return 0;
}

/* Make the two ends of the child's descriptor i for mode. */
static int make_stdio(uint32_t mode, int i, int *parent, int *child)
{
	int fds[2], ret;

	if (mode == TIDE_STDIO_PIPE) {
		if (pipe2(fds, O_CLOEXEC) < 0)
			return -errno;
		/* fds[0] reads: the child's end for stdin, ours otherwise */
		*child = i == 0 ? fds[0] : fds[1];
		*parent = i == 0 ? fds[1] : fds[0];
	} else if (mode == TIDE_STDIO_SOCKET) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
			return -errno;
		*parent = fds[0];
		*child = fds[1];
	} else {
		return 0;
	}
	ret = lift_fd(child);
	return ret ? ret : lift_fd(parent);
}

static void close_fds(int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* Fill the file actions and attributes; returns a positive errno. */
static int spawn_setup(posix_spawn_file_actions_t *fa, posix_spawnattr_t *at,
		       const struct tide_process_options *o, const int *child)
{
	static const int rd_wr[3] = { O_RDONLY, O_WRONLY, O_WRONLY };
	short aflags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
	sigset_t set;
	int err = 0;

	for (int i = 0; i < 3 && !err; i++) {
		if (child[i] >= 0)
			err = posix_spawn_file_actions_adddup2(fa, child[i], i);
		else if (o->stdio[i] == TIDE_STDIO_DEVNULL)
			err = posix_spawn_file_actions_addopen(
				fa, i, "/dev/null", rd_wr[i], 0);
	}
	if (!err && o->cwd)
		err = posix_spawn_file_actions_addchdir_np(fa, o->cwd);
	if (!err && !(o->flags & TIDE_PROCESS_KEEP_FDS))
		err = posix_spawn_file_actions_addclosefrom_np(fa, 3);
	if (err)
		return err;
	sigemptyset(&set);
	err = posix_spawnattr_setsigmask(at, &set);
	/* an ignored SIGPIPE would survive exec and change how e.g.
	 * `yes | head` ends; reset what Python's subprocess resets */
	sigaddset(&set, SIGPIPE);
	sigaddset(&set, SIGXFSZ);
	if (!err)
		err = posix_spawnattr_setsigdefault(at, &set);
	if (o->flags & TIDE_PROCESS_NEW_PGROUP) {
		aflags |= POSIX_SPAWN_SETPGROUP;
		if (!err)
			err = posix_spawnattr_setpgroup(at, 0);
	}
	if (!err)
		err = posix_spawnattr_setflags(at, aflags);
	return err;
}

/* Start the child; returns its pid or a negative errno. */
static int do_spawn(const char *const argv[],
		    const struct tide_process_options *o, const int *child)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	char *const *envp = o->envp ? (char *const *)o->envp : environ;
	pid_t pid = -1;
	int err;

	err = posix_spawn_file_actions_init(&fa);
	if (err)
		return -err;
	err = posix_spawnattr_init(&at);
	if (err)
		goto err_fa;
	err = spawn_setup(&fa, &at, o, child);
	if (err)
		goto err_attr;
	/* the casts: POSIX's prototypes predate const-correct argv */
	if (o->flags & TIDE_PROCESS_NO_PATH)
		err = posix_spawn(&pid, argv[0], &fa, &at, (char *const *)argv,
				  envp);
	else
		err = posix_spawnp(&pid, argv[0], &fa, &at, (char *const *)argv,
				   envp);
err_attr:
	posix_spawnattr_destroy(&at);
err_fa:
	posix_spawn_file_actions_destroy(&fa);
	return err ? -err : pid;
}

/* Undo a started child on an error path: it dies at once, so the
 * blocking reap is short. */
static void kill_and_reap(int pid)
{
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

static int make_streams(struct tide_process *p,
			const struct tide_process_options *o, int *parent)
{
	for (int i = 0; i < 3; i++) {
		struct tide_stream_options so = { 0 };
		int ret;

		if (parent[i] < 0)
			continue;
		so.read_size = i == 0	    ? STDIN_READ_SIZE :
			       o->read_size ? o->read_size :
					      PIPE_READ_SIZE;
		ret = tide_stream_new(p->loop, parent[i], &so, &p->st[i]);
		if (ret)
			return ret;
		parent[i] = -1; /* the stream owns it */
	}
	return 0;
}

int tide_process_spawn(struct tide_loop *loop, const char *const argv[],
		       const struct tide_process_options *opts,
		       struct tide_process **out)
{
	struct tide_process_options o = { 0 };
	int parent[3] = { -1, -1, -1 }, child[3] = { -1, -1, -1 };
	struct tide_process *p;
	int ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (opts)
		o = *opts;
	if (!loop)
		return -EINVAL;
	ret = check_options(argv, &o);
	if (ret)
		return ret;
	p = tide__fault_nomem(loop) ? NULL : calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->loop = loop;
	p->flags = o.flags;
	p->refs = 1;
	p->pidfd = -1;
	for (int i = 0; i < 3 && !ret; i++)
		ret = make_stdio(o.stdio[i], i, &parent[i], &child[i]);
	if (ret)
		goto err_fds;
	ret = do_spawn(argv, &o, child);
	close_fds(child, 3);
	if (ret < 0)
		goto err_fds; /* glibc has reaped a child that failed exec */
	p->pid = ret;
	/* the child is ours and unreaped, so its pid cannot be reused yet */
	p->pidfd = pidfd_open(p->pid, 0);
	if (p->pidfd < 0 && errno != ENOSYS) {
		ret = -errno;
		goto err_child;
	}
	ret = make_streams(p, &o, parent);
	if (ret)
		goto err_child;
	*out = p;
	return 0;
err_child:
	kill_and_reap(p->pid);
	for (int i = 0; i < 3; i++)
		if (p->st[i])
			tide_future_release(tide_stream_close(p->st[i]));
	if (p->pidfd >= 0)
		close(p->pidfd);
err_fds:
	close_fds(child, 3);
	close_fds(parent, 3);
	free(p);
	return ret;
}

void tide_process_free(struct tide_process *p)
{
	if (!p || p->freed)
		return;
	p->freed = true;
	for (int i = 0; i < 3; i++) {
		if (p->st[i])
			tide_future_release(tide_stream_close(p->st[i]));
		p->st[i] = NULL;
	}
	proc_reap(p);
	if (!p->reaped && (p->flags & TIDE_PROCESS_KILL_ON_FREE))
		tide_process_kill(p, SIGKILL);
	tide__process_unref(p);
}
