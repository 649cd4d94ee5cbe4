/* The cleaner. One decision per row, taken from that row alone (fix:
 * upstream carried a flag over from the previous row), and every outcome
 * recorded with words an operator can act on.
 *
 * A row costs two short write transactions: the claim, and its end (the
 * resource's changes, the row deleted or given back, the progress), which
 * commits only while the claim is still ours. Nothing is written while a
 * storage command runs, so the database's write lock is never held across
 * one, and a worker that lost its row (it could not heartbeat, a peer took
 * the row) abandons it instead of writing over the peer's result. */
#include "cleaner.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "log.h"
#include "removal.h"

/* SKIPPED: the resource moved on (gone, another status, nothing to clean)
 * and the row is removed. REFUSED: cinderfs will not clean it here (another
 * backend's volume) and the row is given back. DEFERRED: a volume whose LV
 * is left for one lvremove with the others (export and snapshots done). */
enum outcome { CLEANED, SKIPPED, FAILED, REFUSED, DEFERRED };

/* What a row's end changes in the database, gathered while the row is
 * worked on and written in its end's transaction. */
struct changes {
	struct store_change *items;
	size_t count, cap;
	bool oom;
};

static void change(struct changes *ch, enum store_change_kind kind, const char *id,
		   const char *status)
{
	struct store_change *c;

	if (array_reserve((void **)&ch->items, &ch->cap, ch->count + 1, sizeof(*ch->items)) != 0) {
		ch->oom = true;
		return;
	}
	c = &ch->items[ch->count++];
	c->kind = kind;
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->status, sizeof(c->status), "%s", status ? status : "");
}

struct deferred {
	struct worker_row row;
	struct volume vol;
	size_t snapshots;
	int64_t request_id, job_id;
	bool scheduler; /* the row is a cinder-scheduler's */
	struct changes ch;
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
				  const struct cf_err *err, size_t snapshots, struct changes *ch,
				  char *detail, size_t size)
{
	if (rc == -EBUSY) {
		change(ch, CHANGE_VOLUME_STATUS, vol->id, "available");
		snprintf(detail, size, "volume set back to available: %.900s",
			 err->msg[0] ? err->msg : "it still has snapshots on the backend");
		return CLEANED;
	}
	if (rc) {
		snprintf(detail, size, "deleting volume %s failed: %.900s", vol->id,
			 err->msg[0] ? err->msg : strerror(-rc));
		return FAILED;
	}
	change(ch, CHANGE_VOLUME_DELETED, vol->id, NULL);
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
				  size_t *snapshots, struct changes *ch, char *detail, size_t size)
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
	 * before it stay deleted. A snapshot removed on the backend is marked
	 * deleted whatever becomes of the volume. */
	for (size_t i = 0; i < snaps.count; i++) {
		if (strcmp(snaps.items[i].status, "deleting") != 0) {
			change(ch, CHANGE_VOLUME_STATUS, vol->id, "error_deleting");
			snprintf(detail, size, "volume set to error_deleting: its snapshot %s is %s, "
				 "not deleting (%zu snapshot(s) %s before it)", snaps.items[i].id,
				 snaps.items[i].status, i,
				 c->drv.ops->database_only ? "marked deleted" : "deleted");
			free(snaps.items);
			return CLEANED;
		}
		rc = c->drv.ops->delete_snapshot(c->drv.ctx, &snaps.items[i], &err);
		if (rc) {
			snprintf(detail, size, "deleting snapshot %s of volume %s failed: %.700s (%zu "
				 "snapshot(s) deleted before it stay deleted)", snaps.items[i].id, vol->id,
				 err.msg[0] ? err.msg : strerror(-rc), i);
			free(snaps.items);
			return FAILED;
		}
		change(ch, CHANGE_SNAPSHOT_DELETED, snaps.items[i].id, NULL);
	}
	free(snaps.items);
	*snapshots = snaps.count;
	if (batching && c->drv.ops->delete_volumes)
		return DEFERRED;
	rc = c->drv.ops->delete_volume(c->drv.ctx, vol, &err);
	return finish_delete(c, vol, rc, &err, snaps.count, ch, detail, size);
}

