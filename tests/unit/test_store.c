/* The store on a real SQLite file: migrations on new, old and newer files;
 * registration; what counts as stuck, at the same boundary as liveness. */
#include <errno.h>

#include "liveness.h"
#include "testdb.h"

#define NOW_SEC 1795632114 /* 2026-11-25 18:41:54 UTC */

static void test_new_file_gets_every_migration(void **state)
{
	struct testdb *f = *state;
	struct store *st;
	struct cf_err err;
	int version;

	assert_int_equal(store_open(f->path, STORE_CREATE | STORE_MIGRATE, &st, &err), 0);
	assert_int_equal(store_schema_version(st, &version), 0);
	assert_int_equal(version, store_migrations_count);
	store_close(st);
	/* Cinder's tables and columns, readable with plain SQL. */
	assert_int_equal(testdb_int(f->path, "SELECT count(*) FROM sqlite_master WHERE type='table' AND "
				 "name IN ('services','clusters','workers','volumes','snapshots')"), 5);
	assert_int_equal(testdb_int(f->path, "SELECT count(*) FROM pragma_table_info('workers') WHERE "
				 "name IN ('resource_type','resource_id','status','service_id',"
				 "'race_preventer')"), 5);
	assert_int_equal(testdb_int(f->path, "SELECT count(*) FROM pragma_journal_mode() "
				 "WHERE journal_mode = 'wal'"), 1);
}

static void test_reopening_a_current_file_changes_nothing(void **state)
{
	struct testdb *f = *state;
	struct store *st;
	struct cf_err err;

	assert_int_equal(store_open(f->path, STORE_CREATE | STORE_MIGRATE, &st, &err), 0);
	store_close(st);
	testdb_sql(f->path, "INSERT INTO services (host, \"binary\", created_at) "
		     "VALUES ('n1@lvm', 'cinder-volume', '2026-01-01 00:00:00')");
	assert_int_equal(store_open(f->path, STORE_CREATE | STORE_MIGRATE, &st, &err), 0);
	store_close(st);
	assert_int_equal(testdb_int(f->path, "SELECT count(*) FROM services"), 1);
	assert_int_equal(testdb_int(f->path, "SELECT count(*) FROM schema_version"),
			 store_migrations_count);
}

static const struct migration old_list[] = {
	{ 1, "0001-t.sql", "CREATE TABLE t (a INTEGER);" },
	{ 2, "0002-t-b.sql", "ALTER TABLE t ADD COLUMN b TEXT DEFAULT 'new';" },
};

static void test_old_file_is_brought_up_to_date(void **state)
{
	struct testdb *f = *state;
	struct store *st;
	struct cf_err err;
	int version;

	/* A file written by a cinderfs that knew only migration 1... */
	assert_int_equal(store_open(f->path, STORE_CREATE, &st, &err), 0);
	assert_int_equal(store_migrate(st, old_list, 1, &err), 0);
	store_close(st);
	testdb_sql(f->path, "INSERT INTO t (a) VALUES (7)");
	/* ...opened by one that knows 2 keeps its data and gains the column. */
	assert_int_equal(store_open(f->path, 0, &st, &err), 0);
	assert_int_equal(store_migrate(st, old_list, 2, &err), 0);
	assert_int_equal(store_schema_version(st, &version), 0);
	assert_int_equal(version, 2);
	store_close(st);
	assert_int_equal(testdb_int(f->path, "SELECT a FROM t WHERE b = 'new'"), 7);
}

