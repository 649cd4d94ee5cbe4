/* The store: cinderfs's state in SQLite, and the only place with SQL.
 *
 * One struct store is one connection; each thread opens its own. Every
 * function returns 0 or -errno. The functions are the whole contract with
 * the database, so that a second engine (PostgreSQL, for clusters spanning
 * hosts) can implement the same list. */
#pragma once

#include <stdint.h>
#include <time.h>

#include "error.h"
#include "migrations.h"
#include "model.h"

struct store;

enum store_open_flags {
	/* Create the file when it is missing. */
	STORE_CREATE = 1 << 0,
	/* Bring the schema up to date (store_migrations); done once at start.
	 * Without it, the file is used as it is. */
	STORE_MIGRATE = 1 << 1,
	/* Commits that a power cut may roll back, but never half-apply
	 * (WAL with synchronous=NORMAL: no fsync per commit). For the
	 * heartbeat and the backend thread, whose writes are all redone or
	 * re-derived if lost: a heartbeat is sent again, a cleaned row
	 * whose end was lost is cleaned again (every step is idempotent).
	 * What the mount accepts keeps synchronous=FULL: an accepted
	 * request survives a power cut. */
	STORE_RELAXED = 1 << 2,
	/* Wait at most 1 s for the write lock (the caller retries on its
	 * own schedule) instead of 10 s. */
	STORE_SHORT_WAIT = 1 << 3,
	/* One of several connections that each serve short reads (the
	 * mount's pool): it keeps little of the database in the daemon's
	 * memory. SQLite: no map of the file and a page cache of 2 MiB (each
	 * connection maps the file apart, and every page it touched counts
	 * in the daemon's RSS once per connection: four connections that
	 * read a 20 MB table showed as 80 MB); the file's pages stay in the
	 * system's page cache all the same, so a scan costs a read() a page
	 * more, not a disk access. Nothing on PostgreSQL. */
	STORE_LEAN = 1 << 4,
};

int store_open(const char *path, unsigned flags, struct store **out, struct cf_err *err);
void store_close(struct store *st);

/* Schema version bookkeeping; store_migrate applies the given list (the
 * daemon passes store_migrations; tests pass their own). */
int store_schema_version(struct store *st, int *version);
int store_migrate(struct store *st, const struct migration *list, int count, struct cf_err *err);

/* Registration and heartbeat (a services row, as Cinder's Service.start and
 * report_state). Registration re-uses the live row of the same host and
 * binary, and creates the named cluster's row when missing. store_heartbeat
 * returns -ENOENT when the row is gone (an operator removed it). */
/* Bring back this worker's own row, same id, after an operator removed it
 * while the worker ran (soft-deleted, or gone): every thread keeps the one
 * identity. */
int store_revive_service(struct store *st, int64_t id, const struct registration *reg,
			 const struct timespec *now);
int store_register(struct store *st, const struct registration *reg,
		   const struct timespec *now, int64_t *service_id, struct cf_err *err);
/* Whether a heartbeat could be written now, nothing written: SQLite's
 * write lock taken and let go; on PostgreSQL the server answers (a beat
 * needs only its own row's lock). */
int store_probe_write(struct store *st);

/* A lock shared by every daemon of the database, by name (e.g. a volume
 * group's, around each LVM metadata command of a cluster whose hosts
 * share the group): held by this connection until store_unlock_name, or
 * until the connection ends (a host that dies or is cut off holds
 * nothing). PostgreSQL: an advisory lock; waits while another host holds
 * it, -EBUSY after the connection's lock wait (10 s). SQLite: nothing to
 * take (one machine; LVM's own lock files serialize it). Which engine runs
 * is not the caller's concern. */
int store_lock_name(struct store *st, const char *name);
/* Measure the database server's clock against this machine's and make
 * dbtime_now follow it (PostgreSQL; nothing on SQLite): heartbeats are
 * written and judged on one clock, however skewed a host's own is. A
 * measure whose round trip took longer than a second is not used. */
int store_sync_clock(struct store *st);

/* Wake-ups between daemons: every write transaction's commit notifies
 * (PostgreSQL NOTIFY); a connection that store_listen'ed waits for one
 * with store_wait_notify: 1 one came, 0 timeout_ms passed, -errno
 * (-ENOTCONN: reconnect, listen again, and re-read everything: what was
 * sent meanwhile is lost). -ENOTSUP on SQLite: poll instead. */
bool store_notifies(const char *setting);
int store_listen(struct store *st);
int store_wait_notify(struct store *st, int timeout_ms);
void store_unlock_name(struct store *st, const char *name);
int store_heartbeat(struct store *st, int64_t service_id, const struct timespec *now);

/* Remove a retired worker's row (what `cinder-manage service remove`
 * does): refused with -EBUSY while it is up (its heartbeat is at or after
 * `bound`), -ENOENT when there is none. */
int store_remove_service(struct store *st, int64_t id, const struct timespec *bound,
			 const struct timespec *now, struct cf_err *err);

/* Workers (services rows that are not deleted). */
typedef int (*store_service_fn)(void *ctx, const struct service *svc);
int store_get_service(struct store *st, int64_t id, struct service *out);
/* The same, and its disabled_reason ("" when none). */
int store_get_worker(struct store *st, int64_t id, struct service *out, char reason[NAME_LEN]);
int store_list_services(struct store *st, store_service_fn fn, void *ctx);
int store_list_cluster_members(struct store *st, const char *cluster_name,
			       store_service_fn fn, void *ctx);

