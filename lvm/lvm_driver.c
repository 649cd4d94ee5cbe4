/* The LVM/tgt driver: each driver step is one LVM or tgt module call. */
#include "lvm_driver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "log.h"

void lvm_driver_init(struct lvm_driver *d, const struct lvm_driver_config *cfg)
{
	memset(d, 0, sizeof(*d));
	d->run.timeout_ms = cfg->command_timeout * 1000;
	d->run.lvm_system_dir = cfg->lvm_system_dir;
	d->lvm.runner = run_system(&d->run);
	snprintf(d->lvm.vg, sizeof(d->lvm.vg), "%s", cfg->volume_group);
	d->lvm.lock = cfg->lock;
	d->tgt.runner = run_system(&d->run);
	d->tgt.control_port = cfg->tgt_control_port;
	snprintf(d->tgt.target_prefix, sizeof(d->tgt.target_prefix), "%s", cfg->target_prefix);
	snprintf(d->tgt.volumes_dir, sizeof(d->tgt.volumes_dir), "%s", cfg->volumes_dir);
	snprintf(d->tgt.bstype, sizeof(d->tgt.bstype), "%s", cfg->bstype);
	d->exports = strcmp(cfg->target_helper, "tgtadm") == 0;
	snprintf(d->target_ip_address, sizeof(d->target_ip_address), "%s",
		 cfg->target_ip_address ? cfg->target_ip_address : "127.0.0.1");
	d->target_port = cfg->target_port ? cfg->target_port : 3260;
}

void lvm_driver_device(const struct lvm_driver *d, const char *uuid, char *out, size_t size)
{
	snprintf(out, size, "/dev/%s/volume-%s", d->lvm.vg, uuid);
}

/* Ready when the volume group is there and, with exports, tgtd answers:
 * then the targets that tgtd lost (a restart) come back. */
static int drv_start(void *ctx, struct cf_err *err)
{
	struct lvm_driver *d = ctx;
	uint64_t size, free_bytes;
	int restored, rc = lvm_vg_space(&d->lvm, &size, &free_bytes, err);

	if (rc)
		return rc;
	log_info("volume group %s: %llu MiB, %llu MiB free", d->lvm.vg,
		 (unsigned long long)(size >> 20), (unsigned long long)(free_bytes >> 20));
	if (!d->exports)
		return 0;
	rc = tgt_restore(&d->tgt, &restored, err);
	if (rc == 0 && restored)
		log_info("restored %d iSCSI target(s) from %s", restored, d->tgt.volumes_dir);
	return rc;
}

static int drv_delete_volume(void *ctx, const struct volume *vol, struct cf_err *err)
{
	struct lvm_driver *d = ctx;
	const char *const ids[] = { vol->id };
	return lvm_delete_volumes(&d->lvm, ids, 1, err);
}

/* One lvremove takes this many LVs: its command line stays well within
 * the kernel's argument limit, and a busy one costs a retry of few. */
#define LVM_BATCH_MAX 64

static int drv_delete_volumes(void *ctx, const struct volume *vols, size_t count,
			      struct cf_err *err)
{
	struct lvm_driver *d = ctx;
	const char *ids[LVM_BATCH_MAX];

	if (count > LVM_BATCH_MAX)
		return err_set(err, E2BIG, "at most %d volumes in one batch", LVM_BATCH_MAX);
	for (size_t i = 0; i < count; i++)
		ids[i] = vols[i].id;
	return lvm_delete_volumes(&d->lvm, ids, count, err);
}

static int drv_delete_snapshot(void *ctx, const struct snapshot *snap, struct cf_err *err)
{
	struct lvm_driver *d = ctx;
	return lvm_delete_snapshot(&d->lvm, snap->id, err);
}

static int drv_remove_export(void *ctx, const struct volume *vol, struct cf_err *err)
{
	struct lvm_driver *d = ctx;
	return d->exports ? tgt_remove_export(&d->tgt, vol->id, err) : 0;
}

/* LVM volumes hold no half-downloaded state of their own (Cinder's LVM
 * driver clears nothing either). */
static int drv_clear_download(void *ctx, const struct volume *vol, struct cf_err *err)
{
	(void)ctx;
	(void)vol;
	(void)err;
	return 0;
}

