/* Volume control files. Everything is decided and recorded in one
 * transaction on the FUSE thread; nothing here waits for LVM. */
#include "volumes.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <uuid/uuid.h>

#include "cleanup.h"
#include "fs.h"
#include "heartbeat.h"
#include "liveness.h"
#include "log.h"
#include "volspec.h"

int volumes_create(struct store *st, const struct fs_config *cfg, const char *buf, size_t size,
		   char id_out[UUID_LEN])
{
	struct volspec spec;
	struct cf_err err = { "" };
	struct new_volume v;
	struct timespec now, bound;
	int64_t placed_on = 0;
	char id[UUID_LEN];
	uuid_t uu;
	int rc;

	if (!cfg->service_id || !cfg->has_storage) {
		rc = err_set(&err, EROFS, "This daemon keeps no volumes (%s): create volumes through "
			     "the mount of a worker with a volume_group.",
			     cfg->service_id ? "no volume_group configured" : "control only");
	} else if ((rc = volspec_parse(buf, size, &spec, &err)) == 0) {
		uuid_generate(uu);
		uuid_unparse_lower(uu, id);
		heartbeat_clock(&now);
		liveness_bound(&now, cfg->service_down_time, &bound);
		v = (struct new_volume){
			.id = id, .display_name = spec.name, .size_gib = spec.size_gib,
			.host = cfg->host, .cluster_name = cfg->cluster_name,
			.service_id = cfg->service_id, .started = &cfg->started, .bound = &bound,
		};
		dbtime_now(&now);
		rc = store_add_volume(st, &v, &now, &placed_on, &err);
		if (rc == 0)
			log_info("volume %s (%s, %lld GiB) requested, made by worker %lld", id, spec.name,
				 spec.size_gib, (long long)placed_on);
	}
	control_error_set(cfg->volume_errors, rc ? err.msg : NULL);
	if (rc)
		return rc;
	if (id_out)
		memcpy(id_out, id, UUID_LEN);
	if (cfg->queued)
		cfg->queued(cfg->queued_ctx);
	return (int)size;
}

int volumes_delete(struct store *st, const struct fs_config *cfg, const char *uuid)
{
	struct cf_err err = { "" };
	struct timespec now, clock, bound;
	int rc;

	/* Liveness at the heartbeat's clock, as the mount shows it. */
	heartbeat_clock(&clock);
	liveness_bound(&clock, cfg->service_down_time, &bound);
	dbtime_now(&now);
	rc = store_request_volume_delete(st, uuid, &now, &bound, &err);
	control_error_set(cfg->volume_errors, rc ? err.msg : NULL);
	if (rc == 0) {
		log_info("deletion of volume %s requested", uuid);
		if (cfg->queued)
			cfg->queued(cfg->queued_ctx);
	}
	return rc;
}

int snapshots_create(struct store *st, const struct fs_config *cfg, const char *buf, size_t size,
		     char id_out[UUID_LEN])
{
	struct snapspec spec;
	struct cf_err err = { "" };
	struct timespec now;
	char id[UUID_LEN];
	uuid_t uu;
	int rc = snapspec_parse(buf, size, &spec, &err);

	if (rc == 0) {
		uuid_generate(uu);
		uuid_unparse_lower(uu, id);
		dbtime_now(&now);
		rc = store_add_snapshot(st, id, spec.volume_id, spec.name, &now, &err);
		/* A write names the volume: no such volume is a bad spec, not a
		 * missing file. */
		if (rc == -ENOENT)
			rc = -EINVAL;
		if (rc == 0)
			log_info("snapshot %s of volume %s requested", id, spec.volume_id);
	}
	control_error_set(cfg->snapshot_errors, rc ? err.msg : NULL);
	if (rc)
		return rc;
	if (id_out)
		memcpy(id_out, id, UUID_LEN);
	if (cfg->queued)
		cfg->queued(cfg->queued_ctx);
	return (int)size;
}

int snapshots_delete(struct store *st, const struct fs_config *cfg, const char *uuid)
{
	struct cf_err err = { "" };
	struct timespec now, clock, bound;
	int rc;

	/* Liveness at the heartbeat's clock, as the mount shows it. */
	heartbeat_clock(&clock);
	liveness_bound(&clock, cfg->service_down_time, &bound);
	dbtime_now(&now);
	rc = store_request_snapshot_delete(st, uuid, &now, &bound, &err);
	control_error_set(cfg->snapshot_errors, rc ? err.msg : NULL);
	if (rc == 0 && cfg->queued)
		cfg->queued(cfg->queued_ctx);
	return rc;
}
