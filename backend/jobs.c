/* The backend thread's loop. Jobs queued by any daemon sharing the file are
 * found by polling an index of queued jobs (one cheap query); jobs queued by
 * this daemon wake it at once. */
#include "jobs.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "autoclean.h"
#include "capacity.h"
#include "cleaner.h"
#include "dbtime.h"
#include "exports.h"
#include "heartbeat.h"
#include "liveness.h"
#include "removal.h"
#include "log.h"
#include "store.h"

struct jobs {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping, woken;
	struct jobs_config cfg;
	char cluster_name[NAME_LEN];
	char version[NAME_LEN];
	struct autoclean autoclean;
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

/* The daemon is stopping: a retry below gives up (what it could not
 * record is redone by the start-up cleanup of the next start). */
static atomic_bool quitting;

/* An error of the database that goes away by itself: the server restarted
 * or unreachable for a while, a lock held, a conflict. */
static bool transient(int rc)
{
	return rc == -ENOTCONN || rc == -EBUSY || rc == -ETIMEDOUT || rc == -EAGAIN ||
	       rc == -ECONNREFUSED || rc == -EHOSTUNREACH;
}

/* Sleep before try `n` (from 1): 0.5 s doubling up to 5 s. */
static void backoff(int n)
{
	long ms = 500L << (n < 4 ? n - 1 : 3);
	struct timespec d;

	if (ms > 5000)
		ms = 5000;
	d.tv_sec = ms / 1000;
	d.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&d, NULL);
}

/* Recording the end of an operation or a job: tried again until it lands
 * while the database's trouble is one that passes (the end must never be
 * lost to a server restart: the row would stay in its ongoing status
 * under a live worker, which no cleanup reaches), up to FINISH_TRIES for
 * any other error; never once the daemon stops. -ESTALE (the row is no
 * longer this worker's) is an answer, not a failure. */
#define FINISH_TRIES 3
#define RETRY(call)                                                              \
	({                                                                       \
		int r_ = 0;                                                      \
		for (int try_ = 1;; try_++) {                                    \
			r_ = (call);                                             \
			if (r_ == 0 || r_ == -ESTALE || atomic_load(&quitting) ||  \
			    (!transient(r_) && try_ >= FINISH_TRIES))           \
				break;                                           \
			if (try_ == 1 || try_ % 10 == 0)                         \
				log_warning("recording an end failed (%s, try %d); trying " \
					    "again until the database takes it",   \
					    strerror(-r_), try_);                \
			backoff(try_);                                           \
		}                                                                \
		r_;                                                              \
	})

/* Run every job there is now; false when there was none. */
static bool run_jobs(struct jobs *j, struct cleaner *c)
{
	bool ran = false;

	for (;;) {
		struct timespec now;
		struct job job;
		struct cleaner_counts counts;
		char error[256] = "";
		const char *state;
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
		if (rc == -ESTALE) {
			/* It went to another worker: that worker ends it. */
			log_info("cleanup request %lld: job %lld: left to the worker that has it now: "
				 "%d cleaned, %d skipped, %d failed, %d refused here",
				 (long long)job.request_id, (long long)job.id, counts.cleaned,
				 counts.skipped, counts.failed, counts.refused);
			continue;
		} else if (rc == -ECANCELED) {
			state = "cancelled";
			snprintf(error, sizeof(error), "cancelled by an admin before it ended");
		} else if (transient(rc)) {
			/* The database went away in the middle: what is cleaned
			 * stays cleaned, the rest goes back to the queue for the
			 * next taker (this worker, or a peer) to finish. */
			char why[160];

			snprintf(why, sizeof(why), "given back by worker %lld: the database failed "
				 "under it (%s)", (long long)j->cfg.service_id, strerror(-rc));
			dbtime_now(&now);
			rc = RETRY(store_give_back_job(j->st, &job, j->cfg.service_id, why, &now));
			log_warning("cleanup request %lld: job %lld: %s after %d cleaned; %s",
				    (long long)job.request_id, (long long)job.id, why, counts.cleaned,
				    rc == 0 ? "queued again" : rc == -ESTALE ?
				    "another worker has it now" : strerror(-rc));
			continue;
		} else if (rc) {
			state = "failed";
			snprintf(error, sizeof(error), "database error: %s", strerror(-rc));
		} else {
			state = "done";
		}
		dbtime_now(&now);
		rc = RETRY(store_finish_job(j->st, job.id, j->cfg.service_id, state,
					    error[0] ? error : NULL, &now));
		if (rc == -ESTALE)
			log_warning("cleanup request %lld: job %lld: it went to another worker while this "
				    "one ran it (this worker was seen as down); that worker's end stands",
				    (long long)job.request_id, (long long)job.id);
		else if (rc)
			log_error("cleanup request %lld: job %lld: could not record its end: %s",
				  (long long)job.request_id, (long long)job.id, strerror(-rc));
		log_info("cleanup request %lld: job %lld %s: %d cleaned, %d skipped, %d failed, "
			 "%d refused", (long long)job.request_id, (long long)job.id, state,
			 counts.cleaned, counts.skipped, counts.failed, counts.refused);
	}
}

