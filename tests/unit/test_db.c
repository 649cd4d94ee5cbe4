/* db.h on both engines with the same assertions: SQLite on a temp file,
 * PostgreSQL on a database of its own per test in the server that
 * CINDERFS_TEST_PG_URL names (tests/with-postgresql starts one; without
 * it the PostgreSQL group is skipped). What only one engine does (the
 * write lock's wait on PostgreSQL, a session killed by the server) is
 * tested where it applies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "db_engine.h"
#include "dbtime.h"
#include "liveness.h"
#include "testpg.h"

static enum db_kind engine; /* of the group running */

struct fixture {
	enum db_kind kind;
	char setting[512];
	char dir[64];        /* SQLite: the temp dir */
	char dbname[64];     /* PostgreSQL: the test's database */
	struct db *db;
};

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
		char sql[128];

		snprintf(f->dbname, sizeof(f->dbname), "cf_test_%d_%d", (int)getpid(), ++serial);
		snprintf(sql, sizeof(sql), "CREATE DATABASE %s", f->dbname);
		admin_exec(sql);
		url_with_db(pg_url(), f->dbname, f->setting, sizeof(f->setting));
	}
	if (db_open(f->setting, DB_CREATE, &f->db, &err) != 0) {
		print_error("cannot open %s: %s\n", f->setting, err.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char path[128];

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

static void only_postgresql(const struct fixture *f)
{
	if (f->kind != DB_POSTGRESQL)
		skip();
}

static void exec_ok(struct db *db, const char *sql)
{
	if (db_exec(db, sql) != 0)
		fail_msg("%s: %s", sql, db_errmsg(db));
}

static struct db_stmt *prepare_ok(struct db *db, const char *sql, bool keep)
{
	struct db_stmt *s = NULL;

	if (db_prepare(db, sql, keep, &s) != 0)
		fail_msg("prepare %s: %s", sql, db_errmsg(db));
	return s;
}

static int step_ok(struct db *db, struct db_stmt *s)
{
	int rc = db_step(s);

	if (rc < 0)
		fail_msg("step: %s (%d)", db_errmsg(db), rc);
	return rc;
}

/* A table of (id, name, data, n), in each engine's words. */
static void make_table(struct fixture *f)
{
	if (f->kind == DB_SQLITE)
		exec_ok(f->db, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, data BLOB, n INTEGER)");
	else
		exec_ok(f->db, "CREATE TABLE t (id bigserial PRIMARY KEY, name text UNIQUE, data bytea, n bigint)");
}

static void insert_row(struct fixture *f, const char *name, int64_t n)
{
	struct db_stmt *s = prepare_ok(f->db, "INSERT INTO t (name, n) VALUES (?1, ?2)", false);

	db_bind_text(s, 1, name);
	db_bind_int(s, 2, n);
	assert_int_equal(step_ok(f->db, s), DB_DONE);
	db_finalize(s);
}

/* ---- Without a database ---- */

static void test_kind_follows_the_setting(void **state)
{
	(void)state;
	assert_int_equal(db_kind_of("postgresql://u@h:5432/db"), DB_POSTGRESQL);
	assert_int_equal(db_kind_of("postgres://h/db?target_session_attrs=read-write"), DB_POSTGRESQL);
	assert_int_equal(db_kind_of("host=h1,h2 dbname=cinder"), DB_POSTGRESQL);
	assert_int_equal(db_kind_of("hostaddr=10.0.0.1 port=5432"), DB_POSTGRESQL);
	assert_int_equal(db_kind_of("dbname=cinder"), DB_POSTGRESQL);
	assert_int_equal(db_kind_of("service=cinderfs"), DB_POSTGRESQL);
	assert_int_equal(db_kind_of("user=cinderfs host=h"), DB_POSTGRESQL);
	assert_int_equal(db_kind_of("port=5433 host=h"), DB_POSTGRESQL);
	assert_int_equal(db_kind_of("/var/lib/cinderfs/state.db"), DB_SQLITE);
	assert_int_equal(db_kind_of("sqlite:///var/lib/cinderfs/state.db"), DB_SQLITE);
	assert_int_equal(db_kind_of("state.db"), DB_SQLITE);
	assert_int_equal(db_kind_of("./host=x.db"), DB_SQLITE);
}

static void test_every_engine_method_is_there(void **state)
{
	const struct db_engine *engines[] = { &db_engine_sqlite, &db_engine_pg };
	(void)state;

	for (size_t i = 0; i < 2; i++) {
		const struct db_engine *e = engines[i];

		assert_non_null(e->open);
		assert_non_null(e->close);
		assert_non_null(e->name);
		assert_non_null(e->file);
		assert_non_null(e->migrations);
		assert_non_null(e->table_exists);
		assert_non_null(e->begin);
		assert_non_null(e->commit);
		assert_non_null(e->rollback);
		assert_non_null(e->in_tx);
		assert_non_null(e->exec);
		assert_non_null(e->prepare);
		assert_non_null(e->finalize);
		assert_non_null(e->reset);
		assert_non_null(e->bind_int);
		assert_non_null(e->bind_text);
		assert_non_null(e->bind_blob);
		assert_non_null(e->bind_blob_ref);
		assert_non_null(e->bind_null);
		assert_non_null(e->step);
		assert_non_null(e->column_int);
		assert_non_null(e->column_text);
		assert_non_null(e->column_bytes);
		assert_non_null(e->column_null);
		assert_non_null(e->column_blob);
		assert_non_null(e->changes);
		assert_non_null(e->errmsg);
		assert_non_null(e->errno_);
	}
	assert_int_equal(db_engine_pg.kind, DB_POSTGRESQL);
	assert_non_null(db_engine_pg.wait_notify);
}

static void test_both_dialects_have_the_same_migrations(void **state)
{
	(void)state;
	assert_int_equal(store_migrations_sqlite_count, store_migrations_postgresql_count);
	for (int i = 0; i < store_migrations_sqlite_count; i++) {
		assert_int_equal(store_migrations_sqlite[i].version, i + 1);
		assert_int_equal(store_migrations_postgresql[i].version, i + 1);
		assert_string_equal(store_migrations_sqlite[i].name, store_migrations_postgresql[i].name);
	}
	/* The older names are SQLite's. */
	assert_ptr_equal(store_migrations, store_migrations_sqlite);
	assert_int_equal(store_migrations_count, store_migrations_sqlite_count);
}

/* ---- Both engines ---- */

static void test_placeholders_outside_literals_only(void **state)
{
	struct fixture *f = *state;
	struct db_stmt *s = prepare_ok(f->db,
		"SELECT ?2, '?1 is not a parameter, nor ''?3''', \"q?\", ?1 -- nor ?4 here\n"
		"FROM (SELECT 7 AS \"q?\") AS x /* nor ?5 */ WHERE ?1 = ?1", false);

	db_bind_int(s, 1, 42);
	db_bind_text(s, 2, "two");
	assert_int_equal(step_ok(f->db, s), DB_ROW);
	assert_string_equal(db_column_text(s, 0), "two");
	assert_string_equal(db_column_text(s, 1), "?1 is not a parameter, nor '?3'");
	assert_int_equal(db_column_int(s, 2), 7);
	assert_int_equal(db_column_int(s, 3), 42);
	assert_int_equal(step_ok(f->db, s), DB_DONE);
	db_finalize(s);
}

static void test_bare_placeholders_count_as_sqlite_does(void **state)
{
	struct fixture *f = *state;
	/* A bare ? is one past the largest so far: 1, then 3, then 4. */
	struct db_stmt *s = prepare_ok(f->db, "SELECT ?, ?3, ?", false);

	db_bind_int(s, 1, 1);
	db_bind_int(s, 2, 2);
	db_bind_int(s, 3, 3);
	db_bind_int(s, 4, 4);
	assert_int_equal(step_ok(f->db, s), DB_ROW);
	assert_int_equal(db_column_int(s, 0), 1);
	assert_int_equal(db_column_int(s, 1), 3);
	assert_int_equal(db_column_int(s, 2), 4);
	db_finalize(s);
}

/* The store's idiom for an optional filter, in a transaction (where a
 * statement the server refuses cannot be tried again). */
static void test_null_tests_of_parameters_in_a_transaction(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *name; /* NULL: bind NULL */
		bool n_given;
		int64_t want;
	} cases[] = {
		{ NULL, false, 3 }, { "b", false, 1 }, { NULL, true, 1 }, { "a", true, 1 }, { "b", true, 0 },
	};
	struct db_stmt *s, *concat;

	make_table(f);
	insert_row(f, "a", 1);
	insert_row(f, "b", 2);
	insert_row(f, "c", 3);
	s = prepare_ok(f->db, "SELECT count(*) FROM t WHERE (?1 IS NULL OR name = ?1) AND "
			      "(?2 IS NOT NULL AND n = 1 OR ?2 IS NULL) AND NOT ?3 IS NULL", true);
	/* Not a null test of ?1: the test is of 'x' || ?1. */
	concat = prepare_ok(f->db, "SELECT 'x' || ?1 IS NULL, ?2 = 1 IS NULL", true);
	assert_int_equal(db_begin(f->db, DB_TX_READ), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		db_bind_text(s, 1, cases[i].name);
		if (cases[i].n_given)
			db_bind_int(s, 2, 7);
		else
			db_bind_null(s, 2);
		db_bind_text(s, 3, "");
		assert_int_equal(step_ok(f->db, s), DB_ROW);
		if (db_column_int(s, 0) != cases[i].want)
			fail_msg("case %zu: %lld rows, not %lld", i, (long long)db_column_int(s, 0),
				 (long long)cases[i].want);
		db_reset(s);
	}
	db_bind_text(concat, 1, "a");
	db_bind_null(concat, 2);
	assert_int_equal(step_ok(f->db, concat), DB_ROW);
	assert_int_equal(db_column_int(concat, 0), 0);
	assert_int_equal(db_column_int(concat, 1), 1);
	assert_true(db_in_tx(f->db));
	assert_int_equal(db_commit(f->db), 0);
	db_finalize(concat);
	db_finalize(s);
}

static void test_values_come_back_as_bound(void **state)
{
	struct fixture *f = *state;
	static const unsigned char blob[] = { 0, 1, 2, 0xff, 0, 'x', '\\', '\'' };
	const char *utf8 = "vol\xc3\xa9 'quoted' \"and\" ?1";
	struct db_stmt *s;
	const void *data;
	size_t len;

	make_table(f);
	s = prepare_ok(f->db, "INSERT INTO t (name, data, n) VALUES (?1, ?2, ?3)", true);
	db_bind_text(s, 1, utf8);
	db_bind_blob(s, 2, blob, sizeof(blob));
	db_bind_int(s, 3, INT64_MIN);
	assert_int_equal(step_ok(f->db, s), DB_DONE);
	db_reset(s);
	db_bind_text(s, 1, "max");
	db_bind_blob(s, 2, "", 0);
	db_bind_int(s, 3, INT64_MAX);
	assert_int_equal(step_ok(f->db, s), DB_DONE);
	db_reset(s);
	db_bind_text(s, 1, "nulls");
	db_bind_null(s, 2);
	db_bind_text(s, 3, NULL);
	assert_int_equal(step_ok(f->db, s), DB_DONE);
	db_finalize(s);

	s = prepare_ok(f->db, "SELECT name, data, n FROM t ORDER BY id", false);
	assert_int_equal(step_ok(f->db, s), DB_ROW);
	assert_string_equal(db_column_text(s, 0), utf8);
	assert_int_equal(db_column_bytes(s, 0), strlen(utf8));
	data = db_column_blob(s, 1, &len);
	assert_int_equal(len, sizeof(blob));
	assert_memory_equal(data, blob, sizeof(blob));
	assert_int_equal(db_column_bytes(s, 1), sizeof(blob));
	assert_true(db_column_int(s, 2) == INT64_MIN);
	assert_false(db_column_null(s, 2));

	assert_int_equal(step_ok(f->db, s), DB_ROW);
	assert_false(db_column_null(s, 1));
	assert_int_equal(db_column_bytes(s, 1), 0);
	assert_true(db_column_int(s, 2) == INT64_MAX);
	assert_string_equal(db_column_text(s, 0), "max");

	assert_int_equal(step_ok(f->db, s), DB_ROW);
	assert_true(db_column_null(s, 1));
	assert_true(db_column_null(s, 2));
	assert_null(db_column_text(s, 2));
	assert_int_equal(db_column_int(s, 2), 0);
	data = db_column_blob(s, 1, &len);
	assert_null(data);
	assert_int_equal(len, 0);
	assert_int_equal(step_ok(f->db, s), DB_DONE);
	db_finalize(s);
}

static void test_booleans_read_as_integers(void **state)
{
	struct fixture *f = *state;
	struct db_stmt *s = prepare_ok(f->db, "SELECT 1 = 1, 1 = 2, NULL = 1, ?1 IS NULL", false);

	db_bind_null(s, 1);
	assert_int_equal(step_ok(f->db, s), DB_ROW);
	assert_int_equal(db_column_int(s, 0), 1);
	assert_int_equal(db_column_int(s, 1), 0);
	assert_string_equal(db_column_text(s, 0), "1");
	assert_string_equal(db_column_text(s, 1), "0");
	assert_true(db_column_null(s, 2));
	assert_int_equal(db_column_int(s, 2), 0);
	assert_int_equal(db_column_int(s, 3), 1);
	db_finalize(s);
}

static void test_a_null_nothing_types_reads_back(void **state)
{
	struct fixture *f = *state;
	/* Kept: the text and the NULL make two server-side statements. */
	struct db_stmt *s = prepare_ok(f->db, "SELECT ?1, COALESCE(?2, 'none')", true);

	for (int i = 0; i < 3; i++) {
		db_bind_null(s, 1);
		if (i != 1)
			db_bind_text(s, 2, "given");
		assert_int_equal(step_ok(f->db, s), DB_ROW);
		assert_true(db_column_null(s, 0));
		assert_string_equal(db_column_text(s, 1), i == 1 ? "none" : "given");
		assert_int_equal(step_ok(f->db, s), DB_DONE);
		db_reset(s);
	}
	db_finalize(s);
}

static void test_changes_count_written_rows_only(void **state)
{
	struct fixture *f = *state;
	struct db_stmt *s;

	make_table(f);
	insert_row(f, "a", 1);
	insert_row(f, "b", 2);
	insert_row(f, "c", 3);
	assert_int_equal(db_changes(f->db), 1);
	exec_ok(f->db, "UPDATE t SET n = n + 10");
	assert_int_equal(db_changes(f->db), 3);
	s = prepare_ok(f->db, "DELETE FROM t WHERE n > ?1", false);
	db_bind_int(s, 1, 11);
	assert_int_equal(step_ok(f->db, s), DB_DONE);
	db_finalize(s);
	assert_int_equal(db_changes(f->db), 2);
	/* A SELECT leaves the count alone. */
	s = prepare_ok(f->db, "SELECT n FROM t", false);
	assert_int_equal(step_ok(f->db, s), DB_ROW);
	assert_int_equal(step_ok(f->db, s), DB_DONE);
	db_finalize(s);
	assert_int_equal(db_changes(f->db), 2);
	exec_ok(f->db, "UPDATE t SET n = 0 WHERE n < 0");
	assert_int_equal(db_changes(f->db), 0);
}

static void test_returning_gives_rows_and_changes(void **state)
{
	struct fixture *f = *state;
	struct db_stmt *s;
	int64_t first, second;

	make_table(f);
	s = prepare_ok(f->db, "INSERT INTO t (name, n) VALUES (?1, 5) RETURNING id", true);
	db_bind_text(s, 1, "a");
	assert_int_equal(step_ok(f->db, s), DB_ROW);
	first = db_column_int(s, 0);
	assert_int_equal(step_ok(f->db, s), DB_DONE);
	assert_int_equal(db_changes(f->db), 1);
	db_reset(s);
	db_bind_text(s, 1, "b");
	assert_int_equal(step_ok(f->db, s), DB_ROW);
	second = db_column_int(s, 0);
	assert_true(second > first);
	assert_int_equal(step_ok(f->db, s), DB_DONE);
	db_finalize(s);

	s = prepare_ok(f->db, "UPDATE t SET n = n + 1 RETURNING n", false);
	assert_int_equal(step_ok(f->db, s), DB_ROW);
	assert_int_equal(db_column_int(s, 0), 6);
	assert_int_equal(step_ok(f->db, s), DB_ROW);
	assert_int_equal(step_ok(f->db, s), DB_DONE);
	db_finalize(s);
	assert_int_equal(db_changes(f->db), 2);
}

static void test_two_statements_step_at_once(void **state)
{
	struct fixture *f = *state;
	struct db_stmt *outer, *inner;
	int pairs = 0;

	make_table(f);
	insert_row(f, "a", 1);
	insert_row(f, "b", 2);
	insert_row(f, "c", 3);
	outer = prepare_ok(f->db, "SELECT n FROM t ORDER BY n", true);
	inner = prepare_ok(f->db, "SELECT count(*) FROM t WHERE n <= ?1", true);
	while (step_ok(f->db, outer) == DB_ROW) {
		int64_t n = db_column_int(outer, 0);

		db_bind_int(inner, 1, n);
		assert_int_equal(step_ok(f->db, inner), DB_ROW);
		assert_int_equal(db_column_int(inner, 0), n);
		db_reset(inner);
		pairs++;
	}
	assert_int_equal(pairs, 3);
	/* A finished statement stepped again runs again. */
	assert_int_equal(step_ok(f->db, outer), DB_ROW);
	assert_int_equal(db_column_int(outer, 0), 1);
	db_finalize(inner);
	db_finalize(outer);
}

static void test_unique_violation_is_eexist_with_words(void **state)
{
	struct fixture *f = *state;
	struct db_stmt *s;

	make_table(f);
	insert_row(f, "dup", 1);
	s = prepare_ok(f->db, "INSERT INTO t (name, n) VALUES (?1, 2)", false);
	db_bind_text(s, 1, "dup");
	assert_int_equal(db_step(s), -EEXIST);
	assert_int_equal(db_errno(f->db), -EEXIST);
	if (!strcasestr(db_errmsg(f->db), "unique"))
		fail_msg("no words for the unique key: %s", db_errmsg(f->db));
	assert_null(strchr(db_errmsg(f->db), '\n'));
	db_finalize(s);
	/* The connection goes on. */
	insert_row(f, "other", 3);
}

static void test_transactions_commit_and_roll_back(void **state)
{
	struct fixture *f = *state;
	struct db_stmt *s;

	make_table(f);
	assert_false(db_in_tx(f->db));
	db_rollback(f->db); /* nothing open: nothing happens */
	assert_int_equal(db_begin(f->db, DB_TX_WRITE), 0);
	assert_true(db_in_tx(f->db));
	insert_row(f, "kept", 1);
	assert_int_equal(db_commit(f->db), 0);
	assert_false(db_in_tx(f->db));
	assert_int_equal(db_begin(f->db, DB_TX_ROW), 0);
	insert_row(f, "dropped", 2);
	db_rollback(f->db);
	assert_false(db_in_tx(f->db));
	assert_int_equal(db_begin(f->db, DB_TX_READ), 0);
	s = prepare_ok(f->db, "SELECT group_concat(name) FROM t", false);
	if (f->kind == DB_POSTGRESQL) {
		db_finalize(s);
		s = prepare_ok(f->db, "SELECT string_agg(name, ',') FROM t", false);
	}
	assert_int_equal(step_ok(f->db, s), DB_ROW);
	assert_string_equal(db_column_text(s, 0), "kept");
	db_finalize(s);
	assert_int_equal(db_commit(f->db), 0);
}

static void test_table_exists(void **state)
{
	struct fixture *f = *state;
	bool exists = true;

	assert_int_equal(db_table_exists(f->db, "t", &exists), 0);
	assert_false(exists);
	make_table(f);
	assert_int_equal(db_table_exists(f->db, "t", &exists), 0);
	assert_true(exists);
}

static void apply_migrations(struct fixture *f)
{
	const struct migration *list;
	int count;

	list = db_migrations(f->db, &count);
	assert_int_equal(count, store_migrations_sqlite_count);
	assert_int_equal(db_begin(f->db, DB_TX_WRITE), 0);
	for (int i = 0; i < count; i++)
		if (db_exec(f->db, list[i].sql) != 0)
			fail_msg("migration %s: %s", list[i].name, db_errmsg(f->db));
	assert_int_equal(db_commit(f->db), 0);
}

static void test_migrations_apply_to_an_empty_database(void **state)
{
	struct fixture *f = *state;
	static const char *const tables[] = {
		"services", "clusters", "workers", "volumes", "snapshots", "cleanup_requests",
		"cleanup_jobs", "cleanup_progress", "volume_operations", "worker_capacity",
		"worker_state", "worker_instances",
	};
	struct db_stmt *s;
	bool exists;

	apply_migrations(f);
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		assert_int_equal(db_table_exists(f->db, tables[i], &exists), 0);
		if (!exists)
			fail_msg("no table %s after the migrations", tables[i]);
	}
	/* One live row per host and binary; a deleted one may repeat. */
	exec_ok(f->db, "INSERT INTO services (host, \"binary\", deleted) VALUES ('h', 'cinder-volume', 1)");
	exec_ok(f->db, "INSERT INTO services (host, \"binary\") VALUES ('h', 'cinder-volume')");
	assert_int_equal(db_exec(f->db, "INSERT INTO services (host, \"binary\") VALUES ('h', 'cinder-volume')"),
			 -EEXIST);
	/* An id given by hand is never handed out again. */
	exec_ok(f->db, "INSERT INTO services (id, host, \"binary\") VALUES (40, 'x', 'cinder-volume')");
	s = prepare_ok(f->db, "INSERT INTO services (host, \"binary\") VALUES ('y', 'cinder-volume') RETURNING id", false);
	assert_int_equal(step_ok(f->db, s), DB_ROW);
	assert_int_equal(db_column_int(s, 0), 41);
	db_finalize(s);
	/* Every change of a request's progress moves its generation, once
	 * per row, however many rows one statement writes. */
	exec_ok(f->db, "INSERT INTO cleanup_requests (created_at, spec, filter) "
		       "VALUES ('2026-11-29 08:00:00.000000', 'x', '{}')");
	exec_ok(f->db, "INSERT INTO cleanup_jobs (request_id, service_id, until) VALUES (1, 40, 't')");
	exec_ok(f->db, "INSERT INTO cleanup_progress (request_id, job_id, resource_type, resource_id, "
		       "state, updated_at) VALUES (1, 1, 'Volume', 'a', 'queued', 't'), "
		       "(1, 1, 'Volume', 'b', 'queued', 't'), (1, 1, 'Volume', 'c', 'queued', 't')");
	exec_ok(f->db, "UPDATE cleanup_progress SET state = 'claimed' WHERE resource_id != 'c'");
	exec_ok(f->db, "UPDATE cleanup_jobs SET state = 'running'");
	exec_ok(f->db, "UPDATE cleanup_jobs SET taken_by = 40"); /* not its state: no move */
	s = prepare_ok(f->db, "SELECT generation FROM cleanup_request_sizes WHERE request_id = 1", false);
	assert_int_equal(step_ok(f->db, s), DB_ROW);
	assert_int_equal(db_column_int(s, 0), 6);
	db_finalize(s);
}

