/* The planner as a table: the worked example of doc/cleanup.md section 4, and more. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "planner.h"

#define NOW_SEC 1795632114 /* 2026-11-25 18:41:54 UTC */
#define UP "2026-11-25 18:41:50.000000"
#define DOWN "2026-11-25 18:00:00.000000"
#define OLD "2026-11-25 10:00:00.000000"

static const struct timespec now = { NOW_SEC, 0 };

/* doc/cleanup.md, worked example: service_down_time 60. */
static const struct planner_worker spec_workers[] = {
	{ { 1, "node1@lvm", "cinder-volume", "c1@lvm", false, OLD, DOWN, "1.0" }, TRI_FALSE, false },
	{ { 2, "node2@lvm", "cinder-volume", "c1@lvm", false, OLD, UP, "1.0" }, TRI_FALSE, false },
	{ { 3, "node3@lvm", "cinder-volume", "", false, OLD, DOWN, "1.0" }, TRI_ANY, false },
	{ { 4, "sch1", "cinder-scheduler", "", false, OLD, DOWN, "1.0" }, TRI_ANY, false },
	{ { 5, "node5@lvm", "cinder-volume", "c2@lvm", false, OLD, DOWN, "1.0" }, TRI_FALSE, false },
};

/* Plan `spec` over `workers` and render "cleaning | unavailable" as ids. */
static void plan_ids(const char *spec, const struct planner_worker *w, size_t n, char *out,
		     size_t size)
{
	struct filter f;
	struct cf_err err;
	struct plan p;
	char cleaning[128] = "", unavailable[128] = "";

	if (filter_parse(spec, strlen(spec), &f, &err) != 0)
		fail_msg("spec '%s' refused: %s", spec, err.msg);
	assert_int_equal(planner_plan(&f, w, n, &now, 60, &p), 0);
	for (size_t i = 0; i < p.count; i++) {
		char *list = p.entries[i].cleaning ? cleaning : unavailable;
		size_t used = strlen(list);
		snprintf(list + used, 128 - used, "%s%lld", used ? "," : "",
			 (long long)p.entries[i].id);
	}
	snprintf(out, size, "%s | %s", cleaning, unavailable);
	planner_free(&p);
}

struct row {
	const char *spec;
	const char *expected; /* "cleaning ids | unavailable ids" */
};

static void run_table(const struct row *rows, size_t n_rows, const struct planner_worker *w,
		      size_t n)
{
	char got[300];
	for (size_t i = 0; i < n_rows; i++) {
		plan_ids(rows[i].spec, w, n, got, sizeof(got));
		if (strcmp(got, rows[i].expected) != 0)
			fail_msg("spec '%s': got '%s', expected '%s'", rows[i].spec, got, rows[i].expected);
	}
}

static void test_spec_worked_example(void **state)
{
	static const struct row rows[] = {
		{ "", "1,4 | 3,5" },
		{ "binary=cinder-volume", "1 | 3,5" },
		{ "cluster_name=c1", "1 | " },
		{ "host=node1", "1 | " },
		{ "host=node1@lvm#pool", " | " },
		{ "is_up=true", "2 | " },
		{ "service_id=1", "1 | " },
	};
	(void)state;
	run_table(rows, sizeof(rows) / sizeof(rows[0]), spec_workers, 5);
}

static void test_each_filter_alone_and_combined(void **state)
{
	static const struct row rows[] = {
		{ "is_up=null", "1,2,4 | 3,5" },            /* up or down */
		{ "is_up=false", "1,4 | 3,5" },             /* the default, said */
		{ "binary=cinder-scheduler", "4 | " },
		{ "binary=cinder-scheduler is_up=true", " | " },
		{ "cluster_name=c2@lvm", " | 5" },
		{ "cluster_name=c1@lvm is_up=null", "1,2 | " },
		{ "cluster_name=c1 host=node2", " | " },     /* node2 is up */
		{ "cluster_name=c1 host=node2 is_up=true", "2 | " },
		{ "service_id=2", " | " },                   /* up, and is_up defaults to false */
		{ "service_id=2 is_up=1", "2 | " },
		{ "service_id=3", " | 3" },
		{ "service_id=99", " | " },
		{ "service_id=99999999999999999999999", " | " },
		{ "host=node3@lvm", " | 3" },
		{ "host=sch1 binary=cinder-scheduler", "4 | " },
		{ "disabled=false", "1,4 | 3,5" },
		{ "disabled=true", " | " },
		{ "disabled=null", "1,4 | 3,5" },            /* either */
		{ "{\"disabled\": null}", "1,4 | 3,5" },
	};
	(void)state;
	run_table(rows, sizeof(rows) / sizeof(rows[0]), spec_workers, 5);
}

