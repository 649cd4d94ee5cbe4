/* Up/down decisions in one place, so that the mount, the stuck listing and
 * (later) the cleanup planner agree on who is down. */
#include "liveness.h"

#include <string.h>

void liveness_bound(const struct timespec *now, int down_time, struct timespec *out)
{
	out->tv_sec = now->tv_sec - down_time;
	out->tv_nsec = now->tv_nsec;
}

void liveness_bound_text(const struct timespec *now, int down_time, char out[DBTIME_LEN])
{
	struct timespec bound;
	liveness_bound(now, down_time, &bound);
	dbtime_format_bound(&bound, out);
}

static bool at_or_after(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec >= b->tv_nsec);
}

bool liveness_beat_counts(const char *updated_at, const struct timespec *bound)
{
	struct timespec beat;

	/* No heartbeat yet is down, however new the row (Cinder's
	 * Service.is_up): a worker that registered and hung at once never
	 * takes the work a cleanup would send it. An unreadable time is
	 * down too. */
	if (!updated_at || !*updated_at || dbtime_parse(updated_at, &beat) != 0)
		return false;
	return at_or_after(&beat, bound);
}

bool liveness_worker_is_up(const char *updated_at, const struct timespec *now, int down_time)
{
	struct timespec bound;

	liveness_bound(now, down_time, &bound);
	return liveness_beat_counts(updated_at, &bound);
}

static bool recent(const char *text, const struct timespec *bound)
{
	struct timespec t;
	return text && dbtime_parse(text, &t) == 0 && at_or_after(&t, bound);
}

bool liveness_selected_up(const char *updated_at, const char *created_at,
			  const struct timespec *now, int down_time)
{
	struct timespec bound;

	liveness_bound(now, down_time, &bound);
	return recent(updated_at, &bound) || recent(created_at, &bound);
}

void liveness_cluster_init(struct liveness_cluster *c)
{
	memset(c, 0, sizeof(*c));
}

void liveness_cluster_add(struct liveness_cluster *c, const char *updated_at,
			  const struct timespec *now, int down_time)
{
	struct timespec mine, latest;

	c->num_hosts++;
	if (liveness_worker_is_up(updated_at, now, down_time))
		c->is_up = true;
	else
		c->num_down_hosts++;
	/* last_heartbeat is Cinder's max(updated_at) over the members. */
	if (updated_at && dbtime_parse(updated_at, &mine) == 0 &&
	    (c->last_heartbeat[0] == '\0' || dbtime_parse(c->last_heartbeat, &latest) != 0 ||
	     !at_or_after(&latest, &mine)))
		dbtime_format(&mine, c->last_heartbeat);
}
