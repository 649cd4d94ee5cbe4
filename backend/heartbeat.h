/* The heartbeat thread: keeps the worker's services row fresh every
 * report_interval seconds, on a connection of its own. */
#pragma once

#include <stdint.h>

#include "model.h"

struct heartbeat;

/* reg is copied; the thread re-registers when an operator removed the row
 * (as Cinder's report_state does). */
int heartbeat_start(const char *db_path, const struct registration *reg, int64_t service_id,
		    int interval, struct heartbeat **out);
void heartbeat_stop(struct heartbeat *hb);
