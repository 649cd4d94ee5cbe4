-- cinderfs schema, migration 1, PostgreSQL dialect: Cinder's tables, with
-- Cinder's names. The twin of backend/schema/sqlite/0001-cinder-tables.sql:
-- the same tables, columns, keys and indexes, so that the store's SQL and
-- SQL written by hand read both engines alike (`\d+ services` in psql).
--
-- Stored as Cinder's SQLAlchemy stores them in SQLite, not in PostgreSQL's
-- own types, because the store compares and sorts these values as text and
-- tests seed hand-written rows:
--   * times are UTC text 'YYYY-MM-DD HH:MM:SS' with an optional '.ffffff'
--     (cinderfs always writes the six digits), not timestamp;
--   * booleans are integer 0/1 (the store's SQL says `deleted = 0`);
--   * `deleted` is 0 for live rows (soft delete, as Cinder);
--   * every text column is COLLATE "C": compared and sorted byte by byte as
--     SQLite does, whatever the database's locale (times as text, the
--     '#pool' host ranges, ORDER BY of names);
--   * ids SQLite gives (INTEGER PRIMARY KEY) come from a sequence that is
--     never reused, and an id a statement gives itself (a test's seed, a
--     revived worker) moves the sequence past it (cf_ids_follow below), as
--     SQLite's next id is past the largest.

