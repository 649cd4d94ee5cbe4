/* The cleaner. One decision per row, taken from that row alone (fix:
 * upstream carried a flag over from the previous row), and every outcome
 * recorded with words an operator can act on. */
#include "cleaner.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "log.h"

/* DEFERRED: a volume whose LV is left for one lvremove with the others
 * (the export and snapshots are done). */
enum outcome { CLEANED, SKIPPED, FAILED, DEFERRED };

struct deferred {
	struct worker_row row;
	struct volume vol;
	size_t snapshots;
	int64_t request_id, job_id;
};

struct batch {
	struct deferred *items;
	size_t count, cap;
};

struct snap_list {
	struct snapshot *items;
	size_t count, cap;
};

static int collect_snapshot(void *ctx, const struct snapshot *snap)
{
	struct snap_list *l = ctx;

	if (array_reserve((void **)&l->items, &l->cap, l->count + 1, sizeof(*l->items)) != 0)
		return -ENOMEM;
	l->items[l->count++] = *snap;
	return 0;
}

/* The end of a volume's delete, once its LV removal answered rc. */
static enum outcome finish_delete(struct cleaner *c, const struct volume *vol, int rc,
				  const struct cf_err *err, size_t snapshots,
				  const struct timespec *now, char *detail, size_t size)
{
	if (rc == -EBUSY) {
		store_set_volume_status(c->st, vol->id, "available", now);
		snprintf(detail, size, "volume set back to available: %.900s",
			 err->msg[0] ? err->msg : "it still has snapshots on the backend");
		return CLEANED;
	}
	if (rc == 0)
		rc = store_mark_volume_deleted(c->st, vol->id, now);
	if (rc) {
		snprintf(detail, size, "deleting volume %s failed: %.900s", vol->id,
			 err->msg[0] ? err->msg : strerror(-rc));
		return FAILED;
	}
	snprintf(detail, size, "volume deleted (driver %s: export removed, %zu snapshot(s) deleted, "
		 "volume removed)", c->drv.ops->name, snapshots);
	return CLEANED;
}

/* Cinder's delete_volume as the cleanup runs it: unexport, delete the
 * snapshots (all must be deleting), remove the volume, mark it deleted.
 * With batching, the removal is left to the batch (DEFERRED). */
static enum outcome delete_volume(struct cleaner *c, const struct volume *vol, bool batching,
				  size_t *snapshots, const struct timespec *now, char *detail,
				  size_t size)
{
	struct snap_list snaps = { 0 };
	struct cf_err err = { "" };
	int rc;

	rc = c->drv.ops->remove_export(c->drv.ctx, vol, &err);
	if (rc) {
		snprintf(detail, size, "removing the export of volume %s failed: %s", vol->id, err.msg);
		return FAILED;
	}
	rc = store_list_volume_snapshots(c->st, vol->id, collect_snapshot, &snaps);
	if (rc) {
		free(snaps.items);
		snprintf(detail, size, "listing the snapshots of volume %s failed: %s", vol->id,
			 strerror(-rc));
		return FAILED;
	}
	for (size_t i = 0; i < snaps.count; i++) {
		if (strcmp(snaps.items[i].status, "deleting") != 0) {
			store_set_volume_status(c->st, vol->id, "error_deleting", now);
			snprintf(detail, size, "volume set to error_deleting: its snapshot %s is %s, "
				 "not deleting", snaps.items[i].id, snaps.items[i].status);
			free(snaps.items);
			return CLEANED;
		}
	}
	for (size_t i = 0; i < snaps.count; i++) {
		rc = c->drv.ops->delete_snapshot(c->drv.ctx, &snaps.items[i], &err);
		if (rc == 0)
			rc = store_mark_snapshot_deleted(c->st, snaps.items[i].id, now);
		if (rc) {
			snprintf(detail, size, "deleting snapshot %s of volume %s failed: %s",
				 snaps.items[i].id, vol->id, err.msg[0] ? err.msg : strerror(-rc));
			free(snaps.items);
			return FAILED;
		}
	}
	free(snaps.items);
	*snapshots = snaps.count;
	if (batching && c->drv.ops->delete_volumes)
		return DEFERRED;
	rc = c->drv.ops->delete_volume(c->drv.ctx, vol, &err);
	return finish_delete(c, vol, rc, &err, snaps.count, now, detail, size);
}

static enum outcome set_status(int rc, const char *what, const char *id, const char *status,
			       char *detail, size_t size)
{
	if (rc) {
		snprintf(detail, size, "setting %s %s to %s failed: %s", what, id, status, strerror(-rc));
		return FAILED;
	}
	snprintf(detail, size, "%s set to %s", what, status);
	return CLEANED;
}

