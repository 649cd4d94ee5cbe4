-- cinderfs schema, migration 5: what makes every cleanup request reach an
-- end. A job whose taker died is handed on; one that nobody can take fails
-- with the reason; a request can be cancelled; and a worker says whether
-- it can clean at all (its storage driver started), so that planning never
-- counts on a peer that cannot.

-- One row per worker daemon that has started: cinderfs's own, beside
-- Cinder's services row (a row Cinder or a test made has none: it counts
-- as able to clean).
CREATE TABLE worker_state (
    service_id             INTEGER PRIMARY KEY,   -- services.id
    can_clean              INTEGER NOT NULL,      -- 1 when its storage driver started, 0 when not
    reason                 TEXT,                  -- why it cannot clean, for can_clean 0
    updated_at             TEXT NOT NULL          -- when it said so (UTC)
);

ALTER TABLE cleanup_jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;  -- times it was taken; more than 1 when a taker died
ALTER TABLE cleanup_requests ADD COLUMN cancelled_at TEXT;                -- when an admin cancelled it (UTC), NULL if not
ALTER TABLE cleanup_requests ADD COLUMN cancelled_by INTEGER;             -- the uid that cancelled it

-- Progress of one resource across requests: its owner's own cleanup at
-- start, or another request, settles what a queued entry waits for.
CREATE INDEX cleanup_progress_resource ON cleanup_progress (resource_type, resource_id);
-- Running jobs, for finding those whose taker died.
CREATE INDEX cleanup_jobs_running ON cleanup_jobs (state) WHERE state = 'running';
