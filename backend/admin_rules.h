/* Cinder's admin actions written to value files (service-disable with a
 * reason, cluster-disable, reset-state, extend): the values as an
 * operator writes them, checked here with Cinder's rules and words, before
 * the store records anything. Pure functions: no database, no FUSE. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* Cinder's String(255) for disabled_reason. */
#define ADMIN_REASON_MAX 255

/* One value as written by `echo`: one line; a final newline (and spaces
 * or tabs around the value) do not count. -EINVAL for a second line or a
 * NUL byte, naming `what`. out gets the value, NUL-terminated. */
int admin_value(const char *buf, size_t len, const char *what, char *out, size_t size,
		struct cf_err *err);

/* `true` or `false`, or Cinder's other boolean words (1 t on y yes, 0 f
 * off n no), any case: -EINVAL otherwise, Cinder's words. */
int admin_parse_bool(const char *buf, size_t len, const char *what, bool *out, struct cf_err *err);

/* A disabled_reason: 1 to 255 bytes of printable text (Cinder's
 * check), or empty, which clears it (*out ""). */
int admin_parse_reason(const char *buf, size_t len, char out[ADMIN_REASON_MAX + 1],
		       struct cf_err *err);

/* The longest auto_cleanup age: a year, as service_down_time's. */
#define ADMIN_AUTO_CLEANUP_MAX 31536000

/* clusters/<name>/auto_cleanup: a whole number of seconds from 0 (off)
 * to ADMIN_AUTO_CLEANUP_MAX, digits only (as `echo 600` writes it);
 * -EINVAL with words otherwise. */
int admin_parse_auto_cleanup(const char *buf, size_t len, long long *seconds, struct cf_err *err);

enum admin_resource { ADMIN_VOLUME, ADMIN_SNAPSHOT };

/* Whether reset-state may set `status` (lower case) on a volume or a
 * snapshot: Cinder's valid_status lists (api/contrib/admin_actions.py and
 * objects/fields.py SnapshotStatus.ALL). */
bool admin_status_allowed(enum admin_resource type, const char *status);
/* The written status, lower-cased as Cinder does, checked; the refusal
 * lists the statuses allowed. */
int admin_parse_status(enum admin_resource type, const char *buf, size_t len, char out[64],
		       struct cf_err *err);

/* A new size for extend, in whole GiB (`20`, `20G`, `1T`): -EINVAL for
 * anything else, -EINVAL with words for a size not larger than `current`
 * (Cinder's "New size for extend must be greater than current size."). */
int admin_parse_extend(const char *buf, size_t len, long long current, long long *gib,
		       struct cf_err *err);
