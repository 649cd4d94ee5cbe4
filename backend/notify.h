/* Wake-ups from other daemons: a thread on a connection of its own that
 * listens for the notifications every write transaction sends (PostgreSQL
 * LISTEN/NOTIFY) and wakes the threads that would otherwise poll (the
 * backend thread, the mount's watch). After every (re)connect it wakes
 * them all: what was sent while the connection was down is lost, so they
 * read everything again. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct notify;

struct notify_target {
	void (*wake)(void *ctx);
	void *ctx;
};

/* Whether the database setting names an engine with notifications
 * (PostgreSQL): the callers then poll rarely, as a fallback. */
bool notify_supported(const char *db_path);

/* -ENOTSUP when the engine has none (SQLite: keep polling). */
int notify_start(const char *db_path, const struct notify_target *targets, size_t count,
		 struct notify **out);
void notify_stop(struct notify *n);
/* Notifications received, and connections made, since the start. */
void notify_counts(struct notify *n, unsigned long *received, unsigned long *connects);