static int drv_create_snapshot(void *ctx, const struct snapshot *snap, const struct volume *vol,
			       struct cf_err *err)
{
	struct lvm_driver *d = ctx;
	return lvm_create_snapshot(&d->lvm, snap->id, vol->id, vol->size, err);
}

static int drv_create_volume(void *ctx, const struct volume *vol, struct cf_err *err)
{
	struct lvm_driver *d = ctx;
	return lvm_create_volume(&d->lvm, vol->id, vol->size, err);
}

/* lvextend, then LUN 1 made again so that tgtd reads the new size (Cinder
 * relies on the initiator's rescan, which cannot see a size tgtd never
 * re-reads). An initiator logged in stops it before anything changes:
 * the LUN would vanish under its I/O. One that logs in between the look
 * and the LUN's renewal makes the renewal fail (tgtd refuses to delete a
 * LUN with commands in flight), after the LV has grown. */
static int drv_extend_volume(void *ctx, const struct volume *vol, long long new_size,
			     struct cf_err *err)
{
	struct lvm_driver *d = ctx;
	char device[NAME_LEN * 2], initiator[256];
	int sessions = 0, rc;

	if (d->exports) {
		rc = tgt_sessions(&d->tgt, vol->id, &sessions, initiator, sizeof(initiator), err);
		if (rc)
			return rc;
		if (sessions)
			return err_set(err, EBUSY, "Volume %s was not extended: %d initiator(s) logged "
				       "in to its target (%s); its LUN cannot be renewed under a "
				       "session. Log out, then write the size again.", vol->id,
				       sessions, initiator);
	}
	rc = lvm_extend_volume(&d->lvm, vol->id, new_size, err);
	if (rc || !d->exports || !vol->provider_location[0])
		return rc;
	lvm_driver_device(d, vol->id, device, sizeof(device));
	rc = tgt_recreate_lun(&d->tgt, vol->id, device, err);
	if (rc) {
		char words[sizeof(err->msg)];
		snprintf(words, sizeof(words), "%s", err->msg);
		/* -EBUSY here is after the LV grew: not "nothing changed". */
		return err_set(err, rc == -EBUSY ? EIO : -rc, "the LV of volume %s grew to %lld GiB, "
			       "but its LUN still shows the old size: %.800s", vol->id, new_size, words);
	}
	return 0;
}

/* Cinder's provider_location ("ip:port,tid iqn lun") and provider_auth
 * ("CHAP user secret"), with fresh CHAP credentials. */
static int drv_create_export(void *ctx, const struct volume *vol, char *location,
			     size_t location_size, char *auth, size_t auth_size, struct cf_err *err)
{
	struct lvm_driver *d = ctx;
	struct export_info info = { "", "", "" };
	char device[NAME_LEN * 2], iqn[NAME_LEN * 2];
	int tid = 0, rc;

	location[0] = auth[0] = '\0';
	if (!d->exports)
		return 0;
	if (tgt_random_secret(info.chap_user, 21) || tgt_random_secret(info.chap_password, 17))
		return err_set(err, EIO, "cannot make CHAP credentials: no randomness");
	lvm_driver_device(d, vol->id, device, sizeof(device));
	rc = tgt_create_export(&d->tgt, vol->id, device, &info, &tid, err);
	if (rc)
		return rc;
	tgt_iqn(&d->tgt, vol->id, iqn, sizeof(iqn));
	snprintf(location, location_size, "%s:%d,%d %s 1", d->target_ip_address, d->target_port, tid, iqn);
	snprintf(auth, auth_size, "CHAP %s %s", info.chap_user, info.chap_password);
	return 0;
}

/* The IQNs tgtd serves now, from one look. */
struct live_targets {
	char (*iqns)[NAME_LEN * 2];
	size_t count, cap;
};

static int note_target(void *ctx, int tid, const char *iqn)
{
	struct live_targets *live = ctx;

	(void)tid;
	if (array_reserve((void **)&live->iqns, &live->cap, live->count + 1, sizeof(*live->iqns)) != 0)
		return -ENOMEM;
	snprintf(live->iqns[live->count++], NAME_LEN * 2, "%s", iqn);
	return 0;
}

static bool is_live(const struct live_targets *live, const char *iqn)
{
	for (size_t i = 0; i < live->count; i++)
		if (strcmp(live->iqns[i], iqn) == 0)
			return true;
	return false;
}

