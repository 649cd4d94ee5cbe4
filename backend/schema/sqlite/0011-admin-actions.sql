-- cinderfs schema, migration 11: Cinder's admin actions through the mount
-- (reset-state, extend) and what a worker measures of its storage for
-- get-pools.

-- reset-state: who set a status by hand and when (the mount shows them
-- beside previous_status, which Cinder keeps for volumes; snapshots get it
-- here).
ALTER TABLE volumes ADD COLUMN status_reset_by INTEGER;   -- uid of the admin who last reset the status, NULL if never
ALTER TABLE volumes ADD COLUMN status_reset_at TEXT;      -- when (UTC)
ALTER TABLE snapshots ADD COLUMN previous_status TEXT;    -- the status before the current one
ALTER TABLE snapshots ADD COLUMN status_reset_by INTEGER; -- as for volumes
ALTER TABLE snapshots ADD COLUMN status_reset_at TEXT;    -- as for volumes

-- extend: the size asked for, carried by the extend_volume operation until
-- the worker has grown the LV and the LUN (volumes.size changes then).
ALTER TABLE volume_operations ADD COLUMN new_size INTEGER;  -- GiB, extend_volume only

-- get-pools --detail: what the worker measured besides size and free.
ALTER TABLE worker_capacity ADD COLUMN provisioned_bytes INTEGER;  -- what its LVs take: size less free (thick LVM, as Cinder's driver reports it)
ALTER TABLE worker_capacity ADD COLUMN allocated_gib INTEGER;      -- sum of the sizes of the live volumes of its host (the database), Cinder's allocated_capacity_gb
ALTER TABLE worker_capacity ADD COLUMN volume_count INTEGER;       -- how many live volumes its host has (the database)
