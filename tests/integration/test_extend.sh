#!/usr/bin/env bash
# cinder extend as a write to volumes/<uuid>/size: the LV grows (lvs), the
# size file and the status follow, LUN 1 is made again; refused with
# Cinder's words when it would shrink, from a status other than available,
# or for anyone outside the admin group (the kernel), or, with ENOSPC at
# write time, when the volume group has not the room (pending extends
# counted); lvextend's own failure (the group filled behind the worker's
# back) ends in error_extending with lvextend's words. With
# an initiator logged in, nothing is touched. Real LVM on a loop device
# (activation off: no device nodes, so the mount's LUNs use the null
# backing store, whose size is fixed); that a re-made LUN shows a grown
# device is shown with tgt_check on a regular file (rdwr). A tgtd of the
# test's own.
. "$(dirname "$0")/lib.sh"
for tool in useradd groupadd runuser tgtd tgtadm iscsi-ls iscsi-readcapacity16 iscsi-perf; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed"; exit 1; }
done
: "${TGT_CHECK:?set TGT_CHECK to the tgt_check binary (meson test does)}"

make_test_users ext

make_vg 8192
start_tgtd
VOLS=$TEST_ROOT/volumes
mkdir -p "$VOLS"
STORAGE=(--volume-group "$VG" --lvm-system-dir "$LVM_SYSTEM_DIR" --tgt-control-port "$TGT_CONTROL_PORT"
	--tgt-bstype null --volumes-dir "$VOLS" --target-port "$ISCSI_PORT")
start_worker w1 --admin-group "$GROUP" --service-down-time 5 --report-interval 1 "${STORAGE[@]}"
M=$(mnt w1)
has_capacity() { [ "$(sql 'SELECT count(*) FROM worker_capacity')" = 1 ]; }
wait_until 10 has_capacity
status_is() { [ "$(cat "$M/volumes/$1/status" 2>/dev/null)" = "$2" ]; }
lv_bytes() { lvs --noheadings --units b --nosuffix -o lv_size "$VG/volume-$1" 2>/dev/null | xargs; }
show() { tgtadm -C "$TGT_CONTROL_PORT" --lld iscsi --mode target --op show; }

exec 3<>"$M/volumes/create"
echo 'name=grow size=1' >&3
read -r V <&3
exec 3>&-
wait_until 10 status_is "$V" available
check "a 1 GiB volume, available" "available 1 1073741824" \
	"$(cat "$M/volumes/$V/status" "$M/volumes/$V/size" | xargs) $(lv_bytes "$V")"
IQN=$(cat "$M/volumes/$V/target_iqn")
TID=$(show | sed -n "s/^Target \([0-9]*\): $IQN\$/\1/p")
C=$M/volumes/$V/connection
portal=$(jq -r .data.target_portal "$C")
login=$(jq -r '.data | "\(.auth_username)%\(.auth_password)"' "$C")

###########################################################################
log "extend grows the LV, the size file, and makes the LUN again"
check "size takes writes (root and the admin group)" "-rw-rw----" "$(stat -c %A "$M/volumes/$V/size")"
updated_at() { sql "SELECT updated_at FROM volumes WHERE id = '$V'"; }
before=$(updated_at)
sleep 1
check_cmd "echo 2G > size succeeds" bash -c "echo 2G > '$M/volumes/$V/size'"
if wait_until 10 status_is "$V" available && [ "$(cat "$M/volumes/$V/size")" = 2 ]; then
	ok "the volume is available again, 2 GiB"
else
	not_ok "the volume is available again, 2 GiB" "status: $(cat "$M/volumes/$V/status")" \
		"$(sql 'SELECT kind, state, error FROM volume_operations')"
fi
check "lvs shows the LV at 2 GiB" "2147483648" "$(lv_bytes "$V")"
check "updated_at moved" "yes" "$([[ "$(updated_at)" > "$before" ]] && echo yes)"
check "info.json says the same" "2 available" "$(jq -r '"\(.size) \(.status)"' "$M/volumes/$V/info.json")"
check "the operation carried the new size and is done" "extend_volume 2 done" \
	"$(sql "SELECT kind, new_size, state FROM volume_operations WHERE resource_id = '$V' AND kind = 'extend_volume'" | tr '|' ' ')"
check "no operations row is left" "0" "$(sql "SELECT count(*) FROM workers WHERE resource_id = '$V'")"
check "the log says who asked, by uid" "yes" \
	"$(grep -q "uid 0: volume $V: extend from 1 to 2 GiB requested" "$TEST_ROOT/w1.log" && echo yes)"
