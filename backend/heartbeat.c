/* The heartbeat thread. A failed beat is logged and retried at the next
 * interval: a busy database must not kill the worker, but an operator must
 * see why it looks down. */
#include "heartbeat.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "dbtime.h"
#include "log.h"
#include "store.h"

struct heartbeat {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;
	struct store *st;
	int64_t service_id;
	int interval;
	char host[NAME_LEN];
	char binary[NAME_LEN];
	char cluster_name[NAME_LEN];
	char version[NAME_LEN];
};

static void beat(struct heartbeat *hb)
{
	struct timespec now;
	int rc;

	dbtime_now(&now);
	rc = store_heartbeat(hb->st, hb->service_id, &now);
	if (rc == -ENOENT) {
		struct registration reg = {
			.host = hb->host, .binary = hb->binary,
			.cluster_name = hb->cluster_name[0] ? hb->cluster_name : NULL,
			.version = hb->version,
		};
		struct cf_err err;
		int64_t id;

		log_warning("worker %lld's services row is gone; registering %s again",
			    (long long)hb->service_id, hb->host);
		if (store_register(hb->st, &reg, &now, &id, &err) == 0)
			hb->service_id = id;
		else
			log_error("%s", err.msg);
	} else if (rc) {
		log_error("heartbeat of worker %lld failed: %s; retrying in %d s",
			  (long long)hb->service_id, strerror(-rc), hb->interval);
	}
}

static void *heartbeat_main(void *arg)
{
	struct heartbeat *hb = arg;
	struct timespec deadline;

	pthread_mutex_lock(&hb->lock);
	while (!hb->stopping) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += hb->interval;
		while (!hb->stopping &&
		       pthread_cond_timedwait(&hb->wake, &hb->lock, &deadline) != ETIMEDOUT)
			;
		if (hb->stopping)
			break;
		pthread_mutex_unlock(&hb->lock);
		beat(hb);
		pthread_mutex_lock(&hb->lock);
	}
	pthread_mutex_unlock(&hb->lock);
	return NULL;
}

static void copy_name(char dst[NAME_LEN], const char *src)
{
	snprintf(dst, NAME_LEN, "%s", src ? src : "");
}

int heartbeat_start(const char *db_path, const struct registration *reg, int64_t service_id,
		    int interval, struct heartbeat **out)
{
	struct heartbeat *hb = calloc(1, sizeof(*hb));
	pthread_condattr_t attr;
	struct cf_err err;
	int rc;

	if (!hb)
		return -ENOMEM;
	rc = store_open(db_path, 0, &hb->st, &err);
	if (rc) {
		log_error("heartbeat: %s", err.msg);
		free(hb);
		return rc;
	}
	hb->service_id = service_id;
	hb->interval = interval;
	copy_name(hb->host, reg->host);
	copy_name(hb->binary, reg->binary);
	copy_name(hb->cluster_name, reg->cluster_name);
	copy_name(hb->version, reg->version);
	pthread_mutex_init(&hb->lock, NULL);
	/* A monotonic clock: a wall-clock step must not stop the heartbeat. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&hb->wake, &attr);
	pthread_condattr_destroy(&attr);
	rc = pthread_create(&hb->thread, NULL, heartbeat_main, hb);
	if (rc) {
		store_close(hb->st);
		free(hb);
		return -rc;
	}
	*out = hb;
	return 0;
}

void heartbeat_stop(struct heartbeat *hb)
{
	if (!hb)
		return;
	pthread_mutex_lock(&hb->lock);
	hb->stopping = true;
	pthread_cond_signal(&hb->wake);
	pthread_mutex_unlock(&hb->lock);
	pthread_join(hb->thread, NULL);
	pthread_mutex_destroy(&hb->lock);
	pthread_cond_destroy(&hb->wake);
	store_close(hb->st);
	free(hb);
}
