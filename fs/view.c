/* Field tables and rendering. Values are typed here and rendered twice from
 * the same getter: as a value file (one value and a newline; booleans
 * true/false, times ISO 8601, missing empty) and as info.json. */
#include "view.h"

#include "store.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct value v_text(const char *text)
{
	return (struct value){ .kind = (text && *text) ? VAL_TEXT : VAL_NULL, .text = text };
}

static struct value v_time(const char *text)
{
	return (struct value){ .kind = (text && *text) ? VAL_TIME : VAL_NULL, .text = text };
}

static struct value v_int(long long num)
{
	return (struct value){ .kind = VAL_INT, .num = num };
}

static struct value v_bool(bool flag)
{
	return (struct value){ .kind = VAL_BOOL, .flag = flag };
}

/* Workers (services rows). */
#define SVC(obj) ((const struct service *)(obj))
static struct value worker_id(const void *o, const struct view_ctx *c) { (void)c; return v_int(SVC(o)->id); }
static struct value worker_host(const void *o, const struct view_ctx *c) { (void)c; return v_text(SVC(o)->host); }
static struct value worker_binary(const void *o, const struct view_ctx *c) { (void)c; return v_text(SVC(o)->binary); }
static struct value worker_cluster(const void *o, const struct view_ctx *c) { (void)c; return v_text(SVC(o)->cluster_name); }
static struct value worker_disabled(const void *o, const struct view_ctx *c) { (void)c; return v_bool(SVC(o)->disabled); }
static struct value worker_updated(const void *o, const struct view_ctx *c) { (void)c; return v_time(SVC(o)->updated_at); }
static struct value worker_version(const void *o, const struct view_ctx *c) { (void)c; return v_text(SVC(o)->version); }
/* Loaded whole (a worker_view) only where its files are rendered. */
static struct value worker_reason(const void *o, const struct view_ctx *c)
{
	(void)c;
	return v_text(((const struct worker_view *)o)->disabled_reason);
}
static struct value worker_is_up(const void *o, const struct view_ctx *c)
{
	return v_bool(liveness_worker_is_up(SVC(o)->updated_at, &c->now, c->down_time));
}

static const struct field worker_fields[] = {
	{ "id", worker_id, true, false },
	{ "host", worker_host, false, false },
	{ "binary", worker_binary, false, false },
	{ "cluster_name", worker_cluster, false, false },
	{ "disabled", worker_disabled, false, true },
	{ "disabled_reason", worker_reason, false, true },
	{ "is_up", worker_is_up, false, false },
	{ "updated_at", worker_updated, false, false },
	{ "version", worker_version, false, false },
	{ NULL, NULL, false, false },
};

/* Clusters, with their members' summary. */
#define CLV(obj) ((const struct cluster_view *)(obj))
static struct value cluster_name(const void *o, const struct view_ctx *c) { (void)c; return v_text(CLV(o)->row.name); }
static struct value cluster_binary(const void *o, const struct view_ctx *c) { (void)c; return v_text(CLV(o)->row.binary); }
static struct value cluster_is_up(const void *o, const struct view_ctx *c) { (void)c; return v_bool(CLV(o)->summary.is_up); }
static struct value cluster_disabled(const void *o, const struct view_ctx *c) { (void)c; return v_bool(CLV(o)->row.disabled); }
static struct value cluster_hosts(const void *o, const struct view_ctx *c) { (void)c; return v_int(CLV(o)->summary.num_hosts); }
static struct value cluster_down(const void *o, const struct view_ctx *c) { (void)c; return v_int(CLV(o)->summary.num_down_hosts); }
static struct value cluster_beat(const void *o, const struct view_ctx *c) { (void)c; return v_time(CLV(o)->summary.last_heartbeat); }
static struct value cluster_reason(const void *o, const struct view_ctx *c) { (void)c; return v_text(CLV(o)->row.disabled_reason); }
static struct value cluster_auto(const void *o, const struct view_ctx *c) { (void)c; return v_int(CLV(o)->row.auto_cleanup); }

static const struct field cluster_fields[] = {
	{ "name", cluster_name, true, false },
	{ "binary", cluster_binary, false, false },
	{ "is_up", cluster_is_up, false, false },
	{ "disabled", cluster_disabled, false, true },
	{ "disabled_reason", cluster_reason, false, true },
	{ "num_hosts", cluster_hosts, false, false },
	{ "num_down_hosts", cluster_down, false, false },
	{ "auto_cleanup", cluster_auto, false, true },
	{ "last_heartbeat", cluster_beat, true, false },
	{ NULL, NULL, false, false },
};