static enum outcome set_status(struct changes *ch, enum store_change_kind kind, const char *what,
			       const char *id, const char *status, char *detail, size_t size)
{
	change(ch, kind, id, status);
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
static enum outcome clean_scheduler_row(const struct worker_row *row, struct changes *ch,
					char *detail, size_t size)
{
	if (strcmp(row->resource_type, "Volume") == 0 && strcmp(row->status, "creating") == 0)
		return set_status(ch, CHANGE_VOLUME_STATUS, "volume", row->resource_id, "error", detail,
				  size);
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
				 struct deferred *later, char *detail, size_t size, bool *drop)
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
		return clean_scheduler_row(row, &later->ch, detail, size);
	if (strcmp(vol.status, "creating") && strcmp(vol.status, "downloading") &&
	    strcmp(vol.status, "uploading") && strcmp(vol.status, "deleting"))
		return no_cleanup_needed("volume", vol.status, detail, size);
	out = refuse_foreign(c, "volume", vol.id, vol.host, vol.cluster_name, detail, size, drop);
	if (out != CLEANED)
		return out;
	if (strcmp(vol.status, "creating") == 0)
		return set_status(&later->ch, CHANGE_VOLUME_STATUS, "volume", vol.id, "error", detail,
				  size);
	if (strcmp(vol.status, "downloading") == 0) {
		rc = c->drv.ops->clear_download(c->drv.ctx, &vol, &err);
		if (rc) {
			snprintf(detail, size, "clearing the download failed: %s", err.msg);
			return FAILED;
		}
		return set_status(&later->ch, CHANGE_VOLUME_STATUS, "volume", vol.id, "error", detail,
				  size);
	}
	if (strcmp(vol.status, "uploading") == 0) {
		const char *to = strcmp(vol.attach_status, "attached") == 0 ? "in-use" : "available";
		return set_status(&later->ch, CHANGE_VOLUME_STATUS, "volume", vol.id, to, detail, size);
	}
	if (strcmp(vol.attach_status, "attached") == 0) {
		/* Cinder's delete_volume refuses an attached volume
		 * (VolumeAttached): deleting it would pull storage from under
		 * its user. */
		*drop = false;
		snprintf(detail, size, "volume %s is attached: it is not deleted while attached (detach "
			 "it, then clean again): row given back", vol.id);
		return REFUSED;
	}
	later->vol = vol;
	return delete_volume(c, &vol, batching, &later->snapshots, &later->ch, detail, size);
}

static enum outcome clean_snapshot(struct cleaner *c, const struct worker_row *row,
				   bool scheduler, struct changes *ch, char *detail, size_t size,
				   bool *drop)
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
		return clean_scheduler_row(row, ch, detail, size);
	if (strcmp(snap.status, "creating") == 0)
		return set_status(ch, CHANGE_SNAPSHOT_STATUS, "snapshot", snap.id, "error", detail, size);
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
	change(ch, CHANGE_SNAPSHOT_DELETED, snap.id, NULL);
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
			      struct deferred *later, char *detail, size_t size, bool *drop)
{
	*drop = true;
	if (strcmp(row->resource_type, "Volume") == 0)
		return clean_volume(c, row, batching, later, detail, size, drop);
	if (strcmp(row->resource_type, "Snapshot") == 0)
		return clean_snapshot(c, row, later->scheduler, &later->ch, detail, size, drop);
	/* A type cinderfs does not know: nothing to act on, and, as a row in
	 * a status that needs no cleanup, removed rather than given back to
	 * be claimed by every later cleanup. */
	snprintf(detail, size, "resource type %s is not one cinderfs cleans: row removed",
		 row->resource_type);
	return SKIPPED;
}

static const char *const outcome_names[] = { "cleaned", "skipped", "failed", "refused" };

/* The end of a row: deleted when its operation is over, else given back to
 * its owner and time so a later cleanup finds it again (a row already gone
 * is fine: fix); the resource's changes with it, all in one transaction
 * that holds only while the claim is still ours. Counted, logged. */
