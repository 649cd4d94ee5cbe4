/* db.h's functions: the engine is picked once, by the setting, at db_open;
 * every other call goes through the connection's method table
 * (db_engine.h). */
#include "db_engine.h"

#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>

#include "log.h"


static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

enum db_kind db_kind_of(const char *setting)
{
	static const char *const pg_starts[] = {
		"postgresql://", "postgres://", "host=", "hostaddr=",
		"dbname=", "service=", "user=", "port=",
	};

	if (!setting)
		return DB_SQLITE;
	setting += strspn(setting, " \t");
	for (size_t i = 0; i < sizeof(pg_starts) / sizeof(pg_starts[0]); i++)
		if (starts_with(setting, pg_starts[i]))
			return DB_POSTGRESQL;
	return DB_SQLITE;
}

int db_open(const char *setting, unsigned flags, struct db **out, struct cf_err *err)
{
	const struct db_engine *e =
		db_kind_of(setting) == DB_POSTGRESQL ? &db_engine_pg : &db_engine_sqlite;

	*out = NULL;
	return e->open(setting, flags, out, err);
}

int db_ready(struct db *db, struct cf_err *err)
{
	return db->engine->ready ? db->engine->ready(db, err) : 0;
}

void db_close(struct db *db)
{
	if (db)
		db->engine->close(db);
}

enum db_kind db_kind(const struct db *db)
{
	return db->engine->kind;
}

const char *db_name(const struct db *db)
{
	return db->engine->name(db);
}

const char *db_file(const struct db *db)
{
	return db->engine->file(db);
}

const struct migration *db_migrations(const struct db *db, int *count)
{
	return db->engine->migrations(db, count);
}

int db_table_exists(struct db *db, const char *name, bool *exists)
{
	return db->engine->table_exists(db, name, exists);
}

int db_begin(struct db *db, enum db_tx kind)
{
	db->woke = false;
	return db->engine->begin(db, kind);
}

int db_commit(struct db *db)
{
	return db->engine->commit(db);
}

void db_rollback(struct db *db)
{
	db->engine->rollback(db);
}

bool db_in_tx(const struct db *db)
{
	return db->engine->in_tx(db);
}

int db_exec(struct db *db, const char *sql)
{
	return db->engine->exec(db, sql);
}

/* The tables whose changes wake other daemons (db_wake_tables). */
static const char *const *wake_tables;

void db_wake_tables(const char *const *names)
{
	wake_tables = names;
}

static bool starts_with_word(const char *sql, const char *word)
{
	size_t n = strlen(word);

	sql += strspn(sql, " \t\n");
	return strncasecmp(sql, word, n) == 0 && !isalnum((unsigned char)sql[n]);
}

static bool wakes_others(const char *sql)
{
	if (!wake_tables || !(starts_with_word(sql, "INSERT") || starts_with_word(sql, "UPDATE") ||
			      starts_with_word(sql, "DELETE")))
		return false;
	for (const char *const *t = wake_tables; *t; t++)
		if (strstr(sql, *t))
			return true;
	return false;
}

int db_prepare(struct db *db, const char *sql, bool keep, struct db_stmt **out)
{
	int rc = db->engine->prepare(db, sql, keep, out);

	if (rc == 0)
		(*out)->wakes = wakes_others(sql);
	return rc;
}

bool db_woke(const struct db *db)
{
	return db->woke;
}

void db_finalize(struct db_stmt *s)
{
	if (s)
		s->db->engine->finalize(s);
}

void db_reset(struct db_stmt *s)
{
	s->db->engine->reset(s);
}

void db_bind_int(struct db_stmt *s, int idx, int64_t v)
{
	s->db->engine->bind_int(s, idx, v);
}

void db_bind_text(struct db_stmt *s, int idx, const char *v)
{
	s->db->engine->bind_text(s, idx, v);
}

void db_bind_blob(struct db_stmt *s, int idx, const void *v, size_t len)
{
	s->db->engine->bind_blob(s, idx, v, len);
}

void db_bind_blob_ref(struct db_stmt *s, int idx, const void *v, size_t len)
{
	s->db->engine->bind_blob_ref(s, idx, v, len);
}

void db_bind_null(struct db_stmt *s, int idx)
{
	s->db->engine->bind_null(s, idx);
}

int db_step(struct db_stmt *s)
{
	int rc = s->db->engine->step(s);

	if (s->wakes && rc >= 0 && !s->db->woke && s->db->engine->changes(s->db) > 0)
		s->db->woke = true;
	return rc;
}

int64_t db_column_int(struct db_stmt *s, int col)
{
	return s->db->engine->column_int(s, col);
}

const char *db_column_text(struct db_stmt *s, int col)
{
	return s->db->engine->column_text(s, col);
}

size_t db_column_bytes(struct db_stmt *s, int col)
{
	return s->db->engine->column_bytes(s, col);
}

bool db_column_null(struct db_stmt *s, int col)
{
	return s->db->engine->column_null(s, col);
}

const void *db_column_blob(struct db_stmt *s, int col, size_t *len)
{
	return s->db->engine->column_blob(s, col, len);
}

int64_t db_changes(struct db *db)
{
	return db->engine->changes(db);
}

const char *db_errmsg(const struct db *db)
{
	return db->engine->errmsg(db);
}

int db_errno(const struct db *db)
{
	return db->engine->errno_(db);
}

int db_check_file(struct db *db, struct cf_err *err)
{
	return db->engine->check_file ? db->engine->check_file(db, err) : 0;
}

void db_pin_file(struct db *db)
{
	if (db->engine->pin_file)
		db->engine->pin_file(db);
}

int db_prepare_file(const char *setting, gid_t group, struct cf_err *err)
{
	if (db_kind_of(setting) != DB_SQLITE)
		return 0;
	if (starts_with(setting, "sqlite:///"))
		setting += 10;
	return db_sqlite_prepare_file(setting, group, err);
}

/* ---- A daemon that can no longer serve ---- */

static _Atomic(db_lost_fn) lost_handler;
static atomic_flag lost_logged = ATOMIC_FLAG_INIT;

void db_set_lost_handler(db_lost_fn fn)
{
	atomic_store(&lost_handler, fn);
}

/* This process can no longer serve: logged once, and the handler told
 * (the daemon stops, and its service manager starts it again). */
void db_lost(const char *why)
{
	db_lost_fn fn = atomic_load(&lost_handler);

	if (!atomic_flag_test_and_set(&lost_logged))
		log_error("%s", why);
	if (fn)
		fn();
}

/* ---- What only some engines have (db_engine.h's optional methods) ---- */

int db_lock_name(struct db *db, const char *name)
{
	return db->engine->lock_name ? db->engine->lock_name(db, name) : 0;
}

void db_unlock_name(struct db *db, const char *name)
{
	if (db->engine->unlock_name)
		db->engine->unlock_name(db, name);
}

int db_server_time_us(struct db *db, int64_t *us)
{
	return db->engine->server_time_us ? db->engine->server_time_us(db, us) : -ENOTSUP;
}

int db_notify(struct db *db)
{
	return db->engine->notify ? db->engine->notify(db) : -ENOTSUP;
}

int db_listen(struct db *db)
{
	return db->engine->listen ? db->engine->listen(db) : -ENOTSUP;
}

int db_wait_notify(struct db *db, int timeout_ms)
{
	if (!db->engine->wait_notify)
		return -ENOTSUP;
	return db->engine->wait_notify(db, timeout_ms);
}