static void test_a_first_release_file_gains_every_later_migration(void **state)
{
	struct testdb *f = *state;
	struct store *st;
	struct cf_err err;
	int version;

	/* A file the first cinderfs wrote: Cinder's tables only. */
	assert_int_equal(store_open(f->path, STORE_CREATE, &st, &err), 0);
	assert_int_equal(store_migrate(st, store_migrations, 1, &err), 0);
	store_close(st);
	testdb_sql(f->path, "INSERT INTO services (host, \"binary\") VALUES ('old@lvm', 'cinder-volume')");
	assert_int_equal(store_open(f->path, STORE_MIGRATE, &st, &err), 0);
	assert_int_equal(store_schema_version(st, &version), 0);
	assert_int_equal(version, store_migrations_count);
	store_close(st);
	assert_int_equal(testdb_int(f->path, "SELECT count(*) FROM services WHERE host = 'old@lvm'"), 1);
	assert_int_equal(testdb_int(f->path, "SELECT count(*) FROM pragma_table_info('cleanup_request_sizes') "
				    "WHERE name = 'generation'"), 1);
	assert_int_equal(testdb_int(f->path, "SELECT count(*) FROM pragma_table_info('cleanup_requests') "
				    "WHERE name = 'generation'"), 0);
	assert_int_equal(testdb_int(f->path, "SELECT count(*) FROM cleanup_request_sizes"), 0);
}

/* Migrations 8 and 9 move each request's result into pieces and its
 * generation to cleanup_request_sizes, keeping their values, and new
 * requests and progress keep moving it. */
static void test_generations_move_out_of_the_requests(void **state)
{
	struct testdb *f = *state;
	struct store *st;
	struct cf_err err;

	assert_int_equal(store_open(f->path, STORE_CREATE, &st, &err), 0);
	assert_int_equal(store_migrate(st, store_migrations, 7, &err), 0);
	store_close(st);
	/* Its result of 70,000 two-byte characters: three pieces of bytes. */
	testdb_sql(f->path, "INSERT INTO cleanup_requests (id, created_at, spec, filter, result, generation) "
			    "VALUES (3, '2026-11-29 08:00:00.000000', 'x', '{}', "
			    "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 70000) "
			    "SELECT group_concat('é', '') FROM n), 5)");
	assert_int_equal(store_open(f->path, STORE_MIGRATE, &st, &err), 0);
	store_close(st);
	assert_int_equal(testdb_int(f->path, "SELECT generation FROM cleanup_request_sizes WHERE "
				    "request_id = 3"), 5);
	assert_int_equal(testdb_int(f->path, "SELECT result_size FROM cleanup_requests WHERE id = 3"),
			 140000);
	assert_int_equal(testdb_int(f->path, "SELECT group_concat(length(chunk)) = '65536,65536,8928' "
				    "FROM (SELECT chunk FROM cleanup_results WHERE request_id = 3 ORDER BY seq)"), 1);
	assert_int_equal(testdb_int(f->path, "SELECT CAST(group_concat(chunk, '') AS TEXT) = "
				    "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 70000) "
				    "SELECT group_concat('é', '') FROM n) FROM (SELECT chunk FROM cleanup_results "
				    "WHERE request_id = 3 ORDER BY seq)"), 1);
	testdb_sql(f->path, "INSERT INTO services (id, host, \"binary\") VALUES (40, 'x', 'cinder-volume');"
			    "INSERT INTO cleanup_requests (id, created_at, spec, filter) "
			    "VALUES (4, '2026-11-29 08:00:00.000000', 'x', '{}');"
			    "INSERT INTO cleanup_jobs (id, request_id, service_id, until) VALUES (1, 4, 40, 't');"
			    "INSERT INTO cleanup_progress (request_id, job_id, resource_type, resource_id, "
			    "state, updated_at) VALUES (4, 1, 'Volume', 'a', 'queued', 't');"
			    "UPDATE cleanup_jobs SET state = 'running';");
	assert_int_equal(testdb_int(f->path, "SELECT generation FROM cleanup_request_sizes WHERE "
				    "request_id = 4"), 2);
	assert_int_equal(testdb_int(f->path, "SELECT generation FROM cleanup_request_sizes WHERE "
				    "request_id = 3"), 5);
	testdb_sql(f->path, "DELETE FROM cleanup_requests WHERE id = 3");
	assert_int_equal(testdb_int(f->path, "SELECT count(*) FROM cleanup_request_sizes"), 1);
	assert_int_equal(testdb_int(f->path, "SELECT count(*) FROM cleanup_results WHERE request_id = 3"), 0);
}

