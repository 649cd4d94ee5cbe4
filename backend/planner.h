/* The cleanup planner: which workers a filter selects, and for each whether
 * it can be cleaned now and by whom (doc/cleanup.md section 4). Pure: the
 * caller offers it services rows (every live one, or a superset of the
 * selection that the store narrowed by id, host or cluster) and, when
 * asked, the heartbeats of a cluster's members.
 *
 * It keeps only what it selected, compactly (an entry and its three names,
 * about 80 bytes a worker), so that a request over 100,000 workers costs
 * a few MiB, and it judges a cluster's liveness once per cluster. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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

/* A selected worker. Names are offsets into the plan's text. */
struct plan_entry {
	int64_t id;
	uint32_t host, binary, cluster_name; /* cluster_name 0: none */
	uint32_t cluster;                    /* index in the clusters, when clustered */
	bool cleaning;                       /* false: unavailable */
	enum destination dest;
};

struct plan_cluster {
	uint32_t name;  /* offset into the plan's text */
	bool up;        /* a member was seen up and able to clean */
	bool needed;    /* a selected volume worker is in it */
};

struct plan {
	struct plan_entry *entries; /* in ascending id */
	size_t count, cap;
	char *text;                 /* NUL-separated names; offset 0 is "" */
	size_t text_len, text_cap;
	struct plan_cluster *clusters;
	size_t n_clusters, clusters_cap;
	uint32_t *slots;            /* open addressing over clusters: index + 1, 0 empty */
	size_t n_slots;
	/* What the plan is made against. */
	const struct filter *filter;
	struct timespec now;
	int down_time;
};

/* Cinder's host matching for host and cluster_name filters: with '#' the
 * value itself; with '@' (no '#') itself or value#...; otherwise itself,
 * value#... or value@.... Case-sensitive, no wildcards. */
bool planner_host_matches(const char *filter, const char *value);

/* The byte ranges a matching value lies in, for an index: the value itself
 * (equal), and [lo, hi) for value#... and for value@... (lo empty: no such
 * range). Each out buffer is NAME_LEN + 2 bytes. */
void planner_host_ranges(const char *filter, char hash_lo[], char hash_hi[], char at_lo[],
			 char at_hi[]);

/* Whether the filter selects the worker (section 4.1), judged at now:
 * what planner_offer keeps. The cluster's disabled flag must be read
 * whatever the filter (cluster_disabled). */
bool planner_selects(const struct filter *f, const struct planner_worker *w,
		     const struct timespec *now, int down_time);

int planner_begin(struct plan *p, const struct filter *f, const struct timespec *now,
		  int down_time);
/* Offer a services row, in ascending id (the plan keeps the order it is
 * offered in). Rows the filter does not select still count towards their
 * cluster's liveness. 0 or -ENOMEM. */
int planner_offer(struct plan *p, const struct planner_worker *w);
/* A cluster member's heartbeat, offered when planner_finish asks. */
void planner_member(struct plan *p, const char *cluster_name, const char *updated_at,
		    bool cannot_clean);

/* Asked by planner_finish for the members of a cluster (name) whose
 * liveness the offered rows did not settle, or of every cluster (name
 * NULL) when many are; it calls planner_member for each. */
typedef int (*planner_members_fn)(void *ctx, struct plan *p, const char *name);

/* Decide who cleans. every_row: every live services row was offered, so a
 * cluster none of whose members was seen up is down without asking. */
int planner_finish(struct plan *p, bool every_row, planner_members_fn members, void *ctx);

static inline const char *plan_text(const struct plan *p, uint32_t off)
{
	return p->text + off;
}

void planner_free(struct plan *p);

/* The whole plan at once over an array of workers in ascending id, every
 * live row (the unit tests' form). */
int planner_plan(const struct filter *f, const struct planner_worker *workers, size_t count,
		 const struct timespec *now, int down_time, struct plan *out);
