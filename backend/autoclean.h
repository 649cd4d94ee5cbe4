/* Automatic cleanup, opt-in per cluster (clusters/<name>/auto_cleanup,
 * migration 0012): a live member of a cluster asks for the cleanup of a
 * member that has been down longer than the cluster's age, once per
 * outage, as an operator's request would (history, progress, jobs). */
#pragma once

#include <stdint.h>

#include "dbtime.h"
#include "store.h"

struct autoclean {
	int64_t me;                /* this worker's services.id */
	const char *cluster_name;  /* its cluster ("" or NULL: nothing to do) */
	const char *version;       /* its rpc version (a request's upgrade check) */
	int down_time;             /* service_down_time */
	/* The last outage whose request was refused (an upgrade under way):
	 * said once in the log, tried again every pass. */
	int64_t refused_id;
	char refused_beat[DBTIME_LEN];
};

/* One pass, run by the backend thread of a worker that can clean, every
 * second: nothing unless its own heartbeat lands (a fenced worker asks for
 * nothing) and its cluster's auto_cleanup is on. Each member other than
 * this one whose last heartbeat is older than both auto_cleanup and
 * service_down_time (at heartbeat_clock), and whose outage has no mark,
 * gets a request with the spec {"host": "<its host>"}, marked with its
 * outage in the request's transaction: when several members race, one
 * request is recorded, the others' are rolled back. Returns how many
 * requests this pass recorded. */
int autoclean_run(struct store *st, struct autoclean *a);