static void test_file_from_a_newer_cinderfs_is_refused(void **state)
{
	struct testdb *f = *state;
	struct store *st;
	struct cf_err err;

	assert_int_equal(store_open(f->path, STORE_CREATE, &st, &err), 0);
	assert_int_equal(store_migrate(st, old_list, 2, &err), 0);
	store_close(st);
	assert_int_equal(store_open(f->path, 0, &st, &err), 0);
	assert_int_equal(store_migrate(st, old_list, 1, &err), -EPROTO);
	assert_non_null(strstr(err.msg, "schema version 2, newer than this cinderfs knows (1)"));
	store_close(st);
}

static void test_a_failed_migration_leaves_the_file_as_it_was(void **state)
{
	struct testdb *f = *state;
	static const struct migration broken[] = {
		{ 1, "0001-t.sql", "CREATE TABLE t (a INTEGER);" },
		{ 2, "0002-bad.sql", "CREATE TABLE u (x); THIS IS NOT SQL;" },
	};
	struct store *st;
	struct cf_err err;
	int version;

	assert_int_equal(store_open(f->path, STORE_CREATE, &st, &err), 0);
	assert_int_equal(store_migrate(st, broken, 2, &err), -EIO);
	assert_non_null(strstr(err.msg, "migration 0002-bad.sql failed"));
	assert_int_equal(store_schema_version(st, &version), 0);
	assert_int_equal(version, 0);
	store_close(st);
	assert_int_equal(testdb_int(f->path, "SELECT count(*) FROM sqlite_master WHERE name IN ('t','u')"), 0);
}

static void test_opening_a_missing_file_without_migrate_fails(void **state)
{
	struct testdb *f = *state;
	struct store *st;
	struct cf_err err;

	assert_int_equal(store_open(f->path, 0, &st, &err), -ENOENT);
	assert_non_null(strstr(err.msg, f->path));
}

static void test_register_reuses_the_row_of_the_same_host_and_binary(void **state)
{
	struct testdb *f = *state;
	struct store *st;
	struct cf_err err;
	struct timespec now = { NOW_SEC, 0 };
	struct registration reg = { "n1@lvm", "cinder-volume", "c1@lvm", "1.0" };
	struct registration sched = { "n1@lvm", "cinder-scheduler", NULL, "1.0" };
	struct service svc;
	int64_t a, b, c;

	assert_int_equal(store_open(f->path, STORE_CREATE | STORE_MIGRATE, &st, &err), 0);
	assert_int_equal(store_register(st, &reg, &now, &a, &err), 0);
	now.tv_sec += 5;
	reg.version = "1.1";
	assert_int_equal(store_register(st, &reg, &now, &b, &err), 0);
	assert_int_equal(a, b);
	assert_int_equal(store_register(st, &sched, &now, &c, &err), 0);
	assert_int_not_equal(a, c);
	assert_int_equal(store_get_service(st, a, &svc), 0);
	assert_string_equal(svc.version, "1.1");
	assert_string_equal(svc.cluster_name, "c1@lvm");
	assert_string_equal(svc.updated_at, "2026-11-25 18:41:59.000000");
	store_close(st);
	assert_int_equal(testdb_int(f->path, "SELECT count(*) FROM clusters WHERE name = 'c1@lvm' "
				 "AND \"binary\" = 'cinder-volume'"), 1);
	assert_int_equal(testdb_int(f->path, "SELECT count(*) FROM services WHERE uuid IS NOT NULL "
				 "AND length(uuid) = 36"), 2);
}

