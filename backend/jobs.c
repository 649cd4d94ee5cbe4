/* The backend thread's loop. Jobs queued by any daemon sharing the file are
 * found by polling an index of queued jobs (one cheap query); jobs queued by
 * this daemon wake it at once. */
#include "jobs.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleaner.h"
#include "dbtime.h"
#include "log.h"
#include "store.h"

struct jobs {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping, woken;
	struct jobs_config cfg;
	char cluster_name[NAME_LEN];
	struct store *st;
};

static void own_cleanup(struct jobs *j, struct cleaner *c)
{
	struct cleaner_counts counts;
	int rc = cleaner_clean_own(c, &j->cfg.started, &counts);

	if (rc)
		log_error("cleaning this worker's own rows at start failed: %s", strerror(-rc));
	else if (counts.cleaned + counts.skipped + counts.failed + counts.refused)
		log_info("cleaned this worker's own rows from before its start: %d cleaned, "
			 "%d skipped, %d failed, %d refused", counts.cleaned, counts.skipped,
			 counts.failed, counts.refused);
}

/* Run every job there is now; false when there was none. */
static bool run_jobs(struct jobs *j, struct cleaner *c)
{
	bool ran = false;

	for (;;) {
		struct timespec now;
		struct job job;
		struct cleaner_counts counts;
		char error[256] = "";
		int rc;

		dbtime_now(&now);
		rc = store_take_job(j->st, j->cfg.service_id, j->cluster_name[0] ? j->cluster_name : NULL,
				    &now, &job);
		if (rc == -ENOENT)
			return ran;
		if (rc) {
			log_error("looking for cleanup jobs failed: %s", strerror(-rc));
			return ran;
		}
		ran = true;
		log_info("cleanup request %lld: job %lld: cleaning worker %lld's rows",
			 (long long)job.request_id, (long long)job.id, (long long)job.service_id);
		rc = cleaner_run_job(c, &job, &counts);
		if (rc)
			snprintf(error, sizeof(error), "database error: %s", strerror(-rc));
		dbtime_now(&now);
		if (store_finish_job(j->st, job.id, rc == 0, rc ? error : NULL, &now) != 0)
			log_error("cleanup request %lld: job %lld: could not record its end",
				  (long long)job.request_id, (long long)job.id);
		log_info("cleanup request %lld: job %lld %s: %d cleaned, %d skipped, %d failed, "
			 "%d refused", (long long)job.request_id, (long long)job.id,
			 rc ? "failed" : "done", counts.cleaned, counts.skipped, counts.failed,
			 counts.refused);
		if (j->cfg.keep_requests > 0)
			store_prune_requests(j->st, j->cfg.keep_requests);
	}
}

/* The volume group's free space, in the database for the write path's
 * space check (a FUSE thread never runs vgs). */
static void refresh_capacity(struct jobs *j, struct cleaner *c)
{
	char vg[NAME_LEN];
	unsigned long long size, free_bytes;
	struct timespec now;
	struct cf_err err;

	if (!c->drv.ops->capacity || c->drv.ops->capacity(c->drv.ctx, vg, sizeof(vg), &size,
							   &free_bytes, &err) != 0)
		return;
	dbtime_now(&now);
	store_set_capacity(j->st, j->cfg.service_id, vg, size, free_bytes, &now);
}

static int create_volume(struct cleaner *c, const struct volume *vol, struct cf_err *err)
{
	char location[NAME_LEN], auth[NAME_LEN];
	struct timespec now;
	int rc = c->drv.ops->create_volume(c->drv.ctx, vol, err);

	if (rc == 0)
		rc = c->drv.ops->create_export(c->drv.ctx, vol, location, sizeof(location), auth,
					       sizeof(auth), err);
	dbtime_now(&now);
	/* As Cinder: a failed create leaves the volume in error (and its LV,
	 * which deleting the errored volume removes). */
	if (store_finish_volume(c->st, vol->id, rc ? "error" : "available", rc ? NULL : location,
				rc ? NULL : auth, &now) != 0 && rc == 0)
		rc = err_set(err, EIO, "cannot record volume %s as available", vol->id);
	return rc;
}

static int delete_volume(struct cleaner *c, const struct volume *vol, struct cf_err *err)
{
	struct timespec now;
	int rc = c->drv.ops->remove_export(c->drv.ctx, vol, err);

	if (rc == 0)
		rc = c->drv.ops->delete_volume(c->drv.ctx, vol, err);
	dbtime_now(&now);
	if (rc == -EBUSY)
		store_finish_volume(c->st, vol->id, "available", NULL, NULL, &now);
	else if (rc)
		store_finish_volume(c->st, vol->id, "error_deleting", NULL, NULL, &now);
	else if (store_finish_volume_delete(c->st, vol->id, &now) != 0)
		rc = err_set(err, EIO, "cannot record volume %s as deleted", vol->id);
	return rc;
}

