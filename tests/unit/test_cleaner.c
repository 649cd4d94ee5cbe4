/* do_cleanup on a real SQLite file with a fake driver, case by case as
 * Cinder's test_cleanable_manager: the claim, the checks, every action,
 * failures giving the row back, races between two cleaners. */
#include <errno.h>

#include "cleaner.h"
#include "testdb.h"

#define NOW_SEC 1795632114 /* 2026-11-25 18:41:54 UTC */
#define VOL "11111111-1111-4111-8111-111111111111"
#define VOL2 "22222222-2222-4222-8222-222222222222"
#define SNAP "33333333-3333-4333-8333-333333333333"
#define SNAP2 "44444444-4444-4444-8444-444444444444"
#define UNTIL "2026-11-25 18:41:54.000000"

/* The fake driver records its calls and fails the ones it is told to. */
struct fake {
	char calls[1024];
	const char *fail;  /* name of the call that fails */
	int fail_with;
};

static int record(struct fake *f, const char *call, const char *id, struct cf_err *err)
{
	size_t used = strlen(f->calls);
	snprintf(f->calls + used, sizeof(f->calls) - used, "%s%s(%s)", used ? " " : "", call, id);
	if (f->fail && strcmp(f->fail, call) == 0)
		return err_set(err, f->fail_with, "fake %s of %s failed", call, id);
	return 0;
}

static int fake_delete_volume(void *ctx, const struct volume *v, struct cf_err *err)
{
	return record(ctx, "delete_volume", v->id, err);
}
static int fake_delete_snapshot(void *ctx, const struct snapshot *s, struct cf_err *err)
{
	return record(ctx, "delete_snapshot", s->id, err);
}
static int fake_remove_export(void *ctx, const struct volume *v, struct cf_err *err)
{
	return record(ctx, "remove_export", v->id, err);
}
static int fake_clear_download(void *ctx, const struct volume *v, struct cf_err *err)
{
	return record(ctx, "clear_download", v->id, err);
}

static const struct driver_ops fake_ops = {
	.name = "fake",
	.start = NULL,
	.delete_volume = fake_delete_volume,
	.delete_snapshot = fake_delete_snapshot,
	.remove_export = fake_remove_export,
	.clear_download = fake_clear_download,
};

static int fake_delete_volumes(void *ctx, const struct volume *vols, size_t n, struct cf_err *err)
{
	char ids[512] = "";
	for (size_t i = 0; i < n; i++)
		snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids), "%s%s", i ? "," : "", vols[i].id);
	return record(ctx, "delete_volumes", ids, err);
}

/* The same fake, able to remove many volumes at once. */
static const struct driver_ops batch_ops = {
	.name = "fake",
	.delete_volume = fake_delete_volume,
	.delete_volumes = fake_delete_volumes,
	.batch_max = 2,
	.delete_snapshot = fake_delete_snapshot,
	.remove_export = fake_remove_export,
	.clear_download = fake_clear_download,
};

static struct fake fake;

/* Worker 1 is dead and owns the rows; worker 2 cleans them. */
static void seed(struct testdb *t, const char *type, const char *id, const char *status)
{
	char sql[512];
	testdb_sql(t->path, "INSERT OR IGNORE INTO services (id, host, \"binary\") VALUES "
			    "(1, 'dead@lvm', 'cinder-volume'), (2, 'live@lvm', 'cinder-volume')");
	snprintf(sql, sizeof(sql),
		 "INSERT INTO workers (resource_type, resource_id, status, service_id, race_preventer, "
		 "created_at, updated_at) VALUES ('%s', '%s', '%s', 1, 0, '2026-11-25 18:00:00', "
		 "'2026-11-25 18:00:00')", type, id, status);
	testdb_sql(t->path, sql);
}

static void seed_volume(struct testdb *t, const char *id, const char *status, const char *attach)
{
	char sql[512];
	snprintf(sql, sizeof(sql), "INSERT INTO volumes (id, status, attach_status, size, deleted) "
		 "VALUES ('%s', '%s', '%s', 1, 0)", id, status, attach);
	testdb_sql(t->path, sql);
}

static void seed_snapshot(struct testdb *t, const char *id, const char *volume, const char *status)
{
	char sql[512];
	snprintf(sql, sizeof(sql), "INSERT INTO snapshots (id, volume_id, status, deleted) "
		 "VALUES ('%s', '%s', '%s', 0)", id, volume, status);
	testdb_sql(t->path, sql);
}

static struct cleaner cleaner_for(struct testdb *t)
{
	memset(&fake, 0, sizeof(fake));
	return (struct cleaner){ .st = t->st, .drv = { &fake_ops, &fake }, .me = 2 };
}

static struct job job_for(void)
{
	struct job j = { .id = 1, .request_id = 1, .service_id = 1 };
	snprintf(j.until, sizeof(j.until), UNTIL);
	return j;
}

