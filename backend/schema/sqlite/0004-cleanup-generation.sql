-- cinderfs schema, migration 4: a generation per cleanup request that moves
-- on every change of its jobs or resources, so that a script can wait with
-- a plain loop (progress.json's "generation") and see that something moved.

ALTER TABLE cleanup_requests ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;  -- +1 on every change of its jobs or progress

CREATE TRIGGER cleanup_progress_generation_insert AFTER INSERT ON cleanup_progress
BEGIN
    UPDATE cleanup_requests SET generation = generation + 1 WHERE id = NEW.request_id;
END;

CREATE TRIGGER cleanup_progress_generation_update AFTER UPDATE ON cleanup_progress
BEGIN
    UPDATE cleanup_requests SET generation = generation + 1 WHERE id = NEW.request_id;
END;

CREATE TRIGGER cleanup_jobs_generation_update AFTER UPDATE OF state ON cleanup_jobs
BEGIN
    UPDATE cleanup_requests SET generation = generation + 1 WHERE id = NEW.request_id;
END;