/* Clusters. */
typedef int (*store_cluster_fn)(void *ctx, const struct cluster *cl);
int store_get_cluster(struct store *st, const char *name, struct cluster *out);
int store_list_clusters(struct store *st, store_cluster_fn fn, void *ctx);

/* Stuck resources: workers rows of the given type ("Volume", "Snapshot")
 * with an owner whose last heartbeat is before `bound` (down), or whose
 * owner's row is gone. A row with no owner is not stuck. */
typedef int (*store_stuck_fn)(void *ctx, const struct stuck *res);
int store_get_stuck(struct store *st, const char *type, const char *resource_id,
		    const struct timespec *bound, struct stuck *out);
int store_list_stuck(struct store *st, const char *type, const struct timespec *bound,
		     store_stuck_fn fn, void *ctx);
/* The same rows, as a directory listing takes them: each one's resource
 * id, valid during the call; nothing joined, no times (a listing of
 * 100,000 reads and keeps only names; store_stuck_times gives the times
 * of those the kernel asks attributes of). */
typedef int (*store_stuck_name_fn)(void *ctx, const char *resource_id);
int store_list_stuck_names(struct store *st, const char *type, const struct timespec *bound,
			   store_stuck_name_fn fn, void *ctx);
/* The times (NULL when none) of the workers rows of a type: of those whose
 * resource ids are among ids[0..count), or of every one when ids is NULL;
 * a row that no longer exists is not given. Whether each is still stuck
 * is not judged: a listing asks for the times of the names it took. One
 * statement; the callback's nonzero return stops it and is returned. */
typedef int (*store_stuck_times_fn)(void *ctx, const char *resource_id, const char *created_at,
				    const char *updated_at);
int store_stuck_times(struct store *st, const char *type, const char *const *ids, size_t count,
		      store_stuck_times_fn fn, void *ctx);

/* Volumes and snapshots (not deleted), for the mount. */
typedef int (*store_volume_fn)(void *ctx, const struct volume_row *row);
int store_get_volume_row(struct store *st, const char *id, struct volume_row *out);
int store_list_volume_rows(struct store *st, store_volume_fn fn, void *ctx);
/* What a volume's connection is made of (Cinder's initialize_connection
 * reads the same two columns): provider_location "ip:port,tid IQN lun"
 * and provider_auth "CHAP user secret", each "" when unset. Read apart
 * from volume_row so that the secret travels only where it is shown. */
struct volume_connection {
	char volume_id[UUID_LEN];
	char provider_location[NAME_LEN];
	char provider_auth[NAME_LEN];
};
int store_get_volume_connection(struct store *st, const char *id, struct volume_connection *out);
int store_get_snapshot_row(struct store *st, const char *id, struct volume_row *out);
int store_list_snapshot_rows(struct store *st, store_volume_fn fn, void *ctx);

/* ---- Cleanup requests (doc/cleanup.md sections 3-5) ---- */

#include "driver.h"
#include "planner.h"

/* The services rows a cleanup filter can select, in ascending id, each with
 * its cluster's disabled flag and whether it can clean: those an index
 * finds by the filter's service_id, host or cluster_name (a superset the
 * planner narrows), else every live row (*every_row true). */
typedef int (*store_planner_fn)(void *ctx, const struct planner_worker *w);
int store_plan_candidates(struct store *st, const struct filter *f, store_planner_fn fn, void *ctx,
			  bool *every_row);
/* The workers rows a cleanup could reach, by owner and type: for each
 * non-deleted services row that owns rows (only resource_id's when it is
 * not NULL), that row as store_plan_candidates reads it (its cluster's
 * disabled flag always read), the type, and how many rows. For
 * cleanup/request's read. A host, cluster or id filter reads its
 * candidates by index and their rows by index; a resource_id one reads
 * that resource's rows; any other, the workers table (rows of operations
 * in flight and stuck ones) a page at a time in id order, each row alone
 * (rows 1), never every worker. fn's non-zero return stops the read and is
 * returned. */
typedef int (*store_reach_fn)(void *ctx, const struct planner_worker *w, const char *type,
			      int64_t rows);
int store_reach_rows(struct store *st, const struct filter *f, store_reach_fn fn, void *ctx);
/* The heartbeat of each live member of cluster `name` (of every cluster
 * when NULL), and whether it cannot clean. */
typedef void (*store_member_fn)(void *ctx, const char *cluster_name, const char *updated_at,
				bool cannot_clean);
int store_cluster_beats(struct store *st, const char *name, store_member_fn fn, void *ctx);

/* Step 7: the workers rows of a resource (of a type, when type is not
 * NULL). Gives how many there are (0, 1, or 2 for "several") and, for one,
 * its owner (0 when none) and type. */
int store_find_pending(struct store *st, const char *resource_id, const char *type, int *count,
		       int64_t *service_id, char type_out[16]);

/* Step 8: whether a live services row reports a version older than
 * `version` (dotted numbers compared as numbers); its host in `who`. */
int store_older_worker(struct store *st, const char *version, bool *older, char who[NAME_LEN]);

typedef int (*store_emit_fn)(void *emit_ctx, const char *bytes, size_t n);

