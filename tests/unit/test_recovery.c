/* Jobs that always end, on a real SQLite file: a running job whose taker
 * died goes back to the queue with what it had claimed; a queued job
 * nobody up and able to clean may take fails with the reason; an ended
 * job leaves no entry waiting; an admin's cancel. */
#include <errno.h>

#include "liveness.h"
#include "testdb.h"

#define NOW "2026-11-25 18:41:54.000000"
#define NOW_SEC 1795632114
#define UNTIL "2026-11-25 18:00:00.000000"
#define VOL "11111111-1111-4111-8111-111111111111"
#define VOL2 "22222222-2222-4222-8222-222222222222"

static const struct timespec now = { NOW_SEC, 0 };

/* c1@lvm: 1 dead (its rows), 2 up, 3 dead (took the job, then died);
 * c2@lvm: 4 dead, 5 up but unable to clean (its driver did not start). */
static void seed(struct testdb *t)
{
	testdb_sql(t->path,
	    "INSERT INTO services (id, host, \"binary\", cluster_name, created_at, updated_at) VALUES"
	    " (1, 'd1@lvm', 'cinder-volume', 'c1@lvm', '2026-11-25 10:00:00', '2026-11-25 17:00:00'),"
	    " (2, 'u2@lvm', 'cinder-volume', 'c1@lvm', '2026-11-25 10:00:00', '2026-11-25 18:41:50'),"
	    " (3, 't3@lvm', 'cinder-volume', 'c1@lvm', '2026-11-25 10:00:00', '2026-11-25 18:20:00'),"
	    " (4, 'd4@lvm', 'cinder-volume', 'c2@lvm', '2026-11-25 10:00:00', '2026-11-25 17:00:00'),"
	    " (5, 'u5@lvm', 'cinder-volume', 'c2@lvm', '2026-11-25 10:00:00', '2026-11-25 18:41:50');"
	    "INSERT INTO worker_state (service_id, can_clean, reason, updated_at) VALUES"
	    " (5, 0, 'volume group vg0 not found', '" NOW "');"
	    "INSERT INTO cleanup_requests (id, created_at, spec, filter) VALUES"
	    " (1, '" UNTIL "', '', '{}');");
}

static void recover(struct testdb *t, struct store_recovery *r)
{
	struct timespec bound;
	liveness_bound(&now, 60, &bound);
	assert_int_equal(store_recover_jobs(t->st, 2, &bound, &now, r), 0);
}

static void text(struct testdb *t, const char *sql, const char *want)
{
	char got[512];
	testdb_text(t->path, sql, got, sizeof(got));
	if (strcmp(got, want) != 0)
		fail_msg("%s: got '%s', want '%s'", sql, got, want);
}

static void test_a_dead_takers_job_is_queued_again_with_what_it_had_claimed(void **state)
{
	struct testdb *t = *state;
	struct store_recovery r;
	struct job j;

	seed(t);
	/* Worker 3 took the job, claimed VOL (not yet ended) and cleaned
	 * VOL2, then died. */
	testdb_sql(t->path,
	    "INSERT INTO cleanup_jobs (id, request_id, service_id, until, dest_cluster, state, taken_by,"
	    " attempts) VALUES (1, 1, 1, '" UNTIL "', 'c1@lvm', 'running', 3, 1);"
	    "INSERT INTO workers (resource_type, resource_id, status, service_id, race_preventer,"
	    " created_at, updated_at) VALUES ('Volume', '" VOL "', 'creating', 3, 1, '" UNTIL "',"
	    " '2026-11-25 18:10:00');"
	    "INSERT INTO cleanup_progress (request_id, job_id, resource_type, resource_id, state,"
	    " updated_at) VALUES (1, 1, 'Volume', '" VOL "', 'claimed', '" NOW "'),"
	    " (1, 1, 'Volume', '" VOL2 "', 'cleaned', '" NOW "');");
	recover(t, &r);
	assert_int_equal(r.requeued, 1);
	text(t, "SELECT state || '|' || COALESCE(taken_by, '') || '|' || error FROM cleanup_jobs",
	     "queued||taken again: worker 3, which had taken it, is down");
	/* The claimed row is the dead worker's again, reachable by the job. */
	text(t, "SELECT service_id || '|' || updated_at || '|' || race_preventer FROM workers",
	     "1|" UNTIL "|2");
	text(t, "SELECT state FROM cleanup_progress WHERE resource_id = '" VOL "'", "queued");
	text(t, "SELECT state FROM cleanup_progress WHERE resource_id = '" VOL2 "'", "cleaned");
	/* A live member takes it, and counts the attempt. */
	assert_int_equal(store_take_job(t->st, 2, "c1@lvm", &now, &j), 0);
	assert_int_equal(testdb_int(t->path, "SELECT attempts FROM cleanup_jobs"), 2);
	/* Recovery leaves a live taker's job alone. */
	recover(t, &r);
	assert_int_equal(r.requeued, 0);
}