static void test_heartbeat_bumps_the_row_and_reports_a_removed_one(void **state)
{
	struct testdb *f = *state;
	struct store *st;
	struct cf_err err;
	struct timespec now = { NOW_SEC, 0 };
	struct registration reg = { "n1@lvm", "cinder-volume", NULL, "1.0" };
	int64_t id;

	assert_int_equal(store_open(f->path, STORE_CREATE | STORE_MIGRATE, &st, &err), 0);
	assert_int_equal(store_register(st, &reg, &now, &id, &err), 0);
	now.tv_sec += 10;
	assert_int_equal(store_heartbeat(st, id, &now), 0);
	assert_int_equal(testdb_int(f->path, "SELECT report_count FROM services"), 1);
	testdb_sql(f->path, "UPDATE services SET deleted = 1");
	assert_int_equal(store_heartbeat(st, id, &now), -ENOENT);
	assert_int_equal(store_get_service(st, id, &(struct service){ 0 }), -ENOENT);
	store_close(st);
}

static int count_stuck(void *ctx, const struct stuck *res)
{
	(void)res;
	(*(int *)ctx)++;
	return 0;
}

#define V_DOWN  "11111111-1111-4111-8111-111111111111"
#define V_UP    "22222222-2222-4222-8222-222222222222"
#define V_NOONE "33333333-3333-4333-8333-333333333333"
#define V_GONE  "44444444-4444-4444-8444-444444444444"
#define S_DOWN  "55555555-5555-4555-8555-555555555555"
#define V_EDGE  "66666666-6666-4666-8666-666666666666"

static void seed_stuck(const char *path)
{
	testdb_sql(path,
	    "INSERT INTO services (id, host, \"binary\", cluster_name, created_at, updated_at) VALUES"
	    " (1, 'down@lvm', 'cinder-volume', 'c1@lvm', '2026-11-25 10:00:00', '2026-11-25 18:00:00'),"
	    " (2, 'up@lvm', 'cinder-volume', 'c1@lvm', '2026-11-25 10:00:00', '2026-11-25 18:41:50.000000'),"
	    " (3, 'edge@lvm', 'cinder-volume', NULL, '2026-11-25 10:00:00', '2026-11-25 18:40:54');"
	    "INSERT INTO workers (resource_type, resource_id, status, service_id, created_at, updated_at) VALUES"
	    " ('Volume', '" V_DOWN "', 'deleting', 1, '2026-11-25 17:59:00', '2026-11-25 17:59:30'),"
	    " ('Volume', '" V_UP "', 'creating', 2, '2026-11-25 18:41:00', '2026-11-25 18:41:00'),"
	    " ('Volume', '" V_NOONE "', 'creating', NULL, '2026-11-25 18:00:00', '2026-11-25 18:00:00'),"
	    " ('Volume', '" V_GONE "', 'creating', 99, '2026-11-25 18:00:00', '2026-11-25 18:00:00'),"
	    " ('Snapshot', '" S_DOWN "', 'creating', 1, '2026-11-25 17:59:00', '2026-11-25 17:59:00'),"
	    " ('Volume', '" V_EDGE "', 'creating', 3, '2026-11-25 18:00:00', '2026-11-25 18:00:00');");
}