static void run(struct testdb *t, struct cleaner *c, struct cleaner_counts *counts)
{
	struct job j = job_for();
	/* A request and job row, so progress has somewhere to go. */
	testdb_sql(t->path, "INSERT OR IGNORE INTO cleanup_requests (id, created_at, spec, filter) "
			    "VALUES (1, '" UNTIL "', '', '{}');"
			    "INSERT OR IGNORE INTO cleanup_jobs (id, request_id, service_id, until, state, "
			    "taken_by) VALUES (1, 1, 1, '" UNTIL "', 'running', 2)");
	assert_int_equal(cleaner_run_job(c, &j, counts), 0);
}

static char *volume_status(struct testdb *t, const char *id)
{
	static char out[64];
	char sql[200];
	snprintf(sql, sizeof(sql), "SELECT status || '/' || deleted FROM volumes WHERE id = '%s'", id);
	testdb_text(t->path, sql, out, sizeof(out));
	return out;
}

static char *progress(struct testdb *t, const char *id)
{
	static char out[1200];
	char sql[200];
	snprintf(sql, sizeof(sql), "SELECT state || ': ' || COALESCE(detail, '') FROM "
		 "cleanup_progress WHERE resource_id = '%s'", id);
	testdb_text(t->path, sql, out, sizeof(out));
	return out;
}

static long long rows(struct testdb *t)
{
	return testdb_int(t->path, "SELECT count(*) FROM workers");
}

static void test_creating_volume_goes_to_error_and_row_is_deleted(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	seed(t, "Volume", VOL, "creating");
	seed_volume(t, VOL, "creating", "detached");
	run(t, &c, &n);
	assert_string_equal(volume_status(t, VOL), "error/0");
	assert_int_equal(rows(t), 0);
	assert_int_equal(n.cleaned, 1);
	assert_string_equal(progress(t, VOL), "cleaned: volume set to error");
	assert_string_equal(fake.calls, "");
}

static void test_downloading_clears_the_download_then_error(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	seed(t, "Volume", VOL, "downloading");
	seed_volume(t, VOL, "downloading", "detached");
	run(t, &c, &n);
	assert_string_equal(fake.calls, "clear_download(" VOL ")");
	assert_string_equal(volume_status(t, VOL), "error/0");
	assert_int_equal(rows(t), 0);
}

static void test_uploading_goes_back_to_in_use_or_available(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	seed(t, "Volume", VOL, "uploading");
	seed_volume(t, VOL, "uploading", "attached");
	seed(t, "Volume", VOL2, "uploading");
	seed_volume(t, VOL2, "uploading", "detached");
	run(t, &c, &n);
	assert_string_equal(volume_status(t, VOL), "in-use/0");
	assert_string_equal(volume_status(t, VOL2), "available/0");
	assert_int_equal(n.cleaned, 2);
}

static void test_creating_snapshot_goes_to_error(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	seed(t, "Snapshot", SNAP, "creating");
	seed_snapshot(t, SNAP, VOL, "creating");
	run(t, &c, &n);
	assert_int_equal(testdb_int(t->path, "SELECT status = 'error' FROM snapshots"), 1);
	assert_int_equal(rows(t), 0);
}

static void test_deleting_volume_is_fully_deleted(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	seed(t, "Volume", VOL, "deleting");
	seed_volume(t, VOL, "deleting", "detached");
	seed_snapshot(t, SNAP, VOL, "deleting");
	run(t, &c, &n);
	assert_string_equal(fake.calls, "remove_export(" VOL ") delete_snapshot(" SNAP ") "
			    "delete_volume(" VOL ")");
	assert_string_equal(volume_status(t, VOL), "deleted/1");
	assert_int_equal(testdb_int(t->path, "SELECT deleted FROM snapshots"), 1);
	assert_int_equal(rows(t), 0);
	assert_string_equal(progress(t, VOL),
			    "cleaned: volume deleted (driver fake: export removed, 1 snapshot(s) "
			    "deleted, volume removed)");
}

static void test_deleting_volume_with_a_live_snapshot_goes_to_error_deleting(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	seed(t, "Volume", VOL, "deleting");
	seed_volume(t, VOL, "deleting", "detached");
	seed_snapshot(t, SNAP, VOL, "available");
	run(t, &c, &n);
	assert_string_equal(volume_status(t, VOL), "error_deleting/0");
	assert_string_equal(fake.calls, "remove_export(" VOL ")");
	assert_string_equal(progress(t, VOL), "cleaned: volume set to error_deleting: its snapshot "
			    SNAP " is available, not deleting (0 snapshot(s) deleted before it)");
	assert_int_equal(rows(t), 0);
}

static void test_volume_busy_on_the_backend_goes_back_to_available(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	seed(t, "Volume", VOL, "deleting");
	seed_volume(t, VOL, "deleting", "detached");
	c = cleaner_for(t);
	fake.fail = "delete_volume";
	fake.fail_with = EBUSY;
	run(t, &c, &n);
	assert_string_equal(volume_status(t, VOL), "available/0");
	assert_int_equal(rows(t), 0);
}

