/* The mount's two summary files, rendered from one store_overview: metrics
 * (the Prometheus text exposition format, version 0.0.4) and status (one
 * screen, as /proc/mdstat). Pure: no database, no FUSE; the helpers are
 * public for the unit tests. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store.h"

/* The metrics file: malloc'd text in *out, *len bytes; -ENOMEM. now is the
 * time ages are measured to. */
int metrics_render(const struct store_overview *o, const struct timespec *now, char **out,
		   size_t *len);

/* The status file, the same way; down_time is service_down_time (said in
 * its first line). */
int status_render(const struct store_overview *o, const struct timespec *now, int down_time,
		  char **out, size_t *len);

/* A label value as the format quotes it (without the quotes): backslash,
 * double quote and newline escaped, and any byte that is not part of valid
 * UTF-8 replaced by U+FFFD (the format is UTF-8; a parser refuses the
 * file otherwise). Writes at most size bytes with a NUL; returns the
 * length the whole value needs (as snprintf). */
size_t metrics_escape_label(const char *in, char *out, size_t size);

/* A sample value as the format spells it: integers in plain digits (no
 * exponent, up to 2^53), others with up to 6 decimals and no trailing
 * zeros, NaN, +Inf, -Inf. */
void metrics_format_number(double v, char *out, size_t size);

/* status's words for an age ("42s", "5m10s", "1h02m", "3d04h") and a size
 * ("512.0 MiB", "8.0 GiB", "2.5 TiB"). */
void status_format_age(int64_t seconds, char *out, size_t size);
void status_format_bytes(int64_t bytes, char *out, size_t size);
