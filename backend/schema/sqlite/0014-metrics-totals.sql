-- cinderfs schema, migration 14: what the metrics file counts over the
-- whole life of the database. Its counters (requests accepted, requests
-- ended by outcome, resources by the state a cleanup left them in) are
-- what the kept history holds plus what pruning took away: the pruner adds
-- the requests it removes here, in the transaction that removes them, so
-- a counter never goes down when history is pruned (Prometheus would read
-- a decrease as a restart, and rate() would count the whole value again).
-- One row, id 1.
CREATE TABLE cleanup_pruned_totals (
    id                     INTEGER PRIMARY KEY CHECK (id = 1),  -- always 1
    requests               INTEGER NOT NULL DEFAULT 0,  -- requests pruned from cleanup_requests
    requests_done          INTEGER NOT NULL DEFAULT 0,  -- of which ended done
    requests_failed        INTEGER NOT NULL DEFAULT 0,  -- ... failed
    requests_cancelled     INTEGER NOT NULL DEFAULT 0,  -- ... cancelled
    resources_cleaned      INTEGER NOT NULL DEFAULT 0,  -- their cleanup_progress rows in state cleaned
    resources_skipped      INTEGER NOT NULL DEFAULT 0,  -- ... skipped
    resources_refused      INTEGER NOT NULL DEFAULT 0,  -- ... refused
    resources_failed       INTEGER NOT NULL DEFAULT 0,  -- ... failed
    resources_cancelled    INTEGER NOT NULL DEFAULT 0   -- ... cancelled
);
INSERT INTO cleanup_pruned_totals (id) VALUES (1);
