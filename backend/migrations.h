/* The schema migrations, generated from backend/schema/NNNN-*.sql at build
 * time. Migration N brings a database from schema version N-1 to N. */
#pragma once

struct migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct migration store_migrations[];
extern const int store_migrations_count;
