-- cinderfs schema, migration 9, SQLite dialect: what a request's files
-- measure, kept as its jobs and progress change, so that stat and ls -l of
-- cleanup/history/<n>/ answer from one small row instead of rendering a
-- document that can run to tens of megabytes. The twin of
-- backend/schema/postgresql/0009-request-sizes.sql.
--
-- The row is cleanup_request_sizes', not the request's own: a request's
-- row holds its spec and result (megabytes for a request of 100,000
-- resources) before every column added to it since, and SQLite reads a
-- column after them by walking the result's overflow pages (7 ms a stat),
-- and rewrites the row whole, result and all, on every update (5 ms a
-- progress row written while 0004's generation lived there). So the
-- generation moves here too, and the few columns of the request that
-- progress.json's header shows are copied here as they are written.
--
-- progress.json's length is its header (rendered from this row by
-- backend/progress_json.c) plus, for each job and each resource entry, a
-- fixed layout around the entry's values; only the values vary, so the
-- row keeps their byte count, and the counts per state the header shows.
-- A value's length is as progress_json.c renders it:
--   * a string: JSON-quoted, escapes and all (json_quote escapes as
--     jansson and progress_json.c do: \" \\ \b \f \n \r \t, \u00XX for
--     the other control characters, nothing else), counted in bytes;
--   * a string that renders as null when NULL or '' (detail, error): 4;
--   * an integer: its decimal digits; one that renders as null when 0
--     (by_worker, taken_by): 4;
--   * updated_at: the quoted ISO time backend/dbtime.c's dbtime_to_iso
--     gives, "" (2 bytes) when dbtime_parse refuses the text: 18 bytes and
--     the year's digits (the year after a 23:59:60 on 12-31 rolls over).
-- The expressions are written out for each row image (SQLite has no SQL
-- functions of its own); tests/unit/test_progress_json.c checks them
-- against the renderer on odd values. What they cost is the write path's:
-- a time the daemon wrote ('YYYY-MM-DD HH:MM:SS.ffffff', years 1000 to
-- 8999, seconds below 60) takes one GLOB and three comparisons, any other
-- the full check (3 us); an update measures only the columns it changed.
-- Row triggers, one UPDATE of the small row per row written, the
-- generation's and the sizes' together.
--
-- progress.json reads a request's rows a page at a time in id order: the
-- indexes on request_id (0002) already keep each request's rows in rowid
-- order, so SQLite needs no index of its own for it (PostgreSQL does).

