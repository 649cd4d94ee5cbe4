/* The store: every statement cinderfs runs against SQLite.
 *
 * Each connection keeps its statements prepared (SQLITE_PREPARE_PERSISTENT),
 * so a lookup from the mount costs one indexed step, not a parse. The file
 * runs in WAL mode so that readers (the mount's threads, other daemons)
 * never wait for a writer, with a busy timeout for writers. */
#include "store.h"

#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "array.h"
#include "liveness.h"
#include "log.h"

#define BUSY_TIMEOUT_MS 10000
#define SHORT_BUSY_TIMEOUT_MS 1000

enum stmt_id {
	Q_SCHEMA_VERSION,
	Q_SERVICE_BY_ID,
	Q_SERVICE_BY_HOST_BINARY,
	Q_SERVICES,
	Q_CLUSTER_MEMBERS,
	Q_SERVICE_INSERT,
	Q_SERVICE_RESTART,
	Q_HEARTBEAT,
	Q_CLUSTER_BY_NAME,
	Q_CLUSTERS,
	Q_CLUSTER_INSERT,
	Q_STUCK_ONE,
	Q_STUCK_LIST,
	Q_STUCK_NAMES,
	Q_STUCK_TIMES,
	Q_STUCK_TIMES_ALL,
	Q_LIVE_BEATS,
	Q_VOLUME_ROW,
	Q_VOLUME_ROWS,
	Q_SNAPSHOT_ROW,
	Q_SNAPSHOT_ROWS,
	Q_PLAN_ALL,
	Q_PLAN_BY_ID,
	Q_PLAN_BY_HOST,
	Q_PLAN_BY_CLUSTER,
	Q_CLUSTER_BEATS,
	Q_CLUSTER_BEATS_ALL,
	Q_FIND_PENDING,
	Q_REACH_ALL,
	Q_REACH_RESOURCE,
	Q_REACH_OF_WORKER,
	Q_VERSIONS,
	Q_REQUEST_INSERT,
	Q_RESULT_PIECE_INSERT,
	Q_RESULT_SIZE_SET,
	Q_RESULT_PIECES,
	Q_JOB_INSERT_1,
	Q_JOB_INSERT_8,
	Q_JOB_INSERT_64,
	Q_JOB_INSERT_ROWS,
	Q_PROGRESS_QUEUE,
	Q_SIZES_FORGET,
	Q_SIZES_RECOUNT,
	Q_REQUEST_LAST,
	Q_REQUEST_BY_ID,
	Q_REQUESTS,
	Q_REQUEST_WATCH,
	Q_JOB_NEXT,
	Q_JOB_TAKE,
	Q_JOB_FINISH,
	Q_JOBS_OF_REQUEST,
	Q_ROWS_TO_CLEAN,
	Q_ROWS_CLAIM,
	Q_ROWS_DELETE,
	Q_ROWS_GIVE_BACK,
	Q_ROWS_HOLDERS,
	Q_PROGRESS_SET_ROWS,
	Q_PROGRESS_NOTE_ROWS,
	Q_PROGRESS_BY_OWNER_ROWS,
	Q_VOLUMES_SET_STATUS,
	Q_SNAPSHOTS_SET_STATUS,
	Q_VOLUMES_SET_DELETED,
	Q_SNAPSHOTS_SET_DELETED,
	Q_VOLUMES_OF_IDS,
	Q_SNAPSHOTS_OF_IDS,
	Q_SNAPSHOTS_OF_VOLUMES,
	Q_VOLUME,
	Q_SERVICE_BINARY,
	Q_BACKEND_IS_MINE,
	Q_SNAPSHOT,
	Q_VOLUME_SNAPSHOTS,
	Q_PROGRESS_SET,
	Q_JOB_SETTLE_DONE,
	Q_JOB_SETTLE_FAILED,
	Q_JOBS_ORPHANED,
	Q_JOB_REQUEUE,
	Q_ROWS_REQUEUE,
	Q_PROGRESS_REQUEUE,
	Q_JOBS_UNDELIVERABLE,
	Q_JOBS_FAIL_ROWS,
	Q_JOBS_SETTLE_FAILED_ROWS,
	Q_WORKER_STATE_SET,
	Q_REQUEST_CANCEL,
	Q_JOBS_CANCEL,
	Q_PROGRESS_CANCEL,
	Q_PROGRESS_NOTE,
	Q_JOB_HOLD,
	Q_REQUEST_SUMMARY,
	Q_REQUEST_LAST_SUMMARY,
	Q_JOBS_PAGE,
	Q_PROGRESS_PAGE,
	Q_PREVIEW_ROWS,
	Q_OV_CLUSTERS,
	Q_OV_LIVE,
	Q_OV_STUCK,
	Q_OV_REQUESTS,
	Q_OV_TOTALS,
	Q_OV_RECENT,
	Q_OV_OPS,
	Q_OV_CAPACITY,
	Q_COUNT
};

#define SERVICE_COLUMNS \
	"id, host, \"binary\", cluster_name, disabled, created_at, updated_at, rpc_current_version"

#define CLUSTER_COLUMNS \
	"c.id, c.name, c.\"binary\", c.disabled, c.created_at, c.updated_at, " \
	"(SELECT MAX(s.updated_at) FROM services s WHERE s.cluster_name = c.name AND s.deleted = 0), " \
	"c.disabled_reason, c.auto_cleanup"

/* The worker of a volume: the live volume worker of its host, without
 * Cinder's '#pool' suffix. */
#define WORKER_OF(host) \
	"(SELECT s.id FROM services s WHERE s.deleted = 0 AND s.\"binary\" = 'cinder-volume' " \
	"AND s.host = substr(" host ", 1, instr(" host " || '#', '#') - 1))"

/* The worker host a volume's host names: Cinder's may carry '#pool'. */
#define HOST_OF(col) "substr(" col ", 1, instr(" col " || '#', '#') - 1)"

/* The words of a resource's latest failed operation. */
#define LAST_ERROR(id) \
	"(SELECT o.error FROM volume_operations o WHERE o.resource_id = " id " AND " \
	"o.state = 'failed' ORDER BY o.id DESC LIMIT 1)"

#define VOLUME_SELECT \
	"SELECT v.id, v.display_name, v.size, v.status, " WORKER_OF("v.host") ", NULL, " \
	"v.provider_location, v.created_at, v.updated_at, " LAST_ERROR("v.id") ", " \
	"v.previous_status, v.status_reset_by, v.status_reset_at " \
	"FROM volumes v WHERE v.deleted = 0"

#define SNAPSHOT_SELECT \
	"SELECT sn.id, sn.display_name, sn.volume_size, sn.status, " \
	"(SELECT " WORKER_OF("v.host") " FROM volumes v WHERE v.id = sn.volume_id), sn.volume_id, " \
	"sn.provider_location, sn.created_at, sn.updated_at, " LAST_ERROR("sn.id") ", " \
	"sn.previous_status, sn.status_reset_by, sn.status_reset_at " \
	"FROM snapshots sn WHERE sn.deleted = 0"

/* (The generation lives in cleanup_request_sizes since migration 0009.) */
#define REQUEST_COLUMNS \
	"id, created_at, spec, filter, result_size, requester_uid, requester_pid, accepted_by, " \
	"(SELECT s.generation FROM cleanup_request_sizes s WHERE s.request_id = cleanup_requests.id), " \
	"cancelled_at, cancelled_by"

/* What stat needs of a request: its small row (migration 0009), never
 * the request's own, which holds its result and spec before its other
 * columns (SQLite walks them to read one after). */
#define REQUEST_SUMMARY_COLUMNS \
	"request_id, created_at, requester_uid, requester_pid, accepted_by, generation, progress_revision, " \
	"cancelled_at, cancelled_by, spec_bytes, result_bytes, jobs_total, jobs_value_bytes, " \
	"jobs_queued, jobs_running, jobs_failed, jobs_cancelled, resources_total, " \
	"resources_value_bytes, resources_queued, resources_claimed, resources_cleaned, " \
	"resources_skipped, resources_refused, resources_failed, resources_cancelled"

/* An automatic cleanup's request (migration 0012): who asked, for whom,
 * the outage and the age, from its mark; NULL for a request an operator
 * wrote. The mark is matched by number and time: SQLite may give a
 * pruned request's number to a new one. */
#define AUTO_CLEANUP_OF(col) \
	"(SELECT a." col " FROM auto_cleanups a WHERE a.request_id = " \
	"cleanup_request_sizes.request_id AND a.created_at = cleanup_request_sizes.created_at)"
#define AUTO_CLEANUP_COLUMNS \
	AUTO_CLEANUP_OF("requested_by") ", " AUTO_CLEANUP_OF("service_id") ", " \
	AUTO_CLEANUP_OF("last_heartbeat") ", " AUTO_CLEANUP_OF("after_seconds")

#define JOB_COLUMNS \
	"id, request_id, service_id, resource_type, resource_id, until, dest_cluster, dest_service, " \
	"state, taken_by, error"

/* A cluster name could in principle exist for two binaries; the mount shows
 * one directory per name, the oldest row. */
#define CLUSTER_FIRST_OF_NAME \
	"c.id = (SELECT MIN(c2.id) FROM clusters c2 WHERE c2.name = c.name AND c2.deleted = 0)"

/* One definition of up, in SQL as in C: cf_beat_ok is liveness.c's
 * liveness_beat_counts (SQLite: registered on every connection by
 * db_sqlite.c; PostgreSQL: a function of the schema that reads the times
 * the same way), so a row written by hand reads the same in stuck/, in
 * rmdir workers/<id> and in the mount's is_up. NULL (never a heartbeat)
 * is not up. */
#define BEAT_AT_OR_AFTER(col, bound) "cf_beat_ok(" col ", " bound ")"

/* The cluster's disabled flag only when the filter asks (?6 = 1): it is
 * a lookup and a sort for each row. */
#define PLAN_SELECT \
	"SELECT services.id, services.host, services.\"binary\", services.cluster_name, " \
	"services.disabled, services.created_at, services.updated_at, " \
	"services.rpc_current_version, CASE WHEN ?6 = 1 THEN (SELECT c.disabled FROM clusters c " \
	"WHERE c.name = services.cluster_name AND c.deleted = 0 ORDER BY c.id LIMIT 1) END, " \
	"ws.can_clean = 0 FROM services LEFT JOIN worker_state ws ON ws.service_id = services.id " \
	"WHERE services.deleted = 0"
#define REACH_SELECT(rows) \
	"SELECT services.id, services.host, services.\"binary\", services.cluster_name, " \
	"services.disabled, services.created_at, services.updated_at, " \
	"services.rpc_current_version, (SELECT c.disabled FROM clusters c " \
	"WHERE c.name = services.cluster_name AND c.deleted = 0 ORDER BY c.id LIMIT 1), " \
	"ws.can_clean = 0, r.resource_type, r.n FROM (SELECT service_id, resource_type, " \
	"count(*) AS n FROM workers WHERE " rows " GROUP BY service_id, resource_type) r " \
	"JOIN services ON services.id = r.service_id " \
	"LEFT JOIN worker_state ws ON ws.service_id = services.id " \
	"WHERE services.deleted = 0 ORDER BY services.id"
#define MEMBER_SELECT \
	"SELECT services.cluster_name, services.updated_at, ws.can_clean = 0 FROM services " \
	"LEFT JOIN worker_state ws ON ws.service_id = services.id WHERE services.deleted = 0"

/* Down: no heartbeat yet, or the last one (updated_at) is before ?2, the
 * bound as text; or the owner's row is gone or deleted. For one resource:
 * its owner judged as it is joined. */
#define STUCK_SELECT(type_match) \
	"SELECT w.resource_type, w.resource_id, w.status, w.service_id, s.host, s.cluster_name, " \
	"w.created_at, w.updated_at " \
	"FROM workers w LEFT JOIN services s ON s.id = w.service_id " \
	"WHERE " type_match " AND w.service_id IS NOT NULL AND " \
	"(s.id IS NULL OR s.deleted != 0 OR NOT " BEAT_AT_OR_AFTER("s.updated_at", "?2") ")"

/* The cleaner's batches. A batch of rows travels as one parameter, a JSON
 * array: whatever the batch's size, a statement is prepared once, and on
 * PostgreSQL it is one round trip (a statement takes at most 99
 * parameters there, and one per batch size would be prepared again and
 * again). Reading the array is what the two engines spell differently:
 *   ROWS(p): the array's objects as rows x.value, whose members
 *     x.value ->> 'key' reads as text on both (SQLite's json_each,
 *     PostgreSQL's jsonb_array_elements);
 *   IN_IDS(col, p), IN_TEXTS(col, p): col is one of the array's numbers,
 *     or strings. PostgreSQL's is `col = ANY (ARRAY(...))`: an index
 *     condition, where its planner would estimate `col IN (SELECT ...)`
 *     from a function's 100 rows and hash a scan of the whole table, a
 *     cost in what the table holds instead of what the batch names;
 *   KEYS(col, member, type, p): the same lead for an UPDATE ... FROM the
 *     array's rows, on the member matched to col (SQLite's planner finds
 *     it from the join: nothing). */
#define SQ_ROWS(p) "json_each(" p ") AS x"
#define SQ_IN_IDS(col, p) col " IN (SELECT CAST(x.value AS BIGINT) FROM json_each(" p ") AS x)"
#define SQ_IN_TEXTS(col, p) col " IN (SELECT x.value FROM json_each(" p ") AS x)"
#define SQ_KEYS(col, member, type, p) ""
#define PG_ROWS(p) "jsonb_array_elements(CAST(" p " AS jsonb)) AS x"
#define PG_IN_IDS(col, p) \
	col " = ANY (ARRAY(SELECT CAST(x.value AS BIGINT) FROM " \
	"jsonb_array_elements_text(CAST(" p " AS jsonb)) AS x))"
#define PG_IN_TEXTS(col, p) \
	col " = ANY (ARRAY(SELECT x.value FROM jsonb_array_elements_text(CAST(" p " AS jsonb)) AS x))"
#define PG_KEYS(col, member, type, p) \
	" AND " col " = ANY (ARRAY(SELECT CAST(x.value ->> '" member "' AS " type ") FROM " \
	"jsonb_array_elements(CAST(" p " AS jsonb)) AS x))"
#define ROW_ID(member) "CAST(x.value ->> '" member "' AS BIGINT)"

/* cleanup/preview: the rows the jobs of a batch of workers (?1, their
 * ids) would reach, as Q_PROGRESS_QUEUE would queue them and
 * Q_ROWS_TO_CLEAN read them, each with its resource as it is now (status
 * NULL and gone 1 when there is none), ordered as the request's progress. */
#define PREVIEW_SQL(IN_IDS) \
	[Q_PREVIEW_ROWS] = \
		"SELECT w.service_id, w.resource_type, w.resource_id, w.status, " \
		"COALESCE(v.status, sn.status), COALESCE(v.attach_status, ''), " \
		"CASE WHEN v.id IS NULL AND sn.id IS NULL THEN 1 ELSE 0 END FROM workers w " \
		"LEFT JOIN volumes v ON w.resource_type = 'Volume' AND v.id = w.resource_id AND " \
		"v.deleted = 0 LEFT JOIN snapshots sn ON w.resource_type = 'Snapshot' AND " \
		"sn.id = w.resource_id AND sn.deleted = 0 WHERE " IN_IDS("w.service_id", "?1") \
		" AND (?2 IS NULL OR w.resource_type = ?2) AND (?3 IS NULL OR w.resource_id = ?3) " \
		"AND w.updated_at <= ?4 ORDER BY w.service_id, w.id",

#define CLEANER_BATCH_SQL(ROWS, IN_IDS, IN_TEXTS, KEYS) \
	/* Cinder's worker_claim_for_cleanup, for each row of the batch on \
	 * its own: claimed only when exactly as read (id, status, owner, \
	 * race_preventer, and not updated since). The ids claimed come back. */ \
	[Q_ROWS_CLAIM] = \
		"UPDATE workers SET service_id = ?1, race_preventer = race_preventer + 1, " \
		"updated_at = ?2 FROM (SELECT " ROW_ID("id") " AS wid, x.value ->> 'status' AS was_status, " \
		ROW_ID("owner") " AS was_owner, " ROW_ID("rp") " AS was_rp, " \
		"x.value ->> 'at' AS was_at FROM " ROWS("?3") ") AS c " \
		"WHERE workers.id = c.wid AND workers.status = c.was_status AND " \
		"workers.service_id = c.was_owner AND workers.race_preventer = c.was_rp AND " \
		"workers.updated_at <= c.was_at" KEYS("workers.id", "id", "BIGINT", "?3") " RETURNING id", \
	[Q_ROWS_DELETE] = \
		"DELETE FROM workers WHERE service_id = ?1 AND " IN_IDS("id", "?2"), \
	[Q_ROWS_GIVE_BACK] = \
		"UPDATE workers SET service_id = c.back_to, updated_at = c.back_at, " \
		"race_preventer = race_preventer + 1 FROM (SELECT " ROW_ID("id") " AS wid, " \
		ROW_ID("owner") " AS back_to, x.value ->> 'at' AS back_at FROM " ROWS("?2") ") AS c " \
		"WHERE workers.id = c.wid AND workers.service_id = ?1" \
		KEYS("workers.id", "id", "BIGINT", "?2"), \
	/* Who holds each row now, and with which race_preventer. */ \
	[Q_ROWS_HOLDERS] = \
		"SELECT id, service_id, race_preventer FROM workers WHERE " IN_IDS("id", "?1"), \
	[Q_PROGRESS_SET_ROWS] = \
		"INSERT INTO cleanup_progress (request_id, job_id, resource_type, resource_id, state, " \
		"detail, worker_id, updated_at) SELECT ?1, ?2, x.value ->> 'type', x.value ->> 'rid', " \
		"x.value ->> 'state', x.value ->> 'detail', ?3, ?4 FROM " ROWS("?5") " WHERE true " \
		"ON CONFLICT (job_id, resource_type, resource_id) DO UPDATE SET state = excluded.state, " \
		"detail = excluded.detail, worker_id = excluded.worker_id, " \
		"updated_at = excluded.updated_at", \
	/* Q_PROGRESS_NOTE's rule for each: never over what a holder wrote. */ \
	[Q_PROGRESS_NOTE_ROWS] = \
		"INSERT INTO cleanup_progress (request_id, job_id, resource_type, resource_id, state, " \
		"detail, worker_id, updated_at) SELECT ?1, ?2, x.value ->> 'type', x.value ->> 'rid', " \
		"x.value ->> 'state', x.value ->> 'detail', ?3, ?4 FROM " ROWS("?5") " WHERE true " \
		"ON CONFLICT (job_id, resource_type, resource_id) DO UPDATE SET state = excluded.state, " \
		"detail = excluded.detail, worker_id = excluded.worker_id, " \
		"updated_at = excluded.updated_at WHERE cleanup_progress.state = 'queued' OR " \
		"(cleanup_progress.state = 'claimed' AND " \
		"cleanup_progress.worker_id = excluded.worker_id)", \
	/* Rows their owner settled itself (its cleanup at start): the \
	 * entries other requests still wait on say so. */ \
	[Q_PROGRESS_BY_OWNER_ROWS] = \
		"UPDATE cleanup_progress SET state = c.new_state, detail = c.new_detail, " \
		"worker_id = ?1, updated_at = ?2 FROM (SELECT x.value ->> 'type' AS rtype, " \
		"x.value ->> 'rid' AS rid, x.value ->> 'state' AS new_state, " \
		"x.value ->> 'detail' AS new_detail FROM " ROWS("?3") ") AS c " \
		"WHERE cleanup_progress.resource_type = c.rtype AND " \
		"cleanup_progress.resource_id = c.rid AND cleanup_progress.state = 'queued'" \
		KEYS("cleanup_progress.resource_type", "type", "TEXT", "?3") \
		KEYS("cleanup_progress.resource_id", "rid", "TEXT", "?3"), \
	[Q_VOLUMES_SET_STATUS] = \
		"UPDATE volumes SET status = c.new_status, updated_at = ?1 FROM (SELECT " \
		"x.value ->> 'id' AS rid, x.value ->> 'status' AS new_status FROM " ROWS("?2") ") AS c " \
		"WHERE volumes.id = c.rid AND volumes.deleted = 0" KEYS("volumes.id", "id", "TEXT", "?2"), \
	[Q_SNAPSHOTS_SET_STATUS] = \
		"UPDATE snapshots SET status = c.new_status, updated_at = ?1 FROM (SELECT " \
		"x.value ->> 'id' AS rid, x.value ->> 'status' AS new_status FROM " ROWS("?2") ") AS c " \
		"WHERE snapshots.id = c.rid AND snapshots.deleted = 0" \
		KEYS("snapshots.id", "id", "TEXT", "?2"), \
	[Q_VOLUMES_SET_DELETED] = \
		"UPDATE volumes SET status = 'deleted', deleted = 1, deleted_at = ?1, updated_at = ?1 " \
		"WHERE deleted = 0 AND " IN_TEXTS("id", "?2"), \
	[Q_SNAPSHOTS_SET_DELETED] = \
		"UPDATE snapshots SET status = 'deleted', deleted = 1, deleted_at = ?1, updated_at = ?1 " \
		"WHERE deleted = 0 AND " IN_TEXTS("id", "?2"), \
	[Q_VOLUMES_OF_IDS] = \
		"SELECT id, status, attach_status, host, size, display_name, provider_location, " \
		"cluster_name FROM volumes WHERE deleted = 0 AND " IN_TEXTS("id", "?1"), \
	[Q_SNAPSHOTS_OF_IDS] = \
		"SELECT id, volume_id, status FROM snapshots WHERE deleted = 0 AND " IN_TEXTS("id", "?1"), \
	/* Each volume's in the order its cascade deletes them. */ \
	[Q_SNAPSHOTS_OF_VOLUMES] = \
		"SELECT id, volume_id, status FROM snapshots WHERE deleted = 0 AND " \
		IN_TEXTS("volume_id", "?1") " ORDER BY volume_id, created_at, id", \
	/* Queued jobs nobody can take, failed with why ({"id", "why"}): \
	 * the ids failed come back (a taker may have won meanwhile); then \
	 * their resources, each job's with its detail ({"id", "detail"}). */ \
	[Q_JOBS_FAIL_ROWS] = \
		"UPDATE cleanup_jobs SET state = 'failed', error = c.why, finished_at = ?1 FROM (SELECT " \
		ROW_ID("id") " AS jid, x.value ->> 'why' AS why FROM " ROWS("?2") ") AS c " \
		"WHERE cleanup_jobs.id = c.jid AND cleanup_jobs.state = 'queued'" \
		KEYS("cleanup_jobs.id", "id", "BIGINT", "?2") " RETURNING cleanup_jobs.id", \
	[Q_JOBS_SETTLE_FAILED_ROWS] = \
		"UPDATE cleanup_progress SET state = 'failed', worker_id = NULL, updated_at = ?1, " \
		"detail = c.detail FROM (SELECT " ROW_ID("id") " AS jid, x.value ->> 'detail' AS detail " \
		"FROM " ROWS("?2") ") AS c WHERE cleanup_progress.job_id = c.jid AND " \
		"cleanup_progress.state IN ('queued', 'claimed')" \
		KEYS("cleanup_progress.job_id", "id", "BIGINT", "?2"),
/* The same rows for a listing: an owner that is not among the live
 * services rows is down (gone, deleted, or its heartbeat not at or after
 * ?2: exactly STUCK_SELECT's test), and liveness is judged once per
 * services row, not once per workers row after the join (on PostgreSQL
 * cf_beat_ok costs about 8 us a call: 0.8 s for 100,000 stuck rows, 0.08 s
 * for their 10,000 owners). */
#define STUCK_LIVE_OWNERS \
	"(SELECT live.id FROM services live WHERE live.deleted = 0 AND " \
	BEAT_AT_OR_AFTER("live.updated_at", "?2") ")"
/* The listing's names: liveness judged in C (liveness_beat_counts) from a
 * small read of the services rows whose heartbeat can count (LIVE_BEATS:
 * every readable time starts with its date, YYYY-MM-DD, so one before the
 * bound's date ?1, compared byte by byte, is down), and the live ones'
 * ids given to the listing as a JSON array ?2. On PostgreSQL cf_beat_ok
 * in SQL cost ~5 us a row: 48 ms for 10,000 services rows, more than the
 * rest of the listing's query. On PostgreSQL, NOT IN a subquery is a
 * hash, whatever the number of live workers; SQLite's names go through
 * the store, which looks each owner up among the sorted live ids. */
#define LIVE_BEATS_SELECT "SELECT id, updated_at FROM services WHERE deleted = 0 AND updated_at >= ?1"
#define SQ_NOT_IN_IDS(col, p) col " NOT IN (SELECT CAST(x.value AS BIGINT) FROM json_each(" p ") AS x)"
#define PG_NOT_IN_IDS(col, p) \
	col " NOT IN (SELECT CAST(x.value AS BIGINT) FROM " \
	"jsonb_array_elements_text(CAST(" p " AS jsonb)) AS x)"
#define STUCK_NAMES_SELECT(NOT_IN_IDS) \
	"SELECT w.resource_id FROM workers w " \
	"WHERE CAST(w.resource_type AS TEXT) = ?1 AND w.service_id IS NOT NULL AND " \
	NOT_IN_IDS("w.service_id", "?2")
#define STUCK_LIST_SELECT(columns, from) \
	"SELECT " columns " FROM workers w " from "WHERE CAST(w.resource_type AS TEXT) = ?1 AND " \
	"w.service_id IS NOT NULL AND w.service_id NOT IN " STUCK_LIVE_OWNERS


/* ---- The overview's statements (metrics, status) ---- */

/* A request's state from its small row, as progress_json.c's
 * request_state says it: queued or running while a job is; then
 * cancelled, failed (a job failed, a resource failed or was refused) or
 * done. s: the row's table prefix ("" or "s."). */
#define REQUEST_STATE(s) \
	"CASE WHEN " s "jobs_running > 0 THEN 'running' WHEN " s "jobs_queued > 0 THEN 'queued' " \
	"WHEN COALESCE(" s "cancelled_at, '') != '' THEN 'cancelled' WHEN " s "jobs_failed > 0 OR " \
	s "resources_failed > 0 OR " s "resources_refused > 0 THEN 'failed' ELSE 'done' END"
#define RESOURCE_STATE_SUMS(s) \
	"COALESCE(SUM(" s "resources_queued), 0), COALESCE(SUM(" s "resources_claimed), 0), " \
	"COALESCE(SUM(" s "resources_cleaned), 0), COALESCE(SUM(" s "resources_skipped), 0), " \
	"COALESCE(SUM(" s "resources_refused), 0), COALESCE(SUM(" s "resources_failed), 0), " \
	"COALESCE(SUM(" s "resources_cancelled), 0)"
/* A storage operation's duration in microseconds, from its request
 * (created_at) to its end (finished_at): NULL while it runs, or when a
 * time is unreadable. cf_time_ns reads a stored time
 * exactly and never fails (SQLite: db_sqlite.c's, in C; PostgreSQL:
 * migration 1's). */
#define DURATION_US "((cf_time_ns(finished_at) - cf_time_ns(created_at)) / 1000)"
/* (Not clamped at 0: each clamp reads both times again, a third of the
 * statement's cost over 100,000 operations; a negative duration, from
 * clocks that disagree, counts in the lowest bucket.) */
/* store_duration_buckets, in microseconds: the two lists must agree. */
#define LE(us) ", SUM(CASE WHEN d <= " #us " THEN 1 ELSE 0 END)"
/* The duration read once a row (MATERIALIZED): a subquery would be
 * flattened, and each of the twelve uses of d would read both times
 * again (11 s for 100,000 operations on PostgreSQL, 64 ms read once). */
/* With what pruning took away (volume_operations_pruned, migration 15)
 * added: a counter never goes down. */
#define OPS_TOTAL(col) ", CAST(SUM(" col ") AS BIGINT)"
#define OPS_SELECT \
	"WITH o AS MATERIALIZED (SELECT kind, state, " DURATION_US " AS d FROM volume_operations) " \
	"SELECT kind, state" OPS_TOTAL("n") OPS_TOTAL("t") OPS_TOTAL("du") OPS_TOTAL("l1") \
	OPS_TOTAL("l2") OPS_TOTAL("l3") OPS_TOTAL("l4") OPS_TOTAL("l5") OPS_TOTAL("l6") \
	OPS_TOTAL("l7") OPS_TOTAL("l8") OPS_TOTAL("l9") OPS_TOTAL("l10") " FROM (" \
	"SELECT kind, state, count(*) AS n, count(d) AS t, CAST(COALESCE(SUM(d), 0) AS BIGINT) AS du" \
	LE(100000) " AS l1" LE(250000) " AS l2" LE(500000) " AS l3" LE(1000000) " AS l4" \
	LE(2500000) " AS l5" LE(5000000) " AS l6" LE(10000000) " AS l7" LE(30000000) " AS l8" \
	LE(60000000) " AS l9" LE(300000000) " AS l10" \
	" FROM o GROUP BY kind, state UNION ALL SELECT kind, state, ops, timed, duration_us, le_1, " \
	"le_2, le_3, le_4, le_5, le_6, le_7, le_8, le_9, le_10 FROM volume_operations_pruned) u " \
	"GROUP BY kind, state ORDER BY kind, state"
/* Stuck rows by type and status: an owner not among the live ids ?1 (a
 * JSON array, as the stuck listing's). */
#define OV_STUCK_SELECT(NOT_IN_IDS) \
	"SELECT w.resource_type, w.status, count(*), MIN(COALESCE(w.updated_at, w.created_at)) " \
	"FROM workers w WHERE w.service_id IS NOT NULL AND " NOT_IN_IDS("w.service_id", "?1") \
	" GROUP BY w.resource_type, w.status ORDER BY w.resource_type, w.status"

