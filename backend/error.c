/* The error struct's one function. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

int err_set(struct cf_err *err, int errnum, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return -errnum;
}
