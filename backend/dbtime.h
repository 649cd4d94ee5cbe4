/* Times as Cinder stores them in SQLite ('YYYY-MM-DD HH:MM:SS[.ffffff]',
 * UTC) and as the mount shows them (ISO 8601, '2026-11-25T18:41:54Z'). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define DBTIME_LEN 32 /* room for 'YYYY-MM-DD HH:MM:SS.ffffff' and a NUL */

/* Parse a stored time; also takes 'T' for the space and a trailing 'Z'.
 * Returns 0, or -EINVAL for anything else. */
int dbtime_parse(const char *text, struct timespec *out);

/* The stored form, always with six fraction digits (as SQLAlchemy writes). */
void dbtime_format(const struct timespec *t, char out[DBTIME_LEN]);

/* The stored form for comparing as text in SQL: without a fraction when the
 * time is a whole second, so that '…:54' and '…:54.000000' both compare as
 * at-or-after '…:54'. */
void dbtime_format_bound(const struct timespec *t, char out[DBTIME_LEN]);

/* ISO 8601 UTC to the second. Returns false (and an empty string) when text
 * is NULL, empty or not a time. */
bool dbtime_to_iso(const char *text, char out[DBTIME_LEN]);

/* Now, on the clock of the database: this machine's real-time clock
 * plus the offset measured against the database server (store_sync_clock
 * on PostgreSQL), so that every host writes and judges heartbeats on one
 * clock however skewed its own is. */
void dbtime_now(struct timespec *out);
void dbtime_set_offset(int64_t us);
int64_t dbtime_offset(void);