static const char *const stmt_sql[Q_COUNT] = {
	[Q_SCHEMA_VERSION] = "SELECT COALESCE(MAX(version), 0) FROM schema_version",
	[Q_SERVICE_BY_ID] = "SELECT " SERVICE_COLUMNS ", disabled_reason FROM services "
			    "WHERE id = ?1 AND deleted = 0",
	[Q_SERVICE_BY_HOST_BINARY] = "SELECT id FROM services "
				     "WHERE host = ?1 AND \"binary\" = ?2 AND deleted = 0",
	[Q_SERVICES] = "SELECT " SERVICE_COLUMNS " FROM services WHERE deleted = 0 ORDER BY id",
	[Q_CLUSTER_MEMBERS] = "SELECT " SERVICE_COLUMNS " FROM services "
			      "WHERE cluster_name = ?1 AND deleted = 0 ORDER BY id",
	[Q_SERVICE_INSERT] =
		"INSERT INTO services (created_at, updated_at, deleted, host, \"binary\", topic, "
		"report_count, disabled, availability_zone, rpc_current_version, "
		"object_current_version, cluster_name, uuid) "
		"VALUES (?1, ?1, 0, ?2, ?3, ?3, 0, 0, 'nova', ?4, ?4, ?5, ?6) RETURNING id",
	[Q_SERVICE_RESTART] = "UPDATE services SET updated_at = ?1, rpc_current_version = ?2, "
			      "object_current_version = ?2, cluster_name = ?3 WHERE id = ?4",
	[Q_HEARTBEAT] = "UPDATE services SET updated_at = ?1, report_count = report_count + 1 "
			"WHERE id = ?2 AND deleted = 0",
	[Q_CLUSTER_BY_NAME] = "SELECT " CLUSTER_COLUMNS " FROM clusters c "
			      "WHERE c.name = ?1 AND c.deleted = 0 ORDER BY c.id LIMIT 1",
	[Q_CLUSTERS] = "SELECT " CLUSTER_COLUMNS " FROM clusters c "
		       "WHERE c.deleted = 0 AND " CLUSTER_FIRST_OF_NAME " ORDER BY c.id",
	[Q_CLUSTER_INSERT] = "INSERT INTO clusters (created_at, updated_at, deleted, name, "
			     "\"binary\", disabled, race_preventer) "
			     "SELECT ?1, ?1, 0, ?2, ?3, 0, 0 WHERE NOT EXISTS (SELECT 1 FROM clusters "
			     "WHERE name = ?2 AND \"binary\" = ?3 AND deleted = 0)",
	[Q_STUCK_ONE] = STUCK_SELECT("w.resource_type = ?1 AND w.resource_id = ?3"),
	/* An expression keeps SQLite off the (resource_type, resource_id)
	 * index for the listing: a scan of the table reads 100,000 rows in
	 * order about five times faster than one index probe and table
	 * lookup per row. A CAST, not `|| ''`, which allocates a string a
	 * row (a third of the scan's time). (SQLite's unary '+' does the
	 * same, but is not SQL PostgreSQL takes for text.) */
	[Q_STUCK_LIST] = STUCK_LIST_SELECT(
		"w.resource_type, w.resource_id, w.status, w.service_id, s.host, s.cluster_name, "
		"w.created_at, w.updated_at", "LEFT JOIN services s ON s.id = w.service_id "),
	/* What a directory listing takes at opendir: names. Their times
	 * come later, when the kernel asks for attributes: of a few named
	 * resources (an index probe each), or of every row of the type (one
	 * scan, no liveness: the listing decided who is in it). */
	/* SQLite returns each row's owner with its name and the store judges
	 * the owner against the live ids in C: NOT IN json_each was half of
	 * the names' read (27 of 58 ms over 100,000 rows). A scan of the
	 * table (the CAST, as Q_STUCK_LIST's); an index of (type, owner, id)
	 * would halve the read again, but a claim changes the owner, so
	 * every claimed row would move in it: a cleanup of 100,000 rows took
	 * 30 s with it and 25 s without. */
	[Q_STUCK_NAMES] = "SELECT w.service_id, w.resource_id FROM workers w "
			  "WHERE CAST(w.resource_type AS TEXT) = ?1 AND w.service_id IS NOT NULL",
	[Q_STUCK_TIMES] = "SELECT w.resource_id, w.created_at, w.updated_at FROM workers w "
			  "WHERE w.resource_type = ?1 AND " SQ_IN_TEXTS("w.resource_id", "?2"),
	[Q_STUCK_TIMES_ALL] = "SELECT w.resource_id, w.created_at, w.updated_at FROM workers w "
			      "WHERE CAST(w.resource_type AS TEXT) = ?1",
	[Q_LIVE_BEATS] = LIVE_BEATS_SELECT,
	[Q_VOLUME_ROW] = VOLUME_SELECT " AND v.id = ?1",
	[Q_VOLUME_ROWS] = VOLUME_SELECT,
	[Q_SNAPSHOT_ROW] = SNAPSHOT_SELECT " AND sn.id = ?1",
	[Q_SNAPSHOT_ROWS] = SNAPSHOT_SELECT,
	/* The services rows a cleanup filter can select (the planner judges
	 * each exactly): every live one, or those an index finds by id, by
	 * host or by cluster name. A host or cluster filter matches the value
	 * itself (?1) and the byte ranges [?2, ?3) and [?4, ?5) of value#...
	 * and value@... (planner_host_ranges); an empty range is ('', ''). */
	[Q_PLAN_ALL] = PLAN_SELECT " ORDER BY services.id",
	[Q_PLAN_BY_ID] = PLAN_SELECT " AND services.id = ?1",
	[Q_PLAN_BY_HOST] = PLAN_SELECT " AND (services.host = ?1 OR (services.host >= ?2 AND "
			   "services.host < ?3) OR (services.host >= ?4 AND services.host < ?5)) "
			   "ORDER BY services.id",
	[Q_PLAN_BY_CLUSTER] = PLAN_SELECT " AND (services.cluster_name = ?1 OR "
			      "(services.cluster_name >= ?2 AND services.cluster_name < ?3) OR "
			      "(services.cluster_name >= ?4 AND services.cluster_name < ?5)) "
			      "ORDER BY services.id",
	/* Cluster members' heartbeats, for the planner's cluster liveness. */
	[Q_CLUSTER_BEATS] = MEMBER_SELECT " AND services.cluster_name = ?1",
	[Q_CLUSTER_BEATS_ALL] = MEMBER_SELECT " AND services.cluster_name IS NOT NULL AND "
				"services.cluster_name != ''",
	/* cleanup/request's read: the rows by owner and type, the owner as
	 * PLAN_SELECT reads it (?6 = 1: its cluster's flag). */
	/* A page of the workers rows in id order (the primary key), grouped
	 * by owner and type, each group with its owner; every row of the
	 * result also carries the page's last id and its row count (one row
	 * of NULL groups when none of the page's owners is counted), for the
	 * next page. A count that stops at its cap reads a page or two, not
	 * a grouping of every row first (0.27 s on SQLite, 1.3 s on
	 * PostgreSQL at 100,000 rows, for a stat); one that reads them all
	 * gets groups, as before. */
	[Q_REACH_ALL] = "WITH p AS (SELECT id, service_id, resource_type FROM workers WHERE id > ?1 "
			"ORDER BY id LIMIT ?2) "
			"SELECT g.id, g.host, g.\"binary\", g.cluster_name, g.disabled, g.created_at, "
			"g.updated_at, g.rpc_current_version, g.cluster_disabled, g.cannot_clean, "
			"g.resource_type, g.n, b.last, b.seen "
			"FROM (SELECT MAX(id) AS last, count(*) AS seen FROM p) b LEFT JOIN ("
			"SELECT services.id, services.host, services.\"binary\", services.cluster_name, "
			"services.disabled, services.created_at, services.updated_at, "
			"services.rpc_current_version, (SELECT c.disabled FROM clusters c WHERE c.name = "
			"services.cluster_name AND c.deleted = 0 ORDER BY c.id LIMIT 1) AS cluster_disabled, "
			"ws.can_clean = 0 AS cannot_clean, r.resource_type, r.n FROM (SELECT service_id, "
			"resource_type, count(*) AS n FROM p WHERE service_id IS NOT NULL GROUP BY "
			"service_id, resource_type) r JOIN services ON services.id = r.service_id "
			"LEFT JOIN worker_state ws ON ws.service_id = services.id "
			"WHERE services.deleted = 0) g ON true",
	[Q_REACH_RESOURCE] = REACH_SELECT("resource_id = ?1"),
	/* One worker's rows by type (workers_service_id). */
	[Q_REACH_OF_WORKER] = "SELECT resource_type, count(*) FROM workers WHERE service_id = ?1 "
			      "GROUP BY resource_type",
	[Q_FIND_PENDING] = "SELECT service_id, resource_type FROM workers WHERE resource_id = ?1 "
			   "AND (?2 IS NULL OR resource_type = ?2) ORDER BY id LIMIT 2",
	/* The workers whose version is not the requester's (?1), normally
	 * none: an index range each side of it, not a read of every row. */
	[Q_VERSIONS] = "SELECT rpc_current_version, host FROM services WHERE deleted = 0 AND "
		       "((rpc_current_version > '' AND rpc_current_version < ?1) OR "
		       "rpc_current_version > ?1)",
	[Q_REQUEST_INSERT] =
		"INSERT INTO cleanup_requests (created_at, spec, filter, requester_uid, requester_pid, "
		"accepted_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
	/* A request's result, in pieces of RESULT_PIECE bytes (migration 8). */
	[Q_RESULT_PIECE_INSERT] = "INSERT INTO cleanup_results (request_id, seq, chunk) VALUES "
				  "(?1, ?2, ?3)",
	[Q_RESULT_SIZE_SET] = "UPDATE cleanup_requests SET result_size = ?2 WHERE id = ?1",
	[Q_RESULT_PIECES] = "SELECT seq, chunk FROM cleanup_results WHERE request_id = ?1 AND "
			    "seq >= ?2 AND seq <= ?3 ORDER BY seq",
	/* Q_JOB_INSERT_<n>: built by job_insert_sql. */
	/* Every resource the request's jobs reach, queued, in one statement
	 * after the jobs: in job order, then the rows' order. */
	[Q_PROGRESS_QUEUE] =
		"INSERT INTO cleanup_progress (request_id, job_id, resource_type, resource_id, "
		"state, updated_at) SELECT j.request_id, j.id, w.resource_type, w.resource_id, "
		"'queued', ?2 FROM cleanup_jobs j JOIN workers w ON w.service_id = j.service_id "
		"WHERE j.request_id = ?1 AND (j.resource_type IS NULL OR w.resource_type = "
		"j.resource_type) AND (j.resource_id IS NULL OR w.resource_id = j.resource_id) "
		"AND w.updated_at <= j.until ORDER BY j.id, w.id ON CONFLICT DO NOTHING",
	/* A new request's sizes row, counted once after its rows (SQLite:
	 * migration 0010 says why), as 0009's row triggers would have kept
	 * it: the generation +1 per progress row, the revision +1 per row. */
	[Q_SIZES_FORGET] = "DELETE FROM cleanup_request_sizes WHERE request_id = ?1",
	[Q_SIZES_RECOUNT] =
		"INSERT INTO cleanup_request_sizes (request_id, created_at, requester_uid, "
		"requester_pid, accepted_by, cancelled_at, cancelled_by, spec_bytes, result_bytes, "
		"generation, progress_revision, jobs_total, jobs_value_bytes, jobs_queued, "
		"jobs_running, jobs_failed, jobs_cancelled, resources_total, resources_value_bytes, "
		"resources_queued, resources_claimed, resources_cleaned, resources_skipped, "
		"resources_refused, resources_failed, resources_cancelled) "
		"SELECT r.id, r.created_at, r.requester_uid, r.requester_pid, r.accepted_by, "
		"r.cancelled_at, r.cancelled_by, length(CAST(r.spec AS BLOB)), r.result_size, "
		"p.n, j.n + p.n, j.n, j.bytes, j.queued, j.running, j.failed, j.cancelled, p.n, "
		"p.bytes, p.queued, p.claimed, p.cleaned, p.skipped, p.refused, p.failed, p.cancelled "
		"FROM cleanup_requests r, (SELECT count(*) AS n, COALESCE(sum(value_bytes), 0) AS bytes, "
		"COALESCE(sum(state IS 'queued'), 0) AS queued, COALESCE(sum(state IS 'running'), 0) "
		"AS running, COALESCE(sum(state IS 'failed'), 0) AS failed, "
		"COALESCE(sum(state IS 'cancelled'), 0) AS cancelled FROM cleanup_job_bytes "
		"WHERE request_id = ?1) j, (SELECT count(*) AS n, COALESCE(sum(value_bytes), 0) AS bytes, "
		"COALESCE(sum(state IS 'queued'), 0) AS queued, COALESCE(sum(state IS 'claimed'), 0) "
		"AS claimed, COALESCE(sum(state IS 'cleaned'), 0) AS cleaned, "
		"COALESCE(sum(state IS 'skipped'), 0) AS skipped, COALESCE(sum(state IS 'refused'), 0) "
		"AS refused, COALESCE(sum(state IS 'failed'), 0) AS failed, "
		"COALESCE(sum(state IS 'cancelled'), 0) AS cancelled FROM cleanup_progress_bytes "
		"WHERE request_id = ?1) p WHERE r.id = ?1",
	[Q_REQUEST_LAST] = "SELECT " REQUEST_COLUMNS " FROM cleanup_requests ORDER BY id DESC LIMIT 1",
	[Q_REQUEST_BY_ID] = "SELECT " REQUEST_COLUMNS " FROM cleanup_requests WHERE id = ?1",
	[Q_REQUESTS] = "SELECT id, created_at FROM cleanup_requests ORDER BY id",
	/* Its jobs queued or running: the counts its small row keeps (a
	 * request can have 100,000 jobs, and poll() asks often). */
	[Q_REQUEST_WATCH] = "SELECT generation, jobs_queued + jobs_running FROM cleanup_request_sizes "
			    "WHERE request_id = ?1",
	[Q_JOB_NEXT] = "SELECT id FROM cleanup_jobs WHERE state = 'queued' AND (dest_service = ?1 "
		       "OR dest_cluster = ?2 OR (dest_service IS NULL AND dest_cluster IS NULL)) "
		       "ORDER BY id LIMIT 1",
	[Q_JOB_TAKE] = "UPDATE cleanup_jobs SET state = 'running', taken_by = ?1, taken_at = ?2, "
		       "attempts = attempts + 1 WHERE id = ?3 AND state = 'queued' RETURNING " JOB_COLUMNS,
	/* Only the worker that holds the job ends it: a taker that was
	 * thought dead and whose job went to another must not overwrite. */
	[Q_JOB_FINISH] = "UPDATE cleanup_jobs SET state = ?2, error = ?3, finished_at = ?4 "
			 "WHERE id = ?1 AND state = 'running' AND taken_by = ?5",
	[Q_JOBS_OF_REQUEST] = "SELECT " JOB_COLUMNS " FROM cleanup_jobs WHERE request_id = ?1 "
			      "ORDER BY id",
	[Q_ROWS_TO_CLEAN] =
		"SELECT id, resource_type, resource_id, status, service_id, race_preventer, updated_at "
		"FROM workers WHERE service_id = ?1 AND (?2 IS NULL OR resource_type = ?2) "
		"AND (?3 IS NULL OR resource_id = ?3) AND updated_at <= ?4 ORDER BY id",
	CLEANER_BATCH_SQL(SQ_ROWS, SQ_IN_IDS, SQ_IN_TEXTS, SQ_KEYS)
	PREVIEW_SQL(SQ_IN_IDS)
	[Q_VOLUME] = "SELECT id, status, attach_status, host, size, display_name, provider_location, "
		     "cluster_name FROM volumes WHERE id = ?1 AND deleted = 0",
	[Q_SERVICE_BINARY] = "SELECT \"binary\" FROM services WHERE id = ?1",
	[Q_BACKEND_IS_MINE] =
		"SELECT EXISTS (SELECT 1 FROM services me WHERE me.id = ?1 AND (me.host = ?2 OR "
		"(me.cluster_name IS NOT NULL AND me.cluster_name != '' AND (me.cluster_name = ?3 OR "
		"EXISTS (SELECT 1 FROM services s WHERE s.host = ?2 AND s.cluster_name = me.cluster_name)))))",
	[Q_SNAPSHOT] = "SELECT id, volume_id, status FROM snapshots WHERE id = ?1 AND deleted = 0",
	[Q_VOLUME_SNAPSHOTS] = "SELECT id, volume_id, status FROM snapshots WHERE volume_id = ?1 "
			       "AND deleted = 0 ORDER BY created_at, id",
	[Q_PROGRESS_SET] =
		"INSERT INTO cleanup_progress (request_id, job_id, resource_type, resource_id, state, "
		"detail, worker_id, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
		"ON CONFLICT (job_id, resource_type, resource_id) DO UPDATE SET state = excluded.state, "
		"detail = excluded.detail, worker_id = excluded.worker_id, "
		"updated_at = excluded.updated_at",
	/* A finished job's entries it never reached: settled by what became
	 * of their operation. */
	[Q_JOB_SETTLE_DONE] =
		"UPDATE cleanup_progress SET state = 'skipped', worker_id = ?2, updated_at = ?3, detail = "
		"CASE WHEN EXISTS (SELECT 1 FROM workers w WHERE w.resource_type = "
		"cleanup_progress.resource_type AND w.resource_id = cleanup_progress.resource_id) "
		"THEN 'not reached: its operation changed after the request was accepted' "
		"ELSE 'its operation ended before this job reached it (its owner or another cleanup "
		"finished it)' END WHERE job_id = ?1 AND state IN ('queued', 'claimed')",
	[Q_JOB_SETTLE_FAILED] =
		"UPDATE cleanup_progress SET state = ?5, worker_id = ?2, updated_at = ?3, "
		"detail = ?4 WHERE job_id = ?1 AND state IN ('queued', 'claimed')",
	/* A note from a worker that does not hold the row (it lost the claim
	 * race, or lost the row meanwhile): it never overwrites what the
	 * holder recorded. */
	[Q_PROGRESS_NOTE] =
		"INSERT INTO cleanup_progress (request_id, job_id, resource_type, resource_id, state, "
		"detail, worker_id, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
		"ON CONFLICT (job_id, resource_type, resource_id) DO UPDATE SET state = excluded.state, "
		"detail = excluded.detail, worker_id = excluded.worker_id, "
		"updated_at = excluded.updated_at WHERE cleanup_progress.state = 'queued' OR "
		"(cleanup_progress.state = 'claimed' AND cleanup_progress.worker_id = excluded.worker_id)",
	/* Whether a running job is still this worker's, and its request not
	 * cancelled. */
	[Q_JOB_HOLD] =
		"SELECT j.state = 'running' AND j.taken_by = ?2, s.cancelled_at IS NOT NULL "
		"FROM cleanup_jobs j JOIN cleanup_request_sizes s ON s.request_id = j.request_id "
		"WHERE j.id = ?1",
	/* Running jobs whose taker is down (or gone). */
	[Q_JOBS_ORPHANED] =
		"SELECT j.id, j.taken_by, j.service_id, j.until, j.request_id FROM cleanup_jobs j "
		"LEFT JOIN services s ON s.id = j.taken_by AND s.deleted = 0 "
		"WHERE j.state = 'running' AND (s.id IS NULL OR NOT " BEAT_AT_OR_AFTER("s.updated_at", "?1") ")",
	[Q_JOB_REQUEUE] =
		"UPDATE cleanup_jobs SET state = 'queued', taken_by = NULL, taken_at = NULL, error = ?3 "
		"WHERE id = ?1 AND state = 'running' AND taken_by = ?2",
	/* The rows the dead taker had claimed for this job go back to the
	 * worker being cleaned, with a time the job still reaches. */
	[Q_ROWS_REQUEUE] =
		"UPDATE workers SET service_id = ?3, updated_at = ?4, race_preventer = race_preventer + 1 "
		"WHERE service_id = ?2 AND EXISTS (SELECT 1 FROM cleanup_progress p WHERE p.job_id = ?1 "
		"AND p.state = 'claimed' AND p.resource_type = workers.resource_type "
		"AND p.resource_id = workers.resource_id)",
	[Q_PROGRESS_REQUEUE] =
		"UPDATE cleanup_progress SET state = 'queued', detail = ?2, updated_at = ?3 "
		"WHERE job_id = ?1 AND state = 'claimed'",
	/* Queued jobs no live worker able to clean may take: addressed to a
	 * worker that is down or cannot clean, or to a cluster none of whose
	 * members is both up and able to clean. */
	/* A job for anyone (a scheduler's rows) is undeliverable only when no
	 * worker at all is up and able to clean: every worker daemon, of
	 * either binary, runs jobs. */
	[Q_JOBS_UNDELIVERABLE] =
		"SELECT j.id, j.dest_service, j.dest_cluster FROM cleanup_jobs j WHERE j.state = 'queued' "
		"AND NOT EXISTS ("
		"SELECT 1 FROM services s LEFT JOIN worker_state ws ON ws.service_id = s.id "
		"WHERE s.deleted = 0 AND " BEAT_AT_OR_AFTER("s.updated_at", "?1") " "
		"AND COALESCE(ws.can_clean, 1) = 1 AND (s.id = j.dest_service OR "
		"(j.dest_service IS NULL AND j.dest_cluster IS NOT NULL AND s.cluster_name = j.dest_cluster "
		"AND s.\"binary\" = 'cinder-volume') OR "
		"(j.dest_service IS NULL AND j.dest_cluster IS NULL)))",
	[Q_WORKER_STATE_SET] =
		"INSERT INTO worker_state (service_id, can_clean, reason, updated_at) VALUES (?1, ?2, ?3, ?4) "
		"ON CONFLICT (service_id) DO UPDATE SET can_clean = ?2, reason = ?3, updated_at = ?4",
	[Q_REQUEST_CANCEL] =
		"UPDATE cleanup_requests SET cancelled_at = ?2, cancelled_by = ?3 WHERE id = ?1 "
		"AND cancelled_at IS NULL",
	[Q_JOBS_CANCEL] =
		"UPDATE cleanup_jobs SET state = 'cancelled', finished_at = ?2, error = ?3 "
		"WHERE request_id = ?1 AND state = 'queued'",
	[Q_REQUEST_SUMMARY] = "SELECT " REQUEST_SUMMARY_COLUMNS ", " AUTO_CLEANUP_COLUMNS
			      " FROM cleanup_request_sizes WHERE request_id = ?1",
	[Q_REQUEST_LAST_SUMMARY] = "SELECT " REQUEST_SUMMARY_COLUMNS ", " AUTO_CLEANUP_COLUMNS
				   " FROM cleanup_request_sizes ORDER BY request_id DESC LIMIT 1",
	/* A page of a request's jobs or progress in id order, from after
	 * ?2: an index range on both engines (request_id, then id). */
	[Q_JOBS_PAGE] = "SELECT id, service_id, state, taken_by, error FROM cleanup_jobs "
			"WHERE request_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
	[Q_PROGRESS_PAGE] = "SELECT id, job_id, resource_type, resource_id, state, detail, worker_id, "
			    "updated_at FROM cleanup_progress WHERE request_id = ?1 AND id > ?2 "
			    "ORDER BY id LIMIT ?3",
	[Q_OV_CLUSTERS] = "SELECT COALESCE(cluster_name, ''), count(*) FROM services WHERE deleted = 0 "
			  "GROUP BY COALESCE(cluster_name, '') ORDER BY 1",
	/* The rows whose heartbeat can count (LIVE_BEATS_SELECT's date
	 * test), judged in C. */
	[Q_OV_LIVE] = "SELECT COALESCE(cluster_name, ''), updated_at, id FROM services "
		      "WHERE deleted = 0 AND updated_at >= ?1",
	[Q_OV_STUCK] = OV_STUCK_SELECT(SQ_NOT_IN_IDS),
	[Q_OV_REQUESTS] = "SELECT " REQUEST_STATE("") ", count(*), " RESOURCE_STATE_SUMS("")
			  " FROM cleanup_request_sizes GROUP BY 1",
	[Q_OV_TOTALS] = "SELECT requests, requests_done, requests_failed, requests_cancelled, "
			"resources_cleaned, resources_skipped, resources_refused, resources_failed, "
			"resources_cancelled FROM cleanup_pruned_totals WHERE id = 1",
	[Q_OV_RECENT] = "SELECT s.request_id, s.created_at, " REQUEST_STATE("s.") ", "
			"substr(r.spec, 1, 96), length(r.spec), s.resources_total, s.resources_queued, "
			"s.resources_claimed, s.resources_cleaned, s.resources_skipped, "
			"s.resources_refused, s.resources_failed, s.resources_cancelled "
			"FROM cleanup_request_sizes s JOIN cleanup_requests r ON r.id = s.request_id "
			"ORDER BY s.request_id DESC LIMIT ?1",
	[Q_OV_OPS] = OPS_SELECT,
	[Q_OV_CAPACITY] = "SELECT c.service_id, s.host, c.volume_group, c.size_bytes, c.free_bytes, "
			  "c.updated_at FROM worker_capacity c JOIN services s ON s.id = c.service_id "
			  "AND s.deleted = 0 ORDER BY c.service_id",
	[Q_PROGRESS_CANCEL] =
		"UPDATE cleanup_progress SET state = 'cancelled', detail = ?3, updated_at = ?2 "
		"WHERE request_id = ?1 AND state = 'queued' AND job_id IN (SELECT id FROM cleanup_jobs "
		"WHERE request_id = ?1 AND state = 'cancelled')",
};

/* PostgreSQL's spelling where it differs (NULL: stmt_sql's). */
static const char *const stmt_sql_pg[Q_COUNT] = {
	CLEANER_BATCH_SQL(PG_ROWS, PG_IN_IDS, PG_IN_TEXTS, PG_KEYS)
	/* A request's jobs in one statement, the rows a JSON array of
	 * [service_id, dest_cluster or "", dest_service or 0] in job order:
	 * one round trip and one firing of 0009's statement trigger, where
	 * rows of 64 took 79 of each for 5,000 jobs (0.8 ms a statement). */
	[Q_JOB_INSERT_ROWS] =
		"INSERT INTO cleanup_jobs (request_id, until, resource_type, resource_id, service_id, "
		"dest_cluster, dest_service, state) SELECT ?1, ?2, ?3, ?4, CAST(x.value ->> 0 AS BIGINT), "
		"NULLIF(x.value ->> 1, ''), NULLIF(CAST(x.value ->> 2 AS BIGINT), 0), 'queued' "
		"FROM jsonb_array_elements(CAST(?5 AS jsonb)) WITH ORDINALITY AS x(value, n) "
		"ORDER BY x.n",
	[Q_STUCK_NAMES] = STUCK_NAMES_SELECT(PG_NOT_IN_IDS),
	PREVIEW_SQL(PG_IN_IDS)
	[Q_STUCK_TIMES] = "SELECT w.resource_id, w.created_at, w.updated_at FROM workers w "
			  "WHERE w.resource_type = ?1 AND " PG_IN_TEXTS("w.resource_id", "?2"),
	[Q_OV_STUCK] = OV_STUCK_SELECT(PG_NOT_IN_IDS),
};

struct store {
	struct db *db;
	char *path;  /* the database as messages name it */
	bool tx_writes; /* a DB_TX_WRITE transaction is open */
	struct db_stmt *stmts[Q_COUNT];
};

/* A failed statement is logged with the engine's words: they are what an
 * operator needs when the database is locked, full, corrupt or gone. rc
 * is what db_step returned; a statement that ended where a row was
 * expected (or the reverse) is not an error of the engine: 0. */
static int db_fail(struct store *st, int rc, const char *what)
{
	if (rc >= 0)
		return 0;
	log_error("database %s: %s: %s", st->path, what, db_errmsg(st->db));
	return rc;
}

/* A JSON array being written: the one parameter of a batch statement
 * (CLEANER_BATCH_SQL). Out of memory is remembered and reported once, at
 * json_done. */
struct json_buf {
	char *text;
	size_t len, cap;
	bool oom;
};

static void json_put(struct json_buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (array_reserve((void **)&b->text, &b->cap, b->len + n + 1, 1) != 0) {
		b->oom = true;
		return;
	}
	memcpy(b->text + b->len, s, n);
	b->len += n;
	b->text[b->len] = '\0';
}

static void json_raw(struct json_buf *b, const char *s)
{
	json_put(b, s, strlen(s));
}

static void json_int(struct json_buf *b, int64_t v)
{
	char n[24];

	json_put(b, n, (size_t)snprintf(n, sizeof(n), "%lld", (long long)v));
}

/* A string (NULL: null), its quotes, backslashes and control characters
 * escaped; everything else, UTF-8 included, as it is. */
static void json_str(struct json_buf *b, const char *s)
{
	if (!s) {
		json_raw(b, "null");
		return;
	}
	json_put(b, "\"", 1);
	while (*s) {
		size_t plain = 0;
		char esc[8];

		while (s[plain] && s[plain] != '"' && s[plain] != '\\' && (unsigned char)s[plain] >= 0x20)
			plain++;
		json_put(b, s, plain);
		s += plain;
		if (!*s)
			break;
		if (*s == '"' || *s == '\\')
			json_put(b, esc, (size_t)snprintf(esc, sizeof(esc), "\\%c", *s));
		else
			json_put(b, esc, (size_t)snprintf(esc, sizeof(esc), "\\u%04x", (unsigned char)*s));
		s++;
	}
	json_put(b, "\"", 1);
}

/* Before each element: the array's opening, or the comma. */
static void json_next(struct json_buf *b)
{
	json_put(b, b->len ? "," : "[", 1);
}

/* The array closed (an empty one is "[]"); NULL when out of memory. */
static const char *json_done(struct json_buf *b)
{
	if (!b->len)
		json_put(b, "[", 1);
	json_put(b, "]", 1);
	return b->oom ? NULL : b->text;
}

static void json_free(struct json_buf *b)
{
	free(b->text);
	*b = (struct json_buf){ 0 };
}

/* The `"key":` of an object's member, after its opening or a comma. */
static void json_key(struct json_buf *b, const char *key, bool first)
{
	json_raw(b, first ? "{\"" : ",\"");
	json_raw(b, key);
	json_raw(b, "\":");
}

/* A request's jobs go in by rows of 64, then 8, then 1: three prepared
 * statements, and at most 14 for the remainder. Each row binds (service_id,
 * dest_cluster or '', dest_service or 0) after the request's own ?1..?4,
 * always typed the same, so that each is one server-side statement. */
enum { JOB_ROWS_MAX = 64 };
static char job_insert_text[3][256 + JOB_ROWS_MAX * 96];
static pthread_once_t job_insert_once = PTHREAD_ONCE_INIT;

static void job_insert_make(void)
{
	static const int rows[3] = { 1, 8, JOB_ROWS_MAX };

	for (int k = 0; k < 3; k++) {
		char *out = job_insert_text[k];
		size_t size = sizeof(job_insert_text[k]);
		int n = snprintf(out, size, "INSERT INTO cleanup_jobs (request_id, until, resource_type, "
				 "resource_id, service_id, dest_cluster, dest_service, state) VALUES ");
		for (int r = 0; r < rows[k]; r++)
			n += snprintf(out + n, size - (size_t)n, "%s(?1, ?2, ?3, ?4, ?%d, NULLIF(?%d, ''), "
				      "NULLIF(?%d, 0), 'queued')", r ? ", " : "", 5 + 3 * r, 6 + 3 * r,
				      7 + 3 * r);
		/* The buffer is sized for the longest (64 rows of 3-digit ?N). */
		if ((size_t)n >= size)
			abort();
	}
}

/* A statement's SQL: built at run time, the engine's own where it has
 * one (stmt_sql_pg), or the one both engines take. */
static const char *stmt_text(struct store *st, enum stmt_id id)
{
	if (id == Q_JOB_INSERT_1 || id == Q_JOB_INSERT_8 || id == Q_JOB_INSERT_64) {
		pthread_once(&job_insert_once, job_insert_make);
		return job_insert_text[id - Q_JOB_INSERT_1];
	}
	if (db_kind(st->db) == DB_POSTGRESQL && stmt_sql_pg[id])
		return stmt_sql_pg[id];
	return stmt_sql[id];
}

static int stmt_get(struct store *st, enum stmt_id id, struct db_stmt **out)
{
	if (!st->stmts[id]) {
		int rc = db_prepare(st->db, stmt_text(st, id), true, &st->stmts[id]);

		if (rc)
			return db_fail(st, rc, "prepare");
	}
	*out = st->stmts[id];
	return 0;
}

/* Used with __attribute__((cleanup)): a statement is reset and its bindings
 * cleared however the function using it returns. */
static void stmt_done(struct db_stmt **stmt)
{
	if (*stmt)
		db_reset(*stmt);
}
#define STMT __attribute__((cleanup(stmt_done))) struct db_stmt *

static int exec(struct store *st, const char *sql)
{
	return db_exec(st->db, sql);
}

static int begin(struct store *st, enum db_tx kind)
{
	int rc = db_begin(st->db, kind);

	st->tx_writes = rc == 0 && kind == DB_TX_WRITE;
	return rc;
}

/* Roll back if a transaction is open (the engine may have ended it). */
static void rollback(struct store *st)
{
	st->tx_writes = false;
	db_rollback(st->db);
}

/* What other daemons wait on: requests and their jobs (a worker takes
 * them), their progress and ends (readers of wait, poll()), volume
 * operations (the worker that owes them). */
static const char *const wake_tables[] = {
	"cleanup_requests", "cleanup_jobs", "cleanup_progress", "volume_operations", NULL,
};

/* A write transaction that changed a row of those tells the other
 * daemons' listeners (PostgreSQL: NOTIFY, delivered only if the commit
 * lands; nothing on SQLite, where they poll). Heartbeats, capacity
 * measures and housekeeping that found nothing to do wake nobody. */
static int commit(struct store *st)
{
	if (st->tx_writes && db_woke(st->db)) {
		int rc;

		st->tx_writes = false;
		rc = db_notify(st->db);
		if (rc && rc != -ENOTSUP)
			return rc;
	}
	return db_commit(st->db);
}

/* A write transaction failed: its errno (ENOSPC stays ENOSPC) and the
 * engine's words, both taken before the rollback resets them, then the
 * rollback. */
static int __attribute__((format(printf, 3, 4)))
tx_fail(struct store *st, struct cf_err *err, const char *fmt, ...)
{
	char what[512];
	int e = db_errno(st->db);
	char msg[256];
	va_list ap;

	snprintf(msg, sizeof(msg), "%s", db_errmsg(st->db));
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	rollback(st);
	return err_set(err, -e, "%s: %s", what, msg);
}

static int step_done(struct store *st, struct db_stmt *stmt, const char *what)
{
	int rc = db_step(stmt);

	return rc == DB_DONE ? 0 : db_fail(st, rc, what);
}

/* An INSERT ... RETURNING id: the new row's id. */
static int step_returning_id(struct store *st, struct db_stmt *stmt, const char *what, int64_t *id)
{
	int rc = db_step(stmt);

	if (rc != DB_ROW)
		return rc == DB_DONE ? -EIO : db_fail(st, rc, what);
	*id = db_column_int(stmt, 0);
	rc = db_step(stmt);
	return rc == DB_DONE ? 0 : db_fail(st, rc, what);
}

static int prep(struct store *st, const char *sql, struct db_stmt **stmt);
static int step_finalize(struct store *st, struct db_stmt *stmt, const char *what);
static int write_tx(struct store *st, int (*fn)(struct store *st, void *ctx), void *ctx);

static void bind_text_or_null(struct db_stmt *stmt, int idx, const char *text)
{
	if (!text || !*text)
		db_bind_null(stmt, idx);
	else
		db_bind_text(stmt, idx, text);
}

/* Copy a text column; NULL becomes "". A value longer than Cinder's column
 * size is refused rather than cut, so nothing shows a wrong name. */
static int column_text(struct db_stmt *stmt, int col, char *buf, size_t size)
{
	const char *text = db_column_text(stmt, col);
	size_t len = (size_t)db_column_bytes(stmt, col);

	if (!text) {
		buf[0] = '\0';
		return 0;
	}
	if (len >= size)
		return -EOVERFLOW;
	memcpy(buf, text, len);
	buf[len] = '\0';
	return 0;
}

int store_open(const char *path, unsigned flags, struct store **out, struct cf_err *err)
{
	struct store *st;
	int rc;

	st = calloc(1, sizeof(*st));
	if (!st)
		return err_set(err, ENOMEM, "out of memory opening %s", path);
	db_wake_tables(wake_tables);
	rc = db_open(path, flags, &st->db, err);
	if (rc) {
		free(st);
		return rc;
	}
	st->path = strdup(db_name(st->db));
	if (!st->path) {
		store_close(st);
		return err_set(err, ENOMEM, "out of memory opening %s", path);
	}
	if (flags & STORE_MIGRATE) {
		int count;
		const struct migration *list = db_migrations(st->db, &count);

		rc = store_migrate(st, list, count, err);
		if (rc) {
			store_close(st);
			return rc;
		}
	}
	rc = db_ready(st->db, err);
	if (rc) {
		store_close(st);
		return rc;
	}
	*out = st;
	return 0;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	for (int i = 0; i < Q_COUNT; i++)
		db_finalize(st->stmts[i]);
	db_close(st->db);
	free(st->path);
	free(st);
}

