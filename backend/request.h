/* Accepting a cleanup request: the spec validated (doc/cleanup.md section
 * 3, all eight steps), planned (section 4), and committed with its result
 * and jobs in one transaction before the caller returns. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "error.h"
#include "planner.h"
#include "store.h"

struct request_input {
	const char *spec;
	size_t len;
	long long uid, pid;         /* the writer, from the FUSE context */
	int64_t accepted_by;        /* this daemon's services.id, 0 for control-only */
	const char *version;        /* this daemon's rpc version (the upgrade check) */
	int down_time;              /* service_down_time */
	struct timespec now;        /* the request's `until` */
	struct timespec up_at;      /* liveness is judged at this time (heartbeat_clock); 0: now */
	/* An automatic cleanup's outage, marked with the request (NULL: an
	 * operator's request). */
	const struct store_outage *outage;
};

/* Returns 0 with the request's number in *id and, when result is not
 * NULL, its result (malloc'd JSON, ending in a newline) in *result; or
 * -EINVAL, -EFBIG, -EBUSY with the operator's message in err, having
 * changed nothing; -EALREADY for an outage another member marked first
 * (or whose member came back). */
int request_submit(struct store *st, const struct request_input *in, int64_t *id, char **result,
		   struct cf_err *err);

/* What request_submit would do with the same input, doing none of it:
 * the same checks (and refusals, in the same words), the same plan, and
 * no write at all. *out (malloc'd, *len bytes) is the result document
 * with a third list, "resources": every workers row the cleaning workers'
 * jobs would reach, with its resource's status now and the action
 * (cleaner_foresee). */
int request_preview(struct store *st, const struct request_input *in, char **out, size_t *len,
		    struct cf_err *err);

/* What a spec would select now, nothing written (--check-spec --db):
 * the same checks and refusals as request_submit, then *selected, the
 * workers it selects now (cleaning or unavailable), and *named, those it
 * would select up or down, enabled or not: 0 means that no registered
 * worker has its service_id, host or cluster_name (a typo). */
int request_check(struct store *st, const struct request_input *in, size_t *selected,
		  size_t *named, struct cf_err *err);

/* How many workers rows applying the spec (in->spec, in->len) now would
 * reach: the rows of every worker it selects (cleaning or unavailable
 * alike: an unavailable one's rows are stuck all the same), of its
 * resource_type and resource_id when it names them. Cheap: one pass over
 * the workers table grouped by owner, never the plan over every worker,
 * stopped at REQUEST_REACH_CAP. A spec that no longer parses reaches 0. */
int request_reach(struct store *st, const struct request_input *in, int64_t *rows);
/* request_reach counts up to this many rows ("or more" beyond). */
#define REQUEST_REACH_CAP 1000

/* A plan's result document: {"cleaning": [...], "unavailable": [...]}
 * with two-space indents and a final newline (malloc'd; NULL out of
 * memory). */
char *request_render_result(const struct plan *p);

/* The result shown before any request. */
extern const char request_empty_result[];

/* What is said of a request that selected no worker at all (both of its
 * result's lists empty): its answer, its log line and progress.json's
 * "note". */
#define REQUEST_MATCHED_NONE "matched no worker"
/* Whether a request matched no worker, from its summary alone: its
 * result is the empty one. */
bool request_matched_none(const struct request_summary *sum);
