/* Private to db.c and the engines (db_sqlite.c, db_pg.c): the method
 * table each engine fills, and the first members of its connection and
 * statement, which are all db.c reads to forward a call.
 *
 * An engine defines its own connection struct whose first member is
 * DB_HEADER (e.g. `struct pg_db { DB_HEADER; PGconn *conn; ... }`), its
 * statement struct whose first member is DB_STMT_HEADER, static functions,
 * and `const struct db_engine db_engine_<name>` filled with them. */
#pragma once

#include <sys/types.h>

#include "db.h"

struct db_engine {
	enum db_kind kind;
	int (*open)(const char *setting, unsigned flags, struct db **out, struct cf_err *err);
	/* After the migrations, before the connection is used. */
	int (*ready)(struct db *db, struct cf_err *err);
	void (*close)(struct db *db);
	const char *(*name)(const struct db *db);
	const char *(*file)(const struct db *db);
	const struct migration *(*migrations)(const struct db *db, int *count);
	int (*table_exists)(struct db *db, const char *name, bool *exists);
	int (*begin)(struct db *db, enum db_tx kind);
	int (*commit)(struct db *db);
	void (*rollback)(struct db *db);
	bool (*in_tx)(const struct db *db);
	int (*exec)(struct db *db, const char *sql);
	int (*prepare)(struct db *db, const char *sql, bool keep, struct db_stmt **out);
	void (*finalize)(struct db_stmt *s);
	void (*reset)(struct db_stmt *s);
	void (*bind_int)(struct db_stmt *s, int idx, int64_t v);
	void (*bind_text)(struct db_stmt *s, int idx, const char *v);
	void (*bind_blob)(struct db_stmt *s, int idx, const void *v, size_t len);
	void (*bind_blob_ref)(struct db_stmt *s, int idx, const void *v, size_t len);
	void (*bind_null)(struct db_stmt *s, int idx);
	int (*step)(struct db_stmt *s);
	int64_t (*column_int)(struct db_stmt *s, int col);
	const char *(*column_text)(struct db_stmt *s, int col);
	size_t (*column_bytes)(struct db_stmt *s, int col);
	bool (*column_null)(struct db_stmt *s, int col);
	const void *(*column_blob)(struct db_stmt *s, int col, size_t *len);
	int64_t (*changes)(struct db *db);
	const char *(*errmsg)(const struct db *db);
	int (*errno_)(const struct db *db);
	int (*check_file)(struct db *db, struct cf_err *err);
	/* Optional (NULL: nothing to do). */
	void (*pin_file)(struct db *db);
	/* Optional (NULL: the engine has no notifications; callers poll):
	 * wait up to timeout_ms for a notification on a channel this
	 * connection LISTENs to: 1 one came (all pending ones consumed), 0
	 * none, -errno (-ENOTCONN: the connection is gone). */
	int (*wait_notify)(struct db *db, int timeout_ms);
	/* Optional: notifications sent at commit (notify) and subscribed to
	 * (listen); a lock by name across every daemon, held by the
	 * connection (NULL: nothing to lock, 0); the server's clock (NULL:
	 * this machine's is the database's). See db.h. */
	int (*notify)(struct db *db);
	int (*listen)(struct db *db);
	int (*lock_name)(struct db *db, const char *name);
	void (*unlock_name)(struct db *db, const char *name);
	int (*server_time_us)(struct db *db, int64_t *us);
};

/* The first members of every engine's struct db and struct db_stmt (the
 * engines calloc them; db.c keeps these). */
#define DB_HEADER const struct db_engine *engine; \
	bool woke  /* the open transaction changed a row others wait on */
#define DB_STMT_HEADER struct db *db; \
	bool wakes /* a write to a table others wait on (db_wake_tables) */

struct db {
	DB_HEADER;
};

struct db_stmt {
	DB_STMT_HEADER;
};

extern const struct db_engine db_engine_sqlite;
extern const struct db_engine db_engine_pg;

/* SQLite only: a new file's owner and mode (store_prepare_file). */
int db_sqlite_prepare_file(const char *path, gid_t group, struct cf_err *err);
