/* The storage-less driver: for workers run without a storage backend
 * (schedulers, and volume workers until one is configured). Each step says
 * in the debug log that there was nothing to do. */
#include <errno.h>

#include "driver.h"
#include "log.h"

static int none_volume(void *ctx, const struct volume *vol, struct cf_err *err)
{
	(void)ctx;
	(void)err;
	log_debug("no storage driver: nothing to do on the backend for volume %s", vol->id);
	return 0;
}

static int none_snapshot(void *ctx, const struct snapshot *snap, struct cf_err *err)
{
	(void)ctx;
	(void)err;
	log_debug("no storage driver: nothing to do on the backend for snapshot %s", snap->id);
	return 0;
}

static int none_start(void *ctx, struct cf_err *err)
{
	(void)ctx;
	(void)err;
	log_info("no storage driver configured: cleanups do their database side only");
	return 0;
}

static int none_create_snapshot(void *ctx, const struct snapshot *snap, const struct volume *vol,
				struct cf_err *err)
{
	(void)vol;
	return none_snapshot(ctx, snap, err);
}

static int none_export(void *ctx, const struct volume *vol, char *location, size_t location_size,
		       char *auth, size_t auth_size, struct cf_err *err)
{
	(void)ctx; (void)vol; (void)location_size; (void)auth_size; (void)err;
	location[0] = auth[0] = '\0';
	return 0;
}

static int none_extend(void *ctx, const struct volume *vol, long long new_size, struct cf_err *err)
{
	(void)ctx; (void)vol; (void)new_size; (void)err;
	return 0;
}

static int none_capacity(void *ctx, char *name, size_t name_size, unsigned long long *size,
			 unsigned long long *free_bytes, struct cf_err *err)
{
	(void)ctx; (void)name; (void)name_size; (void)size; (void)free_bytes;
	return err_set(err, ENOTSUP, "no volume group configured");
}

const struct driver_ops driver_none_ops = {
	.name = "none",
	.database_only = true,
	.start = none_start,
	.delete_volume = none_volume,
	.delete_snapshot = none_snapshot,
	.remove_export = none_volume,
	.clear_download = none_volume,
	.create_volume = none_volume,
	.create_snapshot = none_create_snapshot,
	.create_export = none_export,
	.extend_volume = none_extend,
	.capacity = none_capacity,
};
