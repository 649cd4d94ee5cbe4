/* Accepting cleanup requests on a real SQLite file: the resource lookup
 * (step 7), the upgrade check (step 8), the commit of request, result, jobs
 * and queued progress together, and jobs taken exactly once. */
#include <errno.h>
#include <jansson.h>

#include "cleaner.h"
#include "filter.h"
#include "request.h"
#include "store.h"
#include "testdb.h"

#define NOW_SEC 1795632114 /* 2026-11-25 18:41:54 UTC */
#define VOL "11111111-1111-4111-8111-111111111111"

/* The workers of doc/cleanup.md's worked example, and two in-flight rows of worker 1. */
static void seed(struct testdb *t)
{
	testdb_sql(t->path,
		   "INSERT INTO services (id, host, \"binary\", cluster_name, created_at, updated_at, "
		   "rpc_current_version) VALUES "
		   "(1, 'node1@lvm', 'cinder-volume', 'c1@lvm', '2026-11-25 10:00:00', '2026-11-25 18:00:00', '1.0'),"
		   "(2, 'node2@lvm', 'cinder-volume', 'c1@lvm', '2026-11-25 10:00:00', '2026-11-25 18:41:50', '1.0'),"
		   "(3, 'node3@lvm', 'cinder-volume', NULL, '2026-11-25 10:00:00', '2026-11-25 18:00:00', '1.0'),"
		   "(4, 'sch1', 'cinder-scheduler', NULL, '2026-11-25 10:00:00', '2026-11-25 18:00:00', '1.0'),"
		   "(5, 'node5@lvm', 'cinder-volume', 'c2@lvm', '2026-11-25 10:00:00', '2026-11-25 18:00:00', NULL);"
		   "INSERT INTO clusters (name, \"binary\") VALUES ('c1@lvm', 'cinder-volume'), "
		   "('c2@lvm', 'cinder-volume');"
		   "INSERT INTO workers (resource_type, resource_id, status, service_id, created_at, updated_at) VALUES "
		   "('Volume', '" VOL "', 'deleting', 1, '2026-11-25 17:00:00', '2026-11-25 17:00:00'),"
		   "('Snapshot', '22222222-2222-4222-8222-222222222222', 'creating', 1, "
		   "'2026-11-25 17:00:00', '2026-11-25 17:00:00');");
}

static int submit(struct testdb *t, const char *spec, int64_t *id, char **result, struct cf_err *err)
{
	struct request_input in = {
		.spec = spec, .len = strlen(spec), .uid = 0, .pid = 42, .accepted_by = 2,
		.version = "1.0", .down_time = 60, .now = { NOW_SEC, 0 },
	};
	return request_submit(t->st, &in, id, result, err);
}

static long long count(struct testdb *t, const char *table)
{
	char sql[100];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	return testdb_int(t->path, sql);
}

static void test_accepted_request_commits_result_jobs_and_progress(void **state)
{
	struct testdb *t = *state;
	struct cf_err err;
	char *result = NULL;
	int64_t id;
	json_t *root;

	seed(t);
	assert_int_equal(submit(t, "", &id, &result, &err), 0);
	assert_int_equal(id, 1);
	root = json_loads(result, 0, NULL);
	assert_non_null(root);
	/* The worked example, row 1: cleaning 1 and 4, unavailable 3 and 5. */
	assert_int_equal(json_array_size(json_object_get(root, "cleaning")), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(root, "cleaning"), 0), "id")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(root, "cleaning"), 0), "cluster_name")), "c1@lvm");
	assert_true(json_is_null(json_object_get(json_array_get(json_object_get(root, "cleaning"), 1), "cluster_name")));
	assert_int_equal(json_array_size(json_object_get(root, "unavailable")), 2);
	assert_int_equal(result[strlen(result) - 1], '\n');
	json_decref(root);
	free(result);

	assert_int_equal(count(t, "cleanup_requests"), 1);
	assert_int_equal(testdb_int(t->path, "SELECT count(*) FROM cleanup_jobs WHERE service_id = 1 "
				    "AND dest_cluster = 'c1@lvm' AND dest_service IS NULL"), 1);
	assert_int_equal(testdb_int(t->path, "SELECT count(*) FROM cleanup_jobs WHERE service_id = 4 "
				    "AND dest_cluster IS NULL AND dest_service IS NULL"), 1);
	/* Worker 1's two rows are queued in progress from the start. */
	assert_int_equal(testdb_int(t->path, "SELECT count(*) FROM cleanup_progress WHERE state = 'queued'"), 2);
	assert_int_equal(testdb_int(t->path, "SELECT requester_pid FROM cleanup_requests"), 42);
	assert_int_equal(testdb_int(t->path, "SELECT created_at = '2026-11-25 18:41:54.000000' FROM cleanup_requests"), 1);
}

