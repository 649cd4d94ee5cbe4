/* Drive the tgt module against a real tgtd, one step per run, so that the
 * test script can restart tgtd between steps:
 *   tgt_check create UUID DEVICE | remove UUID | restore | recreate-lun UUID DEVICE
 * Environment: TGT_CONTROL_PORT, VOLUMES_DIR, TGT_BSTYPE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tgt.h"

int main(int argc, char **argv)
{
	struct run_config cfg = { .timeout_ms = 30000 };
	struct tgt t = { .runner = run_system(&cfg) };
	struct cf_err err = { "" };
	int rc = -1, restored = 0;

	if (argc < 2 || !getenv("TGT_CONTROL_PORT") || !getenv("VOLUMES_DIR")) {
		fprintf(stderr, "usage: TGT_CONTROL_PORT=N VOLUMES_DIR=D tgt_check create UUID DEVICE | remove UUID | restore | recreate-lun UUID DEVICE\n");
		return 2;
	}
	t.control_port = atoi(getenv("TGT_CONTROL_PORT"));
	snprintf(t.target_prefix, sizeof(t.target_prefix), "iqn.2010-10.org.openstack:");
	snprintf(t.volumes_dir, sizeof(t.volumes_dir), "%s", getenv("VOLUMES_DIR"));
	snprintf(t.bstype, sizeof(t.bstype), "%s", getenv("TGT_BSTYPE") ? getenv("TGT_BSTYPE") : "rdwr");
	if (!strcmp(argv[1], "create") && argc == 4) {
		struct export_info auth = { "", "", "" };
		tgt_random_secret(auth.chap_user, 13);
		tgt_random_secret(auth.chap_password, 17);
		rc = tgt_create_export(&t, argv[2], argv[3], &auth, NULL, &err);
	} else if (!strcmp(argv[1], "remove") && argc == 3) {
		rc = tgt_remove_export(&t, argv[2], &err);
	} else if (!strcmp(argv[1], "recreate-lun") && argc == 4) {
		rc = tgt_recreate_lun(&t, argv[2], argv[3], &err);
	} else if (!strcmp(argv[1], "restore") && argc == 2) {
		rc = tgt_restore(&t, &restored, &err);
		printf("restored %d\n", restored);
	}
	if (rc) {
		fprintf(stderr, "tgt_check %s: %s\n", argv[1], err.msg);
		return 1;
	}
	return 0;
}
