#!/usr/bin/env bash
# Cinder's admin actions as files, driven with echo, cat, rmdir and stat:
# disabling workers and clusters with a reason (service-disable --reason,
# cluster-disable) and what it means for cleanups and new volumes;
# reset-state of volumes and snapshots, recorded and refused while a live
# worker holds an operation; rmdir of a cluster (cinder-manage cluster
# remove); anyone outside the admin group refused by the kernel; an extend
# on a worker with no volume group (database only). Real LVM
# on a loop device (activation off), no iSCSI target (target_helper none).
. "$(dirname "$0")/lib.sh"
for tool in useradd groupadd runuser; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed"; exit 1; }
done

make_vg 2048
STORAGE=(--volume-group "$VG" --lvm-system-dir "$LVM_SYSTEM_DIR" --target-helper none)
OPTS=(--cluster c1@lvm --service-down-time 3 --report-interval 1)
start_worker w1 "${OPTS[@]}" "${STORAGE[@]}"
start_worker w2 "${OPTS[@]}" "${STORAGE[@]}"
M1=$(mnt w1)
M2=$(mnt w2)
has_capacity() { [ "$(sql 'SELECT count(*) FROM worker_capacity')" = 2 ]; }
wait_until 10 has_capacity
W1=$(sql "SELECT id FROM services WHERE host = 'w1@lvm'")
W2=$(sql "SELECT id FROM services WHERE host = 'w2@lvm'")

###########################################################################
log "disabled and disabled_reason of a worker"
check "disabled and disabled_reason take writes (root and the admin group)" "-rw-rw---- -rw-rw---- -r--r-----" \
	"$(stat -c %A "$M1/workers/$W1/disabled" "$M1/workers/$W1/disabled_reason" "$M1/workers/$W1/host" | xargs)"
check "a worker starts enabled, with no reason" "false|" \
	"$(cat "$M1/workers/$W1/disabled")|$(cat "$M1/workers/$W1/disabled_reason")"
check_fails "a reason for an enabled worker is EINVAL" "Invalid argument" \
	bash -c "echo 'disk swap' > '$M1/workers/$W1/disabled_reason'"
check "workers/error says why" \
	"workers/$W1/disabled_reason: worker $W1 is enabled: a reason goes with disabling it (write true to its disabled file first), as with cinder service-disable --reason." \
	"$(cat "$M1/workers/error")"
check_fails "a value that is no boolean is EINVAL" "Invalid argument" \
	bash -c "echo maybe > '$M1/workers/$W1/disabled'"
check "workers/error says why" "workers/$W1/disabled: Value maybe for disabled is not a boolean; write true or false." \
	"$(cat "$M1/workers/error")"
check_cmd "echo true > workers/<id>/disabled" bash -c "echo true > '$M1/workers/$W1/disabled'"
check "an accepted write empties workers/error" "" "$(cat "$M1/workers/error")"
check_cmd "echo 'disk swap' > workers/<id>/disabled_reason" \
	bash -c "echo 'disk swap' > '$M1/workers/$W1/disabled_reason'"
check "both show on every mount, and in info.json" "true|disk swap|true|disk swap" \
	"$(cat "$M2/workers/$W1/disabled")|$(cat "$M2/workers/$W1/disabled_reason")|$(jq -r '"\(.disabled)|\(.disabled_reason)"' "$M2/workers/$W1/info.json")"
check "the database has Cinder's columns" "1|disk swap" "$(sql "SELECT disabled, disabled_reason FROM services WHERE id = $W1")"
check "the worker's heartbeat is untouched: it is still up" "true" "$(cat "$M1/workers/$W1/is_up")"
check_cmd "the log names who did it" grep -q "uid 0: worker $W1's disabled_reason set to 'disk swap'" "$TEST_ROOT/w1.log"
check_fails "a reason of 256 bytes is EINVAL (Cinder's 255)" "Invalid argument" \
	bash -c "printf '%0256d\n' 0 > '$M1/workers/$W1/disabled_reason'"
check "the reason is unchanged" "disk swap" "$(cat "$M1/workers/$W1/disabled_reason")"

# Placement: Cinder's scheduler skips disabled backends. w1 is disabled,
# its cluster is not: a create on w1's mount is made by w2.
check_cmd "volumes/create on a disabled worker's mount is accepted" \
	bash -c "echo 'name=routed size=1' > '$M1/volumes/create'"