/* Jobs that would otherwise never end: a running one whose taker is down
 * goes back to the queue; a queued one nobody up and able to clean may
 * take fails, saying why. Any live worker does this for the cluster. */
static void recover_jobs(struct jobs *j)
{
	struct timespec now, bound;
	struct store_recovery r;
	int rc;

	heartbeat_clock(&now);
	liveness_bound(&now, j->cfg.down_time, &bound);
	dbtime_now(&now);
	rc = store_recover_jobs(j->st, j->cfg.service_id, &bound, &now, &r);
	if (rc && rc != -EBUSY)
		log_error("checking for cleanup jobs that cannot end failed: %s", strerror(-rc));
}

/* History by count (cleanup_history_keep) and age (cleanup_history_max_age),
 * on a clock of its own: a request that matched nothing, whose jobs never
 * ran, goes too. */
static void prune(struct jobs *j)
{
	struct timespec now;
	int rc;

	dbtime_now(&now);
	rc = store_prune_requests(j->st, j->cfg.keep_requests, j->cfg.max_age_days, &now);
	if (rc > 0)
		log_info("cleanup history: %d ended request(s) pruned", rc);
	rc = store_prune_volume_ops(j->st, j->cfg.max_age_days, &now);
	if (rc > 0)
		log_info("volume operations: %d ended more than %d days ago pruned", rc,
			 j->cfg.max_age_days);
	else if (rc < 0)
		log_warning("pruning the volume operations failed: %s", strerror(-rc));
}

/* The volume group's free space, in the database for the write path's
 * space check (a FUSE thread never runs vgs). */
static void refresh_capacity(struct jobs *j, struct cleaner *c)
{
	struct cf_err err;

	capacity_measure(j->st, j->cfg.service_id, &c->drv, &err);
}

/* An operation's end as the database took it: a row a peer's cleanup took
 * or ended meanwhile is abandoned (the peer's result stands: this worker
 * was down, or seen as down); a write that fails for the database's sake
 * is tried again before giving up, so a busy moment does not leave the
 * volume in its ongoing status for good. */
static int finish_result(struct cleaner *c, const char *type, const char *id, int rc,
			 struct cf_err *err)
{
	int64_t who = 0;

	if (rc == 0)
		return 0;
	if (rc != -ESTALE)
		return err_set(err, -rc, "cannot record the end of %s %s: %s", type, id, strerror(-rc));
	store_who_cleaned(c->st, type, id, &who);
	if (who)
		err_set(err, ESTALE, "abandoned: cleaned by worker %lld; its result stands",
			(long long)who);
	else
		err_set(err, ESTALE, "abandoned: its operation was ended elsewhere (a cleanup) while "
			"this worker was down; that result stands");
	log_warning("%s %s: %s", type, id, err->msg);
	return -ESTALE;
}

static int create_volume(struct cleaner *c, const struct volume *vol, struct cf_err *err)
{
	char location[NAME_LEN], auth[NAME_LEN];
	struct timespec now;
	int rc = c->drv.ops->create_volume(c->drv.ctx, vol, err);
	int r;

	if (rc == 0)
		rc = c->drv.ops->create_export(c->drv.ctx, vol, location, sizeof(location), auth,
					       sizeof(auth), err);
	dbtime_now(&now);
	/* As Cinder: a failed create leaves the volume in error (and its LV,
	 * which deleting the errored volume removes). */
	r = RETRY(store_finish_volume(c->st, c->me, vol->id, rc ? "error" : "available",
				      rc ? NULL : location, rc ? NULL : auth, &now));
	if (r == -ESTALE)
		return finish_result(c, "Volume", vol->id, r, err);
	if (r && rc == 0)
		rc = finish_result(c, "Volume", vol->id, r, err);
	return rc;
}

