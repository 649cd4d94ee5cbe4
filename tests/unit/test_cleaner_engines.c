/* The cleaner's batches on both engines, with the same assertions: SQLite
 * on a temp file, PostgreSQL on a database of its own per test in the
 * server CINDERFS_TEST_PG_URL names (tests/with-postgresql starts one;
 * without it the PostgreSQL group is skipped). What the claim guarantees
 * must hold a batch at a time: each row claimed on its own, a peer's
 * claim winning between our claim and our end, the changes of a batch
 * written as row after row would write them, every row cleaned once by
 * two cleaners racing, and rows a killed cleaner left claimed finished
 * by the next. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleaner.h"
#include "db.h"
#include "dbtime.h"
#include "store.h"
#include "testpg.h"

#define NOW_SEC 1795632114 /* 2026-11-25 18:41:54 UTC */
#define UNTIL "2026-11-25 18:41:54.000000"
#define SEEDED "2026-11-25 18:00:00"

static enum db_kind engine; /* of the group running */

struct fixture {
	enum db_kind kind;
	char setting[512];
	char dir[64];    /* SQLite: the temp dir */
	char dbname[64]; /* PostgreSQL: the test's database */
	struct db *db;   /* for seeding and checking, beside the store's own */
	struct store *st;
};

static void sql(struct fixture *f, const char *text)
{
	if (db_exec(f->db, text) != 0)
		fail_msg("%s: %s", text, db_errmsg(f->db));
}

static long long sql_int(struct fixture *f, const char *text)
{
	struct db_stmt *s = NULL;
	long long v;

	if (db_prepare(f->db, text, false, &s) != 0)
		fail_msg("%s: %s", text, db_errmsg(f->db));
	if (db_step(s) != DB_ROW)
		fail_msg("%s: no row: %s", text, db_errmsg(f->db));
	v = db_column_int(s, 0);
	db_finalize(s);
	return v;
}

static const char *sql_text(struct fixture *f, const char *text)
{
	static char out[1200];
	struct db_stmt *s = NULL;
	const char *v;

	if (db_prepare(f->db, text, false, &s) != 0)
		fail_msg("%s: %s", text, db_errmsg(f->db));
	if (db_step(s) != DB_ROW)
		fail_msg("%s: no row: %s", text, db_errmsg(f->db));
	v = db_column_text(s, 0);
	snprintf(out, sizeof(out), "%s", v ? v : "");
	db_finalize(s);
	return out;
}

static int setup(void **state)
{
	static int serial;
	struct fixture *f = calloc(1, sizeof(*f));
	struct cf_err err;

	if (!f)
		return -1;
	f->kind = engine;
	if (engine == DB_SQLITE) {
		snprintf(f->dir, sizeof(f->dir), "/tmp/cinderfs-unit.XXXXXX");
		if (!mkdtemp(f->dir))
			return -1;
		snprintf(f->setting, sizeof(f->setting), "%s/state.db", f->dir);
	} else {
		char text[128];

		snprintf(f->dbname, sizeof(f->dbname), "cf_cleaner_%d_%d", (int)getpid(), ++serial);
		snprintf(text, sizeof(text), "CREATE DATABASE %s", f->dbname);
		admin_exec(text);
		url_with_db(pg_url(), f->dbname, f->setting, sizeof(f->setting));
	}
	if (store_open(f->setting, STORE_CREATE | STORE_MIGRATE, &f->st, &err) != 0 ||
	    db_open(f->setting, 0, &f->db, &err) != 0) {
		print_error("cannot open %s: %s\n", f->setting, err.msg);
		return -1;
	}
	/* Worker 1 is dead and owns the rows; 2 cleans them; 3 is a peer. A
	 * request and its job, so progress has somewhere to go. */
	sql(f, "INSERT INTO services (id, host, \"binary\", deleted) VALUES "
	       "(1, 'dead@lvm', 'cinder-volume', 0), (2, 'live@lvm', 'cinder-volume', 0), "
	       "(3, 'peer@lvm', 'cinder-volume', 0)");
	sql(f, "INSERT INTO cleanup_requests (id, created_at, spec, filter) VALUES "
	       "(1, '" UNTIL "', '', '{}')");
	sql(f, "INSERT INTO cleanup_jobs (id, request_id, service_id, until, state, taken_by) VALUES "
	       "(1, 1, 1, '" UNTIL "', 'running', 2), (2, 1, 1, '" UNTIL "', 'running', 3)");
	/* Every write of a volume's or snapshot's status, even to the status
	 * it has: a resource cleaned twice shows twice. */
	if (engine == DB_SQLITE) {
		sql(f, "CREATE TABLE status_writes (id TEXT, status TEXT);"
		       "CREATE TRIGGER volume_status_writes AFTER UPDATE OF status ON volumes BEGIN "
		       "INSERT INTO status_writes VALUES (NEW.id, NEW.status); END;"
		       "CREATE TRIGGER snapshot_status_writes AFTER UPDATE OF status ON snapshots BEGIN "
		       "INSERT INTO status_writes VALUES (NEW.id, NEW.status); END;");
	} else {
		sql(f, "CREATE TABLE status_writes (id text, status text)");
		sql(f, "CREATE FUNCTION status_write() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
		       "INSERT INTO status_writes VALUES (NEW.id, NEW.status); RETURN NULL; END $$");
		sql(f, "CREATE TRIGGER volume_status_writes AFTER UPDATE OF status ON volumes "
		       "FOR EACH ROW EXECUTE FUNCTION status_write()");
		sql(f, "CREATE TRIGGER snapshot_status_writes AFTER UPDATE OF status ON snapshots "
		       "FOR EACH ROW EXECUTE FUNCTION status_write()");
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->st);
	db_close(f->db);
	if (f->kind == DB_SQLITE) {
		const char *suffixes[] = { "", "-wal", "-shm" };
		char path[160];

		for (int i = 0; i < 3; i++) {
			snprintf(path, sizeof(path), "%s/state.db%s", f->dir, suffixes[i]);
			unlink(path);
		}
		rmdir(f->dir);
	} else {
		char text[128];

		snprintf(text, sizeof(text), "DROP DATABASE %s WITH (FORCE)", f->dbname);
		admin_exec(text);
	}
	free(f);
	return 0;
}