static void test_spec_bytes_are_kept_exactly(void **state)
{
	struct testdb *t = *state;
	struct cf_err err;
	struct request_row row;
	char *result = NULL;
	const char spec[] = "cluster_name=c1@lvm,\n\thost=node1 \n";
	int64_t id;

	seed(t);
	assert_int_equal(submit(t, spec, &id, &result, &err), 0);
	free(result);
	assert_int_equal(store_last_request(t->st, &row), 0);
	assert_int_equal(row.spec_len, strlen(spec));
	assert_memory_equal(row.spec, spec, strlen(spec));
	store_request_free(&row);
}

static void test_refused_request_changes_nothing(void **state)
{
	struct testdb *t = *state;
	struct cf_err err;
	char *result = NULL;
	int64_t id;

	seed(t);
	assert_int_equal(submit(t, "bad=1", &id, &result, &err), -EINVAL);
	assert_string_equal(err.msg, "Invalid filter keys: bad");
	assert_null(result);
	assert_int_equal(count(t, "cleanup_requests"), 0);
	assert_int_equal(count(t, "cleanup_jobs"), 0);
	assert_int_equal(count(t, "cleanup_progress"), 0);
}

static void test_resource_lookup_fills_owner_and_type(void **state)
{
	struct testdb *t = *state;
	struct cf_err err;
	char *result = NULL;
	int64_t id;

	seed(t);
	assert_int_equal(submit(t, "resource_id=" VOL, &id, &result, &err), 0);
	free(result);
	assert_int_equal(testdb_int(t->path, "SELECT count(*) FROM cleanup_jobs WHERE service_id = 1 "
				    "AND resource_type = 'Volume' AND resource_id = '" VOL "'"), 1);
	assert_int_equal(count(t, "cleanup_jobs"), 1);
	/* Only that resource is queued, not the worker's snapshot. */
	assert_int_equal(count(t, "cleanup_progress"), 1);
}

static void test_resource_lookup_refusals(void **state)
{
	struct testdb *t = *state;
	struct cf_err err;
	char *result = NULL;
	int64_t id;

	seed(t);
	assert_int_equal(submit(t, "resource_id=99999999-9999-4999-8999-999999999999", &id, &result, &err), -EINVAL);
	assert_string_equal(err.msg, "There is no resource with UUID 99999999-9999-4999-8999-999999999999 pending cleanup.");
	/* The type narrows the lookup: the volume is not a snapshot. */
	assert_int_equal(submit(t, "resource_id=" VOL " resource_type=snapshot", &id, &result, &err), -EINVAL);
	assert_string_equal(err.msg, "There is no resource with UUID " VOL " pending cleanup.");
	/* binary takes no part in the lookup (fix). */
	assert_int_equal(submit(t, "resource_id=" VOL " binary=cinder-scheduler", &id, &result, &err), 0);
	free(result);
	result = NULL;
	/* The same UUID as a volume and a snapshot: ambiguous without a type. */
	testdb_sql(t->path, "INSERT INTO workers (resource_type, resource_id, status, service_id, updated_at) "
			    "VALUES ('Snapshot', '" VOL "', 'creating', 3, '2026-11-25 17:00:00')");
	assert_int_equal(submit(t, "resource_id=" VOL, &id, &result, &err), -EINVAL);
	assert_string_equal(err.msg, "There are multiple resources with UUID " VOL " pending cleanup.  Please be more specific.");
	/* A location given skips the lookup. */
	assert_int_equal(submit(t, "resource_id=" VOL " host=null", &id, &result, &err), 0);
	free(result);
}

