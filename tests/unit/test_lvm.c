/* The LVM module against a recording runner: the exact argv of every
 * operation, the batching, the errors mapped from LVM's words, and the
 * parsing of real `lvs --reportformat json` output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvm.h"
#include "lvm_driver.h"

#define A "0b7c5e38-2a6f-4d4e-9a51-3c1f7d9e2b10"
#define B "1c8d6f49-3b70-4e5f-8b62-4d208e0f3c21"
#define C "2d9e7a5a-4c81-4f60-9c73-5e319f1a4d32"

/* What `lvs` printed on a loop-device volume group (LVM 2.03.16). */
static const char lvs_sample[] =
	"  {\n"
	"      \"report\": [\n"
	"          {\n"
	"              \"lv\": [\n"
	"                  {\"lv_name\":\"volume-" A "\", \"lv_size\":\"8388608\", \"origin\":\"\", \"lv_attr\":\"-wi-XX----\"},\n"
	"                  {\"lv_name\":\"volume-" B "\", \"lv_size\":\"10737418240\", \"origin\":\"\", \"lv_attr\":\"-wi-XX----\"},\n"
	"                  {\"lv_name\":\"other\", \"lv_size\":\"4194304\", \"origin\":\"\", \"lv_attr\":\"-wi-XX----\"}\n"
	"              ]\n"
	"          }\n"
	"      ]\n"
	"  }\n";

struct scripted {
	int rc;
	const char *out, *err;
};

struct recorder {
	char calls[8][512];
	int count;
	const struct scripted *script; /* one per call, in order */
	/* Every command, lock and unlock in order ("lock(lvm:vg0) lvcreate
	 * unlock(lvm:vg0)"), and whether the lock is held now. */
	char events[1024];
	bool held;
	int lock_rc;                   /* what the fake lock answers */
};

static void event(struct recorder *r, const char *what)
{
	snprintf(r->events + strlen(r->events), sizeof(r->events) - strlen(r->events), "%s%s",
		 r->events[0] ? " " : "", what);
}

static int record(void *ctx, const char *const argv[], struct run_result *res, struct cf_err *err)
{
	struct recorder *r = ctx;
	const struct scripted *s = &r->script[r->count];
	char *line = r->calls[r->count++];

	event(r, argv[0]);
	line[0] = '\0';
	for (int i = 0; argv[i]; i++)
		snprintf(line + strlen(line), 512 - strlen(line), "%s%s", i ? " " : "", argv[i]);
	res->exit_code = s->rc ? 5 : 0;
	res->out = strdup(s->out ? s->out : "");
	res->err = strdup(s->err ? s->err : "");
	if (s->rc)
		return err_set(err, s->rc, "%s exited with 5: %s", argv[0], s->err ? s->err : "");
	return 0;
}

static struct lvm make(struct recorder *r, const struct scripted *script)
{
	struct lvm l = { .runner = { record, r } };
	memset(r, 0, sizeof(*r));
	r->script = script;
	snprintf(l.vg, sizeof(l.vg), "vg0");
	return l;
}

/* The fake lock: counts in the event log, refuses with lock_rc. */
static int fake_lock(void *ctx, const char *name, struct cf_err *err)
{
	struct recorder *r = ctx;
	char what[128];

	assert_false(r->held); /* never taken twice */
	snprintf(what, sizeof(what), "lock(%s)", name);
	event(r, what);
	if (r->lock_rc)
		return err_set(err, -r->lock_rc, "database postgresql://db1/cinder: server closed the "
			       "connection unexpectedly");
	r->held = true;
	return 0;
}

static void fake_unlock(void *ctx, const char *name)
{
	struct recorder *r = ctx;
	char what[128];

	assert_true(r->held); /* only what was taken */
	r->held = false;
	snprintf(what, sizeof(what), "unlock(%s)", name);
	event(r, what);
}