struct new_job {
	int64_t service_id;         /* the worker to clean */
	const char *dest_cluster;   /* NULL unless addressed to a cluster */
	int64_t dest_service;       /* 0 unless addressed to a worker */
};

/* The outage of a cluster member that an automatic cleanup is for
 * (migration 0012). */
struct store_outage {
	int64_t service_id;          /* the member found down */
	const char *last_heartbeat;  /* its updated_at as read (created_at if none): the outage */
	const char *cluster_name;
	const char *host;
	int64_t after_seconds;       /* the cluster's auto_cleanup */
	int64_t requested_by;        /* the live member that asks */
};

struct new_request {
	const char *spec;
	size_t spec_len;
	const char *filter_json;
	/* Writes the result: called once inside the request's transaction,
	 * it hands the bytes to emit in order, in pieces of any size. */
	int (*render_result)(void *ctx, store_emit_fn emit, void *emit_ctx);
	void *render_ctx;
	long long uid, pid;
	int64_t accepted_by;        /* 0 for a control-only daemon */
	struct timespec until;
	const char *resource_type;  /* of every job: NULL both */
	const char *resource_id;    /* of every job: NULL all */
	const struct new_job *jobs;
	size_t job_count;
	const struct store_outage *outage; /* an automatic cleanup's; NULL: an operator's */
};

/* Commit a request, its jobs and a 'queued' progress row for every workers
 * row each job will reach, in one transaction. With an outage, its mark
 * goes in the same transaction, and only when no other member marked it
 * first and the member's heartbeat is still the one read: else nothing is
 * written, and -EALREADY. */
int store_add_request(struct store *st, const struct new_request *req, int64_t *id,
		      struct cf_err *err);

struct request_row {
	int64_t id;
	char created_at[DBTIME_LEN];
	char *spec;                 /* malloc'd, spec_len bytes (plus a NUL) */
	size_t spec_len;
	int64_t result_size;        /* bytes of its result (store_read_result) */
	char *filter;               /* malloc'd */
	long long uid, pid;
	int64_t accepted_by;
	int64_t generation;         /* moves on every change of its jobs or progress */
	char cancelled_at[DBTIME_LEN]; /* "" unless an admin cancelled it */
	long long cancelled_by;        /* that admin's uid */
};
void store_request_free(struct request_row *r);

/* A request's result, size bytes from offset (fewer at its end): *got.
 * It is read from the pieces that cover the range, not loaded whole. */
int store_read_result(struct store *st, int64_t id, uint64_t offset, char *buf, size_t size,
		      size_t *got);
/* A request's whole result (malloc'd, NUL-terminated), *len bytes. */
int store_request_result(struct store *st, int64_t id, char **out, size_t *len);

/* The newest request (-ENOENT when there is none), or one by id. */
int store_last_request(struct store *st, struct request_row *out);
int store_get_request(struct store *st, int64_t id, struct request_row *out);
/* What a waiter needs of a request: its generation and how many of its
 * jobs are queued or running (-ENOENT when it is gone). */
int store_request_watch(struct store *st, int64_t id, int64_t *generation, int64_t *unfinished);
typedef int (*store_request_fn)(void *ctx, int64_t id, const char *created_at);
int store_list_requests(struct store *st, store_request_fn fn, void *ctx);

/* What a request's files measure, read from its row alone (migration
 * 0009 keeps it as its jobs and progress change): stat and ls -l of a
 * history entry never load its result or its progress. */
#define STORE_RESOURCE_STATES 7
/* The states a resource of a request can be in, in the order
 * progress.json counts them (and resources_by_state holds them). */
extern const char *const store_resource_states[STORE_RESOURCE_STATES];

struct request_summary {
	int64_t id;
	char created_at[DBTIME_LEN];
	long long uid, pid;
	int64_t accepted_by;
	int64_t generation;
	/* Moves on every row of its jobs or progress written, whatever
	 * column: two summaries alike are the same progress.json. */
	int64_t revision;
	char cancelled_at[DBTIME_LEN];
	long long cancelled_by;
	int64_t spec_bytes, result_bytes;
	/* Its jobs: how many, the bytes of their values as progress.json
	 * shows them (its layout around them is fixed), and by state. */
	int64_t jobs_total, jobs_value_bytes;
	int64_t jobs_queued, jobs_running, jobs_failed, jobs_cancelled;
	/* Its resources the same way, by store_resource_states. */
	int64_t resources_total, resources_value_bytes;
	int64_t resources_by_state[STORE_RESOURCE_STATES];
	/* An automatic cleanup's (auto_by 0 for one an operator wrote): the
	 * live member that asked, the member it cleans, that member's last
	 * heartbeat (the outage) and the cluster's auto_cleanup then. */
	int64_t auto_by, auto_worker, auto_after;
	char auto_down_since[DBTIME_LEN];
};

/* Request `id`, or the newest with id 0 (-ENOENT when there is none).
 * The struct is zeroed first: two summaries compare with memcmp. */
int store_request_summary(struct store *st, int64_t id, struct request_summary *out);

/* A request's progress as it is at one moment, for progress.json: its
 * summary, then each job, then each resource entry, in id order, all read
 * in one snapshot (in pages: a request of 100,000 resources is never
 * held in memory at once). Texts are the stored values whole (NULL for
 * SQL NULL), valid during the call. A callback's non-zero return stops
 * the read and is returned. */
