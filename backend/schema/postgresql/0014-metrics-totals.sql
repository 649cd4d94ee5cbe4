-- cinderfs schema, migration 14, PostgreSQL dialect: the twin of
-- backend/schema/sqlite/0014-metrics-totals.sql, which says what the
-- columns hold.
CREATE TABLE cleanup_pruned_totals (
    id                     bigint PRIMARY KEY CHECK (id = 1),
    requests               bigint NOT NULL DEFAULT 0,
    requests_done          bigint NOT NULL DEFAULT 0,
    requests_failed        bigint NOT NULL DEFAULT 0,
    requests_cancelled     bigint NOT NULL DEFAULT 0,
    resources_cleaned      bigint NOT NULL DEFAULT 0,
    resources_skipped      bigint NOT NULL DEFAULT 0,
    resources_refused      bigint NOT NULL DEFAULT 0,
    resources_failed       bigint NOT NULL DEFAULT 0,
    resources_cancelled    bigint NOT NULL DEFAULT 0
);
INSERT INTO cleanup_pruned_totals (id) VALUES (1);