/* ---- cf_beat_ok and instr: SQL twins of C ---- */

static const char *const beat_times[] = {
	"2026-11-29 08:00:33",
	"2026-11-29 08:00:33.000000",
	"2026-11-29 08:00:33.5",
	"2026-11-29 08:00:33.50",
	"2026-11-29 08:00:33.499999999",
	"2026-11-29 08:00:33.4999999999999",
	"2026-11-29 08:00:33.123456",
	"2026-11-29T08:00:33Z",
	"2026-11-29T08:00:33.5Z",
	"2026-11-29 08:00:32.999999",
	"2026-11-29 08:00:34",
	"2026-11-29 08:00:60",
	"2026-11-29 08:01:00",
	"2026-02-31 00:00:00",
	"2026-03-03 00:00:00",
	"2026-03-02 23:59:59",
	"2024-02-29 12:00:00",
	"0000-01-01 00:00:00",
	"9999-12-31 23:59:59.999999999",
	"1969-12-31 23:59:59",
	/* Not times: */
	"2026-13-01 00:00:00",
	"2026-00-10 00:00:00",
	"2026-11-00 00:00:00",
	"2026-11-32 00:00:00",
	"2026-11-29 24:00:00",
	"2026-11-29 08:60:00",
	"2026-11-29 08:00:61",
	"2026-11-29 8:00:33",
	"2026-11-29  08:00:33",
	"2026-11-29 08:00:33 ",
	" 2026-11-29 08:00:33",
	"2026-11-29 08:00:33.",
	"2026-11-29 08:00:33.Z",
	"2026-11-29 08:00:33ZZ",
	"2026-11-29T08:00:33z",
	"2026-11-29t08:00:33",
	"2026-11-29 08:00:33+00:00",
	"2026-11-29 08:00",
	"2026-11-29",
	"20261129 080033",
	"\xef\xbc\x92" "026-11-29 08:00:33",
	"2026-11-29 08:00:33\n",
	"garbage",
	"",
	NULL,
};