struct progress_job_entry {
	int64_t id, worker_id, taken_by;
	const char *state, *error;
};
struct progress_resource_entry {
	int64_t job_id, worker_id;
	const char *resource_type, *resource_id, *state, *detail, *updated_at;
};
struct store_progress_reader {
	int (*summary)(void *ctx, const struct request_summary *sum);
	int (*job)(void *ctx, const struct progress_job_entry *job);
	int (*resource)(void *ctx, const struct progress_resource_entry *res);
};
int store_read_progress(struct store *st, int64_t id, const struct store_progress_reader *reader,
			void *ctx);
/* History retention: the requests whose jobs have all ended, beyond the
 * newest `keep` (0: no count limit) or older than max_age_days (0: no age
 * limit), with their jobs and progress. Returns how many went, or -errno. */
int store_prune_requests(struct store *st, int keep, int max_age_days, const struct timespec *now);
/* Ended volume operations older than max_age_days (0: none), but a
 * resource's latest failure while it exists; what they counted is kept
 * for the metrics. How many went, or a negative errno. */
int store_prune_volume_ops(struct store *st, int max_age_days, const struct timespec *now);

struct job {
	int64_t id;
	int64_t request_id;
	int64_t service_id;
	char resource_type[16];
	char resource_id[UUID_LEN];
	char until[DBTIME_LEN];
	char dest_cluster[NAME_LEN];
	int64_t dest_service;
	char state[16];
	int64_t taken_by;
	char error[NAME_LEN];
};

/* A job this worker took and cannot finish now (the database went away
 * in the middle of it): back to the queue, with the rows it had claimed
 * given back to the worker being cleaned, so that the next taker (this
 * worker again, or a peer) finishes it. -ESTALE when the job is no longer
 * this worker's (a peer took it meanwhile). */
int store_give_back_job(struct store *st, const struct job *job, int64_t me, const char *why,
			const struct timespec *now);

/* Take the oldest queued job this worker may run (addressed to it, to its
 * cluster, or to anyone), atomically: two workers never take the same job.
 * -ENOENT when there is none. */
int store_take_job(struct store *st, int64_t me, const char *my_cluster,
		   const struct timespec *now, struct job *out);
/* A job's end ("done", "failed" or "cancelled"), and in the same
 * transaction every resource it reached but left queued or claimed settled
 * (skipped with why, or as the job ended): no entry of an ended job waits
 * for ever. */
int store_finish_job(struct store *st, int64_t job_id, int64_t me, const char *state,
		     const char *error, const struct timespec *now);
/* Progress noted by a worker that does not hold the row: it only fills an
 * entry still queued (or missing, or claimed by itself), never one another
 * holder wrote. */
int store_note_progress(struct store *st, int64_t request_id, int64_t job_id, const char *type,
			const char *resource_id, const char *state, const char *detail,
			int64_t worker_id, const struct timespec *now);
/* Whether job_id is still running and held by `me` (it may have gone to
 * another worker while this one was seen as down), and whether its request
 * was cancelled. */
int store_job_hold(struct store *st, int64_t job_id, int64_t me, bool *mine, bool *cancelled);
typedef int (*store_job_fn)(void *ctx, const struct job *job);
int store_list_jobs(struct store *st, int64_t request_id, store_job_fn fn, void *ctx);

/* A workers row, as do_cleanup reads it. */
struct worker_row {
	int64_t id;
	char resource_type[16];
	char resource_id[NAME_LEN];
	char status[64];
	int64_t service_id;
	int64_t race_preventer;
	char updated_at[DBTIME_LEN];
};

/* The rows of `service_id` (narrowed to a type and id when not NULL) with
 * updated_at at or before `until`, in id order. *out is malloc'd. */
int store_rows_to_clean(struct store *st, int64_t service_id, const char *type, const char *id,
			const char *until, struct worker_row **out, size_t *count);
/* cleanup/preview: the rows the jobs for these workers (ascending ids)
 * would reach, as store_rows_to_clean reads them, in worker then row
 * order, each with its resource's status now (NULL: gone) and a volume's
 * attach_status ("" otherwise). Texts are valid during the call; a
 * callback's non-zero return stops the read and is returned. Reads only. */
struct store_preview_row {
	int64_t service_id;
	const char *resource_type, *resource_id, *row_status, *status, *attach_status;
};
typedef int (*store_preview_fn)(void *ctx, const struct store_preview_row *row);
int store_preview_rows(struct store *st, const int64_t *service_ids, size_t count,
		       const char *type, const char *id, const char *until, store_preview_fn fn,
		       void *ctx);
/* Claim a row (and, with a request, record it claimed) in one
 * transaction: 0, or -EAGAIN when someone else changed or took it. */
int store_claim_row(struct store *st, const struct worker_row *row, int64_t me,
		    int64_t request_id, int64_t job_id, const struct timespec *now);
/* Claim many rows in one transaction, each on its own exactly as
 * store_claim_row does (claimed only when still as read: a row a peer
 * changed or took is not), with, for a request, each claimed row's
 * progress. claimed[i] says which were. On an error nothing is claimed. */
int store_claim_rows(struct store *st, const struct worker_row *rows, size_t count, int64_t me,
		     int64_t request_id, int64_t job_id, const struct timespec *now, bool *claimed);

