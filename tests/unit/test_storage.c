/* Storage under faults, on a real SQLite file: the write path's space check
 * against the freshest measurement of a volume group shared by workers,
 * a worker whose driver did not start, its queued operations ended, each
 * resource's last error, and the export check against a fake driver. */
#include <errno.h>

#include "capacity.h"
#include "exports.h"
#include "testdb.h"

#define GIB 1073741824ULL
#define V1 "11111111-1111-4111-8111-111111111111"
#define V2 "22222222-2222-4222-8222-222222222222"
#define V3 "33333333-3333-4333-8333-333333333333"
#define NEW "44444444-4444-4444-8444-444444444444"
#define NEW2 "55555555-5555-4555-8555-555555555555"

/* 2026-11-25 12:00:00 UTC, the measurements' time in most tests. */
#define MEASURED_SEC 1795608000

/* w1 and w2 share volume group vg0; w3 has vg9 of its own. */
static void seed_workers(struct testdb *t)
{
	testdb_sql(t->path,
		   "INSERT INTO services (id, host, \"binary\", created_at) VALUES "
		   " (1, 'w1@lvm', 'cinder-volume', '2026-11-25 10:00:00'),"
		   " (2, 'w2@lvm', 'cinder-volume', '2026-11-25 10:00:00'),"
		   " (3, 'w3@lvm', 'cinder-volume', '2026-11-25 10:00:00');");
}

static void measure(struct testdb *t, int64_t id, const char *vg, unsigned long long free_gib,
		    long sec)
{
	struct timespec at = { sec, 0 };
	assert_int_equal(store_set_capacity(t->st, id, vg, 100 * GIB, free_gib * GIB, &at), 0);
}

static int create(struct testdb *t, int64_t id, const char *host, const char *uuid, long long gib,
		  const struct timespec *started, struct cf_err *err)
{
	struct new_volume v = { .id = uuid, .display_name = "v", .size_gib = gib, .host = host,
				.service_id = id, .started = started };
	struct timespec now = { MEASURED_SEC + 600, 0 };
	return store_add_volume(t->st, &v, &now, NULL, err);
}

static void test_volumes_changed_after_the_measurement_count_against_it(void **state)
{
	struct testdb *t = *state;
	struct cf_err err = { "" };

	seed_workers(t);
	measure(t, 1, "vg0", 4, MEASURED_SEC);
	/* V1 was made before the measurement (in its 4 GiB free already); V2
	 * became available after it began (its LV may be after vgs looked);
	 * V3 is still being made. */
	testdb_sql(t->path,
		   "INSERT INTO volumes (id, host, size, status, deleted, created_at, updated_at) VALUES "
		   " ('" V1 "', 'w1@lvm', 1, 'available', 0, '2026-11-25 11:00:00', '2026-11-25 11:00:01'),"
		   " ('" V2 "', 'w1@lvm#pool', 1, 'available', 0, '2026-11-25 11:59:59', '2026-11-25 12:00:00.500000'),"
		   " ('" V3 "', 'w1@lvm', 1, 'creating', 0, '2026-11-25 11:59:00', '2026-11-25 11:59:00');");
	assert_int_equal(create(t, 1, "w1@lvm", NEW, 3, NULL, &err), -ENOSPC);
	assert_string_equal(err.msg, "Volume group vg0 has 2 GiB free; a 3 GiB volume does not fit.");
	assert_int_equal(create(t, 1, "w1@lvm", NEW, 2, NULL, &err), 0);
	/* The accepted one is creating: the next is checked against 0. */
	assert_int_equal(create(t, 1, "w1@lvm", NEW2, 1, NULL, &err), -ENOSPC);
	assert_string_equal(err.msg, "Volume group vg0 has 0 GiB free; a 1 GiB volume does not fit.");
	assert_int_equal(testdb_int(t->path, "SELECT count(*) FROM volumes"), 4);
}