CREATE TABLE cleanup_request_sizes (
    request_id            INTEGER PRIMARY KEY,                -- cleanup_requests.id
    created_at            TEXT NOT NULL,                      -- copied from cleanup_requests as written
    requester_uid         INTEGER,                            -- copied
    requester_pid         INTEGER,                            -- copied
    accepted_by           INTEGER,                            -- copied
    cancelled_at          TEXT,                               -- copied
    cancelled_by          INTEGER,                            -- copied
    spec_bytes            INTEGER NOT NULL DEFAULT 0,         -- bytes of spec (cleanup/request's size)
    result_bytes          INTEGER NOT NULL DEFAULT 0,         -- bytes of the result (cleanup/result's size; cleanup_requests.result_size)
    generation            INTEGER NOT NULL DEFAULT 0,         -- +1 on every change of its jobs' states or progress (was cleanup_requests.generation)
    progress_revision     INTEGER NOT NULL DEFAULT 0,         -- +1 on every row of its jobs or progress written (any column)
    jobs_total            INTEGER NOT NULL DEFAULT 0,         -- its cleanup_jobs rows
    jobs_value_bytes      INTEGER NOT NULL DEFAULT 0,         -- bytes of their values in progress.json
    jobs_queued           INTEGER NOT NULL DEFAULT 0,         -- of which in state queued
    jobs_running          INTEGER NOT NULL DEFAULT 0,         -- ... running
    jobs_failed           INTEGER NOT NULL DEFAULT 0,         -- ... failed
    jobs_cancelled        INTEGER NOT NULL DEFAULT 0,         -- ... cancelled
    resources_total       INTEGER NOT NULL DEFAULT 0,         -- its cleanup_progress rows
    resources_value_bytes INTEGER NOT NULL DEFAULT 0,         -- bytes of their values in progress.json
    resources_queued      INTEGER NOT NULL DEFAULT 0,         -- of which in state queued
    resources_claimed     INTEGER NOT NULL DEFAULT 0,         -- ... claimed
    resources_cleaned     INTEGER NOT NULL DEFAULT 0,         -- ... cleaned
    resources_skipped     INTEGER NOT NULL DEFAULT 0,         -- ... skipped
    resources_refused     INTEGER NOT NULL DEFAULT 0,         -- ... refused
    resources_failed      INTEGER NOT NULL DEFAULT 0,         -- ... failed
    resources_cancelled   INTEGER NOT NULL DEFAULT 0          -- ... cancelled
);

-- The requests already there, and their generations.
INSERT INTO cleanup_request_sizes (request_id, created_at, requester_uid, requester_pid, accepted_by, cancelled_at, cancelled_by, spec_bytes, result_bytes, generation)
SELECT id, created_at, requester_uid, requester_pid, accepted_by, cancelled_at, cancelled_by, length(CAST(spec AS BLOB)), result_size, generation
FROM cleanup_requests;

UPDATE cleanup_request_sizes SET resources_total = t.total, resources_value_bytes = t.value_bytes, resources_queued = t.s_queued, resources_claimed = t.s_claimed, resources_cleaned = t.s_cleaned, resources_skipped = t.s_skipped, resources_refused = t.s_refused, resources_failed = t.s_failed, resources_cancelled = t.s_cancelled
FROM (SELECT p.request_id,
    count(*) AS total,
    sum((length(CAST(json_quote(COALESCE(CAST(p.resource_type AS TEXT), '')) AS BLOB))
        + length(CAST(json_quote(COALESCE(CAST(p.resource_id AS TEXT), '')) AS BLOB))
        + length(CAST(json_quote(COALESCE(CAST(p.state AS TEXT), '')) AS BLOB))
        + CASE WHEN COALESCE(CAST(p.detail AS TEXT), '') = '' THEN 4 ELSE length(CAST(json_quote(CAST(p.detail AS TEXT)) AS BLOB)) END
        + length(CAST(COALESCE(CAST(p.job_id AS INTEGER), 0) AS TEXT))
        + CASE WHEN COALESCE(CAST(p.worker_id AS INTEGER), 0) = 0 THEN 4 ELSE length(CAST(CAST(p.worker_id AS INTEGER) AS TEXT)) END
        + CASE WHEN p.updated_at GLOB '[1-8][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]'
            AND substr(p.updated_at, 6, 2) BETWEEN '01' AND '12' AND substr(p.updated_at, 9, 2) BETWEEN '01' AND '31'
            AND substr(p.updated_at, 12, 2) <= '23' THEN 22
        WHEN CAST(p.updated_at AS TEXT) GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]*'
            AND (substr(CAST(p.updated_at AS TEXT), 20) IN ('', 'Z') OR (substr(CAST(p.updated_at AS TEXT), 20, 2) GLOB '.[0-9]'
                 AND ltrim(substr(CAST(p.updated_at AS TEXT), 21), '0123456789') IN ('', 'Z')))
            AND CAST(substr(CAST(p.updated_at AS TEXT), 6, 2) AS INTEGER) BETWEEN 1 AND 12
            AND CAST(substr(CAST(p.updated_at AS TEXT), 9, 2) AS INTEGER) BETWEEN 1 AND 31
            AND CAST(substr(CAST(p.updated_at AS TEXT), 12, 2) AS INTEGER) <= 23
            AND CAST(substr(CAST(p.updated_at AS TEXT), 15, 2) AS INTEGER) <= 59
            AND CAST(substr(CAST(p.updated_at AS TEXT), 18, 2) AS INTEGER) <= 60
        THEN 18 + length(CAST(CAST(substr(CAST(p.updated_at AS TEXT), 1, 4) AS INTEGER)
                              + (substr(CAST(p.updated_at AS TEXT), 6, 5) = '12-31' AND substr(CAST(p.updated_at AS TEXT), 12, 8) = '23:59:60') AS TEXT))
        ELSE 2 END)) AS value_bytes,
    sum(p.state IS 'queued') AS s_queued,
    sum(p.state IS 'claimed') AS s_claimed,
    sum(p.state IS 'cleaned') AS s_cleaned,
    sum(p.state IS 'skipped') AS s_skipped,
    sum(p.state IS 'refused') AS s_refused,
    sum(p.state IS 'failed') AS s_failed,
    sum(p.state IS 'cancelled') AS s_cancelled
    FROM cleanup_progress p GROUP BY p.request_id) t
WHERE t.request_id = cleanup_request_sizes.request_id;

UPDATE cleanup_request_sizes SET jobs_total = t.total, jobs_value_bytes = t.value_bytes, jobs_queued = t.s_queued, jobs_running = t.s_running, jobs_failed = t.s_failed, jobs_cancelled = t.s_cancelled
FROM (SELECT j.request_id,
    count(*) AS total,
    sum((length(CAST(COALESCE(CAST(j.id AS INTEGER), 0) AS TEXT))
        + length(CAST(COALESCE(CAST(j.service_id AS INTEGER), 0) AS TEXT))
        + length(CAST(json_quote(COALESCE(CAST(j.state AS TEXT), '')) AS BLOB))
        + CASE WHEN COALESCE(CAST(j.taken_by AS INTEGER), 0) = 0 THEN 4 ELSE length(CAST(CAST(j.taken_by AS INTEGER) AS TEXT)) END
        + CASE WHEN COALESCE(CAST(j.error AS TEXT), '') = '' THEN 4 ELSE length(CAST(json_quote(CAST(j.error AS TEXT)) AS BLOB)) END)) AS value_bytes,
    sum(j.state IS 'queued') AS s_queued,
    sum(j.state IS 'running') AS s_running,
    sum(j.state IS 'failed') AS s_failed,
    sum(j.state IS 'cancelled') AS s_cancelled
    FROM cleanup_jobs j GROUP BY j.request_id) t
WHERE t.request_id = cleanup_request_sizes.request_id;

-- The generation moves here: 0004's triggers wrote the request's row, and
-- SQLite rewrites a row whole, its result and spec with it, on every
-- progress row written (5 ms a row for a request whose result is 9 MB).
DROP TRIGGER cleanup_progress_generation_insert;
DROP TRIGGER cleanup_progress_generation_update;
DROP TRIGGER cleanup_jobs_generation_update;
ALTER TABLE cleanup_requests DROP COLUMN generation;

CREATE TRIGGER cleanup_requests_sizes_insert AFTER INSERT ON cleanup_requests
BEGIN
    INSERT INTO cleanup_request_sizes (request_id, created_at, requester_uid, requester_pid, accepted_by, cancelled_at, cancelled_by, spec_bytes, result_bytes)
        VALUES (NEW.id, NEW.created_at, NEW.requester_uid, NEW.requester_pid, NEW.accepted_by, NEW.cancelled_at, NEW.cancelled_by, length(CAST(NEW.spec AS BLOB)), NEW.result_size);
END;

CREATE TRIGGER cleanup_requests_sizes_update
AFTER UPDATE OF created_at, requester_uid, requester_pid, accepted_by, cancelled_at, cancelled_by, spec, result_size ON cleanup_requests
BEGIN
    UPDATE cleanup_request_sizes SET created_at = NEW.created_at, requester_uid = NEW.requester_uid, requester_pid = NEW.requester_pid, accepted_by = NEW.accepted_by, cancelled_at = NEW.cancelled_at, cancelled_by = NEW.cancelled_by,
        spec_bytes = length(CAST(NEW.spec AS BLOB)), result_bytes = NEW.result_size
        WHERE request_id = NEW.id;
END;

CREATE TRIGGER cleanup_requests_sizes_delete AFTER DELETE ON cleanup_requests
BEGIN
    DELETE FROM cleanup_request_sizes WHERE request_id = OLD.id;
END;

CREATE TRIGGER cleanup_jobs_generation_update AFTER UPDATE OF state ON cleanup_jobs
BEGIN
    UPDATE cleanup_request_sizes SET generation = generation + 1 WHERE request_id = NEW.request_id;
END;

CREATE TRIGGER cleanup_progress_generation_insert AFTER INSERT ON cleanup_progress
BEGIN
    UPDATE cleanup_request_sizes SET generation = generation + 1, progress_revision = progress_revision + 1,
        resources_total = resources_total + 1,
        resources_value_bytes = resources_value_bytes + (length(CAST(json_quote(COALESCE(CAST(NEW.resource_type AS TEXT), '')) AS BLOB))
        + length(CAST(json_quote(COALESCE(CAST(NEW.resource_id AS TEXT), '')) AS BLOB))
        + length(CAST(json_quote(COALESCE(CAST(NEW.state AS TEXT), '')) AS BLOB))
        + CASE WHEN COALESCE(CAST(NEW.detail AS TEXT), '') = '' THEN 4 ELSE length(CAST(json_quote(CAST(NEW.detail AS TEXT)) AS BLOB)) END
        + length(CAST(COALESCE(CAST(NEW.job_id AS INTEGER), 0) AS TEXT))
        + CASE WHEN COALESCE(CAST(NEW.worker_id AS INTEGER), 0) = 0 THEN 4 ELSE length(CAST(CAST(NEW.worker_id AS INTEGER) AS TEXT)) END
        + CASE WHEN NEW.updated_at GLOB '[1-8][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]'
            AND substr(NEW.updated_at, 6, 2) BETWEEN '01' AND '12' AND substr(NEW.updated_at, 9, 2) BETWEEN '01' AND '31'
            AND substr(NEW.updated_at, 12, 2) <= '23' THEN 22
        WHEN CAST(NEW.updated_at AS TEXT) GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]*'
            AND (substr(CAST(NEW.updated_at AS TEXT), 20) IN ('', 'Z') OR (substr(CAST(NEW.updated_at AS TEXT), 20, 2) GLOB '.[0-9]'
                 AND ltrim(substr(CAST(NEW.updated_at AS TEXT), 21), '0123456789') IN ('', 'Z')))
            AND CAST(substr(CAST(NEW.updated_at AS TEXT), 6, 2) AS INTEGER) BETWEEN 1 AND 12
            AND CAST(substr(CAST(NEW.updated_at AS TEXT), 9, 2) AS INTEGER) BETWEEN 1 AND 31
            AND CAST(substr(CAST(NEW.updated_at AS TEXT), 12, 2) AS INTEGER) <= 23
            AND CAST(substr(CAST(NEW.updated_at AS TEXT), 15, 2) AS INTEGER) <= 59
            AND CAST(substr(CAST(NEW.updated_at AS TEXT), 18, 2) AS INTEGER) <= 60
        THEN 18 + length(CAST(CAST(substr(CAST(NEW.updated_at AS TEXT), 1, 4) AS INTEGER)
                              + (substr(CAST(NEW.updated_at AS TEXT), 6, 5) = '12-31' AND substr(CAST(NEW.updated_at AS TEXT), 12, 8) = '23:59:60') AS TEXT))
        ELSE 2 END),
        resources_queued = resources_queued + (NEW.state IS 'queued'),
        resources_claimed = resources_claimed + (NEW.state IS 'claimed'),
        resources_cleaned = resources_cleaned + (NEW.state IS 'cleaned'),
        resources_skipped = resources_skipped + (NEW.state IS 'skipped'),
        resources_refused = resources_refused + (NEW.state IS 'refused'),
        resources_failed = resources_failed + (NEW.state IS 'failed'),
        resources_cancelled = resources_cancelled + (NEW.state IS 'cancelled')
    WHERE request_id = NEW.request_id;
