/* The SQLite engine: the embedded default, one file on one machine.
 *
 * The file runs in WAL mode so that readers (the mount's threads, other
 * daemons) never wait for a writer, with a busy timeout for writers. Kept
 * statements are prepared once per connection (SQLITE_PREPARE_PERSISTENT),
 * so a lookup from the mount costs one indexed step, not a parse. */
#include "db_engine.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dbtime.h"
#include "liveness.h"
#include "log.h"

#define BUSY_TIMEOUT_MS 10000
#define SHORT_BUSY_TIMEOUT_MS 1000

struct sqlite_db {
	DB_HEADER;       /* first: what db.c reads */
	sqlite3 *h;
	char *path;      /* as given, without sqlite:// */
	int last_rc;     /* SQLite's code of the last failure */
};

struct sqlite_stmt {
	DB_STMT_HEADER;  /* first: what db.c reads */
	sqlite3_stmt *s;
};

#define SDB(d) ((struct sqlite_db *)(d))
#define CSDB(d) ((const struct sqlite_db *)(d))
#define SST(s) ((struct sqlite_stmt *)(s))

static void sq_close(struct db *d);

static int sqlite_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_TOOBIG:
		return -EFBIG;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EUCLEAN;
	default:
		return -EIO;
	}
}

/* A stored time as nanoseconds since the epoch, NULL when unreadable:
 * dbtime_parse's reading, as PostgreSQL's cf_time_ns (migration 1), so
 * that a duration between two times is exact on both engines (julianday()
 * keeps about 20 us of a time). */
static void sql_time_ns(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char *text = (const char *)sqlite3_value_text(argv[0]);
	struct timespec t;

	(void)argc;
	if (!text || dbtime_parse(text, &t) != 0) {
		sqlite3_result_null(ctx);
		return;
	}
	sqlite3_result_int64(ctx, (sqlite3_int64)t.tv_sec * 1000000000 + t.tv_nsec);
}

/* One definition of up, in SQL as in C: cf_beat_ok is liveness.c's
 * liveness_beat_counts, registered on every connection, so a row written
 * by hand (2026-11-29T08:00:33, a time without seconds, garbage) reads the
 * same in stuck/, in rmdir workers/<id> and in the mount's is_up. NULL
 * (never a heartbeat) is not up. */
static void sql_beat_ok(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char *beat = (const char *)sqlite3_value_text(argv[0]);
	struct timespec *bound = sqlite3_get_auxdata(ctx, 1);

	(void)argc;
	/* The bound is the same for every row of a statement: parsed once
	 * and kept by SQLite with the bound parameter (auxdata). */
	if (!bound) {
		const char *text = (const char *)sqlite3_value_text(argv[1]);
		struct timespec parsed;
		if (!text || dbtime_parse(text, &parsed) != 0) {
			sqlite3_result_int(ctx, 0);
			return;
		}
		bound = malloc(sizeof(*bound));
		if (!bound) {
			sqlite3_result_error_nomem(ctx);
			return;
		}
		*bound = parsed;
		sqlite3_set_auxdata(ctx, 1, bound, free);
		bound = sqlite3_get_auxdata(ctx, 1);
		if (!bound) { /* SQLite may drop it at once: use ours */
			sqlite3_result_int(ctx, liveness_beat_counts(beat, &parsed));
			return;
		}
	}
	sqlite3_result_int(ctx, liveness_beat_counts(beat, bound));
}

/* ---- The database file stays the one this daemon opened ---- */

/* What a connection knows of the file it opened. SQLite keeps an open
 * file open when it is deleted (rm state.db*) or replaced (a copy moved
 * over it, a restore) and says nothing: writes go on into a file nobody
 * else reads, and are lost. So every write transaction first checks, with
 * one stat(), that the path still names that file. */
struct file_guard {
	dev_t dev;
	ino_t ino;
	bool checked;  /* in the write transaction under way */
	char path[];   /* absolute, as SQLite opened it; "" for a memory database */
};