static void test_host_and_cluster_matching(void **state)
{
	(void)state;
	assert_true(planner_host_matches("node1", "node1"));
	assert_true(planner_host_matches("node1", "node1@lvm"));
	assert_true(planner_host_matches("node1", "node1#pool"));
	assert_true(planner_host_matches("node1", "node1@lvm#pool"));
	assert_false(planner_host_matches("node1", "node10@lvm"));
	assert_false(planner_host_matches("node1", "xnode1@lvm"));
	assert_true(planner_host_matches("node1@lvm", "node1@lvm"));
	assert_true(planner_host_matches("node1@lvm", "node1@lvm#pool"));
	assert_false(planner_host_matches("node1@lvm", "node1@lvm2"));
	assert_false(planner_host_matches("node1@lvm", "node1@lvm@x"));
	assert_true(planner_host_matches("node1@lvm#pool", "node1@lvm#pool"));
	assert_false(planner_host_matches("node1@lvm#pool", "node1@lvm"));
	assert_false(planner_host_matches("node1@lvm#pool", "node1@lvm#pool2"));
	/* Literal: no SQL wildcards, and case counts. */
	assert_false(planner_host_matches("node_", "node1@lvm"));
	assert_false(planner_host_matches("node%", "node1@lvm"));
	assert_true(planner_host_matches("node_1", "node_1@lvm"));
	assert_false(planner_host_matches("NODE1", "node1@lvm"));
}

static void test_clusters_all_down_some_up_and_disabled(void **state)
{
	static const struct planner_worker w[] = {
		/* c1: both down; c2: one of two up; c3 disabled, its member down */
		{ { 1, "a@lvm", "cinder-volume", "c1@lvm", false, OLD, DOWN, "1.0" }, TRI_FALSE, false },
		{ { 2, "b@lvm", "cinder-volume", "c1@lvm", false, OLD, DOWN, "1.0" }, TRI_FALSE, false },
		{ { 3, "c@lvm", "cinder-volume", "c2@lvm", false, OLD, DOWN, "1.0" }, TRI_FALSE, false },
		{ { 4, "d@lvm", "cinder-volume", "c2@lvm", false, OLD, UP, "1.0" }, TRI_FALSE, false },
		{ { 5, "e@lvm", "cinder-volume", "c3@lvm", true, OLD, DOWN, "1.0" }, TRI_TRUE, false },
		{ { 6, "f@lvm", "cinder-volume", "c3@lvm", false, OLD, UP, "1.0" }, TRI_TRUE, false },
		/* unclustered: one disabled and down, one enabled and up */
		{ { 7, "g@lvm", "cinder-volume", "", true, OLD, DOWN, "1.0" }, TRI_ANY, false },
		{ { 8, "h@lvm", "cinder-volume", "", false, OLD, UP, "1.0" }, TRI_ANY, false },
		/* a backup service is never taken without binary (fix) */
		{ { 9, "i@lvm", "cinder-backup", "", false, OLD, DOWN, "1.0" }, TRI_ANY, false },
		/* clustered, but its cluster has no row: disabled matches neither */
		{ { 10, "j@lvm", "cinder-volume", "c9@lvm", false, OLD, DOWN, "1.0" }, TRI_ANY, false },
	};
	static const struct row rows[] = {
		{ "", "3,5 | 1,2,7,10" },
		{ "cluster_name=c1@lvm", " | 1,2" },
		{ "is_up=true", "4,6,8 | " },              /* 8 cleans itself */
		{ "disabled=true", "5 | 7" },             /* 5 by its cluster's flag */
		{ "disabled=false", "3 | 1,2" },
		{ "disabled=true is_up=null", "5,6 | 7" },
		{ "host=i@lvm", " | " },
		{ "host=i@lvm binary=cinder-volume", " | " },
	};
	(void)state;
	run_table(rows, sizeof(rows) / sizeof(rows[0]), w, sizeof(w) / sizeof(w[0]));
}

