-- cinderfs schema, migration 10, PostgreSQL dialect: each job's and each
-- progress row's bytes in progress.json, as views. The twin of
-- backend/schema/sqlite/0010-entry-bytes.sql, which says why SQLite's store
-- counts a new request's rows with them. Here 0009's triggers already run
-- once per statement, and the store queues a request's jobs in one
-- statement, so it does not need them; they are here so that both engines
-- have the same schema, and for whoever checks cleanup_request_sizes by
-- hand:
--   SELECT request_id, count(*), sum(value_bytes) FROM cleanup_job_bytes
--   GROUP BY request_id;
CREATE VIEW cleanup_job_bytes AS
SELECT request_id, state,
    cf_int_len(id) + cf_int_len(service_id) + cf_json_len(state) + cf_int_len_or_null(taken_by)
        + cf_json_len_or_null(error) AS value_bytes
FROM cleanup_jobs;

CREATE VIEW cleanup_progress_bytes AS
SELECT request_id, state,
    cf_json_len(resource_type) + cf_json_len(resource_id) + cf_json_len(state)
        + cf_json_len_or_null(detail) + cf_int_len(job_id) + cf_int_len_or_null(worker_id)
        + cf_iso_len(updated_at) AS value_bytes
FROM cleanup_progress;