static void test_upgrade_in_progress_is_ebusy(void **state)
{
	struct testdb *t = *state;
	struct cf_err err;
	char *result = NULL;
	int64_t id;

	seed(t);
	testdb_sql(t->path, "UPDATE services SET rpc_current_version = '0.9' WHERE id = 3");
	assert_int_equal(submit(t, "", &id, &result, &err), -EBUSY);
	assert_string_equal(err.msg, "Cannot perform workers cleanup during system upgrade.");
	assert_int_equal(count(t, "cleanup_requests"), 0);
	/* A retired worker's row, removed, stops blocking. */
	testdb_sql(t->path, "UPDATE services SET deleted = 1 WHERE id = 3");
	assert_int_equal(submit(t, "", &id, &result, &err), 0);
	free(result);
	/* Versions compare as numbers: 1.10 is newer than 1.9. */
	testdb_sql(t->path, "UPDATE services SET rpc_current_version = '1.10' WHERE id = 1");
	assert_int_equal(submit(t, "", &id, &result, &err), 0);
	free(result);
}

static void test_a_job_is_taken_exactly_once(void **state)
{
	struct testdb *t = *state;
	struct cf_err err;
	struct store *other;
	struct job a, b;
	struct timespec now = { NOW_SEC, 0 };
	char *result = NULL;
	int64_t id;

	seed(t);
	assert_int_equal(submit(t, "cluster_name=c1@lvm", &id, &result, &err), 0);
	free(result);
	assert_int_equal(store_open(t->path, 0, &other, &err), 0);
	/* Two members of c1 look for work: one gets the job. */
	assert_int_equal(store_take_job(t->st, 2, "c1@lvm", &now, &a), 0);
	assert_int_equal(store_take_job(other, 6, "c1@lvm", &now, &b), -ENOENT);
	assert_int_equal(a.service_id, 1);
	assert_string_equal(a.state, "running");
	assert_int_equal(a.taken_by, 2);
	/* A worker of another cluster never sees it. */
	assert_int_equal(store_take_job(other, 5, "c2@lvm", &now, &b), -ENOENT);
	{
		/* Every change moves the request's generation. */
		long long before = testdb_int(t->path, "SELECT generation FROM cleanup_request_sizes");
		assert_int_equal(store_finish_job(t->st, a.id, 2, "done", NULL, &now), 0);
		/* Only its taker ends it. */
		assert_int_equal(store_finish_job(t->st, a.id, 6, "failed", "x", &now), -ESTALE);
		assert_true(testdb_int(t->path, "SELECT generation FROM cleanup_request_sizes") > before);
		before = testdb_int(t->path, "SELECT generation FROM cleanup_request_sizes");
		assert_int_equal(store_set_progress(t->st, 1, a.id, "Volume", VOL, "cleaned", "x", 2, &now), 0);
		assert_true(testdb_int(t->path, "SELECT generation FROM cleanup_request_sizes") > before);
	}
	assert_int_equal(testdb_int(t->path, "SELECT state = 'done' FROM cleanup_jobs"), 1);
	store_close(other);
}

static void test_history_keeps_the_newest_and_unfinished_requests(void **state)
{
	struct timespec now = { NOW_SEC, 0 };
	struct testdb *t = *state;
	struct cf_err err;
	char *result = NULL;
	int64_t id;

	seed(t);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(submit(t, "cluster_name=c1@lvm", &id, &result, &err), 0);
		free(result);
	}
	/* Requests 1-3 are finished; request 4's job still runs. */
	testdb_sql(t->path, "UPDATE cleanup_jobs SET state = 'done' WHERE request_id IN (1, 2, 3, 5);"
			    "UPDATE cleanup_jobs SET state = 'running' WHERE request_id = 4");
	assert_int_equal(store_prune_requests(t->st, 1, 0, &now), 3);
	/* Keep the newest one (5) and the unfinished one (4). */
	assert_int_equal(testdb_int(t->path, "SELECT group_concat(id) = '4,5' FROM cleanup_requests"), 1);
	assert_int_equal(testdb_int(t->path, "SELECT count(*) FROM cleanup_jobs WHERE request_id < 4"), 0);
	assert_int_equal(testdb_int(t->path, "SELECT count(*) FROM cleanup_progress WHERE request_id < 4"), 0);
	/* 0 keeps everything. */
	testdb_sql(t->path, "UPDATE cleanup_jobs SET state = 'done'");
	assert_int_equal(store_prune_requests(t->st, 0, 0, &now), 0);
	assert_int_equal(count(t, "cleanup_requests"), 2);
	/* By age: a request older than the limit goes, whatever the count;
	 * one that matched nothing (no job) too. */
	testdb_sql(t->path, "UPDATE cleanup_requests SET created_at = '2026-10-01 00:00:00' WHERE id = 4;"
			    "INSERT INTO cleanup_requests (id, created_at, spec, filter) VALUES "
			    "(9, '2026-09-01 00:00:00', '', '{}')");
	assert_int_equal(store_prune_requests(t->st, 0, 30, &now), 2);
	assert_int_equal(testdb_int(t->path, "SELECT group_concat(id) = '5' FROM cleanup_requests"), 1);
}

