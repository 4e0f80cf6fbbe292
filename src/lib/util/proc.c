/* Running other programs (proc.h). */
#include "util/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/err.h"
#include "util/util.h"

extern char **environ;

#define PROC_MAX_FDS 8

int proc_run(const char *const *argv, const char *cwd,
	     const struct proc_fd *fds, size_t nr, int *status)
{
	posix_spawn_file_actions_t fa;
	struct pollfd pfd[PROC_MAX_FDS];
	struct buf *dst[PROC_MAX_FDS];
	int wr[PROC_MAX_FDS];
	size_t npipes = 0;
	char chunk[8192];
	pid_t pid;
	int ret, st = 0;

	if (nr > PROC_MAX_FDS)
		return err_set(ERR_USAGE, "too many descriptors for '%s'",
			       argv[0]);
	posix_spawn_file_actions_init(&fa);
	for (size_t i = 0; i < nr; i++) {
		size_t p;

		if (!fds[i].capture) {
			posix_spawn_file_actions_adddup2(&fa, fds[i].from,
							 fds[i].child);
			continue;
		}
		for (p = 0; p < npipes && dst[p] != fds[i].capture; p++)
			;
		if (p == npipes) {
			int fd[2];

			if (pipe2(fd, O_CLOEXEC) < 0) {
				ret = err_errno("cannot create a pipe");
				goto fail;
			}
			pfd[p].fd = fd[0];
			pfd[p].events = POLLIN;
			wr[p] = fd[1];
			dst[p] = fds[i].capture;
			npipes++;
		}
		posix_spawn_file_actions_adddup2(&fa, wr[p], fds[i].child);
	}
	if (cwd)
		posix_spawn_file_actions_addchdir_np(&fa, cwd);
	ret = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv,
			   environ);
	if (ret) {
		errno = ret;
		ret = ret == ENOENT ?
			err_set(ERR_NOTFOUND, "cannot run '%s': %s", argv[0],
				strerror(ENOENT)) :
			err_errno("cannot run '%s'", argv[0]);
		goto fail;
	}
	posix_spawn_file_actions_destroy(&fa);
	for (size_t p = 0; p < npipes; p++)
		close(wr[p]);
	for (size_t open_pipes = npipes; open_pipes;) {
		if (poll(pfd, (nfds_t)npipes, -1) < 0) {
			if (errno == EINTR)
				continue;
			ret = err_errno("poll");
			break;
		}
		for (size_t p = 0; p < npipes; p++) {
			ssize_t got;

			if (pfd[p].fd < 0 || !pfd[p].revents)
				continue;
			got = read(pfd[p].fd, chunk, sizeof(chunk));
			if (got < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (got <= 0) {
				close(pfd[p].fd);
				pfd[p].fd = -1;   /* poll skips it */
				open_pipes--;
				continue;
			}
			buf_add(dst[p], chunk, (size_t)got);
		}
	}
	for (size_t p = 0; p < npipes; p++)
		if (pfd[p].fd >= 0)
			close(pfd[p].fd);
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return err_errno("waitpid '%s'", argv[0]);
	}
	*status = WIFEXITED(st) ? WEXITSTATUS(st) :
		  WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
	return ret;
fail:
	posix_spawn_file_actions_destroy(&fa);
	for (size_t p = 0; p < npipes; p++) {
		close(pfd[p].fd);
		close(wr[p]);
	}
	return ret;
}

char *proc_self_exe(void)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

	if (n < 0)
		return NULL;
	path[n] = '\0';
	return xstrdup(path);
}
