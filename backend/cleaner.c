/* The cleaner. One decision per row, taken from that row alone (fix:
 * upstream carried a flag over from the previous row), and every outcome
 * recorded with words an operator can act on.
 *
 * Rows go in batches: one short write transaction claims a batch (each
 * row on its own, as Cinder's claim: a row a peer changed or took is
 * not ours), one read per kind fetches its volumes and snapshots, each
 * row is worked on with no transaction open, and one write transaction
 * ends the batch (each row's resource changes, the row deleted or given
 * back, its progress), each row's end written only while its claim is
 * still ours; that transaction also claims the next batch (one commit
 * a batch, not two). Nothing is written while a storage command runs,
 * so the database's write lock is never held across one; a worker that lost a
 * row (it could not heartbeat, a peer took the row) abandons it instead
 * of writing over the peer's result; and a worker killed in the middle of
 * a batch leaves its claimed rows, marked claimed in the progress, to the
 * job's next taker (store_recover_jobs gives them back) or to a cleanup
 * of that worker. A few statements per batch instead of a few per row:
 * on PostgreSQL each is a round trip. */
#include "cleaner.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "log.h"
#include "removal.h"

/* Rows claimed and ended together: a few statements each time, and a
 * bound on what a worker killed in the middle leaves claimed. */
#define BATCH_ROWS 128
/* With a slow driver, the ends of the rows done so far are written at
 * least this often (the progress moves, and less is redone after a
 * crash). */
#define END_EVERY_MS 1000

/* SKIPPED: the resource moved on (gone, another status, nothing to clean)
 * and the row is removed. REFUSED: cinderfs will not clean it here (another
 * backend's volume) and the row is given back. DEFERRED: a volume whose LV
 * is left for one lvremove with the others (export and snapshots done). */
enum outcome { CLEANED, SKIPPED, FAILED, REFUSED, DEFERRED };

/* What a row's end changes in the database, gathered while the row is
 * worked on and written in its batch's end. */
struct changes {
	struct store_change *items;
	size_t count, cap;
	bool oom;
};

static void change(struct changes *ch, enum store_change_kind kind, const char *id,
		   const char *status)
{
	struct store_change *c;

	if (array_reserve((void **)&ch->items, &ch->cap, ch->count + 1, sizeof(*ch->items)) != 0) {
		ch->oom = true;
		return;
	}
	c = &ch->items[ch->count++];
	c->kind = kind;
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->status, sizeof(c->status), "%s", status ? status : "");
}

/* A claimed row, from its claim to its end. */
struct slot {
	struct worker_row row;
	enum outcome out;
	bool drop;             /* deleted rather than given back */
	bool ended;
	struct changes ch;
	size_t seen;           /* changes already applied to the batch's reads */
	struct volume vol;     /* DEFERRED: the volume whose removal waits */
	size_t snapshots;
	char detail[1024];
};

/* A batch's resources as read after its claim, with the changes of the
 * rows worked on so far applied: each row sees what it would if every
 * row before it had ended first. A resource gone (or deleted by an
 * earlier row) has rc -ENOENT. */
struct reads {
	int rc;                               /* the read failed: every lookup says so */
	struct store_volume_read *vols;       /* by id */
	size_t n_vols;
	struct store_snapshot_read *snaps;    /* of Snapshot rows, by id */
	size_t n_snaps;
	struct snapshot *children;            /* of deleting volumes, in cascade order */
	bool *child_gone;
	size_t n_children;
};

struct batch {
	struct slot *slots;
	size_t count;
	int64_t request_id, job_id;       /* request 0: own cleanup at start */
	bool scheduler;                   /* the rows are a cinder-scheduler's */
	struct reads reads;
};

struct snap_list {
	struct snapshot *items;
	size_t count, cap;
};

static int collect_snapshot(void *ctx, const struct snapshot *snap)
{
	struct snap_list *l = ctx;

	if (array_reserve((void **)&l->items, &l->cap, l->count + 1, sizeof(*l->items)) != 0)
		return -ENOMEM;
	l->items[l->count++] = *snap;
	return 0;
}

/* ---- The batch's reads ---- */

static int by_volume_id(const void *a, const void *b)
{
	return strcmp(((const struct store_volume_read *)a)->vol.id,
		      ((const struct store_volume_read *)b)->vol.id);
}

static int by_snapshot_id(const void *a, const void *b)
{
	return strcmp(((const struct store_snapshot_read *)a)->snap.id,
		      ((const struct store_snapshot_read *)b)->snap.id);
}

static struct store_volume_read *cached_volume(struct reads *r, const char *id)
{
	struct store_volume_read key;

	snprintf(key.vol.id, sizeof(key.vol.id), "%s", id);
	return r->n_vols ? bsearch(&key, r->vols, r->n_vols, sizeof(*r->vols), by_volume_id) : NULL;
}

