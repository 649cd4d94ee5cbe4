/* Admin actions written to value files: the value checked with Cinder's
 * rules (backend/admin_rules.c), recorded by the store in one transaction
 * on the FUSE thread (nothing here runs LVM: an extend is queued for the
 * volume's worker), logged with its uid, and its refusal kept in the
 * directory's error file. */
#include "actions.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "admin_rules.h"
#include "cleanup.h"
#include "fs.h"
#include "heartbeat.h"
#include "liveness.h"
#include "log.h"

bool actions_writable(const struct path_match *m)
{
	return m->field && m->field->writable &&
	       (m->rule->kind == NODE_WORKER_FIELD || m->rule->kind == NODE_CLUSTER_FIELD ||
		m->rule->kind == NODE_VOLUME_FIELD || m->rule->kind == NODE_SNAPSHOT_FIELD);
}

static struct control_state *errors_of(const struct fs_config *cfg, enum node_kind kind)
{
	switch (kind) {
	case NODE_WORKER_FIELD:
		return cfg->worker_errors;
	case NODE_CLUSTER_FIELD:
	case NODE_CLUSTER:
		return cfg->cluster_errors;
	case NODE_VOLUME_FIELD:
		return cfg->volume_errors;
	default:
		return cfg->snapshot_errors;
	}
}

/* The file as an operator names it: workers/3/disabled. */
static void file_name(const struct path_match *m, char *out, size_t size)
{
	switch (m->rule->kind) {
	case NODE_WORKER_FIELD:
		snprintf(out, size, "workers/%lld/%s", (long long)m->worker_id, m->field->name);
		break;
	case NODE_CLUSTER_FIELD:
		snprintf(out, size, "clusters/%s/%s", m->cluster, m->field->name);
		break;
	case NODE_VOLUME_FIELD:
		snprintf(out, size, "volumes/%s/%s", m->uuid, m->field->name);
		break;
	default:
		snprintf(out, size, "snapshots/%s/%s", m->uuid, m->field->name);
		break;
	}
}

static int set_disabled(struct store *st, const struct path_match *m, const char *buf, size_t size,
			char *done, size_t done_size, struct cf_err *err)
{
	struct timespec now;
	bool disabled;
	int rc = admin_parse_bool(buf, size, "disabled", &disabled, err);

	if (rc)
		return rc;
	dbtime_now(&now);
	if (m->rule->kind == NODE_WORKER_FIELD) {
		rc = store_set_service_disabled(st, m->worker_id, disabled, err);
		snprintf(done, done_size, "worker %lld %s", (long long)m->worker_id,
			 disabled ? "disabled" : "enabled (its reason cleared)");
	} else {
		rc = store_set_cluster_disabled(st, m->cluster, disabled, &now, err);
		snprintf(done, done_size, "cluster %s %s", m->cluster,
			 disabled ? "disabled" : "enabled (its reason cleared)");
	}
	return rc;
}

static int set_reason(struct store *st, const struct path_match *m, const char *buf, size_t size,
		      char *done, size_t done_size, struct cf_err *err)
{
	char reason[ADMIN_REASON_MAX + 1];
	struct timespec now;
	int rc = admin_parse_reason(buf, size, reason, err);

	if (rc)
		return rc;
	dbtime_now(&now);
	if (m->rule->kind == NODE_WORKER_FIELD) {
		rc = store_set_service_reason(st, m->worker_id, reason, &now, err);
		snprintf(done, done_size, "worker %lld's disabled_reason %s%s%s", (long long)m->worker_id,
			 reason[0] ? "set to '" : "cleared", reason, reason[0] ? "'" : "");
	} else {
		rc = store_set_cluster_reason(st, m->cluster, reason, &now, err);
		snprintf(done, done_size, "cluster %s's disabled_reason %s%s%s", m->cluster,
			 reason[0] ? "set to '" : "cleared", reason, reason[0] ? "'" : "");
	}
	return rc;
}

static int set_auto_cleanup(struct store *st, const struct path_match *m, const char *buf,
			    size_t size, char *done, size_t done_size, struct cf_err *err)
{
	struct timespec now;
	long long seconds;
	int rc = admin_parse_auto_cleanup(buf, size, &seconds, err);

	if (rc)
		return rc;
	dbtime_now(&now);
	rc = store_set_cluster_auto_cleanup(st, m->cluster, seconds, &now, err);
	if (seconds)
		snprintf(done, done_size, "cluster %s's auto_cleanup set to %lld s: a member down "
			 "longer is cleaned by a live one", m->cluster, seconds);
	else
		snprintf(done, done_size, "cluster %s's auto_cleanup off", m->cluster);
	return rc;
}

static int reset_status(struct store *st, const struct fs_config *cfg, const struct path_match *m,
			const char *buf, size_t size, uid_t uid, char *done, size_t done_size,
			struct cf_err *err)
{
	bool volume = m->rule->kind == NODE_VOLUME_FIELD;
	char status[64], previous[64];
	struct timespec now, clock, bound;
	int rc = admin_parse_status(volume ? ADMIN_VOLUME : ADMIN_SNAPSHOT, buf, size, status, err);