check "and that LUN 1 was made again" "yes" \
	"$(grep -q "LUN 1 of $IQN made again on /dev/$VG/volume-$V (tid $TID)" "$TEST_ROOT/w1.log" && echo yes)"
check "tgtd has LUN 1 again, on the same backing store" "LUN: 1|null|/dev/$VG/volume-$V" \
	"$(show | sed -n "/^Target $TID: /,/^Target /p" | sed -n '/LUN: 1$/,/Backing store path/p' |
		sed -n -e 's/^ *\(LUN: 1\)$/\1/p' -e 's/^ *Backing store type: //p' -e 's/^ *Backing store path: //p' | paste -sd'|')"
check "a login with the connection's credentials still sees the LUN" "1" \
	"$(iscsi-ls -s "iscsi://$login@$portal" 2>&1 | grep -c '^Lun:1 ')"

###########################################################################
log "tgtd reads a LUN's size when it is made: a re-made LUN shows a grown device"
export VOLUMES_DIR=$TEST_ROOT/tgt-check TGT_BSTYPE=rdwr
mkdir -p "$VOLUMES_DIR"
U=5d1e7c3a-8b2f-4c6d-9e0a-1f2b3c4d5e6f
DEV=$TEST_ROOT/device-$U
truncate -s 1G "$DEV"
check_cmd "an rdwr export of a 1 GiB file" "$TGT_CHECK" create "$U" "$DEV"
read -r _ u p < <(grep incominguser "$VOLUMES_DIR/volume-$U")
capacity() { iscsi-readcapacity16 "iscsi://$u%$p@127.0.0.1:$ISCSI_PORT/iqn.2010-10.org.openstack:volume-$U/1" 2>&1 | sed -n 's/^Total size://p'; }
check "the initiator reads 1 GiB" "1073741824" "$(capacity)"
truncate -s 2G "$DEV"
check "the device grew, the LUN does not show it" "1073741824" "$(capacity)"
check_cmd "LUN 1 is made again" "$TGT_CHECK" recreate-lun "$U" "$DEV"
check "the initiator reads 2 GiB" "2147483648" "$(capacity)"
timeout 60 iscsi-perf -t 60 "iscsi://$u%$p@127.0.0.1:$ISCSI_PORT/iqn.2010-10.org.openstack:volume-$U/1" >/dev/null 2>&1 &
PERF=$!
has_session() { tgtadm -C "$TGT_CONTROL_PORT" --lld iscsi --mode conn --op show --tid "$1" | grep -q '^Session:'; }
U_TID=$(show | sed -n "s/^Target \([0-9]*\): iqn.2010-10.org.openstack:volume-$U\$/\1/p")
wait_until 10 has_session "$U_TID"
truncate -s 3G "$DEV"
check_fails "with an initiator logged in, it is not made again" "1 initiator session(s)" \
	"$TGT_CHECK" recreate-lun "$U" "$DEV"
kill "$PERF"; wait "$PERF" 2>/dev/null
check_cmd "the export is removed" "$TGT_CHECK" remove "$U"

###########################################################################
log "an initiator logged in: nothing is touched"
timeout 60 iscsi-perf -t 60 "iscsi://$login@$portal/$IQN/1" >/dev/null 2>&1 &
PERF=$!
wait_until 10 has_session "$TID"
check_cmd "echo 3 > size is accepted (the worker judges the target)" bash -c "echo 3 > '$M/volumes/$V/size'"
done_op() { [ "$(sql "SELECT count(*) FROM volume_operations WHERE resource_id = '$V' AND state IN ('queued', 'running')")" = 0 ]; }
wait_until 10 done_op
wait_until 10 status_is "$V" available
check "the volume is available, still 2 GiB, the LV too" "available 2 2147483648" \
	"$(cat "$M/volumes/$V/status" "$M/volumes/$V/size" | xargs) $(lv_bytes "$V")"
check "last_error says why" "Volume $V was not extended: 1 initiator(s) logged in to its target (iqn.2010-11.libiscsi:iscsi-perf); its LUN cannot be renewed under a session. Log out, then write the size again." \
	"$(cat "$M/volumes/$V/last_error")"
kill "$PERF"; wait "$PERF" 2>/dev/null
no_session() { ! has_session "$TID"; }
wait_until 10 no_session

###########################################################################
log "refusals"
check_fails "a smaller size is EINVAL" "Invalid argument" bash -c "echo 1 > '$M/volumes/$V/size'"
check "volumes/error says why" \
	"volumes/$V/size: New size for extend must be greater than current size (2 GiB, asked 1 GiB): volumes are never shrunk." \
	"$(cat "$M/volumes/error")"
