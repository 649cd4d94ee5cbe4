-- cinderfs schema, migration 3, PostgreSQL dialect: volume operations
-- queued for the workers' backend threads, and each worker's free space
-- (for refusing, at write time, a volume that cannot fit). The twin of
-- backend/schema/sqlite/0003-volume-operations.sql (times as text, see
-- 0001).

-- One row per volume or snapshot operation requested through the mount.
CREATE TABLE volume_operations (
    id                     bigserial PRIMARY KEY,  -- the operation's id
    created_at             text COLLATE "C" NOT NULL,   -- when it was requested (UTC)
    kind                   text COLLATE "C" NOT NULL,   -- 'create_volume' or 'delete_volume'
    resource_id            text COLLATE "C" NOT NULL,   -- the volume's UUID
    service_id             bigint NOT NULL,        -- services.id of the worker that runs it (the volume's)
    state                  text COLLATE "C" NOT NULL DEFAULT 'queued',  -- queued, running, done, failed
    error                  text COLLATE "C",       -- why it failed, for state 'failed'
    finished_at            text COLLATE "C"        -- when it ended (UTC)
);
CREATE TRIGGER volume_operations_ids AFTER INSERT ON volume_operations REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cf_ids_follow('volume_operations_id_seq');
CREATE INDEX volume_operations_queued ON volume_operations (service_id) WHERE state = 'queued';

-- A worker's volume group as its backend thread last saw it.
CREATE TABLE worker_capacity (
    service_id             bigint PRIMARY KEY,     -- services.id
    volume_group           text COLLATE "C" NOT NULL,   -- the group's name
    size_bytes             bigint NOT NULL,        -- its size
    free_bytes             bigint NOT NULL,        -- its free space
    updated_at             text COLLATE "C" NOT NULL    -- when it was read (UTC)
);
