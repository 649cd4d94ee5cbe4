-- cinderfs schema, migration 6, PostgreSQL dialect: one daemon per worker.
-- Each start of a worker daemon is an instance; the one serving a services
-- row says who it is here, so that a second daemon started for the same
-- host can tell a live first one (and refuse to start) from one that
-- crashed (and take its place at once), and a daemon whose row was taken
-- over notices it. The twin of backend/schema/sqlite/0006-worker-instances.sql
-- (times as text, see 0001).

-- One row per services row a cinderfs daemon serves (a row Cinder or a
-- test made has none: it is taken as Cinder takes it, by host and binary).
CREATE TABLE worker_instances (
    service_id             bigint PRIMARY KEY,     -- services.id
    instance               text COLLATE "C" NOT NULL,   -- a random UUID the daemon made when it started
    pid                    bigint NOT NULL,        -- its process id (after it went to the background)
    hostname               text COLLATE "C" NOT NULL,   -- the machine it runs on
    boot_id                text COLLATE "C" NOT NULL,   -- that machine's boot (/proc/sys/kernel/random/boot_id): the same on one machine until it reboots
    started_at             text COLLATE "C" NOT NULL,   -- when it registered (UTC)
    updated_at             text COLLATE "C" NOT NULL    -- its last heartbeat (UTC), as services.updated_at
);