VR=$(sql "SELECT id FROM volumes WHERE display_name = 'routed'")
check "it is placed on the enabled member w2" "w2@lvm|$W2" \
	"$(sql "SELECT v.host, o.service_id FROM volumes v JOIN volume_operations o ON o.resource_id = v.id WHERE v.id = '$VR'")"
available() { [ "$(cat "$M1/volumes/$1/status" 2>/dev/null)" = available ]; }
if wait_until 15 available "$VR"; then ok "w2 makes it"; else
	not_ok "w2 makes it" "status: $(cat "$M1/volumes/$VR/status")"; fi
check "its LV is in the group" "1" "$(lvs --noheadings -o lv_name "$VG" | grep -c "volume-$VR")"

log "capacity: the volume group as the worker last measured it (get-pools --detail)"
vgs_bytes() { vgs --noheadings --units b --nosuffix -o "$1" "$VG" | xargs; }
cap_of() { jq -r "$2" "$(mnt w1)/workers/$1/capacity"; }
measured_now() { [ "$(cap_of "$W2" .free_bytes)" = "$(vgs_bytes vg_free)" ]; }
wait_until 15 measured_now
check "workers/<id>/capacity is read-only" "-r--r-----" "$(stat -c %A "$M1/workers/$W2/capacity")"
check "its volume group, total and free bytes are vgs's" "$VG $(vgs_bytes vg_size) $(vgs_bytes vg_free)" \
	"$(cap_of "$W2" '"\(.volume_group) \(.total_bytes) \(.free_bytes)"')"
check "provisioned is what the LVs take (size less free, as Cinder's thick LVM)" \
	"$(( $(vgs_bytes vg_size) - $(vgs_bytes vg_free) ))" "$(cap_of "$W2" .provisioned_bytes)"
check "in GiB with two decimals, as get-pools shows them" \
	"$(awk -v t="$(vgs_bytes vg_size)" -v f="$(vgs_bytes vg_free)" 'BEGIN { printf "%g %g", int(t / 2^30 * 100 + 0.5) / 100, int(f / 2^30 * 100 + 0.5) / 100 }')" \
	"$(cap_of "$W2" '"\(.total_capacity_gb) \(.free_capacity_gb)"')"
check "allocated: the sizes of w2's live volumes (1 GiB), w1 has none" "1 1 0 0" \
	"$(cap_of "$W2" '"\(.allocated_capacity_gb) \(.volumes)"') $(cap_of "$W1" '"\(.allocated_capacity_gb) \(.volumes)"')"
when=$(cap_of "$W2" .measured_at)
check "and when it was measured (ISO 8601)" "yes" \
	"$([[ $when =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$ ]] && echo yes || echo "$when")"
check "ls -l workers/<id> lists capacity with its exact size" "$(wc -c <"$M1/workers/$W2/capacity")" \
	"$(stat -c %s "$M1/workers/$W2/capacity")"
check_cmd "echo true > workers/<w2>/disabled" bash -c "echo true > '$M2/workers/$W2/disabled'"
check_fails "with both members disabled, volumes/create is EROFS" "Read-only file system" \
	bash -c "echo 'name=nowhere size=1' > '$M1/volumes/create'"
check "volumes/error says why, with the reason" \
	"Worker $W1 (w1@lvm) is disabled (disk swap): it makes no new volumes, and no other member of its cluster is enabled, up and ready to (Cinder: No valid backend was found). Enable it with echo false > workers/$W1/disabled, or create through another worker's mount." \
	"$(cat "$M1/volumes/error")"
check "nothing was recorded" "0" "$(sql "SELECT count(*) FROM volumes WHERE display_name = 'nowhere'")"
check_cmd "echo false > workers/<w2>/disabled" bash -c "echo false > '$M2/workers/$W2/disabled'"