static void test_a_job_nobody_can_take_fails_with_the_reason(void **state)
{
	struct testdb *t = *state;
	struct store_recovery r;

	seed(t);
	testdb_sql(t->path,
	    /* c2's only live member cannot clean; 4 alone, unclustered, is down */
	    "INSERT INTO cleanup_jobs (id, request_id, service_id, until, dest_cluster, dest_service, state)"
	    " VALUES (1, 1, 4, '" UNTIL "', 'c2@lvm', NULL, 'queued'),"
	    " (2, 1, 4, '" UNTIL "', NULL, 4, 'queued'),"
	    /* c1 has a live member able to clean: stays queued */
	    " (3, 1, 1, '" UNTIL "', 'c1@lvm', NULL, 'queued'),"
	    /* anyone's (a scheduler's rows): stays queued while anyone can */
	    " (4, 1, 1, '" UNTIL "', NULL, NULL, 'queued');"
	    "INSERT INTO cleanup_progress (request_id, job_id, resource_type, resource_id, state,"
	    " updated_at) VALUES (1, 1, 'Volume', '" VOL "', 'queued', '" NOW "');");
	recover(t, &r);
	assert_int_equal(r.failed, 2);
	text(t, "SELECT state || '|' || error FROM cleanup_jobs WHERE id = 1",
	     "failed|nobody can take it: no member of cluster c2@lvm is up and able to clean");
	text(t, "SELECT state || '|' || error FROM cleanup_jobs WHERE id = 2",
	     "failed|nobody can take it: worker 4, the only one that may clean it, is down or "
	     "cannot clean");
	text(t, "SELECT group_concat(state) FROM cleanup_jobs WHERE id IN (3, 4)", "queued,queued");
	text(t, "SELECT state || '|' || detail FROM cleanup_progress",
	     "failed|the job failed: nobody can take it: no member of cluster c2@lvm is up and able "
	     "to clean");
}

/* Thousands of jobs of a dead cluster (a {} after a rack went down) fail
 * in batches, every one with its reason and its resources, none twice; a
 * job a live worker can take is left queued among them. */
static void test_thousands_of_undeliverable_jobs_fail_in_batches(void **state)
{
	struct testdb *t = *state;
	struct store_recovery r;

	seed(t);
	testdb_sql(t->path,
	    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1300)"
	    " INSERT INTO cleanup_jobs (id, request_id, service_id, until, dest_cluster, dest_service,"
	    " state) SELECT i, 1, 4, '" UNTIL "', CASE WHEN i % 2 THEN 'c2@lvm' END,"
	    " CASE WHEN i % 2 = 0 THEN 4 END, 'queued' FROM n;"
	    "UPDATE cleanup_jobs SET service_id = 1, dest_cluster = 'c1@lvm', dest_service = NULL"
	    " WHERE id = 777;"
	    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1300)"
	    " INSERT INTO cleanup_progress (request_id, job_id, resource_type, resource_id, state,"
	    " updated_at) SELECT 1, i, 'Volume', 'vol-' || i, 'queued', '" NOW "' FROM n;");
	recover(t, &r);
	assert_int_equal(r.failed, 1299);
	assert_int_equal(testdb_int(t->path, "SELECT count(*) FROM cleanup_jobs WHERE state = 'failed'"
				    " AND error = 'nobody can take it: no member of cluster c2@lvm is up and"
				    " able to clean' AND id % 2 = 1"), 649);
	assert_int_equal(testdb_int(t->path, "SELECT count(*) FROM cleanup_jobs WHERE state = 'failed'"
				    " AND error LIKE 'nobody can take it: worker 4, %' AND id % 2 = 0"), 650);
	text(t, "SELECT state FROM cleanup_jobs WHERE id = 777", "queued");
	assert_int_equal(testdb_int(t->path, "SELECT count(*) FROM cleanup_progress p JOIN cleanup_jobs j"
				    " ON j.id = p.job_id WHERE p.state = 'failed' AND p.detail ="
				    " 'the job failed: ' || j.error AND p.worker_id IS NULL"), 1299);
	text(t, "SELECT state FROM cleanup_progress WHERE job_id = 777", "queued");
	/* Nothing is failed twice. */
	recover(t, &r);
	assert_int_equal(r.failed, 0);
}

