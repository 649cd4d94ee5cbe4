/* LVM volumes and snapshots, as Cinder's LVM driver keeps them: LVs named
 * volume-<uuid> and _snapshot-<uuid> in one volume group. Every command
 * goes through a runner (lvm/run.h); names that reach a command line are
 * canonical UUIDs, checked here. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "model.h"
#include "run.h"

/* The lock every LVM command on the volume group runs under, named
 * "lvm:<vg>": hosts that share one volume group on shared storage, with
 * activation off and no lvmlockd, would otherwise each write the metadata
 * over the other's (LVM's own lock files are per machine), and a read
 * while another host writes can find no volume group at all (a checksum
 * error in the metadata area), which at start leaves a worker without its
 * driver. Reads take it too, as lvmlockd's shared lock would. lock
 * returns 0, or -errno with its words in err: then no command is run,
 * and the function that wanted it fails with -ENOLCK, whatever the
 * reason (the database unreachable, the lock held elsewhere past the
 * wait), its words naming the lock and why. No lock function: the
 * commands run unlocked (one machine, or a test). */
struct lvm_lock {
	int (*lock)(void *ctx, const char *name, struct cf_err *err);
	void (*unlock)(void *ctx, const char *name);
	void *ctx;
};

struct lvm {
	struct runner runner;
	char vg[NAME_LEN];
	struct lvm_lock lock;
};

struct lv_info {
	char name[NAME_LEN];
	uint64_t size;          /* bytes */
	char origin[NAME_LEN];  /* the origin LV of a snapshot, "" otherwise */
	char attr[16];
};

/* The volume group's size and free space, in bytes; -ENODEV when it is
 * not there. */
int lvm_vg_space(struct lvm *l, uint64_t *size, uint64_t *free_bytes, struct cf_err *err);

/* Every LV of the volume group (one lvs), handed to fn. */
typedef int (*lvm_lv_fn)(void *ctx, const struct lv_info *lv);
int lvm_list(struct lvm *l, lvm_lv_fn fn, void *ctx, struct cf_err *err);

/* Parse `lvs --reportformat json` output (exposed for the tests). */
int lvm_parse_lvs(const char *json, lvm_lv_fn fn, void *ctx, struct cf_err *err);

/* -ENOSPC when the volume group is short of space. */
int lvm_create_volume(struct lvm *l, const char *uuid, long long size_gib, struct cf_err *err);
int lvm_extend_volume(struct lvm *l, const char *uuid, long long size_gib, struct cf_err *err);

/* Remove many volumes with one lvs and one lvremove. Volumes already gone
 * count as removed; a volume that is the origin of a snapshot makes it
 * -EBUSY (and nothing is removed). */
int lvm_delete_volumes(struct lvm *l, const char *const uuids[], size_t count, struct cf_err *err);

/* A thick snapshot of a volume; -EOPNOTSUPP where the kernel has no
 * device-mapper. Deleting one that is gone succeeds. */
int lvm_create_snapshot(struct lvm *l, const char *snapshot_uuid, const char *volume_uuid,
			long long size_gib, struct cf_err *err);
int lvm_delete_snapshot(struct lvm *l, const char *snapshot_uuid, struct cf_err *err);