static int create_snapshot(struct cleaner *c, const char *id, struct cf_err *err)
{
	struct snapshot snap;
	struct volume vol;
	struct timespec now;
	int rc = store_get_snapshot(c->st, id, &snap);

	if (rc)
		return err_set(err, -rc, "snapshot %s is gone", id);
	rc = store_get_volume(c->st, snap.volume_id, &vol);
	if (rc)
		err_set(err, -rc, "volume %s of snapshot %s is gone", snap.volume_id, id);
	else
		rc = c->drv.ops->create_snapshot(c->drv.ctx, &snap, &vol, err);
	dbtime_now(&now);
	store_finish_snapshot(c->st, id, rc ? "error" : "available", &now);
	return rc;
}

static int delete_snapshot(struct cleaner *c, const char *id, struct cf_err *err)
{
	struct snapshot snap;
	struct timespec now;
	int rc = store_get_snapshot(c->st, id, &snap);

	if (rc)
		return err_set(err, -rc, "snapshot %s is gone", id);
	rc = c->drv.ops->delete_snapshot(c->drv.ctx, &snap, err);
	dbtime_now(&now);
	if (rc)
		store_finish_snapshot(c->st, id, "error_deleting", &now);
	else
		store_finish_snapshot_delete(c->st, id, &now);
	return rc;
}

#define DELETE_BATCH 64

/* Queued deletes together: every export removed, then one lvremove for all
 * the volumes (one lvs, one lvremove); if the batch is refused as busy, one
 * by one, so that only the busy volume stays. Returns whether it took any. */
static bool run_delete_batch(struct jobs *j, struct cleaner *c)
{
	struct volume_op ops[DELETE_BATCH];
	struct volume vols[DELETE_BATCH];
	char errors[DELETE_BATCH][256];
	size_t n = 0, m = 0;
	struct cf_err err = { "" };
	struct timespec now;
	int rc;

	if (!c->drv.ops->delete_volumes ||
	    store_take_volume_ops(j->st, j->cfg.service_id, "delete_volume", ops, DELETE_BATCH, &n) != 0 ||
	    n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		errors[i][0] = '\0';
		rc = store_get_volume(j->st, ops[i].resource_id, &vols[m]);
		if (rc)
			snprintf(errors[i], sizeof(errors[i]), "volume %s is gone", ops[i].resource_id);
		else if ((rc = c->drv.ops->remove_export(c->drv.ctx, &vols[m], &err)) != 0)
			snprintf(errors[i], sizeof(errors[i]), "%s", err.msg);
		else
			m++;
	}
	log_info("deleting %zu volume(s) in one batch", m);
	rc = m ? c->drv.ops->delete_volumes(c->drv.ctx, vols, m, &err) : 0;
	for (size_t i = 0, k = 0; i < n; i++) {
		const struct volume *vol = (k < m && strcmp(vols[k].id, ops[i].resource_id) == 0) ? &vols[k++] : NULL;
		struct cf_err one = { "" };
		int r = errors[i][0] ? -EIO : rc;

		dbtime_now(&now);
		if (vol && rc == -EBUSY) {
			/* Find the busy one(s): each alone. */
			r = c->drv.ops->delete_volume(c->drv.ctx, vol, &one);
			snprintf(errors[i], sizeof(errors[i]), "%s", one.msg);
		} else if (vol && rc) {
			snprintf(errors[i], sizeof(errors[i]), "%s", err.msg);
		}
		if (!vol) {
			struct volume gone_or_failed;
			if (store_get_volume(j->st, ops[i].resource_id, &gone_or_failed) == 0)
				store_finish_volume(j->st, ops[i].resource_id, "error_deleting", NULL, NULL, &now);
		} else if (r == -EBUSY) {
			store_finish_volume(j->st, vol->id, "available", NULL, NULL, &now);
		} else if (r) {
			store_finish_volume(j->st, vol->id, "error_deleting", NULL, NULL, &now);
		} else if (store_finish_volume_delete(j->st, vol->id, &now) != 0) {
			r = -EIO;
			snprintf(errors[i], sizeof(errors[i]), "cannot record volume %s as deleted", vol->id);
		}
		store_finish_volume_op(j->st, ops[i].id, r ? errors[i] : NULL, &now);
		log_msg(r ? LOG_LVL_ERROR : LOG_LVL_INFO, "delete_volume of volume %s: %s",
			ops[i].resource_id, r ? errors[i] : "done");
	}
	refresh_capacity(j, c);
	return true;
}