/* The id of volume or snapshot i: aaaaaaaa-0000-4000-8000-<i>. */
static const char *res_id(int i)
{
	static char ids[8][40];
	static int next;
	char *out = ids[next++ % 8];

	snprintf(out, 40, "aaaaaaaa-0000-4000-8000-%012d", i);
	return out;
}

/* n rows of worker 1, ids 1..n: even ones creating volumes, odd ones
 * deleting volumes (ids from `first`). */
static void seed_rows(struct fixture *f, int first, int n)
{
	char text[1024];

	for (int i = first; i < first + n; i++) {
		const char *status = i % 2 ? "deleting" : "creating";

		snprintf(text, sizeof(text),
			 "INSERT INTO volumes (id, status, attach_status, size, deleted) VALUES "
			 "('%s', '%s', 'detached', 1, 0)", res_id(i), status);
		sql(f, text);
		snprintf(text, sizeof(text),
			 "INSERT INTO workers (resource_type, resource_id, status, service_id, "
			 "race_preventer, created_at, updated_at) VALUES ('Volume', '%s', '%s', 1, 0, "
			 "'" SEEDED "', '" SEEDED "')", res_id(i), status);
		sql(f, text);
	}
}

static struct worker_row *read_rows(struct fixture *f, size_t *n)
{
	struct worker_row *rows = NULL;

	assert_int_equal(store_rows_to_clean(f->st, 1, NULL, NULL, UNTIL, &rows, n), 0);
	return rows;
}

static struct job job_of(int64_t id)
{
	struct job j = { .id = id, .request_id = 1, .service_id = 1 };

	snprintf(j.until, sizeof(j.until), UNTIL);
	return j;
}

static const char *progress_of(struct fixture *f, int64_t job, const char *id)
{
	char text[300];

	snprintf(text, sizeof(text), "SELECT state || ': ' || COALESCE(detail, '') FROM "
		 "cleanup_progress WHERE job_id = %lld AND resource_id = '%s'", (long long)job, id);
	return sql_text(f, text);
}

static const char *volume_status(struct fixture *f, const char *id)
{
	char text[200];

	snprintf(text, sizeof(text), "SELECT status || '/' || deleted FROM volumes WHERE id = '%s'",
		 id);
	return sql_text(f, text);
}

/* ---- The store's batches ---- */