static void test_new_worker_without_heartbeat_is_selected_as_up_but_cannot_clean(void **state)
{
	/* Cinder selects up by created_at or updated_at: a worker created a
	 * moment ago is selected by is_up=true, with or without a heartbeat.
	 * But its own is_up needs a heartbeat (Service.is_up): one that never
	 * sent one cannot clean itself, so it is unavailable and no job is
	 * queued that no running worker would take. */
	static const struct planner_worker w[] = {
		{ { 1, "a@lvm", "cinder-volume", "", false, UP, DOWN, "1.0" }, TRI_ANY, false },
		{ { 2, "b@lvm", "cinder-volume", "", false, UP, "", "1.0" }, TRI_ANY, false },
		{ { 3, "c@lvm", "cinder-volume", "", false, OLD, UP, "1.0" }, TRI_ANY, false },
	};
	static const struct row rows[] = {
		{ "", " | " },
		{ "is_up=true", "3 | 1,2" },
		{ "service_id=2 is_up=null", " | 2" },
	};
	(void)state;
	run_table(rows, 3, w, 3);
}

static void test_cluster_whose_only_fresh_member_never_beat_is_down(void **state)
{
	/* cx: m1 registered a moment ago and never sent a heartbeat, m2 dead.
	 * Nobody in cx can clean m2: unavailable (Cinder: the cluster is
	 * down). m1 is not selected by the default is_up=false. */
	static const struct planner_worker w[] = {
		{ { 1, "m1@lvm", "cinder-volume", "cx@lvm", false, UP, "", "1.0" }, TRI_FALSE, false },
		{ { 2, "m2@lvm", "cinder-volume", "cx@lvm", false, OLD, DOWN, "1.0" }, TRI_FALSE, false },
	};
	static const struct row rows[] = {
		{ "", " | 2" },
		{ "cluster_name=cx@lvm is_up=null", " | 1,2" },
	};
	(void)state;
	run_table(rows, 2, w, 2);
}

static void test_a_live_peer_that_cannot_clean_does_not_count(void **state)
{
	/* c1: 1 dead, 2 up but its storage driver did not start; 3 alone,
	 * up, unable too. Nobody can clean: unavailable, no job. */
	static const struct planner_worker w[] = {
		{ { 1, "a@lvm", "cinder-volume", "c1@lvm", false, OLD, DOWN, "1.0" }, TRI_FALSE, false },
		{ { 2, "b@lvm", "cinder-volume", "c1@lvm", false, OLD, UP, "1.0" }, TRI_FALSE, true },
		{ { 3, "c@lvm", "cinder-volume", "", false, OLD, UP, "1.0" }, TRI_ANY, true },
		{ { 4, "d@lvm", "cinder-volume", "c2@lvm", false, OLD, DOWN, "1.0" }, TRI_FALSE, false },
		{ { 5, "e@lvm", "cinder-volume", "c2@lvm", false, OLD, UP, "1.0" }, TRI_FALSE, false },
	};
	static const struct row rows[] = {
		{ "", "4 | 1" },
		{ "is_up=true", "5 | 2,3" },
	};
	(void)state;
	run_table(rows, 2, w, 5);
}

