/* The PostgreSQL engine behind db.h, with libpq.
 *
 * SQLite's statement API over a network connection: ?N placeholders become
 * $N, parameters are typed by what was bound (so a statement is prepared on
 * the server at its first step, once per set of bound types), and rows
 * stream in libpq's single-row mode: a statement stepping through 100,000
 * rows holds one of them, not the whole result. Several statements of one
 * connection can still be mid-iteration at once: when another call needs
 * the connection, the rows still to come are read ahead into a compact
 * buffer of the statement's own (spill), and a statement reset or dropped
 * before its end reads and drops the rest, so that the connection is free
 * for the next statement. The connection is not trusted
 * to last: a dead one is made again at the start of the next call outside
 * a transaction; inside one, the transaction is lost (-ENOTCONN), and the
 * call after that reconnects. */
#include "db_engine.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"

/* The server's type OIDs this file names (catalog/pg_type_d.h, which only
 * the server's headers carry). */
#define OID_UNKNOWN 0
#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_TEXT 25
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

#define MAX_PARAMS 255
/* `?N IS NULL` tests a statement may have, each answered by the engine
 * (see rewrite_placeholders). */
#define MAX_NULL_TESTS 32
#define MAX_SENT (MAX_PARAMS + MAX_NULL_TESTS)
/* Server-side statements one kept statement may own, one per set of bound
 * types (a parameter bound NULL is typed by the server, text otherwise);
 * past this, it runs unprepared. */
#define MAX_VARIANTS 8

/* DB_TX_WRITE's transaction-level advisory lock: the bytes of "cinderfs"
 * as a 64-bit number, so that it reads as ours in pg_locks (classid
 * 1667853924 "cind", objid 1701996147 "erfs"). */
#define WRITE_LOCK_KEY "7163378059787265651"

/* libpq settings a database setting may give, and what they are when it
 * does not: a network that drops packets ends a connection in seconds,
 * never hangs a thread. Keepalives give up on a silent peer after 5 + 2 x
 * 3 s; tcp_user_timeout gives up as soon on data left unacknowledged,
 * where keepalives do not apply (a statement sent to a host that is
 * gone). */
static const char *const conn_defaults[][2] = {
	{ "application_name", "cinderfs" },
	{ "client_encoding", "UTF8" },
	{ "connect_timeout", "5" },
	{ "keepalives", "1" },
	{ "keepalives_idle", "5" },
	{ "keepalives_interval", "2" },
	{ "keepalives_count", "3" },
	{ "tcp_user_timeout", "11000" },
};
#define N_CONN_DEFAULTS (sizeof(conn_defaults) / sizeof(conn_defaults[0]))

struct pg_db {
	DB_HEADER;           /* first: what db.c reads */
	PGconn *conn;
	char *name;          /* the setting without its password, for messages */
	unsigned flags;      /* enum db_open_flags */
	/* +1 at every connection: the server-side statements of an earlier
	 * one are gone. */
	uint64_t generation;
	uint64_t next_name;  /* server-side statement names, never reused */
	/* A transaction was open at the last exchange with the server. */
	bool tx_open;
	/* The server said the session ends (a FATAL while idle). */
	bool doomed;
	/* The statement whose rows are still arriving on the connection. */
	struct pg_stmt *streaming;
	/* Reconnecting, logged once until a connection is made again. */
	bool reconnecting;
	/* A NOTIFY queued in the open transaction, sent with its COMMIT. */
	bool notify_at_commit;
	int64_t changes;
	int err;             /* -errno of the last failure, 0 after a success */
	char errmsg[512];
};

/* What was bound to one ?N. */
struct pg_param {
	char type;           /* 0 unbound, 'n' NULL, 'i' int, 't' text, 'b' blob */
	char *value;         /* text and blob bytes (owned unless borrowed); int: num */
	bool borrowed;       /* bound by db_bind_blob_ref: the caller's */
	int length;
	char num[24];
};

/* A server-side statement: its name and the types it was made for. */
struct pg_variant {
	char name[32];
	char sig[MAX_SENT + 1];
};

/* `?N IS NULL` (or IS NOT NULL), sent as a boolean parameter of its own. */
struct pg_null_test {
	int param;           /* N */
	bool negated;        /* IS NOT NULL */
};

/* A column of the current row, decoded (bytea comes as hex text). */
struct pg_cell {
	unsigned char *data; /* NUL-terminated */
	size_t len;
};

/* Rows read ahead of the caller when another call needed the connection:
 * each row, from rows[i], is its columns in turn, a uint32_t length
 * (SPILL_NULL for NULL) then the bytes and a NUL. */
#define SPILL_NULL UINT32_MAX
#define NO_ROW SIZE_MAX
struct pg_spill {
	char *buf;
	size_t len, cap;
	size_t *rows;
	int nrows, cap_rows;
	int next;            /* the row the next step makes current */
	size_t cur;          /* the current row's offset, NO_ROW when none */
};

struct pg_stmt {
	DB_STMT_HEADER;      /* first: what db.c reads */
	char *sql;           /* with $N */
	bool keep;
	int nparams;         /* the largest N */
	bool used[MAX_PARAMS + 1];    /* ?N appears other than in a null test */
	struct pg_null_test null_tests[MAX_NULL_TESTS]; /* $nparams+1... */
	int n_null_tests;
	struct pg_param *params;      /* [nparams] */
	struct pg_variant *variants;  /* keep: on the server, for `generation` */
	int nvariants;
	uint64_t generation;
	bool started;        /* run, and not yet reset */
	bool streaming;      /* its results are still arriving (db->streaming) */
	PGresult *res;       /* the result the current row is in (one row) */
	int nrows;
	int row;             /* the current row of res; -1 before the first */
	struct pg_spill spill; /* rows read ahead, after those of res */
	int end_err;         /* a failure read ahead, reported after the rows before it */
	char *end_msg;
	bool done;           /* DB_DONE was returned */
	bool bind_failed;    /* out of memory binding: the next step fails */
	struct pg_cell *cells; /* [ncells], of the current row */
	Oid *types;          /* [ncells], the columns' types */
	int ncells;
};

static void spill(struct pg_stmt *s);

#define PDB(d) ((struct pg_db *)(d))
#define CPDB(d) ((const struct pg_db *)(d))
#define PST(s) ((struct pg_stmt *)(s))

/* ---- Errors ---- */

/* SQLSTATE to errno: the set db.h documents. */
static int sqlstate_errno(const char *state)
{
	if (!state || strlen(state) != 5)
		return -EIO;
	if (!strcmp(state, "40001") || !strcmp(state, "40P01"))
		return -EAGAIN;             /* serialization failure, deadlock */
	if (!strncmp(state, "23", 2))
		return -EEXIST;             /* unique and other constraints */
	if (!strcmp(state, "55P03"))
		return -EBUSY;              /* lock_not_available: lock_timeout */
	if (!strcmp(state, "57014"))
		return -ETIMEDOUT;          /* query_canceled: statement_timeout */
	if (!strcmp(state, "53100"))
		return -ENOSPC;             /* disk_full */
	if (!strncmp(state, "53", 2))
		return -ENOMEM;             /* out of memory, connections, limits */
	if (!strncmp(state, "28", 2) || !strcmp(state, "42501"))
		return -EACCES;             /* authorization, insufficient_privilege */
	if (!strcmp(state, "25006"))
		return -EROFS;              /* read_only_sql_transaction: a standby */
	if (!strncmp(state, "08", 2) || !strcmp(state, "57P01") || !strcmp(state, "57P02") ||
	    !strcmp(state, "57P03"))
		return -ENOTCONN;           /* connection exceptions, shutdowns */
	if (!strcmp(state, "XX001") || !strcmp(state, "XX002"))
		return -EUCLEAN;            /* data or index corrupted */
	return -EIO;
}

