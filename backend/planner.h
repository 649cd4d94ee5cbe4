/* The cleanup planner: which workers a filter selects, and for each whether
 * it can be cleaned now and by whom (doc/cleanup.md section 4). Pure: the
 * caller hands it every live services row and the clusters' flags. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "filter.h"
#include "model.h"

/* What the planner knows of a worker besides its row. */
struct planner_worker {
	struct service svc;
	int cluster_disabled; /* enum tristate: TRI_ANY when its cluster has no row */
	/* Its storage driver did not start: it takes no cleanup jobs, so it
	 * does not count as a live peer that can clean. */
	bool cannot_clean;
};

enum destination {
	DEST_ANY,     /* any live worker (a scheduler's rows) */
	DEST_CLUSTER, /* exactly one live member of dest_cluster */
	DEST_SERVICE, /* the worker itself */
};

struct plan_entry {
	const struct service *svc; /* the worker being cleaned */
	bool cleaning;             /* false: unavailable */
	enum destination dest;
};

struct plan {
	struct plan_entry *entries; /* in ascending id; malloc'd */
	size_t count;
};

/* Cinder's host matching for host and cluster_name filters: with '#' the
 * value itself; with '@' (no '#') itself or value#...; otherwise itself,
 * value#... or value@.... Case-sensitive, no wildcards. */
bool planner_host_matches(const char *filter, const char *value);

/* Plan a request. workers must be in ascending id. Returns 0 or -ENOMEM. */
int planner_plan(const struct filter *f, const struct planner_worker *workers, size_t count,
		 const struct timespec *now, int down_time, struct plan *out);
void planner_free(struct plan *p);
