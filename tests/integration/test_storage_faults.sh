#!/usr/bin/env bash
# Storage under faults and load, with real LVM and a real tgtd on loopback:
# two workers filling one volume group through both mounts (the one that
# does not fit is refused at write time, none ends in error for space);
# both exporting at once on one tgtd; tgtd restarted under a running
# worker (its targets come back, CHAP and all); tgtd killed during deletes
# and creates (they fail cleanly, saying why, and work once it is back); a
# worker whose driver did not start refuses creates.
. "$(dirname "$0")/lib.sh"
for tool in tgtd tgtadm iscsi-ls vgs lvs; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed"; exit 1; }
done
: "${TGT_CHECK:?set TGT_CHECK to the tgt_check binary (meson test does)}"

make_vg 8192
start_tgtd
VOLS=$TEST_ROOT/volumes
mkdir -p "$VOLS"
STORAGE=(--volume-group "$VG" --lvm-system-dir "$LVM_SYSTEM_DIR" --tgt-control-port "$TGT_CONTROL_PORT"
	--tgt-bstype null --volumes-dir "$VOLS" --target-port "$ISCSI_PORT")
OPTS=(--cluster c1@lvm --service-down-time 5 --report-interval 1)
start_worker w1 "${OPTS[@]}" "${STORAGE[@]}"
start_worker w2 "${OPTS[@]}" "${STORAGE[@]}"
M1=$(mnt w1)
M2=$(mnt w2)
W1=$(sql "SELECT id FROM services WHERE host = 'w1@lvm'")
W2=$(sql "SELECT id FROM services WHERE host = 'w2@lvm'")
measured() { [ "$(sql 'SELECT count(*) FROM worker_capacity')" = 2 ]; }
wait_until 30 measured

GIB=1073741824
vg_free() { vgs --noheadings --units b --nosuffix -o vg_free "$VG" | xargs; }
show() { tgtadm -C "$TGT_CONTROL_PORT" --lld iscsi --mode target --op show; }
count_status() { sql "SELECT count(*) FROM volumes WHERE deleted = 0 AND status = '$1'"; }
none_creating() { [ "$(count_status creating)" = 0 ]; }
id_of() { sql "SELECT id FROM volumes WHERE display_name = '$1' AND deleted = 0"; }
status_of() { sql "SELECT status FROM volumes WHERE id = '$1'"; }
status_is() { [ "$(status_of "$1")" = "$2" ]; }
all_gone() { [ "$(sql 'SELECT count(*) FROM volumes WHERE deleted = 0')" = 0 ]; }
delete_all() {
	local id
	for id in $(sql "SELECT id FROM volumes WHERE deleted = 0 AND status IN ('available', 'error', 'error_deleting')"); do
		rmdir "$M1/volumes/$id"
	done
	wait_until 30 all_gone
}

###########################################################################
log "1. two workers fill one volume group through both mounts"
###########################################################################
FIT=$(($(vg_free) / GIB))
log "the group has room for $FIT volumes of 1 GiB"
# Both mounts at once, each asking for the whole group, with gaps of 0 to
# 0.2 s: some creates are asked for while others are being made, some
# right after one has finished and before the group is measured again.
fill() {
	local i
	for i in $(seq "$FIT"); do
		if bash -c "echo 'name=$2$i size=1G' > '$1/volumes/create'" 2>>"$TEST_ROOT/$2.err"; then
			echo accepted
		else
			echo refused
		fi
		sleep "0.$((RANDOM % 3))"
	done
}
fill "$M1" a >"$TEST_ROOT/fill-a" &
FA=$!
fill "$M2" b >"$TEST_ROOT/fill-b" &
FB=$!
wait "$FA" "$FB"
ACCEPTED=$(cat "$TEST_ROOT/fill-a" "$TEST_ROOT/fill-b" | grep -c accepted)
REFUSED=$(cat "$TEST_ROOT/fill-a" "$TEST_ROOT/fill-b" | grep -c refused)
log "accepted $ACCEPTED, refused $REFUSED"
check "no more were accepted than fit" "yes" "$([ "$ACCEPTED" -le "$FIT" ] && echo yes || echo "no: $ACCEPTED > $FIT")"
check "every refusal was ENOSPC at write time" "$REFUSED" \
	"$(cat "$TEST_ROOT/a.err" "$TEST_ROOT/b.err" | grep -c 'No space left on device')"
