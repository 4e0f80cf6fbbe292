/*
 * Temporaries a later writer may remove (tmpfile.h).
 */
#include "util/tmpfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"
#include "util/file.h"
#include "util/util.h"

#define TMP_RAND_LEN 6

static int tmp_is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

/*
 * TMPFILE_TAG and this host's name: characters other than letters,
 * digits, '.', '_' and '-' become '_', so that the name is one path
 * component whatever the host is called.
 */
static char *tmp_host_tag(void)
{
	char host[256];

	if (gethostname(host, sizeof(host)) < 0 || !host[0])
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	host[64] = '\0';
	for (char *h = host; *h; h++)
		if (!tmp_is_alnum(*h) && *h != '.' && *h != '_' && *h != '-')
			*h = '_';
	return xstrfmt(TMPFILE_TAG "%s-", host);
}

char *tmpfile_name(const char *prefix, const char *suffix)
{
	static const char set[] = "abcdefghijklmnopqrstuvwxyz"
				  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	static unsigned counter;
	char rnd[TMP_RAND_LEN + 1], *tag = tmp_host_tag(), *name;
	struct timespec ts;
	uint64_t x;

	clock_gettime(CLOCK_REALTIME, &ts);
	x = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^
	    (uint64_t)ts.tv_sec ^ (uint64_t)getpid() << 32 ^
	    (uint64_t)__atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED) *
		    0xbf58476d1ce4e5b9ULL;
	for (int i = 0; i < TMP_RAND_LEN; i++) {
		rnd[i] = set[x % (sizeof(set) - 1)];
		x = x / (sizeof(set) - 1) ^ x << 29;
	}
	rnd[TMP_RAND_LEN] = '\0';
	name = xstrfmt("%s%s%ld-%s%s", prefix, tag, (long)getpid(), rnd,
		       suffix ? suffix : "");
	free(tag);
	return name;
}

int tmpfile_lock(int fd)
{
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

int tmpfile_try_lock(int fd)
{
	if (!flock(fd, LOCK_EX | LOCK_NB))
		return 1;
	return errno == EWOULDBLOCK ? 0 : -1;
}

int tmpfile_still_named(int fd, const char *path)
{
	struct stat a, b;

	return !fstat(fd, &a) && !lstat(path, &b) && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

int tmpfile_create(const char *prefix, const char *suffix, int mode,
		    char **path_out)
{
	for (int tries = 0; tries < 1000; tries++) {
		char *tmp = tmpfile_name(prefix, suffix);
		int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
			      mode);

		if (fd < 0 && errno == EEXIST) {
			free(tmp);
			continue;
		}
		if (fd < 0) {
			int ret = err_errno("cannot create '%s'", tmp);
			free(tmp);
			return ret;
		}
		/* removed by a sweeper before we held the lock: again */
		if (!tmpfile_lock(fd) && !tmpfile_still_named(fd, tmp)) {
			close(fd);
			free(tmp);
			continue;
		}
		*path_out = tmp;
		return fd;
	}
	return err_set(ERR_IO, "cannot create a temporary file '%s...'",
		       prefix);
}

int tmpfile_open(const char *final, int mode, char **tmp_out)
{
	char *prefix = xstrfmt("%s.", final);
	const char *slash = strrchr(prefix, '/');
	char *dir = slash ? xstrndup(prefix, (size_t)(slash - prefix))
			  : xstrdup(".");
	int ret;

	/*
	 * The temporaries of this file that killed writers left: removed
	 * by its next writer.  packwriter_new() sweeps objects/pack, but
	 * a command that writes no pack (midx, bloom, index) must not
	 * leave them for ever.
	 */
	tmpfile_sweep(*dir ? dir : "/", slash ? slash + 1 : prefix, NULL);
	ret = tmpfile_create(prefix, NULL, mode, tmp_out);
	free(dir);
	free(prefix);
	return ret;
}

int tmpfile_mkdir(const char *prefix, char **path_out)
{
	for (int tries = 0; tries < 1000; tries++) {
		char *dir = tmpfile_name(prefix, NULL);
		int fd, ret;

		if (mkdir(dir, 0700) < 0) {
			if (errno == EEXIST) {
				free(dir);
				continue;
			}
			ret = err_errno("cannot create directory '%s'", dir);
			free(dir);
			return ret;
		}
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT) {   /* swept already */
				free(dir);
				continue;
			}
			ret = err_errno("cannot open '%s'", dir);
			rmdir(dir);
			free(dir);
			return ret;
		}
		if (!tmpfile_lock(fd) && !tmpfile_still_named(fd, dir)) {
			close(fd);
			free(dir);
			continue;
		}
		*path_out = dir;
		return fd;
	}
	return err_set(ERR_IO, "cannot create a temporary directory '%s...'",
		       prefix);
}