/* Steps 2 and 3 for a claimed row. *drop says whether the row is to be
 * deleted (the operation is over) rather than given back. */
static enum outcome clean_row(struct cleaner *c, const struct worker_row *row, bool batching,
			      struct deferred *later, const struct timespec *now, char *detail,
			      size_t size, bool *drop)
{
	struct cf_err err = { "" };
	int rc;

	*drop = true;
	if (strcmp(row->resource_type, "Volume") == 0) {
		struct volume vol;
		rc = store_get_volume(c->st, row->resource_id, &vol);
		if (rc == -ENOENT) {
			snprintf(detail, size, "the volume is gone: row removed");
			return SKIPPED;
		}
		if (rc) {
			*drop = false;
			snprintf(detail, size, "reading the volume failed: %s", strerror(-rc));
			return FAILED;
		}
		if (strcmp(vol.status, row->status) != 0) {
			snprintf(detail, size, "the volume is %s now, not %s: row removed", vol.status,
				 row->status);
			return SKIPPED;
		}
		if (strcmp(row->status, "creating") == 0)
			return set_status(store_set_volume_status(c->st, vol.id, "error", now), "volume",
					  vol.id, "error", detail, size);
		if (strcmp(row->status, "downloading") == 0) {
			rc = c->drv.ops->clear_download(c->drv.ctx, &vol, &err);
			if (rc) {
				snprintf(detail, size, "clearing the download failed: %s", err.msg);
				return FAILED;
			}
			return set_status(store_set_volume_status(c->st, vol.id, "error", now), "volume",
					  vol.id, "error", detail, size);
		}
		if (strcmp(row->status, "uploading") == 0) {
			const char *to = strcmp(vol.attach_status, "attached") == 0 ? "in-use" : "available";
			return set_status(store_set_volume_status(c->st, vol.id, to, now), "volume",
					  vol.id, to, detail, size);
		}
		if (strcmp(row->status, "deleting") == 0) {
			later->vol = vol;
			return delete_volume(c, &vol, batching, &later->snapshots, now, detail, size);
		}
	} else if (strcmp(row->resource_type, "Snapshot") == 0) {
		struct snapshot snap;
		rc = store_get_snapshot(c->st, row->resource_id, &snap);
		if (rc == -ENOENT) {
			snprintf(detail, size, "the snapshot is gone: row removed");
			return SKIPPED;
		}
		if (rc) {
			*drop = false;
			snprintf(detail, size, "reading the snapshot failed: %s", strerror(-rc));
			return FAILED;
		}
		if (strcmp(snap.status, row->status) != 0) {
			snprintf(detail, size, "the snapshot is %s now, not %s: row removed", snap.status,
				 row->status);
			return SKIPPED;
		}
		if (strcmp(row->status, "creating") == 0)
			return set_status(store_set_snapshot_status(c->st, snap.id, "error", now),
					  "snapshot", snap.id, "error", detail, size);
	}
	*drop = false;
	snprintf(detail, size, "%s status %s is not one cinderfs cleans: row given back",
		 row->resource_type, row->status);
	return SKIPPED;
}

static const char *const outcome_names[] = { "cleaned", "skipped", "failed" };

/* The end of a row: deleted when its operation is over, else given back to
 * its owner and time so a later cleanup finds it again (a row already gone
 * is fine: fix); counted, logged and recorded. */
static int conclude(struct cleaner *c, const struct worker_row *row, enum outcome out, bool drop,
		    const char *detail, int64_t request_id, int64_t job_id,
		    struct cleaner_counts *counts)
{
	struct timespec now;
	int rc = (out == FAILED || !drop) ? store_give_back_row(c->st, row, c->me)
					  : store_delete_row(c->st, row->id);

	if (rc)
		return rc;
	counts->cleaned += out == CLEANED;
	counts->skipped += out == SKIPPED;
	counts->failed += out == FAILED;
	log_msg(out == FAILED ? LOG_LVL_WARNING : LOG_LVL_INFO, "cleanup%s%.0lld: %s %s (%s): %s: %s",
		request_id ? " of request " : "", (long long)request_id, row->resource_type,
		row->resource_id, row->status, outcome_names[out], detail);
	dbtime_now(&now);
	if (request_id)
		store_set_progress(c->st, request_id, job_id, row->resource_type, row->resource_id,
				   outcome_names[out], detail, c->me, &now);
	return 0;
}