static void test_a_batch_claims_each_row_on_its_own(void **state)
{
	struct fixture *f = *state;
	struct timespec now = { NOW_SEC, 0 };
	struct worker_row *rows;
	bool claimed[5];
	size_t n;

	seed_rows(f, 1, 5);
	rows = read_rows(f, &n);
	assert_int_equal(n, 5);
	/* After we read them: one row moved on, a peer took another. */
	sql(f, "UPDATE workers SET race_preventer = race_preventer + 1 WHERE id = 2");
	sql(f, "UPDATE workers SET service_id = 3, race_preventer = race_preventer + 1 WHERE id = 4");
	assert_int_equal(store_claim_rows(f->st, rows, n, 2, 1, 1, &now, claimed), 0);
	assert_true(claimed[0] && !claimed[1] && claimed[2] && !claimed[3] && claimed[4]);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM workers WHERE service_id = 2 AND "
				    "race_preventer = 1 AND id IN (1, 3, 5)"), 3);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM workers WHERE id = 4 AND service_id = 3"), 1);
	/* Only what was claimed is recorded claimed. */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM cleanup_progress WHERE state = 'claimed' "
				    "AND worker_id = 2"), 3);
	assert_string_equal(progress_of(f, 1, res_id(1)), "claimed: ");
	/* The same rows again: nothing, each one is ours now. */
	assert_int_equal(store_claim_rows(f->st, rows, n, 3, 1, 2, &now, claimed), 0);
	for (size_t i = 0; i < n; i++)
		assert_false(claimed[i]);
	free(rows);
}

static void test_a_peer_claim_between_our_claim_and_our_end_wins(void **state)
{
	struct fixture *f = *state;
	struct timespec now = { NOW_SEC, 0 };
	struct store_change changes[4];
	struct row_end ends[4];
	struct worker_row *rows;
	bool claimed[4];
	int results[4];
	int64_t holders[4];
	size_t n;

	seed_rows(f, 1, 4); /* rows 1..4, volumes 1..4 */
	rows = read_rows(f, &n);
	assert_int_equal(store_claim_rows(f->st, rows, n, 2, 1, 1, &now, claimed), 0);
	/* While we work: a peer claims row 2 (our heartbeat failed), and
	 * row 3's owner removed it. */
	sql(f, "UPDATE workers SET service_id = 3, race_preventer = race_preventer + 1 WHERE id = 2");
	sql(f, "DELETE FROM workers WHERE id = 3");
	for (size_t i = 0; i < n; i++) {
		changes[i] = (struct store_change){ .kind = CHANGE_VOLUME_STATUS };
		snprintf(changes[i].id, sizeof(changes[i].id), "%s", rows[i].resource_id);
		snprintf(changes[i].status, sizeof(changes[i].status), "error");
		ends[i] = (struct row_end){ .row = &rows[i], .me = 2, .drop = true, .changes = &changes[i],
					    .n_changes = 1, .request_id = 1, .job_id = 1,
					    .state = "cleaned", .detail = "volume set to error" };
	}
	assert_int_equal(store_end_rows(f->st, ends, n, &now, results, holders), 0);
	assert_int_equal(results[0], 0);
	assert_int_equal(results[1], -ESTALE);
	assert_int_equal(holders[1], 3);
	assert_int_equal(results[2], -ESTALE);
	assert_int_equal(holders[2], 0); /* removed */
	assert_int_equal(results[3], 0);
	/* Ours ended; the peer's stands, nothing of ours written over it. */
	assert_string_equal(volume_status(f, res_id(1)), "error/0");
	assert_string_equal(volume_status(f, res_id(4)), "error/0");
	assert_string_equal(volume_status(f, res_id(2)), "creating/0");
	assert_string_equal(volume_status(f, res_id(3)), "deleting/0");
	assert_int_equal(sql_int(f, "SELECT count(*) FROM workers"), 1);
	assert_int_equal(sql_int(f, "SELECT service_id FROM workers WHERE id = 2"), 3);
	assert_string_equal(progress_of(f, 1, res_id(1)), "cleaned: volume set to error");
	assert_string_equal(progress_of(f, 1, res_id(2)), "claimed: ");
	assert_int_equal(sql_int(f, "SELECT count(*) FROM status_writes"), 2);
	free(rows);
}

/* A batch's end and the next batch's claim share one transaction: both
 * land (each row of the claim still on its own: a peer's row is not
 * ours), or, when any of it fails, neither does. */