/* A change to a resource, made when its row ends. */
enum store_change_kind {
	CHANGE_VOLUME_STATUS, CHANGE_SNAPSHOT_STATUS, CHANGE_VOLUME_DELETED, CHANGE_SNAPSHOT_DELETED
};
struct store_change {
	enum store_change_kind kind;
	char id[UUID_LEN];
	char status[32];
};

/* How a claimed row ends. */
struct row_end {
	const struct worker_row *row;    /* as read before the claim */
	int64_t me;
	bool drop;                       /* delete the row; else give it back to its owner and time */
	const struct store_change *changes;
	size_t n_changes;
	int64_t request_id, job_id;      /* request 0: the owner's own cleanup at start */
	const char *state, *detail;      /* progress */
};

/* A claimed row's end, all of it in one transaction, and only while this
 * worker still holds its claim: the resource's changes, the row deleted or
 * given back, the progress. -ESTALE, with nothing written, when the row
 * was taken or removed meanwhile; *holder says by whom (0: removed). */
int store_end_row(struct store *st, const struct row_end *e, const struct timespec *now,
		  int64_t *holder);
/* The ends of many claimed rows (of one worker, request and job) in one
 * transaction, each as store_end_row: results[i] 0 when its end was
 * written, -ESTALE when the row was no longer this worker's (nothing of
 * it written; holders[i] says who holds it, 0: removed). Returns 0, or
 * -errno with nothing written for any row. */
int store_end_rows(struct store *st, const struct row_end *ends, size_t count,
		   const struct timespec *now, int *results, int64_t *holders);

/* store_end_rows of one batch and store_claim_rows of the next (of the
 * same worker, request and job) in one transaction, the ends first;
 * either may be empty. On an error nothing of either is written:
 * every results[i] is the error and nothing is claimed. */
int store_end_and_claim(struct store *st, const struct row_end *ends, size_t n_ends,
			int *results, int64_t *holders, const struct worker_row *rows,
			size_t count, int64_t me, int64_t request_id, int64_t job_id,
			const struct timespec *now, bool *claimed);

/* store_note_progress for several resources of one job at once. */
struct store_note {
	const char *resource_type, *resource_id, *state, *detail;
};
int store_note_progress_rows(struct store *st, int64_t request_id, int64_t job_id,
			     const struct store_note *notes, size_t count, int64_t worker_id,
			     const struct timespec *now);

int store_get_volume(struct store *st, const char *id, struct volume *out);
int store_get_snapshot(struct store *st, const char *id, struct snapshot *out);
/* The binary of services row `id`, removed or not ("" when there is none). */
int store_service_binary(struct store *st, int64_t id, char out[NAME_LEN]);
/* Whether a resource whose host (without '#pool') is `host` and whose
 * cluster is `cluster_name` ("" for none) is on the backend of worker
 * `me`: its own host, a host of one of its cluster's members (removed
 * ones too: their volumes stay on the cluster's backend), or its cluster. */
int store_backend_is_mine(struct store *st, int64_t me, const char *host,
			  const char *cluster_name, bool *mine);
typedef int (*store_snapshot_fn)(void *ctx, const struct snapshot *snap);
int store_list_volume_snapshots(struct store *st, const char *volume_id, store_snapshot_fn fn,
				void *ctx);

/* A batch's resources read at once (one statement each, whatever the
 * batch's size). Volumes and snapshots by id, not deleted, in no order
 * (*out malloc'd; an id not found is not there): rc -EOVERFLOW for one
 * with a value too long for its field, as store_get_volume says for one;
 * pass only ids that fit (shorter than UUID_LEN). */
struct store_volume_read {
	int rc;
	struct volume vol;
};
struct store_snapshot_read {
	int rc;
	struct snapshot snap;
};
int store_get_volumes(struct store *st, const char *const *ids, size_t count,
		      struct store_volume_read **out, size_t *n);
int store_get_snapshots(struct store *st, const char *const *ids, size_t count,
			struct store_snapshot_read **out, size_t *n);
/* The live snapshots of these volumes, grouped by volume, each volume's in
 * store_list_volume_snapshots's order. */
int store_list_snapshots_of_volumes(struct store *st, const char *const *volume_ids, size_t count,
				    struct snapshot **out, size_t *n);

/* Record what became of a resource for a request's job. */
int store_set_progress(struct store *st, int64_t request_id, int64_t job_id, const char *type,
		       const char *resource_id, const char *state, const char *detail,
		       int64_t worker_id, const struct timespec *now);
struct progress_row {
	int64_t job_id;
	char resource_type[16];
	char resource_id[NAME_LEN];
	char state[16];
	char detail[1024];
	int64_t worker_id;
	char updated_at[DBTIME_LEN];
};
typedef int (*store_progress_fn)(void *ctx, const struct progress_row *row);
int store_list_progress(struct store *st, int64_t request_id, store_progress_fn fn, void *ctx);

/* ---- Volume operations (created and deleted through the mount) ---- */

