/* Removing many volumes' storage in as few driver calls as it takes, with
 * an answer for each volume. */
#pragma once

#include <stddef.h>

#include "driver.h"

struct removal {
	int rc;            /* 0, or -errno (-EBUSY: it still has snapshots on the backend) */
	struct cf_err err; /* the driver's words when rc != 0 */
};

/* out has count entries, one per volume, in order. */
void removal_run(const struct driver *drv, const struct volume *vols, size_t count,
		 struct removal *out);
