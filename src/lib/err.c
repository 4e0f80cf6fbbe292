/* Thread-local error slot (err.h). */
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char err_msg[1024];
static _Thread_local int err_code_last;

int err_set(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err_msg, sizeof(err_msg), fmt, ap);
	va_end(ap);
	err_code_last = code;
	return code;
}

int err_errno(const char *fmt, ...)
{
	int e = errno;
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err_msg, sizeof(err_msg), fmt, ap);
	va_end(ap);
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
