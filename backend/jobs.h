/* The backend thread: on a connection of its own, it first cleans the
 * worker's own rows from before its start (doc/cleanup.md section 6), then
 * takes the jobs addressed to it, to its cluster or to anyone, and runs
 * them. The FUSE threads never wait for it: they queue work in the database
 * and wake it. */
#pragma once

#include <stdint.h>
#include <time.h>

#include "driver.h"

struct jobs;

struct jobs_config {
	const char *db_path;
	int64_t service_id;
	const char *cluster_name; /* NULL when unclustered */
	struct driver driver;
	struct timespec started;  /* own rows up to here are cleaned first */
	int poll_ms;              /* how often to look for jobs queued by others */
	int keep_requests;        /* history retention: requests kept (0: all) */
	int max_age_days;         /* ... and none older than this (0: no limit) */
	int down_time;            /* service_down_time: a taker down this long loses its job */
	const char *version;      /* its rpc version, for the requests of automatic cleanup */
};

int jobs_start(const struct jobs_config *cfg, struct jobs **out);
/* Look for work now (after this daemon queued some). */
void jobs_wake(struct jobs *j);
void jobs_stop(struct jobs *j);