static void test_workers_sharing_a_group_count_each_others_volumes(void **state)
{
	struct testdb *t = *state;
	struct cf_err err = { "" };

	seed_workers(t);
	measure(t, 1, "vg0", 3, MEASURED_SEC);
	measure(t, 2, "vg0", 3, MEASURED_SEC);
	measure(t, 3, "vg9", 50, MEASURED_SEC);
	assert_int_equal(create(t, 2, "w2@lvm", V1, 2, NULL, &err), 0);
	/* w1 sees what w2 asked for; w3, on a group of its own, does not
	 * count against either. */
	testdb_sql(t->path, "INSERT INTO volumes (id, host, size, status, deleted, created_at, updated_at) "
			    "VALUES ('" V3 "', 'w3@lvm', 40, 'creating', 0, '2026-11-25 12:05:00', "
			    "'2026-11-25 12:05:00')");
	assert_int_equal(create(t, 1, "w1@lvm", V2, 2, NULL, &err), -ENOSPC);
	assert_string_equal(err.msg, "Volume group vg0 has 1 GiB free; a 2 GiB volume does not fit.");
	assert_int_equal(create(t, 1, "w1@lvm", V2, 1, NULL, &err), 0);
	/* A snapshot being made takes its volume's size from the group too. */
	testdb_sql(t->path, "UPDATE volumes SET status = 'available', updated_at = '2026-11-25 11:00:00';"
			    "INSERT INTO snapshots (id, volume_id, volume_size, status, deleted, created_at, "
			    "updated_at) VALUES ('" NEW2 "', '" V1 "', 2, 'creating', 0, "
			    "'2026-11-25 12:06:00', '2026-11-25 12:06:00')");
	assert_int_equal(create(t, 2, "w2@lvm", NEW, 2, NULL, &err), -ENOSPC);
	assert_string_equal(err.msg, "Volume group vg0 has 1 GiB free; a 2 GiB volume does not fit.");
}

/* The "0 GiB free" of a worker whose last measurement was taken when the
 * group was full: a fresher one by a peer sharing the group (after its
 * deletes) is the one that counts. */
static void test_the_freshest_measurement_of_the_group_counts(void **state)
{
	struct testdb *t = *state;
	struct cf_err err = { "" };

	seed_workers(t);
	measure(t, 1, "vg0", 0, MEASURED_SEC);
	assert_int_equal(create(t, 1, "w1@lvm", V1, 1, NULL, &err), -ENOSPC);
	assert_string_equal(err.msg, "Volume group vg0 has 0 GiB free; a 1 GiB volume does not fit.");
	measure(t, 2, "vg0", 5, MEASURED_SEC + 60);
	assert_int_equal(create(t, 1, "w1@lvm", V1, 5, NULL, &err), 0);
	/* And w1's own newer measurement wins over w2's older one. */
	measure(t, 1, "vg0", 7, MEASURED_SEC + 120);
	testdb_sql(t->path, "UPDATE volumes SET status = 'available', updated_at = '2026-11-25 12:01:00'");
	assert_int_equal(create(t, 2, "w2@lvm", V2, 7, NULL, &err), 0);
}

static void test_a_worker_whose_driver_did_not_start_refuses_creates(void **state)
{
	struct testdb *t = *state;
	struct cf_err err = { "" };
	struct timespec before = { MEASURED_SEC - 60, 0 }, after = { MEASURED_SEC + 60, 0 };

	seed_workers(t);
	testdb_sql(t->path, "INSERT INTO worker_state (service_id, can_clean, reason, updated_at) VALUES "
			    "(3, 0, 'volume group vg9 not found', '2026-11-25 12:00:00.000000')");
	assert_int_equal(create(t, 3, "w3@lvm", V1, 1, &before, &err), -EROFS);
	assert_string_equal(err.msg, "Worker 3 (w3@lvm) makes no volumes: its storage driver is not "
			    "ready: volume group vg9 not found");
	assert_int_equal(create(t, 3, "w3@lvm", V1, 1, NULL, &err), -EROFS);
	/* A state from before this daemon started is a previous life's: not
	 * a refusal; but a group never measured cannot be checked. */
	assert_int_equal(create(t, 3, "w3@lvm", V1, 1, &after, &err), -EAGAIN);
	assert_string_equal(err.msg, "Worker 3 (w3@lvm) has not measured its volume group yet (its "
			    "storage driver is starting); try again in a moment.");
	measure(t, 3, "vg9", 5, MEASURED_SEC);
	assert_int_equal(create(t, 3, "w3@lvm", V1, 1, &after, &err), 0);
	assert_int_equal(testdb_int(t->path, "SELECT count(*) FROM volumes"), 1);
}