static struct store_snapshot_read *cached_snapshot(struct reads *r, const char *id)
{
	struct store_snapshot_read key;

	snprintf(key.snap.id, sizeof(key.snap.id), "%s", id);
	return r->n_snaps ? bsearch(&key, r->snaps, r->n_snaps, sizeof(*r->snaps), by_snapshot_id)
			  : NULL;
}

/* An id the batch's reads can hold: shorter than a volume's id field.
 * A longer one is read on its own (the store says what it is). */
static bool fits(const char *id)
{
	return strlen(id) < UUID_LEN;
}

static void free_reads(struct reads *r)
{
	free(r->vols);
	free(r->snaps);
	free(r->children);
	free(r->child_gone);
	*r = (struct reads){ 0 };
}

/* Read, once for the batch: the snapshots of its Snapshot rows, the
 * volumes of its Volume rows and of those snapshots, and the snapshots
 * of its deleting volumes (their cascade). A failure is every lookup's
 * answer, so each row says it as it would have on its own. */
static void read_batch(struct cleaner *c, struct batch *b)
{
	struct reads *r = &b->reads;
	const char **ids = calloc(2 * b->count + 1, sizeof(*ids));
	size_t n = 0;
	int rc = 0;

	*r = (struct reads){ 0 };
	if (!ids) {
		r->rc = -ENOMEM;
		return;
	}
	for (size_t i = 0; i < b->count; i++) {
		const struct worker_row *row = &b->slots[i].row;
		if (strcmp(row->resource_type, "Snapshot") == 0 && fits(row->resource_id))
			ids[n++] = row->resource_id;
	}
	if (n)
		rc = store_get_snapshots(c->st, ids, n, &r->snaps, &r->n_snaps);
	n = 0;
	for (size_t i = 0; rc == 0 && i < b->count; i++) {
		const struct worker_row *row = &b->slots[i].row;
		if (strcmp(row->resource_type, "Volume") == 0 && fits(row->resource_id))
			ids[n++] = row->resource_id;
	}
	for (size_t i = 0; rc == 0 && i < r->n_snaps; i++)
		if (r->snaps[i].rc == 0)
			ids[n++] = r->snaps[i].snap.volume_id;
	if (rc == 0 && n)
		rc = store_get_volumes(c->st, ids, n, &r->vols, &r->n_vols);
	n = 0;
	for (size_t i = 0; rc == 0 && !b->scheduler && i < b->count; i++) {
		const struct worker_row *row = &b->slots[i].row;
		if (strcmp(row->resource_type, "Volume") == 0 && strcmp(row->status, "deleting") == 0 &&
		    fits(row->resource_id))
			ids[n++] = row->resource_id;
	}
	if (rc == 0 && n) {
		rc = store_list_snapshots_of_volumes(c->st, ids, n, &r->children, &r->n_children);
		if (rc == 0 && r->n_children && !(r->child_gone = calloc(r->n_children, sizeof(bool))))
			rc = -ENOMEM;
	}
	free(ids);
	if (rc) {
		free_reads(r);
		r->rc = rc;
		return;
	}
	if (r->n_vols > 1)
		qsort(r->vols, r->n_vols, sizeof(*r->vols), by_volume_id);
	if (r->n_snaps > 1)
		qsort(r->snaps, r->n_snaps, sizeof(*r->snaps), by_snapshot_id);
}

/* A row's changes, once decided, are what the rows after it read. */
static void apply_to_reads(struct reads *r, struct slot *s)
{
	for (; s->seen < s->ch.count; s->seen++) {
		const struct store_change *ch = &s->ch.items[s->seen];
		bool gone = ch->kind == CHANGE_VOLUME_DELETED || ch->kind == CHANGE_SNAPSHOT_DELETED;

		if (ch->kind == CHANGE_VOLUME_STATUS || ch->kind == CHANGE_VOLUME_DELETED) {
			struct store_volume_read *v = cached_volume(r, ch->id);
			if (v && v->rc == 0 && gone)
				v->rc = -ENOENT;
			else if (v && v->rc == 0)
				snprintf(v->vol.status, sizeof(v->vol.status), "%s", ch->status);
			continue;
		}
		{
			struct store_snapshot_read *sn = cached_snapshot(r, ch->id);
			if (sn && sn->rc == 0 && gone)
				sn->rc = -ENOENT;
			else if (sn && sn->rc == 0)
				snprintf(sn->snap.status, sizeof(sn->snap.status), "%s", ch->status);
		}
		for (size_t i = 0; i < r->n_children; i++) {
			if (r->child_gone[i] || strcmp(r->children[i].id, ch->id) != 0)
				continue;
			if (gone)
				r->child_gone[i] = true;
			else
				snprintf(r->children[i].status, sizeof(r->children[i].status), "%s",
					 ch->status);
		}
	}
}

