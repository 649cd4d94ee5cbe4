/* The store: every statement cinderfs runs against SQLite.
 *
 * Each connection keeps its statements prepared (SQLITE_PREPARE_PERSISTENT),
 * so a lookup from the mount costs one indexed step, not a parse. The file
 * runs in WAL mode so that readers (the mount's threads, other daemons)
 * never wait for a writer, with a busy timeout for writers. */
#include "store.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <uuid/uuid.h>

#include "log.h"

#define BUSY_TIMEOUT_MS 10000

enum stmt_id {
	Q_SCHEMA_VERSION,
	Q_SERVICE_BY_ID,
	Q_SERVICE_BY_HOST_BINARY,
	Q_SERVICES,
	Q_CLUSTER_MEMBERS,
	Q_SERVICE_INSERT,
	Q_SERVICE_RESTART,
	Q_HEARTBEAT,
	Q_CLUSTER_BY_NAME,
	Q_CLUSTERS,
	Q_CLUSTER_INSERT,
	Q_STUCK_ONE,
	Q_STUCK_LIST,
	Q_COUNT
};

#define SERVICE_COLUMNS \
	"id, host, \"binary\", cluster_name, disabled, created_at, updated_at, rpc_current_version"

#define CLUSTER_COLUMNS \
	"c.id, c.name, c.\"binary\", c.disabled, c.created_at, c.updated_at, " \
	"(SELECT MAX(s.updated_at) FROM services s WHERE s.cluster_name = c.name AND s.deleted = 0)"

/* A cluster name could in principle exist for two binaries; the mount shows
 * one directory per name, the oldest row. */
#define CLUSTER_FIRST_OF_NAME \
	"c.id = (SELECT MIN(c2.id) FROM clusters c2 WHERE c2.name = c.name AND c2.deleted = 0)"

/* Down: the last heartbeat (updated_at, else created_at) is before ?2, the
 * bound as text; or the owner's row is gone or deleted. */
#define STUCK_SELECT(type_match) \
	"SELECT w.resource_type, w.resource_id, w.status, w.service_id, s.host, s.cluster_name, " \
	"w.created_at, w.updated_at " \
	"FROM workers w LEFT JOIN services s ON s.id = w.service_id " \
	"WHERE " type_match " AND w.service_id IS NOT NULL AND " \
	"(s.id IS NULL OR s.deleted != 0 OR COALESCE(s.updated_at, s.created_at) IS NULL " \
	"OR COALESCE(s.updated_at, s.created_at) < ?2)"