END;

CREATE TRIGGER cleanup_progress_generation_update AFTER UPDATE ON cleanup_progress
WHEN OLD.request_id IS NEW.request_id
BEGIN
    UPDATE cleanup_request_sizes SET generation = generation + 1, progress_revision = progress_revision + 1,
        resources_value_bytes = resources_value_bytes + (CASE WHEN OLD.resource_type IS NEW.resource_type THEN 0 ELSE length(CAST(json_quote(COALESCE(CAST(NEW.resource_type AS TEXT), '')) AS BLOB))
            - (length(CAST(json_quote(COALESCE(CAST(OLD.resource_type AS TEXT), '')) AS BLOB))) END
        + CASE WHEN OLD.resource_id IS NEW.resource_id THEN 0 ELSE length(CAST(json_quote(COALESCE(CAST(NEW.resource_id AS TEXT), '')) AS BLOB))
            - (length(CAST(json_quote(COALESCE(CAST(OLD.resource_id AS TEXT), '')) AS BLOB))) END
        + CASE WHEN OLD.state IS NEW.state THEN 0 ELSE length(CAST(json_quote(COALESCE(CAST(NEW.state AS TEXT), '')) AS BLOB))
            - (length(CAST(json_quote(COALESCE(CAST(OLD.state AS TEXT), '')) AS BLOB))) END
        + CASE WHEN OLD.detail IS NEW.detail THEN 0 ELSE CASE WHEN COALESCE(CAST(NEW.detail AS TEXT), '') = '' THEN 4 ELSE length(CAST(json_quote(CAST(NEW.detail AS TEXT)) AS BLOB)) END
            - (CASE WHEN COALESCE(CAST(OLD.detail AS TEXT), '') = '' THEN 4 ELSE length(CAST(json_quote(CAST(OLD.detail AS TEXT)) AS BLOB)) END) END
        + CASE WHEN OLD.job_id IS NEW.job_id THEN 0 ELSE length(CAST(COALESCE(CAST(NEW.job_id AS INTEGER), 0) AS TEXT))
            - (length(CAST(COALESCE(CAST(OLD.job_id AS INTEGER), 0) AS TEXT))) END
        + CASE WHEN OLD.worker_id IS NEW.worker_id THEN 0 ELSE CASE WHEN COALESCE(CAST(NEW.worker_id AS INTEGER), 0) = 0 THEN 4 ELSE length(CAST(CAST(NEW.worker_id AS INTEGER) AS TEXT)) END
            - (CASE WHEN COALESCE(CAST(OLD.worker_id AS INTEGER), 0) = 0 THEN 4 ELSE length(CAST(CAST(OLD.worker_id AS INTEGER) AS TEXT)) END) END
        + CASE WHEN OLD.updated_at IS NEW.updated_at THEN 0 ELSE CASE WHEN NEW.updated_at GLOB '[1-8][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]'
            AND substr(NEW.updated_at, 6, 2) BETWEEN '01' AND '12' AND substr(NEW.updated_at, 9, 2) BETWEEN '01' AND '31'
            AND substr(NEW.updated_at, 12, 2) <= '23' THEN 22
        WHEN CAST(NEW.updated_at AS TEXT) GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]*'
            AND (substr(CAST(NEW.updated_at AS TEXT), 20) IN ('', 'Z') OR (substr(CAST(NEW.updated_at AS TEXT), 20, 2) GLOB '.[0-9]'
                 AND ltrim(substr(CAST(NEW.updated_at AS TEXT), 21), '0123456789') IN ('', 'Z')))
            AND CAST(substr(CAST(NEW.updated_at AS TEXT), 6, 2) AS INTEGER) BETWEEN 1 AND 12
            AND CAST(substr(CAST(NEW.updated_at AS TEXT), 9, 2) AS INTEGER) BETWEEN 1 AND 31
            AND CAST(substr(CAST(NEW.updated_at AS TEXT), 12, 2) AS INTEGER) <= 23
            AND CAST(substr(CAST(NEW.updated_at AS TEXT), 15, 2) AS INTEGER) <= 59
            AND CAST(substr(CAST(NEW.updated_at AS TEXT), 18, 2) AS INTEGER) <= 60
        THEN 18 + length(CAST(CAST(substr(CAST(NEW.updated_at AS TEXT), 1, 4) AS INTEGER)
                              + (substr(CAST(NEW.updated_at AS TEXT), 6, 5) = '12-31' AND substr(CAST(NEW.updated_at AS TEXT), 12, 8) = '23:59:60') AS TEXT))
        ELSE 2 END
            - (CASE WHEN OLD.updated_at GLOB '[1-8][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]'
            AND substr(OLD.updated_at, 6, 2) BETWEEN '01' AND '12' AND substr(OLD.updated_at, 9, 2) BETWEEN '01' AND '31'
            AND substr(OLD.updated_at, 12, 2) <= '23' THEN 22
        WHEN CAST(OLD.updated_at AS TEXT) GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]*'
            AND (substr(CAST(OLD.updated_at AS TEXT), 20) IN ('', 'Z') OR (substr(CAST(OLD.updated_at AS TEXT), 20, 2) GLOB '.[0-9]'
                 AND ltrim(substr(CAST(OLD.updated_at AS TEXT), 21), '0123456789') IN ('', 'Z')))
            AND CAST(substr(CAST(OLD.updated_at AS TEXT), 6, 2) AS INTEGER) BETWEEN 1 AND 12
            AND CAST(substr(CAST(OLD.updated_at AS TEXT), 9, 2) AS INTEGER) BETWEEN 1 AND 31
            AND CAST(substr(CAST(OLD.updated_at AS TEXT), 12, 2) AS INTEGER) <= 23
            AND CAST(substr(CAST(OLD.updated_at AS TEXT), 15, 2) AS INTEGER) <= 59
            AND CAST(substr(CAST(OLD.updated_at AS TEXT), 18, 2) AS INTEGER) <= 60
        THEN 18 + length(CAST(CAST(substr(CAST(OLD.updated_at AS TEXT), 1, 4) AS INTEGER)
                              + (substr(CAST(OLD.updated_at AS TEXT), 6, 5) = '12-31' AND substr(CAST(OLD.updated_at AS TEXT), 12, 8) = '23:59:60') AS TEXT))
        ELSE 2 END) END),
        resources_queued = resources_queued - (OLD.state IS 'queued') + (NEW.state IS 'queued'),
        resources_claimed = resources_claimed - (OLD.state IS 'claimed') + (NEW.state IS 'claimed'),
        resources_cleaned = resources_cleaned - (OLD.state IS 'cleaned') + (NEW.state IS 'cleaned'),
        resources_skipped = resources_skipped - (OLD.state IS 'skipped') + (NEW.state IS 'skipped'),
        resources_refused = resources_refused - (OLD.state IS 'refused') + (NEW.state IS 'refused'),
        resources_failed = resources_failed - (OLD.state IS 'failed') + (NEW.state IS 'failed'),
        resources_cancelled = resources_cancelled - (OLD.state IS 'cancelled') + (NEW.state IS 'cancelled')
    WHERE request_id = NEW.request_id;