static void test_beat_ok_agrees_with_liveness_c(void **state)
{
	struct fixture *f = *state;
	const size_t n = sizeof(beat_times) / sizeof(beat_times[0]);
	struct db_stmt *s;
	int checked = 0;

	if (f->kind == DB_POSTGRESQL)
		apply_migrations(f);
	s = prepare_ok(f->db, "SELECT cf_beat_ok(?1, ?2)", true);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			const char *beat = beat_times[i], *bound = beat_times[j];
			struct timespec b;
			bool want = bound && dbtime_parse(bound, &b) == 0 && liveness_beat_counts(beat, &b);

			db_bind_text(s, 1, beat);
			db_bind_text(s, 2, bound);
			assert_int_equal(step_ok(f->db, s), DB_ROW);
			if (db_column_int(s, 0) != want)
				fail_msg("cf_beat_ok('%s', '%s') is %lld, liveness_beat_counts says %d",
					 beat ? beat : "NULL", bound ? bound : "NULL",
					 (long long)db_column_int(s, 0), want);
			db_reset(s);
			checked++;
		}
	}
	db_finalize(s);
	assert_int_equal(checked, (int)(n * n));
}

static void test_instr_is_sqlites(void **state)
{
	static const struct {
		const char *haystack, *needle;
		int want; /* -1: NULL */
	} cases[] = {
		{ "node1@lvm#pool", "#", 10 },
		{ "node1@lvm", "#", 0 },
		{ "node1@lvm#", "#", 10 },
		{ "#", "#", 1 },
		{ "abc", "", 1 },
		{ "", "a", 0 },
		{ "h\xc3\xa9llo#x", "#", 6 },
		{ "abcabc", "ca", 3 },
		{ NULL, "#", -1 },
		{ "abc", NULL, -1 },
	};
	struct fixture *f = *state;
	struct db_stmt *s;

	if (f->kind == DB_POSTGRESQL)
		apply_migrations(f);
	s = prepare_ok(f->db, "SELECT instr(?1, ?2), substr(?1, 1, instr(?1 || '#', '#') - 1)", true);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		db_bind_text(s, 1, cases[i].haystack);
		db_bind_text(s, 2, cases[i].needle);
		assert_int_equal(step_ok(f->db, s), DB_ROW);
		if (cases[i].want < 0)
			assert_true(db_column_null(s, 0));
		else if (db_column_int(s, 0) != cases[i].want)
			fail_msg("instr('%s', '%s') is %lld, not %d", cases[i].haystack, cases[i].needle,
				 (long long)db_column_int(s, 0), cases[i].want);
		db_reset(s);
	}
	db_finalize(s);
}

