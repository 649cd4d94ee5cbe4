/* The LVM/tgt storage driver behind the driver interface (backend/
 * driver.h): volumes in a volume group, exported over iSCSI by tgt. */
#pragma once

#include "driver.h"
#include "lvm.h"
#include "tgt.h"

struct lvm_driver_config {
	const char *volume_group;
	const char *target_helper;  /* "tgtadm" or "none" */
	const char *target_prefix;
	const char *volumes_dir;
	const char *bstype;         /* "rdwr" or "null" */
	int tgt_control_port;
	const char *lvm_system_dir; /* NULL: the system's */
	int command_timeout;        /* seconds */
	const char *target_ip_address;
	int target_port;
	/* Taken around every command that changes the volume group's
	 * metadata (lvm.h): the lock of every host that shares the group.
	 * All zero: none. */
	struct lvm_lock lock;
};

struct lvm_driver {
	struct run_config run;
	struct lvm lvm;
	struct tgt tgt;
	bool exports;               /* target_helper is tgtadm */
	char target_ip_address[64];
	int target_port;
};

void lvm_driver_init(struct lvm_driver *d, const struct lvm_driver_config *cfg);
struct driver lvm_driver(struct lvm_driver *d);

/* The device a volume's LUN is backed by. */
void lvm_driver_device(const struct lvm_driver *d, const char *uuid, char *out, size_t size);