/* name ends in tag, digits, '-', TMP_RAND_LEN characters and suffix */
static int tmp_is_ours(const char *name, const char *tag,
		       const char *suffix)
{
	const char *p = strstr(name, tag), *q;
	size_t slen = suffix ? strlen(suffix) : 0;

	if (!p)
		return 0;
	for (const char *n = p; (n = strstr(n + 1, tag));)
		p = n;
	p += strlen(tag);
	for (q = p; *q >= '0' && *q <= '9'; q++)
		;
	if (q == p || *q != '-')
		return 0;
	for (p = ++q; tmp_is_alnum(*q); q++)
		;
	return q - p == TMP_RAND_LEN && strlen(q) == slen &&
	       (!slen || !strcmp(q, suffix));
}

int tmpfile_is_ours(const char *name, const char *suffix)
{
	char *tag = tmp_host_tag();
	int ret = tmp_is_ours(name, tag, suffix);

	free(tag);
	return ret;
}

/* Remove one temporary if its creator is gone; 1 if removed. */
static int tmp_sweep_one(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
				   O_CLOEXEC);
	struct stat a, b;
	int removed = 0;

	if (fd < 0)
		return 0;
	/* held: a live writer's.  Failing otherwise: no locks here. */
	if (tmpfile_try_lock(fd) != 1 || fstat(fd, &a) < 0 ||
	    fstatat(dfd, name, &b, AT_SYMLINK_NOFOLLOW) < 0 ||
	    a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		goto out;
	if (S_ISREG(a.st_mode)) {
		removed = !unlinkat(dfd, name, 0);
	} else if (S_ISDIR(a.st_mode)) {
		int sub = dup(fd);
		DIR *d = sub >= 0 ? fdopendir(sub) : NULL;
		struct dirent *de;

		if (!d) {
			if (sub >= 0)
				close(sub);
			goto out;
		}
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				unlinkat(fd, de->d_name, 0);
		closedir(d);
		removed = !unlinkat(dfd, name, AT_REMOVEDIR);
	}
out:
	close(fd);   /* the lock goes with it */
	return removed;
}

int tmpfile_sweep(const char *dir, const char *prefix, const char *suffix)
{
	char *tag = tmp_host_tag();
	size_t plen = prefix ? strlen(prefix) : 0;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), n = 0;
	DIR *d;
	struct dirent *de;

	if (dfd < 0) {
		free(tag);
		return 0;
	}
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		free(tag);
		return 0;
	}
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, prefix ? prefix : "", plen) &&
		    tmp_is_ours(de->d_name, tag, suffix))
			n += tmp_sweep_one(dfd, de->d_name);
	closedir(d);
	free(tag);
	return n;
}

int tmpfile_commit(int *fd, char **tmp, const char *path)
{
	int ret = file_commit(*fd, *tmp, path);

	*fd = -1;
	if (ret < 0)
		return ret;
	free(*tmp);
	*tmp = NULL;
	return 0;
}

void tmpfile_discard(int fd, char *tmp)
{
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
}
