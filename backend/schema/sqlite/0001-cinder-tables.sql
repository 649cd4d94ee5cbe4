-- cinderfs schema, migration 1: Cinder's tables, with Cinder's names.
--
-- An operator who knows Cinder can read this file with `sqlite3 FILE .schema`
-- (SQLite keeps these comments). Stored as Cinder's SQLAlchemy stores them in
-- SQLite, so SQL written by hand compares correctly:
--   * times are UTC text 'YYYY-MM-DD HH:MM:SS' with an optional '.ffffff'
--     (cinderfs always writes the six digits);
--   * booleans are 0/1;
--   * `deleted` is 0 for live rows (soft delete, as Cinder).

-- One row per worker (a Cinder "service"): a volume worker or a scheduler.
CREATE TABLE services (
    id                     INTEGER PRIMARY KEY,   -- the worker's id (workers/<id> in the mount)
    created_at             TEXT,                  -- when the row was made (UTC)
    updated_at             TEXT,                  -- the last heartbeat (UTC); up/down is computed from it
    deleted_at             TEXT,                  -- when the row was removed (UTC), NULL while live
    deleted                INTEGER NOT NULL DEFAULT 0,  -- 0 live, 1 removed
    host                   TEXT NOT NULL,         -- 'node1@lvm' for a volume worker
    "binary"               TEXT NOT NULL,         -- 'cinder-volume' or 'cinder-scheduler'
    topic                  TEXT,                  -- Cinder's RPC topic, the binary's short name ('cinder-volume')
    report_count           INTEGER NOT NULL DEFAULT 0,  -- heartbeats sent since the row was made
    disabled               INTEGER NOT NULL DEFAULT 0,  -- 1 when an operator disabled the worker
    disabled_reason        TEXT,                  -- why it was disabled, free text
    availability_zone      TEXT,                  -- Cinder's availability zone ('nova' by default)
    rpc_current_version    TEXT,                  -- the worker's protocol version (the upgrade check compares it)
    object_current_version TEXT,                  -- the worker's object version (kept for Cinder parity)
    cluster_name           TEXT,                  -- the cluster the worker belongs to, NULL when unclustered
    uuid                   TEXT                   -- a random UUID given at registration
);
-- Cinder finds a worker's row by host and binary: one live row each.
CREATE UNIQUE INDEX services_host_binary ON services (host, "binary") WHERE deleted = 0;
-- Cluster membership and summaries (num_hosts, num_down_hosts) go by name.
CREATE INDEX services_cluster_name ON services (cluster_name);

-- One row per cluster: workers sharing a storage backend.
CREATE TABLE clusters (
    id                     INTEGER PRIMARY KEY,   -- the cluster's id
    created_at             TEXT,                  -- when the row was made (UTC)
    updated_at             TEXT,                  -- when the row last changed (UTC)
    deleted_at             TEXT,                  -- when the row was removed (UTC), NULL while live
    deleted                INTEGER NOT NULL DEFAULT 0,  -- 0 live, 1 removed
    name                   TEXT NOT NULL,         -- 'c1@lvm'; workers name it in services.cluster_name
    "binary"               TEXT NOT NULL,         -- the binary of its workers ('cinder-volume')
    disabled               INTEGER NOT NULL DEFAULT 0,  -- 1 when an operator disabled the cluster (decides for its workers)
    disabled_reason        TEXT,                  -- why it was disabled, free text
    race_preventer         INTEGER NOT NULL DEFAULT 0   -- bumped on every update (optimistic locking, as Cinder)
);
CREATE UNIQUE INDEX clusters_name_binary ON clusters (name, "binary") WHERE deleted = 0;

-- One row per operation in flight: what a worker must clean if it dies.
CREATE TABLE workers (
    id                     INTEGER PRIMARY KEY,   -- the row's id
    created_at             TEXT,                  -- when the operation started (UTC)
    updated_at             TEXT,                  -- when the row last changed or was claimed (UTC)
    deleted_at             TEXT,                  -- kept for Cinder parity; cinderfs deletes rows outright
    deleted                INTEGER NOT NULL DEFAULT 0,  -- kept for Cinder parity, always 0
    resource_type          TEXT NOT NULL,         -- 'Volume' or 'Snapshot'
    resource_id            TEXT NOT NULL,         -- the resource's UUID, canonical lower case
    status                 TEXT NOT NULL,         -- the ongoing status to clean ('creating', 'deleting', ...)
    service_id             INTEGER,               -- the owner (services.id); NULL = nobody picked it up
    race_preventer         INTEGER NOT NULL DEFAULT 0,  -- +1 on every update or claim (optimistic locking)
    UNIQUE (resource_type, resource_id)           -- one operation per resource
);
CREATE INDEX workers_service_id ON workers (service_id);

-- Volumes (Cinder's columns that cinderfs uses).
CREATE TABLE volumes (
    id                     TEXT PRIMARY KEY,      -- the volume's UUID, canonical lower case
    created_at             TEXT,                  -- when the volume was requested (UTC)
    updated_at             TEXT,                  -- when the row last changed (UTC)
    deleted_at             TEXT,                  -- when the volume was deleted (UTC)
    deleted                INTEGER NOT NULL DEFAULT 0,  -- 0 live, 1 deleted
    host                   TEXT,                  -- the worker that owns it ('node1@lvm#pool' in Cinder)
    cluster_name           TEXT,                  -- the owner's cluster, NULL when unclustered
    size                   INTEGER,               -- size in GiB
    status                 TEXT,                  -- 'creating', 'available', 'deleting', 'error', ...
    attach_status          TEXT,                  -- 'detached' or 'attached'
    display_name           TEXT,                  -- the name the user gave
    provider_location      TEXT,                  -- where the export is ('ip:port,lun iqn lun')
    provider_auth          TEXT,                  -- 'CHAP user secret' for the export
    previous_status        TEXT                   -- the status before the current operation
);
CREATE INDEX volumes_host ON volumes (host);

-- Snapshots (Cinder's columns that cinderfs uses).
CREATE TABLE snapshots (
    id                     TEXT PRIMARY KEY,      -- the snapshot's UUID, canonical lower case
    created_at             TEXT,                  -- when the snapshot was requested (UTC)
    updated_at             TEXT,                  -- when the row last changed (UTC)
    deleted_at             TEXT,                  -- when the snapshot was deleted (UTC)
    deleted                INTEGER NOT NULL DEFAULT 0,  -- 0 live, 1 deleted
    volume_id              TEXT NOT NULL,         -- the volume it was taken from (volumes.id)
    volume_size            INTEGER,               -- the volume's size in GiB when taken
    status                 TEXT,                  -- 'creating', 'available', 'deleting', 'error', ...
    progress               TEXT,                  -- '0%' .. '100%'
    display_name           TEXT,                  -- the name the user gave
    provider_location      TEXT                   -- the backend's location of the snapshot
);
CREATE INDEX snapshots_volume_id ON snapshots (volume_id);
