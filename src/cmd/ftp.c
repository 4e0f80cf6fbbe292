/*
 * bup ftp [commands...]
 *
 * bup 0.33.7's ftp-like shell over the VFS: the shell is
 * pipelines/ftpsh's.  Commands come from the arguments, else from
 * stdin: plain lines, or on a terminal through GNU readline with bup's
 * prompt ("bup /> ") and tab completion of repository paths.  What ends
 * the session as a Python exception ends bup's (ftpsh.h) exits 1 with
 * one "error:" line on stderr instead of bup's traceback.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "cli.h"
#include "pipelines/ftpsh.h"
#include "store/repo.h"
#include "util/err.h"
#include "vfs/vfs.h"

static const char optspec[] =
	"bup ftp [commands...]\n";

static struct ftpsh *the_sh;    /* for readline's callbacks */
/* the end of the line being completed (bup's _attempt_end) */
static int attempt_end;

static void out_cb(void *ctx, const void *data, size_t len)
{
	(void)ctx;
	fwrite(data, 1, len, stdout);
}

static void log_cb(void *ctx, const char *text)
{
	(void)ctx;
	fflush(stdout);
	cli_log("%s", text);
}

static int run_line(struct ftpsh *sh, const char *line, size_t len)
{
	int ret = ftpsh_run_line(sh, line, len);

	fflush(stdout);
	if (ret == FTPSH_FATAL)
		cli_log("error: %s\n", err_last());
	return ret;
}

static char **attempt_completion(const char *text, int start, int end)
{
	(void)text;
	(void)start;
	attempt_end = end;
	return NULL;   /* readline goes on with the entry function */
}

/* bup's enter_completion(text, iteration). */
static char *enter_completion(const char *text, int state)
{
	struct buf add = BUF_INIT, out = BUF_INIT;
	char *line;
	int end = attempt_end, found;

	if (end < 0 || end > (int)strlen(rl_line_buffer))
		end = (int)strlen(rl_line_buffer);
	line = xstrndup(rl_line_buffer, (size_t)end);
	found = ftpsh_complete(the_sh, line, state, &add);
	free(line);
	if (found) {
		buf_addstr(&out, text);
		buf_addstr(&out, add.data);
	}
	buf_release(&add);
	return found ? buf_detach(&out, NULL) : NULL;
}

static int run_terminal(struct ftpsh *sh)
{
	struct buf prompt = BUF_INIT;
	int ret = FTPSH_OK;

	/*
	 * bup: the prompt shows the directory the session started in
	 * (its input generator holds the first pwd), "bup /> " whatever
	 * cd does.
	 */
	buf_addstr(&prompt, "bup ");
	ftpsh_pwd(sh, &prompt);
	buf_addstr(&prompt, "> ");
	the_sh = sh;
	rl_readline_name = "bup";
	/* bup's settings: '/' breaks words, so one level completes at a time */
	rl_completer_word_break_characters = (char *)" \t\n\r/";
	rl_attempted_completion_function = attempt_completion;
	rl_completion_entry_function = enter_completion;
	rl_parse_and_bind((char[]){ "tab: complete" });
	while (ret == FTPSH_OK) {
		char *line;

		fflush(stdout);
		line = readline(prompt.data);
		if (!line) {
			/* clear the line for the terminal's next prompt */
			putchar('\n');
			break;
		}
		if (*line)
			add_history(line);
		ret = run_line(sh, line, strlen(line));
		free(line);
	}
	buf_release(&prompt);
	return ret;
}

static int run_stdin(struct ftpsh *sh)
{
	char *line = NULL;
	size_t alloc = 0;
	ssize_t n;
	int ret = FTPSH_OK;

	while (ret == FTPSH_OK && (n = getline(&line, &alloc, stdin)) >= 0)
		ret = run_line(sh, line, (size_t)n);
	free(line);
	return ret;
}

int cmd_ftp(int argc, const char **argv);
int cmd_ftp(int argc, const char **argv)
{
	struct ftpsh_io io = { out_cb, log_cb, NULL, 0, 0 };
	struct opts o;
	struct repo *repo;
	struct vfs *vfs;
	struct ftpsh *sh;
	int ret = FTPSH_OK;

	cli_parse_opts(&o, optspec, argc, argv);
	repo = cli_open_repo();
	if (vfs_new(&vfs, repo) < 0)
		die("%s", err_last());
	io.tty = cli_stdout_is_tty();
	io.width = opt_tty_width();
	if (ftpsh_new(&sh, vfs, &io) < 0) {
		cli_log("error: %s\n", err_last());
		ret = FTPSH_FATAL;
	} else if (o.argc) {
		for (int i = 0; i < o.argc && ret == FTPSH_OK; i++)
			ret = run_line(sh, o.argv[i], strlen(o.argv[i]));
	} else if (isatty(0)) {
		ret = run_terminal(sh);
	} else {
		ret = run_stdin(sh);
	}
	ftpsh_free(sh);
	vfs_free(vfs);
	repo_free(repo);
	opt_release(&o);
	return cli_finish_stdout(ret == FTPSH_FATAL ? 1 : 0);
}
