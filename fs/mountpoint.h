/* The mountpoint before mounting: a mount left by a crashed daemon
 * ("Transport endpoint is not connected") is detached, and a live cinderfs
 * already there is refused. */
#pragma once

#include "error.h"

int mountpoint_prepare(const char *path, struct cf_err *err);