/* Cinder's extend_volume (volume/manager.py): on success the new size and
 * available; on a driver failure error_extending. A refusal that changed
 * nothing (-EBUSY: an initiator logged in) puts it back to available, so
 * that the operator can log out and extend again without a reset-state;
 * its words are the volume's last_error all the same. */
static int extend_volume(struct cleaner *c, const struct volume *vol, long long new_size,
			 struct cf_err *err)
{
	struct timespec now;
	int rc, r;

	if (new_size <= vol->size)
		rc = err_set(err, EINVAL, "extend of volume %s to %lld GiB: it is %lld GiB already",
			     vol->id, new_size, vol->size);
	else if (!c->drv.ops->extend_volume)
		rc = err_set(err, EOPNOTSUPP, "the %s storage driver cannot extend volumes",
			     c->drv.ops->name);
	else
		rc = c->drv.ops->extend_volume(c->drv.ctx, vol, new_size, err);
	dbtime_now(&now);
	if (rc == 0)
		r = RETRY(store_finish_volume_extend(c->st, c->me, vol->id, new_size, &now));
	else
		r = RETRY(store_finish_volume(c->st, c->me, vol->id,
					      rc == -EBUSY ? "available" : "error_extending", NULL,
					      NULL, &now));
	if (r == -ESTALE || (r && rc == 0))
		return finish_result(c, "Volume", vol->id, r, err);
	return rc;
}

static int delete_volume(struct cleaner *c, const struct volume *vol, struct cf_err *err)
{
	struct timespec now;
	int rc = c->drv.ops->remove_export(c->drv.ctx, vol, err);
	int r;

	if (rc == 0)
		rc = c->drv.ops->delete_volume(c->drv.ctx, vol, err);
	dbtime_now(&now);
	if (rc == -EBUSY)
		r = RETRY(store_finish_volume(c->st, c->me, vol->id, "available", NULL, NULL, &now));
	else if (rc)
		r = RETRY(store_finish_volume(c->st, c->me, vol->id, "error_deleting", NULL, NULL, &now));
	else
		r = RETRY(store_finish_volume_delete(c->st, c->me, vol->id, &now));
	if (r == -ESTALE || (r && rc == 0))
		return finish_result(c, "Volume", vol->id, r, err);
	return rc;
}

static int create_snapshot(struct cleaner *c, const char *id, struct cf_err *err)
{
	struct snapshot snap;
	struct volume vol;
	struct timespec now;
	int rc = store_get_snapshot(c->st, id, &snap);
	int r;

	if (rc)
		return err_set(err, -rc, "snapshot %s is gone", id);
	rc = store_get_volume(c->st, snap.volume_id, &vol);
	if (rc)
		err_set(err, -rc, "volume %s of snapshot %s is gone", snap.volume_id, id);
	else
		rc = c->drv.ops->create_snapshot(c->drv.ctx, &snap, &vol, err);
	dbtime_now(&now);
	r = RETRY(store_finish_snapshot(c->st, c->me, id, rc ? "error" : "available", &now));
	if (r == -ESTALE || (r && rc == 0))
		return finish_result(c, "Snapshot", id, r, err);
	return rc;
}

static int delete_snapshot(struct cleaner *c, const char *id, struct cf_err *err)
{
	struct snapshot snap;
	struct timespec now;
	int rc = store_get_snapshot(c->st, id, &snap);
	int r;

	if (rc)
		return err_set(err, -rc, "snapshot %s is gone", id);
	rc = c->drv.ops->delete_snapshot(c->drv.ctx, &snap, err);
	dbtime_now(&now);
	if (rc)
		r = RETRY(store_finish_snapshot(c->st, c->me, id, "error_deleting", &now));
	else
		r = RETRY(store_finish_snapshot_delete(c->st, c->me, id, &now));
	if (r == -ESTALE || (r && rc == 0))
		return finish_result(c, "Snapshot", id, r, err);
	return rc;
}

/* An operation whose row is no longer this worker's (a peer's cleanup
 * set the creating volume to error while this worker was down, say) is
 * never started: replaying it would undo what the history says. */
static bool still_mine(struct cleaner *c, const struct volume_op *op, struct cf_err *err)
{
	const char *type = strstr(op->kind, "snapshot") ? "Snapshot" : "Volume";
	int64_t holder = 0;

	if (store_operation_holder(c->st, type, op->resource_id, &holder, NULL) != 0)
		return true; /* cannot tell: its end re-checks */
	if (holder == c->me)
		return true;
	finish_result(c, type, op->resource_id, -ESTALE, err);
	return false;
}