/* The result is written without a jansson tree, byte for byte what
 * jansson writes (JSON_INDENT(2), keys in order, a final newline), names
 * that need escaping included. */
static void test_result_text_is_what_jansson_writes(void **state)
{
	static const char *const hosts[] = {
		"node1@lvm", "we\"ird\\host@lvm#p", "tab\there", "ctl\x01\x1f@x", "ünï@lvm", "",
	};
	enum { N = 6 };
	struct planner_worker w[N];
	struct timespec now = { NOW_SEC, 0 };
	struct filter f;
	struct cf_err err;
	struct plan p;
	json_t *doc, *lists[2];
	char *ours, *theirs, *with_nl;
	(void)state;

	for (int i = 0; i < N; i++) {
		w[i] = (struct planner_worker){ .cluster_disabled = TRI_ANY };
		w[i].svc.id = 100 + i;
		snprintf(w[i].svc.host, NAME_LEN, "%s", hosts[i]);
		snprintf(w[i].svc.binary, NAME_LEN, i == 5 ? "cinder-scheduler" : "cinder-volume");
		snprintf(w[i].svc.cluster_name, NAME_LEN, "%s", i % 2 ? "c\"1@lvm" : "");
		snprintf(w[i].svc.created_at, DBTIME_LEN, "2026-11-25 10:00:00");
		/* Even ones up, odd ones down. */
		snprintf(w[i].svc.updated_at, DBTIME_LEN, "%s",
			 i % 2 ? "2026-11-25 18:00:00" : "2026-11-25 18:41:50");
	}
	assert_int_equal(filter_parse("{}", 2, &f, &err), 0);
	assert_int_equal(planner_plan(&f, w, N, &now, 60, &p), 0);
	ours = request_render_result(&p);
	assert_non_null(ours);

	doc = json_object();
	lists[0] = json_array();
	lists[1] = json_array();
	for (size_t i = 0; i < p.count; i++) {
		const struct plan_entry *e = &p.entries[i];
		json_t *o = json_object();
		json_object_set_new(o, "id", json_integer(e->id));
		json_object_set_new(o, "host", json_string(plan_text(&p, e->host)));
		json_object_set_new(o, "binary", json_string(plan_text(&p, e->binary)));
		json_object_set_new(o, "cluster_name", e->cluster_name
				    ? json_string(plan_text(&p, e->cluster_name)) : json_null());
		json_array_append_new(lists[e->cleaning ? 0 : 1], o);
	}
	json_object_set_new(doc, "cleaning", lists[0]);
	json_object_set_new(doc, "unavailable", lists[1]);
	theirs = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	assert_non_null(theirs);
	with_nl = malloc(strlen(theirs) + 2);
	assert_non_null(with_nl);
	sprintf(with_nl, "%s\n", theirs);
	assert_string_equal(ours, with_nl);
	free(ours);
	free(with_nl);
	free(theirs);
	json_decref(doc);

	/* Nothing selected: two empty lists. */
	planner_free(&p);
	assert_int_equal(filter_parse("{\"host\": \"nowhere\"}", 19, &f, &err), 0);
	assert_int_equal(planner_plan(&f, w, N, &now, 60, &p), 0);
	ours = request_render_result(&p);
	assert_string_equal(ours, request_empty_result);
	free(ours);
	planner_free(&p);
}

/* A result of several pieces reads back whole and at any offset, across
 * piece boundaries and inside UTF-8 characters, and its size is known
 * without reading it. */
