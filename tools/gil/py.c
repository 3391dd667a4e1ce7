// SPDX-License-Identifier: MIT
/*
 * py.c - tide-gil's CPython side: run tools/gil/gil_workloads.py (or
 * its installed copy under $(datadir)/tide) once per way and round, with
 * the same sizes, placement and switch interval as the emulation, and read
 * back one line of key=value figures.
 *
 * The echo peers for io-net and convoy are C threads in this process
 * (gil_peers_start), the very peers the emulation talks to; the script
 * inherits the client ends.  io-file reads the same descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gil.h"

#ifndef GIL_SRCDIR
#define GIL_SRCDIR "tools/gil"
#endif
#ifndef GIL_DATADIR
#define GIL_DATADIR "/usr/local/share/tide"
#endif
#ifndef GIL_BINDIR
#define GIL_BINDIR "/usr/local/bin"
#endif

#define GIL_SCRIPT "gil_workloads.py"
#define GIL_PY_OUT 4096

static char gil_script[256];

static int gil_exec_ok(const char *p)
{
	struct stat st;

	return !stat(p, &st) && S_ISREG(st.st_mode) && !access(p, X_OK);
}

/* name on PATH, or name itself when it has a slash */
static int gil_which(const char *name, char *out, size_t len)
{
	const char *path = getenv("PATH"), *p, *e;

	if (strchr(name, '/')) {
		if (!gil_exec_ok(name))
			return -ENOENT;
		snprintf(out, len, "%s", name);
		return 0;
	}
	for (p = path ? path : "/usr/bin:/bin"; *p; p = *e ? e + 1 : e) {
		e = strchrnul(p, ':');
		if ((size_t)snprintf(out, len, "%.*s/%s", (int)(e - p), p,
				     name) < len &&
		    e > p && gil_exec_ok(out))
			return 0;
	}
	return -ENOENT;
}

