/* progress.json's size from the request's row (migration 0009's triggers)
 * against its render, on both engines (SQLite on a temp file, PostgreSQL
 * on a database of its own per test in the server CINDERFS_TEST_PG_URL
 * names; without it the PostgreSQL group is skipped): every value kind,
 * with quotes, backslashes, control characters, non-ASCII text and odd
 * times, through inserts, updates, moves and deletes; and the render
 * against jansson's JSON_INDENT(2), the layout the mount showed before. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "dbtime.h"
#include "progress_json.h"
#include "store.h"
#include "testpg.h"

static enum db_kind engine; /* of the group running */

struct fixture {
	enum db_kind kind;
	char setting[512];
	char dir[64];    /* SQLite: the temp dir */
	char dbname[64]; /* PostgreSQL: the test's database */
	struct db *db;   /* for seeding with plain SQL */
	struct store *st;
};

/* A database, its schema at `version` (0: all of it). */
static int open_at(struct fixture *f, int version)
{
	struct cf_err err;

	if (db_open(f->setting, DB_CREATE, &f->db, &err) != 0 ||
	    store_open(f->setting, STORE_CREATE, &f->st, &err) != 0) {
		print_error("cannot open %s: %s\n", f->setting, err.msg);
		return -1;
	}
	{
		int count;
		const struct migration *list = db_migrations(f->db, &count);

		if (store_migrate(f->st, list, version ? version : count, &err) != 0) {
			print_error("cannot migrate %s: %s\n", f->setting, err.msg);
			return -1;
		}
	}
	return 0;
}

static int make(void **state)
{
	static int serial;
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->kind = engine;
	if (engine == DB_SQLITE) {
		snprintf(f->dir, sizeof(f->dir), "/tmp/cinderfs-unit.XXXXXX");
		if (!mkdtemp(f->dir))
			return -1;
		snprintf(f->setting, sizeof(f->setting), "%s/state.db", f->dir);
	} else {
		char sql[128];

		snprintf(f->dbname, sizeof(f->dbname), "cf_pj_%d_%d", (int)getpid(), ++serial);
		snprintf(sql, sizeof(sql), "CREATE DATABASE %s", f->dbname);
		admin_exec(sql);
		url_with_db(pg_url(), f->dbname, f->setting, sizeof(f->setting));
	}
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return make(state) || open_at(*state, 0) ? -1 : 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char path[128];

	store_close(f->st);
	db_close(f->db);
	if (f->kind == DB_SQLITE) {
		const char *suffixes[] = { "", "-wal", "-shm" };

		for (int i = 0; i < 3; i++) {
			snprintf(path, sizeof(path), "%s/state.db%s", f->dir, suffixes[i]);
			unlink(path);
		}
		rmdir(f->dir);
	} else {
		char sql[128];

		snprintf(sql, sizeof(sql), "DROP DATABASE %s WITH (FORCE)", f->dbname);
		admin_exec(sql);
	}
	free(f);
	return 0;
}

static void exec_ok(struct db *db, const char *sql)
{
	if (db_exec(db, sql) != 0)
		fail_msg("%s: %s", sql, db_errmsg(db));
}

/* Statements with ?1.. bound as text (NULL: SQL NULL). */
static void exec_texts(struct db *db, const char *sql, int n, ...)
{
	struct db_stmt *s;
	va_list ap;

	if (db_prepare(db, sql, false, &s) != 0)
		fail_msg("%s: %s", sql, db_errmsg(db));
	va_start(ap, n);
	for (int i = 1; i <= n; i++)
		db_bind_text(s, i, va_arg(ap, const char *));
	va_end(ap);
	if (db_step(s) != DB_DONE)
		fail_msg("%s: %s", sql, db_errmsg(db));
	db_finalize(s);
}

/* ---- jansson's rendering, as fs/cleanup.c made it before ---- */

struct reference {
	json_t *root, *jobs, *resources;
	struct request_summary sum;
};

static json_t *id_or_null(int64_t id)
{
	return id ? json_integer(id) : json_null();
}

static json_t *text_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static json_t *time_text(const char *stored)
{
	char iso[DBTIME_LEN];

	dbtime_to_iso(stored, iso);
	return json_string(iso);
}

static int ref_summary(void *ctx, const struct request_summary *sum)
{
	struct reference *r = ctx;
	r->sum = *sum;
	return 0;
}