static struct lvm make_locked(struct recorder *r, const struct scripted *script, int lock_rc)
{
	struct lvm l = make(r, script);

	r->lock_rc = lock_rc;
	l.lock = (struct lvm_lock){ fake_lock, fake_unlock, r };
	return l;
}

static void test_create_volume_argv(void **state)
{
	static const struct scripted ok[] = { { 0, NULL, NULL } };
	struct recorder r;
	struct lvm l = make(&r, ok);
	struct cf_err err;
	(void)state;

	assert_int_equal(lvm_create_volume(&l, A, 10, &err), 0);
	assert_int_equal(r.count, 1);
	assert_string_equal(r.calls[0], "lvcreate -n volume-" A " -L 10g vg0");
}

static void test_out_of_space_is_enospc_with_lvm_words(void **state)
{
	static const struct scripted full[] = {
		{ EIO, NULL, "  Volume group \"vg0\" has insufficient free space (63 extents): 2560 required." },
	};
	struct recorder r;
	struct lvm l = make(&r, full);
	struct cf_err err;
	(void)state;

	assert_int_equal(lvm_create_volume(&l, A, 10, &err), -ENOSPC);
	assert_non_null(strstr(err.msg, "insufficient free space"));
}

static void test_names_must_be_canonical_uuids(void **state)
{
	static const struct scripted none[] = { { 0, NULL, NULL } };
	struct recorder r;
	struct lvm l = make(&r, none);
	struct cf_err err;
	(void)state;

	assert_int_equal(lvm_create_volume(&l, "../../etc", 1, &err), -EINVAL);
	assert_int_equal(lvm_create_volume(&l, "0B7C5E38-2A6F-4D4E-9A51-3C1F7D9E2B10", 1, &err), -EINVAL);
	assert_int_equal(lvm_delete_snapshot(&l, "x; rm -rf /", &err), -EINVAL);
	assert_string_equal(err.msg, "'x; rm -rf /' is not a canonical UUID; no LVM command run");
	assert_int_equal(r.count, 0);
}

static void test_delete_is_batched_and_skips_what_is_gone(void **state)
{
	static const struct scripted script[] = { { 0, lvs_sample, NULL }, { 0, NULL, NULL } };
	struct recorder r;
	struct lvm l = make(&r, script);
	struct cf_err err;
	(void)state;

	assert_int_equal(lvm_delete_volumes(&l, (const char *const[]){ A, B, C }, 3, &err), 0);
	assert_int_equal(r.count, 2);
	assert_string_equal(r.calls[0], "lvs --reportformat json --units b --nosuffix -o "
			    "lv_name,lv_size,origin,lv_attr vg0");
	assert_string_equal(r.calls[1], "lvremove -f vg0/volume-" A " vg0/volume-" B);
}

static void test_deleting_only_absent_volumes_runs_no_lvremove(void **state)
{
	static const struct scripted script[] = { { 0, lvs_sample, NULL } };
	struct recorder r;
	struct lvm l = make(&r, script);
	struct cf_err err;
	(void)state;

	assert_int_equal(lvm_delete_volumes(&l, (const char *const[]){ C }, 1, &err), 0);
	assert_int_equal(r.count, 1);
}

static void test_an_origin_of_snapshots_is_busy(void **state)
{
	static const char with_snapshot[] =
		"{\"report\":[{\"lv\":[{\"lv_name\":\"volume-" A "\",\"lv_size\":\"1\",\"origin\":\"\",\"lv_attr\":\"owi-a-s---\"},"
		"{\"lv_name\":\"_snapshot-" C "\",\"lv_size\":\"1\",\"origin\":\"volume-" A "\",\"lv_attr\":\"swi-a-s---\"}]}]}";
	static const struct scripted script[] = { { 0, with_snapshot, NULL } };
	struct recorder r;
	struct lvm l = make(&r, script);
	struct cf_err err;
	(void)state;

	assert_int_equal(lvm_delete_volumes(&l, (const char *const[]){ A }, 1, &err), -EBUSY);
	assert_string_equal(err.msg, "logical volume vg0/volume-" A " (origin of _snapshot-" C
			    ") has snapshots; not removed");
	assert_int_equal(r.count, 1); /* nothing removed */
}