static int get_volume(struct cleaner *c, struct batch *b, const char *id, struct volume *out)
{
	const struct store_volume_read *v;

	if (!fits(id))
		return store_get_volume(c->st, id, out);
	if (b->reads.rc)
		return b->reads.rc;
	v = cached_volume(&b->reads, id);
	if (!v)
		return -ENOENT;
	if (v->rc == 0)
		*out = v->vol;
	return v->rc;
}

static int get_snapshot(struct cleaner *c, struct batch *b, const char *id, struct snapshot *out)
{
	const struct store_snapshot_read *s;

	if (!fits(id))
		return store_get_snapshot(c->st, id, out);
	if (b->reads.rc)
		return b->reads.rc;
	s = cached_snapshot(&b->reads, id);
	if (!s)
		return -ENOENT;
	if (s->rc == 0)
		*out = s->snap;
	return s->rc;
}

/* A volume's live snapshots, in the order its cascade deletes them. */
static int list_snapshots(struct cleaner *c, struct batch *b, const char *volume_id,
			  struct snap_list *out)
{
	if (!fits(volume_id))
		return store_list_volume_snapshots(c->st, volume_id, collect_snapshot, out);
	if (b->reads.rc)
		return b->reads.rc;
	for (size_t i = 0; i < b->reads.n_children; i++)
		if (!b->reads.child_gone[i] && strcmp(b->reads.children[i].volume_id, volume_id) == 0 &&
		    collect_snapshot(out, &b->reads.children[i]) != 0)
			return -ENOMEM;
	return 0;
}

/* ---- One row ---- */

/* The end of a volume's delete, once its LV removal answered rc. */
static enum outcome finish_delete(struct cleaner *c, const struct volume *vol, int rc,
				  const struct cf_err *err, size_t snapshots, struct changes *ch,
				  char *detail, size_t size)
{
	if (rc == -EBUSY) {
		change(ch, CHANGE_VOLUME_STATUS, vol->id, "available");
		snprintf(detail, size, "volume set back to available: %.900s",
			 err->msg[0] ? err->msg : "it still has snapshots on the backend");
		return CLEANED;
	}
	if (rc) {
		snprintf(detail, size, "deleting volume %s failed: %.900s", vol->id,
			 err->msg[0] ? err->msg : strerror(-rc));
		return FAILED;
	}
	change(ch, CHANGE_VOLUME_DELETED, vol->id, NULL);
	if (c->drv.ops->database_only)
		snprintf(detail, size, "volume marked deleted (no storage driver: nothing was removed "
			 "on a backend; %zu snapshot(s) marked deleted)", snapshots);
	else
		snprintf(detail, size, "volume deleted (driver %s: export removed, %zu snapshot(s) "
			 "deleted, volume removed)", c->drv.ops->name, snapshots);
	return CLEANED;
}

/* Cinder's delete_volume as the cleanup runs it: unexport, delete the
 * snapshots (all must be deleting), remove the volume, mark it deleted.
 * Where the driver removes many volumes at once, the removal is left to
 * the batch (DEFERRED). */
static enum outcome delete_volume(struct cleaner *c, struct batch *b, struct slot *s)
{
	const struct volume *vol = &s->vol;
	struct snap_list snaps = { 0 };
	struct cf_err err = { "" };
	char *detail = s->detail;
	size_t size = sizeof(s->detail);
	int rc;

	rc = c->drv.ops->remove_export(c->drv.ctx, vol, &err);
	if (rc) {
		snprintf(detail, size, "removing the export of volume %s failed: %s", vol->id, err.msg);
		return FAILED;
	}
	rc = list_snapshots(c, b, vol->id, &snaps);
	if (rc) {
		free(snaps.items);
		snprintf(detail, size, "listing the snapshots of volume %s failed: %s", vol->id,
			 strerror(-rc));
		return FAILED;
	}
	/* Cinder's cascade: the snapshots in turn, each of which must be
	 * deleting; the first that is not stops it there, and those deleted
	 * before it stay deleted. A snapshot removed on the backend is marked
	 * deleted whatever becomes of the volume. */
	for (size_t i = 0; i < snaps.count; i++) {
		if (strcmp(snaps.items[i].status, "deleting") != 0) {
			change(&s->ch, CHANGE_VOLUME_STATUS, vol->id, "error_deleting");
			snprintf(detail, size, "volume set to error_deleting: its snapshot %s is %s, "
				 "not deleting (%zu snapshot(s) %s before it)", snaps.items[i].id,
				 snaps.items[i].status, i,
				 c->drv.ops->database_only ? "marked deleted" : "deleted");
			free(snaps.items);
			return CLEANED;
		}
		rc = c->drv.ops->delete_snapshot(c->drv.ctx, &snaps.items[i], &err);
		if (rc) {
			snprintf(detail, size, "deleting snapshot %s of volume %s failed: %.700s (%zu "
				 "snapshot(s) deleted before it stay deleted)", snaps.items[i].id, vol->id,
				 err.msg[0] ? err.msg : strerror(-rc), i);
			free(snaps.items);
			return FAILED;
		}
		change(&s->ch, CHANGE_SNAPSHOT_DELETED, snaps.items[i].id, NULL);
	}
	free(snaps.items);
	s->snapshots = snaps.count;
	if (c->drv.ops->delete_volumes)
		return DEFERRED;
	rc = c->drv.ops->delete_volume(c->drv.ctx, vol, &err);
	return finish_delete(c, vol, rc, &err, snaps.count, &s->ch, detail, size);
}