int store_schema_version(struct store *st, int *version)
{
	STMT stmt = NULL;
	bool exists;
	int rc;

	/* A file without the table is version 0: new, or not ours yet. */
	rc = db_table_exists(st->db, "schema_version", &exists);
	if (rc)
		return rc;
	if (!exists) {
		*version = 0;
		return 0;
	}
	rc = stmt_get(st, Q_SCHEMA_VERSION, &stmt);
	if (rc)
		return rc;
	rc = db_step(stmt);
	if (rc != DB_ROW)
		return db_fail(st, rc, "read schema version");
	*version = db_column_int(stmt, 0);
	return 0;
}

int store_migrate(struct store *st, const struct migration *list, int count, struct cf_err *err)
{
	int version, rc;
	char now[DBTIME_LEN];
	struct timespec ts;

	/* IMMEDIATE: two daemons starting at once on a new file take turns. */
	if (begin(st, DB_TX_WRITE))
		return err_set(err, EBUSY, "cannot lock database %s to check its schema: %s",
			       st->path, db_errmsg(st->db));
	rc = exec(st, "CREATE TABLE IF NOT EXISTS schema_version ("
		      " version INTEGER PRIMARY KEY, -- the migration applied\n"
		      " name TEXT NOT NULL,          -- its file in backend/schema/<dialect>/\n"
		      " applied_at TEXT NOT NULL     -- when (UTC)\n"
		      ")");
	if (!rc)
		rc = store_schema_version(st, &version);
	if (rc) {
		rollback(st);
		return err_set(err, -rc, "cannot read the schema version of %s: %s", st->path,
			       db_errmsg(st->db));
	}
	if (version > count) {
		rollback(st);
		return err_set(err, EPROTO,
			       "database %s has schema version %d, newer than this cinderfs knows "
			       "(%d): upgrade cinderfs before using this file",
			       st->path, version, count);
	}
	dbtime_now(&ts);
	dbtime_format(&ts, now);
	for (int i = version; i < count; i++) {
		const struct migration *m = &list[i];
		struct db_stmt *ins = NULL;

		rc = exec(st, m->sql);
		if (!rc) {
			rc = db_prepare(st->db, "INSERT INTO schema_version (version, name, applied_at) "
					"VALUES (?1, ?2, ?3)", false, &ins);
			if (rc == 0) {
				db_bind_int(ins, 1, m->version);
				db_bind_text(ins, 2, m->name);
				db_bind_text(ins, 3, now);
				rc = db_step(ins) == DB_DONE ? 0 : -EIO;
			} else {
				rc = -EIO;
			}
			db_finalize(ins);
		}
		if (rc) {
			err_set(err, EIO, "migration %s failed on %s: %s", m->name, st->path,
				db_errmsg(st->db));
			rollback(st);
			return -EIO;
		}
		log_info("database %s: applied migration %s", st->path, m->name);
	}
	if (commit(st)) {
		err_set(err, EIO, "cannot commit the schema of %s: %s", st->path,
			db_errmsg(st->db));
		rollback(st);
		return -EIO;
	}
	return 0;
}

static int read_service(struct db_stmt *stmt, struct service *svc)
{
	/* Every field is written below: no memset of ~1 KB a row. */
	svc->id = db_column_int(stmt, 0);
	svc->disabled = db_column_int(stmt, 4) != 0;
	if (column_text(stmt, 1, svc->host, sizeof(svc->host)) ||
	    column_text(stmt, 2, svc->binary, sizeof(svc->binary)) ||
	    column_text(stmt, 3, svc->cluster_name, sizeof(svc->cluster_name)) ||
	    column_text(stmt, 5, svc->created_at, sizeof(svc->created_at)) ||
	    column_text(stmt, 6, svc->updated_at, sizeof(svc->updated_at)) ||
	    column_text(stmt, 7, svc->version, sizeof(svc->version))) {
		log_warning("services row %lld has a value longer than Cinder allows; skipped",
			    (long long)svc->id);
		return -EOVERFLOW;
	}
	return 0;
}

/* Words for people, written by hand perhaps: cut rather than hide the row. */
static void column_words(struct db_stmt *stmt, int col, char *buf, size_t size)
{
	snprintf(buf, size, "%s", db_column_text(stmt, col) ? db_column_text(stmt, col) : "");
}

static int read_cluster(struct db_stmt *stmt, struct cluster *cl)
{
	/* Every field is written below: no memset of ~1 KB a row. */
	cl->id = db_column_int(stmt, 0);
	cl->disabled = db_column_int(stmt, 3) != 0;
	if (column_text(stmt, 1, cl->name, sizeof(cl->name)) ||
	    column_text(stmt, 2, cl->binary, sizeof(cl->binary)) ||
	    column_text(stmt, 4, cl->created_at, sizeof(cl->created_at)) ||
	    column_text(stmt, 5, cl->updated_at, sizeof(cl->updated_at)) ||
	    column_text(stmt, 6, cl->last_heartbeat, sizeof(cl->last_heartbeat))) {
		log_warning("clusters row %lld has a value longer than Cinder allows; skipped",
			    (long long)cl->id);
		return -EOVERFLOW;
	}
	column_words(stmt, 7, cl->disabled_reason, sizeof(cl->disabled_reason));
	cl->auto_cleanup = db_column_int(stmt, 8);
	return 0;
}

static int read_stuck(struct db_stmt *stmt, struct stuck *res)
{
	/* Every field is written below: no memset of ~1 KB a row. */
	res->service_id = db_column_int(stmt, 3);
	if (column_text(stmt, 0, res->resource_type, sizeof(res->resource_type)) ||
	    column_text(stmt, 1, res->resource_id, sizeof(res->resource_id)) ||
	    column_text(stmt, 2, res->status, sizeof(res->status)) ||
	    column_text(stmt, 4, res->host, sizeof(res->host)) ||
	    column_text(stmt, 5, res->cluster_name, sizeof(res->cluster_name)) ||
	    column_text(stmt, 6, res->created_at, sizeof(res->created_at)) ||
	    column_text(stmt, 7, res->updated_at, sizeof(res->updated_at))) {
		log_warning("workers row for %s has a value longer than Cinder allows; skipped",
			    res->resource_id);
		return -EOVERFLOW;
	}
	return 0;
}

int store_register(struct store *st, const struct registration *reg,
		   const struct timespec *now, int64_t *service_id, struct cf_err *err)
{
	STMT find = NULL;
	STMT write = NULL;
	STMT cluster = NULL;
	char stamp[DBTIME_LEN];
	bool inserted = false;
	/* Inside the caller's transaction when one is open
	 * (store_register_instance): then the caller commits. */
	bool own_tx = !db_in_tx(st->db);
	int rc;

	dbtime_format(now, stamp);
	if (own_tx && begin(st, DB_TX_WRITE))
		return err_set(err, EBUSY, "cannot lock database %s to register %s: %s", st->path,
			       reg->host, db_errmsg(st->db));
	rc = stmt_get(st, Q_SERVICE_BY_HOST_BINARY, &find);
	if (rc)
		goto fail;
	db_bind_text(find, 1, reg->host);
	db_bind_text(find, 2, reg->binary);
	rc = db_step(find);
	if (rc == DB_ROW) {
		/* A restarted worker takes its row back, as Cinder does. */
		*service_id = db_column_int(find, 0);
		rc = stmt_get(st, Q_SERVICE_RESTART, &write);
		if (rc)
			goto fail;
		db_bind_text(write, 1, stamp);
		db_bind_text(write, 2, reg->version);
		bind_text_or_null(write, 3, reg->cluster_name);
		db_bind_int(write, 4, *service_id);
	} else if (rc == DB_DONE) {
		uuid_t uu;
		char uuid_text[UUID_LEN];

		inserted = true;
		uuid_generate(uu);
		uuid_unparse_lower(uu, uuid_text);
		rc = stmt_get(st, Q_SERVICE_INSERT, &write);
		if (rc)
			goto fail;
		db_bind_text(write, 1, stamp);
		db_bind_text(write, 2, reg->host);
		db_bind_text(write, 3, reg->binary);
		db_bind_text(write, 4, reg->version);
		bind_text_or_null(write, 5, reg->cluster_name);
		db_bind_text(write, 6, uuid_text);
	} else {
		rc = db_fail(st, rc, "find service");
		goto fail;
	}
	rc = inserted ? step_returning_id(st, write, "write service", service_id)
		      : step_done(st, write, "write service");
	if (rc)
		goto fail;
	if (reg->cluster_name && *reg->cluster_name) {
		rc = stmt_get(st, Q_CLUSTER_INSERT, &cluster);
		if (rc)
			goto fail;
		db_bind_text(cluster, 1, stamp);
		db_bind_text(cluster, 2, reg->cluster_name);
		db_bind_text(cluster, 3, reg->binary);
		rc = db_step(cluster);
		if (rc != DB_DONE) {
			rc = db_fail(st, rc, "create cluster");
			goto fail;
		}
	}
	if (own_tx && commit(st)) {
		rc = -EIO;
		goto fail;
	}
	return 0;
fail:
	return tx_fail(st, err, "cannot register %s (%s) in %s", reg->host, reg->binary, st->path);
}

int store_revive_service(struct store *st, int64_t id, const struct registration *reg,
			 const struct timespec *now)
{
	char stamp[DBTIME_LEN];
	struct db_stmt *stmt;
	uuid_t uu;
	char uuid_text[UUID_LEN];
	int rc;

	dbtime_format(now, stamp);
	uuid_generate(uu);
	uuid_unparse_lower(uu, uuid_text);
	/* Soft-deleted: undeleted; gone: made again with the same id. */
	rc = prep(st, "INSERT INTO services (id, created_at, updated_at, deleted, host, \"binary\", "
		      "topic, report_count, disabled, availability_zone, rpc_current_version, "
		      "object_current_version, cluster_name, uuid) VALUES (?1, ?2, ?2, 0, ?3, ?4, ?4, 0, "
		      "0, 'nova', ?5, ?5, ?6, ?7) ON CONFLICT (id) DO UPDATE SET deleted = 0, "
		      "deleted_at = NULL, updated_at = ?2, host = ?3, \"binary\" = ?4, "
		      "rpc_current_version = ?5, object_current_version = ?5, cluster_name = ?6", &stmt);
	if (rc)
		return rc;
	db_bind_int(stmt, 1, id);
	db_bind_text(stmt, 2, stamp);
	db_bind_text(stmt, 3, reg->host);
	db_bind_text(stmt, 4, reg->binary);
	db_bind_text(stmt, 5, reg->version);
	bind_text_or_null(stmt, 6, reg->cluster_name);
	db_bind_text(stmt, 7, uuid_text);
	return step_finalize(st, stmt, "bring back this worker's row");
}

int store_probe_write(struct store *st)
{
	int rc = store_check_file(st, NULL);

	if (rc)
		return rc;
	/* What a beat needs, without writing: SQLite's write lock; on
	 * PostgreSQL the lock an UPDATE takes on the table (a row-less
	 * UPDATE waits for anything that would hold a beat up, such as a
	 * LOCK TABLE, and for no other worker's row). */
	rc = begin(st, DB_TX_ROW);
	if (rc)
		return rc;
	rc = exec(st, "UPDATE services SET updated_at = updated_at WHERE id = 0");
	rollback(st);
	return rc;
}

int store_heartbeat(struct store *st, int64_t service_id, const struct timespec *now)
{
	STMT stmt = NULL;
	char stamp[DBTIME_LEN];
	int rc = stmt_get(st, Q_HEARTBEAT, &stmt);

	if (rc)
		return rc;
	dbtime_format(now, stamp);
	db_bind_text(stmt, 1, stamp);
	db_bind_int(stmt, 2, service_id);
	rc = db_step(stmt);
	if (rc != DB_DONE)
		return db_fail(st, rc, "heartbeat");
	return db_changes(st->db) == 1 ? 0 : -ENOENT;
}

int store_get_service(struct store *st, int64_t id, struct service *out)
{
	return store_get_worker(st, id, out, NULL);
}

int store_get_worker(struct store *st, int64_t id, struct service *out, char reason[NAME_LEN])
{
	STMT stmt = NULL;
	int rc = stmt_get(st, Q_SERVICE_BY_ID, &stmt);

	if (rc)
		return rc;
	db_bind_int(stmt, 1, id);
	rc = db_step(stmt);
	if (rc == DB_DONE)
		return -ENOENT;
	if (rc != DB_ROW)
		return db_fail(st, rc, "get service");
	rc = read_service(stmt, out);
	if (rc == 0 && reason)
		column_words(stmt, 8, reason, NAME_LEN);
	return rc;
}

/* Step through a query's rows, handing each to fn; rows that do not fit
 * (over-long values) are skipped, and fn returning non-zero stops. */
static int each_service(struct store *st, struct db_stmt *stmt, store_service_fn fn, void *ctx)
{
	struct service svc;
	int rc;

	while ((rc = db_step(stmt)) == DB_ROW) {
		if (read_service(stmt, &svc) != 0)
			continue;
		if ((rc = fn(ctx, &svc)) != 0)
			return rc;
	}
	return rc == DB_DONE ? 0 : db_fail(st, rc, "list services");
}

int store_list_services(struct store *st, store_service_fn fn, void *ctx)
{
	STMT stmt = NULL;
	int rc = stmt_get(st, Q_SERVICES, &stmt);
	return rc ? rc : each_service(st, stmt, fn, ctx);
}

int store_list_cluster_members(struct store *st, const char *cluster_name,
			       store_service_fn fn, void *ctx)
{
	STMT stmt = NULL;
	int rc = stmt_get(st, Q_CLUSTER_MEMBERS, &stmt);

	if (rc)
		return rc;
	db_bind_text(stmt, 1, cluster_name);
	return each_service(st, stmt, fn, ctx);
}

int store_get_cluster(struct store *st, const char *name, struct cluster *out)
{
	STMT stmt = NULL;
	int rc = stmt_get(st, Q_CLUSTER_BY_NAME, &stmt);

	if (rc)
		return rc;
	db_bind_text(stmt, 1, name);
	rc = db_step(stmt);
	if (rc == DB_DONE)
		return -ENOENT;
	if (rc != DB_ROW)
		return db_fail(st, rc, "get cluster");
	return read_cluster(stmt, out);
}

int store_list_clusters(struct store *st, store_cluster_fn fn, void *ctx)
{
	STMT stmt = NULL;
	struct cluster cl;
	int rc = stmt_get(st, Q_CLUSTERS, &stmt);

	if (rc)
		return rc;
	while ((rc = db_step(stmt)) == DB_ROW) {
		if (read_cluster(stmt, &cl) != 0)
			continue;
		if ((rc = fn(ctx, &cl)) != 0)
			return rc;
	}
	return rc == DB_DONE ? 0 : db_fail(st, rc, "list clusters");
}

static void bind_stuck(struct db_stmt *stmt, const char *type, const struct timespec *bound)
{
	char text[DBTIME_LEN];

	dbtime_format_bound(bound, text);
	db_bind_text(stmt, 1, type);
	db_bind_text(stmt, 2, text);
}

int store_get_stuck(struct store *st, const char *type, const char *resource_id,
		    const struct timespec *bound, struct stuck *out)
{
	STMT stmt = NULL;
	int rc = stmt_get(st, Q_STUCK_ONE, &stmt);

	if (rc)
		return rc;
	bind_stuck(stmt, type, bound);
	db_bind_text(stmt, 3, resource_id);
	rc = db_step(stmt);
	if (rc == DB_DONE)
		return -ENOENT;
	if (rc != DB_ROW)
		return db_fail(st, rc, "get stuck resource");
	return read_stuck(stmt, out);
}

int store_list_stuck(struct store *st, const char *type, const struct timespec *bound,
		     store_stuck_fn fn, void *ctx)
{
	STMT stmt = NULL;
	struct stuck res;
	int rc = stmt_get(st, Q_STUCK_LIST, &stmt);

	if (rc)
		return rc;
	bind_stuck(stmt, type, bound);
	while ((rc = db_step(stmt)) == DB_ROW) {
		if (read_stuck(stmt, &res) != 0)
			continue;
		if ((rc = fn(ctx, &res)) != 0)
			return rc;
	}
	return rc == DB_DONE ? 0 : db_fail(st, rc, "list stuck resources");
}

/* The ids of the live services rows (none: *count 0). */
static int live_owner_ids(struct store *st, const struct timespec *bound, int64_t **ids,
			  size_t *count)
{
	STMT stmt = NULL;
	char text[DBTIME_LEN];
	size_t n = 0, cap = 0;
	int64_t *out = NULL;
	int rc = stmt_get(st, Q_LIVE_BEATS, &stmt);

	if (rc)
		return rc;
	dbtime_format_bound(bound, text);
	text[10] = '\0'; /* its date */
	db_bind_text(stmt, 1, text);
	while ((rc = db_step(stmt)) == DB_ROW) {
		if (!liveness_beat_counts(db_column_text(stmt, 1), bound))
			continue;
		if (array_reserve((void **)&out, &cap, n + 1, sizeof(*out))) {
			free(out);
			return -ENOMEM;
		}
		out[n++] = db_column_int(stmt, 0);
	}
	if (rc != DB_DONE) {
		free(out);
		return db_fail(st, rc, "list live workers");
	}
	*ids = out;
	*count = n;
	return 0;
}

static int compare_ids(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int list_stuck_names(struct store *st, const char *type, const struct timespec *bound,
			    store_stuck_name_fn fn, void *ctx)
{
	/* PostgreSQL filters the owners in its query (NOT IN, a hash, the
	 * live ids a JSON array); SQLite returns every owner with the name,
	 * and the store filters here. */
	bool in_c = db_kind(st->db) == DB_SQLITE;
	struct json_buf live = { 0 };
	const char *json = NULL;
	int64_t *ids = NULL;
	size_t count = 0;
	STMT stmt = NULL;
	int rc = live_owner_ids(st, bound, &ids, &count);

	if (rc)
		return rc;
	if (in_c) {
		if (count)
			qsort(ids, count, sizeof(*ids), compare_ids);
	} else {
		for (size_t i = 0; i < count; i++) {
			json_next(&live);
			json_int(&live, ids[i]);
		}
		if (!(json = json_done(&live))) {
			free(ids);
			return -ENOMEM;
		}
	}
	rc = stmt_get(st, Q_STUCK_NAMES, &stmt);
	if (rc)
		goto out;
	db_bind_text(stmt, 1, type);
	if (!in_c)
		db_bind_text(stmt, 2, json);
	while ((rc = db_step(stmt)) == DB_ROW) {
		const char *id;

		if (in_c) {
			int64_t owner = db_column_int(stmt, 0);

			if (count && bsearch(&owner, ids, count, sizeof(*ids), compare_ids))
				continue;
			id = db_column_text(stmt, 1);
		} else {
			id = db_column_text(stmt, 0);
		}
		if (id && (rc = fn(ctx, id)) != 0)
			goto out;
	}
	rc = rc == DB_DONE ? 0 : db_fail(st, rc, "list stuck resources");
out:
	free(ids);
	json_free(&live);
	return rc;
}

/* One read transaction: the owners judged and their rows listed from the
 * same state of the database. */
int store_list_stuck_names(struct store *st, const char *type, const struct timespec *bound,
			   store_stuck_name_fn fn, void *ctx)
{
	bool own = !db_in_tx(st->db);
	int rc = own ? begin(st, DB_TX_READ) : 0;

	if (rc)
		return db_fail(st, rc, "begin listing stuck resources");
	rc = list_stuck_names(st, type, bound, fn, ctx);
	if (own) {
		if (rc == 0 && (rc = commit(st)) != 0)
			db_fail(st, rc, "end listing stuck resources");
		if (rc)
			rollback(st);
	}
	return rc;
}

int store_stuck_times(struct store *st, const char *type, const char *const *ids, size_t count,
		      store_stuck_times_fn fn, void *ctx)
{
	STMT stmt = NULL;
	struct json_buf names = { 0 };
	const char *list = NULL;
	int rc = stmt_get(st, ids ? Q_STUCK_TIMES : Q_STUCK_TIMES_ALL, &stmt);

	if (rc)
		return rc;
	db_bind_text(stmt, 1, type);
	if (ids) {
		for (size_t i = 0; i < count; i++) {
			json_next(&names);
			json_str(&names, ids[i]);
		}
		if (!(list = json_done(&names))) {
			json_free(&names);
			return -ENOMEM;
		}
		db_bind_text(stmt, 2, list);
	}
	while ((rc = db_step(stmt)) == DB_ROW) {
		const char *id = db_column_text(stmt, 0);
		int stop = id ? fn(ctx, id, db_column_text(stmt, 1), db_column_text(stmt, 2)) : 0;

		if (stop) {
			json_free(&names);
			return stop;
		}
	}
	json_free(&names);
	return rc == DB_DONE ? 0 : db_fail(st, rc, "read stuck resources' times");
}

/* ---- Cleanup requests ---- */

static void bind_opt_text(struct db_stmt *stmt, int idx, const char *text)
{
	bind_text_or_null(stmt, idx, text);
}

static int read_planner_worker(struct db_stmt *stmt, struct planner_worker *w)
{
	int rc = read_service(stmt, &w->svc);

	if (rc)
		return rc;
	w->cluster_disabled = db_column_null(stmt, 8)
		? TRI_ANY : (db_column_int(stmt, 8) ? TRI_TRUE : TRI_FALSE);
	/* No worker_state row (a row Cinder or an operator made): able. */
	w->cannot_clean = db_column_int(stmt, 9) != 0;
	return 0;
}

static void bind_host_ranges(struct db_stmt *stmt, const char *value)
{
	char hash_lo[NAME_LEN + 2], hash_hi[NAME_LEN + 2], at_lo[NAME_LEN + 2], at_hi[NAME_LEN + 2];

	planner_host_ranges(value, hash_lo, hash_hi, at_lo, at_hi);
	/* Bound as text even when empty: an empty range, one statement. */
	db_bind_text(stmt, 1, value);
	db_bind_text(stmt, 2, hash_lo);
	db_bind_text(stmt, 3, hash_hi);
	db_bind_text(stmt, 4, at_lo);
	db_bind_text(stmt, 5, at_hi);
}

int store_plan_candidates(struct store *st, const struct filter *f, store_planner_fn fn, void *ctx,
			  bool *every_row)
{
	struct planner_worker w;
	STMT stmt = NULL;
	int rc;

	*every_row = false;
	if (f->service_id_matches_none)
		return 0;
	if (f->has_service_id) {
		rc = stmt_get(st, Q_PLAN_BY_ID, &stmt);
		if (!rc)
			db_bind_int(stmt, 1, f->service_id);
	} else if (f->host[0]) {
		rc = stmt_get(st, Q_PLAN_BY_HOST, &stmt);
		if (!rc)
			bind_host_ranges(stmt, f->host);
	} else if (f->cluster_name[0]) {
		rc = stmt_get(st, Q_PLAN_BY_CLUSTER, &stmt);
		if (!rc)
			bind_host_ranges(stmt, f->cluster_name);
	} else {
		rc = stmt_get(st, Q_PLAN_ALL, &stmt);
		*every_row = true;
	}
	if (rc)
		return rc;
	db_bind_int(stmt, 6, f->disabled != TRI_ANY);
	while ((rc = db_step(stmt)) == DB_ROW) {
		if (read_planner_worker(stmt, &w) != 0)
			continue;
		if ((rc = fn(ctx, &w)) != 0)
			return rc;
	}
	return rc == DB_DONE ? 0 : db_fail(st, rc, "list workers for the planner");
}

/* The rows of the workers a host, cluster or id filter can select:
 * those candidates (store_plan_candidates, by index), then each one's
 * rows by index, instead of a pass over every workers row (100,000 stuck
 * rows took 0.5 s on SQLite, 2 s on PostgreSQL, for a stat). */
struct reach_of {
	struct store *st;
	store_reach_fn fn;
	void *ctx;
};

static int reach_of_worker(void *arg, const struct planner_worker *w)
{
	struct reach_of *r = arg;
	STMT stmt = NULL;
	char type[32];
	int rc = stmt_get(r->st, Q_REACH_OF_WORKER, &stmt);

	if (rc)
		return rc;
	db_bind_int(stmt, 1, w->svc.id);
	while ((rc = db_step(stmt)) == DB_ROW) {
		int stop;

		if (column_text(stmt, 0, type, sizeof(type)))
			continue;
		stop = r->fn(r->ctx, w, type, db_column_int(stmt, 1));
		if (stop) {
			db_reset(stmt);
			return stop;
		}
	}
	return rc == DB_DONE ? 0 : db_fail(r->st, rc, "count a worker's rows");
}

/* Every workers row with an owner, a page at a time (REACH_PAGE rows in
 * id order, each page its own statement, all in one read transaction):
 * fn sees each owner and type of a page with its rows there, and its
 * non-zero return ends the read at that page. */
#define REACH_PAGE 2048

static int reach_pages(struct store *st, store_reach_fn fn, void *ctx)
{
	struct planner_worker w;
	int64_t after = 0, seen;
	int rc;

	do {
		STMT stmt = NULL;

		seen = 0;
		rc = stmt_get(st, Q_REACH_ALL, &stmt);
		if (rc)
			return rc;
		db_bind_int(stmt, 1, after);
		db_bind_int(stmt, 2, REACH_PAGE);
		while ((rc = db_step(stmt)) == DB_ROW) {
			const char *type = db_column_text(stmt, 10);

			seen = db_column_int(stmt, 13);
			if (seen)
				after = db_column_int(stmt, 12);
			if (!type || read_planner_worker(stmt, &w) != 0)
				continue;
			if ((rc = fn(ctx, &w, type, db_column_int(stmt, 11))) != 0) {
				db_reset(stmt);
				return rc;
			}
		}
		if (rc != DB_DONE)
			return db_fail(st, rc, "count the rows a cleanup would reach");
	} while (seen == REACH_PAGE);
	return 0;
}

int store_reach_rows(struct store *st, const struct filter *f, store_reach_fn fn, void *ctx)
{
	const char *resource_id = f->resource_id[0] ? f->resource_id : NULL;
	struct planner_worker w;
	STMT stmt = NULL;
	int rc;

	if (!resource_id && (f->has_service_id || f->host[0] || f->cluster_name[0])) {
		struct reach_of r = { st, fn, ctx };
		bool every_row;
		/* The cluster's disabled flag is read whatever the filter
		 * asks: fn judges with planner_selects, which reads it only
		 * when the filter names disabled. */
		return store_plan_candidates(st, f, reach_of_worker, &r, &every_row);
	}
	if (!resource_id) {
		/* The pages from one state of the database: a row moved
		 * meanwhile is not counted twice, nor missed. */
		bool own = !db_in_tx(st->db);

		rc = own ? begin(st, DB_TX_READ) : 0;
		if (rc)
			return db_fail(st, rc, "begin counting the rows a cleanup would reach");
		rc = reach_pages(st, fn, ctx);
		if (own) {
			int end = commit(st);
			if (end) {
				rollback(st);
				if (rc == 0 || rc == 1)
					rc = db_fail(st, end, "end counting the rows a cleanup would reach");
			}
		}
		return rc;
	}
	rc = stmt_get(st, Q_REACH_RESOURCE, &stmt);

	if (rc)
		return rc;
	db_bind_text(stmt, 1, resource_id);
	while ((rc = db_step(stmt)) == DB_ROW) {
		const char *type = db_column_text(stmt, 10);

		if (!type || read_planner_worker(stmt, &w) != 0)
			continue;
		if ((rc = fn(ctx, &w, type, db_column_int(stmt, 11))) != 0)
			return rc;
	}
	return rc == DB_DONE ? 0 : db_fail(st, rc, "count the rows a cleanup would reach");
}

int store_cluster_beats(struct store *st, const char *name, store_member_fn fn, void *ctx)
{
	STMT stmt = NULL;
	int rc = stmt_get(st, name ? Q_CLUSTER_BEATS : Q_CLUSTER_BEATS_ALL, &stmt);

	if (rc)
		return rc;
	if (name)
		db_bind_text(stmt, 1, name);
	while ((rc = db_step(stmt)) == DB_ROW) {
		const char *cluster = db_column_text(stmt, 0), *beat = db_column_text(stmt, 1);
		fn(ctx, cluster ? cluster : "", beat ? beat : "", db_column_int(stmt, 2) != 0);
	}
	return rc == DB_DONE ? 0 : db_fail(st, rc, "read cluster members' heartbeats");
}

int store_find_pending(struct store *st, const char *resource_id, const char *type, int *count,
		       int64_t *service_id, char type_out[16])
{
	STMT stmt = NULL;
	int rc = stmt_get(st, Q_FIND_PENDING, &stmt);

	if (rc)
		return rc;
	db_bind_text(stmt, 1, resource_id);
	bind_opt_text(stmt, 2, type);
	*count = 0;
	while ((rc = db_step(stmt)) == DB_ROW) {
		if ((*count)++ == 0) {
			*service_id = db_column_int(stmt, 0); /* NULL reads as 0: no owner */
			if (column_text(stmt, 1, type_out, 16) != 0)
				return -EOVERFLOW;
		}
	}
	return rc == DB_DONE ? 0 : db_fail(st, rc, "find pending resource");
}

/* Dotted versions compared number by number ("1.10" is newer than "1.9"). */
static int version_cmp(const char *a, const char *b)
{
	while (*a || *b) {
		char *end_a, *end_b;
		long x = strtol(a, &end_a, 10), y = strtol(b, &end_b, 10);
		if (x != y)
			return x < y ? -1 : 1;
		a = *end_a == '.' ? end_a + 1 : end_a + strlen(end_a);
		b = *end_b == '.' ? end_b + 1 : end_b + strlen(end_b);
	}
	return 0;
}

int store_older_worker(struct store *st, const char *version, bool *older, char who[NAME_LEN])
{
	STMT stmt = NULL;
	int rc = stmt_get(st, Q_VERSIONS, &stmt);

	if (rc)
		return rc;
	db_bind_text(stmt, 1, version);
	*older = false;
	while ((rc = db_step(stmt)) == DB_ROW) {
		const char *v = db_column_text(stmt, 0);
		if (v && version_cmp(v, version) < 0) {
			*older = true;
			column_text(stmt, 1, who, NAME_LEN);
			return 0;
		}
	}
	return rc == DB_DONE ? 0 : db_fail(st, rc, "read worker versions");
}

/* The result's pieces, as the renderer hands over its bytes. */
enum { RESULT_PIECE = 65536 };

struct result_sink {
	struct store *st;
	int64_t request_id, seq;
	uint64_t total;
	size_t used;
	char piece[RESULT_PIECE];
};

static int put_piece(struct result_sink *r)
{
	STMT ins = NULL;
	int rc = stmt_get(r->st, Q_RESULT_PIECE_INSERT, &ins);

	if (rc)
		return rc;
	db_bind_int(ins, 1, r->request_id);
	db_bind_int(ins, 2, r->seq++);
	db_bind_blob_ref(ins, 3, r->piece, r->used);
	r->used = 0;
	return step_done(r->st, ins, "record the result");
}

static int emit_result(void *ctx, const char *bytes, size_t n)
{
	struct result_sink *r = ctx;

	while (n) {
		size_t take = RESULT_PIECE - r->used < n ? RESULT_PIECE - r->used : n;
		int rc;

		memcpy(r->piece + r->used, bytes, take);
		r->used += take;
		r->total += take;
		bytes += take;
		n -= take;
		/* Every piece but the last is full: a read finds offset o in
		 * piece o / RESULT_PIECE. */
		if (r->used == RESULT_PIECE && (rc = put_piece(r)) != 0)
			return rc;
	}
	return 0;
}

static int write_result(struct store *st, const struct new_request *req, int64_t request_id)
{
	struct result_sink *r = malloc(sizeof(*r));
	int rc;

	if (!r)
		return -ENOMEM;
	r->st = st;
	r->request_id = request_id;
	r->seq = 0;
	r->total = 0;
	r->used = 0;
	rc = req->render_result(req->render_ctx, emit_result, r);
	if (rc == 0 && (r->used || r->seq == 0))
		rc = put_piece(r);
	if (rc == 0) {
		STMT size = NULL;
		rc = stmt_get(st, Q_RESULT_SIZE_SET, &size);
		if (rc == 0) {
			db_bind_int(size, 1, request_id);
			db_bind_int(size, 2, (int64_t)r->total);
			rc = step_done(st, size, "record the result's size");
		}
	}
	free(r);
	return rc;
}

int store_read_result(struct store *st, int64_t id, uint64_t offset, char *buf, size_t size,
		      size_t *got)
{
	STMT stmt = NULL;
	int rc;

	*got = 0;
	if (size == 0)
		return 0;
	rc = stmt_get(st, Q_RESULT_PIECES, &stmt);
	if (rc)
		return rc;
	db_bind_int(stmt, 1, id);
	db_bind_int(stmt, 2, (int64_t)(offset / RESULT_PIECE));
	db_bind_int(stmt, 3, (int64_t)((offset + size - 1) / RESULT_PIECE));
	while ((rc = db_step(stmt)) == DB_ROW) {
		uint64_t start = (uint64_t)db_column_int(stmt, 0) * RESULT_PIECE, skip, n;
		size_t len;
		const char *piece = db_column_blob(stmt, 1, &len);

		/* Pieces come in order and each but the last is full. */
		if (start + len <= offset + *got || start > offset + *got)
			break;
		skip = offset + *got - start;
		n = len - skip < size - *got ? len - skip : size - *got;
		memcpy(buf + *got, piece + skip, n);
		*got += n;
		if (*got == size)
			break;
	}
	if (rc != DB_ROW && rc != DB_DONE)
		return db_fail(st, rc, "read a request's result");
	return 0;
}

int store_request_result(struct store *st, int64_t id, char **out, size_t *len)
{
	STMT stmt = NULL;
	char *text = NULL;
	size_t n = 0, cap = 0;
	int rc = stmt_get(st, Q_RESULT_PIECES, &stmt);

	if (rc)
		return rc;
	db_bind_int(stmt, 1, id);
	db_bind_int(stmt, 2, 0);
	db_bind_int(stmt, 3, INT64_MAX);
	while ((rc = db_step(stmt)) == DB_ROW) {
		size_t piece_len;
		const char *piece = db_column_blob(stmt, 1, &piece_len);

		if (array_reserve((void **)&text, &cap, n + piece_len + 1, 1) != 0) {
			free(text);
			return -ENOMEM;
		}
		memcpy(text + n, piece, piece_len);
		n += piece_len;
	}
	if (rc != DB_DONE) {
		free(text);
		return db_fail(st, rc, "read a request's result");
	}
	if (!text && !(text = malloc(1)))
		return -ENOMEM;
	text[n] = '\0';
	*out = text;
	*len = n;
	return 0;
}

/* The request's jobs, by rows of 64, 8 and 1. */
/* PostgreSQL: every job in one statement (Q_JOB_INSERT_ROWS). */
static int insert_jobs_rows(struct store *st, const struct new_request *req, int64_t request_id,
			    const char *until)
{
	struct json_buf rows = { 0 };
	const char *json;
	STMT ins = NULL;
	int rc;

	for (size_t i = 0; i < req->job_count; i++) {
		const struct new_job *j = &req->jobs[i];

		json_next(&rows);
		json_raw(&rows, "[");
		json_int(&rows, j->service_id);
		json_raw(&rows, ",");
		json_str(&rows, j->dest_cluster ? j->dest_cluster : "");
		json_raw(&rows, ",");
		json_int(&rows, j->dest_service);
		json_raw(&rows, "]");
	}
	if (!(json = json_done(&rows))) {
		json_free(&rows);
		return -ENOMEM;
	}
	rc = stmt_get(st, Q_JOB_INSERT_ROWS, &ins);
	if (!rc) {
		db_bind_int(ins, 1, request_id);
		db_bind_text(ins, 2, until);
		bind_opt_text(ins, 3, req->resource_type);
		bind_opt_text(ins, 4, req->resource_id);
		db_bind_text(ins, 5, json);
		rc = step_done(st, ins, "queue jobs");
	}
	json_free(&rows);
	return rc;
}

static int insert_jobs(struct store *st, const struct new_request *req, int64_t request_id,
		       const char *until)
{
	static const struct { enum stmt_id id; size_t rows; } sizes[] = {
		{ Q_JOB_INSERT_64, JOB_ROWS_MAX }, { Q_JOB_INSERT_8, 8 }, { Q_JOB_INSERT_1, 1 },
	};
	size_t done = 0;

	if (db_kind(st->db) == DB_POSTGRESQL)
		return req->job_count ? insert_jobs_rows(st, req, request_id, until) : 0;
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		while (req->job_count - done >= sizes[k].rows) {
			STMT ins = NULL;
			int rc = stmt_get(st, sizes[k].id, &ins);

			if (rc)
				return rc;
			db_bind_int(ins, 1, request_id);
			db_bind_text(ins, 2, until);
			bind_opt_text(ins, 3, req->resource_type);
			bind_opt_text(ins, 4, req->resource_id);
			for (size_t r = 0; r < sizes[k].rows; r++) {
				const struct new_job *j = &req->jobs[done + r];
				int at = 5 + 3 * (int)r;
				db_bind_int(ins, at, j->service_id);
				db_bind_text(ins, at + 1, j->dest_cluster ? j->dest_cluster : "");
				db_bind_int(ins, at + 2, j->dest_service);
			}
			rc = step_done(st, ins, "queue jobs");
			if (rc)
				return rc;
			done += sizes[k].rows;
		}
	}
	return 0;
}

