-- cinderfs schema, migration 5, PostgreSQL dialect: what makes every
-- cleanup request reach an end. A job whose taker died is handed on; one
-- that nobody can take fails with the reason; a request can be cancelled;
-- and a worker says whether it can clean at all (its storage driver
-- started), so that planning never counts on a peer that cannot. The twin
-- of backend/schema/sqlite/0005-jobs-that-end.sql (times as text, see 0001).

-- One row per worker daemon that has started: cinderfs's own, beside
-- Cinder's services row (a row Cinder or a test made has none: it counts
-- as able to clean).
CREATE TABLE worker_state (
    service_id             bigint PRIMARY KEY,     -- services.id
    can_clean              integer NOT NULL,       -- 1 when its storage driver started, 0 when not
    reason                 text COLLATE "C",       -- why it cannot clean, for can_clean 0
    updated_at             text COLLATE "C" NOT NULL    -- when it said so (UTC)
);

ALTER TABLE cleanup_jobs ADD COLUMN attempts bigint NOT NULL DEFAULT 0;  -- times it was taken; more than 1 when a taker died
ALTER TABLE cleanup_requests ADD COLUMN cancelled_at text COLLATE "C";  -- when an admin cancelled it (UTC), NULL if not
ALTER TABLE cleanup_requests ADD COLUMN cancelled_by bigint;            -- the uid that cancelled it

-- Progress of one resource across requests: its owner's own cleanup at
-- start, or another request, settles what a queued entry waits for.
CREATE INDEX cleanup_progress_resource ON cleanup_progress (resource_type, resource_id);
-- Running jobs, for finding those whose taker died.
CREATE INDEX cleanup_jobs_running ON cleanup_jobs (state) WHERE state = 'running';