static void test_a_job_for_anyone_fails_only_when_nobody_can_clean(void **state)
{
	struct testdb *t = *state;
	struct store_recovery r;

	seed(t);
	testdb_sql(t->path,
	    "INSERT INTO cleanup_jobs (id, request_id, service_id, until, state) VALUES"
	    " (1, 1, 1, '" UNTIL "', 'queued');"
	    /* every live worker cannot clean */
	    "INSERT INTO worker_state (service_id, can_clean, updated_at) VALUES (2, 0, '" NOW "');");
	recover(t, &r);
	text(t, "SELECT state || '|' || error FROM cleanup_jobs",
	     "failed|nobody can take it: no worker is up and able to clean");
}

static void test_an_ended_job_leaves_no_entry_waiting(void **state)
{
	struct testdb *t = *state;

	seed(t);
	/* VOL's operation ended before the job reached it (no row); VOL2's
	 * row is still there, changed after the request. */
	testdb_sql(t->path,
	    "INSERT INTO cleanup_jobs (id, request_id, service_id, until, state, taken_by) VALUES"
	    " (1, 1, 1, '" UNTIL "', 'running', 2);"
	    "INSERT INTO workers (resource_type, resource_id, status, service_id, created_at, updated_at)"
	    " VALUES ('Volume', '" VOL2 "', 'creating', 1, '" NOW "', '" NOW "');"
	    "INSERT INTO cleanup_progress (request_id, job_id, resource_type, resource_id, state,"
	    " updated_at) VALUES (1, 1, 'Volume', '" VOL "', 'queued', '" UNTIL "'),"
	    " (1, 1, 'Volume', '" VOL2 "', 'queued', '" UNTIL "');");
	assert_int_equal(store_finish_job(t->st, 1, 2, "done", NULL, &now), 0);
	text(t, "SELECT state || '|' || detail FROM cleanup_progress WHERE resource_id = '" VOL "'",
	     "skipped|its operation ended before this job reached it (its owner or another cleanup "
	     "finished it)");
	text(t, "SELECT state || '|' || detail FROM cleanup_progress WHERE resource_id = '" VOL2 "'",
	     "skipped|not reached: its operation changed after the request was accepted");
}

static void test_a_failed_job_fails_what_it_did_not_reach(void **state)
{
	struct testdb *t = *state;

	seed(t);
	testdb_sql(t->path,
	    "INSERT INTO cleanup_jobs (id, request_id, service_id, until, state, taken_by) VALUES"
	    " (1, 1, 1, '" UNTIL "', 'running', 2);"
	    "INSERT INTO cleanup_progress (request_id, job_id, resource_type, resource_id, state,"
	    " updated_at) VALUES (1, 1, 'Volume', '" VOL "', 'queued', '" UNTIL "');");
	assert_int_equal(store_finish_job(t->st, 1, 2, "failed", "database error: disk full", &now), 0);
	text(t, "SELECT state || '|' || detail FROM cleanup_progress",
	     "failed|the job failed: database error: disk full");
}

static void test_an_admin_cancels_a_request(void **state)
{
	struct testdb *t = *state;
	int n = -1;
	bool mine = false, cancelled = false;

	seed(t);
	testdb_sql(t->path,
	    "INSERT INTO cleanup_jobs (id, request_id, service_id, until, state, taken_by) VALUES"
	    " (1, 1, 1, '" UNTIL "', 'queued', NULL), (2, 1, 4, '" UNTIL "', 'running', 2);"
	    "INSERT INTO cleanup_progress (request_id, job_id, resource_type, resource_id, state,"
	    " updated_at) VALUES (1, 1, 'Volume', '" VOL "', 'queued', '" UNTIL "');");
	assert_int_equal(store_cancel_request(t->st, 1, 1000, &now, &n), 0);
	assert_int_equal(n, 1);
	text(t, "SELECT state || '|' || error FROM cleanup_jobs WHERE id = 1", "cancelled|cancelled by uid 1000");
	/* The running one is stopped by its taker, before its next row. */
	text(t, "SELECT state FROM cleanup_jobs WHERE id = 2", "running");
	text(t, "SELECT state || '|' || detail FROM cleanup_progress", "cancelled|cancelled by uid 1000");
	assert_int_equal(store_job_hold(t->st, 2, 2, &mine, &cancelled), 0);
	assert_true(mine);
	assert_true(cancelled);
	assert_int_equal(store_finish_job(t->st, 2, 2, "cancelled", "cancelled by an admin", &now), 0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, testdb_setup_store, testdb_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_a_dead_takers_job_is_queued_again_with_what_it_had_claimed),
		T(test_a_job_nobody_can_take_fails_with_the_reason),
		T(test_thousands_of_undeliverable_jobs_fail_in_batches),
		T(test_a_job_for_anyone_fails_only_when_nobody_can_clean),
		T(test_an_ended_job_leaves_no_entry_waiting),
		T(test_a_failed_job_fails_what_it_did_not_reach),
		T(test_an_admin_cancels_a_request),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
