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

-- A request's generation moves to a table of its own, as on SQLite (where
-- each change rewrote the request's row with its result of megabytes).
-- Here an update left a dead version of the whole request row behind each
-- statement; now it is a row of two numbers.
CREATE TABLE cleanup_generations (
    request_id             bigint PRIMARY KEY,    -- cleanup_requests.id
    generation             bigint NOT NULL DEFAULT 0  -- +1 on every change of its jobs or progress
);
INSERT INTO cleanup_generations (request_id, generation) SELECT id, generation FROM cleanup_requests;
ALTER TABLE cleanup_requests DROP COLUMN generation;

CREATE OR REPLACE FUNCTION cf_generation_of_rows() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE cleanup_generations g SET generation = g.generation + n.rows
    FROM (SELECT request_id, count(*) AS rows FROM changed_rows GROUP BY request_id) n
    WHERE g.request_id = n.request_id;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION cf_generation_of_row() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE cleanup_generations SET generation = generation + 1 WHERE request_id = NEW.request_id;
    RETURN NULL;
END
$$;

CREATE FUNCTION cf_generation_made() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO cleanup_generations (request_id, generation) VALUES (NEW.id, 0);
    ELSE
        DELETE FROM cleanup_generations WHERE request_id = OLD.id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER cleanup_requests_generation AFTER INSERT OR DELETE ON cleanup_requests
    FOR EACH ROW EXECUTE FUNCTION cf_generation_made();

-- A request's result is the one large value written while an operator
-- waits on write(): 2.5 MB for a request over 10,000 workers. pglz, the
-- default, takes 30 ms over it here; lz4 half that for as much saving.
-- A server built without lz4 keeps pglz.
DO $$
BEGIN
    ALTER TABLE cleanup_requests ALTER COLUMN result SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    NULL;
END
$$;