struct new_volume {
	const char *id;             /* canonical UUID */
	const char *display_name;
	long long size_gib;
	const char *host;           /* the worker's host */
	const char *cluster_name;   /* NULL when unclustered */
	int64_t service_id;         /* the worker that creates it */
	/* When this daemon started (NULL: not checked): a worker_state row
	 * from before is a previous life's, and says nothing of now. */
	const struct timespec *started;
	/* Workers are up with a heartbeat at or after it: a disabled worker
	 * hands its create to an enabled member of its cluster that is up
	 * (NULL: it is refused instead). */
	const struct timespec *bound;
};

/* Record a volume in 'creating', the worker's operations row for it, and
 * a create_volume operation, in one transaction, after checking that it
 * fits: the free space of the worker's volume group as last measured by
 * any worker sharing the group (the freshest measurement), less every
 * live volume and snapshot of those workers still creating or changed
 * since that measurement (nothing added back for deletes until the next
 * one). -ENOSPC when short, -EROFS when the worker's storage driver did
 * not start, -EAGAIN when its group was never measured; with words. A
 * worker that is disabled, or whose cluster is, makes no new volume (as
 * Cinder's scheduler skips disabled backends): the create goes to an
 * enabled member of its cluster that is up, ready and on the same volume
 * group (*placed_on says which; v->service_id when it stays), else -EROFS
 * with words. */
int store_add_volume(struct store *st, const struct new_volume *v, const struct timespec *now,
		     int64_t *placed_on, struct cf_err *err);

/* Begin deleting a volume: 'deleting', an operations row owned by the
 * worker that runs it, a delete_volume operation. That worker is its
 * host's, or, when that one is down (no heartbeat at or after bound) and
 * the volume is clustered, a live member of its cluster (bound NULL: its
 * host's always). -ENOENT, -EBUSY (snapshots, or a status that cannot be
 * deleted) with words. */
int store_request_volume_delete(struct store *st, const char *id, const struct timespec *now,
				const struct timespec *bound, struct cf_err *err);

/* Begin extending a volume (Cinder's extend): only from available
 * (-EBUSY with Cinder's words otherwise), only to a size larger than its
 * size now (-EINVAL: `current` is the size the caller judged the new one
 * against, and it must still be the volume's), by its host's worker while
 * it is up (a heartbeat at or after bound), else by a live member of its
 * cluster, as a delete; with neither, -EBUSY and why (an extend queued for
 * a down worker would leave the volume 'extending' for good: the worker's
 * cleanup at its start removes the row, and the operation then finds it
 * gone). 'extending', the operations row and an extend_volume operation
 * carrying new_size, in one transaction. */
int store_request_volume_extend(struct store *st, const char *id, long long current,
				long long new_size, const struct timespec *now,
				const struct timespec *bound, struct cf_err *err);
/* The end of a successful extend: the new size, 'available', the
 * operations row removed; -ESTALE as store_finish_volume. */
int store_finish_volume_extend(struct store *st, int64_t me, const char *id, long long new_size,
			       const struct timespec *now);

struct volume_op {
	int64_t id;
	char kind[32];
	char resource_id[UUID_LEN];
	long long new_size;         /* extend_volume: the size asked for (GiB); else 0 */
};
/* The oldest queued operation for this worker, of any kind but `skip`
 * (NULL: any). */
int store_take_volume_op(struct store *st, int64_t me, const char *skip, struct volume_op *out);
/* Take up to max queued operations of one kind at once (for batching). */
int store_take_volume_ops(struct store *st, int64_t me, const char *kind, struct volume_op *out,
			  size_t max, size_t *count);
int store_finish_volume_op(struct store *st, int64_t op_id, const char *error,
			   const struct timespec *now);

/* The end of an operation: the volume's new status (and export details
 * when given), and its operations row removed, together; only while worker
 * `me` still holds the row (-ESTALE, nothing written, when a peer's
 * cleanup took or ended it: the peer's result stands). */
int store_finish_volume(struct store *st, int64_t me, const char *id, const char *status,
			const char *provider_location, const char *provider_auth,
			const struct timespec *now);
/* A deleted volume: marked deleted and its operations row removed. */
int store_finish_volume_delete(struct store *st, int64_t me, const char *id,
			       const struct timespec *now);
/* Who holds a resource's operations row (0: none) and its status. */
int store_operation_holder(struct store *st, const char *type, const char *id, int64_t *holder,
			   char status[64]);
/* The worker that last cleaned or settled a resource in a cleanup (0: none
 * known), for saying who an abandoned operation lost to. */
int store_who_cleaned(struct store *st, const char *type, const char *id, int64_t *worker);
/* Operations this worker left running when it stopped: failed, saying so
 * (its cleanup at start settled their resources). */
int store_fail_interrupted_ops(struct store *st, int64_t me, const struct timespec *now);

/* Snapshots the same way: recorded 'creating' with a row owned by the
 * volume's worker and a create_snapshot operation for it; the volume must
 * be available. Deleting: 'deleting', delete_snapshot. */
int store_add_snapshot(struct store *st, const char *id, const char *volume_id, const char *name,
		       const struct timespec *now, struct cf_err *err);
int store_request_snapshot_delete(struct store *st, const char *id, const struct timespec *now,
				  const struct timespec *bound, struct cf_err *err);
int store_finish_snapshot(struct store *st, int64_t me, const char *id, const char *status,
			  const struct timespec *now);
int store_finish_snapshot_delete(struct store *st, int64_t me, const char *id,
				 const struct timespec *now);

/* A measurement of the worker's volume group; `now` is when it began
 * (before vgs ran), so that whatever changed while it ran counts as after
 * it. */