static void test_failed_action_gives_the_row_back(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	seed(t, "Volume", VOL, "deleting");
	seed_volume(t, VOL, "deleting", "detached");
	c = cleaner_for(t);
	fake.fail = "remove_export";
	fake.fail_with = EIO;
	run(t, &c, &n);
	assert_int_equal(n.failed, 1);
	assert_string_equal(volume_status(t, VOL), "deleting/0");
	/* Back to its owner and time, race_preventer moved twice (claim and
	 * give back): a later cleanup finds it again. */
	assert_int_equal(testdb_int(t->path, "SELECT service_id = 1 AND updated_at = "
				    "'2026-11-25 18:00:00' AND race_preventer = 2 FROM workers"), 1);
	assert_string_equal(progress(t, VOL), "failed: removing the export of volume " VOL
			    " failed: fake remove_export of " VOL " failed");
}

static void test_each_row_is_decided_on_its_own(void **state)
{
	/* Upstream carried a flag from one row to the next: a failure
	 * followed by a success must give back the first and delete the
	 * second. */
	struct testdb *t = *state;
	struct cleaner c;
	struct cleaner_counts n;

	seed(t, "Volume", VOL, "downloading");
	seed_volume(t, VOL, "downloading", "detached");
	seed(t, "Volume", VOL2, "creating");
	seed_volume(t, VOL2, "creating", "detached");
	c = cleaner_for(t);
	fake.fail = "clear_download";
	fake.fail_with = EIO;
	run(t, &c, &n);
	assert_int_equal(n.failed, 1);
	assert_int_equal(n.cleaned, 1);
	assert_int_equal(rows(t), 1);
	assert_int_equal(testdb_int(t->path, "SELECT count(*) FROM workers WHERE resource_id = '" VOL "'"), 1);
}

static void test_resource_gone_or_status_changed_deletes_the_row(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	seed(t, "Volume", VOL, "creating");            /* no volume row at all */
	seed(t, "Volume", VOL2, "creating");
	seed_volume(t, VOL2, "available", "detached"); /* finished after all */
	run(t, &c, &n);
	assert_int_equal(rows(t), 0);
	assert_int_equal(n.skipped, 2);
	assert_string_equal(volume_status(t, VOL2), "available/0");
	assert_string_equal(progress(t, VOL), "skipped: the volume is gone: row removed");
	assert_string_equal(progress(t, VOL2), "skipped: the volume is available now, not creating: row removed");
	assert_string_equal(fake.calls, "");
}

static void test_claim_fails_when_race_preventer_moved(void **state)
{
	struct testdb *t = *state;
	struct worker_row *list;
	size_t count;
	struct timespec now = { NOW_SEC, 0 };

	seed(t, "Volume", VOL, "creating");
	assert_int_equal(store_rows_to_clean(t->st, 1, NULL, NULL, UNTIL, &list, &count), 0);
	assert_int_equal(count, 1);
	/* Someone else touches the row after we read it. */
	testdb_sql(t->path, "UPDATE workers SET race_preventer = race_preventer + 1");
	assert_int_equal(store_claim_row(t->st, &list[0], 2, 0, 0, &now), -EAGAIN);
	free(list);
}

static void test_a_stale_copy_loses_and_the_first_claim_wins(void **state)
{
	struct testdb *t = *state;
	struct worker_row *list;
	size_t count;
	struct timespec now = { NOW_SEC, 0 };

	seed(t, "Volume", VOL, "creating");
	assert_int_equal(store_rows_to_clean(t->st, 1, NULL, NULL, UNTIL, &list, &count), 0);
	/* Two cleaners read the same row; the first claim wins. */
	assert_int_equal(store_claim_row(t->st, &list[0], 2, 0, 0, &now), 0);
	assert_int_equal(store_claim_row(t->st, &list[0], 3, 0, 0, &now), -EAGAIN);
	assert_int_equal(testdb_int(t->path, "SELECT service_id = 2 AND race_preventer = 1 FROM workers"), 1);
	free(list);
}

static void test_same_owner_reclaim_works(void **state)
{
	struct testdb *t = *state;
	struct worker_row *list;
	size_t count;
	struct timespec now = { NOW_SEC, 0 };

	seed(t, "Volume", VOL, "creating");
	assert_int_equal(store_rows_to_clean(t->st, 1, NULL, NULL, UNTIL, &list, &count), 0);
	/* The owner itself may claim its row (its own cleanup at start). */
	assert_int_equal(store_claim_row(t->st, &list[0], 1, 0, 0, &now), 0);
	free(list);
}

static void test_rows_newer_than_until_are_left_alone(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	seed(t, "Volume", VOL, "creating");
	seed_volume(t, VOL, "creating", "detached");
	testdb_sql(t->path, "UPDATE workers SET updated_at = '2026-11-25 18:41:54.000001'");
	run(t, &c, &n);
	assert_int_equal(rows(t), 1);
	assert_string_equal(volume_status(t, VOL), "creating/0");
}

static void test_give_back_of_a_row_already_gone_is_fine(void **state)
{
	/* Nothing is written and nothing fails: the row's end says it was
	 * removed meanwhile (holder 0), and the cleaner records that. */
	struct testdb *t = *state;
	struct worker_row row = { .id = 999, .service_id = 1 };
	struct row_end e = { .row = &row, .me = 2, .drop = false, .state = "failed", .detail = "x" };
	struct timespec now = { NOW_SEC, 0 };
	int64_t holder = -1;

	assert_int_equal(store_end_row(t->st, &e, &now, &holder), -ESTALE);
	assert_int_equal(holder, 0);
}