static void test_queued_operations_of_a_driver_that_is_not_ready_end_saying_why(void **state)
{
	struct testdb *t = *state;
	struct cf_err err = { "" };
	struct volume_row row;
	struct timespec now = { MEASURED_SEC + 900, 0 };
	int failed = 0;

	seed_workers(t);
	measure(t, 1, "vg0", 10, MEASURED_SEC);
	assert_int_equal(create(t, 1, "w1@lvm", V1, 1, NULL, &err), 0);
	testdb_sql(t->path, "INSERT INTO volumes (id, host, size, status, deleted, created_at) VALUES "
			    "('" V2 "', 'w1@lvm', 1, 'available', 0, '2026-11-25 11:00:00')");
	assert_int_equal(store_request_volume_delete(t->st, V2, &now, NULL, &err), 0);
	assert_int_equal(store_fail_queued_ops(t->st, 1, "volume group vg0 not found", &now, &failed), 0);
	assert_int_equal(failed, 2);
	assert_int_equal(testdb_int(t->path, "SELECT count(*) FROM workers"), 0);
	assert_int_equal(testdb_int(t->path, "SELECT count(*) FROM volume_operations WHERE state = 'failed'"), 2);
	assert_int_equal(store_get_volume_row(t->st, V1, &row), 0);
	assert_string_equal(row.status, "error");
	assert_string_equal(row.last_error, "the storage driver of worker 1 (w1@lvm) is not ready: "
			    "volume group vg0 not found");
	assert_int_equal(store_get_volume_row(t->st, V2, &row), 0);
	assert_string_equal(row.status, "error_deleting");
	/* Nothing queued: nothing to do. */
	assert_int_equal(store_fail_queued_ops(t->st, 1, "x", &now, &failed), 0);
	assert_int_equal(failed, 0);
}

/* A delete runs where Cinder's RPC would send it: the host's worker while
 * it is up; a live member of the volume's cluster able to clean when that
 * one is down (a snapshot's by its volume's); the host's worker still for
 * an unclustered volume (its delete waits for it). */
static void test_a_delete_goes_to_a_live_member_when_the_worker_is_down(void **state)
{
	struct testdb *t = *state;
	struct cf_err err = { "" };
	struct timespec now = { MEASURED_SEC + 900, 0 }, bound = { MEASURED_SEC + 840, 0 };

	/* c1: w1 down, w2 up but its driver did not start, w4 up; w3 down,
	 * unclustered. */
	testdb_sql(t->path,
		   "INSERT INTO services (id, host, \"binary\", cluster_name, created_at, updated_at) VALUES "
		   " (1, 'w1@lvm', 'cinder-volume', 'c1@lvm', '2026-11-25 10:00:00', '2026-11-25 12:00:00'),"
		   " (2, 'w2@lvm', 'cinder-volume', 'c1@lvm', '2026-11-25 10:00:00', '2026-11-25 12:14:55'),"
		   " (3, 'w3@lvm', 'cinder-volume', NULL, '2026-11-25 10:00:00', '2026-11-25 12:00:00'),"
		   " (4, 'w4@lvm', 'cinder-volume', 'c1@lvm', '2026-11-25 10:00:00', '2026-11-25 12:14:58'),"
		   " (5, 'w5@lvm', 'cinder-scheduler', 'c1@lvm', '2026-11-25 10:00:00', '2026-11-25 12:14:59');"
		   "INSERT INTO worker_state (service_id, can_clean, reason, updated_at) VALUES "
		   " (2, 0, 'volume group vg0 not found', '2026-11-25 12:14:55');"
		   "INSERT INTO volumes (id, host, cluster_name, size, status, deleted, created_at) VALUES "
		   " ('" V1 "', 'w1@lvm#vg0', 'c1@lvm', 1, 'available', 0, '2026-11-25 11:00:00'),"
		   " ('" V2 "', 'w3@lvm#vg0', NULL, 1, 'available', 0, '2026-11-25 11:00:00'),"
		   " ('" V3 "', 'w4@lvm#vg0', 'c1@lvm', 1, 'available', 0, '2026-11-25 11:00:00'),"
		   " ('" NEW "', 'w1@lvm#vg0', 'c1@lvm', 1, 'available', 0, '2026-11-25 11:00:00');"
		   "INSERT INTO snapshots (id, volume_id, status, deleted, created_at) VALUES "
		   " ('" NEW2 "', '" NEW "', 'available', 0, '2026-11-25 11:00:00');");
	assert_int_equal(store_request_volume_delete(t->st, V1, &now, &bound, &err), 0);
	assert_int_equal(store_request_volume_delete(t->st, V2, &now, &bound, &err), 0);
	assert_int_equal(store_request_volume_delete(t->st, V3, &now, &bound, &err), 0);
	assert_int_equal(store_request_snapshot_delete(t->st, NEW2, &now, &bound, &err), 0);
	assert_int_equal(testdb_int(t->path, "SELECT service_id FROM volume_operations WHERE "
				    "resource_id = '" V1 "'"), 4);
	assert_int_equal(testdb_int(t->path, "SELECT service_id FROM workers WHERE "
				    "resource_id = '" V1 "'"), 4);
	assert_int_equal(testdb_int(t->path, "SELECT service_id FROM volume_operations WHERE "
				    "resource_id = '" V2 "'"), 3);
	assert_int_equal(testdb_int(t->path, "SELECT service_id FROM volume_operations WHERE "
				    "resource_id = '" V3 "'"), 4);
	assert_int_equal(testdb_int(t->path, "SELECT service_id FROM volume_operations WHERE "
				    "resource_id = '" NEW2 "'"), 4);
	/* No live member able to clean: the host's worker keeps it. */
	testdb_sql(t->path, "UPDATE services SET updated_at = '2026-11-25 12:00:00' WHERE id = 4;"
			    "UPDATE volumes SET status = 'available' WHERE id = '" V3 "';"
			    "INSERT INTO volumes (id, host, cluster_name, size, status, deleted, created_at) "
			    "VALUES ('" V1 "0', 'w1@lvm', 'c1@lvm', 1, 'error', 0, '2026-11-25 11:00:00')");
	assert_int_equal(store_request_volume_delete(t->st, V1 "0", &now, &bound, &err), 0);
	assert_int_equal(testdb_int(t->path, "SELECT service_id FROM volume_operations WHERE "
				    "resource_id = '" V1 "0'"), 1);
}