/* Whether `path` still names the file (dev, ino): 0, or -ESTALE with the
 * words in msg, logged, and the daemon told. */
static int guard_check(const char *path, dev_t dev, ino_t ino, char *msg, size_t size)
{
	char why[PATH_MAX + 256];
	struct stat sb;
	const char *what;

	if (!path[0])
		return 0;
	if (stat(path, &sb) == 0) {
		if (sb.st_dev == dev && sb.st_ino == ino)
			return 0;
		what = "another file is there now";
	} else if (errno == ENOENT || errno == ENOTDIR) {
		what = "nothing is there now";
	} else {
		return 0; /* cannot tell (ENOMEM, EACCES): SQLite's own error, if any, comes next */
	}
	snprintf(msg, size,
		 "database file %s was deleted or replaced while this daemon ran; restart it", path);
	snprintf(why, sizeof(why), "%s (this daemon opened inode %llu; %s); writes are refused",
		 msg, (unsigned long long)ino, what);
	db_lost(why);
	return -ESTALE;
}

/* The daemon's database (store_pin_file): every connection it opens later,
 * each thread's own, must find the same file at the path. Set before the
 * threads start. */
static struct {
	char *given;  /* the path as store_open had it */
	char *file;   /* absolute, as SQLite opened it */
	dev_t dev;
	ino_t ino;
} pinned;

static void pin_file(struct db *d)
{
	struct sqlite_db *db = SDB(d);
	const char *file = sqlite3_db_filename(db->h, "main");
	struct stat sb;

	if (pinned.given || !file || !file[0] || stat(file, &sb) != 0)
		return;
	pinned.given = strdup(db->path);
	pinned.file = strdup(file);
	if (!pinned.given || !pinned.file) {
		free(pinned.given);
		free(pinned.file);
		pinned.given = pinned.file = NULL;
		return;
	}
	pinned.dev = sb.st_dev;
	pinned.ino = sb.st_ino;
}

/* A connection of the pinned file failed to open: -ESTALE (with the
 * words, and the daemon told) when that is because the file is gone. */
static int guard_open_failed(const char *path, struct cf_err *err)
{
	char msg[PATH_MAX + 128];

	if (!pinned.given || strcmp(path, pinned.given) != 0 ||
	    guard_check(pinned.file, pinned.dev, pinned.ino, msg, sizeof(msg)) == 0)
		return 0;
	err_set(err, ESTALE, "%s", msg);
	return -ESTALE;
}

/* cinderfs_file_check(): NULL, or an error when the file was deleted or
 * replaced. Without an argument (the triggers) once per write
 * transaction; with one, always. */
static void guard_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct file_guard *g = sqlite3_user_data(ctx);
	char msg[PATH_MAX + 128];

	(void)argv;
	if (argc == 0 && g->checked) {
		sqlite3_result_null(ctx);
		return;
	}
	if (guard_check(g->path, g->dev, g->ino, msg, sizeof(msg)) != 0) {
		/* SQLITE_ERROR (EIO to the callers), not an I/O error code:
		 * only the statement is undone, and the caller's own
		 * rollback finds its transaction still open. */
		sqlite3_result_error(ctx, msg, -1);
		return;
	}
	g->checked = argc == 0;
	sqlite3_result_null(ctx);
}

static int guard_commit(void *arg)
{
	((struct file_guard *)arg)->checked = false;
	return 0;
}

static void guard_rollback(void *arg)
{
	((struct file_guard *)arg)->checked = false;
}

/* Installed by store_open: the check, and a BEFORE trigger on every table
 * that calls it, so that every write path in this file is covered without
 * each having to remember (TEMP: this connection's own, nothing in the
 * file). A row about to be written is the start of a write transaction
 * that would change something; the write is refused before it is made. */
