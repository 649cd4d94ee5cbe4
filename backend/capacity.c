/* Measuring the volume group for the write path. The measurement is
 * stamped with the time before vgs ran: store_add_volume counts whatever
 * changed after that stamp against it, so an LV made while vgs ran is
 * never missed, at worst counted twice until the next measurement. */
#include "capacity.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "dbtime.h"
#include "log.h"

/* When this backend thread last measured (a process may run several of
 * them in the unit tests): an operation's measurement puts off the
 * periodic one. */
static __thread long long last_ms;
static __thread bool measured, failing;

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int capacity_measure(struct store *st, int64_t me, const struct driver *drv, struct cf_err *err)
{
	char vg[NAME_LEN];
	unsigned long long size, free_bytes;
	struct timespec began;
	int rc;

	if (!drv->ops->capacity)
		return err_set(err, ENOTSUP, "the storage driver %s measures no space", drv->ops->name);
	last_ms = mono_ms();
	measured = true;
	dbtime_now(&began);
	rc = drv->ops->capacity(drv->ctx, vg, sizeof(vg), &size, &free_bytes, err);
	if (rc)
		return rc;
	rc = store_set_capacity(st, me, vg, size, free_bytes, &began);
	if (rc)
		return err_set(err, -rc, "cannot record the free space of volume group %s: %s", vg,
			       strerror(-rc));
	return 0;
}

void capacity_check(struct store *st, int64_t me, const struct driver *drv)
{
	struct cf_err err = { "" };
	int rc;

	if (measured && mono_ms() - last_ms < CAPACITY_CHECK_MS)
		return;
	rc = capacity_measure(st, me, drv, &err);
	if (rc == -ENOTSUP)
		return;
	if (rc && !failing)
		log_warning("measuring the volume group failed: %s; creates are checked against the "
			    "last measurement", err.msg);
	else if (!rc && failing)
		log_info("the volume group is measured again");
	failing = rc != 0;
}

void capacity_end_queued(struct store *st, int64_t me, const char *reason)
{
	struct timespec now;
	int failed = 0, rc;

	dbtime_now(&now);
	rc = store_fail_queued_ops(st, me, reason, &now, &failed);
	if (rc)
		log_error("ending the operations queued for this worker failed: %s", strerror(-rc));
	else if (failed)
		log_warning("%d queued operation(s) ended in error: the storage driver is not ready: %s",
			    failed, reason);
}