/* A statement of one request's id, no rows. */
static int request_stmt(struct store *st, enum stmt_id q, int64_t request_id, const char *what)
{
	STMT stmt = NULL;
	int rc = stmt_get(st, q, &stmt);

	if (rc)
		return rc;
	db_bind_int(stmt, 1, request_id);
	return step_done(st, stmt, what);
}

/* The guard of "once per outage, by one member": the mark goes in only
 * when none is there (the primary key; on PostgreSQL a second inserter
 * waits for the first's commit, then does nothing) and the member's
 * heartbeat is still the one read (it did not come back meanwhile). */
static int mark_outage(struct store *st, const struct store_outage *o, int64_t request_id,
		       const char *at)
{
	struct db_stmt *stmt;
	int rc = prep(st, "INSERT INTO auto_cleanups (service_id, last_heartbeat, cluster_name, host, "
			  "after_seconds, requested_by, request_id, created_at) "
			  "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE EXISTS (SELECT 1 FROM services s "
			  "WHERE s.id = ?1 AND s.deleted = 0 AND "
			  "COALESCE(s.updated_at, s.created_at) = ?2) "
			  "ON CONFLICT (service_id, last_heartbeat) DO NOTHING", &stmt);

	if (rc)
		return rc;
	db_bind_int(stmt, 1, o->service_id);
	db_bind_text(stmt, 2, o->last_heartbeat);
	db_bind_text(stmt, 3, o->cluster_name);
	db_bind_text(stmt, 4, o->host);
	db_bind_int(stmt, 5, o->after_seconds);
	db_bind_int(stmt, 6, o->requested_by);
	db_bind_int(stmt, 7, request_id);
	db_bind_text(stmt, 8, at);
	rc = step_finalize(st, stmt, "mark an outage cleaned");
	if (rc)
		return rc;
	return db_changes(st->db) == 1 ? 0 : -EALREADY;
}

int store_add_request(struct store *st, const struct new_request *req, int64_t *id,
		      struct cf_err *err)
{
	char until[DBTIME_LEN];
	/* SQLite's row triggers (0009) cost a write of the sizes row per row:
	 * the request's rows are counted once instead (0010). PostgreSQL's
	 * run once per statement. */
	bool recount = db_kind(st->db) == DB_SQLITE;
	int rc;

	dbtime_format(&req->until, until);
	if (begin(st, DB_TX_WRITE))
		return err_set(err, EBUSY, "cannot lock database %s to record the request: %s",
			       st->path, db_errmsg(st->db));
	{
		STMT ins = NULL;
		rc = stmt_get(st, Q_REQUEST_INSERT, &ins);
		if (!rc) {
			db_bind_text(ins, 1, until);
			db_bind_blob(ins, 2, req->spec, req->spec_len);
			db_bind_text(ins, 3, req->filter_json);
			db_bind_int(ins, 4, req->uid);
			db_bind_int(ins, 5, req->pid);
			if (req->accepted_by)
				db_bind_int(ins, 6, req->accepted_by);
			else
				db_bind_null(ins, 6);
			rc = step_returning_id(st, ins, "record request", id);
		}
	}
	if (rc)
		goto fail;
	if (recount) {
		rc = request_stmt(st, Q_SIZES_FORGET, *id, "count the request's rows");
		if (rc)
			goto fail;
	}
	if (req->outage) {
		rc = mark_outage(st, req->outage, *id, until);
		if (rc == -EALREADY) {
			rollback(st);
			return err_set(err, EALREADY, "worker %lld's outage since %s was cleaned already, "
				       "or it came back", (long long)req->outage->service_id,
				       req->outage->last_heartbeat);
		}
		if (rc)
			goto fail;
	}
	rc = write_result(st, req, *id);
	if (rc)
		goto fail;
	rc = insert_jobs(st, req, *id, until);
	if (rc)
		goto fail;
	{
		STMT queue = NULL;
		rc = stmt_get(st, Q_PROGRESS_QUEUE, &queue);
		if (rc)
			goto fail;
		db_bind_int(queue, 1, *id);
		db_bind_text(queue, 2, until);
		rc = step_done(st, queue, "record queued resources");
		if (rc)
			goto fail;
	}
	if (recount) {
		rc = request_stmt(st, Q_SIZES_RECOUNT, *id, "count the request's rows");
		if (rc)
			goto fail;
	}
	if (commit(st) == 0)
		return 0;
	rc = -EIO;
fail:
	return tx_fail(st, err, "cannot record the request in %s", st->path);
}

static char *column_dup(struct db_stmt *stmt, int col, size_t *len)
{
	size_t n;
	const void *data = db_column_blob(stmt, col, &n);
	char *copy = malloc(n + 1);

	if (!copy)
		return NULL;
	if (n)
		memcpy(copy, data, n);
	copy[n] = '\0';
	if (len)
		*len = n;
	return copy;
}

static int read_request(struct db_stmt *stmt, struct request_row *r)
{
	memset(r, 0, sizeof(*r));
	r->id = db_column_int(stmt, 0);
	column_text(stmt, 1, r->created_at, sizeof(r->created_at));
	r->spec = column_dup(stmt, 2, &r->spec_len);
	r->filter = column_dup(stmt, 3, NULL);
	r->result_size = db_column_int(stmt, 4);
	r->uid = db_column_int(stmt, 5);
	r->pid = db_column_int(stmt, 6);
	r->accepted_by = db_column_int(stmt, 7);
	r->generation = db_column_int(stmt, 8);
	column_text(stmt, 9, r->cancelled_at, sizeof(r->cancelled_at));
	r->cancelled_by = db_column_int(stmt, 10);
	if (!r->spec || !r->filter) {
		store_request_free(r);
		return -ENOMEM;
	}
	return 0;
}

void store_request_free(struct request_row *r)
{
	free(r->spec);
	free(r->filter);
	r->spec = r->filter = NULL;
}

static int one_request(struct store *st, struct db_stmt *stmt, struct request_row *out)
{
	int rc = db_step(stmt);
	if (rc == DB_DONE)
		return -ENOENT;
	if (rc != DB_ROW)
		return db_fail(st, rc, "read request");
	return read_request(stmt, out);
}

int store_last_request(struct store *st, struct request_row *out)
{
	STMT stmt = NULL;
	int rc = stmt_get(st, Q_REQUEST_LAST, &stmt);
	return rc ? rc : one_request(st, stmt, out);
}

int store_get_request(struct store *st, int64_t id, struct request_row *out)
{
	STMT stmt = NULL;
	int rc = stmt_get(st, Q_REQUEST_BY_ID, &stmt);

	if (rc)
		return rc;
	db_bind_int(stmt, 1, id);
	return one_request(st, stmt, out);
}

int store_request_watch(struct store *st, int64_t id, int64_t *generation, int64_t *unfinished)
{
	STMT stmt = NULL;
	int rc = stmt_get(st, Q_REQUEST_WATCH, &stmt);

	if (rc)
		return rc;
	db_bind_int(stmt, 1, id);
	rc = db_step(stmt);
	if (rc == DB_DONE)
		return -ENOENT;
	if (rc != DB_ROW)
		return db_fail(st, rc, "read a request's generation");
	*generation = db_column_int(stmt, 0);
	*unfinished = db_column_int(stmt, 1);
	return 0;
}

int store_list_requests(struct store *st, store_request_fn fn, void *ctx)
{
	STMT stmt = NULL;
	int rc = stmt_get(st, Q_REQUESTS, &stmt);

	if (rc)
		return rc;
	while ((rc = db_step(stmt)) == DB_ROW) {
		rc = fn(ctx, db_column_int(stmt, 0), db_column_text(stmt, 1));
		if (rc)
			return rc;
	}
	return rc == DB_DONE ? 0 : db_fail(st, rc, "list requests");
}

const char *const store_resource_states[STORE_RESOURCE_STATES] = {
	"queued", "claimed", "cleaned", "skipped", "refused", "failed", "cancelled",
};

static void read_summary(struct db_stmt *stmt, struct request_summary *s)
{
	memset(s, 0, sizeof(*s));
	s->id = db_column_int(stmt, 0);
	column_text(stmt, 1, s->created_at, sizeof(s->created_at));
	s->uid = db_column_int(stmt, 2);
	s->pid = db_column_int(stmt, 3);
	s->accepted_by = db_column_int(stmt, 4);
	s->generation = db_column_int(stmt, 5);
	s->revision = db_column_int(stmt, 6);
	column_text(stmt, 7, s->cancelled_at, sizeof(s->cancelled_at));
	s->cancelled_by = db_column_int(stmt, 8);
	s->spec_bytes = db_column_int(stmt, 9);
	s->result_bytes = db_column_int(stmt, 10);
	s->jobs_total = db_column_int(stmt, 11);
	s->jobs_value_bytes = db_column_int(stmt, 12);
	s->jobs_queued = db_column_int(stmt, 13);
	s->jobs_running = db_column_int(stmt, 14);
	s->jobs_failed = db_column_int(stmt, 15);
	s->jobs_cancelled = db_column_int(stmt, 16);
	s->resources_total = db_column_int(stmt, 17);
	s->resources_value_bytes = db_column_int(stmt, 18);
	for (int i = 0; i < STORE_RESOURCE_STATES; i++)
		s->resources_by_state[i] = db_column_int(stmt, 19 + i);
	s->auto_by = db_column_int(stmt, 19 + STORE_RESOURCE_STATES);
	s->auto_worker = db_column_int(stmt, 20 + STORE_RESOURCE_STATES);
	column_text(stmt, 21 + STORE_RESOURCE_STATES, s->auto_down_since, sizeof(s->auto_down_since));
	s->auto_after = db_column_int(stmt, 22 + STORE_RESOURCE_STATES);
}

int store_request_summary(struct store *st, int64_t id, struct request_summary *out)
{
	STMT stmt = NULL;
	int rc = stmt_get(st, id ? Q_REQUEST_SUMMARY : Q_REQUEST_LAST_SUMMARY, &stmt);

	if (rc)
		return rc;
	if (id)
		db_bind_int(stmt, 1, id);
	rc = db_step(stmt);
	if (rc == DB_DONE)
		return -ENOENT;
	if (rc != DB_ROW)
		return db_fail(st, rc, "read a request's summary");
	read_summary(stmt, out);
	return 0;
}

/* Rows a page: what one PostgreSQL result holds at once (about 1 MB). */
#define PAGE_ROWS 4096

/* Run a page statement (?1 the request, ?2 the last id seen, ?3 the page
 * size; column 0 the id) to the end, one page at a time; row() is given
 * each row. */
static int each_page(struct store *st, enum stmt_id q, int64_t request_id,
		     int (*row)(struct db_stmt *stmt, void *ctx), void *ctx, const char *what)
{
	int64_t after = 0;
	int rows, rc;

	do {
		STMT stmt = NULL;

		rc = stmt_get(st, q, &stmt);
		if (rc)
			return rc;
		db_bind_int(stmt, 1, request_id);
		db_bind_int(stmt, 2, after);
		db_bind_int(stmt, 3, PAGE_ROWS);
		rows = 0;
		while ((rc = db_step(stmt)) == DB_ROW) {
			rows++;
			after = db_column_int(stmt, 0);
			if ((rc = row(stmt, ctx)) != 0)
				return rc;
		}
		if (rc != DB_DONE)
			return db_fail(st, rc, what);
	} while (rows == PAGE_ROWS);
	return 0;
}

struct progress_read {
	const struct store_progress_reader *reader;
	void *ctx;
};

static int job_row(struct db_stmt *stmt, void *arg)
{
	const struct progress_read *r = arg;
	struct progress_job_entry j = {
		.id = db_column_int(stmt, 0),
		.worker_id = db_column_int(stmt, 1),
		.state = db_column_text(stmt, 2),
		.taken_by = db_column_int(stmt, 3),
		.error = db_column_text(stmt, 4),
	};
	return r->reader->job(r->ctx, &j);
}

static int resource_row(struct db_stmt *stmt, void *arg)
{
	const struct progress_read *r = arg;
	struct progress_resource_entry e = {
		.job_id = db_column_int(stmt, 1),
		.resource_type = db_column_text(stmt, 2),
		.resource_id = db_column_text(stmt, 3),
		.state = db_column_text(stmt, 4),
		.detail = db_column_text(stmt, 5),
		.worker_id = db_column_int(stmt, 6),
		.updated_at = db_column_text(stmt, 7),
	};
	return r->reader->resource(r->ctx, &e);
}

int store_read_progress(struct store *st, int64_t id, const struct store_progress_reader *reader,
			void *ctx)
{
	struct progress_read r = { reader, ctx };
	struct request_summary sum;
	int rc = begin(st, DB_TX_READ);

	if (rc)
		return db_fail(st, rc, "begin reading a request's progress");
	rc = store_request_summary(st, id, &sum);
	if (rc == 0)
		rc = reader->summary(ctx, &sum);
	if (rc == 0)
		rc = each_page(st, Q_JOBS_PAGE, sum.id, job_row, &r, "read a request's jobs");
	if (rc == 0)
		rc = each_page(st, Q_PROGRESS_PAGE, sum.id, resource_row, &r,
			       "read a request's progress");
	if (rc == 0) {
		rc = commit(st);
		if (rc)
			db_fail(st, rc, "end reading a request's progress");
	}
	if (rc)
		rollback(st);
	return rc;
}

struct prune_ctx {
	int keep;
	char oldest[DBTIME_LEN]; /* "" for no age limit */
	int pruned;
};

static int prune_tx(struct store *st, void *arg)
{
	static const char *const steps[] = {
		"CREATE TEMP TABLE IF NOT EXISTS prune (id BIGINT PRIMARY KEY)",
		"DELETE FROM prune",
		/* Requests whose jobs have all ended (every request ends),
		 * beyond the newest `keep` or older than the age limit. */
		"INSERT INTO prune SELECT r.id FROM cleanup_requests r WHERE "
		"((?1 > 0 AND r.id <= (SELECT MAX(id) FROM cleanup_requests) - ?1) OR "
		"(?2 IS NOT NULL AND r.created_at < ?2)) AND NOT EXISTS (SELECT 1 FROM cleanup_jobs j "
		"WHERE j.request_id = r.id AND j.state IN ('queued', 'running'))",
		/* What they counted goes on counting in the metrics'
		 * totals (migration 12): a counter never goes down. */
		"UPDATE cleanup_pruned_totals SET requests = requests + (SELECT count(*) FROM prune), "
		"requests_done = requests_done + t.done, requests_failed = requests_failed + t.failed, "
		"requests_cancelled = requests_cancelled + t.cancelled, "
		"resources_cleaned = resources_cleaned + t.r_cleaned, "
		"resources_skipped = resources_skipped + t.r_skipped, "
		"resources_refused = resources_refused + t.r_refused, "
		"resources_failed = resources_failed + t.r_failed, "
		"resources_cancelled = resources_cancelled + t.r_cancelled "
		"FROM (SELECT COALESCE(SUM(CASE WHEN state = 'done' THEN 1 ELSE 0 END), 0) AS done, "
		"COALESCE(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END), 0) AS failed, "
		"COALESCE(SUM(CASE WHEN state = 'cancelled' THEN 1 ELSE 0 END), 0) AS cancelled, "
		"COALESCE(SUM(resources_cleaned), 0) AS r_cleaned, "
		"COALESCE(SUM(resources_skipped), 0) AS r_skipped, "
		"COALESCE(SUM(resources_refused), 0) AS r_refused, "
		"COALESCE(SUM(resources_failed), 0) AS r_failed, "
		"COALESCE(SUM(resources_cancelled), 0) AS r_cancelled "
		"FROM (SELECT " REQUEST_STATE("") " AS state, resources_cleaned, resources_skipped, "
		"resources_refused, resources_failed, resources_cancelled FROM cleanup_request_sizes "
		"WHERE request_id IN (SELECT id FROM prune)) k) t WHERE id = 1",
		"DELETE FROM cleanup_progress WHERE request_id IN (SELECT id FROM prune)",
		"DELETE FROM cleanup_jobs WHERE request_id IN (SELECT id FROM prune)",
		"DELETE FROM cleanup_requests WHERE id IN (SELECT id FROM prune)",
		/* An automatic cleanup's mark goes once its request has left
		 * the history and its outage is over (the member beat since,
		 * or was removed): while the member stays down, the mark is
		 * what keeps it from being cleaned a second time. */
		"DELETE FROM auto_cleanups WHERE NOT EXISTS (SELECT 1 FROM cleanup_requests r "
		"WHERE r.id = auto_cleanups.request_id) AND NOT EXISTS (SELECT 1 FROM services s "
		"WHERE s.id = auto_cleanups.service_id AND s.deleted = 0 AND "
		"COALESCE(s.updated_at, s.created_at) = auto_cleanups.last_heartbeat)",
	};
	struct prune_ctx *c = arg;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct db_stmt *stmt;
		int rc = prep(st, steps[i], &stmt);
		if (rc)
			return rc;
		if (i == 2) {
			db_bind_int(stmt, 1, c->keep);
			bind_text_or_null(stmt, 2, c->oldest);
		}
		rc = step_finalize(st, stmt, "prune history");
		if (rc)
			return rc;
		if (i == 6)
			c->pruned = db_changes(st->db);
	}
	return 0;
}

int store_prune_requests(struct store *st, int keep, int max_age_days, const struct timespec *now)
{
	struct prune_ctx c = { .keep = keep };
	int rc;

	if (keep <= 0 && max_age_days <= 0)
		return 0; /* keep every request */
	if (max_age_days > 0) {
		struct timespec oldest = { now->tv_sec - (time_t)max_age_days * 86400, now->tv_nsec };
		dbtime_format(&oldest, c.oldest);
	}
	rc = write_tx(st, prune_tx, &c);
	return rc ? rc : c.pruned;
}

/* The volume operations' history, pruned by age (migration 15): ended
 * operations that ended before ?1, a batch at a time, except a
 * resource's latest failure while the resource is there (its last_error
 * reads it). What they counted goes on counting in
 * volume_operations_pruned, in the transaction that removes them. */
#define OPS_PRUNE_BATCH 10000
#define OPS_STR_(x) #x
#define OPS_STR(x) OPS_STR_(x)
#define LE_SUM(us) ", COALESCE(SUM(CASE WHEN d <= " #us " THEN 1 ELSE 0 END), 0)"
#define LE_ADD(n) ", le_" #n " = volume_operations_pruned.le_" #n " + excluded.le_" #n

struct prune_ops_ctx {
	char oldest[DBTIME_LEN];
	int pruned;
};

static int prune_ops_tx(struct store *st, void *arg)
{
	static const char *const steps[] = {
		"CREATE TEMP TABLE IF NOT EXISTS prune_ops (id BIGINT PRIMARY KEY)",
		"DELETE FROM prune_ops",
		"INSERT INTO prune_ops SELECT o.id FROM volume_operations o WHERE o.state IN ('done', "
		"'failed') AND o.finished_at < ?1 AND NOT (o.state = 'failed' AND NOT EXISTS (SELECT 1 "
		"FROM volume_operations l WHERE l.resource_id = o.resource_id AND l.state = 'failed' "
		"AND l.id > o.id) AND (EXISTS (SELECT 1 FROM volumes v WHERE v.id = o.resource_id AND "
		"v.deleted = 0) OR EXISTS (SELECT 1 FROM snapshots sn WHERE sn.id = o.resource_id AND "
		"sn.deleted = 0))) ORDER BY o.finished_at LIMIT " OPS_STR(OPS_PRUNE_BATCH),
		/* The same sums as the metrics' (OPS_SELECT), added. */
		"INSERT INTO volume_operations_pruned (kind, state, ops, timed, duration_us, le_1, "
		"le_2, le_3, le_4, le_5, le_6, le_7, le_8, le_9, le_10) SELECT kind, state, count(*), "
		"count(d), CAST(COALESCE(SUM(d), 0) AS BIGINT)"
		LE_SUM(100000) LE_SUM(250000) LE_SUM(500000) LE_SUM(1000000) LE_SUM(2500000)
		LE_SUM(5000000) LE_SUM(10000000) LE_SUM(30000000) LE_SUM(60000000) LE_SUM(300000000)
		" FROM (SELECT kind, state, " DURATION_US " AS d FROM volume_operations WHERE id IN "
		"(SELECT id FROM prune_ops)) o WHERE true GROUP BY kind, state "
		"ON CONFLICT (kind, state) DO UPDATE SET ops = volume_operations_pruned.ops + "
		"excluded.ops, timed = volume_operations_pruned.timed + excluded.timed, duration_us = "
		"volume_operations_pruned.duration_us + excluded.duration_us"
		LE_ADD(1) LE_ADD(2) LE_ADD(3) LE_ADD(4) LE_ADD(5) LE_ADD(6) LE_ADD(7) LE_ADD(8)
		LE_ADD(9) LE_ADD(10),
		"DELETE FROM volume_operations WHERE id IN (SELECT id FROM prune_ops)",
	};
	struct prune_ops_ctx *c = arg;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct db_stmt *stmt;
		int rc = prep(st, steps[i], &stmt);
		if (rc)
			return rc;
		if (i == 2)
			db_bind_text(stmt, 1, c->oldest);
		rc = step_finalize(st, stmt, "prune the volume operations");
		if (rc)
			return rc;
		if (i == 4)
			c->pruned = db_changes(st->db);
	}
	return 0;
}

int store_prune_volume_ops(struct store *st, int max_age_days, const struct timespec *now)
{
	struct timespec oldest = { now->tv_sec - (time_t)max_age_days * 86400, now->tv_nsec };
	struct prune_ops_ctx c = { .pruned = 0 };
	int total = 0, rc;

	if (max_age_days <= 0)
		return 0; /* kept for ever */
	dbtime_format(&oldest, c.oldest);
	/* A batch a transaction: the write lock is held for one batch, and
	 * a first pruning of a long history does not stall the others. */
	do {
		rc = write_tx(st, prune_ops_tx, &c);
		if (rc && total) {
			log_warning("pruning the volume operations stopped after %d: %s; the rest "
				    "go at the next pruning", total, strerror(-rc));
			return total;
		}
		if (rc)
			return rc;
		total += c.pruned;
	} while (c.pruned == OPS_PRUNE_BATCH);
	return total;
}

static void read_job(struct db_stmt *stmt, struct job *j)
{
	memset(j, 0, sizeof(*j));
	j->id = db_column_int(stmt, 0);
	j->request_id = db_column_int(stmt, 1);
	j->service_id = db_column_int(stmt, 2);
	column_text(stmt, 3, j->resource_type, sizeof(j->resource_type));
	column_text(stmt, 4, j->resource_id, sizeof(j->resource_id));
	column_text(stmt, 5, j->until, sizeof(j->until));
	column_text(stmt, 6, j->dest_cluster, sizeof(j->dest_cluster));
	j->dest_service = db_column_int(stmt, 7);
	column_text(stmt, 8, j->state, sizeof(j->state));
	j->taken_by = db_column_int(stmt, 9);
	if (column_text(stmt, 10, j->error, sizeof(j->error)) != 0)
		snprintf(j->error, sizeof(j->error), "%.*s...", (int)sizeof(j->error) - 8,
			 db_column_text(stmt, 10));
}

int store_take_job(struct store *st, int64_t me, const char *my_cluster,
		   const struct timespec *now, struct job *out)
{
	char stamp[DBTIME_LEN];
	int64_t id;
	int rc;

	dbtime_format(now, stamp);
	for (;;) {
		{
			STMT next = NULL;
			rc = stmt_get(st, Q_JOB_NEXT, &next);
			if (rc)
				return rc;
			db_bind_int(next, 1, me);
			bind_opt_text(next, 2, my_cluster);
			rc = db_step(next);
			if (rc == DB_DONE)
				return -ENOENT;
			if (rc != DB_ROW)
				return db_fail(st, rc, "find a job");
			id = db_column_int(next, 0);
		}
		{
			/* Taken only if still queued: of two workers racing for
			 * a cluster's job, one gets it and the other looks again. */
			STMT take = NULL;
			rc = stmt_get(st, Q_JOB_TAKE, &take);
			if (rc)
				return rc;
			db_bind_int(take, 1, me);
			db_bind_text(take, 2, stamp);
			db_bind_int(take, 3, id);
			rc = db_step(take);
			if (rc == DB_ROW) {
				read_job(take, out);
				return step_done(st, take, "take a job");
			}
			if (rc != DB_DONE)
				return db_fail(st, rc, "take a job");
		}
	}
}

/* Run fn in one write transaction: committed when it returns 0, rolled
 * back otherwise (its error returned). BEGIN IMMEDIATE: the write lock is
 * taken first, so the transaction never fails half-way for a lock. */
static int write_tx(struct store *st, int (*fn)(struct store *st, void *ctx), void *ctx)
{
	int rc = begin(st, DB_TX_WRITE);

	if (rc)
		return rc;
	rc = fn(st, ctx);
	if (rc == 0)
		rc = commit(st);
	if (rc && db_in_tx(st->db))
		rollback(st);
	return rc;
}

struct finish_job_ctx {
	int64_t job_id, me;
	const char *state, *error;
	char stamp[DBTIME_LEN];
};

static int finish_job_tx(struct store *st, void *arg)
{
	struct finish_job_ctx *c = arg;
	bool done = strcmp(c->state, "done") == 0;
	STMT fin = NULL;
	STMT settle = NULL;
	int rc = stmt_get(st, Q_JOB_FINISH, &fin);

	if (rc)
		return rc;
	db_bind_int(fin, 1, c->job_id);
	db_bind_text(fin, 2, c->state);
	bind_opt_text(fin, 3, c->error);
	db_bind_text(fin, 4, c->stamp);
	db_bind_int(fin, 5, c->me);
	rc = step_done(st, fin, "finish a job");
	if (rc)
		return rc;
	if (db_changes(st->db) == 0)
		return -ESTALE;
	/* What the job never reached is settled with it: no entry of an
	 * ended job stays queued or claimed. */
	rc = stmt_get(st, done ? Q_JOB_SETTLE_DONE : Q_JOB_SETTLE_FAILED, &settle);
	if (rc)
		return rc;
	db_bind_int(settle, 1, c->job_id);
	db_bind_int(settle, 2, c->me);
	db_bind_text(settle, 3, c->stamp);
	if (!done) {
		char detail[NAME_LEN + 32];
		snprintf(detail, sizeof(detail), "the job %s: %s",
			 strcmp(c->state, "cancelled") == 0 ? "was cancelled" : "failed",
			 c->error ? c->error : "?");
		db_bind_text(settle, 4, detail);
		db_bind_text(settle, 5, c->state);
	}
	return step_done(st, settle, "settle a job's resources");
}

int store_finish_job(struct store *st, int64_t job_id, int64_t me, const char *state,
		     const char *error, const struct timespec *now)
{
	struct finish_job_ctx c = { .job_id = job_id, .me = me, .state = state, .error = error };

	dbtime_format(now, c.stamp);
	return write_tx(st, finish_job_tx, &c);
}

int store_note_progress(struct store *st, int64_t request_id, int64_t job_id, const char *type,
			const char *resource_id, const char *state, const char *detail,
			int64_t worker_id, const struct timespec *now)
{
	STMT stmt = NULL;
	char stamp[DBTIME_LEN];
	int rc = stmt_get(st, Q_PROGRESS_NOTE, &stmt);

	if (rc)
		return rc;
	dbtime_format(now, stamp);
	db_bind_int(stmt, 1, request_id);
	db_bind_int(stmt, 2, job_id);
	db_bind_text(stmt, 3, type);
	db_bind_text(stmt, 4, resource_id);
	db_bind_text(stmt, 5, state);
	bind_opt_text(stmt, 6, detail);
	db_bind_int(stmt, 7, worker_id);
	db_bind_text(stmt, 8, stamp);
	return step_done(st, stmt, "note progress");
}

int store_job_hold(struct store *st, int64_t job_id, int64_t me, bool *mine, bool *cancelled)
{
	STMT stmt = NULL;
	int rc = stmt_get(st, Q_JOB_HOLD, &stmt);

	if (rc)
		return rc;
	db_bind_int(stmt, 1, job_id);
	db_bind_int(stmt, 2, me);
	rc = db_step(stmt);
	*mine = rc == DB_ROW && db_column_int(stmt, 0) != 0;
	*cancelled = rc == DB_ROW && db_column_int(stmt, 1) != 0;
	return rc == DB_ROW || rc == DB_DONE ? 0 : db_fail(st, rc, "check a job's holder");
}

int store_list_jobs(struct store *st, int64_t request_id, store_job_fn fn, void *ctx)
{
	STMT stmt = NULL;
	struct job j;
	int rc = stmt_get(st, Q_JOBS_OF_REQUEST, &stmt);

	if (rc)
		return rc;
	db_bind_int(stmt, 1, request_id);
	while ((rc = db_step(stmt)) == DB_ROW) {
		read_job(stmt, &j);
		if ((rc = fn(ctx, &j)) != 0)
			return rc;
	}
	return rc == DB_DONE ? 0 : db_fail(st, rc, "list jobs");
}