static void test_a_batchs_end_and_the_next_claim_land_or_fail_together(void **state)
{
	struct fixture *f = *state;
	struct timespec now = { NOW_SEC, 0 };
	struct store_change changes[2];
	struct row_end ends[2];
	struct worker_row *rows, *more;
	bool claimed[2];
	int results[2];
	int64_t holders[2];
	size_t n, n_more;

	seed_rows(f, 1, 4);
	rows = read_rows(f, &n);
	assert_int_equal(store_claim_rows(f->st, rows, 2, 2, 1, 1, &now, claimed), 0);
	/* A peer takes row 4 before our next claim. */
	sql(f, "UPDATE workers SET service_id = 3, race_preventer = race_preventer + 1 WHERE id = 4");
	for (size_t i = 0; i < 2; i++) {
		changes[i] = (struct store_change){ .kind = CHANGE_VOLUME_STATUS };
		snprintf(changes[i].id, sizeof(changes[i].id), "%s", res_id((int)i + 1));
		snprintf(changes[i].status, sizeof(changes[i].status), "error");
		ends[i] = (struct row_end){ .row = &rows[i], .me = 2, .drop = true, .changes = &changes[i],
					    .n_changes = 1, .request_id = 1, .job_id = 1,
					    .state = "cleaned", .detail = "volume set to error" };
	}
	assert_int_equal(store_end_and_claim(f->st, ends, 2, results, holders, rows + 2, 2, 2, 1, 1,
					     &now, claimed), 0);
	assert_int_equal(results[0], 0);
	assert_int_equal(results[1], 0);
	assert_true(claimed[0] && !claimed[1]);
	assert_string_equal(volume_status(f, res_id(1)), "error/0");
	assert_string_equal(progress_of(f, 1, res_id(2)), "cleaned: volume set to error");
	assert_string_equal(progress_of(f, 1, res_id(3)), "claimed: ");
	assert_int_equal(sql_int(f, "SELECT count(*) FROM workers WHERE id IN (1, 2)"), 0);
	assert_int_equal(sql_int(f, "SELECT service_id FROM workers WHERE id = 3"), 2);
	assert_int_equal(sql_int(f, "SELECT service_id FROM workers WHERE id = 4"), 3);

	/* Now the claim of the next batch fails (the database refuses row
	 * 6): row 3's end is not written either, and nothing is claimed. */
	seed_rows(f, 5, 2);
	more = read_rows(f, &n_more);
	assert_int_equal(n_more, 2);
	if (f->kind == DB_SQLITE) {
		sql(f, "CREATE TRIGGER refuse_claim BEFORE UPDATE ON workers WHEN NEW.id = 6 BEGIN "
		       "SELECT RAISE(ABORT, 'refused by the test'); END");
	} else {
		sql(f, "CREATE FUNCTION refuse_claim() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
		       "RAISE EXCEPTION 'refused by the test'; END $$");
		sql(f, "CREATE TRIGGER refuse_claim BEFORE UPDATE ON workers FOR EACH ROW "
		       "WHEN (NEW.id = 6) EXECUTE FUNCTION refuse_claim()");
	}
	changes[0] = (struct store_change){ .kind = CHANGE_VOLUME_STATUS };
	snprintf(changes[0].id, sizeof(changes[0].id), "%s", res_id(3));
	snprintf(changes[0].status, sizeof(changes[0].status), "error");
	ends[0].row = &rows[2];
	claimed[0] = claimed[1] = true;
	results[0] = 0;
	assert_true(store_end_and_claim(f->st, ends, 1, results, holders, more, n_more, 2, 1, 1, &now,
					claimed) < 0);
	assert_true(results[0] < 0);
	assert_false(claimed[0] || claimed[1]);
	assert_string_equal(volume_status(f, res_id(3)), "deleting/0");
	assert_string_equal(progress_of(f, 1, res_id(3)), "claimed: ");
	assert_int_equal(sql_int(f, "SELECT service_id FROM workers WHERE id = 3"), 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM workers WHERE id IN (5, 6) AND "
				    "service_id = 1 AND race_preventer = 0"), 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM status_writes"), 2);
	free(rows);
	free(more);
}