###########################################################################
log "cleanup selection: disabled=false skips a disabled unclustered worker"
# Seeded down workers: 20 unclustered and disabled, 21 unclustered and
# enabled, 22 in cluster c9@lvm (disabled), 23 in c1@lvm (enabled).
OLD=$(db_time '-1 hour')
sql "INSERT INTO services (id, host, \"binary\", created_at, updated_at, rpc_current_version, cluster_name)
	VALUES (20, 'n20@lvm', 'cinder-volume', '$OLD', '$OLD', '1.0', NULL),
	       (21, 'n21@lvm', 'cinder-volume', '$OLD', '$OLD', '1.0', NULL),
	       (22, 'n22@lvm', 'cinder-volume', '$OLD', '$OLD', '1.0', 'c9@lvm');
	INSERT INTO clusters (name, \"binary\", created_at, updated_at) VALUES ('c9@lvm', 'cinder-volume', '$OLD', '$OLD');"
sql "UPDATE services SET rpc_current_version = (SELECT rpc_current_version FROM services WHERE id = $W1) WHERE id IN (20, 21, 22)"
check "a worker that never measured has an empty capacity" "{}" "$(cat "$M1/workers/20/capacity")"
check_cmd "echo true > workers/20/disabled" bash -c "echo true > '$M1/workers/20/disabled'"
cleaned_ids() { jq -c '[.cleaning[].id] + [.unavailable[].id] | sort' "$M1/cleanup/result"; }
check_cmd "a cleanup of enabled workers" bash -c "echo '{\"disabled\": false, \"binary\": \"cinder-volume\"}' > '$M1/cleanup/request'"
check "it reaches 21 and 22, not the disabled 20" "[21,22]" "$(cleaned_ids)"
check_cmd "a cleanup of disabled workers" bash -c "echo 'disabled=true binary=cinder-volume' > '$M1/cleanup/request'"
check "it reaches 20 only" "[20]" "$(cleaned_ids)"

log "disabled and disabled_reason of a cluster: its flag decides for its workers"
check "clusters/<name>/disabled takes writes; clusters/ is writable (rmdir)" "-rw-rw---- -rw-rw---- drwxrwx---" \
	"$(stat -c %A "$M1/clusters/c9@lvm/disabled" "$M1/clusters/c9@lvm/disabled_reason" "$M1/clusters" | xargs)"
check_cmd "echo true > clusters/c9@lvm/disabled" bash -c "echo true > '$M1/clusters/c9@lvm/disabled'"
check_cmd "echo 'rack 9 power' > clusters/c9@lvm/disabled_reason" \
	bash -c "echo 'rack 9 power' > '$M1/clusters/c9@lvm/disabled_reason'"
check "both show, in the files and info.json" "true|rack 9 power|rack 9 power" \
	"$(cat "$M2/clusters/c9@lvm/disabled")|$(cat "$M2/clusters/c9@lvm/disabled_reason")|$(jq -r .disabled_reason "$M2/clusters/c9@lvm/info.json")"
check_cmd "a cleanup of enabled workers again" bash -c "echo '{\"disabled\": false, \"binary\": \"cinder-volume\"}' > '$M1/cleanup/request'"
check "now it reaches 21 only (22's cluster is disabled)" "[21]" "$(cleaned_ids)"
check_cmd "echo false > clusters/c9@lvm/disabled" bash -c "echo false > '$M1/clusters/c9@lvm/disabled'"
check "enabling clears the reason (Cinder's enable)" "false|" \
	"$(cat "$M1/clusters/c9@lvm/disabled")|$(cat "$M1/clusters/c9@lvm/disabled_reason")"
check_cmd "echo false > workers/<w1>/disabled" bash -c "echo false > '$M1/workers/$W1/disabled'"
check "the worker's reason is cleared too" "false||" \
	"$(cat "$M1/workers/$W1/disabled")|$(cat "$M1/workers/$W1/disabled_reason")|$(sql "SELECT disabled_reason FROM services WHERE id = $W1")"
check_cmd "cluster c1@lvm disabled" bash -c "echo true > '$M1/clusters/c1@lvm/disabled'"
check_fails "a disabled cluster's workers make no volumes (EROFS)" "Read-only file system" \
	bash -c "echo 'name=c1off size=1' > '$M1/volumes/create'"
check "volumes/error names the cluster" \
	"Cluster c1@lvm is disabled: its workers make no new volumes (Cinder: No valid backend was found). Enable it with echo false > clusters/c1@lvm/disabled." \
	"$(cat "$M1/volumes/error")"
check_cmd "cluster c1@lvm enabled" bash -c "echo false > '$M1/clusters/c1@lvm/disabled'"
check_fails "a value file of a cluster that is read-only stays so" "Permission denied" \
	bash -c "echo 3 > '$M1/clusters/c1@lvm/num_hosts'"

###########################################################################
log "reset-state"
check "volumes/<uuid>/status takes writes; previous_status does not" "-rw-rw---- -r--r-----" \
	"$(stat -c %A "$M1/volumes/$VR/status" "$M1/volumes/$VR/previous_status" | xargs)"
check_fails "a status reset-state does not set is EINVAL" "Invalid argument" \
	bash -c "echo frozen > '$M1/volumes/$VR/status'"
check "volumes/error lists Cinder's statuses" \
	"volumes/$VR/status: Must specify a valid status: frozen is not one reset-state sets on a volume (creating, available, deleting, error, error_deleting, error_managing, managing, attaching, in-use, detaching, maintenance)." \
	"$(cat "$M1/volumes/error")"
check "nothing changed" "available||" \
	"$(cat "$M1/volumes/$VR/status")|$(cat "$M1/volumes/$VR/previous_status")|$(cat "$M1/volumes/$VR/status_reset_by")"
check_cmd "echo Error > volumes/<uuid>/status (any case, as Cinder lowers it)" \
	bash -c "echo Error > '$M1/volumes/$VR/status'"
check "status, previous_status and who" "error|available|0" \
	"$(cat "$M2/volumes/$VR/status")|$(cat "$M2/volumes/$VR/previous_status")|$(cat "$M2/volumes/$VR/status_reset_by")"
when=$(cat "$M2/volumes/$VR/status_reset_at")
age=$(( $(date +%s) - $(date -d "$when" +%s 2>/dev/null || echo 0) ))
check "and when (ISO 8601, within the last minute)" "yes" \
	"$([[ $when =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$ ]] && [ "$age" -ge 0 ] && [ "$age" -lt 60 ] && echo yes || echo "$when")"
check "info.json has them" "error|available|0" \
	"$(jq -r '"\(.status)|\(.previous_status)|\(.status_reset_by)"' "$M1/volumes/$VR/info.json")"
check_cmd "the log names who did it" grep -q "uid 0: volume $VR reset from available to error" "$TEST_ROOT/w1.log"
check_cmd "echo available > volumes/<uuid>/status" bash -c "echo available > '$M1/volumes/$VR/status'"

# Refused while a live worker holds an operation: w2 is up and owns the
# operations row of a volume it is (by the seed) creating.
VB=6b000000-0000-4000-8000-000000000001
NOW=$(db_time)
sql "INSERT INTO volumes (id, display_name, size, status, attach_status, host, cluster_name, deleted, created_at, updated_at)
	VALUES ('$VB', 'busy', 1, 'creating', 'detached', 'w2@lvm', 'c1@lvm', 0, '$NOW', '$NOW');
	INSERT INTO workers (created_at, updated_at, resource_type, resource_id, status, service_id)
	VALUES ('$NOW', '$NOW', 'Volume', '$VB', 'creating', $W2);"
check_fails "reset-state while a live worker holds its operation is EBUSY" "Device or resource busy" \
	bash -c "echo error > '$M1/volumes/$VB/status'"
check "volumes/error says who holds it" \
	"volumes/$VB/status: The volume $VB is creating, and worker $W2 (w2@lvm), which is up, holds its operation (creating): a reset now would race it. Wait for it to end, or stop that worker (its operation is then stuck, and a reset or a cleanup settles it)." \
	"$(cat "$M1/volumes/error")"
check "its status and row are untouched" "creating|1" \
	"$(cat "$M1/volumes/$VB/status")|$(sql "SELECT count(*) FROM workers WHERE resource_id = '$VB'")"
# The same row owned by a worker that is down (20): stuck; a reset
# settles it and removes the row, as Cinder's reset-state does.
sql "UPDATE workers SET service_id = 20 WHERE resource_id = '$VB'"
check_cmd "reset-state of a stuck volume" bash -c "echo error > '$M1/volumes/$VB/status'"
check "its status, and its operations row is gone (no longer stuck)" "error|creating|0" \
	"$(cat "$M1/volumes/$VB/status")|$(cat "$M1/volumes/$VB/previous_status")|$(sql "SELECT count(*) FROM workers WHERE resource_id = '$VB'")"

# Snapshots: Cinder's own list of statuses.
S=6b000000-0000-4000-8000-0000000000a1
sql "INSERT INTO snapshots (id, volume_id, volume_size, status, display_name, deleted, created_at, updated_at)
	VALUES ('$S', '$VB', 1, 'deleting', 's1', 0, '$NOW', '$NOW');"
check_fails "a volume's status is not a snapshot's: in-use is EINVAL" "Invalid argument" \
	bash -c "echo in-use > '$M1/snapshots/$S/status'"
check_cmd "snapshots/error lists the snapshot statuses" \
	grep -q "in-use is not one reset-state sets on a snapshot (error, available, creating, deleting, deleted, updating, error_deleting, unmanaging, backing-up, restoring)" "$M1/snapshots/error"
check_cmd "echo error_deleting > snapshots/<uuid>/status" bash -c "echo error_deleting > '$M2/snapshots/$S/status'"
check "status, previous_status, who" "error_deleting|deleting|0" \
	"$(cat "$M1/snapshots/$S/status")|$(cat "$M1/snapshots/$S/previous_status")|$(cat "$M1/snapshots/$S/status_reset_by")"
check_fails "a snapshot's size is not writable" "Permission denied" bash -c "echo 5 > '$M1/snapshots/$S/size'"

###########################################################################
log "rmdir clusters/<name>"
check_fails "a cluster with workers is ENOTEMPTY" "Directory not empty" rmdir "$M1/clusters/c9@lvm"
check "clusters/error says why" \
	"rmdir clusters/c9@lvm: Cluster c9@lvm has 1 worker(s); it can be removed once it has none (rmdir workers/<id> of each retired one), as cinder-manage cluster remove without --recursive." \
	"$(cat "$M1/clusters/error")"
check_cmd "its retired worker is removed" rmdir "$M1/workers/22"
check_cmd "then the empty cluster is removed" rmdir "$M1/clusters/c9@lvm"
gone() { ! ls "$M1/clusters" | grep -qx 'c9@lvm'; }
if wait_until 3 gone; then ok "clusters/ no longer lists it"; else not_ok "clusters/ no longer lists it"; fi
check "its row is soft-deleted" "1" "$(sql "SELECT deleted FROM clusters WHERE name = 'c9@lvm'")"
check "an accepted rmdir empties clusters/error" "" "$(cat "$M1/clusters/error")"

###########################################################################
log "who may: the kernel refuses anyone outside the admin group"
make_test_users adm
start_daemon adm --control-only --admin-group "$GROUP" --service-down-time 3 --report-interval 1
MA=$(mnt adm)
check_fails "another user cannot disable a worker (EACCES)" "Permission denied" \
	as "$USER_PLAIN" bash -c "echo true > '$MA/workers/$W1/disabled'"
check_fails "nor reset a status" "Permission denied" \
	as "$USER_PLAIN" bash -c "echo error > '$MA/volumes/$VR/status'"
check_fails "nor remove a cluster" "Permission denied" as "$USER_PLAIN" rmdir "$MA/clusters/c1@lvm"
check "so nothing changed" "0|available" \
	"$(sql "SELECT disabled FROM services WHERE id = $W1")|$(sql "SELECT status FROM volumes WHERE id = '$VR'")"
check_cmd "an admin-group member disables a worker" \
	as "$USER_ADMIN" bash -c "echo true > '$MA/workers/$W1/disabled'"
check_cmd "and resets a status" as "$USER_ADMIN" bash -c "echo maintenance > '$MA/volumes/$VR/status'"
check "recorded as that user's" "$(id -u "$USER_ADMIN")" "$(cat "$MA/volumes/$VR/status_reset_by")"
check_cmd "the log names the uid" grep -q "uid $(id -u "$USER_ADMIN"): worker $W1 disabled" "$TEST_ROOT/adm.log"

###########################################################################
log "an extend on a worker with no volume group (the database-only driver)"
# It measures no space: the extend is not refused for want of a
# measurement (EAGAIN would never end); the driver extends in the database.
start_worker w9 --service-down-time 3 --report-interval 1
W9=$(sql "SELECT id FROM services WHERE host = 'w9@lvm'")
V9=6b000000-0000-4000-8000-000000000009
NOW=$(db_time)
sql "INSERT INTO volumes (id, display_name, size, status, attach_status, host, deleted, created_at, updated_at)
	VALUES ('$V9', 'dbonly', 1, 'available', 'detached', 'w9@lvm', 0, '$NOW', '$NOW')"
check "w9 has no measurement" "0" "$(sql "SELECT count(*) FROM worker_capacity WHERE service_id = $W9")"
check_cmd "echo 2 > size is accepted" bash -c "echo 2 > '$MA/volumes/$V9/size'"
grown9() { [ "$(sql "SELECT status || ' ' || size FROM volumes WHERE id = '$V9'")" = "available 2" ]; }
if wait_until 30 grown9; then ok "w9 makes it 2 GiB"; else
	not_ok "w9 makes it 2 GiB" "$(sql "SELECT status, size FROM volumes WHERE id = '$V9'")" "$(tail -3 "$TEST_ROOT/w9.log")"; fi
