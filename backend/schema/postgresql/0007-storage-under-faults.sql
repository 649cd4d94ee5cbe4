-- cinderfs schema, migration 7, PostgreSQL dialect: storage under faults.
-- Every volume and snapshot in the mount shows the error of its latest
-- failed operation (last_error), looked up per resource: without this
-- index each lookup would read every operation ever queued, and a listing
-- of thousands of volumes would take seconds. The twin of
-- backend/schema/sqlite/0007-storage-under-faults.sql.
CREATE INDEX volume_operations_resource ON volume_operations (resource_id, id);