END;

CREATE TRIGGER cleanup_progress_sizes_move AFTER UPDATE ON cleanup_progress
WHEN OLD.request_id IS NOT NEW.request_id
BEGIN
    UPDATE cleanup_request_sizes SET progress_revision = progress_revision + 1,
        resources_total = resources_total - 1,
        resources_value_bytes = resources_value_bytes - (length(CAST(json_quote(COALESCE(CAST(OLD.resource_type AS TEXT), '')) AS BLOB))
        + length(CAST(json_quote(COALESCE(CAST(OLD.resource_id AS TEXT), '')) AS BLOB))
        + length(CAST(json_quote(COALESCE(CAST(OLD.state AS TEXT), '')) AS BLOB))
        + CASE WHEN COALESCE(CAST(OLD.detail AS TEXT), '') = '' THEN 4 ELSE length(CAST(json_quote(CAST(OLD.detail AS TEXT)) AS BLOB)) END
        + length(CAST(COALESCE(CAST(OLD.job_id AS INTEGER), 0) AS TEXT))
        + CASE WHEN COALESCE(CAST(OLD.worker_id AS INTEGER), 0) = 0 THEN 4 ELSE length(CAST(CAST(OLD.worker_id AS INTEGER) AS TEXT)) END
        + CASE WHEN OLD.updated_at GLOB '[1-8][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]'
            AND substr(OLD.updated_at, 6, 2) BETWEEN '01' AND '12' AND substr(OLD.updated_at, 9, 2) BETWEEN '01' AND '31'
            AND substr(OLD.updated_at, 12, 2) <= '23' THEN 22
        WHEN CAST(OLD.updated_at AS TEXT) GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]*'
            AND (substr(CAST(OLD.updated_at AS TEXT), 20) IN ('', 'Z') OR (substr(CAST(OLD.updated_at AS TEXT), 20, 2) GLOB '.[0-9]'
                 AND ltrim(substr(CAST(OLD.updated_at AS TEXT), 21), '0123456789') IN ('', 'Z')))
            AND CAST(substr(CAST(OLD.updated_at AS TEXT), 6, 2) AS INTEGER) BETWEEN 1 AND 12
            AND CAST(substr(CAST(OLD.updated_at AS TEXT), 9, 2) AS INTEGER) BETWEEN 1 AND 31
            AND CAST(substr(CAST(OLD.updated_at AS TEXT), 12, 2) AS INTEGER) <= 23
            AND CAST(substr(CAST(OLD.updated_at AS TEXT), 15, 2) AS INTEGER) <= 59
            AND CAST(substr(CAST(OLD.updated_at AS TEXT), 18, 2) AS INTEGER) <= 60
        THEN 18 + length(CAST(CAST(substr(CAST(OLD.updated_at AS TEXT), 1, 4) AS INTEGER)
                              + (substr(CAST(OLD.updated_at AS TEXT), 6, 5) = '12-31' AND substr(CAST(OLD.updated_at AS TEXT), 12, 8) = '23:59:60') AS TEXT))
        ELSE 2 END),
        resources_queued = resources_queued - (OLD.state IS 'queued'),
        resources_claimed = resources_claimed - (OLD.state IS 'claimed'),
        resources_cleaned = resources_cleaned - (OLD.state IS 'cleaned'),
        resources_skipped = resources_skipped - (OLD.state IS 'skipped'),
        resources_refused = resources_refused - (OLD.state IS 'refused'),
        resources_failed = resources_failed - (OLD.state IS 'failed'),
        resources_cancelled = resources_cancelled - (OLD.state IS 'cancelled')
    WHERE request_id = OLD.request_id;
    UPDATE cleanup_request_sizes SET generation = generation + 1, progress_revision = progress_revision + 1,
        resources_total = resources_total + 1,
        resources_value_bytes = resources_value_bytes + (length(CAST(json_quote(COALESCE(CAST(NEW.resource_type AS TEXT), '')) AS BLOB))
        + length(CAST(json_quote(COALESCE(CAST(NEW.resource_id AS TEXT), '')) AS BLOB))
        + length(CAST(json_quote(COALESCE(CAST(NEW.state AS TEXT), '')) AS BLOB))
        + CASE WHEN COALESCE(CAST(NEW.detail AS TEXT), '') = '' THEN 4 ELSE length(CAST(json_quote(CAST(NEW.detail AS TEXT)) AS BLOB)) END
        + length(CAST(COALESCE(CAST(NEW.job_id AS INTEGER), 0) AS TEXT))
        + CASE WHEN COALESCE(CAST(NEW.worker_id AS INTEGER), 0) = 0 THEN 4 ELSE length(CAST(CAST(NEW.worker_id AS INTEGER) AS TEXT)) END
        + CASE WHEN NEW.updated_at GLOB '[1-8][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]'
            AND substr(NEW.updated_at, 6, 2) BETWEEN '01' AND '12' AND substr(NEW.updated_at, 9, 2) BETWEEN '01' AND '31'
            AND substr(NEW.updated_at, 12, 2) <= '23' THEN 22
        WHEN CAST(NEW.updated_at AS TEXT) GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]*'
            AND (substr(CAST(NEW.updated_at AS TEXT), 20) IN ('', 'Z') OR (substr(CAST(NEW.updated_at AS TEXT), 20, 2) GLOB '.[0-9]'
                 AND ltrim(substr(CAST(NEW.updated_at AS TEXT), 21), '0123456789') IN ('', 'Z')))
            AND CAST(substr(CAST(NEW.updated_at AS TEXT), 6, 2) AS INTEGER) BETWEEN 1 AND 12
            AND CAST(substr(CAST(NEW.updated_at AS TEXT), 9, 2) AS INTEGER) BETWEEN 1 AND 31
            AND CAST(substr(CAST(NEW.updated_at AS TEXT), 12, 2) AS INTEGER) <= 23
            AND CAST(substr(CAST(NEW.updated_at AS TEXT), 15, 2) AS INTEGER) <= 59
            AND CAST(substr(CAST(NEW.updated_at AS TEXT), 18, 2) AS INTEGER) <= 60
        THEN 18 + length(CAST(CAST(substr(CAST(NEW.updated_at AS TEXT), 1, 4) AS INTEGER)
                              + (substr(CAST(NEW.updated_at AS TEXT), 6, 5) = '12-31' AND substr(CAST(NEW.updated_at AS TEXT), 12, 8) = '23:59:60') AS TEXT))
        ELSE 2 END),
        resources_queued = resources_queued + (NEW.state IS 'queued'),
        resources_claimed = resources_claimed + (NEW.state IS 'claimed'),
        resources_cleaned = resources_cleaned + (NEW.state IS 'cleaned'),
        resources_skipped = resources_skipped + (NEW.state IS 'skipped'),
        resources_refused = resources_refused + (NEW.state IS 'refused'),
        resources_failed = resources_failed + (NEW.state IS 'failed'),
        resources_cancelled = resources_cancelled + (NEW.state IS 'cancelled')
    WHERE request_id = NEW.request_id;