static void test_stuck_lists_rows_of_down_or_missing_owners_only(void **state)
{
	struct testdb *f = *state;
	struct store *st;
	struct cf_err err;
	struct timespec now = { NOW_SEC, 0 }, bound;
	struct stuck res;
	int volumes = 0, snapshots = 0;

	assert_int_equal(store_open(f->path, STORE_CREATE | STORE_MIGRATE, &st, &err), 0);
	seed_stuck(f->path);
	liveness_bound(&now, 60, &bound);

	assert_int_equal(store_list_stuck(st, "Volume", &bound, count_stuck, &volumes), 0);
	assert_int_equal(volumes, 2); /* V_DOWN, V_GONE; V_EDGE's owner is exactly at the bound */
	assert_int_equal(store_list_stuck(st, "Snapshot", &bound, count_stuck, &snapshots), 0);
	assert_int_equal(snapshots, 1);

	assert_int_equal(store_get_stuck(st, "Volume", V_DOWN, &bound, &res), 0);
	assert_string_equal(res.status, "deleting");
	assert_int_equal(res.service_id, 1);
	assert_string_equal(res.host, "down@lvm");
	assert_string_equal(res.cluster_name, "c1@lvm");
	assert_string_equal(res.updated_at, "2026-11-25 17:59:30");
	assert_int_equal(store_get_stuck(st, "Volume", V_GONE, &bound, &res), 0);
	assert_string_equal(res.host, "");
	assert_int_equal(store_get_stuck(st, "Volume", V_UP, &bound, &res), -ENOENT);
	assert_int_equal(store_get_stuck(st, "Volume", V_NOONE, &bound, &res), -ENOENT);
	assert_int_equal(store_get_stuck(st, "Snapshot", V_DOWN, &bound, &res), -ENOENT);
	store_close(st);
}

struct names_seen {
	char ids[8][40];
	int count;
};

static int note_name(void *ctx, const char *id)
{
	struct names_seen *n = ctx;

	assert_true(n->count < 8);
	snprintf(n->ids[n->count++], sizeof(n->ids[0]), "%s", id);
	return 0;
}

/* The times a listing reads late, as store_stuck_times gives them. */
struct times_seen {
	int count;
	char ids[8][UUID_LEN];
	char updated[8][DBTIME_LEN];
	bool no_created[8];
};

static int note_times(void *ctx, const char *id, const char *created_at, const char *updated_at)
{
	struct times_seen *t = ctx;

	assert_true(t->count < 8);
	snprintf(t->ids[t->count], sizeof(t->ids[0]), "%s", id);
	snprintf(t->updated[t->count], sizeof(t->updated[0]), "%s", updated_at ? updated_at : "");
	t->no_created[t->count++] = created_at == NULL;
	return 0;
}

static int times_index(const struct times_seen *t, const char *id)
{
	for (int i = 0; i < t->count; i++)
		if (!strcmp(t->ids[i], id))
			return i;
	return -1;
}

static bool names_hold(const struct names_seen *n, const char *id)
{
	for (int i = 0; i < n->count; i++)
		if (!strcmp(n->ids[i], id))
			return true;
	return false;
}

/* The listing's names judge owners in C from their heartbeats, and agree
 * with store_list_stuck's SQL: whatever the time's spelling, a deleted
 * owner is down, an owner exactly at the bound is up. */
static void test_stuck_names_judge_owners_as_the_rows_do(void **state)
{
	struct testdb *f = *state;
	struct store *st;
	struct cf_err err;
	struct timespec now = { NOW_SEC, 0 }, bound;
	struct names_seen n = { 0 };

	assert_int_equal(store_open(f->path, STORE_CREATE | STORE_MIGRATE, &st, &err), 0);
	seed_stuck(f->path);
	liveness_bound(&now, 60, &bound);
	assert_int_equal(store_list_stuck_names(st, "Volume", &bound, note_name, &n), 0);
	assert_int_equal(n.count, 2);
	assert_true(names_hold(&n, V_DOWN) && names_hold(&n, V_GONE));
	/* ISO spelling of a live beat: still up. */
	testdb_sql(f->path, "UPDATE services SET updated_at = '2026-11-25T18:41:50Z' WHERE id = 2");
	n.count = 0;
	assert_int_equal(store_list_stuck_names(st, "Volume", &bound, note_name, &n), 0);
	assert_int_equal(n.count, 2);
	/* A deleted owner with a fresh beat is down. */
	testdb_sql(f->path, "UPDATE services SET deleted = 1 WHERE id = 2");
	n.count = 0;
	assert_int_equal(store_list_stuck_names(st, "Volume", &bound, note_name, &n), 0);
	assert_int_equal(n.count, 3);
	assert_true(names_hold(&n, V_UP));
	n.count = 0;
	assert_int_equal(store_list_stuck_names(st, "Snapshot", &bound, note_name, &n), 0);
	assert_int_equal(n.count, 1);
	assert_true(names_hold(&n, S_DOWN));
	store_close(st);
}