static void test_write_lock_makes_another_writer_wait_then_ebusy(void **state)
{
	struct fixture *f = *state;
	struct db *other;
	struct cf_err err;
	struct timespec t0, t1;
	double waited;

	make_table(f);
	assert_int_equal(db_open(f->setting, DB_SHORT_WAIT, &other, &err), 0);
	assert_int_equal(db_begin(f->db, DB_TX_WRITE), 0);
	insert_row(f, "held", 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(db_begin(other, DB_TX_WRITE), -EBUSY);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(waited >= 0.9 && waited < 5);
	if (!strcasestr(db_errmsg(other), "lock"))
		fail_msg("no words for the lock wait: %s", db_errmsg(other));
	assert_false(db_in_tx(other));
	/* PostgreSQL: a row transaction does not wait for the writers'
	 * lock (SQLite's is a write transaction like any other). */
	if (f->kind == DB_POSTGRESQL) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(db_begin(other, DB_TX_ROW), 0);
		assert_int_equal(db_exec(other, "SELECT 1"), 0);
		assert_int_equal(db_commit(other), 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		assert_true(t1.tv_sec - t0.tv_sec < 1);
	}
	assert_int_equal(db_commit(f->db), 0);
	/* Released with the commit. */
	assert_int_equal(db_begin(other, DB_TX_WRITE), 0);
	assert_int_equal(db_commit(other), 0);
	db_close(other);
}

/* ---- What only PostgreSQL does ---- */

static int64_t backend_pid(struct db *db)
{
	struct db_stmt *s = prepare_ok(db, "SELECT pg_backend_pid()", false);
	int64_t pid;

	assert_int_equal(step_ok(db, s), DB_ROW);
	pid = db_column_int(s, 0);
	db_finalize(s);
	return pid;
}

/* Another connection ends f's session, and waits for it to be gone. */
static void kill_session(struct fixture *f, int64_t pid)
{
	struct db *other;
	struct db_stmt *s;
	struct cf_err err;

	assert_int_equal(db_open(f->setting, 0, &other, &err), 0);
	s = prepare_ok(other, "SELECT pg_terminate_backend(?1::integer, 5000)", false);
	db_bind_int(s, 1, pid);
	assert_int_equal(step_ok(other, s), DB_ROW);
	assert_int_equal(db_column_int(s, 0), 1);
	db_finalize(s);
	db_close(other);
}

static void test_reconnects_after_the_server_ends_the_session(void **state)
{
	struct fixture *f = *state;
	struct db_stmt *kept;
	int64_t pid;
	int rc;

	only_postgresql(f);
	make_table(f);
	insert_row(f, "a", 1);
	kept = prepare_ok(f->db, "SELECT name FROM t WHERE n = ?1", true);
	db_bind_int(kept, 1, 1);
	assert_int_equal(step_ok(f->db, kept), DB_ROW);
	db_reset(kept);
	pid = backend_pid(f->db);

	/* Outside a transaction: the first call fails or goes through; the
	 * next one works on a new session, the kept statement made again. */
	kill_session(f, pid);
	db_bind_int(kept, 1, 1);
	rc = db_step(kept);
	if (rc != DB_ROW) {
		assert_int_equal(rc, -ENOTCONN);
		assert_int_equal(db_errno(f->db), -ENOTCONN);
		db_reset(kept);
		db_bind_int(kept, 1, 1);
		rc = step_ok(f->db, kept);
	}
	assert_int_equal(rc, DB_ROW);
	assert_string_equal(db_column_text(kept, 0), "a");
	db_reset(kept);
	assert_true(backend_pid(f->db) != pid);
	/* Made again on the server, not run unprepared. */
	{
		struct db_stmt *s = prepare_ok(f->db, "SELECT count(*) FROM pg_prepared_statements", false);

		assert_int_equal(step_ok(f->db, s), DB_ROW);
		assert_true(db_column_int(s, 0) >= 1);
		db_finalize(s);
	}

	/* Inside one: the transaction is lost, said so, and the call after
	 * that reconnects. */
	pid = backend_pid(f->db);
	assert_int_equal(db_begin(f->db, DB_TX_WRITE), 0);
	insert_row(f, "lost", 2);
	kill_session(f, pid);
	db_bind_int(kept, 1, 1);
	assert_int_equal(db_step(kept), -ENOTCONN);
	assert_false(db_in_tx(f->db));
	db_rollback(f->db);
	db_reset(kept);
	db_bind_int(kept, 1, 2);
	assert_int_equal(step_ok(f->db, kept), DB_DONE); /* "lost" was never committed */
	db_reset(kept);
	db_bind_int(kept, 1, 1);
	assert_int_equal(step_ok(f->db, kept), DB_ROW);
	db_finalize(kept);
}

static void test_name_has_no_password(void **state)
{
	struct fixture *f = *state;
	char url[600], conninfo[600], host[128] = "", port[16] = "";
	const char *at, *colon, *slash;
	struct db *db;
	struct cf_err err;

	only_postgresql(f);
	/* postgresql://user@host:port/db: the same server, with passwords
	 * (trust ignores them). */
	at = strchr(f->setting, '@');
	colon = at ? strchr(at, ':') : NULL;
	slash = colon ? strchr(colon, '/') : NULL;
	assert_non_null(slash);
	snprintf(host, sizeof(host), "%.*s", (int)(colon - at - 1), at + 1);
	snprintf(port, sizeof(port), "%.*s", (int)(slash - colon - 1), colon + 1);

	snprintf(url, sizeof(url), "postgresql://cinderfs:s3cret@%s:%s/%s?password=other&connect_timeout=3",
		 host, port, f->dbname);
	assert_int_equal(db_open(url, 0, &db, &err), 0);
	assert_null(strstr(db_name(db), "s3cret"));
	assert_null(strstr(db_name(db), "other"));
	assert_non_null(strstr(db_name(db), "connect_timeout=3"));
	assert_null(db_file(db));
	assert_int_equal(db_kind(db), DB_POSTGRESQL);
	assert_int_equal(db_check_file(db, &err), 0);
	db_close(db);

	snprintf(conninfo, sizeof(conninfo), "host=%s port=%s password='s3 cret\\'s' user=cinderfs dbname=%s",
		 host, port, f->dbname);
	assert_int_equal(db_open(conninfo, 0, &db, &err), 0);
	assert_null(strstr(db_name(db), "s3"));
	assert_non_null(strstr(db_name(db), "user=cinderfs"));
	db_close(db);

	/* Several hosts, the first one down, and a read-write session asked
	 * for: libpq's own business, passed through. */
	snprintf(url, sizeof(url), "postgresql://cinderfs:s3cret@%s:1,%s:%s/%s?target_session_attrs=read-write",
		 host, host, port, f->dbname);
	if (db_open(url, 0, &db, &err) != 0)
		fail_msg("%s", err.msg);
	assert_null(strstr(db_name(db), "s3cret"));
	assert_non_null(strstr(db_name(db), "target_session_attrs=read-write"));
	db_close(db);
}

static void test_a_bad_setting_says_why(void **state)
{
	struct fixture *f = *state;
	struct db *db = NULL;
	struct cf_err err;

	only_postgresql(f);
	assert_int_equal(db_open("host=127.0.0.1 port=1 dbname=x password=s3cret connect_timeout=2", 0, &db,
				 &err), -ENOTCONN);
	assert_null(db);
	assert_null(strstr(err.msg, "s3cret"));
	assert_non_null(strstr(err.msg, "port=1"));
	assert_int_equal(db_open("postgresql://h/db?nonsense=1", 0, &db, &err), -EINVAL);
}

static void test_notifications_wake_a_listener(void **state)
{
	struct fixture *f = *state;
	struct db *other;
	struct cf_err err;

	only_postgresql(f);
	assert_int_equal(db_open(f->setting, 0, &other, &err), 0);
	assert_int_equal(db_listen(f->db), 0);
	assert_int_equal(db_wait_notify(f->db, 50), 0);
	assert_int_equal(db_begin(other, DB_TX_WRITE), 0);
	assert_int_equal(db_notify(other), 0);
	assert_int_equal(db_wait_notify(f->db, 50), 0); /* not before the commit */
	assert_int_equal(db_commit(other), 0);
	assert_int_equal(db_wait_notify(f->db, 5000), 1);
	assert_int_equal(db_wait_notify(f->db, 50), 0);
	db_close(other);
	/* A listener whose session ends hears it. */
	kill_session(f, backend_pid(f->db));
	assert_int_equal(db_wait_notify(f->db, 5000), -ENOTCONN);
	assert_int_equal(db_listen(f->db), 0);
}

/* A statement of 200 parameters (a request's jobs go in 64 rows of 3 at
 * a time) runs; one beyond what an engine takes is refused with words,
 * and dropping it is safe. A text bound by reference is read in place. */
static void test_many_parameters_and_text_by_reference(void **state)
{
	struct fixture *f = *state;
	char sql[4096], big[64];
	struct db_stmt *s;
	int n = 0;

	n += snprintf(sql + n, sizeof(sql) - (size_t)n, "SELECT ?1");
	for (int i = 2; i <= 200; i++)
		n += snprintf(sql + n, sizeof(sql) - (size_t)n, " + ?%d", i);
	s = prepare_ok(f->db, sql, true);
	for (int i = 1; i <= 200; i++)
		db_bind_int(s, i, i);
	assert_int_equal(step_ok(f->db, s), DB_ROW);
	assert_int_equal(db_column_int(s, 0), 200 * 201 / 2);
	db_finalize(s);

	s = NULL;
	if (f->kind == DB_POSTGRESQL) {
		/* Refused at prepare or at the first step, never a crash. */
		int rc = db_prepare(f->db, "SELECT ?300", false, &s);
		if (rc == 0) {
			assert_true(db_step(s) < 0);
			db_finalize(s);
		}
		assert_non_null(strstr(db_errmsg(f->db), "?300"));
	}

	make_table(f);
	memcpy(big, "by\0reference", 12);
	s = prepare_ok(f->db, "INSERT INTO t (data, n) VALUES (?1, ?2)", true);
	db_bind_blob_ref(s, 1, big, 12);
	db_bind_int(s, 2, 1);
	assert_int_equal(step_ok(f->db, s), DB_DONE);
	db_reset(s);
	db_bind_blob_ref(s, 1, big, 0);
	db_bind_int(s, 2, 2);
	assert_int_equal(step_ok(f->db, s), DB_DONE);
	db_finalize(s);
	s = prepare_ok(f->db, "SELECT data FROM t ORDER BY n", false);
	{
		size_t blob_len;
		const void *data;
		assert_int_equal(step_ok(f->db, s), DB_ROW);
		data = db_column_blob(s, 0, &blob_len);
		assert_int_equal(blob_len, 12);
		assert_memory_equal(data, "by\0reference", 12);
		assert_int_equal(step_ok(f->db, s), DB_ROW);
		db_column_blob(s, 0, &blob_len);
		assert_int_equal(blob_len, 0);
	}
	db_finalize(s);
}

/* Rows 1..count of t, in one statement. */
static void insert_rows(struct fixture *f, int count)
{
	struct db_stmt *s = prepare_ok(f->db, "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL "
				       "SELECT i + 1 FROM g WHERE i < ?1) "
				       "INSERT INTO t (name, n) SELECT 'r' || i, i FROM g", false);

	db_bind_int(s, 1, count);
	assert_int_equal(step_ok(f->db, s), DB_DONE);
	db_finalize(s);
}

static int64_t count_rows(struct fixture *f)
{
	struct db_stmt *s = prepare_ok(f->db, "SELECT count(*) FROM t", false);
	int64_t n;

	assert_int_equal(step_ok(f->db, s), DB_ROW);
	n = db_column_int(s, 0);
	db_finalize(s);
	return n;
}

#define LONG_RESULT 5000

/* PostgreSQL streams rows (single-row mode): a statement reset before its
 * end, or one whose connection another statement needs midway, leaves
 * the connection usable and loses no row, inside a transaction or not. */
static void test_a_long_result_reset_or_interleaved_midway(void **state)
{
	struct fixture *f = *state;
	struct db_stmt *s;
	int64_t want = 1;
	int rc;

	make_table(f);
	insert_rows(f, LONG_RESULT);
	s = prepare_ok(f->db, "SELECT n, name FROM t ORDER BY n", true);
	/* Reset after 1,000 rows: the next statement runs at once. */
	for (int i = 0; i < 1000; i++)
		assert_int_equal(step_ok(f->db, s), DB_ROW);
	assert_int_equal(db_column_int(s, 0), 1000);
	db_reset(s);
	assert_int_equal(count_rows(f), LONG_RESULT);
	/* In a transaction, another statement between two steps; the
	 * current row's text stays valid across it. */
	assert_int_equal(db_begin(f->db, DB_TX_READ), 0);
	while ((rc = step_ok(f->db, s)) == DB_ROW) {
		const char *name = db_column_text(s, 1);
		char expect[32];

		assert_int_equal(db_column_int(s, 0), want);
		if (want == 10)
			assert_int_equal(count_rows(f), LONG_RESULT);
		snprintf(expect, sizeof(expect), "r%lld", (long long)want);
		assert_string_equal(name, expect);
		want++;
	}
	assert_int_equal(rc, DB_DONE);
	assert_int_equal(want, LONG_RESULT + 1);
	assert_true(db_in_tx(f->db));
	assert_int_equal(db_commit(f->db), 0);
	/* Reset midway inside a transaction: the transaction goes on. */
	assert_int_equal(db_begin(f->db, DB_TX_READ), 0);
	assert_int_equal(step_ok(f->db, s), DB_ROW);
	db_reset(s);
	assert_int_equal(count_rows(f), LONG_RESULT);
	assert_int_equal(db_commit(f->db), 0);
	db_finalize(s);
	/* Dropped midway too. */
	s = prepare_ok(f->db, "SELECT n FROM t", false);
	assert_int_equal(step_ok(f->db, s), DB_ROW);
	db_finalize(s);
	assert_int_equal(count_rows(f), LONG_RESULT);
}

/* A statement that fails after rows were given: the rows come, then the
 * failure, read as it arrives or ahead (another statement between two
 * steps); the connection serves the next statement. */
static void test_an_error_after_rows_is_reported_at_its_row(void **state)
{
	struct fixture *f = *state;
	/* Fails at the last row of the table's order (SQLite's json() and
	 * PostgreSQL's cast refuse 'x'). */
	const char *sql = f->kind == DB_SQLITE
		? "SELECT n, json(CASE WHEN n < ?1 THEN '1' ELSE 'x' END) FROM t"
		: "SELECT n, CAST(CASE WHEN n < ?1 THEN '1' ELSE 'x' END AS jsonb) FROM t";
	struct db_stmt *s;

	make_table(f);
	insert_rows(f, LONG_RESULT);
	s = prepare_ok(f->db, sql, true);
	for (int ahead = 0; ahead < 2; ahead++) {
		int rows = 0, rc;

		db_bind_int(s, 1, LONG_RESULT);
		while ((rc = db_step(s)) == DB_ROW) {
			if (ahead && rows == 10)
				assert_int_equal(count_rows(f), LONG_RESULT);
			rows++;
		}
		assert_true(rc < 0);
		assert_int_equal(rows, LONG_RESULT - 1);
		assert_non_null(strstr(db_errmsg(f->db), f->kind == DB_SQLITE ? "JSON" : "json"));
		db_reset(s);
		assert_int_equal(count_rows(f), LONG_RESULT);
	}
	db_finalize(s);
}

#define BOTH(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest plain[] = {
		cmocka_unit_test(test_kind_follows_the_setting),
		cmocka_unit_test(test_every_engine_method_is_there),
		cmocka_unit_test(test_both_dialects_have_the_same_migrations),
	};
	const struct CMUnitTest with_db[] = {
		BOTH(test_placeholders_outside_literals_only),
		BOTH(test_bare_placeholders_count_as_sqlite_does),
		BOTH(test_null_tests_of_parameters_in_a_transaction),
		BOTH(test_values_come_back_as_bound),
		BOTH(test_booleans_read_as_integers),
		BOTH(test_a_null_nothing_types_reads_back),
		BOTH(test_changes_count_written_rows_only),
		BOTH(test_returning_gives_rows_and_changes),
		BOTH(test_two_statements_step_at_once),
		BOTH(test_unique_violation_is_eexist_with_words),
		BOTH(test_transactions_commit_and_roll_back),
		BOTH(test_table_exists),
		BOTH(test_migrations_apply_to_an_empty_database),
		BOTH(test_beat_ok_agrees_with_liveness_c),
		BOTH(test_instr_is_sqlites),
		BOTH(test_write_lock_makes_another_writer_wait_then_ebusy),
		BOTH(test_reconnects_after_the_server_ends_the_session),
		BOTH(test_name_has_no_password),
		BOTH(test_a_bad_setting_says_why),
		BOTH(test_notifications_wake_a_listener),
		BOTH(test_many_parameters_and_text_by_reference),
		BOTH(test_a_long_result_reset_or_interleaved_midway),
		BOTH(test_an_error_after_rows_is_reported_at_its_row),
	};
	int failed = cmocka_run_group_tests_name("db", plain, NULL, NULL);

	engine = DB_SQLITE;
	failed += cmocka_run_group_tests_name("db on sqlite", with_db, NULL, NULL);
	if (!pg_url()) {
		print_message("CINDERFS_TEST_PG_URL is not set: PostgreSQL not tested "
			      "(tests/with-postgresql runs a server for this)\n");
		return failed;
	}
	engine = DB_POSTGRESQL;
	failed += cmocka_run_group_tests_name("db on postgresql", with_db, NULL, NULL);
	return failed;
}
