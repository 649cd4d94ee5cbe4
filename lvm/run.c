/* The command runner. fork + execve with a fixed environment; stdout and
 * stderr read through pipes with poll() until both close, under one
 * deadline; the child is its own process group so that a timeout kills
 * whatever it started too. */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* The programs cinderfs runs, and nothing else. */
static const char *const allowed[] = {
	"lvcreate", "lvremove", "lvextend", "lvs", "vgs", "tgtadm",
};

/* Where Debian puts them (usrmerge or not); PATH is never consulted. */
static const char *const dirs[] = { "/usr/sbin", "/sbin", "/usr/bin", "/bin" };

static bool on_list(const char *program, const char *const *list, size_t n)
{
	for (size_t i = 0; list ? list[i] != NULL : i < n; i++)
		if (strcmp(program, list ? list[i] : allowed[i]) == 0)
			return true;
	return false;
}

static bool find_program(const char *program, const char *const *list, char *path, size_t size)
{
	bool listed = on_list(program, list, sizeof(allowed) / sizeof(allowed[0]));

	if (!listed)
		return false;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		struct stat st;
		snprintf(path, size, "%s/%s", dirs[i], program);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111))
			return true;
	}
	snprintf(path, size, "%s", program);
	return true; /* listed but not installed: execve will say so */
}

bool run_allowed(const char *program, char *path, size_t size)
{
	return find_program(program, NULL, path, size);
}

void run_result_free(struct run_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

void run_last_line(const char *text, char *out, size_t size)
{
	const char *end = text + strlen(text), *start;

	while (end > text && (end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	start = end;
	while (start > text && start[-1] != '\n')
		start--;
	while (start < end && (*start == ' ' || *start == '\t'))
		start++;
	snprintf(out, size, "%.*s", (int)(end - start), start);
}

struct buffer {
	char *data;
	size_t len, cap;
};

static int append(struct buffer *b, const char *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *bigger;
		while (cap < b->len + n + 1)
			cap *= 2;
		bigger = realloc(b->data, cap);
		if (!bigger)
			return -ENOMEM;
		b->data = bigger;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void describe(const char *const argv[], char *out, size_t size)
{
	size_t used = 0;
	out[0] = '\0';
	for (int i = 0; argv[i] && used + 1 < size; i++)
		used += (size_t)snprintf(out + used, size - used, "%s%s", i ? " " : "", argv[i]);
}

static int system_run(void *ctx, const char *const argv[], struct run_result *res,
		      struct cf_err *err)
{
	const struct run_config *cfg = ctx;
	char path[256], cmd[512], lvm_dir[4200];
	const char *envp[6];
	int out_pipe[2], err_pipe[2], status = 0, n_env = 0;
	struct buffer out = { 0 }, errbuf = { 0 };
	long long deadline;
	bool timed_out = false;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	res->exit_code = -1;
	describe(argv, cmd, sizeof(cmd));
	if (!argv[0] || !find_program(argv[0], cfg->allow, path, sizeof(path)))
		return err_set(err, EPERM, "%s is not a program cinderfs runs", argv[0] ? argv[0] : "(none)");
	/* The same environment every time: C messages to parse, our LVM
	 * configuration, no fd warnings from LVM, a PATH outside any mount. */
	envp[n_env++] = "LC_ALL=C";
	envp[n_env++] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	envp[n_env++] = "LVM_SUPPRESS_FD_WARNINGS=1";
	if (cfg->lvm_system_dir) {
		snprintf(lvm_dir, sizeof(lvm_dir), "LVM_SYSTEM_DIR=%s", cfg->lvm_system_dir);
		envp[n_env++] = lvm_dir;
	}
	envp[n_env] = NULL;

	if (pipe2(out_pipe, O_CLOEXEC) != 0)
		return err_set(err, errno, "cannot run %s: %s", cmd, strerror(errno));
	if (pipe2(err_pipe, O_CLOEXEC) != 0) {
		int e = errno;
		close(out_pipe[0]);
		close(out_pipe[1]);
		return err_set(err, e, "cannot run %s: %s", cmd, strerror(e));
	}
	log_debug("running %s", cmd);
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		setpgid(0, 0);
		if (devnull >= 0)
			dup2(devnull, STDIN_FILENO);
		dup2(out_pipe[1], STDOUT_FILENO);
		dup2(err_pipe[1], STDERR_FILENO);
		execve(path, (char *const *)argv, (char *const *)envp);
		/* Only async-signal-safe calls between fork and exec. */
		if (write(STDERR_FILENO, "cannot execute ", 15) > 0 &&
		    write(STDERR_FILENO, path, strlen(path)) > 0)
			(void)!write(STDERR_FILENO, "\n", 1);
		_exit(127);
	}
	close(out_pipe[1]);
	close(err_pipe[1]);
	if (pid < 0) {
		int e = errno;
		close(out_pipe[0]);
		close(err_pipe[0]);
		return err_set(err, e, "cannot run %s: %s", cmd, strerror(e));
	}
	setpgid(pid, pid);

	deadline = now_ms() + cfg->timeout_ms;
	{
		struct pollfd fds[2] = { { out_pipe[0], POLLIN, 0 }, { err_pipe[0], POLLIN, 0 } };
		struct buffer *bufs[2] = { &out, &errbuf };
		int open_fds = 2;

		while (open_fds > 0) {
			long long left = deadline - now_ms();
			int ready;

			if (left <= 0) {
				timed_out = true;
				break;
			}
			ready = poll(fds, 2, (int)left);
			if (ready < 0 && errno == EINTR)
				continue;
			if (ready < 0)
				break;
			for (int i = 0; i < 2; i++) {
				char chunk[4096];
				ssize_t n;

				if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
					continue;
				n = read(fds[i].fd, chunk, sizeof(chunk));
				if (n > 0) {
					append(bufs[i], chunk, (size_t)n);
				} else if (n == 0 || errno != EINTR) {
					close(fds[i].fd);
					fds[i].fd = -1;
					open_fds--;
				}
			}
		}
		for (int i = 0; i < 2; i++)
			if (fds[i].fd >= 0)
				close(fds[i].fd);
	}
	if (timed_out)
		kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	res->out = out.data ? out.data : strdup("");
	res->err = errbuf.data ? errbuf.data : strdup("");
	if (timed_out)
		return err_set(err, ETIMEDOUT, "%s did not finish within %d ms and was killed", cmd,
			       cfg->timeout_ms);
	if (WIFEXITED(status))
		res->exit_code = WEXITSTATUS(status);
	if (res->exit_code != 0) {
		char last[512];
		run_last_line(res->err && *res->err ? res->err : (res->out ? res->out : ""), last,
			      sizeof(last));
		if (WIFSIGNALED(status))
			return err_set(err, EIO, "%s was killed by signal %d", cmd, WTERMSIG(status));
		return err_set(err, EIO, "%s exited with %d: %s", cmd, res->exit_code,
			       last[0] ? last : "(no message)");
	}
	log_debug("%s: done", cmd);
	return 0;
}

struct runner run_system(const struct run_config *cfg)
{
	return (struct runner){ system_run, (void *)cfg };
}
