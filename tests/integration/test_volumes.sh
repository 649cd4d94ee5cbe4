#!/usr/bin/env bash
# Volumes through the mount with real LVM and a real tgtd: created by a
# write to volumes/create, exported (iscsi-ls logs in), refused with clear
# errors, deleted by rmdir; and the story a user can replay: a worker
# killed in the middle of a delete, its volume stuck, a peer's cleanup.
. "$(dirname "$0")/lib.sh"

make_vg 4096
start_tgtd
VOLS=$TEST_ROOT/volumes
mkdir -p "$VOLS"
STORAGE=(--volume-group "$VG" --lvm-system-dir "$LVM_SYSTEM_DIR" --tgt-control-port "$TGT_CONTROL_PORT"
	--tgt-bstype null --volumes-dir "$VOLS" --target-port "$ISCSI_PORT")
OPTS=(--cluster c1@lvm --service-down-time 3 --report-interval 1)
start_worker w1 "${OPTS[@]}" "${STORAGE[@]}"
start_worker w2 "${OPTS[@]}" "${STORAGE[@]}"
start_daemon admin --control-only --service-down-time 3 --report-interval 1
M1=$(mnt w1)
M2=$(mnt w2)
has_capacity() { [ "$(sql 'SELECT count(*) FROM worker_capacity')" = 2 ]; }
wait_until 5 has_capacity

status_is() { [ "$(cat "$1/volumes/$2/status" 2>/dev/null)" = "$3" ]; }

check_cmd "echo 'name=db1 size=1G' > volumes/create succeeds" bash -c "echo 'name=db1 size=1G' > '$M1/volumes/create'"
V=$(ls "$M1/volumes" | grep -v -e create -e error)
check "volumes/ lists the new volume" "1" "$(echo "$V" | wc -w)"
if wait_until 10 status_is "$M1" "$V" available; then ok "its status becomes available"; else
	not_ok "its status becomes available" "status: $(cat "$M1/volumes/$V/status")" "$(sql 'SELECT * FROM volume_operations')"; fi
check "its name and size" "db1 1" "$(cat "$M1/volumes/$V/name" "$M1/volumes/$V/size" | xargs)"
check "it lives on w1" "1" "$(cat "$M1/volumes/$V/worker_id")"
check "lvs shows its LV at 1 GiB" "volume-$V 1073741824" \
	"$(lvs --noheadings --units b --nosuffix -o lv_name,lv_size "$VG" | xargs)"
IQN=iqn.2010-10.org.openstack:volume-$V
check "target_iqn names its target" "$IQN" "$(cat "$M1/volumes/$V/target_iqn")"
check "tgtadm shows the target" "1" "$(tgtadm -C "$TGT_CONTROL_PORT" --lld iscsi --mode target --op show | grep -c "^Target .*: $IQN\$")"
read -r _ user pass < <(sql "SELECT provider_auth FROM volumes WHERE id = '$V'")
check "iscsi-ls logs in with the volume's CHAP credentials" "1" \
	"$(iscsi-ls -s "iscsi://$user%$pass@127.0.0.1:$ISCSI_PORT" 2>&1 | grep -c '^Lun:1 ')"
check "no operations row is left once it is available" "0" "$(sql "SELECT count(*) FROM workers WHERE resource_id = '$V'")"

# The id of the volume a write made, read back on the file that wrote it
# (names need not be unique); a refused write leaves nothing to read.
exec 3<>"$M1/volumes/create"
echo 'name=db1 size=1G' >&3
read -r V_ANS <&3
exec 3>&-
check "a read on the fd that wrote volumes/create gives the new volume's id" "$V_ANS" \
	"$(sql "SELECT id FROM volumes WHERE display_name = 'db1' AND id != '$V'")"
check "which has a directory" "db1" "$(cat "$M1/volumes/$V_ANS/name" 2>&1)"
wait_until 10 status_is "$M1" "$V_ANS" available
check "after a refused create, the fd reads nothing" "0" \
	"$(exec 3<>"$M1/volumes/create"; echo 'size=10X' >&3 2>/dev/null; cat <&3 | wc -c)"
