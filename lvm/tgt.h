/* iSCSI exports through tgt, as Cinder's TgtAdm helper keeps them: one
 * target per volume (IQN target_prefix + volume-<uuid>), LUN 1 backed by
 * the volume, CHAP credentials bound to it, and a persistent target file
 * in volumes_dir (tgt-admin's format) from which targets come back after a
 * tgtd restart. Every command is tgtadm, through the runner. */
#pragma once

#include <limits.h>
#include <stdbool.h>

#include "error.h"
#include "model.h"
#include "run.h"

struct tgt {
	struct runner runner;
	int control_port;          /* tgtd's -C, 0 for its default socket */
	char target_prefix[NAME_LEN];
	char volumes_dir[PATH_MAX];
	/* The LUN's backing store type: "rdwr" (the volume's device), or
	 * "null" where volumes have no device node (no device-mapper). */
	char bstype[16];
};

struct export_info {
	char iqn[NAME_LEN * 2];
	char chap_user[64];
	char chap_password[64];
};

/* The IQN of a volume's target. */
void tgt_iqn(const struct tgt *t, const char *uuid, char *out, size_t size);

/* Export a volume (idempotent: an existing target is left as it is). The
 * tid is one past the highest; when a worker sharing this tgtd takes it
 * first, the next free one. -ENOTCONN, whatever the step, when tgtd does
 * not answer. */
int tgt_create_export(struct tgt *t, const char *uuid, const char *device,
		      const struct export_info *auth, int *tid_out, struct cf_err *err);

/* Bring back a volume's target as recorded (a tgtd restart lost it):
 * the recorded tid when it is free, else the next free one (*tid_out says
 * which), the same CHAP credentials. Idempotent as tgt_create_export. */
int tgt_restore_export(struct tgt *t, const char *uuid, const char *device,
		       const struct export_info *auth, int want_tid, int *tid_out, struct cf_err *err);

/* Remove it as Cinder does: forced delete, re-check, plain delete, then
 * the account and the target file. A target already gone succeeds. */
int tgt_remove_export(struct tgt *t, const char *uuid, struct cf_err *err);

/* Bring back every target that has a file in volumes_dir but is missing
 * from tgtd (after a tgtd restart). Counts what it restored. */
int tgt_restore(struct tgt *t, int *restored, struct cf_err *err);

/* tgtadm --op show, parsed (exposed for the tests): the target with this
 * IQN, its tid (0 when absent) and its first bound account. */
int tgt_parse_show(const char *text, const char *iqn, int *tid, int *max_tid, char *account,
		   size_t account_size);

/* The initiators logged in to a volume's target (--mode conn --op show):
 * how many sessions, and the first one's initiator name ("" when none).
 * A target that is not there has none. */
int tgt_sessions(struct tgt *t, const char *uuid, int *sessions, char *initiator,
		 size_t initiator_size, struct cf_err *err);
int tgt_parse_sessions(const char *text, int *sessions, char *initiator, size_t initiator_size);

/* After the volume grew (lvextend): LUN 1 of its target deleted and made
 * again on the same backing store, so that tgtd measures the device anew
 * (it reads a LUN's size once, when the LUN is made; tgtadm has no resize
 * and its logicalunit update takes no size). -EBUSY, nothing touched, while
 * an initiator is logged in: pulling the LUN from under a session would
 * fail its I/O. -ENOENT when the volume has no target. */
int tgt_recreate_lun(struct tgt *t, const char *uuid, const char *device, struct cf_err *err);

/* Every target tgtd has, from one --op show: its tid and IQN. */
typedef int (*tgt_target_fn)(void *ctx, int tid, const char *iqn);
int tgt_targets(struct tgt *t, tgt_target_fn fn, void *ctx, struct cf_err *err);
int tgt_parse_targets(const char *text, tgt_target_fn fn, void *ctx);

/* Random CHAP credentials (letters and digits). */
int tgt_random_secret(char *out, size_t len);