/* The LVs of every deferred volume in one removal; if that is refused as
 * busy, one by one, so that only the busy volume stays. */
static int flush_batch(struct cleaner *c, struct batch *b, struct cleaner_counts *counts)
{
	struct volume *vols;
	struct cf_err err = { "" };
	int rc, first = 0;

	if (b->count == 0)
		return 0;
	vols = calloc(b->count, sizeof(*vols));
	if (!vols)
		return -ENOMEM;
	for (size_t i = 0; i < b->count; i++)
		vols[i] = b->items[i].vol;
	log_info("cleanup: removing %zu volume(s) in one batch", b->count);
	rc = c->drv.ops->delete_volumes(c->drv.ctx, vols, b->count, &err);
	free(vols);
	for (size_t i = 0; i < b->count; i++) {
		struct deferred *d = &b->items[i];
		struct cf_err one = err;
		struct timespec now;
		char detail[1024];
		enum outcome out;
		int r = rc;

		if (rc == -EBUSY) {
			one.msg[0] = '\0';
			r = c->drv.ops->delete_volume(c->drv.ctx, &d->vol, &one);
		}
		dbtime_now(&now);
		out = finish_delete(c, &d->vol, r, &one, d->snapshots, &now, detail, sizeof(detail));
		if (first == 0)
			first = conclude(c, &d->row, out, true, detail, d->request_id, d->job_id, counts);
	}
	b->count = 0;
	return first;
}

/* Claim, clean, and delete or give back one row (a deleting volume may be
 * deferred to the batch). request_id 0: no progress to record (own
 * cleanup at start). */
static int handle_row(struct cleaner *c, const struct worker_row *row, int64_t request_id,
		      int64_t job_id, struct batch *batch, struct cleaner_counts *counts)
{
	struct timespec now;
	char detail[1024] = "";
	struct deferred later = { .row = *row, .request_id = request_id, .job_id = job_id };
	enum outcome out;
	bool drop;
	int rc;

	dbtime_now(&now);
	rc = store_claim_row(c->st, row, c->me, &now);
	if (rc == -EAGAIN) {
		counts->skipped++;
		log_info("cleanup: %s %s: claimed by another worker first; skipped",
			 row->resource_type, row->resource_id);
		if (request_id)
			store_set_progress(c->st, request_id, job_id, row->resource_type, row->resource_id,
					   "skipped", "claimed by another worker first", c->me, &now);
		return 0;
	}
	if (rc)
		return rc;
	if (request_id)
		store_set_progress(c->st, request_id, job_id, row->resource_type, row->resource_id,
				   "claimed", NULL, c->me, &now);
	out = clean_row(c, row, batch != NULL, &later, &now, detail, sizeof(detail), &drop);
	if (out == DEFERRED) {
		if (array_reserve((void **)&batch->items, &batch->cap, batch->count + 1,
				  sizeof(*batch->items)) != 0)
			return -ENOMEM;
		batch->items[batch->count++] = later;
		return 0;
	}
	return conclude(c, row, out, drop, detail, request_id, job_id, counts);
}

static int clean_rows(struct cleaner *c, int64_t service_id, const char *type, const char *id,
		      const char *until, int64_t request_id, int64_t job_id,
		      struct cleaner_counts *counts)
{
	struct worker_row *rows = NULL;
	struct batch batch = { 0 };
	size_t n = 0;
	int rc = store_rows_to_clean(c->st, service_id, type, id, until, &rows, &n);

	if (rc)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = handle_row(c, &rows[i], request_id, job_id, &batch, counts);
	/* What was deferred is finished even after an error, so no claimed
	 * row is left behind. */
	if (flush_batch(c, &batch, counts) != 0 && rc == 0)
		rc = -EIO;
	free(batch.items);
	free(rows);
	return rc;
}

int cleaner_run_job(struct cleaner *c, const struct job *job, struct cleaner_counts *counts)
{
	memset(counts, 0, sizeof(*counts));
	return clean_rows(c, job->service_id, job->resource_type[0] ? job->resource_type : NULL,
			  job->resource_id[0] ? job->resource_id : NULL, job->until, job->request_id,
			  job->id, counts);
}

int cleaner_clean_own(struct cleaner *c, const struct timespec *started,
		      struct cleaner_counts *counts)
{
	char until[DBTIME_LEN];

	memset(counts, 0, sizeof(*counts));
	dbtime_format(started, until);
	return clean_rows(c, c->me, NULL, NULL, until, 0, 0, counts);
}
