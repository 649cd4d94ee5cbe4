/* The LVM side of the storage driver. Messages are LVM's own (its last
 * stderr line), with the errno mapped where an operator's action differs:
 * no space, busy, not supported on this kernel. */
#include "lvm.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "filter.h"

#define VOLUME_PREFIX "volume-"
#define SNAPSHOT_PREFIX "_snapshot-"

/* Names that reach a command line are canonical UUIDs, nothing else. */
static int check_uuid(const char *uuid, struct cf_err *err)
{
	char canonical[UUID_LEN];

	if (!filter_canonical_uuid(uuid, canonical) || strcmp(canonical, uuid) != 0)
		return err_set(err, EINVAL, "'%s' is not a canonical UUID; no LVM command run", uuid);
	return 0;
}

static int run(struct lvm *l, const char *const argv[], struct run_result *res, struct cf_err *err)
{
	return l->runner.run(l->runner.ctx, argv, res, err);
}

/* The volume group's lock, around every command on it (lvm.h):
 * its name in name. A lock that cannot be taken is -ENOLCK, whatever the
 * reason, so that no caller mistakes it for LVM's own answer (-EBUSY is
 * "has snapshots" to a delete). */
static int lock_vg(struct lvm *l, char *name, size_t size, struct cf_err *err)
{
	struct cf_err why = { "" };
	int rc;

	snprintf(name, size, "lvm:%s", l->vg);
	if (!l->lock.lock)
		return 0;
	rc = l->lock.lock(l->lock.ctx, name, &why);
	if (rc == 0)
		return 0;
	return err_set(err, ENOLCK, "volume group %s: no LVM command run: the lock %s that its "
		       "hosts share cannot be taken: %.700s", l->vg, name,
		       why.msg[0] ? why.msg : strerror(rc < 0 ? -rc : EIO));
}

static void unlock_vg(struct lvm *l, const char *name)
{
	if (l->lock.lock && l->lock.unlock)
		l->lock.unlock(l->lock.ctx, name);
}

/* One command, under the lock; when the lock is refused, res is empty
 * (nothing ran). */
static int run_locked(struct lvm *l, const char *const argv[], struct run_result *res,
		      struct cf_err *err)
{
	char name[NAME_LEN + 8];
	int rc = lock_vg(l, name, sizeof(name), err);

	if (rc) {
		*res = (struct run_result){ -1, NULL, NULL };
		return rc;
	}
	rc = run(l, argv, res, err);
	unlock_vg(l, name);
	return rc;
}

static uint64_t parse_bytes(const char *text)
{
	return text ? strtoull(text, NULL, 10) : 0;
}

static const char *field(json_t *obj, const char *key)
{
	const char *v = json_string_value(json_object_get(obj, key));
	return v ? v : "";
}

int lvm_parse_lvs(const char *json, lvm_lv_fn fn, void *ctx, struct cf_err *err)
{
	json_error_t jerr;
	json_t *root = json_loads(json, 0, &jerr), *report, *lvs, *lv;
	size_t i;
	int rc = 0;

	if (!root)
		return err_set(err, EIO, "cannot read lvs output: %s (line %d)", jerr.text, jerr.line);
	report = json_array_get(json_object_get(root, "report"), 0);
	lvs = json_object_get(report, "lv");
	if (!json_is_array(lvs)) {
		json_decref(root);
		return err_set(err, EIO, "cannot read lvs output: no report[0].lv array");
	}
	json_array_foreach(lvs, i, lv) {
		struct lv_info info;
		memset(&info, 0, sizeof(info));
		snprintf(info.name, sizeof(info.name), "%s", field(lv, "lv_name"));
		snprintf(info.origin, sizeof(info.origin), "%s", field(lv, "origin"));
		snprintf(info.attr, sizeof(info.attr), "%s", field(lv, "lv_attr"));
		info.size = parse_bytes(field(lv, "lv_size"));
		if ((rc = fn(ctx, &info)) != 0)
			break;
	}
	json_decref(root);
	return rc;
}

/* lvs, the lock already held. */
static int list_lvs(struct lvm *l, lvm_lv_fn fn, void *ctx, struct cf_err *err)
{
	const char *const argv[] = { "lvs", "--reportformat", "json", "--units", "b", "--nosuffix",
				     "-o", "lv_name,lv_size,origin,lv_attr", l->vg, NULL };
	struct run_result res;
	int rc = run(l, argv, &res, err);

	if (rc == 0)
		rc = lvm_parse_lvs(res.out, fn, ctx, err);
	else if (res.err && strstr(res.err, "not found"))
		rc = err_set(err, ENODEV, "volume group %s not found", l->vg);
	run_result_free(&res);
	return rc;
}

