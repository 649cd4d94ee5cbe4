-- cinderfs schema, migration 6: one daemon per worker. Each start of a
-- worker daemon is an instance; the one serving a services row says who it
-- is here, so that a second daemon started for the same host can tell a
-- live first one (and refuse to start) from one that crashed (and take its
-- place at once), and a daemon whose row was taken over notices it.

-- One row per services row a cinderfs daemon serves (a row Cinder or a
-- test made has none: it is taken as Cinder takes it, by host and binary).
CREATE TABLE worker_instances (
    service_id             INTEGER PRIMARY KEY,   -- services.id
    instance               TEXT NOT NULL,         -- a random UUID the daemon made when it started
    pid                    INTEGER NOT NULL,      -- its process id (after it went to the background)
    hostname               TEXT NOT NULL,         -- the machine it runs on
    boot_id                TEXT NOT NULL,         -- that machine's boot (/proc/sys/kernel/random/boot_id): the same on one machine until it reboots
    started_at             TEXT NOT NULL,         -- when it registered (UTC)
    updated_at             TEXT NOT NULL          -- its last heartbeat (UTC), as services.updated_at
);
