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

/* SKIPPED: the resource moved on (gone, another status, nothing to clean)
 * and the row is removed. REFUSED: cinderfs will not clean it here (another
 * backend's volume) and the row is given back. DEFERRED: a volume whose LV
 * is left for one lvremove with the others (export and snapshots done). */
enum outcome { CLEANED, SKIPPED, FAILED, REFUSED, DEFERRED };

struct deferred {
	struct worker_row row;
	struct volume vol;
	size_t snapshots;
	int64_t request_id, job_id;
	bool scheduler; /* the row is a cinder-scheduler's */
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
	if (c->drv.ops->database_only)
		snprintf(detail, size, "volume marked deleted (no storage driver: nothing was removed "
			 "on a backend; %zu snapshot(s) marked deleted)", snapshots);
	else
		snprintf(detail, size, "volume deleted (driver %s: export removed, %zu snapshot(s) "
			 "deleted, volume removed)", c->drv.ops->name, snapshots);
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
	/* Cinder's cascade: the snapshots in turn, each of which must be
	 * deleting; the first that is not stops it there, and those deleted
	 * before it stay deleted. */
	for (size_t i = 0; i < snaps.count; i++) {
		if (strcmp(snaps.items[i].status, "deleting") != 0) {
			rc = store_set_volume_status(c->st, vol->id, "error_deleting", now);
			if (rc) {
				snprintf(detail, size, "setting volume %s to error_deleting failed: %s",
					 vol->id, strerror(-rc));
				free(snaps.items);
				return FAILED;
			}
			snprintf(detail, size, "volume set to error_deleting: its snapshot %s is %s, "
				 "not deleting (%zu snapshot(s) deleted before it)", snaps.items[i].id,
				 snaps.items[i].status, i);
			free(snaps.items);
			return CLEANED;
		}
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

/* Whether a resource on `host` (Cinder's host@backend#pool) and
 * `cluster_name` is on this worker's backend. A resource with no host is
 * on no other backend. The answer for the last host is kept: a cleanup's
 * rows mostly share one. */
static int on_my_backend(struct cleaner *c, const char *host, const char *cluster_name, bool *mine)
{
	char h[NAME_LEN], cl[NAME_LEN];
	int rc;

	if (!host[0]) {
		*mine = true;
		return 0;
	}
	snprintf(h, sizeof(h), "%.*s", (int)strcspn(host, "#"), host);
	snprintf(cl, sizeof(cl), "%.*s", (int)strcspn(cluster_name, "#"), cluster_name);
	if (c->backend_cache_valid && strcmp(c->backend_cache_host, h) == 0 &&
	    strcmp(c->backend_cache_cluster, cl) == 0) {
		*mine = c->backend_cache_mine;
		return 0;
	}
	rc = store_backend_is_mine(c->st, c->me, h, cl, mine);
	if (rc)
		return rc;
	snprintf(c->backend_cache_host, sizeof(c->backend_cache_host), "%s", h);
	snprintf(c->backend_cache_cluster, sizeof(c->backend_cache_cluster), "%s", cl);
	c->backend_cache_mine = *mine;
	c->backend_cache_valid = true;
	return 0;
}

/* Cinder refuses to act on another backend's resource ("not local"). With
 * LVM it matters twice: an absent LV counts as removed, so another
 * backend's volume would be marked deleted and its LV left behind. */
static enum outcome refuse_foreign(struct cleaner *c, const char *what, const char *id,
				   const char *host, const char *cluster_name, char *detail,
				   size_t size, bool *drop)
{
	bool mine = true;
	int rc = on_my_backend(c, host, cluster_name, &mine);

	if (rc) {
		*drop = false;
		snprintf(detail, size, "checking the backend of %s %s failed: %s", what, id,
			 strerror(-rc));
		return FAILED;
	}
	if (mine)
		return CLEANED; /* go on */
	*drop = false;
	snprintf(detail, size, "%s %s is on host %s, not this worker's backend (worker %lld, its "
		 "host or a host of its cluster): row given back, nothing done", what, id, host,
		 (long long)c->me);
	return REFUSED;
}

/* A scheduler's rows, as Cinder's scheduler cleans them: a volume it was
 * placing (creating) goes to error; nothing else is touched. */
static enum outcome clean_scheduler_row(struct cleaner *c, const struct worker_row *row,
					const struct timespec *now, char *detail, size_t size)
{
	if (strcmp(row->resource_type, "Volume") == 0 && strcmp(row->status, "creating") == 0)
		return set_status(store_set_volume_status(c->st, row->resource_id, "error", now),
				  "volume", row->resource_id, "error", detail, size);
	snprintf(detail, size, "a cinder-scheduler's %s row in %s: the scheduler's cleanup only "
		 "sets creating volumes to error; row removed", row->resource_type, row->status);
	return SKIPPED;
}

static enum outcome no_cleanup_needed(const char *what, const char *status, char *detail,
				      size_t size)
{
	/* Removed, never given back: every later cleanup would claim it
	 * again (Cinder removes it too). */
	snprintf(detail, size, "the %s is %s, which needs no cleanup: row removed", what, status);
	return SKIPPED;
}

static enum outcome clean_volume(struct cleaner *c, const struct worker_row *row, bool batching,
				 struct deferred *later, const struct timespec *now, char *detail,
				 size_t size, bool *drop)
{
	struct cf_err err = { "" };
	struct volume vol;
	enum outcome out;
	int rc = store_get_volume(c->st, row->resource_id, &vol);

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
	if (later->scheduler)
		return clean_scheduler_row(c, row, now, detail, size);
	if (strcmp(vol.status, "creating") && strcmp(vol.status, "downloading") &&
	    strcmp(vol.status, "uploading") && strcmp(vol.status, "deleting"))
		return no_cleanup_needed("volume", vol.status, detail, size);
	out = refuse_foreign(c, "volume", vol.id, vol.host, vol.cluster_name, detail, size, drop);
	if (out != CLEANED)
		return out;
	if (strcmp(vol.status, "creating") == 0)
		return set_status(store_set_volume_status(c->st, vol.id, "error", now), "volume",
				  vol.id, "error", detail, size);
	if (strcmp(vol.status, "downloading") == 0) {
		rc = c->drv.ops->clear_download(c->drv.ctx, &vol, &err);
		if (rc) {
			snprintf(detail, size, "clearing the download failed: %s", err.msg);
			return FAILED;
		}
		return set_status(store_set_volume_status(c->st, vol.id, "error", now), "volume",
				  vol.id, "error", detail, size);
	}
	if (strcmp(vol.status, "uploading") == 0) {
		const char *to = strcmp(vol.attach_status, "attached") == 0 ? "in-use" : "available";
		return set_status(store_set_volume_status(c->st, vol.id, to, now), "volume", vol.id,
				  to, detail, size);
	}
	later->vol = vol;
	return delete_volume(c, &vol, batching, &later->snapshots, now, detail, size);
}

static enum outcome clean_snapshot(struct cleaner *c, const struct worker_row *row,
				   bool scheduler, const struct timespec *now, char *detail,
				   size_t size, bool *drop)
{
	struct cf_err err = { "" };
	struct snapshot snap;
	struct volume vol;
	enum outcome out;
	int rc = store_get_snapshot(c->st, row->resource_id, &snap);

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
	if (scheduler)
		return clean_scheduler_row(c, row, now, detail, size);
	if (strcmp(snap.status, "creating") == 0)
		return set_status(store_set_snapshot_status(c->st, snap.id, "error", now),
				  "snapshot", snap.id, "error", detail, size);
	if (strcmp(snap.status, "deleting") != 0)
		return no_cleanup_needed("snapshot", snap.status, detail, size);
	/* Deleting: finished in full (fix: Cinder removes the row and leaves
	 * the snapshot deleting for ever). Only on its volume's backend. */
	rc = store_get_volume(c->st, snap.volume_id, &vol);
	if (rc && rc != -ENOENT) {
		*drop = false;
		snprintf(detail, size, "reading volume %s of the snapshot failed: %s", snap.volume_id,
			 strerror(-rc));
		return FAILED;
	}
	if (rc == 0) {
		out = refuse_foreign(c, "snapshot", snap.id, vol.host, vol.cluster_name, detail, size,
				     drop);
		if (out != CLEANED)
			return out;
	}
	rc = c->drv.ops->delete_snapshot(c->drv.ctx, &snap, &err);
	if (rc) {
		snprintf(detail, size, "deleting snapshot %s failed: %s", snap.id, err.msg);
		return FAILED;
	}
	rc = store_mark_snapshot_deleted(c->st, snap.id, now);
	if (rc) {
		snprintf(detail, size, "marking snapshot %s deleted failed: %s", snap.id, strerror(-rc));
		return FAILED;
	}
	if (c->drv.ops->database_only)
		snprintf(detail, size, "snapshot marked deleted (no storage driver: nothing was "
			 "removed on a backend)");
	else
		snprintf(detail, size, "snapshot deleted (driver %s: snapshot removed)",
			 c->drv.ops->name);
	return CLEANED;
}

/* Steps 2 and 3 for a claimed row. *drop says whether the row is to be
 * deleted (the operation is over) rather than given back. */
static enum outcome clean_row(struct cleaner *c, const struct worker_row *row, bool batching,
			      struct deferred *later, const struct timespec *now, char *detail,
			      size_t size, bool *drop)
{
	*drop = true;
	if (strcmp(row->resource_type, "Volume") == 0)
		return clean_volume(c, row, batching, later, now, detail, size, drop);
	if (strcmp(row->resource_type, "Snapshot") == 0)
		return clean_snapshot(c, row, later->scheduler, now, detail, size, drop);
	/* A type cinderfs does not know: not its to touch. */
	*drop = false;
	snprintf(detail, size, "resource type %s is not one cinderfs cleans: row given back",
		 row->resource_type);
	return REFUSED;
}

static const char *const outcome_names[] = { "cleaned", "skipped", "failed", "refused" };

/* The end of a row: deleted when its operation is over, else given back to
 * its owner and time so a later cleanup finds it again (a row already gone
 * is fine: fix); counted, logged and recorded. */
static int conclude(struct cleaner *c, const struct worker_row *row, enum outcome out, bool drop,
		    const char *detail, int64_t request_id, int64_t job_id,
		    struct cleaner_counts *counts)
{
	struct timespec now;
	int rc = (out == FAILED || out == REFUSED || !drop) ? store_give_back_row(c->st, row, c->me)
							    : store_delete_row(c->st, row->id);

	if (rc)
		return rc;
	counts->cleaned += out == CLEANED;
	counts->skipped += out == SKIPPED;
	counts->failed += out == FAILED;
	counts->refused += out == REFUSED;
	log_msg(out == FAILED || out == REFUSED ? LOG_LVL_WARNING : LOG_LVL_INFO, "cleanup%s%.0lld: %s %s (%s): %s: %s",
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
		      int64_t job_id, bool scheduler, struct batch *batch,
		      struct cleaner_counts *counts)
{
	struct timespec now;
	char detail[1024] = "";
	struct deferred later = { .row = *row, .request_id = request_id, .job_id = job_id,
				  .scheduler = scheduler };
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
	char binary[NAME_LEN];
	bool scheduler;
	size_t n = 0;
	int rc = store_service_binary(c->st, service_id, binary);

	if (rc)
		return rc;
	/* A scheduler's rows are cleaned as Cinder's scheduler does. */
	scheduler = strcmp(binary, BINARY_SCHEDULER) == 0;
	c->backend_cache_valid = false;
	rc = store_rows_to_clean(c->st, service_id, type, id, until, &rows, &n);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = handle_row(c, &rows[i], request_id, job_id, scheduler, &batch, counts);
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