int store_rows_to_clean(struct store *st, int64_t service_id, const char *type, const char *id,
			const char *until, struct worker_row **out, size_t *count)
{
	STMT stmt = NULL;
	struct worker_row *rows = NULL;
	size_t n = 0, cap = 0;
	int rc = stmt_get(st, Q_ROWS_TO_CLEAN, &stmt);

	if (rc)
		return rc;
	db_bind_int(stmt, 1, service_id);
	bind_opt_text(stmt, 2, type);
	bind_opt_text(stmt, 3, id);
	db_bind_text(stmt, 4, until);
	while ((rc = db_step(stmt)) == DB_ROW) {
		struct worker_row *r;
		if (array_reserve((void **)&rows, &cap, n + 1, sizeof(*rows)) != 0) {
			free(rows);
			return -ENOMEM;
		}
		r = &rows[n];
		r->id = db_column_int(stmt, 0);
		r->service_id = db_column_int(stmt, 4);
		r->race_preventer = db_column_int(stmt, 5);
		if (column_text(stmt, 1, r->resource_type, sizeof(r->resource_type)) ||
		    column_text(stmt, 2, r->resource_id, sizeof(r->resource_id)) ||
		    column_text(stmt, 3, r->status, sizeof(r->status)) ||
		    column_text(stmt, 6, r->updated_at, sizeof(r->updated_at)))
			continue;
		n++;
	}
	if (rc != DB_DONE) {
		free(rows);
		return db_fail(st, rc, "read rows to clean");
	}
	*out = rows;
	*count = n;
	return 0;
}

int store_preview_rows(struct store *st, const int64_t *service_ids, size_t count,
		       const char *type, const char *id, const char *until, store_preview_fn fn,
		       void *ctx)
{
	STMT stmt = NULL;
	char *ids = malloc(count * 21 + 3);
	size_t n = 0;
	int rc;

	if (!ids)
		return -ENOMEM;
	ids[n++] = '[';
	for (size_t i = 0; i < count; i++)
		n += (size_t)sprintf(ids + n, "%s%lld", i ? "," : "", (long long)service_ids[i]);
	ids[n++] = ']';
	ids[n] = '\0';
	rc = stmt_get(st, Q_PREVIEW_ROWS, &stmt);
	if (rc) {
		free(ids);
		return rc;
	}
	db_bind_text(stmt, 1, ids);
	bind_opt_text(stmt, 2, type);
	bind_opt_text(stmt, 3, id);
	db_bind_text(stmt, 4, until);
	while ((rc = db_step(stmt)) == DB_ROW) {
		const char *status = db_column_text(stmt, 4);
		const char *attach = db_column_text(stmt, 5);
		struct store_preview_row r = {
			.service_id = db_column_int(stmt, 0),
			.resource_type = db_column_text(stmt, 1),
			.resource_id = db_column_text(stmt, 2),
			.row_status = db_column_text(stmt, 3),
			.status = db_column_int(stmt, 6) ? NULL : status ? status : "",
			.attach_status = attach ? attach : "",
		};
		if (!r.resource_type || !r.resource_id || !r.row_status)
			continue;
		int stop = fn(ctx, &r);
		if (stop) {
			free(ids);
			return stop;
		}
	}
	free(ids);
	return rc == DB_DONE ? 0 : db_fail(st, rc, "read the rows a preview reaches");
}

static int set_progress_stmt(struct store *st, int64_t request_id, int64_t job_id, const char *type,
			     const char *resource_id, const char *state, const char *detail,
			     int64_t worker_id, const char *stamp)
{
	STMT stmt = NULL;
	int rc = stmt_get(st, Q_PROGRESS_SET, &stmt);

	if (rc)
		return rc;
	db_bind_int(stmt, 1, request_id);
	db_bind_int(stmt, 2, job_id);
	db_bind_text(stmt, 3, type);
	db_bind_text(stmt, 4, resource_id);
	db_bind_text(stmt, 5, state);
	bind_opt_text(stmt, 6, detail);
	db_bind_int(stmt, 7, worker_id);
	db_bind_text(stmt, 8, stamp);
	return step_done(st, stmt, "record progress");
}

/* ---- The cleaner's batches: claims, ends and progress of many rows ---- */

/* A progress entry of a batch: {"type", "rid", "state", "detail"}. */
static void json_progress(struct json_buf *b, const char *type, const char *resource_id,
			  const char *state, const char *detail)
{
	json_next(b);
	json_key(b, "type", true);
	json_str(b, type);
	json_key(b, "rid", false);
	json_str(b, resource_id);
	json_key(b, "state", false);
	json_str(b, state);
	json_key(b, "detail", false);
	json_str(b, detail);
	json_raw(b, "}");
}

/* Run a batch statement whose parameters are ints, texts and, last, the
 * JSON array; rows (if any) go to fn. Nothing is run for an empty array. */
static int batch_stmt(struct store *st, enum stmt_id q, const char *what, struct json_buf *rows,
		      const int64_t *ints, size_t n_ints, const char *const *texts, size_t n_texts,
		      int (*fn)(void *ctx, struct db_stmt *stmt), void *ctx)
{
	STMT stmt = NULL;
	const char *json;
	int rc, idx = 1;

	if (!rows->len)
		return 0;
	if (!(json = json_done(rows)))
		return -ENOMEM;
	if ((rc = stmt_get(st, q, &stmt)) != 0)
		return rc;
	for (size_t i = 0; i < n_ints; i++)
		db_bind_int(stmt, idx++, ints[i]);
	for (size_t i = 0; i < n_texts; i++)
		db_bind_text(stmt, idx++, texts[i]);
	db_bind_text(stmt, idx, json);
	while ((rc = db_step(stmt)) == DB_ROW)
		if (fn && (rc = fn(ctx, stmt)) != 0)
			return rc;
	return rc == DB_DONE ? 0 : db_fail(st, rc, what);
}

/* The index of the row with this id: rows come in id order
 * (store_rows_to_clean), so a binary search, and a scan for any other
 * order. count when none. */
static size_t row_index(const struct worker_row *rows, size_t count, int64_t id)
{
	size_t lo = 0, hi = count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rows[mid].id == id)
			return mid;
		if (rows[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = 0; i < count; i++)
		if (rows[i].id == id)
			return i;
	return count;
}

/* SQLite's writers do not queue for its one write lock: one that finds
 * it taken sleeps and tries again (its busy handler), so a cleaner
 * writing batch after batch would leave the others, heartbeats first,
 * few moments to find it free. After each batch's transaction, the lock
 * is left free for as long as the transaction held it: a cleaner holds
 * it at most half the time. PostgreSQL queues the waiters of its write
 * lock, and heartbeats do not take it: nothing to leave there. */
#define LEAVE_FREE_MAX_MS 100

static void leave_write_lock_free(struct store *st, const struct timespec *locked)
{
	struct timespec now, pause;
	int64_t held_us;

	if (db_kind(st->db) != DB_SQLITE || !locked->tv_sec)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	held_us = (int64_t)(now.tv_sec - locked->tv_sec) * 1000000 +
		  (now.tv_nsec - locked->tv_nsec) / 1000;
	if (held_us > LEAVE_FREE_MAX_MS * 1000)
		held_us = LEAVE_FREE_MAX_MS * 1000;
	if (held_us <= 0)
		return;
	pause.tv_sec = held_us / 1000000;
	pause.tv_nsec = (held_us % 1000000) * 1000;
	nanosleep(&pause, NULL);
}

struct claim_ctx {
	const struct worker_row *rows;
	size_t count;
	int64_t me, request_id, job_id;
	char stamp[DBTIME_LEN];
	bool *claimed;
};

static int note_claimed(void *arg, struct db_stmt *stmt)
{
	struct claim_ctx *c = arg;
	size_t i = row_index(c->rows, c->count, db_column_int(stmt, 0));

	if (i < c->count)
		c->claimed[i] = true;
	return 0;
}

static int claim_tx(struct store *st, void *arg)
{
	struct claim_ctx *c = arg;
	struct json_buf rows = { 0 }, progress = { 0 };
	const char *stamp = c->stamp;
	int rc;

	for (size_t i = 0; i < c->count; i++) {
		const struct worker_row *r = &c->rows[i];

		json_next(&rows);
		json_key(&rows, "id", true);
		json_int(&rows, r->id);
		json_key(&rows, "status", false);
		json_str(&rows, r->status);
		json_key(&rows, "owner", false);
		json_int(&rows, r->service_id);
		json_key(&rows, "rp", false);
		json_int(&rows, r->race_preventer);
		json_key(&rows, "at", false);
		json_str(&rows, r->updated_at);
		json_raw(&rows, "}");
	}
	rc = batch_stmt(st, Q_ROWS_CLAIM, "claim rows", &rows, &c->me, 1, &stamp, 1, note_claimed, c);
	if (rc == 0 && c->request_id) {
		int64_t ints[] = { c->request_id, c->job_id, c->me };

		for (size_t i = 0; i < c->count; i++)
			if (c->claimed[i])
				json_progress(&progress, c->rows[i].resource_type, c->rows[i].resource_id,
					      "claimed", NULL);
		rc = batch_stmt(st, Q_PROGRESS_SET_ROWS, "record rows claimed", &progress, ints, 3,
				&stamp, 1, NULL, NULL);
	}
	json_free(&rows);
	json_free(&progress);
	return rc;
}

int store_claim_row(struct store *st, const struct worker_row *row, int64_t me,
		    int64_t request_id, int64_t job_id, const struct timespec *now)
{
	bool claimed = false;
	int rc = store_claim_rows(st, row, 1, me, request_id, job_id, now, &claimed);

	return rc ? rc : claimed ? 0 : -EAGAIN;
}

struct end_ctx {
	const struct row_end *ends;
	size_t count;
	char stamp[DBTIME_LEN];
	int *results;
	int64_t *holders;
};

/* Still ours? Our claim moved race_preventer by one; anything since (a
 * peer's claim after our heartbeat failed, the owner's own cleanup, a
 * requeue) means the row is no longer ours to end. */
static int note_holder(void *arg, struct db_stmt *stmt)
{
	struct end_ctx *c = arg;
	int64_t id = db_column_int(stmt, 0);

	for (size_t i = 0; i < c->count; i++) {
		const struct row_end *e = &c->ends[i];

		if (e->row->id != id)
			continue;
		c->holders[i] = db_column_int(stmt, 1);
		if (c->holders[i] == e->me && db_column_int(stmt, 2) == e->row->race_preventer + 1)
			c->results[i] = 0;
	}
	return 0;
}

/* A change of the batch, in the order the rows made them. */
struct ordered_change {
	const struct store_change *ch;
	size_t seq;
};

static bool on_volume(enum store_change_kind k)
{
	return k == CHANGE_VOLUME_STATUS || k == CHANGE_VOLUME_DELETED;
}

static bool deletes(enum store_change_kind k)
{
	return k == CHANGE_VOLUME_DELETED || k == CHANGE_SNAPSHOT_DELETED;
}

static int by_resource_then_order(const void *a, const void *b)
{
	const struct ordered_change *x = a, *y = b;
	int c = (int)on_volume(y->ch->kind) - (int)on_volume(x->ch->kind);

	if (c == 0)
		c = strcmp(x->ch->id, y->ch->id);
	if (c == 0)
		c = x->seq < y->seq ? -1 : x->seq > y->seq;
	return c;
}

/* The batch's changes as one statement per kind, each resource once, with
 * what applying them row after row would leave: a status change applies
 * only to a resource not deleted, so once a change deletes it, it stays
 * deleted; else the last status stands. (PostgreSQL's UPDATE ... FROM
 * would apply one of several rows for a resource, any of them.) */
static int apply_changes(struct store *st, struct end_ctx *c)
{
	static const enum stmt_id q[] = {
		[CHANGE_VOLUME_STATUS] = Q_VOLUMES_SET_STATUS,
		[CHANGE_SNAPSHOT_STATUS] = Q_SNAPSHOTS_SET_STATUS,
		[CHANGE_VOLUME_DELETED] = Q_VOLUMES_SET_DELETED,
		[CHANGE_SNAPSHOT_DELETED] = Q_SNAPSHOTS_SET_DELETED,
	};
	struct json_buf lists[4] = { { 0 } };
	struct ordered_change *all = NULL;
	size_t n = 0, cap = 0;
	const char *stamp = c->stamp;
	int rc = 0;

	for (size_t i = 0; i < c->count; i++) {
		if (c->results[i] != 0)
			continue;
		for (size_t k = 0; k < c->ends[i].n_changes; k++) {
			if (array_reserve((void **)&all, &cap, n + 1, sizeof(*all)) != 0) {
				free(all);
				return -ENOMEM;
			}
			all[n] = (struct ordered_change){ &c->ends[i].changes[k], n };
			n++;
		}
	}
	if (n > 1)
		qsort(all, n, sizeof(*all), by_resource_then_order);
	for (size_t i = 0; i < n;) {
		size_t end = i + 1, pick;

		while (end < n && on_volume(all[end].ch->kind) == on_volume(all[i].ch->kind) &&
		       strcmp(all[end].ch->id, all[i].ch->id) == 0)
			end++;
		pick = end - 1; /* the last change ... */
		for (size_t k = i; k < end; k++)
			if (deletes(all[k].ch->kind)) {
				pick = k; /* ... unless one deleted it */
				break;
			}
		{
			const struct store_change *ch = all[pick].ch;
			struct json_buf *list = &lists[ch->kind];

			json_next(list);
			if (deletes(ch->kind)) {
				json_str(list, ch->id);
			} else {
				json_key(list, "id", true);
				json_str(list, ch->id);
				json_key(list, "status", false);
				json_str(list, ch->status);
				json_raw(list, "}");
			}
		}
		i = end;
	}
	for (int k = 0; k < 4 && rc == 0; k++)
		rc = batch_stmt(st, q[k], "change resources", &lists[k], NULL, 0, &stamp, 1, NULL, NULL);
	for (int k = 0; k < 4; k++)
		json_free(&lists[k]);
	free(all);
	return rc;
}

static int end_tx(struct store *st, void *arg)
{
	struct end_ctx *c = arg;
	const struct row_end *first = &c->ends[0];
	struct json_buf ids = { 0 }, drops = { 0 }, backs = { 0 }, progress = { 0 };
	const char *stamp = c->stamp;
	int64_t me = first->me;
	int rc;

	for (size_t i = 0; i < c->count; i++) {
		c->results[i] = -ESTALE;
		c->holders[i] = 0;
		json_next(&ids);
		json_int(&ids, c->ends[i].row->id);
	}
	rc = batch_stmt(st, Q_ROWS_HOLDERS, "check claims", &ids, NULL, 0, NULL, 0, note_holder, c);
	if (rc == 0)
		rc = apply_changes(st, c);
	for (size_t i = 0; rc == 0 && i < c->count; i++) {
		const struct row_end *e = &c->ends[i];
		char detail[1200];

		if (c->results[i] != 0)
			continue;
		if (e->drop) {
			json_next(&drops);
			json_int(&drops, e->row->id);
		} else {
			json_next(&backs);
			json_key(&backs, "id", true);
			json_int(&backs, e->row->id);
			json_key(&backs, "owner", false);
			json_int(&backs, e->row->service_id);
			json_key(&backs, "at", false);
			json_str(&backs, e->row->updated_at);
			json_raw(&backs, "}");
		}
		if (e->request_id) {
			json_progress(&progress, e->row->resource_type, e->row->resource_id, e->state,
				      e->detail);
		} else if (e->drop) {
			/* The owner settled its own operation (its cleanup at
			 * start): requests still waiting on it say so. */
			snprintf(detail, sizeof(detail), "by its owner (worker %lld) at its start: %.1100s",
				 (long long)e->me, e->detail ? e->detail : "");
			json_progress(&progress, e->row->resource_type, e->row->resource_id, e->state,
				      detail);
		}
	}
	if (rc == 0)
		rc = batch_stmt(st, Q_ROWS_DELETE, "delete rows", &drops, &me, 1, NULL, 0, NULL, NULL);
	if (rc == 0)
		rc = batch_stmt(st, Q_ROWS_GIVE_BACK, "give rows back", &backs, &me, 1, NULL, 0, NULL,
				NULL);
	if (rc == 0 && first->request_id) {
		int64_t ints[] = { first->request_id, first->job_id, me };

		rc = batch_stmt(st, Q_PROGRESS_SET_ROWS, "record progress", &progress, ints, 3, &stamp,
				1, NULL, NULL);
	} else if (rc == 0) {
		const char *texts[] = { stamp };

		rc = batch_stmt(st, Q_PROGRESS_BY_OWNER_ROWS, "settle other requests' entries",
				&progress, &me, 1, texts, 1, NULL, NULL);
	}
	json_free(&ids);
	json_free(&drops);
	json_free(&backs);
	json_free(&progress);
	return rc;
}

/* A batch's end and the next batch's claim, either of them empty. */
struct end_claim_ctx {
	struct end_ctx end;
	struct claim_ctx claim;
	struct timespec locked; /* when the transaction had the write lock */
};

static int end_claim_tx(struct store *st, void *arg)
{
	struct end_claim_ctx *c = arg;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &c->locked);
	if (c->end.count)
		rc = end_tx(st, &c->end);
	if (rc == 0 && c->claim.count)
		rc = claim_tx(st, &c->claim);
	return rc;
}

/* One write transaction where there were two: on both engines a commit
 * is a flush to disk, and on SQLite each transaction is followed by a
 * pause as long as it held the lock; on PostgreSQL BEGIN, NOTIFY and
 * COMMIT are a round trip each. The ends are written first, so a row of
 * the next batch that an end changed (a peer's give-back) is claimed as
 * it is then, or not at all. */
int store_end_and_claim(struct store *st, const struct row_end *ends, size_t n_ends,
			int *results, int64_t *holders, const struct worker_row *rows,
			size_t count, int64_t me, int64_t request_id, int64_t job_id,
			const struct timespec *now, bool *claimed)
{
	struct end_claim_ctx c = {
		.end = { .ends = ends, .count = n_ends, .results = results, .holders = holders },
		.claim = { .rows = rows, .count = count, .me = me, .request_id = request_id,
			   .job_id = job_id, .claimed = claimed },
	};
	int rc;

	if (n_ends == 0 && count == 0)
		return 0;
	for (size_t i = 1; i < n_ends; i++)
		if (ends[i].me != ends[0].me || ends[i].request_id != ends[0].request_id ||
		    ends[i].job_id != ends[0].job_id)
			return -EINVAL;
	if (count)
		memset(claimed, 0, count * sizeof(*claimed));
	dbtime_format(now, c.end.stamp);
	dbtime_format(now, c.claim.stamp);
	rc = write_tx(st, end_claim_tx, &c);
	leave_write_lock_free(st, &c.locked);
	if (rc) {
		/* Rolled back: nothing of any row written, nothing claimed. */
		for (size_t i = 0; i < n_ends; i++)
			results[i] = rc;
		if (count)
			memset(claimed, 0, count * sizeof(*claimed));
	}
	return rc;
}

int store_claim_rows(struct store *st, const struct worker_row *rows, size_t count, int64_t me,
		     int64_t request_id, int64_t job_id, const struct timespec *now, bool *claimed)
{
	return store_end_and_claim(st, NULL, 0, NULL, NULL, rows, count, me, request_id, job_id,
				   now, claimed);
}

int store_end_rows(struct store *st, const struct row_end *ends, size_t count,
		   const struct timespec *now, int *results, int64_t *holders)
{
	return store_end_and_claim(st, ends, count, results, holders, NULL, 0, 0, 0, 0, now, NULL);
}

int store_end_row(struct store *st, const struct row_end *e, const struct timespec *now,
		  int64_t *holder)
{
	int64_t who = 0;
	int result = 0;
	int rc = store_end_rows(st, e, 1, now, &result, &who);

	if (holder)
		*holder = who;
	return rc ? rc : result;
}

/* store_note_progress for several resources of one job, in one
 * statement. */
int store_note_progress_rows(struct store *st, int64_t request_id, int64_t job_id,
			     const struct store_note *notes, size_t count, int64_t worker_id,
			     const struct timespec *now)
{
	struct json_buf list = { 0 };
	int64_t ints[] = { request_id, job_id, worker_id };
	char stamp[DBTIME_LEN];
	const char *texts[] = { stamp };
	int rc;

	dbtime_format(now, stamp);
	for (size_t i = 0; i < count; i++)
		json_progress(&list, notes[i].resource_type, notes[i].resource_id, notes[i].state,
			      notes[i].detail);
	rc = batch_stmt(st, Q_PROGRESS_NOTE_ROWS, "note progress", &list, ints, 3, texts, 1, NULL,
			NULL);
	json_free(&list);
	return rc;
}

static int read_snapshot(struct db_stmt *stmt, struct snapshot *s)
{
	if (column_text(stmt, 0, s->id, sizeof(s->id)) ||
	    column_text(stmt, 1, s->volume_id, sizeof(s->volume_id)) ||
	    column_text(stmt, 2, s->status, sizeof(s->status)))
		return -EOVERFLOW;
	return 0;
}

/* Q_VOLUME's columns (and Q_VOLUMES_OF_IDS's). */
static int read_volume(struct db_stmt *stmt, struct volume *out)
{
	out->size = db_column_int(stmt, 4);
	if (column_text(stmt, 0, out->id, sizeof(out->id)) ||
	    column_text(stmt, 1, out->status, sizeof(out->status)) ||
	    column_text(stmt, 2, out->attach_status, sizeof(out->attach_status)) ||
	    column_text(stmt, 3, out->host, sizeof(out->host)) ||
	    column_text(stmt, 5, out->display_name, sizeof(out->display_name)) ||
	    column_text(stmt, 6, out->provider_location, sizeof(out->provider_location)) ||
	    column_text(stmt, 7, out->cluster_name, sizeof(out->cluster_name)))
		return -EOVERFLOW;
	return 0;
}

int store_get_volume(struct store *st, const char *id, struct volume *out)
{
	STMT stmt = NULL;
	int rc = stmt_get(st, Q_VOLUME, &stmt);

	if (rc)
		return rc;
	db_bind_text(stmt, 1, id);
	rc = db_step(stmt);
	if (rc == DB_DONE)
		return -ENOENT;
	if (rc != DB_ROW)
		return db_fail(st, rc, "get volume");
	return read_volume(stmt, out);
}

int store_service_binary(struct store *st, int64_t id, char out[NAME_LEN])
{
	STMT stmt = NULL;
	int rc = stmt_get(st, Q_SERVICE_BINARY, &stmt);

	if (rc)
		return rc;
	out[0] = '\0';
	db_bind_int(stmt, 1, id);
	rc = db_step(stmt);
	if (rc == DB_DONE)
		return 0;
	if (rc != DB_ROW)
		return db_fail(st, rc, "get a worker's binary");
	return column_text(stmt, 0, out, NAME_LEN);
}

int store_backend_is_mine(struct store *st, int64_t me, const char *host,
			  const char *cluster_name, bool *mine)
{
	STMT stmt = NULL;
	int rc = stmt_get(st, Q_BACKEND_IS_MINE, &stmt);

	if (rc)
		return rc;
	db_bind_int(stmt, 1, me);
	db_bind_text(stmt, 2, host);
	bind_text_or_null(stmt, 3, cluster_name);
	rc = db_step(stmt);
	if (rc != DB_ROW)
		return db_fail(st, rc, "check a resource's backend");
	*mine = db_column_int(stmt, 0) != 0;
	return 0;
}

int store_get_snapshot(struct store *st, const char *id, struct snapshot *out)
{
	STMT stmt = NULL;
	int rc = stmt_get(st, Q_SNAPSHOT, &stmt);

	if (rc)
		return rc;
	db_bind_text(stmt, 1, id);
	rc = db_step(stmt);
	if (rc == DB_DONE)
		return -ENOENT;
	if (rc != DB_ROW)
		return db_fail(st, rc, "get snapshot");
	return read_snapshot(stmt, out);
}

int store_list_volume_snapshots(struct store *st, const char *volume_id, store_snapshot_fn fn,
				void *ctx)
{
	STMT stmt = NULL;
	struct snapshot snap;
	int rc = stmt_get(st, Q_VOLUME_SNAPSHOTS, &stmt);

	if (rc)
		return rc;
	db_bind_text(stmt, 1, volume_id);
	while ((rc = db_step(stmt)) == DB_ROW) {
		if (read_snapshot(stmt, &snap) != 0)
			continue;
		if ((rc = fn(ctx, &snap)) != 0)
			return rc;
	}
	return rc == DB_DONE ? 0 : db_fail(st, rc, "list snapshots");
}

/* ---- A cleaner's batch read at once ---- */

static void json_ids(struct json_buf *b, const char *const *ids, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		json_next(b);
		json_str(b, ids[i]);
	}
}

struct reads {
	void *items;
	size_t count, cap, size;
	int (*read)(struct db_stmt *stmt, void *item);
};

static int collect_read(void *arg, struct db_stmt *stmt)
{
	struct reads *r = arg;

	if (array_reserve(&r->items, &r->cap, r->count + 1, r->size) != 0)
		return -ENOMEM;
	if (r->read(stmt, (char *)r->items + r->count * r->size) == 0)
		r->count++;
	return 0;
}

static int run_reads(struct store *st, enum stmt_id q, const char *what, const char *const *ids,
		     size_t count, struct reads *r)
{
	struct json_buf list = { 0 };
	int rc;

	json_ids(&list, ids, count);
	rc = batch_stmt(st, q, what, &list, NULL, 0, NULL, 0, collect_read, r);
	json_free(&list);
	if (rc) {
		free(r->items);
		r->items = NULL;
		r->count = 0;
	}
	return rc;
}

/* A row read for a batch: kept with rc -EOVERFLOW when only a value other
 * than its id is too long (store_get_volume's answer for that one);
 * left out when its id is. */
static int read_volume_of_batch(struct db_stmt *stmt, void *item)
{
	struct store_volume_read *r = item;

	memset(r, 0, sizeof(*r));
	if (column_text(stmt, 0, r->vol.id, sizeof(r->vol.id)))
		return -EOVERFLOW;
	r->rc = read_volume(stmt, &r->vol);
	return 0;
}

static int read_snapshot_of_batch(struct db_stmt *stmt, void *item)
{
	struct store_snapshot_read *r = item;

	memset(r, 0, sizeof(*r));
	if (column_text(stmt, 0, r->snap.id, sizeof(r->snap.id)))
		return -EOVERFLOW;
	r->rc = read_snapshot(stmt, &r->snap);
	return 0;
}

/* As store_list_volume_snapshots: a snapshot with a value too long is
 * left out. */
static int read_child_snapshot(struct db_stmt *stmt, void *item)
{
	return read_snapshot(stmt, item);
}

int store_get_volumes(struct store *st, const char *const *ids, size_t count,
		      struct store_volume_read **out, size_t *n)
{
	struct reads r = { .size = sizeof(**out), .read = read_volume_of_batch };
	int rc = run_reads(st, Q_VOLUMES_OF_IDS, "get volumes", ids, count, &r);

	*out = r.items;
	*n = r.count;
	return rc;
}

int store_get_snapshots(struct store *st, const char *const *ids, size_t count,
			struct store_snapshot_read **out, size_t *n)
{
	struct reads r = { .size = sizeof(**out), .read = read_snapshot_of_batch };
	int rc = run_reads(st, Q_SNAPSHOTS_OF_IDS, "get snapshots", ids, count, &r);

	*out = r.items;
	*n = r.count;
	return rc;
}

int store_list_snapshots_of_volumes(struct store *st, const char *const *volume_ids, size_t count,
				    struct snapshot **out, size_t *n)
{
	struct reads r = { .size = sizeof(**out), .read = read_child_snapshot };
	int rc = run_reads(st, Q_SNAPSHOTS_OF_VOLUMES, "list snapshots", volume_ids, count, &r);

	*out = r.items;
	*n = r.count;
	return rc;
}

int store_set_progress(struct store *st, int64_t request_id, int64_t job_id, const char *type,
		       const char *resource_id, const char *state, const char *detail,
		       int64_t worker_id, const struct timespec *now)
{
	char stamp[DBTIME_LEN];

	dbtime_format(now, stamp);
	return set_progress_stmt(st, request_id, job_id, type, resource_id, state, detail, worker_id,
				 stamp);
}

struct progress_list {
	store_progress_fn fn;
	void *ctx;
};

static int progress_list_row(struct db_stmt *stmt, void *arg)
{
	const struct progress_list *l = arg;
	struct progress_row p;

	memset(&p, 0, sizeof(p));
	p.job_id = db_column_int(stmt, 1);
	p.worker_id = db_column_int(stmt, 6);
	column_text(stmt, 2, p.resource_type, sizeof(p.resource_type));
	column_text(stmt, 3, p.resource_id, sizeof(p.resource_id));
	column_text(stmt, 4, p.state, sizeof(p.state));
	if (column_text(stmt, 5, p.detail, sizeof(p.detail)) != 0)
		snprintf(p.detail, sizeof(p.detail), "%.1000s...", db_column_text(stmt, 5));
	column_text(stmt, 7, p.updated_at, sizeof(p.updated_at));
	return l->fn(l->ctx, &p);
}

/* In pages, as store_read_progress (but not in one snapshot). */
int store_list_progress(struct store *st, int64_t request_id, store_progress_fn fn, void *ctx)
{
	struct progress_list l = { fn, ctx };

	return each_page(st, Q_PROGRESS_PAGE, request_id, progress_list_row, &l, "list progress");
}

/* ---- Volumes and snapshots for the mount ---- */

static int read_volume_row(struct db_stmt *stmt, struct volume_row *r)
{
	r->size = db_column_int(stmt, 2);
	r->worker_id = db_column_int(stmt, 4);
	if (column_text(stmt, 0, r->id, sizeof(r->id)) ||
	    column_text(stmt, 1, r->display_name, sizeof(r->display_name)) ||
	    column_text(stmt, 3, r->status, sizeof(r->status)) ||
	    column_text(stmt, 5, r->volume_id, sizeof(r->volume_id)) ||
	    column_text(stmt, 6, r->provider_location, sizeof(r->provider_location)) ||
	    column_text(stmt, 7, r->created_at, sizeof(r->created_at)) ||
	    column_text(stmt, 8, r->updated_at, sizeof(r->updated_at)))
		return -EOVERFLOW;
	/* An error is words for people: cut rather than hide the row. */
	column_words(stmt, 9, r->last_error, sizeof(r->last_error));
	column_words(stmt, 10, r->previous_status, sizeof(r->previous_status));
	r->status_reset_by = db_column_null(stmt, 11) ? -1 : db_column_int(stmt, 11);
	column_words(stmt, 12, r->status_reset_at, sizeof(r->status_reset_at));
	/* Cinder's provider_location: "ip:port,tid IQN lun". */
	r->target_iqn[0] = '\0';
	sscanf(r->provider_location, "%*s %255s", r->target_iqn);
	return 0;
}

static int one_volume_row(struct store *st, enum stmt_id q, const char *id, struct volume_row *out)
{
	STMT stmt = NULL;
	int rc = stmt_get(st, q, &stmt);

	if (rc)
		return rc;
	db_bind_text(stmt, 1, id);
	rc = db_step(stmt);
	if (rc == DB_DONE)
		return -ENOENT;
	if (rc != DB_ROW)
		return db_fail(st, rc, "get volume or snapshot");
	return read_volume_row(stmt, out);
}

static int each_volume_row(struct store *st, enum stmt_id q, store_volume_fn fn, void *ctx)
{
	STMT stmt = NULL;
	struct volume_row row;
	int rc = stmt_get(st, q, &stmt);

	if (rc)
		return rc;
	while ((rc = db_step(stmt)) == DB_ROW) {
		if (read_volume_row(stmt, &row) != 0)
			continue;
		if ((rc = fn(ctx, &row)) != 0)
			return rc;
	}
	return rc == DB_DONE ? 0 : db_fail(st, rc, "list volumes or snapshots");
}

int store_get_volume_row(struct store *st, const char *id, struct volume_row *out)
{
	return one_volume_row(st, Q_VOLUME_ROW, id, out);
}

int store_list_volume_rows(struct store *st, store_volume_fn fn, void *ctx)
{
	return each_volume_row(st, Q_VOLUME_ROWS, fn, ctx);
}

int store_get_volume_connection(struct store *st, const char *id, struct volume_connection *out)
{
	struct db_stmt *stmt;
	int rc = prep(st, "SELECT provider_location, provider_auth FROM volumes WHERE id = ?1 AND "
			  "deleted = 0", &stmt);

	if (rc)
		return rc;
	db_bind_text(stmt, 1, id);
	rc = db_step(stmt);
	if (rc == DB_ROW) {
		snprintf(out->volume_id, sizeof(out->volume_id), "%s", id);
		rc = column_text(stmt, 0, out->provider_location, sizeof(out->provider_location)) ||
		     column_text(stmt, 1, out->provider_auth, sizeof(out->provider_auth))
			     ? -EOVERFLOW : 0;
		db_finalize(stmt);
		return rc;
	}
	db_finalize(stmt);
	return rc == DB_DONE ? -ENOENT : db_fail(st, rc, "read a volume's connection");
}

int store_get_snapshot_row(struct store *st, const char *id, struct volume_row *out)
{
	return one_volume_row(st, Q_SNAPSHOT_ROW, id, out);
}