static int guard_install(struct sqlite_db *db, struct cf_err *err)
{
	static const char *const ops[] = { "INSERT", "UPDATE", "DELETE" };
	const char *file = sqlite3_db_filename(db->h, "main");
	struct file_guard *g;
	sqlite3_stmt *tables = NULL;
	sqlite3_str *sql;
	char *text;
	int moved = 0, rc;

	if (!file)
		file = "";
	g = malloc(sizeof(*g) + strlen(file) + 1);
	if (!g)
		return err_set(err, ENOMEM, "out of memory opening %s", db->path);
	strcpy(g->path, file);
	g->checked = false;
	if (file[0]) {
		struct stat sb;

		/* The path's file, and SQLite's own check that it is the one
		 * it opened: nothing replaced it in between. */
		if (stat(file, &sb) != 0 ||
		    sqlite3_file_control(db->h, "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK ||
		    moved) {
			free(g);
			return err_set(err, ESTALE, "database file %s was deleted or replaced while it "
				       "was being opened", file);
		}
		g->dev = sb.st_dev;
		g->ino = sb.st_ino;
		/* A thread's connection opened after the daemon's file was
		 * replaced: refused, not served from the new file. */
		if (pinned.file && strcmp(file, pinned.file) == 0 &&
		    (g->dev != pinned.dev || g->ino != pinned.ino)) {
			char msg[PATH_MAX + 128];

			guard_check(pinned.file, pinned.dev, pinned.ino, msg, sizeof(msg));
			free(g);
			return err_set(err, ESTALE, "%s", msg);
		}
	}
	/* The connection frees g when it closes (and on failure here). */
	if (sqlite3_create_function_v2(db->h, "cinderfs_file_check", -1, SQLITE_UTF8, g, guard_fn,
				       NULL, NULL, free) != SQLITE_OK)
		return err_set(err, ENOMEM, "cannot set up database %s: %s", db->path,
			       sqlite3_errmsg(db->h));
	sqlite3_commit_hook(db->h, guard_commit, g);
	sqlite3_rollback_hook(db->h, guard_rollback, g);
	if (!file[0])
		return 0;
	sql = sqlite3_str_new(db->h);
	rc = sqlite3_prepare_v2(db->h, "SELECT name FROM main.sqlite_master WHERE type = 'table' "
				"AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'", -1, &tables, NULL);
	while (rc == SQLITE_OK && sqlite3_step(tables) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(tables, 0);

		for (size_t i = 0; name && i < sizeof(ops) / sizeof(ops[0]); i++)
			sqlite3_str_appendf(sql, "CREATE TEMP TRIGGER IF NOT EXISTS \"cinderfs_guard_%w_%s\" "
					    "BEFORE %s ON main.\"%w\" BEGIN SELECT cinderfs_file_check(); "
					    "END;\n", name, ops[i], ops[i], name);
	}
	rc = sqlite3_finalize(tables);
	if (rc == SQLITE_OK)
		rc = sqlite3_str_errcode(sql);
	text = sqlite3_str_finish(sql); /* NULL when empty: a new file has no tables yet */
	if (rc == SQLITE_OK && text)
		rc = sqlite3_exec(db->h, text, NULL, NULL, NULL);
	sqlite3_free(text);
	if (rc != SQLITE_OK)
		return err_set(err, -sqlite_errno(rc), "cannot set up database %s: %s", db->path,
			       sqlite3_errmsg(db->h));
	return 0;
}

static int check_file(struct db *d, struct cf_err *err)
{
	struct sqlite_db *db = SDB(d);
	sqlite3_stmt *stmt;
	int rc = sqlite3_prepare_v2(db->h, "SELECT cinderfs_file_check(1)", -1, &stmt, NULL);

	if (rc == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
		sqlite3_finalize(stmt);
		return 0;
	}
	err_set(err, ESTALE, "%s", sqlite3_errmsg(db->h));
	sqlite3_finalize(stmt);
	return -ESTALE;
}

/* ---- Who the file belongs to ---- */

/* Mode bits a database must not have: it holds CHAP secrets
 * (volumes.provider_auth), for root and the admin group to read only. */
#define DB_MODE 0640
#define DB_TOO_OPEN (S_IWGRP | S_IRWXO)

static void warn_if_open(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) == 0 && (sb.st_mode & DB_TOO_OPEN))
		log_warning("database file %s has mode %04o: %s; it holds CHAP secrets "
			    "(volumes.provider_auth): chmod %04o %s", path,
			    (unsigned)(sb.st_mode & 07777),
			    (sb.st_mode & S_IRWXO) ? "any user may use it" : "its group may write it",
			    DB_MODE, path);
}

