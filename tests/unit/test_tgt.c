/* tgt exports against a recording runner: the tgtadm steps in order, what
 * already exists left alone, Cinder's removal order, the persistent target
 * file, and the parsing of real `tgtadm --op show` output. */
#include <errno.h>
#include <limits.h>

#include "lvm_driver.h"
#include "testdb.h"
#include "tgt.h"

#define A "0b7c5e38-2a6f-4d4e-9a51-3c1f7d9e2b10"
#define IQN "iqn.2010-10.org.openstack:volume-" A

/* What tgtd 1.0.85 printed for one exported volume (trimmed LUN 0). */
static const char show_one[] =
	"Target 1: iqn.2010-10.org.openstack:volume-aaa\n"
	"    System information:\n"
	"        Driver: iscsi\n"
	"        State: ready\n"
	"    LUN information:\n"
	"        LUN: 1\n"
	"            Type: disk\n"
	"            Backing store path: /dev/null\n"
	"    Account information:\n"
	"        u1\n"
	"    ACL information:\n"
	"        ALL\n"
	"Target 3: " IQN "\n"
	"    System information:\n"
	"        Driver: iscsi\n"
	"    Account information:\n"
	"        chapuser\n"
	"    ACL information:\n"
	"        ALL\n";

struct recorder {
	char calls[32][400];
	int count;
	const char *outs[32];      /* stdout per call, NULL for "" */
	int fail_at;               /* 1-based call that fails, 0 for none */
	int fail_from;             /* and every call from this one on (tgtd gone), 0 for none */
	const char *fail_matching; /* and every call with these words in it */
	const char *fail_words;    /* the failing call's stderr (default: an account exists) */
	int fail_code;             /* and its exit code (default 22) */
};

static int record(void *ctx, const char *const argv[], struct run_result *res, struct cf_err *err)
{
	struct recorder *r = ctx;
	int i = r->count++;

	r->calls[i][0] = '\0';
	for (int a = 0; argv[a]; a++)
		snprintf(r->calls[i] + strlen(r->calls[i]), 400 - strlen(r->calls[i]), "%s%s",
			 a ? " " : "", argv[a]);
	assert_true(i < 32);
	res->exit_code = 0;
	res->out = strdup(r->outs[i] ? r->outs[i] : "");
	res->err = strdup("");
	if (r->fail_at == i + 1 || (r->fail_from && i + 1 >= r->fail_from) ||
	    (r->fail_matching && strstr(r->calls[i], r->fail_matching))) {
		const char *words = r->fail_words ? r->fail_words : "tgtadm: this account already exists";
		res->exit_code = r->fail_code ? r->fail_code : 22;
		free(res->err);
		res->err = strdup(words);
		/* As the real runner says it: the command's last stderr line. */
		return err_set(err, EIO, "tgtadm exited with %d: %s", res->exit_code, words);
	}
	return 0;
}

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cinderfs-tgt.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char path[200];
	(void)state;
	snprintf(path, sizeof(path), "%s/volume-" A, dir);
	unlink(path);
	rmdir(dir);
	return 0;
}

static struct tgt make(struct recorder *r)
{
	struct tgt t = { .runner = { record, r }, .control_port = 4711 };
	memset(r, 0, sizeof(*r));
	snprintf(t.target_prefix, sizeof(t.target_prefix), "iqn.2010-10.org.openstack:");
	snprintf(t.volumes_dir, sizeof(t.volumes_dir), "%s", dir);
	snprintf(t.bstype, sizeof(t.bstype), "rdwr");
	return t;
}

static const struct export_info auth = { "", "chapuser", "chapsecret0123456" };

#define PRE "tgtadm -C 4711 --lld iscsi "

static void test_parse_show(void **state)
{
	int tid, max_tid;
	char account[64];
	(void)state;

	tgt_parse_show(show_one, IQN, &tid, &max_tid, account, sizeof(account));
	assert_int_equal(tid, 3);
	assert_int_equal(max_tid, 3);
	assert_string_equal(account, "chapuser");
	tgt_parse_show(show_one, "iqn.2010-10.org.openstack:volume-none", &tid, &max_tid, account, sizeof(account));
	assert_int_equal(tid, 0);
	assert_string_equal(account, "");
	tgt_parse_show("", IQN, &tid, &max_tid, NULL, 0);
	assert_int_equal(max_tid, 0);
}