static int conclude(struct cleaner *c, const struct worker_row *row, enum outcome out, bool drop,
		    const struct changes *ch, const char *detail, int64_t request_id,
		    int64_t job_id, struct cleaner_counts *counts)
{
	struct row_end e = {
		.row = row, .me = c->me,
		.drop = drop && out != FAILED && out != REFUSED,
		.changes = ch->items, .n_changes = ch->count,
		.request_id = request_id, .job_id = job_id,
		.state = outcome_names[out], .detail = detail,
	};
	struct timespec now;
	int64_t holder = 0;
	int rc;

	if (ch->oom)
		return -ENOMEM;
	dbtime_now(&now);
	rc = store_end_row(c->st, &e, &now, &holder);
	if (rc == -ESTALE) {
		/* Lost while we worked on it (a peer claimed it after our
		 * heartbeat failed, or its owner came back): the other's
		 * result stands. */
		char why[160];
		if (holder)
			snprintf(why, sizeof(why), "abandoned: worker %lld holds the row now; its result "
				 "stands", (long long)holder);
		else
			snprintf(why, sizeof(why), "abandoned: the row was removed meanwhile (cleaned by "
				 "another worker or its owner)");
		log_warning("cleanup%s%.0lld: %s %s (%s): %s", request_id ? " of request " : "",
			    (long long)request_id, row->resource_type, row->resource_id, row->status, why);
		counts->skipped++;
		if (request_id && store_note_progress(c->st, request_id, job_id, row->resource_type,
						      row->resource_id, "skipped", why, c->me, &now) != 0)
			log_warning("cleanup of request %lld: could not note %s %s as abandoned (its "
				    "job's end settles it)", (long long)request_id, row->resource_type,
				    row->resource_id);
		return 0;
	}
	if (rc)
		return rc;
	counts->cleaned += out == CLEANED;
	counts->skipped += out == SKIPPED;
	counts->failed += out == FAILED;
	counts->refused += out == REFUSED;
	log_msg(out == FAILED || out == REFUSED ? LOG_LVL_WARNING : LOG_LVL_INFO,
		"cleanup%s%.0lld: %s %s (%s): %s: %s", request_id ? " of request " : "",
		(long long)request_id, row->resource_type, row->resource_id, row->status,
		outcome_names[out], detail);
	return 0;
}

/* The LVs of the deferred volumes, through the removal path the mount's
 * deletes share (batches as the driver takes them, one by one on any
 * failure); then each row's end. */
static int flush_batch(struct cleaner *c, struct batch *b, struct cleaner_counts *counts)
{
	struct volume *vols;
	struct removal *done;
	int first = 0;

	if (b->count == 0)
		return 0;
	vols = calloc(b->count, sizeof(*vols));
	done = calloc(b->count, sizeof(*done));
	if (!vols || !done) {
		free(vols);
		free(done);
		return -ENOMEM;
	}
	for (size_t i = 0; i < b->count; i++)
		vols[i] = b->items[i].vol;
	removal_run(&c->drv, vols, b->count, done);
	for (size_t i = 0; i < b->count; i++) {
		struct deferred *d = &b->items[i];
		char detail[1024];
		enum outcome out = finish_delete(c, &d->vol, done[i].rc, &done[i].err, d->snapshots,
						 &d->ch, detail, sizeof(detail));
		int r = conclude(c, &d->row, out, true, &d->ch, detail, d->request_id, d->job_id,
				 counts);
		if (first == 0)
			first = r;
		free(d->ch.items);
	}
	free(vols);
	free(done);
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
	rc = store_claim_row(c->st, row, c->me, request_id, job_id, &now);
	if (rc == -EAGAIN) {
		counts->skipped++;
		log_info("cleanup: %s %s: claimed by another worker first; skipped",
			 row->resource_type, row->resource_id);
		if (request_id && store_note_progress(c->st, request_id, job_id, row->resource_type,
						      row->resource_id, "skipped",
						      "claimed by another worker first", c->me, &now) != 0)
			log_warning("cleanup of request %lld: could not note %s %s as claimed first "
				    "by another worker (its job's end settles it)", (long long)request_id,
				    row->resource_type, row->resource_id);
		return 0;
	}
	if (rc)
		return rc;
	out = clean_row(c, row, batch != NULL, &later, detail, sizeof(detail), &drop);
	if (out == DEFERRED) {
		if (array_reserve((void **)&batch->items, &batch->cap, batch->count + 1,
				  sizeof(*batch->items)) != 0) {
			free(later.ch.items);
			return -ENOMEM;
		}
		batch->items[batch->count++] = later;
		return 0;
	}
	rc = conclude(c, row, out, drop, &later.ch, detail, request_id, job_id, counts);
	free(later.ch.items);
	return rc;
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
	for (size_t i = 0; i < n && rc == 0; i++) {
		bool mine = true, cancelled = false;
		/* Before each row: an admin's cancel stops the job, and so does
		 * the job having gone to another worker (this one was seen as
		 * down while stalled): the new taker goes on from here. */
		if (job_id && store_job_hold(c->st, job_id, c->me, &mine, &cancelled) == 0) {
			if (cancelled) {
				rc = -ECANCELED;
				break;
			}
			if (!mine) {
				log_warning("cleanup of request %lld: job %lld went to another worker "
					    "while this one was seen as down; stopping it here",
					    (long long)request_id, (long long)job_id);
				rc = -ESTALE;
				break;
			}
		}
		rc = handle_row(c, &rows[i], request_id, job_id, scheduler, &batch, counts);
	}
	/* What was deferred is finished even after an error, so no claimed
	 * row is left behind. */
	{
		int frc = flush_batch(c, &batch, counts);
		if (frc && rc == 0)
			rc = frc;
	}
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
