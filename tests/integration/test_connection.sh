#!/usr/bin/env bash
# volumes/<uuid>/connection: Cinder's initialize_connection for iSCSI, as
# JSON, matching what a real tgtd serves (IQN, LUN 1, the bound CHAP
# account), with which iscsi-ls logs in; root only (0400) by default, the
# admin group too (0440) with connection_readers = admin, anyone else
# refused by the kernel; no file for a volume without an export. Real LVM
# on a loop device (activation off), a tgtd of the test's own.
. "$(dirname "$0")/lib.sh"
for tool in useradd groupadd runuser tgtd tgtadm iscsi-ls; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed"; exit 1; }
done

make_test_users con

make_vg 4096
start_tgtd
VOLS=$TEST_ROOT/volumes
mkdir -p "$VOLS"
STORAGE=(--volume-group "$VG" --lvm-system-dir "$LVM_SYSTEM_DIR" --tgt-control-port "$TGT_CONTROL_PORT"
	--tgt-bstype null --volumes-dir "$VOLS" --target-port "$ISCSI_PORT")
OPTS=(--admin-group "$GROUP" --service-down-time 5 --report-interval 1)
start_worker w1 "${OPTS[@]}" "${STORAGE[@]}"
start_worker w2 "${OPTS[@]}" --volume-group "$VG" --lvm-system-dir "$LVM_SYSTEM_DIR" --target-helper none
start_daemon admin --control-only "${OPTS[@]}" --connection-readers admin
M1=$(mnt w1)
M2=$(mnt w2)
MA=$(mnt admin)
has_capacity() { [ "$(sql 'SELECT count(*) FROM worker_capacity')" = 2 ]; }
wait_until 10 has_capacity
status_is() { [ "$(cat "$1/volumes/$2/status" 2>/dev/null)" = "$3" ]; }
make_volume() { # MOUNT NAME: the new volume's id, once available
	local id
	exec 3<>"$1/volumes/create"
	echo "name=$2 size=1" >&3
	read -r id <&3
	exec 3>&-
	wait_until 10 status_is "$1" "$id" available
	echo "$id"
}

###########################################################################
log "an exported volume's connection, as Cinder's initialize_connection"
V=$(make_volume "$M1" exported)
check "the volume is available" "available" "$(cat "$M1/volumes/$V/status")"
C=$M1/volumes/$V/connection
check "volumes/<uuid>/ lists connection" "1" "$(ls "$M1/volumes/$V" | grep -cx connection)"
check "root only by default: 0400, root and the admin group" "-r-------- root $GROUP" \
	"$(stat -c '%A %U %G' "$C")"
check "ls -l agrees" "-r--------" "$(ls -l "$M1/volumes/$V" | awk '$NF == "connection" {print $1}')"
check "its size is its length" "$(cat "$C" | wc -c)" "$(stat -c %s "$C")"
check "driver_volume_type is iscsi" "iscsi" "$(jq -r .driver_volume_type "$C")"
check "data has Cinder's keys, in its order" \
	"target_discovered target_portal target_iqn target_lun volume_id auth_method auth_username auth_password encrypted access_mode qos_specs" \
	"$(jq -r '.data | keys_unsorted | join(" ")' "$C")"
check "target_discovered, encrypted, access_mode and qos_specs as Cinder's manager sets them" \
	"false false rw null" "$(jq -r '.data | "\(.target_discovered) \(.encrypted) \(.access_mode) \(.qos_specs)"' "$C")"
check "target_portal is the worker's portal" "127.0.0.1:$ISCSI_PORT" "$(jq -r .data.target_portal "$C")"
check "volume_id" "$V" "$(jq -r .data.volume_id "$C")"
check "auth_method is CHAP" "CHAP" "$(jq -r .data.auth_method "$C")"

show() { tgtadm -C "$TGT_CONTROL_PORT" --lld iscsi --mode target --op show; }
IQN=$(jq -r .data.target_iqn "$C")
TID=$(show | sed -n "s/^Target \([0-9]*\): $IQN\$/\1/p")
check "tgtadm serves a target named target_iqn" "1" "$(show | grep -c "^Target $TID: $IQN\$")"
check "target_lun is the LUN tgtadm shows under it" "LUN: $(jq -r .data.target_lun "$C")" \
	"$(show | sed -n "/^Target $TID: /,/^Target /p" | grep -o 'LUN: [1-9][0-9]*' | xargs)"