wait_until 60 none_creating
check "none ended in error" "0" "$(count_status error)"
check "every accepted one is available" "$ACCEPTED" "$(count_status available)"
check "no operation failed" "" "$(sql "SELECT error FROM volume_operations WHERE state = 'failed'")"
# What a refusal too many may have left (a measurement that counted a
# volume twice for a moment) is taken now: the group ends exactly full.
n=0
while [ "$n" -le "$FIT" ] && bash -c "echo 'name=top$n size=1G' > '$M1/volumes/create'" 2>/dev/null; do
	n=$((n + 1))
	wait_until 30 none_creating
done
check "the group holds exactly what fits" "$FIT" "$(count_status available)"
check "and less than 1 GiB is free (vgs)" "yes" "$([ "$(vg_free)" -lt "$GIB" ] && echo yes || echo "no: $(vg_free)")"
check_fails "one more is refused with ENOSPC" "No space left on device" \
	bash -c "echo 'name=over size=1G' > '$M2/volumes/create'"
check "volumes/error says how much is free" "Volume group $VG has 0 GiB free; a 1 GiB volume does not fit." \
	"$(cat "$M2/volumes/error")"
check "none ended in error, top-ups included" "0" "$(count_status error)"
check "each volume has its own target (tgtadm), with distinct tids" "$FIT $FIT" \
	"$(show | grep -c '^Target .*: iqn.2010-10.org.openstack:volume-') $(show | grep -o '^Target [0-9]*' | sort -u | wc -l)"

# The "0 GiB free" of old: w1's own last measurement says full; w2 deletes
# one of its volumes and measures; w1 takes a create at once, although it
# has run nothing since.
B=$(sql "SELECT id FROM volumes WHERE deleted = 0 AND host = 'w2@lvm' LIMIT 1")
check_fails "w1 refuses while the group is full" "No space left on device" \
	bash -c "echo 'name=again size=1G' > '$M1/volumes/create'"
check_cmd "a volume of w2 is deleted (rmdir through w1's mount)" rmdir "$M1/volumes/$B"
b_gone() { [ "$(sql "SELECT deleted FROM volumes WHERE id = '$B'")" = 1 ]; }
wait_until 30 b_gone
check_cmd "w1 takes a create right after w2's delete" bash -c "echo 'name=again size=1G' > '$M1/volumes/create'"
AGAIN=$(id_of again)
if wait_until 30 status_is "$AGAIN" available; then ok "and makes it"; else
	not_ok "and makes it" "status: $(status_of "$AGAIN")" "$(sql "SELECT error FROM volume_operations WHERE resource_id = '$AGAIN'")"; fi
delete_all
check "every volume is gone again" "0" "$(sql 'SELECT count(*) FROM volumes WHERE deleted = 0')"

###########################################################################
log "2. both workers export at once on one tgtd"
###########################################################################
burst() {
	local i
	for i in 1 2 3; do bash -c "echo 'name=$2$i size=1G' > '$1/volumes/create'" & done
	wait
}
# A third exporter on the same tgtd makes targets all the while, every
# 50 ms: the workers' tids keep being taken under them.
OTHERS=()
others() {
	local u
	for u in "${OTHERS[@]}"; do
		VOLUMES_DIR=$TEST_ROOT/others TGT_BSTYPE=null "$TGT_CHECK" create "$u" /dev/null 2>>"$TEST_ROOT/others.err" &
		sleep 0.05
	done
	wait
}
mkdir -p "$TEST_ROOT/others"
for n in $(seq 30); do OTHERS+=("$(cat /proc/sys/kernel/random/uuid)"); done
others &
BO=$!
burst "$M1" x &
BX=$!
burst "$M2" y &
BY=$!
wait "$BX" "$BY" "$BO"
six_settled() { [ "$(sql "SELECT count(*) FROM volumes WHERE deleted = 0 AND status IN ('available', 'error')")" = 6 ]; }
if wait_until 60 six_settled; then ok "six volumes asked for at once are settled"; else
	not_ok "six volumes settled" "$(sql 'SELECT display_name, status FROM volumes WHERE deleted = 0')"; fi
