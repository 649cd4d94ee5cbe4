-- cinderfs schema, migration 15, PostgreSQL dialect: the twin of
-- backend/schema/sqlite/0015-operations-pruned.sql, which says what the
-- columns hold.
CREATE TABLE volume_operations_pruned (
    kind                   text COLLATE "C" NOT NULL,
    state                  text COLLATE "C" NOT NULL,
    ops                    bigint NOT NULL DEFAULT 0,
    timed                  bigint NOT NULL DEFAULT 0,
    duration_us            bigint NOT NULL DEFAULT 0,
    le_1                   bigint NOT NULL DEFAULT 0,
    le_2                   bigint NOT NULL DEFAULT 0,
    le_3                   bigint NOT NULL DEFAULT 0,
    le_4                   bigint NOT NULL DEFAULT 0,
    le_5                   bigint NOT NULL DEFAULT 0,
    le_6                   bigint NOT NULL DEFAULT 0,
    le_7                   bigint NOT NULL DEFAULT 0,
    le_8                   bigint NOT NULL DEFAULT 0,
    le_9                   bigint NOT NULL DEFAULT 0,
    le_10                  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, state)
);
CREATE INDEX volume_operations_finished ON volume_operations (finished_at)
    WHERE state IN ('done', 'failed');