/* A listing's times, read after its names: of the names asked for (of
 * that type only, whoever owns them), or of every row of the type; as
 * the rows hold them at the moment of the read, and a row gone is not
 * given. */
static void test_stuck_times_are_the_rows_at_the_read(void **state)
{
	struct testdb *f = *state;
	struct store *st;
	struct cf_err err;
	struct times_seen t = { 0 };
	const char *ids[] = { V_DOWN, V_UP, S_DOWN, "00000000-0000-4000-8000-00000000dead" };
	int i;

	assert_int_equal(store_open(f->path, STORE_CREATE | STORE_MIGRATE, &st, &err), 0);
	seed_stuck(f->path);
	assert_int_equal(store_stuck_times(st, "Volume", ids, 4, note_times, &t), 0);
	assert_int_equal(t.count, 2); /* S_DOWN is a snapshot; the last one no row */
	assert_true((i = times_index(&t, V_DOWN)) >= 0);
	assert_string_equal(t.updated[i], "2026-11-25 17:59:30");
	assert_true(times_index(&t, V_UP) >= 0);
	/* A change, and a row gone, between two reads. */
	testdb_sql(f->path, "UPDATE workers SET updated_at = NULL, created_at = NULL "
			    "WHERE resource_id = '" V_DOWN "'; DELETE FROM workers WHERE resource_id = '" V_UP "'");
	t.count = 0;
	assert_int_equal(store_stuck_times(st, "Volume", ids, 4, note_times, &t), 0);
	assert_int_equal(t.count, 1);
	assert_string_equal(t.ids[0], V_DOWN);
	assert_string_equal(t.updated[0], "");
	assert_true(t.no_created[0]);
	/* Every row of the type. */
	t.count = 0;
	assert_int_equal(store_stuck_times(st, "Volume", NULL, 0, note_times, &t), 0);
	assert_int_equal(t.count, 4); /* V_DOWN, V_NOONE, V_GONE, V_EDGE */
	t.count = 0;
	assert_int_equal(store_stuck_times(st, "Snapshot", NULL, 0, note_times, &t), 0);
	assert_int_equal(t.count, 1);
	assert_string_equal(t.ids[0], S_DOWN);
	store_close(st);
}

static void test_stuck_agrees_with_liveness_at_the_boundary(void **state)
{
	struct testdb *f = *state;
	struct store *st;
	struct cf_err err;
	struct timespec now = { NOW_SEC, 0 }, bound;
	struct stuck res;

	assert_int_equal(store_open(f->path, STORE_CREATE | STORE_MIGRATE, &st, &err), 0);
	seed_stuck(f->path);
	/* Owner 3's heartbeat is 18:40:54, exactly now - 60: up, not stuck. */
	liveness_bound(&now, 60, &bound);
	assert_true(liveness_worker_is_up("2026-11-25 18:40:54", &now, 60));
	assert_int_equal(store_get_stuck(st, "Volume", V_EDGE, &bound, &res), -ENOENT);
	/* A microsecond later it is down, and stuck. */
	now.tv_nsec = 1000;
	liveness_bound(&now, 60, &bound);
	assert_false(liveness_worker_is_up("2026-11-25 18:40:54", &now, 60));
	assert_int_equal(store_get_stuck(st, "Volume", V_EDGE, &bound, &res), 0);
	store_close(st);
}