static void test_create_export_steps_and_target_file(void **state)
{
	struct recorder r;
	struct tgt t = make(&r);
	struct cf_err err;
	char path[200], text[1024];
	FILE *f;
	size_t n;
	(void)state;

	r.outs[0] = "Target 1: iqn.2010-10.org.openstack:volume-aaa\n";
	assert_int_equal(tgt_create_export(&t, A, "/dev/vg0/volume-" A, &auth, NULL, &err), 0);
	assert_int_equal(r.count, 6);
	assert_string_equal(r.calls[0], PRE "--mode target --op show");
	assert_string_equal(r.calls[1], PRE "--mode target --op new --tid 2 --targetname " IQN);
	assert_string_equal(r.calls[2], PRE "--mode logicalunit --op new --tid 2 --lun 1 --bstype rdwr "
			    "--backing-store /dev/vg0/volume-" A);
	assert_string_equal(r.calls[3], PRE "--mode account --op new --user chapuser --password chapsecret0123456");
	assert_string_equal(r.calls[4], PRE "--mode account --op bind --tid 2 --user chapuser");
	assert_string_equal(r.calls[5], PRE "--mode target --op bind --tid 2 --initiator-address ALL");
	snprintf(path, sizeof(path), "%s/volume-" A, dir);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	assert_string_equal(text, "<target " IQN ">\n    backing-store /dev/vg0/volume-" A "\n"
			    "    driver iscsi\n    incominguser chapuser chapsecret0123456\n"
			    "    write-cache on\n</target>\n");
}

static void test_an_existing_target_is_left_alone(void **state)
{
	struct recorder r;
	struct tgt t = make(&r);
	struct cf_err err;
	(void)state;

	r.outs[0] = show_one;
	assert_int_equal(tgt_create_export(&t, A, "/dev/vg0/volume-" A, &auth, NULL, &err), 0);
	assert_int_equal(r.count, 1);
}

static void test_a_failed_step_takes_the_target_down_again(void **state)
{
	struct recorder r;
	struct tgt t = make(&r);
	struct cf_err err;
	char path[200];
	(void)state;

	r.fail_at = 4; /* the account */
	r.outs[4] = "Target 1: " IQN "\n"; /* the removal's show finds the half target */
	assert_int_equal(tgt_create_export(&t, A, "/dev/vg0/volume-" A, &auth, NULL, &err), -EIO);
	assert_non_null(strstr(err.msg, "exporting volume " A " failed: tgtadm exited with 22: "
				"tgtadm: this account already exists"));
	assert_string_equal(r.calls[5], PRE "--mode target --op delete --force --tid 1");
	snprintf(path, sizeof(path), "%s/volume-" A, dir);
	assert_int_equal(access(path, F_OK), -1); /* no file left behind */
}

static void test_remove_export_in_cinders_order(void **state)
{
	struct recorder r;
	struct tgt t = make(&r);
	struct cf_err err;
	(void)state;

	r.outs[0] = show_one;
	r.outs[2] = show_one; /* still there after the forced delete */
	assert_int_equal(tgt_remove_export(&t, A, &err), 0);
	assert_int_equal(r.count, 5);
	assert_string_equal(r.calls[1], PRE "--mode target --op delete --force --tid 3");
	assert_string_equal(r.calls[2], PRE "--mode target --op show");
	assert_string_equal(r.calls[3], PRE "--mode target --op delete --tid 3");
	assert_string_equal(r.calls[4], PRE "--mode account --op delete --user chapuser");
}

static void test_removing_a_target_that_is_gone_succeeds(void **state)
{
	struct recorder r;
	struct tgt t = make(&r);
	struct cf_err err;
	(void)state;

	assert_int_equal(tgt_remove_export(&t, A, &err), 0);
	assert_int_equal(r.count, 1);
	assert_int_equal(tgt_remove_export(&t, "not-a-uuid", &err), -EINVAL);
	assert_int_equal(r.count, 1);
}

static void test_random_secrets(void **state)
{
	char a[17], b[17];
	(void)state;
	assert_int_equal(tgt_random_secret(a, sizeof(a)), 0);
	assert_int_equal(tgt_random_secret(b, sizeof(b)), 0);
	assert_int_equal(strlen(a), 16);
	assert_string_not_equal(a, b);
	for (int i = 0; i < 16; i++)
		assert_true((a[i] >= 'a' && a[i] <= 'z') || (a[i] >= 'A' && a[i] <= 'Z') || (a[i] >= '0' && a[i] <= '9'));
}