static int ref_job(void *ctx, const struct progress_job_entry *j)
{
	struct reference *r = ctx;
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(j->id));
	json_object_set_new(o, "worker_id", json_integer(j->worker_id));
	json_object_set_new(o, "state", json_string(j->state ? j->state : ""));
	json_object_set_new(o, "taken_by", id_or_null(j->taken_by));
	json_object_set_new(o, "error", text_or_null(j->error));
	json_array_append_new(r->jobs, o);
	return 0;
}

static int ref_resource(void *ctx, const struct progress_resource_entry *e)
{
	struct reference *r = ctx;
	json_t *o = json_object();

	json_object_set_new(o, "resource_type", json_string(e->resource_type ? e->resource_type : ""));
	json_object_set_new(o, "resource_id", json_string(e->resource_id ? e->resource_id : ""));
	json_object_set_new(o, "state", json_string(e->state ? e->state : ""));
	json_object_set_new(o, "detail", text_or_null(e->detail));
	json_object_set_new(o, "job_id", json_integer(e->job_id));
	json_object_set_new(o, "by_worker", id_or_null(e->worker_id));
	json_object_set_new(o, "updated_at", time_text(e->updated_at));
	json_array_append_new(r->resources, o);
	return 0;
}

/* The document jansson makes of the same rows (valid UTF-8 only: jansson
 * takes nothing else). The header's counts are counted here. */
static char *jansson_render(struct store *st, int64_t id)
{
	static const struct store_progress_reader reader = { ref_summary, ref_job, ref_resource };
	static const char *const states[] = { "queued", "claimed", "cleaned", "skipped", "refused",
					      "failed", "cancelled" };
	struct reference r = { .jobs = json_array(), .resources = json_array() };
	json_t *root = json_object(), *who = json_object(), *counts = json_object(), *e;
	int running = 0, queued = 0, failed = 0, n[7] = { 0 };
	const char *state;
	char *text, *full;
	size_t i;

	assert_int_equal(store_read_progress(st, id, &reader, &r), 0);
	json_array_foreach(r.jobs, i, e) {
		const char *s = json_string_value(json_object_get(e, "state"));
		running += !strcmp(s, "running");
		queued += !strcmp(s, "queued");
		failed += !strcmp(s, "failed");
	}
	json_array_foreach(r.resources, i, e) {
		const char *s = json_string_value(json_object_get(e, "state"));
		for (int k = 0; k < 7; k++)
			n[k] += !strcmp(s, states[k]);
	}
	state = running ? "running" : queued ? "queued" : r.sum.cancelled_at[0] ? "cancelled"
		: failed || n[4] || n[5] ? "failed" : "done";
	json_object_set_new(who, "uid", json_integer(r.sum.uid));
	json_object_set_new(who, "pid", json_integer(r.sum.pid));
	if (r.sum.auto_by) {
		json_t *a = json_object();
		json_object_set_new(a, "by_worker", json_integer(r.sum.auto_by));
		json_object_set_new(a, "worker_id", json_integer(r.sum.auto_worker));
		json_object_set_new(a, "down_since", time_text(r.sum.auto_down_since));
		json_object_set_new(a, "after_seconds", json_integer(r.sum.auto_after));
		json_object_set_new(who, "auto_cleanup", a);
	}
	json_object_set_new(root, "request", json_integer(r.sum.id));
	json_object_set_new(root, "state", json_string(state));
	json_object_set_new(root, "generation", json_integer(r.sum.generation));
	json_object_set_new(root, "created_at", time_text(r.sum.created_at));
	json_object_set_new(root, "requested_by", who);
	json_object_set_new(root, "accepted_by", id_or_null(r.sum.accepted_by));
	for (int k = 0; k < 7; k++)
		json_object_set_new(counts, states[k], json_integer(n[k]));
	json_object_set_new(root, "counts", counts);
	if (r.sum.cancelled_at[0]) {
		json_t *c = json_object();
		json_object_set_new(c, "at", time_text(r.sum.cancelled_at));
		json_object_set_new(c, "by_uid", json_integer(r.sum.cancelled_by));
		json_object_set_new(root, "cancelled", c);
	}
	json_object_set_new(root, "jobs", r.jobs);
	json_object_set_new(root, "resources", r.resources);
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	assert_non_null(text);
	full = malloc(strlen(text) + 2);
	if (!full)
		abort();
	sprintf(full, "%s\n", text);
	free(text);
	return full;
}

