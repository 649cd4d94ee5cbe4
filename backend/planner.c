/* The planner, after Cinder's scheduler work_cleanup and services query,
 * with doc/cleanup.md's fixes: service_id matches services.id, and with
 * no binary only volume and scheduler workers are taken. */
#include "planner.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
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

bool planner_selects(const struct filter *f, const struct planner_worker *w,
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
static bool can_take(const char *updated_at, bool cannot_clean, const struct timespec *now,
		     int down_time)
{
	return !cannot_clean && liveness_worker_is_up(updated_at, now, down_time);
}

/* out = filter's first n bytes and one more character. */
static void with_char(char *out, const char *filter, size_t n, char c)
{
	memcpy(out, filter, n);
	out[n] = c;
	out[n + 1] = '\0';
}

void planner_host_ranges(const char *filter, char hash_lo[], char hash_hi[], char at_lo[],
			 char at_hi[])
{
	size_t n = strnlen(filter, NAME_LEN - 1);

	hash_lo[0] = hash_hi[0] = at_lo[0] = at_hi[0] = '\0';
	if (memchr(filter, '#', n))
		return;
	/* value#...: from "f#" up to, not including, "f$" ('#' + 1). */
	with_char(hash_lo, filter, n, '#');
	with_char(hash_hi, filter, n, '$');
	if (memchr(filter, '@', n))
		return;
	/* value@...: from "f@" up to "fA" ('@' + 1). */
	with_char(at_lo, filter, n, '@');
	with_char(at_hi, filter, n, 'A');
}

/* A name kept in the plan's text; its offset in *off. */
static int keep_text(struct plan *p, const char *s, uint32_t *off)
{
	size_t len = strlen(s) + 1;

	if (len == 1) {
		*off = 0;
		return 0;
	}
	if (p->text_len + len > UINT32_MAX)
		return -ENOMEM;
	if (array_reserve((void **)&p->text, &p->text_cap, p->text_len + len, 1) != 0)
		return -ENOMEM;
	memcpy(p->text + p->text_len, s, len);
	*off = (uint32_t)p->text_len;
	p->text_len += len;
	return 0;
}

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

/* The slot of cluster `name`: the one holding it, or the empty one where
 * it would go. */
static size_t cluster_slot(const struct plan *p, const char *name)
{
	size_t mask = p->n_slots - 1, i = name_hash(name) & mask;

	while (p->slots[i] && strcmp(plan_text(p, p->clusters[p->slots[i] - 1].name), name) != 0)
		i = (i + 1) & mask;
	return i;
}

static int grow_slots(struct plan *p)
{
	size_t n = p->n_slots ? p->n_slots * 2 : 64;
	uint32_t *old = p->slots;
	size_t old_n = p->n_slots;

	p->slots = calloc(n, sizeof(*p->slots));
	if (!p->slots) {
		p->slots = old;
		return -ENOMEM;
	}
	p->n_slots = n;
	for (size_t i = 0; i < old_n; i++)
		if (old[i])
			p->slots[cluster_slot(p, plan_text(p, p->clusters[old[i] - 1].name))] = old[i];
	free(old);
	return 0;
}

/* The cluster named `name`, made when new; its index in *idx. */
static int cluster_of(struct plan *p, const char *name, uint32_t *idx)
{
	struct plan_cluster *c;
	size_t slot;
	int rc;

	if (2 * (p->n_clusters + 1) > p->n_slots && (rc = grow_slots(p)) != 0)
		return rc;
	slot = cluster_slot(p, name);
	if (p->slots[slot]) {
		*idx = p->slots[slot] - 1;
		return 0;
	}
	if (array_reserve((void **)&p->clusters, &p->clusters_cap, p->n_clusters + 1,
			  sizeof(*p->clusters)) != 0)
		return -ENOMEM;
	c = &p->clusters[p->n_clusters];
	memset(c, 0, sizeof(*c));
	if ((rc = keep_text(p, name, &c->name)) != 0)
		return rc;
	p->slots[slot] = (uint32_t)++p->n_clusters;
	*idx = (uint32_t)(p->n_clusters - 1);
	return 0;
}

int planner_begin(struct plan *p, const struct filter *f, const struct timespec *now,
		  int down_time)
{
	memset(p, 0, sizeof(*p));
	p->filter = f;
	p->now = *now;
	p->down_time = down_time;
	/* Offset 0 is the empty name. */
	if (array_reserve((void **)&p->text, &p->text_cap, 4096, 1) != 0)
		return -ENOMEM;
	p->text[0] = '\0';
	p->text_len = 1;
	return 0;
}

int planner_offer(struct plan *p, const struct planner_worker *w)
{
	const struct service *s = &w->svc;
	struct plan_entry *e;
	uint32_t cluster = 0;
	bool up = can_take(s->updated_at, w->cannot_clean, &p->now, p->down_time);
	int rc;

	/* A cluster can clean when one of its members (of any binary, as
	 * Cinder's cluster is_up) is up and able to. */
	if (s->cluster_name[0]) {
		if ((rc = cluster_of(p, s->cluster_name, &cluster)) != 0)
			return rc;
		if (up)
			p->clusters[cluster].up = true;
	}
	if (!planner_selects(p->filter, w, &p->now, p->down_time))
		return 0;
	if (array_reserve((void **)&p->entries, &p->cap, p->count + 1, sizeof(*p->entries)) != 0)
		return -ENOMEM;
	e = &p->entries[p->count];
	memset(e, 0, sizeof(*e));
	e->id = s->id;
	e->cluster = cluster;
	if ((rc = keep_text(p, s->host, &e->host)) != 0 ||
	    (rc = keep_text(p, s->binary, &e->binary)) != 0)
		return rc;
	if (s->cluster_name[0])
		e->cluster_name = p->clusters[cluster].name;
	if (strcmp(s->binary, BINARY_SCHEDULER) == 0) {
		e->cleaning = true;
		e->dest = DEST_ANY;
	} else if (s->cluster_name[0]) {
		e->dest = DEST_CLUSTER;
		p->clusters[cluster].needed = true;
	} else {
		e->cleaning = up;
		e->dest = DEST_SERVICE;
	}
	p->count++;
	return 0;
}

void planner_member(struct plan *p, const char *cluster_name, const char *updated_at,
		    bool cannot_clean)
{
	size_t slot;

	if (!p->n_slots || !cluster_name || !cluster_name[0])
		return;
	slot = cluster_slot(p, cluster_name);
	if (p->slots[slot] && can_take(updated_at, cannot_clean, &p->now, p->down_time))
		p->clusters[p->slots[slot] - 1].up = true;
}

/* Beyond this many clusters to ask about, every member is read at once. */
#define MEMBER_QUERIES_MAX 16

int planner_finish(struct plan *p, bool every_row, planner_members_fn members, void *ctx)
{
	size_t unsettled = 0;
	int rc;

	for (size_t i = 0; i < p->n_clusters; i++)
		unsettled += p->clusters[i].needed && !p->clusters[i].up;
	if (unsettled && !every_row && members) {
		if (unsettled > MEMBER_QUERIES_MAX) {
			if ((rc = members(ctx, p, NULL)) != 0)
				return rc;
		} else {
			for (size_t i = 0; i < p->n_clusters; i++) {
				if (!p->clusters[i].needed || p->clusters[i].up)
					continue;
				if ((rc = members(ctx, p, plan_text(p, p->clusters[i].name))) != 0)
					return rc;
			}
		}
	}
	for (size_t i = 0; i < p->count; i++)
		if (p->entries[i].dest == DEST_CLUSTER)
			p->entries[i].cleaning = p->clusters[p->entries[i].cluster].up;
	return 0;
}

int planner_plan(const struct filter *f, const struct planner_worker *workers, size_t count,
		 const struct timespec *now, int down_time, struct plan *out)
{
	int rc = planner_begin(out, f, now, down_time);

	for (size_t i = 0; i < count && rc == 0; i++)
		rc = planner_offer(out, &workers[i]);
	if (rc == 0)
		rc = planner_finish(out, true, NULL, NULL);
	if (rc)
		planner_free(out);
	return rc;
}

void planner_free(struct plan *p)
{
	free(p->entries);
	free(p->text);
	free(p->clusters);
	free(p->slots);
	memset(p, 0, sizeof(*p));
}
