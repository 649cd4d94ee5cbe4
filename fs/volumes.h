/* volumes/create and rmdir volumes/<uuid>: the write returns once the
 * request is recorded; the worker's backend thread does the LVM and tgt
 * work, and `status` shows how far it got. */
#pragma once

#include <stddef.h>

#include "store.h"

struct fs_config;

/* One write() to volumes/create: one volume. Returns size, with the new
 * volume's id in id (when not NULL), or -errno with the reason in
 * volumes/error. */
int volumes_create(struct store *st, const struct fs_config *cfg, const char *buf, size_t size,
		   char id[UUID_LEN]);

/* rmdir volumes/<uuid>: 0, or -errno with the reason in volumes/error. */
int volumes_delete(struct store *st, const struct fs_config *cfg, const char *uuid);

/* snapshots/create (`volume_id=<uuid> name=...`) and rmdir snapshots/<uuid>:
 * the work goes to the volume's worker; errors in snapshots/error. */
int snapshots_create(struct store *st, const struct fs_config *cfg, const char *buf, size_t size,
		     char id[UUID_LEN]);
int snapshots_delete(struct store *st, const struct fs_config *cfg, const char *uuid);
