/* The schema migrations, generated from backend/schema/<dialect>/NNNN-*.sql
 * at build time (tools/embed_sql.py): one table per engine's SQL dialect,
 * the same numbers and names in both. Migration N brings a database from
 * schema version N-1 to N. */
#pragma once

struct migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct migration store_migrations_sqlite[];
extern const int store_migrations_sqlite_count;
extern const struct migration store_migrations_postgresql[];
extern const int store_migrations_postgresql_count;

/* The SQLite dialect's, by their older names (the unit tests use them). */
#define store_migrations store_migrations_sqlite
#define store_migrations_count store_migrations_sqlite_count