static void test_a_batchs_changes_are_written_as_row_after_row_would(void **state)
{
	struct fixture *f = *state;
	struct timespec now = { NOW_SEC, 0 };
	/* Snapshot 11: set to error, then deleted: deleted. Snapshot 12:
	 * deleted, then set to error: stays deleted. Snapshot 13: error,
	 * then available: available. */
	struct store_change a[] = {
		{ CHANGE_SNAPSHOT_STATUS, "", "error" }, { CHANGE_SNAPSHOT_DELETED, "", "" },
		{ CHANGE_SNAPSHOT_STATUS, "", "error" },
	};
	struct store_change b[] = {
		{ CHANGE_SNAPSHOT_DELETED, "", "" }, { CHANGE_SNAPSHOT_STATUS, "", "error" },
		{ CHANGE_SNAPSHOT_STATUS, "", "available" },
	};
	struct row_end ends[2];
	struct worker_row *rows;
	bool claimed[2];
	int results[2];
	int64_t holders[2];
	size_t n;

	seed_rows(f, 2, 2);
	for (int i = 11; i <= 13; i++) {
		char text[300];
		snprintf(text, sizeof(text), "INSERT INTO snapshots (id, volume_id, status, deleted) "
			 "VALUES ('%s', '%s', 'deleting', 0)", res_id(i), res_id(2));
		sql(f, text);
	}
	snprintf(a[0].id, sizeof(a[0].id), "%s", res_id(11));
	snprintf(b[0].id, sizeof(b[0].id), "%s", res_id(11));
	snprintf(a[1].id, sizeof(a[1].id), "%s", res_id(12));
	snprintf(b[1].id, sizeof(b[1].id), "%s", res_id(12));
	snprintf(a[2].id, sizeof(a[2].id), "%s", res_id(13));
	snprintf(b[2].id, sizeof(b[2].id), "%s", res_id(13));
	rows = read_rows(f, &n);
	assert_int_equal(store_claim_rows(f->st, rows, n, 2, 1, 1, &now, claimed), 0);
	ends[0] = (struct row_end){ .row = &rows[0], .me = 2, .drop = true, .changes = a, .n_changes = 3,
				    .request_id = 1, .job_id = 1, .state = "cleaned", .detail = "a" };
	ends[1] = (struct row_end){ .row = &rows[1], .me = 2, .drop = true, .changes = b, .n_changes = 3,
				    .request_id = 1, .job_id = 1, .state = "cleaned", .detail = "b" };
	assert_int_equal(store_end_rows(f->st, ends, 2, &now, results, holders), 0);
	assert_string_equal(sql_text(f, "SELECT status || '/' || deleted FROM snapshots WHERE id = "
				     "'aaaaaaaa-0000-4000-8000-000000000011'"), "deleted/1");
	assert_string_equal(sql_text(f, "SELECT status || '/' || deleted FROM snapshots WHERE id = "
				     "'aaaaaaaa-0000-4000-8000-000000000012'"), "deleted/1");
	assert_string_equal(sql_text(f, "SELECT status || '/' || deleted FROM snapshots WHERE id = "
				     "'aaaaaaaa-0000-4000-8000-000000000013'"), "available/0");
	free(rows);
}

static void test_a_dead_cleaners_claimed_rows_are_given_back_and_finished(void **state)
{
	struct fixture *f = *state;
	struct timespec now = { NOW_SEC - 60, 0 };
	struct driver none = { &driver_none_ops, NULL };
	struct cleaner c = { .st = f->st, .drv = none, .me = 3 };
	struct cleaner_counts counts;
	struct job j = job_of(1);
	struct worker_row *rows;
	bool claimed[6];
	size_t n;

	seed_rows(f, 1, 6);
	rows = read_rows(f, &n);
	/* Worker 2 claims a batch for job 1 and dies before its end. */
	assert_int_equal(store_claim_rows(f->st, rows, n, 2, 1, 1, &now, claimed), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM workers WHERE service_id = 2"), 6);
	/* Its job goes back to the queue (the requeue of a dead taker, or a
	 * give back), its claimed rows with it, at a time the job reaches. */
	assert_int_equal(store_give_back_job(f->st, &j, 2, "worker 2 died", &now), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM workers WHERE service_id = 1 AND "
				    "updated_at <= '" UNTIL "'"), 6);
	/* The next taker finishes every one, each once. */
	sql(f, "UPDATE cleanup_jobs SET state = 'running', taken_by = 3 WHERE id = 1");
	assert_int_equal(cleaner_run_job(&c, &j, &counts), 0);
	assert_int_equal(counts.cleaned, 6);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM workers"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM status_writes"), 6);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM cleanup_progress WHERE state = 'cleaned'"), 6);
	free(rows);
}

static void test_rows_a_killed_cleaner_claimed_are_reached_by_a_cleanup_of_it(void **state)
{
	struct fixture *f = *state;
	struct timespec now = { NOW_SEC - 60, 0 };
	struct driver none = { &driver_none_ops, NULL };
	struct cleaner c = { .st = f->st, .drv = none, .me = 3 };
	struct cleaner_counts counts;
	struct job j = job_of(2);
	struct worker_row *rows;
	bool claimed[4];
	size_t n;

	seed_rows(f, 1, 4);
	rows = read_rows(f, &n);
	assert_int_equal(store_claim_rows(f->st, rows, n, 2, 1, 1, &now, claimed), 0);
	/* Worker 2 is down now: a cleanup of it reaches the rows it holds,
	 * claimed a minute before the request. */
	j.service_id = 2;
	assert_int_equal(cleaner_run_job(&c, &j, &counts), 0);
	assert_int_equal(counts.cleaned, 4);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM workers"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM status_writes"), 4);
	free(rows);
}

