/* The objects' value files: one table of fields per object type, each a row
 * with a getter, and the two renderings (a value file, info.json). Adding a
 * value file is one row and one getter. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "liveness.h"
#include "model.h"

enum object_type { OBJ_NONE, OBJ_WORKER, OBJ_CLUSTER, OBJ_STUCK, OBJ_VOLUME, OBJ_SNAPSHOT };

/* A cluster as the mount shows it: the row and its members' summary. */
struct cluster_view {
	struct cluster row;
	struct liveness_cluster summary;
};

/* A worker as the mount shows it: its row and why it was disabled. */
struct worker_view {
	struct service row; /* first: a struct service * is one too */
	char disabled_reason[NAME_LEN];
};

/* What a getter needs besides the object: up/down is computed at read. */
struct view_ctx {
	struct timespec now;
	int down_time;
};

enum value_kind { VAL_NULL, VAL_TEXT, VAL_INT, VAL_BOOL, VAL_TIME };

struct value {
	enum value_kind kind;
	const char *text; /* VAL_TEXT, VAL_TIME (stored form) */
	long long num;    /* VAL_INT */
	bool flag;        /* VAL_BOOL */
};

struct field {
	const char *name;
	struct value (*get)(const void *obj, const struct view_ctx *ctx);
	bool json_only; /* in info.json, not a file of its own */
	bool writable;  /* an admin action: the file takes writes (fs/admin.c) */
};

#define INFO_JSON "info.json"

/* The fields of an object type, ended by a row with a NULL name. */
const struct field *view_fields(enum object_type type);

/* The value file named `name` of an object type, or info.json (returned as
 * view_info_json), or NULL. */
const struct field *view_find_field(enum object_type type, const char *name);
extern const struct field view_info_json;

/* Render a field's file (the value and a newline) or, for view_info_json,
 * the object's JSON. Returns a malloc'd buffer in *out and its length, or
 * -ENOMEM. */
int view_render(enum object_type type, const struct field *f, const void *obj,
		const struct view_ctx *ctx, char **out, size_t *len);

/* workers/<id>/capacity: its last measurement as JSON (Cinder's get-pools
 * --detail names: total_capacity_gb, free_capacity_gb,
 * allocated_capacity_gb, provisioned_capacity_gb), or "{}" when c is
 * NULL (it never measured). malloc'd. */
struct store_capacity;
int view_render_capacity(const struct store_capacity *c, char **out, size_t *len);

/* volumes/<uuid>/connection: what Cinder's initialize_connection returns
 * for an iSCSI export (targets/iscsi.py's properties, and the manager's
 * access_mode and qos_specs), from provider_location and provider_auth
 * as Cinder parses them. -ENOENT when the volume has no export (no
 * provider_location), -EINVAL when provider_location is not "ip:port,tid
 * IQN [lun]" or provider_auth not "method user secret". malloc'd. */
struct volume_connection;
int view_render_connection(const struct volume_connection *c, char **out, size_t *len);

/* The time of the object's last change, for mtime. */
struct timespec view_mtime(enum object_type type, const void *obj);
/* When a row with these times last changed: its updated_at, or its
 * created_at when it has none (what view_mtime gives a stuck resource). */
struct timespec view_last_change(const char *updated_at, const char *created_at);