/* The document's text, read in pieces of every size from every kind of
 * offset: each piece is the same bytes as the whole read at once. */
static char *read_whole(const struct progress_json *doc)
{
	static const size_t sizes[] = { 1, 2, 3, 7, 64, 100, 4096, 65536 };
	char *text = malloc(doc->len + 1), *piece = malloc(doc->len + 16);

	assert_non_null(text);
	assert_non_null(piece);
	assert_int_equal(progress_json_read(doc, text, doc->len + 1, 0), doc->len);
	text[doc->len] = '\0';
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t step = sizes[s] < 50 ? 997 : 1; /* small pieces: a sample of offsets */

		for (size_t off = 0; off <= doc->len; off += sizes[s] * step) {
			size_t want = doc->len - off < sizes[s] ? doc->len - off : sizes[s];
			size_t got = progress_json_read(doc, piece, sizes[s], (off_t)off);

			if (got != want || memcmp(piece, text + off, got) != 0)
				fail_msg("%zu bytes at %zu: got %zu, not the document's %zu", sizes[s], off,
					 got, want);
		}
	}
	assert_int_equal(progress_json_read(doc, piece, 10, (off_t)doc->len + 5), 0);
	free(piece);
	return text;
}

/* The size stat gives equals the render's length; with `reference`, the
 * render is jansson's byte for byte. */
static void check_request(struct fixture *f, int64_t id, bool reference)
{
	struct request_summary sum;
	struct progress_json doc;

	char *text;

	assert_int_equal(store_request_summary(f->st, id, &sum), 0);
	assert_int_equal(progress_json_render(f->st, id, &doc), 0);
	text = read_whole(&doc);
	if (progress_json_size(&sum) != (int64_t)doc.len)
		fail_msg("request %lld: stat says %lld bytes, the render has %zu:\n%.*s", (long long)id,
			 (long long)progress_json_size(&sum), doc.len, (int)doc.len, text);
	assert_int_equal(memcmp(&sum, &doc.summary, sizeof(sum)), 0);
	if (reference) {
		char *want = jansson_render(f->st, id);
		if (strlen(want) != doc.len || memcmp(want, text, doc.len) != 0)
			fail_msg("request %lld renders\n%.*s\nnot jansson's\n%s", (long long)id,
				 (int)doc.len, text, want);
		free(want);
	}
	free(text);
	progress_json_free(&doc);
}

static void add_request(struct fixture *f, int64_t id)
{
	char sql[512];

	snprintf(sql, sizeof(sql),
		 "INSERT INTO cleanup_requests (id, created_at, spec, filter, result_size, "
		 "requester_uid, requester_pid, accepted_by) VALUES (%lld, '2026-11-29 08:00:00.000000', "
		 "?1, '{}', ?2, 0, 4242, %lld)", (long long)id, (long long)(id % 2 ? 0 : 7));
	{
		static const char spec[] = "host=\xc3\xa9t\xc3\xa9@lvm\n";
		struct db_stmt *s;

		assert_int_equal(db_prepare(f->db, sql, false, &s), 0);
		db_bind_blob(s, 1, spec, strlen(spec));
		/* The result's size in bytes, as the store records it with its
		 * pieces (store_add_request). */
		db_bind_int(s, 2, (int64_t)strlen("{\"cleaning\": [\"\xe6\x97\xa5\xe6\x9c\xac\"], "
						  "\"unavailable\": []}\n"));
		if (db_step(s) != DB_DONE)
			fail_msg("%s: %s", sql, db_errmsg(f->db));
		db_finalize(s);
	}
}

/* Texts JSON escapes one way or another. */
static const char *const odd_texts[] = {
	"plain",
	"say \"hi\"",
	"back\\slash \\\\ twice",
	"line 1\nline 2\r\n",
	"tab\there\bbell\fform",
	"\x01\x02\x1f control",
	"\x7f is not escaped",
	"/ is not escaped",
	"\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80",
	"\\u0041 looks like an escape",
	"",
};

/* Stored times dbtime_to_iso reads, with every length it can give, and
 * texts it refuses. */