static void test_own_cleanup_takes_only_rows_from_before_the_start(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;
	struct timespec started;

	c.me = 1; /* the dead worker restarts */
	seed(t, "Volume", VOL, "creating");
	seed_volume(t, VOL, "creating", "detached");
	seed(t, "Volume", VOL2, "creating");
	seed_volume(t, VOL2, "creating", "detached");
	testdb_sql(t->path, "UPDATE workers SET updated_at = '2026-11-25 19:00:00' WHERE resource_id = '" VOL2 "'");
	dbtime_parse("2026-11-25 18:30:00", &started);
	assert_int_equal(cleaner_clean_own(&c, &started, &n), 0);
	assert_int_equal(n.cleaned, 1);
	assert_string_equal(volume_status(t, VOL), "error/0");
	assert_string_equal(volume_status(t, VOL2), "creating/0");
	assert_int_equal(rows(t), 1);
}

static void test_deleting_volumes_are_removed_in_one_batch(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	c.drv.ops = &batch_ops;
	seed(t, "Volume", VOL, "deleting");
	seed_volume(t, VOL, "deleting", "detached");
	seed(t, "Volume", VOL2, "deleting");
	seed_volume(t, VOL2, "deleting", "detached");
	run(t, &c, &n);
	assert_string_equal(fake.calls, "remove_export(" VOL ") remove_export(" VOL2 ") "
			    "delete_volumes(" VOL "," VOL2 ")");
	assert_int_equal(n.cleaned, 2);
	assert_string_equal(volume_status(t, VOL), "deleted/1");
	assert_string_equal(volume_status(t, VOL2), "deleted/1");
	assert_int_equal(rows(t), 0);
}

static void test_a_busy_batch_is_retried_one_by_one(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	c.drv.ops = &batch_ops;
	seed(t, "Volume", VOL, "deleting");
	seed_volume(t, VOL, "deleting", "detached");
	seed(t, "Volume", VOL2, "deleting");
	seed_volume(t, VOL2, "deleting", "detached");
	fake.fail = "delete_volumes";
	fake.fail_with = EBUSY;
	run(t, &c, &n);
	/* Alone, each goes: the fake's single delete succeeds. */
	assert_non_null(strstr(fake.calls, "delete_volume(" VOL ") delete_volume(" VOL2 ")"));
	assert_string_equal(volume_status(t, VOL), "deleted/1");
	assert_string_equal(volume_status(t, VOL2), "deleted/1");
	assert_int_equal(n.cleaned, 2);
}

static void seed_volume_on(struct testdb *t, const char *id, const char *status, const char *host,
			   const char *cluster)
{
	char sql[512];
	snprintf(sql, sizeof(sql), "INSERT INTO volumes (id, status, attach_status, size, deleted, "
		 "host, cluster_name) VALUES ('%s', '%s', 'detached', 1, 0, '%s', %s%s%s)", id, status,
		 host, cluster ? "'" : "", cluster ? cluster : "NULL", cluster ? "'" : "");
	testdb_sql(t->path, sql);
}

static void test_a_row_whose_status_needs_no_cleanup_is_removed_not_given_back(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	seed(t, "Volume", VOL, "available");
	seed_volume(t, VOL, "available", "detached");
	seed(t, "Volume", VOL2, "error");
	seed_volume(t, VOL2, "error", "detached");
	seed(t, "Snapshot", SNAP, "available");
	seed_snapshot(t, SNAP, VOL, "available");
	run(t, &c, &n);
	/* Removed: given back, every later cleanup would claim it again. */
	assert_int_equal(rows(t), 0);
	assert_int_equal(n.skipped, 3);
	assert_string_equal(volume_status(t, VOL), "available/0");
	assert_string_equal(volume_status(t, VOL2), "error/0");
	assert_string_equal(progress(t, VOL), "skipped: the volume is available, which needs no "
			    "cleanup: row removed");
	assert_string_equal(progress(t, SNAP), "skipped: the snapshot is available, which needs no "
			    "cleanup: row removed");
	assert_string_equal(fake.calls, "");
}

static void test_a_deleting_snapshot_is_deleted_in_full(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	seed(t, "Snapshot", SNAP, "deleting");
	seed_volume(t, VOL, "available", "detached");
	seed_snapshot(t, SNAP, VOL, "deleting");
	run(t, &c, &n);
	/* Fix: Cinder removes the row and leaves the snapshot deleting. */
	assert_string_equal(fake.calls, "delete_snapshot(" SNAP ")");
	assert_int_equal(testdb_int(t->path, "SELECT status = 'deleted' AND deleted = 1 FROM snapshots"), 1);
	assert_int_equal(rows(t), 0);
	assert_int_equal(n.cleaned, 1);
	assert_string_equal(progress(t, SNAP), "cleaned: snapshot deleted (driver fake: snapshot removed)");
}