static enum outcome set_status(struct changes *ch, enum store_change_kind kind, const char *what,
			       const char *id, const char *status, char *detail, size_t size)
{
	change(ch, kind, id, status);
	snprintf(detail, size, "%s set to %s", what, status);
	return CLEANED;
}

/* Whether a resource on `host` (Cinder's host@backend#pool) and
 * `cluster_name` is on this worker's backend. A resource with no host is
 * on no other backend. The answers for the last few hosts are kept: a
 * cleanup's rows mostly share one or a few. */
static int on_my_backend(struct cleaner *c, const char *host, const char *cluster_name, bool *mine)
{
	struct cleaner_backend *e;
	char h[NAME_LEN], cl[NAME_LEN];
	int rc;

	if (!host[0]) {
		*mine = true;
		return 0;
	}
	snprintf(h, sizeof(h), "%.*s", (int)strcspn(host, "#"), host);
	snprintf(cl, sizeof(cl), "%.*s", (int)strcspn(cluster_name, "#"), cluster_name);
	for (size_t i = 0; i < c->n_backends; i++) {
		if (strcmp(c->backends[i].host, h) == 0 && strcmp(c->backends[i].cluster, cl) == 0) {
			*mine = c->backends[i].mine;
			return 0;
		}
	}
	rc = store_backend_is_mine(c->st, c->me, h, cl, mine);
	if (rc)
		return rc;
	e = &c->backends[c->next_backend];
	c->next_backend = (c->next_backend + 1) % CLEANER_BACKENDS;
	if (c->n_backends < CLEANER_BACKENDS)
		c->n_backends++;
	snprintf(e->host, sizeof(e->host), "%s", h);
	snprintf(e->cluster, sizeof(e->cluster), "%s", cl);
	e->mine = *mine;
	return 0;
}

/* Cinder refuses to act on another backend's resource ("not local"). With
 * LVM it matters twice: an absent LV counts as removed, so another
 * backend's volume would be marked deleted and its LV left behind. */
static enum outcome refuse_foreign(struct cleaner *c, const char *what, const char *id,
				   const char *host, const char *cluster_name, struct slot *s)
{
	bool mine = true;
	int rc = on_my_backend(c, host, cluster_name, &mine);

	if (rc) {
		s->drop = false;
		snprintf(s->detail, sizeof(s->detail), "checking the backend of %s %s failed: %s", what,
			 id, strerror(-rc));
		return FAILED;
	}
	if (mine)
		return CLEANED; /* go on */
	s->drop = false;
	snprintf(s->detail, sizeof(s->detail), "%s %s is on host %s, not this worker's backend "
		 "(worker %lld, its host or a host of its cluster): row given back, nothing done", what,
		 id, host, (long long)c->me);
	return REFUSED;
}

/* What Cinder's cleanup does with one resource, decided from its status
 * alone, before any driver call: the one decision clean_volume and
 * clean_snapshot act on and cleanup/preview shows (cleaner_foresee). A
 * scheduler's rows: a volume it was placing (creating) goes to error,
 * nothing else is touched. Not decided here: whether the resource is on
 * this worker's backend (refuse_foreign), what a driver answers. */
enum decision {
	DECIDE_SKIP,   /* nothing to do: the row is removed */
	DECIDE_KEEP,   /* not now (an attached volume to delete): the row is given back */
	DECIDE_ERROR,  /* set to error (a download cleared first) */
	DECIDE_STATUS, /* set to *to */
	DECIDE_DELETE, /* deleted in full */
};