/* Stuck resources (workers rows whose owner is down). */
#define STK(obj) ((const struct stuck *)(obj))
static struct value stuck_type(const void *o, const struct view_ctx *c) { (void)c; return v_text(STK(o)->resource_type); }
static struct value stuck_id(const void *o, const struct view_ctx *c) { (void)c; return v_text(STK(o)->resource_id); }
static struct value stuck_status(const void *o, const struct view_ctx *c) { (void)c; return v_text(STK(o)->status); }
static struct value stuck_worker(const void *o, const struct view_ctx *c) { (void)c; return v_int(STK(o)->service_id); }
static struct value stuck_host(const void *o, const struct view_ctx *c) { (void)c; return v_text(STK(o)->host); }
static struct value stuck_cluster(const void *o, const struct view_ctx *c) { (void)c; return v_text(STK(o)->cluster_name); }
static struct value stuck_updated(const void *o, const struct view_ctx *c) { (void)c; return v_time(STK(o)->updated_at); }

static const struct field stuck_fields[] = {
	{ "resource_type", stuck_type, true, false },
	{ "resource_id", stuck_id, true, false },
	{ "status", stuck_status, false, false },
	{ "worker_id", stuck_worker, false, false },
	{ "host", stuck_host, false, false },
	{ "cluster_name", stuck_cluster, false, false },
	{ "updated_at", stuck_updated, false, false },
	{ NULL, NULL, false, false },
};

/* Volumes and snapshots. */
#define VOL(obj) ((const struct volume_row *)(obj))
static struct value vol_id(const void *o, const struct view_ctx *c) { (void)c; return v_text(VOL(o)->id); }
static struct value vol_name(const void *o, const struct view_ctx *c) { (void)c; return v_text(VOL(o)->display_name); }
static struct value vol_size(const void *o, const struct view_ctx *c) { (void)c; return v_int(VOL(o)->size); }
static struct value vol_status(const void *o, const struct view_ctx *c) { (void)c; return v_text(VOL(o)->status); }
static struct value vol_volume(const void *o, const struct view_ctx *c) { (void)c; return v_text(VOL(o)->volume_id); }
static struct value vol_location(const void *o, const struct view_ctx *c) { (void)c; return v_text(VOL(o)->provider_location); }
static struct value vol_iqn(const void *o, const struct view_ctx *c) { (void)c; return v_text(VOL(o)->target_iqn); }
static struct value vol_last_error(const void *o, const struct view_ctx *c) { (void)c; return v_text(VOL(o)->last_error); }
static struct value vol_previous(const void *o, const struct view_ctx *c) { (void)c; return v_text(VOL(o)->previous_status); }
static struct value vol_reset_at(const void *o, const struct view_ctx *c) { (void)c; return v_time(VOL(o)->status_reset_at); }
static struct value vol_reset_by(const void *o, const struct view_ctx *c)
{
	(void)c;
	return VOL(o)->status_reset_by >= 0 ? v_int(VOL(o)->status_reset_by)
					    : (struct value){ .kind = VAL_NULL };
}
static struct value vol_worker(const void *o, const struct view_ctx *c)
{
	(void)c;
	return VOL(o)->worker_id ? v_int(VOL(o)->worker_id) : (struct value){ .kind = VAL_NULL };
}

static const struct field volume_fields[] = {
	{ "id", vol_id, true, false },
	{ "name", vol_name, false, false },
	{ "size", vol_size, false, true }, /* extend */
	{ "status", vol_status, false, true },
	{ "previous_status", vol_previous, false, false },
	{ "status_reset_by", vol_reset_by, false, false },
	{ "status_reset_at", vol_reset_at, false, false },
	{ "worker_id", vol_worker, false, false },
	{ "provider_location", vol_location, false, false },
	{ "target_iqn", vol_iqn, false, false },
	{ "last_error", vol_last_error, false, false },
	{ NULL, NULL, false, false },
};

static const struct field snapshot_fields[] = {
	{ "id", vol_id, true, false },
	{ "name", vol_name, false, false },
	{ "size", vol_size, false, false },
	{ "status", vol_status, false, true },
	{ "previous_status", vol_previous, false, false },
	{ "status_reset_by", vol_reset_by, false, false },
	{ "status_reset_at", vol_reset_at, false, false },
	{ "worker_id", vol_worker, false, false },
	{ "volume_id", vol_volume, false, false },
	{ "provider_location", vol_location, false, false },
	{ "last_error", vol_last_error, false, false },
	{ NULL, NULL, false, false },
};

const struct field view_info_json = { INFO_JSON, NULL, false, false };

