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

-- A request's result moves to pieces of 64 KiB. A result over 100,000
-- workers is 13 MB: written as one value it was copied whole twice more
-- while the operator waited on write(), and each read of cleanup/result
-- (at any offset) loaded it all. In pieces, a read loads the pieces it
-- covers, the size is a number on the request, and the writer holds one
-- piece at a time. Every piece but the last is exactly 65536 bytes (bytes:
-- a piece may end inside a UTF-8 character, hence BLOB).
CREATE TABLE cleanup_results (
    request_id             INTEGER NOT NULL,      -- cleanup_requests.id
    seq                    INTEGER NOT NULL,      -- 0, 1, ...: bytes seq * 65536 onwards
    chunk                  BLOB NOT NULL,         -- 65536 bytes of the result, fewer in the last
    PRIMARY KEY (request_id, seq)
);
ALTER TABLE cleanup_requests ADD COLUMN result_size INTEGER NOT NULL DEFAULT 0;  -- bytes of the result
WITH RECURSIVE pieces (id, seq) AS (
    SELECT id, 0 FROM cleanup_requests
    UNION ALL
    SELECT p.id, p.seq + 1 FROM pieces p JOIN cleanup_requests r ON r.id = p.id
    WHERE (p.seq + 1) * 65536 < length(CAST(r.result AS BLOB))
)
INSERT INTO cleanup_results (request_id, seq, chunk)
SELECT p.id, p.seq, substr(CAST(r.result AS BLOB), p.seq * 65536 + 1, 65536)
FROM pieces p JOIN cleanup_requests r ON r.id = p.id;
UPDATE cleanup_requests SET result_size = length(CAST(result AS BLOB));
ALTER TABLE cleanup_requests DROP COLUMN result;

CREATE TRIGGER cleanup_requests_results_delete AFTER DELETE ON cleanup_requests
BEGIN
    DELETE FROM cleanup_results WHERE request_id = OLD.id;
END;