exec 3<>"$M1/snapshots/create"
echo "volume_id=$V_ANS name=s-ans" >&3
read -r S_ANS <&3
exec 3>&-
check "snapshots/create answers the new snapshot's id the same way" "$S_ANS" \
	"$(sql "SELECT id FROM snapshots WHERE display_name = 's-ans'")"
snapshot_gone() { [ "$(sql "SELECT count(*) FROM snapshots WHERE id = '$S_ANS' AND deleted = 0")" = 0 ]; }
wait_until 10 sh -c "! grep -qx creating '$M1/snapshots/$S_ANS/status' 2>/dev/null"
rmdir "$M1/snapshots/$S_ANS" 2>/dev/null
wait_until 10 snapshot_gone
rmdir "$M1/volumes/$V_ANS"
gone() { [ ! -e "$M1/volumes/$V_ANS" ]; }
wait_until 10 gone

# Refusals: the errno from write() or rmdir(), the words in volumes/error.
check_fails "an unknown size unit is EINVAL" "Invalid argument" bash -c "echo 'size=10X' > '$M1/volumes/create'"
check "volumes/error says why" "Unknown size unit 'X' in 10X: sizes are whole GiB, written as 10, 10G or 2T." \
	"$(cat "$M1/volumes/error")"
check_fails "an unknown key is EINVAL" "Invalid argument" bash -c "echo 'size=1 colour=red' > '$M1/volumes/create'"
check_fails "a volume larger than the free space is ENOSPC" "No space left on device" \
	bash -c "echo 'size=100G' > '$M1/volumes/create'"
check_cmd "volumes/error says how much is free" grep -q "has 2 GiB free; a 100 GiB volume does not fit" "$M1/volumes/error"
check_fails "a control-only daemon keeps no volumes (EROFS)" "Read-only file system" \
	bash -c "echo 'size=1' > '$(mnt admin)/volumes/create'"
check "a refused request creates nothing" "1" "$(sql 'SELECT count(*) FROM volumes WHERE deleted = 0')"

# Snapshots: asked for on any mount, made by the volume's worker.
check_fails "a snapshot of no UUID is EINVAL" "Invalid argument" bash -c "echo 'volume_id=abc' > '$M2/snapshots/create'"
check "snapshots/error says why" "Volume ID must be a UUID, and abc is not." "$(cat "$M2/snapshots/error")"
check_fails "a snapshot of a volume that does not exist is EINVAL" "Invalid argument" \
	bash -c "echo 'volume_id=7c000000-0000-4000-8000-000000000009' > '$M2/snapshots/create'"
check_cmd "a snapshot is requested through w2's mount" bash -c "echo 'volume_id=$V name=s1' > '$M2/snapshots/create'"
S=$(sql "SELECT id FROM snapshots WHERE display_name = 's1'")
settled() { case "$(cat "$M1/snapshots/$S/status" 2>/dev/null)" in available|error) true;; *) false;; esac; }
wait_until 10 settled
snap_status=$(cat "$M1/snapshots/$S/status")
if [ "$snap_status" = available ]; then
	ok "the snapshot is made (lvs shows _snapshot-$S)"
	check "its LV is there" "1" "$(lvs --noheadings -o lv_name "$VG" | grep -c "_snapshot-$S")"
else
	op_error=$(sql "SELECT error FROM volume_operations WHERE kind = 'create_snapshot'")
	check "without device-mapper the snapshot ends in error, saying why" "yes" \
		"$(case "$op_error" in *"snapshots need device-mapper"*) echo yes;; *) echo "no: $op_error";; esac)"
	echo "# SKIP: thick snapshots need device-mapper, which this kernel does not have"
fi
check "the snapshot names its volume" "$V" "$(cat "$M1/snapshots/$S/volume_id")"
check_fails "a volume with snapshots cannot be deleted (EBUSY)" "Device or resource busy" rmdir "$M1/volumes/$V"
check "volumes/error says why" "Volume $V has 1 snapshot(s); delete them first." "$(cat "$M1/volumes/error")"
check_cmd "rmdir snapshots/<uuid> deletes the snapshot" rmdir "$M1/snapshots/$S"
snap_gone() { ! ls "$M1/snapshots" | grep -q "$S"; }
if wait_until 10 snap_gone; then ok "the snapshot leaves snapshots/"; else not_ok "the snapshot leaves snapshots/"; fi
check "the database marks it deleted" "deleted|1" "$(sql "SELECT status, deleted FROM snapshots WHERE id = '$S'")"

