/* Up and down, as doc/cleanup.md section 2 and Cinder's
 * utils.service_is_up: a worker is up while its last heartbeat is at or
 * after now - service_down_time. */
#pragma once

#include <stdbool.h>
#include <time.h>

#include "dbtime.h"

/* now - down_time, the oldest heartbeat that still counts as up. */
void liveness_bound(const struct timespec *now, int down_time, struct timespec *out);

/* The same bound as stored text, for SQL that compares times as text. */
void liveness_bound_text(const struct timespec *now, int down_time, char out[DBTIME_LEN]);

/* A worker's own is_up, shown in the mount and deciding who can be sent
 * work: its last heartbeat (updated_at) is recent. No heartbeat yet, or an
 * unreadable time, is down (Cinder's Service.is_up). */
bool liveness_worker_is_up(const char *updated_at, const struct timespec *now, int down_time);

/* The one definition of up, also the store's SQL function cf_beat_ok:
 * updated_at is a readable time at or after bound. */
bool liveness_beat_counts(const char *updated_at, const struct timespec *bound);

/* Up as the cleanup's selection sees it (Cinder's is_up filter on
 * services): created_at or updated_at at or after the bound. */
bool liveness_selected_up(const char *updated_at, const char *created_at,
			  const struct timespec *now, int down_time);

/* A cluster's summary, built one member at a time. */
struct liveness_cluster {
	int num_hosts;
	int num_down_hosts;
	char last_heartbeat[DBTIME_LEN]; /* the latest member updated_at, "" if none */
	bool is_up;                      /* some member is up */
};

void liveness_cluster_init(struct liveness_cluster *c);
void liveness_cluster_add(struct liveness_cluster *c, const char *updated_at,
			  const struct timespec *now, int down_time);
