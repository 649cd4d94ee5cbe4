/* The storage driver interface: what the cleaner (and, later, the volume
 * operations) ask of the storage backend. lvm/ holds the real driver; the
 * unit tests use a fake. Every function returns 0 or -errno, with words in
 * err. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "model.h"

struct volume {
	char id[UUID_LEN];
	char status[64];
	char attach_status[64];
	char host[NAME_LEN];
	char cluster_name[NAME_LEN];
	long long size;             /* GiB */
	char display_name[NAME_LEN];
	char provider_location[NAME_LEN];
};

struct snapshot {
	char id[UUID_LEN];
	char volume_id[UUID_LEN];
	char status[64];
};

/* A volume's export as the database records it (Cinder's
 * provider_location "ip:port,tid IQN lun" and provider_auth "CHAP user
 * secret"), checked against the target daemon. */
struct export_record {
	char volume_id[UUID_LEN];
	char provider_location[NAME_LEN];
	char provider_auth[NAME_LEN];
	/* Set by restore_exports: */
	bool restored;
	char new_location[NAME_LEN]; /* restored under another tid: the new provider_location */
};

struct driver_ops {
	const char *name;
	/* No storage behind it: every step succeeds without touching
	 * anything, and what the cleanup reports must say so. */
	bool database_only;
	/* Get ready (check the volume group, the target daemon, ...). A
	 * worker whose driver cannot start cleans nothing and says why. */
	int (*start)(void *ctx, struct cf_err *err);
	/* Deleting what is already gone succeeds; a volume that still has
	 * snapshots on the backend is -EBUSY. */
	int (*delete_volume)(void *ctx, const struct volume *vol, struct cf_err *err);
	/* Many at once where the backend can (one lvremove), at most
	 * batch_max; NULL: one by one. On any error (-EBUSY when one of them
	 * is busy) the caller retries them one by one. */
	int (*delete_volumes)(void *ctx, const struct volume *vols, size_t count, struct cf_err *err);
	size_t batch_max;
	int (*delete_snapshot)(void *ctx, const struct snapshot *snap, struct cf_err *err);
	/* Removing an export that is gone succeeds. */
	int (*remove_export)(void *ctx, const struct volume *vol, struct cf_err *err);
	/* Undo a half-done image download (nothing to do for LVM). */
	int (*clear_download)(void *ctx, const struct volume *vol, struct cf_err *err);
	/* A snapshot of a volume; -EOPNOTSUPP where the backend cannot. */
	int (*create_snapshot)(void *ctx, const struct snapshot *snap, const struct volume *vol,
			       struct cf_err *err);
	/* Make a volume's storage; creating what exists fails. */
	int (*create_volume)(void *ctx, const struct volume *vol, struct cf_err *err);
	/* Export it; location and auth get Cinder's provider_location and
	 * provider_auth ("" when there is no export). */
	int (*create_export)(void *ctx, const struct volume *vol, char *location, size_t location_size,
			     char *auth, size_t auth_size, struct cf_err *err);
	/* Bring back, each as recorded (same IQN, LUN and CHAP credentials),
	 * the exports among recs that the target daemon has lost (it was
	 * restarted): one look at the daemon when none is missing. Counts
	 * what it restored; -ENOTCONN when the daemon does not answer. NULL:
	 * the driver exports nothing. */
	int (*restore_exports)(void *ctx, struct export_record *recs, size_t count, int *restored,
			       struct cf_err *err);
	/* Grow a volume to new_size GiB, its export too (the LUN shows the new
	 * size). -EBUSY with nothing changed when it cannot be done now (an
	 * initiator is logged in); any other error may leave it half done.
	 * NULL: the driver cannot extend (-EOPNOTSUPP). */
	int (*extend_volume)(void *ctx, const struct volume *vol, long long new_size,
			     struct cf_err *err);
	/* The volume group's name, size and free bytes; -ENOTSUP without one. */
	int (*capacity)(void *ctx, char *name, size_t name_size, unsigned long long *size,
			unsigned long long *free_bytes, struct cf_err *err);
};

struct driver {
	const struct driver_ops *ops;
	void *ctx;
};

/* The driver of a worker with no storage backend configured: every storage
 * step succeeds without touching anything, so that only the database side
 * of an operation or a cleanup is done. */
extern const struct driver_ops driver_none_ops;