check_cmd "rmdir volumes/<uuid> deletes it" rmdir "$M1/volumes/$V"
gone() { [ -z "$(ls "$M1/volumes" | grep -v -e create -e error)" ]; }
if wait_until 10 gone; then ok "the volume leaves volumes/"; else not_ok "the volume leaves volumes/"; fi
check "lvs no longer shows its LV" "" "$(lvs --noheadings -o lv_name "$VG" | xargs)"
check "tgtadm no longer shows its target" "0" "$(tgtadm -C "$TGT_CONTROL_PORT" --lld iscsi --mode target --op show | grep -c "$IQN")"
check "the database marks it deleted" "deleted|1" "$(sql "SELECT status, deleted FROM volumes WHERE id = '$V'")"

# Many deletes at once: one lvs and one lvremove for all of them. w1 is
# paused while they queue, so its backend thread finds them together.
for n in 1 2 3; do echo "name=batch$n size=1G" > "$M1/volumes/create"; done
batch_ready() { [ "$(sql "SELECT count(*) FROM volumes WHERE display_name LIKE 'batch%' AND status = 'available'")" = 3 ]; }
wait_until 10 batch_ready
kill -STOP "${PIDS[w1]}"
for id in $(sql "SELECT id FROM volumes WHERE display_name LIKE 'batch%'"); do rmdir "$M2/volumes/$id"; done
kill -CONT "${PIDS[w1]}"
batch_gone() { [ "$(sql "SELECT count(*) FROM volumes WHERE display_name LIKE 'batch%' AND deleted = 1")" = 3 ]; }
if wait_until 10 batch_gone; then ok "three volumes deleted together"; else not_ok "three volumes deleted together"; fi
check "in one batch" "deleting 3 volume(s) in one batch" "$(grep -o 'deleting [0-9]* volume(s) in one batch' "$TEST_ROOT/w1.log" | sort -u | xargs)"
check "their LVs are gone" "" "$(lvs --noheadings -o lv_name "$VG" | xargs)"

# The story: w1 dies in the middle of deleting a volume; w2 cleans up.
check_cmd "a second volume is created on w1" bash -c "echo 'name=db2 size=1G' > '$M1/volumes/create'"
V2=$(sql "SELECT id FROM volumes WHERE display_name = 'db2'")
wait_until 10 status_is "$M1" "$V2" available
kill -STOP "${PIDS[w1]}"   # w1 stops working: its delete will not start
check_cmd "its deletion is requested through w2's mount" rmdir "$M2/volumes/$V2"
check "the volume is deleting, its row owned by w1" "deleting|1" \
	"$(sql "SELECT v.status, w.service_id FROM volumes v JOIN workers w ON w.resource_id = v.id WHERE v.id = '$V2'")"
kill -KILL "${PIDS[w1]}"; wait "${PIDS[w1]}" 2>/dev/null; unset 'PIDS[w1]'
stuck() { [ "$(ls "$M2/stuck/volume")" = "$V2" ]; }
if wait_until 8 stuck; then ok "the volume shows under stuck/ once w1 is down"; else not_ok "the volume is stuck"; fi
check "its LV is still there" "volume-$V2" "$(lvs --noheadings -o lv_name "$VG" | xargs)"
check_cmd "a cleanup is requested on w2" bash -c "echo 'cluster_name=c1@lvm' > '$M2/cleanup/request'"
cleaned() { [ -z "$(ls "$M2/stuck/volume")" ] && [ "$(sql "SELECT deleted FROM volumes WHERE id = '$V2'")" = 1 ]; }
if wait_until 10 cleaned; then ok "w2 cleans it up"; else not_ok "w2 cleans it up" "$(cat "$M2/cleanup/history/00000001/progress.json")"; fi
check "the LV is gone (lvs)" "" "$(lvs --noheadings -o lv_name "$VG" | xargs)"
check "the target is gone (tgtadm)" "0" \
	"$(tgtadm -C "$TGT_CONTROL_PORT" --lld iscsi --mode target --op show | grep -c "volume-$V2")"
true