-- SQLite's instr(): the 1-based position of needle in haystack, 0 when
-- absent, NULL when either is NULL. Inlined by the planner.
CREATE FUNCTION instr(haystack text, needle text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT strpos(haystack, needle) $$;

-- A stored time as one comparable number (nanoseconds since 1970), or
-- NULL when it is not a time: exactly backend/dbtime.c's dbtime_parse.
-- Taken: 'YYYY-MM-DD HH:MM:SS', 'T' for the space, a fraction of one or
-- more digits (the first nine count), a trailing 'Z'; month 1-12, day
-- 1-31 (day 31 of a short month runs into the next, as in C), hour 0-23,
-- minute 0-59, second 0-60. Anything else, NULL or '' is NULL.
-- The regular expression decides first, in a CASE of its own, so that
-- the casts only ever see digits (the planner folds a constant argument,
-- the bound, before it runs, and drops a CASE branch whose condition
-- folds to false without evaluating it): no input raises an error, and no
-- exception handler runs per row. Plain SQL, so the planner inlines it
-- into the query: no function call per row. The month's first day is
-- taken 400 years later (146097 days, one Gregorian cycle) so that year
-- 0000 is a valid date.
CREATE FUNCTION cf_time_ns(t text) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT CASE WHEN t ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z?$' THEN
  CASE WHEN substr(t, 6, 2)::integer BETWEEN 1 AND 12 AND substr(t, 9, 2)::integer BETWEEN 1 AND 31
        AND substr(t, 12, 2)::integer <= 23 AND substr(t, 15, 2)::integer <= 59
        AND substr(t, 18, 2)::integer <= 60 THEN
    ((make_date(substr(t, 1, 4)::integer + 400, substr(t, 6, 2)::integer, 1) - DATE '1970-01-01'
      - 146097 + substr(t, 9, 2)::integer - 1)::bigint * 86400
     + substr(t, 12, 2)::integer * 3600 + substr(t, 15, 2)::integer * 60
     + substr(t, 18, 2)::integer)::numeric * 1000000000
    + rpad(substr(rtrim(t, 'Z'), 21, 9), 9, '0')::bigint
  END
END
$$;

-- One definition of up, in SQL as in C: true when beat is a readable time
-- at or after bound, as backend/liveness.c's liveness_beat_counts (the
-- SQLite engine registers that C function under this name). NULL, '' or
-- garbage in either is false: never a heartbeat, or an unreadable one, is
-- not up.
CREATE FUNCTION cf_beat_ok(beat text, bound text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT COALESCE(cf_time_ns(beat) >= cf_time_ns(bound), false) $$;

-- After an INSERT statement on a table with a sequence id (TG_ARGV[0]):
-- the sequence moves past the largest id the statement wrote, so that an
-- id given by hand is never handed out again. Once per statement, not per
-- row. setval is not transactional: a sequence only ever moves forward.
CREATE FUNCTION cf_ids_follow() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    top bigint;
BEGIN
    SELECT max(id) INTO top FROM new_rows;
    IF top IS NOT NULL AND top > COALESCE(pg_sequence_last_value(TG_ARGV[0]::regclass), 0) THEN
        PERFORM setval(TG_ARGV[0]::regclass, top);
    END IF;
    RETURN NULL;
END
$$;

-- One row per worker (a Cinder "service"): a volume worker or a scheduler.
CREATE TABLE services (
    id                     bigserial PRIMARY KEY,  -- the worker's id (workers/<id> in the mount)
    created_at             text COLLATE "C",       -- when the row was made (UTC)
    updated_at             text COLLATE "C",       -- the last heartbeat (UTC); up/down is computed from it
    deleted_at             text COLLATE "C",       -- when the row was removed (UTC), NULL while live
    deleted                integer NOT NULL DEFAULT 0,  -- 0 live, 1 removed
    host                   text COLLATE "C" NOT NULL,   -- 'node1@lvm' for a volume worker
    "binary"               text COLLATE "C" NOT NULL,   -- 'cinder-volume' or 'cinder-scheduler'
    topic                  text COLLATE "C",       -- Cinder's RPC topic, the binary's short name ('cinder-volume')
    report_count           bigint NOT NULL DEFAULT 0,   -- heartbeats sent since the row was made
    disabled               integer NOT NULL DEFAULT 0,  -- 1 when an operator disabled the worker
    disabled_reason        text COLLATE "C",       -- why it was disabled, free text
    availability_zone      text COLLATE "C",       -- Cinder's availability zone ('nova' by default)
    rpc_current_version    text COLLATE "C",       -- the worker's protocol version (the upgrade check compares it)
    object_current_version text COLLATE "C",       -- the worker's object version (kept for Cinder parity)
    cluster_name           text COLLATE "C",       -- the cluster the worker belongs to, NULL when unclustered
    uuid                   text COLLATE "C"        -- a random UUID given at registration
);
CREATE TRIGGER services_ids AFTER INSERT ON services REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cf_ids_follow('services_id_seq');
-- Cinder finds a worker's row by host and binary: one live row each.
CREATE UNIQUE INDEX services_host_binary ON services (host, "binary") WHERE deleted = 0;
-- Cluster membership and summaries (num_hosts, num_down_hosts) go by name.
CREATE INDEX services_cluster_name ON services (cluster_name);

-- One row per cluster: workers sharing a storage backend.
CREATE TABLE clusters (
    id                     bigserial PRIMARY KEY,  -- the cluster's id
    created_at             text COLLATE "C",       -- when the row was made (UTC)
    updated_at             text COLLATE "C",       -- when the row last changed (UTC)
    deleted_at             text COLLATE "C",       -- when the row was removed (UTC), NULL while live
    deleted                integer NOT NULL DEFAULT 0,  -- 0 live, 1 removed
    name                   text COLLATE "C" NOT NULL,   -- 'c1@lvm'; workers name it in services.cluster_name
    "binary"               text COLLATE "C" NOT NULL,   -- the binary of its workers ('cinder-volume')
    disabled               integer NOT NULL DEFAULT 0,  -- 1 when an operator disabled the cluster (decides for its workers)
    disabled_reason        text COLLATE "C",       -- why it was disabled, free text
    race_preventer         bigint NOT NULL DEFAULT 0    -- bumped on every update (optimistic locking, as Cinder)
);
CREATE TRIGGER clusters_ids AFTER INSERT ON clusters REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cf_ids_follow('clusters_id_seq');
CREATE UNIQUE INDEX clusters_name_binary ON clusters (name, "binary") WHERE deleted = 0;

-- One row per operation in flight: what a worker must clean if it dies.
CREATE TABLE workers (
    id                     bigserial PRIMARY KEY,  -- the row's id
    created_at             text COLLATE "C",       -- when the operation started (UTC)
    updated_at             text COLLATE "C",       -- when the row last changed or was claimed (UTC)
    deleted_at             text COLLATE "C",       -- kept for Cinder parity; cinderfs deletes rows outright
    deleted                integer NOT NULL DEFAULT 0,  -- kept for Cinder parity, always 0
    resource_type          text COLLATE "C" NOT NULL,   -- 'Volume' or 'Snapshot'
    resource_id            text COLLATE "C" NOT NULL,   -- the resource's UUID, canonical lower case
    status                 text COLLATE "C" NOT NULL,   -- the ongoing status to clean ('creating', 'deleting', ...)
    service_id             bigint,                 -- the owner (services.id); NULL = nobody picked it up
    race_preventer         bigint NOT NULL DEFAULT 0,   -- +1 on every update or claim (optimistic locking)
    UNIQUE (resource_type, resource_id)            -- one operation per resource
);
CREATE TRIGGER workers_ids AFTER INSERT ON workers REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cf_ids_follow('workers_id_seq');
CREATE INDEX workers_service_id ON workers (service_id);

-- Volumes (Cinder's columns that cinderfs uses).
CREATE TABLE volumes (
    id                     text COLLATE "C" PRIMARY KEY,  -- the volume's UUID, canonical lower case
    created_at             text COLLATE "C",       -- when the volume was requested (UTC)
    updated_at             text COLLATE "C",       -- when the row last changed (UTC)
    deleted_at             text COLLATE "C",       -- when the volume was deleted (UTC)
    deleted                integer NOT NULL DEFAULT 0,  -- 0 live, 1 deleted
    host                   text COLLATE "C",       -- the worker that owns it ('node1@lvm#pool' in Cinder)
    cluster_name           text COLLATE "C",       -- the owner's cluster, NULL when unclustered
    size                   bigint,                 -- size in GiB
    status                 text COLLATE "C",       -- 'creating', 'available', 'deleting', 'error', ...
    attach_status          text COLLATE "C",       -- 'detached' or 'attached'
    display_name           text COLLATE "C",       -- the name the user gave
    provider_location      text COLLATE "C",       -- where the export is ('ip:port,lun iqn lun')
    provider_auth          text COLLATE "C",       -- 'CHAP user secret' for the export
    previous_status        text COLLATE "C"        -- the status before the current operation
);
CREATE INDEX volumes_host ON volumes (host);

-- Snapshots (Cinder's columns that cinderfs uses).
CREATE TABLE snapshots (
    id                     text COLLATE "C" PRIMARY KEY,  -- the snapshot's UUID, canonical lower case
    created_at             text COLLATE "C",       -- when the snapshot was requested (UTC)
    updated_at             text COLLATE "C",       -- when the row last changed (UTC)
    deleted_at             text COLLATE "C",       -- when the snapshot was deleted (UTC)
    deleted                integer NOT NULL DEFAULT 0,  -- 0 live, 1 deleted
    volume_id              text COLLATE "C" NOT NULL,   -- the volume it was taken from (volumes.id)
    volume_size            bigint,                 -- the volume's size in GiB when taken
    status                 text COLLATE "C",       -- 'creating', 'available', 'deleting', 'error', ...
    progress               text COLLATE "C",       -- '0%' .. '100%'
    display_name           text COLLATE "C",       -- the name the user gave
    provider_location      text COLLATE "C"        -- the backend's location of the snapshot
);
CREATE INDEX snapshots_volume_id ON snapshots (volume_id);
