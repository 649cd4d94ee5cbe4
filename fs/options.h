/* The daemon's options: an INI file (keys named as in cinder.conf), then
 * command-line flags over it. */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "error.h"

#define DEFAULT_CONFIG_PATH "/etc/cinderfs/cinderfs.conf"
#define DEFAULT_DB_PATH "/var/lib/cinderfs/cinderfs.db"
#define DEFAULT_VOLUMES_DIR "/var/lib/cinderfs/volumes"
#define WAIT_MAX_LIMIT 200
#define POOL_MAX_LIMIT 64

struct options {
	char *config_path;   /* the INI file read, NULL when none */
	char *db_path;
	bool db_flag;        /* --db was given on the command line */
	char *host;
	char *cluster;       /* NULL when unclustered */
	char *binary;
	int service_down_time;
	int report_interval;
	char *admin_group;
	gid_t admin_gid;
	int history_keep;    /* cleanup requests kept in history, 0 for all */
	int history_max_age; /* days a request is kept in history, 0 for ever */
	int temp_files;      /* temporary files and lock directories in cleanup/ */
	int wait_timeout;    /* seconds a read of cleanup/history/<n>/wait may block */
	int wait_max;        /* readers that may block in wait at once */
	int db_pool_size;    /* connections the mount's threads share */
	/* Storage: the LVM/tgt driver when volume_group is set. */
	char *volume_group;  /* NULL: no storage driver */
	char *target_helper; /* "tgtadm" or "none" */
	char *target_prefix;
	char *volumes_dir;
	char *tgt_bstype;    /* "rdwr" or "null" */
	int tgt_control_port;
	char *lvm_system_dir;
	int command_timeout;
	char *target_ip_address;
	int target_port;
	/* Who may read volumes/<uuid>/connection, which holds the CHAP
	 * secret: "root" (mode 0400) or "admin" (0440, the admin group). */
	char *connection_readers;
	bool foreground;
	bool control_only;
	bool debug;
	char *check_spec;    /* --check-spec FILE */
	char *mountpoint;
};

enum options_result {
	OPTIONS_RUN,   /* start the daemon */
	OPTIONS_EXIT,  /* --help or --version was answered */
	OPTIONS_CHECK, /* --check-spec FILE: validate a spec file and exit */
};

/* Returns OPTIONS_RUN or OPTIONS_EXIT, or -EINVAL with err saying which
 * option or config value is wrong (the daemon then exits with code 2). */
int options_parse(int argc, char **argv, struct options *opts, struct cf_err *err);
void options_free(struct options *opts);
void options_usage(FILE *out);
