/* Errors an operator reads: functions return 0 or -errno, and where words
 * are needed they go into a struct cf_err beside the code, naming the thing
 * and the value. */
#pragma once

#include <stddef.h>

struct cf_err {
	char msg[1024];
};

/* Record a message (printf-style) in err, when err is not NULL, and return
 * -errnum, so that callers can write `return err_set(err, EINVAL, ...)`. */
__attribute__((format(printf, 3, 4)))
int err_set(struct cf_err *err, int errnum, const char *fmt, ...);

static inline void err_clear(struct cf_err *err)
{
	if (err)
		err->msg[0] = '\0';
}
