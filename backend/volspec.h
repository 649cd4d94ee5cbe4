/* Specs written to volumes/create: `name=db1 size=10G`, or the same as a
 * JSON object. Sizes are whole GiB, as Cinder's. */
#pragma once

#include <stddef.h>

#include "error.h"
#include "model.h"

#define VOLUME_MAX_GIB (1024LL * 1024) /* 1 PiB */

struct volspec {
	char name[NAME_LEN];  /* "" when none given */
	long long size_gib;
};

/* Returns 0, or -EINVAL / -EFBIG with the operator's message. */
int volspec_parse(const char *spec, size_t len, struct volspec *out, struct cf_err *err);

/* "10", "10G", "10GiB", "2T", "2TiB" (any case) in GiB; -EINVAL otherwise. */
int volspec_size(const char *text, long long *gib, struct cf_err *err);

/* snapshots/create specs: `volume_id=<uuid> name=...`. */
struct snapspec {
	char volume_id[UUID_LEN];
	char name[NAME_LEN];
};
int snapspec_parse(const char *spec, size_t len, struct snapspec *out, struct cf_err *err);