static void test_last_error_is_the_latest_failed_operations(void **state)
{
	struct testdb *t = *state;
	struct volume_row row;

	testdb_sql(t->path,
		   "INSERT INTO volumes (id, size, status, deleted) VALUES ('" V1 "', 1, 'available', 0),"
		   " ('" V2 "', 1, 'available', 0);"
		   "INSERT INTO snapshots (id, volume_id, status, deleted) VALUES ('" V3 "', '" V1 "', 'error', 0);"
		   "INSERT INTO volume_operations (created_at, kind, resource_id, service_id, state, error) VALUES"
		   " ('2026-11-25 10:00:00', 'delete_volume', '" V1 "', 1, 'failed', 'first'),"
		   " ('2026-11-25 10:01:00', 'delete_volume', '" V1 "', 1, 'failed', 'tgtd is not running'),"
		   " ('2026-11-25 10:02:00', 'create_snapshot', '" V1 "', 1, 'done', NULL),"
		   " ('2026-11-25 10:03:00', 'create_snapshot', '" V3 "', 1, 'failed', 'snapshots need device-mapper');");
	assert_int_equal(store_get_volume_row(t->st, V1, &row), 0);
	assert_string_equal(row.last_error, "tgtd is not running");
	assert_int_equal(store_get_volume_row(t->st, V2, &row), 0);
	assert_string_equal(row.last_error, "");
	assert_int_equal(store_get_snapshot_row(t->st, V3, &row), 0);
	assert_string_equal(row.last_error, "snapshots need device-mapper");
}

/* last_error is looked up per volume in every listing: by index, not by
 * reading every operation ever queued. */
