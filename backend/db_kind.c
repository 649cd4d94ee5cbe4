/* Which engine a database setting names: shared by the engines and the
 * store, so that the daemon, its tools and the tests agree. */
#include "db.h"

#include <string.h>

enum db_kind db_kind_of(const char *setting)
{
	/* libpq's URIs, and its key=value conninfo by the keys a setting
	 * naturally starts with. A path never contains '=' before a '/'. */
	static const char *const pg_starts[] = {
		"postgresql://", "postgres://", "host=", "hostaddr=",
		"dbname=", "service=", "user=", "port=",
	};

	if (!setting)
		return DB_SQLITE;
	setting += strspn(setting, " \t");
	for (size_t i = 0; i < sizeof(pg_starts) / sizeof(pg_starts[0]); i++)
		if (strncmp(setting, pg_starts[i], strlen(pg_starts[i])) == 0)
			return DB_POSTGRESQL;
	return DB_SQLITE;
}