static enum decision decide(bool scheduler, const char *type, const char *row_status,
			    const char *status, const char *attach_status, const char **to,
			    char *why, size_t size)
{
	bool volume = strcmp(type, "Volume") == 0;
	const char *what = volume ? "volume" : "snapshot";
	bool attached = volume && attach_status && strcmp(attach_status, "attached") == 0;

	*to = NULL;
	if (!volume && strcmp(type, "Snapshot") != 0) {
		/* Nothing to act on, and, as a row in a status that needs no
		 * cleanup, removed rather than given back to be claimed by
		 * every later cleanup. */
		snprintf(why, size, "resource type %s is not one cinderfs cleans: row removed", type);
		return DECIDE_SKIP;
	}
	if (!status) {
		snprintf(why, size, "the %s is gone: row removed", what);
		return DECIDE_SKIP;
	}
	if (strcmp(status, row_status) != 0) {
		snprintf(why, size, "the %s is %s now, not %s: row removed", what, status, row_status);
		return DECIDE_SKIP;
	}
	if (scheduler) {
		if (volume && strcmp(status, "creating") == 0) {
			snprintf(why, size, "volume set to error");
			return DECIDE_ERROR;
		}
		snprintf(why, size, "a cinder-scheduler's %s row in %s: the scheduler's cleanup only "
			 "sets creating volumes to error; row removed", type, status);
		return DECIDE_SKIP;
	}
	if (strcmp(status, "creating") == 0 || (volume && strcmp(status, "downloading") == 0)) {
		snprintf(why, size, "%s set to error", what);
		return DECIDE_ERROR;
	}
	if (volume && strcmp(status, "uploading") == 0) {
		*to = attached ? "in-use" : "available";
		snprintf(why, size, "volume set to %s", *to);
		return DECIDE_STATUS;
	}
	if (strcmp(status, "deleting") == 0) {
		if (attached) {
			/* Cinder's delete_volume refuses an attached volume
			 * (VolumeAttached): deleting it would pull storage from
			 * under its user. */
			snprintf(why, size, "the volume is attached: it is not deleted while attached "
				 "(detach it, then clean again): row given back");
			return DECIDE_KEEP;
		}
		snprintf(why, size, volume ? "volume deleted in full, with its snapshots" :
			 "snapshot deleted in full");
		return DECIDE_DELETE;
	}
	/* Removed, never given back: every later cleanup would claim it
	 * again (Cinder removes it too). */
	snprintf(why, size, "the %s is %s, which needs no cleanup: row removed", what, status);
	return DECIDE_SKIP;
}

static enum outcome clean_volume(struct cleaner *c, struct batch *b, struct slot *s)
{
	const struct worker_row *row = &s->row;
	char *detail = s->detail;
	size_t size = sizeof(s->detail);
	struct cf_err err = { "" };
	struct volume vol;
	enum outcome out;
	const char *to;
	enum decision d;
	int rc = get_volume(c, b, row->resource_id, &vol);

	if (rc && rc != -ENOENT) {
		s->drop = false;
		snprintf(detail, size, "reading the volume failed: %s", strerror(-rc));
		return FAILED;
	}
	d = decide(b->scheduler, "Volume", row->status, rc ? NULL : vol.status,
		   rc ? NULL : vol.attach_status, &to, detail, size);
	if (d == DECIDE_SKIP)
		return SKIPPED;
	if (b->scheduler) /* its creating volume: no backend to check */
		return set_status(&s->ch, CHANGE_VOLUME_STATUS, "volume", vol.id, "error", detail, size);
	out = refuse_foreign(c, "volume", vol.id, vol.host, vol.cluster_name, s);
	if (out != CLEANED)
		return out;
	switch (d) {
	case DECIDE_ERROR:
		if (strcmp(vol.status, "downloading") == 0) {
			rc = c->drv.ops->clear_download(c->drv.ctx, &vol, &err);
			if (rc) {
				snprintf(detail, size, "clearing the download failed: %s", err.msg);
				return FAILED;
			}
		}
		return set_status(&s->ch, CHANGE_VOLUME_STATUS, "volume", vol.id, "error", detail, size);
	case DECIDE_STATUS:
		return set_status(&s->ch, CHANGE_VOLUME_STATUS, "volume", vol.id, to, detail, size);
	case DECIDE_KEEP:
		s->drop = false;
		snprintf(detail, size, "volume %s is attached: it is not deleted while attached (detach "
			 "it, then clean again): row given back", vol.id);
		return REFUSED;
	default:
		s->vol = vol;
		return delete_volume(c, b, s);
	}
}

static enum outcome clean_snapshot(struct cleaner *c, struct batch *b, struct slot *s)
{
	const struct worker_row *row = &s->row;
	char *detail = s->detail;
	size_t size = sizeof(s->detail);
	struct cf_err err = { "" };
	struct snapshot snap;
	struct volume vol;
	enum outcome out;
	const char *to;
	enum decision d;
	int rc = get_snapshot(c, b, row->resource_id, &snap);

