-- cinderfs schema, migration 13, SQLite dialect: nothing to do. The twin
-- of backend/schema/postgresql/0013-progress-updated-in-place.sql, which
-- leaves room in cleanup_progress's pages for PostgreSQL's in-place (HOT)
-- updates; SQLite updates a row in place and changes an index only when
-- an indexed column changes.
SELECT 1;