/* Queued deletes together: every export removed, then the LVs through the
 * removal path the cleaner shares (as few driver calls as it takes, one by
 * one on any failure). Returns whether it took any. */
static bool run_delete_batch(struct jobs *j, struct cleaner *c)
{
	size_t max = c->drv.ops->batch_max, n = 0, m = 0;
	struct volume_op *ops = NULL;
	struct volume *vols = NULL;
	struct removal *done = NULL;
	size_t *op_of = NULL;      /* vols[k] belongs to ops[op_of[k]] */
	char (*errors)[256] = NULL;
	struct timespec now;
	bool took = false;

	if (!c->drv.ops->delete_volumes || max < 2)
		return false;
	ops = calloc(max, sizeof(*ops));
	vols = calloc(max, sizeof(*vols));
	done = calloc(max, sizeof(*done));
	op_of = calloc(max, sizeof(*op_of));
	errors = calloc(max, sizeof(*errors));
	if (!ops || !vols || !done || !op_of || !errors ||
	    store_take_volume_ops(j->st, j->cfg.service_id, "delete_volume", ops, max, &n) != 0 ||
	    n == 0)
		goto out;
	took = true;
	for (size_t i = 0; i < n; i++) {
		struct cf_err err = { "" };
		int rc;

		errors[i][0] = '\0';
		if (!still_mine(c, &ops[i], &err))
			snprintf(errors[i], sizeof(errors[i]), "%s", err.msg);
		else if ((rc = store_get_volume(j->st, ops[i].resource_id, &vols[m])) != 0)
			snprintf(errors[i], sizeof(errors[i]), "volume %s is gone", ops[i].resource_id);
		else if ((rc = c->drv.ops->remove_export(c->drv.ctx, &vols[m], &err)) != 0) {
			/* Not left deleting for ever: error_deleting, from which an
			 * rmdir tries again (tgtd back, say); its reason first, so
			 * that the status never shows without it. */
			snprintf(errors[i], sizeof(errors[i]), "%s", err.msg);
			dbtime_now(&now);
			store_finish_volume_op(j->st, ops[i].id, errors[i], &now);
			if (RETRY(store_finish_volume(c->st, c->me, vols[m].id, "error_deleting", NULL,
						      NULL, &now)) == -ESTALE)
				finish_result(c, "Volume", vols[m].id, -ESTALE, &err);
		} else
			op_of[m++] = i;
	}
	removal_run(&c->drv, vols, m, done);
	/* Measured before the volumes show as deleted: a create that sees
	 * them gone sees their space free. */
	refresh_capacity(j, c);
	for (size_t k = 0; k < m; k++) {
		size_t i = op_of[k];
		struct cf_err err = { "" };
		int rc = done[k].rc, r;

		dbtime_now(&now);
		if (rc == -EBUSY)
			r = RETRY(store_finish_volume(c->st, c->me, vols[k].id, "available", NULL, NULL, &now));
		else if (rc)
			r = RETRY(store_finish_volume(c->st, c->me, vols[k].id, "error_deleting", NULL, NULL,
						      &now));
		else
			r = RETRY(store_finish_volume_delete(c->st, c->me, vols[k].id, &now));
		if (r == -ESTALE || (r && rc == 0))
			rc = finish_result(c, "Volume", vols[k].id, r, &err);
		snprintf(errors[i], sizeof(errors[i]), "%s",
			 err.msg[0] ? err.msg : rc ? done[k].err.msg : "");
		if (rc && !errors[i][0])
			snprintf(errors[i], sizeof(errors[i]), "%s", strerror(-rc));
	}
	for (size_t i = 0; i < n; i++) {
		dbtime_now(&now);
		store_finish_volume_op(j->st, ops[i].id, errors[i][0] ? errors[i] : NULL, &now);
		log_msg(errors[i][0] ? LOG_LVL_ERROR : LOG_LVL_INFO, "delete_volume of volume %s: %s",
			ops[i].resource_id, errors[i][0] ? errors[i] : "done");
	}
out:
	free(ops);
	free(vols);
	free(done);
	free(op_of);
	free(errors);
	return took;
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

		if (!still_mine(c, &op, &err)) {
			rc = -ESTALE;
		} else if (strcmp(op.kind, "create_snapshot") == 0) {
			rc = create_snapshot(c, op.resource_id, &err);
		} else if (strcmp(op.kind, "delete_snapshot") == 0) {
			rc = delete_snapshot(c, op.resource_id, &err);
		} else if ((rc = store_get_volume(j->st, op.resource_id, &vol)) != 0) {
			err_set(&err, -rc, "volume %s is gone", op.resource_id);
		} else if (strcmp(op.kind, "create_volume") == 0) {
			rc = create_volume(c, &vol, &err);
		} else if (strcmp(op.kind, "delete_volume") == 0) {
			rc = delete_volume(c, &vol, &err);
		} else if (strcmp(op.kind, "extend_volume") == 0) {
			rc = extend_volume(c, &vol, op.new_size, &err);
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

/* How often a worker looks for jobs that cannot end and prunes history:
 * cheap queries, but no need to run them on every 250 ms pass. */
#define HOUSEKEEPING_MS 1000
#define PRUNE_EVERY 30 /* housekeeping passes */

static void *jobs_main(void *arg)
{
	struct jobs *j = arg;
	struct cleaner c = { .st = j->st, .drv = j->cfg.driver, .me = j->cfg.service_id };
	struct cf_err err = { "" };
	struct timespec now, last_housekeeping = { 0, 0 };
	bool ready = true, fenced = false;
	unsigned passes = PRUNE_EVERY - 1; /* the first pass prunes */

	if (c.drv.ops->start && c.drv.ops->start(c.drv.ctx, &err) != 0) {
		/* Cinder's init_host: no cleanup on a backend that is not there;
		 * the cluster's other members take the jobs. */
		log_error("storage driver %s cannot start: %s; this worker cleans nothing and takes "
			  "no cleanup jobs", c.drv.ops->name, err.msg);
		ready = false;
	}
	/* Said in the database, so that planning never counts on a peer that
	 * cannot clean. */
	dbtime_now(&now);
	if (store_set_worker_state(j->st, j->cfg.service_id, ready, ready ? NULL : err.msg, &now) != 0)
		log_error("cannot record whether this worker can clean");
	if (ready) {
		refresh_capacity(j, &c);
		own_cleanup(j, &c);
		/* What a previous life of this worker left running was settled
		 * by the cleanup just done: say so, do not run it again. */
		dbtime_now(&now);
		store_fail_interrupted_ops(j->st, j->cfg.service_id, &now);
	}
	pthread_mutex_lock(&j->lock);
	while (!j->stopping) {
		struct timespec deadline, mono;

		pthread_mutex_unlock(&j->lock);
		clock_gettime(CLOCK_MONOTONIC, &mono);
		if ((mono.tv_sec - last_housekeeping.tv_sec) * 1000 +
		    (mono.tv_nsec - last_housekeeping.tv_nsec) / 1000000 >= HOUSEKEEPING_MS) {
			last_housekeeping = mono;
			recover_jobs(j);
			if (++passes % PRUNE_EVERY == 0)
				prune(j);
			/* Before run_jobs: a request made here is taken in
			 * this same pass when this member takes it. */
			if (ready)
				autoclean_run(j->st, &j->autoclean);
			if (ready) {
				capacity_check(j->st, j->cfg.service_id, &c.drv);
				exports_check(j->st, j->cfg.service_id, &c.drv);
			} else {
				capacity_end_queued(j->st, j->cfg.service_id, err.msg);
			}
		}
		/* Fenced: without a heartbeat for service_down_time, peers may
		 * have taken this worker's rows; no new work starts until one
		 * lands (what is under way re-checks its claim at its end). */
		if (ready && heartbeat_age_ms() > (int64_t)j->cfg.down_time * 1000) {
			if (!fenced)
				log_error("no heartbeat has landed for over %d s: starting no new work "
					  "until one does", j->cfg.down_time);
			fenced = true;
		} else if (ready) {
			if (fenced)
				log_info("a heartbeat landed: taking work again");
			fenced = false;
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
	snprintf(j->version, sizeof(j->version), "%s", cfg->version ? cfg->version : "");
	j->cfg.cluster_name = NULL;
	j->cfg.db_path = NULL;
	j->cfg.version = NULL;
	j->autoclean = (struct autoclean){
		.me = cfg->service_id, .cluster_name = j->cluster_name, .version = j->version,
		.down_time = cfg->down_time,
	};
	rc = store_open(cfg->db_path, STORE_RELAXED, &j->st, &err);
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
	atomic_store(&quitting, true);
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