static const char *const stmt_sql[Q_COUNT] = {
	[Q_SCHEMA_VERSION] = "SELECT COALESCE(MAX(version), 0) FROM schema_version",
	[Q_SERVICE_BY_ID] = "SELECT " SERVICE_COLUMNS " FROM services WHERE id = ?1 AND deleted = 0",
	[Q_SERVICE_BY_HOST_BINARY] = "SELECT id FROM services "
				     "WHERE host = ?1 AND \"binary\" = ?2 AND deleted = 0",
	[Q_SERVICES] = "SELECT " SERVICE_COLUMNS " FROM services WHERE deleted = 0 ORDER BY id",
	[Q_CLUSTER_MEMBERS] = "SELECT " SERVICE_COLUMNS " FROM services "
			      "WHERE cluster_name = ?1 AND deleted = 0 ORDER BY id",
	[Q_SERVICE_INSERT] =
		"INSERT INTO services (created_at, updated_at, deleted, host, \"binary\", topic, "
		"report_count, disabled, availability_zone, rpc_current_version, "
		"object_current_version, cluster_name, uuid) "
		"VALUES (?1, ?1, 0, ?2, ?3, ?3, 0, 0, 'nova', ?4, ?4, ?5, ?6)",
	[Q_SERVICE_RESTART] = "UPDATE services SET updated_at = ?1, rpc_current_version = ?2, "
			      "object_current_version = ?2, cluster_name = ?3 WHERE id = ?4",
	[Q_HEARTBEAT] = "UPDATE services SET updated_at = ?1, report_count = report_count + 1 "
			"WHERE id = ?2 AND deleted = 0",
	[Q_CLUSTER_BY_NAME] = "SELECT " CLUSTER_COLUMNS " FROM clusters c "
			      "WHERE c.name = ?1 AND c.deleted = 0 ORDER BY c.id LIMIT 1",
	[Q_CLUSTERS] = "SELECT " CLUSTER_COLUMNS " FROM clusters c "
		       "WHERE c.deleted = 0 AND " CLUSTER_FIRST_OF_NAME " ORDER BY c.id",
	[Q_CLUSTER_INSERT] = "INSERT INTO clusters (created_at, updated_at, deleted, name, "
			     "\"binary\", disabled, race_preventer) "
			     "SELECT ?1, ?1, 0, ?2, ?3, 0, 0 WHERE NOT EXISTS (SELECT 1 FROM clusters "
			     "WHERE name = ?2 AND \"binary\" = ?3 AND deleted = 0)",
	[Q_STUCK_ONE] = STUCK_SELECT("w.resource_type = ?1 AND w.resource_id = ?3"),
	/* '+' keeps SQLite off the (resource_type, resource_id) index for the
	 * listing: a scan of the table reads 100,000 rows in order about five
	 * times faster than one index probe and table lookup per row. */
	[Q_STUCK_LIST] = STUCK_SELECT("+w.resource_type = ?1"),
};

struct store {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmts[Q_COUNT];
};

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

/* A failed statement is logged with SQLite's words: they are what an
 * operator needs when the file is locked, full or corrupt. */
