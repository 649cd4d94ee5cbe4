#!/usr/bin/env bash
# Cleanup doing real storage work: two workers of one cluster on a volume
# group of this run's own and a tgtd of its own; one dies in the middle of
# deleting an exported volume; its peer removes the target and the LV.
. "$(dirname "$0")/lib.sh"
: "${TGT_CHECK:?set TGT_CHECK (meson test does)}"

make_vg 8192
start_tgtd
VOLS=$TEST_ROOT/volumes
mkdir -p "$VOLS"
STORAGE=(--volume-group "$VG" --lvm-system-dir "$LVM_SYSTEM_DIR" --tgt-control-port "$TGT_CONTROL_PORT"
	--tgt-bstype null --volumes-dir "$VOLS")
OPTS=(--cluster c1@lvm --service-down-time 3 --report-interval 1)
start_worker w1 "${OPTS[@]}" "${STORAGE[@]}"
start_worker w2 "${OPTS[@]}" "${STORAGE[@]}"
M=$(mnt w1)
check_cmd "a worker with a volume group logs the group at start" wait_until 5 grep -q "volume group $VG: " "$TEST_ROOT/w1.log"

U=0b7c5e38-2a6f-4d4e-9a51-3c1f7d9e2b10
N=1c8d6f49-3b70-4e5f-8b62-4d208e0f3c21
IQN=iqn.2010-10.org.openstack:volume-$U
# What w2 had done before it died: volume U created and exported, its
# delete begun; volume N half created (its LV made, the status not yet).
lvcreate -q -n "volume-$U" -L 1g "$VG" >/dev/null 2>&1
lvcreate -q -n "volume-$N" -L 1g "$VG" >/dev/null 2>&1
VOLUMES_DIR=$VOLS TGT_BSTYPE=null "$TGT_CHECK" create "$U" "/dev/$VG/volume-$U"
NOW=$(db_time)
sql "INSERT INTO volumes (id, status, attach_status, size, host, cluster_name, deleted, created_at) VALUES
	('$U', 'deleting', 'detached', 1, 'w2@lvm', 'c1@lvm', 0, '$NOW'),
	('$N', 'creating', 'detached', 1, 'w2@lvm', 'c1@lvm', 0, '$NOW');
	INSERT INTO workers (resource_type, resource_id, status, service_id, created_at, updated_at) VALUES
	('Volume', '$U', 'deleting', 2, '$NOW', '$NOW'),
	('Volume', '$N', 'creating', 2, '$NOW', '$NOW');"
targets() { tgtadm -C "$TGT_CONTROL_PORT" --lld iscsi --mode target --op show | grep -c "^Target .*: $IQN\$"; }
check "before: the target is served" "1" "$(targets)"
check "before: both LVs exist" "2" "$(lvs --noheadings -o lv_name "$VG" | wc -l)"

kill -KILL "${PIDS[w2]}"; wait "${PIDS[w2]}" 2>/dev/null; unset 'PIDS[w2]'
stuck2() { [ "$(ls "$M/stuck/volume" | wc -l)" -eq 2 ]; }
if wait_until 8 stuck2; then ok "both volumes are stuck once w2 is down"; else not_ok "both volumes are stuck"; fi

check_cmd "a cleanup is requested" bash -c "echo 'cluster_name=c1@lvm' > '$M/cleanup/request'"
P=$M/cleanup/history/00000001/progress.json
done_state() { [ "$(jq -r .state "$P")" = done ]; }
if wait_until 10 done_state; then ok "the cleanup is done"; else not_ok "the cleanup is done" "$(cat "$P")"; fi
check "the target is gone from tgtd" "0" "$(targets)"
check "its target file is gone" "no" "$([ -e "$VOLS/volume-$U" ] && echo yes || echo no)"
check "iscsi-ls no longer finds it" "0" "$(iscsi-ls "iscsi://127.0.0.1:$ISCSI_PORT" 2>&1 | grep -c "Target:$IQN ")"
check "the deleted volume's LV is gone (lvs)" "volume-$N" "$(lvs --noheadings -o lv_name "$VG" | xargs)"
check "the volume is deleted in the database" "deleted|1" "$(sql "SELECT status, deleted FROM volumes WHERE id = '$U'")"
check "the half-created volume is in error, its LV kept (as Cinder)" "error" "$(sql "SELECT status FROM volumes WHERE id = '$N'")"
check "progress.json names the driver's work" \
	"volume deleted (driver lvm: export removed, 0 snapshot(s) deleted, volume removed)" \
	"$(jq -r ".resources[] | select(.resource_id == \"$U\") | .detail" "$P")"
check "nothing is stuck" "" "$(ls "$M/stuck/volume")"

