-- cinderfs schema, migration 2, PostgreSQL dialect: cinderfs's own tables
-- for cleanup requests, the jobs that carry them to the workers, and what
-- became of each resource. Cinder answers a cleanup and forgets it;
-- cinderfs keeps every request. The twin of
-- backend/schema/sqlite/0002-cleanup-requests.sql (times as text, see
-- 0001).

-- One row per accepted cleanup request (cleanup/history/<id> in the mount).
CREATE TABLE cleanup_requests (
    id                     bigserial PRIMARY KEY,  -- the request's number
    created_at             text COLLATE "C" NOT NULL,   -- when it was accepted (UTC); Cinder's `until`
    spec                   bytea NOT NULL,         -- the bytes written to cleanup/request, exactly
    filter                 text COLLATE "C" NOT NULL,   -- the validated filter as JSON (after Cinder's defaults and lookups)
    result                 text COLLATE "C" NOT NULL,   -- {"cleaning": [...], "unavailable": [...]} as cleanup/result shows it
    requester_uid          bigint,                 -- uid of the process that wrote the spec
    requester_pid          bigint,                 -- pid of that process
    accepted_by            bigint                  -- services.id of the daemon that took it; NULL for a control-only one
);
CREATE TRIGGER cleanup_requests_ids AFTER INSERT ON cleanup_requests REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cf_ids_follow('cleanup_requests_id_seq');

-- One row per worker to clean: what Cinder sends as a do_cleanup message.
CREATE TABLE cleanup_jobs (
    id                     bigserial PRIMARY KEY,  -- the job's id
    request_id             bigint NOT NULL,        -- cleanup_requests.id
    service_id             bigint NOT NULL,        -- the worker being cleaned (whose workers rows)
    resource_type          text COLLATE "C",       -- 'Volume' or 'Snapshot' to narrow to, NULL for both
    resource_id            text COLLATE "C",       -- one resource to narrow to, NULL for all
    until                  text COLLATE "C" NOT NULL,   -- rows updated after this are left alone (UTC)
    dest_cluster           text COLLATE "C",       -- taken by one live member of this cluster ...
    dest_service           bigint,                 -- ... or by this worker; both NULL: any live worker
    state                  text COLLATE "C" NOT NULL DEFAULT 'queued',  -- queued, running, done, failed
    taken_by               bigint,                 -- services.id of the worker that took it
    taken_at               text COLLATE "C",       -- when it was taken (UTC)
    finished_at            text COLLATE "C",       -- when it ended (UTC)
    error                  text COLLATE "C"        -- why it failed, for state 'failed'
);
CREATE TRIGGER cleanup_jobs_ids AFTER INSERT ON cleanup_jobs REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cf_ids_follow('cleanup_jobs_id_seq');
CREATE INDEX cleanup_jobs_queued ON cleanup_jobs (state) WHERE state = 'queued';
CREATE INDEX cleanup_jobs_request ON cleanup_jobs (request_id);

-- One row per resource a request reached, and what became of it
-- (cleanup/history/<id>/progress.json).
CREATE TABLE cleanup_progress (
    id                     bigserial PRIMARY KEY,  -- the row's id
    request_id             bigint NOT NULL,        -- cleanup_requests.id
    job_id                 bigint NOT NULL,        -- cleanup_jobs.id
    resource_type          text COLLATE "C" NOT NULL,   -- 'Volume' or 'Snapshot'
    resource_id            text COLLATE "C" NOT NULL,   -- the resource's UUID
    state                  text COLLATE "C" NOT NULL,   -- queued, claimed, cleaned, skipped, failed
    detail                 text COLLATE "C",       -- what was done, why it was skipped, or the error
    worker_id              bigint,                 -- services.id of the worker that did it
    updated_at             text COLLATE "C" NOT NULL,   -- when the state was set (UTC)
    UNIQUE (job_id, resource_type, resource_id)
);
CREATE TRIGGER cleanup_progress_ids AFTER INSERT ON cleanup_progress REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cf_ids_follow('cleanup_progress_id_seq');
CREATE INDEX cleanup_progress_request ON cleanup_progress (request_id);
