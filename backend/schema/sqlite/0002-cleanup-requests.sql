-- cinderfs schema, migration 2: cinderfs's own tables for cleanup requests,
-- the jobs that carry them to the workers, and what became of each resource.
-- Cinder answers a cleanup and forgets it; cinderfs keeps every request.

-- One row per accepted cleanup request (cleanup/history/<id> in the mount).
CREATE TABLE cleanup_requests (
    id                     INTEGER PRIMARY KEY,   -- the request's number
    created_at             TEXT NOT NULL,         -- when it was accepted (UTC); Cinder's `until`
    spec                   BLOB NOT NULL,         -- the bytes written to cleanup/request, exactly
    filter                 TEXT NOT NULL,         -- the validated filter as JSON (after Cinder's defaults and lookups)
    result                 TEXT NOT NULL,         -- {"cleaning": [...], "unavailable": [...]} as cleanup/result shows it
    requester_uid          INTEGER,               -- uid of the process that wrote the spec
    requester_pid          INTEGER,               -- pid of that process
    accepted_by            INTEGER                -- services.id of the daemon that took it; NULL for a control-only one
);

-- One row per worker to clean: what Cinder sends as a do_cleanup message.
CREATE TABLE cleanup_jobs (
    id                     INTEGER PRIMARY KEY,   -- the job's id
    request_id             INTEGER NOT NULL,      -- cleanup_requests.id
    service_id             INTEGER NOT NULL,      -- the worker being cleaned (whose workers rows)
    resource_type          TEXT,                  -- 'Volume' or 'Snapshot' to narrow to, NULL for both
    resource_id            TEXT,                  -- one resource to narrow to, NULL for all
    until                  TEXT NOT NULL,         -- rows updated after this are left alone (UTC)
    dest_cluster           TEXT,                  -- taken by one live member of this cluster ...
    dest_service           INTEGER,               -- ... or by this worker; both NULL: any live worker
    state                  TEXT NOT NULL DEFAULT 'queued',  -- queued, running, done, failed
    taken_by               INTEGER,               -- services.id of the worker that took it
    taken_at               TEXT,                  -- when it was taken (UTC)
    finished_at            TEXT,                  -- when it ended (UTC)
    error                  TEXT                   -- why it failed, for state 'failed'
);
CREATE INDEX cleanup_jobs_queued ON cleanup_jobs (state) WHERE state = 'queued';
CREATE INDEX cleanup_jobs_request ON cleanup_jobs (request_id);

-- One row per resource a request reached, and what became of it
-- (cleanup/history/<id>/progress.json).
CREATE TABLE cleanup_progress (
    id                     INTEGER PRIMARY KEY,   -- the row's id
    request_id             INTEGER NOT NULL,      -- cleanup_requests.id
    job_id                 INTEGER NOT NULL,      -- cleanup_jobs.id
    resource_type          TEXT NOT NULL,         -- 'Volume' or 'Snapshot'
    resource_id            TEXT NOT NULL,         -- the resource's UUID
    state                  TEXT NOT NULL,         -- queued, claimed, cleaned, skipped, failed
    detail                 TEXT,                  -- what was done, why it was skipped, or the error
    worker_id              INTEGER,               -- services.id of the worker that did it
    updated_at             TEXT NOT NULL,         -- when the state was set (UTC)
    UNIQUE (job_id, resource_type, resource_id)
);
CREATE INDEX cleanup_progress_request ON cleanup_progress (request_id);