static void test_a_failed_snapshot_delete_gives_the_row_back(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	seed(t, "Snapshot", SNAP, "deleting");
	seed_snapshot(t, SNAP, VOL, "deleting");
	fake.fail = "delete_snapshot";
	fake.fail_with = EIO;
	run(t, &c, &n);
	assert_int_equal(n.failed, 1);
	assert_int_equal(testdb_int(t->path, "SELECT status = 'deleting' AND deleted = 0 FROM snapshots"), 1);
	assert_int_equal(testdb_int(t->path, "SELECT service_id FROM workers"), 1);
}

static void test_cascade_deletes_snapshots_until_the_first_not_deleting(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	/* Cinder's cascade: SNAP (deleting) goes, then SNAP2 (error) stops it. */
	seed(t, "Volume", VOL, "deleting");
	seed_volume(t, VOL, "deleting", "detached");
	seed_snapshot(t, SNAP, VOL, "deleting");
	seed_snapshot(t, SNAP2, VOL, "error");
	testdb_sql(t->path, "UPDATE snapshots SET created_at = CASE id WHEN '" SNAP "' THEN "
			    "'2026-11-25 10:00:00' ELSE '2026-11-25 11:00:00' END");
	run(t, &c, &n);
	assert_string_equal(fake.calls, "remove_export(" VOL ") delete_snapshot(" SNAP ")");
	assert_string_equal(volume_status(t, VOL), "error_deleting/0");
	assert_int_equal(testdb_int(t->path, "SELECT deleted FROM snapshots WHERE id = '" SNAP "'"), 1);
	assert_int_equal(testdb_int(t->path, "SELECT status = 'error' AND deleted = 0 FROM snapshots "
				    "WHERE id = '" SNAP2 "'"), 1);
	assert_string_equal(progress(t, VOL), "cleaned: volume set to error_deleting: its snapshot "
			    SNAP2 " is error, not deleting (1 snapshot(s) deleted before it)");
	assert_int_equal(rows(t), 0);
}

static void test_another_backends_volume_is_refused_and_given_back(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	seed(t, "Volume", VOL, "deleting");
	seed_volume_on(t, VOL, "deleting", "other@lvm#pool", NULL);
	seed(t, "Snapshot", SNAP, "deleting");
	seed_volume_on(t, VOL2, "available", "other@lvm", NULL);
	seed_snapshot(t, SNAP, VOL2, "deleting");
	run(t, &c, &n);
	/* Nothing touched: an absent LV would count as removed. */
	assert_string_equal(fake.calls, "");
	assert_int_equal(n.refused, 2);
	assert_string_equal(volume_status(t, VOL), "deleting/0");
	assert_int_equal(testdb_int(t->path, "SELECT deleted FROM snapshots"), 0);
	/* Given back to its owner and time. */
	assert_int_equal(testdb_int(t->path, "SELECT count(*) FROM workers WHERE service_id = 1 AND "
				    "updated_at = '2026-11-25 18:00:00' AND race_preventer = 2"), 2);
	assert_string_equal(progress(t, VOL), "refused: volume " VOL " is on host other@lvm#pool, "
			    "not this worker's backend (worker 2, its host or a host of its cluster): "
			    "row given back, nothing done");
}

static void test_a_volume_of_my_host_or_my_cluster_is_cleaned(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;
	static const char *const ids[] = {
		"aaaaaaaa-0000-4000-8000-000000000001", "aaaaaaaa-0000-4000-8000-000000000002",
		"aaaaaaaa-0000-4000-8000-000000000003", "aaaaaaaa-0000-4000-8000-000000000004",
		"aaaaaaaa-0000-4000-8000-000000000005",
	};

	seed(t, "Volume", VOL, "creating"); /* makes the services rows */
	testdb_sql(t->path, "DELETE FROM workers; UPDATE services SET cluster_name = 'c1@lvm';"
			    "INSERT INTO services (id, host, \"binary\", cluster_name, deleted) VALUES "
			    "(3, 'retired@lvm', 'cinder-volume', 'c1@lvm', 1)");
	for (size_t i = 0; i < 5; i++)
		seed(t, "Volume", ids[i], "creating");
	seed_volume_on(t, ids[0], "creating", "live@lvm#pool", NULL);     /* my host */
	seed_volume_on(t, ids[1], "creating", "dead@lvm#pool", NULL);     /* a member's */
	seed_volume_on(t, ids[2], "creating", "retired@lvm", NULL);       /* a removed member's */
	seed_volume_on(t, ids[3], "creating", "moved@lvm", "c1@lvm#pool"); /* my cluster's */
	seed_volume_on(t, ids[4], "creating", "", NULL);                  /* no host */
	run(t, &c, &n);
	assert_int_equal(n.cleaned, 5);
	assert_int_equal(n.refused, 0);
	assert_int_equal(testdb_int(t->path, "SELECT count(*) FROM volumes WHERE status = 'error'"), 5);
}

