-- cinderfs schema, migration 11, PostgreSQL dialect: the twin of
-- backend/schema/sqlite/0011-admin-actions.sql, which says what the
-- columns hold.

ALTER TABLE volumes ADD COLUMN status_reset_by bigint;
ALTER TABLE volumes ADD COLUMN status_reset_at text COLLATE "C";
ALTER TABLE snapshots ADD COLUMN previous_status text COLLATE "C";
ALTER TABLE snapshots ADD COLUMN status_reset_by bigint;
ALTER TABLE snapshots ADD COLUMN status_reset_at text COLLATE "C";

ALTER TABLE volume_operations ADD COLUMN new_size bigint;

ALTER TABLE worker_capacity ADD COLUMN provisioned_bytes bigint;
ALTER TABLE worker_capacity ADD COLUMN allocated_gib bigint;
ALTER TABLE worker_capacity ADD COLUMN volume_count bigint;
