/* Thread-local error slot (err.h). */
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char err_msg[1024];
static _Thread_local int err_code_last;

/*
 * Callers may pass err_last() itself as an argument (to prefix a path
 * to a lower-level message), so format into a scratch buffer first:
 * vsnprintf() from and into the same array is undefined.
 */
int err_set(int code, const char *fmt, ...)
{
	char tmp[sizeof(err_msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	memcpy(err_msg, tmp, sizeof(err_msg));
	err_code_last = code;
	return code;
}

int err_errno(const char *fmt, ...)
{
	int e = errno;
	char tmp[sizeof(err_msg)];
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	memcpy(err_msg, tmp, sizeof(err_msg));
	n = strlen(err_msg);
	snprintf(err_msg + n, sizeof(err_msg) - n, ": %s", strerror(e));
	err_code_last = ERR_IO;
	errno = e;
	return ERR_IO;
}

const char *err_last(void)
{
	return err_msg;
}

int err_last_code(void)
{
	return err_code_last;
}

void err_clear(void)
{
	err_msg[0] = '\0';
	err_code_last = 0;
}
