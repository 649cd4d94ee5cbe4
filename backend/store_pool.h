/* A few store connections shared by many threads (the mount's), each
 * borrowed for one operation. libfuse never retires its threads, so one
 * connection per thread would converge on ~30 per daemon: too many for a
 * PostgreSQL server shared by a cluster (max_connections is 100 by
 * default). */
#pragma once

#include "error.h"
#include "store.h"

struct store_pool;

/* At most `size` connections to `setting`, opened with `flags` when first
 * needed and kept open. */
int store_pool_new(const char *setting, unsigned flags, int size, struct store_pool **out);
void store_pool_free(struct store_pool *pool);

/* A connection for the caller alone until store_pool_put. Waits while all
 * are in use (at most `wait_ms`: then -EAGAIN); -errno with err's words
 * when a new one cannot be opened. */
int store_pool_get(struct store_pool *pool, int wait_ms, struct store **out, struct cf_err *err);
void store_pool_put(struct store_pool *pool, struct store *st);

/* Connections open now, and the most there ever were at once. */
void store_pool_counts(struct store_pool *pool, int *open, int *peak);