/* The installed tool uses the installed script, a built one the tree's. */
static int gil_find_script(void)
{
	const char *env = getenv("TIDE_GIL_SCRIPTS");
	const char *dirs[3] = { GIL_SRCDIR, GIL_DATADIR, NULL };
	char exe[PATH_MAX], bindir[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	int i;

	if (n > 0) {
		exe[n] = 0;
		*strrchr(exe, '/') = 0;
		if (realpath(GIL_BINDIR, bindir) && !strcmp(exe, bindir)) {
			dirs[0] = GIL_DATADIR;
			dirs[1] = GIL_SRCDIR;
		}
	}
	if (env) {
		dirs[2] = dirs[1];
		dirs[1] = dirs[0];
		dirs[0] = env;
	}
	for (i = 0; i < 3 && dirs[i]; i++) {
		snprintf(gil_script, sizeof(gil_script), "%s/%s", dirs[i],
			 GIL_SCRIPT);
		if (!access(gil_script, R_OK))
			return 0;
	}
	return -ENOENT;
}

struct gil_kv {
	char buf[GIL_PY_OUT];
};

/* Run the script with args (NULL-terminated), inheriting fds; its stdout
 * into out.  0 or -errno; a non-zero exit is -ECHILD. */
static int gil_py_exec(const struct gil_report *rep, const char *const *args,
		       const int *fds, int nfds, struct gil_kv *out)
{
	const char *argv[48];
	int pfd[2], i, n = 0, st;
	size_t got = 0;
	ssize_t r;
	pid_t pid;

	argv[n++] = rep->py_path;
	argv[n++] = "-S"; /* the standard library only: no site start-up cost */
	argv[n++] = gil_script;
	for (i = 0; args[i] && n < 47; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -errno;
	}
	if (pid == 0) {
		for (i = 0; i < nfds; i++)
			fcntl(fds[i], F_SETFD, 0);
		if (dup2(pfd[1], 1) < 0)
			_exit(126);
		execv(rep->py_path, (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	while ((r = read(pfd[0], out->buf + got, sizeof(out->buf) - 1 - got)) !=
	       0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		got += (size_t)r;
		if (got == sizeof(out->buf) - 1)
			break;
	}
	out->buf[got] = 0;
	close(pfd[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -ECHILD;
}

/* The value of key in "k=v k=v\n", or NULL. */
static const char *gil_kv_get(const struct gil_kv *kv, const char *key,
			      char *val, size_t len)
{
	size_t kl = strlen(key);
	const char *p = kv->buf;

	while ((p = strstr(p, key))) {
		if ((p == kv->buf || p[-1] == ' ') && p[kl] == '=') {
			size_t n = strcspn(p + kl + 1, " \n");

			snprintf(val, len, "%.*s", (int)n, p + kl + 1);
			return val;
		}
		p += kl;
	}
	return NULL;
}

static double gil_kv_num(const struct gil_kv *kv, const char *key, double dflt)
{
	char v[64], *end;
	double d;

	if (!gil_kv_get(kv, key, v, sizeof(v)))
		return dflt;
	d = strtod(v, &end);
	return end == v || *end ? dflt : d;
}

int gil_py_find(struct gil_report *rep, const char *path, const char *argv0)
{
	static const char *const info[] = { "info", NULL };
	char exe[sizeof(rep->py_path)];
	struct gil_kv kv;
	int rc;

	(void)argv0;
	if (gil_which(path ? path : "python3", rep->py_path,
		      sizeof(rep->py_path))) {
		snprintf(rep->py_note, sizeof(rep->py_note), "%s not found%s",
			 path ? path : "python3",
			 path && strchr(path, '/') ? "" : " on PATH");
		return -ENOENT;
	}
	if (gil_find_script()) {
		snprintf(rep->py_note, sizeof(rep->py_note),
			 "%s not found in %s or %s (set TIDE_GIL_SCRIPTS)",
			 GIL_SCRIPT, GIL_DATADIR, GIL_SRCDIR);
		return -ENOENT;
	}
	rc = gil_py_exec(rep, info, NULL, 0, &kv);
	if (rc || !gil_kv_get(&kv, "version", rep->py_version,
			      sizeof(rep->py_version))) {
		snprintf(rep->py_note, sizeof(rep->py_note),
			 "%s does not run %s (is it Python 3.7 or later?)",
			 rep->py_path, gil_script);
		return rc ? rc : -EINVAL;
	}
	rep->py_gil = (int)gil_kv_num(&kv, "gil", 1) != 0;
	/* run the interpreter itself, not a wrapper (pyenv's shims cost
	 * 0.1 s a start); paths with spaces stay as given */
	if (gil_kv_get(&kv, "executable", exe, sizeof(exe)) && exe[0] == '/' &&
	    gil_exec_ok(exe))
		snprintf(rep->py_path, sizeof(rep->py_path), "%s", exe);
	return 0;
}

double gil_py_rate(const struct gil_report *rep, char *err, size_t errlen)
{
	static const char *const cal[] = { "calibrate", "--seconds", "0.2",
					   NULL };
	struct gil_kv kv;
	double rate;

	if (gil_py_exec(rep, cal, NULL, 0, &kv) ||
	    !((rate = gil_kv_num(&kv, "rate", 0)) > 0)) {
		snprintf(err, errlen,
			 "CPython calibration failed (%s %s calibrate)",
			 rep->py_path, gil_script);
		return 0;
	}
	return rate;
}

int gil_py_has_way(const struct gil_report *rep, int way)
{
	/* a pool of threads without a lock: only a free-threaded build */
	return way == GIL_SEQ || way == GIL_GLOCK || way == GIL_PROC ||
	       (way == GIL_POOL && !rep->py_gil);
}

/* How long CPython's hand-off count runs: as long as one thread's share
 * of the timed work, 0.05..0.5 s. */
static double gil_handoff_s(const struct gil_report *rep)
{
	double s = rep->py_rate > 0 ? (double)rep->c->py_count / rep->py_rate :
				      0.5;

	return s < 0.05 ? 0.05 : s > 0.5 ? 0.5 : s;
}

int gil_py_run(const struct gil_report *rep, int way, struct gil_result *r,
	       char *err, size_t errlen)
{
	static const char *const pins[] = { "none", "split", "same" };
	const struct gil_cfg *c = rep->c;
	char thr[16], cnt[32], ops[32], iv[32], blk[16], dur[32], wu[32];
	char fdl[GIL_PY_MAX_PEERS * 12] = "", ffd[16], fsz[32], hs[16];
	const char *args[40];
	struct gil_peers peers = { 0 };
	struct gil_kv kv;
	uint64_t fsize = 0;
	int fds[GIL_PY_MAX_PEERS + 1], nfds = 0, n = 0, rc, i, npeer;
	size_t used = 0;

	memset(r, 0, sizeof(*r));
	r->way = way;
	r->handoffs_per_s = -1;
	npeer = c->workload == GIL_IO_NET ? c->threads :
					    c->workload == GIL_CONVOY;
	if (npeer > GIL_PY_MAX_PEERS) {
		snprintf(err, errlen,
			 "--python: io-net takes at most %d threads",
			 GIL_PY_MAX_PEERS);
		return -EINVAL;
	}
	rc = gil_peers_start(&peers, npeer, c->block, gil_peer_cpu(c));
	if (rc) {
		snprintf(err, errlen, "CPython: echo peers: %s", strerror(-rc));
		gil_peers_stop(&peers);
		return rc;
	}
	for (i = 0; i < peers.n; i++) {
		fds[nfds++] = peers.fds[i];
		used += (size_t)snprintf(fdl + used, sizeof(fdl) - used, "%s%d",
					 i ? "," : "", peers.fds[i]);
	}
	if (c->workload == GIL_IO_FILE)
		fds[nfds++] = gil_file_fd_get(&fsize);
	snprintf(thr, sizeof(thr), "%d", c->threads);
	snprintf(cnt, sizeof(cnt), "%llu", (unsigned long long)c->py_count);
	snprintf(ops, sizeof(ops), "%llu", (unsigned long long)c->ops);
	snprintf(iv, sizeof(iv), "%.9f", (double)c->interval_ns / 1e9);
	snprintf(blk, sizeof(blk), "%u", c->block);
	snprintf(dur, sizeof(dur), "%.6f", c->duration);
	snprintf(wu, sizeof(wu), "%.6f", c->warmup);
	snprintf(ffd, sizeof(ffd), "%d",
		 c->workload == GIL_IO_FILE ? fds[nfds - 1] : -1);
	snprintf(fsz, sizeof(fsz), "%llu", (unsigned long long)fsize);
	/* hand-offs: a short extra run after the timed one, threads only */
	snprintf(hs, sizeof(hs), "%.3f",
		 c->workload == GIL_CPU && way == GIL_GLOCK && c->threads >= 2 ?
			 gil_handoff_s(rep) :
			 0.0);
	args[n++] = gil_workload_names[c->workload];
	args[n++] = way == GIL_SEQ  ? "sequential" :
		    way == GIL_PROC ? "processes" :
				      "threads";
	args[n++] = "--threads";
	args[n++] = thr;
	args[n++] = "--count";
	args[n++] = cnt;
	args[n++] = "--ops";
	args[n++] = ops;
	args[n++] = "--interval";
	args[n++] = iv;
	args[n++] = "--block";
	args[n++] = blk;
	args[n++] = "--pin";
	args[n++] = pins[c->pin];
	args[n++] = "--duration";
	args[n++] = dur;
	args[n++] = "--warmup";
	args[n++] = wu;
	args[n++] = "--fds";
	args[n++] = fdl;
	args[n++] = "--file-fd";
	args[n++] = ffd;
	args[n++] = "--file-size";
	args[n++] = fsz;
	args[n++] = "--handoff-seconds";
	args[n++] = hs;
	args[n] = NULL;
	rc = gil_py_exec(rep, args, fds, nfds, &kv);
	gil_peers_stop(&peers);
	if (!rc && !(gil_kv_num(&kv, "wall_s", 0) > 0))
		rc = -EPROTO;
	if (rc) {
		snprintf(err, errlen, "CPython %s %s failed (%s)",
			 gil_workload_names[c->workload], gil_way_names[way],
			 rc == -ECHILD ? "see its message above" :
			 rc == -EPROTO ? "no figures in its output" :
					 strerror(-rc));
		return rc;
	}
	r->wall_s = gil_kv_num(&kv, "wall_s", 0);
	r->cpu_s = gil_kv_num(&kv, "cpu_s", 0);
	r->ops = (uint64_t)gil_kv_num(&kv, "ops", 0);
	r->ops_per_sec = (double)r->ops / r->wall_s;
	r->handoffs_per_s = gil_kv_num(&kv, "handoffs_per_s", -1);
	r->specialised = (int)gil_kv_num(&kv, "specialised", -1);
	r->has_lat = c->workload != GIL_CPU;
	r->lat.p50 = (uint64_t)gil_kv_num(&kv, "lat_p50", 0);
	r->lat.p99 = (uint64_t)gil_kv_num(&kv, "lat_p99", 0);
	r->lat.max = (uint64_t)gil_kv_num(&kv, "lat_max", 0);
	r->lat.count = r->ops;
	return 0;
}