check_fails "the same size is EINVAL" "Invalid argument" bash -c "echo 2G > '$M/volumes/$V/size'"
check_fails "a size in no unit is EINVAL" "Invalid argument" bash -c "echo 3X > '$M/volumes/$V/size'"
check_fails "anyone outside the admin group is refused by the kernel" "Permission denied" \
	as "$USER_PLAIN" bash -c "echo 3 > '$M/volumes/$V/size'"
check "the status was never touched" "available 2" "$(cat "$M/volumes/$V/status" "$M/volumes/$V/size" | xargs)"
check_cmd "reset-state to error" bash -c "echo error > '$M/volumes/$V/status'"
check_fails "an extend from error is EBUSY" "Device or resource busy" bash -c "echo 3 > '$M/volumes/$V/size'"
check "in Cinder's words" "volumes/$V/size: Volume $V status must be available to extend, but current status is: error." \
	"$(cat "$M/volumes/error")"
check_cmd "reset-state to available" bash -c "echo available > '$M/volumes/$V/status'"

###########################################################################
log "an admin-group member extends; its uid is logged"
check_cmd "echo 3 > size by an admin-group member" as "$USER_ADMIN" bash -c "echo 3 > '$M/volumes/$V/size'"
wait_until 10 status_is "$V" available
check "3 GiB, the LV too" "3 3221225472" "$(cat "$M/volumes/$V/size") $(lv_bytes "$V")"
check "the log names its uid" "yes" \
	"$(grep -q "uid $(id -u "$USER_ADMIN"): volume $V: extend from 2 to 3 GiB requested" "$TEST_ROOT/w1.log" && echo yes)"

###########################################################################
log "more than the volume group has: refused at write time (ENOSPC)"
check_fails "echo 100 > size is ENOSPC" "No space left on device" bash -c "echo 100 > '$M/volumes/$V/size'"
free_gib=$(($(vgs --noheadings --units b --nosuffix -o vg_free "$VG" | xargs) / 1073741824))
check "volumes/error says how much is free and how much more it needs" \
	"volumes/$V/size: Volume group $VG has $free_gib GiB free; extending volume $V from 3 to 100 GiB needs 97 GiB more." \
	"$(cat "$M/volumes/error")"
check "the volume is untouched: available, 3 GiB, the LV too, no operations row" "available 3 3221225472 0" \
	"$(cat "$M/volumes/$V/status") $(cat "$M/volumes/$V/size") $(lv_bytes "$V") $(sql "SELECT count(*) FROM workers WHERE resource_id = '$V'")"
# Two extends asked for while the worker has run neither count each
# other: the worker is stopped (SIGSTOP) and both are written through a
# control-only mount. The first grows a 1 GiB volume by all the room but
# 1 GiB; the second, by 2 GiB, is refused, the first's growth counted
# (counted at its volume's old size, 1 GiB, it would fit).
start_daemon ctl --control-only
C=$(mnt ctl)
exec 3<>"$M/volumes/create"
echo 'name=second size=1' >&3
read -r V3 <&3
exec 3>&-
wait_until 30 status_is "$V3" available
# A measurement that began after the volume was made: nothing counted twice.
after_v3() { [[ "$(sql "SELECT updated_at FROM worker_capacity")" > "$(sql "SELECT updated_at FROM volumes WHERE id = '$V3'")" ]]; }
wait_until 30 after_v3
room=$(($(sql "SELECT free_bytes FROM worker_capacity") / 1073741824))
check "the group has room for the test (3 GiB or more)" "yes" "$([ "$room" -ge 3 ] && echo yes || echo "no: $room GiB")"
kill -STOP "${PIDS[w1]}"
check_cmd "worker stopped: an extend of the 1 GiB volume by $((room - 1)) GiB is accepted" \
	bash -c "echo $room > '$C/volumes/$V3/size'"
check_fails "a second one by 2 GiB is ENOSPC" "No space left on device" \
	bash -c "echo 5 > '$C/volumes/$V/size'"
check "with the first one's growth counted" \
	"volumes/$V/size: Volume group $VG has 1 GiB free; extending volume $V from 3 to 5 GiB needs 2 GiB more." \
	"$(cat "$C/volumes/error")"
