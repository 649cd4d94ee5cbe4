/* The path table: every path of the mount, as a pattern, with the kind of
 * node it names. getattr, readdir, open and read all resolve paths here,
 * once, into a struct path_match. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "model.h"
#include "view.h"

enum node_kind {
	NODE_ROOT,
	NODE_README,
	NODE_METRICS,
	NODE_STATUS,
	NODE_WORKERS,
	NODE_WORKERS_ERROR,
	NODE_WORKER,
	NODE_WORKER_CAPACITY,
	NODE_WORKER_FIELD,
	NODE_CLUSTERS,
	NODE_CLUSTERS_ERROR,
	NODE_CLUSTER,
	NODE_CLUSTER_FIELD,
	NODE_CLUSTER_WORKERS,
	NODE_CLUSTER_WORKER,
	NODE_STUCK,
	NODE_STUCK_TYPE,
	NODE_STUCK_RESOURCE,
	NODE_STUCK_FIELD,
	NODE_VOLUMES,
	NODE_VOLUMES_CREATE,
	NODE_VOLUMES_ERROR,
	NODE_VOLUME,
	NODE_VOLUME_CONNECTION,
	NODE_VOLUME_FIELD,
	NODE_SNAPSHOTS,
	NODE_SNAPSHOTS_CREATE,
	NODE_SNAPSHOTS_ERROR,
	NODE_SNAPSHOT,
	NODE_SNAPSHOT_FIELD,
	NODE_CLEANUP,
	NODE_CLEANUP_REQUEST,
	NODE_CLEANUP_RESULT,
	NODE_CLEANUP_ERROR,
	NODE_CLEANUP_PREVIEW,
	NODE_HISTORY,
	NODE_HISTORY_LATEST,
	NODE_HISTORY_ENTRY,
	NODE_HISTORY_REQUEST,
	NODE_HISTORY_RESULT,
	NODE_HISTORY_PROGRESS,
	NODE_HISTORY_WAIT,
	NODE_HISTORY_CANCEL,
	NODE_CLEANUP_TEMP,
};

enum node_type { NT_DIR, NT_FILE, NT_LINK };

struct path_rule {
	const char *pattern;     /* '/'-separated; %id %name %type %uuid %field %req %temp capture */
	enum node_kind kind;
	enum node_type type;
	enum object_type object; /* whose fields %field names */
};

struct path_match {
	const struct path_rule *rule;
	int64_t worker_id;            /* %id */
	char cluster[NAME_LEN];       /* %name */
	const char *stuck_type;       /* %type: "Volume" or "Snapshot" */
	const char *stuck_dir;        /* %type as in the path: "volume" or "snapshot" */
	char uuid[UUID_LEN];          /* %uuid */
	const struct field *field;    /* %field */
	int64_t request_id;           /* %req */
	char temp[NAME_LEN];          /* %temp: a scratch entry's name */
};

/* History entries are listed zero-padded, so that ls sorts them in order
 * (newest last); lookups take the number with or without the zeros. */
#define HISTORY_NAME_WIDTH 8

extern const struct path_rule path_rules[];
extern const int path_rules_count;

/* Resolve a path; 0, or -ENOENT when no pattern takes it (-ENAMETOOLONG for
 * an over-long component). Says nothing of whether the object exists. */
int paths_match(const char *path, struct path_match *m);

/* Whether a name may stand in a directory for a capture: readdir lists only
 * names that paths_match would take back. */
bool paths_valid_cluster_name(const char *name);
bool paths_valid_uuid(const char *text);

/* The stuck resource types, as directory names and as workers.resource_type. */
struct stuck_type {
	const char *dir;
	const char *type;
};
extern const struct stuck_type stuck_types[];
extern const int stuck_types_count;

/* The literal children of a directory rule (e.g. README under the root),
 * one at a time: returns the i-th child's rule and name, or NULL. */
const struct path_rule *paths_literal_child(const struct path_rule *dir, int i, const char **name);