	if (rc && rc != -ENOENT) {
		s->drop = false;
		snprintf(detail, size, "reading the snapshot failed: %s", strerror(-rc));
		return FAILED;
	}
	d = decide(b->scheduler, "Snapshot", row->status, rc ? NULL : snap.status, "", &to, detail,
		   size);
	if (d == DECIDE_SKIP)
		return SKIPPED;
	if (d == DECIDE_ERROR)
		return set_status(&s->ch, CHANGE_SNAPSHOT_STATUS, "snapshot", snap.id, "error", detail,
				  size);
	/* Deleting: finished in full (fix: Cinder removes the row and leaves
	 * the snapshot deleting for ever). Only on its volume's backend. */
	rc = get_volume(c, b, snap.volume_id, &vol);
	if (rc && rc != -ENOENT) {
		s->drop = false;
		snprintf(detail, size, "reading volume %s of the snapshot failed: %s", snap.volume_id,
			 strerror(-rc));
		return FAILED;
	}
	if (rc == 0) {
		out = refuse_foreign(c, "snapshot", snap.id, vol.host, vol.cluster_name, s);
		if (out != CLEANED)
			return out;
	}
	rc = c->drv.ops->delete_snapshot(c->drv.ctx, &snap, &err);
	if (rc) {
		snprintf(detail, size, "deleting snapshot %s failed: %s", snap.id, err.msg);
		return FAILED;
	}
	change(&s->ch, CHANGE_SNAPSHOT_DELETED, snap.id, NULL);
	if (c->drv.ops->database_only)
		snprintf(detail, size, "snapshot marked deleted (no storage driver: nothing was "
			 "removed on a backend)");
	else
		snprintf(detail, size, "snapshot deleted (driver %s: snapshot removed)",
			 c->drv.ops->name);
	return CLEANED;
}

/* Steps 2 and 3 for a claimed row. s->drop says whether the row is to be
 * deleted (the operation is over) rather than given back. */
static enum outcome clean_row(struct cleaner *c, struct batch *b, struct slot *s)
{
	s->drop = true;
	if (strcmp(s->row.resource_type, "Volume") == 0)
		return clean_volume(c, b, s);
	if (strcmp(s->row.resource_type, "Snapshot") == 0)
		return clean_snapshot(c, b, s);
	{
		const char *to;
		decide(false, s->row.resource_type, s->row.status, NULL, NULL, &to, s->detail,
		       sizeof(s->detail));
	}
	return SKIPPED;
}

/* ---- A batch ---- */

static const char *const outcome_names[] = { "cleaned", "skipped", "failed", "refused" };

static int64_t monotonic_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Progress notes of rows this worker does not hold (a peer claimed them
 * first, or took them meanwhile): they never overwrite the holder's. */
static void note_not_held(struct cleaner *c, struct batch *b, const struct store_note *notes,
			  size_t n, const char *as)
{
	struct timespec now;

	if (!b->request_id || n == 0)
		return;
	dbtime_now(&now);
	if (store_note_progress_rows(c->st, b->request_id, b->job_id, notes, n, c->me, &now) == 0)
		return;
	for (size_t i = 0; i < n; i++)
		log_warning("cleanup of request %lld: could not note %s %s as %s (its job's end "
			    "settles it)", (long long)b->request_id, notes[i].resource_type,
			    notes[i].resource_id, as);
}

/* The rows of the next batch, claimed in the transaction of this one's
 * end. */
struct next_claim {
	const struct worker_row *rows;
	size_t count;
	bool *claimed;
};

/* The ends of the slots worked on and not ended yet, in one transaction,
 * each written only while its claim is still ours; a deferred one waits
 * for its removal. Each row: deleted when its operation is over, else
 * given back to its owner and time so a later cleanup finds it again (a
 * row already gone is fine: fix); the resource's changes with it.
 * Counted, logged. With `next`, the same transaction claims its rows. */
static int end_slots(struct cleaner *c, struct batch *b, size_t upto,
		     struct cleaner_counts *counts, const struct next_claim *next)
{
	struct row_end *ends = calloc(upto ? upto : 1, sizeof(*ends));
	struct slot **of = calloc(upto ? upto : 1, sizeof(*of));
	struct store_note *lost = calloc(upto ? upto : 1, sizeof(*lost));
	char (*why)[160] = calloc(upto ? upto : 1, sizeof(*why));
	int *results = calloc(upto ? upto : 1, sizeof(*results));
	int64_t *holders = calloc(upto ? upto : 1, sizeof(*holders));
	struct timespec now;
	size_t n = 0, n_lost = 0;
	int rc = 0;

