/* The heartbeat thread: keeps the worker's services row fresh every
 * report_interval seconds, on a connection of its own. */
#pragma once

#include <stdint.h>
#include <time.h>

#include "model.h"

struct heartbeat;

/* reg is copied; the thread brings the row back, same id, when an
 * operator removed it (as Cinder's report_state re-creates it). With
 * service_id 0 (a control-only daemon) it only checks, every interval,
 * that the database's write lock can be had, for heartbeat_clock. */
int heartbeat_start(const char *db_path, const struct registration *reg, int64_t service_id,
		    int interval, int down_time, struct heartbeat **out);
/* How long ago (ms) this process's last heartbeat landed; 0 before the
 * heartbeat starts. */
int64_t heartbeat_age_ms(void);
/* The time to judge liveness at: now, or, while this worker's own beats
 * are not landing (a locked or full database), the moment they stopped,
 * so that no live peer is read as down for a database that would not take
 * its beat. The wall clock in a daemon without a heartbeat. */
void heartbeat_clock(struct timespec *out);
void heartbeat_stop(struct heartbeat *hb);