int lvm_list(struct lvm *l, lvm_lv_fn fn, void *ctx, struct cf_err *err)
{
	char lock[NAME_LEN + 8];
	int rc = lock_vg(l, lock, sizeof(lock), err);

	if (rc)
		return rc;
	rc = list_lvs(l, fn, ctx, err);
	unlock_vg(l, lock);
	return rc;
}

int lvm_vg_space(struct lvm *l, uint64_t *size, uint64_t *free_bytes, struct cf_err *err)
{
	const char *const argv[] = { "vgs", "--reportformat", "json", "--units", "b", "--nosuffix",
				     "-o", "vg_name,vg_size,vg_free", l->vg, NULL };
	struct run_result res;
	json_t *root, *vg;
	int rc = run_locked(l, argv, &res, err);

	if (rc) {
		if (res.err && strstr(res.err, "not found"))
			rc = err_set(err, ENODEV, "volume group %s not found", l->vg);
		run_result_free(&res);
		return rc;
	}
	root = json_loads(res.out, 0, NULL);
	vg = json_array_get(json_object_get(json_array_get(json_object_get(root, "report"), 0), "vg"), 0);
	if (!vg) {
		rc = err_set(err, EIO, "cannot read vgs output for %s", l->vg);
	} else {
		*size = parse_bytes(field(vg, "vg_size"));
		*free_bytes = parse_bytes(field(vg, "vg_free"));
	}
	json_decref(root);
	run_result_free(&res);
	return rc;
}

static void lv_path(const struct lvm *l, const char *prefix, const char *uuid, char *out, size_t size)
{
	snprintf(out, size, "%s/%s%s", l->vg, prefix, uuid);
}

/* LVM's words decide the errno where the operator's next step differs. */
static int map_lvcreate_error(int rc, const struct run_result *res, struct cf_err *err)
{
	if (rc == -EIO && res->err && strstr(res->err, "insufficient free space"))
		return -ENOSPC;
	if (rc == -EIO && res->err && strstr(res->err, "device-mapper"))
		return -EOPNOTSUPP;
	(void)err;
	return rc;
}

int lvm_create_volume(struct lvm *l, const char *uuid, long long size_gib, struct cf_err *err)
{
	char name[NAME_LEN], size[32];
	struct run_result res;
	int rc = check_uuid(uuid, err);

	if (rc)
		return rc;
	if (size_gib <= 0)
		return err_set(err, EINVAL, "volume size must be at least 1 GiB, not %lld", size_gib);
	snprintf(name, sizeof(name), VOLUME_PREFIX "%s", uuid);
	snprintf(size, sizeof(size), "%lldg", size_gib);
	{
		const char *const argv[] = { "lvcreate", "-n", name, "-L", size, l->vg, NULL };
		rc = run_locked(l, argv, &res, err);
	}
	rc = map_lvcreate_error(rc, &res, err);
	run_result_free(&res);
	return rc;
}

int lvm_extend_volume(struct lvm *l, const char *uuid, long long size_gib, struct cf_err *err)
{
	char path[NAME_LEN + UUID_LEN + 16], size[32];
	struct run_result res;
	int rc = check_uuid(uuid, err);

	if (rc)
		return rc;
	lv_path(l, VOLUME_PREFIX, uuid, path, sizeof(path));
	snprintf(size, sizeof(size), "%lldg", size_gib);
	{
		const char *const argv[] = { "lvextend", "-L", size, path, NULL };
		rc = run_locked(l, argv, &res, err);
	}
	rc = map_lvcreate_error(rc, &res, err);
	run_result_free(&res);
	return rc;
}

struct existing {
	char (*names)[NAME_LEN];
	size_t count, cap;
	char busy[NAME_LEN * 2 + 16]; /* a wanted LV that is an origin */
	const char *const *wanted;
	size_t wanted_count;
};

static bool is_wanted(const struct existing *e, const char *lv_name)
{
	for (size_t i = 0; i < e->wanted_count; i++)
		if (strncmp(lv_name, VOLUME_PREFIX, strlen(VOLUME_PREFIX)) == 0 &&
		    strcmp(lv_name + strlen(VOLUME_PREFIX), e->wanted[i]) == 0)
			return true;
	return false;
}