	if (!ends || !of || !lost || !why || !results || !holders) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < upto; i++) {
		struct slot *s = &b->slots[i];

		if (s->ended || s->out == DEFERRED)
			continue;
		if (s->ch.oom) {
			rc = -ENOMEM; /* left claimed: its job's end settles it */
			continue;
		}
		s->ended = true;
		of[n] = s;
		ends[n] = (struct row_end){
			.row = &s->row, .me = c->me,
			.drop = s->drop && s->out != FAILED && s->out != REFUSED,
			.changes = s->ch.items, .n_changes = s->ch.count,
			.request_id = b->request_id, .job_id = b->job_id,
			.state = outcome_names[s->out], .detail = s->detail,
		};
		n++;
	}
	if (n == 0 && !(next && next->count))
		goto out;
	dbtime_now(&now);
	{
		int erc = store_end_and_claim(c->st, ends, n, results, holders, next ? next->rows : NULL,
					      next ? next->count : 0, c->me, b->request_id, b->job_id,
					      &now, next ? next->claimed : NULL);
		if (erc) {
			rc = erc;
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct worker_row *row = &of[i]->row;
		enum outcome out = of[i]->out;

		if (results[i] == -ESTALE) {
			/* Lost while we worked on it (a peer claimed it after
			 * our heartbeat failed, or its owner came back): the
			 * other's result stands. */
			if (holders[i])
				snprintf(why[n_lost], sizeof(why[n_lost]), "abandoned: worker %lld holds the "
					 "row now; its result stands", (long long)holders[i]);
			else
				snprintf(why[n_lost], sizeof(why[n_lost]), "abandoned: the row was removed "
					 "meanwhile (cleaned by another worker or its owner)");
			log_warning("cleanup%s%.0lld: %s %s (%s): %s", b->request_id ? " of request " : "",
				    (long long)b->request_id, row->resource_type, row->resource_id,
				    row->status, why[n_lost]);
			counts->skipped++;
			lost[n_lost] = (struct store_note){ row->resource_type, row->resource_id,
							    "skipped", why[n_lost] };
			n_lost++;
			continue;
		}
		counts->cleaned += out == CLEANED;
		counts->skipped += out == SKIPPED;
		counts->failed += out == FAILED;
		counts->refused += out == REFUSED;
		log_msg(out == FAILED || out == REFUSED ? LOG_LVL_WARNING : LOG_LVL_INFO,
			"cleanup%s%.0lld: %s %s (%s): %s: %s", b->request_id ? " of request " : "",
			(long long)b->request_id, row->resource_type, row->resource_id, row->status,
			outcome_names[out], of[i]->detail);
	}
	note_not_held(c, b, lost, n_lost, "abandoned");
out:
	free(ends);
	free(of);
	free(lost);
	free(why);
	free(results);
	free(holders);
	return rc;
}

/* The LVs of the deferred volumes, through the removal path the mount's
 * deletes share (batches as the driver takes them, one by one on any
 * failure); each one's outcome follows. */
static int remove_deferred(struct cleaner *c, struct batch *b)
{
	struct volume *vols;
	struct removal *done;
	size_t n = 0, k = 0;

	for (size_t i = 0; i < b->count; i++)
		n += b->slots[i].out == DEFERRED;
	if (n == 0)
		return 0;
	vols = calloc(n, sizeof(*vols));
	done = calloc(n, sizeof(*done));
	if (!vols || !done) {
		free(vols);
		free(done);
		return -ENOMEM;
	}
	for (size_t i = 0; i < b->count; i++)
		if (b->slots[i].out == DEFERRED)
			vols[k++] = b->slots[i].vol;
	removal_run(&c->drv, vols, n, done);
	k = 0;
	for (size_t i = 0; i < b->count; i++) {
		struct slot *s = &b->slots[i];

		if (s->out != DEFERRED)
			continue;
		s->out = finish_delete(c, &s->vol, done[k].rc, &done[k].err, s->snapshots, &s->ch,
				       s->detail, sizeof(s->detail));
		s->drop = true;
		k++;
	}
	free(vols);
	free(done);
	return 0;
}

/* The rows of a claim, as the batch's slots; those a peer claimed first
 * are counted and noted skipped. */
static void take_claimed(struct cleaner *c, struct batch *b, const struct worker_row *rows,
			 size_t count, const bool *claimed, struct cleaner_counts *counts)
{
	struct store_note lost[BATCH_ROWS];
	size_t n_lost = 0;

	b->count = 0;
	for (size_t i = 0; i < count; i++) {
		if (claimed[i]) {
			b->slots[b->count++] = (struct slot){ .row = rows[i] };
			continue;
		}
		counts->skipped++;
		log_info("cleanup: %s %s: claimed by another worker first; skipped",
			 rows[i].resource_type, rows[i].resource_id);
		lost[n_lost++] = (struct store_note){ rows[i].resource_type, rows[i].resource_id,
						      "skipped", "claimed by another worker first" };
	}
	note_not_held(c, b, lost, n_lost, "claimed first by another worker");
}

/* Work on each claimed row of the batch; *worked says how many were. */
static int work_batch(struct cleaner *c, struct batch *b, struct cleaner_counts *counts,
		      size_t *worked)
{
	int64_t last_end;
	int rc = 0, erc;

	*worked = 0;
	if (b->count == 0)
		return 0;
	read_batch(c, b);
	last_end = monotonic_ms();
	for (size_t i = 0; i < b->count && rc == 0; i++) {
		struct slot *s = &b->slots[i];

		s->out = clean_row(c, b, s);
		apply_to_reads(&b->reads, s);
		*worked = i + 1;
		/* A slow driver: what is done so far is written now and then. */
		if (*worked < b->count && monotonic_ms() - last_end >= END_EVERY_MS) {
			rc = end_slots(c, b, *worked, counts, NULL);
			last_end = monotonic_ms();
		}
	}
	/* What was deferred is finished even after an error. (After an
	 * error, the rows not worked on stay claimed, marked so in the
	 * progress: the job given back returns them; a cleanup of this
	 * worker reaches them too.) */
	erc = remove_deferred(c, b);
	return rc ? rc : erc;
}

