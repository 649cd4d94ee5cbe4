/* The engine under the store: one connection to SQLite or PostgreSQL.
 *
 * Private to backend/store.c and the two engines (db_sqlite.c, db_pg.c).
 * Nothing above the store includes this file. The shape is SQLite's own
 * statement API (prepare, bind, step, column), which the store was written
 * against; PostgreSQL implements it with libpq (parameters typed by what
 * was bound, rows streamed one at a time: a long result is never held
 * whole, and statements may still step in turn on one connection).
 *
 * SQL given to db_prepare uses ?N placeholders and the portable subset both
 * engines run: the PostgreSQL schema adds the few SQLite functions the
 * store uses (instr) and cinderfs's own (cf_beat_ok). Every function
 * returning int returns 0 (or DB_ROW) or -errno; db_errmsg has the
 * engine's words for the last failure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "migrations.h"

enum db_kind { DB_SQLITE, DB_POSTGRESQL };

/* Same values as enum store_open_flags. */
enum db_open_flags {
	DB_CREATE = 1 << 0,
	DB_RELAXED = 1 << 2,
	DB_SHORT_WAIT = 1 << 3,
	DB_LEAN = 1 << 4,
};

enum db_tx {
	/* Reads that see one state of the database. */
	DB_TX_READ,
	/* Writes after reads that decide them: one such transaction at a
	 * time across every daemon (SQLite: BEGIN IMMEDIATE; PostgreSQL: a
	 * transaction-level advisory lock, taken before the first read). */
	DB_TX_WRITE,
	/* A write of rows the transaction names and nothing it read decides
	 * (a heartbeat): PostgreSQL takes only the rows' locks, so a stalled
	 * writer elsewhere never delays it. SQLite: as DB_TX_WRITE. */
	DB_TX_ROW,
};

#define DB_ROW 1
#define DB_DONE 0

struct db;
struct db_stmt;

/* Which engine a database setting names: a postgresql:// or postgres://
 * URI, or libpq's key=value form starting with "host=", "hostaddr=",
 * "dbname=", "service=", "user=" or "port=", is PostgreSQL; anything
 * else is SQLite (a path, or sqlite:///path). */
enum db_kind db_kind_of(const char *setting);

int db_open(const char *setting, unsigned flags, struct db **out, struct cf_err *err);
/* Once, after the migrations, before the connection is used (SQLite: the
 * file guard over every table). */
int db_ready(struct db *db, struct cf_err *err);
void db_close(struct db *db);
enum db_kind db_kind(const struct db *db);
/* The database as messages name it: the file, or the URI without a
 * password. */
const char *db_name(const struct db *db);
/* The SQLite file (for the locks and modes kept on it), NULL on
 * PostgreSQL. */
const char *db_file(const struct db *db);

/* The migrations of this engine's dialect. */
const struct migration *db_migrations(const struct db *db, int *count);
/* Whether a table exists (schema_version before the first migration). */
int db_table_exists(struct db *db, const char *name, bool *exists);

int db_begin(struct db *db, enum db_tx kind);
int db_commit(struct db *db);
/* Roll back the open transaction; nothing when none is open (SQLite ends
 * some on its own after errors). */
void db_rollback(struct db *db);
bool db_in_tx(const struct db *db);

/* Statements without parameters or rows (several, ';'-separated). */
int db_exec(struct db *db, const char *sql);

/* keep: prepared once for the life of the connection (the store's
 * catalog); otherwise finalized by the caller after one use. PostgreSQL
 * prepares at the first step (the parameters' types are those bound), so
 * an error in the SQL shows there. */
int db_prepare(struct db *db, const char *sql, bool keep, struct db_stmt **out);
void db_finalize(struct db_stmt *s);
/* Ready to bind and run again; the bindings cleared. */
void db_reset(struct db_stmt *s);

void db_bind_int(struct db_stmt *s, int idx, int64_t v);
/* Copied. NULL binds SQL NULL. */
void db_bind_text(struct db_stmt *s, int idx, const char *v);
void db_bind_blob(struct db_stmt *s, int idx, const void *v, size_t len);
/* Not copied: v must stay as it is until the statement is stepped and
 * reset (the pieces of a request's result, 64 KiB each). */
void db_bind_blob_ref(struct db_stmt *s, int idx, const void *v, size_t len);
void db_bind_null(struct db_stmt *s, int idx);

/* DB_ROW: a row is ready; DB_DONE: the statement finished; <0: -errno. */
int db_step(struct db_stmt *s);

/* Columns of the current row. NULL reads as 0 or NULL; a boolean
 * (PostgreSQL) as 1 or 0. Text and blobs stay valid until the next step
 * or reset of the statement. */
int64_t db_column_int(struct db_stmt *s, int col);
const char *db_column_text(struct db_stmt *s, int col);
size_t db_column_bytes(struct db_stmt *s, int col);
bool db_column_null(struct db_stmt *s, int col);
const void *db_column_blob(struct db_stmt *s, int col, size_t *len);

/* Rows changed by the statement that last finished on this connection. */
int64_t db_changes(struct db *db);

/* The engine's words for the last failure, and its errno (negative):
 * -EBUSY locked (SQLITE_BUSY; lock_timeout), -ENOSPC full, -EEXIST a
 * unique key, -EAGAIN a conflict worth retrying (serialization,
 * deadlock), -ENOTCONN the server is unreachable (the next call
 * reconnects; what the session held, its transaction, named locks and
 * LISTEN, is gone), -ETIMEDOUT a statement timeout, -EACCES, -EROFS a
 * read-only standby, -ENOMEM, -EUCLEAN corrupt, -EIO otherwise. */
const char *db_errmsg(const struct db *db);
int db_errno(const struct db *db);

/* Notifications between daemons (PostgreSQL LISTEN/NOTIFY on channel
 * "cinderfs"): db_notify queues one, sent when the transaction commits;
 * db_listen subscribes this connection; db_wait_notify waits up to
 * timeout_ms: 1 one came, 0 none, -errno. -ENOTSUP on SQLite (poll). */
int db_notify(struct db *db);
/* Which tables' changes are worth a notification (a NULL-terminated list,
 * static): a write transaction that changed a row of one of them
 * (INSERT, UPDATE or DELETE naming it) is db_woke. */
void db_wake_tables(const char *const *names);
bool db_woke(const struct db *db);
int db_listen(struct db *db);
int db_wait_notify(struct db *db, int timeout_ms);

/* The server's clock in microseconds since the epoch; -ENOTSUP on
 * SQLite (this machine's clock is the file's). */
int db_server_time_us(struct db *db, int64_t *us);

/* A lock across every daemon of the database, by name, held by this
 * connection until db_unlock_name (or until the connection ends): waits
 * up to the connection's lock wait, then -EBUSY. Nothing on SQLite. */
int db_lock_name(struct db *db, const char *name);
void db_unlock_name(struct db *db, const char *name);

/* The SQLite file's guard (store_pin_file, store_check_file,
 * store_prepare_file, store_set_lost_handler): nothing on PostgreSQL. */
int db_check_file(struct db *db, struct cf_err *err);
void db_pin_file(struct db *db);
int db_prepare_file(const char *setting, gid_t group, struct cf_err *err);
typedef void (*db_lost_fn)(void);
void db_set_lost_handler(db_lost_fn fn);
/* This process can no longer serve: `why` logged once, and the handler
 * called (the daemon stops; its service manager starts it again). */
void db_lost(const char *why);