#define EXISTS "tgtadm: this target already exists"
#define TWO_TARGETS "Target 1: iqn.2010-10.org.openstack:volume-aaa\n" \
	"Target 2: iqn.2010-10.org.openstack:volume-bbb\n"

/* Two workers on one tgtd both took tid 2 after one show: the one that
 * lost looks again and takes the next free tid. */
static void test_a_tid_taken_meanwhile_is_retried_with_the_next(void **state)
{
	struct recorder r;
	struct tgt t = make(&r);
	struct cf_err err = { "" };
	int tid = 0;
	(void)state;

	r.outs[0] = "Target 1: iqn.2010-10.org.openstack:volume-aaa\n";
	r.fail_at = 2;
	r.fail_words = EXISTS;
	r.outs[2] = TWO_TARGETS; /* the look after the refusal */
	assert_int_equal(tgt_create_export(&t, A, "/dev/vg0/volume-" A, &auth, &tid, &err), 0);
	assert_int_equal(tid, 3);
	assert_string_equal(r.calls[1], PRE "--mode target --op new --tid 2 --targetname " IQN);
	assert_string_equal(r.calls[2], PRE "--mode target --op show");
	assert_string_equal(r.calls[3], PRE "--mode target --op new --tid 3 --targetname " IQN);
	assert_string_equal(r.calls[4], PRE "--mode logicalunit --op new --tid 3 --lun 1 --bstype rdwr "
			    "--backing-store /dev/vg0/volume-" A);
	assert_string_equal(r.calls[7], PRE "--mode target --op bind --tid 3 --initiator-address ALL");
	assert_int_equal(r.count, 8);
}

static void test_a_tid_race_is_bounded(void **state)
{
	struct recorder r;
	struct tgt t = make(&r);
	struct cf_err err = { "" };
	char path[200];
	(void)state;

	r.fail_matching = "--op new --tid";
	r.fail_words = EXISTS;
	assert_int_equal(tgt_create_export(&t, A, "/dev/vg0/volume-" A, &auth, NULL, &err), -EEXIST);
	assert_non_null(strstr(err.msg, "no free target id for " IQN " after 8 tries"));
	snprintf(path, sizeof(path), "%s/volume-" A, dir);
	assert_int_equal(access(path, F_OK), -1); /* no file left behind */
}

/* The target name taken meanwhile: a peer made this very target. */
static void test_a_target_made_meanwhile_by_a_peer_is_left_alone(void **state)
{
	struct recorder r;
	struct tgt t = make(&r);
	struct cf_err err = { "" };
	int tid = 0;
	(void)state;

	r.fail_at = 2;
	r.fail_words = EXISTS;
	r.outs[2] = "Target 4: " IQN "\n";
	r.outs[3] = "Target 4: " IQN "\n";
	assert_int_equal(tgt_create_export(&t, A, "/dev/vg0/volume-" A, &auth, &tid, &err), 0);
	assert_int_equal(tid, 4);
	assert_int_equal(r.count, 4); /* no LUN, account or binding of its own */
}

static void test_tgtd_not_running_is_enotconn_at_any_step(void **state)
{
	struct recorder r;
	struct tgt t = make(&r);
	struct cf_err err = { "" };
	int restored = -1;
	(void)state;

	/* What tgtadm says once tgtd was killed (its socket left behind). */
	r.fail_at = 1;
	r.fail_code = 107;
	r.fail_words = "tgtadm: failed to send request hdr to tgt daemon, Transport endpoint is not connected";
	assert_int_equal(tgt_create_export(&t, A, "/dev/vg0/volume-" A, &auth, NULL, &err), -ENOTCONN);
	assert_string_equal(err.msg, "exporting volume " A " failed: tgtd is not running (control port "
			    "4711): tgtadm: failed to send request hdr to tgt daemon, Transport endpoint "
			    "is not connected");
	t = make(&r);
	r.fail_at = 1;
	r.fail_words = "tgtadm: can't send the request to the tgt daemon, Transport endpoint is not connected";
	assert_int_equal(tgt_remove_export(&t, A, &err), -ENOTCONN);
	t = make(&r);
	r.fail_from = 2; /* tgtd gone between the look and the delete */
	r.outs[0] = show_one;
	r.fail_words = "tgtadm: failed to send request hdr to tgt daemon, Transport endpoint is not connected";
	r.fail_code = 107;
	assert_int_equal(tgt_remove_export(&t, A, &err), -ENOTCONN);
	t = make(&r);
	r.fail_at = 1;
	r.fail_words = "tgtadm: can't connect to the tgt daemon, Connection refused";
	assert_int_equal(tgt_restore(&t, &restored, &err), 0); /* no target file: nothing to ask */
	assert_int_equal(tgt_targets(&t, NULL, NULL, &err), -ENOTCONN);
}

