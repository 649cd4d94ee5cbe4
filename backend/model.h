/* The objects the store hands out: plain copies of rows, sized as Cinder's
 * columns (String(255)), so that callers need not free anything. An empty
 * string stands for NULL. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "dbtime.h"

#define NAME_LEN 256  /* Cinder's String(255) and a NUL */
#define UUID_LEN 37   /* canonical UUID text and a NUL */

#define BINARY_VOLUME "cinder-volume"
#define BINARY_SCHEDULER "cinder-scheduler"

struct service {
	int64_t id;
	char host[NAME_LEN];
	char binary[NAME_LEN];
	char cluster_name[NAME_LEN];
	bool disabled;
	char created_at[DBTIME_LEN];
	char updated_at[DBTIME_LEN];
	char version[NAME_LEN]; /* rpc_current_version */
};

struct cluster {
	int64_t id;
	char name[NAME_LEN];
	char binary[NAME_LEN];
	bool disabled;
	char disabled_reason[NAME_LEN];
	char created_at[DBTIME_LEN];
	char updated_at[DBTIME_LEN];
	char last_heartbeat[DBTIME_LEN]; /* max updated_at of its live members */
	int64_t auto_cleanup;            /* seconds a member may be down before it is cleaned; 0 off */
};

/* A workers row whose owner is down: a resource left in an ongoing status. */
struct stuck {
	char resource_type[16]; /* "Volume" or "Snapshot" */
	char resource_id[NAME_LEN];
	char status[NAME_LEN];
	int64_t service_id;
	char host[NAME_LEN];          /* the owner's, "" when its row is gone */
	char cluster_name[NAME_LEN];  /* the owner's */
	char created_at[DBTIME_LEN];
	char updated_at[DBTIME_LEN];
};

/* A volume or snapshot as the mount shows it. worker_id is the live
 * volume worker whose host the resource's host names (Cinder's host may
 * carry a '#pool' suffix), 0 when none. */
struct volume_row {
	char id[NAME_LEN];
	char display_name[NAME_LEN];
	long long size;                  /* GiB (a snapshot: its volume's size) */
	char status[64];
	int64_t worker_id;
	char volume_id[NAME_LEN];        /* snapshots only */
	char provider_location[NAME_LEN];
	char target_iqn[NAME_LEN];       /* from provider_location ("ip:port,tid IQN lun") */
	char last_error[1024];           /* why its latest failed operation failed, "" if none */
	char previous_status[64];        /* the status before the current one, "" if none */
	long long status_reset_by;       /* uid of the admin who last reset its status, -1 if none */
	char status_reset_at[DBTIME_LEN]; /* when, "" if never */
	char created_at[DBTIME_LEN];
	char updated_at[DBTIME_LEN];
};

/* What a worker registers with at start. */
struct registration {
	const char *host;
	const char *binary;
	const char *cluster_name; /* NULL when unclustered */
	const char *version;
};
