/* A real SQLite file per test, in its own temp dir, and plain SQL to seed
 * and check it: what the store tests and everything built on the store
 * share. Header-only, included once per test program. */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

struct testdb {
	char dir[64];
	char path[128];
	struct store *st; /* opened by testdb_setup_store */
};

static inline int testdb_setup(void **state)
{
	struct testdb *t = calloc(1, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/cinderfs-unit.XXXXXX");
	if (!mkdtemp(t->dir))
		return -1;
	snprintf(t->path, sizeof(t->path), "%s/state.db", t->dir);
	*state = t;
	return 0;
}

/* The same, with the current schema and a connection open. */
static inline int testdb_setup_store(void **state)
{
	struct testdb *t;
	struct cf_err err;

	if (testdb_setup(state) != 0)
		return -1;
	t = *state;
	return store_open(t->path, STORE_CREATE | STORE_MIGRATE, &t->st, &err);
}

static inline int testdb_teardown(void **state)
{
	struct testdb *t = *state;
	const char *suffixes[] = { "", "-wal", "-shm" };
	char path[160];

	store_close(t->st);
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", t->path, suffixes[i]);
		unlink(path);
	}
	rmdir(t->dir);
	free(t);
	return 0;
}

static inline void testdb_sql(const char *path, const char *text)
{
	sqlite3 *db;
	char *msg = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, text, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("SQL failed: %s: %s", text, msg);
	sqlite3_close(db);
}

static inline long long testdb_int(const char *path, const char *text)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	long long v;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_prepare_v2(db, text, -1, &stmt, NULL) != SQLITE_OK)
		fail_msg("SQL failed: %s: %s", text, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return v;
}

/* A text value, copied into out (empty for NULL). */
static inline void testdb_text(const char *path, const char *text, char *out, size_t size)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	const unsigned char *v;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_prepare_v2(db, text, -1, &stmt, NULL) != SQLITE_OK)
		fail_msg("SQL failed: %s: %s", text, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	v = sqlite3_column_text(stmt, 0);
	snprintf(out, size, "%s", v ? (const char *)v : "");
	sqlite3_finalize(stmt);
	sqlite3_close(db);
}
