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
	else if (counts.cleaned + counts.skipped + counts.failed)
		log_info("cleaned this worker's own rows from before its start: %d cleaned, "
			 "%d skipped, %d failed", counts.cleaned, counts.skipped, counts.failed);
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
		log_info("cleanup request %lld: job %lld %s: %d cleaned, %d skipped, %d failed",
			 (long long)job.request_id, (long long)job.id, rc ? "failed" : "done",
			 counts.cleaned, counts.skipped, counts.failed);
		if (j->cfg.keep_requests > 0)
			store_prune_requests(j->st, j->cfg.keep_requests);
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
	if (ready)
		own_cleanup(j, &c);
	pthread_mutex_lock(&j->lock);
	while (!j->stopping) {
		struct timespec deadline;

		pthread_mutex_unlock(&j->lock);
		if (ready)
			run_jobs(j, &c);
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