static void test_destinations(void **state)
{
	struct filter f;
	struct cf_err err;
	struct plan p;
	(void)state;

	assert_int_equal(filter_parse("is_up=null", 10, &f, &err), 0);
	assert_int_equal(planner_plan(&f, spec_workers, 5, &now, 60, &p), 0);
	assert_int_equal(p.count, 5);
	assert_int_equal(p.entries[0].dest, DEST_CLUSTER); /* 1 in c1 */
	assert_int_equal(p.entries[2].dest, DEST_SERVICE); /* 3 alone */
	assert_int_equal(p.entries[3].dest, DEST_ANY);     /* 4, a scheduler */
	planner_free(&p);
}

/* The host and cluster_name ranges the store narrows by hold exactly the
 * values planner_host_matches accepts, the value itself aside. */
static void test_host_ranges_match_the_matcher(void **state)
{
	static const char *const names[] = {
		"node1", "node1@lvm", "node1@lvm#pool", "node1@lvm2", "node1#pool", "node10@lvm",
		"node1$", "node1@", "node1A", "node1@lvm#", "node1@lvm$", "node", "node1@lvmA",
		"node1\"@x", "c1@lvm", "c1@lvm#a", "c1", "c10@lvm", "", "node1@lvm@x",
	};
	size_t n = sizeof(names) / sizeof(names[0]);
	(void)state;

	for (size_t i = 0; i < n; i++) {
		char hl[NAME_LEN + 2], hh[NAME_LEN + 2], al[NAME_LEN + 2], ah[NAME_LEN + 2];
		const char *f = names[i];
		if (!f[0])
			continue;
		planner_host_ranges(f, hl, hh, al, ah);
		for (size_t j = 0; j < n; j++) {
			const char *v = names[j];
			bool in = strcmp(v, f) == 0 ||
				  (hl[0] && strcmp(v, hl) >= 0 && strcmp(v, hh) < 0) ||
				  (al[0] && strcmp(v, al) >= 0 && strcmp(v, ah) < 0);
			if (in != planner_host_matches(f, v))
				fail_msg("filter '%s', value '%s': ranges say %d, matcher %d", f, v, in,
					 !in);
		}
	}
}

struct members_source {
	const struct planner_worker *all;
	size_t count;
	int asked, asked_all;
};

static int give_members(void *ctx, struct plan *p, const char *name)
{
	struct members_source *m = ctx;

	if (name)
		m->asked++;
	else
		m->asked_all++;
	for (size_t i = 0; i < m->count; i++)
		if (m->all[i].svc.cluster_name[0] &&
		    (!name || strcmp(m->all[i].svc.cluster_name, name) == 0))
			planner_member(p, m->all[i].svc.cluster_name, m->all[i].svc.updated_at,
				       m->all[i].cannot_clean);
	return 0;
}

static void ids(const struct plan *p, char *out, size_t size)
{
	char cleaning[512] = "", unavailable[512] = "";
	for (size_t i = 0; i < p->count; i++) {
		char *list = p->entries[i].cleaning ? cleaning : unavailable;
		size_t used = strlen(list);
		snprintf(list + used, 512 - used, "%s%lld", used ? "," : "",
			 (long long)p->entries[i].id);
	}
	snprintf(out, size, "%s | %s", cleaning, unavailable);
}

/* Offered only the rows the filter selects (what a narrowed store query
 * returns), the planner asks for the members of the clusters it must
 * judge, and plans what it plans when offered every row. */
