#!/usr/bin/env bash
# iSCSI exports with a real tgtd on loopback (its own control port): made,
# served (iscsi-ls logs in with the CHAP credentials), made twice, restored
# after a tgtd restart from the target files, removed, removed twice.
. "$(dirname "$0")/lib.sh"
for tool in tgtd tgtadm iscsi-ls; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (tgt, libiscsi-bin)"; exit 1; }
done
: "${TGT_CHECK:?set TGT_CHECK to the tgt_check binary (meson test does)}"

start_tgtd
export VOLUMES_DIR=$TEST_ROOT/volumes TGT_BSTYPE=null
mkdir -p "$VOLUMES_DIR"
U=0b7c5e38-2a6f-4d4e-9a51-3c1f7d9e2b10
IQN=iqn.2010-10.org.openstack:volume-$U
targets() { tgtadm -C "$TGT_CONTROL_PORT" --lld iscsi --mode target --op show | grep -c "^Target .*: $IQN\$"; }

check_cmd "an export is made" "$TGT_CHECK" create "$U" /dev/null
check "tgtadm shows one target for the volume" "1" "$(targets)"
check "with LUN 1" "1" "$(tgtadm -C "$TGT_CONTROL_PORT" --lld iscsi --mode target --op show | grep -c '^        LUN: 1$')"
check_cmd "its target file is kept in volumes_dir" test -s "$VOLUMES_DIR/volume-$U"
read -r _ user pass < <(grep incominguser "$VOLUMES_DIR/volume-$U")
check "iscsi-ls discovers the target on loopback" "1" \
	"$(iscsi-ls "iscsi://127.0.0.1:$ISCSI_PORT" 2>&1 | grep -c "Target:$IQN ")"
check "iscsi-ls logs in with the CHAP credentials and sees LUN 1" "1" \
	"$(iscsi-ls -s "iscsi://$user%$pass@127.0.0.1:$ISCSI_PORT" 2>&1 | grep -c '^Lun:1 *Type:DIRECT_ACCESS')"
check_cmd "making it again succeeds" "$TGT_CHECK" create "$U" /dev/null
check "and leaves one target" "1" "$(targets)"

stop_tgtd
start_tgtd
check "a restarted tgtd has forgotten the target" "0" "$(targets)"
check "restore brings it back from the target file" "restored 1" "$("$TGT_CHECK" restore)"
check "tgtadm shows it again" "1" "$(targets)"
check "restoring again restores nothing" "restored 0" "$("$TGT_CHECK" restore)"

check_cmd "the export is removed" "$TGT_CHECK" remove "$U"
check "tgtadm shows no target" "0" "$(targets)"
check "the target file is gone" "no" "$([ -e "$VOLUMES_DIR/volume-$U" ] && echo yes || echo no)"
check "iscsi-ls no longer finds it" "0" "$(iscsi-ls "iscsi://127.0.0.1:$ISCSI_PORT" 2>&1 | grep -c "Target:$IQN ")"
check_cmd "removing it again succeeds" "$TGT_CHECK" remove "$U"
check_fails "a name that is not a UUID is refused" "is not a canonical UUID" "$TGT_CHECK" create "x;y" /dev/null

# Workers sharing one tgtd export at the same moment: each looks, takes
# the highest tid plus one, and all but one find it taken. The others look
# again and take the next: every export is made, each under its own tid.
RACERS=()
RACER_PIDS=()
for n in 1 2 3 4 5 6 7 8; do RACERS+=("$(cat /proc/sys/kernel/random/uuid)"); done
for u in "${RACERS[@]}"; do
	"$TGT_CHECK" create "$u" /dev/null 2>>"$TEST_ROOT/race.err" &
	RACER_PIDS+=($!)
done
wait "${RACER_PIDS[@]}" # not tgtd, a job of this shell too
check "eight exports made at once are all there" "8" \
	"$(tgtadm -C "$TGT_CONTROL_PORT" --lld iscsi --mode target --op show | grep -c '^Target .*volume-')"
check "under eight distinct tids" "8" \
	"$(tgtadm -C "$TGT_CONTROL_PORT" --lld iscsi --mode target --op show | grep -o '^Target [0-9]*' | sort -u | wc -l)"
check "none failed" "" "$(grep 'tgt_check create' "$TEST_ROOT/race.err")"
log "tids taken meanwhile and tried again: $(grep -c 'was taken meanwhile' "$TEST_ROOT/race.err")"
for u in "${RACERS[@]}"; do "$TGT_CHECK" remove "$u"; done
check "and all are removed again" "0" "$(tgtadm -C "$TGT_CONTROL_PORT" --lld iscsi --mode target --op show | grep -c '^Target ')"

# tgtd killed (its socket left behind): every step says tgtd is not
# running, in the words tgtadm gives.
kill -KILL "$TGTD_PID"
wait "$TGTD_PID" 2>/dev/null
check_fails "an export with tgtd killed says it is not running" \
	"tgtd is not running (control port $TGT_CONTROL_PORT): tgtadm: failed to send request hdr to tgt daemon, Transport endpoint is not connected" \
	"$TGT_CHECK" create "$U" /dev/null
check_fails "and so does a removal" "tgtd is not running (control port $TGT_CONTROL_PORT)" "$TGT_CHECK" remove "$U"
start_tgtd
true