static void test_a_schedulers_rows_are_cleaned_as_cinders_scheduler_does(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	seed(t, "Volume", VOL, "creating");
	testdb_sql(t->path, "UPDATE services SET \"binary\" = 'cinder-scheduler', host = 'sch1' "
			    "WHERE id = 1");
	seed_volume(t, VOL, "creating", "detached");
	seed(t, "Volume", VOL2, "deleting");
	seed_volume(t, VOL2, "deleting", "detached");
	seed(t, "Snapshot", SNAP, "creating");
	seed_snapshot(t, SNAP, VOL, "creating");
	run(t, &c, &n);
	/* Only a creating volume is acted on; every row is removed. */
	assert_string_equal(volume_status(t, VOL), "error/0");
	assert_string_equal(volume_status(t, VOL2), "deleting/0");
	assert_int_equal(testdb_int(t->path, "SELECT status = 'creating' FROM snapshots"), 1);
	assert_string_equal(fake.calls, "");
	assert_int_equal(rows(t), 0);
	assert_int_equal(n.cleaned, 1);
	assert_int_equal(n.skipped, 2);
	assert_string_equal(progress(t, VOL2), "skipped: a cinder-scheduler's Volume row in deleting: "
			    "the scheduler's cleanup only sets creating volumes to error; row removed");
}

static void test_without_a_storage_driver_progress_says_nothing_was_removed(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	c.drv.ops = &driver_none_ops;
	seed(t, "Volume", VOL, "deleting");
	seed_volume(t, VOL, "deleting", "detached");
	seed_snapshot(t, SNAP, VOL, "deleting");
	seed(t, "Snapshot", SNAP2, "deleting");
	seed_snapshot(t, SNAP2, VOL2, "deleting");
	run(t, &c, &n);
	assert_string_equal(volume_status(t, VOL), "deleted/1");
	assert_string_equal(progress(t, VOL), "cleaned: volume marked deleted (no storage driver: "
			    "nothing was removed on a backend; 1 snapshot(s) marked deleted)");
	assert_string_equal(progress(t, SNAP2), "cleaned: snapshot marked deleted (no storage "
			    "driver: nothing was removed on a backend)");
}

static void test_more_volumes_than_a_batch_takes_go_in_several_batches(void **state)
{
	static const char *const ids[] = {
		"aaaaaaaa-0000-4000-8000-000000000001", "aaaaaaaa-0000-4000-8000-000000000002",
		"aaaaaaaa-0000-4000-8000-000000000003",
	};
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	c.drv.ops = &batch_ops; /* takes 2 at a time */
	for (int i = 0; i < 3; i++) {
		seed(t, "Volume", ids[i], "deleting");
		seed_volume(t, ids[i], "deleting", "detached");
	}
	run(t, &c, &n);
	assert_non_null(strstr(fake.calls, "delete_volumes(" "aaaaaaaa-0000-4000-8000-000000000001,"
			       "aaaaaaaa-0000-4000-8000-000000000002) delete_volume("
			       "aaaaaaaa-0000-4000-8000-000000000003)"));
	assert_int_equal(n.cleaned, 3);
	assert_int_equal(rows(t), 0);
}

static void test_a_batch_failing_for_any_reason_is_retried_one_by_one(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	c.drv.ops = &batch_ops;
	seed(t, "Volume", VOL, "deleting");
	seed_volume(t, VOL, "deleting", "detached");
	seed(t, "Volume", VOL2, "deleting");
	seed_volume(t, VOL2, "deleting", "detached");
	fake.fail = "delete_volumes";
	fake.fail_with = E2BIG; /* not only EBUSY */
	run(t, &c, &n);
	assert_string_equal(volume_status(t, VOL), "deleted/1");
	assert_string_equal(volume_status(t, VOL2), "deleted/1");
	assert_int_equal(n.cleaned, 2);
	assert_int_equal(n.failed, 0);
}

/* A driver whose removal lets the test act in the middle of a row's work,
 * as a peer would while this worker could not heartbeat. */
static struct testdb *meddle_db;
static int meddling_delete_volume(void *ctx, const struct volume *v, struct cf_err *err)
{
	/* A peer claims the row meanwhile (race_preventer moves on). */
	testdb_sql(meddle_db->path, "UPDATE workers SET service_id = 3, race_preventer = race_preventer + 1");
	return record(ctx, "delete_volume", v->id, err);
}

static void test_a_row_lost_meanwhile_is_abandoned_not_written_over(void **state)
{
	static const struct driver_ops meddling = {
		.name = "fake",
		.delete_volume = meddling_delete_volume,
		.delete_snapshot = fake_delete_snapshot,
		.remove_export = fake_remove_export,
		.clear_download = fake_clear_download,
	};
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	meddle_db = t;
	c.drv.ops = &meddling;
	seed(t, "Volume", VOL, "deleting");
	seed_volume(t, VOL, "deleting", "detached");
	run(t, &c, &n);
	/* The peer's claim stands: nothing of ours is written. */
	assert_string_equal(volume_status(t, VOL), "deleting/0");
	assert_int_equal(testdb_int(t->path, "SELECT service_id FROM workers"), 3);
	assert_string_equal(progress(t, VOL), "skipped: abandoned: worker 3 holds the row now; its "
			    "result stands");
}

