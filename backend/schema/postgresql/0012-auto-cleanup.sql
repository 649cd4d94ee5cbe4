-- cinderfs schema, migration 12, PostgreSQL dialect: automatic cleanup,
-- the twin of backend/schema/sqlite/0012-auto-cleanup.sql, which says what
-- the columns hold.

ALTER TABLE clusters ADD COLUMN auto_cleanup bigint NOT NULL DEFAULT 0;

CREATE TABLE auto_cleanups (
    service_id             bigint NOT NULL,
    last_heartbeat         text COLLATE "C" NOT NULL,
    cluster_name           text COLLATE "C" NOT NULL,
    host                   text COLLATE "C" NOT NULL,
    after_seconds          bigint NOT NULL,
    requested_by           bigint NOT NULL,
    request_id             bigint NOT NULL,
    created_at             text COLLATE "C" NOT NULL,
    PRIMARY KEY (service_id, last_heartbeat)
);
CREATE INDEX auto_cleanups_request ON auto_cleanups (request_id);