static int note_lv(void *ctx, const struct lv_info *lv)
{
	struct existing *e = ctx;

	if (lv->origin[0] && is_wanted(e, lv->origin) && !e->busy[0])
		snprintf(e->busy, sizeof(e->busy), "%s (origin of %s)", lv->origin, lv->name);
	if (!is_wanted(e, lv->name))
		return 0;
	if (array_reserve((void **)&e->names, &e->cap, e->count + 1, sizeof(*e->names)) != 0)
		return -ENOMEM;
	snprintf(e->names[e->count++], NAME_LEN, "%s", lv->name);
	return 0;
}

int lvm_delete_volumes(struct lvm *l, const char *const uuids[], size_t count, struct cf_err *err)
{
	struct existing e = { .wanted = uuids, .wanted_count = count };
	const char **argv = NULL;
	char (*paths)[NAME_LEN * 2] = NULL;
	char lock[NAME_LEN + 8];
	struct run_result res;
	int rc = 0;

	for (size_t i = 0; i < count && rc == 0; i++)
		rc = check_uuid(uuids[i], err);
	if (rc || count == 0)
		return rc;
	/* The lvs that decides the lvremove reads under the same lock: what
	 * it finds (which exist, none an origin) still holds at the remove. */
	rc = lock_vg(l, lock, sizeof(lock), err);
	if (rc)
		return rc;
	/* One lvs for all of them: which exist, and whether one is busy. */
	rc = list_lvs(l, note_lv, &e, err);
	if (rc)
		goto out;
	if (e.busy[0]) {
		rc = err_set(err, EBUSY, "logical volume %s/%s has snapshots; not removed", l->vg, e.busy);
		goto out;
	}
	if (e.count == 0)
		goto out; /* all gone already: removed */
	argv = calloc(e.count + 3, sizeof(*argv));
	paths = calloc(e.count, sizeof(*paths));
	if (!argv || !paths) {
		rc = err_set(err, ENOMEM, "out of memory");
		goto out;
	}
	argv[0] = "lvremove";
	argv[1] = "-f";
	for (size_t i = 0; i < e.count; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s/%s", l->vg, e.names[i]);
		argv[2 + i] = paths[i];
	}
	rc = run(l, argv, &res, err);
	run_result_free(&res);
out:
	unlock_vg(l, lock);
	free(argv);
	free(paths);
	free(e.names);
	return rc;
}

int lvm_create_snapshot(struct lvm *l, const char *snapshot_uuid, const char *volume_uuid,
			long long size_gib, struct cf_err *err)
{
	char name[NAME_LEN], origin[NAME_LEN + UUID_LEN + 16], size[32];
	struct run_result res;
	int rc = check_uuid(snapshot_uuid, err);

	if (!rc)
		rc = check_uuid(volume_uuid, err);
	if (rc)
		return rc;
	snprintf(name, sizeof(name), SNAPSHOT_PREFIX "%s", snapshot_uuid);
	lv_path(l, VOLUME_PREFIX, volume_uuid, origin, sizeof(origin));
	snprintf(size, sizeof(size), "%lldg", size_gib);
	{
		const char *const argv[] = { "lvcreate", "-s", "-n", name, "-L", size, origin, NULL };
		rc = run_locked(l, argv, &res, err);
	}
	rc = map_lvcreate_error(rc, &res, err);
	if (rc == -EOPNOTSUPP && err) {
		char words[sizeof(err->msg)];
		snprintf(words, sizeof(words), "%s", err->msg);
		err_set(err, EOPNOTSUPP, "snapshots need device-mapper, which this kernel does not "
			"have: %.900s", words);
	}
	run_result_free(&res);
	return rc;
}

int lvm_delete_snapshot(struct lvm *l, const char *snapshot_uuid, struct cf_err *err)
{
	char path[NAME_LEN + UUID_LEN + 16];
	struct run_result res;
	int rc = check_uuid(snapshot_uuid, err);

	if (rc)
		return rc;
	lv_path(l, SNAPSHOT_PREFIX, snapshot_uuid, path, sizeof(path));
	{
		const char *const argv[] = { "lvremove", "-f", path, NULL };
		rc = run_locked(l, argv, &res, err);
	}
	/* Already gone counts as removed (LVM exits 5 with "Failed to find"). */
	if (rc == -EIO && res.err && strstr(res.err, "Failed to find logical volume")) {
		err_clear(err);
		rc = 0;
	}
	run_result_free(&res);
	return rc;
}