check "all are available" "6" "$(count_status available)"
check "with six distinct tids in their provider_location" "6" \
	"$(sql "SELECT provider_location FROM volumes WHERE deleted = 0" | sed 's/^[^,]*,\([0-9]*\) .*/\1/' | sort -u | wc -l)"
check "tgtadm shows their six targets and the other exporter's thirty" "36" \
	"$(show | grep -c '^Target .*: iqn.2010-10.org.openstack:volume-')"
check "under distinct tids" "36" "$(show | grep -o '^Target [0-9]*' | sort -u | wc -l)"
log "tids taken meanwhile and tried again: $(cat "$TEST_ROOT/w1.log" "$TEST_ROOT/w2.log" | grep -c 'was taken meanwhile') by the workers, $(grep -c 'was taken meanwhile' "$TEST_ROOT/others.err") by the other exporter"
for u in "${OTHERS[@]}"; do VOLUMES_DIR=$TEST_ROOT/others "$TGT_CHECK" remove "$u"; done
delete_all

###########################################################################
log "3. tgtd restarted under running workers"
###########################################################################
check_cmd "a volume is made on w1" bash -c "echo 'name=r1 size=1G' > '$M1/volumes/create'"
R1=$(id_of r1)
wait_until 30 status_is "$R1" available
IQN=iqn.2010-10.org.openstack:volume-$R1
read -r _ USER PASS < <(sql "SELECT provider_auth FROM volumes WHERE id = '$R1'")
TID=$(sql "SELECT provider_location FROM volumes WHERE id = '$R1'" | sed 's/^[^,]*,\([0-9]*\) .*/\1/')
kill -KILL "$TGTD_PID"
wait "$TGTD_PID" 2>/dev/null
check_fails "tgtd is gone" "Transport endpoint is not connected" show
said_gone() { grep -q "checking the exports failed: tgtd is not running (control port $TGT_CONTROL_PORT)" "$TEST_ROOT/w1.log"; }
if wait_until 30 said_gone; then ok "w1's export check says tgtd is not running"; else
	not_ok "w1's export check says tgtd is not running" "$(tail -3 "$TEST_ROOT/w1.log")"; fi
start_tgtd
# Done once the log says so: the target shows as soon as it is made, its
# LUN, account and binding a moment later.
restored() { grep -q "exports checked: 1 target(s) restored" "$TEST_ROOT/w1.log"; }
start=$(date +%s)
if wait_until 30 restored; then ok "w1 brings the target back ($(($(date +%s) - start)) s)"; else
	not_ok "w1 brings the target back" "$(show)" "$(tail -5 "$TEST_ROOT/w1.log")"; fi
check "at its tid" "1" "$(show | grep -c "^Target $TID: $IQN\$")"
check "with its CHAP account bound" "$USER" \
	"$(show | sed -n "/^Target $TID: /,/^Target /p" | sed -n '/Account information:/{n;p}' | xargs)"
# The portal of a tgtd just started may take a moment under load: the
# login is tried for up to 30 s.
logs_in() { iscsi-ls -s "iscsi://$USER%$PASS@127.0.0.1:$ISCSI_PORT" 2>&1 | grep -q '^Lun:1 '; }
if wait_until 30 logs_in; then ok "iscsi-ls logs in with the volume's CHAP credentials"; else
	not_ok "iscsi-ls logs in with the volume's CHAP credentials" \
		"iscsi-ls: $(iscsi-ls -s "iscsi://$USER%$PASS@127.0.0.1:$ISCSI_PORT" 2>&1 | tail -5)" \
		"tgtadm: $(show | sed -n "/^Target $TID: /,/^Target /p" | tr -s ' \n' ' ' | cut -c1-600)" \
		"tgtd: $(tail -5 "$TEST_ROOT/tgtd.out")" \
		"portals: $(tgtadm -C "$TGT_CONTROL_PORT" --lld iscsi --mode portal --op show 2>&1 | xargs)" \
		"ss: $(ss -tanp "sport = :$ISCSI_PORT or dport = :$ISCSI_PORT" | tail -n +2 | cut -c1-200)"
fi
check "w2, with nothing exported, restored nothing" "no" \
	"$(grep -q 'target(s) restored' "$TEST_ROOT/w2.log" && echo yes || echo no)"

