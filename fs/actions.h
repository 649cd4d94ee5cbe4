/* Cinder's admin actions as writes to value files and an rmdir:
 * workers/<id>/disabled and disabled_reason (service-disable --reason),
 * clusters/<name>/disabled and disabled_reason (cluster-disable),
 * clusters/<name>/auto_cleanup (automatic cleanup, which Cinder never shipped),
 * volumes/<uuid>/status and snapshots/<uuid>/status (reset-state),
 * volumes/<uuid>/size (extend), rmdir clusters/<name> (cinder-manage
 * cluster remove). Each is logged with the writer's uid, and its refusal
 * goes to the directory's error file (workers/error, clusters/error,
 * volumes/error, snapshots/error). Who may write is the kernel's check of
 * the files' modes: root and the admin group. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "paths.h"
#include "store.h"

struct fs_config;

/* Whether the file m names takes an admin action's write. */
bool actions_writable(const struct path_match *m);

/* One write() of a value to the file m names: returns size, or -errno
 * with the words in the error file. */
int actions_write(struct store *st, const struct fs_config *cfg, const struct path_match *m,
		  const char *buf, size_t size, uid_t uid);

/* rmdir clusters/<name>: 0, or -errno with the words in clusters/error. */
int actions_remove_cluster(struct store *st, const struct fs_config *cfg, const char *name,
			   uid_t uid);