/* ---- The cleaner ---- */

/* A driver that records its calls; its remove_export lets a peer claim
 * rows in the middle of a batch, as a peer would while this worker could
 * not heartbeat. */
static char calls[4096];
static struct fixture *meddle;
static const char *meddle_sql;

static int record(const char *call, const char *id)
{
	size_t used = strlen(calls);

	snprintf(calls + used, sizeof(calls) - used, "%s%s(%s)", used ? " " : "", call, id);
	return 0;
}

static int rec_volume(void *ctx, const struct volume *v, struct cf_err *err)
{
	(void)ctx;
	(void)err;
	return record("delete_volume", v->id);
}

static int rec_snapshot(void *ctx, const struct snapshot *s, struct cf_err *err)
{
	(void)ctx;
	(void)err;
	return record("delete_snapshot", s->id);
}

static const char *export_error; /* remove_export fails with these words */

static int rec_export(void *ctx, const struct volume *v, struct cf_err *err)
{
	(void)ctx;
	if (export_error)
		return err_set(err, EIO, "%s", export_error);
	if (meddle_sql) {
		sql(meddle, meddle_sql);
		meddle_sql = NULL;
	}
	return record("remove_export", v->id);
}

static int rec_download(void *ctx, const struct volume *v, struct cf_err *err)
{
	(void)ctx;
	(void)err;
	return record("clear_download", v->id);
}

static const struct driver_ops recording = {
	.name = "fake",
	.delete_volume = rec_volume,
	.delete_snapshot = rec_snapshot,
	.remove_export = rec_export,
	.clear_download = rec_download,
};

static void test_a_peer_claiming_part_of_a_batch_meanwhile_keeps_its_rows(void **state)
{
	struct fixture *f = *state;
	struct cleaner c = { .st = f->st, .drv = { &recording, NULL }, .me = 2 };
	struct cleaner_counts counts;
	struct job j = job_of(1);

	calls[0] = '\0';
	seed_rows(f, 1, 6); /* rows 1..6: ids 1, 3, 5 deleting */
	/* While the first deleting volume is worked on, peer 3 claims rows 4
	 * and 5 of the batch. */
	meddle = f;
	meddle_sql = "UPDATE workers SET service_id = 3, race_preventer = race_preventer + 1 "
		     "WHERE id IN (4, 5)";
	assert_int_equal(cleaner_run_job(&c, &j, &counts), 0);
	assert_int_equal(counts.cleaned, 4);
	assert_int_equal(counts.skipped, 2);
	/* Ours ended; the peer's rows and resources are as the peer has them. */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM workers WHERE service_id = 3"), 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM workers"), 2);
	assert_string_equal(volume_status(f, res_id(4)), "creating/0");
	assert_string_equal(volume_status(f, res_id(5)), "deleting/0");
	assert_string_equal(volume_status(f, res_id(6)), "error/0");
	assert_string_equal(volume_status(f, res_id(3)), "deleted/1");
	assert_string_equal(progress_of(f, 1, res_id(4)),
			    "skipped: abandoned: worker 3 holds the row now; its result stands");
	assert_int_equal(sql_int(f, "SELECT count(*) FROM status_writes"), 4);
}