/* Run the volume operations queued for this worker. */
static void run_volume_ops(struct jobs *j, struct cleaner *c)
{
	/* With a driver that batches, deletes are left to the batch. */
	const char *skip = c->drv.ops->delete_volumes ? "delete_volume" : NULL;
	struct volume_op op;

	for (;;) {
		bool batched = run_delete_batch(j, c);
		if (store_take_volume_op(j->st, j->cfg.service_id, skip, &op) != 0) {
			if (batched)
				continue; /* more may have come meanwhile */
			break;
		}
		struct cf_err err = { "" };
		struct volume vol;
		struct timespec now;
		int rc = 0;

		if (strcmp(op.kind, "create_snapshot") == 0) {
			rc = create_snapshot(c, op.resource_id, &err);
		} else if (strcmp(op.kind, "delete_snapshot") == 0) {
			rc = delete_snapshot(c, op.resource_id, &err);
		} else if ((rc = store_get_volume(j->st, op.resource_id, &vol)) != 0) {
			err_set(&err, -rc, "volume %s is gone", op.resource_id);
		} else if (strcmp(op.kind, "create_volume") == 0) {
			rc = create_volume(c, &vol, &err);
		} else if (strcmp(op.kind, "delete_volume") == 0) {
			rc = delete_volume(c, &vol, &err);
		} else {
			rc = err_set(&err, EINVAL, "unknown operation %s", op.kind);
		}
		dbtime_now(&now);
		store_finish_volume_op(j->st, op.id, rc ? err.msg : NULL, &now);
		log_msg(rc ? LOG_LVL_ERROR : LOG_LVL_INFO, "%s of volume %s: %s", op.kind, op.resource_id,
			rc ? err.msg : "done");
		refresh_capacity(j, c);
	}
}

static void *jobs_main(void *arg)
{
	struct jobs *j = arg;
	struct cleaner c = { .st = j->st, .drv = j->cfg.driver, .me = j->cfg.service_id };
	struct cf_err err = { "" };
	bool ready = true;

	if (c.drv.ops->start && c.drv.ops->start(c.drv.ctx, &err) != 0) {
		/* Cinder's init_host: no cleanup on a backend that is not there;
		 * the cluster's other members take the jobs. */
		log_error("storage driver %s cannot start: %s; this worker cleans nothing and takes "
			  "no cleanup jobs", c.drv.ops->name, err.msg);
		ready = false;
	}
	if (ready) {
		refresh_capacity(j, &c);
		own_cleanup(j, &c);
	}
	pthread_mutex_lock(&j->lock);
	while (!j->stopping) {
		struct timespec deadline;

		pthread_mutex_unlock(&j->lock);
		if (ready) {
			run_jobs(j, &c);
			run_volume_ops(j, &c);
		}
		pthread_mutex_lock(&j->lock);
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_nsec += (long)j->cfg.poll_ms * 1000000L;
		deadline.tv_sec += deadline.tv_nsec / 1000000000L;
		deadline.tv_nsec %= 1000000000L;
		while (!j->stopping && !j->woken &&
		       pthread_cond_timedwait(&j->wake, &j->lock, &deadline) != ETIMEDOUT)
			;
		j->woken = false;
	}
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

int jobs_start(const struct jobs_config *cfg, struct jobs **out)
{
	struct jobs *j = calloc(1, sizeof(*j));
	pthread_condattr_t attr;
	struct cf_err err;
	int rc;

	if (!j)
		return -ENOMEM;
	j->cfg = *cfg;
	snprintf(j->cluster_name, sizeof(j->cluster_name), "%s", cfg->cluster_name ? cfg->cluster_name : "");
	j->cfg.cluster_name = NULL;
	j->cfg.db_path = NULL;
	rc = store_open(cfg->db_path, 0, &j->st, &err);
	if (rc) {
		log_error("backend thread: %s", err.msg);
		free(j);
		return rc;
	}
	pthread_mutex_init(&j->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&j->wake, &attr);
	pthread_condattr_destroy(&attr);
	rc = pthread_create(&j->thread, NULL, jobs_main, j);
	if (rc) {
		store_close(j->st);
		free(j);
		return -rc;
	}
	*out = j;
	return 0;
}

void jobs_wake(struct jobs *j)
{
	if (!j)
		return;
	pthread_mutex_lock(&j->lock);
	j->woken = true;
	pthread_cond_signal(&j->wake);
	pthread_mutex_unlock(&j->lock);
}

void jobs_stop(struct jobs *j)
{
	if (!j)
		return;
	pthread_mutex_lock(&j->lock);
	j->stopping = true;
	pthread_cond_signal(&j->wake);
	pthread_mutex_unlock(&j->lock);
	pthread_join(j->thread, NULL);
	pthread_mutex_destroy(&j->lock);
	pthread_cond_destroy(&j->wake);
	store_close(j->st);
	free(j);
}
