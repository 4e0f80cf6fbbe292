/*
 * The restore's writer thread (restore_writer.h): a ring of
 * RESTORE_WRITER_SLOTS jobs under one mutex, "more" signalled when a job
 * is queued, "room" when one is done.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "meta/meta.h"
#include "pipelines/restore_writer.h"
#include "util/err.h"
#include "util/util.h"

enum wjob_kind { WJOB_DATA, WJOB_FINISH };

struct wjob {
	enum wjob_kind kind;
	int apply;                  /* WJOB_FINISH: call finish */
	int fd;
	struct buf data;
	struct meta m;
	char *name;
};

struct restore_writer {
	pthread_t tid;
	pthread_mutex_t lock;
	pthread_cond_t more, room;
	struct wjob q[RESTORE_WRITER_SLOTS];
	size_t head, nr;
	int stop;
	int bad_fd;                 /* the file whose write failed */
	char *failed;               /* its message, for the caller */
	restore_writer_finish_fn finish;
	void *data;
};

/*
 * A failed write stops the restore as it does on one thread: the
 * message waits in w->failed for the caller (restore_writer_failed).
 */
static void writer_fail(struct restore_writer *w, struct wjob *j)
{
	char *msg = xstrfmt("write error on '%s': %s", j->name,
			    strerror(errno));

	w->bad_fd = j->fd;
	pthread_mutex_lock(&w->lock);
	if (!w->failed)
		w->failed = msg;
	else
		free(msg);
	pthread_mutex_unlock(&w->lock);
}

static void writer_run(struct restore_writer *w, struct wjob *j)
{
	if (j->kind == WJOB_DATA) {
		if (j->fd != w->bad_fd &&
		    write_full(j->fd, j->data.data, j->data.len) < 0)
			writer_fail(w, j);
		buf_reset(&j->data);
	} else {
		if (j->apply && j->fd != w->bad_fd)
			w->finish(w->data, j->fd, &j->m, j->name);
		if (close(j->fd) < 0 && j->fd != w->bad_fd)
			writer_fail(w, j);
		w->bad_fd = -1;
		meta_reset(&j->m);
	}
	free(j->name);
	j->name = NULL;
}

int restore_writer_failed(struct restore_writer *w)
{
	char *msg;

	pthread_mutex_lock(&w->lock);
	msg = w->failed;
	w->failed = NULL;
	pthread_mutex_unlock(&w->lock);
	if (!msg)
		return 0;
	err_set(ERR_IO, "%s", msg);
	free(msg);
	return ERR_IO;
}

static void *writer_main(void *arg)
{
	struct restore_writer *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct wjob *j;
		while (!w->nr && !w->stop)
			pthread_cond_wait(&w->more, &w->lock);
		if (!w->nr)
			break;
		j = &w->q[w->head];
		pthread_mutex_unlock(&w->lock);
		writer_run(w, j);
		pthread_mutex_lock(&w->lock);
		w->head = (w->head + 1) % RESTORE_WRITER_SLOTS;
		w->nr--;
		pthread_cond_signal(&w->room);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void writer_release(struct restore_writer *w)
{
	for (size_t i = 0; i < RESTORE_WRITER_SLOTS; i++) {
		buf_release(&w->q[i].data);
		meta_release(&w->q[i].m);
	}
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->more);
	pthread_cond_destroy(&w->room);
	free(w->failed);
	free(w);
}

int restore_writer_new(struct restore_writer **out,
		       restore_writer_finish_fn finish, void *data)
{
	struct restore_writer *w = xcalloc(1, sizeof(*w));

	*out = NULL;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->more, NULL);
	pthread_cond_init(&w->room, NULL);
	for (size_t i = 0; i < RESTORE_WRITER_SLOTS; i++) {
		w->q[i].data = (struct buf)BUF_INIT;
		meta_init(&w->q[i].m);
	}
	w->bad_fd = -1;
	w->finish = finish;
	w->data = data;
	if (pthread_create(&w->tid, NULL, writer_main, w)) {
		writer_release(w);
		return err_set(ERR_GENERIC, "cannot start the writer thread");
	}
	*out = w;
	return 0;
}

/* A free slot at the tail, waiting while the queue is full. */
static struct wjob *writer_slot(struct restore_writer *w)
{
	struct wjob *j;

	pthread_mutex_lock(&w->lock);
	while (w->nr == RESTORE_WRITER_SLOTS)
		pthread_cond_wait(&w->room, &w->lock);
	j = &w->q[(w->head + w->nr) % RESTORE_WRITER_SLOTS];
	pthread_mutex_unlock(&w->lock);
	return j;
}

static void writer_push(struct restore_writer *w)
{
	pthread_mutex_lock(&w->lock);
	w->nr++;
	pthread_cond_signal(&w->more);
	pthread_mutex_unlock(&w->lock);
}

void restore_writer_data(struct restore_writer *w, int fd, struct buf *data,
			 const char *name)
{
	struct wjob *j = writer_slot(w);
	struct buf t = j->data;

	j->kind = WJOB_DATA;
	j->fd = fd;
	j->data = *data;
	*data = t;
	j->name = xstrdup(name);
	writer_push(w);
}

void restore_writer_finish(struct restore_writer *w, int fd,
			   const struct meta *m, const char *name, int apply)
{
	struct wjob *j = writer_slot(w);

	j->kind = WJOB_FINISH;
	j->apply = apply;
	j->fd = fd;
	meta_copy(&j->m, m);
	j->name = xstrdup(name);
	writer_push(w);
}

int restore_writer_free(struct restore_writer *w)
{
	int ret;

	if (!w)
		return 0;
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_cond_signal(&w->more);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->tid, NULL);
	ret = restore_writer_failed(w);
	writer_release(w);
	return ret;
}
