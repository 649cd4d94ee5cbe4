/* The backend thread on a real SQLite file: own cleanup at start, jobs
 * taken after a wake-up, and nothing at all when the driver cannot start. */
#include <errno.h>
#include <time.h>

#include "jobs.h"
#include "testdb.h"

#define VOL "11111111-1111-4111-8111-111111111111"

static int start_ok(void *ctx, struct cf_err *err) { (void)ctx; (void)err; return 0; }
static int start_fails(void *ctx, struct cf_err *err)
{
	(void)ctx;
	return err_set(err, ENODEV, "volume group vg0 not found");
}
static int noop_volume(void *ctx, const struct volume *v, struct cf_err *err)
{
	(void)ctx; (void)v; (void)err;
	return 0;
}
static int noop_snapshot(void *ctx, const struct snapshot *s, struct cf_err *err)
{
	(void)ctx; (void)s; (void)err;
	return 0;
}

static int no_capacity(void *ctx, char *name, size_t size, unsigned long long *a,
		       unsigned long long *b, struct cf_err *err)
{
	(void)ctx; (void)name; (void)size; (void)a; (void)b;
	return err_set(err, ENOTSUP, "no volume group");
}

static const struct driver_ops good = {
	.name = "good", .start = start_ok, .delete_volume = noop_volume,
	.delete_snapshot = noop_snapshot, .remove_export = noop_volume,
	.clear_download = noop_volume, .capacity = no_capacity,
};
static const struct driver_ops broken = {
	.name = "broken", .start = start_fails, .delete_volume = noop_volume,
	.delete_snapshot = noop_snapshot, .remove_export = noop_volume,
	.clear_download = noop_volume, .capacity = no_capacity,
};

/* Worker 1 left a volume in creating before it (re)started. */
static void seed(struct testdb *t)
{
	testdb_sql(t->path,
		   "INSERT INTO services (id, host, \"binary\") VALUES (1, 'w1@lvm', 'cinder-volume');"
		   "INSERT INTO volumes (id, status, deleted) VALUES ('" VOL "', 'creating', 0);"
		   "INSERT INTO workers (resource_type, resource_id, status, service_id, updated_at) "
		   "VALUES ('Volume', '" VOL "', 'creating', 1, '2026-11-25 10:00:00')");
}

static void wait_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static struct jobs *start(struct testdb *t, const struct driver_ops *ops)
{
	struct jobs_config cfg = {
		.db_path = t->path, .service_id = 1, .cluster_name = NULL,
		.driver = { ops, NULL }, .poll_ms = 50, .keep_requests = 0,
	};
	struct jobs *j;

	dbtime_now(&cfg.started);
	assert_int_equal(jobs_start(&cfg, &j), 0);
	return j;
}

static void test_own_rows_are_cleaned_at_start(void **state)
{
	struct testdb *t = *state;
	struct jobs *j;

	seed(t);
	j = start(t, &good);
	for (int i = 0; i < 100 && testdb_int(t->path, "SELECT count(*) FROM workers") != 0; i++)
		wait_ms(20);
	jobs_stop(j);
	assert_int_equal(testdb_int(t->path, "SELECT count(*) FROM workers"), 0);
	assert_int_equal(testdb_int(t->path, "SELECT status = 'error' FROM volumes"), 1);
}

static void test_a_driver_that_cannot_start_cleans_nothing(void **state)
{
	struct testdb *t = *state;
	struct jobs *j;

	seed(t);
	/* A job only this worker may take is waiting too: it is not run, and
	 * since nobody else can take it, it fails saying why instead of
	 * waiting for ever. */
	testdb_sql(t->path, "INSERT INTO cleanup_requests (id, created_at, spec, filter) "
			    "VALUES (1, '2026-11-25 11:00:00', '', '{}');"
			    "INSERT INTO cleanup_jobs (request_id, service_id, until, dest_service, state) "
			    "VALUES (1, 1, '2026-11-25 11:00:00', 1, 'queued')");
	j = start(t, &broken);
	jobs_wake(j);
	wait_ms(400);
	jobs_stop(j);
	assert_int_equal(testdb_int(t->path, "SELECT count(*) FROM workers"), 1);
	assert_int_equal(testdb_int(t->path, "SELECT status = 'creating' FROM volumes"), 1);
	assert_int_equal(testdb_int(t->path, "SELECT state = 'failed' AND taken_by IS NULL AND error = "
				    "'nobody can take it: worker 1, the only one that may clean it, is down "
				    "or cannot clean' FROM cleanup_jobs"), 1);
	/* And the worker said why it cannot clean. */
	assert_int_equal(testdb_int(t->path, "SELECT can_clean = 0 AND reason LIKE '%vg0 not found%' "
				    "FROM worker_state WHERE service_id = 1"), 1);
}