check "auth_username is the account tgtadm binds to the target" "$(jq -r .data.auth_username "$C")" \
	"$(show | sed -n "/^Target $TID: /,/^Target /p" | sed -n '/Account information:/{n;p}' | xargs)"
check "and the credentials are provider_auth's" "$(sql "SELECT provider_auth FROM volumes WHERE id = '$V'")" \
	"$(jq -r '.data | "\(.auth_method) \(.auth_username) \(.auth_password)"' "$C")"

# The README's recipe, with iscsi-ls (libiscsi) for iscsiadm: discovery,
# then a login with the CHAP credentials read from the file with jq.
portal=$(jq -r .data.target_portal "$C")
check "discovery at target_portal finds target_iqn" "1" \
	"$(iscsi-ls "iscsi://$portal" 2>&1 | grep -c "^Target:$IQN ")"
user=$(jq -r .data.auth_username "$C")
pass=$(jq -r .data.auth_password "$C")
logs_in() { iscsi-ls -s "iscsi://$1%$2@$portal" 2>&1 | grep -c "^Lun:$(jq -r .data.target_lun "$C") "; }
check "a login with the file's CHAP credentials sees the LUN" "1" "$(logs_in "$user" "$pass")"
check "the same login with another password does not" "0" "$(logs_in "$user" "x$pass")"
check "info.json carries no secret" "0" "$(grep -c -e auth_password -e "$pass" "$M1/volumes/$V/info.json")"
check "nor does any value file" "" "$(grep -l -e "$pass" "$M1/volumes/$V"/* 2>/dev/null | grep -v /connection)"

###########################################################################
log "who may read it"
check_fails "an admin-group member is refused by the kernel (0400)" "Permission denied" \
	as "$USER_ADMIN" cat "$C"
check "the refusal never reached the daemon" "" "$(cat "$M1/volumes/error")"
check_fails "so is anyone else" "Permission denied" as "$USER_PLAIN" cat "$C"
CA=$MA/volumes/$V/connection
check "with connection_readers = admin: 0440" "-r--r----- root $GROUP" "$(stat -c '%A %U %G' "$CA")"
check "an admin-group member reads it there, the same JSON" "$(cat "$C")" "$(as "$USER_ADMIN" cat "$CA")"
check_fails "anyone else is still refused" "Permission denied" as "$USER_PLAIN" cat "$CA"
check_fails "and it takes no writes" "Permission denied" bash -c "echo x > '$CA'"

###########################################################################
log "a volume without an export has no connection file"
U=$(make_volume "$M2" local)
check "the volume of a worker with target_helper none is available" "available" "$(cat "$M2/volumes/$U/status")"
check "it has no provider_location" "" "$(cat "$M2/volumes/$U/provider_location")"
check "its directory lists no connection" "0" "$(ls "$M2/volumes/$U" | grep -cx connection)"
check_fails "reading it is ENOENT" "No such file or directory" cat "$M2/volumes/$U/connection"
check_fails "on every mount" "No such file or directory" stat "$M1/volumes/$U/connection"
sql "UPDATE volumes SET provider_location = 'garbage' WHERE id = '$U'" >/dev/null
sleep 1 # the kernel's negative entry from the reads above (0.5 s)
check_fails "nor one whose provider_location is not Cinder's" "No such file or directory" \
	cat "$M2/volumes/$U/connection"
check "the log says why" "yes" \
	"$(grep -q "volume $U: provider_location 'garbage' or its provider_auth is not as Cinder writes them" "$TEST_ROOT/w2.log" && echo yes)"

###########################################################################
log "gone with its volume"
check_cmd "rmdir deletes the exported volume" rmdir "$M1/volumes/$V"
gone() { ! [ -e "$M1/volumes/$V" ]; }
wait_until 10 gone
check_fails "and its connection with it" "No such file or directory" cat "$C"
check "its target is gone from tgtd" "0" "$(show | grep -c "$IQN")"