###########################################################################
log "4. tgtd killed during deletes and creates"
###########################################################################
check_cmd "a second volume is made on w1" bash -c "echo 'name=r2 size=1G' > '$M1/volumes/create'"
R2=$(id_of r2)
wait_until 30 status_is "$R2" available
kill -KILL "$TGTD_PID"
wait "$TGTD_PID" 2>/dev/null
check_cmd "rmdir of both is accepted" rmdir "$M1/volumes/$R1" "$M1/volumes/$R2"
settled() { [ "$(status_of "$R1") $(status_of "$R2")" = "error_deleting error_deleting" ]; }
if wait_until 30 settled; then ok "both deletes fail cleanly: error_deleting"; else
	not_ok "both deletes fail cleanly" "$(status_of "$R1") $(status_of "$R2")"; fi
check "no operations row is left" "0" "$(sql "SELECT count(*) FROM workers WHERE resource_id IN ('$R1', '$R2')")"
check "last_error says why" "yes" \
	"$(grep -q "^tgtd is not running (control port $TGT_CONTROL_PORT): tgtadm: .*Transport endpoint is not connected\$" \
		"$M1/volumes/$R1/last_error" && echo yes || cat "$M1/volumes/$R1/last_error")"
check "and info.json too" "$(cat "$M1/volumes/$R2/last_error")" "$(jq -r .last_error "$M2/volumes/$R2/info.json")"
# The log line follows the status by a moment (the operation's end).
check "w1's log says why" "yes" \
	"$(wait_until 15 grep -q "delete_volume of volume $R1: tgtd is not running" "$TEST_ROOT/w1.log" && echo yes || echo no)"
check "the LVs are still there" "2" "$(lvs --noheadings -o lv_name "$VG" | grep -c -e "$R1" -e "$R2")"
check_cmd "a create while tgtd is down is accepted" bash -c "echo 'name=r3 size=1G' > '$M1/volumes/create'"
R3=$(id_of r3)
if wait_until 30 status_is "$R3" error; then ok "and ends in error"; else not_ok "and ends in error" "$(status_of "$R3")"; fi
# The operation's end is recorded a moment after the status.
has_error() { [ -n "$(cat "$M1/volumes/$1/last_error")" ]; }
wait_until 15 has_error "$R3"
check "its last_error says why" "yes" \
	"$(grep -q "tgtd is not running" "$M1/volumes/$R3/last_error" && echo yes || cat "$M1/volumes/$R3/last_error")"
check "w1's log says why" "yes" \
	"$(wait_until 15 grep -q "create_volume of volume $R3: exporting volume $R3 failed: tgtd is not running" \
		"$TEST_ROOT/w1.log" && echo yes || echo no)"
start_tgtd
check_cmd "once tgtd is back, rmdir again is accepted" rmdir "$M1/volumes/$R1" "$M1/volumes/$R2" "$M1/volumes/$R3"
if wait_until 30 all_gone; then ok "and the volumes are deleted"; else
	not_ok "and the volumes are deleted" "$(sql 'SELECT id, status FROM volumes WHERE deleted = 0')"; fi
check "their LVs are gone (lvs)" "" "$(lvs --noheadings -o lv_name "$VG" | xargs)"
check "no target is left" "0" "$(show | grep -c '^Target ')"

###########################################################################
log "5. a worker whose storage driver did not start"
###########################################################################
start_worker w3 --service-down-time 5 --report-interval 1 --volume-group no-such-vg \
	--lvm-system-dir "$LVM_SYSTEM_DIR" --target-helper none
W3=$(sql "SELECT id FROM services WHERE host = 'w3@lvm'")
said() { grep -q "storage driver lvm cannot start" "$TEST_ROOT/w3.log"; }
wait_until 30 said
check_fails "its volumes/create is refused (EROFS)" "Read-only file system" \
	bash -c "echo 'name=n1 size=1G' > '$(mnt w3)/volumes/create'"
check "volumes/error says why" \
	"Worker $W3 (w3@lvm) makes no volumes: its storage driver is not ready: volume group no-such-vg not found" \
	"$(cat "$(mnt w3)/volumes/error")"
check "nothing was recorded" "0" "$(sql "SELECT count(*) FROM volumes WHERE host = 'w3@lvm'")"
true
