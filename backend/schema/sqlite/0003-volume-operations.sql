-- cinderfs schema, migration 3: volume operations queued for the workers'
-- backend threads, and each worker's free space (for refusing, at write
-- time, a volume that cannot fit).

-- One row per volume or snapshot operation requested through the mount.
CREATE TABLE volume_operations (
    id                     INTEGER PRIMARY KEY,   -- the operation's id
    created_at             TEXT NOT NULL,         -- when it was requested (UTC)
    kind                   TEXT NOT NULL,         -- 'create_volume' or 'delete_volume'
    resource_id            TEXT NOT NULL,         -- the volume's UUID
    service_id             INTEGER NOT NULL,      -- services.id of the worker that runs it (the volume's)
    state                  TEXT NOT NULL DEFAULT 'queued',  -- queued, running, done, failed
    error                  TEXT,                  -- why it failed, for state 'failed'
    finished_at            TEXT                   -- when it ended (UTC)
);
CREATE INDEX volume_operations_queued ON volume_operations (service_id) WHERE state = 'queued';

-- A worker's volume group as its backend thread last saw it.
CREATE TABLE worker_capacity (
    service_id             INTEGER PRIMARY KEY,   -- services.id
    volume_group           TEXT NOT NULL,         -- the group's name
    size_bytes             INTEGER NOT NULL,      -- its size
    free_bytes             INTEGER NOT NULL,      -- its free space
    updated_at             TEXT NOT NULL          -- when it was read (UTC)
);