static void test_a_volume_and_its_snapshot_in_one_batch_are_each_cleaned_once(void **state)
{
	struct fixture *f = *state;
	struct cleaner c = { .st = f->st, .drv = { &recording, NULL }, .me = 2 };
	struct cleaner_counts counts;
	struct job j = job_of(1);
	char text[600];

	calls[0] = '\0';
	/* Row 1: volume 1 deleting, with snapshot 21 deleting; row 2: the
	 * snapshot's own row, deleting. Row after row, the volume's cascade
	 * deletes the snapshot, and its row then finds it gone. Then the
	 * other order: snapshot 22's row first, then volume 3's. */
	sql(f, "INSERT INTO volumes (id, status, attach_status, size, deleted) VALUES "
	       "('aaaaaaaa-0000-4000-8000-000000000001', 'deleting', 'detached', 1, 0), "
	       "('aaaaaaaa-0000-4000-8000-000000000003', 'deleting', 'detached', 1, 0)");
	sql(f, "INSERT INTO snapshots (id, volume_id, status, deleted) VALUES "
	       "('aaaaaaaa-0000-4000-8000-000000000021', 'aaaaaaaa-0000-4000-8000-000000000001', "
	       "'deleting', 0), ('aaaaaaaa-0000-4000-8000-000000000022', "
	       "'aaaaaaaa-0000-4000-8000-000000000003', 'deleting', 0)");
	snprintf(text, sizeof(text),
		 "INSERT INTO workers (id, resource_type, resource_id, status, service_id, race_preventer, "
		 "created_at, updated_at) VALUES "
		 "(1, 'Volume', '%s', 'deleting', 1, 0, '" SEEDED "', '" SEEDED "'), "
		 "(2, 'Snapshot', 'aaaaaaaa-0000-4000-8000-000000000021', 'deleting', 1, 0, '" SEEDED "', '" SEEDED "'), "
		 "(3, 'Snapshot', 'aaaaaaaa-0000-4000-8000-000000000022', 'deleting', 1, 0, '" SEEDED "', '" SEEDED "'), "
		 "(4, 'Volume', 'aaaaaaaa-0000-4000-8000-000000000003', 'deleting', 1, 0, '" SEEDED "', '" SEEDED "')",
		 res_id(1));
	sql(f, text);
	assert_int_equal(cleaner_run_job(&c, &j, &counts), 0);
	assert_string_equal(calls,
			    "remove_export(aaaaaaaa-0000-4000-8000-000000000001) "
			    "delete_snapshot(aaaaaaaa-0000-4000-8000-000000000021) "
			    "delete_volume(aaaaaaaa-0000-4000-8000-000000000001) "
			    "delete_snapshot(aaaaaaaa-0000-4000-8000-000000000022) "
			    "remove_export(aaaaaaaa-0000-4000-8000-000000000003) "
			    "delete_volume(aaaaaaaa-0000-4000-8000-000000000003)");
	assert_string_equal(progress_of(f, 1, "aaaaaaaa-0000-4000-8000-000000000021"),
			    "skipped: the snapshot is gone: row removed");
	assert_string_equal(progress_of(f, 1, "aaaaaaaa-0000-4000-8000-000000000003"),
			    "cleaned: volume deleted (driver fake: export removed, 0 snapshot(s) deleted, "
			    "volume removed)");
	assert_int_equal(sql_int(f, "SELECT count(*) FROM snapshots WHERE deleted = 1"), 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM workers"), 0);
	assert_int_equal(counts.cleaned, 3);
	assert_int_equal(counts.skipped, 1);
}

static void test_words_of_every_kind_reach_the_progress_as_written(void **state)
{
	struct fixture *f = *state;
	struct cleaner c = { .st = f->st, .drv = { &recording, NULL }, .me = 2 };
	struct cleaner_counts counts;
	struct job j = job_of(1);
	const char *words = "tgtadm said \"no\" \\ twice,\n\tthen \x01 and caf\xc3\xa9";
	char want[300];

	calls[0] = '\0';
	seed_rows(f, 1, 1); /* deleting */
	export_error = words;
	assert_int_equal(cleaner_run_job(&c, &j, &counts), 0);
	export_error = NULL;
	assert_int_equal(counts.failed, 1);
	snprintf(want, sizeof(want), "failed: removing the export of volume %s failed: %s", res_id(1),
		 words);
	assert_string_equal(progress_of(f, 1, res_id(1)), want);
	assert_int_equal(sql_int(f, "SELECT service_id FROM workers"), 1); /* given back */
}

static void test_rows_of_several_batches_are_all_cleaned(void **state)
{
	struct fixture *f = *state;
	struct cleaner c = { .st = f->st, .drv = { &driver_none_ops, NULL }, .me = 2 };
	struct cleaner_counts counts;
	struct job j = job_of(1);

	seed_rows(f, 1, 300);
	assert_int_equal(cleaner_run_job(&c, &j, &counts), 0);
	assert_int_equal(counts.cleaned, 300);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM workers"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM volumes WHERE status = 'error'"), 150);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM volumes WHERE deleted = 1"), 150);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM cleanup_progress WHERE state = 'cleaned'"), 300);
}

