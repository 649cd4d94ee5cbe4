-- cinderfs schema, migration 10, SQLite dialect: each job's and each
-- progress row's bytes in progress.json, as views. The twin of
-- backend/schema/postgresql/0010-entry-bytes.sql.
--
-- 0009 keeps cleanup_request_sizes with row triggers, one UPDATE of the
-- small row per row written: about 3 us a row here, a third of the time a
-- `{}` over 10,000 workers takes to queue its 5,000 jobs and 1,000
-- resources. A request's rows
-- are all written in the transaction that records it, so the store
-- (store_add_request) counts them once, after them, with these views,
-- instead: it takes the new request's sizes row out before it writes the
-- jobs and the queued progress (each row's trigger then updates nothing,
-- finding no row), and puts it back, counted, before the commit. The
-- expressions are 0009's, which says what each length is; the per-row
-- triggers still keep every later write (the cleaner's, an operator's).

CREATE VIEW cleanup_job_bytes AS
SELECT request_id, state,
    length(CAST(COALESCE(CAST(id AS INTEGER), 0) AS TEXT))
        + length(CAST(COALESCE(CAST(service_id AS INTEGER), 0) AS TEXT))
        + length(CAST(json_quote(COALESCE(CAST(state AS TEXT), '')) AS BLOB))
        + CASE WHEN COALESCE(CAST(taken_by AS INTEGER), 0) = 0 THEN 4 ELSE length(CAST(CAST(taken_by AS INTEGER) AS TEXT)) END
        + CASE WHEN COALESCE(CAST(error AS TEXT), '') = '' THEN 4 ELSE length(CAST(json_quote(CAST(error AS TEXT)) AS BLOB)) END AS value_bytes
FROM cleanup_jobs;

CREATE VIEW cleanup_progress_bytes AS
SELECT request_id, state,
    length(CAST(json_quote(COALESCE(CAST(resource_type AS TEXT), '')) AS BLOB))
        + length(CAST(json_quote(COALESCE(CAST(resource_id AS TEXT), '')) AS BLOB))
        + length(CAST(json_quote(COALESCE(CAST(state AS TEXT), '')) AS BLOB))
        + CASE WHEN COALESCE(CAST(detail AS TEXT), '') = '' THEN 4 ELSE length(CAST(json_quote(CAST(detail AS TEXT)) AS BLOB)) END
        + length(CAST(COALESCE(CAST(job_id AS INTEGER), 0) AS TEXT))
        + CASE WHEN COALESCE(CAST(worker_id AS INTEGER), 0) = 0 THEN 4 ELSE length(CAST(CAST(worker_id AS INTEGER) AS TEXT)) END
        + CASE WHEN updated_at GLOB '[1-8][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]'
            AND substr(updated_at, 6, 2) BETWEEN '01' AND '12' AND substr(updated_at, 9, 2) BETWEEN '01' AND '31'
            AND substr(updated_at, 12, 2) <= '23' THEN 22
        WHEN CAST(updated_at AS TEXT) GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]*'
            AND (substr(CAST(updated_at AS TEXT), 20) IN ('', 'Z') OR (substr(CAST(updated_at AS TEXT), 20, 2) GLOB '.[0-9]'
                 AND ltrim(substr(CAST(updated_at AS TEXT), 21), '0123456789') IN ('', 'Z')))
            AND CAST(substr(CAST(updated_at AS TEXT), 6, 2) AS INTEGER) BETWEEN 1 AND 12
            AND CAST(substr(CAST(updated_at AS TEXT), 9, 2) AS INTEGER) BETWEEN 1 AND 31
            AND CAST(substr(CAST(updated_at AS TEXT), 12, 2) AS INTEGER) <= 23
            AND CAST(substr(CAST(updated_at AS TEXT), 15, 2) AS INTEGER) <= 59
            AND CAST(substr(CAST(updated_at AS TEXT), 18, 2) AS INTEGER) <= 60
        THEN 18 + length(CAST(CAST(substr(CAST(updated_at AS TEXT), 1, 4) AS INTEGER)
                              + (substr(CAST(updated_at AS TEXT), 6, 5) = '12-31' AND substr(CAST(updated_at AS TEXT), 12, 8) = '23:59:60') AS TEXT))
        ELSE 2 END AS value_bytes
FROM cleanup_progress;