static void test_narrowed_offer_plans_the_same(void **state)
{
	static const char *const specs[] = {
		"{}", "{\"cluster_name\": \"c1@lvm\"}", "{\"host\": \"node1\"}",
		"{\"host\": \"node5@lvm\"}", "{\"service_id\": 1}", "{\"is_up\": false}",
		"{\"cluster_name\": \"c2\"}", "{\"binary\": \"cinder-scheduler\"}",
	};
	(void)state;

	for (size_t k = 0; k < sizeof(specs) / sizeof(specs[0]); k++) {
		struct members_source m = { spec_workers, 5, 0, 0 };
		char full[600], narrow[600];
		struct filter f;
		struct cf_err err;
		struct plan a, b;

		assert_int_equal(filter_parse(specs[k], strlen(specs[k]), &f, &err), 0);
		assert_int_equal(planner_plan(&f, spec_workers, 5, &now, 60, &a), 0);
		ids(&a, full, sizeof(full));
		assert_int_equal(planner_begin(&b, &f, &now, 60), 0);
		for (size_t i = 0; i < 5; i++) {
			struct plan probe;
			/* Offer a row only when the full plan selected it. */
			assert_int_equal(planner_plan(&f, &spec_workers[i], 1, &now, 60, &probe), 0);
			if (probe.count)
				assert_int_equal(planner_offer(&b, &spec_workers[i]), 0);
			planner_free(&probe);
		}
		assert_int_equal(planner_finish(&b, false, give_members, &m), 0);
		ids(&b, narrow, sizeof(narrow));
		if (strcmp(full, narrow) != 0)
			fail_msg("%s: every row plans '%s', the narrowed offer '%s'", specs[k], full,
				 narrow);
		/* Cluster c1 is up by node2 when node2 itself was offered. */
		planner_free(&a);
		planner_free(&b);
	}
}

/* Many clusters to judge: one read of every member, not one per cluster. */
static void test_many_clusters_are_judged_in_one_read(void **state)
{
	enum { N = 200 };
	static struct planner_worker w[N];
	struct members_source m = { w, N, 0, 0 };
	struct filter f;
	struct cf_err err;
	struct plan p;
	size_t cleaning = 0;
	(void)state;

	for (int i = 0; i < N; i++) {
		w[i] = (struct planner_worker){ .cluster_disabled = TRI_FALSE };
		w[i].svc.id = i + 1;
		snprintf(w[i].svc.host, NAME_LEN, "node%d@lvm", i + 1);
		snprintf(w[i].svc.binary, NAME_LEN, "cinder-volume");
		snprintf(w[i].svc.cluster_name, NAME_LEN, "cl%03d@lvm", i / 2);
		snprintf(w[i].svc.created_at, DBTIME_LEN, OLD);
		/* The first of each pair down, the second up. */
		snprintf(w[i].svc.updated_at, DBTIME_LEN, "%s", i % 2 ? UP : DOWN);
	}
	assert_int_equal(filter_parse("{\"is_up\": false}", 16, &f, &err), 0);
	assert_int_equal(planner_begin(&p, &f, &now, 60), 0);
	for (int i = 0; i < N; i += 2)
		assert_int_equal(planner_offer(&p, &w[i]), 0);
	assert_int_equal(planner_finish(&p, false, give_members, &m), 0);
	assert_int_equal(m.asked, 0);
	assert_int_equal(m.asked_all, 1);
	assert_int_equal(p.count, N / 2);
	for (size_t i = 0; i < p.count; i++)
		cleaning += p.entries[i].cleaning;
	assert_int_equal(cleaning, N / 2); /* each down one's peer is up */
	planner_free(&p);

	/* Offered every row: nothing asked. */
	m.asked_all = 0;
	assert_int_equal(planner_plan(&f, w, N, &now, 60, &p), 0);
	assert_int_equal(p.count, N / 2);
	assert_string_equal(plan_text(&p, p.entries[0].cluster_name), "cl000@lvm");
	assert_string_equal(plan_text(&p, p.entries[N / 2 - 1].host), "node199@lvm");
	planner_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_worked_example),
		cmocka_unit_test(test_each_filter_alone_and_combined),
		cmocka_unit_test(test_host_and_cluster_matching),
		cmocka_unit_test(test_clusters_all_down_some_up_and_disabled),
		cmocka_unit_test(test_new_worker_without_heartbeat_is_selected_as_up_but_cannot_clean),
		cmocka_unit_test(test_cluster_whose_only_fresh_member_never_beat_is_down),
		cmocka_unit_test(test_a_live_peer_that_cannot_clean_does_not_count),
		cmocka_unit_test(test_destinations),
		cmocka_unit_test(test_host_ranges_match_the_matcher),
		cmocka_unit_test(test_narrowed_offer_plans_the_same),
		cmocka_unit_test(test_many_clusters_are_judged_in_one_read),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