kill -CONT "${PIDS[w1]}"
v3_grown() { status_is "$V3" available && [ "$(cat "$M/volumes/$V3/size")" = "$room" ]; }
if wait_until 30 v3_grown; then ok "the first is made once the worker runs again"; else
	not_ok "the first is made once the worker runs again" "$(cat "$M/volumes/$V3/status" "$M/volumes/$V3/size" | xargs)"; fi
check "the second volume is untouched" "available 3" "$(cat "$M/volumes/$V/status" "$M/volumes/$V/size" | xargs)"
check_cmd "the grown volume is deleted" rmdir "$M/volumes/$V3"
v3_gone() { [ "$(sql "SELECT deleted FROM volumes WHERE id = '$V3'")" = 1 ]; }
wait_until 30 v3_gone
SIZE=$(cat "$M/volumes/$V/size")

###########################################################################
log "the group filled behind the worker's back: lvextend fails, error_extending"
# Another tool takes the free space after the worker's last measurement:
# the extend is accepted on that measurement and lvextend refuses it. The
# worker measures every 10 s; right after one, the write comes well inside
# that. Should a measurement fall in between all the same (the write is
# then refused at write time), it is tried again.
measured_at() { sql "SELECT updated_at FROM worker_capacity"; }
accepted=no
for attempt in 1 2 3; do
	m0=$(measured_at)
	remeasured() { [ "$(measured_at)" != "$m0" ]; }
	wait_until 15 remeasured
	m1=$(measured_at)
	lvcreate -q -l 100%FREE -n filler "$VG" >/dev/null 2>&1
	if bash -c "echo $((SIZE + 1)) > '$M/volumes/$V/size'" 2>"$TEST_ROOT/ext.err"; then
		accepted=yes
		break
	fi
	log "attempt $attempt refused: $(cat "$TEST_ROOT/ext.err"); measured meanwhile: $([ "$(measured_at)" != "$m1" ] && echo yes || echo no)"
	lvremove -q -f "$VG/filler" >/dev/null 2>&1
done
check "an extend by 1 GiB is accepted on the last measurement" "yes" "$accepted"
if wait_until 30 status_is "$V" error_extending; then ok "the volume ends in error_extending"; else
	not_ok "the volume ends in error_extending" "status: $(cat "$M/volumes/$V/status")"; fi
check "its size and its LV are as they were" "$SIZE $((SIZE * 1073741824))" "$(cat "$M/volumes/$V/size") $(lv_bytes "$V")"
check "last_error has lvextend's words" "yes" \
	"$(grep -q "lvextend -L $((SIZE + 1))g .* Insufficient free space" "$M/volumes/$V/last_error" && echo yes || cat "$M/volumes/$V/last_error")"
check "no operations row is left" "0" "$(sql "SELECT count(*) FROM workers WHERE resource_id = '$V'")"
check_fails "and it extends no more (EBUSY)" "Device or resource busy" bash -c "echo $((SIZE + 2)) > '$M/volumes/$V/size'"
lvremove -q -f "$VG/filler" >/dev/null 2>&1

###########################################################################
log "a volume whose worker is down, with no live member of a cluster: EBUSY"
start_worker w2 --admin-group "$GROUP" --service-down-time 5 --report-interval 1 "${STORAGE[@]}"
W2=$(sql "SELECT id FROM services WHERE host = 'w2@lvm'")
w2_measured() { [ "$(sql "SELECT count(*) FROM worker_capacity WHERE service_id = $W2")" = 1 ]; }
wait_until 10 w2_measured || log "w2 has not measured its volume group"
exec 3<>"$(mnt w2)/volumes/create"
echo "name=on-w2 size=1G" >&3
read -r V2 <&3
exec 3>&-
wait_until 10 status_is "$V2" available || log "volume $V2 on w2 is not available"
kill -KILL "${PIDS[w2]}"; wait "${PIDS[w2]}" 2>/dev/null; unset 'PIDS[w2]'
w2_down() { [ "$(cat "$M/workers/$W2/is_up")" = false ]; }
if wait_until 10 w2_down; then ok "w2 is down"; else not_ok "w2 is down"; fi
check_fails "an extend of its volume is EBUSY" "Device or resource busy" bash -c "echo 2 > '$M/volumes/$V2/size'"
check "volumes/error says why" \
	"volumes/$V2/size: Volume $V2's worker $W2 is down, and no live member of its cluster can extend it; extend it again once that worker is up." \
	"$(cat "$M/volumes/error")"
check "the volume is untouched, not stuck" "available 1 0" \
	"$(cat "$M/volumes/$V2/status") $(cat "$M/volumes/$V2/size") $(sql "SELECT count(*) FROM workers WHERE resource_id = '$V2'")"