static void test_a_rows_end_is_one_transaction_with_its_progress(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	/* The claim and the end each write progress with the row: after the
	 * run, no entry is left claimed and no row is left claimed. */
	seed(t, "Volume", VOL, "creating");
	seed_volume(t, VOL, "creating", "detached");
	seed(t, "Volume", VOL2, "deleting");
	seed_volume(t, VOL2, "deleting", "detached");
	run(t, &c, &n);
	assert_int_equal(testdb_int(t->path, "SELECT count(*) FROM cleanup_progress WHERE state = 'claimed'"), 0);
	assert_int_equal(testdb_int(t->path, "SELECT count(*) FROM cleanup_progress WHERE state = 'cleaned'"), 2);
}

static void test_own_cleanup_settles_what_other_requests_wait_for(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;
	struct timespec started;

	seed(t, "Volume", VOL, "creating");
	seed_volume(t, VOL, "creating", "detached");
	/* A request queued the resource; its owner restarts first. */
	testdb_sql(t->path, "INSERT INTO cleanup_requests (id, created_at, spec, filter) VALUES "
			    "(7, '" UNTIL "', '', '{}');"
			    "INSERT INTO cleanup_jobs (id, request_id, service_id, until, state) VALUES "
			    "(7, 7, 1, '" UNTIL "', 'queued');"
			    "INSERT INTO cleanup_progress (request_id, job_id, resource_type, resource_id, "
			    "state, updated_at) VALUES (7, 7, 'Volume', '" VOL "', 'queued', '" UNTIL "')");
	c.me = 1;
	dbtime_parse("2026-11-25 18:30:00", &started);
	assert_int_equal(cleaner_clean_own(&c, &started, &n), 0);
	assert_string_equal(progress(t, VOL), "cleaned: by its owner (worker 1) at its start: volume "
			    "set to error");
}

static void test_a_cancelled_request_stops_before_its_next_row(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;
	struct job j = job_for();

	seed(t, "Volume", VOL, "creating");
	seed_volume(t, VOL, "creating", "detached");
	testdb_sql(t->path, "INSERT INTO cleanup_requests (id, created_at, spec, filter, "
			    "cancelled_at, cancelled_by) VALUES (1, '" UNTIL "', '', '{}', '" UNTIL "', 0);"
			    "INSERT INTO cleanup_jobs (id, request_id, service_id, until, state, taken_by) "
			    "VALUES (1, 1, 1, '" UNTIL "', 'running', 2)");
	assert_int_equal(cleaner_run_job(&c, &j, &n), -ECANCELED);
	assert_string_equal(volume_status(t, VOL), "creating/0");
	assert_int_equal(rows(t), 1);
}

static void test_a_job_that_went_to_another_worker_stops_and_writes_over_nothing(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;
	struct job j = job_for();

	seed(t, "Volume", VOL, "creating");
	seed_volume(t, VOL, "creating", "detached");
	/* While this worker was stalled, its job was queued again and
	 * worker 3 took it and cleaned the resource. */
	testdb_sql(t->path, "INSERT INTO cleanup_requests (id, created_at, spec, filter) "
			    "VALUES (1, '" UNTIL "', '', '{}');"
			    "INSERT INTO cleanup_jobs (id, request_id, service_id, until, state, taken_by) "
			    "VALUES (1, 1, 1, '" UNTIL "', 'running', 3);"
			    "INSERT INTO cleanup_progress (request_id, job_id, resource_type, resource_id, "
			    "state, detail, worker_id, updated_at) VALUES (1, 1, 'Volume', '" VOL "', "
			    "'cleaned', 'volume set to error', 3, '" UNTIL "')");
	assert_int_equal(cleaner_run_job(&c, &j, &n), -ESTALE);
	assert_string_equal(progress(t, VOL), "cleaned: volume set to error");
	assert_int_equal(rows(t), 1); /* left to worker 3's job */
	/* A worker that loses the claim race never overwrites the holder's
	 * entry either. */
	struct timespec now = { NOW_SEC, 0 };
	assert_int_equal(store_note_progress(t->st, 1, 1, "Volume", VOL, "skipped",
					     "claimed by another worker first", 2, &now), 0);
	assert_string_equal(progress(t, VOL), "cleaned: volume set to error");
}

static void test_another_backends_creating_volume_is_refused_too(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	seed(t, "Volume", VOL, "creating");
	seed_volume_on(t, VOL, "creating", "other@lvm", NULL);
	run(t, &c, &n);
	assert_int_equal(n.refused, 1);
	assert_string_equal(volume_status(t, VOL), "creating/0");
	assert_int_equal(testdb_int(t->path, "SELECT service_id FROM workers"), 1);
}

static int fail_second_snapshot(void *ctx, const struct snapshot *s, struct cf_err *err)
{
	if (strcmp(s->id, SNAP2) == 0)
		return err_set(err, EIO, "fake delete_snapshot of %s failed", s->id);
	return record(ctx, "delete_snapshot", s->id, err);
}