static const char *const odd_times[] = {
	"2026-11-29 08:00:33.123456",
	"2026-11-29 08:00:33",
	"2026-11-29T08:00:33Z",
	"2026-11-29 08:00:33.5Z",
	"2026-02-31 00:00:00",      /* runs into March */
	"2026-12-31 23:59:60",      /* into the next year */
	"9999-12-31 23:59:60",      /* into year 10000: a digit more */
	"0999-06-01 00:00:00",      /* year 999: a digit less */
	"0000-01-01 00:00:00",
	"2026-13-01 00:00:00",
	"2026-11-29 24:00:00",
	"2026-11-29 08:00:33.",
	"2026-11-29 08:00:33\n",
	"2026-11-29 08:00:33ZZ",
	"\xef\xbc\x92" "026-11-29 08:00:33",
	"garbage",
	"",
	/* Around SQLite's fast path for the times the daemon writes. */
	"1000-01-01 00:00:00.000000",
	"8999-12-31 23:59:59.999999",
	"9000-01-01 00:00:00.000000",
	"0999-01-01 00:00:00.000000",
	"2026-00-10 00:00:00.000000",
	"2026-11-32 00:00:00.000000",
	"2026-11-29 24:00:00.000000",
	"2026-11-29 23:59:60.000000",
	"2026-12-31 23:59:60.000000",
	"9999-12-31 23:59:60.000000",
	"2026-11-29 08:00:33.1234567",
	"2026-11-29T08:00:33.123456",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void seed_odd_rows(struct fixture *f, int64_t request)
{
	char sql[512];

	snprintf(sql, sizeof(sql), "INSERT INTO cleanup_jobs (request_id, service_id, until, state, "
		 "taken_by, error) VALUES (%lld, 12, 't', ?1, CAST(?2 AS BIGINT), ?3)", (long long)request);
	exec_texts(f->db, sql, 3, "queued", NULL, NULL);
	exec_texts(f->db, sql, 3, "running", "0", "");
	exec_texts(f->db, sql, 3, "failed", "123456789012", "it \"broke\"\nbadly \xc3\xa9");
	exec_texts(f->db, sql, 3, "a state of its own", "7", "\x01");
	for (size_t i = 0; i < COUNT(odd_texts) * 2; i++) {
		char id[64], job[16], worker[16];
		const char *text = odd_texts[i % COUNT(odd_texts)];

		snprintf(id, sizeof(id), "%s-%zu", i % 3 ? "vol" : "v\"o\\l", i);
		snprintf(job, sizeof(job), "%zu", 1 + i % 4);
		snprintf(worker, sizeof(worker), "%zu", i % 3 ? i * 1000 : 0);
		snprintf(sql, sizeof(sql), "INSERT INTO cleanup_progress (request_id, job_id, "
			 "resource_type, resource_id, state, detail, worker_id, updated_at) VALUES "
			 "(%lld, CAST(?1 AS BIGINT), ?2, ?3, 'queued', ?4, CAST(?5 AS BIGINT), ?6)", (long long)request);
		exec_texts(f->db, sql, 6, job, i % 2 ? "Volume" : "Snap\tshot", id,
			   i % 5 == 4 ? NULL : text, i % 4 == 3 ? NULL : worker,
			   odd_times[i % COUNT(odd_times)]);
	}
}

static void test_size_is_the_renders_through_a_requests_life(void **state)
{
	struct fixture *f = *state;
	char sql[512];

	add_request(f, 1);
	check_request(f, 1, true); /* no jobs, no resources: [] and [] */
	seed_odd_rows(f, 1);
	check_request(f, 1, true);
	/* Claimed, then cleaned, with details of every kind. */
	exec_ok(f->db, "UPDATE cleanup_progress SET state = 'claimed', worker_id = 3 WHERE id % 2 = 0");
	check_request(f, 1, true);
	/* As the cleaner writes: upserts, of a row there and of a new one. */
	{
		struct timespec now = { 1795953600, 123456000 };
		assert_int_equal(store_set_progress(f->st, 1, 2, "Volume", "vol-1", "cleaned",
						    "set to \"error\"\n\xc3\xa9", 9, &now), 0);
		assert_int_equal(store_set_progress(f->st, 1, 2, "Volume", "vol-new", "refused",
						    "no\\way", 9, &now), 0);
		assert_int_equal(store_note_progress(f->st, 1, 3, "Volume", "vol-noted", "skipped",
						     "\t", 8, &now), 0);
	}
	check_request(f, 1, true);
	for (size_t i = 0; i < COUNT(odd_texts); i++) {
		snprintf(sql, sizeof(sql), "UPDATE cleanup_progress SET state = 'cleaned', detail = ?1, "
			 "updated_at = ?2 WHERE id %% %zu = %zu", COUNT(odd_texts), i);
		exec_texts(f->db, sql, 2, odd_texts[i], odd_times[(i * 7) % COUNT(odd_times)]);
		check_request(f, 1, true);
	}
	exec_ok(f->db, "UPDATE cleanup_jobs SET state = 'done', taken_by = 3 WHERE state = 'running'");
	exec_ok(f->db, "UPDATE cleanup_jobs SET state = 'cancelled' WHERE state = 'queued'");
	exec_ok(f->db, "UPDATE cleanup_requests SET cancelled_at = '2026-11-29 09:00:00.000000', "
		       "cancelled_by = 1000 WHERE id = 1");
	check_request(f, 1, true);
	/* Rows that move to another request, and rows deleted. */
	add_request(f, 2);
	exec_ok(f->db, "UPDATE cleanup_progress SET request_id = 2 WHERE id % 3 = 0");
	exec_ok(f->db, "UPDATE cleanup_jobs SET request_id = 2 WHERE id = 4");
	check_request(f, 1, true);
	check_request(f, 2, true);
	exec_ok(f->db, "DELETE FROM cleanup_progress WHERE id % 4 = 1");
	exec_ok(f->db, "DELETE FROM cleanup_jobs WHERE id = 1");
	check_request(f, 1, true);
	check_request(f, 2, true);
	exec_ok(f->db, "DELETE FROM cleanup_progress");
	exec_ok(f->db, "DELETE FROM cleanup_jobs");
	check_request(f, 1, true);
}

/* The newest request's summary, and its spec and result in bytes (a text
 * column's length() would count characters). */
static void test_spec_and_result_are_measured_in_bytes(void **state)
{
	struct fixture *f = *state;
	struct request_summary sum;
	struct request_row req;

	assert_int_equal(store_request_summary(f->st, 0, &sum), -ENOENT);
	add_request(f, 1);
	add_request(f, 2);
	assert_int_equal(store_request_summary(f->st, 0, &sum), 0);
	assert_int_equal(sum.id, 2);
	assert_int_equal(store_get_request(f->st, 2, &req), 0);
	assert_int_equal(sum.spec_bytes, req.spec_len);
	assert_int_equal(sum.result_bytes, req.result_size);
	assert_int_equal(sum.result_bytes, 44);
	assert_int_equal(sum.spec_bytes, strlen("host=\xc3\xa9t\xc3\xa9@lvm\n"));
	store_request_free(&req);
	exec_texts(f->db, "UPDATE cleanup_requests SET result_size = 3 WHERE id = 2", 0);
	assert_int_equal(store_request_summary(f->st, 2, &sum), 0);
	assert_int_equal(sum.result_bytes, 3);
}

/* More rows than a page: read in pages, in id order, all of them. */
static void test_a_request_larger_than_a_page(void **state)
{
	struct fixture *f = *state;
	const char *gen = f->kind == DB_SQLITE
		? "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) "
		  "INSERT INTO cleanup_progress (request_id, job_id, resource_type, resource_id, state, "
		  "detail, updated_at) SELECT 1, 1, 'Volume', 'vol-' || i, 'queued', "
		  "CASE WHEN i % 7 = 0 THEN 'd\"' || i END, '2026-11-29 08:00:00.000000' FROM n"
		: "INSERT INTO cleanup_progress (request_id, job_id, resource_type, resource_id, state, "
		  "detail, updated_at) SELECT 1, 1, 'Volume', 'vol-' || i, 'queued', "
		  "CASE WHEN i % 7 = 0 THEN 'd\"' || i END, '2026-11-29 08:00:00.000000' "
		  "FROM generate_series(1, 10000) i";
	struct request_summary sum;

	add_request(f, 1);
	exec_ok(f->db, "INSERT INTO cleanup_jobs (request_id, service_id, until) VALUES (1, 3, 't')");
	exec_ok(f->db, gen);
	exec_ok(f->db, "UPDATE cleanup_progress SET state = 'cleaned', detail = 'ok\\n' WHERE id % 2 = 0");
	assert_int_equal(store_request_summary(f->st, 1, &sum), 0);
	assert_int_equal(sum.resources_total, 10000);
	assert_int_equal(sum.resources_by_state[2], 5000);
	check_request(f, 1, true);
}

/* Bytes that are not UTF-8 (SQLite keeps them; PostgreSQL refuses them at
 * the door): passed through as they are, and counted as they are. */
static void test_bytes_that_are_not_utf8_are_counted_as_rendered(void **state)
{
	struct fixture *f = *state;

	if (f->kind != DB_SQLITE)
		skip();
	add_request(f, 1);
	exec_ok(f->db, "INSERT INTO cleanup_jobs (request_id, service_id, until, error) "
		       "VALUES (1, 3, 't', CAST(X'ff22fe' AS TEXT))");
	exec_ok(f->db, "INSERT INTO cleanup_progress (request_id, job_id, resource_type, resource_id, "
		       "state, detail, updated_at) VALUES (1, 1, 'Volume', CAST(X'c328' AS TEXT), "
		       "'queued', CAST(X'80' AS TEXT), '2026-11-29 08:00:00')");
	check_request(f, 1, false);
}

/* A database whose requests predate migration 0009: the migration
 * measures them. */
static void test_the_migration_measures_requests_already_there(void **state)
{
	struct fixture *f = *state;
	struct cf_err err;
	int count;
	const struct migration *list;

	assert_int_equal(open_at(f, 8), 0);
	add_request(f, 1);
	add_request(f, 2);
	seed_odd_rows(f, 1);
	exec_ok(f->db, "UPDATE cleanup_progress SET state = 'cleaned' WHERE id % 2 = 0");
	list = db_migrations(f->db, &count);
	assert_int_equal(store_migrate(f->st, list, count, &err), 0);
	check_request(f, 1, true);
	check_request(f, 2, true);
	{
		struct request_summary sum;
		assert_int_equal(store_request_summary(f->st, 1, &sum), 0);
		assert_int_equal(sum.spec_bytes, strlen("host=\xc3\xa9t\xc3\xa9@lvm\n"));
		assert_int_equal(sum.resources_total, 2 * COUNT(odd_texts));
	}
}

/* The store's render callback for the test's requests: a fixed result. */
static int render_fixed(void *ctx, store_emit_fn emit, void *emit_ctx)
{
	(void)ctx;
	return emit(emit_ctx, "{\"cleaning\": [], \"unavailable\": []}\n", 36);
}

/* A request recorded by the store (store_add_request) is counted as 0009's
 * triggers count it, whichever way the engine's store counts it (SQLite:
 * once, after its rows, through 0010's views): the render's size, the
 * generation and revision the triggers would have left, and the triggers
 * themselves, which take every counter back to 0 when its rows go. */
static void test_a_request_the_store_records_is_counted_as_the_triggers_count(void **state)
{
	struct fixture *f = *state;
	static const char spec[] = "{}\n";
	const struct new_job jobs[] = {
		{ .service_id = 12, .dest_cluster = "c\"l\\1@lvm" },
		{ .service_id = 13, .dest_service = 5 },
		{ .service_id = 1234567 },
		{ .service_id = 14, .dest_cluster = "\xc3\xa9t\xc3\xa9@lvm" },
	};
	struct new_request req = {
		.spec = spec, .spec_len = strlen(spec), .filter_json = "{}",
		.render_result = render_fixed, .uid = 0, .pid = 4242, .accepted_by = 7,
		.until = { 1795953600, 0 }, .jobs = jobs, .job_count = COUNT(jobs),
	};
	struct request_summary made, after;
	struct cf_err err;
	int64_t id = 0;

	/* Rows the jobs reach (or not: 15 has no job, one row is too new). */
	for (size_t i = 0; i < COUNT(odd_texts) * 2; i++) {
		char sql[512], rid[64];
		static const char *const owners[] = { "12", "13", "14", "15", "1234567" };

		snprintf(rid, sizeof(rid), "%s%zu", odd_texts[i % COUNT(odd_texts)], i);
		snprintf(sql, sizeof(sql), "INSERT INTO workers (resource_type, resource_id, status, "
			 "service_id, updated_at) VALUES (?1, ?2, 'creating', CAST(?3 AS BIGINT), ?4)");
		exec_texts(f->db, sql, 4, i % 2 ? "Volume" : "Snapshot", rid, owners[i % 5],
			   i == 7 ? "2099-01-01 00:00:00.000000" : "2026-11-29 08:00:00.000000");
	}
	assert_int_equal(store_add_request(f->st, &req, &id, &err), 0);
	check_request(f, id, true);
	assert_int_equal(store_request_summary(f->st, id, &made), 0);
	assert_int_equal(made.jobs_total, COUNT(jobs));
	assert_int_equal(made.jobs_queued, COUNT(jobs));
	assert_true(made.resources_total > 10);
	assert_int_equal(made.resources_by_state[0], made.resources_total); /* all queued */
	assert_int_equal(made.generation, made.resources_total);
	assert_int_equal(made.revision, made.jobs_total + made.resources_total);
	assert_int_equal(made.result_bytes, 36);
	assert_int_equal(made.spec_bytes, strlen(spec));

	/* The triggers take away what each row is: nothing must be left. */
	{
		exec_ok(f->db, "CREATE TABLE jobs_kept AS SELECT * FROM cleanup_jobs");
		exec_ok(f->db, "CREATE TABLE progress_kept AS SELECT * FROM cleanup_progress");
		exec_ok(f->db, "DELETE FROM cleanup_progress");
		exec_ok(f->db, "DELETE FROM cleanup_jobs");
		assert_int_equal(store_request_summary(f->st, id, &after), 0);
		assert_int_equal(after.jobs_total, 0);
		assert_int_equal(after.jobs_value_bytes, 0);
		assert_int_equal(after.jobs_queued, 0);
		assert_int_equal(after.resources_total, 0);
		assert_int_equal(after.resources_value_bytes, 0);
		assert_int_equal(after.resources_by_state[0], 0);
		/* ... and give it back as it was. */
		exec_ok(f->db, "INSERT INTO cleanup_jobs SELECT * FROM jobs_kept");
		exec_ok(f->db, "INSERT INTO cleanup_progress SELECT * FROM progress_kept");
		assert_int_equal(store_request_summary(f->st, id, &after), 0);
		assert_int_equal(after.jobs_value_bytes, made.jobs_value_bytes);
		assert_int_equal(after.resources_value_bytes, made.resources_value_bytes);
		assert_int_equal(after.resources_total, made.resources_total);
		exec_ok(f->db, "DROP TABLE jobs_kept");
		exec_ok(f->db, "DROP TABLE progress_kept");
	}
	check_request(f, id, true);
}

/* An automatic cleanup's request: its mark goes in with it, and
 * progress.json says who asked and why, at the size stat gives. The same
 * outage asked for again (another member, another connection) is
 * -EALREADY with nothing written; so is one whose member beat since. */
static void test_an_automatic_cleanup_is_marked_once_and_says_so(void **state)
{
	struct fixture *f = *state;
	static const char spec[] = "{\"host\": \"n9@lvm\"}";
	const char *beat = "2026-11-29 07:00:00.250000";
	struct store_outage outage = {
		.service_id = 9, .last_heartbeat = beat, .cluster_name = "c1@lvm", .host = "n9@lvm",
		.after_seconds = 600, .requested_by = 7,
	};
	const struct new_job jobs[] = { { .service_id = 9, .dest_cluster = "c1@lvm" } };
	struct new_request req = {
		.spec = spec, .spec_len = strlen(spec), .filter_json = "{}",
		.render_result = render_fixed, .uid = 0, .pid = 4242, .accepted_by = 7,
		.until = { 1795953600, 0 }, .jobs = jobs, .job_count = COUNT(jobs), .outage = &outage,
	};
	struct request_summary sum;
	struct store *other;
	struct cf_err err;
	int64_t id = 0, again = 0;

	exec_texts(f->db, "INSERT INTO services (id, host, \"binary\", created_at, updated_at, deleted, "
		   "cluster_name) VALUES (9, 'n9@lvm', 'cinder-volume', ?1, ?1, 0, 'c1@lvm')", 1, beat);
	exec_ok(f->db, "INSERT INTO workers (resource_type, resource_id, status, service_id, updated_at) "
		       "VALUES ('Volume', 'v9', 'creating', 9, '2026-11-29 07:00:00.000000')");
	assert_int_equal(store_add_request(f->st, &req, &id, &err), 0);
	check_request(f, id, true);
	assert_int_equal(store_request_summary(f->st, id, &sum), 0);
	assert_int_equal(sum.auto_by, 7);
	assert_int_equal(sum.auto_worker, 9);
	assert_int_equal(sum.auto_after, 600);
	assert_string_equal(sum.auto_down_since, beat);

	/* Another member, on a connection of its own, a moment later. */
	assert_int_equal(store_open(f->setting, 0, &other, &err), 0);
	outage.requested_by = 8;
	req.accepted_by = 8;
	assert_int_equal(store_add_request(other, &req, &again, &err), -EALREADY);
	assert_non_null(strstr(err.msg, "cleaned already"));
	/* The member came back (a new heartbeat), the outage read before. */
	exec_ok(f->db, "UPDATE services SET updated_at = '2026-11-29 07:00:09.000000' WHERE id = 9");
	outage.last_heartbeat = "2026-11-29 07:00:05.000000";
	assert_int_equal(store_add_request(other, &req, &again, &err), -EALREADY);
	store_close(other);
	{
		struct request_summary last;
		assert_int_equal(store_request_summary(f->st, 0, &last), 0);
		assert_int_equal(last.id, id); /* nothing else recorded */
	}
	/* An operator's request says nothing of it. */
	req.outage = NULL;
	assert_int_equal(store_add_request(f->st, &req, &again, &err), 0);
	assert_int_equal(store_request_summary(f->st, again, &sum), 0);
	assert_int_equal(sum.auto_by, 0);
	check_request(f, again, true);

	/* History pruned: a mark goes with its request once its outage is
	 * over (9 beat since); one whose member is still down in that
	 * outage stays, or the member would be asked for again. */
	exec_ok(f->db, "INSERT INTO auto_cleanups (service_id, last_heartbeat, cluster_name, host, "
		       "after_seconds, requested_by, request_id, created_at) VALUES (9, "
		       "'2026-11-29 07:00:09.000000', 'c1@lvm', 'n9@lvm', 600, 7, 999, "
		       "'2026-11-29 07:00:20.000000')");
	exec_ok(f->db, "UPDATE cleanup_jobs SET state = 'done'");
	{
		struct timespec now = { 1795953600, 0 };
		assert_int_equal(store_prune_requests(f->st, 1, 0, &now), 1);
	}
	assert_int_equal(store_request_summary(f->st, id, &sum), -ENOENT);
	{
		struct db_stmt *q;
		assert_int_equal(db_prepare(f->db, "SELECT count(*), min(request_id) FROM auto_cleanups",
					    false, &q), 0);
		assert_int_equal(db_step(q), DB_ROW);
		assert_int_equal(db_column_int(q, 0), 1);
		assert_int_equal(db_column_int(q, 1), 999);
		db_finalize(q);
	}
}

/* A request that is gone: -ENOENT, from the summary and the render. */
static void test_a_request_that_is_gone(void **state)
{
	struct fixture *f = *state;
	struct request_summary sum;
	struct progress_json doc;

	assert_int_equal(store_request_summary(f->st, 5, &sum), -ENOENT);
	assert_int_equal(progress_json_render(f->st, 5, &doc), -ENOENT);
}

#define BOTH(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_size_is_the_renders_through_a_requests_life),
		BOTH(test_spec_and_result_are_measured_in_bytes),
		BOTH(test_a_request_larger_than_a_page),
		BOTH(test_bytes_that_are_not_utf8_are_counted_as_rendered),
		cmocka_unit_test_setup_teardown(test_the_migration_measures_requests_already_there, make,
						teardown),
		BOTH(test_a_request_the_store_records_is_counted_as_the_triggers_count),
		BOTH(test_a_request_that_is_gone),
		BOTH(test_an_automatic_cleanup_is_marked_once_and_says_so),
	};
	int failed;

	engine = DB_SQLITE;
	failed = cmocka_run_group_tests_name("progress.json on sqlite", tests, NULL, NULL);
	if (!pg_url()) {
		print_message("CINDERFS_TEST_PG_URL is not set: PostgreSQL not tested "
			      "(tests/with-postgresql runs a server for this)\n");
		return failed;
	}
	engine = DB_POSTGRESQL;
	failed += cmocka_run_group_tests_name("progress.json on postgresql", tests, NULL, NULL);
	return failed;
}