static void test_stuck_includes_rows_of_a_worker_that_never_beat(void **state)
{
	struct testdb *f = *state;
	struct store *st;
	struct cf_err err;
	struct timespec now = { NOW_SEC, 0 }, bound;
	struct stuck res;

	assert_int_equal(store_open(f->path, STORE_CREATE | STORE_MIGRATE, &st, &err), 0);
	/* Registered 4 s ago, never a heartbeat: down (Cinder's
	 * Service.is_up), so its row is stuck, and it can be removed. */
	testdb_sql(f->path,
	    "INSERT INTO services (id, host, \"binary\", created_at, updated_at) VALUES"
	    " (4, 'fresh@lvm', 'cinder-volume', '2026-11-25 18:41:50', NULL);"
	    "INSERT INTO workers (resource_type, resource_id, status, service_id, created_at, updated_at)"
	    " VALUES ('Volume', '" V_DOWN "', 'creating', 4, '2026-11-25 18:41:51', '2026-11-25 18:41:51')");
	liveness_bound(&now, 60, &bound);
	assert_false(liveness_worker_is_up(NULL, &now, 60));
	assert_int_equal(store_get_stuck(st, "Volume", V_DOWN, &bound, &res), 0);
	assert_string_equal(res.host, "fresh@lvm");
	/* Removing it would orphan its operation for good: refused. */
	assert_int_equal(store_remove_service(st, 4, &bound, &now, &err), -EBUSY);
	assert_string_equal(err.msg, "Worker 4 (fresh@lvm) still owns 1 operation(s) in flight; clean "
			    "them first (echo service_id=4 > cleanup/request).");
	testdb_sql(f->path, "DELETE FROM workers");
	assert_int_equal(store_remove_service(st, 4, &bound, &now, &err), 0);
	store_close(st);
}

static void test_stuck_and_is_up_agree_on_hand_written_times(void **state)
{
	static const char *const times[] = {
		"garbage", "2026-11-25 18:41", "2026-11-25 18:41:00+00:00", "2026-11-25T18:41:50",
		"2026-11-25T18:41:50Z", "2026-11-25 18:40:54.5", "2026-11-25 18:40:54.499999",
		"2026-11-25 18:40:54.5000001", "2026-11-25 17:00:00", "",
	};
	struct testdb *f = *state;
	struct store *st;
	struct cf_err err;
	struct timespec now = { NOW_SEC, 500000000 }, bound; /* bound: 18:40:54.5 */
	struct stuck res;
	char sql[256];

	assert_int_equal(store_open(f->path, STORE_CREATE | STORE_MIGRATE, &st, &err), 0);
	seed_stuck(f->path);
	liveness_bound(&now, 60, &bound);
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		bool up = liveness_worker_is_up(times[i], &now, 60);
		snprintf(sql, sizeof(sql), "UPDATE services SET updated_at = '%s' WHERE id = 3", times[i]);
		testdb_sql(f->path, sql);
		/* One definition: the mount's is_up and stuck/ never disagree. */
		if ((store_get_stuck(st, "Volume", V_EDGE, &bound, &res) == 0) == up)
			fail_msg("updated_at '%s': is_up %d, yet stuck/ says the opposite", times[i], up);
	}
	store_close(st);
}

static int collect_members(void *ctx, const struct service *svc)
{
	struct liveness_cluster *sum = ctx;
	struct timespec now = { NOW_SEC, 0 };
	liveness_cluster_add(sum, svc->updated_at, &now, 60);
	return 0;
}

static void test_cluster_and_its_members(void **state)
{
	struct testdb *f = *state;
	struct store *st;
	struct cf_err err;
	struct cluster cl;
	struct liveness_cluster sum;

	assert_int_equal(store_open(f->path, STORE_CREATE | STORE_MIGRATE, &st, &err), 0);
	seed_stuck(f->path);
	testdb_sql(f->path, "INSERT INTO clusters (name, \"binary\", disabled, created_at) "
		     "VALUES ('c1@lvm', 'cinder-volume', 1, '2026-11-25 09:00:00')");
	assert_int_equal(store_get_cluster(st, "c1@lvm", &cl), 0);
	assert_true(cl.disabled);
	assert_string_equal(cl.last_heartbeat, "2026-11-25 18:41:50.000000");
	assert_int_equal(store_get_cluster(st, "c1", &cl), -ENOENT);
	liveness_cluster_init(&sum);
	assert_int_equal(store_list_cluster_members(st, "c1@lvm", collect_members, &sum), 0);
	assert_int_equal(sum.num_hosts, 2);
	assert_int_equal(sum.num_down_hosts, 1);
	assert_true(sum.is_up);
	store_close(st);
}