static void drop_batch(struct batch *b)
{
	for (size_t i = 0; i < b->count; i++)
		free(b->slots[i].ch.items);
	free_reads(&b->reads);
	b->count = 0;
}

/* Before each claim: an admin's cancel stops the job, and so does the job
 * having gone to another worker (this one was seen as down while
 * stalled): the new taker goes on from there. */
static int job_still_ours(struct cleaner *c, int64_t request_id, int64_t job_id)
{
	bool mine = true, cancelled = false;

	if (!job_id || store_job_hold(c->st, job_id, c->me, &mine, &cancelled) != 0)
		return 0;
	if (cancelled)
		return -ECANCELED;
	if (!mine) {
		log_warning("cleanup of request %lld: job %lld went to another worker while this one "
			    "was seen as down; stopping it here", (long long)request_id,
			    (long long)job_id);
		return -ESTALE;
	}
	return 0;
}

static int clean_rows(struct cleaner *c, int64_t service_id, const char *type, const char *id,
		      const char *until, int64_t request_id, int64_t job_id,
		      struct cleaner_counts *counts)
{
	struct worker_row *rows = NULL;
	struct batch b = { .request_id = request_id, .job_id = job_id };
	bool claimed[BATCH_ROWS];
	char binary[NAME_LEN];
	size_t n = 0;
	int rc = store_service_binary(c->st, service_id, binary);

	if (rc)
		return rc;
	/* A scheduler's rows are cleaned as Cinder's scheduler does. */
	b.scheduler = strcmp(binary, BINARY_SCHEDULER) == 0;
	c->n_backends = c->next_backend = 0;
	rc = store_rows_to_clean(c->st, service_id, type, id, until, &rows, &n);
	if (rc)
		return rc;
	b.slots = calloc(BATCH_ROWS, sizeof(*b.slots));
	if (!b.slots) {
		free(rows);
		return -ENOMEM;
	}
	/* Batch after batch: each batch's rows worked on, then its end
	 * written in the transaction that claims the next (one commit a
	 * batch, not two); the first claimed alone, the last ended alone. */
	if (n) {
		size_t first = n < BATCH_ROWS ? n : BATCH_ROWS;
		struct timespec now;

		rc = job_still_ours(c, request_id, job_id);
		if (rc == 0) {
			dbtime_now(&now);
			rc = store_claim_rows(c->st, rows, first, c->me, request_id, job_id, &now,
					      claimed);
		}
		if (rc == 0)
			take_claimed(c, &b, rows, first, claimed, counts);
	}
	for (size_t start = 0; start < n && rc == 0; start += BATCH_ROWS) {
		size_t next = start + BATCH_ROWS, worked;
		struct next_claim claim = { rows + (next < n ? next : n), next < n ? n - next : 0,
					    claimed };
		int erc;

		if (claim.count > BATCH_ROWS)
			claim.count = BATCH_ROWS;
		rc = work_batch(c, &b, counts, &worked);
		if (rc == 0 && claim.count)
			rc = job_still_ours(c, request_id, job_id);
		erc = end_slots(c, &b, worked, counts, rc == 0 && claim.count ? &claim : NULL);
		if (rc == 0)
			rc = erc;
		drop_batch(&b);
		if (rc == 0 && claim.count)
			take_claimed(c, &b, claim.rows, claim.count, claimed, counts);
	}
	drop_batch(&b);
	free(b.slots);
	free(rows);
	return rc;
}

int cleaner_run_job(struct cleaner *c, const struct job *job, struct cleaner_counts *counts)
{
	memset(counts, 0, sizeof(*counts));
	return clean_rows(c, job->service_id, job->resource_type[0] ? job->resource_type : NULL,
			  job->resource_id[0] ? job->resource_id : NULL, job->until, job->request_id,
			  job->id, counts);
}

int cleaner_clean_own(struct cleaner *c, const struct timespec *started,
		      struct cleaner_counts *counts)
{
	char until[DBTIME_LEN];

	memset(counts, 0, sizeof(*counts));
	dbtime_format(started, until);
	return clean_rows(c, c->me, NULL, NULL, until, 0, 0, counts);
}

/* ---- Foreseen, for cleanup/preview ---- */

const char *cleaner_foresee(bool scheduler, const char *type, const char *row_status,
			    const char *status, const char *attach_status, char *why, size_t size)
{
	const char *to;

	switch (decide(scheduler, type, row_status, status, attach_status, &to, why, size)) {
	case DECIDE_ERROR:
		return "error";
	case DECIDE_STATUS:
		return to;
	case DECIDE_DELETE:
		return "delete";
	default:
		return "skip";
	}
}