int store_list_snapshot_rows(struct store *st, store_volume_fn fn, void *ctx)
{
	return each_volume_row(st, Q_SNAPSHOT_ROWS, fn, ctx);
}

/* ---- Volume operations ---- */

/* One-off statements of the write paths: prepared, run, finalized. */
static int prep(struct store *st, const char *sql, struct db_stmt **stmt)
{
	int rc = db_prepare(st->db, sql, false, stmt);

	return rc ? db_fail(st, rc, "prepare") : 0;
}

static int step_finalize(struct store *st, struct db_stmt *stmt, const char *what)
{
	int rc = db_step(stmt);
	db_finalize(stmt);
	return rc == DB_DONE || rc == DB_ROW ? 0 : db_fail(st, rc, what);
}

/* The operations row of a resource: taken over if one exists (the
 * resource has one operation at a time), owned by `owner`. */
static int take_over_row(struct store *st, const char *type, const char *id, const char *status,
			 int64_t owner, const char *stamp)
{
	struct db_stmt *stmt;
	int rc = prep(st, "INSERT INTO workers (created_at, updated_at, deleted, resource_type, "
			  "resource_id, status, service_id, race_preventer) VALUES (?1, ?1, 0, ?2, ?3, "
			  "?4, ?5, 0) ON CONFLICT (resource_type, resource_id) DO UPDATE SET "
			  "updated_at = ?1, status = ?4, service_id = ?5, "
			  "race_preventer = workers.race_preventer + 1", &stmt);
	if (rc)
		return rc;
	db_bind_text(stmt, 1, stamp);
	db_bind_text(stmt, 2, type);
	db_bind_text(stmt, 3, id);
	db_bind_text(stmt, 4, status);
	db_bind_int(stmt, 5, owner);
	return step_finalize(st, stmt, "record the operation");
}

static int add_op(struct store *st, const char *kind, const char *id, int64_t worker,
		  const char *stamp)
{
	struct db_stmt *stmt;
	int rc = prep(st, "INSERT INTO volume_operations (created_at, kind, resource_id, service_id) "
			  "VALUES (?1, ?2, ?3, ?4)", &stmt);
	if (rc)
		return rc;
	db_bind_text(stmt, 1, stamp);
	db_bind_text(stmt, 2, kind);
	db_bind_text(stmt, 3, id);
	db_bind_int(stmt, 4, worker);
	return step_finalize(st, stmt, "queue the operation");
}

static int volume_fits(struct store *st, const struct new_volume *v, struct cf_err *err);
static int extend_fits(struct store *st, int64_t worker, const char *id, long long size,
		       long long new_size, struct cf_err *err);

/* Cinder's scheduler places nothing on a disabled backend: a worker that
 * is disabled, or whose cluster is, hands the create to an enabled member
 * of its cluster that is up, able and on the same volume group (the
 * lowest id), into *v and host; with none, -EROFS and why. */
static int place_volume(struct store *st, struct new_volume *v, char host[NAME_LEN],
			struct cf_err *err)
{
	char reason[NAME_LEN] = "", cluster_reason[NAME_LEN] = "", limit[DBTIME_LEN];
	bool disabled, cluster_disabled;
	struct db_stmt *stmt;
	int64_t other = 0;
	int rc = prep(st, "SELECT s.disabled, s.disabled_reason, c.disabled, c.disabled_reason "
			  "FROM services s LEFT JOIN clusters c ON c.name = s.cluster_name AND "
			  "c.deleted = 0 WHERE s.id = ?1 ORDER BY c.id LIMIT 1", &stmt);

	if (rc)
		return tx_fail(st, err, "cannot read whether worker %lld is disabled",
			       (long long)v->service_id);
	db_bind_int(stmt, 1, v->service_id);
	rc = db_step(stmt);
	disabled = rc == DB_ROW && db_column_int(stmt, 0) != 0;
	cluster_disabled = rc == DB_ROW && db_column_int(stmt, 2) != 0;
	if (rc == DB_ROW) {
		column_words(stmt, 1, reason, sizeof(reason));
		column_words(stmt, 3, cluster_reason, sizeof(cluster_reason));
	}
	db_finalize(stmt);
	if (rc != DB_ROW && rc != DB_DONE)
		return tx_fail(st, err, "cannot read whether worker %lld is disabled",
			       (long long)v->service_id);
	if (!disabled && !cluster_disabled)
		return 0;
	if (cluster_disabled)
		return err_set(err, EROFS, "Cluster %s is disabled%s%s%s: its workers make no new "
			       "volumes (Cinder: No valid backend was found). Enable it with echo "
			       "false > clusters/%s/disabled.", v->cluster_name,
			       cluster_reason[0] ? " (" : "", cluster_reason,
			       cluster_reason[0] ? ")" : "", v->cluster_name);
	if (v->cluster_name && *v->cluster_name && v->bound) {
		dbtime_format_bound(v->bound, limit);
		rc = prep(st, "SELECT s.id, s.host FROM services s JOIN worker_capacity m ON "
			      "m.service_id = s.id LEFT JOIN worker_state ws ON ws.service_id = s.id "
			      "WHERE s.cluster_name = ?1 AND s.deleted = 0 AND s.disabled = 0 AND "
			      "s.\"binary\" = 'cinder-volume' AND s.id != ?2 AND "
			      "COALESCE(ws.can_clean, 1) != 0 AND "
			      BEAT_AT_OR_AFTER("s.updated_at", "?3") " AND m.volume_group = (SELECT "
			      "c.volume_group FROM worker_capacity c WHERE c.service_id = ?2) "
			      "ORDER BY s.id LIMIT 1", &stmt);
		if (rc)
			return tx_fail(st, err, "cannot find an enabled member of cluster %s",
				       v->cluster_name);
		db_bind_text(stmt, 1, v->cluster_name);
		db_bind_int(stmt, 2, v->service_id);
		db_bind_text(stmt, 3, limit);
		rc = db_step(stmt);
		if (rc == DB_ROW) {
			other = db_column_int(stmt, 0);
			column_words(stmt, 1, host, NAME_LEN);
		}
		db_finalize(stmt);
		if (rc != DB_ROW && rc != DB_DONE)
			return tx_fail(st, err, "cannot find an enabled member of cluster %s",
				       v->cluster_name);
		if (other) {
			log_info("worker %lld (%s) is disabled: its create goes to worker %lld (%s) of "
				 "cluster %s", (long long)v->service_id, v->host, (long long)other, host,
				 v->cluster_name);
			v->service_id = other;
			v->host = host;
			return 0;
		}
	}
	return err_set(err, EROFS, "Worker %lld (%s) is disabled%s%s%s: it makes no new volumes%s "
		       "(Cinder: No valid backend was found). Enable it with echo false > "
		       "workers/%lld/disabled, or create through another worker's mount.",
		       (long long)v->service_id, v->host, reason[0] ? " (" : "", reason,
		       reason[0] ? ")" : "", v->cluster_name && *v->cluster_name
		       ? ", and no other member of its cluster is enabled, up and ready to" : "",
		       (long long)v->service_id);
}

int store_add_volume(struct store *st, const struct new_volume *asked, const struct timespec *now,
		     int64_t *placed_on, struct cf_err *err)
{
	char stamp[DBTIME_LEN], host[NAME_LEN];
	struct new_volume placed = *asked, *v = &placed;
	struct db_stmt *stmt;
	int rc;

	dbtime_format(now, stamp);
	if (begin(st, DB_TX_WRITE))
		return err_set(err, EBUSY, "cannot lock database %s: %s", st->path, db_errmsg(st->db));
	rc = place_volume(st, v, host, err);
	if (rc) {
		rollback(st);
		return rc;
	}
	if (placed_on)
		*placed_on = v->service_id;
	/* Checked under the write lock that the insert takes: two creates
	 * (through any mounts) never both count the same free space. */
	rc = volume_fits(st, v, err);
	if (rc) {
		rollback(st);
		return rc;
	}
	rc = prep(st, "INSERT INTO volumes (id, created_at, updated_at, deleted, host, cluster_name, "
		      "size, status, attach_status, display_name) VALUES (?1, ?2, ?2, 0, ?3, ?4, ?5, "
		      "'creating', 'detached', ?6)", &stmt);
	if (rc)
		goto fail;
	db_bind_text(stmt, 1, v->id);
	db_bind_text(stmt, 2, stamp);
	db_bind_text(stmt, 3, v->host);
	bind_text_or_null(stmt, 4, v->cluster_name);
	db_bind_int(stmt, 5, v->size_gib);
	bind_text_or_null(stmt, 6, v->display_name);
	rc = step_finalize(st, stmt, "record the volume");
	if (!rc)
		rc = take_over_row(st, "Volume", v->id, "creating", v->service_id, stamp);
	if (!rc)
		rc = add_op(st, "create_volume", v->id, v->service_id, stamp);
	if (!rc && commit(st) == 0)
		return 0;
fail:
	return tx_fail(st, err, "cannot record volume %s in %s", v->id, st->path);
}

/* The volume an operation starts from, under the write lock it takes:
 * its status, size, the worker of its host and its live snapshots. 0
 * with the transaction open; -ENOENT with words, or another -errno, with
 * it rolled back (the words say what could not be done: `what`). */
struct volume_head {
	char status[64];
	long long size;
	int64_t worker;
	int64_t snapshots;
};

static int begin_volume_op(struct store *st, const char *id, const char *what,
			   struct volume_head *out, struct cf_err *err)
{
	struct db_stmt *stmt;
	int rc;

	memset(out, 0, sizeof(*out));
	if (begin(st, DB_TX_WRITE))
		return err_set(err, EBUSY, "cannot lock database %s: %s", st->path, db_errmsg(st->db));
	rc = prep(st, "SELECT v.status, v.size, " WORKER_OF("v.host") ", (SELECT count(*) FROM "
		      "snapshots s WHERE s.volume_id = v.id AND s.deleted = 0) FROM volumes v "
		      "WHERE v.id = ?1 AND v.deleted = 0", &stmt);
	if (rc)
		return tx_fail(st, err, "cannot %s: cannot read volume %s", what, id);
	db_bind_text(stmt, 1, id);
	rc = db_step(stmt);
	if (rc == DB_ROW) {
		column_text(stmt, 0, out->status, sizeof(out->status));
		out->size = db_column_int(stmt, 1);
		out->worker = db_column_int(stmt, 2);
		out->snapshots = db_column_int(stmt, 3);
	}
	db_finalize(stmt);
	if (rc == DB_ROW)
		return 0;
	if (rc != DB_DONE)
		return tx_fail(st, err, "cannot %s: cannot read volume %s", what, id);
	rollback(st);
	return err_set(err, ENOENT, "There is no volume %s.", id);
}

/* Where a volume's operation (`what`: a delete, its snapshot's, an
 * extend) runs, as Cinder's RPC routes it (service_topic_queue): a
 * clustered volume's goes to its cluster, which any live member serves,
 * an unclustered one's to its host. So: the worker of its host while it is
 * up (a heartbeat at or after bound); when that one is down and the volume
 * is clustered, the live member of the cluster able to clean with the
 * lowest id, which takes the operation and its workers row (the volume is
 * then not stuck); otherwise the host's worker still, *live false: a
 * delete waits for it (the volume under stuck/ meanwhile, as Cinder's
 * message waits in the host's queue), an extend is refused. *worker in
 * and out; bound NULL leaves it be. */
static int op_runner(struct store *st, const char *volume_id, const char *what,
			 const struct timespec *bound, int64_t *worker, bool *live)
{
	char limit[DBTIME_LEN], cluster[NAME_LEN] = "", host[NAME_LEN] = "";
	struct db_stmt *stmt;
	int64_t member = 0;
	bool up = false;
	int rc;

	if (live)
		*live = true;
	if (!bound)
		return 0;
	dbtime_format_bound(bound, limit);
	rc = prep(st, "SELECT COALESCE(v.cluster_name, ''), EXISTS (SELECT 1 FROM services s WHERE "
		      "s.id = ?2 AND s.deleted = 0 AND " BEAT_AT_OR_AFTER("s.updated_at", "?3") ") "
		      "FROM volumes v WHERE v.id = ?1", &stmt);
	if (rc)
		return rc;
	db_bind_text(stmt, 1, volume_id);
	db_bind_int(stmt, 2, *worker);
	db_bind_text(stmt, 3, limit);
	rc = db_step(stmt);
	if (rc == DB_ROW) {
		column_text(stmt, 0, cluster, sizeof(cluster));
		up = db_column_int(stmt, 1) != 0;
	}
	db_finalize(stmt);
	if (rc != DB_ROW && rc != DB_DONE)
		return db_fail(st, rc, "read where a delete runs");
	if (live)
		*live = up;
	if (up || !cluster[0])
		return 0;
	rc = prep(st, "SELECT s.id, s.host FROM services s LEFT JOIN worker_state ws ON "
		      "ws.service_id = s.id WHERE s.cluster_name = ?1 AND s.deleted = 0 AND "
		      "s.\"binary\" = 'cinder-volume' AND COALESCE(ws.can_clean, 1) != 0 AND "
		      BEAT_AT_OR_AFTER("s.updated_at", "?2") " ORDER BY s.id LIMIT 1", &stmt);
	if (rc)
		return rc;
	db_bind_text(stmt, 1, cluster);
	db_bind_text(stmt, 2, limit);
	rc = db_step(stmt);
	if (rc == DB_ROW) {
		member = db_column_int(stmt, 0);
		column_text(stmt, 1, host, sizeof(host));
	}
	db_finalize(stmt);
	if (rc != DB_ROW && rc != DB_DONE)
		return db_fail(st, rc, "find a live member to run a delete");
	if (member) {
		log_info("volume %s: its worker %lld is down: worker %lld (%s) of cluster %s runs the "
			 "%s", volume_id, (long long)*worker, (long long)member, host, cluster, what);
		*worker = member;
		if (live)
			*live = true;
	}
	return 0;
}

int store_request_volume_delete(struct store *st, const char *id, const struct timespec *now,
				const struct timespec *bound, struct cf_err *err)
{
	char stamp[DBTIME_LEN];
	struct volume_head v;
	const char *status = v.status;
	int64_t worker, snapshots;
	struct db_stmt *stmt;
	int rc;

	dbtime_format(now, stamp);
	rc = begin_volume_op(st, id, "delete a volume", &v, err);
	if (rc)
		return rc;
	worker = v.worker;
	snapshots = v.snapshots;
	/* Cinder's rules: not while it has snapshots, only from a settled status. */
	if (snapshots) {
		rollback(st);
		return err_set(err, EBUSY, "Volume %s has %lld snapshot(s); delete them first.", id,
			       (long long)snapshots);
	}
	if (strcmp(status, "available") && strcmp(status, "error") && strcmp(status, "error_deleting") &&
	    strcmp(status, "error_restoring")) {
		rollback(st);
		return err_set(err, EBUSY, "Volume %s is %s; it can be deleted when available or in error.",
			       id, status);
	}
	if (!worker) {
		rollback(st);
		return err_set(err, EBUSY, "Volume %s has no live worker of its host to delete it.", id);
	}
	rc = op_runner(st, id, "delete", bound, &worker, NULL);
	if (rc)
		goto fail;
	rc = prep(st, "UPDATE volumes SET status = 'deleting', previous_status = status, updated_at = ?2 "
		      "WHERE id = ?1", &stmt);
	if (rc)
		goto fail;
	db_bind_text(stmt, 1, id);
	db_bind_text(stmt, 2, stamp);
	rc = step_finalize(st, stmt, "mark deleting");
	if (!rc)
		rc = take_over_row(st, "Volume", id, "deleting", worker, stamp);
	if (!rc)
		rc = add_op(st, "delete_volume", id, worker, stamp);
	if (!rc && commit(st) == 0)
		return 0;
fail:
	return tx_fail(st, err, "cannot record the deletion of %s", id);
}

int store_request_volume_extend(struct store *st, const char *id, long long current,
				long long new_size, const struct timespec *now,
				const struct timespec *bound, struct cf_err *err)
{
	char stamp[DBTIME_LEN];
	struct volume_head v;
	const char *status = v.status;
	int64_t worker, host_worker;
	bool live = true;
	long long size;
	struct db_stmt *stmt;
	int rc;

	dbtime_format(now, stamp);
	rc = begin_volume_op(st, id, "extend a volume", &v, err);
	if (rc)
		return rc;
	size = v.size;
	worker = v.worker;
	/* Cinder's extend (volume/api.py): a conditional update from
	 * available only, then the size check. */
	if (strcmp(status, "available") != 0) {
		rollback(st);
		return err_set(err, EBUSY, "Volume %s status must be available to extend, but current "
			       "status is: %s.", id, status);
	}
	if (size != current || new_size <= size) {
		rollback(st);
		return err_set(err, EINVAL, "New size for extend must be greater than current size. "
			       "(current: %lld, extended: %lld).", size, new_size);
	}
	if (!worker) {
		rollback(st);
		return err_set(err, EBUSY, "Volume %s has no live worker of its host to extend it.", id);
	}
	host_worker = worker;
	rc = op_runner(st, id, "extend", bound, &worker, &live);
	if (rc)
		goto fail;
	if (!live) {
		rollback(st);
		return err_set(err, EBUSY, "Volume %s's worker %lld is down, and no live member of its "
			       "cluster can extend it; extend it again once that worker is up.", id,
			       (long long)host_worker);
	}
	rc = extend_fits(st, worker, id, size, new_size, err);
	if (rc) {
		rollback(st);
		return rc;
	}
	rc = prep(st, "UPDATE volumes SET status = 'extending', previous_status = status, "
		      "updated_at = ?2 WHERE id = ?1", &stmt);
	if (rc)
		goto fail;
	db_bind_text(stmt, 1, id);
	db_bind_text(stmt, 2, stamp);
	rc = step_finalize(st, stmt, "mark extending");
	if (!rc)
		rc = take_over_row(st, "Volume", id, "extending", worker, stamp);
	if (!rc && (rc = prep(st, "INSERT INTO volume_operations (created_at, kind, resource_id, "
				  "service_id, new_size) VALUES (?1, 'extend_volume', ?2, ?3, ?4)",
			      &stmt)) == 0) {
		db_bind_text(stmt, 1, stamp);
		db_bind_text(stmt, 2, id);
		db_bind_int(stmt, 3, worker);
		db_bind_int(stmt, 4, new_size);
		rc = step_finalize(st, stmt, "queue the extend");
	}
	if (!rc && commit(st) == 0)
		return 0;
fail:
	return tx_fail(st, err, "cannot record the extend of %s", id);
}

int store_take_volume_op(struct store *st, int64_t me, const char *skip, struct volume_op *out)
{
	struct db_stmt *stmt;
	int rc = prep(st, "UPDATE volume_operations SET state = 'running' WHERE id = (SELECT id FROM "
			  "volume_operations WHERE service_id = ?1 AND state = 'queued' AND "
			  "(?2 IS NULL OR kind != ?2) ORDER BY id LIMIT 1) "
			  "AND state = 'queued' RETURNING id, kind, resource_id, COALESCE(new_size, 0)", &stmt);
	if (rc)
		return rc;
	db_bind_int(stmt, 1, me);
	bind_text_or_null(stmt, 2, skip);
	rc = db_step(stmt);
	if (rc == DB_ROW) {
		out->id = db_column_int(stmt, 0);
		column_text(stmt, 1, out->kind, sizeof(out->kind));
		column_text(stmt, 2, out->resource_id, sizeof(out->resource_id));
		out->new_size = db_column_int(stmt, 3);
		db_step(stmt);
		db_finalize(stmt);
		return 0;
	}
	db_finalize(stmt);
	return rc == DB_DONE ? -ENOENT : db_fail(st, rc, "take a volume operation");
}

int store_take_volume_ops(struct store *st, int64_t me, const char *kind, struct volume_op *out,
			  size_t max, size_t *count)
{
	struct db_stmt *stmt;
	int rc = prep(st, "UPDATE volume_operations SET state = 'running' WHERE id IN (SELECT id FROM "
			  "volume_operations WHERE service_id = ?1 AND kind = ?2 AND state = 'queued' "
			  "ORDER BY id LIMIT ?3) AND state = 'queued' RETURNING id, kind, resource_id, "
			  "COALESCE(new_size, 0)", &stmt);
	if (rc)
		return rc;
	db_bind_int(stmt, 1, me);
	db_bind_text(stmt, 2, kind);
	db_bind_int(stmt, 3, (int64_t)max);
	*count = 0;
	while ((rc = db_step(stmt)) == DB_ROW && *count < max) {
		struct volume_op *op = &out[(*count)++];
		op->id = db_column_int(stmt, 0);
		column_text(stmt, 1, op->kind, sizeof(op->kind));
		column_text(stmt, 2, op->resource_id, sizeof(op->resource_id));
		op->new_size = db_column_int(stmt, 3);
	}
	db_finalize(stmt);
	return rc == DB_DONE || rc == DB_ROW ? 0 : db_fail(st, rc, "take volume operations");
}

int store_finish_volume_op(struct store *st, int64_t op_id, const char *error,
			   const struct timespec *now)
{
	char stamp[DBTIME_LEN];
	struct db_stmt *stmt;
	int rc = prep(st, "UPDATE volume_operations SET state = ?2, error = ?3, finished_at = ?4 "
			  "WHERE id = ?1", &stmt);
	if (rc)
		return rc;
	dbtime_format(now, stamp);
	db_bind_int(stmt, 1, op_id);
	db_bind_text(stmt, 2, error ? "failed" : "done");
	bind_text_or_null(stmt, 3, error);
	db_bind_text(stmt, 4, stamp);
	return step_finalize(st, stmt, "finish a volume operation");
}

/* Who holds a resource's operations row now (0: no row) and its status. */
static int operation_holder(struct store *st, const char *type, const char *id, int64_t *holder,
			    char status[64])
{
	struct db_stmt *stmt;
	int rc = prep(st, "SELECT service_id, status FROM workers WHERE resource_type = ?1 AND "
			  "resource_id = ?2", &stmt);

	if (rc)
		return rc;
	db_bind_text(stmt, 1, type);
	db_bind_text(stmt, 2, id);
	rc = db_step(stmt);
	*holder = rc == DB_ROW ? db_column_int(stmt, 0) : 0;
	if (status)
		status[0] = '\0';
	if (rc == DB_ROW && status)
		column_text(stmt, 1, status, 64);
	db_finalize(stmt);
	return rc == DB_ROW || rc == DB_DONE ? 0 : db_fail(st, rc, "read an operations row");
}

int store_operation_holder(struct store *st, const char *type, const char *id, int64_t *holder,
			   char status[64])
{
	return operation_holder(st, type, id, holder, status);
}

int store_who_cleaned(struct store *st, const char *type, const char *id, int64_t *worker)
{
	struct db_stmt *stmt;
	int rc = prep(st, "SELECT worker_id FROM cleanup_progress WHERE resource_type = ?1 AND "
			  "resource_id = ?2 AND state IN ('cleaned', 'skipped') AND worker_id IS NOT NULL "
			  "ORDER BY id DESC LIMIT 1", &stmt);

	if (rc)
		return rc;
	db_bind_text(stmt, 1, type);
	db_bind_text(stmt, 2, id);
	rc = db_step(stmt);
	*worker = rc == DB_ROW ? db_column_int(stmt, 0) : 0;
	db_finalize(stmt);
	return rc == DB_ROW || rc == DB_DONE ? 0 : db_fail(st, rc, "find who cleaned");
}

/* The end of an operation, only while this worker still holds its row: a
 * peer that cleaned it meanwhile (after this worker's heartbeat failed, or
 * while it was down) has the last word. -ESTALE, nothing written, else. */
static int finish_with(struct store *st, int64_t me, const char *sql, const char *type,
		       const char *id, const char *status, const char *location, const char *auth,
		       const struct timespec *now)
{
	char stamp[DBTIME_LEN];
	struct db_stmt *stmt;
	int64_t holder;
	int rc;

	dbtime_format(now, stamp);
	if ((rc = begin(st, DB_TX_WRITE)) != 0)
		return rc;
	rc = operation_holder(st, type, id, &holder, NULL);
	if (!rc && holder != me)
		rc = -ESTALE;
	if (!rc)
		rc = prep(st, sql, &stmt);
	if (!rc) {
		db_bind_text(stmt, 1, id);
		db_bind_text(stmt, 2, stamp);
		if (status)
			db_bind_text(stmt, 3, status);
		if (location || auth) {
			bind_text_or_null(stmt, 4, location);
			bind_text_or_null(stmt, 5, auth);
		}
		rc = step_finalize(st, stmt, "finish the volume");
	}
	/* The operation is over: its row goes with the status change. */
	if (!rc && (rc = prep(st, "DELETE FROM workers WHERE resource_type = ?2 AND "
				  "resource_id = ?1 AND service_id = ?3", &stmt)) == 0) {
		db_bind_text(stmt, 1, id);
		db_bind_text(stmt, 2, type);
		db_bind_int(stmt, 3, me);
		rc = step_finalize(st, stmt, "remove the operations row");
	}
	if (!rc)
		rc = commit(st);
	if (rc)
		rollback(st);
	return rc;
}

int store_finish_volume(struct store *st, int64_t me, const char *id, const char *status,
			const char *provider_location, const char *provider_auth,
			const struct timespec *now)
{
	return finish_with(st, me, "UPDATE volumes SET updated_at = ?2, status = ?3, "
			   "provider_location = COALESCE(?4, provider_location), "
			   "provider_auth = COALESCE(?5, provider_auth) WHERE id = ?1",
			   "Volume", id, status, provider_location, provider_auth, now);
}

int store_finish_volume_extend(struct store *st, int64_t me, const char *id, long long new_size,
			       const struct timespec *now)
{
	char stamp[DBTIME_LEN];
	struct db_stmt *stmt;
	int64_t holder;
	int rc;

	dbtime_format(now, stamp);
	if ((rc = begin(st, DB_TX_WRITE)) != 0)
		return rc;
	rc = operation_holder(st, "Volume", id, &holder, NULL);
	if (!rc && holder != me)
		rc = -ESTALE;
	if (!rc && (rc = prep(st, "UPDATE volumes SET updated_at = ?2, status = 'available', "
				  "size = ?3 WHERE id = ?1", &stmt)) == 0) {
		db_bind_text(stmt, 1, id);
		db_bind_text(stmt, 2, stamp);
		db_bind_int(stmt, 3, new_size);
		rc = step_finalize(st, stmt, "record the new size");
	}
	if (!rc && (rc = prep(st, "DELETE FROM workers WHERE resource_type = 'Volume' AND "
				  "resource_id = ?1 AND service_id = ?2", &stmt)) == 0) {
		db_bind_text(stmt, 1, id);
		db_bind_int(stmt, 2, me);
		rc = step_finalize(st, stmt, "remove the operations row");
	}
	if (!rc)
		rc = commit(st);
	if (rc)
		rollback(st);
	return rc;
}

int store_finish_volume_delete(struct store *st, int64_t me, const char *id,
			       const struct timespec *now)
{
	return finish_with(st, me, "UPDATE volumes SET updated_at = ?2, deleted_at = ?2, deleted = 1, "
			   "status = 'deleted' WHERE id = ?1", "Volume", id, NULL, NULL, NULL, now);
}

int store_finish_snapshot(struct store *st, int64_t me, const char *id, const char *status,
			  const struct timespec *now)
{
	return finish_with(st, me, "UPDATE snapshots SET updated_at = ?2, status = ?3, "
			   "progress = CASE WHEN ?3 = 'available' THEN '100%' ELSE progress END "
			   "WHERE id = ?1", "Snapshot", id, status, NULL, NULL, now);
}

int store_finish_snapshot_delete(struct store *st, int64_t me, const char *id,
				 const struct timespec *now)
{
	return finish_with(st, me, "UPDATE snapshots SET updated_at = ?2, deleted_at = ?2, deleted = 1, "
			   "status = 'deleted' WHERE id = ?1", "Snapshot", id, NULL, NULL, NULL, now);
}

int store_fail_interrupted_ops(struct store *st, int64_t me, const struct timespec *now)
{
	char stamp[DBTIME_LEN];
	struct db_stmt *stmt;
	int rc = prep(st, "UPDATE volume_operations SET state = 'failed', finished_at = ?2, error = "
			  "'interrupted: the worker stopped during it; its cleanup at start settled the "
			  "resource' WHERE service_id = ?1 AND state = 'running'", &stmt);

	if (rc)
		return rc;
	dbtime_format(now, stamp);
	db_bind_int(stmt, 1, me);
	db_bind_text(stmt, 2, stamp);
	return step_finalize(st, stmt, "fail interrupted operations");
}

int store_add_snapshot(struct store *st, const char *id, const char *volume_id, const char *name,
		       const struct timespec *now, struct cf_err *err)
{
	char stamp[DBTIME_LEN];
	struct volume_head v;
	const char *status = v.status;
	int64_t worker, size;
	struct db_stmt *stmt;
	int rc;

	dbtime_format(now, stamp);
	rc = begin_volume_op(st, volume_id, "snapshot a volume", &v, err);
	if (rc)
		return rc;
	worker = v.worker;
	size = v.size;
	if (strcmp(status, "available") != 0) {
		rollback(st);
		return err_set(err, EBUSY, "Volume %s is %s; snapshots are taken of available volumes.",
			       volume_id, status);
	}
	if (!worker) {
		rollback(st);
		return err_set(err, EBUSY, "Volume %s has no live worker of its host to snapshot it.",
			       volume_id);
	}
	rc = prep(st, "INSERT INTO snapshots (id, created_at, updated_at, deleted, volume_id, "
		      "volume_size, status, progress, display_name) VALUES (?1, ?2, ?2, 0, ?3, ?4, "
		      "'creating', '0%', ?5)", &stmt);
	if (rc)
		goto fail;
	db_bind_text(stmt, 1, id);
	db_bind_text(stmt, 2, stamp);
	db_bind_text(stmt, 3, volume_id);
	db_bind_int(stmt, 4, size);
	bind_text_or_null(stmt, 5, name);
	rc = step_finalize(st, stmt, "record the snapshot");
	if (!rc)
		rc = take_over_row(st, "Snapshot", id, "creating", worker, stamp);
	if (!rc)
		rc = add_op(st, "create_snapshot", id, worker, stamp);
	if (!rc && commit(st) == 0)
		return 0;
fail:
	return tx_fail(st, err, "cannot record snapshot %s", id);
}

int store_request_snapshot_delete(struct store *st, const char *id, const struct timespec *now,
				  const struct timespec *bound, struct cf_err *err)
{
	char stamp[DBTIME_LEN], status[64] = "", volume_id[UUID_LEN] = "";
	int64_t worker = 0;
	struct db_stmt *stmt;
	int rc;

	dbtime_format(now, stamp);
	if (begin(st, DB_TX_WRITE))
		return err_set(err, EBUSY, "cannot lock database %s: %s", st->path, db_errmsg(st->db));
	rc = prep(st, "SELECT sn.status, (SELECT " WORKER_OF("v.host") " FROM volumes v WHERE "
		      "v.id = sn.volume_id), sn.volume_id FROM snapshots sn WHERE sn.id = ?1 AND "
		      "sn.deleted = 0", &stmt);
	if (rc)
		goto fail;
	db_bind_text(stmt, 1, id);
	if (db_step(stmt) != DB_ROW) {
		db_finalize(stmt);
		rollback(st);
		return err_set(err, ENOENT, "There is no snapshot %s.", id);
	}
	column_text(stmt, 0, status, sizeof(status));
	worker = db_column_int(stmt, 1);
	column_text(stmt, 2, volume_id, sizeof(volume_id));
	db_finalize(stmt);
	if (strcmp(status, "available") && strcmp(status, "error") && strcmp(status, "error_deleting")) {
		rollback(st);
		return err_set(err, EBUSY, "Snapshot %s is %s; it can be deleted when available or in error.",
			       id, status);
	}
	if (!worker) {
		rollback(st);
		return err_set(err, EBUSY, "Snapshot %s has no live worker to delete it.", id);
	}
	rc = op_runner(st, volume_id, "delete", bound, &worker, NULL);
	if (rc)
		goto fail;
	rc = prep(st, "UPDATE snapshots SET status = 'deleting', updated_at = ?2 WHERE id = ?1", &stmt);
	if (rc)
		goto fail;
	db_bind_text(stmt, 1, id);
	db_bind_text(stmt, 2, stamp);
	rc = step_finalize(st, stmt, "mark deleting");
	if (!rc)
		rc = take_over_row(st, "Snapshot", id, "deleting", worker, stamp);
	if (!rc)
		rc = add_op(st, "delete_snapshot", id, worker, stamp);
	if (!rc && commit(st) == 0)
		return 0;
fail:
	return tx_fail(st, err, "cannot record the deletion of snapshot %s", id);
}