static void test_snapshot_argv_and_no_device_mapper(void **state)
{
	static const struct scripted script[] = {
		{ 0, NULL, NULL },
		{ EIO, NULL, "  Can't create snapshot without using device-mapper kernel driver." },
	};
	struct recorder r;
	struct lvm l = make(&r, script);
	struct cf_err err;
	(void)state;

	assert_int_equal(lvm_create_snapshot(&l, C, A, 1, &err), 0);
	assert_string_equal(r.calls[0], "lvcreate -s -n _snapshot-" C " -L 1g vg0/volume-" A);
	assert_int_equal(lvm_create_snapshot(&l, C, A, 1, &err), -EOPNOTSUPP);
	assert_non_null(strstr(err.msg, "snapshots need device-mapper"));
}

static void test_deleting_a_snapshot_that_is_gone_succeeds(void **state)
{
	static const struct scripted script[] = {
		{ EIO, NULL, "  Failed to find logical volume \"vg0/_snapshot-" C "\"" },
		{ EIO, NULL, "  Volume group \"vg0\" not found" },
	};
	struct recorder r;
	struct lvm l = make(&r, script);
	struct cf_err err;
	(void)state;

	assert_int_equal(lvm_delete_snapshot(&l, C, &err), 0);
	assert_string_equal(r.calls[0], "lvremove -f vg0/_snapshot-" C);
	/* Any other failure stays a failure. */
	assert_int_equal(lvm_delete_snapshot(&l, C, &err), -EIO);
}

static void test_missing_volume_group_is_enodev(void **state)
{
	static const struct scripted script[] = {
		{ EIO, NULL, "  Volume group \"vg0\" not found\n  Cannot process volume group vg0" },
	};
	struct recorder r;
	struct lvm l = make(&r, script);
	struct cf_err err;
	uint64_t size, free_bytes;
	(void)state;

	assert_int_equal(lvm_vg_space(&l, &size, &free_bytes, &err), -ENODEV);
	assert_string_equal(err.msg, "volume group vg0 not found");
}

static int collect(void *ctx, const struct lv_info *lv)
{
	char *out = ctx;
	snprintf(out + strlen(out), 512 - strlen(out), "%s:%llu ", lv->name, (unsigned long long)lv->size);
	return 0;
}

static void test_parse_real_lvs_output(void **state)
{
	char out[512] = "";
	struct cf_err err;
	(void)state;

	assert_int_equal(lvm_parse_lvs(lvs_sample, collect, out, &err), 0);
	assert_string_equal(out, "volume-" A ":8388608 volume-" B ":10737418240 other:4194304 ");
	assert_int_equal(lvm_parse_lvs("{\"report\":[{\"lv\":[]}]}", collect, out, &err), 0);
	assert_int_equal(lvm_parse_lvs("not json", collect, out, &err), -EIO);
	assert_non_null(strstr(err.msg, "cannot read lvs output"));
	assert_int_equal(lvm_parse_lvs("{\"report\":[]}", collect, out, &err), -EIO);
}

