-- cinderfs schema, migration 4, PostgreSQL dialect: a generation per
-- cleanup request that moves on every change of its jobs or resources, so
-- that a script can wait with a plain loop (progress.json's "generation")
-- and see that something moved. The twin of
-- backend/schema/sqlite/0004-cleanup-generation.sql.
--
-- SQLite's triggers run once per row. On PostgreSQL the progress triggers
-- run once per statement over the rows it wrote, adding their count per
-- request: the same generation at the end of the statement, without
-- updating one request row thousands of times in one transaction (a big
-- cleanup queues a progress row per resource in one INSERT, and each
-- update of a row already updated in the transaction walks all its
-- earlier versions). A job's state changes row by row, as SQLite: only
-- an update that sets state counts (UPDATE OF, which PostgreSQL allows
-- only per row).

ALTER TABLE cleanup_requests ADD COLUMN generation bigint NOT NULL DEFAULT 0;  -- +1 on every change of its jobs or progress

CREATE FUNCTION cf_generation_of_rows() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE cleanup_requests r SET generation = r.generation + n.rows
    FROM (SELECT request_id, count(*) AS rows FROM changed_rows GROUP BY request_id) n
    WHERE r.id = n.request_id;
    RETURN NULL;
END
$$;

CREATE FUNCTION cf_generation_of_row() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE cleanup_requests SET generation = generation + 1 WHERE id = NEW.request_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER cleanup_progress_generation_insert AFTER INSERT ON cleanup_progress
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cf_generation_of_rows();

CREATE TRIGGER cleanup_progress_generation_update AFTER UPDATE ON cleanup_progress
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cf_generation_of_rows();

CREATE TRIGGER cleanup_jobs_generation_update AFTER UPDATE OF state ON cleanup_jobs
    FOR EACH ROW EXECUTE FUNCTION cf_generation_of_row();
