-- cinderfs schema, migration 15: the volume operations' history is pruned
-- like the cleanup history (ended operations older than
-- cleanup_history_max_age days; a resource's latest failure stays while
-- the resource does, since its last_error reads it), and what the pruned
-- ones counted goes on counting in the metrics, as migration 14 does for
-- requests: per kind and state, how many ended, how many of them have a
-- duration, its sum, and how many took at most each bound of
-- store_duration_buckets (le_1 the lowest, 0.1 s, to le_10, 300 s).
CREATE TABLE volume_operations_pruned (
    kind                   TEXT NOT NULL,         -- volume_operations.kind
    state                  TEXT NOT NULL,         -- done or failed
    ops                    INTEGER NOT NULL DEFAULT 0,  -- operations pruned
    timed                  INTEGER NOT NULL DEFAULT 0,  -- of which with a duration
    duration_us            INTEGER NOT NULL DEFAULT 0,  -- the sum of their durations
    le_1                   INTEGER NOT NULL DEFAULT 0,  -- how many took at most 0.1 s
    le_2                   INTEGER NOT NULL DEFAULT 0,  -- ... 0.25 s
    le_3                   INTEGER NOT NULL DEFAULT 0,  -- ... 0.5 s
    le_4                   INTEGER NOT NULL DEFAULT 0,  -- ... 1 s
    le_5                   INTEGER NOT NULL DEFAULT 0,  -- ... 2.5 s
    le_6                   INTEGER NOT NULL DEFAULT 0,  -- ... 5 s
    le_7                   INTEGER NOT NULL DEFAULT 0,  -- ... 10 s
    le_8                   INTEGER NOT NULL DEFAULT 0,  -- ... 30 s
    le_9                   INTEGER NOT NULL DEFAULT 0,  -- ... 60 s
    le_10                  INTEGER NOT NULL DEFAULT 0,  -- ... 300 s
    PRIMARY KEY (kind, state)
);
-- The pruner's look: ended operations by their end.
CREATE INDEX volume_operations_finished ON volume_operations (finished_at)
    WHERE state IN ('done', 'failed');