int store_set_capacity(struct store *st, int64_t me, const char *vg, uint64_t size,
		       uint64_t free_bytes, const struct timespec *now);

/* A worker's last measurement, as get-pools --detail shows it: -ENOENT
 * when it never measured (no volume group, a control-only daemon). */
struct store_capacity {
	char volume_group[NAME_LEN];
	int64_t size_bytes, free_bytes;
	int64_t provisioned_bytes;  /* what its LVs take: size less free (thick LVM) */
	int64_t allocated_gib;      /* the sizes of its host's live volumes, summed */
	int64_t volume_count;       /* how many those are */
	char measured_at[DBTIME_LEN];
};
int store_get_capacity(struct store *st, int64_t id, struct store_capacity *out);

/* ---- The mount's overview: metrics and status ----
 *
 * Everything the metrics and status files show, read in one snapshot by a
 * handful of aggregate statements (GROUP BY in the database; nothing read
 * a row at a time but the services rows whose heartbeat can count, judged
 * as the stuck listing judges them). */

/* A request's states, as progress.json names them. */
#define STORE_REQUEST_STATES 5
extern const char *const store_request_states[STORE_REQUEST_STATES];
/* The upper bounds (seconds) of the storage operations' duration
 * histogram, ascending; +Inf is implied. */
#define STORE_DURATION_BUCKETS 10
extern const double store_duration_buckets[STORE_DURATION_BUCKETS];

struct overview_cluster {
	char name[NAME_LEN];         /* "" for the unclustered workers */
	int64_t up, down;
};
struct overview_stuck {
	char type[16];               /* workers.resource_type: "Volume", "Snapshot" */
	char status[64];
	int64_t count;
	char oldest[DBTIME_LEN];     /* the oldest row's updated_at (created_at if none) */
};
struct overview_ops {
	char kind[32];               /* create_volume, delete_volume, ... */
	char state[16];              /* queued, running, done, failed */
	int64_t count;
	int64_t timed;               /* of which with a readable duration */
	int64_t duration_us;         /* their durations, summed */
	int64_t le[STORE_DURATION_BUCKETS]; /* how many took at most each bound */
};
struct overview_capacity {
	int64_t worker;
	char host[NAME_LEN];
	char volume_group[NAME_LEN];
	int64_t size_bytes, free_bytes;
	char measured_at[DBTIME_LEN];
};
struct overview_request {
	int64_t id;
	char created_at[DBTIME_LEN];
	const char *state;           /* one of store_request_states */
	char spec[96];               /* its spec's first bytes, as stored */
	size_t spec_len;             /* all of it */
	int64_t resources_total;
	int64_t resources_by_state[STORE_RESOURCE_STATES];
};
#define STORE_RECENT_REQUESTS 5

struct store_overview {
	struct overview_cluster *clusters;   /* by name */
	size_t n_clusters;
	struct overview_stuck *stuck;        /* by type, then status */
	size_t n_stuck;
	/* Requests kept in history, by state. */
	int64_t requests_by_state[STORE_REQUEST_STATES];
	/* Since the database was made: kept plus pruned (cleanup_pruned_totals). */
	int64_t requests_total;
	int64_t requests_ended[STORE_REQUEST_STATES];    /* done, failed, cancelled only */
	int64_t resources_total[STORE_RESOURCE_STATES];  /* queued and claimed: kept only */
	struct overview_ops *ops;            /* by kind, then state */
	size_t n_ops;
	struct overview_capacity *capacity;  /* by worker */
	size_t n_capacity;
	struct overview_request recent[STORE_RECENT_REQUESTS]; /* newest first */
	size_t n_recent;
};

/* Workers up or down as at `bound` (a heartbeat at or after it counts). */
int store_read_overview(struct store *st, const struct timespec *bound, struct store_overview *out);
void store_overview_free(struct store_overview *o);

/* ---- Jobs that always end ---- */

/* Whether this worker can clean (its storage driver started) and why not:
 * planning counts only on peers that can. */
int store_set_worker_state(struct store *st, int64_t me, bool can_clean, const char *reason,
			   const struct timespec *now);

/* ---- Automatic cleanup (migration 0012) ---- */

/* clusters/<name>/auto_cleanup: seconds, 0 off. -ENOENT with words. */
int store_set_cluster_auto_cleanup(struct store *st, const char *name, int64_t seconds,
				   const struct timespec *now, struct cf_err *err);

/* The members of cluster `name` other than `me` (volume workers, live
 * rows) whose last heartbeat (created_at when they never sent one) is
 * before `bound`, and whose outage has no mark yet: each given to fn with
 * its id, host and that heartbeat as stored (valid during the call). */
typedef int (*store_outage_fn)(void *ctx, int64_t id, const char *host, const char *last_heartbeat);
int store_outages_due(struct store *st, const char *name, int64_t me, const struct timespec *bound,
		      store_outage_fn fn, void *ctx);

struct store_recovery {
	int requeued; /* running jobs whose taker was down, queued again */
	int failed;   /* queued jobs nobody up and able to clean may take, failed */
};
/* Make every job reach an end: a running job whose taker is down (its
 * heartbeat before `bound`) is queued again, with the rows it had claimed
 * given back; a queued job addressed to a worker or cluster with no member
 * up and able to clean fails, saying why. */
