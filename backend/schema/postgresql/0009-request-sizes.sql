-- cinderfs schema, migration 9, PostgreSQL dialect: what a request's files
-- measure, kept as its jobs and progress change, so that stat and ls -l of
-- cleanup/history/<n>/ answer from one small row instead of rendering a
-- document that can run to tens of megabytes. The twin of
-- backend/schema/sqlite/0009-request-sizes.sql, which says what the
-- columns hold and why they have a table of their own (SQLite's reasons;
-- the same table here keeps the store's SQL one for both engines). Here
-- the lengths are SQL functions, and the triggers run once per statement
-- over the rows it wrote (as 0004's generation did), with the expensive
-- lengths (a time's, the short texts') computed once per distinct value:
-- a request queues one progress row per resource in one INSERT, and
-- 100,000 rows must not cost 100,000 parses of the same time.

-- A string value's bytes in progress.json: JSON-quoted, escapes and all
-- (to_json escapes as jansson and progress_json.c do); NULL reads as ''.
CREATE FUNCTION cf_json_len(t text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT octet_length(to_json(COALESCE(t, ''))::text)::bigint $$;

-- The same for a value that renders as null when NULL or '' (detail, error).
CREATE FUNCTION cf_json_len_or_null(t text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN COALESCE(t, '') = '' THEN 4 ELSE octet_length(to_json(t)::text)::bigint END $$;

-- An integer's decimal digits (NULL reads as 0); or null (4) when it is 0.
CREATE FUNCTION cf_int_len(n bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT length(COALESCE(n, 0)::text)::bigint $$;

CREATE FUNCTION cf_int_len_or_null(n bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN COALESCE(n, 0) = 0 THEN 4 ELSE length(n::text)::bigint END $$;

-- A stored time as progress.json shows it: the quoted ISO time of
-- dbtime_to_iso, 18 bytes and the year's digits (a 23:59:60 on 12-31 rolls
-- into the next year), or "" (2) when dbtime_parse refuses the text, which
-- cf_time_ns (0001) reads exactly as it does.
CREATE FUNCTION cf_iso_len(t text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT CASE WHEN cf_time_ns(t) IS NULL THEN 2
    ELSE 18 + length((substr(t, 1, 4)::integer
                      + CASE WHEN substr(t, 6, 5) = '12-31' AND substr(t, 12, 8) = '23:59:60' THEN 1 ELSE 0 END)::text)
END::bigint
$$;

CREATE TABLE cleanup_request_sizes (
    request_id            bigint PRIMARY KEY,                 -- cleanup_requests.id
    created_at            text COLLATE "C" NOT NULL,          -- copied from cleanup_requests as written
    requester_uid         bigint,                             -- copied
    requester_pid         bigint,                             -- copied
    accepted_by           bigint,                             -- copied
    cancelled_at          text COLLATE "C",                   -- copied
    cancelled_by          bigint,                             -- copied
    spec_bytes            bigint NOT NULL DEFAULT 0,          -- bytes of spec (cleanup/request's size)
    result_bytes          bigint NOT NULL DEFAULT 0,          -- bytes of the result (cleanup/result's size; cleanup_requests.result_size)
    generation            bigint NOT NULL DEFAULT 0,          -- +1 on every change of its jobs' states or progress (was cleanup_requests.generation)
    progress_revision     bigint NOT NULL DEFAULT 0,          -- +1 on every row of its jobs or progress written (any column)
    jobs_total            bigint NOT NULL DEFAULT 0,          -- its cleanup_jobs rows
    jobs_value_bytes      bigint NOT NULL DEFAULT 0,          -- bytes of their values in progress.json
    jobs_queued           bigint NOT NULL DEFAULT 0,          -- of which in state queued
    jobs_running          bigint NOT NULL DEFAULT 0,          -- ... running
    jobs_failed           bigint NOT NULL DEFAULT 0,          -- ... failed
    jobs_cancelled        bigint NOT NULL DEFAULT 0,          -- ... cancelled
    resources_total       bigint NOT NULL DEFAULT 0,          -- its cleanup_progress rows
    resources_value_bytes bigint NOT NULL DEFAULT 0,          -- bytes of their values in progress.json
    resources_queued      bigint NOT NULL DEFAULT 0,          -- of which in state queued
    resources_claimed     bigint NOT NULL DEFAULT 0,          -- ... claimed
    resources_cleaned     bigint NOT NULL DEFAULT 0,          -- ... cleaned
    resources_skipped     bigint NOT NULL DEFAULT 0,          -- ... skipped
    resources_refused     bigint NOT NULL DEFAULT 0,          -- ... refused
    resources_failed      bigint NOT NULL DEFAULT 0,          -- ... failed
    resources_cancelled   bigint NOT NULL DEFAULT 0           -- ... cancelled
);

-- The requests already there, and their generations.
INSERT INTO cleanup_request_sizes (request_id, created_at, requester_uid, requester_pid, accepted_by, cancelled_at, cancelled_by, spec_bytes, result_bytes, generation)
SELECT id, created_at, requester_uid, requester_pid, accepted_by, cancelled_at, cancelled_by, octet_length(spec), result_size, generation
FROM cleanup_requests;

UPDATE cleanup_request_sizes r SET
    resources_total = d.total,
    resources_value_bytes = d.value_bytes,
    resources_queued = d.queued,
    resources_claimed = d.claimed,
    resources_cleaned = d.cleaned,
    resources_skipped = d.skipped,
    resources_refused = d.refused,
    resources_failed = d.failed,
    resources_cancelled = d.cancelled
FROM (SELECT g.request_id,
          sum(g.n) AS total,
          sum(g.n * (cf_json_len(g.resource_type) + cf_json_len(g.state) + cf_json_len_or_null(g.detail) + cf_iso_len(g.updated_at)) + g.own) AS value_bytes,
          COALESCE(sum(g.n) FILTER (WHERE g.state = 'queued'), 0) AS queued,
          COALESCE(sum(g.n) FILTER (WHERE g.state = 'claimed'), 0) AS claimed,
          COALESCE(sum(g.n) FILTER (WHERE g.state = 'cleaned'), 0) AS cleaned,
          COALESCE(sum(g.n) FILTER (WHERE g.state = 'skipped'), 0) AS skipped,
          COALESCE(sum(g.n) FILTER (WHERE g.state = 'refused'), 0) AS refused,
          COALESCE(sum(g.n) FILTER (WHERE g.state = 'failed'), 0) AS failed,
          COALESCE(sum(g.n) FILTER (WHERE g.state = 'cancelled'), 0) AS cancelled
      FROM (SELECT x.request_id, x.resource_type, x.state, x.detail, x.updated_at, count(*) AS n, sum(cf_json_len(x.resource_id) + cf_int_len(x.job_id) + cf_int_len_or_null(x.worker_id)) AS own
            FROM cleanup_progress x GROUP BY x.request_id, x.resource_type, x.state, x.detail, x.updated_at) g
      GROUP BY g.request_id) d
WHERE r.request_id = d.request_id;

UPDATE cleanup_request_sizes r SET
    jobs_total = d.total,
    jobs_value_bytes = d.value_bytes,
    jobs_queued = d.queued,
    jobs_running = d.running,
    jobs_failed = d.failed,
    jobs_cancelled = d.cancelled
FROM (SELECT g.request_id,
          sum(g.n) AS total,
          sum(g.n * (cf_json_len(g.state) + cf_json_len_or_null(g.error)) + g.own) AS value_bytes,
          COALESCE(sum(g.n) FILTER (WHERE g.state = 'queued'), 0) AS queued,
          COALESCE(sum(g.n) FILTER (WHERE g.state = 'running'), 0) AS running,
          COALESCE(sum(g.n) FILTER (WHERE g.state = 'failed'), 0) AS failed,
          COALESCE(sum(g.n) FILTER (WHERE g.state = 'cancelled'), 0) AS cancelled
      FROM (SELECT x.request_id, x.state, x.error, count(*) AS n, sum(cf_int_len(x.id) + cf_int_len(x.service_id) + cf_int_len_or_null(x.taken_by)) AS own
            FROM cleanup_jobs x GROUP BY x.request_id, x.state, x.error) g
      GROUP BY g.request_id) d
WHERE r.request_id = d.request_id;

-- The generation moves to cleanup_request_sizes, with 0004's triggers:
-- the progress ones are folded into the sizes' below (one trigger and one
-- write per statement: a statement trigger and its UPDATE cost ~0.2 ms,
-- and the cleaner writes a row a statement), the jobs' (UPDATE OF state,
-- per row) writes the new place.
DROP TRIGGER cleanup_progress_generation_insert ON cleanup_progress;
DROP TRIGGER cleanup_progress_generation_update ON cleanup_progress;
DROP FUNCTION cf_generation_of_rows();
CREATE OR REPLACE FUNCTION cf_generation_of_row() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE cleanup_request_sizes SET generation = generation + 1 WHERE request_id = NEW.request_id;
    RETURN NULL;
END
$$;
ALTER TABLE cleanup_requests DROP COLUMN generation;

-- The request's own columns, copied as they are written.
CREATE FUNCTION cf_request_copies() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO cleanup_request_sizes (request_id, created_at, requester_uid, requester_pid,
            accepted_by, cancelled_at, cancelled_by, spec_bytes, result_bytes)
        VALUES (NEW.id, NEW.created_at, NEW.requester_uid, NEW.requester_pid, NEW.accepted_by,
            NEW.cancelled_at, NEW.cancelled_by, octet_length(NEW.spec), NEW.result_size);
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE cleanup_request_sizes SET created_at = NEW.created_at,
            requester_uid = NEW.requester_uid, requester_pid = NEW.requester_pid,
            accepted_by = NEW.accepted_by, cancelled_at = NEW.cancelled_at,
            cancelled_by = NEW.cancelled_by, spec_bytes = octet_length(NEW.spec),
            result_bytes = NEW.result_size
        WHERE request_id = NEW.id;
    ELSE
        DELETE FROM cleanup_request_sizes WHERE request_id = OLD.id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER cleanup_requests_sizes_insert AFTER INSERT ON cleanup_requests
    FOR EACH ROW EXECUTE FUNCTION cf_request_copies();
CREATE TRIGGER cleanup_requests_sizes_update
    AFTER UPDATE OF created_at, requester_uid, requester_pid, accepted_by, cancelled_at, cancelled_by,
    spec, result_size ON cleanup_requests
    FOR EACH ROW EXECUTE FUNCTION cf_request_copies();
CREATE TRIGGER cleanup_requests_sizes_delete AFTER DELETE ON cleanup_requests
    FOR EACH ROW EXECUTE FUNCTION cf_request_copies();

-- What the rows a statement wrote add to their requests' sizes: each row
-- counted +1 as written (new_rows) and -1 as it was (old_rows). The
-- values unique to a row (resource_id, the ids) are measured per row, the
-- others once per distinct combination.
CREATE FUNCTION cf_progress_sizes() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE cleanup_request_sizes r SET
            generation = r.generation + d.fresh,
            progress_revision = r.progress_revision + d.written,
            resources_total = r.resources_total + d.total,
            resources_value_bytes = r.resources_value_bytes + d.value_bytes,
            resources_queued = r.resources_queued + d.queued,
            resources_claimed = r.resources_claimed + d.claimed,
            resources_cleaned = r.resources_cleaned + d.cleaned,
            resources_skipped = r.resources_skipped + d.skipped,
            resources_refused = r.resources_refused + d.refused,
            resources_failed = r.resources_failed + d.failed,
            resources_cancelled = r.resources_cancelled + d.cancelled
        FROM (SELECT g.request_id,
                  sum(g.rows) AS written,
                  sum(g.fresh) AS fresh,
                  sum(g.n) AS total,
                  sum(g.n * (cf_json_len(g.resource_type) + cf_json_len(g.state) + cf_json_len_or_null(g.detail) + cf_iso_len(g.updated_at)) + g.own) AS value_bytes,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'queued'), 0) AS queued,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'claimed'), 0) AS claimed,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'cleaned'), 0) AS cleaned,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'skipped'), 0) AS skipped,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'refused'), 0) AS refused,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'failed'), 0) AS failed,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'cancelled'), 0) AS cancelled
              FROM (SELECT x.request_id, x.resource_type, x.state, x.detail, x.updated_at, count(*) AS rows,
                        count(*) FILTER (WHERE x.sign > 0) AS fresh, sum(x.sign) AS n,
                        sum(x.sign * (cf_json_len(x.resource_id) + cf_int_len(x.job_id) + cf_int_len_or_null(x.worker_id))) AS own
                    FROM (SELECT 1 AS sign, request_id, resource_type, resource_id, state, detail, job_id, worker_id, updated_at FROM new_rows) x
                    GROUP BY x.request_id, x.resource_type, x.state, x.detail, x.updated_at) g
              GROUP BY g.request_id) d
        WHERE r.request_id = d.request_id;
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE cleanup_request_sizes r SET
            generation = r.generation + d.fresh,
            progress_revision = r.progress_revision + d.written,
            resources_total = r.resources_total + d.total,
            resources_value_bytes = r.resources_value_bytes + d.value_bytes,
            resources_queued = r.resources_queued + d.queued,
            resources_claimed = r.resources_claimed + d.claimed,
            resources_cleaned = r.resources_cleaned + d.cleaned,
            resources_skipped = r.resources_skipped + d.skipped,
            resources_refused = r.resources_refused + d.refused,
            resources_failed = r.resources_failed + d.failed,
            resources_cancelled = r.resources_cancelled + d.cancelled
        FROM (SELECT g.request_id,
                  sum(g.rows) AS written,
                  sum(g.fresh) AS fresh,
                  sum(g.n) AS total,
                  sum(g.n * (cf_json_len(g.resource_type) + cf_json_len(g.state) + cf_json_len_or_null(g.detail) + cf_iso_len(g.updated_at)) + g.own) AS value_bytes,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'queued'), 0) AS queued,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'claimed'), 0) AS claimed,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'cleaned'), 0) AS cleaned,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'skipped'), 0) AS skipped,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'refused'), 0) AS refused,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'failed'), 0) AS failed,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'cancelled'), 0) AS cancelled
              FROM (SELECT x.request_id, x.resource_type, x.state, x.detail, x.updated_at, count(*) AS rows,
                        count(*) FILTER (WHERE x.sign > 0) AS fresh, sum(x.sign) AS n,
                        sum(x.sign * (cf_json_len(x.resource_id) + cf_int_len(x.job_id) + cf_int_len_or_null(x.worker_id))) AS own
                    FROM (SELECT 1 AS sign, request_id, resource_type, resource_id, state, detail, job_id, worker_id, updated_at FROM new_rows
                      UNION ALL SELECT -1, request_id, resource_type, resource_id, state, detail, job_id, worker_id, updated_at FROM old_rows) x
                    GROUP BY x.request_id, x.resource_type, x.state, x.detail, x.updated_at) g
              GROUP BY g.request_id) d
        WHERE r.request_id = d.request_id;
    ELSE
        UPDATE cleanup_request_sizes r SET
            progress_revision = r.progress_revision + d.written,
            resources_total = r.resources_total + d.total,
            resources_value_bytes = r.resources_value_bytes + d.value_bytes,
            resources_queued = r.resources_queued + d.queued,
            resources_claimed = r.resources_claimed + d.claimed,
            resources_cleaned = r.resources_cleaned + d.cleaned,
            resources_skipped = r.resources_skipped + d.skipped,
            resources_refused = r.resources_refused + d.refused,
            resources_failed = r.resources_failed + d.failed,
            resources_cancelled = r.resources_cancelled + d.cancelled
        FROM (SELECT g.request_id,
                  sum(g.rows) AS written,
                  sum(g.fresh) AS fresh,
                  sum(g.n) AS total,
                  sum(g.n * (cf_json_len(g.resource_type) + cf_json_len(g.state) + cf_json_len_or_null(g.detail) + cf_iso_len(g.updated_at)) + g.own) AS value_bytes,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'queued'), 0) AS queued,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'claimed'), 0) AS claimed,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'cleaned'), 0) AS cleaned,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'skipped'), 0) AS skipped,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'refused'), 0) AS refused,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'failed'), 0) AS failed,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'cancelled'), 0) AS cancelled
              FROM (SELECT x.request_id, x.resource_type, x.state, x.detail, x.updated_at, count(*) AS rows,
                        count(*) FILTER (WHERE x.sign > 0) AS fresh, sum(x.sign) AS n,
                        sum(x.sign * (cf_json_len(x.resource_id) + cf_int_len(x.job_id) + cf_int_len_or_null(x.worker_id))) AS own
                    FROM (SELECT -1 AS sign, request_id, resource_type, resource_id, state, detail, job_id, worker_id, updated_at FROM old_rows) x
                    GROUP BY x.request_id, x.resource_type, x.state, x.detail, x.updated_at) g
              GROUP BY g.request_id) d
        WHERE r.request_id = d.request_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER cleanup_progress_generation_insert AFTER INSERT ON cleanup_progress
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cf_progress_sizes();