static void test_every_metadata_change_runs_under_the_vg_lock(void **state)
{
	static const struct scripted script[] = {
		{ 0, NULL, NULL }, { 0, NULL, NULL }, { 0, NULL, NULL }, { 0, NULL, NULL },
		{ 0, lvs_sample, NULL }, { 0, NULL, NULL },
	};
	struct recorder r;
	struct lvm l = make_locked(&r, script, 0);
	struct cf_err err;
	(void)state;

	assert_int_equal(lvm_create_volume(&l, A, 1, &err), 0);
	assert_int_equal(lvm_extend_volume(&l, A, 2, &err), 0);
	assert_int_equal(lvm_create_snapshot(&l, C, A, 1, &err), 0);
	assert_int_equal(lvm_delete_snapshot(&l, C, &err), 0);
	/* The lvs that decides the lvremove is under the same hold. */
	assert_int_equal(lvm_delete_volumes(&l, (const char *const[]){ A, B }, 2, &err), 0);
	assert_string_equal(r.events,
			    "lock(lvm:vg0) lvcreate unlock(lvm:vg0) "
			    "lock(lvm:vg0) lvextend unlock(lvm:vg0) "
			    "lock(lvm:vg0) lvcreate unlock(lvm:vg0) "
			    "lock(lvm:vg0) lvremove unlock(lvm:vg0) "
			    "lock(lvm:vg0) lvs lvremove unlock(lvm:vg0)");
	assert_false(r.held);
}

/* A read while another host writes can find no volume group at all. */
static void test_reads_run_under_the_lock_too(void **state)
{
	static const char vgs[] = "{\"report\":[{\"vg\":[{\"vg_name\":\"vg0\",\"vg_size\":\"4096\","
				  "\"vg_free\":\"1024\"}]}]}";
	static const struct scripted script[] = { { 0, vgs, NULL }, { 0, lvs_sample, NULL } };
	struct recorder r;
	struct lvm l = make_locked(&r, script, 0);
	struct cf_err err;
	uint64_t size, free_bytes;
	char out[512] = "";
	(void)state;

	assert_int_equal(lvm_vg_space(&l, &size, &free_bytes, &err), 0);
	assert_int_equal(lvm_list(&l, collect, out, &err), 0);
	assert_string_equal(r.events, "lock(lvm:vg0) vgs unlock(lvm:vg0) lock(lvm:vg0) lvs unlock(lvm:vg0)");
	r.lock_rc = -ENOTCONN;
	assert_int_equal(lvm_vg_space(&l, &size, &free_bytes, &err), -ENOLCK);
	assert_int_equal(lvm_list(&l, collect, out, &err), -ENOLCK);
	assert_int_equal(r.count, 2);
}

static void test_a_failed_command_still_lets_the_lock_go(void **state)
{
	static const struct scripted script[] = {
		{ EIO, NULL, "  Volume group \"vg0\" has insufficient free space (63 extents): 2560 required." },
		{ 0, "{\"report\":[{\"lv\":[{\"lv_name\":\"volume-" A "\",\"lv_size\":\"1\",\"origin\":\"\",\"lv_attr\":\"owi-a-s---\"},"
		     "{\"lv_name\":\"_snapshot-" C "\",\"lv_size\":\"1\",\"origin\":\"volume-" A "\",\"lv_attr\":\"swi-a-s---\"}]}]}", NULL },
		{ EIO, NULL, "  Volume group \"vg0\" not found" },
	};
	struct recorder r;
	struct lvm l = make_locked(&r, script, 0);
	struct cf_err err;
	(void)state;

	assert_int_equal(lvm_create_volume(&l, A, 10, &err), -ENOSPC);
	assert_int_equal(lvm_delete_volumes(&l, (const char *const[]){ A }, 1, &err), -EBUSY);
	assert_int_equal(lvm_delete_volumes(&l, (const char *const[]){ B }, 1, &err), -ENODEV);
	assert_string_equal(r.events, "lock(lvm:vg0) lvcreate unlock(lvm:vg0) "
			    "lock(lvm:vg0) lvs unlock(lvm:vg0) lock(lvm:vg0) lvs unlock(lvm:vg0)");
	assert_false(r.held);
}

/* Unreachable database or a lock held elsewhere too long: nothing runs,
 * and the errno is ENOLCK whatever the lock said (-EBUSY would read as
 * "has snapshots" to a delete and set the volume back to available). */