static int collect(void *ctx, int tid, const char *iqn)
{
	char *out = ctx;
	snprintf(out + strlen(out), 512 - strlen(out), "%d=%s;", tid, iqn);
	return 0;
}

static void test_parse_targets(void **state)
{
	char out[512] = "";
	(void)state;

	assert_int_equal(tgt_parse_targets(show_one, collect, out), 0);
	assert_string_equal(out, "1=iqn.2010-10.org.openstack:volume-aaa;3=" IQN ";");
	out[0] = '\0';
	assert_int_equal(tgt_parse_targets("", collect, out), 0);
	assert_string_equal(out, "");
}

/* A restore asks for the tid the database recorded. */
static void test_restore_export_asks_for_the_recorded_tid(void **state)
{
	struct recorder r;
	struct tgt t = make(&r);
	struct cf_err err = { "" };
	int tid = 0;
	(void)state;

	r.outs[0] = "Target 1: iqn.2010-10.org.openstack:volume-aaa\n";
	assert_int_equal(tgt_restore_export(&t, A, "/dev/vg0/volume-" A, &auth, 7, &tid, &err), 0);
	assert_int_equal(tid, 7);
	assert_string_equal(r.calls[1], PRE "--mode target --op new --tid 7 --targetname " IQN);
	assert_string_equal(r.calls[3], PRE "--mode account --op new --user chapuser --password chapsecret0123456");
}

#define B "1c8d6f49-3b70-4e5f-8b62-4d208e0f3c21"

/* The driver's export check: one look; a lost target back with the CHAP
 * credentials of provider_auth, under the recorded tid or, taken, the
 * next (and a provider_location that says so). */
static void test_the_driver_restores_lost_exports_as_recorded(void **state)
{
	struct recorder r;
	struct lvm_driver d;
	struct lvm_driver_config cfg = {
		.volume_group = "vg0", .target_helper = "tgtadm",
		.target_prefix = "iqn.2010-10.org.openstack:", .volumes_dir = dir, .bstype = "null",
		.command_timeout = 1, .target_ip_address = "10.0.0.1", .target_port = 3260,
		.tgt_control_port = 4711,
	};
	struct export_record recs[2] = {
		{ A, "10.0.0.1:3260,3 " IQN " 1", "CHAP chapuser chapsecret0123456", false, "" },
		{ B, "10.0.0.1:3260,3 iqn.2010-10.org.openstack:volume-" B " 1", "CHAP u p", false, "" },
	};
	struct cf_err err = { "" };
	struct driver drv;
	int restored = 0;
	(void)state;

	lvm_driver_init(&d, &cfg);
	memset(&r, 0, sizeof(r));
	d.tgt.runner = (struct runner){ record, &r };
	drv = lvm_driver(&d);
	/* tgtd came back with B only (made again by hand, at tid 3). */
	r.outs[0] = "Target 3: iqn.2010-10.org.openstack:volume-" B "\n";
	r.outs[1] = r.outs[0];
	r.fail_at = 3;
	r.fail_words = EXISTS;
	r.outs[3] = r.outs[0];
	assert_int_equal(drv.ops->restore_exports(drv.ctx, recs, 2, &restored, &err), 0);
	assert_int_equal(restored, 1);
	assert_string_equal(r.calls[2], PRE "--mode target --op new --tid 3 --targetname " IQN);
	assert_string_equal(r.calls[4], PRE "--mode target --op new --tid 4 --targetname " IQN);
	assert_string_equal(r.calls[5], PRE "--mode logicalunit --op new --tid 4 --lun 1 --bstype null "
			    "--backing-store /dev/vg0/volume-" A);
	assert_string_equal(r.calls[6], PRE "--mode account --op new --user chapuser --password chapsecret0123456");
	assert_int_equal(r.count, 9);
	assert_true(recs[0].restored);
	assert_string_equal(recs[0].new_location, "10.0.0.1:3260,4 " IQN " 1");
	assert_false(recs[1].restored);
	/* tgtd gone: -ENOTCONN, nothing restored. */
	memset(&r, 0, sizeof(r));
	r.fail_from = 1;
	r.fail_words = "tgtadm: failed to send request hdr to tgt daemon, Transport endpoint is not connected";
	assert_int_equal(drv.ops->restore_exports(drv.ctx, recs, 2, &restored, &err), -ENOTCONN);
	assert_int_equal(restored, 0);
}