static int db_fail(struct store *st, int rc, const char *what)
{
	log_error("database %s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
	return sqlite_errno(rc);
}

static int stmt_get(struct store *st, enum stmt_id id, sqlite3_stmt **out)
{
	if (!st->stmts[id]) {
		int rc = sqlite3_prepare_v3(st->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					    &st->stmts[id], NULL);
		if (rc != SQLITE_OK)
			return db_fail(st, rc, "prepare");
	}
	*out = st->stmts[id];
	return 0;
}

/* Used with __attribute__((cleanup)): a statement is reset and its bindings
 * cleared however the function using it returns. */
static void stmt_done(sqlite3_stmt **stmt)
{
	if (*stmt) {
		sqlite3_reset(*stmt);
		sqlite3_clear_bindings(*stmt);
	}
}
#define STMT __attribute__((cleanup(stmt_done))) sqlite3_stmt *

static int exec(struct store *st, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		log_error("database %s: %s", st->path, msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return sqlite_errno(rc);
	}
	return 0;
}

static int bind_text_or_null(sqlite3_stmt *stmt, int idx, const char *text)
{
	if (!text || !*text)
		return sqlite3_bind_null(stmt, idx);
	return sqlite3_bind_text(stmt, idx, text, -1, SQLITE_TRANSIENT);
}

/* Copy a text column; NULL becomes "". A value longer than Cinder's column
 * size is refused rather than cut, so nothing shows a wrong name. */
static int column_text(sqlite3_stmt *stmt, int col, char *buf, size_t size)
{
	const unsigned char *text = sqlite3_column_text(stmt, col);
	size_t len = (size_t)sqlite3_column_bytes(stmt, col);

	if (!text) {
		buf[0] = '\0';
		return 0;
	}
	if (len >= size)
		return -EOVERFLOW;
	memcpy(buf, text, len);
	buf[len] = '\0';
	return 0;
}

static void time_text(const struct timespec *t, char out[DBTIME_LEN])
{
	dbtime_format(t, out);
}

int store_open(const char *path, unsigned flags, struct store **out, struct cf_err *err)
{
	struct store *st;
	int open_flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	int rc;

	if (flags & STORE_CREATE)
		open_flags |= SQLITE_OPEN_CREATE;
	st = calloc(1, sizeof(*st));
	if (!st)
		return err_set(err, ENOMEM, "out of memory opening %s", path);
	st->path = strdup(path);
	if (!st->path) {
		free(st);
		return err_set(err, ENOMEM, "out of memory opening %s", path);
	}
	rc = sqlite3_open_v2(path, &st->db, open_flags, NULL);
	if (rc != SQLITE_OK) {
		int e = -sqlite_errno(rc);
		err_set(err, e, "cannot open database %s: %s", path,
			st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		store_close(st);
		return -e;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	/* WAL: readers never block the writer, and several daemons share the
	 * file. synchronous=FULL: an accepted request survives a power cut. */
	/* mmap: pages come from the OS page cache, shared by every
	 * connection, without a read() each. */
	if (exec(st, "PRAGMA journal_mode=WAL") || exec(st, "PRAGMA synchronous=FULL") ||
	    exec(st, "PRAGMA mmap_size=268435456") || exec(st, "PRAGMA cache_size=-8192")) {
		err_set(err, EIO, "cannot set up database %s: %s", path, sqlite3_errmsg(st->db));
		store_close(st);
		return -EIO;
	}
	if (flags & STORE_MIGRATE) {
		rc = store_migrate(st, store_migrations, store_migrations_count, err);
		if (rc) {
			store_close(st);
			return rc;
		}
	}
	*out = st;
	return 0;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(st->stmts[i]);
	sqlite3_close(st->db);
	free(st->path);
	free(st);
}

int store_schema_version(struct store *st, int *version)
{
	STMT stmt = NULL;
	int rc;

	/* A file without the table is version 0: new, or not ours yet. */
	rc = sqlite3_table_column_metadata(st->db, NULL, "schema_version", "version",
					   NULL, NULL, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		*version = 0;
		return 0;
	}
	rc = stmt_get(st, Q_SCHEMA_VERSION, &stmt);
	if (rc)
		return rc;
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW)
		return db_fail(st, rc, "read schema version");
	*version = sqlite3_column_int(stmt, 0);
	return 0;
}

int store_migrate(struct store *st, const struct migration *list, int count, struct cf_err *err)
{
	int version, rc;
	char now[DBTIME_LEN];
	struct timespec ts;

	/* IMMEDIATE: two daemons starting at once on a new file take turns. */
	if (exec(st, "BEGIN IMMEDIATE"))
		return err_set(err, EBUSY, "cannot lock database %s to check its schema: %s",
			       st->path, sqlite3_errmsg(st->db));
	rc = exec(st, "CREATE TABLE IF NOT EXISTS schema_version ("
		      " version INTEGER PRIMARY KEY, -- the migration applied\n"
		      " name TEXT NOT NULL,          -- its file in backend/schema/\n"
		      " applied_at TEXT NOT NULL     -- when (UTC)\n"
		      ")");
	if (!rc)
		rc = store_schema_version(st, &version);
	if (rc) {
		exec(st, "ROLLBACK");
		return err_set(err, -rc, "cannot read the schema version of %s: %s", st->path,
			       sqlite3_errmsg(st->db));
	}
	if (version > count) {
		exec(st, "ROLLBACK");
		return err_set(err, EPROTO,
			       "database %s has schema version %d, newer than this cinderfs knows "
			       "(%d): upgrade cinderfs before using this file",
			       st->path, version, count);
	}
	dbtime_now(&ts);
	time_text(&ts, now);
	for (int i = version; i < count; i++) {
		const struct migration *m = &list[i];
		sqlite3_stmt *ins = NULL;

		rc = exec(st, m->sql);
		if (!rc) {
			rc = sqlite3_prepare_v2(st->db,
						"INSERT INTO schema_version (version, name, applied_at) "
						"VALUES (?1, ?2, ?3)", -1, &ins, NULL);
			if (rc == SQLITE_OK) {
				sqlite3_bind_int(ins, 1, m->version);
				sqlite3_bind_text(ins, 2, m->name, -1, SQLITE_STATIC);
				sqlite3_bind_text(ins, 3, now, -1, SQLITE_STATIC);
				rc = sqlite3_step(ins) == SQLITE_DONE ? 0 : -EIO;
			} else {
				rc = -EIO;
			}
			sqlite3_finalize(ins);
		}
		if (rc) {
			err_set(err, EIO, "migration %s failed on %s: %s", m->name, st->path,
				sqlite3_errmsg(st->db));
			exec(st, "ROLLBACK");
			return -EIO;
		}
		log_info("database %s: applied migration %s", st->path, m->name);
	}
	if (exec(st, "COMMIT")) {
		err_set(err, EIO, "cannot commit the schema of %s: %s", st->path,
			sqlite3_errmsg(st->db));
		exec(st, "ROLLBACK");
		return -EIO;
	}
	return 0;
}

static int read_service(sqlite3_stmt *stmt, struct service *svc)
{
	/* Every field is written below: no memset of ~1 KB a row. */
	svc->id = sqlite3_column_int64(stmt, 0);
	svc->disabled = sqlite3_column_int(stmt, 4) != 0;
	if (column_text(stmt, 1, svc->host, sizeof(svc->host)) ||
	    column_text(stmt, 2, svc->binary, sizeof(svc->binary)) ||
	    column_text(stmt, 3, svc->cluster_name, sizeof(svc->cluster_name)) ||
	    column_text(stmt, 5, svc->created_at, sizeof(svc->created_at)) ||
	    column_text(stmt, 6, svc->updated_at, sizeof(svc->updated_at)) ||
	    column_text(stmt, 7, svc->version, sizeof(svc->version))) {
		log_warning("services row %lld has a value longer than Cinder allows; skipped",
			    (long long)svc->id);
		return -EOVERFLOW;
	}
	return 0;
}

static int read_cluster(sqlite3_stmt *stmt, struct cluster *cl)
{
	/* Every field is written below: no memset of ~1 KB a row. */
	cl->id = sqlite3_column_int64(stmt, 0);
	cl->disabled = sqlite3_column_int(stmt, 3) != 0;
	if (column_text(stmt, 1, cl->name, sizeof(cl->name)) ||
	    column_text(stmt, 2, cl->binary, sizeof(cl->binary)) ||
	    column_text(stmt, 4, cl->created_at, sizeof(cl->created_at)) ||
	    column_text(stmt, 5, cl->updated_at, sizeof(cl->updated_at)) ||
	    column_text(stmt, 6, cl->last_heartbeat, sizeof(cl->last_heartbeat))) {
		log_warning("clusters row %lld has a value longer than Cinder allows; skipped",
			    (long long)cl->id);
		return -EOVERFLOW;
	}
	return 0;
}

static int read_stuck(sqlite3_stmt *stmt, struct stuck *res)
{
	/* Every field is written below: no memset of ~1 KB a row. */
	res->service_id = sqlite3_column_int64(stmt, 3);
	if (column_text(stmt, 0, res->resource_type, sizeof(res->resource_type)) ||
	    column_text(stmt, 1, res->resource_id, sizeof(res->resource_id)) ||
	    column_text(stmt, 2, res->status, sizeof(res->status)) ||
	    column_text(stmt, 4, res->host, sizeof(res->host)) ||
	    column_text(stmt, 5, res->cluster_name, sizeof(res->cluster_name)) ||
	    column_text(stmt, 6, res->created_at, sizeof(res->created_at)) ||
	    column_text(stmt, 7, res->updated_at, sizeof(res->updated_at))) {
		log_warning("workers row for %s has a value longer than Cinder allows; skipped",
			    res->resource_id);
		return -EOVERFLOW;
	}
	return 0;
}

int store_register(struct store *st, const struct registration *reg,
		   const struct timespec *now, int64_t *service_id, struct cf_err *err)
{
	STMT find = NULL;
	STMT write = NULL;
	STMT cluster = NULL;
	char stamp[DBTIME_LEN];
	bool inserted = false;
	int rc;

	time_text(now, stamp);
	if (exec(st, "BEGIN IMMEDIATE"))
		return err_set(err, EBUSY, "cannot lock database %s to register %s: %s", st->path,
			       reg->host, sqlite3_errmsg(st->db));
	rc = stmt_get(st, Q_SERVICE_BY_HOST_BINARY, &find);
	if (rc)
		goto fail;
	sqlite3_bind_text(find, 1, reg->host, -1, SQLITE_STATIC);
	sqlite3_bind_text(find, 2, reg->binary, -1, SQLITE_STATIC);
	rc = sqlite3_step(find);
	if (rc == SQLITE_ROW) {
		/* A restarted worker takes its row back, as Cinder does. */
		*service_id = sqlite3_column_int64(find, 0);
		rc = stmt_get(st, Q_SERVICE_RESTART, &write);
		if (rc)
			goto fail;
		sqlite3_bind_text(write, 1, stamp, -1, SQLITE_STATIC);
		sqlite3_bind_text(write, 2, reg->version, -1, SQLITE_STATIC);
		bind_text_or_null(write, 3, reg->cluster_name);
		sqlite3_bind_int64(write, 4, *service_id);
	} else if (rc == SQLITE_DONE) {
		uuid_t uu;
		char uuid_text[UUID_LEN];

		inserted = true;
		uuid_generate(uu);
		uuid_unparse_lower(uu, uuid_text);
		rc = stmt_get(st, Q_SERVICE_INSERT, &write);
		if (rc)
			goto fail;
		sqlite3_bind_text(write, 1, stamp, -1, SQLITE_STATIC);
		sqlite3_bind_text(write, 2, reg->host, -1, SQLITE_STATIC);
		sqlite3_bind_text(write, 3, reg->binary, -1, SQLITE_STATIC);
		sqlite3_bind_text(write, 4, reg->version, -1, SQLITE_STATIC);
		bind_text_or_null(write, 5, reg->cluster_name);
		sqlite3_bind_text(write, 6, uuid_text, -1, SQLITE_TRANSIENT);
	} else {
		rc = db_fail(st, rc, "find service");
		goto fail;
	}
	rc = sqlite3_step(write);
	if (rc != SQLITE_DONE) {
		rc = db_fail(st, rc, "write service");
		goto fail;
	}
	if (inserted)
		*service_id = sqlite3_last_insert_rowid(st->db);
	if (reg->cluster_name && *reg->cluster_name) {
		rc = stmt_get(st, Q_CLUSTER_INSERT, &cluster);
		if (rc)
			goto fail;
		sqlite3_bind_text(cluster, 1, stamp, -1, SQLITE_STATIC);
		sqlite3_bind_text(cluster, 2, reg->cluster_name, -1, SQLITE_STATIC);
		sqlite3_bind_text(cluster, 3, reg->binary, -1, SQLITE_STATIC);
		rc = sqlite3_step(cluster);
		if (rc != SQLITE_DONE) {
			rc = db_fail(st, rc, "create cluster");
			goto fail;
		}
	}
	if (exec(st, "COMMIT")) {
		rc = -EIO;
		goto fail;
	}
	return 0;
fail:
	exec(st, "ROLLBACK");
	return err_set(err, rc < 0 ? -rc : EIO, "cannot register %s (%s) in %s: %s", reg->host,
		       reg->binary, st->path, sqlite3_errmsg(st->db));
}

int store_heartbeat(struct store *st, int64_t service_id, const struct timespec *now)
{
	STMT stmt = NULL;
	char stamp[DBTIME_LEN];
	int rc = stmt_get(st, Q_HEARTBEAT, &stmt);

	if (rc)
		return rc;
	time_text(now, stamp);
	sqlite3_bind_text(stmt, 1, stamp, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, service_id);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE)
		return db_fail(st, rc, "heartbeat");
	return sqlite3_changes(st->db) == 1 ? 0 : -ENOENT;
}

int store_get_service(struct store *st, int64_t id, struct service *out)
{
	STMT stmt = NULL;
	int rc = stmt_get(st, Q_SERVICE_BY_ID, &stmt);

	if (rc)
		return rc;
	sqlite3_bind_int64(stmt, 1, id);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	if (rc != SQLITE_ROW)
		return db_fail(st, rc, "get service");
	return read_service(stmt, out);
}

/* Step through a query's rows, handing each to fn; rows that do not fit
 * (over-long values) are skipped, and fn returning non-zero stops. */
static int each_service(struct store *st, sqlite3_stmt *stmt, store_service_fn fn, void *ctx)
{
	struct service svc;
	int rc;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (read_service(stmt, &svc) != 0)
			continue;
		if ((rc = fn(ctx, &svc)) != 0)
			return rc;
	}
	return rc == SQLITE_DONE ? 0 : db_fail(st, rc, "list services");
}