/* One line: newlines (libpq's multi-line messages) become "; ", the
 * indentation after them and the trailing one go. */
static void one_line(char *out, size_t size, const char *text)
{
	size_t n = 0;

	for (const char *p = text ? text : ""; *p && n + 1 < size; p++) {
		if (*p == '\n') {
			while (p[1] == '\t' || p[1] == ' ')
				p++;
			if (!p[1] || n + 3 >= size)
				break;
			out[n++] = ';';
			out[n++] = ' ';
			continue;
		}
		out[n++] = *p == '\t' ? ' ' : *p;
	}
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == ';'))
		n--;
	out[n] = '\0';
}

static int set_error(struct pg_db *db, int e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int set_error(struct pg_db *db, int e, const char *fmt, ...)
{
	char text[sizeof(db->errmsg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	one_line(db->errmsg, sizeof(db->errmsg), text);
	db->err = e;
	return e;
}

static void clear_error(struct pg_db *db)
{
	db->err = 0;
	db->errmsg[0] = '\0';
}

/* The connection is gone: whatever the server said, -ENOTCONN; a
 * transaction that was open is lost (db_in_tx says so, and the next call
 * reconnects). */
static int connection_lost(struct pg_db *db, const char *words)
{
	if (db->tx_open) {
		db->tx_open = false;
		return set_error(db, -ENOTCONN, "connection to database %s lost, and the transaction "
				 "with it: %s", db->name, words);
	}
	return set_error(db, -ENOTCONN, "connection to database %s lost: %s", db->name, words);
}

/* The server's words for a failed result (its primary message, and the
 * detail when there is one), and its errno. Clears res. */
static int result_failed(struct pg_db *db, PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	char words[400];
	int e = sqlstate_errno(state);

	if (primary)
		snprintf(words, sizeof(words), "%s%s%s%s", primary, detail ? " (" : "",
			 detail ? detail : "", detail ? ")" : "");
	else if (res && *PQresultErrorMessage(res))
		snprintf(words, sizeof(words), "%s", PQresultErrorMessage(res));
	else
		snprintf(words, sizeof(words), "%s", PQerrorMessage(db->conn));
	PQclear(res);
	if (PQstatus(db->conn) == CONNECTION_BAD || e == -ENOTCONN) {
		char line[sizeof(words)];

		one_line(line, sizeof(line), words);
		/* The server ends the session (57P01 and friends): the next
		 * call starts a new one. */
		db->doomed = true;
		return connection_lost(db, line);
	}
	return set_error(db, e, "%s", words);
}

/* After every exchange: whether a transaction is open, as the server
 * last said (kept when the connection is gone, to tell a lost
 * transaction from none). */
static void track_tx(struct pg_db *db)
{
	if (!db->doomed && PQstatus(db->conn) == CONNECTION_OK) {
		PGTransactionStatusType ts = PQtransactionStatus(db->conn);

		db->tx_open = ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR;
	}
}

/* ---- The connection ---- */

/* Notices: debug lines. A FATAL while idle (pg_terminate_backend, an
 * idle session timeout, a server shutdown) means the session ends. */
static void on_notice(void *arg, const PGresult *res)
{
	struct pg_db *db = arg;
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	char line[512];

	one_line(line, sizeof(line), PQresultErrorMessage(res));
	if (severity && (!strcmp(severity, "FATAL") || !strcmp(severity, "PANIC"))) {
		db->doomed = true;
		log_warning("database %s: %s", db->name, line);
		return;
	}
	log_debug("database %s: %s", db->name, line);
}

/* The session as every statement expects it; again after a reconnect.
 * The server's side of the connection has keepalives and a user timeout
 * too: a host cut off from the network is found and its session ended in
 * about 11 s, and with it the locks it held or waited for (a named lock
 * granted to a dead session would be held by nobody, for good). */
static int set_session(struct pg_db *db)
{
	char sql[640];
	PGresult *res;

	snprintf(sql, sizeof(sql),
		 "SET lock_timeout = '%s'; SET idle_in_transaction_session_timeout = '60s'; "
		 "SET synchronous_commit = %s; SET TimeZone = 'UTC'; "
		 "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; "
		 "SET tcp_keepalives_count = 3; SET tcp_user_timeout = 11000",
		 (db->flags & DB_SHORT_WAIT) ? "1s" : "10s", (db->flags & DB_RELAXED) ? "off" : "on");
	res = PQexec(db->conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return result_failed(db, res);
	PQclear(res);
	return 0;
}

/* Whether an idle connection is gone: what the server sent meanwhile is
 * read without waiting (a FATAL and the end of the stream after
 * pg_terminate_backend), so that a dead session is found before a
 * statement is sent on it, and made again. */
static bool idle_connection_dead(struct pg_db *db)
{
	struct pollfd p = { .fd = PQsocket(db->conn), .events = POLLIN };

	if (db->doomed || PQstatus(db->conn) != CONNECTION_OK || p.fd < 0)
		return true;
	/* PQisBusy parses what PQconsumeInput read: a FATAL (on_notice
	 * dooms the session); notifications stay queued for db_wait_notify. */
	if (poll(&p, 1, 0) > 0 && (!PQconsumeInput(db->conn) || PQisBusy(db->conn)))
		return true;
	return db->doomed || PQstatus(db->conn) != CONNECTION_OK;
}

static int reconnect(struct pg_db *db)
{
	int rc;

	if (!db->reconnecting)
		log_warning("database %s: connection lost; connecting again", db->name);
	db->reconnecting = true;
	PQreset(db->conn);
	db->generation++;
	db->doomed = false;
	db->tx_open = false;
	db->notify_at_commit = false;
	if (PQstatus(db->conn) != CONNECTION_OK) {
		char line[400];

		one_line(line, sizeof(line), PQerrorMessage(db->conn));
		return set_error(db, -ENOTCONN, "cannot connect to database %s: %s", db->name, line);
	}
	rc = set_session(db);
	if (rc)
		return rc;
	db->reconnecting = false;
	log_info("database %s: connected again", db->name);
	return 0;
}

/* Before every call that talks to the server: a connection to talk on.
 * Outside a transaction a dead one is made again (no sleep: callers
 * retry with their own backoff); inside one it fails, and the
 * transaction with it. */
static int usable(struct pg_db *db)
{
	if (db->streaming)
		spill(db->streaming);
	clear_error(db);
	if (db->tx_open) {
		if (!db->doomed && PQstatus(db->conn) == CONNECTION_OK)
			return 0;
		return connection_lost(db, db->doomed ? "the server ended the session"
					       : "the connection is closed");
	}
	if (!idle_connection_dead(db))
		return 0;
	return reconnect(db);
}

/* ---- The setting ---- */

static bool is_uri(const char *setting)
{
	return !strncmp(setting, "postgresql://", 13) || !strncmp(setting, "postgres://", 11);
}

/* A URI without its password: user:secret@ loses ":secret", and a
 * password=... query parameter goes. */
static void uri_without_password(const char *uri, char *out)
{
	const char *start = strstr(uri, "://") + 3;
	const char *end = start + strcspn(start, "/?#");
	const char *at = memchr(start, '@', (size_t)(end - start));
	const char *p = uri;
	char *o = out;

	if (at) {
		const char *colon = memchr(start, ':', (size_t)(at - start));

		if (colon) {
			memcpy(o, p, (size_t)(colon - p));
			o += colon - p;
			p = at;
		}
	}
	while (*p && *p != '?')
		*o++ = *p++;
	if (*p == '?') {
		char sep = '?';

		p++;
		while (*p) {
			size_t len = strcspn(p, "&#");

			if (!(len >= 9 && !strncmp(p, "password=", 9))) {
				*o++ = sep;
				memcpy(o, p, len);
				o += len;
				sep = '&';
			}
			p += len;
			if (*p == '&')
				p++;
			else
				break;
		}
		while (*p)
			*o++ = *p++;
	}
	*o = '\0';
}

/* key=value pairs without password=...: each kept pair copied as it was
 * written (values quoted or not, with their backslash escapes). */
static void conninfo_without_password(const char *s, char *out)
{
	char *o = out;

	while (*s) {
		const char *start, *key, *key_end;

		s += strspn(s, " \t\n\r\f\v");
		if (!*s)
			break;
		start = key = s;
		while (*s && *s != '=' && !strchr(" \t\n\r\f\v", *s))
			s++;
		key_end = s;
		s += strspn(s, " \t\n\r\f\v");
		if (*s == '=') {
			s++;
			s += strspn(s, " \t\n\r\f\v");
			if (*s == '\'') {
				for (s++; *s && *s != '\''; s++)
					if (*s == '\\' && s[1])
						s++;
				if (*s == '\'')
					s++;
			} else {
				for (; *s && !strchr(" \t\n\r\f\v", *s); s++)
					if (*s == '\\' && s[1])
						s++;
			}
		}
		if (key_end - key == 8 && !strncmp(key, "password", 8))
			continue;
		if (o != out)
			*o++ = ' ';
		memcpy(o, start, (size_t)(s - start));
		o += s - start;
	}
	*o = '\0';
}

static char *without_password(const char *setting)
{
	char *out = malloc(strlen(setting) + 2);

	if (!out)
		return NULL;
	if (is_uri(setting))
		uri_without_password(setting, out);
	else
		conninfo_without_password(setting, out);
	return out;
}

/* ---- Opening and closing ---- */

static void pg_close(struct db *d)
{
	struct pg_db *db = PDB(d);

	if (!db)
		return;
	PQfinish(db->conn);
	free(db->name);
	free(db);
}

static int pg_open(const char *setting, unsigned flags, struct db **out, struct cf_err *err)
{
	const char *keywords[N_CONN_DEFAULTS + 2];
	const char *values[N_CONN_DEFAULTS + 2];
	PQconninfoOption *given;
	struct pg_db *db;
	char *parse_error = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	db = calloc(1, sizeof(*db));
	if (!db || !(db->name = without_password(setting))) {
		free(db);
		return err_set(err, ENOMEM, "out of memory opening database %s", setting);
	}
	db->engine = &db_engine_pg;
	db->flags = flags;
	db->generation = 1;
	given = PQconninfoParse(setting, &parse_error);
	if (!given) {
		char line[400];

		one_line(line, sizeof(line), parse_error ? parse_error : "out of memory");
		PQfreemem(parse_error);
		err_set(err, EINVAL, "database setting %s is not a PostgreSQL connection string: %s",
			db->name, line);
		pg_close((struct db *)db);
		return -EINVAL;
	}
	/* Ours first, then the setting expanded (expand_dbname): what it
	 * gives wins. */
	for (size_t i = 0; i < N_CONN_DEFAULTS; i++) {
		bool set = false;

		for (PQconninfoOption *o = given; o->keyword; o++)
			if (!strcmp(o->keyword, conn_defaults[i][0]) && o->val)
				set = true;
		if (!set) {
			keywords[n] = conn_defaults[i][0];
			values[n++] = conn_defaults[i][1];
		}
	}
	PQconninfoFree(given);
	keywords[n] = "dbname";
	values[n++] = setting;
	keywords[n] = NULL;
	values[n] = NULL;
	db->conn = PQconnectdbParams(keywords, values, 1);
	if (!db->conn) {
		pg_close((struct db *)db);
		return err_set(err, ENOMEM, "out of memory connecting to database %s", setting);
	}
	if (PQstatus(db->conn) != CONNECTION_OK) {
		char line[400];

		one_line(line, sizeof(line), PQerrorMessage(db->conn));
		err_set(err, ENOTCONN, "cannot connect to database %s: %s", db->name, line);
		pg_close((struct db *)db);
		return -ENOTCONN;
	}
	PQsetNoticeReceiver(db->conn, on_notice, db);
	rc = set_session(db);
	if (rc) {
		err_set(err, -rc, "cannot set up database %s: %s", db->name, db->errmsg);
		pg_close((struct db *)db);
		return rc;
	}
	*out = (struct db *)db;
	return 0;
}

static const char *pg_name(const struct db *d)
{
	return CPDB(d)->name;
}

static const char *pg_file(const struct db *d)
{
	(void)d;
	return NULL;
}

static const struct migration *pg_migrations(const struct db *d, int *count)
{
	(void)d;
	*count = store_migrations_postgresql_count;
	return store_migrations_postgresql;
}

/* ---- Transactions ---- */

static int pg_exec(struct db *d, const char *sql);

static int pg_begin(struct db *d, enum db_tx kind)
{
	struct pg_db *db = PDB(d);
	const char *sql;
	PGresult *res;
	int rc = usable(db);

	if (rc)
		return rc;
	if (db->tx_open)
		return set_error(db, -EIO, "cannot start a transaction within a transaction");
	db->notify_at_commit = false;
	switch (kind) {
	case DB_TX_READ:
		/* One snapshot for every read of the transaction. */
		sql = "BEGIN ISOLATION LEVEL REPEATABLE READ";
		break;
	case DB_TX_WRITE:
		/* READ COMMITTED: each statement sees what the writer before
		 * this one committed while this one waited for the lock (a
		 * snapshot taken before the wait would not). */
		sql = "BEGIN; SELECT pg_advisory_xact_lock(" WRITE_LOCK_KEY ")";
		break;
	case DB_TX_ROW:
	default:
		sql = "BEGIN";
		break;
	}
	res = PQexec(db->conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = result_failed(db, res);
		/* BEGIN went through and the lock did not (lock_timeout). */
		track_tx(db);
		if (db->tx_open) {
			PQclear(PQexec(db->conn, "ROLLBACK"));
			track_tx(db);
		}
		return rc;
	}
	PQclear(res);
	track_tx(db);
	return 0;
}

static int pg_commit(struct db *d)
{
	struct pg_db *db = PDB(d);
	PGresult *res;
	int rc = usable(db);

	if (rc)
		return rc;
	if (!db->tx_open)
		return set_error(db, -EIO, "cannot commit: no transaction is open");
	if (PQtransactionStatus(db->conn) == PQTRANS_INERROR) {
		db->notify_at_commit = false;
		PQclear(PQexec(db->conn, "ROLLBACK"));
		track_tx(db);
		return set_error(db, -EIO, "cannot commit: a statement of the transaction failed, "
				 "and it was rolled back");
	}
	/* One round trip for both: a NOTIFY that failed aborts the
	 * transaction, and the COMMIT after it answers ROLLBACK. */
	res = PQexec(db->conn, db->notify_at_commit ? "NOTIFY cinderfs; COMMIT" : "COMMIT");
	db->notify_at_commit = false;
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		rc = result_failed(db, res);
		track_tx(db);
		return rc;
	}
	/* A commit the server turned into a rollback. */
	rc = strcmp(PQcmdStatus(res), "ROLLBACK") == 0
		? set_error(db, -EIO, "cannot commit: the transaction was rolled back") : 0;
	PQclear(res);
	track_tx(db);
	return rc;
}

static void pg_rollback(struct db *d)
{
	struct pg_db *db = PDB(d);

	if (db->streaming)
		spill(db->streaming);
	db->notify_at_commit = false;
	if (!db->tx_open)
		return;
	if (db->doomed || PQstatus(db->conn) != CONNECTION_OK) {
		/* Gone with the connection: the next call reconnects. */
		db->tx_open = false;
		return;
	}
	PQclear(PQexec(db->conn, "ROLLBACK"));
	track_tx(db);
	if (PQstatus(db->conn) != CONNECTION_OK)
		db->tx_open = false;
}

static bool pg_in_tx(const struct db *d)
{
	const struct pg_db *db = CPDB(d);
	PGTransactionStatusType ts;

	if (!db->tx_open || db->doomed || PQstatus(db->conn) != CONNECTION_OK)
		return false;
	ts = PQtransactionStatus(db->conn);
	/* ACTIVE: a statement's rows are still arriving, in the
	 * transaction tx_open saw before it. */
	return ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR || ts == PQTRANS_ACTIVE;
}

/* ---- Statements ---- */

/* Rows a statement changed: INSERT, UPDATE, DELETE and MERGE say so, with
 * or without RETURNING; a SELECT leaves the count as it was (SQLite's
 * changes()). */
static void count_changes(struct pg_db *db, const PGresult *res)
{
	const char *status = PQcmdStatus((PGresult *)res);

	if (!strncmp(status, "INSERT ", 7) || !strncmp(status, "UPDATE ", 7) ||
	    !strncmp(status, "DELETE ", 7) || !strncmp(status, "MERGE ", 6))
		db->changes = strtoll(PQcmdTuples((PGresult *)res), NULL, 10);
}

static int pg_exec(struct db *d, const char *sql)
{
	struct pg_db *db = PDB(d);
	PGresult *res;
	int rc = usable(db);

	if (rc)
		return rc;
	res = PQexec(db->conn, sql);
	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
	case PGRES_EMPTY_QUERY:
		count_changes(db, res);
		PQclear(res);
		track_tx(db);
		return 0;
	default:
		rc = result_failed(db, res);
		track_tx(db);
		return rc;
	}
}

static bool ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || (unsigned char)c >= 0x80;
}

static bool word_at(const char *p, const char *word)
{
	size_t n = strlen(word);

	return !strncasecmp(p, word, n) && !ident_char(p[n]);
}

static const char *skip_space(const char *p)
{
	return p + strspn(p, " \t\r\n");
}

/* Whether `?N` at [start, end) is a whole null test `?N IS [NOT] NULL`:
 * nothing before it that binds tighter than IS (an operand of an operator
 * before it would make it `(x op ?N) IS NULL`), nothing after it but the
 * end of a condition. Sets *after past NULL. */
static bool null_test_at(const char *sql, const char *start, const char *end, bool *negated,
			 const char **after)
{
	static const char *const before[] = { "AND", "OR", "NOT", "WHERE", "WHEN", "THEN", "ELSE",
					      "SELECT", "ON", "HAVING" };
	static const char *const behind[] = { "AND", "OR", "THEN", "ELSE", "END", "WHEN", "ORDER",
					      "GROUP", "LIMIT", "HAVING", "FROM", "WHERE", "RETURNING",
					      "UNION" };
	const char *p = start, *q;
	bool ok = false;

	while (p > sql && strchr(" \t\r\n", p[-1]))
		p--;
	if (p == sql || p[-1] == '(' || p[-1] == ',') {
		ok = true;
	} else {
		const char *w = p;

		while (w > sql && ident_char(w[-1]))
			w--;
		for (size_t i = 0; i < sizeof(before) / sizeof(before[0]) && w < p; i++)
			if ((size_t)(p - w) == strlen(before[i]) && word_at(w, before[i]))
				ok = true;
	}
	if (!ok)
		return false;
	q = skip_space(end);
	if (!word_at(q, "IS"))
		return false;
	q = skip_space(q + 2);
	*negated = word_at(q, "NOT");
	if (*negated)
		q = skip_space(q + 3);
	if (!word_at(q, "NULL"))
		return false;
	*after = q + 4;
	q = skip_space(*after);
	if (!*q || *q == ')' || *q == ',' || *q == ';')
		return true;
	for (size_t i = 0; i < sizeof(behind) / sizeof(behind[0]); i++)
		if (word_at(q, behind[i]))
			return true;
	return false;
}

/* SQLite's placeholders in PostgreSQL's spelling: ?N is $N (N 1..99), a
 * bare ? is one past the largest so far, as in SQLite. Literals ('...',
 * E'...'), quoted identifiers, dollar-quoted strings and comments are
 * copied as they are: a '?' in them is not a parameter.
 *
 * A null test of a parameter, `(?2 IS NULL OR kind = ?2)`, is answered
 * here: PostgreSQL types a parameter where it first appears, and cannot
 * from IS NULL (a NULL bound there fails, "could not determine data type
 * of parameter"). `?2 IS NULL` becomes a boolean parameter of its own,
 * numbered after the others (`base`: the largest N, from a first pass),
 * whose value the engine knows from the binding. */
static int rewrite_placeholders(struct pg_stmt *s, const char *sql, int base, char *why,
				size_t why_size)
{
	char *o = malloc(strlen(sql) * 2 + 1);
	const char *p = sql;

	if (!o) {
		snprintf(why, why_size, "out of memory");
		return -ENOMEM;
	}
	free(s->sql);
	s->sql = o;
	s->nparams = 0;
	s->n_null_tests = 0;
	memset(s->used, 0, sizeof(s->used));
	while (*p) {
		if (*p == '\'') {
			/* E'...' takes backslash escapes; '' is a quote either way. */
			bool escapes = p > sql && (p[-1] == 'E' || p[-1] == 'e') &&
				       (p - 1 == sql || !ident_char(p[-2]));

			*o++ = *p++;
			while (*p && *p != '\'') {
				if (escapes && *p == '\\' && p[1])
					*o++ = *p++;
				*o++ = *p++;
			}
			if (*p)
				*o++ = *p++;
		} else if (*p == '"') {
			*o++ = *p++;
			while (*p && *p != '"')
				*o++ = *p++;
			if (*p)
				*o++ = *p++;
		} else if (p[0] == '-' && p[1] == '-') {
			while (*p && *p != '\n')
				*o++ = *p++;
		} else if (p[0] == '/' && p[1] == '*') {
			int depth = 0;

			do {
				if (p[0] == '/' && p[1] == '*') {
					depth++;
					*o++ = *p++;
				} else if (p[0] == '*' && p[1] == '/') {
					depth--;
					*o++ = *p++;
				}
				*o++ = *p++;
			} while (*p && depth > 0);
		} else if (*p == '$' && (p == sql || !ident_char(p[-1])) &&
			   (p[1] == '$' || ((p[1] < '0' || p[1] > '9') && ident_char(p[1])))) {
			/* $tag$ ... $tag$ */
			const char *tag_end = p + 1;
			size_t tag_len;
			const char *close;

			while (ident_char(*tag_end))
				tag_end++;
			if (*tag_end != '$') {
				*o++ = *p++;
				continue;
			}
			tag_len = (size_t)(tag_end - p) + 1;
			close = p + tag_len;
			while ((close = strchr(close, '$')) != NULL && strncmp(close, p, tag_len) != 0)
				close++;
			close = close ? close + tag_len : p + strlen(p);
			memcpy(o, p, (size_t)(close - p));
			o += close - p;
			p = close;
		} else if (*p == '?') {
			const char *start = p, *after;
			bool negated;
			long n;

			p++;
			if (*p >= '0' && *p <= '9') {
				char *end;

				n = strtol(p, &end, 10);
				p = end;
			} else {
				n = s->nparams + 1;
			}
			if (n < 1 || n > MAX_PARAMS) {
				snprintf(why, why_size, "parameter ?%ld is out of range (?1 to ?%d)", n,
					 MAX_PARAMS);
				return -EINVAL;
			}
			if (n > s->nparams)
				s->nparams = (int)n;
			if (s->n_null_tests < MAX_NULL_TESTS &&
			    null_test_at(sql, start, p, &negated, &after)) {
				struct pg_null_test *t = &s->null_tests[s->n_null_tests++];

				t->param = (int)n;
				t->negated = negated;
				o += sprintf(o, "$%d", base + s->n_null_tests);
				p = after;
				continue;
			}
			s->used[n] = true;
			o += sprintf(o, "$%ld", n);
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return 0;
}

static void free_cells(struct pg_stmt *s)
{
	for (int i = 0; i < s->ncells; i++) {
		free(s->cells[i].data);
		s->cells[i].data = NULL;
	}
}

/* The statement's results have all come: the connection is free. */
static void stream_ended(struct pg_stmt *s)
{
	struct pg_db *db = PDB(s->db);

	s->streaming = false;
	if (db->streaming == s)
		db->streaming = NULL;
	track_tx(db);
}

/* Whatever is left of the statement's results is read and dropped (a
 * statement reset or dropped before its end): the connection is left
 * ready for the next statement, and a transaction as the statement left
 * it. Reading on, rather than cancelling, keeps what a write did, as a
 * reset SQLite statement does, and a transaction usable. */
static void drain(struct pg_stmt *s)
{
	struct pg_db *db = PDB(s->db);
	PGresult *res;

	if (!s->streaming)
		return;
	while ((res = PQgetResult(db->conn)) != NULL) {
		ExecStatusType st = PQresultStatus(res);

		if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
			count_changes(db, res);
		PQclear(res);
	}
	stream_ended(s);
}

/* The result goes: the next step runs the statement again. */
static void drop_result(struct pg_stmt *s)
{
	drain(s);
	free_cells(s);
	free(s->cells);
	s->cells = NULL;
	free(s->types);
	s->types = NULL;
	s->ncells = 0;
	PQclear(s->res);
	s->res = NULL;
	s->nrows = 0;
	s->row = -1;
	free(s->spill.buf);
	free(s->spill.rows);
	s->spill = (struct pg_spill){ .cur = NO_ROW };
	free(s->end_msg);
	s->end_msg = NULL;
	s->end_err = 0;
	s->started = false;
	s->done = false;
}

static void clear_params(struct pg_stmt *s)
{
	s->bind_failed = false;
	/* A statement refused before its parameters were made has none. */
	if (!s->params)
		return;
	for (int i = 0; i < s->nparams; i++) {
		if (!s->params[i].borrowed)
			free(s->params[i].value);
		s->params[i].borrowed = false;
		s->params[i].value = NULL;
		s->params[i].type = 0;
	}
}

static void pg_finalize(struct db_stmt *st_)
{
	struct pg_stmt *s = PST(st_);

	if (!s)
		return;
	/* Server-side statements are left to the session's end: kept
	 * statements are finalized when the connection closes. */
	drop_result(s);
	clear_params(s);
	free(s->params);
	free(s->variants);
	free(s->sql);
	free(s);
}

static int pg_prepare(struct db *d, const char *sql, bool keep, struct db_stmt **out)
{
	struct pg_db *db = PDB(d);
	struct pg_stmt *s = calloc(1, sizeof(*s));
	char why[128];
	int rc;

	*out = NULL;
	clear_error(db);
	if (!s)
		return set_error(db, -ENOMEM, "out of memory preparing a statement");
	s->db = d;
	s->keep = keep;
	s->row = -1;
	s->spill.cur = NO_ROW;
	/* Twice: the null tests are numbered after the largest ?N. */
	rc = rewrite_placeholders(s, sql, MAX_PARAMS, why, sizeof(why));
	if (!rc)
		rc = rewrite_placeholders(s, sql, s->nparams, why, sizeof(why));
	if (rc) {
		pg_finalize((struct db_stmt *)s);
		return set_error(db, rc, "%s in: %s", why, sql);
	}
	if (s->nparams > 0 && !(s->params = calloc((size_t)s->nparams, sizeof(*s->params)))) {
		pg_finalize((struct db_stmt *)s);
		return set_error(db, -ENOMEM, "out of memory preparing a statement");
	}
	*out = (struct db_stmt *)s;
	return 0;
}

static void pg_reset(struct db_stmt *st_)
{
	struct pg_stmt *s = PST(st_);

	drop_result(s);
	clear_params(s);
}

/* The parameter ?idx, emptied for a new value; NULL when the statement
 * has no ?idx (ignored, as SQLite's bind of a missing index is by
 * callers that do not check it). */
static struct pg_param *param(struct pg_stmt *s, int idx)
{
	struct pg_param *p;

	if (idx < 1 || idx > s->nparams)
		return NULL;
	p = &s->params[idx - 1];
	if (!p->borrowed)
		free(p->value);
	p->borrowed = false;
	p->value = NULL;
	p->length = 0;
	p->type = 'n';
	return p;
}

static void pg_bind_int(struct db_stmt *st_, int idx, int64_t v)
{
	struct pg_param *p = param(PST(st_), idx);

	if (!p)
		return;
	p->type = 'i';
	p->length = snprintf(p->num, sizeof(p->num), "%" PRId64, v);
}

static void pg_bind_text(struct db_stmt *st_, int idx, const char *v)
{
	struct pg_param *p = param(PST(st_), idx);

	if (!p || !v)
		return;
	p->value = strdup(v);
	if (!p->value) {
		PST(st_)->bind_failed = true;
		return;
	}
	p->type = 't';
	p->length = (int)strlen(v);
}

static void pg_bind_blob_ref(struct db_stmt *st_, int idx, const void *v, size_t len)
{
	struct pg_param *p = param(PST(st_), idx);

	if (!p)
		return;
	if (len > (size_t)INT32_MAX) {
		PST(st_)->bind_failed = true;
		return;
	}
	p->value = len ? (char *)v : (char *)"";
	p->borrowed = true;
	p->type = 'b';
	p->length = (int)len;
}

static void pg_bind_blob(struct db_stmt *st_, int idx, const void *v, size_t len)
{
	struct pg_param *p = param(PST(st_), idx);

	if (!p)
		return;
	p->value = len <= (size_t)INT32_MAX ? malloc(len ? len : 1) : NULL;
	if (!p->value) {
		PST(st_)->bind_failed = true;
		return;
	}
	if (len)
		memcpy(p->value, v, len);
	p->type = 'b';
	p->length = (int)len;
}

static void pg_bind_null(struct db_stmt *st_, int idx)
{
	param(PST(st_), idx);
}

/* The types of the parameters as bound, for the server: a NULL is
 * typed by where it stands (OID 0), or as text where nothing says
 * (null_as_text, after the server could not tell: SELECT ?1). A ?N the
 * statement never names (or names only in null tests) is text; the null
 * tests are booleans. sig: one letter each, what a server-side statement
 * is made for. */
static int param_types(const struct pg_stmt *s, bool null_as_text, Oid *types, char *sig)
{
	int n = s->nparams;

	for (int i = 0; i < s->nparams; i++) {
		char t = s->params[i].type ? s->params[i].type : 'n';

		if (!s->used[i + 1])
			t = 'x';
		else if (t == 'n' && null_as_text)
			t = 'N';
		sig[i] = t;
		switch (t) {
		case 'i':
			types[i] = OID_INT8;
			break;
		case 'b':
			types[i] = OID_BYTEA;
			break;
		case 'n':
			types[i] = OID_UNKNOWN;
			break;
		default:
			types[i] = OID_TEXT;
			break;
		}
	}
	for (int i = 0; i < s->n_null_tests; i++) {
		sig[n] = '?';
		types[n++] = OID_BOOL;
	}
	sig[n] = '\0';
	return n;
}

static bool result_ok(const PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
}

static bool result_is(const PGresult *res, const char *state)
{
	const char *s = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return s && !strcmp(s, state);
}

/* A kept statement's server-side statement for these types: made on
 * first use on this connection. NULL with *res set when the server
 * refused it; NULL without when the statement has too many already. */
static const struct pg_variant *variant(struct pg_stmt *s, int n, const Oid *types, const char *sig,
					PGresult **res)
{
	struct pg_db *db = PDB(s->db);
	struct pg_variant *v;

	*res = NULL;
	if (s->generation != db->generation) {
		/* A new session: the old names are gone with the old one. */
		s->nvariants = 0;
		s->generation = db->generation;
	}
	for (int i = 0; i < s->nvariants; i++)
		if (!strcmp(s->variants[i].sig, sig))
			return &s->variants[i];
	if (s->nvariants >= MAX_VARIANTS)
		return NULL;
	if (!s->variants && !(s->variants = calloc(MAX_VARIANTS, sizeof(*s->variants))))
		return NULL;
	v = &s->variants[s->nvariants];
	snprintf(v->name, sizeof(v->name), "cf%" PRIu64, ++db->next_name);
	snprintf(v->sig, sizeof(v->sig), "%s", sig);
	*res = PQprepare(db->conn, v->name, s->sql, n, types);
	if (PQresultStatus(*res) != PGRES_COMMAND_OK)
		return NULL;
	PQclear(*res);
	*res = NULL;
	s->nvariants++;
	return v;
}

/* Send the statement with its bindings, its rows to come one at a time.
 * 0, or -errno when nothing could be sent; *refused: the server refused
 * to prepare it (nothing sent). */
static int send_once(struct pg_stmt *s, bool null_as_text, PGresult **refused)
{
	struct pg_db *db = PDB(s->db);
	const char *values[MAX_SENT];
	int lengths[MAX_SENT], formats[MAX_SENT];
	Oid types[MAX_SENT];
	char sig[MAX_SENT + 1];
	int n = param_types(s, null_as_text, types, sig);
	int sent = 0;

	for (int i = 0; i < s->nparams; i++) {
		const struct pg_param *p = &s->params[i];

		values[i] = p->type == 'i' ? p->num : p->value;
		if (p->type == 'b' && !p->value)
			values[i] = "";
		lengths[i] = p->length;
		formats[i] = p->type == 'b' ? 1 : 0;
	}
	for (int i = 0; i < s->n_null_tests; i++) {
		const struct pg_null_test *t = &s->null_tests[i];
		char type = s->params[t->param - 1].type;
		bool is_null = type == 0 || type == 'n';

		values[s->nparams + i] = is_null != t->negated ? "t" : "f";
		lengths[s->nparams + i] = 1;
		formats[s->nparams + i] = 0;
	}
	*refused = NULL;
	if (s->keep) {
		const struct pg_variant *v = variant(s, n, types, sig, refused);

		if (*refused)
			return 0;
		if (v)
			sent = PQsendQueryPrepared(db->conn, v->name, n, values, lengths, formats, 0);
		else
			sent = PQsendQueryParams(db->conn, s->sql, n, types, values, lengths, formats, 0);
	} else {
		sent = PQsendQueryParams(db->conn, s->sql, n, types, values, lengths, formats, 0);
	}
	if (!sent)
		return result_failed(db, NULL);
	/* Only fails when the query is not the last one sent: it is. */
	PQsetSingleRowMode(db->conn);
	s->streaming = true;
	db->streaming = s;
	return 0;
}

/* The columns' types, from the first result that has them. */
static int take_columns(struct pg_stmt *s, const PGresult *res)
{
	int n = PQnfields(res);

	if (s->types || n == 0)
		return 0;
	s->types = malloc((size_t)n * sizeof(*s->types));
	s->cells = calloc((size_t)n, sizeof(*s->cells));
	if (!s->types || !s->cells) {
		free(s->types);
		free(s->cells);
		s->types = NULL;
		s->cells = NULL;
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++)
		s->types[i] = PQftype(res, i);
	s->ncells = n;
	return 0;
}

/* The statement's next result from the connection: *rows a result with
 * rows (one, in single-row mode), or NULL (the end, or a result without
 * rows). A failure drains what is left, and is the server's. */
static int fetch(struct pg_stmt *s, PGresult **rows)
{
	struct pg_db *db = PDB(s->db);
	PGresult *res = PQgetResult(db->conn);
	int rc;

	*rows = NULL;
	if (!res) {
		stream_ended(s);
		/* A connection that broke mid-stream ends the results too. */
		if (PQstatus(db->conn) != CONNECTION_OK)
			return result_failed(db, NULL);
		return 0;
	}
	switch (PQresultStatus(res)) {
	case PGRES_SINGLE_TUPLE:
	case PGRES_TUPLES_OK:
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
			count_changes(db, res);
		if (take_columns(s, res) != 0) {
			PQclear(res);
			drain(s);
			return set_error(db, -ENOMEM, "out of memory reading a result");
		}
		if (PQntuples(res) > 0) {
			*rows = res;
			return 0;
		}
		PQclear(res);
		return 0;
	case PGRES_COMMAND_OK:
	case PGRES_EMPTY_QUERY:
		count_changes(db, res);
		PQclear(res);
		return 0;
	default:
		/* The rest (nothing but the end) first, so that the
		 * transaction's state is the server's after the failure. */
		drain(s);
		rc = result_failed(db, res);
		track_tx(db);
		return rc;
	}
}

/* Run the statement; its first result read (a refusal shows there). */
static int run(struct pg_stmt *s)
{
	struct pg_db *db = PDB(s->db);
	bool null_as_text = false;
	PGresult *res;
	int rc;

	if (s->bind_failed)
		return set_error(db, -ENOMEM, "out of memory binding a parameter");
	rc = usable(db);
	if (rc)
		return rc;
	for (int attempt = 0;; attempt++) {
		PGresult *refused;

		rc = send_once(s, null_as_text, &refused);
		if (rc)
			return rc;
		res = refused ? refused : PQgetResult(db->conn);
		if (attempt == 0 && res && !result_ok(res) && PQresultStatus(res) != PGRES_SINGLE_TUPLE &&
		    PQstatus(db->conn) == CONNECTION_OK && !db->tx_open &&
		    (result_is(res, "42P18") || (result_is(res, "26000") && s->keep))) {
			/* Outside a transaction a refused statement changed
			 * nothing, and may run again as SQLite would: a NULL
			 * nothing types (indeterminate_datatype) as text; a
			 * server-side statement someone deallocated
			 * (DISCARD ALL) made again. */
			if (result_is(res, "26000"))
				s->nvariants = 0;
			else
				null_as_text = true;
			PQclear(res);
			drain(s);
			continue;
		}
		break;
	}
	if (!res) {
		stream_ended(s);
		return result_failed(db, NULL);
	}
	s->started = true;
	switch (PQresultStatus(res)) {
	case PGRES_SINGLE_TUPLE:
	case PGRES_TUPLES_OK:
	case PGRES_COMMAND_OK:
	case PGRES_EMPTY_QUERY:
		break;
	default:
		drain(s);
		s->started = false;
		rc = result_failed(db, res);
		track_tx(db);
		return rc;
	}
	if (PQresultStatus(res) != PGRES_SINGLE_TUPLE)
		count_changes(db, res);
	if (take_columns(s, res) != 0) {
		PQclear(res);
		drop_result(s);
		return set_error(db, -ENOMEM, "out of memory reading a result");
	}
	if (PQntuples(res) > 0) {
		s->res = res;
		s->nrows = PQntuples(res);
		s->row = -1;
	} else {
		PQclear(res);
	}
	return 0;
}

/* Room for `need` more bytes of spilled rows. */
static int spill_reserve(struct pg_spill *sp, size_t need)
{
	if (sp->len + need > sp->cap) {
		size_t cap = sp->cap ? sp->cap : 4096;
		char *buf;

		while (cap < sp->len + need)
			cap *= 2;
		if (!(buf = realloc(sp->buf, cap)))
			return -ENOMEM;
		sp->buf = buf;
		sp->cap = cap;
	}
	if (sp->nrows == sp->cap_rows) {
		int cap = sp->cap_rows ? sp->cap_rows * 2 : 64;
		size_t *rows = realloc(sp->rows, (size_t)cap * sizeof(*rows));

		if (!rows)
			return -ENOMEM;
		sp->rows = rows;
		sp->cap_rows = cap;
	}
	return 0;
}

/* The rows of a result, after those already spilled. */
static int spill_rows(struct pg_stmt *s, const PGresult *res)
{
	struct pg_spill *sp = &s->spill;

	for (int r = 0; r < PQntuples(res); r++) {
		size_t need = 0;

		for (int c = 0; c < s->ncells; c++)
			need += sizeof(uint32_t) + (PQgetisnull(res, r, c) ? 0 : (size_t)PQgetlength(res, r, c) + 1);
		if (spill_reserve(sp, need) != 0)
			return -ENOMEM;
		sp->rows[sp->nrows++] = sp->len;
		for (int c = 0; c < s->ncells; c++) {
			uint32_t len = PQgetisnull(res, r, c) ? SPILL_NULL : (uint32_t)PQgetlength(res, r, c);

			memcpy(sp->buf + sp->len, &len, sizeof(len));
			sp->len += sizeof(len);
			if (len != SPILL_NULL) {
				memcpy(sp->buf + sp->len, PQgetvalue(res, r, c), len + 1);
				sp->len += len + 1;
			}
		}
	}
	return 0;
}

/* Another call needs the connection: the statement's rows still to come
 * are read ahead into its spill, and a failure among them kept for the
 * step that reaches it. The current row (res) stays as it is: a caller
 * may hold its text. */
static void spill(struct pg_stmt *s)
{
	struct pg_db *db = PDB(s->db);

	while (s->streaming) {
		PGresult *res;
		int rc = fetch(s, &res);

		if (rc) {
			s->end_err = rc;
			s->end_msg = strdup(db->errmsg);
			break;
		}
		if (res && spill_rows(s, res) != 0) {
			PQclear(res);
			drain(s);
			s->end_err = -ENOMEM;
			s->end_msg = strdup("out of memory reading a result ahead");
			break;
		}
		PQclear(res);
	}
}

static int pg_step(struct db_stmt *st_)
{
	struct pg_stmt *s = PST(st_);
	struct pg_db *db = PDB(s->db);
	int rc;

	free_cells(s);
	if (!s->started || s->done) {
		/* The first step, or one after the end: the statement runs
		 * (again), as sqlite3_step resets a finished statement. */
		drop_result(s);
		rc = run(s);
		if (rc)
			return rc;
	}
	if (s->res && ++s->row < s->nrows)
		return DB_ROW;
	PQclear(s->res);
	s->res = NULL;
	s->nrows = 0;
	s->row = -1;
	if (s->spill.next < s->spill.nrows) {
		s->spill.cur = s->spill.rows[s->spill.next++];
		return DB_ROW;
	}
	s->spill.cur = NO_ROW;
	while (s->streaming) {
		PGresult *res;

		if (db->streaming != s) {
			/* Only this statement's rows arrive here. */
			drain(s);
			break;
		}
		rc = fetch(s, &res);
		if (rc) {
			s->started = false;
			return rc;
		}
		if (res) {
			s->res = res;
			s->nrows = PQntuples(res);
			s->row = 0;
			return DB_ROW;
		}
	}
	if (s->end_err) {
		rc = set_error(db, s->end_err, "%s", s->end_msg ? s->end_msg : "a statement failed");
		s->started = false;
		return rc;
	}
	s->done = true;
	return DB_DONE;
}

/* ---- Columns ---- */

/* The current row's column col, from the result at hand or the spill:
 * false when NULL or out of range. */
static bool cell(const struct pg_stmt *s, int col, const char **value, size_t *len)
{
	const char *p;

	if (col < 0 || col >= s->ncells)
		return false;
	if (s->res && s->row >= 0 && s->row < s->nrows) {
		if (PQgetisnull(s->res, s->row, col))
			return false;
		*value = PQgetvalue(s->res, s->row, col);
		*len = (size_t)PQgetlength(s->res, s->row, col);
		return true;
	}
	if (s->spill.cur == NO_ROW)
		return false;
	p = s->spill.buf + s->spill.cur;
	for (int c = 0;; c++) {
		uint32_t n;

		memcpy(&n, p, sizeof(n));
		p += sizeof(n);
		if (c == col) {
			if (n == SPILL_NULL)
				return false;
			*value = p;
			*len = n;
			return true;
		}
		if (n != SPILL_NULL)
			p += n + 1;
	}
}

static bool pg_column_null(struct db_stmt *st_, int col)
{
	const char *v;
	size_t len;

	return !cell(PST(st_), col, &v, &len);
}

/* A bytea column's bytes, decoded once per row; NULL when out of memory. */
static const struct pg_cell *bytea_cell(struct pg_stmt *s, int col, const char *hex)
{
	struct pg_cell *c = &s->cells[col];

	if (!c->data) {
		size_t len;
		unsigned char *raw = PQunescapeBytea((const unsigned char *)hex, &len);

		if (!raw)
			return NULL;
		c->data = malloc(len + 1);
		if (c->data) {
			memcpy(c->data, raw, len);
			c->data[len] = '\0';
			c->len = len;
		}
		PQfreemem(raw);
		if (!c->data)
			return NULL;
	}
	return c;
}

static int64_t pg_column_int(struct db_stmt *st_, int col)
{
	struct pg_stmt *s = PST(st_);
	const char *v;
	size_t len;

	if (!cell(s, col, &v, &len))
		return 0;
	switch (s->types[col]) {
	case OID_BOOL:
		return v[0] == 't';
	case OID_FLOAT4:
	case OID_FLOAT8:
	case OID_NUMERIC: {
		/* As SQLite casts a real: toward zero, clamped. */
		double d = strtod(v, NULL);

		if (d >= 9223372036854775807.0)
			return INT64_MAX;
		if (d <= -9223372036854775808.0)
			return INT64_MIN;
		return (int64_t)d;
	}
	default:
		return strtoll(v, NULL, 10);
	}
}

/* Text as SQLite gives it: a boolean as 1 or 0, a bytea's bytes (NUL
 * terminated), anything else as the server wrote it. */
static const char *pg_column_text(struct db_stmt *st_, int col)
{
	struct pg_stmt *s = PST(st_);
	const struct pg_cell *c;
	const char *v;
	size_t len;

	if (!cell(s, col, &v, &len))
		return NULL;
	switch (s->types[col]) {
	case OID_BOOL:
		return v[0] == 't' ? "1" : "0";
	case OID_BYTEA:
		c = bytea_cell(s, col, v);
		return c ? (const char *)c->data : NULL;
	default:
		return v;
	}
}

static size_t pg_column_bytes(struct db_stmt *st_, int col)
{
	struct pg_stmt *s = PST(st_);
	const struct pg_cell *c;
	const char *v;
	size_t len;

	if (!cell(s, col, &v, &len))
		return 0;
	switch (s->types[col]) {
	case OID_BOOL:
		return 1;
	case OID_BYTEA:
		c = bytea_cell(s, col, v);
		return c ? c->len : 0;
	default:
		return len;
	}
}

static const void *pg_column_blob(struct db_stmt *st_, int col, size_t *len)
{
	const char *text = pg_column_text(st_, col);

	*len = text ? pg_column_bytes(st_, col) : 0;
	return text;
}

/* ---- The rest of db.h ---- */

static int pg_table_exists(struct db *d, const char *name, bool *exists)
{
	struct db_stmt *s;
	int rc = pg_prepare(d, "SELECT to_regclass(?1) IS NOT NULL", false, &s);

	*exists = false;
	if (rc)
		return rc;
	pg_bind_text(s, 1, name);
	rc = pg_step(s);
	if (rc == DB_ROW)
		*exists = pg_column_int(s, 0) != 0;
	pg_finalize(s);
	return rc == DB_ROW ? 0 : rc < 0 ? rc : -EIO;
}

static int64_t pg_changes(struct db *d)
{
	return PDB(d)->changes;
}

static const char *pg_errmsg(const struct db *d)
{
	const struct pg_db *db = CPDB(d);

	return db->errmsg[0] ? db->errmsg : "not an error";
}

static int pg_errno(const struct db *d)
{
	const struct pg_db *db = CPDB(d);

	return db->err ? db->err : -EIO;
}

static int64_t elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

/* Notifications on this connection's LISTEN channels. A connection that
 * is gone is not made again here (its LISTEN would be gone with it):
 * -ENOTCONN, and the caller's next call (LISTEN again) reconnects. */
static int pg_wait_notify(struct db *d, int timeout_ms)
{
	struct pg_db *db = PDB(d);
	struct timespec start;

	if (db->streaming)
		spill(db->streaming);
	clear_error(db);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd p = { .fd = PQsocket(db->conn), .events = POLLIN };
		bool got = false;
		PGnotify *n;
		int64_t left;
		int ready;

		if (db->doomed || PQstatus(db->conn) != CONNECTION_OK || p.fd < 0 ||
		    !PQconsumeInput(db->conn) || db->doomed || PQstatus(db->conn) != CONNECTION_OK) {
			char line[400];

			db->doomed = true;
			one_line(line, sizeof(line), PQerrorMessage(db->conn));
			return connection_lost(db, line[0] ? line : "the server ended the session");
		}
		while ((n = PQnotifies(db->conn)) != NULL) {
			got = true;
			PQfreemem(n);
		}
		if (got)
			return 1;
		left = timeout_ms - elapsed_ms(&start);
		if (left <= 0)
			return 0;
		ready = poll(&p, 1, (int)left);
		if (ready < 0 && errno != EINTR)
			return set_error(db, -errno, "cannot wait for notifications from database %s: %s",
					 db->name, strerror(errno));
	}
}

/* ---- What PostgreSQL adds ---- */

/* A session-level advisory lock keyed by the name's hash: released by
 * pg_unlock_name, or by the server when the session ends (a host that
 * dies or is cut off holds nothing). Waits up to lock_timeout. */
static int pg_lock_name(struct db *d, const char *name)
{
	struct db_stmt *s;
	int rc = pg_prepare(d, "SELECT pg_advisory_lock(hashtextextended(?1, 0))", false, &s);

	if (rc)
		return rc;
	pg_bind_text(s, 1, name);
	rc = pg_step(s);
	pg_finalize(s);
	return rc < 0 ? rc : 0;
}

static void pg_unlock_name(struct db *d, const char *name)
{
	struct db_stmt *s;

	if (pg_prepare(d, "SELECT pg_advisory_unlock(hashtextextended(?1, 0))", false, &s) != 0)
		return;
	pg_bind_text(s, 1, name);
	pg_step(s);
	pg_finalize(s);
}

/* The server's clock now (clock_timestamp, not the transaction's start),
 * in microseconds since the epoch. */
static int pg_server_time_us(struct db *d, int64_t *us)
{
	struct db_stmt *s;
	int rc = pg_prepare(d, "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint",
			    false, &s);

	if (rc)
		return rc;
	rc = pg_step(s);
	if (rc == DB_ROW)
		*us = pg_column_int(s, 0);
	pg_finalize(s);
	return rc == DB_ROW ? 0 : rc < 0 ? rc : -EIO;
}

/* Sent when the transaction commits, not at all if it rolls back. In a
 * transaction it goes with the COMMIT (a round trip fewer for every
 * write that wakes the other daemons: the cleaner's batches). */
static int pg_notify(struct db *d)
{
	struct pg_db *db = PDB(d);

	if (pg_in_tx(d)) {
		db->notify_at_commit = true;
		return 0;
	}
	return pg_exec(d, "NOTIFY cinderfs");
}

static int pg_listen(struct db *d)
{
	return pg_exec(d, "LISTEN cinderfs");
}

const struct db_engine db_engine_pg = {
	.kind = DB_POSTGRESQL,
	.open = pg_open,
	.close = pg_close,
	.name = pg_name,
	.file = pg_file,
	.migrations = pg_migrations,
	.table_exists = pg_table_exists,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.in_tx = pg_in_tx,
	.exec = pg_exec,
	.prepare = pg_prepare,
	.finalize = pg_finalize,
	.reset = pg_reset,
	.bind_int = pg_bind_int,
	.bind_text = pg_bind_text,
	.bind_blob = pg_bind_blob,
	.bind_blob_ref = pg_bind_blob_ref,
	.bind_null = pg_bind_null,
	.step = pg_step,
	.column_int = pg_column_int,
	.column_text = pg_column_text,
	.column_bytes = pg_column_bytes,
	.column_null = pg_column_null,
	.column_blob = pg_column_blob,
	.changes = pg_changes,
	.errmsg = pg_errmsg,
	.errno_ = pg_errno,
	.wait_notify = pg_wait_notify,
	.notify = pg_notify,
	.listen = pg_listen,
	.lock_name = pg_lock_name,
	.unlock_name = pg_unlock_name,
	.server_time_us = pg_server_time_us,
};