/* What tgtd 1.0.85 printed for --mode conn --op show with iscsi-perf
 * logged in. */
static const char conn_one[] =
	"Session: 4\n"
	"    Connection: 0\n"
	"        Initiator: iqn.2010-11.libiscsi:iscsi-perf\n"
	"        IP Address: 127.0.0.1\n";

static void test_parse_sessions(void **state)
{
	char initiator[64];
	int n;
	(void)state;

	tgt_parse_sessions(conn_one, &n, initiator, sizeof(initiator));
	assert_int_equal(n, 1);
	assert_string_equal(initiator, "iqn.2010-11.libiscsi:iscsi-perf");
	tgt_parse_sessions("Session: 4\n    Connection: 0\n        Initiator: a\nSession: 9\n"
			   "    Connection: 0\n        Initiator: b\n", &n, initiator, sizeof(initiator));
	assert_int_equal(n, 2);
	assert_string_equal(initiator, "a");
	tgt_parse_sessions("", &n, initiator, sizeof(initiator));
	assert_int_equal(n, 0);
	assert_string_equal(initiator, "");
}

static void test_recreate_lun_deletes_and_makes_lun_1_again(void **state)
{
	struct recorder r;
	struct tgt t = make(&r);
	struct cf_err err;
	(void)state;

	r.outs[0] = show_one;
	assert_int_equal(tgt_recreate_lun(&t, A, "/dev/vg/volume-" A, &err), 0);
	assert_int_equal(r.count, 4);
	assert_string_equal(r.calls[1], PRE "--mode conn --op show --tid 3");
	assert_string_equal(r.calls[2], PRE "--mode logicalunit --op delete --tid 3 --lun 1");
	assert_string_equal(r.calls[3], PRE "--mode logicalunit --op new --tid 3 --lun 1 --bstype rdwr "
			    "--backing-store /dev/vg/volume-" A);
}

static void test_recreate_lun_leaves_a_target_with_sessions_alone(void **state)
{
	struct recorder r;
	struct tgt t = make(&r);
	struct cf_err err;
	(void)state;

	r.outs[0] = show_one;
	r.outs[1] = conn_one;
	assert_int_equal(tgt_recreate_lun(&t, A, "/dev/vg/volume-" A, &err), -EBUSY);
	assert_int_equal(r.count, 2); /* looked, touched nothing */
	assert_string_equal(err.msg, "target " IQN " has 1 initiator session(s) "
			    "(iqn.2010-11.libiscsi:iscsi-perf): its LUN is not made again under them");
}

static void test_recreate_lun_without_a_target_is_enoent(void **state)
{
	struct recorder r;
	struct tgt t = make(&r);
	struct cf_err err;
	(void)state;

	assert_int_equal(tgt_recreate_lun(&t, A, "/dev/vg/volume-" A, &err), -ENOENT);
	assert_int_equal(r.count, 1);
	assert_non_null(strstr(err.msg, "tgtd has no target " IQN));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_parse_show),
		T(test_create_export_steps_and_target_file),
		T(test_an_existing_target_is_left_alone),
		T(test_a_failed_step_takes_the_target_down_again),
		T(test_remove_export_in_cinders_order),
		T(test_removing_a_target_that_is_gone_succeeds),
		T(test_random_secrets),
		T(test_a_tid_taken_meanwhile_is_retried_with_the_next),
		T(test_a_tid_race_is_bounded),
		T(test_a_target_made_meanwhile_by_a_peer_is_left_alone),
		T(test_tgtd_not_running_is_enotconn_at_any_step),
		T(test_parse_targets),
		T(test_restore_export_asks_for_the_recorded_tid),
		T(test_the_driver_restores_lost_exports_as_recorded),
		T(test_parse_sessions),
		T(test_recreate_lun_deletes_and_makes_lun_1_again),
		T(test_recreate_lun_leaves_a_target_with_sessions_alone),
		T(test_recreate_lun_without_a_target_is_enoent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