int store_set_capacity(struct store *st, int64_t me, const char *vg, uint64_t size,
		       uint64_t free_bytes, const struct timespec *now)
{
	char stamp[DBTIME_LEN];
	struct db_stmt *stmt;
	/* What get-pools --detail shows besides: provisioned as Cinder's
	 * thick LVM driver reports it (size less free), allocated as the sum
	 * of the sizes of the host's live volumes. */
	int rc = prep(st, "INSERT INTO worker_capacity (service_id, volume_group, size_bytes, "
			  "free_bytes, updated_at, provisioned_bytes, allocated_gib, volume_count) "
			  "SELECT ?1, ?2, ?3, ?4, ?5, ?3 - ?4, COALESCE(SUM(v.size), 0), count(v.id) "
			  "FROM services s LEFT JOIN volumes v ON v.deleted = 0 AND " HOST_OF("v.host")
			  " = s.host WHERE s.id = ?1 ON CONFLICT (service_id) DO UPDATE SET "
			  "volume_group = excluded.volume_group, size_bytes = excluded.size_bytes, "
			  "free_bytes = excluded.free_bytes, updated_at = excluded.updated_at, "
			  "provisioned_bytes = excluded.provisioned_bytes, allocated_gib = "
			  "excluded.allocated_gib, volume_count = excluded.volume_count", &stmt);
	if (rc)
		return rc;
	dbtime_format(now, stamp);
	db_bind_int(stmt, 1, me);
	db_bind_text(stmt, 2, vg);
	db_bind_int(stmt, 3, (int64_t)size);
	db_bind_int(stmt, 4, (int64_t)free_bytes);
	db_bind_text(stmt, 5, stamp);
	return step_finalize(st, stmt, "record capacity");
}

int store_get_capacity(struct store *st, int64_t id, struct store_capacity *out)
{
	struct db_stmt *stmt;
	int rc = prep(st, "SELECT volume_group, size_bytes, free_bytes, provisioned_bytes, "
			  "allocated_gib, volume_count, updated_at FROM worker_capacity "
			  "WHERE service_id = ?1", &stmt);

	if (rc)
		return rc;
	db_bind_int(stmt, 1, id);
	rc = db_step(stmt);
	if (rc == DB_ROW) {
		column_words(stmt, 0, out->volume_group, sizeof(out->volume_group));
		out->size_bytes = db_column_int(stmt, 1);
		out->free_bytes = db_column_int(stmt, 2);
		/* A row measured before migration 0011 has none: derived. */
		out->provisioned_bytes = db_column_null(stmt, 3) ? out->size_bytes - out->free_bytes
								 : db_column_int(stmt, 3);
		out->allocated_gib = db_column_int(stmt, 4);
		out->volume_count = db_column_int(stmt, 5);
		column_words(stmt, 6, out->measured_at, sizeof(out->measured_at));
	}
	db_finalize(stmt);
	if (rc == DB_DONE)
		return -ENOENT;
	return rc == DB_ROW ? 0 : db_fail(st, rc, "read a worker's capacity");
}

int store_remove_service(struct store *st, int64_t id, const struct timespec *bound,
			 const struct timespec *now, struct cf_err *err)
{
	char stamp[DBTIME_LEN], limit[DBTIME_LEN], host[NAME_LEN] = "";
	struct db_stmt *stmt;
	long long owned;
	bool up;
	int rc;

	dbtime_format(now, stamp);
	dbtime_format_bound(bound, limit);
	if (begin(st, DB_TX_WRITE))
		return err_set(err, EBUSY, "cannot lock database %s: %s", st->path, db_errmsg(st->db));
	rc = prep(st, "SELECT host, " BEAT_AT_OR_AFTER("updated_at", "?2") " FROM services "
		      "WHERE id = ?1 AND deleted = 0", &stmt);
	if (rc)
		goto fail;
	db_bind_int(stmt, 1, id);
	db_bind_text(stmt, 2, limit);
	if (db_step(stmt) != DB_ROW) {
		db_finalize(stmt);
		rollback(st);
		return err_set(err, ENOENT, "There is no worker %lld.", (long long)id);
	}
	column_text(stmt, 0, host, sizeof(host));
	up = db_column_int(stmt, 1) != 0;
	db_finalize(stmt);
	if (up) {
		rollback(st);
		return err_set(err, EBUSY, "Worker %lld (%s) is up; stop it first: it counts as down "
			       "service_down_time after its last heartbeat.", (long long)id, host);
	}
	/* Its operations in flight would be orphaned for good: no spec
	 * reaches a removed worker's rows. */
	rc = prep(st, "SELECT count(*) FROM workers WHERE service_id = ?1", &stmt);
	if (rc)
		goto fail;
	db_bind_int(stmt, 1, id);
	owned = db_step(stmt) == DB_ROW ? db_column_int(stmt, 0) : 0;
	db_finalize(stmt);
	if (owned) {
		rollback(st);
		return err_set(err, EBUSY, "Worker %lld (%s) still owns %lld operation(s) in flight; "
			       "clean them first (echo service_id=%lld > cleanup/request).", (long long)id,
			       host, owned, (long long)id);
	}
	rc = prep(st, "UPDATE services SET deleted = 1, deleted_at = ?2, updated_at = ?2 WHERE id = ?1",
		  &stmt);
	if (rc)
		goto fail;
	db_bind_int(stmt, 1, id);
	db_bind_text(stmt, 2, stamp);
	rc = step_finalize(st, stmt, "remove a worker");
	if (!rc && commit(st) == 0) {
		log_info("worker %lld (%s) removed", (long long)id, host);
		return 0;
	}
fail:
	return tx_fail(st, err, "cannot remove worker %lld", (long long)id);
}

/* ---- Jobs that always end ---- */

int store_set_worker_state(struct store *st, int64_t me, bool can_clean, const char *reason,
			   const struct timespec *now)
{
	STMT stmt = NULL;
	char stamp[DBTIME_LEN];
	int rc = stmt_get(st, Q_WORKER_STATE_SET, &stmt);

	if (rc)
		return rc;
	dbtime_format(now, stamp);
	db_bind_int(stmt, 1, me);
	db_bind_int(stmt, 2, can_clean ? 1 : 0);
	bind_opt_text(stmt, 3, can_clean ? NULL : reason);
	db_bind_text(stmt, 4, stamp);
	return step_done(st, stmt, "record whether this worker can clean");
}

struct orphan {
	int64_t job_id, taker, service_id, request_id;
	char until[DBTIME_LEN];
};

struct recover_ctx {
	int64_t me;
	char bound[DBTIME_LEN], stamp[DBTIME_LEN];
	struct store_recovery *out;
};

/* A running job whose taker is down goes back to the queue, and what the
 * taker had claimed for it goes back to the worker being cleaned, so the
 * next taker reaches it. Should the taker only have been stalled, its own
 * end of those rows finds race_preventer moved and abandons them. */
static int requeue_tx(struct store *st, const struct orphan *o, const char *stamp,
		      const char *given_why)
{
	char why[160];
	int rc;

	if (given_why)
		snprintf(why, sizeof(why), "%s", given_why);
	else
		snprintf(why, sizeof(why), "taken again: worker %lld, which had taken it, is down",
			 (long long)o->taker);
	{
		STMT job = NULL;
		rc = stmt_get(st, Q_JOB_REQUEUE, &job);
		if (rc)
			return rc;
		db_bind_int(job, 1, o->job_id);
		db_bind_int(job, 2, o->taker);
		db_bind_text(job, 3, why);
		rc = step_done(st, job, "requeue a job");
		if (rc || db_changes(st->db) == 0)
			return rc ? rc : -EAGAIN; /* someone else did it first */
	}
	{
		STMT rows = NULL;
		rc = stmt_get(st, Q_ROWS_REQUEUE, &rows);
		if (rc)
			return rc;
		db_bind_int(rows, 1, o->job_id);
		db_bind_int(rows, 2, o->taker);
		db_bind_int(rows, 3, o->service_id);
		db_bind_text(rows, 4, o->until);
		rc = step_done(st, rows, "give back a dead taker's rows");
		if (rc)
			return rc;
	}
	{
		STMT prog = NULL;
		rc = stmt_get(st, Q_PROGRESS_REQUEUE, &prog);
		if (rc)
			return rc;
		db_bind_int(prog, 1, o->job_id);
		db_bind_text(prog, 2, why);
		db_bind_text(prog, 3, stamp);
		return step_done(st, prog, "requeue a job's resources");
	}
}

struct undeliverable {
	int64_t job_id, dest_service;
	char dest_cluster[NAME_LEN];
};

/* A batch of undeliverable jobs failed, each with why, in two statements
 * (one per job was 1.3 ms on PostgreSQL, whose statement triggers keep
 * the sizes: 6 s in one transaction for 5,000 jobs of a dead cluster). */
enum { FAIL_BATCH = 512 };

struct failed_ids {
	int64_t *ids;
	size_t count;
};

static int note_failed(void *arg, struct db_stmt *stmt)
{
	struct failed_ids *f = arg;

	f->ids[f->count++] = db_column_int(stmt, 0);
	return 0;
}

static void undeliverable_why(const struct undeliverable *u, char *why, size_t size)
{
	if (u->dest_service)
		snprintf(why, size, "nobody can take it: worker %lld, the only one that may clean it, "
			 "is down or cannot clean", (long long)u->dest_service);
	else if (u->dest_cluster[0])
		snprintf(why, size, "nobody can take it: no member of cluster %s is up and able to "
			 "clean", u->dest_cluster);
	else
		snprintf(why, size, "nobody can take it: no worker is up and able to clean");
}

static int fail_jobs_tx(struct store *st, const struct undeliverable *stuck, size_t n,
			const char *stamp, int *failed)
{
	struct json_buf jobs = { 0 }, settle = { 0 };
	int64_t ids[FAIL_BATCH];
	struct failed_ids done = { .ids = ids };
	char why[NAME_LEN + 96], detail[NAME_LEN + 128];
	int rc;

	for (size_t i = 0; i < n; i++) {
		undeliverable_why(&stuck[i], why, sizeof(why));
		json_next(&jobs);
		json_key(&jobs, "id", true);
		json_int(&jobs, stuck[i].job_id);
		json_key(&jobs, "why", false);
		json_str(&jobs, why);
		json_raw(&jobs, "}");
	}
	rc = batch_stmt(st, Q_JOBS_FAIL_ROWS, "fail jobs", &jobs, NULL, 0, &stamp, 1, note_failed,
			&done);
	for (size_t k = 0; rc == 0 && k < done.count; k++) {
		const struct undeliverable *u = NULL;

		for (size_t i = 0; i < n && !u; i++)
			if (stuck[i].job_id == done.ids[k])
				u = &stuck[i];
		if (!u)
			continue;
		undeliverable_why(u, why, sizeof(why));
		snprintf(detail, sizeof(detail), "the job failed: %s", why);
		json_next(&settle);
		json_key(&settle, "id", true);
		json_int(&settle, u->job_id);
		json_key(&settle, "detail", false);
		json_str(&settle, detail);
		json_raw(&settle, "}");
		log_warning("cleanup job %lld failed: %s", (long long)u->job_id, why);
	}
	if (rc == 0)
		rc = batch_stmt(st, Q_JOBS_SETTLE_FAILED_ROWS, "settle failed jobs' resources", &settle,
				NULL, 0, &stamp, 1, NULL, NULL);
	if (rc == 0)
		*failed += (int)done.count;
	json_free(&jobs);
	json_free(&settle);
	return rc;
}

static int recover_tx(struct store *st, void *arg)
{
	struct recover_ctx *c = arg;
	struct orphan *orphans = NULL;
	struct undeliverable *stuck = NULL;
	size_t n_orphans = 0, cap_orphans = 0, n_stuck = 0, cap_stuck = 0;
	int rc;

	{
		STMT find = NULL;
		rc = stmt_get(st, Q_JOBS_ORPHANED, &find);
		if (rc)
			return rc;
		db_bind_text(find, 1, c->bound);
		while ((rc = db_step(find)) == DB_ROW) {
			struct orphan *o;
			if (array_reserve((void **)&orphans, &cap_orphans, n_orphans + 1,
					  sizeof(*orphans)) != 0) {
				free(orphans);
				return -ENOMEM;
			}
			o = &orphans[n_orphans++];
			o->job_id = db_column_int(find, 0);
			o->taker = db_column_int(find, 1);
			o->service_id = db_column_int(find, 2);
			column_text(find, 3, o->until, sizeof(o->until));
			o->request_id = db_column_int(find, 4);
		}
		if (rc != DB_DONE) {
			free(orphans);
			return db_fail(st, rc, "find jobs whose taker is down");
		}
	}
	for (size_t i = 0; i < n_orphans; i++) {
		rc = requeue_tx(st, &orphans[i], c->stamp, NULL);
		if (rc == -EAGAIN)
			continue;
		if (rc) {
			free(orphans);
			return rc;
		}
		log_warning("cleanup request %lld: job %lld: its taker, worker %lld, is down; queued "
			    "again for another worker", (long long)orphans[i].request_id,
			    (long long)orphans[i].job_id, (long long)orphans[i].taker);
		c->out->requeued++;
	}
	free(orphans);
	{
		STMT find = NULL;
		rc = stmt_get(st, Q_JOBS_UNDELIVERABLE, &find);
		if (rc)
			return rc;
		db_bind_text(find, 1, c->bound);
		while ((rc = db_step(find)) == DB_ROW) {
			struct undeliverable *u;
			if (array_reserve((void **)&stuck, &cap_stuck, n_stuck + 1, sizeof(*stuck)) != 0) {
				free(stuck);
				return -ENOMEM;
			}
			u = &stuck[n_stuck++];
			u->job_id = db_column_int(find, 0);
			u->dest_service = db_column_int(find, 1);
			column_text(find, 2, u->dest_cluster, sizeof(u->dest_cluster));
		}
		if (rc != DB_DONE) {
			free(stuck);
			return db_fail(st, rc, "find jobs nobody can take");
		}
	}
	for (size_t i = 0; i < n_stuck; i += FAIL_BATCH) {
		rc = fail_jobs_tx(st, stuck + i, n_stuck - i < FAIL_BATCH ? n_stuck - i : FAIL_BATCH,
				  c->stamp, &c->out->failed);
		if (rc) {
			free(stuck);
			return rc;
		}
	}
	free(stuck);
	return 0;
}

int store_recover_jobs(struct store *st, int64_t me, const struct timespec *bound,
		       const struct timespec *now, struct store_recovery *out)
{
	struct recover_ctx c = { .me = me, .out = out };

	memset(out, 0, sizeof(*out));
	dbtime_format_bound(bound, c.bound);
	dbtime_format(now, c.stamp);
	return write_tx(st, recover_tx, &c);
}

struct cancel_ctx {
	int64_t id, uid;
	char stamp[DBTIME_LEN];
	int cancelled;
};

static int cancel_tx(struct store *st, void *arg)
{
	struct cancel_ctx *c = arg;
	char why[64];
	int rc;

	snprintf(why, sizeof(why), "cancelled by uid %lld", (long long)c->uid);
	{
		STMT req = NULL;
		rc = stmt_get(st, Q_REQUEST_CANCEL, &req);
		if (rc)
			return rc;
		db_bind_int(req, 1, c->id);
		db_bind_text(req, 2, c->stamp);
		db_bind_int(req, 3, c->uid);
		rc = step_done(st, req, "cancel a request");
		if (rc)
			return rc;
	}
	{
		STMT jobs = NULL;
		rc = stmt_get(st, Q_JOBS_CANCEL, &jobs);
		if (rc)
			return rc;
		db_bind_int(jobs, 1, c->id);
		db_bind_text(jobs, 2, c->stamp);
		db_bind_text(jobs, 3, why);
		rc = step_done(st, jobs, "cancel a request's jobs");
		if (rc)
			return rc;
		c->cancelled = db_changes(st->db);
	}
	{
		STMT prog = NULL;
		rc = stmt_get(st, Q_PROGRESS_CANCEL, &prog);
		if (rc)
			return rc;
		db_bind_int(prog, 1, c->id);
		db_bind_text(prog, 2, c->stamp);
		db_bind_text(prog, 3, why);
		return step_done(st, prog, "cancel a request's resources");
	}
}

int store_cancel_request(struct store *st, int64_t id, int64_t uid, const struct timespec *now,
			 int *cancelled_jobs)
{
	struct cancel_ctx c = { .id = id, .uid = uid };
	int rc;

	dbtime_format(now, c.stamp);
	rc = write_tx(st, cancel_tx, &c);
	if (!rc && cancelled_jobs)
		*cancelled_jobs = c.cancelled;
	return rc;
}

/* ---- Storage under faults ---- */


/* The hosts of the workers that measured volume group ?1: they share it. */
#define SHARING_HOSTS \
	"(SELECT s.host FROM services s JOIN worker_capacity c ON c.service_id = s.id " \
	"WHERE c.volume_group = ?1)"

static int worker_not_ready(struct store *st, int64_t service_id, const struct timespec *since,
			    bool *not_ready, char *reason, size_t reason_size)
{
	char started[DBTIME_LEN] = "";
	struct db_stmt *stmt;
	int rc = prep(st, "SELECT reason FROM worker_state WHERE service_id = ?1 AND can_clean = 0 "
			  "AND (?2 IS NULL OR updated_at >= ?2)", &stmt);

	if (rc)
		return rc;
	if (since)
		dbtime_format(since, started);
	db_bind_int(stmt, 1, service_id);
	bind_text_or_null(stmt, 2, since ? started : NULL);
	rc = db_step(stmt);
	*not_ready = rc == DB_ROW;
	reason[0] = '\0';
	if (rc == DB_ROW && db_column_text(stmt, 0))
		snprintf(reason, reason_size, "%s", db_column_text(stmt, 0));
	db_finalize(stmt);
	return rc == DB_ROW || rc == DB_DONE ? 0 : db_fail(st, rc, "read the worker's state");
}

/* The room left in a worker's volume group (bytes, into *avail; its name
 * into vg), inside the transaction of a create or an extend. The FUSE
 * thread runs no LVM command, so this starts from the last measurement
 * of the volume group (the freshest any worker sharing the group took)
 * and takes off what was asked for since: every live volume and snapshot
 * of those workers still creating (its LV may not exist yet) or changed
 * after the measurement began (its LV may have been made after vgs
 * looked), and what every volume extending grows by.
 * Deletes give nothing back until the next measurement, which every
 * operation's end and the periodic check take: for a moment a refusal too
 * many, never a create or an extend that fails for space. since: see
 * worker_not_ready; doing: what the worker would do, for the refusal of a
 * worker whose storage driver is not ready ("makes no volumes"). A
 * worker that has no measurement is refused (EAGAIN: its driver is
 * starting), unless unmeasured_ok: then 1, and no room is known (the
 * database-only driver measures none). */
static int group_room(struct store *st, int64_t service_id, const char *host,
		      const struct timespec *since, const char *doing, bool unmeasured_ok,
		      char vg[NAME_LEN], long long *avail, struct cf_err *err)
{
	char measured[DBTIME_LEN] = "", reason[512];
	long long free_bytes = 0, used_gib = 0;
	struct db_stmt *stmt;
	bool not_ready;
	int rc;

	vg[0] = '\0';
	/* A worker whose driver did not start would leave the volume in
	 * creating (or extending) for ever: refused, saying why. */
	rc = worker_not_ready(st, service_id, since, &not_ready, reason, sizeof(reason));
	if (rc)
		return tx_fail(st, err, "cannot read the state of worker %lld", (long long)service_id);
	if (not_ready)
		return err_set(err, EROFS, "Worker %lld (%s) %s: its storage driver is not ready: %s",
			       (long long)service_id, host, doing, reason[0] ? reason : "it did not start");
	rc = prep(st, "SELECT m.volume_group, m.free_bytes, m.updated_at FROM worker_capacity m "
		      "WHERE m.volume_group = (SELECT c.volume_group FROM worker_capacity c WHERE "
		      "c.service_id = ?1) ORDER BY m.updated_at DESC LIMIT 1", &stmt);
	if (rc)
		return tx_fail(st, err, "cannot read the free space of worker %lld", (long long)service_id);
	db_bind_int(stmt, 1, service_id);
	rc = db_step(stmt);
	if (rc == DB_ROW) {
		column_text(stmt, 0, vg, NAME_LEN);
		free_bytes = db_column_int(stmt, 1);
		column_text(stmt, 2, measured, sizeof(measured));
	}
	db_finalize(stmt);
	if (rc != DB_ROW && rc != DB_DONE)
		return tx_fail(st, err, "cannot read the free space of worker %lld", (long long)service_id);
	if (rc == DB_DONE && unmeasured_ok)
		return 1;
	if (rc == DB_DONE)
		return err_set(err, EAGAIN, "Worker %lld (%s) has not measured its volume group yet (its "
			       "storage driver is starting); try again in a moment.",
			       (long long)service_id, host);
	/* An extending volume counts what its LV grows by (which vgs may
	 * not have seen yet; when it has, a moment's refusal too many),
	 * and its whole size too when its create was asked for after the
	 * measurement, or ended after it began (its LV may be newer than
	 * what vgs saw). */
	rc = prep(st, "SELECT COALESCE(SUM(n), 0) FROM ("
		      "SELECT CASE WHEN v.status = 'extending' THEN COALESCE((SELECT max(o.new_size) "
		      "FROM volume_operations o WHERE o.resource_id = v.id AND o.kind = 'extend_volume' "
		      "AND o.state IN ('queued', 'running')) - v.size, 0) + CASE WHEN v.created_at > ?2 "
		      "OR EXISTS (SELECT 1 FROM volume_operations c WHERE c.resource_id = v.id AND "
		      "c.kind = 'create_volume' AND COALESCE(c.finished_at, ?2) >= ?2) "
		      "THEN v.size ELSE 0 END ELSE v.size END AS n "
		      "FROM volumes v WHERE v.deleted = 0 AND "
		      "(v.status IN ('creating', 'extending') OR v.updated_at > ?2) AND "
		      HOST_OF("v.host") " IN " SHARING_HOSTS " UNION ALL "
		      "SELECT sn.volume_size FROM snapshots sn JOIN volumes v ON v.id = sn.volume_id "
		      "WHERE sn.deleted = 0 AND (sn.status = 'creating' OR sn.updated_at > ?2) AND "
		      HOST_OF("v.host") " IN " SHARING_HOSTS ") AS used", &stmt);
	if (rc)
		return tx_fail(st, err, "cannot count what volume group %s holds", vg);
	db_bind_text(stmt, 1, vg);
	db_bind_text(stmt, 2, measured);
	rc = db_step(stmt);
	if (rc == DB_ROW)
		used_gib = db_column_int(stmt, 0);
	db_finalize(stmt);
	if (rc != DB_ROW)
		return tx_fail(st, err, "cannot count what volume group %s holds", vg);
	*avail = free_bytes - used_gib * 1073741824LL;
	return 0;
}

/* Whether a new volume fits, inside store_add_volume's transaction. */
static int volume_fits(struct store *st, const struct new_volume *v, struct cf_err *err)
{
	char vg[NAME_LEN];
	long long avail = 0;
	int rc = group_room(st, v->service_id, v->host, v->started, "makes no volumes", false, vg,
			    &avail, err);

	if (rc)
		return rc;
	if (avail < v->size_gib * 1073741824LL)
		return err_set(err, ENOSPC, "Volume group %s has %lld GiB free; a %lld GiB volume does not fit.",
			       vg, avail > 0 ? avail >> 30 : 0, v->size_gib);
	return 0;
}

/* A worker's host ("" when it has no row, or on an error). */
static void service_host(struct store *st, int64_t id, char host[NAME_LEN])
{
	struct db_stmt *stmt;

	host[0] = '\0';
	if (prep(st, "SELECT host FROM services WHERE id = ?1", &stmt) == 0) {
		db_bind_int(stmt, 1, id);
		if (db_step(stmt) == DB_ROW)
			column_text(stmt, 0, host, NAME_LEN);
		db_finalize(stmt);
	}
}

/* Whether an extend by more_gib fits, inside the extend's transaction;
 * worker runs it. */
static int extend_fits(struct store *st, int64_t worker, const char *id, long long size,
		       long long new_size, struct cf_err *err)
{
	char vg[NAME_LEN], host[NAME_LEN];
	long long avail = 0;
	int rc;

	service_host(st, worker, host);
	rc = group_room(st, worker, host, NULL, "extends no volumes", true, vg, &avail, err);
	if (rc == 1)
		return 0; /* no volume group measured: lvextend judges */
	if (rc)
		return rc;
	if (avail < (new_size - size) * 1073741824LL)
		return err_set(err, ENOSPC, "Volume group %s has %lld GiB free; extending volume %s from "
			       "%lld to %lld GiB needs %lld GiB more.", vg, avail > 0 ? avail >> 30 : 0,
			       id, size, new_size, new_size - size);
	return 0;
}

void store_worker_label(struct store *st, int64_t id, char *out, size_t size)
{
	char host[NAME_LEN];

	service_host(st, id, host);
	if (host[0])
		snprintf(out, size, "worker %lld (%s)", (long long)id, host);
	else
		snprintf(out, size, "worker %lld", (long long)id);
}

int store_list_exports(struct store *st, int64_t me, struct export_record **out, size_t *count)
{
	struct export_record *recs = NULL;
	size_t cap = 0, n = 0;
	struct db_stmt *stmt;
	/* Its host, or its host and a '#pool': two ranges of the host index
	 * ('$' sorts right after '#'). */
	int rc = prep(st, "SELECT v.id, v.provider_location, v.provider_auth FROM services s "
			  "JOIN volumes v ON (v.host = s.host OR (v.host > s.host || '#' AND "
			  "v.host < s.host || '$')) WHERE s.id = ?1 AND v.deleted = 0 AND "
			  "v.status IN ('available', 'in-use') AND COALESCE(v.provider_location, '') != '' "
			  "ORDER BY v.id", &stmt);

	*out = NULL;
	*count = 0;
	if (rc)
		return rc;
	db_bind_int(stmt, 1, me);
	while ((rc = db_step(stmt)) == DB_ROW) {
		struct export_record *r;

		if (array_reserve((void **)&recs, &cap, n + 1, sizeof(*recs)) != 0) {
			db_finalize(stmt);
			free(recs);
			return -ENOMEM;
		}
		r = &recs[n];
		memset(r, 0, sizeof(*r));
		if (column_text(stmt, 0, r->volume_id, sizeof(r->volume_id)) ||
		    column_text(stmt, 1, r->provider_location, sizeof(r->provider_location)) ||
		    column_text(stmt, 2, r->provider_auth, sizeof(r->provider_auth)))
			continue; /* not one of ours: no UUID, or longer than Cinder's columns */
		n++;
	}
	db_finalize(stmt);
	if (rc != DB_DONE) {
		free(recs);
		return db_fail(st, rc, "list the exports of a worker");
	}
	*out = recs;
	*count = n;
	return 0;
}

int store_set_export_location(struct store *st, const char *id, const char *location,
			      const struct timespec *now)
{
	char stamp[DBTIME_LEN];
	struct db_stmt *stmt;
	int rc = prep(st, "UPDATE volumes SET provider_location = ?2, updated_at = ?3 WHERE id = ?1 "
			  "AND deleted = 0 AND status IN ('available', 'in-use')", &stmt);

	if (rc)
		return rc;
	dbtime_format(now, stamp);
	db_bind_text(stmt, 1, id);
	db_bind_text(stmt, 2, location);
	db_bind_text(stmt, 3, stamp);
	return step_finalize(st, stmt, "record a restored export");
}

int store_fail_queued_ops(struct store *st, int64_t me, const char *reason,
			  const struct timespec *now, int *failed)
{
	char label[NAME_LEN + 32], why[1024];
	struct volume_op op;
	int rc;

	*failed = 0;
	store_worker_label(st, me, label, sizeof(label));
	snprintf(why, sizeof(why), "the storage driver of %s is not ready: %s", label, reason);
	/* Taken one at a time as the backend thread takes them, so that a
	 * worker that starts again meanwhile never runs one of these too. */
	while ((rc = store_take_volume_op(st, me, NULL, &op)) == 0) {
		bool snapshot = strstr(op.kind, "snapshot") != NULL;
		const char *status = strncmp(op.kind, "delete", 6) == 0 ? "error_deleting"
				     : strcmp(op.kind, "extend_volume") == 0 ? "error_extending" : "error";
		int r = snapshot ? store_finish_snapshot(st, me, op.resource_id, status, now)
				 : store_finish_volume(st, me, op.resource_id, status, NULL, NULL, now);

		/* -ESTALE: its row went to a peer's cleanup, whose result
		 * stands; the operation ends all the same. */
		if (r && r != -ESTALE)
			return r;
		rc = store_finish_volume_op(st, op.id, why, now);
		if (rc)
			return rc;
		(*failed)++;
	}
	return rc == -ENOENT ? 0 : rc;
}

/* ---- One daemon per worker ---- */

/* This process's instance (one worker per process): made at registration,
 * read by the heartbeat thread after it started. */
static struct {
	char uuid[UUID_LEN];
	char hostname[NAME_LEN];
	char boot_id[UUID_LEN];
	char started_at[DBTIME_LEN];
	int lock_fd;
} self = { .lock_fd = -1 };

/* Liveness of an instance on this machine: it holds a read lock on one
 * byte of the database file, far past anything SQLite locks, chosen by
 * its UUID, for as long as its process lives (an open file description
 * lock: shared with the child fuse_daemonize forks, released by nothing
 * but the process's end). A pid alone would not do: the pid recorded at
 * registration is the parent's, which exits once daemonized, and pids are
 * reused. */
#define INSTANCE_LOCK_BASE ((off_t)1 << 62)

static off_t instance_lock_offset(const char *uuid)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const char *p = uuid; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return INSTANCE_LOCK_BASE + (off_t)h;
}

static void read_boot_id(char out[UUID_LEN])
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	out[0] = '\0';
	if (f) {
		if (fgets(out, UUID_LEN, f))
			out[strcspn(out, "\n")] = '\0';
		fclose(f);
	}
}

static void instance_init(struct store *st, const struct timespec *now)
{
	const char *file = db_file(st->db);
	uuid_t uu;

	if (self.uuid[0])
		return;
	uuid_generate(uu);
	uuid_unparse_lower(uu, self.uuid);
	if (gethostname(self.hostname, sizeof(self.hostname)) != 0)
		snprintf(self.hostname, sizeof(self.hostname), "unknown");
	self.hostname[sizeof(self.hostname) - 1] = '\0';
	read_boot_id(self.boot_id);
	dbtime_format(now, self.started_at);
	/* Never closed: closing any descriptor of the file would drop the
	 * POSIX locks SQLite's connections in this process hold on it. */
	self.lock_fd = file && file[0] ? open(file, O_RDONLY | O_CLOEXEC) : -1;
	if (self.lock_fd >= 0) {
		struct flock fl = {
			.l_type = F_RDLCK, .l_whence = SEEK_SET,
			.l_start = instance_lock_offset(self.uuid), .l_len = 1,
		};
		if (fcntl(self.lock_fd, F_OFD_SETLK, &fl) != 0) {
			log_warning("database %s: cannot take this daemon's instance lock (%s): a "
				    "daemon started after this one will judge it by its pid", file,
				    strerror(errno));
			close(self.lock_fd);
			self.lock_fd = -1;
		}
	}
}