int store_recover_jobs(struct store *st, int64_t me, const struct timespec *bound,
		       const struct timespec *now, struct store_recovery *out);

/* An admin's cancel: the request's queued jobs and their resources end as
 * cancelled (a running job stops before its next batch of rows). */
int store_cancel_request(struct store *st, int64_t id, int64_t uid, const struct timespec *now,
			 int *cancelled_jobs);

/* ---- Storage under faults ---- */

/* "worker 3 (node3@lvm)", for words read on any mount that must say whose
 * a thing is; "worker 3" when its row cannot be read. */
void store_worker_label(struct store *st, int64_t id, char *out, size_t size);

/* The exports this worker's volumes should have: its live volumes that are
 * available or in-use with a provider_location. *out is malloc'd. */
int store_list_exports(struct store *st, int64_t me, struct export_record **out, size_t *count);
/* A volume's export restored under another tid: its new provider_location
 * (only while it is still available or in-use). */
int store_set_export_location(struct store *st, const char *id, const char *location,
			      const struct timespec *now);

/* The queued operations of a worker whose storage driver is not ready end
 * at once, saying why, instead of waiting for ever: creates in error,
 * deletes in error_deleting, the operation failed with `reason`. Counts
 * them. */
int store_fail_queued_ops(struct store *st, int64_t me, const char *reason,
			  const struct timespec *now, int *failed);

/* ---- A database file that stays the same, and one daemon per worker ---- */

#include <sys/types.h>

/* Called (from any thread, possibly more than once) when this process can
 * no longer serve: its database file was deleted or replaced, or its
 * worker's row was taken over by another daemon. The reason is logged
 * first. NULL: none. */
typedef void (*store_lost_fn)(void);
void store_set_lost_handler(store_lost_fn fn);

/* Whether the path still names the file this connection opened: -ESTALE,
 * "database file X was deleted or replaced while this daemon ran; restart
 * it", when not. Every write transaction checks the same before its first
 * row (its statement then fails with those words, as EIO). */
int store_check_file(struct store *st, struct cf_err *err);

/* Before the first store_open of a daemon: a missing database file is
 * created mode 0640, owned by root and `group` (SQLite gives its -wal and
 * -shm the same); an existing one, or its -wal or -shm, more open than
 * that is named in a warning. */
int store_prepare_file(const char *path, gid_t group, struct cf_err *err);

/* store_register for a daemon: this process becomes the instance serving
 * the row (worker_instances), unless another instance serves it and is
 * alive: its heartbeat is within down_time and it runs on another
 * machine, or on this one and its process still runs. Then -EBUSY, naming
 * it, and nothing written. */
int store_register_instance(struct store *st, const struct registration *reg, int down_time,
			    const struct timespec *now, int64_t *service_id, struct cf_err *err);
/* store_heartbeat for the instance registered above (plain store_heartbeat
 * when there is none): -ESTALE when the file was deleted or replaced,
 * -EOWNERDEAD when another instance took the row over (both also reach
 * the lost handler), -ENOENT when the row is gone. */
int store_beat(struct store *st, int64_t service_id, const struct timespec *now);
/* The daemon's own database, opened by `st`: every connection opened to
 * the same path from now on must find the same file (else store_open
 * fails with -ESTALE, as store_check_file). Once, before the threads. */
void store_pin_file(struct store *st);

/* ---- Admin actions (cinder service-disable, cluster-disable, reset-state,
 * cinder-manage cluster remove) ---- */

/* A worker's (services.disabled) or a cluster's flag; enabling clears the
 * reason, as Cinder's enable does. -ENOENT with words. A worker's
 * heartbeat (updated_at) is left as it is. */
int store_set_service_disabled(struct store *st, int64_t id, bool disabled, struct cf_err *err);
int store_set_cluster_disabled(struct store *st, const char *name, bool disabled,
			       const struct timespec *now, struct cf_err *err);
/* The reason beside it ("" or NULL clears it); a reason for something
 * enabled is -EINVAL (Cinder takes one only with the disable). */
int store_set_service_reason(struct store *st, int64_t id, const char *reason,
			     const struct timespec *now, struct cf_err *err);
int store_set_cluster_reason(struct store *st, const char *name, const char *reason,
			     const struct timespec *now, struct cf_err *err);

struct status_reset {
	const char *type;              /* "Volume" or "Snapshot" */
	const char *id;
	const char *status;            /* checked by admin_parse_status */
	long long uid;                 /* who */
	const struct timespec *now;
	const struct timespec *bound;  /* a worker is up with a heartbeat at or after it */
};
/* reset-state: the status set, the one before kept in previous_status,
 * who and when recorded, and the resource's operations row removed (as
 * Cinder's reset does), in one transaction. -EBUSY, nothing written,
 * while a worker that is up holds an operation on it (its operations row,
 * or a queued or running operation); -ENOENT. *previous: the status it
 * had. */
int store_reset_status(struct store *st, const struct status_reset *r, char previous[64],
		       struct cf_err *err);

/* cinder-manage cluster remove (without --recursive): the cluster's rows
 * soft-deleted; -ENOTEMPTY while a worker (a live services row) names it,
 * -ENOENT when there is none. */
int store_remove_cluster(struct store *st, const char *name, const struct timespec *now,
			 struct cf_err *err);