static void test_result_reads_back_in_pieces(void **state)
{
	struct testdb *t = *state;
	struct request_row req;
	struct cf_err err;
	char *result = NULL, *whole = NULL, buf[70000];
	size_t len, got;
	int64_t id;
	static const uint64_t offsets[] = { 0, 1, 65535, 65536, 65537, 131071, 131072, 150000 };

	for (int i = 1; i <= 1500; i++) {
		char sql[300];
		snprintf(sql, sizeof(sql), "INSERT INTO services (id, host, \"binary\", created_at, "
			 "updated_at, rpc_current_version) VALUES (%d, 'nœud-%d-ünïcödé@lvm', "
			 "'cinder-volume', '2026-11-25 10:00:00', '2026-11-25 18:00:00', '1.0')", i, i);
		testdb_sql(t->path, sql);
	}
	assert_int_equal(submit(t, "{}", &id, &result, &err), 0);
	len = strlen(result);
	assert_true(len > 2 * 65536);
	assert_int_equal(store_get_request(t->st, id, &req), 0);
	assert_int_equal(req.result_size, len);
	store_request_free(&req);
	assert_int_equal(testdb_int(t->path, "SELECT count(*) FROM cleanup_results"),
			 (long long)((len + 65535) / 65536));
	assert_int_equal(store_request_result(t->st, id, &whole, &got), 0);
	assert_int_equal(got, len);
	assert_memory_equal(whole, result, len);
	for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		uint64_t off = offsets[i];
		size_t want = off >= len ? 0 : (len - off < sizeof(buf) ? len - off : sizeof(buf));
		assert_int_equal(store_read_result(t->st, id, off, buf, sizeof(buf), &got), 0);
		assert_int_equal(got, want);
		assert_memory_equal(buf, result + (off < len ? off : 0), got);
		assert_int_equal(store_read_result(t->st, id, off, buf, 3, &got), 0);
		assert_int_equal(got, off >= len ? 0 : (len - off < 3 ? len - off : 3));
	}
	assert_int_equal(store_read_result(t->st, id, len + 10, buf, 10, &got), 0);
	assert_int_equal(got, 0);
	free(whole);
	free(result);
}

static int count_offered(void *ctx, const struct planner_worker *w)
{
	(void)w;
	(*(size_t *)ctx)++;
	return 0;
}

/* A filter by id, host or cluster reads the rows it can select, not every
 * worker: of 5,000 workers, the store hands the planner only those. */
static void test_filters_read_what_they_select(void **state)
{
	struct testdb *t = *state;
	static const struct {
		const char *spec;
		size_t offered;
		bool every_row;
	} cases[] = {
		{ "{\"host\": \"node77@lvm\"}", 2, false },       /* itself, node77@lvm#p */
		{ "{\"host\": \"node77\"}", 2, false },
		{ "{\"cluster_name\": \"cl0007@lvm\"}", 10, false },
		{ "{\"cluster_name\": \"cl0007\"}", 10, false },
		{ "{\"service_id\": 4321}", 1, false },
		{ "{\"service_id\": 0}", 0, false },
		{ "{}", 5001, true },
	};

	testdb_sql(t->path, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) "
			    "INSERT INTO services (id, host, \"binary\", cluster_name, created_at, updated_at) "
			    "SELECT i, 'node' || i || '@lvm', 'cinder-volume', printf('cl%04d@lvm', (i - 1) / 10), "
			    "'2026-11-25 10:00:00', '2026-11-25 18:00:00' FROM n;"
			    "INSERT INTO services (id, host, \"binary\", created_at) VALUES "
			    "(5001, 'node77@lvm#p', 'cinder-volume', '2026-11-25 10:00:00')");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct filter f;
		struct cf_err err;
		size_t offered = 0;
		bool every_row;

		assert_int_equal(filter_parse(cases[i].spec, strlen(cases[i].spec), &f, &err), 0);
		assert_int_equal(store_plan_candidates(t->st, &f, count_offered, &offered, &every_row), 0);
		if (offered != cases[i].offered || every_row != cases[i].every_row)
			fail_msg("%s: %zu row(s) offered (every row: %d), expected %zu (%d)",
				 cases[i].spec, offered, every_row, cases[i].offered, cases[i].every_row);
	}
}