const struct field *view_fields(enum object_type type)
{
	switch (type) {
	case OBJ_WORKER:
		return worker_fields;
	case OBJ_CLUSTER:
		return cluster_fields;
	case OBJ_STUCK:
		return stuck_fields;
	case OBJ_VOLUME:
		return volume_fields;
	case OBJ_SNAPSHOT:
		return snapshot_fields;
	case OBJ_NONE:
		break;
	}
	return NULL;
}

const struct field *view_find_field(enum object_type type, const char *name)
{
	const struct field *f = view_fields(type);

	if (!f)
		return NULL;
	if (strcmp(name, INFO_JSON) == 0)
		return &view_info_json;
	for (; f->name; f++)
		if (!f->json_only && strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

/* A time that cannot be read is shown as stored, rather than hidden. */
static const char *time_text(const char *stored, char iso[DBTIME_LEN])
{
	return dbtime_to_iso(stored, iso) ? iso : stored;
}

static int render_value(struct value v, char **out, size_t *len)
{
	char iso[DBTIME_LEN];
	int n = -1;

	switch (v.kind) {
	case VAL_NULL:
		n = asprintf(out, "\n");
		break;
	case VAL_TEXT:
		n = asprintf(out, "%s\n", v.text);
		break;
	case VAL_INT:
		n = asprintf(out, "%lld\n", v.num);
		break;
	case VAL_BOOL:
		n = asprintf(out, "%s\n", v.flag ? "true" : "false");
		break;
	case VAL_TIME:
		n = asprintf(out, "%s\n", time_text(v.text, iso));
		break;
	}
	if (n < 0)
		return -ENOMEM;
	*len = (size_t)n;
	return 0;
}

static json_t *value_json(struct value v)
{
	char iso[DBTIME_LEN];

	switch (v.kind) {
	case VAL_NULL:
		return json_null();
	case VAL_TEXT:
		return json_string(v.text);
	case VAL_INT:
		return json_integer(v.num);
	case VAL_BOOL:
		return json_boolean(v.flag);
	case VAL_TIME:
		return json_string(time_text(v.text, iso));
	}
	return json_null();
}

static int render_json(const struct field *fields, const void *obj, const struct view_ctx *ctx,
		       char **out, size_t *len)
{
	json_t *root = json_object();
	char *text;

	if (!root)
		return -ENOMEM;
	for (const struct field *f = fields; f->name; f++) {
		/* json_string refuses invalid UTF-8: such a value becomes null
		 * rather than breaking the whole file. */
		json_t *v = value_json(f->get(obj, ctx));
		if (json_object_set_new(root, f->name, v ? v : json_null()) != 0) {
			json_decref(root);
			return -ENOMEM;
		}
	}
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text)
		return -ENOMEM;
	*len = strlen(text);
	/* json_dumps gives no final newline; every file here ends with one. */
	*out = realloc(text, *len + 2);
	if (!*out) {
		free(text);
		return -ENOMEM;
	}
	(*out)[(*len)++] = '\n';
	(*out)[*len] = '\0';
	return 0;
}

int view_render(enum object_type type, const struct field *f, const void *obj,
		const struct view_ctx *ctx, char **out, size_t *len)
{
	if (f == &view_info_json)
		return render_json(view_fields(type), obj, ctx, out, len);
	return render_value(f->get(obj, ctx), out, len);
}

/* GiB with two decimals, as Cinder rounds them. */
static json_t *gib(int64_t bytes)
{
	return json_real((double)((bytes * 100 + (1LL << 29)) >> 30) / 100.0);
}

int view_render_capacity(const struct store_capacity *c, char **out, size_t *len)
{
	char iso[DBTIME_LEN];
	json_t *root;
	char *text;

	if (!c) {
		*out = strdup("{}\n");
		*len = 3;
		return *out ? 0 : -ENOMEM;
	}
	root = json_pack("{s:s, s:o, s:o, s:I, s:o, s:I, s:I, s:I, s:I, s:s}",
			 "volume_group", c->volume_group,
			 "total_capacity_gb", gib(c->size_bytes),
			 "free_capacity_gb", gib(c->free_bytes),
			 "allocated_capacity_gb", (json_int_t)c->allocated_gib,
			 "provisioned_capacity_gb", gib(c->provisioned_bytes),
			 "total_bytes", (json_int_t)c->size_bytes,
			 "free_bytes", (json_int_t)c->free_bytes,
			 "provisioned_bytes", (json_int_t)c->provisioned_bytes,
			 "volumes", (json_int_t)c->volume_count,
			 "measured_at", time_text(c->measured_at, iso));
	if (!root)
		return -ENOMEM;
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
	json_decref(root);
	if (!text)
		return -ENOMEM;
	*len = strlen(text);
	*out = realloc(text, *len + 2);
	if (!*out) {
		free(text);
		return -ENOMEM;
	}
	(*out)[(*len)++] = '\n';
	(*out)[*len] = '\0';
	return 0;
}

/* Cinder's LVM driver with tgtadm counts LUNs from 1 (LUN 0 is the
 * target's controller): a provider_location without a LUN means 1. */
#define TGT_DEFAULT_LUN 1

int view_render_connection(const struct volume_connection *c, char **out, size_t *len)
{
	char portals[NAME_LEN], iqn[NAME_LEN], lun_text[32] = "", extra[2];
	char method[NAME_LEN], user[NAME_LEN], secret[NAME_LEN];
	json_t *root, *data;
	char *text, *end;
	long lun = TGT_DEFAULT_LUN;
	int n;

	if (!c->provider_location[0])
		return -ENOENT;
	/* "ip:port[;ip:port...],tid IQN lun": the first portal is target_portal. */
	n = sscanf(c->provider_location, "%255s %255s %31s %1s", portals, iqn, lun_text, extra);
	if (n < 2 || n > 3)
		return -EINVAL;
	portals[strcspn(portals, ",;")] = '\0';
	if (!portals[0])
		return -EINVAL;
	if (n == 3) {
		errno = 0;
		lun = strtol(lun_text, &end, 10);
		if (errno || *end || lun < 0 || lun > 16383)
			return -EINVAL;
	}
	data = json_pack("{s:b, s:s, s:s, s:I, s:s}", "target_discovered", 0, "target_portal", portals,
			 "target_iqn", iqn, "target_lun", (json_int_t)lun, "volume_id", c->volume_id);
	if (!data)
		return -ENOMEM;
	if (c->provider_auth[0]) {
		if (sscanf(c->provider_auth, "%255s %255s %255s %1s", method, user, secret, extra) != 3) {
			json_decref(data);
			return -EINVAL;
		}
		if (json_object_set_new(data, "auth_method", json_string(method)) ||
		    json_object_set_new(data, "auth_username", json_string(user)) ||
		    json_object_set_new(data, "auth_password", json_string(secret))) {
			json_decref(data);
			return -ENOMEM;
		}
	}
	/* No encryption, read-write and no QoS: what Cinder's manager adds
	 * for a volume without an encryption key, access_mode metadata or
	 * qos_specs. */
	if (json_object_set_new(data, "encrypted", json_false()) ||
	    json_object_set_new(data, "access_mode", json_string("rw")) ||
	    json_object_set_new(data, "qos_specs", json_null())) {
		json_decref(data);
		return -ENOMEM;
	}
	root = json_pack("{s:s, s:o}", "driver_volume_type", "iscsi", "data", data);
	if (!root)
		return -ENOMEM;
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text)
		return -ENOMEM;
	*len = strlen(text);
	*out = realloc(text, *len + 2);
	if (!*out) {
		free(text);
		return -ENOMEM;
	}
	(*out)[(*len)++] = '\n';
	(*out)[*len] = '\0';
	return 0;
}