/* A create queued before the driver failed to start (in the moment
 * before the worker said so) ends in error, saying why, not in creating
 * for ever. */
static void test_a_driver_that_cannot_start_ends_its_queued_operations(void **state)
{
	struct testdb *t = *state;
	struct jobs *j;
	char error[512];

	testdb_sql(t->path,
		   "INSERT INTO services (id, host, \"binary\") VALUES (1, 'w1@lvm', 'cinder-volume');"
		   "INSERT INTO volumes (id, status, deleted, created_at) VALUES ('" VOL "', 'creating', 0, "
		   "strftime('%Y-%m-%d %H:%M:%f', 'now'));"
		   "INSERT INTO workers (resource_type, resource_id, status, service_id, updated_at) "
		   "VALUES ('Volume', '" VOL "', 'creating', 1, strftime('%Y-%m-%d %H:%M:%f', 'now'));"
		   "INSERT INTO volume_operations (created_at, kind, resource_id, service_id) "
		   "VALUES (strftime('%Y-%m-%d %H:%M:%f', 'now'), 'create_volume', '" VOL "', 1)");
	j = start(t, &broken);
	for (int i = 0; i < 100 && testdb_int(t->path, "SELECT count(*) FROM workers") != 0; i++)
		wait_ms(20);
	jobs_stop(j);
	assert_int_equal(testdb_int(t->path, "SELECT status = 'error' FROM volumes"), 1);
	testdb_text(t->path, "SELECT state || ': ' || error FROM volume_operations", error, sizeof(error));
	assert_string_equal(error, "failed: the storage driver of worker 1 (w1@lvm) is not ready: "
			    "volume group vg0 not found");
}

static void test_queued_job_is_taken_and_finished(void **state)
{
	struct testdb *t = *state;
	struct jobs *j;

	seed(t);
	/* The row belongs to worker 2 (dead); worker 1 is addressed. */
	testdb_sql(t->path, "INSERT INTO services (id, host, \"binary\") VALUES (2, 'w2@lvm', 'cinder-volume');"
			    "UPDATE workers SET service_id = 2;");
	j = start(t, &good);
	wait_ms(100);
	testdb_sql(t->path, "INSERT INTO cleanup_requests (id, created_at, spec, filter) "
			    "VALUES (1, '2026-11-25 11:00:00', '', '{}');"
			    "INSERT INTO cleanup_jobs (request_id, service_id, until, dest_service, state) "
			    "VALUES (1, 2, '2026-11-25 11:00:00', 1, 'queued')");
	jobs_wake(j);
	for (int i = 0; i < 100 && testdb_int(t->path, "SELECT state != 'done' FROM cleanup_jobs"); i++)
		wait_ms(20);
	jobs_stop(j);
	assert_int_equal(testdb_int(t->path, "SELECT state = 'done' AND taken_by = 1 FROM cleanup_jobs"), 1);
	assert_int_equal(testdb_int(t->path, "SELECT count(*) FROM workers"), 0);
	assert_int_equal(testdb_int(t->path, "SELECT state = 'cleaned' FROM cleanup_progress"), 1);
}

#define T(name) cmocka_unit_test_setup_teardown(name, testdb_setup_store, testdb_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_own_rows_are_cleaned_at_start),
		T(test_a_driver_that_cannot_start_cleans_nothing),
		T(test_a_driver_that_cannot_start_ends_its_queued_operations),
		T(test_queued_job_is_taken_and_finished),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
