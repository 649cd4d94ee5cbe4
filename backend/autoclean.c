/* Automatic cleanup: the members of a cluster watch each other, and the
 * database decides which of them asks (the outage's mark, written in the
 * request's own transaction, has a primary key). The age is the guard
 * against a rolling restart: a member back within it has a new heartbeat,
 * so it is never found down for that long. */
#include "autoclean.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "array.h"
#include "heartbeat.h"
#include "liveness.h"
#include "log.h"
#include "request.h"

struct outage {
	int64_t id;
	char host[NAME_LEN];
	char beat[DBTIME_LEN];
};

struct outages {
	struct outage *list;
	size_t count, cap;
};

static int collect(void *ctx, int64_t id, const char *host, const char *beat)
{
	struct outages *o = ctx;

	if (array_reserve((void **)&o->list, &o->cap, o->count + 1, sizeof(*o->list)) != 0)
		return -ENOMEM;
	o->list[o->count].id = id;
	snprintf(o->list[o->count].host, NAME_LEN, "%s", host ? host : "");
	snprintf(o->list[o->count].beat, DBTIME_LEN, "%s", beat);
	o->count++;
	return 0;
}

/* One member's request: 1 recorded, 0 another member's (or the member is
 * back), -errno. */
static int ask(struct store *st, struct autoclean *a, const struct cluster *cl,
	       const struct outage *o, const struct timespec *clock)
{
	struct store_outage mark = {
		.service_id = o->id, .last_heartbeat = o->beat, .cluster_name = cl->name,
		.host = o->host, .after_seconds = cl->auto_cleanup, .requested_by = a->me,
	};
	json_t *spec_json = json_pack("{s:s}", "host", o->host);
	/* jansson's default separators: {"host": "node1@lvm"}, as an
	 * operator would write it. */
	char *spec = spec_json ? json_dumps(spec_json, 0) : NULL;
	struct request_input in = {
		.uid = (long long)geteuid(), .pid = (long long)getpid(), .accepted_by = a->me,
		.version = a->version, .down_time = a->down_time, .up_at = *clock, .outage = &mark,
	};
	struct cf_err err = { "" };
	char since[DBTIME_LEN];
	int64_t id = 0;
	int rc;

	json_decref(spec_json);
	if (!spec)
		return -ENOMEM;
	in.spec = spec;
	in.len = strlen(spec);
	dbtime_now(&in.now);
	rc = request_submit(st, &in, &id, NULL, &err);
	free(spec);
	if (!dbtime_to_iso(o->beat, since))
		snprintf(since, sizeof(since), "%s", o->beat);
	if (rc == 0) {
		log_info("automatic cleanup: worker %lld (%s) of cluster %s has been down since %s, "
			 "longer than its auto_cleanup of %lld s: cleanup request %lld",
			 (long long)o->id, o->host, cl->name, since, (long long)cl->auto_cleanup,
			 (long long)id);
		a->refused_id = 0;
		return 1;
	}
	if (rc == -EALREADY) {
		log_debug("automatic cleanup of worker %lld: %s", (long long)o->id, err.msg);
		return 0;
	}
	if (a->refused_id != o->id || strcmp(a->refused_beat, o->beat) != 0) {
		log_warning("automatic cleanup of worker %lld (%s), down since %s: not requested "
			    "now (%s); trying again", (long long)o->id, o->host, since, err.msg);
		a->refused_id = o->id;
		snprintf(a->refused_beat, sizeof(a->refused_beat), "%s", o->beat);
	}
	return rc;
}

int autoclean_run(struct store *st, struct autoclean *a)
{
	struct outages due = { 0 };
	struct timespec clock, bound;
	struct cluster cl;
	int64_t age;
	int made = 0, rc;

	if (!a->cluster_name || !a->cluster_name[0] || !a->me)
		return 0;
	/* Not live itself: its peers may have taken its rows, and the
	 * clock it judges by stopped with its beats. */
	if (heartbeat_age_ms() > (int64_t)a->down_time * 1000)
		return 0;
	rc = store_get_cluster(st, a->cluster_name, &cl);
	if (rc || cl.auto_cleanup <= 0)
		return 0;
	/* At the heartbeat's clock: while beats do not land (a locked
	 * database), no peer is read as down for long. The age counts from
	 * the last heartbeat; a member is down for at least
	 * service_down_time before anything is asked. */
	heartbeat_clock(&clock);
	age = cl.auto_cleanup > a->down_time ? cl.auto_cleanup : a->down_time;
	bound = clock;
	bound.tv_sec -= (time_t)age;
	rc = store_outages_due(st, cl.name, a->me, &bound, collect, &due);
	if (rc && rc != -ENOMEM)
		log_warning("automatic cleanup: cannot read cluster %s's members: %s", cl.name,
			    strerror(-rc));
	for (size_t i = 0; i < due.count; i++)
		if (ask(st, a, &cl, &due.list[i], &clock) > 0)
			made++;
	free(due.list);
	return made;
}