/* An object last changed at its updated_at; created_at when it has none. */
struct timespec view_last_change(const char *updated_at, const char *created_at)
{
	struct timespec t;

	if (updated_at && dbtime_parse(updated_at, &t) == 0)
		return t;
	if (created_at && dbtime_parse(created_at, &t) == 0)
		return t;
	return (struct timespec){ 0, 0 };
}

static struct timespec later(struct timespec a, struct timespec b)
{
	return (b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec > a.tv_nsec)) ? b : a;
}

struct timespec view_mtime(enum object_type type, const void *obj)
{
	switch (type) {
	case OBJ_WORKER:
		return view_last_change(SVC(obj)->updated_at, SVC(obj)->created_at);
	case OBJ_CLUSTER:
		/* A cluster's values change with its members' heartbeats. */
		return later(view_last_change(CLV(obj)->row.updated_at, CLV(obj)->row.created_at),
			     view_last_change(CLV(obj)->row.last_heartbeat, NULL));
	case OBJ_STUCK:
		return view_last_change(STK(obj)->updated_at, STK(obj)->created_at);
	case OBJ_VOLUME:
	case OBJ_SNAPSHOT:
		return view_last_change(VOL(obj)->updated_at, VOL(obj)->created_at);
	case OBJ_NONE:
		break;
	}
	return (struct timespec){ 0, 0 };
}
