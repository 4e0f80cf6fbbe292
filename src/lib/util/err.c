/*
 * Thread-local error slot (err.h).  Messages may be any length: each
 * thread keeps two growable buffers, the current message and a scratch
 * one, and swaps them, so that steady-state reporting allocates nothing
 * and a message can quote err_last() itself.  A thread's buffers are
 * freed when it exits (a pthread key destructor).
 */
#include "util/err.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

struct err_slot {
	struct buf msg, scratch;
	int code;
};

static _Thread_local struct err_slot *slot;
static pthread_key_t slot_key;
static pthread_once_t slot_once = PTHREAD_ONCE_INIT;
static int slot_key_ok;

static void slot_free(void *p)
{
	struct err_slot *s = p;

	buf_release(&s->msg);
	buf_release(&s->scratch);
	free(s);
}

static void slot_key_init(void)
{
	slot_key_ok = !pthread_key_create(&slot_key, slot_free);
}

static struct err_slot *get_slot(void)
{
	if (!slot) {
		slot = xcalloc(1, sizeof(*slot));
		buf_init(&slot->msg, 0);
		buf_init(&slot->scratch, 0);
		pthread_once(&slot_once, slot_key_init);
		/* (without a key the slot lives as long as the process) */
		if (slot_key_ok)
			pthread_setspecific(slot_key, slot);
	}
	return slot;
}

/*
 * Callers may pass err_last() itself as an argument (to prefix a path
 * to a lower-level message), so format into the scratch buffer, then
 * swap: the old message stays valid while it is read.  A `kind` puts
 * err_corrupt()'s "NAME: corrupt KIND: " before the message.
 */
static int set_v(int code, int add_errno, const char *name,
		 const char *kind, const char *fmt, va_list ap)
{
	int e = errno;
	struct err_slot *s = get_slot();
	struct buf t;

	buf_reset(&s->scratch);
	if (kind)
		buf_addf(&s->scratch, "%s: corrupt %s: ", name, kind);
	buf_vaddf(&s->scratch, fmt, ap);
	if (add_errno)
		buf_addf(&s->scratch, ": %s", strerror(e));
	t = s->msg;
	s->msg = s->scratch;
	s->scratch = t;
	s->code = code;
	errno = e;
	return code;
}

int err_set(int code, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = set_v(code, 0, NULL, NULL, fmt, ap);
	va_end(ap);
	return ret;
}

int err_errno(const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = set_v(ERR_IO, 1, NULL, NULL, fmt, ap);
	va_end(ap);
	return ret;
}

int err_corrupt(const char *name, const char *kind, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = set_v(ERR_CORRUPT, 0, name, kind, fmt, ap);
	va_end(ap);
	return ret;
}

const char *err_last(void)
{
	return slot ? slot->msg.data : "";
}

int err_last_code(void)
{
	return slot ? slot->code : 0;
}

void err_clear(void)
{
	if (slot) {
		buf_reset(&slot->msg);
		slot->code = 0;
	}
}