	if (rc)
		return rc;
	/* Liveness at the heartbeat's clock, as the mount shows it. */
	heartbeat_clock(&clock);
	liveness_bound(&clock, cfg->service_down_time, &bound);
	dbtime_now(&now);
	rc = store_reset_status(st, &(struct status_reset){
		.type = volume ? "Volume" : "Snapshot", .id = m->uuid, .status = status,
		.uid = (long long)uid, .now = &now, .bound = &bound }, previous, err);
	snprintf(done, done_size, "%s %s reset from %s to %s", volume ? "volume" : "snapshot", m->uuid,
		 previous, status);
	return rc;
}

/* cinder extend: the new size judged against the size the volume has now
 * (the store checks again under its lock that it still has it); the LV
 * and the LUN grow on the volume's worker's backend thread. */
static int extend(struct store *st, const struct fs_config *cfg, const struct path_match *m,
		  const char *buf, size_t size, char *done, size_t done_size, struct cf_err *err)
{
	struct volume_row row;
	struct timespec now, clock, bound;
	long long gib;
	int rc = store_get_volume_row(st, m->uuid, &row);

	if (rc == -ENOENT)
		return err_set(err, ENOENT, "There is no volume %s.", m->uuid);
	if (rc)
		return err_set(err, -rc, "cannot read volume %s: %s", m->uuid, strerror(-rc));
	rc = admin_parse_extend(buf, size, row.size, &gib, err);
	if (rc)
		return rc;
	/* Liveness at the heartbeat's clock, as the mount shows it. */
	heartbeat_clock(&clock);
	liveness_bound(&clock, cfg->service_down_time, &bound);
	dbtime_now(&now);
	rc = store_request_volume_extend(st, m->uuid, row.size, gib, &now, &bound, err);
	snprintf(done, done_size, "volume %s: extend from %lld to %lld GiB requested", m->uuid,
		 row.size, gib);
	return rc;
}

int actions_write(struct store *st, const struct fs_config *cfg, const struct path_match *m,
		  const char *buf, size_t size, uid_t uid)
{
	struct control_state *errors = errors_of(cfg, m->rule->kind);
	struct cf_err err = { "" };
	char name[NAME_LEN + 64], done[1024] = "", msg[sizeof(err.msg) + sizeof(name)];
	int rc;

	file_name(m, name, sizeof(name));
	if (!actions_writable(m))
		rc = err_set(&err, EACCES, "it is read-only");
	else if (strcmp(m->field->name, "disabled") == 0)
		rc = set_disabled(st, m, buf, size, done, sizeof(done), &err);
	else if (strcmp(m->field->name, "disabled_reason") == 0)
		rc = set_reason(st, m, buf, size, done, sizeof(done), &err);
	else if (strcmp(m->field->name, "auto_cleanup") == 0 && m->rule->kind == NODE_CLUSTER_FIELD)
		rc = set_auto_cleanup(st, m, buf, size, done, sizeof(done), &err);
	else if (strcmp(m->field->name, "status") == 0)
		rc = reset_status(st, cfg, m, buf, size, uid, done, sizeof(done), &err);
	else if (strcmp(m->field->name, "size") == 0 && m->rule->kind == NODE_VOLUME_FIELD)
		rc = extend(st, cfg, m, buf, size, done, sizeof(done), &err);
	else
		rc = err_set(&err, EACCES, "it is read-only");
	if (rc) {
		snprintf(msg, sizeof(msg), "%s: %s", name, err.msg);
		control_error_set(errors, msg);
		log_info("uid %u: refused: %s", (unsigned)uid, msg);
		return rc;
	}
	control_error_set(errors, NULL);
	log_info("uid %u: %s (%s)", (unsigned)uid, done, name);
	/* An extend queued for this worker: its backend thread looks now
	 * (another worker's finds it at its next look). */
	if (strcmp(m->field->name, "size") == 0 && cfg->queued)
		cfg->queued(cfg->queued_ctx);
	return (int)size;
}

int actions_remove_cluster(struct store *st, const struct fs_config *cfg, const char *name,
			   uid_t uid)
{
	struct cf_err err = { "" };
	char msg[sizeof(err.msg) + NAME_LEN + 32];
	struct timespec now;
	int rc;

	dbtime_now(&now);
	rc = store_remove_cluster(st, name, &now, &err);
	if (rc) {
		snprintf(msg, sizeof(msg), "rmdir clusters/%s: %s", name, err.msg);
		control_error_set(cfg->cluster_errors, msg);
		log_info("uid %u: refused: %s", (unsigned)uid, msg);
		return rc;
	}
	control_error_set(cfg->cluster_errors, NULL);
	log_info("uid %u: cluster %s removed", (unsigned)uid, name);
	return 0;
}