CREATE TRIGGER cleanup_progress_generation_update AFTER UPDATE ON cleanup_progress
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cf_progress_sizes();

CREATE TRIGGER cleanup_progress_sizes_delete AFTER DELETE ON cleanup_progress
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cf_progress_sizes();

CREATE FUNCTION cf_job_sizes() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE cleanup_request_sizes r SET
            progress_revision = r.progress_revision + d.written,
            jobs_total = r.jobs_total + d.total,
            jobs_value_bytes = r.jobs_value_bytes + d.value_bytes,
            jobs_queued = r.jobs_queued + d.queued,
            jobs_running = r.jobs_running + d.running,
            jobs_failed = r.jobs_failed + d.failed,
            jobs_cancelled = r.jobs_cancelled + d.cancelled
        FROM (SELECT g.request_id,
                  sum(g.rows) AS written,
                  sum(g.fresh) AS fresh,
                  sum(g.n) AS total,
                  sum(g.n * (cf_json_len(g.state) + cf_json_len_or_null(g.error)) + g.own) AS value_bytes,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'queued'), 0) AS queued,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'running'), 0) AS running,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'failed'), 0) AS failed,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'cancelled'), 0) AS cancelled
              FROM (SELECT x.request_id, x.state, x.error, count(*) AS rows,
                        count(*) FILTER (WHERE x.sign > 0) AS fresh, sum(x.sign) AS n,
                        sum(x.sign * (cf_int_len(x.id) + cf_int_len(x.service_id) + cf_int_len_or_null(x.taken_by))) AS own
                    FROM (SELECT 1 AS sign, request_id, id, service_id, state, taken_by, error FROM new_rows) x
                    GROUP BY x.request_id, x.state, x.error) g
              GROUP BY g.request_id) d
        WHERE r.request_id = d.request_id;
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE cleanup_request_sizes r SET
            progress_revision = r.progress_revision + d.written,
            jobs_total = r.jobs_total + d.total,
            jobs_value_bytes = r.jobs_value_bytes + d.value_bytes,
            jobs_queued = r.jobs_queued + d.queued,
            jobs_running = r.jobs_running + d.running,
            jobs_failed = r.jobs_failed + d.failed,
            jobs_cancelled = r.jobs_cancelled + d.cancelled
        FROM (SELECT g.request_id,
                  sum(g.rows) AS written,
                  sum(g.fresh) AS fresh,
                  sum(g.n) AS total,
                  sum(g.n * (cf_json_len(g.state) + cf_json_len_or_null(g.error)) + g.own) AS value_bytes,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'queued'), 0) AS queued,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'running'), 0) AS running,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'failed'), 0) AS failed,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'cancelled'), 0) AS cancelled
              FROM (SELECT x.request_id, x.state, x.error, count(*) AS rows,
                        count(*) FILTER (WHERE x.sign > 0) AS fresh, sum(x.sign) AS n,
                        sum(x.sign * (cf_int_len(x.id) + cf_int_len(x.service_id) + cf_int_len_or_null(x.taken_by))) AS own
                    FROM (SELECT 1 AS sign, request_id, id, service_id, state, taken_by, error FROM new_rows
                      UNION ALL SELECT -1, request_id, id, service_id, state, taken_by, error FROM old_rows) x
                    GROUP BY x.request_id, x.state, x.error) g
              GROUP BY g.request_id) d
        WHERE r.request_id = d.request_id;
    ELSE
        UPDATE cleanup_request_sizes r SET
            progress_revision = r.progress_revision + d.written,
            jobs_total = r.jobs_total + d.total,
            jobs_value_bytes = r.jobs_value_bytes + d.value_bytes,
            jobs_queued = r.jobs_queued + d.queued,
            jobs_running = r.jobs_running + d.running,
            jobs_failed = r.jobs_failed + d.failed,
            jobs_cancelled = r.jobs_cancelled + d.cancelled
        FROM (SELECT g.request_id,
                  sum(g.rows) AS written,
                  sum(g.fresh) AS fresh,
                  sum(g.n) AS total,
                  sum(g.n * (cf_json_len(g.state) + cf_json_len_or_null(g.error)) + g.own) AS value_bytes,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'queued'), 0) AS queued,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'running'), 0) AS running,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'failed'), 0) AS failed,
                  COALESCE(sum(g.n) FILTER (WHERE g.state = 'cancelled'), 0) AS cancelled
              FROM (SELECT x.request_id, x.state, x.error, count(*) AS rows,
                        count(*) FILTER (WHERE x.sign > 0) AS fresh, sum(x.sign) AS n,
                        sum(x.sign * (cf_int_len(x.id) + cf_int_len(x.service_id) + cf_int_len_or_null(x.taken_by))) AS own
                    FROM (SELECT -1 AS sign, request_id, id, service_id, state, taken_by, error FROM old_rows) x
                    GROUP BY x.request_id, x.state, x.error) g
              GROUP BY g.request_id) d
        WHERE r.request_id = d.request_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER cleanup_jobs_sizes_insert AFTER INSERT ON cleanup_jobs
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cf_job_sizes();

CREATE TRIGGER cleanup_jobs_sizes_update AFTER UPDATE ON cleanup_jobs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cf_job_sizes();

CREATE TRIGGER cleanup_jobs_sizes_delete AFTER DELETE ON cleanup_jobs
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cf_job_sizes();

-- progress.json reads its entries a page at a time, in id order (a
-- request of 100,000 resources in one result would hold them all in the
-- daemon's memory at once): an index per request in that order.
DROP INDEX cleanup_progress_request;
CREATE INDEX cleanup_progress_request ON cleanup_progress (request_id, id);
DROP INDEX cleanup_jobs_request;
CREATE INDEX cleanup_jobs_request ON cleanup_jobs (request_id, id);