END;

CREATE TRIGGER cleanup_progress_sizes_delete AFTER DELETE ON cleanup_progress
BEGIN
    UPDATE cleanup_request_sizes SET progress_revision = progress_revision + 1,
        resources_total = resources_total - 1,
        resources_value_bytes = resources_value_bytes - (length(CAST(json_quote(COALESCE(CAST(OLD.resource_type AS TEXT), '')) AS BLOB))
        + length(CAST(json_quote(COALESCE(CAST(OLD.resource_id AS TEXT), '')) AS BLOB))
        + length(CAST(json_quote(COALESCE(CAST(OLD.state AS TEXT), '')) AS BLOB))
        + CASE WHEN COALESCE(CAST(OLD.detail AS TEXT), '') = '' THEN 4 ELSE length(CAST(json_quote(CAST(OLD.detail AS TEXT)) AS BLOB)) END
        + length(CAST(COALESCE(CAST(OLD.job_id AS INTEGER), 0) AS TEXT))
        + CASE WHEN COALESCE(CAST(OLD.worker_id AS INTEGER), 0) = 0 THEN 4 ELSE length(CAST(CAST(OLD.worker_id AS INTEGER) AS TEXT)) END
        + CASE WHEN OLD.updated_at GLOB '[1-8][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]'
            AND substr(OLD.updated_at, 6, 2) BETWEEN '01' AND '12' AND substr(OLD.updated_at, 9, 2) BETWEEN '01' AND '31'
            AND substr(OLD.updated_at, 12, 2) <= '23' THEN 22
        WHEN CAST(OLD.updated_at AS TEXT) GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]*'
            AND (substr(CAST(OLD.updated_at AS TEXT), 20) IN ('', 'Z') OR (substr(CAST(OLD.updated_at AS TEXT), 20, 2) GLOB '.[0-9]'
                 AND ltrim(substr(CAST(OLD.updated_at AS TEXT), 21), '0123456789') IN ('', 'Z')))
            AND CAST(substr(CAST(OLD.updated_at AS TEXT), 6, 2) AS INTEGER) BETWEEN 1 AND 12
            AND CAST(substr(CAST(OLD.updated_at AS TEXT), 9, 2) AS INTEGER) BETWEEN 1 AND 31
            AND CAST(substr(CAST(OLD.updated_at AS TEXT), 12, 2) AS INTEGER) <= 23
            AND CAST(substr(CAST(OLD.updated_at AS TEXT), 15, 2) AS INTEGER) <= 59
            AND CAST(substr(CAST(OLD.updated_at AS TEXT), 18, 2) AS INTEGER) <= 60
        THEN 18 + length(CAST(CAST(substr(CAST(OLD.updated_at AS TEXT), 1, 4) AS INTEGER)
                              + (substr(CAST(OLD.updated_at AS TEXT), 6, 5) = '12-31' AND substr(CAST(OLD.updated_at AS TEXT), 12, 8) = '23:59:60') AS TEXT))
        ELSE 2 END),
        resources_queued = resources_queued - (OLD.state IS 'queued'),
        resources_claimed = resources_claimed - (OLD.state IS 'claimed'),
        resources_cleaned = resources_cleaned - (OLD.state IS 'cleaned'),
        resources_skipped = resources_skipped - (OLD.state IS 'skipped'),
        resources_refused = resources_refused - (OLD.state IS 'refused'),
        resources_failed = resources_failed - (OLD.state IS 'failed'),
        resources_cancelled = resources_cancelled - (OLD.state IS 'cancelled')
    WHERE request_id = OLD.request_id;