static int count_services(void *ctx, const struct service *svc)
{
	(void)svc;
	(*(int *)ctx)++;
	return 0;
}

static void test_overlong_values_are_skipped_not_cut(void **state)
{
	struct testdb *f = *state;
	struct store *st;
	struct cf_err err;
	struct service svc;
	int n = 0;

	assert_int_equal(store_open(f->path, STORE_CREATE | STORE_MIGRATE, &st, &err), 0);
	testdb_sql(f->path, "INSERT INTO services (id, host, \"binary\") VALUES "
		     "(1, 'ok@lvm', 'cinder-volume'), (2, printf('%.300c', 'x'), 'cinder-volume')");
	assert_int_equal(store_get_service(st, 2, &svc), -EOVERFLOW);
	assert_int_equal(store_list_services(st, count_services, &n), 0);
	assert_int_equal(n, 1);
	store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_new_file_gets_every_migration, testdb_setup, testdb_teardown),
		cmocka_unit_test_setup_teardown(test_reopening_a_current_file_changes_nothing, testdb_setup, testdb_teardown),
		cmocka_unit_test_setup_teardown(test_old_file_is_brought_up_to_date, testdb_setup, testdb_teardown),
		cmocka_unit_test_setup_teardown(test_generations_move_out_of_the_requests,
						testdb_setup, testdb_teardown),
		cmocka_unit_test_setup_teardown(test_a_first_release_file_gains_every_later_migration, testdb_setup, testdb_teardown),
		cmocka_unit_test_setup_teardown(test_file_from_a_newer_cinderfs_is_refused, testdb_setup, testdb_teardown),
		cmocka_unit_test_setup_teardown(test_a_failed_migration_leaves_the_file_as_it_was, testdb_setup, testdb_teardown),
		cmocka_unit_test_setup_teardown(test_opening_a_missing_file_without_migrate_fails, testdb_setup, testdb_teardown),
		cmocka_unit_test_setup_teardown(test_register_reuses_the_row_of_the_same_host_and_binary, testdb_setup, testdb_teardown),
		cmocka_unit_test_setup_teardown(test_heartbeat_bumps_the_row_and_reports_a_removed_one, testdb_setup, testdb_teardown),
		cmocka_unit_test_setup_teardown(test_stuck_lists_rows_of_down_or_missing_owners_only, testdb_setup, testdb_teardown),
		cmocka_unit_test_setup_teardown(test_stuck_includes_rows_of_a_worker_that_never_beat,
						testdb_setup, testdb_teardown),
		cmocka_unit_test_setup_teardown(test_stuck_and_is_up_agree_on_hand_written_times,
						testdb_setup, testdb_teardown),
		cmocka_unit_test_setup_teardown(test_stuck_agrees_with_liveness_at_the_boundary, testdb_setup, testdb_teardown),
		cmocka_unit_test_setup_teardown(test_stuck_names_judge_owners_as_the_rows_do, testdb_setup, testdb_teardown),
		cmocka_unit_test_setup_teardown(test_stuck_times_are_the_rows_at_the_read, testdb_setup, testdb_teardown),
		cmocka_unit_test_setup_teardown(test_cluster_and_its_members, testdb_setup, testdb_teardown),
		cmocka_unit_test_setup_teardown(test_overlong_values_are_skipped_not_cut, testdb_setup, testdb_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