/* One export back as the database recorded it: provider_auth gives the
 * CHAP credentials, provider_location the tid (kept when still free). */
static int restore_one(struct lvm_driver *d, struct export_record *rec, struct cf_err *err)
{
	struct export_info auth = { "", "", "" };
	char device[NAME_LEN * 2], iqn[NAME_LEN * 2], portal[128], method[16];
	int tid = 0, want_tid = 0, rc;

	if (sscanf(rec->provider_auth, "%15s %63s %63s", method, auth.chap_user, auth.chap_password) != 3 ||
	    strcmp(method, "CHAP") != 0)
		return err_set(err, EINVAL, "volume %s: provider_auth is not 'CHAP user secret'; its "
			       "target is not restored", rec->volume_id);
	if (sscanf(rec->provider_location, "%127[^,],%d", portal, &want_tid) != 2)
		want_tid = 0;
	lvm_driver_device(d, rec->volume_id, device, sizeof(device));
	rc = tgt_restore_export(&d->tgt, rec->volume_id, device, &auth, want_tid, &tid, err);
	if (rc)
		return rc;
	rec->restored = true;
	if (tid != want_tid) {
		char location[NAME_LEN * 3];
		tgt_iqn(&d->tgt, rec->volume_id, iqn, sizeof(iqn));
		snprintf(location, sizeof(location), "%s:%d,%d %s 1", d->target_ip_address,
			 d->target_port, tid, iqn);
		if (strlen(location) >= sizeof(rec->new_location))
			return err_set(err, ENAMETOOLONG, "volume %s: its new provider_location is "
				       "longer than %zu bytes", rec->volume_id, sizeof(rec->new_location) - 1);
		memcpy(rec->new_location, location, strlen(location) + 1);
	}
	return 0;
}

static int drv_restore_exports(void *ctx, struct export_record *recs, size_t count, int *restored,
			       struct cf_err *err)
{
	struct lvm_driver *d = ctx;
	struct live_targets live = { NULL, 0, 0 };
	int rc = 0;

	*restored = 0;
	if (!d->exports || count == 0)
		return 0;
	rc = tgt_targets(&d->tgt, note_target, &live, err);
	for (size_t i = 0; rc == 0 && i < count; i++) {
		char iqn[NAME_LEN * 2];
		struct cf_err why = { "" };
		int r;

		recs[i].restored = false;
		recs[i].new_location[0] = '\0';
		tgt_iqn(&d->tgt, recs[i].volume_id, iqn, sizeof(iqn));
		if (is_live(&live, iqn))
			continue;
		r = restore_one(d, &recs[i], &why);
		if (r == 0) {
			(*restored)++;
		} else if (r == -ENOTCONN) {
			rc = err_set(err, ENOTCONN, "%s", why.msg); /* gone again: stop here */
		} else {
			/* One volume's trouble does not keep the others' back. */
			log_warning("restoring the target of volume %s failed: %s", recs[i].volume_id,
				    why.msg);
		}
	}
	free(live.iqns);
	return rc;
}

static int drv_capacity(void *ctx, char *name, size_t name_size, unsigned long long *size,
			unsigned long long *free_bytes, struct cf_err *err)
{
	struct lvm_driver *d = ctx;
	uint64_t s, f;
	int rc = lvm_vg_space(&d->lvm, &s, &f, err);

	if (rc)
		return rc;
	snprintf(name, name_size, "%s", d->lvm.vg);
	*size = s;
	*free_bytes = f;
	return 0;
}

static const struct driver_ops lvm_driver_ops = {
	.name = "lvm",
	.start = drv_start,
	.delete_volume = drv_delete_volume,
	.delete_volumes = drv_delete_volumes,
	.batch_max = LVM_BATCH_MAX,
	.delete_snapshot = drv_delete_snapshot,
	.remove_export = drv_remove_export,
	.clear_download = drv_clear_download,
	.create_volume = drv_create_volume,
	.create_snapshot = drv_create_snapshot,
	.create_export = drv_create_export,
	.restore_exports = drv_restore_exports,
	.extend_volume = drv_extend_volume,
	.capacity = drv_capacity,
};

struct driver lvm_driver(struct lvm_driver *d)
{
	return (struct driver){ &lvm_driver_ops, d };
}