END;

CREATE TRIGGER cleanup_jobs_sizes_insert AFTER INSERT ON cleanup_jobs
BEGIN
    UPDATE cleanup_request_sizes SET progress_revision = progress_revision + 1,
        jobs_total = jobs_total + 1,
        jobs_value_bytes = jobs_value_bytes + (length(CAST(COALESCE(CAST(NEW.id AS INTEGER), 0) AS TEXT))
        + length(CAST(COALESCE(CAST(NEW.service_id AS INTEGER), 0) AS TEXT))
        + length(CAST(json_quote(COALESCE(CAST(NEW.state AS TEXT), '')) AS BLOB))
        + CASE WHEN COALESCE(CAST(NEW.taken_by AS INTEGER), 0) = 0 THEN 4 ELSE length(CAST(CAST(NEW.taken_by AS INTEGER) AS TEXT)) END
        + CASE WHEN COALESCE(CAST(NEW.error AS TEXT), '') = '' THEN 4 ELSE length(CAST(json_quote(CAST(NEW.error AS TEXT)) AS BLOB)) END),
        jobs_queued = jobs_queued + (NEW.state IS 'queued'),
        jobs_running = jobs_running + (NEW.state IS 'running'),
        jobs_failed = jobs_failed + (NEW.state IS 'failed'),
        jobs_cancelled = jobs_cancelled + (NEW.state IS 'cancelled')
    WHERE request_id = NEW.request_id;