int db_sqlite_prepare_file(const char *path, gid_t group, struct cf_err *err)
{
	char side[PATH_MAX];
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, DB_MODE);

	if (fd >= 0) {
		/* fchmod: the mode whatever the umask. SQLite gives the -wal
		 * and -shm it makes this file's mode, and (as root) its owner. */
		int e = 0;

		if (geteuid() == 0 && fchown(fd, 0, group) != 0)
			e = errno;
		else if (geteuid() != 0 && fchown(fd, (uid_t)-1, group) != 0)
			log_debug("database %s: not in group %u: left in this user's group", path,
				  (unsigned)group);
		if (!e && fchmod(fd, DB_MODE) != 0)
			e = errno;
		close(fd);
		if (e) {
			unlink(path);
			return err_set(err, e, "cannot give new database %s its owner and mode: %s", path,
				       strerror(e));
		}
		return 0;
	}
	if (errno != EEXIST)
		return err_set(err, errno, "cannot open database %s: %s", path, strerror(errno));
	warn_if_open(path);
	snprintf(side, sizeof(side), "%s-wal", path);
	warn_if_open(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	warn_if_open(side);
	return 0;
}
/* ---- The engine ---- */

static int fail(struct sqlite_db *db, int rc)
{
	db->last_rc = rc;
	return sqlite_errno(rc);
}

static int exec_sql(struct sqlite_db *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db->h, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		log_error("database %s: %s", db->path, msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return fail(db, rc);
	}
	return 0;
}