static void test_a_cascade_failing_half_way_keeps_what_it_deleted(void **state)
{
	static const struct driver_ops ops = {
		.name = "fake",
		.delete_volume = fake_delete_volume,
		.delete_snapshot = fail_second_snapshot,
		.remove_export = fake_remove_export,
		.clear_download = fake_clear_download,
	};
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	c.drv.ops = &ops;
	seed(t, "Volume", VOL, "deleting");
	seed_volume(t, VOL, "deleting", "detached");
	seed_snapshot(t, SNAP, VOL, "deleting");
	seed_snapshot(t, SNAP2, VOL, "deleting");
	run(t, &c, &n);
	/* SNAP is gone on the backend: marked deleted, whatever the row. */
	assert_int_equal(testdb_int(t->path, "SELECT deleted FROM snapshots WHERE id = '" SNAP "'"), 1);
	assert_int_equal(testdb_int(t->path, "SELECT deleted FROM snapshots WHERE id = '" SNAP2 "'"), 0);
	assert_string_equal(volume_status(t, VOL), "deleting/0");
	assert_int_equal(testdb_int(t->path, "SELECT service_id FROM workers"), 1); /* given back */
	assert_string_equal(progress(t, VOL), "failed: deleting snapshot " SNAP2 " of volume " VOL
			    " failed: fake delete_snapshot of " SNAP2 " failed (1 snapshot(s) deleted "
			    "before it stay deleted)");
}

static void test_an_attached_volume_is_not_deleted(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	seed(t, "Volume", VOL, "deleting");
	seed_volume(t, VOL, "deleting", "attached");
	run(t, &c, &n);
	assert_string_equal(fake.calls, "");
	assert_int_equal(n.refused, 1);
	assert_string_equal(volume_status(t, VOL), "deleting/0");
	assert_int_equal(testdb_int(t->path, "SELECT service_id FROM workers"), 1);
}

static void test_a_row_of_an_unknown_type_is_removed(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	seed(t, "Backup", VOL, "creating");
	run(t, &c, &n);
	assert_int_equal(rows(t), 0);
	assert_int_equal(n.skipped, 1);
	assert_string_equal(progress(t, VOL), "skipped: resource type Backup is not one cinderfs "
			    "cleans: row removed");
}

static void test_without_a_driver_a_cascade_stop_says_marked_deleted(void **state)
{
	struct testdb *t = *state;
	struct cleaner c = cleaner_for(t);
	struct cleaner_counts n;

	c.drv.ops = &driver_none_ops;
	seed(t, "Volume", VOL, "deleting");
	seed_volume(t, VOL, "deleting", "detached");
	seed_snapshot(t, SNAP, VOL, "deleting");
	seed_snapshot(t, SNAP2, VOL, "error");
	run(t, &c, &n);
	assert_string_equal(progress(t, VOL), "cleaned: volume set to error_deleting: its snapshot "
			    SNAP2 " is error, not deleting (1 snapshot(s) marked deleted before it)");
}

#define T(name) cmocka_unit_test_setup_teardown(name, testdb_setup_store, testdb_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_creating_volume_goes_to_error_and_row_is_deleted),
		T(test_downloading_clears_the_download_then_error),
		T(test_uploading_goes_back_to_in_use_or_available),
		T(test_creating_snapshot_goes_to_error),
		T(test_deleting_volume_is_fully_deleted),
		T(test_deleting_volume_with_a_live_snapshot_goes_to_error_deleting),
		T(test_volume_busy_on_the_backend_goes_back_to_available),
		T(test_failed_action_gives_the_row_back),
		T(test_each_row_is_decided_on_its_own),
		T(test_resource_gone_or_status_changed_deletes_the_row),
		T(test_claim_fails_when_race_preventer_moved),
		T(test_a_stale_copy_loses_and_the_first_claim_wins),
		T(test_same_owner_reclaim_works),
		T(test_rows_newer_than_until_are_left_alone),
		T(test_give_back_of_a_row_already_gone_is_fine),
		T(test_own_cleanup_takes_only_rows_from_before_the_start),
		T(test_deleting_volumes_are_removed_in_one_batch),
		T(test_a_busy_batch_is_retried_one_by_one),
		T(test_a_row_whose_status_needs_no_cleanup_is_removed_not_given_back),
		T(test_a_deleting_snapshot_is_deleted_in_full),
		T(test_a_failed_snapshot_delete_gives_the_row_back),
		T(test_cascade_deletes_snapshots_until_the_first_not_deleting),
		T(test_another_backends_volume_is_refused_and_given_back),
		T(test_a_volume_of_my_host_or_my_cluster_is_cleaned),
		T(test_a_schedulers_rows_are_cleaned_as_cinders_scheduler_does),
		T(test_without_a_storage_driver_progress_says_nothing_was_removed),
		T(test_more_volumes_than_a_batch_takes_go_in_several_batches),
		T(test_a_batch_failing_for_any_reason_is_retried_one_by_one),
		T(test_a_row_lost_meanwhile_is_abandoned_not_written_over),
		T(test_a_rows_end_is_one_transaction_with_its_progress),
		T(test_own_cleanup_settles_what_other_requests_wait_for),
		T(test_a_cancelled_request_stops_before_its_next_row),
		T(test_a_job_that_went_to_another_worker_stops_and_writes_over_nothing),
		T(test_another_backends_creating_volume_is_refused_too),
		T(test_a_cascade_failing_half_way_keeps_what_it_deleted),
		T(test_an_attached_volume_is_not_deleted),
		T(test_a_row_of_an_unknown_type_is_removed),
		T(test_without_a_driver_a_cascade_stop_says_marked_deleted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
