-- cinderfs schema, migration 12: automatic cleanup, opt-in per cluster
-- (Cinder specified it and never shipped it). A live member of a cluster
-- asks for the cleanup of a member down for longer than the cluster's
-- auto_cleanup age, once per outage; the row below is how the members
-- agree on "once" and on "one of us".

-- The age in seconds after which a down member is cleaned; 0: off (the
-- default). Written through clusters/<name>/auto_cleanup.
ALTER TABLE clusters ADD COLUMN auto_cleanup INTEGER NOT NULL DEFAULT 0;

-- One row per outage of a member that was cleaned automatically. An outage
-- is the member's last heartbeat: the same while it stays down, a new one
-- once it has come back and died again. The primary key is the guard:
-- the row goes in, in the same transaction as the cleanup request, only
-- when no member wrote it first and the member's heartbeat is still the
-- one seen; a member that loses the race rolls its request back.
CREATE TABLE auto_cleanups (
    service_id             INTEGER NOT NULL,      -- services.id of the member found down
    last_heartbeat         TEXT NOT NULL,         -- its services.updated_at then (created_at when it never beat): the outage
    cluster_name           TEXT NOT NULL,         -- its cluster
    host                   TEXT NOT NULL,         -- its host: the request's spec is {"host": <host>}
    after_seconds          INTEGER NOT NULL,      -- the cluster's auto_cleanup then
    requested_by           INTEGER NOT NULL,      -- services.id of the live member that asked
    request_id             INTEGER NOT NULL,      -- cleanup_requests.id of its request
    created_at             TEXT NOT NULL,         -- when (UTC): the request's created_at, which a reader matches with request_id
    PRIMARY KEY (service_id, last_heartbeat)
);
CREATE INDEX auto_cleanups_request ON auto_cleanups (request_id);
