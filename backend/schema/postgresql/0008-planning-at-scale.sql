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

-- A request's result moves to pieces of 64 KiB, as on SQLite: a result
-- over 100,000 workers is 13 MB, which a read at any offset loaded whole.
-- Every piece but the last is exactly 65536 bytes (bytea: a piece may end
-- inside a UTF-8 character). lz4 where the server has it: pglz takes twice
-- as long over a result, while the operator waits on write().
CREATE TABLE cleanup_results (
    request_id             bigint NOT NULL,       -- cleanup_requests.id
    seq                    bigint NOT NULL,       -- 0, 1, ...: bytes seq * 65536 onwards
    chunk                  bytea NOT NULL,        -- 65536 bytes of the result, fewer in the last
    PRIMARY KEY (request_id, seq)
);
DO $$
BEGIN
    ALTER TABLE cleanup_results ALTER COLUMN chunk SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    NULL;
END
$$;
ALTER TABLE cleanup_requests ADD COLUMN result_size bigint NOT NULL DEFAULT 0;  -- bytes of the result
INSERT INTO cleanup_results (request_id, seq, chunk)
SELECT r.id, s.seq, substring(convert_to(r.result, 'UTF8') FROM (s.seq * 65536 + 1)::integer FOR 65536)
FROM cleanup_requests r,
     generate_series(0, greatest((octet_length(r.result) - 1) / 65536, 0)) AS s (seq);
UPDATE cleanup_requests SET result_size = octet_length(result);
ALTER TABLE cleanup_requests DROP COLUMN result;

CREATE FUNCTION cf_results_follow() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    DELETE FROM cleanup_results WHERE request_id = OLD.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER cleanup_requests_results_delete AFTER DELETE ON cleanup_requests
    FOR EACH ROW EXECUTE FUNCTION cf_results_follow();
