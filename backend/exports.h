/* The periodic export check: a tgtd restarted under a running worker has
 * forgotten every target, and initiators cannot log in again until they
 * are back. Every few seconds the backend thread looks (one `tgtadm --op
 * show`) and brings back, as the database recorded them, the targets of
 * this worker's available and in-use volumes. */
#pragma once

#include <stdint.h>

#include "driver.h"
#include "store.h"

#define EXPORTS_CHECK_MS 5000

/* Check now: restore what the target daemon lost, record any export that
 * came back under another tid. Counts what it restored; -errno (-ENOTCONN:
 * the daemon does not answer) with words in err. */
int exports_restore(struct store *st, int64_t me, const struct driver *drv, int *restored,
		    struct cf_err *err);

/* The same when EXPORTS_CHECK_MS have passed since this thread last
 * checked (from the backend thread's housekeeping); the daemon going away
 * and coming back are logged once each. */
void exports_check(struct store *st, int64_t me, const struct driver *drv);