static int preview(struct testdb *t, const char *spec, char **out, size_t *len, struct cf_err *err)
{
	struct request_input in = {
		.spec = spec, .len = strlen(spec), .uid = 0, .pid = 42, .accepted_by = 2,
		.version = "1.0", .down_time = 60, .now = { NOW_SEC, 0 },
	};
	return request_preview(t->st, &in, out, len, err);
}

static long long footprint(struct testdb *t)
{
	return testdb_int(t->path, "SELECT (SELECT count(*) FROM cleanup_requests) + "
			  "(SELECT count(*) FROM cleanup_jobs) + (SELECT count(*) FROM cleanup_progress) + "
			  "(SELECT count(*) FROM cleanup_results) + (SELECT count(*) FROM "
			  "cleanup_request_sizes) + 1000 * (SELECT count(*) FROM workers)");
}

static void test_preview_plans_as_the_request_and_writes_nothing(void **state)
{
	struct testdb *t = *state;
	const char *specs[] = { "", "cluster_name=c1", "binary=cinder-volume", "is_up=true",
				"resource_type=snapshot" };
	struct cf_err err;

	seed(t);
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		char *text = NULL, *result = NULL, *workers;
		size_t len = 0;
		long long before = footprint(t);
		int64_t id;
		json_t *root, *resources;

		assert_int_equal(preview(t, specs[i], &text, &len, &err), 0);
		assert_int_equal(len, strlen(text));
		assert_int_equal(footprint(t), before);
		root = json_loads(text, 0, NULL);
		assert_non_null(root);
		resources = json_incref(json_object_get(root, "resources"));
		assert_true(json_is_array(resources));
		json_object_del(root, "resources");
		workers = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		/* The same workers, in the same bytes, as the request then
		 * answers (jansson writes what request_render_result does). */
		assert_int_equal(submit(t, specs[i], &id, &result, &err), 0);
		result[strlen(result) - 1] = '\0';
		assert_string_equal(workers, result);
		if (i == 0 || i == 1) {
			/* Worker 1's two rows, deleting volume (gone) then
			 * creating snapshot (gone): nothing left to act on. */
			assert_int_equal(json_array_size(resources), 2);
			assert_string_equal(json_string_value(json_object_get(json_array_get(resources, 0),
									      "action")), "skip");
			assert_true(json_is_null(json_object_get(json_array_get(resources, 0), "status")));
		}
		if (i == 4)
			assert_string_equal(json_string_value(json_object_get(json_array_get(resources, 0),
									      "resource_type")), "Snapshot");
		free(workers);
		free(result);
		free(text);
		json_decref(resources);
		json_decref(root);
	}
}

static void test_preview_refuses_as_the_request(void **state)
{
	struct testdb *t = *state;
	const char *specs[] = { "bad=1", "is_up=maybe", "host=", "resource_id=nope",
				"resource_id=99999999-9999-4999-8999-999999999999", "{\"x\": ",
				"service_id=abc" };
	long long before;

	seed(t);
	before = footprint(t);
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		struct cf_err perr = { "" }, rerr = { "" };
		char *text = NULL;
		size_t len = 0;
		int64_t id;
		int prc = preview(t, specs[i], &text, &len, &perr);
		int rrc = submit(t, specs[i], &id, NULL, &rerr);

		assert_int_equal(prc, -EINVAL);
		assert_int_equal(prc, rrc);
		assert_string_equal(perr.msg, rerr.msg);
		assert_null(text);
	}
	/* Step 8 too: EBUSY in the same words. */
	testdb_sql(t->path, "UPDATE services SET rpc_current_version = '0.9' WHERE id = 3");
	{
		struct cf_err perr = { "" };
		char *text = NULL;
		size_t len = 0;
		assert_int_equal(preview(t, "", &text, &len, &perr), -EBUSY);
		assert_string_equal(perr.msg, "Cannot perform workers cleanup during system upgrade.");
	}
	assert_int_equal(footprint(t), before);
}