static void test_last_error_is_found_by_index(void **state)
{
	struct testdb *t = *state;
	sqlite3 *db;
	sqlite3_stmt *stmt;
	char plan[1024] = "";

	assert_int_equal(sqlite3_open(t->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN SELECT (SELECT o.error FROM "
					    "volume_operations o WHERE o.resource_id = v.id AND "
					    "o.state = 'failed' ORDER BY o.id DESC LIMIT 1) FROM volumes v",
					    -1, &stmt, NULL), SQLITE_OK);
	while (sqlite3_step(stmt) == SQLITE_ROW)
		snprintf(plan + strlen(plan), sizeof(plan) - strlen(plan), "%s;",
			 (const char *)sqlite3_column_text(stmt, 3));
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	assert_non_null(strstr(plan, "USING INDEX volume_operations_resource (resource_id=?)"));
}

/* A fake driver: tgtd "lost" every export but V1's. */
struct fake_tgt {
	int calls;
	int rc;
	char seen[4][UUID_LEN];
};

static int fake_restore(void *ctx, struct export_record *recs, size_t count, int *restored,
			struct cf_err *err)
{
	struct fake_tgt *f = ctx;

	f->calls++;
	*restored = 0;
	if (f->rc)
		return err_set(err, f->rc, "tgtd is not running (control port 4711): gone");
	for (size_t i = 0; i < count && i < 4; i++) {
		snprintf(f->seen[i], UUID_LEN, "%s", recs[i].volume_id);
		if (strcmp(recs[i].volume_id, V1) == 0)
			continue;
		recs[i].restored = true;
		(*restored)++;
		if (strcmp(recs[i].volume_id, V2) == 0)
			snprintf(recs[i].new_location, sizeof(recs[i].new_location),
				 "127.0.0.1:3260,9 iqn.2010-10.org.openstack:volume-" V2 " 1");
	}
	return 0;
}

static const struct driver_ops fake_ops = { .name = "fake", .restore_exports = fake_restore };

static void test_the_export_check_restores_this_workers_exports(void **state)
{
	struct testdb *t = *state;
	struct fake_tgt f = { 0, 0, { "" } };
	struct driver drv = { &fake_ops, &f };
	struct cf_err err = { "" };
	char text[256];
	int restored = -1;

	seed_workers(t);
	/* Nothing exported: tgtd is not even asked. */
	assert_int_equal(exports_restore(t->st, 1, &drv, &restored, &err), 0);
	assert_int_equal(f.calls, 0);
	testdb_sql(t->path,
		   "INSERT INTO volumes (id, host, size, status, deleted, provider_location, provider_auth) VALUES"
		   " ('" V1 "', 'w1@lvm', 1, 'available', 0, '127.0.0.1:3260,1 iqn:v1 1', 'CHAP u1 p1'),"
		   " ('" V2 "', 'w1@lvm#pool', 1, 'in-use', 0, '127.0.0.1:3260,2 iqn:v2 1', 'CHAP u2 p2'),"
		   /* Not checked: being deleted, deleted, another worker's, no export. */
		   " ('" V3 "', 'w1@lvm', 1, 'deleting', 0, '127.0.0.1:3260,3 iqn:v3 1', 'CHAP u3 p3'),"
		   " ('" NEW "', 'w1@lvm', 1, 'available', 1, '127.0.0.1:3260,4 iqn:v4 1', 'CHAP u4 p4'),"
		   " ('" NEW2 "', 'w1@lvmx', 1, 'available', 0, '127.0.0.1:3260,5 iqn:v5 1', 'CHAP u5 p5'),"
		   " ('66666666-6666-4666-8666-666666666666', 'w2@lvm', 1, 'available', 0, 'x', 'y'),"
		   " ('77777777-7777-4777-8777-777777777777', 'w1@lvm', 1, 'available', 0, NULL, NULL);");
	assert_int_equal(exports_restore(t->st, 1, &drv, &restored, &err), 0);
	assert_int_equal(f.calls, 1);
	assert_int_equal(restored, 1);
	assert_string_equal(f.seen[0], V1);
	assert_string_equal(f.seen[1], V2);
	assert_string_equal(f.seen[2], "");
	/* V2 came back under another tid: provider_location says so. */
	testdb_text(t->path, "SELECT provider_location FROM volumes WHERE id = '" V2 "'", text, sizeof(text));
	assert_string_equal(text, "127.0.0.1:3260,9 iqn.2010-10.org.openstack:volume-" V2 " 1");
	f.rc = ENOTCONN;
	assert_int_equal(exports_restore(t->st, 1, &drv, &restored, &err), -ENOTCONN);
	assert_non_null(strstr(err.msg, "tgtd is not running"));
}

static void test_log_label_names_the_worker(void **state)
{
	struct testdb *t = *state;
	char label[300];

	seed_workers(t);
	store_worker_label(t->st, 3, label, sizeof(label));
	assert_string_equal(label, "worker 3 (w3@lvm)");
	store_worker_label(t->st, 42, label, sizeof(label));
	assert_string_equal(label, "worker 42");
}

#define T(name) cmocka_unit_test_setup_teardown(name, testdb_setup_store, testdb_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_volumes_changed_after_the_measurement_count_against_it),
		T(test_workers_sharing_a_group_count_each_others_volumes),
		T(test_the_freshest_measurement_of_the_group_counts),
		T(test_a_worker_whose_driver_did_not_start_refuses_creates),
		T(test_queued_operations_of_a_driver_that_is_not_ready_end_saying_why),
		T(test_a_delete_goes_to_a_live_member_when_the_worker_is_down),
		T(test_last_error_is_the_latest_failed_operations),
		T(test_last_error_is_found_by_index),
		T(test_the_export_check_restores_this_workers_exports),
		T(test_log_label_names_the_worker),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