# Deletes go where they can run (Cinder's service_topic_queue): a clustered
# volume whose worker is down is deleted by a live member of its cluster;
# an unclustered one's delete waits for its worker to come back.
start_worker w4 --cluster c5@lvm --service-down-time 3 --report-interval 1 "${STORAGE[@]}"
start_worker w5 --cluster c5@lvm --service-down-time 3 --report-interval 1 "${STORAGE[@]}"
start_worker w6 --service-down-time 3 --report-interval 1 "${STORAGE[@]}"
M4=$(mnt w4)
# create_on NAME: a 1 GiB volume made by worker NAME, once its measurement
# of the volume group is recorded (a create before is EAGAIN; the log says
# the group's size when the driver starts, a moment before); its id on
# stdout.
create_on() {
	local id=
	measured_by() { [ "$(sql "SELECT count(*) FROM worker_capacity c JOIN services s ON s.id = c.service_id WHERE s.host = '$1@lvm'")" = 1 ]; }
	wait_until 30 measured_by "$1" || log "$1 has not measured $VG" >&2
	exec 3<>"$(mnt "$1")/volumes/create"
	echo "name=routed-$1 size=1G" >&3 || log "the create on $1 was refused: $(cat "$(mnt "$1")/volumes/error")" >&2
	read -r id <&3
	exec 3>&-
	wait_until 30 grep -qx available "$M4/volumes/$id/status" || log "volume $id is not available" >&2
	echo "$id"
}
V5=$(create_on w5)
V6=$(create_on w6)
check "w5's volume is available, its LV made" "available yes" \
	"$(cat "$M4/volumes/$V5/status") $(lvs "$VG/volume-$V5" >/dev/null 2>&1 && echo yes || echo no)"
for w in w5 w6; do kill -KILL "${PIDS[$w]}"; wait "${PIDS[$w]}" 2>/dev/null; unset "PIDS[$w]"; done
down_both() { [ "$(cat "$M4/workers/$(sql "SELECT id FROM services WHERE host = 'w5@lvm'")/is_up")" = false ] &&
	[ "$(cat "$M4/workers/$(sql "SELECT id FROM services WHERE host = 'w6@lvm'")/is_up")" = false ]; }
if wait_until 8 down_both; then ok "w5 and w6 are down"; else not_ok "w5 and w6 are down"; fi
check_cmd "rmdir of the clustered volume of a down worker is accepted" rmdir "$M4/volumes/$V5"
gone5() { [ ! -e "$M4/volumes/$V5" ]; }
if wait_until 10 gone5; then ok "a live member of c5 deleted it"; else
	not_ok "a live member of c5 deleted it" "$(cat "$M4/volumes/$V5/status" 2>&1)"; fi
check "its LV is gone (lvs)" "no" "$(lvs "$VG/volume-$V5" >/dev/null 2>&1 && echo yes || echo no)"
check "w4 ran it, and said why" "1" \
	"$(grep -c "volume $V5: its worker [0-9]* is down: worker [0-9]* (w4@lvm) of cluster c5@lvm runs the delete" "$TEST_ROOT/w4.log")"
check "it was never stuck" "0" "$(sql "SELECT count(*) FROM workers WHERE resource_id = '$V5'")"
check_cmd "rmdir of the unclustered volume of a down worker is accepted" rmdir "$M4/volumes/$V6"
check "it waits for its worker, deleting, and shows as stuck meanwhile" "deleting yes" \
	"$(cat "$M4/volumes/$V6/status") $([ -d "$M4/stuck/volume/$V6" ] && echo yes || echo no)"
start_worker w6 --service-down-time 3 --report-interval 1 "${STORAGE[@]}"
gone6() { [ ! -e "$M4/volumes/$V6" ]; }
if wait_until 15 gone6; then ok "back, w6 deletes it"; else
	not_ok "back, w6 deletes it" "$(cat "$M4/volumes/$V6/status" 2>&1)"; fi
check "its LV is gone (lvs)" "no" "$(lvs "$VG/volume-$V6" >/dev/null 2>&1 && echo yes || echo no)"

# A worker whose volume group is missing cleans nothing and says why.
start_worker w3 --cluster c9@lvm --service-down-time 3 --report-interval 1 --volume-group no-such-vg \
	--lvm-system-dir "$LVM_SYSTEM_DIR" --target-helper none
if wait_until 5 grep -q "storage driver lvm cannot start: volume group no-such-vg not found" "$TEST_ROOT/w3.log"; then
	ok "a worker without its volume group says its driver cannot start"
else
	not_ok "a worker without its volume group says its driver cannot start" "$(tail -3 "$TEST_ROOT/w3.log")"
fi
true