END;

CREATE TRIGGER cleanup_jobs_sizes_update AFTER UPDATE ON cleanup_jobs
WHEN OLD.request_id IS NEW.request_id
BEGIN
    UPDATE cleanup_request_sizes SET progress_revision = progress_revision + 1,
        jobs_value_bytes = jobs_value_bytes + (CASE WHEN OLD.id IS NEW.id THEN 0 ELSE length(CAST(COALESCE(CAST(NEW.id AS INTEGER), 0) AS TEXT))
            - (length(CAST(COALESCE(CAST(OLD.id AS INTEGER), 0) AS TEXT))) END
        + CASE WHEN OLD.service_id IS NEW.service_id THEN 0 ELSE length(CAST(COALESCE(CAST(NEW.service_id AS INTEGER), 0) AS TEXT))
            - (length(CAST(COALESCE(CAST(OLD.service_id AS INTEGER), 0) AS TEXT))) END
        + CASE WHEN OLD.state IS NEW.state THEN 0 ELSE length(CAST(json_quote(COALESCE(CAST(NEW.state AS TEXT), '')) AS BLOB))
            - (length(CAST(json_quote(COALESCE(CAST(OLD.state AS TEXT), '')) AS BLOB))) END
        + CASE WHEN OLD.taken_by IS NEW.taken_by THEN 0 ELSE CASE WHEN COALESCE(CAST(NEW.taken_by AS INTEGER), 0) = 0 THEN 4 ELSE length(CAST(CAST(NEW.taken_by AS INTEGER) AS TEXT)) END
            - (CASE WHEN COALESCE(CAST(OLD.taken_by AS INTEGER), 0) = 0 THEN 4 ELSE length(CAST(CAST(OLD.taken_by AS INTEGER) AS TEXT)) END) END
        + CASE WHEN OLD.error IS NEW.error THEN 0 ELSE CASE WHEN COALESCE(CAST(NEW.error AS TEXT), '') = '' THEN 4 ELSE length(CAST(json_quote(CAST(NEW.error AS TEXT)) AS BLOB)) END
            - (CASE WHEN COALESCE(CAST(OLD.error AS TEXT), '') = '' THEN 4 ELSE length(CAST(json_quote(CAST(OLD.error AS TEXT)) AS BLOB)) END) END),
        jobs_queued = jobs_queued - (OLD.state IS 'queued') + (NEW.state IS 'queued'),
        jobs_running = jobs_running - (OLD.state IS 'running') + (NEW.state IS 'running'),
        jobs_failed = jobs_failed - (OLD.state IS 'failed') + (NEW.state IS 'failed'),
        jobs_cancelled = jobs_cancelled - (OLD.state IS 'cancelled') + (NEW.state IS 'cancelled')
    WHERE request_id = NEW.request_id;
