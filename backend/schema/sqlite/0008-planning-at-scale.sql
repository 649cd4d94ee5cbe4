-- cinderfs schema, migration 8: planning a cleanup at scale. A filter
-- costs what it selects, not what the database holds:
-- * a resource_id spec finds its row by id alone (the unique index is on
--   (resource_type, resource_id), of no use without the type);
-- * the version check before a request reads only the workers whose
--   version differs from the requester's (normally none), not every row.
-- * a host spec finds its workers by host (services_host_binary, being
--   partial, is not used for the three ranges a host matches at once);
--   a cluster_name spec uses services_cluster_name (migration 1).
-- None of these columns changes on a heartbeat.
CREATE INDEX workers_resource_id ON workers (resource_id);
CREATE INDEX services_version ON services (rpc_current_version);
CREATE INDEX services_host ON services (host);

-- A request's generation moves to a table of its own. It moves on every
-- change of a job or a resource of the request, and SQLite rewrites a
-- whole row to change one column: in cleanup_requests, beside a result of
-- megabytes (a request over 10,000 workers holds 2.5 MB), each change
-- copied the result, and a request queueing 1,000 resources copied it
-- 1,000 times.
CREATE TABLE cleanup_generations (
    request_id             INTEGER PRIMARY KEY,   -- cleanup_requests.id
    generation             INTEGER NOT NULL DEFAULT 0  -- +1 on every change of its jobs or progress
);
INSERT INTO cleanup_generations (request_id, generation) SELECT id, generation FROM cleanup_requests;

DROP TRIGGER cleanup_progress_generation_insert;
DROP TRIGGER cleanup_progress_generation_update;
DROP TRIGGER cleanup_jobs_generation_update;
ALTER TABLE cleanup_requests DROP COLUMN generation;

CREATE TRIGGER cleanup_requests_generation_insert AFTER INSERT ON cleanup_requests
BEGIN
    INSERT INTO cleanup_generations (request_id, generation) VALUES (NEW.id, 0);
END;

CREATE TRIGGER cleanup_requests_generation_delete AFTER DELETE ON cleanup_requests
BEGIN
    DELETE FROM cleanup_generations WHERE request_id = OLD.id;
END;

CREATE TRIGGER cleanup_progress_generation_insert AFTER INSERT ON cleanup_progress
BEGIN
    UPDATE cleanup_generations SET generation = generation + 1 WHERE request_id = NEW.request_id;
END;

CREATE TRIGGER cleanup_progress_generation_update AFTER UPDATE ON cleanup_progress
BEGIN
    UPDATE cleanup_generations SET generation = generation + 1 WHERE request_id = NEW.request_id;
END;

CREATE TRIGGER cleanup_jobs_generation_update AFTER UPDATE OF state ON cleanup_jobs
BEGIN
    UPDATE cleanup_generations SET generation = generation + 1 WHERE request_id = NEW.request_id;
END;