/* Whether the instance `uuid` (pid `pid`) of this machine still runs. */
static bool instance_running(const char *uuid, long long pid)
{
	struct flock fl = {
		.l_type = F_WRLCK, .l_whence = SEEK_SET,
		.l_start = instance_lock_offset(uuid), .l_len = 1,
	};

	if (self.lock_fd >= 0 && fcntl(self.lock_fd, F_OFD_GETLK, &fl) == 0)
		return fl.l_type != F_UNLCK;
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

struct instance_row {
	char uuid[UUID_LEN];
	long long pid;
	char hostname[NAME_LEN];
	char boot_id[UUID_LEN];
	char beat[DBTIME_LEN]; /* services.updated_at */
};

/* The instance serving services row `id`: 0, -ENOENT when none is
 * recorded. */
static int instance_of(struct store *st, int64_t id, struct instance_row *out)
{
	struct db_stmt *stmt;
	int rc = prep(st, "SELECT i.instance, i.pid, i.hostname, i.boot_id, s.updated_at "
			  "FROM worker_instances i JOIN services s ON s.id = i.service_id "
			  "WHERE i.service_id = ?1", &stmt);

	if (rc)
		return rc;
	db_bind_int(stmt, 1, id);
	rc = db_step(stmt);
	if (rc == DB_ROW) {
		out->pid = db_column_int(stmt, 1);
		rc = column_text(stmt, 0, out->uuid, sizeof(out->uuid)) ||
			column_text(stmt, 2, out->hostname, sizeof(out->hostname)) ||
			column_text(stmt, 3, out->boot_id, sizeof(out->boot_id)) ||
			column_text(stmt, 4, out->beat, sizeof(out->beat)) ? -EOVERFLOW : 0;
	} else {
		rc = rc == DB_DONE ? -ENOENT : db_fail(st, rc, "read a worker's instance");
	}
	db_finalize(stmt);
	return rc;
}

static int instance_write(struct store *st, int64_t id, const char *stamp)
{
	struct db_stmt *stmt;
	int rc = prep(st, "INSERT INTO worker_instances (service_id, instance, pid, hostname, boot_id, "
			  "started_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
			  "ON CONFLICT (service_id) DO UPDATE SET instance = ?2, pid = ?3, hostname = ?4, "
			  "boot_id = ?5, started_at = ?6, updated_at = ?7", &stmt);

	if (rc)
		return rc;
	db_bind_int(stmt, 1, id);
	db_bind_text(stmt, 2, self.uuid);
	db_bind_int(stmt, 3, (int64_t)getpid());
	db_bind_text(stmt, 4, self.hostname);
	db_bind_text(stmt, 5, self.boot_id);
	db_bind_text(stmt, 6, self.started_at);
	db_bind_text(stmt, 7, stamp);
	return step_finalize(st, stmt, "record this worker's instance");
}

static long long seconds_since(const char *stamp, const struct timespec *now)
{
	struct timespec t;

	if (dbtime_parse(stamp, &t) != 0 || t.tv_sec > now->tv_sec)
		return 0;
	return (long long)(now->tv_sec - t.tv_sec);
}

int store_register_instance(struct store *st, const struct registration *reg, int down_time,
			    const struct timespec *now, int64_t *service_id, struct cf_err *err)
{
	struct instance_row other;
	char stamp[DBTIME_LEN];
	int64_t id = 0;
	int rc;

	instance_init(st, now);
	dbtime_format(now, stamp);
	if (begin(st, DB_TX_WRITE))
		return err_set(err, EBUSY, "cannot lock database %s to register %s: %s", st->path,
			       reg->host, db_errmsg(st->db));
	{
		STMT find = NULL;

		rc = stmt_get(st, Q_SERVICE_BY_HOST_BINARY, &find);
		if (rc)
			goto fail;
		db_bind_text(find, 1, reg->host);
		db_bind_text(find, 2, reg->binary);
		rc = db_step(find);
		if (rc == DB_ROW)
			id = db_column_int(find, 0);
		else if (rc != DB_DONE) {
			rc = db_fail(st, rc, "find service");
			goto fail;
		}
	}
	rc = id ? instance_of(st, id, &other) : -ENOENT;
	if (rc && rc != -ENOENT)
		goto fail;
	/* A row no instance is recorded for (made by Cinder, a test, an
	 * older cinderfs) is taken as Cinder takes it; so is one whose
	 * heartbeat is older than service_down_time (its daemon is down:
	 * if it is only stopped, it stops for good when it sees it lost
	 * the row). A fresh one is refused unless its daemon, on this
	 * machine, is no longer running. */
	if (rc == 0 && strcmp(other.uuid, self.uuid) != 0) {
		long long ago = seconds_since(other.beat, now);
		bool here = self.boot_id[0] && strcmp(other.boot_id, self.boot_id) == 0 &&
			strcmp(other.hostname, self.hostname) == 0;

		if (!liveness_worker_is_up(other.beat, now, down_time)) {
			log_warning("worker %s (%s): taking it over from cinderfs pid %lld on %s "
				    "(instance %s), whose last heartbeat was %lld s ago", reg->host,
				    reg->binary, other.pid, other.hostname, other.uuid, ago);
		} else if (here && !instance_running(other.uuid, other.pid)) {
			log_info("worker %s (%s): cinderfs pid %lld (instance %s), which served it, is "
				 "no longer running; taking its place", reg->host, reg->binary,
				 other.pid, other.uuid);
		} else {
			rollback(st);
			if (here)
				return err_set(err, EBUSY,
					       "worker %s (%s) is already served by cinderfs pid %lld on "
					       "this machine (%s, instance %s), whose last heartbeat was "
					       "%lld s ago; stop that daemon first", reg->host,
					       reg->binary, other.pid, other.hostname, other.uuid, ago);
			return err_set(err, EBUSY,
				       "worker %s (%s) is already served by cinderfs pid %lld on machine "
				       "%s (instance %s), whose last heartbeat was %lld s ago; stop that "
				       "daemon first, or, if that machine is gone, start this one once "
				       "its heartbeat is older than service_down_time (%d s)", reg->host,
				       reg->binary, other.pid, other.hostname, other.uuid, ago,
				       down_time);
		}
	}
	/* Inside this transaction: no second daemon registers in between. */
	rc = store_register(st, reg, now, service_id, err);
	if (rc)
		return rc; /* rolled back, words in err */
	rc = instance_write(st, *service_id, stamp);
	if (rc)
		goto fail;
	if (commit(st)) {
		rc = -EIO;
		goto fail;
	}
	return 0;
fail:
	return tx_fail(st, err, "cannot register %s (%s) in %s", reg->host, reg->binary, st->path);
}

int store_beat(struct store *st, int64_t service_id, const struct timespec *now)
{
	struct instance_row other;
	char stamp[DBTIME_LEN];
	int beat, rc = store_check_file(st, NULL);

	if (rc)
		return rc;
	if (!self.uuid[0])
		return store_heartbeat(st, service_id, now);
	dbtime_format(now, stamp);
	/* A row transaction: on PostgreSQL it waits for nothing but this
	 * worker's own row, so a daemon stalled in a write transaction (the
	 * one-writer lock held) never makes its peers' beats late. The beat
	 * is written first: its row lock orders it after any registration
	 * of the same worker, whose instance is read next. */
	rc = begin(st, DB_TX_ROW);
	if (rc)
		return rc;
	beat = store_heartbeat(st, service_id, now);
	if (beat && beat != -ENOENT) {
		rollback(st);
		return beat;
	}
	rc = instance_of(st, service_id, &other);
	if (rc == 0 && strcmp(other.uuid, self.uuid) != 0) {
		char why[1024];

		rollback(st);
		snprintf(why, sizeof(why),
			 "worker %lld was taken over by cinderfs pid %lld on %s (instance %s) while "
			 "this daemon (instance %s) did not send its heartbeat; this one stops",
			 (long long)service_id, other.pid, other.hostname, other.uuid, self.uuid);
		db_lost(why);
		return -EOWNERDEAD;
	}
	if (rc && rc != -ENOENT) {
		rollback(st);
		return rc;
	}
	/* The row gone (-ENOENT) is the caller's to bring back: what is
	 * written here stays. */
	rc = instance_write(st, service_id, stamp);
	if (rc) {
		rollback(st);
		return rc;
	}
	if (commit(st) != 0) {
		int e = db_errno(st->db);

		rollback(st);
		return e ? e : -EIO;
	}
	return beat;
}

/* ---- The SQLite file (nothing to do on PostgreSQL) ---- */

void store_set_lost_handler(store_lost_fn fn)
{
	db_set_lost_handler(fn);
}

void store_pin_file(struct store *st)
{
	db_pin_file(st->db);
}

int store_check_file(struct store *st, struct cf_err *err)
{
	return db_check_file(st->db, err);
}

int store_prepare_file(const char *path, gid_t group, struct cf_err *err)
{
	return db_prepare_file(path, group, err);
}

/* ---- Named locks ---- */

int store_lock_name(struct store *st, const char *name)
{
	int rc = db_lock_name(st->db, name);

	if (rc)
		log_warning("database %s: cannot take the lock %s: %s", st->path, name,
			    db_errmsg(st->db));
	return rc;
}

void store_unlock_name(struct store *st, const char *name)
{
	db_unlock_name(st->db, name);
}

/* ---- One clock for every host ---- */

static int64_t realtime_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

int store_sync_clock(struct store *st)
{
	int64_t before = realtime_us(), server, after, offset, old;
	int rc = db_server_time_us(st->db, &server);

	if (rc == -ENOTSUP)
		return 0;
	if (rc)
		return rc;
	after = realtime_us();
	if (after - before > 1000000)
		return -ETIMEDOUT;
	offset = server - (before + after) / 2;
	old = dbtime_offset();
	/* Logged when it moves by more than a second: a host whose clock
	 * drifts (or was set) is worth knowing about. */
	if (llabs(offset - old) > 1000000)
		log_info("database %s: its clock is %+.3f s from this host's; times are the "
			 "database's", st->path, (double)offset / 1e6);
	dbtime_set_offset(offset);
	return 0;
}

/* ---- Notifications ---- */

bool store_notifies(const char *setting)
{
	return db_kind_of(setting) == DB_POSTGRESQL;
}

int store_listen(struct store *st)
{
	return db_listen(st->db);
}

int store_wait_notify(struct store *st, int timeout_ms)
{
	return db_wait_notify(st->db, timeout_ms);
}

/* ---- A job its taker cannot end ---- */

struct give_back_ctx {
	struct orphan o;
	char stamp[DBTIME_LEN];
	char why[160];
};

static int give_back_tx(struct store *st, void *arg)
{
	struct give_back_ctx *c = arg;

	return requeue_tx(st, &c->o, c->stamp, c->why);
}

int store_give_back_job(struct store *st, const struct job *job, int64_t me, const char *why,
			const struct timespec *now)
{
	struct give_back_ctx c = {
		.o = { .job_id = job->id, .taker = me, .service_id = job->service_id,
		       .request_id = job->request_id },
	};
	int rc;

	snprintf(c.o.until, sizeof(c.o.until), "%s", job->until);
	snprintf(c.why, sizeof(c.why), "%s", why);
	dbtime_format(now, c.stamp);
	rc = write_tx(st, give_back_tx, &c);
	return rc == -EAGAIN ? -ESTALE : rc;
}

/* ---- Admin actions: service-disable, cluster-disable, reset-state ---- */

/* A worker's or a cluster's disabled flag. services.updated_at is the
 * heartbeat, and stays as it is; a cluster's row notes the change. */
int store_set_service_disabled(struct store *st, int64_t id, bool disabled, struct cf_err *err)
{
	struct db_stmt *stmt;
	int rc = prep(st, "UPDATE services SET disabled = ?2, disabled_reason = CASE WHEN ?2 = 0 "
			  "THEN NULL ELSE disabled_reason END WHERE id = ?1 AND deleted = 0", &stmt);

	if (rc)
		return err_set(err, -rc, "cannot prepare the change of worker %lld: %s", (long long)id,
			       db_errmsg(st->db));
	db_bind_int(stmt, 1, id);
	db_bind_int(stmt, 2, disabled ? 1 : 0);
	rc = db_step(stmt);
	db_finalize(stmt);
	if (rc != DB_DONE)
		return err_set(err, -db_fail(st, rc, "disable a worker"), "cannot change worker %lld: %s",
			       (long long)id, db_errmsg(st->db));
	if (db_changes(st->db) == 0)
		return err_set(err, ENOENT, "There is no worker %lld.", (long long)id);
	return 0;
}

int store_set_cluster_disabled(struct store *st, const char *name, bool disabled,
			       const struct timespec *now, struct cf_err *err)
{
	char stamp[DBTIME_LEN];
	struct db_stmt *stmt;
	int rc = prep(st, "UPDATE clusters SET disabled = ?2, disabled_reason = CASE WHEN ?2 = 0 "
			  "THEN NULL ELSE disabled_reason END, updated_at = ?3, "
			  "race_preventer = race_preventer + 1 WHERE name = ?1 AND deleted = 0", &stmt);

	if (rc)
		return err_set(err, -rc, "cannot prepare the change of cluster %s: %s", name,
			       db_errmsg(st->db));
	dbtime_format(now, stamp);
	db_bind_text(stmt, 1, name);
	db_bind_int(stmt, 2, disabled ? 1 : 0);
	db_bind_text(stmt, 3, stamp);
	rc = db_step(stmt);
	db_finalize(stmt);
	if (rc != DB_DONE)
		return err_set(err, -db_fail(st, rc, "disable a cluster"), "cannot change cluster %s: %s",
			       name, db_errmsg(st->db));
	if (db_changes(st->db) == 0)
		return err_set(err, ENOENT, "There is no cluster %s.", name);
	return 0;
}

int store_set_cluster_auto_cleanup(struct store *st, const char *name, int64_t seconds,
				   const struct timespec *now, struct cf_err *err)
{
	char stamp[DBTIME_LEN];
	struct db_stmt *stmt;
	int rc = prep(st, "UPDATE clusters SET auto_cleanup = ?2, updated_at = ?3, "
			  "race_preventer = race_preventer + 1 WHERE name = ?1 AND deleted = 0", &stmt);

	if (rc)
		return err_set(err, -rc, "cannot prepare the change of cluster %s: %s", name,
			       db_errmsg(st->db));
	dbtime_format(now, stamp);
	db_bind_text(stmt, 1, name);
	db_bind_int(stmt, 2, seconds);
	db_bind_text(stmt, 3, stamp);
	rc = db_step(stmt);
	db_finalize(stmt);
	if (rc != DB_DONE)
		return err_set(err, -db_fail(st, rc, "set a cluster's auto_cleanup"),
			       "cannot change cluster %s: %s", name, db_errmsg(st->db));
	if (db_changes(st->db) == 0)
		return err_set(err, ENOENT, "There is no cluster %s.", name);
	return 0;
}

int store_outages_due(struct store *st, const char *name, int64_t me, const struct timespec *bound,
		      store_outage_fn fn, void *ctx)
{
	char text[DBTIME_LEN];
	struct db_stmt *stmt;
	int rc = prep(st, "SELECT s.id, s.host, COALESCE(s.updated_at, s.created_at) FROM services s "
			  "WHERE s.cluster_name = ?1 AND s.deleted = 0 AND s.id != ?2 AND "
			  "s.\"binary\" = 'cinder-volume' AND "
			  "NOT " BEAT_AT_OR_AFTER("COALESCE(s.updated_at, s.created_at)", "?3") " AND "
			  "NOT EXISTS (SELECT 1 FROM auto_cleanups a WHERE a.service_id = s.id AND "
			  "a.last_heartbeat = COALESCE(s.updated_at, s.created_at)) ORDER BY s.id", &stmt);

	if (rc)
		return rc;
	dbtime_format_bound(bound, text);
	db_bind_text(stmt, 1, name);
	db_bind_int(stmt, 2, me);
	db_bind_text(stmt, 3, text);
	while ((rc = db_step(stmt)) == DB_ROW) {
		const char *beat = db_column_text(stmt, 2);
		int r;

		if (!beat)
			continue; /* a row with neither time: nothing to call its outage */
		r = fn(ctx, db_column_int(stmt, 0), db_column_text(stmt, 1), beat);
		if (r) {
			db_finalize(stmt);
			return r;
		}
	}
	rc = rc == DB_DONE ? 0 : db_fail(st, rc, "read the outages of a cluster");
	db_finalize(stmt);
	return rc;
}

/* A reason is set only on what is disabled (Cinder gives it with the
 * disable; its enable clears it): the same statement checks both. */
static int set_reason(struct store *st, const char *sql, const char *key, int64_t id,
		      const char *reason, const struct timespec *now, bool *disabled)
{
	char stamp[DBTIME_LEN];
	struct db_stmt *stmt;
	int rc = prep(st, sql, &stmt);

	if (rc)
		return rc;
	dbtime_format(now, stamp);
	if (key)
		db_bind_text(stmt, 1, key);
	else
		db_bind_int(stmt, 1, id);
	bind_text_or_null(stmt, 2, reason);
	db_bind_text(stmt, 3, stamp);
	rc = db_step(stmt);
	*disabled = rc == DB_ROW && db_column_int(stmt, 0) != 0;
	if (rc == DB_ROW)
		rc = db_step(stmt);
	db_finalize(stmt);
	return rc == DB_DONE || rc == DB_ROW ? 0 : db_fail(st, rc, "set a disabled_reason");
}

static int reason_tx(struct store *st, const char *what, const char *sql_check,
		     const char *sql_set, const char *key, int64_t id, const char *reason,
		     const struct timespec *now, struct cf_err *err)
{
	struct db_stmt *stmt;
	bool found, disabled = false;
	int rc;

	if (begin(st, DB_TX_WRITE))
		return err_set(err, EBUSY, "cannot lock database %s: %s", st->path, db_errmsg(st->db));
	rc = prep(st, sql_check, &stmt);
	if (rc)
		return tx_fail(st, err, "cannot read %s", what);
	if (key)
		db_bind_text(stmt, 1, key);
	else
		db_bind_int(stmt, 1, id);
	rc = db_step(stmt);
	found = rc == DB_ROW;
	if (found)
		disabled = db_column_int(stmt, 0) != 0;
	db_finalize(stmt);
	if (rc != DB_ROW && rc != DB_DONE)
		return tx_fail(st, err, "cannot read %s", what);
	if (!found) {
		rollback(st);
		return err_set(err, ENOENT, "There is no %s.", what);
	}
	if (!disabled && reason && *reason) {
		rollback(st);
		return err_set(err, EINVAL, "%s is enabled: a reason goes with disabling it (write "
			       "true to its disabled file first), as with cinder service-disable "
			       "--reason.", what);
	}
	rc = set_reason(st, sql_set, key, id, reason, now, &disabled);
	if (!rc && commit(st) == 0)
		return 0;
	return tx_fail(st, err, "cannot set the reason of %s", what);
}

int store_set_service_reason(struct store *st, int64_t id, const char *reason,
			     const struct timespec *now, struct cf_err *err)
{
	char what[64];

	snprintf(what, sizeof(what), "worker %lld", (long long)id);
	return reason_tx(st, what, "SELECT disabled FROM services WHERE id = ?1 AND deleted = 0",
			 "UPDATE services SET disabled_reason = ?2 WHERE id = ?1 AND deleted = 0 AND "
			 "?3 IS NOT NULL RETURNING disabled", NULL, id, reason, now, err);
}

int store_set_cluster_reason(struct store *st, const char *name, const char *reason,
			     const struct timespec *now, struct cf_err *err)
{
	char what[NAME_LEN + 16];

	snprintf(what, sizeof(what), "cluster %s", name);
	return reason_tx(st, what, "SELECT disabled FROM clusters WHERE name = ?1 AND deleted = 0 "
			 "ORDER BY id LIMIT 1",
			 "UPDATE clusters SET disabled_reason = ?2, updated_at = ?3, race_preventer = "
			 "race_preventer + 1 WHERE name = ?1 AND deleted = 0 RETURNING disabled",
			 name, 0, reason, now, err);
}

/* Who holds an operation on a resource and is up: its workers row's
 * owner, or the worker of a queued or running operation. */
static int live_operation(struct store *st, const char *type, const char *id, const char *bound,
			  int64_t *who, char host[NAME_LEN], char what[64])
{
	struct db_stmt *stmt;
	int rc = prep(st, "SELECT w.service_id, s.host, w.status FROM workers w JOIN services s ON "
			  "s.id = w.service_id AND s.deleted = 0 WHERE w.resource_type = ?1 AND "
			  "w.resource_id = ?2 AND " BEAT_AT_OR_AFTER("s.updated_at", "?3") " "
			  "UNION ALL SELECT o.service_id, s.host, o.kind FROM volume_operations o JOIN "
			  "services s ON s.id = o.service_id AND s.deleted = 0 WHERE o.resource_id = ?2 "
			  "AND o.state IN ('queued', 'running') AND "
			  BEAT_AT_OR_AFTER("s.updated_at", "?3") " LIMIT 1", &stmt);

	if (rc)
		return rc;
	db_bind_text(stmt, 1, type);
	db_bind_text(stmt, 2, id);
	db_bind_text(stmt, 3, bound);
	rc = db_step(stmt);
	*who = 0;
	if (rc == DB_ROW) {
		*who = db_column_int(stmt, 0);
		column_words(stmt, 1, host, NAME_LEN);
		column_words(stmt, 2, what, 64);
	}
	db_finalize(stmt);
	return rc == DB_ROW || rc == DB_DONE ? 0 : db_fail(st, rc, "find a live operation");
}

int store_reset_status(struct store *st, const struct status_reset *r, char previous[64],
		       struct cf_err *err)
{
	bool volume = strcmp(r->type, "Volume") == 0;
	const char *noun = volume ? "volume" : "snapshot";
	char stamp[DBTIME_LEN], limit[DBTIME_LEN], host[NAME_LEN] = "", what[64] = "";
	struct db_stmt *stmt;
	int64_t who;
	int rc;

	dbtime_format(r->now, stamp);
	dbtime_format_bound(r->bound, limit);
	previous[0] = '\0';
	if (begin(st, DB_TX_WRITE))
		return err_set(err, EBUSY, "cannot lock database %s: %s", st->path, db_errmsg(st->db));
	rc = prep(st, volume ? "SELECT status FROM volumes WHERE id = ?1 AND deleted = 0"
			     : "SELECT status FROM snapshots WHERE id = ?1 AND deleted = 0", &stmt);
	if (rc)
		goto fail;
	db_bind_text(stmt, 1, r->id);
	rc = db_step(stmt);
	if (rc == DB_ROW)
		column_words(stmt, 0, previous, 64);
	db_finalize(stmt);
	if (rc == DB_DONE) {
		rollback(st);
		return err_set(err, ENOENT, "There is no %s %s.", noun, r->id);
	}
	if (rc != DB_ROW)
		goto fail;
	rc = live_operation(st, r->type, r->id, limit, &who, host, what);
	if (rc)
		goto fail;
	if (who) {
		rollback(st);
		return err_set(err, EBUSY, "The %s %s is %s, and worker %lld (%s), which is up, holds "
			       "its operation (%s): a reset now would race it. Wait for it to end, or "
			       "stop that worker (its operation is then stuck, and a reset or a cleanup "
			       "settles it).", noun, r->id, previous, (long long)who, host, what);
	}
	rc = prep(st, volume ? "UPDATE volumes SET previous_status = status, status = ?2, "
			       "updated_at = ?3, status_reset_by = ?4, status_reset_at = ?3 WHERE id = ?1"
			     : "UPDATE snapshots SET previous_status = status, status = ?2, "
			       "updated_at = ?3, status_reset_by = ?4, status_reset_at = ?3 WHERE id = ?1",
		  &stmt);
	if (rc)
		goto fail;
	db_bind_text(stmt, 1, r->id);
	db_bind_text(stmt, 2, r->status);
	db_bind_text(stmt, 3, stamp);
	db_bind_int(stmt, 4, r->uid);
	rc = step_finalize(st, stmt, "reset a status");
	/* As Cinder's reset-state: the operations row of a dead worker is
	 * useless once the status was set by hand (a cleanup would act on a
	 * status the admin has overruled). */
	if (!rc && (rc = prep(st, "DELETE FROM workers WHERE resource_type = ?1 AND resource_id = ?2",
			      &stmt)) == 0) {
		db_bind_text(stmt, 1, r->type);
		db_bind_text(stmt, 2, r->id);
		rc = step_finalize(st, stmt, "remove the operations row");
	}
	if (!rc && commit(st) == 0)
		return 0;
fail:
	return tx_fail(st, err, "cannot reset the status of %s %s", noun, r->id);
}

int store_remove_cluster(struct store *st, const char *name, const struct timespec *now,
			 struct cf_err *err)
{
	char stamp[DBTIME_LEN];
	struct db_stmt *stmt;
	long long members = 0;
	int rc;

	dbtime_format(now, stamp);
	if (begin(st, DB_TX_WRITE))
		return err_set(err, EBUSY, "cannot lock database %s: %s", st->path, db_errmsg(st->db));
	rc = prep(st, "SELECT count(*) FROM services WHERE cluster_name = ?1 AND deleted = 0", &stmt);
	if (rc)
		goto fail;
	db_bind_text(stmt, 1, name);
	rc = db_step(stmt);
	if (rc == DB_ROW)
		members = db_column_int(stmt, 0);
	db_finalize(stmt);
	if (rc != DB_ROW)
		goto fail;
	if (members) {
		rollback(st);
		return err_set(err, ENOTEMPTY, "Cluster %s has %lld worker(s); it can be removed once it "
			       "has none (rmdir workers/<id> of each retired one), as cinder-manage "
			       "cluster remove without --recursive.", name, members);
	}
	rc = prep(st, "UPDATE clusters SET deleted = 1, deleted_at = ?2, updated_at = ?2 WHERE "
		      "name = ?1 AND deleted = 0", &stmt);
	if (rc)
		goto fail;
	db_bind_text(stmt, 1, name);
	db_bind_text(stmt, 2, stamp);
	rc = db_step(stmt);
	db_finalize(stmt);
	if (rc != DB_DONE)
		goto fail;
	if (db_changes(st->db) == 0) {
		rollback(st);
		return err_set(err, ENOENT, "There is no cluster %s.", name);
	}
	if (commit(st) == 0)
		return 0;
fail:
	return tx_fail(st, err, "cannot remove cluster %s", name);
}

/* ---- The overview: metrics and status ---- */

const char *const store_request_states[STORE_REQUEST_STATES] = {
	"queued", "running", "done", "failed", "cancelled",
};
/* OPS_SELECT's LE bounds, in seconds. */
const double store_duration_buckets[STORE_DURATION_BUCKETS] = {
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
};

static int state_index(const char *const *states, int n, const char *state)
{
	for (int i = 0; i < n; i++)
		if (state && strcmp(states[i], state) == 0)
			return i;
	return -1;
}

static int cluster_by_name(const void *key, const void *elem)
{
	return strcmp(key, ((const struct overview_cluster *)elem)->name);
}

/* Workers by cluster: every live services row counted by name, then the
 * ones whose heartbeat counts (judged in C, as the stuck listing does)
 * counted up; their ids, as a JSON array, say who owns nothing stuck. */
static int overview_workers(struct store *st, const struct timespec *bound,
			    struct store_overview *o, struct json_buf *live)
{
	STMT stmt = NULL;
	char date[DBTIME_LEN];
	size_t cap = 0;
	int rc = stmt_get(st, Q_OV_CLUSTERS, &stmt);

	if (rc)
		return rc;
	while ((rc = db_step(stmt)) == DB_ROW) {
		struct overview_cluster *c;

		if (array_reserve((void **)&o->clusters, &cap, o->n_clusters + 1, sizeof(*c)))
			return -ENOMEM;
		c = &o->clusters[o->n_clusters++];
		column_words(stmt, 0, c->name, sizeof(c->name));
		c->down = db_column_int(stmt, 1);
		c->up = 0;
	}
	if (rc != DB_DONE)
		return db_fail(st, rc, "count workers by cluster");
	db_reset(stmt);
	rc = stmt_get(st, Q_OV_LIVE, &stmt);
	if (rc)
		return rc;
	dbtime_format_bound(bound, date);
	date[10] = '\0'; /* its date: LIVE_BEATS_SELECT says why */
	db_bind_text(stmt, 1, date);
	while ((rc = db_step(stmt)) == DB_ROW) {
		const char *name = db_column_text(stmt, 0);
		struct overview_cluster *c;

		if (!liveness_beat_counts(db_column_text(stmt, 1), bound))
			continue;
		c = bsearch(name ? name : "", o->clusters, o->n_clusters, sizeof(*c), cluster_by_name);
		if (c && c->down > 0) {
			c->up++;
			c->down--;
		}
		json_next(live);
		json_int(live, db_column_int(stmt, 2));
	}
	return rc == DB_DONE ? 0 : db_fail(st, rc, "judge workers' heartbeats");
}

static int overview_stuck(struct store *st, const char *live, struct store_overview *o)
{
	STMT stmt = NULL;
	size_t cap = 0;
	int rc = stmt_get(st, Q_OV_STUCK, &stmt);

	if (rc)
		return rc;
	db_bind_text(stmt, 1, live);
	while ((rc = db_step(stmt)) == DB_ROW) {
		struct overview_stuck *s;

		if (array_reserve((void **)&o->stuck, &cap, o->n_stuck + 1, sizeof(*s)))
			return -ENOMEM;
		s = &o->stuck[o->n_stuck++];
		column_words(stmt, 0, s->type, sizeof(s->type));
		column_words(stmt, 1, s->status, sizeof(s->status));
		s->count = db_column_int(stmt, 2);
		column_words(stmt, 3, s->oldest, sizeof(s->oldest));
	}
	return rc == DB_DONE ? 0 : db_fail(st, rc, "count stuck resources");
}

static int overview_requests(struct store *st, struct store_overview *o)
{
	STMT stmt = NULL;
	int rc = stmt_get(st, Q_OV_REQUESTS, &stmt);

	if (rc)
		return rc;
	while ((rc = db_step(stmt)) == DB_ROW) {
		int i = state_index(store_request_states, STORE_REQUEST_STATES,
				    db_column_text(stmt, 0));
		int64_t n = db_column_int(stmt, 1);

		if (i < 0)
			continue;
		o->requests_by_state[i] += n;
		o->requests_total += n;
		if (i >= 2) /* done, failed, cancelled: ended */
			o->requests_ended[i] += n;
		for (int k = 0; k < STORE_RESOURCE_STATES; k++)
			o->resources_total[k] += db_column_int(stmt, 2 + k);
	}
	if (rc != DB_DONE)
		return db_fail(st, rc, "count cleanup requests");
	db_reset(stmt);
	rc = stmt_get(st, Q_OV_TOTALS, &stmt);
	if (rc)
		return rc;
	rc = db_step(stmt);
	if (rc == DB_ROW) {
		o->requests_total += db_column_int(stmt, 0);
		for (int i = 0; i < 3; i++)
			o->requests_ended[2 + i] += db_column_int(stmt, 1 + i);
		for (int k = 0; k < 5; k++) /* cleaned .. cancelled */
			o->resources_total[2 + k] += db_column_int(stmt, 4 + k);
	}
	return rc == DB_ROW || rc == DB_DONE ? 0 : db_fail(st, rc, "read pruned totals");
}

static int overview_recent(struct store *st, struct store_overview *o)
{
	STMT stmt = NULL;
	int rc = stmt_get(st, Q_OV_RECENT, &stmt);

	if (rc)
		return rc;
	db_bind_int(stmt, 1, STORE_RECENT_REQUESTS);
	while (o->n_recent < STORE_RECENT_REQUESTS && (rc = db_step(stmt)) == DB_ROW) {
		struct overview_request *r = &o->recent[o->n_recent++];
		int i = state_index(store_request_states, STORE_REQUEST_STATES,
				    db_column_text(stmt, 2));
		size_t n = 0;
		const void *spec = db_column_blob(stmt, 3, &n);

		r->id = db_column_int(stmt, 0);
		column_words(stmt, 1, r->created_at, sizeof(r->created_at));
		r->state = store_request_states[i < 0 ? 2 : i];
		if (n >= sizeof(r->spec))
			n = sizeof(r->spec) - 1;
		if (spec && n)
			memcpy(r->spec, spec, n);
		r->spec[n] = '\0';
		r->spec_len = (size_t)db_column_int(stmt, 4);
		r->resources_total = db_column_int(stmt, 5);
		for (int k = 0; k < STORE_RESOURCE_STATES; k++)
			r->resources_by_state[k] = db_column_int(stmt, 6 + k);
	}
	if (o->n_recent == STORE_RECENT_REQUESTS)
		return 0;
	return rc == DB_DONE ? 0 : db_fail(st, rc, "read the last cleanup requests");
}

static int overview_ops(struct store *st, struct store_overview *o)
{
	STMT stmt = NULL;
	size_t cap = 0;
	int rc = stmt_get(st, Q_OV_OPS, &stmt);

	if (rc)
		return rc;
	while ((rc = db_step(stmt)) == DB_ROW) {
		struct overview_ops *op;

		if (array_reserve((void **)&o->ops, &cap, o->n_ops + 1, sizeof(*op)))
			return -ENOMEM;
		op = &o->ops[o->n_ops++];
		column_words(stmt, 0, op->kind, sizeof(op->kind));
		column_words(stmt, 1, op->state, sizeof(op->state));
		op->count = db_column_int(stmt, 2);
		op->timed = db_column_int(stmt, 3);
		op->duration_us = db_column_int(stmt, 4);
		for (int i = 0; i < STORE_DURATION_BUCKETS; i++)
			op->le[i] = db_column_int(stmt, 5 + i);
	}
	return rc == DB_DONE ? 0 : db_fail(st, rc, "count storage operations");
}

static int overview_capacity(struct store *st, struct store_overview *o)
{
	STMT stmt = NULL;
	size_t cap = 0;
	int rc = stmt_get(st, Q_OV_CAPACITY, &stmt);

	if (rc)
		return rc;
	while ((rc = db_step(stmt)) == DB_ROW) {
		struct overview_capacity *c;

		if (array_reserve((void **)&o->capacity, &cap, o->n_capacity + 1, sizeof(*c)))
			return -ENOMEM;
		c = &o->capacity[o->n_capacity++];
		c->worker = db_column_int(stmt, 0);
		column_words(stmt, 1, c->host, sizeof(c->host));
		column_words(stmt, 2, c->volume_group, sizeof(c->volume_group));
		c->size_bytes = db_column_int(stmt, 3);
		c->free_bytes = db_column_int(stmt, 4);
		column_words(stmt, 5, c->measured_at, sizeof(c->measured_at));
	}
	return rc == DB_DONE ? 0 : db_fail(st, rc, "read volume groups' capacity");
}

static int read_overview(struct store *st, const struct timespec *bound, struct store_overview *o)
{
	struct json_buf live = { 0 };
	const char *ids;
	int rc = overview_workers(st, bound, o, &live);

	if (rc == 0 && !(ids = json_done(&live)))
		rc = -ENOMEM;
	if (rc == 0)
		rc = overview_stuck(st, ids, o);
	json_free(&live);
	if (rc == 0)
		rc = overview_requests(st, o);
	if (rc == 0)
		rc = overview_recent(st, o);
	if (rc == 0)
		rc = overview_ops(st, o);
	if (rc == 0)
		rc = overview_capacity(st, o);
	return rc;
}

/* One read transaction: every figure from the same state of the database. */
int store_read_overview(struct store *st, const struct timespec *bound, struct store_overview *out)
{
	bool own = !db_in_tx(st->db);
	int rc;

	memset(out, 0, sizeof(*out));
	rc = own ? begin(st, DB_TX_READ) : 0;
	if (rc)
		return db_fail(st, rc, "begin reading the overview");
	rc = read_overview(st, bound, out);
	if (own) {
		if (rc == 0 && (rc = commit(st)) != 0)
			db_fail(st, rc, "end reading the overview");
		if (rc)
			rollback(st);
	}
	if (rc)
		store_overview_free(out);
	return rc;
}

void store_overview_free(struct store_overview *o)
{
	free(o->clusters);
	free(o->stuck);
	free(o->ops);
	free(o->capacity);
	memset(o, 0, sizeof(*o));
}