static void test_an_id_too_long_for_a_batch_is_read_on_its_own(void **state)
{
	struct fixture *f = *state;
	struct cleaner c = { .st = f->st, .drv = { &driver_none_ops, NULL }, .me = 2 };
	struct cleaner_counts counts;
	struct job j = job_of(1);

	/* Not a UUID, and longer than one: no batch read holds it. Without
	 * a volume it is gone; with one, it cannot be read, and goes back. */
	sql(f, "INSERT INTO workers (resource_type, resource_id, status, service_id, race_preventer, "
	       "created_at, updated_at) VALUES "
	       "('Volume', 'an-id-that-is-not-a-uuid-and-is-too-long-1', 'creating', 1, 0, '" SEEDED "', '" SEEDED "'), "
	       "('Volume', 'an-id-that-is-not-a-uuid-and-is-too-long-2', 'creating', 1, 0, '" SEEDED "', '" SEEDED "')");
	sql(f, "INSERT INTO volumes (id, status, attach_status, size, deleted) VALUES "
	       "('an-id-that-is-not-a-uuid-and-is-too-long-2', 'creating', 'detached', 1, 0)");
	assert_int_equal(cleaner_run_job(&c, &j, &counts), 0);
	assert_string_equal(progress_of(f, 1, "an-id-that-is-not-a-uuid-and-is-too-long-1"),
			    "skipped: the volume is gone: row removed");
	assert_int_equal(counts.failed, 1);
	assert_int_equal(sql_int(f, "SELECT service_id FROM workers"), 1);
}

/* Two cleaners, each with a connection and a job of its own, on the
 * same rows at once. */
struct racer {
	struct fixture *f;
	int64_t me, job;
	struct cleaner_counts counts;
	int rc;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct store *st;
	struct cf_err err;
	struct job j = job_of(r->job);

	r->rc = store_open(r->f->setting, 0, &st, &err);
	if (r->rc)
		return NULL;
	{
		struct cleaner c = { .st = st, .drv = { &driver_none_ops, NULL }, .me = r->me };
		r->rc = cleaner_run_job(&c, &j, &r->counts);
	}
	store_close(st);
	return NULL;
}

static void test_two_cleaners_racing_clean_every_row_once(void **state)
{
	struct fixture *f = *state;
	struct racer a = { .f = f, .me = 2, .job = 1 }, b = { .f = f, .me = 3, .job = 2 };
	pthread_t ta, tb;

	seed_rows(f, 1, 1000);
	assert_int_equal(pthread_create(&ta, NULL, race, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, race, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_int_equal(a.rc, 0);
	assert_int_equal(b.rc, 0);
	assert_int_equal(a.counts.cleaned + b.counts.cleaned, 1000);
	assert_int_equal(a.counts.failed + b.counts.failed, 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM workers"), 0);
	/* Each volume written once, each resource cleaned by one job. */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM status_writes"), 1000);
	assert_int_equal(sql_int(f, "SELECT count(DISTINCT id) FROM status_writes"), 1000);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM cleanup_progress WHERE state = 'cleaned'"), 1000);
	assert_int_equal(sql_int(f, "SELECT count(DISTINCT resource_id) FROM cleanup_progress "
				    "WHERE state = 'cleaned'"), 1000);
}

#define BOTH(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_a_batch_claims_each_row_on_its_own),
		BOTH(test_a_peer_claim_between_our_claim_and_our_end_wins),
		BOTH(test_a_batchs_end_and_the_next_claim_land_or_fail_together),
		BOTH(test_a_batchs_changes_are_written_as_row_after_row_would),
		BOTH(test_a_dead_cleaners_claimed_rows_are_given_back_and_finished),
		BOTH(test_rows_a_killed_cleaner_claimed_are_reached_by_a_cleanup_of_it),
		BOTH(test_a_peer_claiming_part_of_a_batch_meanwhile_keeps_its_rows),
		BOTH(test_a_volume_and_its_snapshot_in_one_batch_are_each_cleaned_once),
		BOTH(test_words_of_every_kind_reach_the_progress_as_written),
		BOTH(test_rows_of_several_batches_are_all_cleaned),
		BOTH(test_an_id_too_long_for_a_batch_is_read_on_its_own),
		BOTH(test_two_cleaners_racing_clean_every_row_once),
	};
	int failed;

	engine = DB_SQLITE;
	failed = cmocka_run_group_tests_name("cleaner on sqlite", tests, NULL, NULL);
	if (!pg_url()) {
		print_message("CINDERFS_TEST_PG_URL is not set: PostgreSQL not tested "
			      "(tests/with-postgresql runs a server for this)\n");
		return failed;
	}
	engine = DB_POSTGRESQL;
	failed += cmocka_run_group_tests_name("cleaner on postgresql", tests, NULL, NULL);
	return failed;
}