END;

CREATE TRIGGER cleanup_jobs_sizes_move AFTER UPDATE ON cleanup_jobs
WHEN OLD.request_id IS NOT NEW.request_id
BEGIN
    UPDATE cleanup_request_sizes SET progress_revision = progress_revision + 1,
        jobs_total = jobs_total - 1,
        jobs_value_bytes = jobs_value_bytes - (length(CAST(COALESCE(CAST(OLD.id AS INTEGER), 0) AS TEXT))
        + length(CAST(COALESCE(CAST(OLD.service_id AS INTEGER), 0) AS TEXT))
        + length(CAST(json_quote(COALESCE(CAST(OLD.state AS TEXT), '')) AS BLOB))
        + CASE WHEN COALESCE(CAST(OLD.taken_by AS INTEGER), 0) = 0 THEN 4 ELSE length(CAST(CAST(OLD.taken_by AS INTEGER) AS TEXT)) END
        + CASE WHEN COALESCE(CAST(OLD.error AS TEXT), '') = '' THEN 4 ELSE length(CAST(json_quote(CAST(OLD.error AS TEXT)) AS BLOB)) END),
        jobs_queued = jobs_queued - (OLD.state IS 'queued'),
        jobs_running = jobs_running - (OLD.state IS 'running'),
        jobs_failed = jobs_failed - (OLD.state IS 'failed'),
        jobs_cancelled = jobs_cancelled - (OLD.state IS 'cancelled')
    WHERE request_id = OLD.request_id;
    UPDATE cleanup_request_sizes SET progress_revision = progress_revision + 1,
        jobs_total = jobs_total + 1,
        jobs_value_bytes = jobs_value_bytes + (length(CAST(COALESCE(CAST(NEW.id AS INTEGER), 0) AS TEXT))
        + length(CAST(COALESCE(CAST(NEW.service_id AS INTEGER), 0) AS TEXT))
        + length(CAST(json_quote(COALESCE(CAST(NEW.state AS TEXT), '')) AS BLOB))
        + CASE WHEN COALESCE(CAST(NEW.taken_by AS INTEGER), 0) = 0 THEN 4 ELSE length(CAST(CAST(NEW.taken_by AS INTEGER) AS TEXT)) END
        + CASE WHEN COALESCE(CAST(NEW.error AS TEXT), '') = '' THEN 4 ELSE length(CAST(json_quote(CAST(NEW.error AS TEXT)) AS BLOB)) END),
        jobs_queued = jobs_queued + (NEW.state IS 'queued'),
        jobs_running = jobs_running + (NEW.state IS 'running'),
        jobs_failed = jobs_failed + (NEW.state IS 'failed'),
        jobs_cancelled = jobs_cancelled + (NEW.state IS 'cancelled')
    WHERE request_id = NEW.request_id;
END;

CREATE TRIGGER cleanup_jobs_sizes_delete AFTER DELETE ON cleanup_jobs
BEGIN
    UPDATE cleanup_request_sizes SET progress_revision = progress_revision + 1,
        jobs_total = jobs_total - 1,
        jobs_value_bytes = jobs_value_bytes - (length(CAST(COALESCE(CAST(OLD.id AS INTEGER), 0) AS TEXT))
        + length(CAST(COALESCE(CAST(OLD.service_id AS INTEGER), 0) AS TEXT))
        + length(CAST(json_quote(COALESCE(CAST(OLD.state AS TEXT), '')) AS BLOB))
        + CASE WHEN COALESCE(CAST(OLD.taken_by AS INTEGER), 0) = 0 THEN 4 ELSE length(CAST(CAST(OLD.taken_by AS INTEGER) AS TEXT)) END
        + CASE WHEN COALESCE(CAST(OLD.error AS TEXT), '') = '' THEN 4 ELSE length(CAST(json_quote(CAST(OLD.error AS TEXT)) AS BLOB)) END),
        jobs_queued = jobs_queued - (OLD.state IS 'queued'),
        jobs_running = jobs_running - (OLD.state IS 'running'),
        jobs_failed = jobs_failed - (OLD.state IS 'failed'),
        jobs_cancelled = jobs_cancelled - (OLD.state IS 'cancelled')
    WHERE request_id = OLD.request_id;
END;