static int sq_open(const char *setting, unsigned flags, struct db **out, struct cf_err *err)
{
	const char *path = strncmp(setting, "sqlite:///", 10) == 0 ? setting + 10 : setting;
	int open_flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	struct sqlite_db *db;
	int rc;

	if (flags & DB_CREATE)
		open_flags |= SQLITE_OPEN_CREATE;
	db = calloc(1, sizeof(*db));
	if (!db || !(db->path = strdup(path))) {
		free(db);
		return err_set(err, ENOMEM, "out of memory opening %s", path);
	}
	db->engine = &db_engine_sqlite;
	rc = sqlite3_open_v2(path, &db->h, open_flags, NULL);
	if (rc != SQLITE_OK) {
		int e = -sqlite_errno(rc);

		err_set(err, e, "cannot open database %s: %s", path,
			db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
		sq_close((struct db *)db);
		return guard_open_failed(path, err) ? -ESTALE : -e;
	}
	sqlite3_extended_result_codes(db->h, 1);
	sqlite3_busy_timeout(db->h, (flags & DB_SHORT_WAIT) ? SHORT_BUSY_TIMEOUT_MS : BUSY_TIMEOUT_MS);
	/* WAL: readers never block the writer, and several daemons share the
	 * file. synchronous=FULL: an accepted request survives a power cut.
	 * mmap: pages come from the OS page cache, shared by every
	 * connection, without a read() each; but each connection maps the
	 * file apart, and what it touched counts in RSS once per mapping:
	 * the mount's pool (DB_LEAN) reads through a small cache instead
	 * (as fast for its listings, measured: a page read is a copy from
	 * the page cache). */
	if (exec_sql(db, "PRAGMA journal_mode=WAL") ||
	    exec_sql(db, (flags & DB_RELAXED) ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL") ||
	    exec_sql(db, (flags & DB_LEAN) ? "PRAGMA mmap_size=0" : "PRAGMA mmap_size=268435456") ||
	    exec_sql(db, (flags & DB_LEAN) ? "PRAGMA cache_size=-2048" : "PRAGMA cache_size=-8192")) {
		err_set(err, EIO, "cannot set up database %s: %s", path, sqlite3_errmsg(db->h));
		sq_close((struct db *)db);
		return -EIO;
	}
	sqlite3_create_function_v2(db->h, "cf_beat_ok", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
				   sql_beat_ok, NULL, NULL, NULL);
	sqlite3_create_function_v2(db->h, "cf_time_ns", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
				   sql_time_ns, NULL, NULL, NULL);
	*out = (struct db *)db;
	return 0;
}

static int sq_ready(struct db *d, struct cf_err *err)
{
	struct sqlite_db *db = SDB(d);

	/* After the migrations: the guard covers every table they made. */
	return guard_install(db, err);
}

static void sq_close(struct db *d)
{
	struct sqlite_db *db = SDB(d);

	if (!db)
		return;
	sqlite3_close(db->h);
	free(db->path);
	free(db);
}

static const char *sq_name(const struct db *d)
{
	const struct sqlite_db *db = CSDB(d);

	return db->path;
}

static const char *sq_file(const struct db *d)
{
	const struct sqlite_db *db = CSDB(d);
	const char *file = sqlite3_db_filename(db->h, "main");

	return file && file[0] ? file : NULL;
}

static int sq_table_exists(struct db *d, const char *name, bool *exists)
{
	struct sqlite_db *db = SDB(d);

	*exists = sqlite3_table_column_metadata(db->h, NULL, name, NULL, NULL, NULL, NULL, NULL,
						NULL) == SQLITE_OK;
	return 0;
}

static int sq_begin(struct db *d, enum db_tx kind)
{
	struct sqlite_db *db = SDB(d);

	return exec_sql(db, kind == DB_TX_READ ? "BEGIN" : "BEGIN IMMEDIATE");
}

static int sq_commit(struct db *d)
{
	struct sqlite_db *db = SDB(d);

	return exec_sql(db, "COMMIT");
}

/* SQLite has already rolled back after some errors (a full disk, a failed
 * COMMIT), and a second ROLLBACK only logs "cannot rollback - no
 * transaction is active". */
static void sq_rollback(struct db *d)
{
	struct sqlite_db *db = SDB(d);

	if (sqlite3_get_autocommit(db->h) == 0)
		exec_sql(db, "ROLLBACK");
}

static bool sq_in_tx(const struct db *d)
{
	const struct sqlite_db *db = CSDB(d);

	return sqlite3_get_autocommit(db->h) == 0;
}

static int sq_exec(struct db *d, const char *sql)
{
	struct sqlite_db *db = SDB(d);

	return exec_sql(db, sql);
}

static int sq_prepare(struct db *d, const char *sql, bool keep, struct db_stmt **out)
{
	struct sqlite_db *db = SDB(d);
	struct sqlite_stmt *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	rc = sqlite3_prepare_v3(db->h, sql, -1, keep ? SQLITE_PREPARE_PERSISTENT : 0, &s->s, NULL);
	if (rc != SQLITE_OK) {
		free(s);
		return fail(db, rc);
	}
	s->db = d;
	*out = (struct db_stmt *)s;
	return 0;
}

static void sq_finalize(struct db_stmt *st_)
{
	struct sqlite_stmt *s = SST(st_);

	if (!s)
		return;
	sqlite3_finalize(s->s);
	free(s);
}

static void sq_reset(struct db_stmt *st_)
{
	struct sqlite_stmt *s = SST(st_);
	sqlite3_reset(s->s);
	sqlite3_clear_bindings(s->s);
}

static void sq_bind_int(struct db_stmt *st_, int idx, int64_t v)
{
	struct sqlite_stmt *s = SST(st_);
	sqlite3_bind_int64(s->s, idx, v);
}

static void sq_bind_text(struct db_stmt *st_, int idx, const char *v)
{
	struct sqlite_stmt *s = SST(st_);

	if (v)
		sqlite3_bind_text(s->s, idx, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s->s, idx);
}

static void sq_bind_blob_ref(struct db_stmt *st_, int idx, const void *v, size_t len)
{
	struct sqlite_stmt *s = SST(st_);
	sqlite3_bind_blob64(s->s, idx, len ? v : "", len, SQLITE_STATIC);
}

static void sq_bind_blob(struct db_stmt *st_, int idx, const void *v, size_t len)
{
	struct sqlite_stmt *s = SST(st_);
	sqlite3_bind_blob64(s->s, idx, len ? v : "", len, SQLITE_TRANSIENT);
}

static void sq_bind_null(struct db_stmt *st_, int idx)
{
	struct sqlite_stmt *s = SST(st_);
	sqlite3_bind_null(s->s, idx);
}

static int sq_step(struct db_stmt *st_)
{
	struct sqlite_stmt *s = SST(st_);
	int rc = sqlite3_step(s->s);

	if (rc == SQLITE_ROW)
		return DB_ROW;
	if (rc == SQLITE_DONE)
		return DB_DONE;
	return fail(SDB(s->db), sqlite3_extended_errcode(SDB(s->db)->h));
}

static int64_t sq_column_int(struct db_stmt *st_, int col)
{
	struct sqlite_stmt *s = SST(st_);

	return sqlite3_column_int64(s->s, col);
}

static const char *sq_column_text(struct db_stmt *st_, int col)
{
	struct sqlite_stmt *s = SST(st_);

	return (const char *)sqlite3_column_text(s->s, col);
}

static size_t sq_column_bytes(struct db_stmt *st_, int col)
{
	struct sqlite_stmt *s = SST(st_);

	return (size_t)sqlite3_column_bytes(s->s, col);
}

static bool sq_column_null(struct db_stmt *st_, int col)
{
	struct sqlite_stmt *s = SST(st_);

	return sqlite3_column_type(s->s, col) == SQLITE_NULL;
}

static const void *sq_column_blob(struct db_stmt *st_, int col, size_t *len)
{
	struct sqlite_stmt *s = SST(st_);
	const void *data = sqlite3_column_blob(s->s, col);

	*len = (size_t)sqlite3_column_bytes(s->s, col);
	return data;
}

static int64_t sq_changes(struct db *d)
{
	struct sqlite_db *db = SDB(d);

	return sqlite3_changes64(db->h);
}

static const char *sq_errmsg(const struct db *d)
{
	const struct sqlite_db *db = CSDB(d);

	return sqlite3_errmsg(db->h);
}

static int sq_errno(const struct db *d)
{
	const struct sqlite_db *db = CSDB(d);
	int rc = sqlite3_extended_errcode(db->h);

	if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE)
		rc = db->last_rc;
	return rc == SQLITE_OK ? -EIO : sqlite_errno(rc);
}

static const struct migration *sq_migrations(const struct db *d, int *count)
{
	(void)d;
	*count = store_migrations_count;
	return store_migrations;
}

const struct db_engine db_engine_sqlite = {
	.kind = DB_SQLITE,
	.open = sq_open,
	.ready = sq_ready,
	.close = sq_close,
	.name = sq_name,
	.file = sq_file,
	.migrations = sq_migrations,
	.table_exists = sq_table_exists,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.in_tx = sq_in_tx,
	.exec = sq_exec,
	.prepare = sq_prepare,
	.finalize = sq_finalize,
	.reset = sq_reset,
	.bind_int = sq_bind_int,
	.bind_text = sq_bind_text,
	.bind_blob = sq_bind_blob,
	.bind_blob_ref = sq_bind_blob_ref,
	.bind_null = sq_bind_null,
	.step = sq_step,
	.column_int = sq_column_int,
	.column_text = sq_column_text,
	.column_bytes = sq_column_bytes,
	.column_null = sq_column_null,
	.column_blob = sq_column_blob,
	.changes = sq_changes,
	.errmsg = sq_errmsg,
	.errno_ = sq_errno,
	.check_file = check_file,
	.pin_file = pin_file,
};
