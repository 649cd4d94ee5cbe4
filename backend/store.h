/* The store: cinderfs's state in SQLite, and the only place with SQL.
 *
 * One struct store is one connection; each thread opens its own. Every
 * function returns 0 or -errno. The functions are the whole contract with
 * the database, so that a second engine (PostgreSQL, for clusters spanning
 * hosts) can implement the same list. */
#pragma once

#include <stdint.h>
#include <time.h>

#include "error.h"
#include "migrations.h"
#include "model.h"

struct store;

enum store_open_flags {
	/* Create the file when it is missing. */
	STORE_CREATE = 1 << 0,
	/* Bring the schema up to date (store_migrations); done once at start.
	 * Without it, the file is used as it is. */
	STORE_MIGRATE = 1 << 1,
};

int store_open(const char *path, unsigned flags, struct store **out, struct cf_err *err);
void store_close(struct store *st);

/* Schema version bookkeeping; store_migrate applies the given list (the
 * daemon passes store_migrations; tests pass their own). */
int store_schema_version(struct store *st, int *version);
int store_migrate(struct store *st, const struct migration *list, int count, struct cf_err *err);

/* Registration and heartbeat (a services row, as Cinder's Service.start and
 * report_state). Registration re-uses the live row of the same host and
 * binary, and creates the named cluster's row when missing. store_heartbeat
 * returns -ENOENT when the row is gone (an operator removed it). */
int store_register(struct store *st, const struct registration *reg,
		   const struct timespec *now, int64_t *service_id, struct cf_err *err);
int store_heartbeat(struct store *st, int64_t service_id, const struct timespec *now);

/* Workers (services rows that are not deleted). */
typedef int (*store_service_fn)(void *ctx, const struct service *svc);
int store_get_service(struct store *st, int64_t id, struct service *out);
int store_list_services(struct store *st, store_service_fn fn, void *ctx);
int store_list_cluster_members(struct store *st, const char *cluster_name,
			       store_service_fn fn, void *ctx);

/* Clusters. */
typedef int (*store_cluster_fn)(void *ctx, const struct cluster *cl);
int store_get_cluster(struct store *st, const char *name, struct cluster *out);
int store_list_clusters(struct store *st, store_cluster_fn fn, void *ctx);

/* Stuck resources: workers rows of the given type ("Volume", "Snapshot")
 * with an owner whose last heartbeat is before `bound` (down), or whose
 * owner's row is gone. A row with no owner is not stuck. */
typedef int (*store_stuck_fn)(void *ctx, const struct stuck *res);
int store_get_stuck(struct store *st, const char *type, const char *resource_id,
		    const struct timespec *bound, struct stuck *out);
int store_list_stuck(struct store *st, const char *type, const struct timespec *bound,
		     store_stuck_fn fn, void *ctx);
