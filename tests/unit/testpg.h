/* The private PostgreSQL server of a unit test that runs on both engines
 * (tests/with-postgresql gives its URL as CINDERFS_TEST_PG_URL): the URL,
 * the URL with another database of it, and SQL run as the URL's user
 * outside any test database (CREATE/DROP DATABASE). Header-only, included
 * once per test program, after cmocka.h. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "error.h"

/* NULL when no server was given: the PostgreSQL group is skipped. */
static inline const char *pg_url(void)
{
	const char *url = getenv("CINDERFS_TEST_PG_URL");

	return url && *url ? url : NULL;
}

/* The URL with another database: what follows the last '/' of the
 * authority, up to the query. */
static inline void url_with_db(const char *url, const char *dbname, char *out, size_t size)
{
	const char *auth = strstr(url, "://");
	const char *path = strchr(auth ? auth + 3 : url, '/');
	const char *query = path ? path + strcspn(path, "?") : "";

	assert_non_null(path);
	snprintf(out, size, "%.*s/%s%s", (int)(path - url), url, dbname, query);
}

static inline void admin_exec(const char *sql)
{
	struct db *admin;
	struct cf_err err;

	assert_int_equal(db_open(pg_url(), 0, &admin, &err), 0);
	if (db_exec(admin, sql) != 0)
		fail_msg("%s: %s", sql, db_errmsg(admin));
	db_close(admin);
}