static void test_preview_foresees_what_the_cleaner_does(void **state)
{
	static const struct {
		bool scheduler;
		const char *type, *row, *status, *attach, *action;
	} cases[] = {
		{ false, "Volume", "creating", "creating", "detached", "error" },
		{ false, "Volume", "downloading", "downloading", "detached", "error" },
		{ false, "Volume", "uploading", "uploading", "detached", "available" },
		{ false, "Volume", "uploading", "uploading", "attached", "in-use" },
		{ false, "Volume", "deleting", "deleting", "detached", "delete" },
		{ false, "Volume", "deleting", "deleting", "attached", "skip" },
		{ false, "Volume", "deleting", "available", "detached", "skip" },
		{ false, "Volume", "creating", NULL, "", "skip" },
		{ false, "Volume", "available", "available", "detached", "skip" },
		{ false, "Snapshot", "creating", "creating", "", "error" },
		{ false, "Snapshot", "deleting", "deleting", "", "delete" },
		{ false, "Snapshot", "available", "available", "", "skip" },
		{ false, "Snapshot", "deleting", NULL, "", "skip" },
		{ false, "Backup", "creating", "creating", "", "skip" },
		{ true, "Volume", "creating", "creating", "detached", "error" },
		{ true, "Volume", "deleting", "deleting", "detached", "skip" },
		{ true, "Snapshot", "creating", "creating", "", "skip" },
		{ true, "Volume", "creating", "error", "detached", "skip" },
	};
	char why[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = cleaner_foresee(cases[i].scheduler, cases[i].type, cases[i].row,
						  cases[i].status, cases[i].attach, why, sizeof(why));
		if (strcmp(got, cases[i].action) != 0)
			fail_msg("case %zu (%s %s row %s, now %s): %s, expected %s (%s)", i,
				 cases[i].scheduler ? "scheduler" : "volume worker", cases[i].type,
				 cases[i].row, cases[i].status ? cases[i].status : "gone", got,
				 cases[i].action, why);
		assert_true(why[0] != '\0');
	}
	cleaner_foresee(false, "Volume", "deleting", "available", "detached", why, sizeof(why));
	assert_string_equal(why, "the volume is available now, not deleting: row removed");
}

static int64_t reach(struct testdb *t, const char *spec)
{
	struct request_input in = {
		.spec = spec, .len = strlen(spec), .down_time = 60, .now = { NOW_SEC, 0 },
	};
	int64_t rows = -1;

	assert_int_equal(request_reach(t->st, &in, &rows), 0);
	return rows;
}

/* What cleanup/request's read counts: the rows of the workers a spec
 * selects now (unavailable ones too), of its type and id. */
static void test_reach_counts_the_rows_of_the_selected_workers(void **state)
{
	struct testdb *t = *state;

	seed(t);
	/* Worker 2 (up) has an operation in flight; worker 5 (down, its
	 * cluster down: unavailable) a stuck row. */
	testdb_sql(t->path,
		   "INSERT INTO workers (resource_type, resource_id, status, service_id, created_at, "
		   "updated_at) VALUES ('Volume', '33333333-3333-4333-8333-333333333333', 'creating', 2, "
		   "'2026-11-25 18:41:00', '2026-11-25 18:41:00'), ('Volume', "
		   "'44444444-4444-4444-8444-444444444444', 'creating', 5, '2026-11-25 17:00:00', "
		   "'2026-11-25 17:00:00')");
	assert_int_equal(reach(t, ""), 3);                 /* 1's two, 5's one; not 2's */
	assert_int_equal(reach(t, "host=node1@lvm"), 2);
	assert_int_equal(reach(t, "host=node1@lvm\n# cinderfs: a note\n"), 2);
	assert_int_equal(reach(t, "{\"cluster_name\": \"c1\"}"), 2);
	assert_int_equal(reach(t, "host=node1 resource_type=snapshot"), 1);
	assert_int_equal(reach(t, "resource_id=" VOL), 1);  /* step 7: its owner, down */
	assert_int_equal(reach(t, "service_id=5"), 1);
	assert_int_equal(reach(t, "is_up=true"), 1);       /* 2's, in flight */
	assert_int_equal(reach(t, "host=node2@lvm"), 0);   /* up: not selected */
	assert_int_equal(reach(t, "host=node6@lvn"), 0);   /* nobody */
	assert_int_equal(reach(t, "binary=cinder-scheduler"), 0);
	assert_int_equal(reach(t, "bogus=1"), 0);          /* no longer a spec: nothing */
	/* A deleted worker's rows are no one's to clean. */
	testdb_sql(t->path, "UPDATE services SET deleted = 1 WHERE id = 5");
	assert_int_equal(reach(t, ""), 2);
}

