/* The planner, after Cinder's scheduler work_cleanup and services query,
 * with doc/cleanup.md's fixes: service_id matches services.id, and with
 * no binary only volume and scheduler workers are taken. */
#include "planner.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "liveness.h"

bool planner_host_matches(const char *filter, const char *value)
{
	size_t n = strlen(filter);

	if (strcmp(value, filter) == 0)
		return true;
	if (strchr(filter, '#'))
		return false;
	if (strncmp(value, filter, n) != 0)
		return false;
	if (value[n] == '#')
		return true;
	return value[n] == '@' && !strchr(filter, '@');
}

static bool selected(const struct filter *f, const struct planner_worker *w,
		     const struct timespec *now, int down_time)
{
	const struct service *s = &w->svc;

	if (f->service_id_matches_none)
		return false;
	if (f->has_service_id && s->id != f->service_id)
		return false;
	if (f->host[0] && !planner_host_matches(f->host, s->host))
		return false;
	if (f->cluster_name[0] && (!s->cluster_name[0] ||
				   !planner_host_matches(f->cluster_name, s->cluster_name)))
		return false;
	if (f->binary[0] ? strcmp(s->binary, f->binary) != 0
			 : (strcmp(s->binary, BINARY_VOLUME) != 0 &&
			    strcmp(s->binary, BINARY_SCHEDULER) != 0))
		return false;
	if (f->is_up != TRI_ANY &&
	    liveness_selected_up(s->updated_at, s->created_at, now, down_time) != (f->is_up == TRI_TRUE))
		return false;
	if (f->disabled != TRI_ANY) {
		/* A clustered worker is as disabled as its cluster. */
		int flag = s->cluster_name[0] ? w->cluster_disabled : (s->disabled ? TRI_TRUE : TRI_FALSE);
		if (flag != f->disabled)
			return false;
	}
	return true;
}

/* Whether a worker can be sent a cleanup: up by its heartbeat, and able
 * to clean (a worker whose storage driver did not start takes no jobs). */
static bool can_take(const struct planner_worker *w, const struct timespec *now, int down_time)
{
	return !w->cannot_clean && liveness_worker_is_up(w->svc.updated_at, now, down_time);
}

/* A cluster can clean when one of its members (of any binary, as Cinder's
 * cluster is_up) is up and able to. */
static bool cluster_up(const char *name, const struct planner_worker *workers, size_t count,
		       const struct timespec *now, int down_time)
{
	for (size_t i = 0; i < count; i++)
		if (strcmp(workers[i].svc.cluster_name, name) == 0 &&
		    can_take(&workers[i], now, down_time))
			return true;
	return false;
}

int planner_plan(const struct filter *f, const struct planner_worker *workers, size_t count,
		 const struct timespec *now, int down_time, struct plan *out)
{
	out->count = 0;
	out->entries = calloc(count ? count : 1, sizeof(*out->entries));
	if (!out->entries)
		return -ENOMEM;
	for (size_t i = 0; i < count; i++) {
		const struct service *s = &workers[i].svc;
		struct plan_entry *e;

		if (!selected(f, &workers[i], now, down_time))
			continue;
		e = &out->entries[out->count++];
		e->svc = s;
		if (strcmp(s->binary, BINARY_SCHEDULER) == 0) {
			e->cleaning = true;
			e->dest = DEST_ANY;
		} else if (s->cluster_name[0]) {
			e->cleaning = cluster_up(s->cluster_name, workers, count, now, down_time);
			e->dest = DEST_CLUSTER;
		} else {
			e->cleaning = can_take(&workers[i], now, down_time);
			e->dest = DEST_SERVICE;
		}
	}
	return 0;
}

void planner_free(struct plan *p)
{
	free(p->entries);
	p->entries = NULL;
	p->count = 0;
}