int store_list_services(struct store *st, store_service_fn fn, void *ctx)
{
	STMT stmt = NULL;
	int rc = stmt_get(st, Q_SERVICES, &stmt);
	return rc ? rc : each_service(st, stmt, fn, ctx);
}

int store_list_cluster_members(struct store *st, const char *cluster_name,
			       store_service_fn fn, void *ctx)
{
	STMT stmt = NULL;
	int rc = stmt_get(st, Q_CLUSTER_MEMBERS, &stmt);

	if (rc)
		return rc;
	sqlite3_bind_text(stmt, 1, cluster_name, -1, SQLITE_STATIC);
	return each_service(st, stmt, fn, ctx);
}

int store_get_cluster(struct store *st, const char *name, struct cluster *out)
{
	STMT stmt = NULL;
	int rc = stmt_get(st, Q_CLUSTER_BY_NAME, &stmt);

	if (rc)
		return rc;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	if (rc != SQLITE_ROW)
		return db_fail(st, rc, "get cluster");
	return read_cluster(stmt, out);
}

int store_list_clusters(struct store *st, store_cluster_fn fn, void *ctx)
{
	STMT stmt = NULL;
	struct cluster cl;
	int rc = stmt_get(st, Q_CLUSTERS, &stmt);

	if (rc)
		return rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (read_cluster(stmt, &cl) != 0)
			continue;
		if ((rc = fn(ctx, &cl)) != 0)
			return rc;
	}
	return rc == SQLITE_DONE ? 0 : db_fail(st, rc, "list clusters");
}