static void test_a_refused_lock_runs_no_command(void **state)
{
	static const struct scripted none[] = { { 0, NULL, NULL } };
	static const int refusals[] = { -ENOTCONN, -EBUSY };
	(void)state;

	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		struct recorder r;
		struct lvm l = make_locked(&r, none, refusals[i]);
		struct cf_err err = { "" };

		assert_int_equal(lvm_create_volume(&l, A, 1, &err), -ENOLCK);
		assert_string_equal(err.msg, "volume group vg0: no LVM command run: the lock lvm:vg0 "
				    "that its hosts share cannot be taken: database postgresql://db1/"
				    "cinder: server closed the connection unexpectedly");
		assert_int_equal(lvm_extend_volume(&l, A, 2, &err), -ENOLCK);
		assert_int_equal(lvm_create_snapshot(&l, C, A, 1, &err), -ENOLCK);
		assert_int_equal(lvm_delete_snapshot(&l, C, &err), -ENOLCK);
		assert_int_equal(lvm_delete_volumes(&l, (const char *const[]){ A }, 1, &err), -ENOLCK);
		assert_int_equal(r.count, 0);
		assert_string_equal(r.events, "lock(lvm:vg0) lock(lvm:vg0) lock(lvm:vg0) "
				    "lock(lvm:vg0) lock(lvm:vg0)");
	}
}

/* The driver hands its configured lock to every LVM call. */
static void test_the_driver_runs_lvm_under_its_configured_lock(void **state)
{
	static const struct scripted script[] = { { 0, NULL, NULL }, { 0, NULL, NULL } };
	struct recorder r;
	struct lvm_driver d;
	struct lvm_driver_config cfg = {
		.volume_group = "vg0", .target_helper = "none", .target_prefix = "iqn.x:",
		.volumes_dir = "/nonexistent", .bstype = "null", .command_timeout = 5,
		.lock = { fake_lock, fake_unlock, &r },
	};
	struct volume vol = { .id = A, .size = 1 };
	struct driver drv;
	struct cf_err err;
	(void)state;

	memset(&r, 0, sizeof(r));
	r.script = script;
	lvm_driver_init(&d, &cfg);
	d.lvm.runner = (struct runner){ record, &r };
	drv = lvm_driver(&d);
	assert_int_equal(drv.ops->create_volume(drv.ctx, &vol, &err), 0);
	assert_int_equal(drv.ops->delete_snapshot(drv.ctx, &(struct snapshot){ .id = C }, &err), 0);
	assert_string_equal(r.events, "lock(lvm:vg0) lvcreate unlock(lvm:vg0) "
			    "lock(lvm:vg0) lvremove unlock(lvm:vg0)");
	r.lock_rc = -ENOTCONN;
	assert_int_equal(drv.ops->create_volume(drv.ctx, &vol, &err), -ENOLCK);
	assert_int_equal(r.count, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_volume_argv),
		cmocka_unit_test(test_out_of_space_is_enospc_with_lvm_words),
		cmocka_unit_test(test_names_must_be_canonical_uuids),
		cmocka_unit_test(test_delete_is_batched_and_skips_what_is_gone),
		cmocka_unit_test(test_deleting_only_absent_volumes_runs_no_lvremove),
		cmocka_unit_test(test_an_origin_of_snapshots_is_busy),
		cmocka_unit_test(test_snapshot_argv_and_no_device_mapper),
		cmocka_unit_test(test_deleting_a_snapshot_that_is_gone_succeeds),
		cmocka_unit_test(test_missing_volume_group_is_enodev),
		cmocka_unit_test(test_parse_real_lvs_output),
		cmocka_unit_test(test_every_metadata_change_runs_under_the_vg_lock),
		cmocka_unit_test(test_reads_run_under_the_lock_too),
		cmocka_unit_test(test_a_failed_command_still_lets_the_lock_go),
		cmocka_unit_test(test_a_refused_lock_runs_no_command),
		cmocka_unit_test(test_the_driver_runs_lvm_under_its_configured_lock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
