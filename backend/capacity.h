/* The volume group's free space, as the write path's space check needs it
 * (store_add_volume): measured by the backend thread after every operation
 * and every few seconds, since a FUSE thread never runs vgs. And a worker
 * whose storage driver did not start has no space at all: what was queued
 * for it ends at once. */
#pragma once

#include <stdint.h>

#include "driver.h"
#include "store.h"

/* How often a worker measures its volume group between operations: the
 * group changes under it when a worker sharing it, or an operator, makes
 * or removes LVs. */
#define CAPACITY_CHECK_MS 10000

/* Measure now (vgs) and record it, stamped with the time before vgs ran.
 * 0, or -errno (-ENOTSUP without a volume group) with words in err. */
int capacity_measure(struct store *st, int64_t me, const struct driver *drv, struct cf_err *err);

/* Measure when CAPACITY_CHECK_MS have passed since this thread last did
 * (from the backend thread's housekeeping). A failure is logged once, and
 * its end too. */
void capacity_check(struct store *st, int64_t me, const struct driver *drv);

/* For a worker whose driver did not start (`reason`): end its queued
 * operations, saying why, instead of leaving them queued for ever. */
void capacity_end_queued(struct store *st, int64_t me, const char *reason);