static void bind_stuck(sqlite3_stmt *stmt, const char *type, const struct timespec *bound)
{
	char text[DBTIME_LEN];

	dbtime_format_bound(bound, text);
	sqlite3_bind_text(stmt, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, text, -1, SQLITE_TRANSIENT);
}

int store_get_stuck(struct store *st, const char *type, const char *resource_id,
		    const struct timespec *bound, struct stuck *out)
{
	STMT stmt = NULL;
	int rc = stmt_get(st, Q_STUCK_ONE, &stmt);

	if (rc)
		return rc;
	bind_stuck(stmt, type, bound);
	sqlite3_bind_text(stmt, 3, resource_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	if (rc != SQLITE_ROW)
		return db_fail(st, rc, "get stuck resource");
	return read_stuck(stmt, out);
}

int store_list_stuck(struct store *st, const char *type, const struct timespec *bound,
		     store_stuck_fn fn, void *ctx)
{
	STMT stmt = NULL;
	struct stuck res;
	int rc = stmt_get(st, Q_STUCK_LIST, &stmt);

	if (rc)
		return rc;
	bind_stuck(stmt, type, bound);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (read_stuck(stmt, &res) != 0)
			continue;
		if ((rc = fn(ctx, &res)) != 0)
			return rc;
	}
	return rc == SQLITE_DONE ? 0 : db_fail(st, rc, "list stuck resources");
}