/* What store_reach_rows gives a callback that stops at a number of rows. */
struct reach_seen {
	int64_t rows, stop_at;
	int calls;
};

static int note_reach(void *ctx, const struct planner_worker *w, const char *type, int64_t rows)
{
	struct reach_seen *r = ctx;

	(void)w;
	(void)type;
	r->rows += rows;
	r->calls++;
	return r->rows >= r->stop_at ? 1 : 0;
}

/* Rows past the first pages of the read (2,048 rows a page): the count is
 * exact below the cap wherever the selected rows lie, a page's last row
 * and the next page's first included once each, and the read stops when
 * the callback says so. */
static void test_reach_reads_every_page_and_stops_at_the_cap(void **state)
{
	struct testdb *t = *state;
	struct reach_seen seen = { .stop_at = REQUEST_REACH_CAP };
	struct cf_err err;
	struct filter f;

	seed(t);
	/* 5,000 rows with ids 3 to 5,002 (seed's two are 1 and 2): worker
	 * 3's (down), but for worker 2's (up, in flight) at the ids on each
	 * side of the first two page ends. */
	testdb_sql(t->path,
		   "WITH RECURSIVE n(i) AS (SELECT 3 UNION ALL SELECT i + 1 FROM n WHERE i < 5002) "
		   "INSERT INTO workers (id, resource_type, resource_id, status, service_id, "
		   "created_at, updated_at) SELECT i, 'Volume', printf('%08d-0000-4000-8000-"
		   "000000000000', i), 'creating', CASE WHEN i IN (2048, 2049, 4096, 4097) THEN 2 "
		   "ELSE 3 END, '2026-11-25 17:00:00', '2026-11-25 17:00:00' FROM n");
	assert_int_equal(reach(t, "is_up=true"), 4);
	assert_int_equal(reach(t, "service_id=2"), 0); /* up: not selected */
	assert_int_equal(reach(t, "host=node3@lvm"), REQUEST_REACH_CAP);
	assert_int_equal(reach(t, ""), REQUEST_REACH_CAP);
	/* The read itself stops: not every row reaches the callback. */
	assert_int_equal(filter_parse("", 0, &f, &err), 0);
	assert_int_equal(store_reach_rows(t->st, &f, note_reach, &seen), 1);
	assert_true(seen.rows >= REQUEST_REACH_CAP);
	assert_true(seen.rows < 5002);
	/* Below the cap every row counts, over three pages: 623 of worker 3
	 * kept (one in eight, but 2,048 and 4,096, worker 2's), and seed's two of
	 * worker 1. */
	testdb_sql(t->path, "DELETE FROM workers WHERE service_id = 3 AND id % 8 != 0");
	assert_int_equal(testdb_int(t->path, "SELECT count(*) FROM workers WHERE service_id = 3"), 623);
	assert_int_equal(reach(t, "is_up=false"), 2 + 623);
	assert_int_equal(reach(t, "resource_type=snapshot"), 1);
}

#define T(name) cmocka_unit_test_setup_teardown(name, testdb_setup_store, testdb_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_accepted_request_commits_result_jobs_and_progress),
		T(test_spec_bytes_are_kept_exactly),
		T(test_refused_request_changes_nothing),
		T(test_resource_lookup_fills_owner_and_type),
		T(test_resource_lookup_refusals),
		T(test_upgrade_in_progress_is_ebusy),
		T(test_a_job_is_taken_exactly_once),
		T(test_history_keeps_the_newest_and_unfinished_requests),
		cmocka_unit_test(test_result_text_is_what_jansson_writes),
		T(test_result_reads_back_in_pieces),
		T(test_filters_read_what_they_select),
		T(test_preview_plans_as_the_request_and_writes_nothing),
		T(test_preview_refuses_as_the_request),
		cmocka_unit_test(test_preview_foresees_what_the_cleaner_does),
		T(test_reach_counts_the_rows_of_the_selected_workers),
		T(test_reach_reads_every_page_and_stops_at_the_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
